//! Sessions as a fold of their event log: the events, the tool reports, and
//! the progress and summary arithmetic every view (REST, gRPC, CLI) shares.

use super::finding::{Category, Finding, Origin, Severity, TargetKind};
use super::intelligence::{Intelligence, Narrative};
use super::repo_config::RepoConfig;
use super::time::{self, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    Initializing,
    Running,
    Completed,
    Partial,
    Failed,
    Cancelled,
}

impl SessionStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SessionStatus::Completed
                | SessionStatus::Partial
                | SessionStatus::Failed
                | SessionStatus::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Initializing => "initializing",
            SessionStatus::Running => "running",
            SessionStatus::Completed => "completed",
            SessionStatus::Partial => "partial",
            SessionStatus::Failed => "failed",
            SessionStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Skipped,
}

impl ToolStatus {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            ToolStatus::Completed | ToolStatus::Failed | ToolStatus::Skipped
        )
    }
}

/// How a finished tool ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Clean,
    Findings,
    ToolError,
    TimedOut,
    Skipped,
}

impl Outcome {
    /// The REST spelling, `tool_error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Clean => "clean",
            Outcome::Findings => "findings",
            Outcome::ToolError => "tool_error",
            Outcome::TimedOut => "timed_out",
            Outcome::Skipped => "skipped",
        }
    }
}

/// The scan target, validated: exactly one kind. Serialises as the Sessions API reference's
/// `{"url": ...}`, `{"urls": [...]}` or `{"directory": ...}`, or as `{"upload": ...}`
/// for a directory a client uploaded (its upload id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Url(String),
    Urls(Vec<String>),
    Directory(String),
    Upload(String),
}

impl Target {
    pub fn kind(&self) -> TargetKind {
        match self {
            Target::Url(_) => TargetKind::Url,
            Target::Urls(_) => TargetKind::Urls,
            Target::Directory(_) | Target::Upload(_) => TargetKind::Directory,
        }
    }

    /// The URLs to fetch, for URL targets.
    pub fn urls(&self) -> Vec<String> {
        match self {
            Target::Url(url) => vec![url.clone()],
            Target::Urls(urls) => urls.clone(),
            Target::Directory(_) | Target::Upload(_) => Vec::new(),
        }
    }

    /// The target as clients are shown it: URLs without their credentials
    /// (the stored target keeps them, for the fetches).
    pub fn without_credentials(&self) -> Target {
        let hide = |url: &String| super::redact::url_credentials(url).into_owned();
        match self {
            Target::Url(url) => Target::Url(hide(url)),
            Target::Urls(urls) => Target::Urls(urls.iter().map(hide).collect()),
            local => local.clone(),
        }
    }

    /// The target as logs and consoles show it (no URL credentials).
    pub fn describe(&self) -> String {
        match self {
            Target::Url(url) => super::redact::url_credentials(url).into_owned(),
            Target::Urls(urls) => format!("{} URLs", urls.len()),
            Target::Directory(dir) => dir.clone(),
            Target::Upload(id) => format!("upload {id}"),
        }
    }
}

/// A start request as clients send it (REST JSON, or converted from gRPC),
/// before validation. Field names follow the Sessions API reference; it
/// serialises to the same JSON (absent fields left out), which is what the
/// CLI posts when it polls.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<RawTarget>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_tools: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_intelligence: Option<bool>,
    /// Max milliseconds per tool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u64>,
    /// A `livescan.toml`'s text, used instead of the file at the target's root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// An earlier session of the caller: each finding is then marked `new`
    /// or `unchanged` by its fingerprint, and new ones are counted apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    /// An upload's id (`POST /api/uploads`): the directory it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<String>,
}

/// The validated, normalised options a session runs with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionOptions {
    pub categories: Vec<Category>,
    pub exclude_tools: Vec<String>,
    pub enable_intelligence: bool,
    pub timeout: u64,
    pub max_concurrent: u32,
    /// The repository's `livescan.toml` (or the request's `config`), as read at the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<RepoConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

/// What is stored about a session besides its events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionMeta {
    pub session_id: String,
    pub scan_id: String,
    pub user_id: String,
    pub target: Target,
    pub options: SessionOptions,
    #[serde(with = "time")]
    pub created_at: Timestamp,
}

