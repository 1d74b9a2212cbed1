//! The analysis `enableIntelligence` asks for, computed from a session's
//! reports alone: deterministic, offline and explainable. Findings of all
//! tools are merged into issues (one place, one weakness), each ranked by
//! severity, by how many tools agree and by where it is; the ranking gives
//! the priorities, a risk score with a grade on the HTTP Observatory's
//! scale, the most affected files or pages, counts per OWASP Top 10
//! category and a summary paragraph built from templates.
//!
//! An issue's place is its file and line (or its file, or its page). Its
//! weakness is its CWE where the rule has one, else its class in
//! [`RULE_CLASSES`], else its message with numbers and quotes removed.
//! Suppressed findings take no part.

use super::finding::{Category, Finding, Severity};
use super::session::ToolReport;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The most issues an analysis lists (the worst ones); the rest are counted.
pub const MAX_ISSUES: usize = 500;
/// The most priorities and hot spots it names.
pub const MAX_PRIORITIES: usize = 10;

/// The analysis of one session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Intelligence {
    /// 0 (nothing found) to 100 (many serious, well-attested issues).
    pub risk_score: u32,
    /// The HTTP Observatory's scale, A+ to F, of `100 - riskScore`.
    pub grade: String,
    /// A few sentences for people, built from templates.
    pub summary: String,
    /// Findings that counted, and the issues they merged into.
    pub findings: u32,
    pub issue_count: u32,
    /// Issues reported by more than one tool.
    pub corroborated: u32,
    /// The worst issues first, at most [`MAX_ISSUES`].
    pub issues: Vec<Issue>,
    /// What to fix first, at most [`MAX_PRIORITIES`].
    pub priorities: Vec<Priority>,
    /// The files or pages with the most serious issues.
    pub hotspots: Vec<Hotspot>,
    /// Issues per OWASP Top 10 (2021) category, e.g. `A03:2021-Injection`.
    pub by_owasp: BTreeMap<String, u32>,
    /// A language model's reading of the issues, when the server has one
    /// configured; it arrives after the session's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narrative: Option<Narrative>,
}

/// What a language model wrote about the issues (or why it wrote
/// nothing), and which model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Narrative {
    /// The model's text; `None` when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub model: String,
    /// Why there is no text: the model timed out, failed or answered
    /// something unusable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Intelligence {
    /// Roughly how many bytes of memory the analysis holds, for caches
    /// that are bounded in bytes.
    pub fn approx_bytes(&self) -> usize {
        let issues: usize = self
            .issues
            .iter()
            .map(|i| {
                std::mem::size_of::<Issue>()
                    + i.title.len()
                    + i.location.len()
                    + i.fingerprints.iter().map(|f| f.len() + 24).sum::<usize>()
                    + i.seen_by
                        .iter()
                        .map(|s| s.tool.len() + s.rule_id.len() + 64)
                        .sum::<usize>()
            })
            .sum();
        let priorities: usize = self
            .priorities
            .iter()
            .map(|p| std::mem::size_of::<Priority>() + p.title.len() + p.what_to_do.len() + p.why.len())
            .sum();
        std::mem::size_of::<Intelligence>() + self.summary.len() + issues + priorities
    }
}

/// One problem, however many tools reported it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    /// Stable while the problem stays: its weakness, its file and its
    /// order among that file's issues of the weakness (not its line).
    pub id: String,
    pub title: String,
    pub severity: Severity,
    /// The category of the tool that rated it worst.
    pub category: Category,
    /// 0–100: grows with each tool that agrees.
    pub confidence: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwe: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owasp: Option<String>,
    /// Where: `path:line`, `path`, or the page's URL.
    pub location: String,
    /// What kind of place that is: `secrets-file`, `deployment`, `source`,
    /// `test`, `docs` or `page`.
    pub exposure: String,
    /// Every tool and rule that saw it.
    pub seen_by: Vec<SeenBy>,
    /// The fingerprints of its findings.
    pub fingerprints: Vec<String>,
    /// Severity × confidence × exposure: the order of the list.
    pub score: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeenBy {
    pub tool: String,
    pub rule_id: String,
    pub severity: Severity,
}

/// One issue to fix first, with what to do and why it ranks there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Priority {
    pub rank: u32,
    /// The issue's id.
    pub issue: String,
    pub title: String,
    pub severity: Severity,
    pub what_to_do: String,
    pub why: String,
    pub location: String,
}

