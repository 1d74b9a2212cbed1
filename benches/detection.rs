//! Detection quality on real applications: recall against a ground truth,
//! findings per KLOC, tool errors and wall time, for the whole catalog and
//! for single scanners beside it, plus a random sample of high and critical
//! findings to judge by hand.
//!
//! Each application is a directory under `$CORPUS` (say, checkouts of
//! intentionally vulnerable applications) with a ground-truth file of the
//! same name in `benches/detection/ground-truth/<app>.tsv`: `path line kind
//! claim`, one known vulnerability per row (line 0: anywhere in the file). A
//! row counts as found when a finding whose CWE fits its kind lies within
//! ±3 lines of it in the same file.
//!
//! Run: `CORPUS=/path/to/apps cargo bench --bench detection` (optionally
//! `APPS=dvna,pygoat`, `SAMPLE=40`, `MISSED=1` to list what was missed). The
//! sample is written to `target/detection-sample.md`.

use livescan::engine::{Caller, Engine, EngineConfig, TargetPolicy, accounts};
use livescan::model::{Finding, Severity, StartRequest, ToolStatus};
use livescan::store::SqliteStore;
use livescan::tools::{Availability, Catalog, CatalogOptions, Workspace};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The kinds a ground-truth row may have, and the CWEs that fit each.
const KINDS: &[(&str, &[u32])] = &[
    ("sqli", &[89, 564]),
    ("nosqli", &[943, 89]),
    ("cmdi", &[78, 77, 88]),
    ("code-injection", &[94, 95, 96, 1336, 470, 913]),
    ("ssti", &[1336, 94, 95]),
    ("xss", &[79, 80, 83, 87, 116]),
    ("path-traversal", &[22, 23, 36, 73, 98]),
    ("file-inclusion", &[98, 22, 73, 829]),
    ("unrestricted-upload", &[434, 22]),
    ("ssrf", &[918]),
    ("xxe", &[611, 776, 827]),
    ("deserialization", &[502]),
    ("open-redirect", &[601]),
    ("csrf", &[352]),
    ("hardcoded-secret", &[798, 259, 321, 547, 522]),
    (
        "weak-crypto",
        &[327, 328, 326, 916, 759, 760, 261, 257, 312, 319, 311, 256],
    ),
    ("weak-random", &[330, 338, 331]),
    ("insecure-cookie", &[614, 1004, 1275, 539, 315]),
    ("debug-enabled", &[489, 215, 11, 1295, 209]),
    ("redos", &[1333, 400, 185]),
    ("mass-assignment", &[915]),
    ("ldap-injection", &[90]),
    ("xpath-injection", &[643]),
    ("jwt", &[347, 345, 287]),
    ("tls-verification", &[295, 297]),
    ("cors", &[942, 346]),
    ("security-misconfig", &[16, 693, 1021, 250, 732, 276, 1188, 200]),
    ("vulnerable-dependency", &[1104, 937, 1035, 1395]),
    ("idor", &[639, 284, 285, 862, 863, 22]),
    ("auth", &[287, 306, 307, 384, 521, 620, 640, 798, 522, 613, 262]),
    ("info-exposure", &[200, 209, 532, 497, 538, 548, 215, 312, 359]),
    ("log-injection", &[117, 93]),
    ("other", &[]),
];

#[derive(Clone, Debug)]
struct Truth {
    path: String,
    line: u32,
    kind: String,
}

fn ground_truth(file: &Path) -> Vec<Truth> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(cols.len() >= 3, "{}: malformed row `{l}`", file.display());
            let kind = cols[2].trim().to_string();
            assert!(
                KINDS.iter().any(|(k, _)| *k == kind),
                "{}: unknown kind `{kind}`",
                file.display()
            );
            Truth {
                path: cols[0].trim().to_string(),
                line: cols[1].trim().parse().unwrap_or(0),
                kind,
            }
        })
        .collect()
}

/// One finding of one tool.
#[derive(Clone, Debug)]
struct Found {
    tool: String,
    finding: Finding,
}

fn fits(truth: &Truth, found: &Found) -> bool {
    let Some(cwe) = found.finding.cwe else {
        return false;
    };
    let kind_fits = KINDS
        .iter()
        .find(|(k, _)| *k == truth.kind)
        .is_some_and(|(_, cwes)| cwes.contains(&cwe));
    let same_file = found.finding.path.as_deref() == Some(truth.path.as_str());
    let near = truth.line == 0 || found.finding.line.is_some_and(|l| l.abs_diff(truth.line) <= 3);
    kind_fits && same_file && near
}

