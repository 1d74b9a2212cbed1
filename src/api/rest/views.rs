//! The JSON shapes of the REST API, exactly as the Sessions API reference documents them, plus
//! the additive fields (`cursor`, `scanId`, `target`, `createdAt`, ...).

use crate::engine::{EngineError, SessionPage, ToolInfo};
use crate::model::{Account, Event, LedgerEntry, Progress, SessionState, Summary, ToolReport, time};
use serde_json::{Map, Value, json};

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

/// `GET /api/sessions/{id}`: everything, with every tool report keyed by name.
pub fn full(state: &SessionState) -> Value {
    let reports: Map<String, Value> = state
        .reports
        .iter()
        .map(|r| (r.tool_name.clone(), to_value(r)))
        .collect();
    let mut body = json!({
        "sessionId": state.meta.session_id,
        "scanId": state.meta.scan_id,
        "userId": state.meta.user_id,
        "status": state.status,
        "target": state.meta.target.without_credentials(),
        "progress": state.progress(),
        "toolReports": reports,
        "summary": state.summary(),
        "createdAt": ts(&state.meta.created_at),
        "completedAt": opt_ts(&state.completed_at),
        "lastUpdated": ts(&state.last_updated),
        "cursor": state.cursor,
        "creditsReserved": state.reserved_credits(),
    });
    if let Some(refund) = &state.refund {
        body["refund"] = to_value(refund);
    }
    if let Some(error) = &state.error {
        body["error"] = json!(error);
    }
    body
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
        .map(|s| {
            json!({
                "sessionId": s.meta.session_id,
                "scanId": s.meta.scan_id,
                "status": s.status,
                "target": s.meta.target.without_credentials(),
                "progress": s.progress(),
                "summary": s.summary(),
                "createdAt": ts(&s.meta.created_at),
                "completedAt": opt_ts(&s.completed_at),
                "lastUpdated": ts(&s.last_updated),
                "cursor": s.cursor,
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
                "targets": t.targets,
                "available": t.availability == crate::tools::Availability::Available,
                "cost": t.cost,
                "summary": t.summary,
                "circuit": {
                    "state": t.circuit.state.as_str(),
                    "failures": t.circuit.failures,
                },
            });
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
    json!({ "tools": entries, "total": tools.len() })
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
