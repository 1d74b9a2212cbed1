//! `livescan.toml`: a repository's own scan settings, read from the root of
//! the scanned tree or given with the start request (`config`). It picks the
//! tools and categories, excludes paths, overrides severities per rule and
//! suppresses accepted findings until a date. Suppressed findings are kept,
//! marked and counted apart, never dropped; inline `livescan:ignore` and
//! `livescan:ignore[rule, …]` comments suppress the same way for every tool.
//! A key the file does not know is an error that names it.
//!
//! Rules are named `TOOL/RULE` (as in SARIF) or by the tool's rule id alone,
//! and may be globs (`secrets/*`). Paths are relative to the scanned root,
//! matched as in `.gitignore`: a pattern without `/` matches at any depth.

use super::finding::{Finding, Severity};
use super::session::ToolReport;
use chrono::NaiveDate;
use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// The file the server reads at the root of a scanned tree.
pub const FILE_NAME: &str = "livescan.toml";
/// The largest `livescan.toml` read, in bytes.
pub const MAX_BYTES: usize = 64 * 1024;
/// The most globs (excludes, overrides, suppressions) one file may hold.
const MAX_PATTERNS: usize = 2_000;

/// A parsed and checked `livescan.toml`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RepoConfig {
    /// Run only these tools (the start request's `tools`, when it has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Never run these tools (added to the request's `excludeTools`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_tools: Vec<String>,
    /// Run only tools of these categories (when the request names none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Paths no finding is reported for, and native tools do not read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// A severity per rule pattern, replacing the tool's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub severity: BTreeMap<String, Severity>,
    /// Options per tool, by tool id (`[tool.semgrep]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tool: BTreeMap<String, ToolOptions>,
    /// Accepted findings (`[[ignore]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<Ignore>,
}

/// What every tool takes in `[tool.NAME]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ToolOptions {
    /// Paths this tool's findings are not reported for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

/// One `[[ignore]]` entry: the findings of `rule` (under `path`, when
/// given) are suppressed, until `expires` when given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ignore {
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The first day the suppression no longer holds (`YYYY-MM-DD`).
    #[serde(
        default,
        deserialize_with = "date_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<String>,
}

/// Why a finding is suppressed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suppression {
    pub kind: SuppressionKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// True when the suppression ran out: the finding reports again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
}

/// Where a suppression was written (SARIF's `inSource` and `external`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuppressionKind {
    /// A `livescan:ignore` comment on the finding's line or the line above.
    Inline,
    /// An `[[ignore]]` entry of `livescan.toml`.
    Config,
}

/// Accepts a TOML date (`2027-01-01`) or a string holding one.
fn date_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    match toml::Value::deserialize(deserializer)? {
        toml::Value::String(text) => Ok(Some(text)),
        toml::Value::Datetime(date) => Ok(Some(date.to_string())),
        other => Err(serde::de::Error::custom(format!(
            "expected a date such as 2027-01-01, got {}",
            other.type_str()
        ))),
    }
}

impl RepoConfig {
    /// Parses and checks `text`; an error names the line and the key.
    pub fn parse(text: &str) -> Result<RepoConfig, String> {
        if text.len() > MAX_BYTES {
            return Err(format!("is {} bytes; the most read is {MAX_BYTES}", text.len()));
        }
        let config: RepoConfig = toml::from_str(text).map_err(|err| {
            let line = err
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            let message = err.message().trim_end_matches('\n').replace('\n', " ");
            match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            }
        })?;
        config.compile()?;
        Ok(config)
    }

    /// The matchers of the file's patterns; an error names the key at fault.
    pub fn compile(&self) -> Result<Rules, String> {
        let patterns = self.exclude.len()
            + self.severity.len()
            + self.ignore.len() * 2
            + self.tool.values().map(|t| t.exclude.len()).sum::<usize>();
        if patterns > MAX_PATTERNS {
            return Err(format!("holds {patterns} patterns; the most is {MAX_PATTERNS}"));
        }
        let exclude = path_set("exclude", &self.exclude)?;
        let mut tool_exclude = BTreeMap::new();
        for (tool, options) in &self.tool {
            tool_exclude.insert(
                tool.clone(),
                path_set(&format!("tool.{tool}.exclude"), &options.exclude)?,
            );
        }
        let mut severity = Vec::new();
        for (pattern, level) in &self.severity {
            severity.push((
                RulePattern::new(&format!("severity.\"{pattern}\""), pattern)?,
                *level,
            ));
        }
        let mut ignore = Vec::new();
        for (i, entry) in self.ignore.iter().enumerate() {
            let rule = RulePattern::new(&format!("ignore[{i}].rule"), &entry.rule)?;
            let path = match &entry.path {
                Some(path) => Some(path_glob(&format!("ignore[{i}].path"), path)?.compile_matcher()),
                None => None,
            };
            let expires = match &entry.expires {
                Some(text) => Some(NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                    format!("ignore[{i}].expires: `{text}` is not a date such as 2027-01-01")
                })?),
                None => None,
            };
            ignore.push(IgnoreRule {
                rule,
                path,
                expires,
                suppression: Suppression {
                    kind: SuppressionKind::Config,
                    reason: entry.reason.clone(),
                    expires: entry.expires.clone(),
                    expired: false,
                },
            });
        }
        Ok(Rules {
            exclude,
            tool_exclude,
            severity,
            ignore,
        })
    }
}

