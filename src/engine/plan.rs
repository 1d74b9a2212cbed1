//! Turning a client's start request into a session plan: the validated target,
//! the normalised options and the selected tools. Every rejection names the
//! request field at fault.

use super::EngineError;
use crate::model::repo_config::{self, RepoConfig};
use crate::model::{Category, SelectedTool, SessionOptions, StartRequest, Target, TargetKind};
use crate::tools::{Availability, Catalog, fetch::check_target_url};
use std::path::{Component, Path, PathBuf};

pub const DEFAULT_TIMEOUT_MS: u64 = 300_000;
pub const TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u64> = 100..=3_600_000;
pub const DEFAULT_MAX_CONCURRENT: u32 = 5;
pub const MAX_CONCURRENT_RANGE: std::ops::RangeInclusive<u64> = 1..=32;
pub const MAX_URLS: usize = 100;
pub const MAX_TOOL_NAMES: usize = 500;

/// Which targets this server accepts.
#[derive(Clone, Debug)]
pub struct TargetPolicy {
    /// Canonical directories that directory targets must lie within.
    pub scan_roots: Vec<PathBuf>,
    /// Whether URLs may point at loopback, private and similar addresses.
    pub allow_private: bool,
    /// Directories no scan may read, wherever they are: the server's data
    /// directory (its database, keys and the runs' private files).
    pub excluded: Vec<PathBuf>,
}

/// A validated session: what to scan, how, and with which tools (in run order).
#[derive(Clone, Debug)]
pub struct Plan {
    pub target: Target,
    pub options: SessionOptions,
    pub tools: Vec<SelectedTool>,
    /// Credits the analysis costs: none when it is not asked for.
    pub analysis_cost: u32,
}

impl Plan {
    /// The credits the session reserves: its tools' and its analysis'.
    pub fn credits(&self) -> u64 {
        self.tools.iter().map(|t| u64::from(t.cost)).sum::<u64>() + u64::from(self.analysis_cost)
    }
}

/// Plans a session for `target` (from [`validate_target`]); `root_config`
/// is the text of the `livescan.toml` at the target's root, if it has one.
/// The request's own `config` replaces it; its tool selection applies when
/// the request selects no tools or categories of its own.
pub fn plan(
    mut request: StartRequest,
    target: Target,
    root_config: Option<String>,
    catalog: &Catalog,
) -> Result<Plan, EngineError> {
    let config = match (request.config.take(), root_config) {
        (Some(text), _) => Some(RepoConfig::parse(&text).map_err(|m| EngineError::invalid("config", m))?),
        (None, Some(text)) => {
            Some(RepoConfig::parse(&text).map_err(|m| EngineError::invalid(repo_config::FILE_NAME, m))?)
        }
        (None, None) => None,
    };
    if let Some(config) = &config {
        check_config_names(config, catalog)?;
        if request.tools.is_empty() && request.categories.is_empty() {
            request.tools = config.tools.clone();
            request.categories = config.categories.clone();
        }
        for name in &config.skip_tools {
            if !request.exclude_tools.contains(name) {
                request.exclude_tools.push(name.clone());
            }
        }
    }
    let timeout = request.timeout.unwrap_or(DEFAULT_TIMEOUT_MS);
    if !TIMEOUT_RANGE_MS.contains(&timeout) {
        return Err(EngineError::invalid(
            "timeout",
            format!(
                "must be between {} and {} milliseconds, got {timeout}",
                TIMEOUT_RANGE_MS.start(),
                TIMEOUT_RANGE_MS.end()
            ),
        ));
    }
    let max_concurrent = request
        .max_concurrent
        .unwrap_or(u64::from(DEFAULT_MAX_CONCURRENT));
    if !MAX_CONCURRENT_RANGE.contains(&max_concurrent) {
        return Err(EngineError::invalid(
            "maxConcurrent",
            format!(
                "must be between {} and {}, got {max_concurrent}",
                MAX_CONCURRENT_RANGE.start(),
                MAX_CONCURRENT_RANGE.end()
            ),
        ));
    }
    let categories = parse_categories(&request.categories)?;
    let tools = select_tools(
        &request.tools,
        &request.exclude_tools,
        &categories,
        target.kind(),
        catalog,
    )?;
    let enable_intelligence = request.enable_intelligence.unwrap_or(true);
    Ok(Plan {
        target,
        analysis_cost: if enable_intelligence {
            crate::tools::ANALYSIS_COST
        } else {
            0
        },
        options: SessionOptions {
            categories,
            exclude_tools: request.exclude_tools,
            enable_intelligence,
            timeout,
            max_concurrent: max_concurrent as u32,
            config,
            baseline: request.baseline,
        },
        tools,
    })
}

