//! The file inventory of a directory target: walked once per session (honouring
//! `.gitignore`, never following symlinks, skipping `.git/`) and shared by every
//! directory tool of that session.

use std::path::{Path, PathBuf};
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
}

#[derive(Debug)]
pub struct Inventory {
    root: PathBuf,
    files: Vec<FileEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read directory {path}: {source}")]
    Unreadable { path: String, source: std::io::Error },
    #[error("walk cancelled")]
    Cancelled,
}

impl Inventory {
    /// Walks `root`, sorted by path so every run sees files in the same order.
    pub fn walk(root: &Path, cancel: &CancellationToken) -> Result<Inventory, InventoryError> {
        std::fs::read_dir(root).map_err(|source| InventoryError::Unreadable {
            path: root.display().to_string(),
            source,
        })?;
        let walker = ignore::WalkBuilder::new(root)
            .hidden(false)
            .follow_links(false)
            .require_git(false)
            .filter_entry(|entry| entry.file_name() != ".git")
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
            let Ok(metadata) = entry.metadata() else { continue };
            let Ok(rel) = entry.path().strip_prefix(root) else {
                continue;
            };
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            files.push(FileEntry {
                rel,
                abs: entry.path().to_path_buf(),
                size: metadata.len(),
            });
        }
        files.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(Inventory {
            root: root.to_path_buf(),
            files,
        })
    }

    /// The walked directory, as given (external tools are pointed at it).
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// The file's text, or `None` for binary (a NUL byte in the first 8 KiB),
    /// oversized or unreadable files. Invalid UTF-8 is replaced, not rejected.
    pub fn read_text(&self, file: &FileEntry) -> Option<String> {
        if file.size > MAX_TEXT_BYTES {
            return None;
        }
        let bytes = std::fs::read(&file.abs).ok()?;
        if bytes[..bytes.len().min(8192)].contains(&0) {
            return None;
        }
        Some(match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

        let inventory = Inventory::walk(root, &CancellationToken::new()).unwrap();
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
    fn missing_root_is_an_error() {
        let err = Inventory::walk(Path::new("/nonexistent/livescan"), &CancellationToken::new());
        assert!(matches!(err, Err(InventoryError::Unreadable { .. })));
    }
}
