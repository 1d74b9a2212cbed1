//! Conversions between the domain model and the protobuf messages, both ways:
//! the server renders model state into messages, and the CLI's gRPC client
//! turns received messages back into model values to print them.

use crate::engine::{EngineError, ToolInfo};
use crate::model::{
    Account, BaselineState, BySeverity, Category, Finding, Intelligence, LedgerEntry, LedgerKind, Metric,
    Omitted, Origin, Outcome, Progress, RawTarget, Refund, RuleInfo, Scanner, SessionListing, SessionMeta,
    SessionState, SessionStatus, Severity, StartRequest, Summary, Suppression, SuppressionKind, Target,
    Timestamp, ToolReport, ToolResult, ToolStatus,
};
use crate::proto as pb;

pub fn timestamp(ts: &Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ts.timestamp(),
        nanos: ts.timestamp_subsec_nanos() as i32,
    }
}

/// `None` for a timestamp outside the representable range (client input).
pub fn from_timestamp(ts: &prost_types::Timestamp) -> Option<Timestamp> {
    let nanos = u32::try_from(ts.nanos).ok()?;
    chrono::DateTime::from_timestamp(ts.seconds, nanos)
}

pub fn category(c: Category) -> pb::Category {
    match c {
        Category::Security => pb::Category::Security,
        Category::CodeQuality => pb::Category::CodeQuality,
        Category::Accessibility => pb::Category::Accessibility,
        Category::Performance => pb::Category::Performance,
    }
}

/// The REST spelling of a proto category, so the engine validates both APIs alike.
fn category_name(c: pb::Category) -> String {
    match c {
        pb::Category::Unspecified => "CATEGORY_UNSPECIFIED".to_string(),
        pb::Category::Security => Category::Security.to_string(),
        pb::Category::CodeQuality => Category::CodeQuality.to_string(),
        pb::Category::Accessibility => Category::Accessibility.to_string(),
        pb::Category::Performance => Category::Performance.to_string(),
    }
}

pub fn from_category(c: pb::Category) -> Category {
    match c {
        pb::Category::CodeQuality => Category::CodeQuality,
        pb::Category::Accessibility => Category::Accessibility,
        pb::Category::Performance => Category::Performance,
        pb::Category::Security | pb::Category::Unspecified => Category::Security,
    }
}

pub fn session_status(s: SessionStatus) -> pb::SessionStatus {
    match s {
        SessionStatus::Initializing => pb::SessionStatus::Initializing,
        SessionStatus::Running => pb::SessionStatus::Running,
        SessionStatus::Completed => pb::SessionStatus::Completed,
        SessionStatus::Partial => pb::SessionStatus::Partial,
        SessionStatus::Failed => pb::SessionStatus::Failed,
        SessionStatus::Cancelled => pb::SessionStatus::Cancelled,
    }
}

pub fn from_session_status(s: pb::SessionStatus) -> SessionStatus {
    match s {
        pb::SessionStatus::Unspecified | pb::SessionStatus::Initializing => SessionStatus::Initializing,
        pb::SessionStatus::Running => SessionStatus::Running,
        pb::SessionStatus::Completed => SessionStatus::Completed,
        pb::SessionStatus::Partial => SessionStatus::Partial,
        pb::SessionStatus::Failed => SessionStatus::Failed,
        pb::SessionStatus::Cancelled => SessionStatus::Cancelled,
    }
}

fn tool_status(s: ToolStatus) -> pb::ToolStatus {
    match s {
        ToolStatus::Pending => pb::ToolStatus::Pending,
        ToolStatus::Running => pb::ToolStatus::Running,
        ToolStatus::Completed => pb::ToolStatus::Completed,
        ToolStatus::Failed => pb::ToolStatus::Failed,
        ToolStatus::Skipped => pb::ToolStatus::Skipped,
    }
}

fn from_tool_status(s: pb::ToolStatus) -> ToolStatus {
    match s {
        pb::ToolStatus::Unspecified | pb::ToolStatus::Pending => ToolStatus::Pending,
        pb::ToolStatus::Running => ToolStatus::Running,
        pb::ToolStatus::Completed => ToolStatus::Completed,
        pb::ToolStatus::Failed => ToolStatus::Failed,
        pb::ToolStatus::Skipped => ToolStatus::Skipped,
    }
}

