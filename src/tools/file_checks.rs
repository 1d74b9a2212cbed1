//! Checks applied file by file to a directory inventory, and the tools that
//! run them. A [`FileTool`] runs one check on its own; the checks of a
//! [`FilePass`] share one read of each file per session: run apart, each
//! line-based check opens, reads and decodes every file again, and for most
//! of them reading costs as much as checking. The first of a session's pass
//! tools to start reads each file once, on every core, and hands it to
//! every check of the pass the session runs; the others give their capacity
//! back and wait, then each takes what its own check found, as its own run
//! would have found it.

use super::{
    FileEntry, FindingSink, Inventory, Origin, SharedWork, Tool, ToolContext, ToolError, ToolSpec, ToolTarget,
};
use crate::model::Finding;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio_util::sync::CancellationToken;

/// A check applied to each file of a directory inventory.
pub trait FileCheck: Send + Sync + 'static {
    fn spec(&self) -> &ToolSpec;

    /// Whether the check needs the file's text (binary and oversized files are
    /// then skipped); checks that only look at metadata return false.
    fn needs_text(&self) -> bool {
        true
    }

    /// Whether the check looks at files of this origin (see [`Tool::sees`]).
    fn sees(&self, origin: Origin) -> bool {
        origin == Origin::Source
    }

    /// Whether the check looks at this file at all, judged from its path and
    /// size alone; a file it does not want is never read for it.
    fn wants(&self, _file: &FileEntry) -> bool {
        true
    }

    /// Whether files are worth checking on every core at once (a check that
    /// costs far more than reading the file); findings then arrive out of
    /// file order, which the report's own order makes invisible.
    fn parallel(&self) -> bool {
        false
    }

    /// Examines one file; `text` is `Some` exactly when `needs_text()` is true
    /// and the file is readable text.
    fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>);
}

/// Whether `check` has a file to look at in `inventory`.
fn has_files(check: &dyn FileCheck, inventory: &Inventory) -> bool {
    inventory
        .files_seen(|origin| check.sees(origin))
        .any(|file| check.wants(file))
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs one [`FileCheck`] over the session's inventory on a blocking thread
/// (on every core for a check that asks for it), reading only the files
/// it wants and stopping at the next file once the run is cancelled.
pub struct FileTool<C>(pub C);

impl<C: FileCheck> FileTool<C> {
    /// How many threads a run uses: every core for a check that asks for
    /// them, else one.
    fn threads(&self) -> usize {
        if self.0.parallel() { cores() } else { 1 }
    }
}

impl<C: FileCheck> Tool for FileTool<C> {
    fn spec(&self) -> &ToolSpec {
        self.0.spec()
    }

    fn sees(&self, origin: Origin) -> bool {
        self.0.sees(origin)
    }

    fn has_work(&self, inventory: &Inventory) -> bool {
        has_files(&self.0, inventory)
    }

    fn weight(&self) -> usize {
        self.threads()
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            let ToolTarget::Directory(inventory) = ctx.target.clone() else {
                return Err(ToolError::UnsupportedTarget);
            };
            let (sink, cancel) = (ctx.findings.clone(), ctx.cancel.clone());
            let mut crashed = super::off_runtime(move || {
                check_files(&[&self.0], &[sink], &inventory, &cancel, self.threads())
            })
            .await??;
            match crashed.pop().flatten() {
                Some(panic) => std::panic::resume_unwind(Box::new(panic)),
                None => Ok(()),
            }
        })
    }
}

/// Checks that share one read of each file per session, in catalog order.
#[derive(Default)]
pub struct FilePass {
    checks: Mutex<Vec<Arc<dyn FileCheck>>>,
}

/// What each check of one session's pass found, by tool id: its findings
/// and reads, or the message of its panic.
type Passed = HashMap<&'static str, Result<FindingSink, String>>;

impl FilePass {
    /// A tool that runs `check` in this pass.
    pub fn join(self: &Arc<Self>, check: impl FileCheck) -> Arc<dyn Tool> {
        let check: Arc<dyn FileCheck> = Arc::new(check);
        super::lock(&self.checks).push(check.clone());
        Arc::new(PassTool {
            check,
            pass: self.clone(),
        })
    }

