//! The `github-actions` tool: workflow files under `.github/workflows/` that
//! let an attacker run code with the repository's secrets: a
//! `pull_request_target` workflow that checks out the pull request's head,
//! `${{ github.event.* }}` expressions pasted into `run:` scripts, actions
//! pinned to a movable tag instead of a commit, and `write-all` permissions.
//!
//! Workflows are read line by line with their indentation, which is how
//! `run:` blocks are delimited, so every finding has its exact line.

use super::rules::to_u32;
use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, ToolSpec};
use regex::Regex;
use std::sync::LazyLock;

static SPEC: ToolSpec = ToolSpec {
    id: "github-actions",
    category: Category::Security,
    ecosystem: Ecosystem::Ci,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "GitHub workflows: pull_request_target checkouts, script injection, unpinned actions, write-all",
};

const HARDENING: &str = "https://docs.github.com/en/actions/security-for-github-actions/security-guides/security-hardening-for-github-actions";
const PWN_REQUEST: &str = "https://securitylab.github.com/resources/github-actions-preventing-pwn-requests/";

/// The weakness each rule finds.
fn cwe(rule: &str) -> u32 {
    match rule {
        "script-injection" => 78,                                // command injection
        "pull-request-target-checkout" | "head-checkout" => 829, // untrusted code in a trusted context
        "write-all" | "write-all-permissions" => 250,            // unnecessary privileges
        _ => 1357,                                               // reliance on an unpinned component
    }
}

/// Expressions an outsider controls (titles, bodies, branch names, ...).
static UNTRUSTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{\{[^}]*\b(github\.event\.(issue|pull_request|comment|review|review_comment|discussion|head_commit|commits|pages|workflow_run)\b[^}]*|github\.head_ref)[^}]*\}\}")
        .expect("valid")
});
static RUN_KEY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\s*)(-\s+)?run:\s*(.*)$").expect("valid"));
static USES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^\s*(-\s+)?uses:\s*["']?([^\s"'#]+)"#).expect("valid"));
static HEAD_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{\{\s*(github\.event\.pull_request\.head\.(sha|ref)|github\.head_ref)\s*\}\}")
        .expect("valid")
});

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

pub struct GithubActions;

impl FileCheck for GithubActions {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn wants(&self, file: &FileEntry) -> bool {
        let in_workflows =
            file.rel.starts_with(".github/workflows/") || file.rel.contains("/.github/workflows/");
        in_workflows && (file.rel.ends_with(".yml") || file.rel.ends_with(".yaml"))
    }

    fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>) {
        let Some(text) = text else { return };
        if !self.wants(file) {
            return;
        }
        let mut push =
            |rule: &str, severity: Severity, index: usize, message: String, help: &str, evidence: &str| {
                out.push(
                    Finding::new(rule, severity, message)
                        .at_path(&file.rel, Some(to_u32(index + 1)), None)
                        .with_help(help)
                        .with_cwe(cwe(rule))
                        .fingerprinted(evidence),
                );
            };
        let pull_request_target = text
            .lines()
            .any(|l| l.split('#').next().unwrap_or("").contains("pull_request_target"));
        // The indentation of the `run:` key whose block we are in, if any.
        let mut run_block: Option<usize> = None;
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with('#') {
                continue;
            }
            if let Some(key_indent) = run_block
                && !trimmed.is_empty()
                && indent(line) <= key_indent
            {
                run_block = None;
            }
            let mut script = run_block.is_some();
            if let Some(run) = RUN_KEY.captures(line) {
                let value = run.get(3).map_or("", |m| m.as_str()).trim();
                let key_indent = run.get(1).map_or(0, |m| m.len()) + run.get(2).map_or(0, |m| m.len());
                if value.is_empty() || value.starts_with('|') || value.starts_with('>') {
                    run_block = Some(key_indent);
                } else {
                    script = true;
                }
            }
            if script && let Some(expression) = UNTRUSTED.find(line) {
                let message = format!(
                    "`{}` is pasted into a shell script; a crafted title or branch name runs as code. Pass it through `env:` and use \"$VAR\"",
                    expression.as_str()
                );
                push(
                    "script-injection",
                    Severity::High,
                    index,
                    message,
                    HARDENING,
                    expression.as_str(),
                );
            }
            if pull_request_target && trimmed.starts_with("ref:") && HEAD_REF.is_match(line) {
                let message = "a pull_request_target workflow checks out the pull request's code and runs it with the repository's secrets and write token";
                push(
                    "pull-request-target-checkout",
                    Severity::Critical,
                    index,
                    message.into(),
                    PWN_REQUEST,
                    "head-checkout",
                );
            }
            if let Some(uses) = USES.captures(line) {
                let action = &uses[2];
                let pinned = action
                    .rsplit_once('@')
                    .is_some_and(|(_, r)| r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()));
                if !pinned && !action.starts_with("./") && !action.starts_with("docker://") {
                    let first_party = action.starts_with("actions/") || action.starts_with("github/");
                    let severity = if first_party {
                        Severity::Low
                    } else {
                        Severity::Medium
                    };
                    let message = format!(
                        "`{action}` is not pinned to a commit; whoever controls that tag controls this job. Pin the full commit SHA"
                    );
                    push("unpinned-action", severity, index, message, HARDENING, action);
                }
            }
            if trimmed.starts_with("permissions:") && trimmed.contains("write-all") {
                let message = "`permissions: write-all` gives every step a token that can push code and change releases; grant only what the job needs";
                push(
                    "write-all-permissions",
                    Severity::Medium,
                    index,
                    message.into(),
                    HARDENING,
                    "write-all",
                );
            }
        }
    }
}
