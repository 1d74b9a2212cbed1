//! The SDKs in `clients/` run their own suites against a real server: the
//! TypeScript SDK (generated-code check, `tsc --strict`, vitest with the
//! React hook) and the Python SDK (pytest, generated-code check included).
//! Each gets the server, a funded key, a key without credits, the fixtures
//! directory and a local web site through the environment.

mod common;

use common::{TestServer, fixtures, web_site};
use std::path::Path;
use tokio::process::Command;

/// A server for an SDK suite, and the environment that tells the suite about it.
async fn server_and_env() -> (TestServer, Vec<(&'static str, String)>) {
    let server = TestServer::start().await;
    let site = web_site().await;
    let (poor_key, _) = server.account("no-credits", 0).await;
    let env = vec![
        ("LIVESCAN_URL", server.base.clone()),
        ("LIVESCAN_API_KEY", server.key.clone()),
        ("LIVESCAN_POOR_API_KEY", poor_key),
        (
            "LIVESCAN_FIXTURES",
            std::fs::canonicalize(fixtures()).unwrap().display().to_string(),
        ),
        ("LIVESCAN_SITE", site),
    ];
    (server, env)
}

async fn run(dir: &Path, program: &Path, args: &[&str], env: &[(&'static str, String)]) {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("NO_COLOR", "1")
        .env("CI", "true")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{} cannot start: {e}", program.display()));
    assert!(
        output.status.success(),
        "{} {args:?} failed:\n{}{}",
        program.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn installed(path: &Path) -> &Path {
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-test-tools (or the whole suite with scripts/test)",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_sdk_suite_passes_against_a_real_server() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/typescript");
    installed(&dir.join("node_modules"));
    let (_server, env) = server_and_env().await;
    let npm = Path::new("npm");
    run(&dir, npm, &["run", "--silent", "check:generated"], &env).await;
    run(&dir, npm, &["run", "--silent", "typecheck"], &env).await;
    run(&dir, npm, &["test"], &env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_suite_passes_against_a_real_server() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".tools/python/bin/python");
    let (_server, env) = server_and_env().await;
    run(
        &root.join("clients/python"),
        installed(&python),
        &["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        &env,
    )
    .await;
}