    /// Reads the inventory once for `checks`, on every core, each check's
    /// findings in a sink of its own with the cap of `ctx`'s.
    async fn run(
        &self,
        checks: Vec<Arc<dyn FileCheck>>,
        ctx: &ToolContext,
        inventory: Arc<Inventory>,
    ) -> Result<Arc<Passed>, ToolError> {
        let ids: Vec<&'static str> = checks.iter().map(|check| check.spec().id).collect();
        let sinks: Vec<FindingSink> = checks.iter().map(|_| ctx.findings.empty_like()).collect();
        let (given, cancel) = (sinks.clone(), ctx.cancel.clone());
        let crashed = super::off_runtime(move || {
            let borrowed: Vec<&dyn FileCheck> = checks.iter().map(|check| check.as_ref()).collect();
            check_files(&borrowed, &given, &inventory, &cancel, cores())
        })
        .await??;
        let passed = ids
            .into_iter()
            .zip(sinks.into_iter().zip(crashed))
            .map(|(id, (sink, panic))| (id, panic.map_or(Ok(sink), Err)))
            .collect();
        Ok(Arc::new(passed))
    }

    /// The checks of the pass that the session of `ctx` runs, with `asking`
    /// among them.
    fn selected(&self, ctx: &ToolContext, asking: &Arc<dyn FileCheck>) -> Vec<Arc<dyn FileCheck>> {
        super::lock(&self.checks)
            .iter()
            .filter(|check| {
                let id = check.spec().id;
                id == asking.spec().id || ctx.shared.selects(id)
            })
            .cloned()
            .collect()
    }
}

/// One check of a [`FilePass`], as a tool.
struct PassTool {
    check: Arc<dyn FileCheck>,
    pass: Arc<FilePass>,
}

impl Tool for PassTool {
    fn spec(&self) -> &ToolSpec {
        self.check.spec()
    }

    fn sees(&self, origin: Origin) -> bool {
        self.check.sees(origin)
    }

    fn has_work(&self, inventory: &Inventory) -> bool {
        has_files(self.check.as_ref(), inventory)
    }

    /// The pass runs on every core.
    fn weight(&self) -> usize {
        cores()
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            let ToolTarget::Directory(inventory) = ctx.target.clone() else {
                return Err(ToolError::UnsupportedTarget);
            };
            let key = format!("file pass {:p}", Arc::as_ptr(&self.pass));
            let session = ctx.shared.value::<SharedWork<Arc<Passed>>>(&key);
            let read = || {
                self.pass
                    .run(self.pass.selected(&ctx, &self.check), &ctx, inventory.clone())
            };
            let mut passed = session.get(&ctx, read).await?.clone();
            let id = self.check.spec().id;
            if !passed.contains_key(id) {
                // Not among the session's tools when the pass ran: a pass
                // of its own.
                passed = self.pass.run(vec![self.check.clone()], &ctx, inventory).await?;
            }
            match &passed[id] {
                Ok(found) => {
                    ctx.findings.absorb(found);
                    Ok(())
                }
                Err(panic) => std::panic::resume_unwind(Box::new(panic.clone())),
            }
        })
    }
}

/// Runs `checks` over the inventory on `threads` threads, each taking the
/// next file until none is left: a file is read once for all the checks
/// that want its text, and each check's findings and reads go to its sink
/// (`sinks[i]` for `checks[i]`). A check that panics is dropped from the
/// run and its message returned in its place; the others go on. Stops at
/// the next file once `cancel` is cancelled.
pub(super) fn check_files(
    checks: &[&dyn FileCheck],
    sinks: &[FindingSink],
    inventory: &Inventory,
    cancel: &CancellationToken,
    threads: usize,
) -> Result<Vec<Option<String>>, ToolError> {
    let crashed: Vec<OnceLock<String>> = checks.iter().map(|_| OnceLock::new()).collect();
    let files = inventory.files();
    let next = AtomicUsize::new(0);
    let work = || {
        let (mut wanting, mut found) = (Vec::with_capacity(checks.len()), Vec::new());
        while let Some(file) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
            if cancel.is_cancelled() {
                return Err(ToolError::Cancelled);
            }
            wanting.clear();
            wanting.extend((0..checks.len()).filter(|&i| {
                crashed[i].get().is_none() && checks[i].sees(file.origin) && checks[i].wants(file)
            }));
            let text = if wanting.iter().any(|&i| checks[i].needs_text()) {
                inventory.read_text(file)
            } else {
                None
            };
            for &i in &wanting {
                let given = match (checks[i].needs_text(), &text) {
                    (false, _) => None,
                    (true, Some(text)) => Some(text.as_str()),
                    (true, None) => continue,
                };
                if let Some(text) = given {
                    sinks[i].read(text.len());
                }
                let checked = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    checks[i].check(file, given, &mut found);
                }));
                match checked {
                    Ok(()) if !found.is_empty() => sinks[i].extend(found.drain(..)),
                    Ok(()) => {}
                    Err(payload) => {
                        found.clear();
                        let _ = crashed[i].set(panic_text(payload.as_ref()));
                    }
                }
            }
        }
        Ok(())
    };
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mine = work();
        helpers.into_iter().fold(mine, |result, helper| {
            let theirs = helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            result.and(theirs)
        })
    })?;
    Ok(crashed.into_iter().map(OnceLock::into_inner).collect())
}