/// The details of a finished (or not yet finished) tool run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The findings, worst first; at most the server's cap per report.
    pub findings: Vec<Finding>,
    /// Findings beyond the cap: counted, not listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omitted: Option<Omitted>,
    /// Files of the tree the tool did not look at, by why: vendored,
    /// generated, minified or binary (directory targets).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub left_out: BTreeMap<Origin, u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// True when the tool stopped early and its findings may be incomplete.
    #[serde(default)]
    pub partial: bool,
    /// Measurements beside the findings (a grade, a timing), if the tool has any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// Listed findings that are suppressed: not in `findingsCount`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suppressed: u32,
    /// What the tool said about the rules of the listed findings, if anything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleInfo>,
    /// The external program that ran, for tools that run one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanner: Option<Scanner>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Findings a report counts but does not list: those past the server's cap
/// on findings per report (the worst are the ones kept).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Omitted {
    pub count: u32,
    pub by_severity: BySeverity,
}

impl Omitted {
    pub fn add(&mut self, other: &Omitted) {
        self.count += other.count;
        for severity in Severity::ALL {
            self.by_severity.add(severity, other.by_severity.get(severity));
        }
    }

    pub fn count_finding(&mut self, finding: &Finding) {
        self.count += 1;
        self.by_severity.add(finding.severity, 1);
    }
}

/// One measurement a tool reports, such as `http-observatory` = `B (70/100)`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    pub name: String,
    pub value: String,
    /// The page it was measured on, for URL tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What a tool says about one of its rules, where it says it (a scanner's
/// SARIF rule descriptions): what SARIF consumers show beside its results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleInfo {
    pub id: String,
    /// A short name or one-line description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl RuleInfo {
    /// Cuts every text to its bound, as for findings: a tool's words are untrusted.
    pub fn bound_fields(&mut self) {
        use super::finding::{MAX_FIELD_CHARS, MAX_MESSAGE_CHARS};
        use super::text::bound;
        bound(&mut self.id, MAX_FIELD_CHARS);
        for (field, max) in [
            (&mut self.name, MAX_FIELD_CHARS),
            (&mut self.description, MAX_MESSAGE_CHARS),
            (&mut self.help, MAX_MESSAGE_CHARS),
        ] {
            if let Some(text) = field {
                bound(text, max);
            }
        }
    }
}

/// The external program behind a tool, and the version that ran.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scanner {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One tool's report within a session, in the Sessions API reference's shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolReport {
    pub tool_name: String,
    pub category: Category,
    pub status: ToolStatus,
    /// Milliseconds.
    pub duration: u64,
    pub findings_count: u32,
    pub result: ToolResult,
    #[serde(default, with = "time::option", skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(default, with = "time::option", skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
    /// Sequence number of the event that finished this report.
    #[serde(skip)]
    pub finished_seq: Option<u64>,
}

/// Why a tool was skipped when the target holds no file it looks at: a
/// skip that leaves the session complete, not partial.
pub const NOTHING_TO_ANALYSE: &str = "nothing to analyse";

impl ToolReport {
    /// Whether the tool did all it had to: it completed, or it had nothing
    /// to analyse in the target.
    pub fn is_done(&self) -> bool {
        self.status == ToolStatus::Completed
            || (self.status == ToolStatus::Skipped
                && self.result.skip_reason.as_deref() == Some(NOTHING_TO_ANALYSE))
    }

    pub fn pending(tool_name: &str, category: Category) -> Self {
        ToolReport {
            tool_name: tool_name.to_string(),
            category,
            status: ToolStatus::Pending,
            duration: 0,
            findings_count: 0,
            result: ToolResult::default(),
            started_at: None,
            completed_at: None,
            finished_seq: None,
        }
    }

