//! The external scanners, run for real (installed into .tools/scanners by
//! `scripts/install-test-tools`, which the test command runs first) on the
//! planted and clean fixtures under `tests/fixtures/external/<id>/`; and the
//! runner's own rules — exit codes, unparsable output, cancellation killing
//! the whole process group — with small `sh` descriptors.

mod common;
#[path = "support/weakness.rs"]
mod weakness;

use livescan::model::Category;
use livescan::tools::external::{self, ExternalTool, SharedRun, parse_descriptor};
use livescan::tools::{
    Availability, Capacity, Fetcher, FindingSink, Inventory, Pages, SharedRuns, Tool, ToolContext, ToolError,
    ToolTarget, Workspace,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tool_dirs() -> Vec<PathBuf> {
    external::DEFAULT_TOOL_DIRS
        .iter()
        .map(|dir| root().join(dir))
        .collect()
}

fn workspace() -> Workspace {
    Workspace::scratch(std::env::temp_dir().join("livescan-tests"))
}

async fn run_on(
    tool: Arc<dyn Tool>,
    dir: &Path,
    cancel: CancellationToken,
) -> (Result<(), ToolError>, Vec<livescan::model::Finding>) {
    run_in(tool, dir, cancel, workspace()).await
}

async fn run_in(
    tool: Arc<dyn Tool>,
    dir: &Path,
    cancel: CancellationToken,
    workspace: Workspace,
) -> (Result<(), ToolError>, Vec<livescan::model::Finding>) {
    let (result, findings) = run_into_sink(tool, dir, cancel, workspace).await;
    (result, findings.take())
}

/// The run's result and its sink, with what the tool said about itself.
async fn run_into_sink(
    tool: Arc<dyn Tool>,
    dir: &Path,
    cancel: CancellationToken,
    workspace: Workspace,
) -> (Result<(), ToolError>, FindingSink) {
    let inventory = Inventory::walk(dir, &[], &CancellationToken::new()).unwrap();
    let (ctx, findings) = context(
        Arc::new(inventory),
        cancel,
        workspace,
        Default::default(),
        Capacity::default(),
    );
    let result = tool.run(ctx).await;
    (result, findings)
}

/// A run's context over `inventory` in a session whose tools share
/// `shared`, holding `capacity`; and where its findings go.
fn context(
    inventory: Arc<Inventory>,
    cancel: CancellationToken,
    workspace: Workspace,
    shared: Arc<SharedRuns>,
    capacity: Capacity,
) -> (Arc<ToolContext>, FindingSink) {
    let findings = FindingSink::default();
    let ctx = Arc::new(ToolContext {
        target: ToolTarget::Directory(inventory),
        deadline: Instant::now() + Duration::from_secs(120),
        cancel,
        findings: findings.clone(),
        pages: Pages::new(Arc::new(Fetcher::new(false))),
        workspace: Arc::new(workspace),
        shared,
        capacity,
    });
    (ctx, findings)
}

type Row = (String, String, Option<u32>);

fn expected(file: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut rows: Vec<Row> = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 3, "malformed row `{l}` in {}", file.display());
            (cols[0].to_string(), cols[1].to_string(), cols[2].parse().ok())
        })
        .collect();
    rows.sort();
    rows
}

/// The scanners whose SARIF logs describe their rules (hadolint's SARIF
/// names none).
const RULES_DESCRIBED: &[&str] = &["bandit", "checkov", "flawfinder", "ruff", "semgrep"];

