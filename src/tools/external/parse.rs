//! Reading what an external tool reported: SARIF 2.1.0 generically, and the
//! JSON and line formats of tools without SARIF, into findings with paths
//! relative to the scanned root, the tool's own level kept beside the
//! normalised severity. Also decides whether the run was a tool error.

use super::Descriptor;
use super::process::Outcome;
use crate::model::{Finding, RuleInfo, Severity};
use crate::tools::ToolError;
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;
use std::sync::LazyLock;

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Sarif,
    ShellcheckJson1,
    YamllintParsable,
    PylintJson2,
    SqlfluffJson,
    CodespellLines,
    LizardWarnings,
    DetectSecretsJson,
    EslintJson,
    HtmlValidateJson,
    StylelintJson,
    /// One finding per line of output that the descriptor's `line_pattern`
    /// matches (see [`lines`]).
    Lines,
}

/// A finding as the tool reported it, before normalisation.
#[derive(Debug, Default, PartialEq)]
struct Reported {
    rule: String,
    level: String,
    message: String,
    path: String,
    line: Option<u32>,
    column: Option<u32>,
    help: Option<String>,
    /// The weakness, when the tool names one (SARIF tags such as `CWE-89`).
    cwe: Option<u32>,
    /// The tool's 0–10 score for the rule (SARIF `security-severity`).
    security_severity: Option<f64>,
}

/// The last lines of stderr, for error messages.
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(5);
    lines[start..].join(" | ")
}

fn failed(message: String) -> ToolError {
    ToolError::Failed(message)
}

/// What runtimes print when an allocation fails (Python, C, C++, Rust,
/// Node, GHC, the JVM), compared lowercased.
const OUT_OF_MEMORY: &[&str] = &[
    "memoryerror",
    "out of memory",
    "cannot allocate memory",
    "memory allocation of",
    "bad_alloc",
    "failed to allocate",
    "outofmemoryerror",
];

/// Whether a run that did not end as its descriptor expects died for want
/// of memory under its cap.
fn ran_out_of_memory(descriptor: &Descriptor, outcome: &Outcome) -> bool {
    let expected = outcome.exit_code.is_some_and(|code| {
        descriptor.findings_exit.contains(&code) || descriptor.clean_exit.contains(&code)
    });
    let stderr = outcome.stderr.to_lowercase();
    outcome.memory_limit.is_some() && !expected && OUT_OF_MEMORY.iter().any(|m| stderr.contains(m))
}

