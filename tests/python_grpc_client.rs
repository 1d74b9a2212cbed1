//! A client generated from `proto/` by another language's tools (Python's
//! grpcio-tools) watches a session on a real server, drops the stream and
//! resumes with `after_seq`. The virtualenv comes from `scripts/install-test-tools`.

mod common;

use common::{TestServer, web_site};
use std::path::{Path, PathBuf};
use tokio::process::Command;

async fn run(command: &mut Command) -> String {
    let output = command.output().await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

/// The virtualenv `scripts/install-test-tools` makes (the README's test
/// command, `scripts/test`, runs it first).
fn python_env() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/python/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-test-tools (or the whole suite with scripts/test)",
        python.display()
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_generated_from_the_protos_watches_and_resumes() {
    let python = python_env();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stubs = tempfile::tempdir().unwrap();
    let include = run(Command::new(&python).args([
        "-c",
        "import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), '_proto'))",
    ]))
    .await;
    run(Command::new(&python)
        .args(["-m", "grpc_tools.protoc"])
        .arg(format!("-I{}", root.join("proto").display()))
        .arg(format!("-I{}", include.trim()))
        .arg(format!("--python_out={}", stubs.path().display()))
        .arg(format!("--grpc_python_out={}", stubs.path().display()))
        .arg(root.join("proto/livescan/v1/session_service.proto")))
    .await;

    let server = TestServer::start().await;
    let site = web_site().await;
    // Five slow pages per tool, one tool at a time: the session runs for about 1.5 s.
    let urls: Vec<String> = (0..5).map(|i| format!("{site}/slow.html?p={i}")).collect();
    let output = run(Command::new(&python)
        .arg(root.join("tests/python/watch_client.py"))
        .env("LIVESCAN_API_KEY", &server.key)
        .arg(stubs.path())
        .arg(server.addr.to_string())
        .args(&urls))
    .await;
    // The client itself checks that it saw each of the session's reports once.
    assert!(
        output.contains("python client: ") && output.contains(" reports once each"),
        "{output}"
    );
}
