//! Uploaded targets: a client sends a directory as a tar or tar.gz archive,
//! and sessions scan it by the upload's id.
//!
//! An archive is received as a stream into a private file (never whole in
//! memory), digested, and checked entry by entry before anything is kept.
//! Only plain paths are accepted: absolute paths, `..`, links that leave the
//! archive and device files are refused, and so is an archive past the
//! limits on its size, its unpacked size, its file count or its compression
//! ratio (a bomb is refused from the sizes its headers declare, before its
//! data is inflated, and a stream that inflates past the limit regardless
//! is cut off). Links that stay inside are kept as copies (hard links) or
//! left out (symbolic links, which no scan follows).
//!
//! The archive is kept once per digest: under `archives/` on a single
//! node, in the database in a cluster, so that any worker can unpack it.
//! Each upload is one user's record of it in the store, counted against
//! the user's quota and removed once no session has used it for the
//! retention time (the archive with the last upload that refers to it). A
//! session unpacks its upload into a directory of its own in the run
//! workspace, checked again against the sizes recorded when it was taken
//! as it is written, and removes it when its tools are done.

use super::EngineError;
use crate::model::{Upload, repo_config, time};
use crate::store::{SharedStore, Store};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::{BufReader, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Bounds on what one upload, and one user's uploads together, may hold.
#[derive(Clone, Debug)]
pub struct UploadLimits {
    /// The archive as sent (compressed, when it is).
    pub archive_bytes: u64,
    /// Its files' total size once unpacked.
    pub unpacked_bytes: u64,
    /// Regular files in it.
    pub files: u64,
    /// Unpacked bytes per archive byte, above [`RATIO_FLOOR`].
    pub ratio: u64,
    /// The archives of one user's uploads together.
    pub quota_bytes: u64,
    /// An upload no session has used for this long is removed.
    pub retention: Duration,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            archive_bytes: 512 * 1024 * 1024,
            unpacked_bytes: 2 * 1024 * 1024 * 1024,
            files: 100_000,
            ratio: 100,
            quota_bytes: 2 * 1024 * 1024 * 1024,
            retention: Duration::from_secs(24 * 3600),
        }
    }
}

/// Archives that unpack to less than this are not held to the ratio: a
/// small tree of text compresses well and harms no one.
pub const RATIO_FLOOR: u64 = 16 * 1024 * 1024;

/// The longest path and file name an entry may have: what Linux file
/// systems take (`PATH_MAX`, `NAME_MAX`), so that what was accepted can be
/// unpacked.
const MAX_PATH_BYTES: usize = 4095;
const MAX_NAME_BYTES: usize = 255;

/// How often unused uploads are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Where uploads live and how large they may be.
#[derive(Clone, Debug)]
pub struct UploadConfig {
    /// The uploads' directory (inside the server's data directory, which
    /// no scan reads): `archives/` by digest, `incoming/` while receiving.
    pub dir: PathBuf,
    pub limits: UploadLimits,
    /// Removes the uploads unused for the retention time; off on a worker,
    /// which unpacks what the `serve` nodes took, by their retention.
    pub sweep: bool,
}

/// The uploads of one server.
pub struct Uploads {
    config: UploadConfig,
    /// Held while an archive is given its final name and recorded, and
    /// while unused ones are removed, so that neither removes the other's.
    naming: tokio::sync::Mutex<()>,
    /// The database that keeps the archives in a cluster; without it they
    /// are files under `archives/`.
    shared: Option<Arc<dyn SharedStore>>,
}

