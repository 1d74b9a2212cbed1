//! The `vulnerable-dependencies` tool: packages pinned in lock files
//! (`package-lock.json`, `Cargo.lock`, `requirements.txt`, `poetry.lock`,
//! `go.sum`) matched against an offline advisory database in the OSV format
//! (a directory of OSV JSON files, as the OSV project publishes them per
//! ecosystem). Without a database the tool is unavailable, never silently
//! clean.
//!
//! The database is read once, on the first run, and kept in memory.

use super::rules::to_u32;
use crate::model::{Category, Finding, Severity, TargetKind};
use crate::tools::{
    Availability, Inventory, Origin, Tool, ToolContext, ToolError, ToolSpec, analyse_inventory,
};
use futures::future::BoxFuture;
use serde::Deserialize;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

static SPEC: ToolSpec = ToolSpec {
    id: "vulnerable-dependencies",
    category: Category::Security,
    targets: &[TargetKind::Directory],
    cost: 2,
    summary: "Locked dependencies with known advisories, from an offline OSV database (--advisory-db)",
};

#[derive(Debug, Deserialize)]
struct Advisory {
    id: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    affected: Vec<Affected>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Affected {
    package: Option<Package>,
    #[serde(default)]
    ranges: Vec<Range>,
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Package {
    ecosystem: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct Range {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// Advisories by (ecosystem, normalised package name).
type Database = HashMap<(String, String), Vec<Arc<Advisory>>>;

fn normalise(ecosystem: &str, name: &str) -> String {
    match ecosystem {
        "PyPI" => name.to_ascii_lowercase().replace(['_', '.'], "-"),
        _ => name.to_string(),
    }
}

fn load(dir: &Path) -> Result<Database, String> {
    let mut db = Database::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries =
            std::fs::read_dir(&current).map_err(|e| format!("cannot read {}: {e}", current.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            // A file that is not an advisory is skipped, not fatal.
            let Ok(advisory) = std::fs::read(&path)
                .map_err(drop)
                .and_then(|b| serde_json::from_slice::<Advisory>(&b).map_err(drop))
            else {
                continue;
            };
            let advisory = Arc::new(advisory);
            for affected in &advisory.affected {
                if let Some(package) = &affected.package {
                    let key = (
                        package.ecosystem.clone(),
                        normalise(&package.ecosystem, &package.name),
                    );
                    let list = db.entry(key).or_default();
                    if !list.iter().any(|a| a.id == advisory.id) {
                        list.push(advisory.clone());
                    }
                }
            }
        }
    }
    Ok(db)
}

/// Compares versions part by part: numbers numerically, anything else as
/// text, and a pre-release (`1.0.0-rc1`, `1.0.0rc1`) before its release.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parts(v: &str) -> (Vec<&str>, bool) {
        let v = v.trim_start_matches('v');
        let v = v.split('+').next().unwrap_or(v);
        let (core, pre) = match v.find(|c: char| c == '-' || c.is_ascii_alphabetic()) {
            Some(i) => (&v[..i], true),
            None => (v, false),
        };
        (core.trim_end_matches('.').split('.').collect(), pre)
    }
    let (a_core, a_pre) = parts(a);
    let (b_core, b_pre) = parts(b);
    for i in 0..a_core.len().max(b_core.len()) {
        let x = a_core.get(i).copied().unwrap_or("0");
        let y = b_core.get(i).copied().unwrap_or("0");
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    // Same numbers: a pre-release comes first.
    b_pre.cmp(&a_pre)
}

/// Whether `version` is affected, and the first fixed version if known.
fn affects(affected: &Affected, version: &str) -> (bool, Option<String>) {
    if affected
        .versions
        .iter()
        .any(|v| v.trim_start_matches('v') == version.trim_start_matches('v'))
    {
        let fixed = affected
            .ranges
            .iter()
            .flat_map(|r| &r.events)
            .find_map(|e| e.get("fixed")?.as_str().map(String::from));
        return (true, fixed);
    }
    for range in affected.ranges.iter().filter(|r| r.kind != "GIT") {
        let mut inside = false;
        let mut fixed = None;
        for event in &range.events {
            let at = |key: &str| event.get(key).and_then(|v| v.as_str());
            if let Some(introduced) = at("introduced") {
                inside = introduced == "0" || compare_versions(version, introduced) != Ordering::Less;
            }
            if let Some(f) = at("fixed") {
                if inside && compare_versions(version, f) == Ordering::Less {
                    return (true, Some(f.to_string()));
                }
                inside = false;
                fixed = Some(f.to_string());
            }
            if let Some(last) = at("last_affected") {
                if inside && compare_versions(version, last) != Ordering::Greater {
                    return (true, None);
                }
                inside = false;
            }
        }
        if inside {
            return (true, fixed);
        }
    }
    (false, None)
}

fn severity(advisory: &Advisory) -> Severity {
    let level = advisory
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(|s| s.as_str())
        .unwrap_or("");
    match level.to_ascii_uppercase().as_str() {
        "CRITICAL" => Severity::Critical,
        "MODERATE" | "MEDIUM" => Severity::Medium,
        "LOW" => Severity::Low,
        _ => Severity::High,
    }
}

/// A locked package: ecosystem, name, version and the lock file line it is on.
#[derive(Debug, PartialEq, Eq)]
struct Locked {
    ecosystem: &'static str,
    name: String,
    version: String,
    line: usize,
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).map_or(1, |i| i + 1)
}

/// The packages a lock file pins.
fn locked(name: &str, text: &str) -> Vec<Locked> {
    let mut out = Vec::new();
    match name {
        "package-lock.json" => {
            let Ok(lock) = serde_json::from_str::<serde_json::Value>(text) else {
                return out;
            };
            if let Some(packages) = lock.get("packages").and_then(|p| p.as_object()) {
                for (path, package) in packages {
                    let Some(pkg) = path.rsplit("node_modules/").next().filter(|_| !path.is_empty()) else {
                        continue;
                    };
                    if let Some(version) = package.get("version").and_then(|v| v.as_str()) {
                        out.push(Locked {
                            ecosystem: "npm",
                            name: pkg.to_string(),
                            version: version.to_string(),
                            line: line_of(text, &format!("\"{path}\"")),
                        });
                    }
                }
            } else if let Some(deps) = lock.get("dependencies").and_then(|d| d.as_object()) {
                for (pkg, dep) in deps {
                    if let Some(version) = dep.get("version").and_then(|v| v.as_str()) {
                        out.push(Locked {
                            ecosystem: "npm",
                            name: pkg.clone(),
                            version: version.to_string(),
                            line: line_of(text, &format!("\"{pkg}\"")),
                        });
                    }
                }
            }
        }
        "Cargo.lock" | "poetry.lock" => {
            let ecosystem = if name == "Cargo.lock" { "crates.io" } else { "PyPI" };
            let Ok(lock) = text.parse::<toml::Table>() else {
                return out;
            };
            for package in lock
                .get("package")
                .and_then(|p| p.as_array())
                .into_iter()
                .flatten()
            {
                let (Some(pkg), Some(version)) = (
                    package.get("name").and_then(|v| v.as_str()),
                    package.get("version").and_then(|v| v.as_str()),
                ) else {
                    continue;
                };
                out.push(Locked {
                    ecosystem,
                    name: pkg.to_string(),
                    version: version.to_string(),
                    line: line_of(text, &format!("name = \"{pkg}\"")),
                });
            }
        }
        "go.sum" => {
            for (index, line) in text.lines().enumerate() {
                let mut words = line.split_whitespace();
                let (Some(module), Some(version)) = (words.next(), words.next()) else {
                    continue;
                };
                let version = version
                    .trim_end_matches("/go.mod")
                    .trim_end_matches("+incompatible");
                if !out
                    .iter()
                    .any(|l: &Locked| l.name == module && l.version == version)
                {
                    out.push(Locked {
                        ecosystem: "Go",
                        name: module.to_string(),
                        version: version.to_string(),
                        line: index + 1,
                    });
                }
            }
        }
        _ if name.starts_with("requirements") && name.ends_with(".txt") => {
            for (index, line) in text.lines().enumerate() {
                let line = line.split('#').next().unwrap_or("").trim();
                let Some((pkg, version)) = line.split_once("==") else {
                    continue;
                };
                let pkg = pkg.split('[').next().unwrap_or(pkg).trim();
                let version = version.split([';', ' ']).next().unwrap_or("").trim();
                out.push(Locked {
                    ecosystem: "PyPI",
                    name: pkg.to_string(),
                    version: version.to_string(),
                    line: index + 1,
                });
            }
        }
        _ => {}
    }
    out
}

pub struct VulnerableDependencies {
    database: Option<PathBuf>,
    loaded: OnceLock<Result<Database, String>>,
}

impl VulnerableDependencies {
    pub fn new(database: Option<PathBuf>) -> Self {
        VulnerableDependencies {
            database,
            loaded: OnceLock::new(),
        }
    }

    fn scan(&self, inventory: &Inventory, db: &Database) -> Vec<Finding> {
        let mut findings = Vec::new();
        for file in inventory.files_seen(lock_or_manifest) {
            let name = file.rel.rsplit('/').next().unwrap_or(&file.rel);
            let Some(text) = inventory.read_text(file) else {
                continue;
            };
            for package in locked(name, &text) {
                let key = (
                    package.ecosystem.to_string(),
                    normalise(package.ecosystem, &package.name),
                );
                for advisory in db.get(&key).into_iter().flatten() {
                    let hit = advisory
                        .affected
                        .iter()
                        .filter(|a| {
                            a.package.as_ref().is_some_and(|p| {
                                p.ecosystem == package.ecosystem && normalise(&p.ecosystem, &p.name) == key.1
                            })
                        })
                        .map(|a| affects(a, &package.version))
                        .find(|(hit, _)| *hit);
                    let Some((_, fixed)) = hit else { continue };
                    let aliases = if advisory.aliases.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", advisory.aliases.join(", "))
                    };
                    let fix = fixed.map_or_else(
                        || "no fixed version is known".to_string(),
                        |f| format!("upgrade to {f} or later"),
                    );
                    findings.push(
                        Finding::new(
                            &advisory.id,
                            severity(advisory),
                            format!(
                                "{} {} is affected by {}{aliases}: {}; {fix}",
                                package.name,
                                package.version,
                                advisory.id,
                                advisory.summary.trim()
                            ),
                        )
                        .at_path(&file.rel, Some(to_u32(package.line)), None)
                        // Dependency on a vulnerable third-party component.
                        .with_cwe(1395)
                        .with_help(&format!("https://osv.dev/vulnerability/{}", advisory.id))
                        .fingerprinted(&format!("{}@{}", package.name, package.version)),
                    );
                }
            }
        }
        findings
    }
}

/// Lock files are generated, manifests source; vendored copies are not ours.
fn lock_or_manifest(origin: Origin) -> bool {
    matches!(origin, Origin::Source | Origin::Generated)
}

impl Tool for VulnerableDependencies {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn sees(&self, origin: Origin) -> bool {
        lock_or_manifest(origin)
    }