fn recall(truths: &[Truth], found: &[Found], tools: &dyn Fn(&str) -> bool) -> (usize, Vec<usize>) {
    let mut missed = Vec::new();
    let mut hits = 0;
    for (i, truth) in truths.iter().enumerate() {
        if found.iter().any(|f| tools(&f.tool) && fits(truth, f)) {
            hits += 1;
        } else {
            missed.push(i);
        }
    }
    (hits, missed)
}

/// Lines of code in the files the scan looked at (blank lines excluded).
fn kloc(root: &Path) -> f64 {
    let inventory = livescan::tools::Inventory::walk(root, &[], &tokio_util::sync::CancellationToken::new())
        .expect("the application is readable");
    let code = [
        "py", "js", "ts", "jsx", "tsx", "php", "rb", "java", "go", "erb", "ejs", "html", "htm", "twig",
        "jinja", "j2", "hbs", "vue", "jsp", "cs", "kt", "scala", "c", "cpp", "h",
    ];
    let lines: usize = inventory
        .files()
        .iter()
        .filter(|f| f.rel.rsplit('.').next().is_some_and(|ext| code.contains(&ext)))
        .filter_map(|f| inventory.read_text(f))
        .map(|text| text.lines().filter(|l| !l.trim().is_empty()).count())
        .sum();
    lines as f64 / 1000.0
}

struct Run {
    found: Vec<Found>,
    errors: Vec<String>,
    seconds: f64,
}

