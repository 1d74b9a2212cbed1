//! The server against its own OpenAPI document: schemathesis generates
//! requests from `/openapi.json` (examples, boundary values, fuzzing and
//! stateful sequences) and checks every response — status codes, content
//! types, headers and bodies — against what the document promises, plus
//! server errors and response-time sanity. Traffic goes to 127.0.0.1 only:
//! the server has no URL tools here, so it fetches nothing.

mod common;

use common::TestServer;
use livescan::model::TargetKind;
use livescan::tools::{Catalog, native};
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_does_what_its_openapi_document_says() {
    let st = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/python/bin/st");
    assert!(
        st.exists(),
        "{} is missing: run scripts/install-test-tools (or the whole suite with scripts/test)",
        st.display()
    );
    // Directory tools only: generated URL targets (public host names) are then
    // refused up front, so no request ever leaves this machine.
    let mut catalog = Catalog::default();
    for tool in native::all(&Default::default())
        .into_iter()
        .filter(|t| t.spec().applies_to(TargetKind::Directory))
    {
        catalog.add(tool);
    }
    let server = TestServer::with_catalog(catalog, 4).await;
    // A finished session gives the {id} operations something real to read.
    let dir = common::fixtures().join("dir-clean").display().to_string();
    let id = server
        .start_session(serde_json::json!({ "target": { "directory": dir } }))
        .await;
    let finished = server.wait_finished(&id).await;
    // The legacy scan of the same session: schemathesis otherwise learns a
    // scanId only from POST /api/v1/scans, which the rate limit may refuse.
    let scan_id = finished["scanId"].as_str().unwrap();
    let workdir = tempfile::tempdir().unwrap();
    std::fs::write(
        workdir.path().join("schemathesis.toml"),
        format!(
            "[[operations]]\ninclude-path-regex = \"\\\\{{id\\\\}}\"\nparameters = {{ id = \"{id}\" }}\n\n\
             [[operations]]\ninclude-path-regex = \"\\\\{{scanId\\\\}}\"\nparameters = {{ scanId = \"{scan_id}\" }}\n"
        ),
    )
    .unwrap();
    let output = tokio::process::Command::new(&st)
        .current_dir(workdir.path())
        .args(["run", &server.url("/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {}", server.key)])
        .args([
            "--checks",
            "all",
            "--max-examples",
            "30",
            "--seed",
            "20261128",
            "--workers",
            "1",
        ])
        // A directory target outside the scan roots is schema-valid yet
        // refused; no static schema can say which directories exist.
        .args(["--exclude-checks", "positive_data_acceptance"])
        .env("NO_COLOR", "1")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The {id} operations were reached with a real session, not only 404s.
    assert!(!report.contains("Missing test data"), "{report}");
    assert!(
        report.contains(" passed") && !report.contains("❌") && !report.contains("failed"),
        "{report}"
    );
}

/// Every operation shows an example of its success answer (and of its JSON
/// body, when it takes one), and each JSON example is valid against the
/// schema beside it (checked with `jsonschema-rs`): examples that clients
/// generated from the document show their users are real.
#[tokio::test]
async fn every_operation_has_examples_its_schemas_accept() {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/python/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-test-tools",
        python.display()
    );
    let server = TestServer::start().await;
    let (status, document) = server.get("/openapi.json").await;
    assert_eq!(status, 200);
    let mut cases = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let mut slots: Vec<(String, &serde_json::Value)> = Vec::new();
            if let Some(body) = operation.get("requestBody") {
                slots.push((format!("{method} {path} request"), &body["content"]));
            }
            let success = operation["responses"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(status, _)| status.starts_with('2') && *status != "204");
            let (status, response) = success.unwrap_or_else(|| panic!("{method} {path}: no success answer"));
            slots.push((format!("{method} {path} {status}"), &response["content"]));
            for (label, content) in slots {
                let media = content
                    .as_object()
                    .unwrap_or_else(|| panic!("{label}: no content"));
                for (kind, media) in media {
                    if label.ends_with("request") && !kind.ends_with("json") {
                        // An archive's bytes have no example worth showing.
                        continue;
                    }
                    let example = media
                        .get("example")
                        .unwrap_or_else(|| panic!("{label} ({kind}): no example"));
                    if kind.ends_with("json") {
                        cases.push(serde_json::json!({
                            "label": format!("{label} ({kind})"),
                            "schema": media["schema"],
                            "example": example,
                        }));
                    }
                }
            }
        }
    }
    // Twelve JSON answers (the events are a stream) and two start requests.
    assert_eq!(cases.len(), 14, "{cases:#?}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.json");
    let all = serde_json::json!({ "components": document["components"], "cases": cases });
    std::fs::write(&file, all.to_string()).unwrap();
    let check = "import json, sys, jsonschema_rs
doc = json.load(open(sys.argv[1]))
errors = []
for case in doc['cases']:
    schema = dict(case['schema'], components=doc['components'])
    validator = jsonschema_rs.Draft202012Validator(schema)
    errors += [f\"{case['label']}: {list(e.instance_path)}: {e.message}\" for e in validator.iter_errors(case['example'])]
print('\\n'.join(errors))
sys.exit(1 if errors else 0)";
    let output = std::process::Command::new(python)
        .args(["-c", check])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
