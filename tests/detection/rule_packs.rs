//! The semgrep rule packs livescan ships, proven rule by rule: each pack is
//! compiled in and handed to semgrep; each rule names its CWE, severity and
//! confidence and says what to do; and each has a planted line it must
//! match and a clean look-alike it must not, checked by semgrep itself.

use livescan::tools::external::{parse_descriptor, rules};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn packs_dir() -> PathBuf {
    root().join("src/tools/external/rules/semgrep")
}

fn fixtures_dir() -> PathBuf {
    root().join("tests/fixtures/semgrep-rules")
}

/// Every pack's file stem and text, from the directory.
fn packs() -> BTreeMap<String, String> {
    std::fs::read_dir(packs_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yml"))
        .map(|path| {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// The text of every fixture file of a pack (`<stem>.<ext>`).
fn fixtures_of(stem: &str) -> String {
    std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_stem().is_some_and(|s| s == stem))
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The rule ids a fixture text annotates with `marker` (`ruleid` or `ok`):
/// `# ruleid: a, b` above a line names every rule that must match it.
fn annotated(fixtures: &str, marker: &str) -> BTreeSet<String> {
    let tag = format!("{marker}:");
    fixtures
        .lines()
        .filter_map(|line| {
            let at = line.find(&tag)?;
            let before = line[..at].trim_end();
            let after_comment = ["#", "//", "<!--", "{#", "(*", "--"]
                .iter()
                .any(|c| before.ends_with(c));
            after_comment.then(|| {
                line[at + tag.len()..]
                    .trim_end_matches("-->")
                    .trim_end_matches("#}")
            })
        })
        .flat_map(|ids| ids.split(',').map(|id| id.trim().to_string()))
        .filter(|id| !id.is_empty())
        .collect()
}

#[test]
fn every_pack_is_shipped_and_handed_to_semgrep() {
    let on_disk: BTreeSet<String> = packs().keys().map(|stem| format!("semgrep/{stem}.yml")).collect();
    let compiled: BTreeSet<String> = rules::SHIPPED.iter().map(|(name, _)| name.to_string()).collect();
    assert_eq!(compiled, on_disk, "rules::SHIPPED lists every pack file");
    for (name, text) in rules::SHIPPED {
        let stem = name.trim_start_matches("semgrep/").trim_end_matches(".yml");
        assert_eq!(&packs()[stem], text, "{name} is compiled from its file");
    }
    let descriptor = parse_descriptor(
        "semgrep",
        &std::fs::read_to_string(root().join("src/tools/external/descriptors/semgrep.toml")).unwrap(),
    )
    .unwrap();
    let configured: BTreeSet<String> = descriptor
        .config
        .iter()
        .filter_map(|c| c.shipped.clone())
        .collect();
    assert_eq!(configured, on_disk, "the semgrep descriptor writes every pack");
    // Each pack is written for the files of its kind, and semgrep runs
    // whenever some pack applies.
    let mut kinds = BTreeSet::new();
    for file in &descriptor.config {
        assert!(!file.when.is_empty(), "{}: no `when`", file.name);
        kinds.extend(file.when.iter().cloned());
    }
    let files: BTreeSet<String> = descriptor.files.iter().cloned().collect();
    assert_eq!(kinds, files, "semgrep's files are the packs' kinds");
}

#[test]
fn every_rule_says_what_it_finds_and_has_a_planted_and_a_clean_case() {
    let mut ids = BTreeSet::new();
    let mut problems = Vec::new();
    for (stem, text) in packs() {
        let pack: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{stem}: {e}"));
        let rules = pack["rules"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{stem}: no rules"));
        assert!(!rules.is_empty(), "{stem}: no rules");
        let fixtures = fixtures_of(&stem);
        let (planted, clean) = (annotated(&fixtures, "ruleid"), annotated(&fixtures, "ok"));
        for rule in rules {
            let id = rule["id"].as_str().unwrap_or("").to_string();
            let mut problem = |what: &str| problems.push(format!("{stem}/{id}: {what}"));
            if !id.starts_with(&format!("{stem}-")) {
                problem("the id starts with the pack's name");
            }
            if !ids.insert(id.clone()) {
                problem("the id is unique across packs");
            }
            if rule["message"]
                .as_str()
                .is_none_or(|m| m.split_whitespace().count() < 8)
            {
                problem("a message that says what to do");
            }
            if !matches!(rule["severity"].as_str(), Some("ERROR" | "WARNING" | "INFO")) {
                problem("severity ERROR, WARNING or INFO");
            }
            let metadata = &rule["metadata"];
            let cwe = metadata["cwe"].as_str().unwrap_or("");
            let cwe_number = cwe
                .strip_prefix("CWE-")
                .and_then(|rest| rest.split(':').next())
                .and_then(|n| n.parse::<u32>().ok());
            if cwe_number.is_none() || !cwe.contains(": ") {
                problem("metadata.cwe like `CWE-89: name`");
            }
            let score = metadata["security-severity"]
                .as_str()
                .and_then(|s| s.parse::<f64>().ok());
            if !score.is_some_and(|s| (0.0..=10.0).contains(&s)) {
                problem("metadata.security-severity, a string from 0 to 10");
            }
            if !matches!(metadata["confidence"].as_str(), Some("HIGH" | "MEDIUM" | "LOW")) {
                problem("metadata.confidence");
            }
            if !planted.contains(&id) {
                problem("a `ruleid:` case in its fixtures");
            }
            if !clean.contains(&id) {
                problem("an `ok:` case in its fixtures");
            }
        }
    }
    assert!(ids.len() >= 200, "only {} rules", ids.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn semgrep_matches_every_planted_case_and_no_clean_one() {
    let semgrep = root().join(".tools/scanners/bin/semgrep");
    assert!(
        semgrep.is_file(),
        "{} is missing: run scripts/install-test-tools",
        semgrep.display()
    );
    let home = tempfile::tempdir().unwrap();
    // semgrep's test runner crashes when a single rule file meets a
    // directory, so the whole packs directory meets the fixtures directory.
    let output = Command::new(&semgrep)
        .args(["--test", "--metrics=off", "--disable-version-check", "--config"])
        .arg(packs_dir())
        .arg(fixtures_dir())
        .env("HOME", home.path())
        .env("SEMGREP_ENABLE_VERSION_CHECK", "0")
        .env("SEMGREP_SEND_METRICS", "off")
        .env("SEMGREP_SETTINGS_FILE", home.path().join("settings.yml"))
        .env("SEMGREP_LOG_FILE", home.path().join("semgrep.log"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("All tests passed"),
        "semgrep --test failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}
