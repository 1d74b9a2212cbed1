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
    server.wait_finished(&id).await;
    let workdir = tempfile::tempdir().unwrap();
    std::fs::write(
        workdir.path().join("schemathesis.toml"),
        format!(
            "[[operations]]\ninclude-path-regex = \"\\\\{{id\\\\}}\"\nparameters = {{ id = \"{id}\" }}\n"
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