impl Uploads {
    /// Opens the uploads' directory; what an earlier process was receiving
    /// when it stopped is removed. With `shared`, archives are kept there.
    pub fn open(config: UploadConfig, shared: Option<Arc<dyn SharedStore>>) -> std::io::Result<Uploads> {
        let uploads = Uploads {
            config,
            naming: tokio::sync::Mutex::new(()),
            shared,
        };
        match std::fs::remove_dir_all(uploads.incoming()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::create_dir_all(uploads.incoming())?;
        if uploads.shared.is_none() {
            std::fs::create_dir_all(uploads.archives())?;
        }
        Ok(uploads)
    }

    pub fn limits(&self) -> &UploadLimits {
        &self.config.limits
    }

    /// Whether this node removes unused uploads ([`UploadConfig::sweep`]).
    pub fn sweeps(&self) -> bool {
        self.config.sweep
    }

    /// A private file in `incoming/`, removed when dropped.
    fn partial(&self) -> Partial {
        Partial(
            self.incoming()
                .join(format!("{}.part", uuid::Uuid::new_v4().simple())),
        )
    }

    fn incoming(&self) -> PathBuf {
        self.config.dir.join("incoming")
    }

    fn archives(&self) -> PathBuf {
        self.config.dir.join("archives")
    }

    fn archive(&self, digest: &str) -> PathBuf {
        self.archives()
            .join(digest.strip_prefix("sha256:").unwrap_or(digest))
    }

    /// Receives an archive for `user_id` from `chunks`, checks it, and
    /// records the upload.
    pub async fn receive<S, E>(
        &self,
        store: &dyn Store,
        user_id: &str,
        mut chunks: S,
    ) -> Result<Upload, EngineError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let limits = &self.config.limits;
        let partial = self.partial();
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial.0)
            .await
            .map_err(|e| EngineError::Unavailable(format!("cannot store the upload: {e}")))?;
        let mut digest = Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = chunks.next().await {
            let chunk =
                chunk.map_err(|e| EngineError::invalid("body", format!("the upload was cut off: {e}")))?;
            bytes += chunk.len() as u64;
            if bytes > limits.archive_bytes {
                return Err(too_large(
                    "archiveBytes",
                    limits.archive_bytes,
                    format!("the archive is larger than {} bytes", limits.archive_bytes),
                ));
            }
            digest.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(|e| EngineError::Unavailable(format!("cannot store the upload: {e}")))?;
        }
        file.sync_all()
            .await
            .map_err(|e| EngineError::Unavailable(format!("cannot store the upload: {e}")))?;
        drop(file);
        if bytes == 0 {
            return Err(EngineError::invalid(
                "body",
                "is empty; send a directory as a tar or tar.gz archive",
            ));
        }
        let digest = format!("sha256:{:x}", digest.finalize());
        let checked = {
            let (path, limits) = (partial.0.clone(), limits.clone());
            tokio::task::spawn_blocking(move || read_archive(&path, &limits, None))
                .await
                .map_err(|e| EngineError::Internal(format!("checking the archive failed: {e}")))?
        };
        let contents = checked.map_err(Refusal::into_error)?;
        let now = time::from_millis(time::now_millis());
        let upload = Upload {
            upload_id: new_upload_id(),
            user_id: user_id.to_string(),
            digest,
            bytes,
            files: contents.files,
            unpacked_bytes: contents.unpacked_bytes,
            created_at: now,
            last_used_at: now,
            config: contents.config,
        };
        let over_quota = || {
            too_large(
                "quotaBytes",
                limits.quota_bytes,
                format!(
                    "your uploads would take more than {} bytes; unused ones are removed after {}",
                    limits.quota_bytes,
                    for_people(limits.retention)
                ),
            )
        };
        if let Some(shared) = &self.shared {
            // Recorded first, so that nothing past the quota is kept; the
            // archive is then kept unless it is already.
            if !store.add_upload(&upload, limits.quota_bytes).await? {
                return Err(over_quota());
            }
            if let Err(err) = shared.put_archive(&upload.digest, &partial.0).await {
                // Not kept: neither is the record, which would count
                // against the quota until swept (if the database is gone,
                // the sweep removes it).
                if let Err(err) = shared.remove_upload(&upload.upload_id).await {
                    tracing::warn!(error = %err, upload = %upload.upload_id, "could not remove the record of an upload whose archive was not kept; the sweep will");
                }
                return Err(EngineError::Unavailable(format!(
                    "cannot store the upload: {err}"
                )));
            }
            return Ok(upload);
        }
        let _naming = self.naming.lock().await;
        let archive = self.archive(&upload.digest);
        let kept_before = archive.exists();
        std::fs::rename(&partial.0, &archive)
            .map_err(|e| EngineError::Unavailable(format!("cannot store the upload: {e}")))?;
        let recorded = store.add_upload(&upload, limits.quota_bytes).await;
        if !matches!(recorded, Ok(true)) && !kept_before {
            let _ = std::fs::remove_file(&archive);
        }
        match recorded? {
            true => Ok(upload),
            false => Err(over_quota()),
        }
    }

    /// Unpacks upload `upload_id` into `into` (made here, private), which is
    /// removed when the returned guard is dropped.
    pub async fn unpack(
        &self,
        store: &dyn Store,
        upload_id: &str,
        into: PathBuf,
    ) -> Result<Unpacked, String> {
        // A worker does not know the retention of the nodes that sweep.
        let retention = match self.config.sweep {
            true => format!(
                "uploads unused for {} are removed",
                for_people(self.config.limits.retention)
            ),
            false => "unused uploads are removed".to_string(),
        };
        let gone = format!("upload `{upload_id}` is gone: {retention}; upload the archive again");
        let upload = store
            .upload(upload_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| gone.clone())?;
        store.use_upload(upload_id).await.map_err(|e| e.to_string())?;
        // Fetched for this session alone in a cluster.
        let fetched = match &self.shared {
            None => None,
            Some(shared) => {
                let partial = self.partial();
                if !shared
                    .get_archive(&upload.digest, &partial.0)
                    .await
                    .map_err(|e| format!("cannot read the upload's archive: {e}"))?
                {
                    return Err(gone);
                }
                Some(partial)
            }
        };
        let archive = match &fetched {
            Some(partial) => partial.0.clone(),
            None => self.archive(&upload.digest),
        };
        // The archive must unpack to what was checked when it was taken.
        let limits = UploadLimits {
            archive_bytes: upload.bytes,
            unpacked_bytes: upload.unpacked_bytes,
            files: upload.files,
            ratio: u64::MAX,
            ..self.config.limits.clone()
        };
        let unpacked = Unpacked(into.clone());
        tokio::task::spawn_blocking(move || {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&into)
                .map_err(|e| format!("cannot make a directory for the upload: {e}"))?;
            if !archive.exists() {
                return Err(gone);
            }
            read_archive(&archive, &limits, Some(&into)).map_err(|refusal| refusal.to_string())
        })
        .await
        .map_err(|e| format!("unpacking the upload failed: {e}"))??;
        Ok(unpacked)
    }

    /// Removes the uploads no session has used for the retention time, and
    /// the archives no upload refers to any more.
    pub async fn sweep(&self, store: &dyn Store) -> Result<usize, EngineError> {
        let unused_since = time::now_millis() - self.config.limits.retention.as_millis() as i64;
        let _naming = self.naming.lock().await;
        let orphaned = store.remove_unused_uploads(unused_since).await?;
        // A cluster's database removed its archives with them.
        for digest in orphaned.iter().filter(|_| self.shared.is_none()) {
            if let Err(err) = std::fs::remove_file(self.archive(digest)) {
                tracing::warn!(%digest, error = %err, "could not remove an unused archive");
            }
        }
        Ok(orphaned.len())
    }

    /// Sweeps now and every [`SWEEP_EVERY`] (or half the retention, when
    /// shorter) until `stop` fires.
    pub fn sweep_periodically(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let every = SWEEP_EVERY
            .min(self.config.limits.retention / 2)
            .max(Duration::from_secs(1));
        tokio::spawn(async move {
            loop {
                match self.sweep(&*store).await {
                    Ok(0) => {}
                    Ok(removed) => tracing::info!(removed, "removed archives of uploads no session used"),
                    Err(err) => tracing::warn!(error = %err, "could not remove unused uploads"),
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
            }
        });
    }
}