/// A rule pattern, matched against `TOOL/RULE` and against the rule id alone.
#[derive(Clone, Debug)]
struct RulePattern {
    text: String,
    exact: bool,
    matcher: GlobMatcher,
}

impl RulePattern {
    fn new(key: &str, text: &str) -> Result<RulePattern, String> {
        if text.trim().is_empty() {
            return Err(format!(
                "{key}: must name a rule, such as `secrets/aws-access-key`"
            ));
        }
        let glob = Glob::new(text).map_err(|e| format!("{key}: `{text}` is not a valid pattern: {e}"))?;
        Ok(RulePattern {
            text: text.to_string(),
            exact: !text.contains(['*', '?', '[', '{']),
            matcher: glob.compile_matcher(),
        })
    }

    fn matches(&self, tool: &str, rule: &str) -> bool {
        self.matcher.is_match(format!("{tool}/{rule}")) || self.matcher.is_match(rule)
    }
}

/// A path glob as `.gitignore` reads one: without a `/`, at any depth; a
/// trailing `/` means everything under the directory.
fn path_glob(key: &str, text: &str) -> Result<Glob, String> {
    let trimmed = text.trim_start_matches("./").trim_start_matches('/');
    if trimmed.is_empty() {
        return Err(format!("{key}: must not be empty"));
    }
    let anchored = if trimmed.contains('/') && !trimmed.ends_with('/') {
        trimmed.to_string()
    } else {
        format!("**/{trimmed}")
    };
    let pattern = match anchored.strip_suffix('/') {
        Some(dir) => format!("{dir}/**"),
        None => anchored,
    };
    GlobBuilder::new(&pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("{key}: `{text}` is not a valid pattern: {e}"))
}

fn path_set(key: &str, patterns: &[String]) -> Result<GlobSet, String> {
    let mut set = GlobSetBuilder::new();
    for (i, pattern) in patterns.iter().enumerate() {
        let glob = path_glob(&format!("{key}[{i}]"), pattern)?;
        // A directory named by itself leaves out everything under it too.
        set.add(glob.clone());
        let under = format!("{}/**", glob.glob());
        set.add(Glob::new(&under).map_err(|e| format!("{key}[{i}]: {e}"))?);
    }
    set.build().map_err(|e| format!("{key}: {e}"))
}

#[derive(Clone, Debug)]
struct IgnoreRule {
    rule: RulePattern,
    path: Option<GlobMatcher>,
    expires: Option<NaiveDate>,
    suppression: Suppression,
}

/// A config's matchers, compiled once per session.
#[derive(Clone, Debug)]
pub struct Rules {
    exclude: GlobSet,
    tool_exclude: BTreeMap<String, GlobSet>,
    severity: Vec<(RulePattern, Severity)>,
    ignore: Vec<IgnoreRule>,
}

impl Rules {
    /// Whether native tools leave the file at `rel` out entirely.
    pub fn excludes_path(&self, rel: &str) -> bool {
        self.exclude.is_match(rel)
    }

    /// Applies the config to a finished report's findings on `today`:
    /// drops those under excluded paths, overrides severities and marks the
    /// suppressed ones. The caller counts the report again
    /// ([`ToolReport::recount`]) once every such step is done.
    pub fn apply(&self, report: &mut ToolReport, today: NaiveDate) {
        let tool = report.tool_name.clone();
        let tool_exclude = self.tool_exclude.get(&tool);
        report.result.findings.retain(|finding| {
            finding.path.as_deref().is_none_or(|path| {
                !self.exclude.is_match(path) && !tool_exclude.is_some_and(|set| set.is_match(path))
            })
        });
        for finding in &mut report.result.findings {
            self.override_severity(&tool, finding);
            if finding.is_suppressed() {
                continue;
            }
            let mut expired = None;
            for entry in &self.ignore {
                let path_matches = match (&entry.path, &finding.path) {
                    (None, _) => true,
                    (Some(glob), Some(path)) => glob.is_match(path),
                    (Some(_), None) => false,
                };
                if !path_matches || !entry.rule.matches(&tool, &finding.rule_id) {
                    continue;
                }
                if entry.expires.is_some_and(|day| today >= day) {
                    expired.get_or_insert_with(|| Suppression {
                        expired: true,
                        ..entry.suppression.clone()
                    });
                    continue;
                }
                finding.suppression = Some(entry.suppression.clone());
                break;
            }
            if finding.suppression.is_none() {
                finding.suppression = expired;
            }
        }
    }