/// Turns a finished run into findings, or says why it was a tool error.
pub fn classify(descriptor: &Descriptor, root: &Path, outcome: Outcome) -> Result<Classified, ToolError> {
    if ran_out_of_memory(descriptor, &outcome) {
        let limit = outcome.memory_limit.unwrap_or_default() / (1024 * 1024);
        return Err(failed(format!(
            "{} ran out of memory: each scanner may use at most {limit} MiB (serve --tool-memory-mb); {}",
            descriptor.command,
            tail(&outcome.stderr)
        )));
    }
    let Some(code) = outcome.exit_code else {
        return Err(failed(format!(
            "{} was killed by a signal; {}",
            descriptor.command,
            tail(&outcome.stderr)
        )));
    };
    if !descriptor.findings_exit.contains(&code) && !descriptor.clean_exit.contains(&code) {
        return Err(failed(format!(
            "{} exited with {code}: {}",
            descriptor.command,
            tail(&outcome.stderr)
        )));
    }
    let mut about = SarifAbout::default();
    let reported = match descriptor.format {
        Format::Sarif => sarif(&outcome.report).map(|(reported, told)| {
            about = told;
            reported
        }),
        Format::ShellcheckJson1 => shellcheck(&outcome.report),
        Format::YamllintParsable => Ok(yamllint(&outcome.report)),
        Format::PylintJson2 => pylint(&outcome.report),
        Format::SqlfluffJson => sqlfluff(&outcome.report),
        Format::CodespellLines => Ok(codespell(&outcome.report)),
        Format::LizardWarnings => Ok(lizard(&outcome.report)),
        Format::DetectSecretsJson => detect_secrets(&outcome.report),
        Format::EslintJson | Format::HtmlValidateJson => eslint_like(&outcome.report, descriptor.format),
        Format::StylelintJson => stylelint(&outcome.report),
        Format::Lines => Ok(lines(descriptor, &outcome.report)),
    }
    .map_err(|e| {
        failed(format!(
            "{} exited with {code} but its report did not parse ({e}); {}",
            descriptor.command,
            tail(&outcome.stderr)
        ))
    })?;
    if let Some(error) = reported.iter().find(|r| descriptor.error_rules.contains(&r.rule)) {
        return Err(failed(format!(
            "{} reported an error: {}",
            descriptor.command, error.message
        )));
    }
    if descriptor.findings_exit.contains(&code)
        && !descriptor.clean_exit.contains(&code)
        && reported.is_empty()
    {
        return Err(failed(format!(
            "{} exited with {code}, which means findings, but reported none; {}",
            descriptor.command,
            tail(&outcome.stderr)
        )));
    }
    Ok(Classified {
        findings: reported
            .into_iter()
            .map(|r| {
                // `../../view/a.yaml`, from a scanner that ran elsewhere.
                let path = under_cwd(&outcome.cwd, root, &r.path).unwrap_or(r.path);
                normalise(descriptor, root, Reported { path, ..r })
            })
            .collect(),
        rules: about.rules,
    })
}

/// What one run of a tool reported.
#[derive(Debug, Default)]
pub struct Classified {
    pub findings: Vec<Finding>,
    /// What the tool's report says about the rules of its results.
    pub rules: Vec<RuleInfo>,
}

/// What a SARIF log says besides its results.
#[derive(Debug, Default)]
struct SarifAbout {
    rules: Vec<RuleInfo>,
}

/// A SARIF rule's descriptions and help, as [`RuleInfo`].
fn rule_info(id: &str, rule: &Value) -> RuleInfo {
    let text = |pointer: &str| {
        rule.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from)
    };
    RuleInfo {
        id: id.to_string(),
        name: text("/shortDescription/text").or_else(|| text("/name")),
        description: text("/fullDescription/text"),
        help: text("/help/text").or_else(|| text("/help/markdown")),
    }
}

fn severity(descriptor: &Descriptor, level: &str) -> Severity {
    if let Some(severity) = descriptor.levels.get(level) {
        return *severity;
    }
    match level {
        "error" => Severity::High,
        "warning" => Severity::Medium,
        "note" | "info" | "style" => Severity::Low,
        _ => Severity::Info,
    }
}

/// A path as the tool wrote it, relative to the scanned root.
fn relative(root: &Path, raw: &str) -> String {
    let raw = raw.strip_prefix("file://").unwrap_or(raw).replace("%20", " ");
    let path = Path::new(&raw);
    if path.is_absolute() {
        let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        if let Some(rel) = path
            .strip_prefix(root)
            .ok()
            .or_else(|| path.strip_prefix(&canonical).ok())
        {
            return rel.display().to_string();
        }
        return raw;
    }
    let raw = raw.trim_start_matches("./");
    if !raw.split('/').any(|part| part == "..") && root.join(raw).exists() {
        return raw.to_string();
    }
    // Some tools write paths relative to somewhere else, with the `../`
    // dropped (checkov: `ciclone/tests/x/pod.yaml` for a root `/tmp/ciclone/tests/x`):
    // the longest tail of the path that exists under the root is the file.
    let parts: Vec<&str> = raw.split('/').collect();
    (1..parts.len())
        .filter(|&skip| !parts[skip..].contains(&".."))
        .map(|skip| parts[skip..].join("/"))
        .find(|tail| root.join(tail).is_file())
        .unwrap_or_else(|| raw.to_string())
}

