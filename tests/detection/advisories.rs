//! Dependency advisories offline: `livescan advisories refresh` fills a
//! directory from OSV-style archives (here a local server that serves them
//! as the OSV project does), refusing to write outside it; a scan then
//! matches pinned dependencies against that data and says how old it is.

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

fn livescan(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livescan"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn advisory(id: &str, package: &str, fixed: &str, modified: &str) -> Vec<u8> {
    json!({
        "id": id,
        "modified": modified,
        "summary": format!("{package} runs attacker-controlled code"),
        "affected": [{
            "package": { "ecosystem": "npm", "name": package },
            "ranges": [{ "type": "SEMVER", "events": [{ "introduced": "0" }, { "fixed": fixed }] }]
        }],
        "database_specific": { "severity": "CRITICAL" }
    })
    .to_string()
    .into_bytes()
}

/// An archive as OSV publishes one, with a few entries no archive should have.
fn archive() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    let entries: [(&str, Vec<u8>); 4] = [
        (
            "GHSA-test-0001.json",
            advisory("GHSA-test-0001", "left-padder", "2.0.0", "2026-12-01T10:00:00Z"),
        ),
        // A path that climbs out: only its file name is kept.
        (
            "../../escape.json",
            advisory("GHSA-test-0002", "right-padder", "1.0.0", "2026-11-02T10:00:00Z"),
        ),
        ("README.txt", b"not an advisory".to_vec()),
        ("broken.json", b"{\"id\": 3".to_vec()),
    ];
    for (name, bytes) in entries {
        zip.start_file(name, options).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

async fn archive_server() -> String {
    let bytes = archive();
    let app = Router::new().route("/npm/all.zip", get(move || async move { bytes.clone() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshed_advisories_are_used_and_their_age_is_reported() {
    let source = archive_server().await;
    let work = tempfile::tempdir().unwrap();
    let into = work.path().join("advisories");
    let into_arg = into.to_str().unwrap();

    let run = tokio::task::spawn_blocking({
        let (work, source, into_arg) = (work.path().to_path_buf(), source.clone(), into_arg.to_string());
        move || {
            livescan(
                &[
                    "advisories",
                    "refresh",
                    "--into",
                    &into_arg,
                    "--source",
                    &source,
                    "--ecosystems",
                    "npm",
                ],
                &work,
            )
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("npm: 2 advisories"), "{stdout}");
    let mut files: Vec<String> = std::fs::read_dir(into.join("npm"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["GHSA-test-0001.json", "escape.json"]);
    assert!(!work.path().join("escape.json").exists() && !into.join("escape.json").exists());

    // A tree that pins a vulnerable version in its manifest.
    let tree = work.path().join("app");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(
        tree.join("package.json"),
        "{\n  \"name\": \"app\",\n  \"dependencies\": {\n    \"left-padder\": \"1.4.0\"\n  }\n}\n",
    )
    .unwrap();
    let report = work.path().join("report.json");
    let scan = tokio::task::spawn_blocking({
        let (work, tree, into_arg, report) = (
            work.path().to_path_buf(),
            tree.to_str().unwrap().to_string(),
            into_arg.to_string(),
            report.to_str().unwrap().to_string(),
        );
        move || {
            livescan(
                &[
                    "scan",
                    &tree,
                    "--data-dir",
                    "data",
                    "--advisory-db",
                    &into_arg,
                    "--tools",
                    "vulnerable-dependencies",
                    "--format",
                    "json",
                    "--output",
                    &report,
                    "--fail-on",
                    "none",
                ],
                &work,
            )
        }
    })
    .await
    .unwrap();
    assert!(scan.status.success(), "{}", String::from_utf8_lossy(&scan.stderr));
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let result = &report["toolReports"]["vulnerable-dependencies"]["result"];
    let findings = result["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{result:#}");
    assert_eq!(findings[0]["ruleId"], "GHSA-test-0001");
    assert_eq!(findings[0]["path"], "package.json");
    assert_eq!(findings[0]["line"], 4);
    assert_eq!(findings[0]["severity"], "critical");
    let about = result["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "advisory data")
        .unwrap_or_else(|| panic!("no advisory data metric: {result:#}"))["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        about.contains("2 advisories from") && about.contains("newest change 2026-12-01"),
        "{about}"
    );
    assert!(about.contains("built-in snapshot of"), "{about}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_that_cannot_get_its_data_says_why_and_keeps_what_was_there() {
    let source = archive_server().await;
    let work = tempfile::tempdir().unwrap();
    let into = work.path().join("advisories");
    std::fs::create_dir_all(into.join("PyPI")).unwrap();
    std::fs::write(into.join("PyPI/kept.json"), "{}").unwrap();
    let runs = tokio::task::spawn_blocking({
        let (work, source, into) = (
            work.path().to_path_buf(),
            source.clone(),
            into.to_str().unwrap().to_string(),
        );
        move || {
            [
                livescan(
                    &[
                        "advisories",
                        "refresh",
                        "--into",
                        &into,
                        "--source",
                        &source,
                        "--ecosystems",
                        "PyPI",
                    ],
                    &work,
                ),
                livescan(
                    &[
                        "advisories",
                        "refresh",
                        "--into",
                        &into,
                        "--source",
                        "ftp://mirror.example/osv",
                    ],
                    &work,
                ),
                livescan(
                    &["advisories", "refresh", "--into", &into, "--ecosystems", "CRAN"],
                    &work,
                ),
            ]
        }
    })
    .await
    .unwrap();
    let stderr = |run: &Output| String::from_utf8_lossy(&run.stderr).into_owned();
    assert_eq!(runs[0].status.code(), Some(1));
    assert!(
        stderr(&runs[0]).contains("PyPI/all.zip: HTTP 404"),
        "{}",
        stderr(&runs[0])
    );
    assert!(
        into.join("PyPI/kept.json").exists(),
        "a failed refresh keeps the old data"
    );
    assert_eq!(runs[1].status.code(), Some(1));
    assert!(stderr(&runs[1]).contains("--source: `ftp://mirror.example/osv` is not an http(s) URL"));
    assert_eq!(runs[2].status.code(), Some(2));
    assert!(
        stderr(&runs[2]).contains("--ecosystems: `CRAN`"),
        "{}",
        stderr(&runs[2])
    );
}