/// A file or page and how much is wrong in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hotspot {
    pub location: String,
    pub issues: u32,
    pub worst: Severity,
    pub score: u32,
}

/// Rules without a CWE that mean the same weakness as others, by
/// `tool/rule` (a trailing `*` matches any rule of the tool).
pub const RULE_CLASSES: &[(&str, &str)] = &[
    ("detect-secrets/*", "cwe-798"),
    ("merge-conflicts/*", "merge-conflict"),
    ("vulnerable-dependencies/*", "cwe-1104"),
    ("missing-lockfile/*", "cwe-1104"),
    ("bandit/B105", "cwe-798"),
    ("bandit/B106", "cwe-798"),
    ("bandit/B107", "cwe-798"),
    ("pylint/W0611", "unused-import"),
    ("ruff/F401", "unused-import"),
    ("pylint/W0612", "unused-variable"),
    ("ruff/F841", "unused-variable"),
    ("pylint/C0301", "long-line"),
    ("ruff/E501", "long-line"),
    ("long-lines/*", "long-line"),
];

/// The OWASP Top 10 (2021) category of a CWE, from OWASP's own mapping.
pub fn owasp_category(cwe: u32) -> Option<&'static str> {
    const CATEGORIES: &[(&str, &[u32])] = &[
        (
            "A01:2021-Broken Access Control",
            &[
                22, 23, 35, 59, 200, 201, 219, 264, 275, 276, 284, 285, 352, 359, 377, 402, 425, 441, 497,
                538, 540, 548, 552, 566, 601, 639, 651, 668, 706, 862, 863, 913, 922, 1275,
            ],
        ),
        (
            "A02:2021-Cryptographic Failures",
            &[
                261, 296, 310, 319, 321, 322, 323, 324, 325, 326, 327, 328, 329, 330, 331, 335, 336, 337,
                338, 340, 347, 523, 720, 757, 759, 760, 780, 818, 916,
            ],
        ),
        (
            "A03:2021-Injection",
            &[
                20, 74, 75, 77, 78, 79, 80, 83, 87, 88, 89, 90, 91, 93, 94, 95, 96, 97, 98, 99, 100, 113,
                116, 138, 184, 470, 471, 564, 610, 643, 644, 652, 917, 1336,
            ],
        ),
        (
            "A04:2021-Insecure Design",
            &[
                73, 183, 209, 213, 235, 256, 257, 266, 269, 280, 311, 312, 313, 316, 419, 430, 434, 444, 451,
                472, 501, 522, 525, 539, 579, 598, 602, 642, 646, 650, 653, 656, 657, 799, 807, 840, 841,
                927, 1021, 1173,
            ],
        ),
        (
            "A05:2021-Security Misconfiguration",
            &[
                2, 11, 13, 15, 16, 250, 260, 315, 520, 526, 537, 541, 547, 611, 614, 693, 732, 756, 776, 942,
                1004, 1032, 1174,
            ],
        ),
        (
            "A06:2021-Vulnerable and Outdated Components",
            &[937, 1035, 1104, 1395],
        ),
        (
            "A07:2021-Identification and Authentication Failures",
            &[
                255, 259, 287, 288, 290, 294, 295, 297, 300, 302, 304, 306, 307, 346, 384, 521, 613, 620,
                640, 798, 940, 1216,
            ],
        ),
        // 1357 (a component not trustworthy enough: an unpinned image,
        // action or lock-less dependency) came after OWASP's 2021 mapping;
        // livescan counts it with the integrity failures it leads to.
        (
            "A08:2021-Software and Data Integrity Failures",
            &[345, 353, 426, 494, 502, 565, 784, 829, 830, 915, 1357],
        ),
        (
            "A09:2021-Security Logging and Monitoring Failures",
            &[117, 223, 532, 778],
        ),
        ("A10:2021-Server-Side Request Forgery", &[918]),
    ];
    CATEGORIES
        .iter()
        .find(|(_, cwes)| cwes.contains(&cwe))
        .map(|(name, _)| *name)
}

