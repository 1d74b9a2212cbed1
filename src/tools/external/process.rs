//! Running one external tool: argv only (never a shell), its own process
//! group (so a deadline or cancel kills everything it started), a private
//! home and working directory, and capped stdout/stderr.

use super::{ConfigFile, Descriptor, Output, WorkDir};
use crate::tools::workspace::OWNER_VAR;
use crate::tools::{ToolError, Workspace};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

/// Output beyond this is cut and the run counts as a tool error.
pub const MAX_OUTPUT_BYTES: usize = 32 * 1024 * 1024;

/// What a finished child left behind.
pub struct Outcome {
    pub exit_code: Option<i32>,
    /// The report, from stdout, stderr or the output file.
    pub report: String,
    pub stderr: String,
    /// The memory cap the child ran under, if any.
    pub memory_limit: Option<u64>,
    /// Where the child ran: what relative paths in its report start from.
    pub cwd: PathBuf,
}

pub struct Run<'a> {
    pub descriptor: &'a Descriptor,
    /// The configuration files this run writes (of the descriptor's).
    pub config: &'a [&'a ConfigFile],
    pub executable: &'a Path,
    pub root: &'a Path,
    pub files: &'a [PathBuf],
    pub tool_dirs: &'a [PathBuf],
    /// Where the run's private directory is made, and the child's limits.
    pub workspace: &'a Workspace,
    pub cancel: &'a CancellationToken,
    /// What `{cache}` starts as.
    pub cache: Cache<'a>,
}

