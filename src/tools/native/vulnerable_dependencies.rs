//! The `vulnerable-dependencies` tool: packages pinned in lock files and
//! manifests (`package-lock.json`, exact versions in `package.json`,
//! `Cargo.lock`, `requirements.txt`, `poetry.lock`, `go.sum`, `pom.xml`)
//! matched against offline advisories in the OSV format (see
//! [`super::advisories`]): the compiled-in snapshot, plus a directory of OSV
//! files when one is configured. Each report names the data and its age.
//!
//! The data is read once, on the first run, and kept in memory.

use super::advisories::{Advisory, Affected, Database, normalise};
use super::rules::to_u32;
use crate::model::{Category, Ecosystem, Finding, Metric, Severity, TargetKind};
use crate::tools::{
    Availability, FindingSink, Inventory, Origin, Tool, ToolContext, ToolError, ToolSpec, analyse_inventory,
};
use futures::future::BoxFuture;
use regex::Regex;
use std::cmp::Ordering;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::sync::{Arc, OnceLock};

static SPEC: ToolSpec = ToolSpec {
    id: "vulnerable-dependencies",
    category: Category::Security,
    ecosystem: Ecosystem::Dependencies,
    targets: &[TargetKind::Directory],
    cost: 2,
    summary: "Locked and pinned dependencies with known advisories (offline OSV data: built-in snapshot, --advisory-db)",
};

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
#[derive(Clone, Debug, PartialEq, Eq)]
struct Locked {
    ecosystem: &'static str,
    name: String,
    version: String,
    line: usize,
    /// Installed for development only (npm's `dev`, `optional` bundles):
    /// not in what the application ships.
    development: bool,
}

/// npm marks packages only development or optional installs need.
fn npm_development(package: &serde_json::Value) -> bool {
    ["dev", "devOptional", "optional"]
        .iter()
        .any(|flag| package.get(flag).and_then(|v| v.as_bool()) == Some(true))
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).map_or(1, |i| i + 1)
}

/// The kinds of file that pin dependencies, known by their names alone.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pins {
    NpmLock,
    CargoLock,
    PoetryLock,
    GoSum,
    PackageJson,
    Pom,
    Requirements,
}

impl Pins {
    fn of(name: &str) -> Option<Pins> {
        Some(match name {
            "package-lock.json" => Pins::NpmLock,
            "Cargo.lock" => Pins::CargoLock,
            "poetry.lock" => Pins::PoetryLock,
            "go.sum" => Pins::GoSum,
            "package.json" => Pins::PackageJson,
            "pom.xml" => Pins::Pom,
            _ if name.starts_with("requirements") && name.ends_with(".txt") => Pins::Requirements,
            _ => return None,
        })
    }
}

/// The packages a lock file or manifest of this kind pins.
fn pinned_in(pins: Pins, text: &str) -> Vec<Locked> {
    let mut out = Vec::new();
    match pins {
        Pins::NpmLock => {
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
                            development: npm_development(package),
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
                            development: npm_development(dep),
                        });
                    }
                }
            }
        }
        Pins::CargoLock | Pins::PoetryLock => {
            let ecosystem = if pins == Pins::CargoLock {
                "crates.io"
            } else {
                "PyPI"
            };
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
                    development: false,
                });
            }
        }
        Pins::GoSum => {
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
                        development: false,
                    });
                }
            }
        }
        Pins::PackageJson => out.extend(package_json_pins(text)),
        Pins::Pom => out.extend(pom_dependencies(text)),
        Pins::Requirements => {
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
                    development: false,
                });
            }
        }
    }
    out
}

/// An exact version, as a manifest pins one (`1.2.3`, `=1.2.3`, `v1.2.3-rc.1`).
static EXACT_VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^=?v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.\-]+)?)$").expect("valid"));

/// The dependencies a `package.json` pins to one exact version (ranges
/// are the lock file's to resolve).
fn package_json_pins(text: &str) -> Vec<Locked> {
    let Ok(manifest) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for section in ["dependencies", "devDependencies", "optionalDependencies"] {
        for (name, wanted) in manifest
            .get(section)
            .and_then(|d| d.as_object())
            .into_iter()
            .flatten()
        {
            let Some(version) = wanted
                .as_str()
                .and_then(|w| EXACT_VERSION.captures(w.trim()))
                .map(|c| c[1].to_string())
            else {
                continue;
            };
            out.push(Locked {
                ecosystem: "npm",
                name: name.clone(),
                line: line_of(text, &format!("\"{name}\"")),
                development: section != "dependencies",
                version,
            });
        }
    }
    out
}

static POM_PROPERTIES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)<properties>(.*?)</properties>").expect("valid"));
static POM_PROPERTY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<([A-Za-z0-9_.\-]+)>\s*([^<]*?)\s*</([A-Za-z0-9_.\-]+)>").expect("valid"));
static POM_DEPENDENCY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)<dependency>(.*?)</dependency>").expect("valid"));