/// A relative `raw` with `..` in it, resolved against the directory the
/// scanner ran in without touching the disk: the absolute path, when it
/// lies under `root`.
fn under_cwd(cwd: &Path, root: &Path, raw: &str) -> Option<String> {
    if Path::new(raw).is_absolute() || !raw.split('/').any(|part| part == "..") {
        return None;
    }
    let mut resolved = cwd.to_path_buf();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                resolved.pop();
            }
            part => resolved.push(part),
        }
    }
    resolved.starts_with(root).then(|| resolved.display().to_string())
}

fn normalise(descriptor: &Descriptor, root: &Path, reported: Reported) -> Finding {
    let path = relative(root, &reported.path);
    let severity = descriptor
        .severities
        .get(&reported.rule)
        .copied()
        .or_else(|| reported.security_severity.map(scored_severity))
        .unwrap_or_else(|| severity(descriptor, &reported.level));
    let mut finding = Finding::new(&reported.rule, severity, reported.message.trim())
        .at_path(&path, reported.line, reported.column)
        .fingerprinted(&format!("{}:{}", descriptor.id, reported.message.trim()));
    finding.original_level = Some(reported.level);
    finding.help_uri = reported.help;
    // The descriptor's table wins, then what the tool said, then the
    // descriptor's default (`"*"`); a rule reviewed as hygiene has none.
    finding.cwe = descriptor
        .cwe
        .get(&reported.rule)
        .copied()
        .or(reported.cwe)
        .or_else(|| descriptor.cwe.get("*").copied())
        .filter(|_| !descriptor.no_weakness.contains(&reported.rule));
    finding
}

/// A 0–10 `security-severity` as GitHub code scanning reads it.
fn scored_severity(score: f64) -> Severity {
    match score {
        s if s >= 9.0 => Severity::Critical,
        s if s >= 7.0 => Severity::High,
        s if s >= 4.0 => Severity::Medium,
        s if s > 0.0 => Severity::Low,
        _ => Severity::Info,
    }
}

fn u32_of(value: &Value) -> Option<u32> {
    value.as_u64().and_then(|v| u32::try_from(v).ok())
}