    /// A finished report; status and counts follow from the outcome.
    pub fn finished(
        tool_name: &str,
        category: Category,
        outcome: Outcome,
        duration: u64,
        findings: Vec<Finding>,
        detail: Option<String>,
    ) -> Self {
        let status = match outcome {
            Outcome::Clean | Outcome::Findings => ToolStatus::Completed,
            Outcome::ToolError | Outcome::TimedOut => ToolStatus::Failed,
            Outcome::Skipped => ToolStatus::Skipped,
        };
        let partial = matches!(outcome, Outcome::TimedOut | Outcome::ToolError | Outcome::Skipped)
            && !findings.is_empty();
        let (error, skip_reason) = match outcome {
            Outcome::Skipped => (None, detail),
            _ => (detail, None),
        };
        let mut report = ToolReport {
            tool_name: tool_name.to_string(),
            category,
            status,
            duration,
            findings_count: 0,
            result: ToolResult {
                outcome: Some(outcome),
                findings,
                omitted: None,
                left_out: BTreeMap::new(),
                error,
                skip_reason,
                partial,
                metrics: Vec::new(),
                suppressed: 0,
                rules: Vec::new(),
                scanner: None,
            },
            started_at: None,
            completed_at: None,
            finished_seq: None,
        };
        report.recount();
        report
    }

    /// Counts the findings again after some were dropped, suppressed or
    /// given another severity: `findingsCount` holds those that count
    /// (listed and not suppressed, or omitted), `suppressed` the others,
    /// the list is put back in report order, and a report whose findings
    /// are all suppressed is clean.
    pub fn recount(&mut self) {
        let result = &mut self.result;
        result.findings.sort_by(Finding::report_order);
        result.suppressed = result.findings.iter().filter(|f| f.is_suppressed()).count() as u32;
        let omitted = result.omitted.map_or(0, |o| o.count);
        self.findings_count = result.findings.len() as u32 - result.suppressed + omitted;
        result.outcome = match result.outcome {
            Some(Outcome::Findings | Outcome::Clean) if self.findings_count == 0 => Some(Outcome::Clean),
            Some(Outcome::Findings | Outcome::Clean) => Some(Outcome::Findings),
            other => other,
        };
    }

    /// Records findings that were counted but not kept (beyond the report's
    /// cap): they count in `findings_count` and the severity counts.
    pub fn omit(&mut self, omitted: Omitted) {
        if omitted.count == 0 {
            return;
        }
        self.findings_count += omitted.count;
        match &mut self.result.omitted {
            Some(already) => already.add(&omitted),
            none => *none = Some(omitted),
        }
    }

    /// Roughly how many bytes of memory the report holds, for caches that
    /// are bounded in bytes.
    pub fn approx_bytes(&self) -> usize {
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        let findings: usize = self
            .result
            .findings
            .iter()
            .map(|f| {
                std::mem::size_of::<Finding>()
                    + f.rule_id.len()
                    + f.message.len()
                    + f.fingerprint.len()
                    + text(&f.path)
                    + text(&f.url)
                    + text(&f.help_uri)
                    + text(&f.original_level)
            })
            .sum();
        std::mem::size_of::<ToolReport>() + self.tool_name.len() + findings
    }

    /// Every finding per severity, listed or omitted, for summaries.
    pub fn severity_counts(&self) -> BySeverity {
        let mut counts = self
            .result
            .omitted
            .as_ref()
            .map(|o| o.by_severity)
            .unwrap_or_default();
        for finding in self.result.findings.iter().filter(|f| !f.is_suppressed()) {
            counts.add(finding.severity, 1);
        }
        counts
    }

    /// The report without its findings' details, its counts kept (as
    /// omitted findings): what a watcher keeps once a report is sent.
    pub fn without_findings(&self) -> ToolReport {
        ToolReport {
            tool_name: self.tool_name.clone(),
            category: self.category,
            status: self.status,
            duration: self.duration,
            findings_count: self.findings_count,
            result: ToolResult {
                outcome: self.result.outcome,
                findings: Vec::new(),
                omitted: Some(Omitted {
                    count: self.findings_count,
                    by_severity: self.severity_counts(),
                }),
                left_out: self.result.left_out.clone(),
                error: self.result.error.clone(),
                skip_reason: self.result.skip_reason.clone(),
                partial: self.result.partial,
                metrics: Vec::new(),
                suppressed: self.result.suppressed,
                rules: Vec::new(),
                scanner: self.result.scanner.clone(),
            },
            started_at: self.started_at,
            completed_at: self.completed_at,
            finished_seq: self.finished_seq,
        }
    }
}