/// The tools and categories a config names exist; an error names the key.
fn check_config_names(config: &RepoConfig, catalog: &Catalog) -> Result<(), EngineError> {
    let unknown = |key: String, name: &str| {
        EngineError::invalid(
            repo_config::FILE_NAME,
            format!("{key}: unknown tool `{name}`; `livescan tools` lists them"),
        )
    };
    for (key, names) in [("tools", &config.tools), ("skip-tools", &config.skip_tools)] {
        if let Some((i, name)) = names.iter().enumerate().find(|(_, n)| catalog.get(n).is_none()) {
            return Err(unknown(format!("{key}[{i}]"), name));
        }
    }
    if let Some(name) = config.tool.keys().find(|n| catalog.get(n).is_none()) {
        return Err(unknown(format!("tool.{name}"), name));
    }
    parse_categories(&config.categories).map_err(|_| {
        let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        EngineError::invalid(
            repo_config::FILE_NAME,
            format!("categories: valid categories are {}", names.join(", ")),
        )
    })?;
    Ok(())
}

/// The text of the `livescan.toml` at the root of the directory `root`
/// (canonical): read as a regular file only, never through a link.
pub fn read_root_config(root: &Path) -> Result<Option<String>, EngineError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let refuse = |why: String| EngineError::invalid(repo_config::FILE_NAME, why);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(root.join(repo_config::FILE_NAME));
    let file = match file {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => {
            return Err(refuse(
                "is a symbolic link; livescan reads its config from a regular file only".into(),
            ));
        }
        Err(err) => return Err(refuse(format!("cannot be read: {err}"))),
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(refuse("is not a regular file".into()));
    }
    let mut bytes = Vec::new();
    file.take(repo_config::MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(format!("cannot be read: {e}")))?;
    if bytes.len() > repo_config::MAX_BYTES {
        return Err(refuse(format!(
            "is larger than {} bytes, the most livescan reads",
            repo_config::MAX_BYTES
        )));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| refuse("is not UTF-8 text".into()))
}

pub fn validate_target(
    raw: Option<crate::model::RawTarget>,
    policy: &TargetPolicy,
) -> Result<Target, EngineError> {
    let Some(raw) = raw else {
        return Err(EngineError::invalid(
            "target",
            "is required: give one of url, urls, directory or upload",
        ));
    };
    let given = [
        raw.url.is_some(),
        raw.urls.is_some(),
        raw.directory.is_some(),
        raw.upload.is_some(),
    ];
    match given.iter().filter(|g| **g).count() {
        0 => {
            return Err(EngineError::invalid(
                "target",
                "needs one of url, urls, directory or upload",
            ));
        }
        1 => {}
        _ => {
            return Err(EngineError::invalid(
                "target",
                "give only one of url, urls, directory or upload",
            ));
        }
    }
    if let Some(url) = raw.url {
        let url = check_target_url(&url, policy.allow_private)
            .map_err(|m| EngineError::invalid("target.url", m))?;
        return Ok(Target::Url(url.to_string()));
    }
    if let Some(urls) = raw.urls {
        if urls.is_empty() || urls.len() > MAX_URLS {
            return Err(EngineError::invalid(
                "target.urls",
                format!("must hold 1 to {MAX_URLS} URLs, got {}", urls.len()),
            ));
        }
        let mut checked = Vec::with_capacity(urls.len());
        for (i, url) in urls.iter().enumerate() {
            let url = check_target_url(url, policy.allow_private)
                .map_err(|m| EngineError::invalid(&format!("target.urls[{i}]"), m))?;
            if !checked.contains(&url.to_string()) {
                checked.push(url.to_string());
            }
        }
        return Ok(Target::Urls(checked));
    }
    if let Some(upload) = raw.upload {
        if !super::uploads::is_upload_id(&upload) {
            return Err(EngineError::invalid(
                "target.upload",
                "is not an upload id; `POST /api/uploads` answers one (`upl-` and 20 letters and digits)",
            ));
        }
        return Ok(Target::Upload(upload));
    }
    let directory = raw.directory.unwrap_or_default();
    let canonical =
        resolve_directory(&directory, policy).map_err(|m| EngineError::invalid("target.directory", m))?;
    Ok(Target::Directory(canonical.display().to_string()))
}