/// Every result of every run of a SARIF 2.1.0 log. A result without a level
/// takes its rule's default level, else `warning` (as SARIF says). An error
/// notification about one file becomes an informational finding on that
/// file; one about no file makes the whole run a tool error.
fn sarif(text: &str) -> Result<(Vec<Reported>, SarifAbout), String> {
    let log: Value = serde_json::from_str(text).map_err(|e| format!("not SARIF: {e}"))?;
    let runs = log
        .get("runs")
        .and_then(Value::as_array)
        .ok_or("a SARIF log without `runs`")?;
    let mut out = Vec::new();
    let mut about = SarifAbout::default();
    for run in runs {
        for invocation in run
            .get("invocations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // An error about one file (one that does not parse) leaves the
            // rest scanned: it becomes a finding on that file. An error with
            // no file means the run itself went wrong (a bad option).
            for key in ["toolExecutionNotifications", "toolConfigurationNotifications"] {
                for note in notifications(invocation, key) {
                    if note.get("level").and_then(Value::as_str) != Some("error") {
                        continue;
                    }
                    let message = note
                        .pointer("/message/text")
                        .and_then(Value::as_str)
                        .unwrap_or("an error");
                    let location = note.pointer("/locations/0/physicalLocation");
                    let Some(uri) = location
                        .and_then(|l| l.pointer("/artifactLocation/uri"))
                        .and_then(Value::as_str)
                    else {
                        return Err(format!("the tool reported: {message}"));
                    };
                    out.push(Reported {
                        rule: super::FILE_NOT_ANALYZED.to_string(),
                        level: "none".to_string(),
                        message: format!("the tool could not analyze this file: {message}"),
                        path: uri.to_string(),
                        line: location
                            .and_then(|l| l.pointer("/region/startLine"))
                            .and_then(u32_of),
                        column: None,
                        help: None,
                        ..Default::default()
                    });
                }
            }
        }
        let rules: Vec<&Value> = run
            .pointer("/tool/driver/rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let rule_of = |result: &Value| -> Option<&Value> {
            if let Some(index) = result.get("ruleIndex").and_then(Value::as_u64) {
                return rules.get(index as usize).copied();
            }
            let id = result.get("ruleId").and_then(Value::as_str)?;
            rules
                .iter()
                .copied()
                .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
        };
        for result in run.get("results").and_then(Value::as_array).into_iter().flatten() {
            let rule = rule_of(result);
            let rule_id = result
                .get("ruleId")
                .and_then(Value::as_str)
                .or_else(|| rule.and_then(|r| r.get("id")).and_then(Value::as_str))
                .unwrap_or("unknown");
            if let Some(rule) = rule
                && !about.rules.iter().any(|r| r.id == rule_id)
            {
                about.rules.push(rule_info(rule_id, rule));
            }
            let level = result
                .get("level")
                .and_then(Value::as_str)
                .or_else(|| {
                    rule.and_then(|r| r.pointer("/defaultConfiguration/level"))
                        .and_then(Value::as_str)
                })
                .unwrap_or("warning");
            let location = result.pointer("/locations/0/physicalLocation");
            let region = location.and_then(|l| l.get("region"));
            out.push(Reported {
                rule: rule_id.to_string(),
                level: level.to_string(),
                message: result
                    .pointer("/message/text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                path: location
                    .and_then(|l| l.pointer("/artifactLocation/uri"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                line: region.and_then(|r| r.get("startLine")).and_then(u32_of),
                column: region.and_then(|r| r.get("startColumn")).and_then(u32_of),
                help: rule
                    .and_then(|r| r.get("helpUri"))
                    .and_then(Value::as_str)
                    .map(String::from),
                cwe: sarif_cwe(result).or_else(|| rule.and_then(sarif_cwe)),
                security_severity: rule
                    .and_then(|r| r.pointer("/properties/security-severity"))
                    .and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))),
            });
        }
    }
    Ok((out, about))
}

/// `CWE-89`, `external/cwe/cwe-89` and the like.
static CWE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\bcwe[-_ /]?(\d{1,4})\b").expect("a valid pattern"));

/// The CWE a SARIF rule or result names: in its tags (bandit, semgrep),
/// taxa, relationships (flawfinder), or a CWE help link.
fn sarif_cwe(node: &Value) -> Option<u32> {
    let tags = node.pointer("/properties/tags").and_then(Value::as_array);
    let taxa = node.get("taxa").and_then(Value::as_array);
    let related = node.get("relationships").and_then(Value::as_array);
    let named = tags
        .into_iter()
        .chain(taxa)
        .flatten()
        .filter_map(|tag| tag.as_str().or_else(|| tag.get("id").and_then(Value::as_str)))
        .chain(
            related
                .into_iter()
                .flatten()
                .filter_map(|r| r.pointer("/target/id").and_then(Value::as_str)),
        )
        .find_map(|text| CWE.captures(text))
        .and_then(|caps| caps[1].parse().ok());
    named.or_else(|| {
        node.get("helpUri")
            .and_then(Value::as_str)
            .and_then(crate::model::finding::cwe_of_link)
    })
}