/// Weaknesses that security tools report which no OWASP Top 10 (2021)
/// category covers: resources without limits and regular expressions that
/// backtrack without end, the memory-safety, integer and race weaknesses of
/// native code (buffer overflows, format strings, check-then-use), timing
/// side channels and look-alike (bidirectional) characters.
pub const OUTSIDE_TOP_TEN: &[u32] = &[
    119, 120, 126, 134, 190, 208, 362, 367, 400, 676, 770, 785, 1007, 1333,
];

/// What to do about a weakness, where livescan has advice of its own.
fn remedy(cwe: Option<u32>) -> Option<&'static str> {
    Some(match cwe? {
        798 | 259 | 321 | 522 => {
            "Revoke the credential, remove it from the code (and the history), and load it from the \
             environment or a secret manager."
        }
        89 | 564 => "Use parameterised queries; never build SQL from input.",
        77 | 78 | 88 => "Run programs with an argument list and no shell; never build a command from input.",
        79 | 80 | 116 => "Escape output for where it goes, or use a template engine that does.",
        94 | 95 => "Do not evaluate code built from data; parse the data instead.",
        502 => "Do not deserialise untrusted data into objects; use a data-only format such as JSON.",
        326 | 327 | 328 | 916 => {
            "Use a current algorithm (SHA-256 or better, AES-GCM, bcrypt/argon2 for passwords)."
        }
        319 => "Use HTTPS (TLS) for every connection that carries data.",
        295 => "Keep certificate verification on.",
        22 | 23 | 73 => "Resolve the path and check that it stays inside the directory it must.",
        1104 | 937 | 1035 => "Upgrade the dependency to a version with the fix.",
        918 => "Fetch only URLs on an allow-list; never a host taken from input.",
        611 | 776 => "Turn off external entities and DTDs in the XML parser.",
        _ => return None,
    })
}

/// What kind of place a path is, and how much that weighs on a finding
/// there: a secret in a committed `.env` matters more than one in a test.
fn exposure(finding: &Finding) -> (&'static str, f64) {
    let Some(path) = finding.path.as_deref() else {
        return match finding.url {
            Some(_) => ("page", 1.2),
            None => ("source", 1.0),
        };
    };
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    let dirs: Vec<&str> = lower.split('/').rev().skip(1).collect();
    let in_dir = |names: &[&str]| dirs.iter().any(|d| names.contains(d));
    if name.starts_with(".env")
        || name.ends_with(".pem")
        || name.ends_with(".key")
        || name.starts_with("id_rsa")
        || name.starts_with("id_ed25519")
        || name.contains("secret")
    {
        ("secrets-file", 1.5)
    } else if in_dir(&[
        "test",
        "tests",
        "spec",
        "specs",
        "__tests__",
        "fixtures",
        "testdata",
    ]) || name.starts_with("test_")
        || name.contains("_test.")
        || name.contains(".test.")
        || name.contains(".spec.")
    {
        ("test", 0.4)
    } else if in_dir(&["docs", "doc", "examples", "example", "samples"]) || name.ends_with(".md") {
        ("docs", 0.3)
    } else if in_dir(&[
        "deploy",
        "k8s",
        "kubernetes",
        "helm",
        "charts",
        "infra",
        "terraform",
        ".github",
        "ci",
    ]) || name == "dockerfile"
        || name.starts_with("docker-compose")
    {
        ("deployment", 1.2)
    } else {
        ("source", 1.0)
    }
}

fn severity_weight(severity: Severity) -> f64 {
    match severity {
        Severity::Critical => 10.0,
        Severity::High => 6.0,
        Severity::Medium => 3.0,
        Severity::Low => 1.0,
        Severity::Info => 0.2,
    }
}

/// The weakness a finding is about, for merging.
fn weakness(tool: &str, finding: &Finding) -> String {
    if let Some(cwe) = finding.cwe {
        return format!("cwe-{cwe}");
    }
    let qualified = format!("{tool}/{}", finding.rule_id);
    let class = RULE_CLASSES
        .iter()
        .find(|(pattern, _)| match pattern.strip_suffix('*') {
            Some(prefix) => qualified.starts_with(prefix),
            None => qualified == *pattern,
        });
    if let Some((_, class)) = class {
        return class.to_string();
    }
    normalised_message(&finding.message)
}

