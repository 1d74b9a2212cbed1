//! The protos stay fit for SDKs: `buf lint` (the STANDARD rules, `buf.yaml`)
//! passes, and `buf breaking` finds nothing between the previous commit's
//! protos and these. buf comes from the TypeScript SDK's npm packages
//! (`scripts/install-test-tools`), and works offline.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn buf() -> PathBuf {
    let buf = root().join("clients/typescript/node_modules/.bin/buf");
    assert!(
        buf.exists(),
        "{} is missing: run scripts/install-test-tools (or the whole suite with scripts/test)",
        buf.display()
    );
    buf
}

/// Runs buf in the repository root: (success, what it printed).
fn run_buf(args: &[&str]) -> (bool, String) {
    let output = Command::new(buf())
        .args(args)
        .current_dir(root())
        .env("BUF_CACHE_DIR", root().join("target/buf-cache"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The previous commit, fetching one more commit of history when the clone
/// is too shallow to have it.
fn previous_commit() -> String {
    let rev_parse = || {
        Command::new("git")
            .args(["rev-parse", "--verify", "--quiet", "HEAD~1^{commit}"])
            .current_dir(root())
            .output()
            .unwrap()
    };
    let mut found = rev_parse();
    if !found.status.success() {
        let _ = Command::new("git")
            .args(["fetch", "--quiet", "--deepen=1"])
            .current_dir(root())
            .status();
        found = rev_parse();
    }
    assert!(
        found.status.success(),
        "buf breaking compares with the previous commit, and this clone has none (a shallow clone without its origin?)"
    );
    String::from_utf8(found.stdout).unwrap().trim().to_string()
}

#[test]
fn buf_lint_passes() {
    let (ok, text) = run_buf(&["lint"]);
    assert!(ok, "buf lint:\n{text}");
}

#[test]
fn the_protos_do_not_break_the_previous_commits() {
    let against = format!(".git#ref={},subdir=proto", previous_commit());
    let (ok, text) = run_buf(&["breaking", "proto", "--against", &against]);
    assert!(ok, "buf breaking against {against}:\n{text}");

    // The same check does see a break: a renamed field in a copy.
    let copy = tempfile::tempdir().unwrap();
    let file = copy.path().join("livescan/v1/session_service.proto");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let proto = std::fs::read_to_string(root().join("proto/livescan/v1/session_service.proto")).unwrap();
    std::fs::write(&file, proto.replace("string session_id = 1;", "string id = 1;")).unwrap();
    let (ok, text) = run_buf(&[
        "breaking",
        copy.path().to_str().unwrap(),
        "--against",
        &against,
        "--config",
        r#"{"version":"v2","breaking":{"use":["FILE"]}}"#,
    ]);
    assert!(
        !ok && text.contains("changed name from \"session_id\" to \"id\""),
        "{text}"
    );
}
