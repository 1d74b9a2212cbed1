//! SARIF as code scanning receives it: the server's
//! `GET /api/sessions/{id}/sarif` and `livescan scan --format sarif` write
//! the same document, valid against the SARIF 2.1.0 schema (shipped in
//! `tests/fixtures/sarif`, checked with `jsonschema-rs` from
//! `scripts/install-test-tools`) and within GitHub's documented limits.

mod common;

use common::{TestServer, copy_tree, fixtures};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// GitHub code scanning's limits on one uploaded SARIF file.
const MAX_RUNS: usize = 20;
const MAX_RESULTS_PER_RUN: usize = 25_000;
const MAX_RULES_PER_RUN: usize = 25_000;
const MAX_LOCATIONS_PER_RESULT: usize = 1_000;
const MAX_TAGS_PER_RULE: usize = 20;

/// The schema's verdict on `document`: `Ok` or every error it finds.
fn validate(document: &Value) -> Result<(), String> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/python/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-test-tools (or the whole suite with scripts/test)",
        python.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("document.sarif");
    std::fs::write(&file, document.to_string()).unwrap();
    let schema = fixtures().join("sarif/sarif-schema-2.1.0.json");
    let check = "import json, sys, jsonschema_rs
schema = json.load(open(sys.argv[1]))
document = json.load(open(sys.argv[2]))
validator = jsonschema_rs.Draft4Validator(schema)
errors = [f'{list(e.instance_path)}: {e.message}' for e in validator.iter_errors(document)]
print('\\n'.join(errors[:20]))
sys.exit(1 if errors else 0)";
    let output = Command::new(python)
        .args(["-c", check])
        .arg(&schema)
        .arg(&file)
        .output()
        .unwrap();
    match output.status.success() {
        true => Ok(()),
        false => Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}

/// Panics unless `document` is within GitHub's limits and every result
/// points at its rule.
fn within_github_limits(document: &Value) {
    let runs = document["runs"].as_array().unwrap();
    assert!(runs.len() <= MAX_RUNS, "{} runs", runs.len());
    let mut categories = std::collections::HashSet::new();
    for run in runs {
        let driver = &run["tool"]["driver"];
        let category = run["automationDetails"]["id"].as_str().unwrap();
        assert!(
            categories.insert((driver["name"].clone(), category.to_string())),
            "two runs of one tool in category {category}"
        );
        let rules = driver["rules"].as_array().unwrap();
        let results = run["results"].as_array().unwrap();
        assert!(rules.len() <= MAX_RULES_PER_RUN);
        assert!(results.len() <= MAX_RESULTS_PER_RUN);
        for rule in rules {
            assert!(rule["properties"]["tags"].as_array().unwrap().len() <= MAX_TAGS_PER_RULE);
        }
        for result in results {
            let rule = &rules[result["ruleIndex"].as_u64().unwrap() as usize];
            assert_eq!(rule["id"], result["ruleId"]);
            let locations = result["locations"].as_array().map_or(0, Vec::len);
            assert!(locations <= MAX_LOCATIONS_PER_RESULT);
        }
    }
}