    /// The most specific severity override for the finding's rule: an exact
    /// name before a glob, a longer pattern before a shorter one.
    fn override_severity(&self, tool: &str, finding: &mut Finding) {
        let best = self
            .severity
            .iter()
            .filter(|(pattern, _)| pattern.matches(tool, &finding.rule_id))
            .max_by_key(|(pattern, _)| (pattern.exact, pattern.text.len()));
        if let Some((_, severity)) = best {
            finding.severity = *severity;
        }
    }
}

/// Whether a `livescan:ignore` comment in `line` (the finding's line) or in
/// `above` (when that line is a comment of its own) covers the rule: a bare
/// marker covers every rule, `livescan:ignore[a, b]` the rules named (by id
/// or `TOOL/RULE`).
pub fn inline_ignore_covers(line: &str, above: Option<&str>, tool: &str, rule: &str) -> bool {
    let covers = |text: &str| {
        text.match_indices(MARKER).any(|(at, _)| {
            let rest = &text[at + MARKER.len()..];
            let Some(list) = rest.strip_prefix('[') else {
                return true;
            };
            let Some(end) = list.find(']') else { return false };
            list[..end].split(',').map(str::trim).any(|name| {
                name == rule || name.strip_prefix(tool).and_then(|r| r.strip_prefix('/')) == Some(rule)
            })
        })
    };
    covers(line) || above.is_some_and(|text| is_comment_line(text) && covers(text))
}

const MARKER: &str = "livescan:ignore";