fn notifications<'a>(invocation: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    invocation
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// shellcheck's `-f json1`: `{"comments": [{file, line, column, level, code, message}]}`.
fn shellcheck(text: &str) -> Result<Vec<Reported>, String> {
    let report: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let comments = report
        .get("comments")
        .and_then(Value::as_array)
        .ok_or("no `comments`")?;
    Ok(comments
        .iter()
        .map(|c| {
            let code = c.get("code").and_then(Value::as_u64).unwrap_or(0);
            Reported {
                rule: format!("SC{code}"),
                level: c
                    .get("level")
                    .and_then(Value::as_str)
                    .unwrap_or("warning")
                    .to_string(),
                message: c.get("message").and_then(Value::as_str).unwrap_or("").to_string(),
                path: c.get("file").and_then(Value::as_str).unwrap_or("").to_string(),
                line: c.get("line").and_then(u32_of),
                column: c.get("column").and_then(u32_of),
                help: Some(format!("https://www.shellcheck.net/wiki/SC{code}")),
                ..Default::default()
            }
        })
        .collect())
}

static YAMLLINT_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.*?):(\d+):(\d+): \[(error|warning)\] (.*) \(([\w-]+)\)$").expect("valid")
});

/// yamllint's `-f parsable`: `path:line:col: [level] message (rule)`.
fn yamllint(text: &str) -> Vec<Reported> {
    text.lines()
        .filter_map(|line| YAMLLINT_LINE.captures(line))
        .map(|c| Reported {
            rule: c[6].to_string(),
            level: c[4].to_string(),
            message: c[5].to_string(),
            path: c[1].to_string(),
            line: c[2].parse().ok(),
            column: c[3].parse().ok(),
            help: Some(format!(
                "https://yamllint.readthedocs.io/en/stable/rules.html#module-yamllint.rules.{}",
                c[6].replace('-', "_")
            )),
            ..Default::default()
        })
        .collect()
}

/// pylint's `json2`: `{"messages": [{type, symbol, message, line, column (0-based), path}]}`.
fn pylint(text: &str) -> Result<Vec<Reported>, String> {
    let report: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let messages = report
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("no `messages`")?;
    Ok(messages
        .iter()
        .map(|m| {
            let text = |key: &str| m.get(key).and_then(Value::as_str).unwrap_or("").to_string();
            Reported {
                rule: text("symbol"),
                level: text("type"),
                message: text("message"),
                path: m
                    .get("absolutePath")
                    .and_then(Value::as_str)
                    .map_or_else(|| text("path"), String::from),
                line: m.get("line").and_then(u32_of),
                column: m.get("column").and_then(u32_of).map(|c| c + 1),
                help: Some(format!(
                    "https://pylint.readthedocs.io/en/stable/search.html?q={}",
                    text("symbol")
                )),
                ..Default::default()
            }
        })
        .collect())
}

/// sqlfluff's JSON: `[{filepath, violations: [{start_line_no, start_line_pos, code, description, warning}]}]`.
fn sqlfluff(text: &str) -> Result<Vec<Reported>, String> {
    let files: Vec<Value> = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let mut out = Vec::new();
    for file in &files {
        let path = file.get("filepath").and_then(Value::as_str).unwrap_or("");
        for v in file
            .get("violations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let code = v.get("code").and_then(Value::as_str).unwrap_or("unknown");
            let warning = v.get("warning").and_then(Value::as_bool) == Some(true);
            out.push(Reported {
                rule: code.to_string(),
                level: if warning { "warning" } else { "error" }.to_string(),
                message: v
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                path: path.to_string(),
                line: v.get("start_line_no").and_then(u32_of),
                column: v.get("start_line_pos").and_then(u32_of),
                help: Some(format!(
                    "https://docs.sqlfluff.com/en/stable/reference/rules.html#rule-{code}"
                )),
                ..Default::default()
            });
        }
    }
    Ok(out)
}

