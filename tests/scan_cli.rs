//! `livescan scan` as CI runs it: the real binary against a real server,
//! in a pipe and in a terminal (a pseudo-terminal the test opens), pushed
//! over gRPC and polled over REST, with and without criticals; its lines,
//! its documents (`--format json|sarif`, `--output`) and its exit codes.

mod common;

use common::{Broken, TestServer, fixtures};
use livescan::model::Category;
use livescan::tools::Catalog;
use serde_json::Value;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::Arc;

/// A server whose catalog holds three native tools and `broken`.
async fn server() -> TestServer {
    let builtin = Catalog::builtin();
    let mut catalog = Catalog::default();
    for id in ["secrets", "merge-conflicts", "todo-comments"] {
        catalog.add(builtin.get(id).unwrap().clone());
    }
    catalog.add(Arc::new(Broken::new(Category::Performance)));
    TestServer::with_catalog(catalog, 8).await
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn scan_command(server: &TestServer, target: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_livescan"));
    command
        .arg("scan")
        .arg(fixtures().join(target))
        .args(["--server", &server.base])
        .args(extra)
        .env("LIVESCAN_API_KEY", &server.key)
        .env_remove("NO_COLOR");
    command
}

/// Runs `livescan scan` with stdout and stderr in pipes.
async fn in_pipe(server: &TestServer, target: &str, extra: &[&str]) -> Run {
    run(scan_command(server, target, extra)).await
}

/// Runs `command` to its end with stdout and stderr in pipes, off the runtime.
async fn run(mut command: Command) -> Run {
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// The `livescan` binary of this build, as a command to configure.
fn livescan() -> Command {
    Command::new(env!("CARGO_BIN_EXE_livescan"))
}

/// A new pseudo-terminal: (the controlling side, the terminal itself). Both
/// are opened close-on-exec, so children spawned meanwhile by other tests
/// cannot hold the terminal open.
fn pseudo_terminal() -> (std::fs::File, OwnedFd) {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: plain libc calls; each descriptor is checked and owned at once.
    unsafe {
        let master = libc::posix_openpt(flags);
        assert!(master >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let master = OwnedFd::from_raw_fd(master);
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0);
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()),
            0
        );
        let slave = libc::open(name.as_ptr(), flags);
        assert!(slave >= 0, "open pts: {}", std::io::Error::last_os_error());
        (std::fs::File::from(master), OwnedFd::from_raw_fd(slave))
    }
}

/// Runs `livescan scan` with stdout on a pseudo-terminal, as in a person's shell.
async fn in_terminal(server: &TestServer, target: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = scan_command(server, target, extra);
    command.envs(env.iter().copied()).env("TERM", "xterm-256color");
    tokio::task::spawn_blocking(move || {
        let (mut master, slave) = pseudo_terminal();
        let mut child = command
            .stdout(Stdio::from(slave))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(command);
        // The child holds the only copy of the terminal now, so reading ends
        // (EIO) once it exits; a reader that does not end fails the test
        // instead of hanging it.
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut captured = Vec::new();
            let mut buffer = [0u8; 8192];
            while let Ok(n @ 1..) = master.read(&mut buffer) {
                captured.extend_from_slice(&buffer[..n]);
            }
            let _ = sender.send(captured);
        });
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        let status = child.wait().unwrap();
        let captured = receiver
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the terminal closed when the scan exited");
        Run {
            code: status.code().unwrap(),
            stdout: String::from_utf8(captured).unwrap().replace("\r\n", "\n"),
            stderr,
        }
    })
    .await
    .unwrap()
}

/// The lines with what varies between runs (times, ids, balances) masked.
fn masked(text: &str) -> Vec<String> {
    let times = regex::Regex::new(r"\(\d+\.\d+s\)|in \d+\.\d+s").unwrap();
    let ids = regex::Regex::new(r"sess-[0-9a-z]+").unwrap();
    let balance = regex::Regex::new(r"balance \d+").unwrap();
    text.lines()
        .map(|line| {
            let line = times.replace_all(line, "(T)");
            let line = ids.replace_all(&line, "sess-X");
            balance.replace_all(&line, "balance B").into_owned()
        })
        .collect()
}