/// What a panic said, when it said it as text.
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Ecosystem, Severity, TargetKind};
    use crate::tools::{Capacity, Fetcher, Pages, SharedRuns, Workspace};
    use std::time::{Duration, Instant};

    const fn spec(id: &'static str) -> ToolSpec {
        ToolSpec {
            id,
            category: Category::CodeQuality,
            ecosystem: Ecosystem::Python,
            targets: &[TargetKind::Directory],
            cost: 1,
            summary: "Reports every file of its kind it is given",
        }
    }

    static PYTHON: ToolSpec = spec("python");
    static TEXT: ToolSpec = spec("text");

    /// A check that wants the files ending in `suffix`, reports each one it
    /// is given with its length, counts its calls, and panics on `panics_on`.
    struct Seen {
        spec: &'static ToolSpec,
        suffix: &'static str,
        parallel: bool,
        panics_on: Option<&'static str>,
        calls: Arc<AtomicUsize>,
    }

    impl Seen {
        fn python(parallel: bool) -> Seen {
            Seen {
                spec: &PYTHON,
                suffix: ".py",
                parallel,
                panics_on: None,
                calls: Arc::default(),
            }
        }

        fn text() -> Seen {
            Seen {
                spec: &TEXT,
                suffix: ".txt",
                ..Seen::python(false)
            }
        }
    }

    impl FileCheck for Seen {
        fn spec(&self) -> &ToolSpec {
            self.spec
        }

        fn wants(&self, file: &FileEntry) -> bool {
            file.rel.ends_with(self.suffix)
        }

        fn parallel(&self) -> bool {
            self.parallel
        }

        fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>) {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if self.panics_on == Some(file.rel.as_str()) {
                panic!("cannot read {}", file.rel);
            }
            let length = text.map_or(0, str::len);
            out.push(
                Finding::new("seen", Severity::Low, format!("{length} bytes")).at_path(&file.rel, None, None),
            );
        }
    }

    /// 40 Python files of 6, 12, … bytes and 3 text files of 11, 22, 33.
    fn tree() -> (tempfile::TempDir, Arc<Inventory>) {
        let tree = tempfile::tempdir().unwrap();
        for i in 0..40 {
            std::fs::write(tree.path().join(format!("m{i:02}.py")), "x = 1\n".repeat(i + 1)).unwrap();
        }
        for i in 0..3 {
            std::fs::write(
                tree.path().join(format!("n{i}.txt")),
                "not python\n".repeat(i + 1),
            )
            .unwrap();
        }
        let inventory = Arc::new(Inventory::walk(tree.path(), &[], &CancellationToken::new()).unwrap());
        (tree, inventory)
    }

    fn context(inventory: &Arc<Inventory>, shared: &Arc<SharedRuns>, capacity: Capacity) -> Arc<ToolContext> {
        Arc::new(ToolContext {
            target: ToolTarget::Directory(inventory.clone()),
            deadline: Instant::now() + Duration::from_secs(60),
            cancel: CancellationToken::new(),
            findings: FindingSink::default(),
            pages: Pages::new(Arc::new(Fetcher::new(false))),
            workspace: Arc::new(Workspace::scratch(
                std::env::temp_dir().join("livescan-file-checks"),
            )),
            shared: shared.clone(),
            capacity,
        })
    }

    /// A run's findings (path, message) and what it says it read (metric, value).
    type Found = (Vec<(String, String)>, Vec<(String, String)>);

    /// What a run found, by path, and what it says it read.
    fn found(ctx: &ToolContext) -> Found {
        let mut seen: Vec<(String, String)> = (ctx.findings.take().into_iter())
            .map(|f| (f.path.unwrap_or_default(), f.message))
            .collect();
        seen.sort();
        let read = (ctx.findings.take_metrics().into_iter())
            .map(|m| (m.name, m.value))
            .collect();
        (seen, read)
    }

    /// What a check of `suffix` files of [`tree`] should find and read.
    fn expected(suffix: &str, line: usize, count: usize) -> Found {
        let name = |i: usize| match suffix {
            ".py" => format!("m{i:02}.py"),
            _ => format!("n{i}.txt"),
        };
        let seen = (0..count)
            .map(|i| (name(i), format!("{} bytes", line * (i + 1))))
            .collect();
        let bytes: usize = (1..=count).map(|n| line * n).sum();
        let read = vec![
            ("files read".to_string(), count.to_string()),
            ("bytes read".to_string(), bytes.to_string()),
        ];
        (seen, read)
    }

    #[tokio::test]
    async fn a_file_tool_reads_only_the_files_its_check_wants_and_says_what_it_read() {
        let (_tree, inventory) = tree();
        for parallel in [false, true] {
            let ctx = context(&inventory, &Default::default(), Capacity::default());
            Arc::new(FileTool(Seen::python(parallel)))
                .run(ctx.clone())
                .await
                .unwrap();
            assert_eq!(found(&ctx), expected(".py", 6, 40), "parallel: {parallel}");
        }
    }

    /// A guard whose drop says the capacity it stands for was given back.
    struct Held(Arc<AtomicUsize>);

    impl Drop for Held {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn the_checks_of_a_pass_read_once_for_the_session_and_each_reports_only_its_own() {
        let (_tree, inventory) = tree();
        let (python, text) = (Seen::python(false), Seen::text());
        let calls = [python.calls.clone(), text.calls.clone()];
        let pass = Arc::new(FilePass::default());
        let tools = [pass.join(python), pass.join(text)];
        let shared = SharedRuns::new(["python".to_string(), "text".to_string()]);
        let released = Arc::new(AtomicUsize::new(0));
        let contexts: Vec<_> = (0..2)
            .map(|_| context(&inventory, &shared, Capacity::holding(Held(released.clone()))))
            .collect();
        let runs = tools
            .iter()
            .zip(&contexts)
            .map(|(tool, ctx)| tool.clone().run(ctx.clone()));
        for result in futures::future::join_all(runs).await {
            result.unwrap();
        }
        assert_eq!(found(&contexts[0]), expected(".py", 6, 40));
        assert_eq!(found(&contexts[1]), expected(".txt", 11, 3));
        // One pass called each check once per file it wants, and the tool
        // that waited for it gave its capacity back.
        assert_eq!(calls.each_ref().map(|c| c.load(Ordering::Relaxed)), [40, 3]);
        assert_eq!(released.load(Ordering::SeqCst), 1);

        // A tool that is not among the session's (here: none is) reads for
        // itself, and finds the same.
        let alone = Arc::new(SharedRuns::default());
        for (tool, (suffix, line, count)) in tools.iter().zip([(".py", 6, 40), (".txt", 11, 3)]) {
            let ctx = context(&inventory, &alone, Capacity::default());
            tool.clone().run(ctx.clone()).await.unwrap();
            assert_eq!(found(&ctx), expected(suffix, line, count));
        }
        assert_eq!(calls.each_ref().map(|c| c.load(Ordering::Relaxed)), [80, 6]);
    }

    #[tokio::test]
    async fn a_check_that_panics_in_a_pass_crashes_its_own_tool_and_no_other() {
        let (_tree, inventory) = tree();
        let pass = Arc::new(FilePass::default());
        let broken = pass.join(Seen {
            panics_on: Some("m07.py"),
            ..Seen::python(false)
        });
        let text = pass.join(Seen::text());
        let shared = SharedRuns::new(["python".to_string(), "text".to_string()]);
        let contexts: Vec<_> = (0..2)
            .map(|_| context(&inventory, &shared, Capacity::default()))
            .collect();
        let crashed = tokio::spawn(broken.run(contexts[0].clone())).await.unwrap_err();
        assert_eq!(panic_text(crashed.into_panic().as_ref()), "cannot read m07.py");
        text.run(contexts[1].clone()).await.unwrap();
        assert_eq!(found(&contexts[1]), expected(".txt", 11, 3));
    }

    #[tokio::test]
    async fn when_the_tool_that_reads_for_the_pass_is_stopped_the_next_one_reads_again() {
        let (_tree, inventory) = tree();
        let pass = Arc::new(FilePass::default());
        let tools = [pass.join(Seen::python(false)), pass.join(Seen::text())];
        let shared = SharedRuns::new(["python".to_string(), "text".to_string()]);
        let contexts: Vec<_> = (0..2)
            .map(|_| context(&inventory, &shared, Capacity::default()))
            .collect();
        contexts[0].cancel.cancel();
        let stopped = tools[0].clone().run(contexts[0].clone()).await;
        assert!(matches!(stopped, Err(ToolError::Cancelled)), "{stopped:?}");
        tools[1].clone().run(contexts[1].clone()).await.unwrap();
        assert_eq!(found(&contexts[1]), expected(".txt", 11, 3));
    }
}