/// A tool selected for a session, as recorded in the first event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelectedTool {
    pub name: String,
    pub category: Category,
    /// Credits reserved for this tool when the session started; what a
    /// refund returns, whatever the catalog says later.
    #[serde(default)]
    pub cost: u32,
}

/// The credits returned when a session ended, for the tools that failed,
/// timed out, were skipped or never ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    pub refunded_credits: u64,
    pub tools_refunded: Vec<String>,
    /// The analysis (`enableIntelligence`) was paid for and not delivered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub analysis_refunded: bool,
    pub new_balance: i64,
}

/// What a session owes back when it ends: the credits of the tools that
/// did not complete, and of the analysis if it was paid for and not made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefundDue {
    pub tools: Vec<String>,
    pub analysis: bool,
    pub credits: u64,
}

/// Everything that can happen to a session. Stored in order with a gap-free
/// sequence number; the session's state is the fold of these.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    SessionStarted {
        tools: Vec<SelectedTool>,
        /// Credits reserved for the analysis of the findings
        /// (`enableIntelligence`), as the catalog priced it.
        #[serde(default, rename = "analysisCost", skip_serializing_if = "is_zero")]
        analysis_cost: u32,
    },
    SessionRunning,
    ToolStarted {
        tool: String,
    },
    ToolFinished {
        report: Box<ToolReport>,
    },
    CancelRequested,
    /// The analysis of the session's findings (`enableIntelligence`),
    /// recorded after the last report and before the end.
    Analysis {
        intelligence: Box<Intelligence>,
    },
    /// A language model's narrative of the analysis: the one event that
    /// may follow the end, as the end never waits for it.
    Narrative {
        narrative: Narrative,
    },
    SessionFinished {
        status: SessionStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refund: Option<Refund>,
        /// A model is writing the analysis' narrative: a `narrative` event
        /// (its text, or why there is none) follows the end.
        #[serde(
            default,
            rename = "narrativeFollows",
            skip_serializing_if = "std::ops::Not::not"
        )]
        narrative_follows: bool,
    },
}

