//! The advisory data `vulnerable-dependencies` matches against, in the OSV
//! format: a small dated snapshot compiled in (so the tool works on an
//! air-gapped machine from the first run), plus, when configured, a
//! directory of OSV JSON files that `livescan advisories refresh` fills
//! from the OSV project's per-ecosystem archives where the network allows.
//! Every report says which data it used and how old it is.

use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The compiled-in snapshot.
const SNAPSHOT: &str = include_str!("advisories/snapshot.json");

/// Where the OSV project publishes every ecosystem's advisories as
/// `<ecosystem>/all.zip`.
pub const OSV_ARCHIVES: &str = "https://osv-vulnerabilities.storage.googleapis.com";

/// The ecosystems whose lock files and manifests livescan reads.
pub const ECOSYSTEMS: &[&str] = &["npm", "PyPI", "crates.io", "Go", "Maven"];

/// Most bytes one archive may have; OSV's largest (npm) is far below.
const MAX_ARCHIVE_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Most bytes one advisory may have once unpacked.
const MAX_ADVISORY_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, Deserialize)]
pub struct Advisory {
    pub id: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub modified: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

impl Advisory {
    /// Whether both describe one vulnerability: the same id, or one's id
    /// among the other's aliases.
    fn same_as(&self, other: &Advisory) -> bool {
        self.id == other.id || self.aliases.contains(&other.id) || other.aliases.contains(&self.id)
    }
}

#[derive(Debug, Deserialize)]
pub struct Affected {
    pub package: Option<Package>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Package {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct Snapshot {
    snapshot: String,
    advisories: Vec<Advisory>,
}

/// Advisories by (ecosystem, normalised package name), and where they are
/// from.
pub struct Database {
    pub by_package: HashMap<(String, String), Vec<Arc<Advisory>>>,
    /// Which data this is and how old, for the report.
    pub about: String,
}

/// A package name as its ecosystem compares them.
pub fn normalise(ecosystem: &str, name: &str) -> String {
    match ecosystem {
        "PyPI" => name.to_ascii_lowercase().replace(['_', '.'], "-"),
        _ => name.to_string(),
    }
}

impl Database {
    fn add(&mut self, advisory: Advisory) {
        let advisory = Arc::new(advisory);
        for affected in &advisory.affected {
            if let Some(package) = &affected.package {
                let key = (
                    package.ecosystem.clone(),
                    normalise(&package.ecosystem, &package.name),
                );
                let list = self.by_package.entry(key).or_default();
                // A later copy of the same advisory (by id or alias: the
                // snapshot names CVEs, OSV's files GHSA ids) replaces it.
                list.retain(|a| !advisory.same_as(a));
                list.push(advisory.clone());
            }
        }
    }

    /// The compiled-in snapshot.
    pub fn built_in() -> Database {
        let snapshot: Snapshot =
            serde_json::from_str(SNAPSHOT).expect("the compiled-in advisory snapshot parses");
        let mut db = Database {
            by_package: HashMap::new(),
            about: format!(
                "built-in snapshot of {} ({} advisories)",
                snapshot.snapshot,
                snapshot.advisories.len()
            ),
        };
        for advisory in snapshot.advisories {
            db.add(advisory);
        }
        db
    }

    /// The snapshot, then every OSV JSON file under `dir` (which win over
    /// the snapshot's copies of the same advisories).
    pub fn with_directory(dir: &Path) -> Result<Database, String> {
        let mut db = Database::built_in();
        let mut count = 0usize;
        let mut newest = String::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(current) = pending.pop() {
            let entries =
                std::fs::read_dir(&current).map_err(|e| format!("cannot read {}: {e}", current.display()))?;
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(kind) = entry.file_type() else { continue };
                if kind.is_dir() {
                    pending.push(path);
                    continue;
                }
                if !kind.is_file() || path.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                // A file that is not an advisory is skipped, not fatal.
                let Some(advisory) = read_advisory(&path) else {
                    continue;
                };
                if advisory.modified > newest {
                    newest = advisory.modified.clone();
                }
                count += 1;
                db.add(advisory);
            }
        }
        let newest = newest.get(..10).unwrap_or("an unknown date");
        db.about = format!(
            "{count} advisories from {} (newest change {newest}) and the {}",
            dir.display(),
            db.about
        );
        Ok(db)
    }
}

fn read_advisory(path: &Path) -> Option<Advisory> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_ADVISORY_BYTES + 1).read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 > MAX_ADVISORY_BYTES {
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}

/// What one ecosystem's refresh brought.
#[derive(Debug)]
pub struct Refreshed {
    pub ecosystem: String,
    pub advisories: usize,
}

/// Downloads `<source>/<ecosystem>/all.zip` for each ecosystem and unpacks
/// its advisories into `<into>/<ecosystem>/`, replacing what was there only
/// once the whole archive has been read. `source` is an http(s) URL.
pub async fn refresh(source: &str, into: &Path, ecosystems: &[String]) -> Result<Vec<Refreshed>, String> {
    let source = source.trim_end_matches('/');
    if !(source.starts_with("https://") || source.starts_with("http://")) {
        return Err(format!("--source: `{source}` is not an http(s) URL"));
    }
    std::fs::create_dir_all(into).map_err(|e| format!("cannot create {}: {e}", into.display()))?;
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot start an HTTP client: {e}"))?;
    let mut done = Vec::new();
    for ecosystem in ecosystems {
        let url = format!("{source}/{ecosystem}/all.zip");
        let archive = download(&client, &url, into).await?;
        let target = into.join(ecosystem);
        let unpacked = into.join(format!(".{ecosystem}.new"));
        let count = tokio::task::spawn_blocking({
            let unpacked = unpacked.clone();
            move || unpack(archive.path(), &unpacked)
        })
        .await
        .map_err(|e| format!("unpacking {url} stopped: {e}"))??;
        if target.exists() {
            std::fs::remove_dir_all(&target)
                .map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
        }
        std::fs::rename(&unpacked, &target).map_err(|e| format!("cannot move {}: {e}", target.display()))?;
        done.push(Refreshed {
            ecosystem: ecosystem.clone(),
            advisories: count,
        });
    }
    Ok(done)
}

/// Streams `url` into a temporary file under `dir`, at most
/// [`MAX_ARCHIVE_BYTES`].
async fn download(
    client: &reqwest::Client,
    url: &str,
    dir: &Path,
) -> Result<tempfile::NamedTempFile, String> {
    use std::io::Write;
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("cannot download {url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("cannot download {url}: HTTP {}", response.status()));
    }
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| format!("cannot store {url}: {e}"))?;
    let mut received = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("downloading {url} failed: {e}"))?
    {
        received += chunk.len() as u64;
        if received > MAX_ARCHIVE_BYTES {
            return Err(format!(
                "{url} is larger than {} MiB",
                MAX_ARCHIVE_BYTES / 1024 / 1024
            ));
        }
        file.write_all(&chunk)
            .map_err(|e| format!("cannot store {url}: {e}"))?;
    }
    file.flush().map_err(|e| format!("cannot store {url}: {e}"))?;
    Ok(file)
}

