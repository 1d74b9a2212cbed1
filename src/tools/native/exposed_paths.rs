//! The `exposed-paths` tool: files a web server should never serve —
//! `/.git/`, `/.env`, backups and database dumps, credentials, server status
//! pages, phpinfo, Spring actuator — probed once per origin of the target.
//!
//! A probe counts only when the body looks like what the path names (a git
//! ref, `KEY=value` lines, SQL, a ZIP header...), so a site that answers 200
//! with its home page for every path (a "soft 404") is not a finding. The
//! probes are few, fetched one host turn at a time like every other request.

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{Page, Tool, ToolContext, ToolError, ToolSpec, ToolTarget, origins};
use futures::future::BoxFuture;
use std::sync::Arc;

static SPEC: ToolSpec = ToolSpec {
    id: "exposed-paths",
    category: Category::Security,
    ecosystem: Ecosystem::Website,
    targets: &[TargetKind::Url, TargetKind::Urls],
    cost: 2,
    summary: "Probes each origin for exposed /.git/, /.env, backups, dumps, server-status, phpinfo",
};

const HELP: &str = "https://owasp.org/www-project-web-security-testing-guide/latest/4-Web_Application_Security_Testing/02-Configuration_and_Deployment_Management_Testing/04-Review_Old_Backup_and_Unreferenced_Files_for_Sensitive_Information";

/// One probe: path, rule, severity, what it exposes, and how its body looks.
struct Probe {
    path: &'static str,
    rule: &'static str,
    severity: Severity,
    what: &'static str,
    looks_right: fn(&str) -> bool,
}

fn is_git_head(body: &str) -> bool {
    let body = body.trim();
    body.starts_with("ref: refs/") || (body.len() == 40 && body.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_env(body: &str) -> bool {
    let lines: Vec<&str> = body
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    !lines.is_empty()
        && !body.contains('<')
        && lines.iter().all(|l| {
            l.split_once('=').is_some_and(|(k, _)| {
                let k = k.trim().trim_start_matches("export ");
                !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
        })
}

fn is_sql(body: &str) -> bool {
    let upper = body
        .get(..body.len().min(65_536))
        .unwrap_or(body)
        .to_ascii_uppercase();
    !upper.contains("<HTML") && (upper.contains("CREATE TABLE") || upper.contains("INSERT INTO"))
}

const PROBES: &[Probe] = &[
    Probe {
        path: "/.git/HEAD",
        rule: "exposed-git",
        severity: Severity::Critical,
        what: "the git repository (its whole history, often with secrets, can be downloaded)",
        looks_right: is_git_head,
    },
    Probe {
        path: "/.git/config",
        rule: "exposed-git-config",
        severity: Severity::High,
        what: "the git configuration (remote URLs, sometimes with tokens)",
        looks_right: |b| b.contains("[core]"),
    },
    Probe {
        path: "/.env",
        rule: "exposed-env",
        severity: Severity::Critical,
        what: "the environment file (database passwords, API keys)",
        looks_right: is_env,
    },
    Probe {
        path: "/.aws/credentials",
        rule: "exposed-credentials",
        severity: Severity::Critical,
        what: "AWS credentials",
        looks_right: |b| b.contains("aws_access_key_id"),
    },
    Probe {
        path: "/.htpasswd",
        rule: "exposed-htpasswd",
        severity: Severity::High,
        what: "password hashes",
        looks_right: |b| {
            b.lines().next().is_some_and(|l| {
                l.contains(':') && (l.contains("$apr1$") || l.contains("$2y$") || l.contains("{SHA}"))
            })
        },
    },
    Probe {
        path: "/backup.sql",
        rule: "exposed-dump",
        severity: Severity::Critical,
        what: "a database dump",
        looks_right: is_sql,
    },
    Probe {
        path: "/dump.sql",
        rule: "exposed-dump",
        severity: Severity::Critical,
        what: "a database dump",
        looks_right: is_sql,
    },
    Probe {
        path: "/backup.zip",
        rule: "exposed-backup",
        severity: Severity::High,
        what: "a backup archive",
        looks_right: |b| b.starts_with("PK\u{3}\u{4}"),
    },
    Probe {
        path: "/wp-config.php.bak",
        rule: "exposed-backup",
        severity: Severity::Critical,
        what: "a backup of the WordPress configuration (database password)",
        looks_right: |b| b.contains("DB_PASSWORD"),
    },
    Probe {
        path: "/.DS_Store",
        rule: "exposed-ds-store",
        severity: Severity::Low,
        what: "a macOS folder index listing file names",
        looks_right: |b| b.get(4..8) == Some("Bud1"),
    },
    Probe {
        path: "/server-status",
        rule: "exposed-server-status",
        severity: Severity::Medium,
        what: "Apache's status page (client addresses and requested URLs)",
        looks_right: |b| b.contains("Apache Server Status"),
    },
    Probe {
        path: "/phpinfo.php",
        rule: "exposed-phpinfo",
        severity: Severity::Medium,
        what: "phpinfo() (configuration, paths, environment)",
        looks_right: |b| b.contains("PHP Version") && b.contains("phpinfo"),
    },
    Probe {
        path: "/actuator/env",
        rule: "exposed-actuator",
        severity: Severity::High,
        what: "the Spring Boot environment endpoint (configuration, sometimes secrets)",
        looks_right: |b| b.contains("propertySources"),
    },
];

fn exposed(probe: &Probe, page: &Page) -> bool {
    page.status == 200 && page.redirects.is_empty() && (probe.looks_right)(&page.body)
}

pub struct ExposedPaths;

impl Tool for ExposedPaths {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            let ToolTarget::Urls(urls) = &ctx.target else {
                return Err(ToolError::UnsupportedTarget);
            };
            for origin in origins(urls) {
                for probe in PROBES {
                    let url = origin
                        .join(probe.path)
                        .map_err(|e| ToolError::Failed(e.to_string()))?;
                    let page = ctx.page(url.as_str()).await?;
                    if exposed(probe, &page) {
                        ctx.findings.extend([Finding::new(
                            probe.rule,
                            probe.severity,
                            format!("{} serves {}; block it in the server configuration and remove it from the web root", probe.path, probe.what),
                        )
                        .at_url(url.as_str())
                        .with_help(HELP)
                        .with_cwe(538)
                        .fingerprinted(probe.path)]);
                    }
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_must_look_like_what_the_path_names() {
        assert!(is_git_head("ref: refs/heads/main\n"));
        assert!(!is_git_head("<!doctype html><title>Home</title>"));
        assert!(is_env("DB_PASSWORD=hunter2\nexport API_KEY=abc\n# note\n"));
        assert!(!is_env("<html>KEY=value</html>"));
        assert!(!is_env(""));
        assert!(is_sql("-- dump\nCREATE TABLE users (id int);\n"));
        assert!(!is_sql("<html><body>INSERT INTO the cart</body></html>"));
        let origins = origins(&[
            "https://a.test/x?y".into(),
            "https://a.test/z".into(),
            "http://a.test/".into(),
        ]);
        assert_eq!(
            origins.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
            ["https://a.test/", "http://a.test/"]
        );
    }
}