/// Resolves a directory target to its canonical path inside a scan root.
/// Paths are first checked lexically, so a request learns nothing about what
/// exists outside the roots; then canonicalised, so `..` and symlinks cannot
/// lead outside. Runs again when a session resumes, against the roots then.
pub fn resolve_directory(raw: &str, policy: &TargetPolicy) -> Result<PathBuf, String> {
    let path = Path::new(raw.trim());
    if raw.trim().is_empty() {
        return Err("must not be empty".to_string());
    }
    if !path.is_absolute() {
        return Err(format!("`{raw}` must be an absolute path"));
    }
    let inside = |p: &Path| policy.scan_roots.iter().any(|root| p.starts_with(root));
    let outside = || {
        let roots: Vec<String> = policy
            .scan_roots
            .iter()
            .map(|r| r.display().to_string())
            .collect();
        format!(
            "`{raw}` is not inside the directories this server may scan ({}); start the server with \
             --scan-root to allow another",
            roots.join(", ")
        )
    };
    if !inside(&lexically_normal(path)) {
        return Err(outside());
    }
    let canonical = std::fs::canonicalize(path).map_err(|e| format!("`{raw}` cannot be opened: {e}"))?;
    if !inside(&canonical) {
        return Err(outside());
    }
    if !canonical.is_dir() {
        return Err(format!("`{raw}` is not a directory"));
    }
    if is_within_excluded(&canonical, &policy.excluded) {
        return Err(format!(
            "`{raw}` is inside livescan's own data directory, which is never scanned"
        ));
    }
    Ok(canonical)
}

/// Whether `canonical` is one of `excluded` or lies under one, compared by
/// identity (device and inode), so bind mounts and other spellings count.
fn is_within_excluded(canonical: &Path, excluded: &[PathBuf]) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ids: Vec<(u64, u64)> = excluded
        .iter()
        .filter_map(|dir| std::fs::metadata(dir).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();
    canonical
        .ancestors()
        .any(|dir| std::fs::metadata(dir).is_ok_and(|m| ids.contains(&(m.dev(), m.ino()))))
}

/// `path` with `.` and `..` resolved without touching the file system.
fn lexically_normal(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                normal.pop();
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    normal
}

fn parse_categories(raw: &[String]) -> Result<Vec<Category>, EngineError> {
    let valid: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let mut categories = Vec::new();
    for (i, name) in raw.iter().enumerate() {
        let category = name.parse::<Category>().map_err(|_| {
            EngineError::invalid_choice(
                &format!("categories[{i}]"),
                format!(
                    "unknown category `{name}`; valid categories: {}",
                    valid.join(", ")
                ),
                &valid,
            )
        })?;
        if !categories.contains(&category) {
            categories.push(category);
        }
    }
    Ok(categories)
}

