//! The OpenAPI 3.1 description of the REST API served at `/openapi.json`.
//! Written by hand next to the handlers; a test checks each documented
//! operation against the running server.

use crate::engine::plan::{
    DEFAULT_MAX_CONCURRENT, DEFAULT_TIMEOUT_MS, MAX_TOOL_NAMES, MAX_URLS, TIMEOUT_RANGE_MS,
};
use crate::engine::{DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
use crate::model::repo_config;
use serde_json::{Value, json};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn json_response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
    })
}

fn session_id_param() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" },
            "description": "The session id returned by POST /api/sessions." })
}

/// Each operation's id and tag, by path and method: what clients generated
/// from the document name their methods and group them by.
const OPERATION_NAMES: &[(&str, &str, &str, &str)] = &[
    ("/api/sessions", "post", "startSession", "Sessions"),
    ("/api/sessions", "get", "listSessions", "Sessions"),
    ("/api/sessions/{id}", "get", "getSession", "Sessions"),
    (
        "/api/sessions/{id}/events",
        "get",
        "watchSessionEvents",
        "Sessions",
    ),
    ("/api/sessions/{id}/cancel", "post", "cancelSession", "Sessions"),
    ("/api/sessions/{id}/sarif", "get", "getSessionSarif", "Sessions"),
    ("/api/uploads", "post", "uploadArchive", "Uploads"),
    ("/api/v1/scans", "post", "startLegacyScan", "Legacy Scans API"),
    (
        "/api/v1/scans/{scanId}",
        "get",
        "getLegacyScan",
        "Legacy Scans API",
    ),
    ("/api/tools", "get", "listTools", "Tools"),
    ("/api/account", "get", "getAccount", "Account"),
    ("/healthz", "get", "getHealth", "Server"),
    ("/openapi.json", "get", "getOpenApiDocument", "Server"),
];

/// The document for a server whose catalog holds `tool_ids`.
pub fn document(tool_ids: &[&str]) -> Value {
    let mut document = operations(tool_ids);
    document["tags"] = json!([
        { "name": "Sessions", "description": "Start scan sessions and follow them: full, progress-only and incremental views, live events, SARIF" },
        { "name": "Uploads", "description": "Directories sent to the server to scan" },
        { "name": "Tools", "description": "The tool catalog" },
        { "name": "Account", "description": "Your balance and ledger" },
        { "name": "Server", "description": "Liveness and this document" },
        { "name": "Legacy Scans API", "description": "Deprecated: the old flat scan API, on the same core; use the Sessions API" }
    ]);
    if let Some(paths) = document["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            for (method, operation) in item.as_object_mut().into_iter().flatten() {
                let named = OPERATION_NAMES.iter().find(|(p, m, ..)| p == path && m == method);
                if let Some((.., id, tag)) = named {
                    operation["operationId"] = json!(id);
                    operation["tags"] = json!([tag]);
                }
            }
        }
        for (path, method, status, example) in examples() {
            let operation = &mut paths[path][method];
            let slot = match status {
                "request" => &mut operation["requestBody"]["content"],
                status => &mut operation["responses"][status]["content"],
            };
            for media in slot.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                media["example"] = example.clone();
            }
        }
        // Every operation that needs a key can answer 401 and 429.
        for operation in paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|p| p.values_mut())
        {
            if operation.get("security").is_none() {
                operation["responses"]["401"] =
                    error_response("No API key, or one that is malformed, unknown, revoked or expired");
                operation["responses"]["429"] = error_response(
                    "Too many requests for this API key; the Retry-After header says when to try again",
                );
            }
        }
    }
    document
}