fn outcome(o: Option<Outcome>) -> pb::Outcome {
    match o {
        None => pb::Outcome::Unspecified,
        Some(Outcome::Clean) => pb::Outcome::Clean,
        Some(Outcome::Findings) => pb::Outcome::Findings,
        Some(Outcome::ToolError) => pb::Outcome::ToolError,
        Some(Outcome::TimedOut) => pb::Outcome::TimedOut,
        Some(Outcome::Skipped) => pb::Outcome::Skipped,
    }
}

fn from_outcome(o: pb::Outcome) -> Option<Outcome> {
    match o {
        pb::Outcome::Unspecified => None,
        pb::Outcome::Clean => Some(Outcome::Clean),
        pb::Outcome::Findings => Some(Outcome::Findings),
        pb::Outcome::ToolError => Some(Outcome::ToolError),
        pb::Outcome::TimedOut => Some(Outcome::TimedOut),
        pb::Outcome::Skipped => Some(Outcome::Skipped),
    }
}

fn severity(s: Severity) -> pb::Severity {
    match s {
        Severity::Critical => pb::Severity::Critical,
        Severity::High => pb::Severity::High,
        Severity::Medium => pb::Severity::Medium,
        Severity::Low => pb::Severity::Low,
        Severity::Info => pb::Severity::Info,
    }
}

fn from_severity(s: pb::Severity) -> Severity {
    match s {
        pb::Severity::Critical => Severity::Critical,
        pb::Severity::High => Severity::High,
        pb::Severity::Medium => Severity::Medium,
        pb::Severity::Low => Severity::Low,
        pb::Severity::Info | pb::Severity::Unspecified => Severity::Info,
    }
}