    fn availability(&self) -> Availability {
        match &self.database {
            Some(dir) if dir.is_dir() => Availability::Available,
            Some(dir) => Availability::Unavailable {
                reason: format!("the advisory database {} does not exist", dir.display()),
                install_hint: "point --advisory-db at a directory of OSV JSON files".into(),
            },
            None => Availability::Unavailable {
                reason: "no advisory database is configured".into(),
                install_hint: "start the server with --advisory-db DIR (OSV JSON files, e.g. the unzipped all.zip of each ecosystem from osv.dev)".into(),
            },
        }
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            let Some(dir) = self.database.clone() else {
                return Err(ToolError::Failed("no advisory database is configured".into()));
            };
            analyse_inventory(&ctx, move |inventory| {
                let db = self.loaded.get_or_init(|| load(&dir));
                db.as_ref()
                    .map(|db| self.scan(inventory, db))
                    .map_err(|e| ToolError::Failed(e.clone()))
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_like_package_managers() {
        assert_eq!(compare_versions("4.17.20", "4.17.21"), Ordering::Less);
        assert_eq!(compare_versions("1.10.0", "1.9.9"), Ordering::Greater);
        assert_eq!(compare_versions("v0.3.7", "0.3.7"), Ordering::Equal);
        assert_eq!(compare_versions("2.0.0-rc1", "2.0.0"), Ordering::Less);
        assert_eq!(compare_versions("2.0", "2.0.0"), Ordering::Equal);
    }

    #[test]
    fn ranges_decide_what_is_affected() {
        let affected: Affected = serde_json::from_value(serde_json::json!({
            "package": { "ecosystem": "npm", "name": "x" },
            "ranges": [{ "type": "SEMVER", "events": [{ "introduced": "1.0.0" }, { "fixed": "1.4.2" }, { "introduced": "2.0.0" }, { "last_affected": "2.1.0" }] }]
        }))
        .unwrap();
        assert_eq!(affects(&affected, "1.4.1"), (true, Some("1.4.2".into())));
        assert!(!affects(&affected, "1.4.2").0);
        assert!(!affects(&affected, "0.9.0").0);
        assert_eq!(affects(&affected, "2.1.0"), (true, None));
        assert!(!affects(&affected, "2.2.0").0);
    }

    #[test]
    fn lock_files_are_read() {
        let npm = r#"{"lockfileVersion": 3, "packages": {"": {"name": "app"}, "node_modules/lodash": {"version": "4.17.20"}, "node_modules/a/node_modules/minimist": {"version": "1.2.5"}}}"#;
        let mut names: Vec<(String, String)> = locked("package-lock.json", npm)
            .into_iter()
            .map(|l| (l.name, l.version))
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                ("lodash".into(), "4.17.20".into()),
                ("minimist".into(), "1.2.5".into())
            ]
        );
        let reqs = locked(
            "requirements.txt",
            "# pinned\nDjango==3.2.1  # web\nrequests[socks]==2.25.0\nflask>=2\n",
        );
        assert_eq!(
            reqs.iter().map(|l| (l.name.as_str(), l.line)).collect::<Vec<_>>(),
            vec![("Django", 2), ("requests", 3)]
        );
        let go = locked(
            "go.sum",
            "golang.org/x/text v0.3.5 h1:abc=\ngolang.org/x/text v0.3.5/go.mod h1:def=\n",
        );
        assert_eq!(go.len(), 1);
    }
}
