//! Line rules: a table of regular expressions, each limited to some languages,
//! run over every line of every file, for the tools whose findings are one
//! line of code each (`dangerous-calls`, `weak-crypto`, `insecure-transport`,
//! `debug-statements`). One `RegexSet` per tool says which rules a line
//! matches, so a line costs one pass however many rules there are.
//!
//! Whole-line comments are skipped (commented-out code is not a call).

use super::lang::Lang;
use crate::model::{Finding, Severity};
use crate::tools::{FileCheck, FileEntry, ToolSpec};
use regex::{Regex, RegexSet};

pub struct LineRule {
    pub id: &'static str,
    pub severity: Severity,
    /// The languages the rule applies to; empty: every text file.
    pub langs: &'static [Lang],
    pub pattern: &'static str,
    /// A second pattern that the line or one of the [`CONTEXT_LINES`] lines
    /// before it must match (empty: none), e.g. "this is about a token": the
    /// function name usually sits just above the call.
    pub context: &'static str,
    /// The rule does not fire on a line containing any of these (case-insensitive).
    pub unless: &'static [&'static str],
    pub message: &'static str,
    pub help: &'static str,
}

/// A [`LineRule`] literal: id, severity, languages, pattern, [context,
/// unless,] message, help link.
macro_rules! line_rule {
    ($id:expr, $sev:expr, $langs:expr, $pattern:expr, $message:expr, $help:expr) => {
        LineRule {
            id: $id,
            severity: $sev,
            langs: $langs,
            pattern: $pattern,
            context: "",
            unless: &[],
            message: $message,
            help: $help,
        }
    };
    ($id:expr, $sev:expr, $langs:expr, $pattern:expr, $context:expr, $unless:expr, $message:expr, $help:expr) => {
        LineRule {
            id: $id,
            severity: $sev,
            langs: $langs,
            pattern: $pattern,
            context: $context,
            unless: $unless,
            message: $message,
            help: $help,
        }
    };
}
pub(crate) use line_rule;

/// How many lines before a match its `context` may be found in.
pub const CONTEXT_LINES: usize = 3;

pub struct LineRules {
    spec: &'static ToolSpec,
    rules: &'static [LineRule],
    /// Leave test code alone (test files, and the Rust tests that end a file):
    /// for tools whose findings are normal there (a plain-HTTP test server).
    skip_tests: bool,
    set: RegexSet,
    patterns: Vec<Regex>,
    contexts: Vec<Option<Regex>>,
}

impl LineRules {
    /// Compiles the table. The tables are constants checked by the tests, so
    /// an invalid pattern is a programming error.
    pub fn new(spec: &'static ToolSpec, rules: &'static [LineRule]) -> Self {
        let compile =
            |pattern: &str| Regex::new(pattern).unwrap_or_else(|e| panic!("rule pattern {pattern}: {e}"));
        LineRules {
            spec,
            rules,
            skip_tests: false,
            set: RegexSet::new(rules.iter().map(|r| r.pattern)).expect("rule patterns compile"),
            patterns: rules.iter().map(|r| compile(r.pattern)).collect(),
            contexts: rules
                .iter()
                .map(|r| (!r.context.is_empty()).then(|| compile(r.context)))
                .collect(),
        }
    }

    /// The same rules, silent in test code.
    pub fn outside_tests(mut self) -> Self {
        self.skip_tests = true;
        self
    }

    fn applies(rule: &LineRule, lang: Lang) -> bool {
        rule.langs.is_empty() || rule.langs.contains(&lang)
    }
}

impl FileCheck for LineRules {
    fn spec(&self) -> &ToolSpec {
        self.spec
    }

    fn wants(&self, file: &FileEntry) -> bool {
        let any_rule = |lang| self.rules.iter().any(|rule| Self::applies(rule, lang));
        Lang::by_name(&file.rel).is_none_or(any_rule)
            && !(self.skip_tests && crate::tools::origin::is_test_path(&file.rel))
    }

    fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>) {
        let Some(text) = text else { return };
        let lang = Lang::of(&file.rel, Some(text));
        if !self.rules.iter().any(|rule| Self::applies(rule, lang)) || !self.wants(file) {
            return;
        }
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().copied().enumerate() {
            if self.skip_tests && lang == Lang::Rust && matches!(line.trim(), "#[cfg(test)]" | "#[test]") {
                // Rust tests sit at the end of the file by convention.
                break;
            }
            let trimmed = line.trim_start();
            if lang.is_comment(trimmed) {
                continue;
            }
            for which in self.set.matches(line).iter() {
                let rule = &self.rules[which];
                if !Self::applies(rule, lang) {
                    continue;
                }
                if let Some(context) = &self.contexts[which] {
                    let window = &lines[index.saturating_sub(CONTEXT_LINES)..=index];
                    if !window.iter().any(|l| context.is_match(l)) {
                        continue;
                    }
                }
                let lower = line.to_ascii_lowercase();
                if rule.unless.iter().any(|word| lower.contains(word)) {
                    continue;
                }
                let Some(found) = self.patterns[which].find(line) else {
                    continue;
                };
                let column = line[..found.start()].chars().count() + 1;
                out.push(
                    Finding::new(rule.id, rule.severity, rule.message)
                        .at_path(&file.rel, Some(to_u32(index + 1)), Some(to_u32(column)))
                        .with_help(rule.help)
                        .fingerprinted(found.as_str().trim()),
                );
            }
        }
    }
}

pub fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Checks a tool's rule table: every pattern compiles, ids are kebab-case and
/// unique, and each rule fires on its `samples[id]` line in the given file.
#[cfg(test)]
pub fn assert_table(rules: &'static [LineRule], samples: &[(&str, &str, &str)], spec: &'static ToolSpec) {
    let tool = LineRules::new(spec, rules);
    let mut ids: Vec<&str> = rules.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), rules.len(), "rule ids are unique");
    for rule in rules {
        assert!(
            rule.id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{} is kebab-case",
            rule.id
        );
        assert!(
            samples.iter().any(|(id, _, _)| *id == rule.id),
            "{} has a sample",
            rule.id
        );
        assert!(rule.help.starts_with("https://"), "{} has a help link", rule.id);
    }
    for (id, path, line) in samples {
        let file = FileEntry {
            rel: path.to_string(),
            abs: path.into(),
            size: 0,
            origin: crate::tools::Origin::Source,
        };
        let mut out = Vec::new();
        tool.check(&file, Some(line), &mut out);
        let fired: Vec<&str> = out.iter().map(|f| f.rule_id.as_str()).collect();
        assert_eq!(fired, vec![*id], "{path}: `{line}`");
    }
}

/// Checks that none of `cases` (path, line) makes `tool` fire.
#[cfg(test)]
pub fn assert_quiet(tool: &LineRules, cases: &[(&str, &str)]) {
    for (path, line) in cases {
        let file = FileEntry {
            rel: path.to_string(),
            abs: path.into(),
            size: 0,
            origin: crate::tools::Origin::Source,
        };
        let mut out = Vec::new();
        tool.check(&file, Some(line), &mut out);
        let fired: Vec<&str> = out.iter().map(|f| f.rule_id.as_str()).collect();
        assert!(fired.is_empty(), "{path}: `{line}` gave {fired:?}");
    }
}