/// The tool lines, in the order they were printed, without their counters.
fn tool_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = masked(text)
        .into_iter()
        .filter(|l| l.starts_with('[') && !l.starts_with("[SCAN]"))
        .filter_map(|l| l.split_once("] ").map(|(_, rest)| rest.to_string()))
        .collect();
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_pipe_the_reference_ci_flow_is_printed_plainly_and_criticals_fail_the_build() {
    let server = server().await;
    let run = in_pipe(
        &server,
        "dir-planted",
        &["--tools", "secrets,merge-conflicts,todo-comments,broken"],
    )
    .await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(!out.contains('\x1b'), "no escape codes in a pipe:\n{out}");
    let lines = masked(out);
    assert_eq!(lines[0], "[SCAN] Starting security scan...");
    assert!(
        lines[1].starts_with("[SCAN] ") && lines[1].ends_with(": 4 tools (session sess-X)"),
        "{}",
        lines[1]
    );
    let counters: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with('['))
        .filter_map(|l| l.split(' ').next())
        .filter(|c| c.contains('/'))
        .collect();
    assert_eq!(counters, ["[1/4]", "[2/4]", "[3/4]", "[4/4]"], "{out}");
    assert_eq!(
        tool_lines(out),
        [
            "⚠ broken: warning: tool failed: the scanner crashed (exit code 139) (T); continuing",
            "✓ merge-conflicts: 3 high (T)",
            "✓ secrets: 17 critical, 42 high, 1 medium (1 suppressed) (T)",
            "✓ todo-comments: 5 low, 6 info (T)",
        ]
    );
    for expected in [
        "[SCAN] Finished: partial (T): 3 tools completed, 1 failed, 0 skipped",
        "  critical          17",
        "  high              45",
        "  total             74",
        "  Credits refunded: 2 for broken (balance B)",
        "  Analysis: risk 100/100, grade F; 74 findings merged into 74 issues",
        "  Fix first:",
        "FAILED: critical 17 > 0, high 45 > 5 (--fail-on critical>0,high>5)",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "missing `{expected}` in:\n{out}"
        );
    }
    // Findings are listed under their tool, at most ten, then counted.
    assert!(
        out.contains("      critical aws-access-key-id config/settings.py:4 "),
        "{out}"
    );
    assert!(out.contains("      … and 50 more"), "{out}");
    // The first five priorities, each with why and what to do.
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("      why: critical"))
            .count(),
        5,
        "{out}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("      do:  Revoke the credential"))
            .count(),
        5,
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_target_passes_and_a_custom_threshold_is_obeyed() {
    let server = server().await;
    let clean = in_pipe(&server, "dir-clean", &["--tools", "secrets,merge-conflicts"]).await;
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    assert!(
        clean
            .stdout
            .contains("PASSED: no --fail-on rule crossed (critical>0,high>5)"),
        "{}",
        clean.stdout
    );
    assert!(
        clean.stdout.contains("  Credits refunded: 0 (no tool failed)"),
        "{}",
        clean.stdout
    );
    // merge-conflicts alone finds 3 high: under high>5, over high>2.
    let lenient = in_pipe(&server, "dir-planted", &["--tools", "merge-conflicts"]).await;
    assert_eq!(lenient.code, 0, "{}", lenient.stdout);
    let strict = in_pipe(
        &server,
        "dir-planted",
        &["--tools", "merge-conflicts", "--fail-on", "high>2"],
    )
    .await;
    assert_eq!(strict.code, 1, "{}", strict.stdout);
    assert!(strict.stdout.contains("FAILED: high 3 > 2 (--fail-on high>2)"));
    let never = in_pipe(
        &server,
        "dir-planted",
        &["--tools", "secrets", "--fail-on", "none"],
    )
    .await;
    assert_eq!(never.code, 0, "{}", never.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_over_rest_prints_what_the_grpc_push_prints() {
    let server = server().await;
    let tools = ["--tools", "secrets,merge-conflicts,todo-comments,broken"];
    let pushed = in_pipe(&server, "dir-planted", &tools).await;
    let mut polled_args = tools.to_vec();
    polled_args.extend(["--poll", "--poll-interval", "100ms"]);
    let polled = in_pipe(&server, "dir-planted", &polled_args).await;
    assert_eq!(polled.code, pushed.code, "{}{}", polled.stdout, polled.stderr);
    assert_eq!(tool_lines(&polled.stdout), tool_lines(&pushed.stdout));
    let without_tools = |text: &str| -> Vec<String> {
        masked(text)
            .into_iter()
            .filter(|l| !l.starts_with('[') || l.starts_with("[SCAN]"))
            .filter(|l| !l.starts_with("      "))
            .collect()
    };
    assert_eq!(without_tools(&polled.stdout), without_tools(&pushed.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_there_are_colours_and_a_progress_bar_unless_no_color() {
    let server = server().await;
    let tools = ["--tools", "secrets,merge-conflicts,todo-comments,broken"];
    let coloured = in_terminal(&server, "dir-planted", &tools, &[]).await;
    assert_eq!(coloured.code, 1, "{}{}", coloured.stdout, coloured.stderr);
    let out = &coloured.stdout;
    assert!(out.contains("\x1b[1;31mcritical"), "red criticals:\n{out:?}");
    assert!(out.contains("\x1b[32m✓\x1b[0m"), "green ticks:\n{out:?}");
    // The bar is drawn after the header and each tool, then erased (CR, EL)
    // before the next line; the final summary replaces it for good.
    assert!(
        out.contains("] 0/4 tools complete (0%)\r\x1b[2K[1/4] "),
        "{out:?}"
    );
    assert!(
        out.contains("] 4/4 tools complete (100%)\r\x1b[2K\n\x1b[1m[SCAN]\x1b[0m Finished"),
        "{out:?}"
    );
    assert!(out.contains("████████████████████████"), "{out:?}");

    let plain = in_terminal(&server, "dir-planted", &tools, &[("NO_COLOR", "1")]).await;
    assert_eq!(plain.code, 1);
    let sgr = regex::Regex::new(r"\x1b\[[0-9;]*m").unwrap();
    assert!(
        !sgr.is_match(&plain.stdout),
        "colours despite NO_COLOR:\n{:?}",
        plain.stdout
    );
    assert!(
        plain.stdout.contains("4/4 tools complete (100%)"),
        "the bar stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_goes_to_stdout_with_the_live_lines_on_stderr() {
    let server = server().await;
    let run = in_pipe(
        &server,
        "dir-planted",
        &["--tools", "merge-conflicts,broken", "--format", "json"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("stdout holds only the document");
    assert!(
        run.stderr
            .contains("[SCAN] Starting code-quality and performance scan..."),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("✓ merge-conflicts: 3 high"), "{}", run.stderr);
    assert_eq!(report["status"], "partial");
    assert_eq!(report["summary"]["bySeverity"]["high"], 3);
    assert_eq!(report["refund"]["toolsRefunded"], serde_json::json!(["broken"]));
    assert_eq!(report["failedOn"], serde_json::json!([]));
    assert_eq!(
        report["directory"],
        std::fs::canonicalize(fixtures().join("dir-planted"))
            .unwrap()
            .display()
            .to_string()
    );
    let reports = report["toolReports"].as_object().unwrap();
    assert_eq!(reports.len(), 2);
    let merge = &reports["merge-conflicts"];
    assert_eq!(merge["toolName"], "merge-conflicts");
    assert_eq!(
        report["target"],
        serde_json::json!({ "directory": fixtures().join("dir-planted").display().to_string() }),
        "the REST spelling of the target"
    );
    assert_eq!(merge["result"]["findings"][0]["path"], "scripts/build.py");
    assert_eq!(merge["result"]["findings"][0]["line"], 11);
    // The session the document names is the one the server has.
    let (status, session) = server
        .get(&format!(
            "/api/sessions/{}",
            report["sessionId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(session["summary"], report["summary"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sarif_per_tool_goes_to_the_output_file_one_run_per_tool_that_ran() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("livescan.sarif");
    let run = in_pipe(
        &server,
        "dir-planted",
        &[
            "--tools",
            "secrets,merge-conflicts,broken",
            "--format",
            "sarif",
            "--sarif-runs",
            "per-tool",
            "--output",
            path.to_str().unwrap(),
            "--fail-on",
            "none",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("[SCAN] Finished: partial"),
        "live lines on stdout"
    );
    let sarif: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let runs = sarif["runs"].as_array().unwrap();
    let names: Vec<&str> = runs
        .iter()
        .map(|r| r["tool"]["driver"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let run_of = |name: &str| runs.iter().find(|r| r["tool"]["driver"]["name"] == name).unwrap();
    let broken = run_of("broken");
    assert_eq!(broken["invocations"][0]["executionSuccessful"], false);
    assert_eq!(
        broken["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"],
        "the scanner crashed (exit code 139)"
    );
    let merge = run_of("merge-conflicts");
    let root = url::Url::from_directory_path(std::fs::canonicalize(fixtures().join("dir-planted")).unwrap())
        .unwrap();
    assert_eq!(merge["originalUriBaseIds"]["SRCROOT"]["uri"], root.as_str());
    let results = merge["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    let first = &results[0];
    assert_eq!(first["ruleId"], "merge-conflict");
    assert_eq!(first["level"], "error");
    let location = &first["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "scripts/build.py");
    assert_eq!(location["artifactLocation"]["uriBaseId"], "SRCROOT");
    assert_eq!(location["region"]["startLine"], 11);
    // Every result's ruleIndex points at its rule; security rules carry a score.
    for run in runs {
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        for result in run["results"].as_array().unwrap() {
            let rule = &rules[result["ruleIndex"].as_u64().unwrap() as usize];
            assert_eq!(rule["id"], result["ruleId"]);
            assert!(result["partialFingerprints"]["livescan/v1"].is_string());
        }
    }
    let secrets = run_of("secrets");
    let score = |id: &str| {
        secrets["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["properties"]["security-severity"]
            .clone()
    };
    assert_eq!(score("aws-access-key-id"), "9.5");
    assert_eq!(score("github-pat"), "8.0");
    // The report file is the only file left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_and_connection_errors_exit_2_with_a_clear_message() {
    let server = server().await;
    // Nothing listens on a port we just freed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = fixtures().join("dir-clean");
    let dir = dir.to_str().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let bad_config = scratch.path().join("livescan.toml");
    std::fs::write(&bad_config, "tols = [\"secrets\"]\n").unwrap();
    let bad_config = bad_config.display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--config".into(), "/nonexistent/livescan.toml".into()],
            "--config: cannot read /nonexistent/livescan.toml",
        ),
        // Refused before anything is packed or sent (the server is closed).
        (
            vec![
                "--config".into(),
                bad_config.clone(),
                "--server".into(),
                format!("http://{closed}"),
            ],
            "--config: line 1: unknown field `tols`",
        ),
        (
            vec!["--server".into(), format!("http://{closed}")],
            "cannot upload /",
        ),
        (
            vec![
                "--server".into(),
                format!("http://{closed}"),
                "--server-path".into(),
            ],
            "cannot connect to http://",
        ),
        (
            vec![
                "--server".into(),
                format!("http://{closed}"),
                "--poll".into(),
                "--server-path".into(),
            ],
            "refused the scan",
        ),
        (vec!["--server-path".into()], "--server"),
        (
            vec![
                "--server".into(),
                server.base.clone(),
                "--api-key".into(),
                "lsk_bad".into(),
            ],
            "--api-key or set LIVESCAN_API_KEY",
        ),
        (
            vec![
                "--server".into(),
                server.base.clone(),
                "--api-key".into(),
                "lsk_bad".into(),
                "--poll".into(),
            ],
            "--api-key or set LIVESCAN_API_KEY",
        ),
        (vec!["--poll".into()], "--server"),
        (
            vec![
                "--server".into(),
                server.base.clone(),
                "--poll".into(),
                "--poll-interval".into(),
                "10ms".into(),
            ],
            "shorter than the 100ms",
        ),
        // Too long for the clock: refused, where it used to overflow.
        (
            vec![
                "--poll".into(),
                "--poll-interval".into(),
                "9999999999999999h".into(),
            ],
            "`9999999999999999h` is longer than 3650d",
        ),
        (
            vec!["--format".into(), "xml".into()],
            "invalid value 'xml' for '--format",
        ),
        (
            vec!["--output".into(), "/nonexistent-dir/report.sarif".into()],
            "--output: cannot write into /nonexistent-dir",
        ),
        (
            vec![
                "--server".into(),
                server.base.clone(),
                "--api-key".into(),
                server.key.clone(),
                "--tools".into(),
                "nope".into(),
                "--poll".into(),
            ],
            "refused the scan: tools[0]: unknown tool `nope`",
        ),
    ];
    for (args, expected) in cases {
        let mut command = livescan();
        command
            .arg("scan")
            .arg(dir)
            .args(&args)
            .env_remove("LIVESCAN_API_KEY")
            .env_remove("LIVESCAN_SERVER");
        let Run { code, stderr, .. } = run(command).await;
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected `{expected}` in:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// A CI runner's checkout on a machine the server cannot see into: the
/// server's scan roots are elsewhere, so the CLI packs the checkout (as git
/// sees it) and uploads it; `--server-path` sends the path, which the
/// server refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_the_server_cannot_see_is_uploaded_and_scanned() {
    let data_dir = tempfile::tempdir().unwrap();
    let roots = tempfile::tempdir().unwrap();
    let server = common::RealServer::start_with(
        data_dir.path(),
        "127.0.0.1:0",
        "info",
        &["--scan-root", roots.path().to_str().unwrap()],
    );
    let checkout = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let key_line = "AWS_ACCESS_KEY_ID = \"AKIAY62MMZD344CUMP7M\"\n";
    std::fs::write(checkout.path().join("settings.py"), key_line).unwrap();
    std::fs::write(checkout.path().join(".gitignore"), "ignored/\n").unwrap();
    std::fs::create_dir(checkout.path().join("ignored")).unwrap();
    std::fs::write(checkout.path().join("ignored/local.py"), key_line).unwrap();
    std::fs::create_dir(checkout.path().join(".git")).unwrap();
    std::fs::write(checkout.path().join(".git/config"), key_line).unwrap();
    std::fs::write(outside.path().join("secret.py"), key_line).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.py"),
        checkout.path().join("linked.py"),
    )
    .unwrap();

    let scan = |extra: &[&str]| {
        let mut command = livescan();
        command
            .args([
                "scan",
                ".",
                "--server",
                &server.base,
                "--tools",
                "secrets",
                "--format",
                "json",
            ])
            .args(extra)
            .current_dir(checkout.path())
            .env("LIVESCAN_API_KEY", &server.key)
            .env("NO_COLOR", "1");
        run(command)
    };
    let uploaded = scan(&[]).await;
    let stderr = &uploaded.stderr;
    assert_eq!(uploaded.code, 1, "criticals fail the build: {stderr}");
    assert!(
        stderr.contains("Uploading ") && stderr.contains("Uploaded as upl-"),
        "{stderr}"
    );
    let report: Value = serde_json::from_str(&uploaded.stdout).expect("stdout holds the document");
    let paths: Vec<&str> = report["toolReports"]["secrets"]["result"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["settings.py"], "{report}");
    assert_eq!(
        report["directory"],
        checkout.path().display().to_string(),
        "findings are located in the checkout"
    );

    let by_path = scan(&["--server-path"]).await;
    let stderr = &by_path.stderr;
    assert_eq!(by_path.code, 2, "{stderr}");
    assert!(
        stderr.contains("not inside the directories this server may scan"),
        "{stderr}"
    );
}

/// A scan in this process charges no account, so its summary says nothing
/// of credits and its report holds no refund.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_process_scan_says_nothing_of_credits() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut command = livescan();
    command
        .arg("scan")
        .arg(fixtures().join("dir-planted"))
        .args([
            "--tools",
            "merge-conflicts",
            "--format",
            "json",
            "--fail-on",
            "none",
        ])
        .arg("--data-dir")
        .arg(data_dir.path())
        .env_remove("LIVESCAN_SERVER");
    let Run { code, stdout, stderr } = run(command).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("✓ merge-conflicts: 3 high"), "{stderr}");
    assert!(
        stderr.contains("[SCAN] Starting code-quality scan..."),
        "a scan without security tools is not called one: {stderr}"
    );
    assert!(!stderr.contains("Credits"), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(report.get("refund").is_none(), "{report}");
}

/// Scanners installed in this checkout's .tools are found wherever
/// livescan is started from, not only in the checkout itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanners_are_found_from_any_directory() {
    let elsewhere = tempfile::tempdir().unwrap();
    let mut command = livescan();
    command
        .arg("tools")
        .current_dir(elsewhere.path())
        .env("HOME", elsewhere.path())
        .env_remove("XDG_DATA_HOME")
        .env_remove("LIVESCAN_TOOL_DIRS");
    let Run { code, stdout, stderr } = run(command).await;
    assert_eq!(code, 0, "{stderr}");
    for scanner in ["bandit", "semgrep", "detect-secrets"] {
        let line = stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(scanner))
            .unwrap_or_else(|| panic!("{scanner} is not listed:\n{stdout}"));
        assert!(line.contains(" yes "), "{line}");
    }

    // The same list for scripts, as GET /api/tools answers it.
    command = livescan();
    command.args(["tools", "--json"]).current_dir(elsewhere.path());
    let listed: Value = serde_json::from_str(&run(command).await.stdout).unwrap();
    let tools = listed["tools"].as_array().unwrap();
    assert_eq!(listed["total"], tools.len());
    let bandit = tools.iter().find(|t| t["id"] == "bandit").unwrap();
    assert_eq!(bandit["available"], true, "{bandit}");
    assert_eq!(bandit["category"], "security");
}

/// Shell completions and manual pages come from the same definitions as
/// the parser, so they name every command and flag there is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_and_manual_pages_describe_every_command() {
    let output_of = |args: &[&str]| {
        let mut command = livescan();
        command.args(args);
        run(command)
    };
    let bash = output_of(&["completions", "bash"]).await;
    assert_eq!(bash.code, 0, "{}", bash.stderr);
    assert!(bash.stdout.contains("--server-path") && bash.stdout.contains("completions"));
    let mut syntax = Command::new("bash");
    syntax.arg("-n").stdin(std::process::Stdio::piped());
    let mut child = syntax.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), bash.stdout.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "bash reads the script");
    for (shell, says) in [("zsh", "#compdef livescan"), ("fish", "complete -c livescan")] {
        let script = output_of(&["completions", shell]).await;
        assert!(script.stdout.contains(says), "{shell}: {}", script.stderr);
    }

    let top = output_of(&["man"]).await;
    assert!(top.stdout.contains(".TH livescan 1"), "{}", top.stderr);
    for sub in ["serve", "scan", "tools", "keys", "credits", "advisories"] {
        let page = output_of(&["man", sub]).await;
        assert_eq!(page.code, 0, "{sub}: {}", page.stderr);
        assert!(page.stdout.contains(&format!(".TH livescan-{sub} 1")), "{sub}");
    }
    let scan = output_of(&["man", "scan"]).await;
    assert!(scan.stdout.contains(r"\-\-server\-path"));
    let unknown = output_of(&["man", "nope"]).await;
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("`nope` is not a livescan subcommand"),
        "{}",
        unknown.stderr
    );
}

/// "Hold the line": against a baseline (a report file, a SARIF file or a
/// session on the server) a scan marks each finding new or unchanged, and
/// `new:` rules fail the build only on new ones, though the old finding
/// moved down its file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_baseline_fails_the_build_only_on_new_findings() {
    let checkout = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let settings = checkout.path().join("settings.py");
    std::fs::write(
        &settings,
        "import os\nAWS_ACCESS_KEY_ID = \"AKIAY62MMZD344CUMP7M\"\n",
    )
    .unwrap();
    let scan = |extra: &[&str]| {
        let mut command = livescan();
        command
            .arg("scan")
            .arg(checkout.path())
            .args(["--tools", "secrets", "--data-dir"])
            .arg(data_dir.path())
            .args(extra)
            .env_remove("LIVESCAN_SERVER");
        run(command)
    };
    let base_json = checkout.path().join("base.json");
    let base_sarif = checkout.path().join("base.sarif");
    for (format, path) in [("json", &base_json), ("sarif", &base_sarif)] {
        let first = scan(&[
            "--fail-on",
            "none",
            "--format",
            format,
            "--output",
            path.to_str().unwrap(),
        ])
        .await;
        assert_eq!(first.code, 0, "{}", first.stderr);
    }

    // The old secret moves down three lines; a new one comes in.
    std::fs::write(
        &settings,
        "import os\n# settings\n# for\n# production\nAWS_ACCESS_KEY_ID = \"AKIAY62MMZD344CUMP7M\"\n",
    )
    .unwrap();
    std::fs::write(
        checkout.path().join("deploy.py"),
        "GITHUB_TOKEN = \"ghp_lPeNkMze8AxXoXy3ghw4VvtlGXXnkQZPXOTU\"\n",
    )
    .unwrap();
    for baseline in [&base_json, &base_sarif] {
        let gate = ["--fail-on", "new:critical>0,new:high>0", "--format", "json"];
        let second = scan(&[&gate[..], &["--baseline", baseline.to_str().unwrap()]].concat()).await;
        assert_eq!(second.code, 1, "{}", second.stderr);
        assert!(
            second.stderr.contains("New since the baseline: 1 high"),
            "{}",
            second.stderr
        );
        assert!(
            second.stderr.contains("FAILED: new high 1 > 0"),
            "only the new finding fails the build: {}",
            second.stderr
        );
        let report: Value = serde_json::from_str(&second.stdout).unwrap();
        let states: std::collections::BTreeMap<String, String> =
            report["toolReports"]["secrets"]["result"]["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (
                        f["path"].as_str().unwrap().into(),
                        f["baselineState"].as_str().unwrap().into(),
                    )
                })
                .collect();
        assert_eq!(
            states["settings.py"], "unchanged",
            "the moved finding is the old one"
        );
        assert_eq!(states["deploy.py"], "new");
        assert_eq!(report["summary"]["newBySeverity"]["high"], 1);
    }

    let unguarded = scan(&["--fail-on", "new:high>0"]).await;
    assert_eq!(unguarded.code, 2);
    assert!(
        unguarded.stderr.contains("need --baseline"),
        "{}",
        unguarded.stderr
    );
    let missing = scan(&["--baseline", "nothing-here.json"]).await;
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("neither a file nor a session id"),
        "{}",
        missing.stderr
    );
}

/// A session on the server serves as the baseline by its id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_on_the_server_is_a_baseline_by_its_id() {
    let server = server().await;
    let first = in_pipe(
        &server,
        "dir-planted",
        &["--tools", "secrets", "--format", "json", "--fail-on", "none"],
    )
    .await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let session_id = serde_json::from_str::<Value>(&first.stdout).unwrap()["sessionId"]
        .as_str()
        .unwrap()
        .to_string();
    let args = [
        "--tools",
        "secrets",
        "--fail-on",
        "new:critical>0",
        "--baseline",
        &session_id,
    ];
    let second = in_pipe(&server, "dir-planted", &args).await;
    assert_eq!(second.code, 0, "nothing is new: {}", second.stderr);
    assert!(
        second.stdout.contains("New since the baseline: none"),
        "{}",
        second.stdout
    );
    assert!(second.stdout.contains("PASSED"), "{}", second.stdout);
}