/// The dependencies a `pom.xml` gives a version, literally or through one
/// of its own `<properties>`; the line is where that version is written.
fn pom_dependencies(text: &str) -> Vec<Locked> {
    let line_at = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut properties = std::collections::HashMap::new();
    for block in POM_PROPERTIES.captures_iter(text) {
        let body = block.get(1).expect("group 1 always participates");
        for property in POM_PROPERTY.captures_iter(body.as_str()).filter(|c| c[1] == c[3]) {
            let at = body.start() + property.get(0).expect("group 0").start();
            properties.insert(property[1].to_string(), (property[2].to_string(), line_at(at)));
        }
    }
    let field = |body: &str, tag: &str| {
        let open = format!("<{tag}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find("</")? + start;
        Some((body[start..end].trim().to_string(), start))
    };
    let mut out: Vec<Locked> = Vec::new();
    for dependency in POM_DEPENDENCY.captures_iter(text) {
        let body = dependency.get(1).expect("group 1 always participates");
        let (Some((group, _)), Some((artifact, _)), Some((version, version_at))) = (
            field(body.as_str(), "groupId"),
            field(body.as_str(), "artifactId"),
            field(body.as_str(), "version"),
        ) else {
            continue;
        };
        let (version, line) = match version.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
            Some(property) => match properties.get(property) {
                Some((value, line)) => (value.clone(), *line),
                None => continue,
            },
            None => (version, line_at(body.start() + version_at)),
        };
        let name = format!("{group}:{artifact}");
        if !out.iter().any(|l| l.name == name && l.version == version) {
            out.push(Locked {
                ecosystem: "Maven",
                name,
                version,
                line,
                development: false,
            });
        }
    }
    out
}

pub struct VulnerableDependencies {
    /// A directory of OSV files beside the compiled-in snapshot, if any.
    directory: Option<PathBuf>,
    loaded: OnceLock<Result<Database, String>>,
}

impl VulnerableDependencies {
    pub fn new(directory: Option<PathBuf>) -> Self {
        VulnerableDependencies {
            directory,
            loaded: OnceLock::new(),
        }
    }

    fn scan(&self, inventory: &Inventory, db: &Database, sink: &FindingSink) -> Vec<Finding> {
        let mut pinned = Vec::new();
        for file in inventory.files_seen(lock_or_manifest) {
            let name = file.rel.rsplit('/').next().unwrap_or(&file.rel);
            // Only a file that can pin anything is read.
            let Some(pins) = Pins::of(name) else {
                continue;
            };
            let Some(text) = inventory.read_text(file) else {
                continue;
            };
            sink.read(text.len());
            pinned.extend(
                pinned_in(pins, &text)
                    .into_iter()
                    .map(|package| (file.rel.clone(), package)),
            );
        }
        without_locked_twice(&mut pinned);
        let mut findings = Vec::new();
        for (rel, package) in pinned {
            let key = (
                package.ecosystem.to_string(),
                normalise(package.ecosystem, &package.name),
            );
            for advisory in db.by_package.get(&key).into_iter().flatten() {
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
                findings.push(finding(&rel, &package, advisory, fixed));
            }
        }
        findings
    }

    fn database(&self) -> &Result<Database, String> {
        self.loaded.get_or_init(|| match &self.directory {
            Some(dir) => Database::with_directory(dir),
            None => Ok(Database::built_in()),
        })
    }
}

/// A manifest's exact pin and its lock file's entry are one dependency: it
/// is reported once, in the manifest, where it is changed.
fn without_locked_twice(pinned: &mut Vec<(String, Locked)>) {
    let manifests: std::collections::HashSet<(String, String, String)> = pinned
        .iter()
        .filter(|(rel, _)| rel.ends_with("package.json"))
        .map(|(rel, p)| (directory_of(rel).to_string(), p.name.clone(), p.version.clone()))
        .collect();
    pinned.retain(|(rel, p)| {
        !rel.ends_with("package-lock.json")
            || !manifests.contains(&(directory_of(rel).to_string(), p.name.clone(), p.version.clone()))
    });
}

fn directory_of(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(dir, _)| dir)
}