/// An example of each operation's request body and success answer, by
/// path, method and status (`request` for the body); a test validates each
/// against its schema.
fn examples() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    let at = "2026-12-01T10:00:00.000Z";
    let done = "2026-12-01T10:00:04.200Z";
    let progress = json!({ "total": 2, "completed": 2, "failed": 0, "skipped": 0, "running": 0, "pending": 0,
        "percentage": 100 });
    let summary = json!({ "totalFindings": 1, "bySeverity": { "critical": 0, "high": 1, "medium": 0, "low": 0, "info": 0 },
        "byCategory": { "security": 1, "code-quality": 0 }, "toolsRun": 2, "toolsSkipped": 0, "toolsFailed": 0 });
    let report = json!({ "toolName": "secrets", "category": "security", "status": "completed", "duration": 412,
        "findingsCount": 1, "startedAt": at, "completedAt": "2026-12-01T10:00:00.412Z",
        "result": { "outcome": "findings", "partial": false, "findings": [{
            "ruleId": "github-pat", "severity": "high", "message": "GitHub token `ghp_…` in source",
            "path": "config/settings.py", "line": 9, "column": 17, "fingerprint": "4f1c2a9e0b7d3c55", "cwe": 798 }] } });
    let session = json!({ "sessionId": "sess-k3v9q2m8x7c4", "scanId": "scan-1764583200-a1b2c3", "userId": "local",
        "status": "completed", "target": { "directory": "/srv/scans/app" }, "progress": progress,
        "toolReports": { "secrets": report }, "summary": summary, "createdAt": at, "completedAt": done,
        "lastUpdated": done, "cursor": 6, "creditsReserved": 3 });
    let mut cancelled = session.clone();
    cancelled["status"] = json!("cancelled");
    let legacy_scan = json!({ "scanId": "scan-1764583200-a1b2c3", "sessionId": "sess-k3v9q2m8x7c4",
        "status": "completed", "progress": session["progress"], "createdAt": at, "completedAt": done,
        "summary": session["summary"], "results": [session["toolReports"]["secrets"]] });
    vec![
        (
            "/api/sessions",
            "post",
            "request",
            json!({ "target": { "directory": "/srv/scans/app" },
            "categories": ["security", "code-quality"], "maxConcurrent": 3, "baseline": "sess-h2j7k1p0w9z3" }),
        ),
        (
            "/api/sessions",
            "post",
            "202",
            json!({ "sessionId": "sess-k3v9q2m8x7c4", "scanId": "scan-1764583200-a1b2c3",
            "status": "started", "message": "Scan started with 12 tools",
            "pollUrls": { "full": "/api/sessions/sess-k3v9q2m8x7c4",
                "progress": "/api/sessions/sess-k3v9q2m8x7c4?progress=true",
                "newReports": "/api/sessions/sess-k3v9q2m8x7c4?since=2026-12-01T10:00:00.000Z",
                "events": "/api/sessions/sess-k3v9q2m8x7c4/events" },
            "cursor": 1, "lastUpdated": at }),
        ),
        (
            "/api/sessions",
            "get",
            "200",
            json!({ "sessions": [{ "sessionId": "sess-k3v9q2m8x7c4",
            "scanId": "scan-1764583200-a1b2c3", "status": "completed", "target": { "directory": "/srv/scans/app" },
            "progress": progress, "summary": summary, "createdAt": at, "completedAt": done, "lastUpdated": done,
            "cursor": 6 }], "total": 1, "nextBefore": null }),
        ),
        ("/api/sessions/{id}", "get", "200", session.clone()),
        (
            "/api/sessions/{id}/events",
            "get",
            "200",
            json!(
                "id: 5\nevent: tool_finished\ndata: {\"seq\":5,\"type\":\"tool_finished\",\"report\":{…},\"progress\":{…}}\n\n"
            ),
        ),
        ("/api/sessions/{id}/cancel", "post", "200", cancelled),
        (
            "/api/sessions/{id}/sarif",
            "get",
            "200",
            json!({ "version": "2.1.0",
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "runs": [{ "tool": { "driver": { "name": "livescan", "rules": [{ "id": "secrets/github-pat" }] } },
                "results": [{ "ruleId": "secrets/github-pat", "level": "error",
                    "message": { "text": "GitHub token `ghp_…` in source" } }] }] }),
        ),
        (
            "/api/uploads",
            "post",
            "201",
            json!({ "uploadId": "upl-0f3k8m2q9x7c4v1b6n5z",
            "digest": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "bytes": 48213,
            "files": 212, "unpackedBytes": 901344, "createdAt": at, "lastUsedAt": at }),
        ),
        (
            "/api/tools",
            "get",
            "200",
            json!({ "tools": [{ "id": "secrets", "category": "security", "ecosystem": "any",
            "targets": ["directory"], "available": true, "cost": 1,
            "summary": "Hard-coded credentials: well-known token formats and random-looking secrets" }], "total": 1,
            "analysis": { "cost": 1, "summary": "The findings of every tool merged, ranked and graded" } }),
        ),
        (
            "/api/account",
            "get",
            "200",
            json!({ "userId": "local", "name": "local", "balance": 997,
            "createdAt": "2026-11-30T09:00:00.000Z", "ledger": [
            { "id": 2, "at": at, "kind": "reserve", "amount": -3, "balanceAfter": 997,
              "sessionId": "sess-k3v9q2m8x7c4" },
            { "id": 1, "at": "2026-11-30T09:00:00.000Z", "kind": "grant", "amount": 1000, "balanceAfter": 1000 }] }),
        ),
        (
            "/api/v1/scans",
            "post",
            "request",
            json!({ "directory": "/srv/scans/app", "categories": ["security"] }),
        ),
        (
            "/api/v1/scans",
            "post",
            "202",
            json!({ "scanId": "scan-1764583200-a1b2c3", "sessionId": "sess-k3v9q2m8x7c4", "status": "started",
                "message": "Scan started. Poll /api/v1/scans/scan-1764583200-a1b2c3; this API is deprecated" }),
        ),
        ("/api/v1/scans/{scanId}", "get", "200", legacy_scan),
        (
            "/healthz",
            "get",
            "200",
            json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION"), "runningSessions": 0 }),
        ),
        (
            "/openapi.json",
            "get",
            "200",
            json!({ "openapi": "3.1.0",
            "info": { "title": "livescan Sessions API", "version": env!("CARGO_PKG_VERSION") }, "paths": {} }),
        ),
    ]
}

