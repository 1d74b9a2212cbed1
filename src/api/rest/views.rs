//! The JSON shapes of the REST API, exactly as the Sessions API reference documents them, plus
//! the additive fields (`cursor`, `scanId`, `target`, `createdAt`, ...).

use crate::engine::{EngineError, SessionPage, ToolInfo};
use crate::model::{Account, Event, LedgerEntry, Progress, SessionState, Summary, ToolReport, time};
use serde_json::{Value, json};

fn ts(value: &crate::model::Timestamp) -> Value {
    Value::String(time::format(value))
}

fn opt_ts(value: &Option<crate::model::Timestamp>) -> Value {
    value.as_ref().map_or(Value::Null, ts)
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("model types serialise to JSON")
}

/// `202` body of `POST /api/sessions`.
pub fn started(state: &SessionState) -> Value {
    let id = &state.meta.session_id;
    json!({
        "sessionId": id,
        "scanId": state.meta.scan_id,
        "status": "started",
        "message": format!("Audit session started. Poll /api/sessions/{id} for real-time updates."),
        "pollUrls": {
            "full": format!("/api/sessions/{id}"),
            "progress": format!("/api/sessions/{id}?progress=true"),
            "newReports": format!("/api/sessions/{id}?since={{timestamp}}"),
            "events": format!("/api/sessions/{id}/events"),
        },
        "cursor": state.cursor,
        "lastUpdated": ts(&state.last_updated),
    })
}

/// `GET /api/sessions/{id}`: everything, with every tool report keyed by
/// name, as JSON bytes. Serialised straight from the state (no JSON tree in
/// between): a full view can hold a hundred thousand findings.
pub fn full(state: &SessionState) -> Vec<u8> {
    serde_json::to_vec(&FullView::of(state)).expect("model types serialise to JSON")
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct FullView<'a> {
    session_id: &'a str,
    scan_id: &'a str,
    user_id: &'a str,
    status: crate::model::SessionStatus,
    target: crate::model::Target,
    progress: Progress,
    tool_reports: ReportsByName<'a>,
    summary: Summary,
    created_at: String,
    completed_at: Option<String>,
    last_updated: String,
    cursor: u64,
    credits_reserved: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refund: Option<&'a crate::model::Refund>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    /// The analysis of the findings, once the session has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    intelligence: Option<&'a crate::model::Intelligence>,
}

impl<'a> FullView<'a> {
    fn of(state: &'a SessionState) -> Self {
        FullView {
            session_id: &state.meta.session_id,
            scan_id: &state.meta.scan_id,
            user_id: &state.meta.user_id,
            status: state.status,
            target: state.meta.target.without_credentials(),
            progress: state.progress(),
            tool_reports: ReportsByName(&state.reports),
            summary: state.summary(),
            created_at: time::format(&state.meta.created_at),
            completed_at: state.completed_at.as_ref().map(time::format),
            last_updated: time::format(&state.last_updated),
            cursor: state.cursor,
            credits_reserved: state.reserved_credits(),
            refund: state.refund.as_ref(),
            error: state.error.as_deref(),
            intelligence: state.intelligence.as_deref(),
        }
    }
}

/// The reports as an object keyed by tool name, in run order.
struct ReportsByName<'a>(&'a [std::sync::Arc<ToolReport>]);

impl serde::Serialize for ReportsByName<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for report in self.0 {
            map.serialize_entry(&report.tool_name, &**report)?;
        }
        map.end()
    }
}

/// `?progress=true`: status and progress counts only.
pub fn progress(state: &SessionState) -> Value {
    json!({
        "sessionId": state.meta.session_id,
        "status": state.status,
        "progress": state.progress(),
        "lastUpdated": ts(&state.last_updated),
        "cursor": state.cursor,
    })
}

/// `?since=` / `?after=`: status, progress and the new reports.
pub fn incremental(state: &SessionState, new_reports: &[&ToolReport]) -> Value {
    let mut body = progress(state);
    body["newReports"] = to_value(&new_reports);
    if state.is_finished() {
        body["summary"] = to_value(&state.summary());
    }
    body
}

/// `GET /api/sessions`: the list, newest first.
pub fn list(page: &SessionPage) -> Value {
    let entries: Vec<Value> = page
        .sessions
        .iter()
        .map(|(meta, listing)| {
            json!({
                "sessionId": meta.session_id,
                "scanId": meta.scan_id,
                "status": listing.status,
                "target": meta.target.without_credentials(),
                "progress": listing.progress,
                "summary": listing.summary,
                "createdAt": ts(&meta.created_at),
                "completedAt": opt_ts(&listing.completed_at),
                "lastUpdated": ts(&listing.last_updated),
                "cursor": listing.cursor,
            })
        })
        .collect();
    json!({ "sessions": entries, "total": page.total, "nextBefore": page.next_before })
}

/// One event of the SSE stream: the stored event plus the progress after it.
pub fn event(event: &Event, progress: &Progress, summary: Option<&Summary>) -> Value {
    let mut body = to_value(event);
    body["progress"] = to_value(progress);
    if let Some(summary) = summary {
        body["summary"] = to_value(summary);
    }
    body
}

/// `GET /api/tools`.
pub fn tools(tools: &[ToolInfo]) -> Value {
    let entries: Vec<Value> = tools
        .iter()
        .map(|t| {
            let mut entry = json!({
                "id": t.id,
                "category": t.category,
                "ecosystem": t.ecosystem,
                "targets": t.targets,
                "available": t.availability == crate::tools::Availability::Available,
                "cost": t.cost,
                "summary": t.summary,
                "circuit": {
                    "state": t.circuit.state.as_str(),
                    "failures": t.circuit.failures,
                },
            });
            if let Some(version) = &t.version {
                entry["version"] = json!(version);
            }
            if let Some(runs) = &t.runs {
                entry["averageDuration"] = json!(runs.average_ms);
                entry["runs"] = json!(runs.runs);
            }
            if let Some(at) = &t.circuit.retry_at {
                entry["circuit"]["retryAt"] = ts(at);
            }
            if let crate::tools::Availability::Unavailable { reason, install_hint } = &t.availability {
                entry["unavailableReason"] = json!(reason);
                entry["installHint"] = json!(install_hint);
            }
            entry
        })
        .collect();
    json!({
        "tools": entries,
        "total": tools.len(),
        "analysis": {
            "cost": crate::tools::ANALYSIS_COST,
            "summary": crate::tools::ANALYSIS_SUMMARY,
        },
    })
}

/// `GET /api/account`: the balance and the newest ledger entries.
pub fn account(account: &Account, ledger: &[LedgerEntry]) -> Value {
    let mut body = to_value(account);
    body["ledger"] = to_value(&ledger);
    body
}

/// The error body every failing route returns.
pub fn error(err: &EngineError) -> Value {
    error_body(err.code(), &err.message(), err.details())
}

/// The error body, for errors of HTTP itself as well as the engine's.
pub fn error_body(code: &str, message: &str, details: Value) -> Value {
    json!({ "error": { "code": code, "message": message, "details": details } })
}
