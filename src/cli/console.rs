//! Live console output for `livescan scan`, in the shape of the Sessions API
//! reference's CI flow: `[SCAN] Starting security scan...`, one line per
//! finished tool as it finishes (`[45/150] ✓ semgrep: 1 critical, 2 high
//! (2.3s)`) with its most important findings beneath, a warning for a tool
//! that failed, and a summary table at the end. On a terminal a progress bar
//! is redrawn under the lines; colours only on a terminal and never when
//! `NO_COLOR` is set.

use livescan::model::{
    BySeverity, Category, Intelligence, Refund, SessionStatus, Severity, Summary, ToolReport, ToolStatus,
};
use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Findings listed under each tool line; the rest are counted.
const FINDINGS_SHOWN: usize = 10;
/// How many priorities of the analysis the console shows.
const PRIORITIES_SHOWN: usize = 5;

/// Width of the progress bar, in cells.
const BAR_CELLS: usize = 24;

/// What a scan's credits did, as the summary says it.
#[derive(Clone, Copy)]
pub enum Credits<'a> {
    /// Run in this process: no account was charged, so nothing is said.
    NotCharged,
    /// Run on a server: the refund of failed tools' credits, if any.
    Charged(Option<&'a Refund>),
}

/// What the start line calls a scan: a `security` scan when any selected
/// tool looks for security problems (the reference's CI line), else the
/// categories it covers (`code-quality`, `accessibility and performance`).
fn scan_kind(categories: &[Category]) -> String {
    if categories.is_empty() || categories.contains(&Category::Security) {
        return "security".to_string();
    }
    let names: Vec<&str> = Category::ALL
        .iter()
        .filter(|c| categories.contains(c))
        .map(|c| c.as_str())
        .collect();
    names.join(" and ")
}