fn operations(tool_ids: &[&str]) -> Value {
    let severities = json!(["critical", "high", "medium", "low", "info"]);
    let categories = json!(["security", "code-quality", "accessibility", "performance"]);
    let ecosystems: Vec<&str> = crate::model::Ecosystem::ALL.iter().map(|e| e.as_str()).collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "livescan Sessions API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Streaming scan sessions: start a session, then poll it (full, progress-only or \
                incremental) or follow its server-sent events. For incremental polling pass the previous \
                response's `lastUpdated` as `since` (or its `cursor` as `after`), never the client's clock. \
                Every operation but /healthz and /openapi.json needs `Authorization: Bearer <api key>`."
        },
        "security": [{ "apiKey": [] }],
        "paths": {
            "/api/sessions": {
                "post": {
                    "summary": "Start a scan session",
                    "requestBody": { "required": true, "content": { "application/json": {
                        "schema": { "$ref": "#/components/schemas/StartRequest" } } } },
                    "responses": {
                        "202": json_response("Session started; tools run in the background", "Started"),
                        "400": error_response("Invalid request; `error.details.field` names the field (an unknown \
                            field also gets `error.details.suggestion`, the valid field it is closest to)"),
                        "402": error_response("The balance does not cover the selected tools; \
                            `error.details` holds `required` and `balance`"),
                        "415": error_response("The body is not sent as JSON (Content-Type: application/json)")
                    }
                },
                "get": {
                    "summary": "List your sessions, newest first",
                    "parameters": [
                        { "name": "limit", "in": "query", "required": false,
                          "schema": { "type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT, "default": DEFAULT_LIST_LIMIT } },
                        { "name": "before", "in": "query", "required": false, "schema": { "type": "string" },
                          "description": "Only sessions older than this one: the previous page's nextBefore." }
                    ],
                    "responses": {
                        "200": json_response("The sessions", "SessionList"),
                        "400": error_response("Invalid limit, or a before that is not one of your sessions")
                    }
                }
            },
            "/api/sessions/{id}": {
                "get": {
                    "summary": "Read a session: full, progress only, or the reports since a cursor",
                    "description": "Precedence: progress=true, then after, then since, else the full report.",
                    "parameters": [
                        session_id_param(),
                        { "name": "progress", "in": "query", "required": false, "schema": { "type": "boolean" },
                          "description": "If true, returns only status and progress counts." },
                        { "name": "since", "in": "query", "required": false, "schema": { "type": "string", "format": "date-time" },
                          "description": "Returns only reports completed after this time; pass the previous lastUpdated." },
                        { "name": "after", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0, "maximum": u64::MAX },
                          "description": "Returns only reports whose event came after this sequence number (a previous cursor)." }
                    ],
                    "responses": {
                        "200": { "description": "The session in the requested view", "content": { "application/json": {
                            "schema": { "oneOf": [
                                { "$ref": "#/components/schemas/Session" },
                                { "$ref": "#/components/schemas/SessionIncrement" },
                                { "$ref": "#/components/schemas/SessionProgress" } ] } } } },
                        "400": error_response("Invalid query parameter"),
                        "404": error_response("No such session")
                    }
                }
            },
            "/api/sessions/{id}/events": {
                "get": {
                    "summary": "Follow a session as server-sent events",
                    "description": "First a `snapshot` event (the full session), or with Last-Event-ID / after the events \
                        after that sequence number; then session_running, tool_started, tool_finished, cancel_requested, \
                        analysis and finally session_finished, after which the stream ends, unless session_finished says \
                        `narrativeFollows`: then the `narrative` event (the model's text or why there is none) is the last. \
                        Each SSE id is the sequence number.",
                    "parameters": [
                        session_id_param(),
                        { "name": "after", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0, "maximum": u64::MAX } },
                        { "name": "Last-Event-ID", "in": "header", "required": false, "schema": { "type": "integer", "minimum": 0, "maximum": u64::MAX } }
                    ],
                    "responses": {
                        "200": { "description": "An event stream", "content": { "text/event-stream": { "schema": {
                            "type": "object",
                            "description": "Each event's data is a JSON object: the Session for `snapshot`; \
                                otherwise the stored event (seq, at, type, and report / tool / status) with \
                                the progress after it, and the summary on session_finished." } } } },
                        "204": { "description": "The session has finished and nothing will follow the given cursor" },
                        "400": error_response("Invalid cursor"),
                        "404": error_response("No such session")
                    }
                }
            },
            "/api/sessions/{id}/cancel": {
                "post": {
                    "summary": "Cancel a session",
                    "parameters": [session_id_param()],
                    "responses": {
                        "200": json_response("The session after the cancel was recorded", "Session"),
                        "404": error_response("No such session")
                    }
                }
            },
            "/api/tools": {
                "get": {
                    "summary": "The tool catalog",
                    "responses": { "200": json_response("Every tool with its availability", "ToolList") }
                }
            },
            "/api/account": {
                "get": {
                    "summary": "Your balance and your newest ledger entries",
                    "responses": { "200": json_response("The account of the calling key", "Account") }
                }
            },
            "/api/sessions/{id}/sarif": {
                "get": {
                    "summary": "The session's reports so far as SARIF 2.1.0, as `livescan scan --format sarif` writes them",
                    "description": "By default one run whose driver is livescan, rules named `TOOL/RULE` (what GitHub code \
                        scanning accepts); `runs=per-tool` gives one run per tool.",
                    "parameters": [
                        session_id_param(),
                        { "name": "runs", "in": "query", "required": false, "schema": { "enum": ["one", "per-tool"] } },
                        { "name": "merge", "in": "query", "required": false, "schema": { "type": "boolean" },
                          "description": "One result per issue of the session's analysis (findings merged across tools), with the tools that saw it in its properties" }
                    ],
                    "responses": {
                        "200": { "description": "A SARIF 2.1.0 log", "content": { "application/sarif+json": {
                            "schema": { "type": "object", "required": ["version", "runs"] } } } },
                        "400": error_response("`runs` is not one or per-tool, `merge` not true or false, or merge asked of a session without an analysis"),
                        "404": error_response("No such session")
                    }
                }
            },
            "/api/uploads": {
                "post": {
                    "summary": "Upload a directory to scan, as a tar or tar.gz archive (told apart by its first bytes, whatever the content type); start a session on it with `target: {\"upload\": uploadId}`",
                    "description": "The body is streamed to disk, then checked whole before it is kept: absolute paths, `..`, \
                        links that leave the archive, device files and FIFOs are refused (400, naming the entry), and so is an \
                        archive past the server's limits on its size, its unpacked size, its files, its compression ratio or \
                        your uploads' quota (413, `error.details.limit` names the limit). Identical archives are stored once. \
                        An upload no session used for the server's retention time (default 24 hours) is removed.",
                    "requestBody": { "required": true, "content": {
                        "application/octet-stream": { "schema": { "type": "string", "format": "binary" } },
                        "application/x-tar": { "schema": { "type": "string", "format": "binary" } },
                        "application/gzip": { "schema": { "type": "string", "format": "binary" } } } },
                    "responses": {
                        "201": json_response("The upload", "Upload"),
                        "400": error_response("Not a tar or tar.gz archive, or an entry no upload may hold"),
                        "413": error_response("Past a limit: `archiveBytes`, `unpackedBytes`, `files`, `ratio` or `quotaBytes`")
                    }
                }
            },
            "/api/v1/scans": {
                "post": {
                    "deprecated": true,
                    "summary": "Start a scan the old way (deprecated: use POST /api/sessions)",
                    "description": "The target's fields at the top level (url, urls, directory or upload) beside the \
                        options. Answers with a `Deprecation` header and a `Link` to the Sessions API.",
                    "requestBody": { "required": true, "content": { "application/json": {
                        "schema": { "$ref": "#/components/schemas/LegacyScanRequest" } } } },
                    "responses": {
                        "202": json_response("Scan started", "LegacyScanStarted"),
                        "400": error_response("Invalid request; `error.details.field` names the field"),
                        "402": error_response("The balance does not cover the selected tools"),
                        "415": error_response("The body is not sent as JSON (Content-Type: application/json)")
                    }
                }
            },
            "/api/v1/scans/{scanId}": {
                "get": {
                    "deprecated": true,
                    "summary": "A scan's status and, once it has finished, all its results (deprecated: use GET /api/sessions/{id})",
                    "parameters": [{ "name": "scanId", "in": "path", "required": true, "schema": { "type": "string" },
                        "description": "The scanId POST /api/v1/scans answered." }],
                    "responses": {
                        "200": json_response("The scan", "LegacyScan"),
                        "404": error_response("No such scan")
                    }
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "security": [],
                    "responses": { "200": { "description": "The server is up", "content": { "application/json": {
                        "schema": { "type": "object", "required": ["status"], "properties": {
                            "status": { "const": "ok" }, "version": { "type": "string" },
                            "runningSessions": { "type": "integer" } } } } } } }
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": { "200": { "description": "OpenAPI 3.1", "content": { "application/json": { "schema": { "type": "object" } } } } }
                }
            }
        },
        "components": {
            "securitySchemes": {
                "apiKey": { "type": "http", "scheme": "bearer",
                    "description": "An API key from `livescan keys create`, or the server's local key file." }
            },
            "schemas": {
                "Account": {
                    "type": "object",
                    "required": ["userId", "name", "balance", "createdAt", "ledger"],
                    "properties": {
                        "userId": { "type": "string" }, "name": { "type": "string" },
                        "balance": { "type": "integer", "minimum": 0 },
                        "createdAt": { "type": "string", "format": "date-time" },
                        "ledger": { "type": "array", "description": "Newest first; at most 50 entries.",
                            "items": { "type": "object", "required": ["id", "at", "kind", "amount", "balanceAfter"],
                                "properties": {
                                    "id": { "type": "integer" }, "at": { "type": "string", "format": "date-time" },
                                    "kind": { "enum": ["grant", "reserve", "refund"] },
                                    "amount": { "type": "integer", "description": "Negative for reservations" },
                                    "balanceAfter": { "type": "integer" }, "sessionId": { "type": "string" },
                                    "note": { "type": "string" } } } }
                    }
                },
                // Defaults are told in descriptions, not with `default`:
                // openapi-typescript makes a field with a default required
                // in the request type it generates.
                "StartRequest": {
                    "type": "object",
                    "required": ["target"],
                    "additionalProperties": false,
                    "properties": {
                        "target": { "$ref": "#/components/schemas/Target" },
                        "categories": { "type": "array", "items": { "enum": categories } },
                        "tools": { "type": "array", "items": { "enum": tool_ids }, "maxItems": MAX_TOOL_NAMES,
                            "description": "Overrides categories" },
                        "excludeTools": { "type": "array", "items": { "enum": tool_ids }, "maxItems": MAX_TOOL_NAMES },
                        "enableIntelligence": { "type": "boolean",
                            "description": "Default true: when the last tool has finished, the findings are merged, ranked and graded into `intelligence` (no AI model is involved)." },
                        "timeout": { "type": "integer", "minimum": TIMEOUT_RANGE_MS.start(), "maximum": TIMEOUT_RANGE_MS.end(),
                            "description": format!("Max milliseconds per tool; default {DEFAULT_TIMEOUT_MS}") },
                        "maxConcurrent": { "type": "integer", "minimum": 1, "maximum": 32,
                            "description": format!("Tools of this session running at once; default {DEFAULT_MAX_CONCURRENT}") },
                        "config": { "type": "string", "maxLength": repo_config::MAX_BYTES,
                            "description": "The text of a livescan.toml, used instead of the one at the target's root \
                                (tools, excluded paths, severity overrides, suppressions); an unknown key is a 400 naming it" },
                        "baseline": { "type": "string", "pattern": "^sess-",
                            "description": "One of your sessions that has ended: each finding is marked new or unchanged \
                                (baselineState) and summary.newBySeverity counts the new ones" }
                    }
                },
                "Target": {
                    "type": "object",
                    "description": "Exactly one of url, urls, directory or upload. A directory must be an absolute \
                        path inside the server's scan roots; an upload is the id `POST /api/uploads` answered.",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "additionalProperties": false,
                    "properties": {
                        "url": { "type": "string", "format": "uri", "pattern": "^https?://" },
                        "urls": { "type": "array", "items": { "type": "string", "format": "uri", "pattern": "^https?://" },
                                  "minItems": 1, "maxItems": MAX_URLS },
                        "directory": { "type": "string", "pattern": "^/" },
                        "upload": { "type": "string", "pattern": "^upl-[a-z0-9]{20}$" }
                    }
                },
                "Upload": {
                    "type": "object",
                    "required": ["uploadId", "digest", "bytes", "files", "unpackedBytes", "createdAt", "lastUsedAt"],
                    "properties": {
                        "uploadId": { "type": "string" },
                        "digest": { "type": "string", "description": "`sha256:` and the archive's hex digest" },
                        "bytes": { "type": "integer", "description": "The archive's size as sent" },
                        "files": { "type": "integer" },
                        "unpackedBytes": { "type": "integer" },
                        "createdAt": { "type": "string", "format": "date-time" },
                        "lastUsedAt": { "type": "string", "format": "date-time" }
                    }
                },
                "Started": {
                    "type": "object",
                    "required": ["sessionId", "scanId", "status", "message", "pollUrls", "cursor", "lastUpdated"],
                    "properties": {
                        "sessionId": { "type": "string" }, "scanId": { "type": "string" },
                        "status": { "const": "started" }, "message": { "type": "string" },
                        "pollUrls": { "type": "object", "required": ["full", "progress", "newReports"], "properties": {
                            "full": { "type": "string" }, "progress": { "type": "string" },
                            "newReports": { "type": "string" }, "events": { "type": "string" } } },
                        "cursor": { "type": "integer" },
                        "lastUpdated": { "type": "string", "format": "date-time",
                            "description": "Pass as the first `since`." }
                    }
                },
                "SessionStatus": { "enum": ["initializing", "running", "completed", "partial", "failed", "cancelled"] },
                "Progress": {
                    "type": "object",
                    "required": ["total", "completed", "failed", "skipped", "running", "pending", "percentage"],
                    "description": "pending + running + completed + failed + skipped = total; \
                        percentage = floor(100 * (completed + failed + skipped) / total).",
                    "properties": {
                        "total": { "type": "integer" }, "completed": { "type": "integer" },
                        "failed": { "type": "integer" }, "skipped": { "type": "integer" },
                        "running": { "type": "integer" }, "pending": { "type": "integer" },
                        "percentage": { "type": "integer", "minimum": 0, "maximum": 100 }
                    }
                },
                "Finding": {
                    "type": "object",
                    "required": ["ruleId", "severity", "message", "fingerprint"],
                    "properties": {
                        "ruleId": { "type": "string" }, "severity": { "enum": severities },
                        "originalLevel": { "type": "string" }, "message": { "type": "string" },
                        "path": { "type": "string" }, "line": { "type": "integer" }, "column": { "type": "integer" },
                        "url": { "type": "string" }, "fingerprint": { "type": "string" }, "helpUri": { "type": "string" },
                        "cwe": { "type": "integer", "description": "The weakness, as a CWE number (89: SQL injection)" },
                        "baselineState": { "enum": ["new", "unchanged"], "description": "With a baseline only" },
                        "suppression": { "type": "object", "required": ["kind"],
                            "description": "Why the finding is accepted: it is listed but not counted, unless expired",
                            "properties": { "kind": { "enum": ["inline", "config"] }, "reason": { "type": "string" },
                                "expires": { "type": "string", "format": "date" }, "expired": { "type": "boolean" } } }
                    }
                },
                "ToolReport": {
                    "type": "object",
                    "required": ["toolName", "category", "status", "duration", "findingsCount", "result"],
                    "properties": {
                        "toolName": { "type": "string" },
                        "category": { "enum": categories },
                        "status": { "enum": ["pending", "running", "completed", "failed", "skipped"] },
                        "duration": { "type": "integer", "description": "Milliseconds" },
                        "findingsCount": { "type": "integer" },
                        "result": { "type": "object", "required": ["findings", "partial"], "properties": {
                            "outcome": { "enum": ["clean", "findings", "tool_error", "timed_out", "skipped"] },
                            "findings": { "type": "array", "items": { "$ref": "#/components/schemas/Finding" },
                                "description": "Worst first; at most the server's cap per report" },
                            "omitted": { "type": "object", "required": ["count", "bySeverity"],
                                "description": "Findings past the cap: counted in findingsCount, not listed",
                                "properties": { "count": { "type": "integer" },
                                    "bySeverity": { "$ref": "#/components/schemas/BySeverity" } } },
                            "leftOut": { "type": "object", "description": "Files of the tree the tool did not look at, by why",
                                "properties": { "vendored": { "type": "integer" }, "generated": { "type": "integer" },
                                    "minified": { "type": "integer" }, "binary": { "type": "integer" } } },
                            "error": { "type": "string" }, "skipReason": { "type": "string" },
                            "partial": { "type": "boolean" },
                            "suppressed": { "type": "integer", "description": "Listed findings that are suppressed: not in findingsCount" },
                            "rules": { "type": "array", "description": "What the tool said about the rules of the listed findings",
                                "items": { "type": "object", "required": ["id"], "properties": {
                                    "id": { "type": "string" }, "name": { "type": "string" },
                                    "description": { "type": "string" }, "help": { "type": "string" } } } },
                            "scanner": { "type": "object", "required": ["name"], "description": "The external program that ran",
                                "properties": { "name": { "type": "string" }, "version": { "type": "string" } } },
                            "metrics": { "type": "array", "description": "Measurements beside the findings, such as http-observatory",
                                "items": { "type": "object", "required": ["name", "value"], "properties": {
                                    "name": { "type": "string" }, "value": { "type": "string" }, "url": { "type": "string" } } } } } },
                        "startedAt": { "type": "string", "format": "date-time" },
                        "completedAt": { "type": "string", "format": "date-time" }
                    }
                },
                "BySeverity": { "type": "object", "properties": {
                    "critical": { "type": "integer" }, "high": { "type": "integer" }, "medium": { "type": "integer" },
                    "low": { "type": "integer" }, "info": { "type": "integer" } } },
                "Summary": {
                    "type": "object",
                    "required": ["totalFindings", "bySeverity", "byCategory", "toolsRun", "toolsSkipped", "toolsFailed"],
                    "properties": {
                        "totalFindings": { "type": "integer" },
                        "bySeverity": { "$ref": "#/components/schemas/BySeverity" },
                        "byCategory": { "type": "object", "additionalProperties": { "type": "integer" } },
                        "toolsRun": { "type": "integer" }, "toolsSkipped": { "type": "integer" }, "toolsFailed": { "type": "integer" },
                        "suppressed": { "type": "integer", "description": "Listed findings that are suppressed (not counted above)" },
                        "newBySeverity": { "$ref": "#/components/schemas/BySeverity",
                            "description": "With a baseline: the findings, not suppressed, it did not have" }
                    }
                },
                "Refund": {
                    "type": "object",
                    "properties": { "refundedCredits": { "type": "integer" },
                        "toolsRefunded": { "type": "array", "items": { "type": "string" } },
                        "analysisRefunded": { "type": "boolean",
                            "description": "The analysis was paid for and not made; its credits are in refundedCredits" },
                        "newBalance": { "type": "integer" } }
                },
                "Session": {
                    "type": "object",
                    "required": ["sessionId", "scanId", "userId", "status", "target", "progress", "toolReports", "summary",
                                 "createdAt", "completedAt", "lastUpdated", "cursor"],
                    "properties": {
                        "sessionId": { "type": "string" }, "scanId": { "type": "string" }, "userId": { "type": "string" },
                        "status": { "$ref": "#/components/schemas/SessionStatus" },
                        "target": { "$ref": "#/components/schemas/Target" },
                        "progress": { "$ref": "#/components/schemas/Progress" },
                        "toolReports": { "type": "object", "additionalProperties": { "$ref": "#/components/schemas/ToolReport" } },
                        "summary": { "$ref": "#/components/schemas/Summary" },
                        "refund": { "$ref": "#/components/schemas/Refund" },
                        "error": { "type": "string" },
                        "createdAt": { "type": "string", "format": "date-time" },
                        "completedAt": { "type": ["string", "null"], "format": "date-time" },
                        "lastUpdated": { "type": "string", "format": "date-time" },
                        "cursor": { "type": "integer" },
                        "creditsReserved": { "type": "integer", "description": "Credits taken when the session started" },
                        "intelligence": { "$ref": "#/components/schemas/Intelligence" }
                    }
                },
                "LegacyScanRequest": {
                    "type": "object",
                    "additionalProperties": false,
                    "description": "Exactly one of url, urls, directory or upload, as in the Sessions API's target.",
                    "properties": {
                        "url": { "type": "string", "format": "uri", "pattern": "^https?://" },
                        "urls": { "type": "array", "items": { "type": "string", "format": "uri", "pattern": "^https?://" },
                                  "minItems": 1, "maxItems": MAX_URLS },
                        "directory": { "type": "string", "pattern": "^/" },
                        "upload": { "type": "string", "pattern": "^upl-[a-z0-9]{20}$" },
                        "categories": { "type": "array", "items": { "enum": categories } },
                        "tools": { "type": "array", "items": { "enum": tool_ids }, "maxItems": MAX_TOOL_NAMES },
                        "excludeTools": { "type": "array", "items": { "enum": tool_ids }, "maxItems": MAX_TOOL_NAMES },
                        "enableIntelligence": { "type": "boolean" },
                        "timeout": { "type": "integer", "minimum": TIMEOUT_RANGE_MS.start(), "maximum": TIMEOUT_RANGE_MS.end() },
                        "maxConcurrent": { "type": "integer", "minimum": 1, "maximum": 32 }
                    }
                },
                "LegacyScanStarted": {
                    "type": "object",
                    "required": ["scanId", "sessionId", "status", "message"],
                    "properties": {
                        "scanId": { "type": "string" }, "sessionId": { "type": "string" },
                        "status": { "const": "started" }, "message": { "type": "string" }
                    }
                },
                "LegacyScan": {
                    "type": "object",
                    "required": ["scanId", "sessionId", "status", "progress", "createdAt"],
                    "description": "summary, results (every tool's report) and completedAt once the scan has finished",
                    "properties": {
                        "scanId": { "type": "string" }, "sessionId": { "type": "string" },
                        "status": { "$ref": "#/components/schemas/SessionStatus" },
                        "progress": { "$ref": "#/components/schemas/Progress" },
                        "createdAt": { "type": "string", "format": "date-time" },
                        "completedAt": { "type": ["string", "null"], "format": "date-time" },
                        "summary": { "$ref": "#/components/schemas/Summary" },
                        "results": { "type": "array", "items": { "$ref": "#/components/schemas/ToolReport" } },
                        "refund": { "$ref": "#/components/schemas/Refund" },
                        "error": { "type": "string" },
                        "intelligence": { "$ref": "#/components/schemas/Intelligence" }
                    }
                },
                "Intelligence": {
                    "type": "object",
                    "description": "The analysis of the findings (enableIntelligence, default true), recorded when the \
                        last tool has finished: findings of all tools merged into issues (one place, one weakness), \
                        ranked by severity, agreement between tools and exposure. Deterministic: the same findings \
                        give the same analysis.",
                    "required": ["riskScore", "grade", "summary", "findings", "issueCount", "corroborated", "issues",
                                 "priorities", "hotspots", "byOwasp"],
                    "properties": {
                        "riskScore": { "type": "integer", "minimum": 0, "maximum": 100 },
                        "grade": { "enum": ["A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "D-", "F"],
                            "description": "The HTTP Observatory's scale, of 100 - riskScore" },
                        "summary": { "type": "string" },
                        "findings": { "type": "integer", "description": "Findings that counted (not suppressed)" },
                        "issueCount": { "type": "integer" },
                        "corroborated": { "type": "integer", "description": "Issues reported by more than one tool" },
                        "issues": { "type": "array", "description": "The worst first; at most 500",
                            "items": { "type": "object",
                                "required": ["id", "title", "severity", "category", "confidence", "location", "exposure",
                                             "seenBy", "fingerprints", "score"],
                                "properties": {
                                    "id": { "type": "string" }, "title": { "type": "string" },
                                    "severity": { "enum": severities }, "category": { "enum": categories },
                                    "confidence": { "type": "integer", "minimum": 0, "maximum": 100 },
                                    "cwe": { "type": "integer" }, "owasp": { "type": "string" },
                                    "location": { "type": "string" },
                                    "exposure": { "enum": ["secrets-file", "deployment", "source", "test", "docs", "page"] },
                                    "seenBy": { "type": "array", "items": { "type": "object",
                                        "required": ["tool", "ruleId", "severity"], "properties": {
                                            "tool": { "type": "string" }, "ruleId": { "type": "string" },
                                            "severity": { "enum": severities } } } },
                                    "fingerprints": { "type": "array", "items": { "type": "string" } },
                                    "score": { "type": "integer" } } } },
                        "priorities": { "type": "array", "description": "What to fix first; at most 10",
                            "items": { "type": "object",
                                "required": ["rank", "issue", "title", "severity", "whatToDo", "why", "location"],
                                "properties": {
                                    "rank": { "type": "integer", "minimum": 1 }, "issue": { "type": "string" },
                                    "title": { "type": "string" }, "severity": { "enum": severities },
                                    "whatToDo": { "type": "string" }, "why": { "type": "string" },
                                    "location": { "type": "string" } } } },
                        "hotspots": { "type": "array", "items": { "type": "object",
                            "required": ["location", "issues", "worst", "score"], "properties": {
                                "location": { "type": "string" }, "issues": { "type": "integer" },
                                "worst": { "enum": severities }, "score": { "type": "integer" } } } },
                        "byOwasp": { "type": "object", "additionalProperties": { "type": "integer" } },
                        "narrative": { "type": "object", "required": ["model"],
                            "description": "A language model's reading of the issues (serve --llm-url), recorded after the \
                                session's end, so it may come later than the rest: its `text`, or the `error` that left \
                                it without one",
                            "properties": { "text": { "type": "string" }, "model": { "type": "string" },
                                "error": { "type": "string" } } }
                    }
                },
                "SessionProgress": {
                    "type": "object",
                    "required": ["sessionId", "status", "progress", "lastUpdated", "cursor"],
                    "additionalProperties": false,
                    "properties": {
                        "sessionId": { "type": "string" }, "status": { "$ref": "#/components/schemas/SessionStatus" },
                        "progress": { "$ref": "#/components/schemas/Progress" },
                        "lastUpdated": { "type": "string", "format": "date-time" }, "cursor": { "type": "integer" }
                    }
                },
                "SessionIncrement": {
                    "type": "object",
                    "required": ["sessionId", "status", "progress", "newReports", "lastUpdated", "cursor"],
                    "properties": {
                        "sessionId": { "type": "string" }, "status": { "$ref": "#/components/schemas/SessionStatus" },
                        "progress": { "$ref": "#/components/schemas/Progress" },
                        "newReports": { "type": "array", "items": { "$ref": "#/components/schemas/ToolReport" } },
                        "summary": { "$ref": "#/components/schemas/Summary" },
                        "lastUpdated": { "type": "string", "format": "date-time" }, "cursor": { "type": "integer" }
                    }
                },
                "SessionList": {
                    "type": "object",
                    "required": ["sessions", "total", "nextBefore"],
                    "properties": {
                        "sessions": { "type": "array", "items": { "type": "object",
                            "required": ["sessionId", "status", "progress", "createdAt", "completedAt"],
                            "properties": {
                                "sessionId": { "type": "string" }, "scanId": { "type": "string" },
                                "status": { "$ref": "#/components/schemas/SessionStatus" },
                                "target": { "$ref": "#/components/schemas/Target" },
                                "progress": { "$ref": "#/components/schemas/Progress" },
                                "summary": { "$ref": "#/components/schemas/Summary" },
                                "createdAt": { "type": "string", "format": "date-time" },
                                "completedAt": { "type": ["string", "null"], "format": "date-time" },
                                "lastUpdated": { "type": "string", "format": "date-time" },
                                "cursor": { "type": "integer" } } } },
                        "total": { "type": "integer" },
                        "nextBefore": { "type": ["string", "null"],
                            "description": "Pass as `before` for the next page; null on the last page." }
                    }
                },
                "ToolList": {
                    "type": "object",
                    "required": ["tools", "total", "analysis"],
                    "properties": {
                        "tools": { "type": "array", "items": { "type": "object",
                            "required": ["id", "category", "ecosystem", "targets", "available", "cost", "summary"],
                            "properties": {
                                "id": { "type": "string" }, "category": { "enum": categories },
                                "ecosystem": { "enum": ecosystems,
                                    "description": "What the tool looks at: a language's sources, a kind of file (`any` is every file), or web sites." },
                                "targets": { "type": "array", "items": { "enum": ["directory", "url", "urls"] } },
                                "available": { "type": "boolean" }, "cost": { "type": "integer" },
                                "summary": { "type": "string" }, "unavailableReason": { "type": "string" },
                                "installHint": { "type": "string" },
                                "averageDuration": { "type": "integer",
                                    "description": "Milliseconds its past runs on this server took on average; absent before its first run" },
                                "runs": { "type": "integer", "description": "How many times it ran (completed or failed) on this server" },
                                "version": { "type": "string",
                                    "description": "The version a run uses: livescan's for a native analyzer; for an external scanner, what it printed when last asked (absent until it has run once)" },
                                "circuit": { "type": "object", "required": ["state", "failures"],
                                    "description": "The tool's circuit breaker: open after repeated tool errors (the tool is skipped and refunded), half-open when a trial run is allowed",
                                    "properties": { "state": { "enum": ["closed", "open", "half-open"] },
                                        "failures": { "type": "integer" },
                                        "retryAt": { "type": "string", "format": "date-time" } } } } } },
                        "total": { "type": "integer" },
                        "analysis": { "type": "object", "required": ["cost", "summary"],
                            "description": "The analysis of a session's findings (enableIntelligence): its price, refunded when it is not made",
                            "properties": { "cost": { "type": "integer" }, "summary": { "type": "string" } } }
                    }
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": { "error": { "type": "object", "required": ["code", "message", "details"], "properties": {
                        "code": { "enum": ["invalid_argument", "not_found", "unauthenticated", "insufficient_credits",
                                           "rate_limited", "unavailable", "internal", "too_large",
                                           "unsupported_media_type"] },
                        "message": { "type": "string" },
                        "details": { "type": "object", "description": "field (for invalid_argument and unsupported_media_type), valid (the accepted values), required and balance (for insufficient_credits), retryAfterMs (for rate_limited), limit and max (for too_large)" } } } }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_a_unique_id_and_a_tag() {
        let document = document(&[]);
        let mut ids = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str();
                assert!(id.is_some(), "{method} {path} has no operationId");
                assert!(operation["tags"][0].is_string(), "{method} {path} has no tag");
                ids.push(id.unwrap().to_string());
            }
        }
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "operation ids repeat");
        assert_eq!(
            count,
            OPERATION_NAMES.len(),
            "a name for an operation that does not exist"
        );
    }
}