async fn scan(root: &Path, catalog: &Catalog) -> Run {
    let store = Arc::new(SqliteStore::temporary().await.unwrap());
    accounts::ensure_local_user(&*store).await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(
        TargetPolicy {
            scan_roots: vec![root.to_path_buf()],
            allow_private: true,
            excluded: vec![work.path().to_path_buf()],
        },
        Workspace::scratch(work.path().join("work")),
    );
    // Every finding counts here, not only the first thousand of a report.
    config.max_findings_per_report = 1_000_000;
    let engine = Engine::open(store, catalog.clone(), config).await.unwrap();
    let tools: Vec<String> = catalog
        .iter()
        .filter(|t| t.availability() == Availability::Available)
        .filter(|t| t.spec().applies_to(livescan::model::TargetKind::Directory))
        .map(|t| t.spec().id.to_string())
        .collect();
    let request: StartRequest = serde_json::from_value(serde_json::json!({
        "target": { "directory": root },
        "tools": tools,
        "timeout": 1_800_000,
        "maxConcurrent": 4,
    }))
    .unwrap();
    let caller = Caller::local();
    let started = Instant::now();
    let state = engine.start_session(&caller, request).await.unwrap();
    let id = state.meta.session_id.clone();
    let state = loop {
        let state = engine.session(&caller, &id).await.unwrap();
        if state.is_finished() {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for report in &state.reports {
        if report.status == ToolStatus::Failed {
            errors.push(format!(
                "{}: {}",
                report.tool_name,
                report.result.error.as_deref().unwrap_or("failed")
            ));
        }
        for finding in &report.result.findings {
            found.push(Found {
                tool: report.tool_name.clone(),
                finding: finding.clone(),
            });
        }
    }
    Run {
        found,
        errors,
        seconds,
    }
}

/// A small deterministic generator, so a sample can be drawn again.
fn shuffled<T>(mut items: Vec<T>, seed: u64) -> Vec<T> {
    let mut state = seed;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
    items
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.0}%", 100.0 * part as f64 / whole as f64)
}

#[tokio::main]
async fn main() {
    let corpus = PathBuf::from(std::env::var("CORPUS").expect("CORPUS: a directory of applications"));
    let truth_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/detection/ground-truth");
    let only: Option<BTreeSet<String>> = std::env::var("APPS")
        .ok()
        .map(|a| a.split(',').map(String::from).collect());
    let sample_size: usize = std::env::var("SAMPLE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let show_missed = std::env::var_os("MISSED").is_some();
    let tool_dirs = livescan::tools::external::DEFAULT_TOOL_DIRS
        .iter()
        .map(|d| Path::new(env!("CARGO_MANIFEST_DIR")).join(d))
        .collect();
    let catalog = Catalog::with_options(&CatalogOptions {
        advisory_db: std::env::var_os("LIVESCAN_ADVISORY_DB").map(PathBuf::from),
        tool_dirs,
    });

    // The peers: single scanners, and semgrep + bandit + detect-secrets together.
    type Selection = (&'static str, fn(&str) -> bool);
    let selections: [Selection; 5] = [
        ("catalog", |_| true),
        ("semgrep", |t| t == "semgrep"),
        ("bandit", |t| t == "bandit"),
        ("detect-secrets", |t| t == "detect-secrets"),
        ("sg+bandit+ds", |t| {
            matches!(t, "semgrep" | "bandit" | "detect-secrets")
        }),
    ];

    println!(
        "| app | KLOC | known | {} | findings | /KLOC | errors | time |",
        selections.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" | ")
    );
    println!("|---|---|---|{}---|---|---|---|", "---|".repeat(selections.len()));
    let mut totals = vec![0usize; selections.len()];
    let mut known_total = 0;
    let mut per_tool: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    let mut severe: Vec<(String, Found)> = Vec::new();
    let mut all_errors = Vec::new();
    let mut missed_rows = Vec::new();
    let mut truth_files: Vec<PathBuf> = std::fs::read_dir(&truth_dir)
        .expect("benches/detection/ground-truth")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    truth_files.sort();
    for truth_file in truth_files {
        let app = truth_file.file_stem().unwrap().to_string_lossy().to_string();
        if only.as_ref().is_some_and(|o| !o.contains(&app)) {
            continue;
        }
        let root = corpus.join(&app);
        if !root.is_dir() {
            eprintln!("{app}: not in {}; skipped", corpus.display());
            continue;
        }
        let root = root.canonicalize().unwrap();
        let truths = ground_truth(&truth_file);
        let kloc = kloc(&root);
        let run = scan(&root, &catalog).await;
        let mut cells = Vec::new();
        for (i, (_, select)) in selections.iter().enumerate() {
            let (hits, missed) = recall(&truths, &run.found, select);
            totals[i] += hits;
            cells.push(format!("{hits} ({})", percent(hits, truths.len())));
            if i == 0 {
                missed_rows.extend(missed.into_iter().map(|m| (app.clone(), truths[m].clone())));
            }
        }
        known_total += truths.len();
        for found in &run.found {
            let entry = per_tool.entry(found.tool.clone()).or_default();
            entry.0 += 1;
        }
        for tool in run.found.iter().map(|f| f.tool.clone()).collect::<BTreeSet<_>>() {
            per_tool.get_mut(&tool).unwrap().1 += kloc;
        }
        severe.extend(
            run.found
                .iter()
                .filter(|f| f.finding.cwe.is_some() && f.finding.severity <= Severity::High)
                .map(|f| (app.clone(), f.clone())),
        );
        all_errors.extend(run.errors.iter().map(|e| format!("{app}: {e}")));
        println!(
            "| {app} | {kloc:.1} | {} | {} | {} | {:.0} | {} | {:.0} s |",
            truths.len(),
            cells.join(" | "),
            run.found.len(),
            run.found.len() as f64 / kloc.max(0.1),
            run.errors.len(),
            run.seconds
        );
    }
    println!(
        "| **all** | | {known_total} | {} | | | {} | |",
        totals
            .iter()
            .map(|t| format!("{t} ({})", percent(*t, known_total)))
            .collect::<Vec<_>>()
            .join(" | "),
        all_errors.len()
    );
    println!("\nFindings per KLOC by tool (over the applications each tool reported on):");
    for (tool, (count, kloc)) in &per_tool {
        println!(
            "  {tool:<24} {count:>6} findings, {:>7.1}/KLOC",
            *count as f64 / kloc.max(0.1)
        );
    }
    for error in &all_errors {
        println!("tool error: {error}");
    }
    if show_missed {
        println!("\nMissed by the catalog:");
        for (app, truth) in &missed_rows {
            println!("  {app}\t{}:{}\t{}", truth.path, truth.line, truth.kind);
        }
    }
    // A sample of high and critical security findings, to judge by reading the code.
    let sample = shuffled(severe, 0x5eed_1234_abcd_ef01);
    let mut text = String::from("# High and critical findings, a random sample\n\n");
    for (app, found) in sample.iter().take(sample_size) {
        let f = &found.finding;
        let path = f.path.clone().unwrap_or_default();
        let line = f.line.unwrap_or(0) as usize;
        let source = std::fs::read_to_string(corpus.join(app).join(&path)).unwrap_or_default();
        let lines: Vec<&str> = source.lines().collect();
        let context: Vec<String> = (line.saturating_sub(2)..=(line + 1).min(lines.len()))
            .filter(|n| *n >= 1)
            .map(|n| {
                format!(
                    "    {n:>5}  {}",
                    lines
                        .get(n - 1)
                        .copied()
                        .unwrap_or("")
                        .chars()
                        .take(160)
                        .collect::<String>()
                )
            })
            .collect();
        text.push_str(&format!(
            "- [ ] {app} `{path}:{line}` {} `{}` CWE-{} {}: {}\n{}\n",
            found.tool,
            f.rule_id,
            f.cwe.unwrap_or(0),
            f.severity,
            f.message.chars().take(200).collect::<String>(),
            context.join("\n")
        ));
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/detection-sample.md");
    std::fs::write(&out, text).unwrap();
    println!(
        "\n{} high/critical findings; a sample of {} in {}",
        sample.len(),
        sample_size.min(sample.len()),
        out.display()
    );
}