/// What the scan loop tells the console.
pub enum Update<'a> {
    Started {
        session_id: &'a str,
        target: &'a str,
        total: u32,
        /// The categories of the selected tools.
        categories: &'a [Category],
    },
    ToolFinished(&'a ToolReport),
    Finished {
        status: SessionStatus,
        summary: &'a Summary,
        error: Option<&'a str>,
        credits: Credits<'a>,
    },
    /// Whether the summary crossed `--fail-on`, and which rules.
    Verdict {
        rules: &'a str,
        crossed: &'a [String],
    },
    /// The findings the baseline did not have, by severity.
    NewSinceBaseline(&'a BySeverity),
    /// The analysis's grade and what to fix first.
    Analysis(&'a Intelligence),
}

pub struct Console {
    out: Box<dyn Write + Send>,
    colour: bool,
    /// Redraw a progress bar in place under the lines (terminals only).
    bar: bool,
    bar_drawn: bool,
    total: u32,
    finished: u32,
    started: Instant,
}

impl Console {
    /// The console on stdout, or on stderr when stdout carries a JSON or
    /// SARIF document.
    pub fn terminal(on_stderr: bool) -> Self {
        let (out, is_terminal): (Box<dyn Write + Send>, bool) = if on_stderr {
            (Box::new(std::io::stderr()), std::io::stderr().is_terminal())
        } else {
            (Box::new(std::io::stdout()), std::io::stdout().is_terminal())
        };
        let dumb = std::env::var("TERM").is_ok_and(|term| term == "dumb");
        Self::new(out, colours_wanted(is_terminal), is_terminal && !dumb)
    }

    /// The same lines as plain text into `out` (a `--output` file).
    pub fn plain(out: Box<dyn Write + Send>) -> Self {
        Self::new(out, false, false)
    }

    fn new(out: Box<dyn Write + Send>, colour: bool, bar: bool) -> Self {
        Console {
            out,
            colour,
            bar,
            bar_drawn: false,
            total: 0,
            finished: 0,
            started: Instant::now(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour && !text.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn severity_colour(severity: Severity) -> &'static str {
        match severity {
            Severity::Critical => "1;31",
            Severity::High => "31",
            Severity::Medium => "33",
            Severity::Low => "36",
            Severity::Info => "2",
        }
    }

    pub fn show(&mut self, update: &Update<'_>) {
        let text = match update {
            Update::Started {
                session_id,
                target,
                total,
                categories,
            } => {
                self.total = *total;
                self.started = Instant::now();
                format!(
                    "{scan} Starting {kind} scan...\n{scan} {target}: {total} tools (session {session_id})\n",
                    scan = self.paint("1", "[SCAN]"),
                    kind = scan_kind(categories)
                )
            }
            Update::ToolFinished(report) => {
                self.finished += 1;
                self.tool_line(report)
            }
            Update::Finished {
                status,
                summary,
                error,
                credits,
            } => {
                let text = self.summary(*status, summary, *error, *credits);
                // The summary replaces the bar for good.
                self.bar = false;
                text
            }
            Update::Analysis(analysis) => self.analysis(analysis),
            Update::NewSinceBaseline(new) => {
                let counts: Vec<String> = Severity::ALL
                    .iter()
                    .filter(|s| new.get(**s) > 0)
                    .map(|s| format!("{} {}", new.get(*s), s.as_str()))
                    .collect();
                match counts.is_empty() {
                    true => "  New since the baseline: none\n".to_string(),
                    false => format!("  New since the baseline: {}\n", counts.join(", ")),
                }
            }
            Update::Verdict { rules, crossed } => {
                if crossed.is_empty() {
                    format!(
                        "{} no --fail-on rule crossed ({rules})\n",
                        self.paint("1;32", "PASSED:")
                    )
                } else {
                    format!(
                        "{} {} (--fail-on {rules})\n",
                        self.paint("1;31", "FAILED:"),
                        crossed.join(", ")
                    )
                }
            }
        };
        let mut bytes = Vec::new();
        if self.bar_drawn {
            // Carriage return and erase the line: the bar gives way to the text.
            bytes.extend_from_slice(b"\r\x1b[2K");
            self.bar_drawn = false;
        }
        bytes.extend_from_slice(text.as_bytes());
        if self.bar && self.total > 0 {
            bytes.extend_from_slice(self.progress_bar().as_bytes());
            self.bar_drawn = true;
        }
        // A closed pipe (e.g. `| head`) is not worth a panic.
        let _ = self.out.write_all(&bytes);
        let _ = self.out.flush();
    }

    /// `[██████░░░░░░] 23/150 tools complete (15%)`, without a newline.
    fn progress_bar(&self) -> String {
        let percentage = self.finished * 100 / self.total;
        let filled = (self.finished as usize * BAR_CELLS) / self.total as usize;
        format!(
            "[{}{}] {}/{} tools complete ({percentage}%)",
            self.paint("32", &"█".repeat(filled)),
            "░".repeat(BAR_CELLS - filled),
            self.finished,
            self.total
        )
    }

    fn tool_line(&self, report: &ToolReport) -> String {
        let counter = format!("[{}/{}]", self.finished, self.total);
        let seconds = format!("({:.1}s)", report.duration as f64 / 1000.0);
        let mut text = match report.status {
            ToolStatus::Completed => format!(
                "{counter} {} {}: {}{} {seconds}\n",
                self.paint("32", "✓"),
                report.tool_name,
                report.severity_counts().describe(),
                match report.result.suppressed {
                    0 => String::new(),
                    n => format!(" ({n} suppressed)"),
                }
            ),
            ToolStatus::Failed => format!(
                "{counter} {} {}: {} {}{} {seconds}; continuing\n",
                self.paint("33", "⚠"),
                report.tool_name,
                self.paint("33", "warning: tool failed:"),
                report.result.error.as_deref().unwrap_or("unknown error"),
                if report.findings_count > 0 {
                    format!(" ({} before it stopped)", report.severity_counts().describe())
                } else {
                    String::new()
                }
            ),
            _ => format!(
                "{counter} {} {}: skipped ({})\n",
                self.paint("2", "-"),
                report.tool_name,
                report.result.skip_reason.as_deref().unwrap_or("not run")
            ),
        };
        let counted: Vec<_> = report
            .result
            .findings
            .iter()
            .filter(|f| !f.is_suppressed())
            .collect();
        for finding in counted.iter().take(FINDINGS_SHOWN) {
            text.push_str(&format!(
                "      {} {} {} {}\n",
                self.paint(
                    Self::severity_colour(finding.severity),
                    &format!("{:<8}", finding.severity.as_str())
                ),
                finding.rule_id,
                finding.location(),
                finding.message
            ));
        }
        if counted.len() > FINDINGS_SHOWN {
            text.push_str(&format!("      … and {} more\n", counted.len() - FINDINGS_SHOWN));
        }
        text
    }

    /// The grade, and the first priorities with why and what to do.
    fn analysis(&self, analysis: &Intelligence) -> String {
        let mut text = format!(
            "  Analysis: risk {}/100, grade {}; {} findings merged into {} issues\n",
            analysis.risk_score, analysis.grade, analysis.findings, analysis.issue_count
        );
        if !analysis.priorities.is_empty() {
            text.push_str("  Fix first:\n");
        }
        for priority in analysis.priorities.iter().take(PRIORITIES_SHOWN) {
            text.push_str(&format!(
                "  {:>2}. {} {} {}\n      why: {}\n      do:  {}\n",
                priority.rank,
                self.paint(
                    Self::severity_colour(priority.severity),
                    &format!("{:<8}", priority.severity.as_str())
                ),
                priority.location,
                priority.title,
                priority.why,
                priority.what_to_do
            ));
        }
        text.push('\n');
        text
    }

    fn summary(
        &self,
        status: SessionStatus,
        summary: &Summary,
        error: Option<&str>,
        credits: Credits<'_>,
    ) -> String {
        let status_colour = match status {
            SessionStatus::Completed => "1;32",
            SessionStatus::Partial | SessionStatus::Cancelled => "1;33",
            _ => "1;31",
        };
        let mut text = format!(
            "\n{} Finished: {} in {:.1}s: {} tools completed, {} failed, {} skipped\n",
            self.paint("1", "[SCAN]"),
            self.paint(status_colour, status.as_str()),
            self.started.elapsed().as_secs_f64(),
            summary.tools_run,
            summary.tools_failed,
            summary.tools_skipped
        );
        if let Some(error) = error {
            text.push_str(&format!("  error: {error}\n"));
        }
        let rule = "  ──────────  ────────\n";
        text.push_str("\n  Severity    Findings\n");
        text.push_str(rule);
        for severity in Severity::ALL {
            let label = format!("{:<10}", severity.as_str());
            text.push_str(&format!(
                "  {}  {:>8}\n",
                self.paint(Self::severity_colour(severity), &label),
                summary.by_severity.get(severity)
            ));
        }
        text.push_str(rule);
        text.push_str(&format!("  {:<10}  {:>8}\n", "total", summary.total_findings));
        if summary.suppressed > 0 {
            text.push_str(&format!("  {:<10}  {:>8}\n", "suppressed", summary.suppressed));
        }
        text.push('\n');
        match credits {
            Credits::NotCharged => {}
            Credits::Charged(Some(refund)) if refund.refunded_credits > 0 => {
                let mut what = refund.tools_refunded.clone();
                if refund.analysis_refunded {
                    what.push("the analysis".to_string());
                }
                text.push_str(&format!(
                    "  Credits refunded: {} for {} (balance {})\n",
                    refund.refunded_credits,
                    what.join(", "),
                    refund.new_balance
                ))
            }
            Credits::Charged(_) => text.push_str("  Credits refunded: 0 (no tool failed)\n"),
        }
        text
    }
}

/// Whether output to a stream may be coloured: only a terminal, and never
/// when `NO_COLOR` is set (to anything but the empty string).
pub fn colours_wanted(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A `--fail-on` threshold such as `critical>0,high>5`; a rule prefixed
/// `new:` (`new:critical>0`) counts only the findings a `--baseline` did
/// not have.
#[derive(Clone, Debug, PartialEq)]
pub struct FailOn(Vec<FailRule>);

#[derive(Clone, Copy, Debug, PartialEq)]
struct FailRule {
    only_new: bool,
    severity: Severity,
    limit: u32,
}

impl std::str::FromStr for FailOn {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        if raw.trim() == "none" {
            return Ok(FailOn(Vec::new()));
        }
        raw.split(',')
            .map(|rule| {
                let (only_new, counted) = match rule.trim().strip_prefix("new:") {
                    Some(counted) => (true, counted),
                    None => (false, rule),
                };
                let (severity, limit) = counted.split_once('>').ok_or_else(|| {
                    format!("`{rule}` is not [new:]SEVERITY>N (for example critical>0,new:high>0)")
                })?;
                let severity = severity.trim().parse::<Severity>()?;
                let limit = limit
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| format!("`{limit}` in `{rule}` is not a number"))?;
                Ok(FailRule {
                    only_new,
                    severity,
                    limit,
                })
            })
            .collect::<Result<_, String>>()
            .map(FailOn)
    }
}

impl std::fmt::Display for FailOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let rules: Vec<String> = self
            .0
            .iter()
            .map(|r| {
                format!(
                    "{}{}>{}",
                    if r.only_new { "new:" } else { "" },
                    r.severity,
                    r.limit
                )
            })
            .collect();
        f.write_str(&rules.join(","))
    }
}

impl FailOn {
    /// Whether a rule counts only new findings (and so needs a baseline).
    pub fn counts_new(&self) -> bool {
        self.0.iter().any(|r| r.only_new)
    }

    /// The rules crossed by the summary's counts, or by `new`'s (the
    /// findings a baseline did not have) for `new:` rules, as text, e.g.
    /// `critical 1 > 0`, `new high 2 > 0`.
    pub fn crossed(&self, summary: &Summary) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|rule| {
                let (count, label) = match rule.only_new {
                    true => (summary.new_by_severity.as_ref()?.get(rule.severity), "new "),
                    false => (summary.by_severity.get(rule.severity), ""),
                };
                (count > rule.limit).then(|| format!("{label}{} {count} > {}", rule.severity, rule.limit))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_parses_and_detects_crossings() {
        let fail_on: FailOn = "critical>0,high>5".parse().unwrap();
        assert_eq!(fail_on.to_string(), "critical>0,high>5");
        let mut summary = Summary::default();
        assert!(fail_on.crossed(&summary).is_empty());
        summary.by_severity.high = 6;
        assert_eq!(fail_on.crossed(&summary), vec!["high 6 > 5"]);
        assert!("none".parse::<FailOn>().unwrap().crossed(&summary).is_empty());
        let only_new: FailOn = "new:critical>0,new:high>0".parse().unwrap();
        assert_eq!(only_new.to_string(), "new:critical>0,new:high>0");
        assert!(only_new.counts_new() && !fail_on.counts_new());
        // Without a baseline, nothing is new.
        assert!(only_new.crossed(&summary).is_empty());
        summary.new_by_severity = Some(BySeverity {
            high: 1,
            ..BySeverity::default()
        });
        assert_eq!(only_new.crossed(&summary), vec!["new high 1 > 0"]);
        assert!("critical".parse::<FailOn>().is_err());
        assert!("severe>1".parse::<FailOn>().is_err());
    }
}
