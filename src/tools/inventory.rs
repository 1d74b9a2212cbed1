//! The file inventory of a directory target: walked once per session (honouring
//! `.gitignore`, never following symlinks, skipping `.git/` and the server's
//! own directories) and shared by every directory tool of that session.
//!
//! Nothing outside the root is ever read through it. The walk does not follow
//! symlinks, and every later open goes through the root's directory handle
//! with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, so a file swapped
//! for a symlink after the walk is refused rather than followed. External
//! scanners, which walk trees themselves, get a [`View`]: a private tree that
//! holds exactly the inventory's regular files and no link at all.
//!
//! The server's data directory must never be read by a scan: besides leaking
//! its keys, a process that opens and closes any descriptor of its SQLite
//! files drops its own POSIX locks on them, and another process can then
//! delete the write-ahead log under the live server.

use super::origin::{Attributes, Origin};
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tokio_util::sync::CancellationToken;

/// Files larger than this are not read as text (their size is still known).
pub const MAX_TEXT_BYTES: u64 = 4 * 1024 * 1024;

/// One regular file under the scanned root.
#[derive(Clone, Debug)]
pub struct FileEntry {
    /// Path relative to the root, with `/` separators; what reports show.
    pub rel: String,
    pub abs: PathBuf,
    pub size: u64,
    /// Written here, or vendored, generated, minified or binary.
    pub origin: Origin,
}

#[cfg(test)]
impl FileEntry {
    /// A source file at `rel`, for checks that only read the path.
    pub(crate) fn source(rel: &str) -> FileEntry {
        FileEntry {
            rel: rel.to_string(),
            abs: PathBuf::from(rel),
            size: 0,
            origin: Origin::Source,
        }
    }
}

/// How many files a tool did not look at, by the reason (their origin).
pub type LeftOut = BTreeMap<Origin, u32>;

#[derive(Debug)]
pub struct Inventory {
    root: PathBuf,
    /// The root, opened once; every read resolves beneath it.
    root_dir: File,
    files: Vec<FileEntry>,
    view: OnceLock<Result<View, String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read directory {path}: {source}")]
    Unreadable { path: String, source: std::io::Error },
    #[error("walk cancelled")]
    Cancelled,
}

/// A directory's identity (device and inode), which no path spelling,
/// symlink or bind mount changes.
type DirId = (u64, u64);