fn is_comment_line(text: &str) -> bool {
    let text = text.trim_start();
    ["#", "//", "/*", "*", "--", "<!--", ";", "%", "'"]
        .iter()
        .any(|leader| text.starts_with(leader))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Outcome};

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn report(findings: Vec<Finding>) -> ToolReport {
        ToolReport::finished(
            "secrets",
            Category::Security,
            Outcome::Findings,
            5,
            findings,
            None,
        )
    }

    fn at(rule: &str, severity: Severity, path: &str) -> Finding {
        Finding::new(rule, severity, "found").at_path(path, Some(1), None)
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = RepoConfig::parse("tools = [\"secrets\"]\ntols = 1\n").unwrap_err();
        assert!(
            err.starts_with("line 2:") && err.contains("unknown field `tols`"),
            "{err}"
        );
        let err = RepoConfig::parse("[[ignore]]\nrule = \"x\"\nwhy = \"no\"\n").unwrap_err();
        assert!(
            err.contains("unknown field `why`") && err.starts_with("line 3:"),
            "{err}"
        );
        let err = RepoConfig::parse("[tool.semgrep]\nrules = []\n").unwrap_err();
        assert!(err.contains("unknown field `rules`"), "{err}");
        let err = RepoConfig::parse("[severity]\n\"x\" = \"severe\"\n").unwrap_err();
        assert!(err.contains("severe"), "{err}");
        let err = RepoConfig::parse("[[ignore]]\nrule = \"x\"\nexpires = \"2027-13-01\"\n").unwrap_err();
        assert_eq!(
            err,
            "ignore[0].expires: `2027-13-01` is not a date such as 2027-01-01"
        );
        let err = RepoConfig::parse("exclude = [\"a/[b\"]\n").unwrap_err();
        assert!(err.starts_with("exclude[0]:"), "{err}");
        let err = RepoConfig::parse("[[ignore]]\nrule = \"\"\n").unwrap_err();
        assert!(err.starts_with("ignore[0].rule:"), "{err}");
    }

    #[test]
    fn a_huge_file_or_too_many_patterns_is_refused() {
        let huge = format!("# {}\n", "x".repeat(MAX_BYTES));
        assert!(
            RepoConfig::parse(&huge)
                .unwrap_err()
                .contains("the most read is 65536")
        );
        let patterns: Vec<String> = (0..=MAX_PATTERNS).map(|i| format!("\"dir{i}/\"")).collect();
        let many = format!("exclude = [{}]\n", patterns.join(", "));
        assert!(many.len() < MAX_BYTES);
        let err = RepoConfig::parse(&many).unwrap_err();
        assert_eq!(
            err,
            format!("holds {} patterns; the most is {MAX_PATTERNS}", MAX_PATTERNS + 1)
        );
    }

    #[test]
    fn dates_are_toml_dates_or_strings() {
        let config = RepoConfig::parse(
            "[[ignore]]\nrule = \"a\"\nexpires = 2027-01-01\n[[ignore]]\nrule = \"b\"\nexpires = \"2027-02-01\"\n",
        )
        .unwrap();
        assert_eq!(config.ignore[0].expires.as_deref(), Some("2027-01-01"));
        assert_eq!(config.ignore[1].expires.as_deref(), Some("2027-02-01"));
        // Stored with the session as JSON, read back the same.
        let stored = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<RepoConfig>(&stored).unwrap(), config);
    }

    #[test]
    fn excludes_overrides_and_suppressions_apply_until_they_expire() {
        let config = RepoConfig::parse(
            r#"
exclude = ["vendor/", "*.min.js"]
[severity]
"secrets/*" = "low"
"secrets/aws-key" = "critical"
[tool.secrets]
exclude = ["docs/**"]
[[ignore]]
rule = "generic-token"
path = "tests/**"
reason = "fixtures"
expires = "2027-01-01"
"#,
        )
        .unwrap();
        let rules = config.compile().unwrap();
        let findings = vec![
            at("aws-key", Severity::High, "src/a.py"),
            at("generic-token", Severity::High, "src/b.py"),
            at("generic-token", Severity::High, "tests/c.py"),
            at("generic-token", Severity::High, "vendor/lib/d.py"),
            at("generic-token", Severity::High, "web/app.min.js"),
            at("generic-token", Severity::High, "docs/guide.md"),
        ];
        let mut before = report(findings.clone());
        rules.apply(&mut before, day("2026-12-31"));
        before.recount();
        let kept: Vec<(&str, Severity, bool)> = before
            .result
            .findings
            .iter()
            .map(|f| (f.path.as_deref().unwrap(), f.severity, f.is_suppressed()))
            .collect();
        assert_eq!(
            kept,
            vec![
                ("src/a.py", Severity::Critical, false),
                ("src/b.py", Severity::Low, false),
                ("tests/c.py", Severity::Low, true),
            ]
        );
        assert_eq!(before.findings_count, 2);
        assert_eq!(before.result.suppressed, 1);
        assert_eq!(before.severity_counts().describe(), "1 critical, 1 low");
        let suppression = before.result.findings[2].suppression.clone().unwrap();
        assert_eq!(suppression.reason.as_deref(), Some("fixtures"));

        // From the day it expires, the finding reports again, saying why.
        let mut after = report(findings);
        rules.apply(&mut after, day("2027-01-01"));
        after.recount();
        assert_eq!(after.findings_count, 3);
        assert_eq!(after.result.suppressed, 0);
        let expired = after
            .result
            .findings
            .iter()
            .find(|f| f.path.as_deref() == Some("tests/c.py"));
        assert!(expired.unwrap().suppression.as_ref().is_some_and(|s| s.expired));
    }

    #[test]
    fn a_report_whose_findings_are_all_suppressed_is_clean() {
        let rules = RepoConfig::parse("[[ignore]]\nrule = \"secrets/generic-token\"\n")
            .unwrap()
            .compile()
            .unwrap();
        let mut all = report(vec![at("generic-token", Severity::High, "a.py")]);
        rules.apply(&mut all, day("2026-12-01"));
        all.recount();
        assert_eq!(all.result.outcome, Some(Outcome::Clean));
        assert_eq!((all.findings_count, all.result.suppressed), (0, 1));
    }

    #[test]
    fn inline_markers_name_rules_or_cover_all() {
        assert!(inline_ignore_covers(
            "x = eval(y)  # livescan:ignore",
            None,
            "t",
            "eval"
        ));
        assert!(inline_ignore_covers(
            "x # livescan:ignore[eval, exec]",
            None,
            "t",
            "exec"
        ));
        assert!(inline_ignore_covers(
            "x # livescan:ignore[t/eval]",
            None,
            "t",
            "eval"
        ));
        assert!(!inline_ignore_covers(
            "x # livescan:ignore[exec]",
            None,
            "t",
            "eval"
        ));
        assert!(!inline_ignore_covers(
            "x # livescan:ignore[eval",
            None,
            "t",
            "eval"
        ));
        assert!(inline_ignore_covers(
            "x = eval(y)",
            Some("  // livescan:ignore[eval]"),
            "t",
            "eval"
        ));
        // A marker at the end of a line of code covers that line only.
        assert!(!inline_ignore_covers(
            "x = eval(y)",
            Some("y = 1 # livescan:ignore"),
            "t",
            "eval"
        ));
        assert!(!inline_ignore_covers("x = eval(y)", None, "t", "eval"));
    }
}
