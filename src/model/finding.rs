//! Findings and the vocabulary that classifies them: severities, categories and
//! the kinds of target a tool applies to.

use super::repo_config::Suppression;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How bad a finding is, worst first. The order of the variants is the order of
/// severity, so `Severity::Critical < Severity::High` sorts worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str() == s)
            .ok_or_else(|| format!("unknown severity `{s}` (valid: critical, high, medium, low, info)"))
    }
}

/// The Sessions API reference's four tool categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Security,
    CodeQuality,
    Accessibility,
    Performance,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::Security,
        Category::CodeQuality,
        Category::Accessibility,
        Category::Performance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Security => "security",
            Category::CodeQuality => "code-quality",
            Category::Accessibility => "accessibility",
            Category::Performance => "performance",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| s.to_string())
    }
}

/// What a tool looks at, for grouping a catalog of a hundred tools: a
/// language's sources, a kind of file, or web sites. `Any` is every file
/// whatever its language (secrets, merge conflicts, large files).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ecosystem {
    Any,
    Dependencies,
    Python,
    Javascript,
    Web,
    Shell,
    CCpp,
    Java,
    Go,
    Ruby,
    Php,
    Perl,
    Lua,
    Solidity,
    Sql,
    Containers,
    Infrastructure,
    Ci,
    Config,
    Docs,
    Website,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 21] = [
        Ecosystem::Any,
        Ecosystem::Dependencies,
        Ecosystem::Python,
        Ecosystem::Javascript,
        Ecosystem::Web,
        Ecosystem::Shell,
        Ecosystem::CCpp,
        Ecosystem::Java,
        Ecosystem::Go,
        Ecosystem::Ruby,
        Ecosystem::Php,
        Ecosystem::Perl,
        Ecosystem::Lua,
        Ecosystem::Solidity,
        Ecosystem::Sql,
        Ecosystem::Containers,
        Ecosystem::Infrastructure,
        Ecosystem::Ci,
        Ecosystem::Config,
        Ecosystem::Docs,
        Ecosystem::Website,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Any => "any",
            Ecosystem::Dependencies => "dependencies",
            Ecosystem::Python => "python",
            Ecosystem::Javascript => "javascript",
            Ecosystem::Web => "web",
            Ecosystem::Shell => "shell",
            Ecosystem::CCpp => "c-cpp",
            Ecosystem::Java => "java",
            Ecosystem::Go => "go",
            Ecosystem::Ruby => "ruby",
            Ecosystem::Php => "php",
            Ecosystem::Perl => "perl",
            Ecosystem::Lua => "lua",
            Ecosystem::Solidity => "solidity",
            Ecosystem::Sql => "sql",
            Ecosystem::Containers => "containers",
            Ecosystem::Infrastructure => "infrastructure",
            Ecosystem::Ci => "ci",
            Ecosystem::Config => "config",
            Ecosystem::Docs => "docs",
            Ecosystem::Website => "website",
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of target a tool can scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Directory,
    Url,
    Urls,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Directory => "directory",
            TargetKind::Url => "url",
            TargetKind::Urls => "urls",
        }
    }
}

/// Where a file of a directory target comes from: written in the
/// repository (source), or vendored, generated, minified or binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Source,
    Vendored,
    Generated,
    Minified,
    Binary,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Source => "source",
            Origin::Vendored => "vendored",
            Origin::Generated => "generated",
            Origin::Minified => "minified",
            Origin::Binary => "binary",
        }
    }
}

/// One problem a tool found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The tool's identifier for the rule that fired, e.g. `github-pat`.
    pub rule_id: String,
    pub severity: Severity,
    /// The tool's own level before normalisation (e.g. SARIF `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_level: Option<String>,
    pub message: String,
    /// Path relative to the scanned directory, for directory targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// The page the finding belongs to, for URL targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Stable across runs as long as the rule, location and evidence stay the same.
    pub fingerprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_uri: Option<String>,
    /// The weakness found, as a CWE number (89: SQL injection), where one applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwe: Option<u32>,
    /// Against a baseline: whether the baseline had this finding's fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_state: Option<BaselineState>,
    /// An accepted finding (`livescan.toml` or a `livescan:ignore` comment):
    /// listed, but counted apart from the findings that count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppression: Option<Suppression>,
}

/// Whether a baseline scan had a finding too (SARIF's `baselineState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineState {
    New,
    Unchanged,
}

/// Marks each finding `new` or `unchanged` by whether the baseline `had`
/// its fingerprint.
pub fn mark_against_baseline<'a>(
    findings: impl IntoIterator<Item = &'a mut Finding>,
    had: impl Fn(&str) -> bool,
) {
    for finding in findings {
        finding.baseline_state = Some(match had(&finding.fingerprint) {
            true => BaselineState::Unchanged,
            false => BaselineState::New,
        });
    }
}

/// The findings a baseline did not have, suppressed ones left out, by severity.
pub fn new_by_severity<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> super::BySeverity {
    let mut new = super::BySeverity::default();
    for finding in findings {
        if finding.baseline_state == Some(BaselineState::New) && !finding.is_suppressed() {
            new.add(finding.severity, 1);
        }
    }
    new
}