impl EventKind {
    /// The snake_case name used as the SSE event name and the store's kind column.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::SessionStarted { .. } => "session_started",
            EventKind::SessionRunning => "session_running",
            EventKind::ToolStarted { .. } => "tool_started",
            EventKind::ToolFinished { .. } => "tool_finished",
            EventKind::CancelRequested => "cancel_requested",
            EventKind::Analysis { .. } => "analysis",
            EventKind::Narrative { .. } => "narrative",
            EventKind::SessionFinished { .. } => "session_finished",
        }
    }

    /// The tool an event is about, if any.
    pub fn tool(&self) -> Option<&str> {
        match self {
            EventKind::ToolStarted { tool } => Some(tool),
            EventKind::ToolFinished { report } => Some(&report.tool_name),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    #[serde(with = "time")]
    pub at: Timestamp,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Tools by status. The counts always add up to `total`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub total: u32,
    pub completed: u32,
    pub failed: u32,
    pub skipped: u32,
    pub running: u32,
    pub pending: u32,
    /// floor(100 * (completed + failed + skipped) / total).
    pub percentage: u32,
}

impl Progress {
    pub fn finished(&self) -> u32 {
        self.completed + self.failed + self.skipped
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BySeverity {
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub info: u32,
}

impl BySeverity {
    pub fn get(&self, severity: Severity) -> u32 {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }

    pub fn add(&mut self, severity: Severity, n: u32) {
        let slot = match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Info => &mut self.info,
        };
        *slot += n;
    }

    /// "1 critical, 2 high" (only non-zero severities), or "no findings".
    pub fn describe(&self) -> String {
        let parts: Vec<String> = Severity::ALL
            .into_iter()
            .filter(|s| self.get(*s) > 0)
            .map(|s| format!("{} {s}", self.get(s)))
            .collect();
        if parts.is_empty() {
            "no findings".to_string()
        } else {
            parts.join(", ")
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub total_findings: u32,
    pub by_severity: BySeverity,
    /// Keyed by the category's REST spelling.
    pub by_category: BTreeMap<String, u32>,
    /// Tools that completed.
    pub tools_run: u32,
    pub tools_skipped: u32,
    pub tools_failed: u32,
    /// Listed findings that are suppressed (not in the counts above).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suppressed: u32,
    /// With a `baseline`: the findings (not suppressed) it did not have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_by_severity: Option<BySeverity>,
}

/// A session's state: the fold of its events over its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionState {
    pub meta: SessionMeta,
    pub status: SessionStatus,
    /// The tools as selected at the start, with the credits reserved for each.
    pub selected: Vec<SelectedTool>,
    /// One report per selected tool, in run order. Shared: a clone of the
    /// state (for a cache, a watcher) copies no finding.
    pub reports: Vec<Arc<ToolReport>>,
    pub cancel_requested: bool,
    pub error: Option<String>,
    pub refund: Option<Refund>,
    pub completed_at: Option<Timestamp>,
    /// Time of the newest event folded in.
    pub last_updated: Timestamp,
    /// Sequence number of the newest event folded in (0: none yet).
    pub cursor: u64,
    /// The analysis of the findings, once the session has one.
    pub intelligence: Option<Arc<Intelligence>>,
    /// The end said a narrative follows it.
    pub narrative_follows: bool,
    /// Credits reserved for the analysis.
    pub analysis_cost: u32,
}

/// A session as a list shows it: where it stands, without its reports.
/// Stored with a finished session, so a list never folds its log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionListing {
    pub status: SessionStatus,
    pub progress: Progress,
    pub summary: Summary,
    #[serde(default, with = "time::option", skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
    #[serde(with = "time")]
    pub last_updated: Timestamp,
    pub cursor: u64,
}

impl SessionState {
    /// What a list shows of this session.
    pub fn listing(&self) -> SessionListing {
        SessionListing {
            status: self.status,
            progress: self.progress(),
            summary: self.summary(),
            completed_at: self.completed_at,
            last_updated: self.last_updated,
            cursor: self.cursor,
        }
    }

    pub fn new(meta: SessionMeta) -> Self {
        SessionState {
            last_updated: meta.created_at,
            meta,
            status: SessionStatus::Initializing,
            selected: Vec::new(),
            reports: Vec::new(),
            cancel_requested: false,
            error: None,
            refund: None,
            completed_at: None,
            cursor: 0,
            intelligence: None,
            narrative_follows: false,
            analysis_cost: 0,
        }
    }

    pub fn fold<'a>(meta: SessionMeta, events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut state = SessionState::new(meta);
        for event in events {
            state.apply(event);
        }
        state
    }

    /// Folds one event in. Events must arrive in sequence order.
    pub fn apply(&mut self, event: &Event) {
        debug_assert!(event.seq > self.cursor, "events must be applied in order");
        match &event.kind {
            EventKind::SessionStarted { tools, analysis_cost } => {
                self.analysis_cost = *analysis_cost;
                self.reports = tools
                    .iter()
                    .map(|t| Arc::new(ToolReport::pending(&t.name, t.category)))
                    .collect();
                self.selected = tools.clone();
            }
            EventKind::SessionRunning => self.status = SessionStatus::Running,
            EventKind::ToolStarted { tool } => {
                self.status = SessionStatus::Running;
                if let Some(report) = self.report_mut(tool) {
                    report.status = ToolStatus::Running;
                    report.started_at = Some(event.at);
                }
            }
            EventKind::ToolFinished { report } => {
                if let Some(slot) = self.report_mut(&report.tool_name) {
                    let started_at = slot.started_at;
                    let mut folded = (**report).clone();
                    folded.started_at = folded.started_at.or(started_at);
                    folded.completed_at = Some(event.at);
                    folded.finished_seq = Some(event.seq);
                    *slot = folded;
                }
            }
            EventKind::CancelRequested => self.cancel_requested = true,
            EventKind::Analysis { intelligence } => {
                self.intelligence = Some(Arc::new((**intelligence).clone()))
            }
            EventKind::Narrative { narrative } => {
                if let Some(intelligence) = &mut self.intelligence {
                    Arc::make_mut(intelligence).narrative = Some(narrative.clone());
                }
            }
            EventKind::SessionFinished {
                status,
                error,
                refund,
                narrative_follows,
            } => {
                self.narrative_follows = *narrative_follows;
                self.status = *status;
                self.error = error.clone();
                self.refund = refund.clone();
                self.completed_at = Some(event.at);
                // A tool still running when the session ended (it failed to
                // prepare, say) did not run to completion.
                for report in self.reports.iter_mut().filter(|r| !r.status.is_finished()) {
                    Arc::make_mut(report).status = ToolStatus::Skipped;
                }
            }
        }
        self.cursor = event.seq;
        self.last_updated = event.at;
    }

    fn report_mut(&mut self, tool: &str) -> Option<&mut ToolReport> {
        self.reports
            .iter_mut()
            .find(|r| r.tool_name == tool)
            .map(Arc::make_mut)
    }

    /// Roughly how many bytes of memory the state holds.
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<SessionState>()
            + self.reports.iter().map(|r| r.approx_bytes()).sum::<usize>()
            + self.intelligence.as_ref().map_or(0, |i| i.approx_bytes())
    }

    /// The state with every finished report reduced to its counts (see
    /// [`ToolReport::without_findings`]): what a watcher folds on.
    pub fn lean(&self) -> SessionState {
        let mut lean = self.clone();
        for report in lean.reports.iter_mut().filter(|r| !r.result.findings.is_empty()) {
            *report = Arc::new(report.without_findings());
        }
        lean
    }

    pub fn report(&self, tool: &str) -> Option<&ToolReport> {
        self.reports.iter().find(|r| r.tool_name == tool).map(|r| &**r)
    }

    pub fn is_finished(&self) -> bool {
        self.status.is_terminal()
    }

    /// The session has ended and its log still awaits the narrative the
    /// end announced.
    pub fn awaits_narrative(&self) -> bool {
        self.narrative_follows && self.intelligence.as_ref().is_some_and(|i| i.narrative.is_none())
    }

    pub fn progress(&self) -> Progress {
        let mut progress = Progress {
            total: self.reports.len() as u32,
            ..Progress::default()
        };
        for report in &self.reports {
            match report.status {
                ToolStatus::Pending => progress.pending += 1,
                ToolStatus::Running => progress.running += 1,
                ToolStatus::Completed => progress.completed += 1,
                ToolStatus::Failed => progress.failed += 1,
                ToolStatus::Skipped => progress.skipped += 1,
            }
        }
        progress.percentage = match progress.total {
            0 => 100,
            total => 100 * progress.finished() / total,
        };
        progress
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for report in &self.reports {
            match report.status {
                ToolStatus::Completed => summary.tools_run += 1,
                ToolStatus::Failed => summary.tools_failed += 1,
                ToolStatus::Skipped => summary.tools_skipped += 1,
                ToolStatus::Pending | ToolStatus::Running => continue,
            }
            *summary
                .by_category
                .entry(report.category.as_str().to_string())
                .or_default() += report.findings_count;
            let counts = report.severity_counts();
            for severity in Severity::ALL {
                summary.by_severity.add(severity, counts.get(severity));
            }
            summary.total_findings += report.findings_count;
            summary.suppressed += report.result.suppressed;
        }
        if self.meta.options.baseline.is_some() {
            let findings = self.reports.iter().flat_map(|r| &r.result.findings);
            summary.new_by_severity = Some(super::finding::new_by_severity(findings));
        }
        summary
    }

    /// Finished reports completed strictly after `since`, in completion order.
    pub fn reports_since(&self, since: Timestamp) -> Vec<&ToolReport> {
        self.finished_reports(|r| r.completed_at.is_some_and(|at| at > since))
    }

    /// Finished reports whose event came after sequence number `after`.
    pub fn reports_after(&self, after: u64) -> Vec<&ToolReport> {
        self.finished_reports(|r| r.finished_seq.is_some_and(|seq| seq > after))
    }

    fn finished_reports(&self, keep: impl Fn(&ToolReport) -> bool) -> Vec<&ToolReport> {
        let mut reports: Vec<&ToolReport> = self
            .reports
            .iter()
            .map(|r| &**r)
            .filter(|r| r.finished_seq.is_some() && keep(r))
            .collect();
        reports.sort_by_key(|r| r.finished_seq);
        reports
    }

    /// Tools that have not finished yet, in run order.
    pub fn unfinished_tools(&self) -> Vec<SelectedTool> {
        self.selected
            .iter()
            .filter(|tool| self.report(&tool.name).is_some_and(|r| !r.status.is_finished()))
            .cloned()
            .collect()
    }

    /// What ending the session now would refund: every tool that failed, was
    /// skipped or has not finished (it will be skipped), in run order, and
    /// the sum of the credits reserved for them.
    pub fn refund_due(&self) -> RefundDue {
        let owed: Vec<&SelectedTool> = self
            .selected
            .iter()
            .filter(|tool| {
                self.report(&tool.name)
                    .is_none_or(|r| r.status != ToolStatus::Completed)
            })
            .collect();
        let analysis = self.analysis_cost > 0 && self.intelligence.is_none();
        let analysis_credits = if analysis { self.analysis_cost } else { 0 };
        let credits = owed.iter().map(|t| u64::from(t.cost)).sum::<u64>() + u64::from(analysis_credits);
        RefundDue {
            tools: owed.into_iter().map(|t| t.name.clone()).collect(),
            analysis,
            credits,
        }
    }

    /// The credits reserved when the session started.
    pub fn reserved_credits(&self) -> u64 {
        self.selected.iter().map(|t| u64::from(t.cost)).sum::<u64>() + u64::from(self.analysis_cost)
    }
}

