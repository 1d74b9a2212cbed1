//! Running a scanner over a list of files: in batches that fit on a command
//! line (and keep apart files the scanner cannot take together), and, when
//! a batch fails, in halves until the files that break the scanner are
//! found. Those files are reported as not analysed and the rest
//! of the report stands: one hostile or odd file never costs a whole run.

use crate::tools::ToolError;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::{Path, PathBuf};

/// Most files one run is given.
const MAX_BATCH_FILES: usize = 1000;
/// Most bytes of file arguments one run is given, well under the kernel's
/// limit on a command line (with the environment and the other arguments).
const MAX_BATCH_ARG_BYTES: usize = 128 * 1024;
/// Failed runs spent looking for the files that break a scanner; past this,
/// the scanner itself is broken and the whole run is a tool error.
const MAX_FAILED_RUNS: usize = 24;

/// What the runs over every batch found.
#[derive(Debug, Default)]
pub struct Isolated<T> {
    pub found: Vec<T>,
    /// Files the scanner failed on, each with the failure.
    pub not_analysed: Vec<(PathBuf, String)>,
}

/// Splits `files` into batches of at most [`MAX_BATCH_FILES`] files and
/// [`MAX_BATCH_ARG_BYTES`] bytes of arguments, in order.
fn batches(files: Vec<PathBuf>) -> VecDeque<Vec<PathBuf>> {
    let mut batches = VecDeque::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for file in files {
        let size = file.as_os_str().len() + 1;
        if !current.is_empty() && (current.len() == MAX_BATCH_FILES || bytes + size > MAX_BATCH_ARG_BYTES) {
            batches.push_back(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(file);
    }
    if !current.is_empty() {
        batches.push_back(current);
    }
    batches
}

/// `files` in groups where no two share a name (as `name` gives it): the
/// n-th file of each name goes to the n-th group, in order within each.
pub fn apart(files: Vec<PathBuf>, name: impl Fn(&Path) -> String) -> Vec<Vec<PathBuf>> {
    let mut taken: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<PathBuf>> = Vec::new();
    for file in files {
        let nth = taken.entry(name(&file)).or_default();
        if groups.len() == *nth {
            groups.push(Vec::new());
        }
        groups[*nth].push(file);
        *nth += 1;
    }
    groups
}

/// Runs `run` over each group of files batch by batch (a group's files may
/// share a run; two groups' never do). A batch whose run fails is split
/// in halves and each half run again; a single file that fails is not
/// analysed. Errors other than a failure (a cancel) end everything, as does
/// a scanner that fails on every file or more than [`MAX_FAILED_RUNS`] times.
pub async fn run_isolating<T, F, Fut>(groups: Vec<Vec<PathBuf>>, mut run: F) -> Result<Isolated<T>, ToolError>
where
    F: FnMut(Vec<PathBuf>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, ToolError>>,
{
    let total = groups.iter().map(Vec::len).sum::<usize>();
    let mut queue: VecDeque<Vec<PathBuf>> = groups.into_iter().flat_map(batches).collect();
    let mut result = Isolated {
        found: Vec::new(),
        not_analysed: Vec::new(),
    };
    let mut failed_runs = 0;
    while let Some(mut batch) = queue.pop_front() {
        match run(batch.clone()).await {
            Ok(found) => result.found.extend(found),
            Err(ToolError::Failed(reason)) => {
                failed_runs += 1;
                if failed_runs > MAX_FAILED_RUNS {
                    return Err(ToolError::Failed(reason));
                }
                if batch.len() == 1 {
                    result.not_analysed.push((batch.remove(0), reason));
                } else {
                    let second = batch.split_off(batch.len() / 2);
                    queue.push_front(second);
                    queue.push_front(batch);
                }
            }
            Err(other) => return Err(other),
        }
    }
    if total > 0 && result.not_analysed.len() == total {
        let (_, reason) = result.not_analysed.swap_remove(0);
        return Err(ToolError::Failed(reason));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn files(n: usize) -> Vec<PathBuf> {
        (0..n).map(|i| PathBuf::from(format!("/v/f{i}.js"))).collect()
    }

    /// A scanner that reports each file's name and fails on the `bad` ones.
    async fn scanner(
        batch: Vec<PathBuf>,
        bad: &[&str],
        runs: &Cell<usize>,
    ) -> Result<Vec<String>, ToolError> {
        runs.set(runs.get() + 1);
        let names: Vec<String> = batch.iter().map(|f| f.display().to_string()).collect();
        match names.iter().find(|n| bad.contains(&n.as_str())) {
            Some(n) => Err(ToolError::Failed(format!("crashed on {n}"))),
            None => Ok(names),
        }
    }

    #[test]
    fn batches_respect_both_limits_and_keep_order() {
        let many = batches(files(2500));
        assert_eq!(
            many.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1000, 1000, 500]
        );
        let long: Vec<PathBuf> = (0..10)
            .map(|i| PathBuf::from(format!("/{i}{}", "x".repeat(40_000))))
            .collect();
        let split = batches(long.clone());
        assert!(
            split
                .iter()
                .all(|b| b.iter().map(|f| f.as_os_str().len() + 1).sum::<usize>() <= MAX_BATCH_ARG_BYTES)
        );
        assert_eq!(split.into_iter().flatten().collect::<Vec<_>>(), long);
        assert!(batches(Vec::new()).is_empty());
    }

    #[tokio::test]
    async fn a_file_that_breaks_the_scanner_is_not_analysed_and_the_rest_stands() {
        let runs = Cell::new(0);
        let bad = ["/v/f37.js", "/v/f1200.js"];
        let result = run_isolating(vec![files(1500)], |batch| scanner(batch, &bad, &runs))
            .await
            .unwrap();
        assert_eq!(result.found.len(), 1498);
        let broken: Vec<String> = result
            .not_analysed
            .iter()
            .map(|(f, _)| f.display().to_string())
            .collect();
        assert_eq!(broken, bad);
        assert!(result.not_analysed[0].1.contains("crashed on /v/f37.js"));
        assert!(runs.get() <= 2 + 2 * 2 * 10, "{} runs", runs.get());
    }

    #[tokio::test]
    async fn a_scanner_that_fails_on_everything_is_a_tool_error() {
        let runs = Cell::new(0);
        let always = |batch: Vec<PathBuf>| {
            runs.set(runs.get() + 1);
            async move { Err::<Vec<()>, _>(ToolError::Failed(format!("bad config ({} files)", batch.len()))) }
        };
        let err = run_isolating(vec![files(3)], always).await.unwrap_err();
        assert!(
            matches!(err, ToolError::Failed(ref m) if m.contains("bad config")),
            "{err:?}"
        );
        let runs_before = runs.get();
        let err = run_isolating(vec![files(5000)], always).await.unwrap_err();
        assert!(matches!(err, ToolError::Failed(_)));
        assert_eq!(
            runs.get() - runs_before,
            MAX_FAILED_RUNS + 1,
            "the search is bounded"
        );
    }

    #[tokio::test]
    async fn a_cancel_ends_the_runs() {
        let result = run_isolating(vec![files(3)], |_| async {
            Err::<Vec<()>, _>(ToolError::Cancelled)
        })
        .await;
        assert!(matches!(result, Err(ToolError::Cancelled)));
    }

    #[test]
    fn files_of_one_name_go_to_different_groups_in_order() {
        let files: Vec<PathBuf> = ["a/x.py", "b/x.py", "a/y.py", "c/x.py", "b/y.py"]
            .map(PathBuf::from)
            .to_vec();
        let stem = |file: &Path| file.file_stem().unwrap().to_string_lossy().into_owned();
        let groups = apart(files, stem);
        let names: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|f| f.to_str().unwrap()).collect())
            .collect();
        assert_eq!(
            names,
            [vec!["a/x.py", "a/y.py"], vec!["b/x.py", "b/y.py"], vec!["c/x.py"]]
        );
    }
}