fn finding(f: &Finding) -> pb::Finding {
    pb::Finding {
        rule_id: f.rule_id.clone(),
        severity: severity(f.severity).into(),
        original_level: f.original_level.clone().unwrap_or_default(),
        message: f.message.clone(),
        path: f.path.clone().unwrap_or_default(),
        line: f.line.unwrap_or(0),
        column: f.column.unwrap_or(0),
        url: f.url.clone().unwrap_or_default(),
        fingerprint: f.fingerprint.clone(),
        help_uri: f.help_uri.clone().unwrap_or_default(),
        cwe: f.cwe.unwrap_or(0),
        baseline_state: f
            .baseline_state
            .map(|b| b.as_str().to_string())
            .unwrap_or_default(),
        suppression: f.suppression.as_ref().map(|s| pb::Suppression {
            kind: match s.kind {
                SuppressionKind::Inline => "inline",
                SuppressionKind::Config => "config",
            }
            .to_string(),
            reason: s.reason.clone().unwrap_or_default(),
            expires: s.expires.clone().unwrap_or_default(),
            expired: s.expired,
        }),
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn from_finding(f: &pb::Finding) -> Finding {
    Finding {
        rule_id: f.rule_id.clone(),
        severity: from_severity(f.severity()),
        original_level: non_empty(&f.original_level),
        message: f.message.clone(),
        path: non_empty(&f.path),
        line: (f.line > 0).then_some(f.line),
        column: (f.column > 0).then_some(f.column),
        url: non_empty(&f.url),
        fingerprint: f.fingerprint.clone(),
        help_uri: non_empty(&f.help_uri),
        cwe: (f.cwe > 0).then_some(f.cwe),
        baseline_state: match f.baseline_state.as_str() {
            "new" => Some(BaselineState::New),
            "unchanged" => Some(BaselineState::Unchanged),
            _ => None,
        },
        suppression: f.suppression.as_ref().map(|s| Suppression {
            kind: match s.kind.as_str() {
                "inline" => SuppressionKind::Inline,
                _ => SuppressionKind::Config,
            },
            reason: non_empty(&s.reason),
            expires: non_empty(&s.expires),
            expired: s.expired,
        }),
    }
}

pub fn report(r: &ToolReport) -> pb::ToolReport {
    pb::ToolReport {
        tool_name: r.tool_name.clone(),
        category: category(r.category).into(),
        status: tool_status(r.status).into(),
        outcome: outcome(r.result.outcome).into(),
        duration_ms: r.duration,
        findings_count: r.findings_count,
        findings: r.result.findings.iter().map(finding).collect(),
        started_at: r.started_at.as_ref().map(timestamp),
        completed_at: r.completed_at.as_ref().map(timestamp),
        error: r.result.error.clone().unwrap_or_default(),
        skip_reason: r.result.skip_reason.clone().unwrap_or_default(),
        partial: r.result.partial,
        left_out: r
            .result
            .left_out
            .iter()
            .map(|(origin, count)| (origin.as_str().to_string(), *count))
            .collect(),
        omitted: r.result.omitted.map(|o| pb::Omitted {
            count: o.count,
            critical: o.by_severity.critical,
            high: o.by_severity.high,
            medium: o.by_severity.medium,
            low: o.by_severity.low,
            info: o.by_severity.info,
        }),
        metrics: r
            .result
            .metrics
            .iter()
            .map(|m| pb::Metric {
                name: m.name.clone(),
                value: m.value.clone(),
                url: m.url.clone().unwrap_or_default(),
            })
            .collect(),
        suppressed: r.result.suppressed,
        rules: r
            .result
            .rules
            .iter()
            .map(|rule| pb::RuleInfo {
                id: rule.id.clone(),
                name: rule.name.clone().unwrap_or_default(),
                description: rule.description.clone().unwrap_or_default(),
                help: rule.help.clone().unwrap_or_default(),
            })
            .collect(),
        scanner: r.result.scanner.as_ref().map(|s| pb::Scanner {
            name: s.name.clone(),
            version: s.version.clone().unwrap_or_default(),
        }),
    }
}

pub fn from_report(r: &pb::ToolReport) -> ToolReport {
    ToolReport {
        tool_name: r.tool_name.clone(),
        category: from_category(r.category()),
        status: from_tool_status(r.status()),
        duration: r.duration_ms,
        findings_count: r.findings_count,
        result: ToolResult {
            outcome: from_outcome(r.outcome()),
            findings: r.findings.iter().map(from_finding).collect(),
            left_out: r
                .left_out
                .iter()
                .filter_map(|(origin, count)| Some((from_origin(origin)?, *count)))
                .collect(),
            omitted: r.omitted.map(|o| Omitted {
                count: o.count,
                by_severity: BySeverity {
                    critical: o.critical,
                    high: o.high,
                    medium: o.medium,
                    low: o.low,
                    info: o.info,
                },
            }),
            error: non_empty(&r.error),
            skip_reason: non_empty(&r.skip_reason),
            partial: r.partial,
            metrics: r
                .metrics
                .iter()
                .map(|m| Metric {
                    name: m.name.clone(),
                    value: m.value.clone(),
                    url: non_empty(&m.url),
                })
                .collect(),
            suppressed: r.suppressed,
            rules: r
                .rules
                .iter()
                .map(|rule| RuleInfo {
                    id: rule.id.clone(),
                    name: non_empty(&rule.name),
                    description: non_empty(&rule.description),
                    help: non_empty(&rule.help),
                })
                .collect(),
            scanner: r.scanner.as_ref().map(|s| Scanner {
                name: s.name.clone(),
                version: non_empty(&s.version),
            }),
        },
        started_at: r.started_at.as_ref().and_then(from_timestamp),
        completed_at: r.completed_at.as_ref().and_then(from_timestamp),
        finished_seq: None,
    }
}

/// A `left_out` key back to its origin; an unknown one is dropped.
fn from_origin(name: &str) -> Option<Origin> {
    [
        Origin::Vendored,
        Origin::Generated,
        Origin::Minified,
        Origin::Binary,
        Origin::Source,
    ]
    .into_iter()
    .find(|o| o.as_str() == name)
}

pub fn progress(p: &Progress) -> pb::Progress {
    pb::Progress {
        total: p.total,
        completed: p.completed,
        failed: p.failed,
        skipped: p.skipped,
        running: p.running,
        pending: p.pending,
        percentage: p.percentage,
    }
}

pub fn from_progress(p: &pb::Progress) -> Progress {
    Progress {
        total: p.total,
        completed: p.completed,
        failed: p.failed,
        skipped: p.skipped,
        running: p.running,
        pending: p.pending,
        percentage: p.percentage,
    }
}

pub fn summary(s: &Summary) -> pb::Summary {
    pb::Summary {
        total_findings: s.total_findings,
        critical: s.by_severity.critical,
        high: s.by_severity.high,
        medium: s.by_severity.medium,
        low: s.by_severity.low,
        info: s.by_severity.info,
        by_category: s.by_category.clone().into_iter().collect(),
        tools_run: s.tools_run,
        tools_skipped: s.tools_skipped,
        tools_failed: s.tools_failed,
        suppressed: s.suppressed,
        new_by_severity: s.new_by_severity.map(|n| pb::SeverityCounts {
            critical: n.critical,
            high: n.high,
            medium: n.medium,
            low: n.low,
            info: n.info,
        }),
    }
}

pub fn from_refund(r: &pb::Refund) -> Refund {
    Refund {
        refunded_credits: r.refunded_credits,
        tools_refunded: r.tools_refunded.clone(),
        analysis_refunded: r.analysis_refunded,
        new_balance: r.new_balance,
    }
}

pub fn from_summary(s: &pb::Summary) -> Summary {
    Summary {
        total_findings: s.total_findings,
        by_severity: BySeverity {
            critical: s.critical,
            high: s.high,
            medium: s.medium,
            low: s.low,
            info: s.info,
        },
        by_category: s.by_category.clone().into_iter().collect(),
        tools_run: s.tools_run,
        tools_skipped: s.tools_skipped,
        tools_failed: s.tools_failed,
        suppressed: s.suppressed,
        new_by_severity: s.new_by_severity.map(|n| BySeverity {
            critical: n.critical,
            high: n.high,
            medium: n.medium,
            low: n.low,
            info: n.info,
        }),
    }
}

pub fn refund(r: &Refund) -> pb::Refund {
    pb::Refund {
        refunded_credits: r.refunded_credits,
        tools_refunded: r.tools_refunded.clone(),
        new_balance: r.new_balance,
        analysis_refunded: r.analysis_refunded,
    }
}

fn target(t: &Target) -> pb::Target {
    match t {
        Target::Url(url) => pb::Target {
            url: url.clone(),
            ..Default::default()
        },
        Target::Urls(urls) => pb::Target {
            urls: urls.clone(),
            ..Default::default()
        },
        Target::Directory(dir) => pb::Target {
            directory: dir.clone(),
            ..Default::default()
        },
        Target::Upload(id) => pb::Target {
            upload: id.clone(),
            ..Default::default()
        },
    }
}

/// The progress-only view: identity, status, progress and times.
pub fn session_progress(state: &SessionState) -> pb::Session {
    pb::Session {
        summary: None,
        ..session_listed(&state.meta, &state.listing())
    }
}

/// The full view, with every tool report.
pub fn session_full(state: &SessionState) -> pb::Session {
    pb::Session {
        tool_reports: state.reports.iter().map(|r| report(r)).collect(),
        summary: Some(summary(&state.summary())),
        refund: state.refund.as_ref().map(refund),
        error: state.error.clone().unwrap_or_default(),
        intelligence: state.intelligence.as_deref().map(intelligence),
        ..session_progress(state)
    }
}

pub fn from_intelligence(analysis: &pb::Intelligence) -> Intelligence {
    use crate::model::intelligence::{Hotspot, Issue, Priority, SeenBy};
    Intelligence {
        risk_score: analysis.risk_score,
        grade: analysis.grade.clone(),
        summary: analysis.summary.clone(),
        findings: analysis.findings,
        issue_count: analysis.issue_count,
        corroborated: analysis.corroborated,
        issues: analysis
            .issues
            .iter()
            .map(|issue| Issue {
                id: issue.id.clone(),
                title: issue.title.clone(),
                severity: from_severity(issue.severity()),
                confidence: issue.confidence,
                cwe: (issue.cwe > 0).then_some(issue.cwe),
                owasp: non_empty(&issue.owasp),
                location: issue.location.clone(),
                exposure: issue.exposure.clone(),
                seen_by: issue
                    .seen_by
                    .iter()
                    .map(|seen| SeenBy {
                        tool: seen.tool.clone(),
                        rule_id: seen.rule_id.clone(),
                        severity: from_severity(seen.severity()),
                    })
                    .collect(),
                fingerprints: issue.fingerprints.clone(),
                score: issue.score,
                category: from_category(issue.category()),
            })
            .collect(),
        priorities: analysis
            .priorities
            .iter()
            .map(|p| Priority {
                rank: p.rank,
                issue: p.issue.clone(),
                title: p.title.clone(),
                severity: from_severity(p.severity()),
                what_to_do: p.what_to_do.clone(),
                why: p.why.clone(),
                location: p.location.clone(),
            })
            .collect(),
        hotspots: analysis
            .hotspots
            .iter()
            .map(|h| Hotspot {
                location: h.location.clone(),
                issues: h.issues,
                worst: from_severity(h.worst()),
                score: h.score,
            })
            .collect(),
        by_owasp: analysis.by_owasp.clone().into_iter().collect(),
        narrative: analysis
            .narrative
            .as_ref()
            .map(|n| crate::model::intelligence::Narrative {
                text: Some(n.text.clone()).filter(|t| !t.is_empty()),
                model: n.model.clone(),
                error: Some(n.error.clone()).filter(|e| !e.is_empty()),
            }),
    }
}

pub fn narrative(narrative: &crate::model::intelligence::Narrative) -> pb::Narrative {
    pb::Narrative {
        text: narrative.text.clone().unwrap_or_default(),
        model: narrative.model.clone(),
        error: narrative.error.clone().unwrap_or_default(),
    }
}

pub fn intelligence(analysis: &Intelligence) -> pb::Intelligence {
    pb::Intelligence {
        risk_score: analysis.risk_score,
        grade: analysis.grade.clone(),
        summary: analysis.summary.clone(),
        findings: analysis.findings,
        issue_count: analysis.issue_count,
        corroborated: analysis.corroborated,
        issues: analysis
            .issues
            .iter()
            .map(|issue| pb::Issue {
                id: issue.id.clone(),
                title: issue.title.clone(),
                severity: severity(issue.severity).into(),
                confidence: issue.confidence,
                cwe: issue.cwe.unwrap_or(0),
                owasp: issue.owasp.clone().unwrap_or_default(),
                location: issue.location.clone(),
                exposure: issue.exposure.clone(),
                seen_by: issue
                    .seen_by
                    .iter()
                    .map(|seen| pb::SeenBy {
                        tool: seen.tool.clone(),
                        rule_id: seen.rule_id.clone(),
                        severity: severity(seen.severity).into(),
                    })
                    .collect(),
                fingerprints: issue.fingerprints.clone(),
                score: issue.score,
                category: category(issue.category).into(),
            })
            .collect(),
        priorities: analysis
            .priorities
            .iter()
            .map(|p| pb::Priority {
                rank: p.rank,
                issue: p.issue.clone(),
                title: p.title.clone(),
                severity: severity(p.severity).into(),
                what_to_do: p.what_to_do.clone(),
                why: p.why.clone(),
                location: p.location.clone(),
            })
            .collect(),
        hotspots: analysis
            .hotspots
            .iter()
            .map(|h| pb::Hotspot {
                location: h.location.clone(),
                issues: h.issues,
                worst: severity(h.worst).into(),
                score: h.score,
            })
            .collect(),
        by_owasp: analysis.by_owasp.clone().into_iter().collect(),
        narrative: analysis.narrative.as_ref().map(narrative),
    }
}

/// A list entry: the progress view plus the summary.
pub fn session_listed(meta: &SessionMeta, listing: &SessionListing) -> pb::Session {
    pb::Session {
        session_id: meta.session_id.clone(),
        scan_id: meta.scan_id.clone(),
        user_id: meta.user_id.clone(),
        status: session_status(listing.status).into(),
        progress: Some(progress(&listing.progress)),
        summary: Some(summary(&listing.summary)),
        created_at: Some(timestamp(&meta.created_at)),
        completed_at: listing.completed_at.as_ref().map(timestamp),
        last_updated: Some(timestamp(&listing.last_updated)),
        cursor: listing.cursor,
        target: Some(target(&meta.target.without_credentials())),
        ..Default::default()
    }
}

pub fn start_request(req: pb::StartSessionRequest) -> StartRequest {
    let categories = req
        .categories
        .iter()
        .map(|&raw| {
            pb::Category::try_from(raw).map_or_else(|_| format!("category number {raw}"), category_name)
        })
        .collect();
    StartRequest {
        target: req.target.map(|t| RawTarget {
            url: non_empty(&t.url),
            urls: (!t.urls.is_empty()).then_some(t.urls),
            directory: non_empty(&t.directory),
            upload: non_empty(&t.upload),
        }),
        categories,
        tools: req.tools,
        exclude_tools: req.exclude_tools,
        enable_intelligence: req.enable_intelligence,
        timeout: req.timeout_ms.map(u64::from),
        max_concurrent: req.max_concurrent.map(u64::from),
        config: req.config,
        baseline: req.baseline,
    }
}

pub fn tool(info: &ToolInfo) -> pb::Tool {
    let (available, unavailable_reason, install_hint) = match &info.availability {
        crate::tools::Availability::Available => (true, String::new(), String::new()),
        crate::tools::Availability::Unavailable { reason, install_hint } => {
            (false, reason.clone(), install_hint.clone())
        }
    };
    pb::Tool {
        id: info.id.to_string(),
        category: category(info.category).into(),
        ecosystem: info.ecosystem.as_str().to_string(),
        targets: info.targets.iter().map(|k| k.as_str().to_string()).collect(),
        available,
        unavailable_reason,
        install_hint,
        cost: info.cost,
        summary: info.summary.to_string(),
        circuit_state: info.circuit.state.as_str().to_string(),
        circuit_failures: info.circuit.failures,
        circuit_retry_at: info.circuit.retry_at.as_ref().map(timestamp),
        average_duration_ms: info.runs.as_ref().map(|runs| runs.average_ms),
        runs: info.runs.as_ref().map_or(0, |runs| runs.runs),
        version: info.version.clone(),
    }
}

pub fn account(account: &Account, ledger: &[LedgerEntry]) -> pb::GetAccountResponse {
    pb::GetAccountResponse {
        user_id: account.user_id.clone(),
        name: account.name.clone(),
        balance: account.balance,
        ledger: ledger
            .iter()
            .map(|entry| pb::LedgerEntry {
                id: entry.id,
                at: Some(timestamp(&entry.at)),
                kind: match entry.kind {
                    LedgerKind::Grant => pb::LedgerKind::Grant,
                    LedgerKind::Reserve => pb::LedgerKind::Reserve,
                    LedgerKind::Refund => pb::LedgerKind::Refund,
                }
                .into(),
                amount: entry.amount,
                balance_after: entry.balance_after,
                session_id: entry.session_id.clone().unwrap_or_default(),
                note: entry.note.clone(),
            })
            .collect(),
    }
}

pub fn status(err: EngineError) -> tonic::Status {
    use tonic::Code;
    let code = match &err {
        EngineError::InvalidArgument { .. } => Code::InvalidArgument,
        EngineError::NotFound(_) => Code::NotFound,
        EngineError::Unauthenticated(_) => Code::Unauthenticated,
        EngineError::InsufficientCredits { .. } => Code::FailedPrecondition,
        EngineError::RateLimited { .. } => Code::ResourceExhausted,
        EngineError::Unavailable(_) => Code::Unavailable,
        EngineError::Internal(_) => Code::Internal,
        EngineError::TooLarge { .. } => Code::ResourceExhausted,
    };
    // The REST error body's code and details travel as binary metadata: the
    // standard `grpc-status-details-bin` trailer must hold a google.rpc.Status,
    // and clients such as grpc-go reject anything else.
    let details = serde_json::json!({ "code": err.code(), "details": err.details() }).to_string();
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert_bin(
        "livescan-error-bin",
        tonic::metadata::MetadataValue::from_bytes(details.as_bytes()),
    );
    if let Some(wait) = err.retry_after() {
        // Whole seconds, rounded up, as HTTP's Retry-After.
        let seconds = wait.as_millis().div_ceil(1000).max(1);
        if let Ok(value) = seconds.to_string().parse() {
            metadata.insert("retry-after", value);
        }
    }
    tonic::Status::with_metadata(code, err.message(), metadata)
}