/// Runs `livescan scan dir-planted --server … --format sarif --output
/// PATH ARGS` under umask 022, as a CI job would, and checks it passed.
async fn sarif_into(server: &TestServer, path: &Path, args: &str) {
    let command = format!(
        "umask 022 && exec {} scan {} --server {} --format sarif --output {} --fail-on none {args}",
        env!("CARGO_BIN_EXE_livescan"),
        fixtures().join("dir-planted").display(),
        server.base,
        path.display()
    );
    let output = tokio::task::spawn_blocking({
        let key = server.key.clone();
        move || {
            Command::new("sh")
                .args(["-c", &command])
                .env("LIVESCAN_API_KEY", key)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_sarif_is_one_valid_run_that_github_accepts() {
    // dir-planted, plus a page, a Dockerfile and a workflow: files for
    // more tools than GitHub takes runs (tools with nothing to analyse are
    // skipped, not run).
    let tree = tempfile::tempdir().unwrap();
    let root = tree.path().canonicalize().unwrap();
    copy_tree(&fixtures().join("dir-planted"), &root);
    std::fs::create_dir_all(root.join("web")).unwrap();
    std::fs::write(
        root.join("web/index.html"),
        "<!doctype html>\n<html><head><title>Shop</title></head>\n<body><img src=\"cart.png\"></body></html>\n",
    )
    .unwrap();
    std::fs::write(root.join("Dockerfile"), "FROM python:latest\nCOPY . /app\n").unwrap();
    std::fs::create_dir_all(root.join(".github/workflows")).unwrap();
    std::fs::write(
        root.join(".github/workflows/ci.yml"),
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n",
    )
    .unwrap();
    let scan_root = root.clone();
    let server = TestServer::with_config(common::test_catalog(), |config| {
        config.policy.scan_roots = vec![scan_root];
    })
    .await;
    let dir = root.display().to_string();
    let id = server
        .start_session(json!({ "target": { "directory": dir } }))
        .await;
    let session = server.wait_finished(&id).await;
    let ran = session["toolReports"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| matches!(r["status"].as_str(), Some("completed" | "failed")))
        .count();
    assert!(ran > MAX_RUNS, "more tools ran ({ran}) than GitHub takes runs");

    let response = server
        .client()
        .get(server.url(&format!("/api/sessions/{id}/sarif")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/sarif+json");
    let one: Value = response.json().await.unwrap();
    validate(&one).unwrap();
    within_github_limits(&one);
    let runs = one["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["tool"]["driver"]["name"], "livescan");
    assert_eq!(runs[0]["automationDetails"]["id"], "livescan/");
    let results = runs[0]["results"].as_array().unwrap();
    // Suppressed findings are results too, with their suppressions.
    let suppressed = results
        .iter()
        .filter(|r| r["suppressions"][0]["status"] == "accepted")
        .count();
    assert_eq!(
        suppressed as u64,
        session["summary"]["suppressed"].as_u64().unwrap()
    );
    assert!(suppressed > 0, "dir-planted has a `livescan:ignore`");
    assert_eq!(
        results.len() as u64,
        session["summary"]["totalFindings"].as_u64().unwrap() + suppressed as u64,
        "every finding is a result"
    );
    let secret = results
        .iter()
        .find(|r| r["ruleId"] == "secrets/aws-access-key-id")
        .expect("rules are named TOOL/RULE");
    assert_eq!(secret["properties"]["tool"], "secrets");
    let rules = runs[0]["tool"]["driver"]["rules"].as_array().unwrap();
    let rule = &rules[secret["ruleIndex"].as_u64().unwrap() as usize];
    assert_eq!(rule["properties"]["tool"], "secrets");
    assert_eq!(rule["properties"]["security-severity"], "9.5");
    assert!(
        rule["properties"]["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("external/cwe/cwe-798")),
        "{rule}"
    );

    let (status, per_tool) = server
        .get(&format!("/api/sessions/{id}/sarif?runs=per-tool"))
        .await;
    assert_eq!(status, 200);
    validate(&per_tool).unwrap();
    assert_eq!(per_tool["runs"].as_array().unwrap().len(), ran);

    let (status, refusal) = server.get(&format!("/api/sessions/{id}/sarif?runs=all")).await;
    assert_eq!(
        (status, &refusal["error"]["details"]["field"]),
        (400, &json!("runs"))
    );
    let (status, _) = server.get("/api/sessions/sess-nosuchsession0000000/sarif").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clis_sarif_is_the_servers_document_in_a_file_anyone_may_read() {
    let server = TestServer::start().await;
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("livescan.sarif");
    let planted = fixtures().join("dir-planted");
    sarif_into(&server, &path, "--tools secrets,merge-conflicts,todo-comments").await;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "{mode:o}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    validate(&written).unwrap();
    within_github_limits(&written);
    let root = url::Url::from_directory_path(&planted).unwrap();
    assert_eq!(
        written["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"],
        root.as_str()
    );

    // The same session read from the server: the same document, but for
    // the local directory as the source root.
    let sessions = server.get("/api/sessions?limit=1").await.1;
    let id = sessions["sessions"][0]["sessionId"].as_str().unwrap();
    let (_, served) = server.get(&format!("/api/sessions/{id}/sarif")).await;
    let mut local = written.clone();
    local["runs"][0]
        .as_object_mut()
        .unwrap()
        .remove("originalUriBaseIds");
    assert_eq!(local, served);
}

/// `?merge=true` and `--sarif-merge`: one result per issue of the analysis,
/// a secret two tools reported standing once with both in its properties,
/// valid and within GitHub's limits; the CLI writes what the server serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_sarif_has_one_result_per_issue_with_every_tool_that_saw_it() {
    let server = TestServer::with_catalog(common::installed_catalog(), 4).await;
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("merged.sarif");
    sarif_into(
        &server,
        &path,
        "--sarif-merge --tools secrets,detect-secrets,merge-conflicts",
    )
    .await;
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    validate(&written).unwrap();
    within_github_limits(&written);

    let sessions = server.get("/api/sessions?limit=1").await.1;
    let id = sessions["sessions"][0]["sessionId"].as_str().unwrap();
    let (_, session) = server.get(&format!("/api/sessions/{id}")).await;
    let analysis = &session["intelligence"];
    let (status, served) = server.get(&format!("/api/sessions/{id}/sarif?merge=true")).await;
    assert_eq!(status, 200, "{served}");
    let mut local = written.clone();
    local["runs"][0]
        .as_object_mut()
        .unwrap()
        .remove("originalUriBaseIds");
    assert_eq!(local, served);

    let results = served["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len() as u64, analysis["issueCount"].as_u64().unwrap());
    assert_eq!(served["runs"][0]["automationDetails"]["id"], "livescan-merged/");
    // A secret both secret scanners saw is one result naming both.
    let both = results
        .iter()
        .find(|r| r["properties"]["tools"].as_array().unwrap().len() == 2)
        .expect("an issue two tools saw");
    let tools: Vec<&str> = both["properties"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tool"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["detect-secrets", "secrets"]);
    assert_eq!(both["properties"]["confidence"], 91);
    assert!(
        both["partialFingerprints"]["livescan/issue/v1"]
            .as_str()
            .unwrap()
            .starts_with("iss-")
    );

    let (status, body) = server.get(&format!("/api/sessions/{id}/sarif?merge=maybe")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"]["field"], "merge");
}
