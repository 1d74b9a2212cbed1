//! Live console output for `livescan scan`: one line per finished tool as it
//! finishes, its most important findings beneath, and a summary at the end.
//! Colours only on a terminal and never when `NO_COLOR` is set.

use livescan::model::{Progress, Refund, SessionStatus, Severity, Summary, ToolReport, ToolStatus};
use std::io::{IsTerminal, Write};

/// Findings listed under each tool line; the rest are counted.
const FINDINGS_SHOWN: usize = 10;

/// What the scan loop tells the console.
pub enum Update {
    Started {
        target: String,
        total: u32,
    },
    ToolFinished {
        report: ToolReport,
        progress: Progress,
    },
    Finished {
        status: SessionStatus,
        summary: Summary,
        error: Option<String>,
        refund: Option<Refund>,
    },
}

pub struct Console {
    colour: bool,
    out: std::io::Stdout,
}

impl Console {
    pub fn new() -> Self {
        let colour =
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Console {
            colour,
            out: std::io::stdout(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
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

    pub fn show(&mut self, update: &Update) {
        let text = match update {
            Update::Started { target, total } => {
                format!(
                    "{} Starting scan of {target} with {total} tools...\n",
                    self.paint("1", "[SCAN]")
                )
            }
            Update::ToolFinished { report, progress } => self.tool_line(report, progress),
            Update::Finished {
                status,
                summary,
                error,
                refund,
            } => self.summary(*status, summary, error.as_deref(), refund.as_ref()),
        };
        // A closed pipe (e.g. `| head`) is not worth a panic.
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    fn tool_line(&self, report: &ToolReport, progress: &Progress) -> String {
        let counter = format!("[{}/{}]", progress.finished(), progress.total);
        let seconds = format!("({:.1}s)", report.duration as f64 / 1000.0);
        let mut text = match report.status {
            ToolStatus::Completed => format!(
                "{counter} {} {}: {} {seconds}\n",
                self.paint("32", "✓"),
                report.tool_name,
                report.severity_counts().describe()
            ),
            ToolStatus::Failed => format!(
                "{counter} {} {}: failed: {} {seconds}{}\n",
                self.paint("33", "⚠"),
                report.tool_name,
                report.result.error.as_deref().unwrap_or("unknown error"),
                if report.findings_count > 0 {
                    format!("; {} before it stopped", report.severity_counts().describe())
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
        for finding in report.result.findings.iter().take(FINDINGS_SHOWN) {
            let location = match (&finding.path, &finding.url) {
                (Some(path), _) => match finding.line {
                    Some(line) => format!("{path}:{line}"),
                    None => path.clone(),
                },
                (None, Some(url)) => url.clone(),
                (None, None) => String::new(),
            };
            text.push_str(&format!(
                "      {:<8} {} {} {}\n",
                self.paint(Self::severity_colour(finding.severity), finding.severity.as_str()),
                finding.rule_id,
                location,
                finding.message
            ));
        }
        if report.result.findings.len() > FINDINGS_SHOWN {
            text.push_str(&format!(
                "      … and {} more\n",
                report.result.findings.len() - FINDINGS_SHOWN
            ));
        }
        text
    }

    fn summary(
        &self,
        status: SessionStatus,
        summary: &Summary,
        error: Option<&str>,
        refund: Option<&Refund>,
    ) -> String {
        let mut text = format!(
            "\n{} Finished: {} — {} tools completed, {} failed, {} skipped\n",
            self.paint("1", "[SCAN]"),
            status.as_str(),
            summary.tools_run,
            summary.tools_failed,
            summary.tools_skipped
        );
        if let Some(error) = error {
            text.push_str(&format!("  error: {error}\n"));
        }
        text.push_str("  severity   findings\n");
        for severity in Severity::ALL {
            let label = format!("{:<10}", severity.as_str());
            text.push_str(&format!(
                "  {} {:>8}\n",
                self.paint(Self::severity_colour(severity), &label),
                summary.by_severity.get(severity)
            ));
        }
        text.push_str(&format!("  {:<10} {:>8}\n", "total", summary.total_findings));
        if let Some(refund) = refund {
            text.push_str(&format!(
                "  credits refunded: {} for {} (balance {})\n",
                refund.refunded_credits,
                refund.tools_refunded.join(", "),
                refund.new_balance
            ));
        }
        text
    }
}

/// A `--fail-on` threshold such as `critical>0,high>5`.
#[derive(Clone, Debug, PartialEq)]
pub struct FailOn(Vec<(Severity, u32)>);

impl std::str::FromStr for FailOn {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        if raw.trim() == "none" {
            return Ok(FailOn(Vec::new()));
        }
        raw.split(',')
            .map(|rule| {
                let (severity, limit) = rule
                    .split_once('>')
                    .ok_or_else(|| format!("`{rule}` is not SEVERITY>N (for example critical>0,high>5)"))?;
                let severity = severity.trim().parse::<Severity>()?;
                let limit = limit
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| format!("`{limit}` in `{rule}` is not a number"))?;
                Ok((severity, limit))
            })
            .collect::<Result<_, String>>()
            .map(FailOn)
    }
}

impl FailOn {
    /// The rules the summary crosses, as text, e.g. `critical 1 > 0`.
    pub fn crossed(&self, summary: &Summary) -> Vec<String> {
        self.0
            .iter()
            .filter(|(severity, limit)| summary.by_severity.get(*severity) > *limit)
            .map(|(severity, limit)| format!("{severity} {} > {limit}", summary.by_severity.get(*severity)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_parses_and_detects_crossings() {
        let fail_on: FailOn = "critical>0,high>5".parse().unwrap();
        let mut summary = Summary::default();
        assert!(fail_on.crossed(&summary).is_empty());
        summary.by_severity.high = 6;
        assert_eq!(fail_on.crossed(&summary), vec!["high 6 > 5"]);
        assert!("none".parse::<FailOn>().unwrap().crossed(&summary).is_empty());
        assert!("critical".parse::<FailOn>().is_err());
        assert!("severe>1".parse::<FailOn>().is_err());
    }
}