/// The descriptor's `line_pattern` over the tool's output: each matching
/// line is a finding, from the pattern's named groups `path`, `line`,
/// `column`, `rule` (spaces become dashes; else the descriptor's id),
/// `level` (else `warning`) and `message`.
fn lines(descriptor: &Descriptor, text: &str) -> Vec<Reported> {
    let Some(pattern) = &descriptor.line_pattern else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| pattern.captures(line))
        .map(|c| {
            let group = |name: &str| c.name(name).map(|m| m.as_str().trim().to_string());
            Reported {
                rule: group("rule")
                    .map(|rule| rule.replace(' ', "-"))
                    .unwrap_or_else(|| descriptor.id.clone()),
                level: group("level").unwrap_or_else(|| "warning".to_string()),
                message: group("message").unwrap_or_default(),
                path: group("path").unwrap_or_default(),
                line: group("line").and_then(|l| l.parse().ok()),
                column: group("column").and_then(|l| l.parse().ok()),
                ..Default::default()
            }
        })
        .collect()
}

static CODESPELL_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.+?):(\d+): (.+?) ==> (.+?)(?:  \| (.*))?$").expect("valid"));

/// codespell's lines: `path:line: wrong ==> right[, other]`.
fn codespell(text: &str) -> Vec<Reported> {
    text.lines()
        .filter_map(|line| CODESPELL_LINE.captures(line))
        .map(|c| Reported {
            rule: "misspelling".to_string(),
            level: "warning".to_string(),
            message: format!("`{}` should be `{}`", &c[3], &c[4]),
            path: c[1].to_string(),
            line: c[2].parse().ok(),
            column: None,
            help: Some("https://github.com/codespell-project/codespell".to_string()),
            ..Default::default()
        })
        .collect()
}

static LIZARD_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(.+?):(\d+): warning: (\S+) has (\d+) NLOC, (\d+) CCN, (\d+) token, (\d+) PARAM, (\d+) length",
    )
    .expect("valid")
});

/// lizard's `-w` warnings: `path:line: warning: NAME has N NLOC, C CCN, T token, P PARAM, L length`.
fn lizard(text: &str) -> Vec<Reported> {
    text.lines()
        .filter_map(|line| LIZARD_LINE.captures(line))
        .map(|c| Reported {
            rule: "function-too-complex".to_string(),
            level: "warning".to_string(),
            message: format!(
                "`{}` has cyclomatic complexity {}, {} parameters and {} lines",
                &c[3], &c[5], &c[7], &c[8]
            ),
            path: c[1].to_string(),
            line: c[2].parse().ok(),
            column: None,
            help: Some("https://github.com/terryyin/lizard".to_string()),
            ..Default::default()
        })
        .collect()
}

/// detect-secrets' JSON: `{"results": {path: [{type, line_number}]}}` (never the secret itself).
fn detect_secrets(text: &str) -> Result<Vec<Reported>, String> {
    let report: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let results = report
        .get("results")
        .and_then(Value::as_object)
        .ok_or("no `results`")?;
    let mut out = Vec::new();
    for (path, secrets) in results {
        for secret in secrets.as_array().into_iter().flatten() {
            let kind = secret.get("type").and_then(Value::as_str).unwrap_or("Secret");
            out.push(Reported {
                rule: kind.to_ascii_lowercase().replace(' ', "-"),
                level: "secret".to_string(),
                message: format!("{kind} committed in the file; revoke it and load it from the environment"),
                path: path.clone(),
                line: secret.get("line_number").and_then(u32_of),
                column: None,
                help: Some("https://github.com/Yelp/detect-secrets".to_string()),
                ..Default::default()
            });
        }
    }
    Ok(out)
}

/// eslint's and html-validate's JSON: `[{filePath, messages: [{ruleId,
/// severity (2 error, 1 warning), message, line, column}]}]`. An eslint
/// message without a rule is a parse error of that file.
fn eslint_like(text: &str, format: Format) -> Result<Vec<Reported>, String> {
    let files: Vec<Value> = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let mut out = Vec::new();
    for file in &files {
        let path = file.get("filePath").and_then(Value::as_str).unwrap_or("");
        for m in file
            .get("messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let rule = m
                .get("ruleId")
                .and_then(Value::as_str)
                .unwrap_or("parse-error")
                .to_string();
            let help = match format {
                Format::HtmlValidateJson => m.get("ruleUrl").and_then(Value::as_str).map(String::from),
                _ => Some(format!("https://eslint.org/docs/latest/rules/{rule}")),
            };
            let error = m.get("severity").and_then(Value::as_u64) == Some(2);
            out.push(Reported {
                level: if error { "error" } else { "warning" }.to_string(),
                message: m.get("message").and_then(Value::as_str).unwrap_or("").to_string(),
                path: path.to_string(),
                line: m.get("line").and_then(u32_of),
                column: m.get("column").and_then(u32_of),
                help,
                rule,
                ..Default::default()
            });
        }
    }
    Ok(out)
}