/// A message without its particulars: quoted text, numbers and case.
fn normalised_message(message: &str) -> String {
    let mut out = String::new();
    let mut quoted = None;
    for c in message.chars() {
        match quoted {
            Some(q) if c == q => quoted = None,
            Some(_) => {}
            None if matches!(c, '`' | '"' | '\'') => quoted = Some(c),
            None if c.is_alphabetic() => out.extend(c.to_lowercase()),
            None if c.is_whitespace() && !out.ends_with(' ') => out.push(' '),
            None => {}
        }
    }
    let words: Vec<&str> = out.split_whitespace().take(12).collect();
    format!("msg:{}", words.join(" "))
}

fn place(finding: &Finding) -> (String, Option<u32>) {
    match (&finding.path, &finding.url) {
        (Some(path), _) => (path.clone(), finding.line),
        (None, Some(url)) => (url.clone(), None),
        (None, None) => (String::new(), None),
    }
}

/// A short stable id of `parts` (FNV-1a, 64 bit), as for fingerprints.
fn issue_id(parts: &[&str]) -> String {
    format!("iss-{}", super::finding::fingerprint(parts))
}

/// Analyses the reports of a session. The same reports always give the
/// same analysis, whatever order they finished in.
pub fn analyse<'a>(reports: impl IntoIterator<Item = &'a ToolReport>) -> Intelligence {
    // (weakness, place, line) → the findings there, with their tool.
    let mut groups: Groups<'_> = BTreeMap::new();
    let mut tools_run = BTreeSet::new();
    let mut counted = 0u32;
    for report in reports {
        tools_run.insert(report.tool_name.as_str());
        for finding in report.result.findings.iter().filter(|f| !f.is_suppressed()) {
            counted += 1;
            let (at, line) = place(finding);
            groups
                .entry((weakness(&report.tool_name, finding), at, line))
                .or_default()
                .push((report.tool_name.as_str(), report.category, finding));
        }
    }
    // The nth issue of a weakness in a place, in line order: stable when
    // lines move, unlike the line itself.
    let mut nth: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    let mut issues: Vec<Issue> = Vec::new();
    let mut by_place = BTreeMap::new();
    for seen in groups.values_mut() {
        seen.sort_by(|a, b| {
            (a.0, &a.2.rule_id, &a.2.fingerprint).cmp(&(b.0, &b.2.rule_id, &b.2.fingerprint))
        });
    }
    for ((weakness, at, line), seen) in &groups {
        let index = nth.entry((weakness.as_str(), at.as_str())).or_default();
        *index += 1;
        let (_, category, worst) = *seen
            .iter()
            .min_by_key(|(_, _, f)| f.severity)
            .expect("a group has a finding");
        let tools: BTreeSet<&str> = seen.iter().map(|(tool, _, _)| *tool).collect();
        let confidence = 1.0 - 0.3f64.powi(tools.len() as i32);
        let (kind, weight) = exposure(worst);
        let cwe = seen.iter().find_map(|(_, _, f)| f.cwe);
        let score = severity_weight(worst.severity) * confidence * weight;
        issues.push(Issue {
            id: issue_id(&[weakness, at, &index.to_string()]),
            title: title_of(worst),
            severity: worst.severity,
            category,
            confidence: (confidence * 100.0).round() as u32,
            cwe,
            owasp: owasp_of(cwe, &tools).map(String::from),
            location: match line {
                Some(line) => format!("{at}:{line}"),
                None => at.clone(),
            },
            exposure: kind.to_string(),
            seen_by: seen
                .iter()
                .map(|(tool, _, f)| SeenBy {
                    tool: tool.to_string(),
                    rule_id: f.rule_id.clone(),
                    severity: f.severity,
                })
                .collect(),
            fingerprints: seen.iter().map(|(_, _, f)| f.fingerprint.clone()).collect(),
            score: (score * 10.0).round() as u32,
        });
        count_hotspot(&mut by_place, at, issues.last().expect("just pushed"));
    }
    issues.sort_by(|a, b| {
        (b.score, a.severity, &a.location, &a.id).cmp(&(a.score, b.severity, &b.location, &b.id))
    });
    let raw: f64 = issues.iter().map(|i| f64::from(i.score) / 10.0).sum();
    let risk_score = risk(raw, issues.first().map(|i| i.severity));
    let grade = observatory_grade(100 - risk_score).to_string();
    let priorities = priorities(&issues, &groups);
    let hotspots = hotspots(by_place);
    let mut by_owasp = BTreeMap::new();
    for issue in &issues {
        if let Some(category) = &issue.owasp {
            *by_owasp.entry(category.clone()).or_insert(0) += 1;
        }
    }
    let corroborated = issues
        .iter()
        .filter(|i| i.seen_by.iter().map(|s| &s.tool).collect::<BTreeSet<_>>().len() > 1)
        .count() as u32;
    let issue_count = issues.len() as u32;
    let summary = summary(
        counted,
        tools_run.len(),
        &issues,
        corroborated,
        risk_score,
        &grade,
        &priorities,
        &hotspots,
    );
    issues.truncate(MAX_ISSUES);
    Intelligence {
        risk_score,
        grade,
        summary,
        findings: counted,
        issue_count,
        corroborated,
        issues,
        priorities,
        hotspots,
        by_owasp,
        narrative: None,
    }
}

