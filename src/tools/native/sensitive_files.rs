//! The `sensitive-files` tool: files that should never be committed, judged
//! by name: environment files, private keys, key stores, credential files,
//! Terraform state and shell histories. Contents are never read (the
//! `secrets` tool reads them).

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, Origin, ToolSpec};

static SPEC: ToolSpec = ToolSpec {
    id: "sensitive-files",
    category: Category::Security,
    ecosystem: Ecosystem::Any,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "Committed .env files, private keys, key stores, credential files, Terraform state",
};

const HELP: &str = "https://cwe.mitre.org/data/definitions/538.html";

/// What a file name says it is, if it is sensitive.
fn classify(name: &str, rel: &str) -> Option<(&'static str, Severity, &'static str)> {
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map(|(_, e)| e);
    if lower == ".env" || lower.starts_with(".env.") {
        let template = ["example", "sample", "template", "dist", "defaults", "schema"]
            .iter()
            .any(|t| lower.ends_with(&format!(".{t}")));
        return (!template).then_some((
            "env-file",
            Severity::High,
            "an environment file is committed; it usually holds live credentials. Commit a .env.example instead",
        ));
    }
    if matches!(
        lower.as_str(),
        "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519" | "id_ecdsa_sk" | "id_ed25519_sk"
    ) || matches!(ext, Some("ppk" | "key"))
    {
        return Some((
            "private-key-file",
            Severity::High,
            "a private key file is committed; revoke the key and keep keys out of the repository",
        ));
    }
    if matches!(ext, Some("p12" | "pfx" | "jks" | "keystore" | "bks" | "kdbx")) {
        return Some((
            "keystore-file",
            Severity::High,
            "a key store or password database is committed; its keys should be treated as exposed",
        ));
    }
    let aws_credentials = lower == "credentials" && rel.contains(".aws/");
    if aws_credentials
        || matches!(
            lower.as_str(),
            ".netrc"
                | "_netrc"
                | ".git-credentials"
                | ".pypirc"
                | ".htpasswd"
                | ".pgpass"
                | ".dockercfg"
                | ".s3cfg"
        )
        || (lower == "config.json" && rel.contains(".docker/"))
    {
        return Some((
            "credentials-file",
            Severity::High,
            "a credentials file is committed; rotate what it holds and remove it from history",
        ));
    }
    if lower == "terraform.tfstate" || lower == "terraform.tfstate.backup" {
        return Some((
            "terraform-state",
            Severity::High,
            "Terraform state holds every resource's secrets in clear text; keep it in a remote backend",
        ));
    }
    if matches!(
        lower.as_str(),
        ".bash_history"
            | ".zsh_history"
            | ".sh_history"
            | ".psql_history"
            | ".mysql_history"
            | ".python_history"
    ) {
        return Some((
            "shell-history",
            Severity::Medium,
            "a shell history is committed; it often holds passwords typed on command lines",
        ));
    }
    None
}

pub struct SensitiveFiles;

impl FileCheck for SensitiveFiles {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    /// Every file: a committed key is a leak wherever it sits.
    fn sees(&self, _origin: Origin) -> bool {
        true
    }

    fn needs_text(&self) -> bool {
        false
    }

    fn check(&self, file: &FileEntry, _text: Option<&str>, out: &mut Vec<Finding>) {
        let name = file.rel.rsplit('/').next().unwrap_or(&file.rel);
        if let Some((rule, severity, message)) = classify(name, &file.rel) {
            out.push(
                Finding::new(rule, severity, message)
                    .at_path(&file.rel, None, None)
                    .with_help(HELP)
                    .fingerprinted(rule),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified() {
        let rule = |rel: &str| classify(rel.rsplit('/').next().unwrap(), rel).map(|c| c.0);
        assert_eq!(rule(".env"), Some("env-file"));
        assert_eq!(rule("app/.env.production"), Some("env-file"));
        assert_eq!(rule(".env.example"), None);
        assert_eq!(rule("home/.ssh/id_ed25519"), Some("private-key-file"));
        assert_eq!(rule("home/.ssh/id_ed25519.pub"), None);
        assert_eq!(rule("release.jks"), Some("keystore-file"));
        assert_eq!(rule("home/.aws/credentials"), Some("credentials-file"));
        assert_eq!(rule("docs/credentials"), None);
        assert_eq!(rule("infra/terraform.tfstate"), Some("terraform-state"));
        assert_eq!(rule(".bash_history"), Some("shell-history"));
        assert_eq!(rule("src/main.rs"), None);
    }
}
