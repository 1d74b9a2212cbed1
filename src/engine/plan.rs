//! Turning a client's start request into a session plan: the validated target,
//! the normalised options and the selected tools. Every rejection names the
//! request field at fault.

use super::EngineError;
use crate::model::{Category, SelectedTool, SessionOptions, StartRequest, Target, TargetKind};
use crate::tools::{Availability, Catalog, fetch::check_target_url};
use std::path::PathBuf;

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
}

/// A validated session: what to scan, how, and with which tools (in run order).
#[derive(Clone, Debug)]
pub struct Plan {
    pub target: Target,
    pub options: SessionOptions,
    pub tools: Vec<SelectedTool>,
}

pub fn plan(request: StartRequest, catalog: &Catalog, policy: &TargetPolicy) -> Result<Plan, EngineError> {
    let target = validate_target(request.target, policy)?;
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
    Ok(Plan {
        target,
        options: SessionOptions {
            categories,
            exclude_tools: request.exclude_tools,
            enable_intelligence: request.enable_intelligence.unwrap_or(true),
            timeout,
            max_concurrent: max_concurrent as u32,
        },
        tools,
    })
}

fn validate_target(
    raw: Option<crate::model::RawTarget>,
    policy: &TargetPolicy,
) -> Result<Target, EngineError> {
    let Some(raw) = raw else {
        return Err(EngineError::invalid(
            "target",
            "is required: give one of url, urls or directory",
        ));
    };
    let given = [raw.url.is_some(), raw.urls.is_some(), raw.directory.is_some()];
    match given.iter().filter(|g| **g).count() {
        0 => {
            return Err(EngineError::invalid(
                "target",
                "needs one of url, urls or directory",
            ));
        }
        1 => {}
        _ => {
            return Err(EngineError::invalid(
                "target",
                "give only one of url, urls or directory",
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
    let directory = raw.directory.unwrap_or_default();
    let field = "target.directory";
    if directory.trim().is_empty() {
        return Err(EngineError::invalid(field, "must not be empty"));
    }
    // Canonicalising resolves `..` and symlinks, so the root check below sees
    // where the path really leads.
    let canonical = std::fs::canonicalize(&directory)
        .map_err(|e| EngineError::invalid(field, format!("`{directory}` cannot be opened: {e}")))?;
    if !canonical.is_dir() {
        return Err(EngineError::invalid(
            field,
            format!("`{directory}` is not a directory"),
        ));
    }
    if !policy.scan_roots.iter().any(|root| canonical.starts_with(root)) {
        let roots: Vec<String> = policy
            .scan_roots
            .iter()
            .map(|r| r.display().to_string())
            .collect();
        return Err(EngineError::invalid(
            field,
            format!(
                "`{directory}` is outside the directories this server may scan ({}); start the server \
                 with --scan-root to allow another",
                roots.join(", ")
            ),
        ));
    }
    Ok(Target::Directory(canonical.display().to_string()))
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