/// stylelint's JSON: `[{source, warnings: [{line, column, rule, severity, text}], invalidOptionWarnings}]`.
/// An invalid option is a problem with the run, not with the CSS.
fn stylelint(text: &str) -> Result<Vec<Reported>, String> {
    let files: Vec<Value> = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let mut out = Vec::new();
    for file in &files {
        if let Some(invalid) = file
            .pointer("/invalidOptionWarnings/0/text")
            .and_then(Value::as_str)
        {
            return Err(format!("invalid configuration: {invalid}"));
        }
        let path = file.get("source").and_then(Value::as_str).unwrap_or("");
        for w in file
            .get("warnings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let rule = w
                .get("rule")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string();
            out.push(Reported {
                level: w
                    .get("severity")
                    .and_then(Value::as_str)
                    .unwrap_or("error")
                    .to_string(),
                message: w.get("text").and_then(Value::as_str).unwrap_or("").to_string(),
                path: path.to_string(),
                line: w.get("line").and_then(u32_of),
                column: w.get("column").and_then(u32_of),
                help: Some(format!("https://stylelint.io/user-guide/rules/{rule}")),
                rule,
                ..Default::default()
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_written_from_another_directory_are_read_under_the_root() {
        let root = tempfile::tempdir().unwrap();
        let view = root.path().join("view-x");
        std::fs::create_dir(&view).unwrap();
        std::fs::write(view.join("a.html"), "").unwrap();
        let cwd = root.path().join("run-y/work");
        let resolved = under_cwd(&cwd, &view, "../../view-x/a.html").unwrap();
        assert_eq!(relative(&view, &resolved), "a.html");
        assert_eq!(under_cwd(&cwd, &view, "../../elsewhere/a.html"), None);
        assert_eq!(
            under_cwd(&cwd, &view, "a.html"),
            None,
            "no `..`: left to `relative`"
        );
        assert_eq!(relative(&view, "./a.html"), "a.html");
    }

    #[test]
    fn sarif_levels_come_from_results_or_rules() {
        let log = r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"t","rules":[{"id":"R1","defaultConfiguration":{"level":"error"},"helpUri":"https://h/R1"}]}},
            "results":[{"ruleId":"R1","message":{"text":"m1"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"file:///root/a.py"},"region":{"startLine":3,"startColumn":5}}}]},
                       {"ruleId":"R2","level":"note","message":{"text":"m2"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"b.py"},"region":{"startLine":1}}}]},
                       {"ruleId":"R3","message":{"text":"m3"}}]}]}"#;
        let (found, _) = sarif(log).unwrap();
        let levels: Vec<&str> = found.iter().map(|r| r.level.as_str()).collect();
        assert_eq!(levels, ["error", "note", "warning"]);
        assert_eq!(found[0].help.as_deref(), Some("https://h/R1"));
        assert_eq!((found[0].line, found[0].column), (Some(3), Some(5)));
        assert_eq!(relative(Path::new("/root"), &found[0].path), "a.py");
    }

    #[test]
    fn sarif_rules_give_their_cwe_and_score() {
        // As bandit (tags), flawfinder (relationships), semgrep (tags and a
        // security-severity score) and a bare CWE help link write them.
        let log = r#"{"runs":[{"tool":{"driver":{"name":"t","rules":[
            {"id":"B105","properties":{"tags":["security","external/cwe/cwe-259"]}},
            {"id":"FF1013","relationships":[{"target":{"id":"CWE-120"}}]},
            {"id":"sql","properties":{"tags":["CWE-89: SQL Injection","security"],"security-severity":"9.1"}},
            {"id":"link","helpUri":"https://cwe.mitre.org/data/definitions/79.html"},
            {"id":"none"}]}},
            "results":[{"ruleId":"B105","message":{"text":"a"}},{"ruleId":"FF1013","message":{"text":"b"}},
                       {"ruleId":"sql","level":"warning","message":{"text":"c"}},{"ruleId":"link","message":{"text":"d"}},
                       {"ruleId":"none","message":{"text":"e"}}]}]}"#;
        let (found, _) = sarif(log).unwrap();
        let cwes: Vec<Option<u32>> = found.iter().map(|r| r.cwe).collect();
        assert_eq!(cwes, [Some(259), Some(120), Some(89), Some(79), None]);
        assert_eq!(found[2].security_severity, Some(9.1));
        assert_eq!(scored_severity(9.1), Severity::Critical);
        assert_eq!(scored_severity(7.0), Severity::High);
        assert_eq!(scored_severity(4.5), Severity::Medium);
        assert_eq!(scored_severity(2.0), Severity::Low);
    }

    #[test]
    fn sarif_error_notifications_fail_the_run() {
        let log = r#"{"runs":[{"tool":{"driver":{"name":"t"}},"invocations":[{"executionSuccessful":true,
            "toolConfigurationNotifications":[{"level":"error","message":{"text":"No such file or directory"}}]}],"results":[]}]}"#;
        assert!(sarif(log).unwrap_err().contains("No such file"));
        let log = r#"{"runs":[{"tool":{"driver":{"name":"t"}},"invocations":[{"executionSuccessful":true,
            "toolExecutionNotifications":[{"level":"error","message":{"text":"syntax error while parsing AST from file"},
              "locations":[{"physicalLocation":{"artifactLocation":{"uri":"file:///r/bad.py"}}}]}]}],"results":[]}]}"#;
        let (found, _) = sarif(log).unwrap();
        assert_eq!(
            (found[0].rule.as_str(), found[0].path.as_str()),
            ("file-not-analyzed", "file:///r/bad.py")
        );
        assert!(sarif("[ruff] oops").is_err());
    }

    #[test]
    fn paths_become_relative_to_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("planted");
        std::fs::create_dir_all(root.join("k8s")).unwrap();
        std::fs::write(root.join("k8s/pod.yaml"), "x").unwrap();
        let absolute = root.join("k8s/pod.yaml").display().to_string();
        assert_eq!(relative(&root, &format!("file://{absolute}")), "k8s/pod.yaml");
        assert_eq!(relative(&root, "./k8s/pod.yaml"), "k8s/pod.yaml");
        let without_slash = absolute.trim_start_matches('/').to_string();
        assert_eq!(relative(&root, &without_slash), "k8s/pod.yaml");
        assert_eq!(relative(&root, "tmp/planted/k8s/pod.yaml"), "k8s/pod.yaml");
        assert_eq!(
            relative(&root, "other/file.txt"),
            "other/file.txt",
            "unknown paths stay as written"
        );
    }

    #[test]
    fn line_formats() {
        let found = yamllint(
            "/r/c.yaml:2:1: [error] duplication of key \"name\" in mapping (key-duplicates)\nnoise\n",
        );
        assert_eq!(
            (found[0].rule.as_str(), found[0].line),
            ("key-duplicates", Some(2))
        );
        let found = shellcheck(r#"{"comments":[{"file":"/r/run.sh","line":2,"column":8,"level":"info","code":2086,"message":"Double quote"}]}"#).unwrap();
        assert_eq!(found[0].rule, "SC2086");
    }
}
