//! Where and how tool runs use this machine: a work directory for their
//! private files (inside the server's data directory, which no scan reads),
//! a memory cap for every child process, and an owner tag that every child
//! and grandchild carries in its environment.
//!
//! Children die with the server: each asks the kernel for SIGKILL when its
//! parent goes (`PR_SET_PDEATHSIG`), and a process group is killed whole when
//! its run ends. A grandchild of a server killed with -9 can still outlive it;
//! the next server on the same data directory finds such leftovers by their
//! owner tag and ends them before it resumes anything ([`Workspace::reclaim`]).

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Each child process may use at most this much data memory by default.
pub const DEFAULT_CHILD_MEMORY: u64 = 2 * 1024 * 1024 * 1024;

/// The environment variable that tags a child with its owner.
pub const OWNER_VAR: &str = "LIVESCAN_OWNER";

#[derive(Clone, Debug)]
pub struct Workspace {
    /// Where runs make their private directories.
    pub dir: PathBuf,
    /// Cap on each child process's data memory (`RLIMIT_DATA`), in bytes;
    /// `None`: no cap.
    pub child_memory: Option<u64>,
    /// The value of [`OWNER_VAR`] in every child's environment.
    pub owner: String,
}

impl Workspace {
    /// The workspace of the server on `data_dir`: its owner tag follows
    /// from the directory, so the next server on it finds what this one
    /// left behind (one server per data directory holds its lock).
    pub fn for_data_dir(data_dir: &Path) -> Workspace {
        let canonical = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        let digest = Sha256::digest(canonical.as_os_str().as_encoded_bytes());
        let owner: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Workspace {
            dir: data_dir.join("work"),
            child_memory: Some(DEFAULT_CHILD_MEMORY),
            owner: format!("data-{owner}"),
        }
    }

    /// A workspace of its own in `dir` (an in-process scan, a test), with an
    /// owner tag no other process shares.
    pub fn scratch(dir: PathBuf) -> Workspace {
        Workspace {
            dir,
            child_memory: Some(DEFAULT_CHILD_MEMORY),
            owner: format!("run-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Ends every process still tagged with this owner (children of an
    /// earlier server on this data directory) and empties the work
    /// directory. Returns how many processes were ended.
    pub fn reclaim(&self) -> std::io::Result<usize> {
        let ended = end_tagged(&format!("{OWNER_VAR}={}", self.owner));
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(&self.dir)?;
        Ok(ended)
    }
}

/// SIGKILLs every process (but this one) whose environment holds `tag`.
fn end_tagged(tag: &str) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let me = std::process::id();
    let mut ended = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        // Another user's process, or one gone meanwhile: not ours to end.
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|var| var == tag.as_bytes()) {
            // SAFETY: kill(2) on a pid; no memory is involved.
            if unsafe { libc::kill(pid as i32, libc::SIGKILL) } == 0 {
                ended += 1;
            }
        }
    }
    ended
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_directory_always_gives_the_same_owner_and_others_differ() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        assert_eq!(
            Workspace::for_data_dir(a.path()).owner,
            Workspace::for_data_dir(&a.path().join(".")).owner
        );
        assert_ne!(
            Workspace::for_data_dir(a.path()).owner,
            Workspace::for_data_dir(b.path()).owner
        );
        let dir = a.path().join("w");
        assert_ne!(
            Workspace::scratch(dir.clone()).owner,
            Workspace::scratch(dir).owner
        );
    }

    #[test]
    fn reclaim_ends_tagged_processes_and_empties_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = Workspace::scratch(dir.path().join("work"));
        std::fs::create_dir_all(workspace.dir.join("run-old")).unwrap();
        let mut tagged = std::process::Command::new("sleep")
            .arg("300")
            .env(OWNER_VAR, &workspace.owner)
            .spawn()
            .unwrap();
        let mut other = std::process::Command::new("sleep").arg("300").spawn().unwrap();
        // A process is visible to `reclaim` once the kernel has laid out its
        // new environment, a moment after `spawn` returns on a busy machine.
        let tag = format!("{OWNER_VAR}={}", workspace.owner);
        let environ = format!("/proc/{}/environ", tagged.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !std::fs::read(&environ)
            .unwrap_or_default()
            .split(|b| *b == 0)
            .any(|var| var == tag.as_bytes())
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the tagged process never showed its environment"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(workspace.reclaim().unwrap(), 1);
        let status = tagged.wait().unwrap();
        assert!(!status.success(), "{status}");
        assert!(
            other.try_wait().unwrap().is_none(),
            "an untagged process was ended"
        );
        other.kill().unwrap();
        other.wait().unwrap();
        assert_eq!(std::fs::read_dir(&workspace.dir).unwrap().count(), 0);
    }
}