fn select_tools(
    requested: &[String],
    excluded: &[String],
    categories: &[Category],
    kind: TargetKind,
    catalog: &Catalog,
) -> Result<Vec<SelectedTool>, EngineError> {
    let valid = catalog.ids();
    if requested.len() > MAX_TOOL_NAMES || excluded.len() > MAX_TOOL_NAMES {
        return Err(EngineError::invalid(
            "tools",
            format!("at most {MAX_TOOL_NAMES} tool names"),
        ));
    }
    let lookup = |field: &str, i: usize, name: &str| {
        catalog.get(name).ok_or_else(|| {
            EngineError::invalid_choice(
                &format!("{field}[{i}]"),
                format!("unknown tool `{name}`; valid tools: {}", valid.join(", ")),
                &valid,
            )
        })
    };
    for (i, name) in excluded.iter().enumerate() {
        lookup("excludeTools", i, name)?;
    }
    let mut selected: Vec<SelectedTool> = Vec::new();
    if requested.is_empty() {
        for tool in catalog.iter() {
            let spec = tool.spec();
            let wanted = categories.is_empty() || categories.contains(&spec.category);
            if wanted && spec.applies_to(kind) && tool.availability() == Availability::Available {
                selected.push(SelectedTool {
                    name: spec.id.to_string(),
                    category: spec.category,
                    cost: spec.cost,
                });
            }
        }
    } else {
        for (i, name) in requested.iter().enumerate() {
            let spec = lookup("tools", i, name)?.spec();
            if !spec.applies_to(kind) {
                let kinds: Vec<&str> = spec.targets.iter().map(|k| k.as_str()).collect();
                return Err(EngineError::invalid(
                    &format!("tools[{i}]"),
                    format!(
                        "tool `{name}` scans {} targets, not {} targets",
                        kinds.join(" and "),
                        kind.as_str()
                    ),
                ));
            }
            if !selected.iter().any(|s| s.name == *name) {
                selected.push(SelectedTool {
                    name: spec.id.to_string(),
                    category: spec.category,
                    cost: spec.cost,
                });
            }
        }
    }
    selected.retain(|s| !excluded.contains(&s.name));
    if selected.is_empty() {
        return Err(EngineError::invalid(
            "tools",
            format!(
                "no tool is left to run on a {} target with these categories and exclusions",
                kind.as_str()
            ),
        ));
    }
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(root: &Path) -> TargetPolicy {
        TargetPolicy {
            scan_roots: vec![root.canonicalize().unwrap()],
            allow_private: false,
            excluded: vec![root.join("livescan-data")],
        }
    }

    #[test]
    fn directories_resolve_only_inside_the_roots() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("app")).unwrap();
        std::fs::write(root.path().join("file.txt"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("escape")).unwrap();
        std::fs::create_dir_all(root.path().join("livescan-data/work")).unwrap();
        std::os::unix::fs::symlink(root.path().join("livescan-data"), root.path().join("data-link")).unwrap();
        let policy = policy(root.path());
        let path = |rel: &str| root.path().join(rel).display().to_string();

        let app = resolve_directory(&path("app"), &policy).unwrap();
        assert_eq!(app, root.path().canonicalize().unwrap().join("app"));
        assert!(
            resolve_directory(&path("escape"), &policy)
                .unwrap_err()
                .contains("not inside")
        );
        assert!(
            resolve_directory(&path("app/../.."), &policy)
                .unwrap_err()
                .contains("not inside")
        );
        assert!(
            resolve_directory(&path("file.txt"), &policy)
                .unwrap_err()
                .contains("not a directory")
        );
        assert!(
            resolve_directory(&path("missing"), &policy)
                .unwrap_err()
                .contains("cannot be opened")
        );
        assert!(
            resolve_directory("app", &policy)
                .unwrap_err()
                .contains("absolute")
        );
        assert!(resolve_directory("  ", &policy).unwrap_err().contains("empty"));
        // The server's data directory, by any route, is never a target.
        for data in [
            "livescan-data",
            "livescan-data/work",
            "data-link",
            "app/../data-link/work",
        ] {
            let err = resolve_directory(&path(data), &policy).unwrap_err();
            assert!(err.contains("never scanned"), "{data}: {err}");
        }
        // Outside the roots, existing or not, the answer is the same.
        let missing = resolve_directory("/nonexistent/livescan", &policy).unwrap_err();
        let existing = resolve_directory(&outside.path().display().to_string(), &policy).unwrap_err();
        assert!(missing.contains("not inside") && existing.contains("not inside"));
    }
}