/// The directory `{cache}` names in a run's arguments.
#[derive(Clone, Copy)]
pub enum Cache<'a> {
    /// An empty directory of the run's own.
    Fresh,
    /// A directory of the run's own that starts as a copy of this one.
    CopyOf(&'a Path),
    /// This directory itself, which the run fills.
    Fill(&'a Path),
}

/// Kills the child's whole process group when the run ends any way at all,
/// including when the engine drops the run at its deadline.
pub(crate) struct GroupKiller(pub(crate) Option<u32>);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

/// The files and directories under `from`, copied into `to` (made).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()))?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

async fn read_capped(mut from: impl AsyncRead + Unpin) -> std::io::Result<(Vec<u8>, bool)> {
    let mut buffer = Vec::new();
    (&mut from)
        .take(MAX_OUTPUT_BYTES as u64 + 1)
        .read_to_end(&mut buffer)
        .await?;
    let over = buffer.len() > MAX_OUTPUT_BYTES;
    buffer.truncate(MAX_OUTPUT_BYTES);
    Ok((buffer, over))
}

/// A child confined as every tool's child is: its environment cleared but
/// for a private `HOME`, `LANG`, `NO_COLOR` and the workspace's owner tag; no
/// stdin, stdout and stderr piped; its own process group (killed when the
/// command's child is dropped); death with the server; and `memory` as its
/// data memory cap. Callers add arguments, `PATH` and their own variables.
pub(crate) fn confined(
    executable: &Path,
    home: &Path,
    workspace: &Workspace,
    memory: Option<u64>,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(executable);
    command
        .env_clear()
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .env("NO_COLOR", "1")
        .env(OWNER_VAR, &workspace.owner)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and only
    // makes async-signal-safe calls (prctl, getppid, setrlimit).
    unsafe {
        command.pre_exec(move || limit_child(parent, memory));
    }
    command
}

/// What a child printed (each stream capped, and whether it went past the
/// cap) and how it ended.
pub(crate) struct Ended {
    pub stdout: (Vec<u8>, bool),
    pub stderr: (Vec<u8>, bool),
    pub status: std::process::ExitStatus,
}

/// Starts `command` (made by [`confined`]), reads its output and waits for
/// it; its whole process group is killed when this returns or is dropped,
/// and a cancel wins.
pub(crate) async fn run_to_end(
    mut command: tokio::process::Command,
    executable: &Path,
    cancel: &CancellationToken,
) -> Result<Ended, ToolError> {
    let failed = |what: &str, e: std::io::Error| ToolError::Failed(format!("{what}: {e}"));
    let mut child = command
        .spawn()
        .map_err(|e| failed(&format!("cannot start {}", executable.display()), e))?;
    let _killer = GroupKiller(child.id());
    let stdout = read_capped(child.stdout.take().expect("stdout is piped"));
    let stderr = read_capped(child.stderr.take().expect("stderr is piped"));
    let finished = async {
        let (stdout, stderr) = tokio::try_join!(stdout, stderr)?;
        let status = child.wait().await?;
        Ok::<_, std::io::Error>(Ended {
            stdout,
            stderr,
            status,
        })
    };
    tokio::select! {
        result = finished => result.map_err(|e| failed("reading the tool's output failed", e)),
        () = cancel.cancelled() => Err(ToolError::Cancelled),
    }
}

/// In the child, before exec: die with the server (SIGKILL when the parent
/// goes, and not at all if it is already gone), and cap data memory.
fn limit_child(parent: u32, memory: Option<u64>) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number only.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // The server may have died between fork and prctl.
        // SAFETY: getppid cannot fail.
        if unsafe { libc::getppid() } as u32 != parent {
            return Err(std::io::Error::other("the server is gone"));
        }
    }
    if let Some(bytes) = memory {
        let limit = libc::rlimit {
            rlim_cur: bytes as libc::rlim_t,
            rlim_max: bytes as libc::rlim_t,
        };
        // SAFETY: setrlimit reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

impl Run<'_> {
    fn expand(&self, arg: &str, out: &Path, cache: &Path) -> Vec<String> {
        if arg == "{files}" {
            return self.files.iter().map(|f| f.display().to_string()).collect();
        }
        vec![
            arg.replace("{root}", &self.root.display().to_string())
                .replace("{out}", &out.display().to_string())
                .replace("{cache}", &cache.display().to_string()),
        ]
    }

    pub async fn execute(&self) -> Result<Outcome, ToolError> {
        let failed = |what: &str, e: std::io::Error| ToolError::Failed(format!("{what}: {e}"));
        let work_dir = &self.workspace.dir;
        std::fs::create_dir_all(work_dir).map_err(|e| failed("cannot make a private directory", e))?;
        let private = tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(work_dir)
            .map_err(|e| failed("cannot make a private directory", e))?;
        let out = private.path().join("out");
        let home = private.path().join("home");
        let work = private.path().join("work");
        for dir in [&out, &home, &work] {
            std::fs::create_dir(dir).map_err(|e| failed("cannot make a private directory", e))?;
        }
        let cache = match self.cache {
            Cache::Fill(dir) => dir.to_path_buf(),
            Cache::Fresh => {
                let cache = private.path().join("cache");
                std::fs::create_dir(&cache).map_err(|e| failed("cannot make a private directory", e))?;
                cache
            }
            Cache::CopyOf(template) => {
                let cache = private.path().join("cache");
                copy_dir(template, &cache).map_err(|e| failed("cannot copy the tool's cache", e))?;
                cache
            }
        };
        for file in self.config {
            let path = out.join(&file.name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| failed("cannot write the tool's configuration", e))?;
            }
            std::fs::write(&path, &file.content)
                .map_err(|e| failed("cannot write the tool's configuration", e))?;
        }
        let args: Vec<String> = self
            .descriptor
            .args
            .iter()
            .flat_map(|a| self.expand(a, &out, &cache))
            .collect();
        let system_path = std::env::var_os("PATH").unwrap_or_default();
        let path = std::env::join_paths(
            self.tool_dirs
                .iter()
                .cloned()
                .chain(std::env::split_paths(&system_path)),
        )
        .map_err(|e| ToolError::Failed(format!("cannot build PATH: {e}")))?;
        let cwd = match self.descriptor.cwd {
            WorkDir::Temp => work.clone(),
            WorkDir::Root => self.root.to_path_buf(),
        };
        let memory = self.workspace.child_memory.map(|cap| {
            let least = self.descriptor.min_memory_mb.unwrap_or(0) * 1024 * 1024;
            cap.max(least)
        });
        let mut command = confined(self.executable, &home, self.workspace, memory);
        command
            .args(&args)
            .current_dir(&cwd)
            .env("PATH", path)
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .envs(
                self.descriptor
                    .env
                    .iter()
                    .map(|(k, v)| (k, v.replace("{out}", &out.display().to_string()))),
            );
        let Ended {
            stdout: (stdout, stdout_over),
            stderr: (stderr, stderr_over),
            status,
        } = run_to_end(command, self.executable, self.cancel).await?;
        let too_much = || {
            ToolError::Failed(format!(
                "the tool wrote more than {} MiB of output",
                MAX_OUTPUT_BYTES / 1024 / 1024
            ))
        };
        if stdout_over || stderr_over {
            return Err(too_much());
        }
        let report = match &self.descriptor.output {
            Output::Stdout => stdout,
            Output::File(name) => {
                let file = PathBuf::from(name.replace("{out}", &out.display().to_string()));
                // No report file reads as an empty report, which the format's
                // parser then judges against the exit code.
                match tokio::fs::File::open(&file).await {
                    Ok(opened) => {
                        let (report, over) = read_capped(opened)
                            .await
                            .map_err(|e| failed("reading the tool's report failed", e))?;
                        if over {
                            return Err(too_much());
                        }
                        report
                    }
                    Err(_) => Vec::new(),
                }
            }
        };
        let report = String::from_utf8_lossy(&report).into_owned();
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        Ok(Outcome {
            exit_code: status.code(),
            report,
            stderr,
            memory_limit: memory,
            cwd,
        })
    }
}