#[test]
fn every_descriptor_is_in_the_catalog_and_has_fixtures() {
    let mut shipped: Vec<String> = std::fs::read_dir(root().join("src/tools/external/descriptors"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    shipped.sort();
    let mut loaded: Vec<String> = external::all(&[])
        .iter()
        .map(|t| t.spec().id.to_string())
        .collect();
    loaded.sort();
    assert_eq!(
        loaded, shipped,
        "descriptor files and the catalog's external tools"
    );
    let mut fixtures: Vec<String> = std::fs::read_dir(root().join("tests/fixtures/external"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    fixtures.sort();
    assert_eq!(fixtures, shipped, "fixture directories and descriptors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_external_tool_finds_exactly_its_planted_problems() {
    let tools = external::all(&tool_dirs());
    assert!(tools.len() >= 6);
    let mut unnamed = Vec::new();
    for tool in tools {
        let id = tool.spec().id;
        let dir = root().join("tests/fixtures/external").join(id);
        assert!(dir.is_dir(), "{id} has no fixtures");
        assert_eq!(
            tool.availability(),
            Availability::Available,
            "{id} is not installed: run scripts/install-test-tools"
        );
        let (result, sink) = run_into_sink(
            tool.clone(),
            &dir.join("planted"),
            CancellationToken::new(),
            workspace(),
        )
        .await;
        result.unwrap_or_else(|e| panic!("{id} failed on its planted fixtures: {e}"));
        let findings = sink.take();
        // The program and the version that ran, for SARIF's tool extensions.
        let (rules, scanner) = sink.take_about();
        let scanner = scanner.unwrap_or_else(|| panic!("{id}: no scanner recorded"));
        let version = scanner.version.unwrap_or_default();
        assert!(
            version.split('.').take(2).all(|part| part.parse::<u32>().is_ok()),
            "{id}: version `{version}`"
        );
        // SARIF scanners describe the rules of their results.
        if RULES_DESCRIBED.contains(&id) {
            assert!(
                findings
                    .iter()
                    .all(|f| rules.contains_key(&f.rule_id) || f.rule_id == external::FILE_NOT_ANALYZED),
                "{id}: rules described: {:?}",
                rules.keys().collect::<Vec<_>>()
            );
            assert!(
                rules
                    .values()
                    .any(|r| r.name.is_some() || r.description.is_some() || r.help.is_some()),
                "{id}: {rules:#?}"
            );
        }
        // A security scanner's findings name their weakness, unless the
        // descriptor lists the rule as hygiene (and then they name none).
        if tool.spec().category == Category::Security {
            let text =
                std::fs::read_to_string(root().join(format!("src/tools/external/descriptors/{id}.toml")))
                    .unwrap();
            let descriptor = parse_descriptor(id, &text).unwrap();
            for finding in findings
                .iter()
                .filter(|f| f.rule_id != external::FILE_NOT_ANALYZED)
            {
                if descriptor.no_weakness.contains(&finding.rule_id) {
                    assert_eq!(finding.cwe, None, "{id}/{}", finding.rule_id);
                } else {
                    unnamed.extend(weakness::unnamed(id, finding));
                }
            }
        }
        for finding in &findings {
            assert!(
                finding.original_level.is_some(),
                "{id}/{}: the tool's own level is kept",
                finding.rule_id
            );
            assert!(!finding.fingerprint.is_empty(), "{id}/{}", finding.rule_id);
        }
        let mut rows: Vec<Row> = findings
            .iter()
            .map(|f| (f.rule_id.clone(), f.path.clone().expect("a path"), f.line))
            .collect();
        rows.sort();
        assert_eq!(
            rows,
            expected(&dir.join("expected.tsv")),
            "{id} on its planted fixtures: {findings:#?}"
        );

        let (result, clean) = run_on(tool, &dir.join("clean"), CancellationToken::new()).await;
        result.unwrap_or_else(|e| panic!("{id} failed on its clean fixtures: {e}"));
        assert!(clean.is_empty(), "{id} on its clean fixtures: {clean:#?}");
    }
    weakness::assert_all_named(unnamed);
}

/// Counts the times it is dropped: a run's capacity given back.
struct Given(Arc<AtomicUsize>);

impl Drop for Given {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Every finding of a run as a comparable row, sorted.
fn full_rows(findings: Vec<livescan::model::Finding>) -> Vec<String> {
    let mut rows: Vec<String> = findings
        .into_iter()
        .map(|f| {
            format!(
                "{} {:?} {:?}:{:?}:{:?} {}",
                f.rule_id, f.severity, f.path, f.line, f.column, f.message
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_eslint_tools_run_one_eslint_and_each_finds_what_it_finds_alone() {
    let descriptors = root().join("src/tools/external/descriptors");
    let mut ids: Vec<String> = std::fs::read_dir(&descriptors)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let id = path.file_stem()?.to_string_lossy().into_owned();
            let descriptor = parse_descriptor(&id, &std::fs::read_to_string(&path).ok()?).ok()?;
            (descriptor.shared == Some(SharedRun::Eslint)).then_some(id)
        })
        .collect();
    ids.sort();
    assert!(ids.len() >= 10, "{ids:?}");
    // One tree with all of their planted fixtures.
    let tree = tempfile::tempdir().unwrap();
    for id in &ids {
        let planted = root().join("tests/fixtures/external").join(id).join("planted");
        common::copy_tree(&planted, &tree.path().join(id));
    }
    // eslint behind a script that notes each start: `run` or `--version`.
    let wrapper = tempfile::tempdir().unwrap();
    let starts = wrapper.path().join("starts");
    let real = tool_dirs()
        .iter()
        .map(|dir| dir.join("eslint"))
        .find(|path| path.is_file())
        .expect("eslint is installed: run scripts/install-test-tools");
    let script = wrapper.path().join("eslint");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$1\" in --version) echo version;; *) echo run;; esac >> '{}'\nexec '{}' \"$@\"\n",
            starts.display(),
            real.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let started = |what: &str| {
        let log = std::fs::read_to_string(&starts).unwrap_or_default();
        log.lines().filter(|line| *line == what).count()
    };
    let dirs: Vec<PathBuf> = std::iter::once(wrapper.path().to_path_buf())
        .chain(tool_dirs())
        .collect();
    let tools: Vec<Arc<dyn Tool>> = external::all(&dirs)
        .into_iter()
        .filter(|tool| ids.iter().any(|id| id == tool.spec().id))
        .collect();
    assert_eq!(tools.len(), ids.len());
    let inventory = Arc::new(Inventory::walk(tree.path(), &[], &CancellationToken::new()).unwrap());

    // All at once, as a session that selected them runs them.
    let shared = SharedRuns::new(ids.clone());
    let given = Arc::new(AtomicUsize::new(0));
    let capacities: Vec<Capacity> = tools
        .iter()
        .map(|_| Capacity::holding(Given(given.clone())))
        .collect();
    let together = futures::future::join_all(tools.iter().zip(&capacities).map(|(tool, capacity)| {
        let (ctx, sink) = context(
            inventory.clone(),
            CancellationToken::new(),
            workspace(),
            shared.clone(),
            capacity.clone(),
        );
        let tool = tool.clone();
        async move {
            let id = tool.spec().id;
            tool.run(ctx).await.unwrap_or_else(|e| panic!("{id}: {e}"));
            full_rows(sink.take())
        }
    }))
    .await;
    assert_eq!(started("run"), 1, "one eslint for all of them");
    assert_eq!(started("version"), 1, "its version asked once for all of them");
    assert_eq!(
        given.load(Ordering::SeqCst),
        tools.len() - 1,
        "every tool but the one that ran eslint gave its capacity back while it waited"
    );

    // Each alone finds the same.
    for (tool, found) in tools.iter().zip(together) {
        let id = tool.spec().id;
        let (ctx, sink) = context(
            inventory.clone(),
            CancellationToken::new(),
            workspace(),
            SharedRuns::new([id.to_string()]),
            Capacity::default(),
        );
        tool.clone()
            .run(ctx)
            .await
            .unwrap_or_else(|e| panic!("{id} alone: {e}"));
        let alone = full_rows(sink.take());
        assert!(!alone.is_empty(), "{id} finds its planted problems");
        assert_eq!(found, alone, "{id}: with the others and alone");
    }
    assert_eq!(started("run"), 1 + tools.len());
    assert_eq!(started("version"), 1);
}

/// A descriptor for `sh -c SCRIPT` over `*.txt` files, reading SARIF from stdout.
fn sh_tool(script: &str) -> Arc<dyn Tool> {
    let text = format!(
        r#"id = "sh-test"
category = "code-quality"
ecosystem = "any"
cost = 1
summary = "test"
command = "sh"
args = ["-c", {script:?}]
files = ["*.txt"]
cwd = "temp"
format = "sarif"
output = "stdout"
findings_exit = [1]
clean_exit = [0]
install_hint = "it is /bin/sh"
"#
    );
    Arc::new(ExternalTool::new(
        parse_descriptor("sh-test", &text).unwrap(),
        &[],
    ))
}

/// A descriptor for `sh -c SCRIPT sh {cache} {files}` over `**/*.txt`, one
/// file name per run, reading `path:message` lines, with a warm-up run.
fn cached_sh_tool(script: &str, cache_arg: &str) -> Result<ExternalTool, String> {
    let text = format!(
        r#"id = "sh-cached"
category = "code-quality"
ecosystem = "any"
cost = 1
summary = "test"
command = "sh"
args = ["-c", {script:?}, "sh", "{cache_arg}", "{{files}}"]
files = ["**/*.txt"]
cwd = "temp"
format = "lines"
line_pattern = '^(?P<path>[^:]+):(?P<message>.*)$'
output = "stdout"
findings_exit = [1]
clean_exit = [0]
python_modules_apart = true
warm_up = ["--warm-up"]
install_hint = "it is /bin/sh"
"#
    );
    Ok(ExternalTool::new(parse_descriptor("sh-cached", &text)?, &[]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_run_starts_from_a_copy_of_the_warmed_cache_and_leaves_nothing_to_the_next() {
    let dir = tempfile::tempdir().unwrap();
    // Three files of one name: three runs.
    for project in ["a", "b", "c"] {
        std::fs::create_dir(dir.path().join(project)).unwrap();
        std::fs::write(dir.path().join(project).join("x.txt"), "x").unwrap();
    }
    let warm_ups = dir.path().join("warm-ups");
    let script = format!(
        r#"cache=$1; shift
if [ "$1" = --warm-up ]; then echo > "$cache/warmed"; echo >> '{}'; exit 0; fi
seen=$(ls "$cache" | tr '\n' ' ')
touch "$cache/run-$$"
for file in "$@"; do echo "$file:$seen"; done
exit 1"#,
        warm_ups.display()
    );
    let tool = cached_sh_tool(&script, "{cache}").unwrap();
    let (result, findings) = run_on(Arc::new(tool), dir.path(), CancellationToken::new()).await;
    result.unwrap();
    let seen: Vec<&str> = findings.iter().map(|f| f.message.trim()).collect();
    assert_eq!(seen, ["warmed"; 3], "{findings:#?}");
    let warm_ups = std::fs::read_to_string(&warm_ups).unwrap();
    assert_eq!(warm_ups.lines().count(), 1, "one warm-up for the tool run");

    let refused = cached_sh_tool(&script, "/tmp/cache").err().unwrap();
    assert!(
        refused.contains("descriptor sh-cached: warm_up:") && refused.contains("{cache}"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_and_output_are_checked_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "x").unwrap();
    let error = |result: Result<(), ToolError>| match result {
        Err(ToolError::Failed(message)) => message,
        other => panic!("expected a tool error, got {other:?}"),
    };

    let (result, _) = run_on(
        sh_tool("echo 'cannot read config' >&2; exit 3"),
        dir.path(),
        CancellationToken::new(),
    )
    .await;
    let message = error(result);
    assert!(
        message.contains("exited with 3") && message.contains("cannot read config"),
        "{message}"
    );

    let (result, _) = run_on(
        sh_tool("echo 'Traceback: boom'; exit 1"),
        dir.path(),
        CancellationToken::new(),
    )
    .await;
    let message = error(result);
    assert!(message.contains("did not parse"), "{message}");

    let empty = r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"t"}},"results":[]}]}"#;
    let (result, _) = run_on(
        sh_tool(&format!("echo '{empty}'; exit 1")),
        dir.path(),
        CancellationToken::new(),
    )
    .await;
    assert!(error(result).contains("reported none"));

    let (result, findings) = run_on(
        sh_tool(&format!("echo '{empty}'")),
        dir.path(),
        CancellationToken::new(),
    )
    .await;
    assert!(result.is_ok() && findings.is_empty(), "a clean run");

    // No file the tool reads: clean without even starting it.
    let nothing = tempfile::tempdir().unwrap();
    let (result, _) = run_on(sh_tool("exit 99"), nothing.path(), CancellationToken::new()).await;
    assert!(result.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "x").unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    // The grandchild would outlive a kill of `sh` alone.
    let tool = sh_tool(&format!("sleep 300 & echo $! > {}; wait", pid_file.display()));
    let cancel = CancellationToken::new();
    let root = dir.path().to_path_buf();
    let run = tokio::spawn({
        let cancel = cancel.clone();
        async move { run_on(tool, &root, cancel).await }
    });
    for _ in 0..500 {
        if std::fs::read_to_string(&pid_file).is_ok_and(|p| p.ends_with('\n')) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let started = Instant::now();
    cancel.cancel();
    let (result, _) = run.await.unwrap();
    assert!(matches!(result, Err(ToolError::Cancelled)), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut gone = false;
    for _ in 0..200 {
        // Gone, or a zombie waiting for whoever adopted it to reap it.
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = state
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'));
        if state.is_empty() || zombie {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "the grandchild {pid} survived the cancel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanner_past_its_memory_cap_fails_with_that_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "x").unwrap();
    let mut capped = workspace();
    capped.child_memory = Some(256 * 1024 * 1024);
    // A scanner that wants 1 GiB for its work.
    let greedy = || sh_tool("python3 -c 'data = bytearray(1 << 30)'; exit 3");
    let (result, _) = run_in(greedy(), dir.path(), CancellationToken::new(), capped).await;
    let message = match result {
        Err(ToolError::Failed(message)) => message,
        other => panic!("expected a tool error, got {other:?}"),
    };
    assert!(
        message.contains("ran out of memory") && message.contains("256 MiB"),
        "{message}"
    );
    // Without the cap the same scanner gets its memory (and exits 3 as written).
    let mut uncapped = workspace();
    uncapped.child_memory = None;
    let (result, _) = run_in(greedy(), dir.path(), CancellationToken::new(), uncapped).await;
    let message = format!("{result:?}");
    assert!(
        message.contains("exited with 3") && !message.contains("memory"),
        "{message}"
    );
}

/// The tool of a shipped descriptor, found where the test set-up installs it.
fn shipped(id: &str) -> Arc<dyn Tool> {
    external::all(&tool_dirs())
        .into_iter()
        .find(|tool| tool.spec().id == id)
        .unwrap_or_else(|| panic!("no shipped descriptor {id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanned_document_cannot_make_spectral_fetch_anything() {
    // A local server standing in for what a remote `$ref` names.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = asked.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("openapi.yaml"),
        format!(
            "openapi: 3.0.3\ninfo:\n  title: t\n  version: '1'\npaths:\n  /a:\n    $ref: 'http://{address}/a.yaml'\n"
        ),
    )
    .unwrap();
    let (result, findings) = run_on(shipped("spectral"), dir.path(), CancellationToken::new()).await;
    result.unwrap();
    let refused = findings
        .iter()
        .find(|f| f.rule_id == "invalid-ref")
        .unwrap_or_else(|| panic!("{findings:#?}"));
    assert!(
        refused.message.contains("remote references are not followed"),
        "{refused:?}"
    );
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "spectral connected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_larger_than_a_pipe_buffer_arrives_whole() {
    // node exits before a pipe has taken a report over 64 KiB whole; 300
    // pages with two problems each (a duplicate id, an image without alt
    // text) make a report of about 250 KiB.
    let dir = tempfile::tempdir().unwrap();
    for page in 0..300 {
        std::fs::write(
            dir.path().join(format!("page-{page}.html")),
            "<div id=\"a\"><div id=\"a\"><img src=\"x.png\"></div></div>\n",
        )
        .unwrap();
    }
    let (result, findings) = run_on(shipped("html-validate"), dir.path(), CancellationToken::new()).await;
    result.unwrap_or_else(|e| panic!("html-validate failed on 300 pages: {e}"));
    let pages: std::collections::HashSet<_> = findings.iter().filter_map(|f| f.path.clone()).collect();
    assert_eq!(pages.len(), 300, "every page's findings arrive");
    assert_eq!(findings.len(), 600);
}

/// The findings of a run, by rule, path and line.
fn rows(findings: &[livescan::model::Finding]) -> Vec<Row> {
    let mut rows: Vec<Row> = findings
        .iter()
        .map(|f| (f.rule_id.clone(), f.path.clone().unwrap_or_default(), f.line))
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_crashes_a_scanner_is_not_analysed_and_the_rest_stands() {
    let dir = tempfile::tempdir().unwrap();
    // Bracket soup lizard's JavaScript reader fails on (IndexError).
    std::fs::write(
        dir.path().join("broken.js"),
        ":}[.:if(}](].)];[{.{)[}[[:];(;]x]{]if]\n",
    )
    .unwrap();
    let params: Vec<String> = (0..9).map(|i| format!("p{i}")).collect();
    std::fs::write(
        dir.path().join("wide.js"),
        format!("function wide({}) {{\n  return p0;\n}}\n", params.join(", ")),
    )
    .unwrap();
    let (result, findings) = run_on(shipped("lizard"), dir.path(), CancellationToken::new()).await;
    result.unwrap_or_else(|e| panic!("one bad file failed the whole run: {e}"));
    assert_eq!(
        rows(&findings),
        vec![
            (
                external::FILE_NOT_ANALYZED.to_string(),
                "broken.js".to_string(),
                None
            ),
            ("function-too-complex".to_string(), "wide.js".to_string(), Some(1)),
        ],
        "{findings:#?}"
    );
    let not_analysed = &findings
        .iter()
        .find(|f| f.path.as_deref() == Some("broken.js"))
        .unwrap();
    assert_eq!(not_analysed.severity, livescan::model::Severity::Info);
    assert!(
        not_analysed.message.contains("lizard failed on this file"),
        "{}",
        not_analysed.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yaml_bomb_does_not_take_detect_secrets_down() {
    let dir = tempfile::tempdir().unwrap();
    // Nine levels of nine aliases: 387 million strings once expanded.
    let mut bomb =
        vec!["l0: &l0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]".to_string()];
    for level in 1..10 {
        let refs = vec![format!("*l{}", level - 1); 9].join(",");
        bomb.push(format!("l{level}: &l{level} [{refs}]"));
    }
    std::fs::write(dir.path().join("bomb.yml"), bomb.join("\n") + "\n").unwrap();
    let key = ["AKIA", "Z7Q2M4XW6YB3N5KP"].concat();
    std::fs::write(
        dir.path().join("deploy.env"),
        format!("AWS_ACCESS_KEY_ID={key}\n"),
    )
    .unwrap();
    let mut capped = workspace();
    capped.child_memory = Some(512 * 1024 * 1024);
    // A worker out of memory used to hang detect-secrets' pool for good.
    let run = run_in(
        shipped("detect-secrets"),
        dir.path(),
        CancellationToken::new(),
        capped,
    );
    let (result, findings) = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("detect-secrets finishes");
    result.unwrap_or_else(|e| panic!("one hostile file failed the whole run: {e}"));
    assert_eq!(
        rows(&findings),
        vec![("aws-access-key".to_string(), "deploy.env".to_string(), Some(1))],
        "{findings:#?}"
    );
}