fn new_upload_id() -> String {
    super::random_id("upl")
}

/// Whether `id` is spelled as an upload id.
pub fn is_upload_id(id: &str) -> bool {
    id.strip_prefix("upl-").is_some_and(|rest| {
        rest.len() == 20 && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// A duration as a person would say it: `24 hours`, `90 seconds`.
pub fn for_people(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        s if s >= 3600 && s % 3600 == 0 => format!("{} hours", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

fn too_large(limit: &str, max: u64, message: String) -> EngineError {
    EngineError::TooLarge {
        limit: limit.to_string(),
        max,
        message,
    }
}

/// A file being received; removed unless it was given its final name
/// (when the client goes away mid-upload, too).
struct Partial(PathBuf);

impl Drop for Partial {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.0) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(path = %self.0.display(), error = %e, "could not remove a partial upload");
            }
            _ => {}
        }
    }
}

/// An unpacked upload, removed (in the background) when dropped.
pub struct Unpacked(PathBuf);

impl Unpacked {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        let path = std::mem::take(&mut self.0);
        let remove = move || match std::fs::remove_dir_all(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(path = %path.display(), error = %e, "could not remove an unpacked upload");
            }
            _ => {}
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(remove)),
            Err(_) => remove(),
        }
    }
}

/// What an archive holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contents {
    pub files: u64,
    pub unpacked_bytes: u64,
    /// The text of its root `livescan.toml`, when it has one.
    pub config: Option<String>,
}