/// How long `--version` may take: some scanners start a Python runtime
/// (checkov takes 5-6 s on an idle 2-core machine, past 10 s while other
/// scanners load the cores); a run waits for it at most this long.
const VERSION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The version `executable --version` prints (the first `N.N[.N…]` of its
/// output), run as a tool is run: argv only, cleared environment but for
/// the descriptor's (a version check that would wait on the network stays
/// off), a private home in the workspace, its own process group tagged
/// with the workspace's owner, its memory capped, killed when late or when
/// the server dies.
pub async fn version_of(
    descriptor: &Descriptor,
    executable: &Path,
    tool_dirs: &[PathBuf],
    workspace: &Workspace,
) -> Option<String> {
    std::fs::create_dir_all(&workspace.dir).ok()?;
    let home = tempfile::Builder::new()
        .prefix("version-")
        .tempdir_in(&workspace.dir)
        .ok()?;
    let system_path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(
        tool_dirs
            .iter()
            .cloned()
            .chain(std::env::split_paths(&system_path)),
    )
    .ok()?;
    let mut command = confined(executable, home.path(), workspace, workspace.child_memory);
    command
        .arg("--version")
        .current_dir(home.path())
        .env("PATH", path)
        .envs(
            descriptor
                .env
                .iter()
                .map(|(k, v)| (k, v.replace("{out}", &home.path().display().to_string()))),
        );
    let never = CancellationToken::new();
    let ended = tokio::time::timeout(VERSION_TIMEOUT, run_to_end(command, executable, &never))
        .await
        .ok()?
        .ok()?;
    let output = [ended.stdout.0, ended.stderr.0].concat();
    first_version(&String::from_utf8_lossy(&output))
}

/// The first version number (`1.9.4`, `v9.39.1`, `0.11.0`) in `text`.
fn first_version(text: &str) -> Option<String> {
    static VERSION: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\bv?(\d+\.\d+(?:\.\d+)*(?:[-+][0-9A-Za-z.]+)*)").expect("a valid pattern")
    });
    VERSION.captures(text).map(|c| c[1].to_string())
}

#[cfg(test)]
mod tests {
    use super::first_version;

    #[test]
    fn versions_are_read_from_what_scanners_print() {
        for (printed, version) in [
            ("1.185.0\n", "1.185.0"),
            ("v9.39.1", "9.39.1"),
            (
                "ShellCheck - shell script analysis tool\nversion: 0.11.0\nlicense: GPLv3",
                "0.11.0",
            ),
            ("sqlfluff, version 4.5.0", "4.5.0"),
            ("pylint 4.1.4\nastroid 4.0.1\nPython 3.11.2", "4.1.4"),
            ("Haskell Dockerfile Linter 2.12.1-no-git", "2.12.1-no-git"),
        ] {
            assert_eq!(first_version(printed).as_deref(), Some(version), "{printed}");
        }
        assert_eq!(first_version("no version here"), None);
    }
}
