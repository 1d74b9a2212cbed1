//! Signals, with scanners running. SIGTERM (what systemd, Docker and
//! Kubernetes send) drains: streams end with UNAVAILABLE and the cursor to
//! resume from, every scanner process stops, the session is left to resume,
//! and the process exits within its shutdown timeout. kill -9 leaves no
//! scanner behind for long: a direct child dies with the server, and the next
//! server on the data directory ends whatever its processes left. Console
//! commands piped into `head` end quietly.

use crate::common::{self, RealServer};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A fake `shellcheck` that records its pid and a grandchild's, then waits
/// on the grandchild; once `release` exists it reports a clean run at once.
struct SlowScanner {
    tool_dir: tempfile::TempDir,
    tree: tempfile::TempDir,
}

impl SlowScanner {
    fn new() -> SlowScanner {
        let tool_dir = tempfile::tempdir().unwrap();
        let tree = tempfile::tempdir().unwrap();
        std::fs::write(tree.path().join("build.sh"), "echo hi\n").unwrap();
        let state = tool_dir.path().display();
        let script = format!(
            "#!/bin/sh\nif [ -e {state}/release ]; then echo '{{\"comments\":[]}}'; exit 0; fi\n\
             echo $$ > {state}/child.pid\nsleep 300 &\necho $! > {state}/grandchild.pid\nwait\n"
        );
        let path = tool_dir.path().join("shellcheck");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        SlowScanner { tool_dir, tree }
    }

    fn args(&self) -> Vec<String> {
        vec![
            "--tool-dir".into(),
            self.tool_dir.path().display().to_string(),
            "--scan-root".into(),
            self.tree.path().display().to_string(),
            "--shutdown-timeout".into(),
            "5s".into(),
        ]
    }

    fn pid(&self, name: &str) -> Option<i32> {
        std::fs::read_to_string(self.tool_dir.path().join(name))
            .ok()
            .and_then(|p| p.trim().parse().ok())
    }

    async fn wait_running(&self) -> (i32, i32) {
        for _ in 0..500 {
            if let (Some(child), Some(grandchild)) = (self.pid("child.pid"), self.pid("grandchild.pid")) {
                return (child, grandchild);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the scanner never started");
    }

    fn release(&self) {
        std::fs::write(self.tool_dir.path().join("release"), "").unwrap();
    }

    fn start_body(&self) -> Value {
        json!({ "target": { "directory": self.tree.path() }, "tools": ["shellcheck"] })
    }
}

fn start(data_dir: &Path, scanner: &SlowScanner) -> RealServer {
    let args = scanner.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    RealServer::start_with(data_dir, "127.0.0.1:0", "info", &args)
}

/// Whether a process is gone (or a zombie nobody has reaped yet).
fn gone(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.is_empty()
        || stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
}

async fn wait_gone(pid: i32, within: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < within {
        if gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn wait_for_session_to_finish_once(server: &RealServer, id: &str) {
    let session = common::wait_terminal(&server.client(), &server.base, id).await;
    assert_eq!(session["status"], "completed", "{session}");
    let events = common::get_json(
        &server.client(),
        &format!("{}/api/sessions/{id}?after=0", server.base),
    )
    .await;
    assert_eq!(
        events["newReports"].as_array().unwrap().len(),
        1,
        "one report: {events}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_streams_stops_scanners_and_leaves_the_session_to_resume() {
    let scanner = SlowScanner::new();
    let data_dir = tempfile::tempdir().unwrap();
    let mut server = start(data_dir.path(), &scanner);
    let id = common::start_with(&server.client(), &server.base, scanner.start_body()).await;
    let (child, grandchild) = scanner.wait_running().await;

    // An SSE watcher and a gRPC watcher are following the session.
    let sse = server
        .client()
        .get(format!("{}/api/sessions/{id}/events", server.base))
        .send()
        .await
        .unwrap();
    let mut grpc = common::grpc_client(&server.base, &server.key).await;
    let mut watch = common::watch_from_snapshot(&mut grpc, &id).await;

    let signalled = Instant::now();
    // SAFETY: kill(2) on the server child's pid.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let status = server.child.wait().unwrap();
    let took = signalled.elapsed();
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(6), "took {took:?}");
    let log = server.log.lock().unwrap().clone();
    assert!(log.contains("shutting down"), "{log}");

    let ended = watch.message().await.unwrap_err();
    assert_eq!(ended.code(), tonic::Code::Unavailable, "{ended:?}");
    assert!(ended.message().contains("cursor"), "{ended:?}");
    let events = common::read_sse(sse).await;
    let last = events.last().unwrap();
    assert_eq!(last.event, "error", "{events:?}");
    assert_eq!(last.data["error"]["code"], "unavailable", "{events:?}");

    assert!(
        wait_gone(child, Duration::from_secs(2)).await,
        "the scanner {child} survived"
    );
    assert!(
        wait_gone(grandchild, Duration::from_secs(2)).await,
        "its child {grandchild} survived"
    );

    // The session was left unfinished, not cancelled: the next start resumes it.
    scanner.release();
    let server = start(data_dir.path(), &scanner);
    wait_for_session_to_finish_once(&server, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_no_scanner_outlives_the_next_start() {
    let scanner = SlowScanner::new();
    let data_dir = tempfile::tempdir().unwrap();
    let mut server = start(data_dir.path(), &scanner);
    let id = common::start_with(&server.client(), &server.base, scanner.start_body()).await;
    let (child, grandchild) = scanner.wait_running().await;
    server.kill();
    // The scanner itself dies with the server.
    assert!(
        wait_gone(child, Duration::from_secs(2)).await,
        "the scanner {child} outlived kill -9"
    );
    // What it started is ended by the next server on the data directory.
    scanner.release();
    let server = start(data_dir.path(), &scanner);
    assert!(
        wait_gone(grandchild, Duration::from_secs(2)).await,
        "{grandchild} outlived the restart"
    );
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("ended scanner processes an earlier server left running"),
        "{log}"
    );
    wait_for_session_to_finish_once(&server, &id).await;
}

#[test]
fn console_commands_whose_reader_goes_away_end_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().to_str().unwrap();
    for _ in 0..3 {
        common::livescan(&["keys", "create", "--name", "someone", "--data-dir", data]);
    }
    for args in [vec!["tools"], vec!["keys", "list", "--data-dir", data]] {
        // The reader is gone before the command writes a byte, as with `| head -1`
        // once head has its line.
        let mut child = Command::new(env!("CARGO_BIN_EXE_livescan"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.trim().is_empty(), "{args:?}: {stderr}");
        assert!(
            output.status.success() || output.status.signal() == Some(libc::SIGPIPE),
            "{args:?}: {}",
            output.status
        );
    }
}
