//! The `dockerfile` tool: Dockerfile instructions (continuation lines
//! joined, stages tracked) that make images unsafe or unreproducible: base
//! images on `latest` or no tag at all, a final stage that runs as root,
//! scripts piped from the network into a shell, secrets in `ENV`/`ARG`, and
//! `ADD` from URLs.

use super::lang::Lang;
use super::rules::to_u32;
use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, ToolSpec};
use regex::Regex;
use std::sync::LazyLock;

static SPEC: ToolSpec = ToolSpec {
    id: "dockerfile",
    category: Category::Security,
    ecosystem: Ecosystem::Containers,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "Dockerfiles: root user, latest/untagged images, curl piped to a shell, secrets in ENV/ARG, ADD from URLs",
};

const HELP: &str = "https://docs.docker.com/build/building/best-practices/";

/// The weakness each rule finds.
fn cwe(rule: &str) -> u32 {
    match rule {
        "no-user" | "user-root" | "runs-as-root" => 250, // execution with unnecessary privileges
        "curl-pipe-shell" | "add-from-url" => 494,       // download of code without integrity check
        "secret-in-image" => 798,                        // hard-coded credentials
        _ => 1357,                                       // reliance on an unpinned component
    }
}

static PIPE_TO_SHELL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da)?sh\b").expect("valid"));
static SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(password|passwd|secret|token|api_?key|private_?key|access_?key|credentials)")
        .expect("valid")
});

/// One instruction: its keyword, its arguments and the line it starts on.
struct Instruction {
    keyword: String,
    args: String,
    line: usize,
}

fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut pending: Option<Instruction> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if pending.is_none() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        let (body, continues) = match line.strip_suffix('\\') {
            Some(body) => (body.trim_end(), true),
            None => (line, false),
        };
        match pending.as_mut() {
            Some(open) => {
                if !body.starts_with('#') {
                    open.args.push(' ');
                    open.args.push_str(body);
                }
            }
            None => {
                let (keyword, args) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
                pending = Some(Instruction {
                    keyword: keyword.to_ascii_uppercase(),
                    args: args.trim().to_string(),
                    line: index + 1,
                });
            }
        }
        if !continues {
            out.extend(pending.take());
        }
    }
    out.extend(pending);
    out
}

pub struct Dockerfile;

impl FileCheck for Dockerfile {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn wants(&self, file: &FileEntry) -> bool {
        Lang::by_name(&file.rel) == Some(Lang::Dockerfile)
    }

    fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>) {
        let Some(text) = text else { return };
        if Lang::of(&file.rel, Some(text)) != Lang::Dockerfile {
            return;
        }
        let mut push = |rule: &str, severity: Severity, line: usize, message: String, evidence: &str| {
            out.push(
                Finding::new(rule, severity, message)
                    .at_path(&file.rel, Some(to_u32(line)), None)
                    .with_help(HELP)
                    .with_cwe(cwe(rule))
                    .fingerprinted(evidence),
            );
        };
        let mut stages: Vec<String> = Vec::new();
        // The final stage's FROM line and its last USER (if any).
        let mut final_from = 0;
        let mut final_user: Option<(usize, String)> = None;
        for ins in instructions(text) {
            match ins.keyword.as_str() {
                "FROM" => {
                    let words: Vec<&str> = ins
                        .args
                        .split_whitespace()
                        .filter(|w| !w.starts_with("--"))
                        .collect();
                    let image = words.first().copied().unwrap_or("");
                    if let [_, alias, name] = words.as_slice()
                        && alias.eq_ignore_ascii_case("as")
                    {
                        stages.push(name.to_ascii_lowercase());
                    }
                    final_from = ins.line;
                    final_user = None;
                    let is_stage = stages.iter().any(|s| s.eq_ignore_ascii_case(image));
                    if image.is_empty() || image == "scratch" || image.contains('$') || is_stage {
                        continue;
                    }
                    let last = image.rsplit('/').next().unwrap_or(image);
                    if image.contains('@') {
                        continue;
                    }
                    if last.ends_with(":latest") {
                        push(
                            "image-latest-tag",
                            Severity::Medium,
                            ins.line,
                            format!(
                                "`{image}` follows `latest`: builds change under you; pin a version (and ideally a digest)"
                            ),
                            image,
                        );
                    } else if !last.contains(':') {
                        push(
                            "image-not-pinned",
                            Severity::Medium,
                            ins.line,
                            format!(
                                "`{image}` has no tag, so it means `latest`; pin a version (and ideally a digest)"
                            ),
                            image,
                        );
                    }
                }
                "USER" => final_user = Some((ins.line, ins.args.clone())),
                "RUN" if PIPE_TO_SHELL.is_match(&ins.args) => {
                    let message = "a script fetched from the network is piped into a shell; download it, check its checksum, then run it";
                    push(
                        "curl-pipe-shell",
                        Severity::High,
                        ins.line,
                        message.into(),
                        &ins.args,
                    );
                }
                "ENV" | "ARG" => {
                    for (name, value) in assignments(&ins.keyword, &ins.args) {
                        if SECRET_NAME.is_match(&name) && !value.is_empty() && !value.starts_with('$') {
                            push(
                                "secret-in-image",
                                Severity::High,
                                ins.line,
                                format!(
                                    "{} `{name}` bakes a secret into the image, where every layer keeps it; use build secrets (`RUN --mount=type=secret`) or runtime configuration",
                                    ins.keyword
                                ),
                                &name,
                            );
                        }
                    }
                }
                "ADD" if from_url(&ins.args) => {
                    let message = "ADD from a URL downloads without verification; use `ADD --checksum=sha256:...` or curl plus a checksum check";
                    push(
                        "add-from-url",
                        Severity::Medium,
                        ins.line,
                        message.into(),
                        &ins.args,
                    );
                }
                _ => {}
            }
        }
        if final_from == 0 {
            return;
        }
        match final_user {
            None => push(
                "runs-as-root",
                Severity::Medium,
                final_from,
                "the final stage sets no USER, so the container runs as root; add a non-root USER".into(),
                "no-user",
            ),
            Some((line, user)) if matches!(user.split(':').next().unwrap_or("").trim(), "root" | "0") => push(
                "runs-as-root",
                Severity::Medium,
                line,
                "the final stage switches to root, so the container runs as root; end with a non-root USER"
                    .into(),
                "user-root",
            ),
            Some(_) => {}
        }
    }
}

/// Whether an ADD fetches a URL without a checksum to check it against.
fn from_url(args: &str) -> bool {
    let url = args
        .split_whitespace()
        .any(|w| w.starts_with("http://") || w.starts_with("https://"));
    url && !args.contains("--checksum")
}

/// The `NAME=value` pairs of an ENV or ARG instruction (also the legacy
/// `ENV NAME value` form). A bare `ARG NAME` has an empty value.
fn assignments(keyword: &str, args: &str) -> Vec<(String, String)> {
    if keyword == "ENV" && !args.split_whitespace().next().unwrap_or("").contains('=') {
        let (name, value) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        return vec![(name.to_string(), value.trim().trim_matches('"').to_string())];
    }
    args.split_whitespace()
        .map(|word| {
            let (name, value) = word.split_once('=').unwrap_or((word, ""));
            (name.to_string(), value.trim_matches('"').to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<(String, u32)> {
        let file = FileEntry {
            rel: "Dockerfile".into(),
            abs: "Dockerfile".into(),
            size: 0,
            origin: crate::tools::Origin::Source,
        };
        let mut out = Vec::new();
        Dockerfile.check(&file, Some(text), &mut out);
        out.into_iter().map(|f| (f.rule_id, f.line.unwrap())).collect()
    }

    #[test]
    fn stages_continuations_and_users() {
        let text = "FROM golang:1.23 AS build\nRUN go build -o /app \\\n    ./cmd\nFROM build AS test\nFROM gcr.io/distroless/static:nonroot\nUSER 65532\n";
        assert!(rules(text).is_empty(), "{:?}", rules(text));
        let text = "FROM node\nARG NPM_TOKEN\nENV API_KEY=abc123 MODE=prod\nRUN curl -fsSL https://x.io/i.sh \\\n  | bash\nADD https://x.io/a.tgz /a.tgz\nUSER root\n";
        assert_eq!(
            rules(text),
            vec![
                ("image-not-pinned".into(), 1),
                ("secret-in-image".into(), 3),
                ("curl-pipe-shell".into(), 4),
                ("add-from-url".into(), 6),
                ("runs-as-root".into(), 7)
            ]
        );
    }
}