fn finding(rel: &str, package: &Locked, advisory: &Advisory, fixed: Option<String>) -> Finding {
    let aliases = if advisory.aliases.is_empty() {
        String::new()
    } else {
        format!(" ({})", advisory.aliases.join(", "))
    };
    let fix = fixed.map_or_else(
        || "no fixed version is known".to_string(),
        |f| format!("upgrade to {f} or later"),
    );
    // What only development installs need is not shipped: at most low.
    let (severity, scope) = match package.development {
        true => (
            severity(advisory).max(Severity::Low),
            " (development or optional only)",
        ),
        false => (severity(advisory), ""),
    };
    Finding::new(
        &advisory.id,
        severity,
        format!(
            "{} {}{scope} is affected by {}{aliases}: {}; {fix}",
            package.name,
            package.version,
            advisory.id,
            advisory.summary.trim()
        ),
    )
    .at_path(rel, Some(to_u32(package.line)), None)
    // Dependency on a vulnerable third-party component.
    .with_cwe(1395)
    .with_help(&format!("https://osv.dev/vulnerability/{}", advisory.id))
    .fingerprinted(&format!("{}@{}", package.name, package.version))
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
        match &self.directory {
            Some(dir) if !dir.is_dir() => Availability::Unavailable {
                reason: format!("the advisory directory {} does not exist", dir.display()),
                install_hint: "run `livescan advisories refresh --into DIR` where the network allows, or point --advisory-db at a directory of OSV JSON files".into(),
            },
            _ => Availability::Available,
        }
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            let this = self.clone();
            let about = crate::tools::off_runtime(move || match this.database() {
                Ok(db) => Ok(db.about.clone()),
                Err(e) => Err(ToolError::Failed(e.clone())),
            })
            .await??;
            ctx.findings.measure([Metric {
                name: "advisory data".into(),
                value: about,
                url: None,
            }]);
            analyse_inventory(&ctx, move |inventory, sink| {
                let db = self
                    .database()
                    .as_ref()
                    .map_err(|e| ToolError::Failed(e.clone()))?;
                Ok(self.scan(inventory, db, sink))
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The packages a file named `name` pins.
    fn locked(name: &str, text: &str) -> Vec<Locked> {
        pinned_in(Pins::of(name).expect("a file that pins dependencies"), text)
    }

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
    fn what_only_development_installs_need_is_at_most_low() {
        let lock = r#"{"lockfileVersion": 3, "packages": {
            "node_modules/minimist": {"version": "1.2.0"},
            "node_modules/nyc/node_modules/handlebars": {"version": "4.0.5", "dev": true},
            "node_modules/fsevents": {"version": "1.2.4", "optional": true}}}"#;
        let manifest = r#"{"dependencies": {"a": "1.0.0"}, "devDependencies": {"b": "2.0.0"}}"#;
        let development: Vec<(String, bool)> = locked("package-lock.json", lock)
            .into_iter()
            .chain(locked("package.json", manifest))
            .map(|l| (l.name, l.development))
            .collect();
        assert_eq!(
            development,
            [
                ("fsevents", true),
                ("minimist", false),
                ("handlebars", true),
                ("a", false),
                ("b", true)
            ]
            .map(|(name, dev)| (name.to_string(), dev))
        );
        let advisory: Advisory = serde_json::from_value(serde_json::json!({
            "id": "GHSA-x", "summary": "bad", "database_specific": { "severity": "CRITICAL" }
        }))
        .unwrap();
        let mut package = locked("package-lock.json", lock).remove(1);
        let shipped = finding(
            "package-lock.json",
            &Locked {
                development: false,
                ..package.clone()
            },
            &advisory,
            None,
        );
        assert_eq!(shipped.severity, Severity::Critical);
        package.development = true;
        let dev_only = finding("package-lock.json", &package, &advisory, None);
        assert_eq!(dev_only.severity, Severity::Low);
        assert!(
            dev_only.message.contains("(development or optional only)"),
            "{}",
            dev_only.message
        );
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
        let manifest = r#"{
  "name": "app",
  "dependencies": { "marked": "0.3.5", "express": "^4.17.1", "mathjs": "=3.10.1" },
  "devDependencies": { "mocha": "latest" }
}"#;
        let pins: Vec<(String, String, usize)> = locked("package.json", manifest)
            .into_iter()
            .map(|l| (l.name, l.version, l.line))
            .collect();
        assert_eq!(
            pins,
            vec![
                ("marked".into(), "0.3.5".into(), 3),
                ("mathjs".into(), "3.10.1".into(), 3)
            ]
        );
        let pom = "<project>\n<properties>\n  <xstream.version>1.4.5</xstream.version>\n</properties>\n\
                   <dependencies>\n<dependency>\n  <groupId>com.thoughtworks.xstream</groupId>\n\
                   <artifactId>xstream</artifactId>\n  <version>${xstream.version}</version>\n</dependency>\n\
                   <dependency>\n  <groupId>org.example</groupId>\n  <artifactId>lib</artifactId>\n\
                   <version>2.0</version>\n</dependency>\n<dependency>\n  <groupId>org.example</groupId>\n\
                   <artifactId>managed</artifactId>\n</dependency>\n</dependencies>\n</project>\n";
        let deps: Vec<(String, String, usize)> = locked("pom.xml", pom)
            .into_iter()
            .map(|l| (l.name, l.version, l.line))
            .collect();
        assert_eq!(
            deps,
            vec![
                ("com.thoughtworks.xstream:xstream".into(), "1.4.5".into(), 3),
                ("org.example:lib".into(), "2.0".into(), 14)
            ]
        );
        let go = locked(
            "go.sum",
            "golang.org/x/text v0.3.5 h1:abc=\ngolang.org/x/text v0.3.5/go.mod h1:def=\n",
        );
        assert_eq!(go.len(), 1);
    }
}
