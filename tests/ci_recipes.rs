//! The CI recipes in `docs/ci`, run as a CI system would run them: each
//! file parses, hands its SARIF file to the upload step (GitHub) or keeps it
//! as an artifact (GitLab), and each of its `livescan` commands runs, as
//! written, against a real server on 127.0.0.1 from a checkout that server
//! cannot see (its scan roots are elsewhere), with `LIVESCAN_SERVER` and
//! `LIVESCAN_API_KEY` set as the recipe says. The planted criticals fail
//! the job; the SARIF is written either way.

mod common;

use common::{RealServer, copy_tree, fixtures};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn recipe(name: &str) -> serde_yaml_ng::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ci").join(name);
    serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The file a `livescan scan` command writes its report into.
fn output_of(command: &str) -> String {
    let words: Vec<&str> = command.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "--output")
        .expect("the recipe writes a file");
    words[at + 1].to_string()
}

/// Runs `command` with `sh` in a fresh checkout of `dir-planted`, as the
/// job would; returns the exit code, the log and the SARIF it wrote.
fn run_in_checkout(server: &RealServer, command: &str) -> (i32, String, Value) {
    let checkout = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join("dir-planted"), checkout.path());
    let bin: PathBuf = Path::new(env!("CARGO_BIN_EXE_livescan")).parent().unwrap().into();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let output = Command::new("sh")
        .args(["-c", command])
        .current_dir(checkout.path())
        .env("PATH", path)
        .env("LIVESCAN_SERVER", &server.base)
        .env("LIVESCAN_API_KEY", &server.key)
        // Fewer tools than a real job runs, to keep the suite quick.
        .env("LIVESCAN_TOOLS", "secrets,merge-conflicts")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let sarif = std::fs::read_to_string(checkout.path().join(output_of(command)))
        .unwrap_or_else(|e| panic!("`{command}` wrote no report ({e}):\n{log}"));
    (
        output.status.code().unwrap_or(-1),
        log,
        serde_json::from_str(&sarif).unwrap(),
    )
}

/// Checks what one recipe's scan did.
fn job_ran(code: i32, log: &str, sarif: &Value) {
    assert_eq!(code, 1, "the planted criticals fail the job:\n{log}");
    assert!(
        log.contains("Uploaded as upl-"),
        "the checkout is uploaded:\n{log}"
    );
    assert!(
        log.contains("✓ secrets: "),
        "the live lines are in the log:\n{log}"
    );
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"].as_array().unwrap().len(), 1);
    assert!(!sarif["runs"][0]["results"].as_array().unwrap().is_empty());
}

fn server() -> (RealServer, tempfile::TempDir, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let roots = tempfile::tempdir().unwrap();
    let server = RealServer::start_with(
        data.path(),
        "127.0.0.1:0",
        "info",
        &["--scan-root", roots.path().to_str().unwrap()],
    );
    (server, data, roots)
}

#[test]
fn the_github_actions_recipe_scans_the_checkout_and_uploads_its_sarif() {
    let recipe = recipe("github-actions.yml");
    let steps = recipe["jobs"]["scan"]["steps"].as_sequence().unwrap();
    let scan = steps
        .iter()
        .find(|s| s["run"].as_str().is_some_and(|r| r.contains("livescan ")))
        .expect("a step runs livescan");
    for variable in ["LIVESCAN_SERVER", "LIVESCAN_API_KEY"] {
        assert!(scan["env"][variable].is_string(), "the scan step sets {variable}");
    }
    assert_eq!(recipe["permissions"]["security-events"], "write");
    let command = scan["run"].as_str().unwrap();
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@"))
        })
        .expect("a step uploads the SARIF");
    assert_eq!(
        upload["with"]["sarif_file"].as_str(),
        Some(output_of(command).as_str())
    );
    assert!(
        upload["if"].as_str().unwrap().contains("always()"),
        "the SARIF is uploaded when the scan fails the job too"
    );

    let (server, _data, _roots) = server();
    let (code, log, sarif) = run_in_checkout(&server, command);
    job_ran(code, &log, &sarif);
}

#[test]
fn the_gitlab_recipe_scans_the_checkout_and_keeps_its_sarif() {
    let recipe = recipe("gitlab-ci.yml");
    let job = &recipe["livescan"];
    let commands: Vec<&str> = job["script"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|line| line.as_str())
        .filter(|line| line.contains("livescan "))
        .collect();
    assert_eq!(commands.len(), 1, "{commands:?}");
    let kept: Vec<&str> = job["artifacts"]["paths"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert!(kept.contains(&output_of(commands[0]).as_str()), "{kept:?}");
    assert_eq!(job["artifacts"]["when"], "always");

    let (server, _data, _roots) = server();
    let (code, log, sarif) = run_in_checkout(&server, commands[0]);
    job_ran(code, &log, &sarif);
}