impl BaselineState {
    pub fn as_str(self) -> &'static str {
        match self {
            BaselineState::New => "new",
            BaselineState::Unchanged => "unchanged",
        }
    }
}

/// The longest message a finding keeps, in characters; longer ones are cut.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// The longest path, URL, rule id or link a finding keeps.
pub const MAX_FIELD_CHARS: usize = 2000;

impl Finding {
    /// Cuts every text field to its bound: a tool's output is untrusted,
    /// and one enormous message must not weigh on every reader of a report.
    pub fn bound_fields(&mut self) {
        use super::text::bound;
        bound(&mut self.message, MAX_MESSAGE_CHARS);
        bound(&mut self.rule_id, MAX_FIELD_CHARS);
        for field in [
            &mut self.path,
            &mut self.url,
            &mut self.help_uri,
            &mut self.original_level,
        ]
        .into_iter()
        .flatten()
        {
            bound(field, MAX_FIELD_CHARS);
        }
    }

    /// The order of a report's findings: worst first, then by place. A
    /// report cut to its cap keeps a prefix in this order.
    pub fn report_order(&self, other: &Finding) -> std::cmp::Ordering {
        (self.severity, &self.path, self.line, &self.url, &self.rule_id).cmp(&(
            other.severity,
            &other.path,
            other.line,
            &other.url,
            &other.rule_id,
        ))
    }

    /// A finding with the fingerprint derived from rule, location and `evidence`
    /// (the matched text or element), so it survives unrelated edits elsewhere.
    pub fn new(rule_id: &str, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            rule_id: rule_id.to_string(),
            severity,
            original_level: None,
            message: message.into(),
            path: None,
            line: None,
            column: None,
            url: None,
            fingerprint: String::new(),
            help_uri: None,
            cwe: None,
            baseline_state: None,
            suppression: None,
        }
    }

    /// Whether the finding is suppressed now: a suppression that expired
    /// stays on it as the reason it reports again.
    pub fn is_suppressed(&self) -> bool {
        self.suppression.as_ref().is_some_and(|s| !s.expired)
    }

    pub fn with_cwe(mut self, cwe: u32) -> Self {
        self.cwe = Some(cwe);
        self
    }

    pub fn at_path(mut self, path: &str, line: Option<u32>, column: Option<u32>) -> Self {
        self.path = Some(path.to_string());
        self.line = line;
        self.column = column;
        self
    }

    /// Where a person looks: `path:line`, `path`, or the page's URL.
    pub fn location(&self) -> String {
        match (&self.path, self.line, &self.url) {
            (Some(path), Some(line), _) => format!("{path}:{line}"),
            (Some(path), None, _) => path.clone(),
            (None, _, Some(url)) => url.clone(),
            (None, _, None) => String::new(),
        }
    }

    pub fn at_url(mut self, url: &str) -> Self {
        self.url = Some(url.to_string());
        self
    }

    /// Sets the help link; a link to a CWE definition also sets the CWE.
    pub fn with_help(mut self, uri: &str) -> Self {
        self.help_uri = Some(uri.to_string());
        self.cwe = self.cwe.or_else(|| cwe_of_link(uri));
        self
    }

    /// Sets the fingerprint from the rule, the location and `evidence`.
    pub fn fingerprinted(mut self, evidence: &str) -> Self {
        let location = self.path.as_deref().or(self.url.as_deref()).unwrap_or("");
        self.fingerprint = fingerprint(&[&self.rule_id, location, evidence]);
        self
    }
}

/// The CWE a `https://cwe.mitre.org/data/definitions/N.html` link names.
pub fn cwe_of_link(uri: &str) -> Option<u32> {
    uri.strip_prefix("https://cwe.mitre.org/data/definitions/")?
        .strip_suffix(".html")?
        .parse()
        .ok()
}

/// A short stable hash (FNV-1a, 64 bit, hex) of the given parts.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_sort_worst_first_and_round_trip() {
        let mut all = vec![Severity::Low, Severity::Critical, Severity::Info, Severity::High];
        all.sort();
        assert_eq!(
            all,
            vec![Severity::Critical, Severity::High, Severity::Low, Severity::Info]
        );
        for sev in Severity::ALL {
            assert_eq!(sev.as_str().parse::<Severity>().unwrap(), sev);
        }
        assert!("severe".parse::<Severity>().is_err());
    }

    #[test]
    fn categories_use_the_reference_spelling() {
        assert_eq!(
            serde_json::to_string(&Category::CodeQuality).unwrap(),
            "\"code-quality\""
        );
        assert_eq!("code-quality".parse::<Category>().unwrap(), Category::CodeQuality);
    }

    #[test]
    fn fingerprint_depends_on_every_part() {
        let a = fingerprint(&["rule", "src/a.rs", "x"]);
        assert_eq!(a, fingerprint(&["rule", "src/a.rs", "x"]));
        assert_ne!(a, fingerprint(&["rule", "src/a.rs", "y"]));
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
    }
}
