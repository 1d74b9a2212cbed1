//! A repository is untrusted input, and git stores symlinks. A link planted
//! in the tree, to a file or a directory outside it (the server's own key,
//! say), is never followed by any tool: native tools read through the
//! inventory, external scanners walk a view that holds only the tree's own
//! files. Not one byte from outside the target reaches a report.

use crate::common::{self, TestServer};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tool_reports_a_byte_from_outside_the_target() {
    // Names without a leading dot: some scanners skip hidden paths, which
    // would hide a leak rather than prevent it.
    let outside = tempfile::Builder::new().prefix("outside-").tempdir().unwrap();
    let marker = format!("LEAKED-{}", uuid::Uuid::new_v4().simple());
    // Python that every Python scanner has something to say about, holding the marker.
    let secret_code = format!(
        "import subprocess\npassword = \"{marker}\"\nsubprocess.call(password, shell=True)\neval(password)\n# TODO {marker}\n"
    );
    std::fs::write(outside.path().join("secret.py"), &secret_code).unwrap();
    std::fs::write(outside.path().join("local.key"), format!("{marker}\n")).unwrap();
    std::fs::write(
        outside.path().join("Dockerfile"),
        format!("FROM ubuntu\nENV TOKEN={marker}\n"),
    )
    .unwrap();

    let root = tempfile::Builder::new().prefix("tree-").tempdir().unwrap();
    let tree = root.path();
    std::fs::write(tree.join("app.py"), "import os\n\nprint(eval(os.getcwd()))\n").unwrap();
    std::fs::create_dir(tree.join("sub")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.py"), tree.join("conf.py")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("local.key"), tree.join("sub/settings.py")).unwrap();
    std::os::unix::fs::symlink(outside.path(), tree.join("vendored")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("Dockerfile"), tree.join("Dockerfile")).unwrap();

    let canonical = tree.canonicalize().unwrap();
    let server = TestServer::with_config(common::installed_catalog(), |config| {
        config.policy.scan_roots = vec![canonical.clone()];
    })
    .await;
    let tools: Vec<Value> = server.get("/api/tools").await.1["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["targets"].as_array().unwrap().contains(&json!("directory")))
        .map(|t| t["id"].clone())
        .filter(|id| id != "vulnerable-dependencies")
        .collect();
    assert!(tools.len() >= 35, "{tools:?}");
    let id = server
        .start_session(json!({ "target": { "directory": canonical }, "tools": tools }))
        .await;
    let session = server.wait_finished(&id).await;
    let body = session.to_string();
    assert!(
        !body.contains(&marker),
        "a byte from outside the target leaked: {body}"
    );
    for (tool, report) in session["toolReports"].as_object().unwrap() {
        // A tool whose files here are all links has nothing to analyse.
        assert!(
            report["status"] == "completed" || report["result"]["skipReason"] == "nothing to analyse",
            "{tool}: {report}"
        );
        for finding in report["result"]["findings"].as_array().unwrap() {
            let path = finding["path"].as_str().unwrap_or_default();
            assert!(
                ["conf.py", "sub/settings.py", "Dockerfile"]
                    .iter()
                    .all(|link| path != *link)
                    && !path.starts_with("vendored"),
                "{tool} followed a link: {finding}"
            );
        }
    }
    // The tree's own file was scanned, by native and external tools alike.
    for tool in ["dangerous-calls", "bandit", "ruff", "semgrep"] {
        let findings = session["toolReports"][tool]["result"]["findings"].to_string();
        assert!(findings.contains("app.py"), "{tool}: {findings}");
    }
}