fn owasp_of(cwe: Option<u32>, tools: &BTreeSet<&str>) -> Option<&'static str> {
    cwe.and_then(owasp_category).or_else(|| {
        tools
            .iter()
            .any(|t| matches!(*t, "vulnerable-dependencies" | "missing-lockfile"))
            .then_some("A06:2021-Vulnerable and Outdated Components")
    })
}

/// The worst finding's message, cut to a line.
fn title_of(worst: &Finding) -> String {
    super::text::bounded(&worst.message, 160)
}

/// The risk of the issues' summed scores: a curve that nears 100, and a
/// floor set by the worst severity, so one critical issue is never a pass.
fn risk(raw: f64, worst: Option<Severity>) -> u32 {
    let curve = (100.0 * (1.0 - (-raw / 40.0).exp())).round() as u32;
    let floor = match worst {
        Some(Severity::Critical) => 60,
        Some(Severity::High) => 35,
        Some(Severity::Medium) => 15,
        _ => 0,
    };
    curve.max(floor).min(100)
}

/// The HTTP Observatory's grades for a score out of 100 (its own scale,
/// shared with the `http-headers` tool's grade).
pub fn observatory_grade(score: u32) -> &'static str {
    const SCALE: &[(u32, &str)] = &[
        (100, "A+"),
        (90, "A"),
        (85, "A-"),
        (80, "B+"),
        (70, "B"),
        (65, "B-"),
        (60, "C+"),
        (50, "C"),
        (45, "C-"),
        (40, "D+"),
        (30, "D"),
        (25, "D-"),
    ];
    SCALE
        .iter()
        .find(|(least, _)| score >= *least)
        .map_or("F", |(_, grade)| grade)
}

/// Findings by (weakness, place, line), each with its tool and category.
type Groups<'a> = BTreeMap<(String, String, Option<u32>), Vec<(&'a str, Category, &'a Finding)>>;