/// Why an archive was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not an archive, or an entry no upload may hold.
    Invalid(String),
    /// Past one of the limits (its name in [`UploadLimits`]'s JSON spelling).
    TooLarge {
        limit: &'static str,
        max: u64,
        message: String,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Invalid(message) | Refusal::TooLarge { message, .. } => f.write_str(message),
        }
    }
}

impl Refusal {
    fn into_error(self) -> EngineError {
        match self {
            Refusal::Invalid(message) => EngineError::invalid("body", message),
            Refusal::TooLarge { limit, max, message } => too_large(limit, max, message),
        }
    }
}

/// Reads the tar or tar.gz archive at `path`, checking every entry against
/// the rules and `limits`; with `into`, writes its directories and files
/// there (which must be an empty directory of this process's own).
pub fn read_archive(path: &Path, limits: &UploadLimits, into: Option<&Path>) -> Result<Contents, Refusal> {
    let io = |e: std::io::Error| Refusal::Invalid(format!("cannot read the archive: {e}"));
    let mut file = std::fs::File::open(path).map_err(io)?;
    let archive_bytes = file.metadata().map_err(io)?.len();
    let mut magic = [0u8; 2];
    let gzip = file.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    std::io::Seek::rewind(&mut file).map_err(io)?;
    let file = BufReader::new(file);
    let stream: Box<dyn Read> = match gzip {
        true => Box::new(flate2::read::MultiGzDecoder::new(file)),
        false => Box::new(file),
    };
    // Headers and padding come on top of the files' bytes: a block per
    // entry and a record at the end is generous.
    let cut_off = Arc::new(AtomicBool::new(false));
    let bounded = Bounded {
        inner: stream,
        left: limits.unpacked_bytes + 1024 * (limits.files + 64),
        cut_off: cut_off.clone(),
    };
    let unpacked_too_large = || Refusal::TooLarge {
        limit: "unpackedBytes",
        max: limits.unpacked_bytes,
        message: format!("the archive unpacks to more than {} bytes", limits.unpacked_bytes),
    };
    let unreadable = |e: std::io::Error| match cut_off.load(Ordering::SeqCst) {
        true => unpacked_too_large(),
        false => Refusal::Invalid(format!("not a readable tar or tar.gz archive: {e}")),
    };
    let mut archive = tar::Archive::new(bounded);
    let mut contents = Contents::default();
    // Regular files so far, by path, with their sizes (for hard links).
    let mut sizes: HashMap<PathBuf, u64> = HashMap::new();
    let mut directories: HashSet<PathBuf> = HashSet::new();
    for entry in archive.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        let raw = entry.path().map_err(unreadable)?.into_owned();
        let refuse = |why: &str| Refusal::Invalid(format!("entry `{}`: {why}", raw.display()));
        let Some(rel) = plain_path(&raw).map_err(|why| refuse(&why))? else {
            continue;
        };
        let kind = entry.header().entry_type();
        // A file and a directory of one name cannot both be unpacked.
        if let Some(file) = rel.ancestors().skip(1).find(|a| sizes.contains_key(*a)) {
            return Err(refuse(&format!("inside `{}`, which is a file", file.display())));
        }
        let is_directory = kind == tar::EntryType::Directory;
        if !is_directory && directories.contains(&rel) {
            return Err(refuse("a file where the archive has a directory"));
        }
        if is_directory && sizes.contains_key(&rel) {
            return Err(refuse("a directory where the archive has a file"));
        }
        directories.extend(
            rel.ancestors()
                .skip(usize::from(!is_directory))
                .filter(|a| !a.as_os_str().is_empty())
                .map(Path::to_path_buf),
        );
        let size = match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => entry.size(),
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(unreadable)?
                    .ok_or_else(|| refuse("a hard link without a target"))?;
                let target = plain_path(&target)
                    .map_err(|why| refuse(&format!("a hard link whose target {why}")))?
                    .ok_or_else(|| refuse("a hard link to the archive's root"))?;
                let size = *sizes.get(&target).ok_or_else(|| {
                    refuse("a hard link to something other than an earlier file in the archive")
                })?;
                if let Some(into) = into {
                    prepare_parent(into, &rel).map_err(|e| refuse(&e))?;
                    std::fs::copy(into.join(&target), into.join(&rel))
                        .map_err(|e| refuse(&format!("cannot be written: {e}")))?;
                }
                size
            }
            tar::EntryType::Directory => {
                if let Some(into) = into {
                    std::fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(into.join(&rel))
                        .map_err(|e| refuse(&format!("cannot be written: {e}")))?;
                }
                continue;
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name().map_err(unreadable)?.unwrap_or_default();
                if leaves(&rel, &target) {
                    return Err(refuse(&format!(
                        "a symbolic link to `{}`, outside the archive",
                        target.display()
                    )));
                }
                // Inside: left out, as a directory scan never follows one.
                continue;
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => continue,
            tar::EntryType::Char | tar::EntryType::Block => return Err(refuse("a device file")),
            tar::EntryType::Fifo => return Err(refuse("a FIFO")),
            other => {
                return Err(refuse(&format!(
                    "an entry of type {other:?}, which uploads may not hold"
                )));
            }
        };
        contents.files += 1;
        contents.unpacked_bytes = contents.unpacked_bytes.saturating_add(size);
        if contents.files > limits.files {
            return Err(Refusal::TooLarge {
                limit: "files",
                max: limits.files,
                message: format!("the archive holds more than {} files", limits.files),
            });
        }
        if contents.unpacked_bytes > limits.unpacked_bytes {
            return Err(unpacked_too_large());
        }
        if contents.unpacked_bytes > RATIO_FLOOR
            && contents.unpacked_bytes / archive_bytes.max(1) > limits.ratio
        {
            return Err(Refusal::TooLarge {
                limit: "ratio",
                max: limits.ratio,
                message: format!(
                    "the archive's {archive_bytes} bytes unpack to more than {} times as many (at least {})",
                    limits.ratio, contents.unpacked_bytes
                ),
            });
        }
        if kind == tar::EntryType::Link {
            continue;
        }
        sizes.insert(rel.clone(), size);
        if rel == Path::new(repo_config::FILE_NAME) {
            // Kept with the upload, so a start can plan without unpacking.
            let text = read_config(&mut entry, size).map_err(|e| refuse(&e))?;
            if let Some(into) = into {
                write_file(into, &rel, &mut text.as_bytes()).map_err(|e| refuse(&e))?;
            }
            contents.config = Some(text);
            continue;
        }
        if let Some(into) = into {
            write_file(into, &rel, &mut entry).map_err(|e| match cut_off.load(Ordering::SeqCst) {
                true => unpacked_too_large(),
                false => refuse(&e),
            })?;
        }
    }
    Ok(contents)
}

