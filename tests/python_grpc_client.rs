//! A client generated from `proto/` by another language's tools (Python's
//! grpcio-tools) watches a session on a real server, drops the stream and
//! resumes with `after_seq`. The virtualenv is made under `target/` on first use.

mod common;

use common::{TestServer, web_site};
use std::path::{Path, PathBuf};
use tokio::process::Command;

const GRPCIO_TOOLS: &str = "grpcio-tools==1.76.0";

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

/// A virtualenv with grpcio-tools, made once and kept in `target/`.
async fn python_env() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/python-grpc-client");
    let python = venv.join("bin/python");
    let ready = venv.join(GRPCIO_TOOLS);
    if !ready.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv)).await;
        run(Command::new(&python).args(["-m", "pip", "install", "--quiet", GRPCIO_TOOLS])).await;
        std::fs::write(&ready, "").unwrap();
    }
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_generated_from_the_protos_watches_and_resumes() {
    let python = python_env().await;
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
        .arg(stubs.path())
        .arg(server.addr.to_string())
        .args(&urls))
    .await;
    assert!(output.contains("python client: 2 reports once each"), "{output}");
}