/// Unpacks the advisories of an OSV archive into `dir` (made afresh): only
/// `.json` entries that parse as advisories, each under its own plain file
/// name, at most [`MAX_ADVISORY_BYTES`] each. The number unpacked.
fn unpack(archive: &Path, dir: &Path) -> Result<usize, String> {
    let file = std::fs::File::open(archive).map_err(|e| format!("cannot read the archive: {e}"))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("the archive is not a zip file: {e}"))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut count = 0;
    for index in 0..zip.len() {
        let mut entry = zip
            .by_index(index)
            .map_err(|e| format!("the archive is damaged: {e}"))?;
        // Only the file name counts: no entry writes outside `dir`.
        let raw_name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        let Some(name) = Path::new(&raw_name)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        else {
            continue;
        };
        let mut bytes = Vec::new();
        (&mut entry)
            .take(MAX_ADVISORY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("the archive is damaged ({name}): {e}"))?;
        if bytes.len() as u64 > MAX_ADVISORY_BYTES || serde_json::from_slice::<Advisory>(&bytes).is_err() {
            continue;
        }
        std::fs::write(dir.join(&name), &bytes).map_err(|e| format!("cannot write {name}: {e}"))?;
        count += 1;
    }
    Ok(count)
}

/// The directory `refresh` fills by default, beside the data directory.
pub fn default_directory(data_dir: &Path) -> PathBuf {
    data_dir.join("advisories")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_is_dated_and_every_advisory_is_usable() {
        let db = Database::built_in();
        assert!(db.about.starts_with("built-in snapshot of 20"), "{}", db.about);
        let snapshot: Snapshot = serde_json::from_str(SNAPSHOT).unwrap();
        assert!(snapshot.advisories.len() >= 50);
        for advisory in &snapshot.advisories {
            assert!(!advisory.summary.is_empty(), "{}", advisory.id);
            for affected in &advisory.affected {
                let package = affected.package.as_ref().expect("a package");
                assert!(
                    ECOSYSTEMS.contains(&package.ecosystem.as_str()),
                    "{}",
                    advisory.id
                );
                assert!(!affected.ranges.is_empty(), "{}", advisory.id);
            }
        }
    }

    #[test]
    fn a_directory_adds_to_the_snapshot_and_wins_over_it() {
        let dir = tempfile::tempdir().unwrap();
        let newer = serde_json::json!({
            "id": "GHSA-35jh-r3h4-6jhm", "aliases": ["CVE-2021-23337"], "modified": "2027-01-02T00:00:00Z", "summary": "newer text",
            "affected": [{ "package": { "ecosystem": "npm", "name": "lodash" },
                           "ranges": [{ "type": "SEMVER", "events": [{ "introduced": "0" }, { "fixed": "4.17.21" }] }] }]
        });
        std::fs::write(dir.path().join("a.json"), newer.to_string()).unwrap();
        std::fs::write(dir.path().join("notes.json"), "[1, 2]").unwrap();
        let db = Database::with_directory(dir.path()).unwrap();
        let lodash = &db.by_package[&("npm".to_string(), "lodash".to_string())];
        let copies: Vec<&str> = lodash
            .iter()
            .filter(|a| a.id == "CVE-2021-23337" || a.aliases.iter().any(|alias| alias == "CVE-2021-23337"))
            .map(|a| a.summary.as_str())
            .collect();
        assert_eq!(copies, ["newer text"]);
        assert!(db.about.starts_with("1 advisories from"), "{}", db.about);
        assert!(db.about.contains("newest change 2027-01-02"), "{}", db.about);
    }
}