fn dir_ids(dirs: &[PathBuf]) -> HashSet<DirId> {
    dirs.iter()
        .filter_map(|dir| std::fs::metadata(dir).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect()
}

impl Inventory {
    /// Walks `root`, sorted by path so every run sees files in the same order.
    /// Directories in `excluded` (however they are reached) are left out
    /// with everything under them.
    pub fn walk(
        root: &Path,
        excluded: &[PathBuf],
        cancel: &CancellationToken,
    ) -> Result<Inventory, InventoryError> {
        let unreadable = |source| InventoryError::Unreadable {
            path: root.display().to_string(),
            source,
        };
        let root_dir = open_root(root).map_err(unreadable)?;
        let excluded = dir_ids(excluded);
        // Read like every other file: beneath the root, never through a link.
        // One buffer for every file's head: the walk allocates nothing per file for it.
        let mut head = Vec::with_capacity(HEAD_BYTES as usize);
        read_head(&root_dir, Path::new(".gitattributes"), &mut head);
        let attributes = Attributes::parse(&String::from_utf8_lossy(&head));
        let root_meta = root_dir.metadata().map_err(unreadable)?;
        if excluded.contains(&(root_meta.dev(), root_meta.ino())) {
            return Err(unreadable(std::io::Error::other(
                "it is livescan's own data directory, which is never scanned",
            )));
        }
        let walker = ignore::WalkBuilder::new(root)
            .hidden(false)
            .follow_links(false)
            .require_git(false)
            // Only the tree's own ignore files count: not those of the
            // directories above it (outside the target), nor the server
            // user's global git excludes, which say nothing about the tree.
            .parents(false)
            .git_global(false)
            .filter_entry(move |entry| {
                if entry.file_name() == ".git" {
                    return false;
                }
                let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                !is_dir
                    || entry
                        .metadata()
                        .is_ok_and(|m| !excluded.contains(&(m.dev(), m.ino())))
            })
            .build();
        let mut files = Vec::new();
        for entry in walker {
            if cancel.is_cancelled() {
                return Err(InventoryError::Cancelled);
            }
            // Unreadable entries (permissions, races) are skipped, not fatal.
            let Ok(entry) = entry else { continue };
            let Some(file_type) = entry.file_type() else {
                continue;
            };
            if !file_type.is_file() {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(root) else {
                continue;
            };
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            // The size from the open that reads the head; from the entry
            // only when the file cannot be opened (its head is then empty).
            let size = match read_head(&root_dir, Path::new(&rel), &mut head) {
                Some(size) => size,
                None => match entry.metadata() {
                    Ok(metadata) => metadata.len(),
                    Err(_) => continue,
                },
            };
            files.push(FileEntry {
                origin: super::origin::origin(&rel, &head, &attributes),
                rel,
                abs: entry.path().to_path_buf(),
                size,
            });
        }
        files.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(Inventory {
            root: root.to_path_buf(),
            root_dir,
            files,
            view: OnceLock::new(),
        })
    }

    /// The walked directory, as given.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every file, whatever its origin.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// Drops the files `excluded` names (by relative path) from the
    /// inventory: no native tool reads them.
    pub fn exclude(&mut self, excluded: impl Fn(&str) -> bool) {
        self.files.retain(|file| !excluded(&file.rel));
    }

    /// The files of the origins a tool looks at.
    pub fn files_seen(&self, sees: impl Fn(Origin) -> bool) -> impl Iterator<Item = &FileEntry> {
        self.files.iter().filter(move |f| sees(f.origin))
    }

    /// How many files of each other origin a tool that `sees` leaves out.
    pub fn left_out(&self, sees: impl Fn(Origin) -> bool) -> LeftOut {
        let mut counts = LeftOut::new();
        for file in self.files.iter().filter(|f| !sees(f.origin)) {
            *counts.entry(file.origin).or_default() += 1;
        }
        counts
    }

    /// Opens one of the inventory's files for reading: beneath the root, with
    /// no symlink anywhere on the way, and only if it is still a regular file.
    pub fn open(&self, file: &FileEntry) -> std::io::Result<File> {
        let relative = file.abs.strip_prefix(&self.root).map_err(std::io::Error::other)?;
        open_beneath(&self.root_dir, relative)
    }

    /// The file's text, or `None` for binary (a NUL byte in the first 8 KiB),
    /// oversized or unreadable files. Invalid UTF-8 is replaced, not rejected.
    pub fn read_text(&self, file: &FileEntry) -> Option<String> {
        if file.size > MAX_TEXT_BYTES {
            return None;
        }
        let mut bytes = Vec::new();
        // Read at most one byte past the limit: the file may have grown.
        self.open(file)
            .ok()?
            .take(MAX_TEXT_BYTES + 1)
            .read_to_end(&mut bytes)
            .ok()?;
        if bytes.len() as u64 > MAX_TEXT_BYTES || bytes[..bytes.len().min(8192)].contains(&0) {
            return None;
        }
        Some(match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
        })
    }

    /// The session's view of this inventory for external scanners, made in
    /// `work_dir` on first use and shared by every later caller; removed
    /// when the inventory is dropped.
    pub fn view(&self, work_dir: &Path) -> Result<&View, String> {
        self.view
            .get_or_init(|| View::build(self, work_dir))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// A private tree holding exactly the inventory's regular source files (what
/// scanners look at: nothing vendored, generated, minified or binary), at
/// the same relative paths: hard links where the file system allows (instant, no
/// copy), else copies of the files a scanner would read as text (up to
/// [`MAX_TEXT_BYTES`]; a target on another file system is not duplicated
/// whole). It has no symlinks, so a scanner that walks it and follows links
/// still reads nothing from outside the target.
#[derive(Debug)]
pub struct View {
    dir: tempfile::TempDir,
}

impl View {
    fn build(inventory: &Inventory, work_dir: &Path) -> Result<View, String> {
        std::fs::create_dir_all(work_dir)
            .map_err(|e| format!("cannot create {}: {e}", work_dir.display()))?;
        let dir = tempfile::Builder::new()
            .prefix("view-")
            .tempdir_in(work_dir)
            .map_err(|e| format!("cannot make the scanners' view in {}: {e}", work_dir.display()))?;
        for file in inventory.files.iter().filter(|f| f.origin == Origin::Source) {
            let target = dir.path().join(&file.rel);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot build the scanners' view: {e}"))?;
            }
            // A file that vanished or turned into something else since the
            // walk is left out, as the walk would have left it out.
            let Ok(source) = inventory.open(file) else {
                continue;
            };
            place(&source, file.size, &target)
                .map_err(|e| format!("cannot build the scanners' view: {}: {e}", file.rel))?;
        }
        Ok(View { dir })
    }

    /// The view's root: what scanners are pointed at.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// Puts the opened file at `target`: a hard link to exactly the opened inode
/// (through `/proc/self/fd`, so no path is resolved again), or a copy of a
/// file of at most [`MAX_TEXT_BYTES`] (a larger one is left out).
fn place(source: &File, size: u64, target: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let by_fd = PathBuf::from(format!("/proc/self/fd/{}", source.as_raw_fd()));
        if linkat_following(&by_fd, target).is_ok() {
            return Ok(());
        }
    }
    if size > MAX_TEXT_BYTES {
        return Ok(());
    }
    let mut copy = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(target)?;
    std::io::copy(&mut source.take(MAX_TEXT_BYTES), &mut copy)?;
    Ok(())
}

#[cfg(target_os = "linux")]
fn linkat_following(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let from = CString::new(from.as_os_str().as_bytes())?;
    let to = CString::new(to.as_os_str().as_bytes())?;
    // SAFETY: both paths are valid NUL-terminated strings for the duration of the call.
    let result = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The first 64 KiB of a file (empty when it cannot be read), for deciding
/// where it comes from.
/// How much of each file the walk reads to judge its origin.
const HEAD_BYTES: u64 = 64 * 1024;

/// Replaces `head` with the first [`HEAD_BYTES`] of `relative` (opened as
/// [`open_beneath`] does) and returns the file's size; `None`, with `head`
/// empty, when it cannot be opened. Reads no further than the size the open
/// found, so a small file costs one read, not a second one to find its end.
fn read_head(root: &File, relative: &Path, head: &mut Vec<u8>) -> Option<u64> {
    head.clear();
    let (file, size) = open_sized(root, relative).ok()?;
    let _ = file.take(size.min(HEAD_BYTES)).read_to_end(head);
    Some(size)
}

fn open_root(root: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(root)
}

/// Opens `relative` under the directory `root` without following any
/// symlink and without leaving `root`; refuses anything but a regular file
/// (a FIFO would block a reader forever; a device is not the repository's).
fn open_beneath(root: &File, relative: &Path) -> std::io::Result<File> {
    open_sized(root, relative).map(|(file, _)| file)
}

/// [`open_beneath`], with the file's size as the open found it.
fn open_sized(root: &File, relative: &Path) -> std::io::Result<(File, u64)> {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::ffi::OsStrExt;
    let path = CString::new(relative.as_os_str().as_bytes())?;
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
    #[cfg(target_os = "linux")]
    let fd = {
        // SAFETY: open_how is plain data; all-zero is its documented default.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = flags as u64;
        how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
        // SAFETY: the path and `how` outlive the call; the size is the struct's.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
            // Kernels before 5.6: the last component is still never followed.
            // SAFETY: as above.
            unsafe { libc::openat(root.as_raw_fd(), path.as_ptr(), flags) as libc::c_long }
        } else {
            fd
        }
    };
    #[cfg(not(target_os = "linux"))]
    // SAFETY: the path outlives the call.
    let fd = unsafe { libc::openat(root.as_raw_fd(), path.as_ptr(), flags) as libc::c_long };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just opened and is owned by nothing else.
    let file = unsafe { File::from_raw_fd(fd as i32) };
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok((file, metadata.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(root: &Path) -> Inventory {
        Inventory::walk(root, &[], &CancellationToken::new()).unwrap()
    }

    #[test]
    fn walk_honours_gitignore_skips_git_and_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join(".gitignore"), "ignored.txt\n").unwrap();
        std::fs::write(root.join("ignored.txt"), "x").unwrap();
        std::fs::write(root.join(".env"), "A=1").unwrap();
        std::fs::create_dir(root.join(".git")).unwrap();
        std::fs::write(root.join(".git/config"), "x").unwrap();
        std::fs::create_dir(root.join("src")).unwrap();
        std::fs::write(root.join("src/main.rs"), "fn main() {}").unwrap();
        std::fs::write(root.join("bin.dat"), [0u8, 1, 2]).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();

        let inventory = walk(root);
        let names: Vec<_> = inventory.files().iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(names, vec![".env", ".gitignore", "bin.dat", "src/main.rs"]);
        let bin = &inventory.files()[2];
        assert_eq!(inventory.read_text(bin), None);
        assert_eq!(
            inventory.read_text(&inventory.files()[3]).unwrap(),
            "fn main() {}"
        );
    }

    #[test]
    fn excluded_directories_are_never_walked_however_they_are_reached() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let data = root.join("livescan-data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("livescan.sqlite"), "SQLite format 3\0").unwrap();
        std::fs::write(root.join("app.py"), "x = 1\n").unwrap();
        // The same directory under another name (a bind mount or a second
        // spelling) is excluded by identity, not by path.
        let spelled = root.join(".").join("livescan-data");
        let inventory = Inventory::walk(root, &[spelled], &CancellationToken::new()).unwrap();
        let names: Vec<_> = inventory.files().iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(names, vec!["app.py"]);
        // And it cannot be the root itself.
        let err = Inventory::walk(&data, std::slice::from_ref(&data), &CancellationToken::new()).unwrap_err();
        assert!(err.to_string().contains("never scanned"), "{err}");
    }

    #[test]
    fn a_file_swapped_for_a_symlink_after_the_walk_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("key"), "TOP-SECRET").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/conf.py"), "x = 1\n").unwrap();
        let inventory = walk(dir.path());
        let file = inventory.files()[0].clone();
        // The file becomes a link out of the tree...
        std::fs::remove_file(&file.abs).unwrap();
        std::os::unix::fs::symlink(outside.path().join("key"), &file.abs).unwrap();
        assert_eq!(inventory.read_text(&file), None);
        // ...and so does a directory on its way.
        std::fs::remove_dir_all(dir.path().join("sub")).unwrap();
        std::fs::create_dir(outside.path().join("sub")).unwrap();
        std::fs::write(outside.path().join("sub/conf.py"), "TOP-SECRET").unwrap();
        std::os::unix::fs::symlink(outside.path().join("sub"), dir.path().join("sub")).unwrap();
        assert_eq!(inventory.read_text(&file), None);
        let work = tempfile::tempdir().unwrap();
        let view = inventory.view(work.path()).unwrap();
        assert!(!view.root().join("sub/conf.py").exists());
    }

    #[test]
    fn the_view_holds_exactly_the_regular_files_and_no_links() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("local.key"), "TOP-SECRET").unwrap();
        std::fs::create_dir(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("pkg/a.py"), "import os\n").unwrap();
        std::fs::write(dir.path().join("b.txt"), "b").unwrap();
        std::os::unix::fs::symlink(outside.path().join("local.key"), dir.path().join("pkg/conf.py")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
        let inventory = walk(dir.path());
        let work = tempfile::tempdir().unwrap();
        let view_root = inventory.view(work.path()).unwrap().root().to_path_buf();
        let mut seen = Vec::new();
        for entry in ignore::WalkBuilder::new(&view_root)
            .standard_filters(false)
            .build()
        {
            let entry = entry.unwrap();
            assert!(!entry.path_is_symlink(), "{} is a link", entry.path().display());
            if entry.file_type().unwrap().is_file() {
                seen.push(
                    entry
                        .path()
                        .strip_prefix(&view_root)
                        .unwrap()
                        .display()
                        .to_string(),
                );
            }
        }
        seen.sort();
        assert_eq!(seen, vec!["b.txt", "pkg/a.py"]);
        assert_eq!(
            std::fs::read_to_string(view_root.join("pkg/a.py")).unwrap(),
            "import os\n"
        );
        drop(inventory);
        assert!(!view_root.exists(), "the view goes with its inventory");
    }

    #[test]
    fn a_view_on_another_file_system_copies_text_sized_files_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("small.py"), "x = 1\n").unwrap();
        let big = vec![b'a'; MAX_TEXT_BYTES as usize + 1];
        std::fs::write(dir.path().join("big.bin"), &big).unwrap();
        // /dev/shm is a tmpfs: another device than the tree, so no hard link.
        let work = tempfile::tempdir_in("/dev/shm").unwrap();
        let tree_device = std::fs::metadata(dir.path()).unwrap().dev();
        if std::fs::metadata(work.path()).unwrap().dev() == tree_device {
            eprintln!("SKIPPED: /dev/shm is on the same file system as the temporary directory");
            return;
        }
        let inventory = walk(dir.path());
        let view = inventory.view(work.path()).unwrap();
        let small = view.root().join("small.py");
        assert_eq!(std::fs::read_to_string(&small).unwrap(), "x = 1\n");
        assert_eq!(
            std::fs::metadata(&small).unwrap().nlink(),
            1,
            "a copy, not a link"
        );
        assert!(
            !view.root().join("big.bin").exists(),
            "no copy of a file past the text limit"
        );
    }

    #[test]
    fn missing_root_is_an_error() {
        let err = Inventory::walk(Path::new("/nonexistent/livescan"), &[], &CancellationToken::new());
        assert!(matches!(err, Err(InventoryError::Unreadable { .. })));
    }
}
