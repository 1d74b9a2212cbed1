//! The README's own layout: `livescan serve` started in a project, the
//! project (and its parent) scanned. The server's data directory is never
//! read by a scan, by any route, so its keys stay private and its SQLite
//! locks stay held: keys and grants made beside it work, its write-ahead
//! log is never deleted under it, and a restart loses nothing.

use crate::common::{self, RealServer};
use serde_json::{Value, json};
use std::path::Path;

/// Every native directory tool that reads file contents or names, and
/// external scanners that walk the tree themselves.
const TOOLS: &[&str] = &[
    "secrets",
    "sensitive-files",
    "large-files",
    "binary-artifacts",
    "todo-comments",
    "whitespace",
    "config-syntax",
    "duplicate-code",
    "ruff",
    "codespell",
];

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

async fn scan(server: &RealServer, directory: &Path) -> Value {
    let body = json!({ "target": { "directory": directory }, "tools": TOOLS });
    let id = common::start_with(&server.client(), &server.base, body).await;
    common::wait_terminal(&server.client(), &server.base, &id).await
}

/// No finding of the session points into the data directory, and the
/// session holds nothing of the server's key.
fn assert_data_dir_unread(session: &Value, key: &str) {
    assert_eq!(session["status"], "completed", "{session}");
    let key_id = &key[..16];
    assert!(
        !session.to_string().contains(key_id),
        "the server's key leaked: {session}"
    );
    for (tool, report) in session["toolReports"].as_object().unwrap() {
        for finding in report["result"]["findings"].as_array().unwrap() {
            let path = finding["path"].as_str().unwrap_or_default();
            assert!(
                !path.contains("livescan-data") && !path.contains("data-link"),
                "{tool} read the data directory: {finding}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_of_the_servers_own_project_never_reads_its_data_directory() {
    let parent = tempfile::tempdir().unwrap();
    let project = parent.path().join("project");
    write(&project.join("app.py"), "import os\nprint(os.getcwd())\n");
    write(&project.join("config/settings.toml"), "name = \"app\"\n");
    // Started in the project as the README says; allowed to scan its parent.
    let parent_arg = parent.path().to_str().unwrap();
    let mut server = RealServer::start_in(&project, &["--scan-root", parent_arg]);
    let data_dir = project.join("livescan-data");
    std::os::unix::fs::symlink(&data_dir, project.join("data-link")).unwrap();
    std::os::unix::fs::symlink(&data_dir, parent.path().join("elsewhere")).unwrap();

    let in_project = scan(&server, &project).await;
    assert_data_dir_unread(&in_project, &server.key);
    let in_parent = scan(&server, parent.path()).await;
    assert_data_dir_unread(&in_parent, &server.key);
    assert!(
        in_parent["toolReports"]["whitespace"]["status"] == "completed",
        "{in_parent}"
    );

    // The data directory itself is refused as a target, by any name.
    for target in [
        data_dir.clone(),
        project.join("data-link"),
        parent.path().join("elsewhere/work"),
    ] {
        let response = server
            .client()
            .post(format!("{}/api/sessions", server.base))
            .json(&json!({ "target": { "directory": target }, "tools": ["secrets"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{}", target.display());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["details"]["field"], "target.directory");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("never scanned"), "{message}");
    }

    // The operator's commands beside the server still reach the same data.
    let (code, key, err) = common::livescan_in(
        &project,
        &["keys", "create", "--name", "newcomer", "--credits", "5"],
    );
    assert_eq!(code, 0, "{err}");
    let newcomer = common::http_with_key(key.trim());
    let account = common::get_json(&newcomer, &format!("{}/api/account", server.base)).await;
    assert_eq!(account["balance"], 5, "{account}");
    let user = account["userId"].as_str().unwrap();
    let (code, _, err) = common::livescan_in(&project, &["credits", "grant", user, "7"]);
    assert_eq!(code, 0, "{err}");
    let account = common::get_json(&newcomer, &format!("{}/api/account", server.base)).await;
    assert_eq!(account["balance"], 12, "{account}");
    assert!(
        data_dir.join("livescan.sqlite-wal").exists(),
        "the write-ahead log was deleted under the running server"
    );

    // And nothing acknowledged is lost across a restart.
    server.kill();
    let server = RealServer::start_in(&project, &["--scan-root", parent_arg]);
    let list = common::get_json(&server.client(), &format!("{}/api/sessions", server.base)).await;
    assert_eq!(list["total"], 2, "{list}");
    for id in [&in_project["sessionId"], &in_parent["sessionId"]] {
        let session = common::get_json(
            &server.client(),
            &format!("{}/api/sessions/{}", server.base, id.as_str().unwrap()),
        )
        .await;
        assert_eq!(session["status"], "completed", "{session}");
    }
    let account = common::get_json(&newcomer, &format!("{}/api/account", server.base)).await;
    assert_eq!(account["balance"], 12, "{account}");
}