/// `raw` as a relative path of plain names; `None` for the archive's root
/// (`.` or `./`); an error for absolute paths and `..`.
fn plain_path(raw: &Path) -> Result<Option<PathBuf>, String> {
    if raw.as_os_str().len() > MAX_PATH_BYTES {
        return Err(format!(
            "paths longer than {MAX_PATH_BYTES} bytes are not accepted"
        ));
    }
    let mut plain = PathBuf::new();
    for component in raw.components() {
        match component {
            Component::Normal(name) if name.len() > MAX_NAME_BYTES => {
                return Err(format!(
                    "names longer than {MAX_NAME_BYTES} bytes are not accepted"
                ));
            }
            Component::Normal(name) => plain.push(name),
            Component::CurDir => {}
            Component::ParentDir => return Err("`..` is not accepted in archive paths".to_string()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute paths are not accepted in archives".to_string());
            }
        }
    }
    Ok((!plain.as_os_str().is_empty()).then_some(plain))
}

/// Whether a symbolic link at `link` (relative to the archive's root)
/// pointing to `target` resolves outside the archive.
fn leaves(link: &Path, target: &Path) -> bool {
    let mut depth = link.components().count().saturating_sub(1);
    for component in target.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir if depth > 0 => depth -= 1,
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return true,
        }
    }
    false
}