/// A session's metadata for unit tests across the crate.
#[cfg(test)]
pub(crate) fn sample_meta(id: &str, user: &str, created_ms: i64) -> SessionMeta {
    SessionMeta {
        session_id: id.into(),
        scan_id: format!("scan-{id}"),
        user_id: user.into(),
        target: Target::Url("https://example.com/".into()),
        options: SessionOptions {
            categories: vec![],
            exclude_tools: vec![],
            enable_intelligence: true,
            timeout: 300_000,
            max_concurrent: 5,
            config: None,
            baseline: None,
        },
        created_at: time::from_millis(created_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> SessionMeta {
        sample_meta("sess-1", "local", 1_000)
    }

    fn event(seq: u64, ms: i64, kind: EventKind) -> Event {
        Event {
            seq,
            at: time::from_millis(ms),
            kind,
        }
    }

    fn finished(tool: &str, outcome: Outcome, severities: &[Severity]) -> EventKind {
        let findings = severities.iter().map(|s| Finding::new("r", *s, "m")).collect();
        EventKind::ToolFinished {
            report: Box::new(ToolReport::finished(
                tool,
                Category::Security,
                outcome,
                10,
                findings,
                None,
            )),
        }
    }

    #[test]
    fn fold_tracks_progress_summary_and_increments() {
        let tools = ["a", "b", "c", "d"]
            .iter()
            .map(|n| SelectedTool {
                name: n.to_string(),
                category: Category::Security,
                cost: 2,
            })
            .collect();
        let events = vec![
            event(
                1,
                1_000,
                EventKind::SessionStarted {
                    tools,
                    analysis_cost: 0,
                },
            ),
            event(2, 1_001, EventKind::SessionRunning),
            event(3, 1_002, EventKind::ToolStarted { tool: "a".into() }),
            event(4, 1_003, EventKind::ToolStarted { tool: "b".into() }),
            event(
                5,
                1_004,
                finished("a", Outcome::Findings, &[Severity::Critical, Severity::High]),
            ),
            event(6, 1_005, finished("b", Outcome::ToolError, &[])),
        ];
        let state = SessionState::fold(meta(), &events);
        let p = state.progress();
        assert_eq!(
            (
                p.total,
                p.completed,
                p.failed,
                p.skipped,
                p.running,
                p.pending,
                p.percentage
            ),
            (4, 1, 1, 0, 0, 2, 50)
        );
        assert_eq!(
            p.completed + p.failed + p.skipped + p.running + p.pending,
            p.total
        );
        let summary = state.summary();
        assert_eq!(summary.total_findings, 2);
        assert_eq!(summary.by_severity.critical, 1);
        assert_eq!(summary.by_severity.describe(), "1 critical, 1 high");
        assert_eq!((summary.tools_run, summary.tools_failed), (1, 1));
        assert_eq!(
            state.report("a").unwrap().completed_at,
            Some(time::from_millis(1_004))
        );
        assert_eq!(
            state.report("a").unwrap().started_at,
            Some(time::from_millis(1_002))
        );
        assert_eq!(state.cursor, 6);
        assert_eq!(state.last_updated, time::from_millis(1_005));

        let names =
            |reports: Vec<&ToolReport>| reports.iter().map(|r| r.tool_name.clone()).collect::<Vec<_>>();
        assert_eq!(names(state.reports_since(time::from_millis(1_004))), vec!["b"]);
        assert_eq!(names(state.reports_since(time::from_millis(0))), vec!["a", "b"]);
        assert_eq!(names(state.reports_after(5)), vec!["b"]);
        let unfinished: Vec<String> = state.unfinished_tools().into_iter().map(|t| t.name).collect();
        assert_eq!(unfinished, vec!["c", "d"]);
        assert_eq!(state.status, SessionStatus::Running);
        // b failed; c and d have not run: all three are owed back, a is not.
        assert_eq!(state.reserved_credits(), 8);
        assert_eq!(
            state.refund_due(),
            RefundDue {
                tools: vec!["b".to_string(), "c".to_string(), "d".to_string()],
                analysis: false,
                credits: 6
            }
        );
    }

    #[test]
    fn an_analysis_paid_for_and_not_made_is_owed_back() {
        let started = EventKind::SessionStarted {
            tools: vec![SelectedTool {
                name: "a".into(),
                category: Category::Security,
                cost: 2,
            }],
            analysis_cost: 1,
        };
        let report = ToolReport::finished("a", Category::Security, Outcome::Clean, 1, vec![], None);
        let mut state = SessionState::fold(
            sample_meta("s", "u", 0),
            [
                &event(1, 1_000, started),
                &event(
                    2,
                    1_001,
                    EventKind::ToolFinished {
                        report: Box::new(report),
                    },
                ),
            ],
        );
        assert_eq!(state.reserved_credits(), 3);
        let owed = RefundDue {
            tools: vec![],
            analysis: true,
            credits: 1,
        };
        assert_eq!(state.refund_due(), owed);
        let analysis = crate::model::intelligence::analyse(std::iter::empty());
        state.apply(&event(
            3,
            1_002,
            EventKind::Analysis {
                intelligence: Box::new(analysis),
            },
        ));
        assert_eq!(state.refund_due(), RefundDue::default());
    }

    #[test]
    fn finished_report_classifies_outcomes() {
        let clean = ToolReport::finished("t", Category::Security, Outcome::Findings, 5, vec![], None);
        assert_eq!(
            (clean.status, clean.result.outcome),
            (ToolStatus::Completed, Some(Outcome::Clean))
        );
        let timed_out = ToolReport::finished(
            "t",
            Category::Security,
            Outcome::TimedOut,
            5,
            vec![Finding::new("r", Severity::Low, "m")],
            Some("timed out".into()),
        );
        assert_eq!(timed_out.status, ToolStatus::Failed);
        assert!(timed_out.result.partial);
        assert_eq!(timed_out.result.error.as_deref(), Some("timed out"));
        let skipped = ToolReport::finished(
            "t",
            Category::Security,
            Outcome::Skipped,
            0,
            vec![],
            Some("cancelled".into()),
        );
        assert_eq!(skipped.status, ToolStatus::Skipped);
        assert_eq!(skipped.result.skip_reason.as_deref(), Some("cancelled"));
    }

    #[test]
    fn empty_session_is_complete_at_100_percent() {
        let state = SessionState::new(meta());
        assert_eq!(state.progress().percentage, 100);
    }

    #[test]
    fn target_serialises_in_the_reference_shape() {
        let json = serde_json::to_value(Target::Url("https://a.example".into())).unwrap();
        assert_eq!(json, serde_json::json!({"url": "https://a.example"}));
    }
}