fn priorities(issues: &[Issue], groups: &Groups<'_>) -> Vec<Priority> {
    issues
        .iter()
        .filter(|i| i.severity <= Severity::Medium)
        .take(MAX_PRIORITIES)
        .enumerate()
        .map(|(i, issue)| {
            let tools: BTreeSet<&str> = issue.seen_by.iter().map(|s| s.tool.as_str()).collect();
            let agreement = match tools.len() {
                1 => format!("reported by {}", tools.iter().next().expect("one tool")),
                n => format!(
                    "reported by {n} tools ({})",
                    tools.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            };
            let place = match issue.exposure.as_str() {
                "secrets-file" => "in a file that holds secrets and is committed",
                "deployment" => "in deployment configuration",
                "test" => "in test code, which weighs less",
                "docs" => "in documentation, which weighs less",
                "page" => "on a served page",
                _ => "in source code",
            };
            let advice = remedy(issue.cwe).map(String::from).unwrap_or_else(|| {
                // The tool's own words, from the worst finding of the issue.
                groups
                    .values()
                    .flatten()
                    .find(|(_, _, f)| issue.fingerprints.contains(&f.fingerprint))
                    .map(|(_, _, f)| super::text::bounded(&f.message, 400))
                    .unwrap_or_default()
            });
            Priority {
                rank: i as u32 + 1,
                issue: issue.id.clone(),
                title: issue.title.clone(),
                severity: issue.severity,
                what_to_do: advice,
                why: format!(
                    "{}, {agreement} ({}% confidence), {place}",
                    issue.severity, issue.confidence
                ),
                location: issue.location.clone(),
            }
        })
        .collect()
}

/// Adds `issue`, found at `place` (its file or page), to the hot spots.
fn count_hotspot(by_place: &mut BTreeMap<String, Hotspot>, place: &str, issue: &Issue) {
    let spot = by_place.entry(place.to_string()).or_insert_with(|| Hotspot {
        location: place.to_string(),
        issues: 0,
        worst: issue.severity,
        score: 0,
    });
    spot.issues += 1;
    spot.worst = spot.worst.min(issue.severity);
    spot.score += issue.score;
}

/// The places with the highest summed scores, at most [`MAX_PRIORITIES`].
fn hotspots(by_place: BTreeMap<String, Hotspot>) -> Vec<Hotspot> {
    let mut spots: Vec<Hotspot> = by_place.into_values().collect();
    spots.sort_by(|a, b| (b.score, &a.location).cmp(&(a.score, &b.location)));
    spots.truncate(MAX_PRIORITIES);
    spots
}

#[allow(clippy::too_many_arguments)]
fn summary(
    findings: u32,
    tools: usize,
    issues: &[Issue],
    corroborated: u32,
    risk: u32,
    grade: &str,
    priorities: &[Priority],
    hotspots: &[Hotspot],
) -> String {
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    if issues.is_empty() {
        return format!(
            "{} found nothing to fix: grade {grade}.",
            plural(tools, "tool", "tools")
        );
    }
    let mut text = format!(
        "{} from {} merged into {}",
        plural(findings as usize, "finding", "findings"),
        plural(tools, "tool", "tools"),
        plural(issues.len(), "issue", "issues"),
    );
    if corroborated > 0 {
        text.push_str(&format!(" ({} reported by more than one tool)", corroborated));
    }
    let count = |severity: Severity| issues.iter().filter(|i| i.severity == severity).count();
    let serious: Vec<String> = [Severity::Critical, Severity::High]
        .into_iter()
        .filter(|s| count(*s) > 0)
        .map(|s| format!("{} {s}", count(s)))
        .collect();
    text.push_str(&format!(". Risk {risk}/100, grade {grade}"));
    if !serious.is_empty() {
        text.push_str(&format!(", with {}", serious.join(" and ")));
    }
    text.push('.');
    if let Some(first) = priorities.first() {
        text.push_str(&format!(
            " Fix first: {} at {} ({}).",
            first.title, first.location, first.why
        ));
    }
    if let Some(spot) = hotspots.first().filter(|s| s.issues > 1) {
        text.push_str(&format!(
            " Most affected: {} ({}).",
            spot.location,
            plural(spot.issues as usize, "issue", "issues")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Outcome};

    fn report(tool: &str, findings: Vec<Finding>) -> ToolReport {
        ToolReport::finished(tool, Category::Security, Outcome::Findings, 1, findings, None)
    }

    fn at(rule: &str, severity: Severity, path: &str, line: u32, cwe: Option<u32>) -> Finding {
        let mut finding =
            Finding::new(rule, severity, format!("{rule} found")).at_path(path, Some(line), None);
        finding.cwe = cwe;
        finding.fingerprint = format!("{rule}-{path}-{line}");
        finding
    }

    fn planted(secret_line: u32) -> Vec<ToolReport> {
        vec![
            report(
                "secrets",
                vec![
                    at("aws-key", Severity::Critical, ".env", secret_line, Some(798)),
                    at("aws-key", Severity::Critical, "tests/fixture.py", 3, Some(798)),
                ],
            ),
            report(
                "detect-secrets",
                vec![at("AWS Access Key", Severity::High, ".env", secret_line, None)],
            ),
            report(
                "semgrep",
                vec![
                    at("hardcoded-aws", Severity::Medium, ".env", secret_line, Some(798)),
                    at("sqli", Severity::High, "app.py", 10, Some(89)),
                ],
            ),
        ]
    }

    #[test]
    fn the_same_problem_seen_by_three_tools_is_one_issue() {
        let analysis = analyse(&planted(2));
        assert_eq!(analysis.findings, 5);
        assert_eq!(analysis.issue_count, 3);
        assert_eq!(analysis.corroborated, 1);
        let secret = &analysis.issues[0];
        assert_eq!(secret.location, ".env:2");
        assert_eq!(secret.severity, Severity::Critical);
        assert_eq!(secret.exposure, "secrets-file");
        assert_eq!(secret.confidence, 97);
        let tools: Vec<&str> = secret.seen_by.iter().map(|s| s.tool.as_str()).collect();
        assert_eq!(tools, ["detect-secrets", "secrets", "semgrep"]);
        assert_eq!(secret.fingerprints.len(), 3);
        assert_eq!(
            secret.owasp.as_deref(),
            Some("A07:2021-Identification and Authentication Failures")
        );
        // The committed .env outranks the injection and the test fixture.
        let order: Vec<&str> = analysis.issues.iter().map(|i| i.location.as_str()).collect();
        assert_eq!(order, [".env:2", "app.py:10", "tests/fixture.py:3"]);
        let first = &analysis.priorities[0];
        assert_eq!((first.rank, first.location.as_str()), (1, ".env:2"));
        assert!(first.what_to_do.starts_with("Revoke the credential"), "{first:?}");
        assert!(first.why.contains("reported by 3 tools"), "{}", first.why);
        assert!(first.why.contains("committed"), "{}", first.why);
        let spots: Vec<(&str, u32)> = analysis
            .hotspots
            .iter()
            .map(|h| (h.location.as_str(), h.issues))
            .collect();
        assert_eq!(spots, [(".env", 1), ("app.py", 1), ("tests/fixture.py", 1)]);
        assert_eq!(analysis.by_owasp["A03:2021-Injection"], 1);
        assert_eq!(
            analysis.by_owasp["A07:2021-Identification and Authentication Failures"],
            2
        );
        assert!(
            analysis
                .summary
                .contains("5 findings from 3 tools merged into 3 issues"),
            "{}",
            analysis.summary
        );
    }

    #[test]
    fn the_analysis_is_deterministic_and_ids_survive_moved_lines() {
        let forward = analyse(&planted(2));
        let mut reversed = planted(2);
        reversed.reverse();
        assert_eq!(analyse(&reversed), forward);
        let moved = analyse(&planted(40));
        let ids = |a: &Intelligence| a.issues.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&moved), ids(&forward));
    }

    #[test]
    fn the_grade_follows_the_worst_issue() {
        let with_critical = analyse(&planted(2));
        assert!(with_critical.risk_score >= 60, "{}", with_critical.risk_score);
        assert!(
            matches!(with_critical.grade.as_str(), "D+" | "D" | "D-" | "F"),
            "{}",
            with_critical.grade
        );
        let fixed = vec![report(
            "semgrep",
            vec![at("sqli", Severity::High, "app.py", 10, Some(89))],
        )];
        let without = analyse(&fixed);
        assert!(without.risk_score < with_critical.risk_score);
        assert_eq!(without.grade, "B-");
        let clean = analyse(&[report("secrets", vec![])]);
        assert_eq!((clean.risk_score, clean.grade.as_str()), (0, "A+"));
        assert_eq!(clean.summary, "1 tool found nothing to fix: grade A+.");
    }

    #[test]
    fn suppressed_findings_take_no_part() {
        let mut reports = planted(2);
        for finding in &mut reports[2].result.findings {
            finding.suppression = Some(crate::model::Suppression {
                kind: crate::model::SuppressionKind::Inline,
                reason: None,
                expires: None,
                expired: false,
            });
        }
        let analysis = analyse(&reports);
        assert_eq!(analysis.findings, 3);
        assert_eq!(analysis.issue_count, 2);
    }

    #[test]
    fn messages_merge_without_their_particulars() {
        assert_eq!(
            normalised_message("Password `hunter2` found on line 12"),
            normalised_message("password 'x' found on line 99")
        );
    }

    #[test]
    fn every_owasp_category_is_reachable_and_grades_follow_the_observatory() {
        for cwe in [22, 327, 89, 434, 16, 1104, 798, 502, 532, 918] {
            assert!(owasp_category(cwe).is_some(), "CWE-{cwe}");
        }
        assert_eq!(owasp_category(1), None);
        assert_eq!(observatory_grade(100), "A+");
        assert_eq!(observatory_grade(72), "B");
        assert_eq!(observatory_grade(24), "F");
    }
}
