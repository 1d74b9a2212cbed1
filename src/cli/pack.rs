//! Sending a directory to a server that cannot see it (a CI runner's
//! checkout, a shared server elsewhere): `livescan scan DIR --server URL`
//! packs the tree into a tar.gz in a temporary file — the files git would
//! see: `.gitignore` and `.git/info/exclude` honoured, `.git/` left out,
//! symbolic links neither followed nor sent, and never the CLI's own data
//! directory (its key and database) — uploads it to
//! `POST /api/uploads`, and scans the upload.

use super::scan::{call, rest_base, rest_client};
use anyhow::{Context, Result};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// A packed tree: the archive and what went into it.
pub struct Packed {
    pub archive: tempfile::NamedTempFile,
    pub files: u64,
    /// The files' bytes before compression.
    pub bytes: u64,
}

/// Packs `dir` into a tar.gz in a temporary file, without the directory
/// `private` (the CLI's data directory, with its key and database, which
/// the README's layout puts inside the project) wherever it lies in the
/// tree.
pub fn pack(dir: &Path, private: &Path) -> Result<Packed> {
    use std::os::unix::fs::MetadataExt;
    let private = std::fs::metadata(private).ok().map(|m| (m.dev(), m.ino()));
    let archive = tempfile::NamedTempFile::new().context("cannot make a temporary file for the archive")?;
    let gzip = GzEncoder::new(std::io::BufWriter::new(archive.reopen()?), Compression::fast());
    let mut tar = tar::Builder::new(gzip);
    tar.follow_symlinks(false);
    let (mut files, mut bytes) = (0, 0);
    let walk = ignore::WalkBuilder::new(dir)
        .hidden(false)
        .ignore(false)
        .parents(false)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |entry| {
            let is_private = || {
                let dir = entry.metadata().ok().filter(|m| m.is_dir());
                private.is_some() && dir.map(|m| (m.dev(), m.ino())) == private
            };
            entry.file_name() != ".git" && !is_private()
        })
        .build();
    for entry in walk {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let Ok(rel) = entry.path().strip_prefix(dir) else {
            continue;
        };
        let Some(kind) = entry.file_type() else {
            continue;
        };
        if rel.as_os_str().is_empty() || kind.is_symlink() {
            continue;
        }
        if kind.is_dir() {
            tar.append_dir(rel, entry.path())
                .with_context(|| format!("cannot pack {}", entry.path().display()))?;
        } else if kind.is_file() {
            let mut file = std::fs::File::open(entry.path())
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            bytes += file.metadata()?.len();
            files += 1;
            tar.append_file(rel, &mut file)
                .with_context(|| format!("cannot pack {}", entry.path().display()))?;
        }
    }
    let mut gzip = tar.into_inner().context("cannot finish the archive")?;
    gzip.flush()?;
    gzip.finish()?.flush()?;
    Ok(Packed {
        archive,
        files,
        bytes,
    })
}

/// The server's answer to an upload.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Uploaded {
    upload_id: String,
    digest: String,
}

/// Packs `dir` (without `private`), uploads it to `server` and returns the
/// upload's id, saying on stderr what it sends and how it went.
pub async fn upload(server: &str, key: Option<&str>, dir: &Path, private: &Path) -> Result<String> {
    let base = rest_base(server)?;
    let began = Instant::now();
    let packed = {
        let (dir, private) = (dir.to_path_buf(), private.to_path_buf());
        tokio::task::spawn_blocking(move || pack(&dir, &private)).await??
    };
    let archive_bytes = packed.archive.as_file().metadata()?.len();
    eprintln!(
        "Uploading {}: {} files, {} packed into {}",
        dir.display(),
        packed.files,
        size(packed.bytes),
        size(archive_bytes)
    );
    let body = tokio::fs::File::open(packed.archive.path()).await?;
    let client = rest_client(key, None)?;
    let request = client
        .post(format!("{base}/api/uploads"))
        .header(reqwest::header::CONTENT_TYPE, "application/gzip")
        .header(reqwest::header::CONTENT_LENGTH, archive_bytes)
        .body(reqwest::Body::from(body));
    let uploaded: Uploaded = call(request).await.map_err(|error| {
        error
            .into_error()
            .context(format!("cannot upload {} to {base}", dir.display()))
    })?;
    eprintln!(
        "Uploaded as {} ({}) in {:.1} s",
        uploaded.upload_id,
        uploaded.digest,
        began.elapsed().as_secs_f64()
    );
    Ok(uploaded.upload_id)
}

/// A size as people read it: `812 bytes`, `8.3 kB`, `56.7 MB`.
fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1_000 => format!("{b} bytes"),
        b if b < 1_000_000 => format!("{:.1} kB", b as f64 / 1e3),
        b => format!("{:.1} MB", b as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_honours_gitignore_and_leaves_out_git_links_and_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".git/objects")).unwrap();
        std::fs::write(root.join(".git/config"), "[core]").unwrap();
        std::fs::write(root.join(".gitignore"), "build/\n*.log\n").unwrap();
        std::fs::create_dir_all(root.join("build")).unwrap();
        std::fs::write(root.join("build/out.bin"), "built").unwrap();
        std::fs::write(root.join("debug.log"), "noise").unwrap();
        std::fs::write(root.join(".env"), "TOKEN=1").unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/main.rs"), "fn main() {}").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("src/passwd")).unwrap();
        std::fs::create_dir_all(root.join("livescan-data")).unwrap();
        std::fs::write(root.join("livescan-data/local.key"), "lsk_secret").unwrap();

        let packed = pack(root, &root.join("livescan-data")).unwrap();
        let reader = flate2::read::GzDecoder::new(std::fs::File::open(packed.archive.path()).unwrap());
        let mut names: Vec<String> = tar::Archive::new(reader)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(names, [".env", ".gitignore", "src", "src/main.rs"]);
        assert_eq!(packed.files, 3);
    }
}