/// Makes the directories above `rel` inside `into`. Only this code writes
/// there and it never makes a link, so no component can lead elsewhere.
fn prepare_parent(into: &Path, rel: &Path) -> Result<(), String> {
    if let Some(parent) = rel.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(into.join(parent))
            .map_err(|e| format!("cannot be written: {e}"))?;
    }
    Ok(())
}

/// The text of an archive's `livescan.toml` entry of `size` bytes.
fn read_config(entry: &mut impl Read, size: u64) -> Result<String, String> {
    if size > repo_config::MAX_BYTES as u64 {
        return Err(format!(
            "is {size} bytes; the most livescan reads of its config is {}",
            repo_config::MAX_BYTES
        ));
    }
    let mut text = String::new();
    entry
        .take(size)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot be read as UTF-8 text: {e}"))?;
    Ok(text)
}

fn write_file(into: &Path, rel: &Path, data: &mut impl Read) -> Result<(), String> {
    prepare_parent(into, rel)?;
    let path = into.join(rel);
    // A later entry of the same name replaces the earlier one, as tar does.
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(format!("cannot be written: {e}")),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| format!("cannot be written: {e}"))?;
    std::io::copy(data, &mut file).map_err(|e| format!("cannot be written: {e}"))?;
    Ok(())
}

/// A reader that fails once more than `left` bytes were asked of it.
struct Bounded<R> {
    inner: R,
    left: u64,
    cut_off: Arc<AtomicBool>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        match self.left.checked_sub(read as u64) {
            Some(left) => {
                self.left = left;
                Ok(read)
            }
            None => {
                self.cut_off.store(true, Ordering::SeqCst);
                Err(std::io::Error::other("the archive inflates past the limit"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_plain_names_only() {
        assert_eq!(
            plain_path(Path::new("a/./b")).unwrap(),
            Some(PathBuf::from("a/b"))
        );
        assert_eq!(plain_path(Path::new("./")).unwrap(), None);
        assert!(plain_path(Path::new("a/../../etc")).is_err());
        assert!(plain_path(Path::new("/etc/passwd")).is_err());
        assert!(plain_path(Path::new(&format!("a/{}", "n".repeat(256)))).is_err());
        assert!(plain_path(Path::new(&"d/".repeat(2100))).is_err());
    }

    #[test]
    fn links_that_leave_are_told_apart() {
        assert!(!leaves(Path::new("a/b/link"), Path::new("../c")));
        assert!(!leaves(Path::new("link"), Path::new("a/b")));
        assert!(leaves(Path::new("a/link"), Path::new("../../x")));
        assert!(leaves(Path::new("link"), Path::new("/etc/passwd")));
        assert!(leaves(Path::new("a/link"), Path::new("b/../../../x")));
    }

    #[test]
    fn upload_ids_are_recognised() {
        assert!(is_upload_id(&new_upload_id()));
        assert!(!is_upload_id("upl-../../etc"));
        assert!(!is_upload_id("sess-abcdefghijklmnopqrst"));
    }
}
