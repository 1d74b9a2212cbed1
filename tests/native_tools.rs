//! The native tools run end to end through `Tool::run`, found in
//! `livescan::tools::native::all(..)`: the directory tools over the planted and
//! clean fixture trees, the URL tools against a local HTTP server serving the
//! web fixtures, and `large-files` over files created at test time. Planted
//! fixtures must produce exactly the rows of their `*.expected.tsv` file.

#[path = "common/tls.rs"]
mod tls;
#[path = "support/weakness.rs"]
mod weakness;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use livescan::model::{Category, Finding, Severity, TargetKind};
use livescan::tools::{
    CatalogOptions, Fetcher, FindingSink, Inventory, Pages, Tool, ToolContext, ToolTarget, native,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The tools whose planted problems live in the shared `dir-planted` tree;
/// every other tool has its own `tools/<id>/{planted,clean}` fixtures.
const DIR_PLANTED_TOOLS: [&str; 4] = ["secrets", "merge-conflicts", "todo-comments", "large-files"];
const URL_TOOLS: [&str; 2] = ["http-headers", "html-a11y"];
/// Tools that only act on HTTPS pages: their fixture sites are served over
/// HTTPS with a test CA. (`tls` has a test of its own.)
const HTTPS_ONLY_TOOLS: [&str; 1] = ["mixed-content"];
/// Tools that need a browser: tests/browser_tools.rs runs them on pages
/// written by script.
const BROWSER_TOOLS: [&str; 5] = [
    "axe",
    "console-errors",
    "third-party",
    "rendered-mixed-content",
    "lighthouse",
];

/// Every native tool, with the fixture advisory database.
fn natives() -> Vec<Arc<dyn Tool>> {
    native::all(&CatalogOptions {
        advisory_db: Some(fixtures().join("tools/vulnerable-dependencies/osv")),
        tool_dirs: Vec::new(),
    })
}

fn directory_tool_ids() -> Vec<&'static str> {
    natives()
        .iter()
        .map(|t| t.spec())
        .filter(|spec| spec.applies_to(TargetKind::Directory))
        .map(|spec| spec.id)
        .collect()
}

/// One finding as the expectation files spell it: tool, rule, path or page, line.
type Row = (String, String, String, Option<u32>);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn tool(id: &str) -> Arc<dyn Tool> {
    natives()
        .into_iter()
        .find(|tool| tool.spec().id == id)
        .unwrap_or_else(|| panic!("no native tool `{id}`"))
}

async fn run(id: &str, target: ToolTarget) -> Vec<Finding> {
    run_with(id, target, Fetcher::new(true)).await
}

async fn run_with(id: &str, target: ToolTarget, fetcher: Fetcher) -> Vec<Finding> {
    let findings = FindingSink::default();
    let ctx = Arc::new(ToolContext {
        target,
        deadline: Instant::now() + Duration::from_secs(60),
        cancel: CancellationToken::new(),
        findings: findings.clone(),
        pages: Pages::new(Arc::new(fetcher)),
        workspace: Arc::new(livescan::tools::Workspace::scratch(
            std::env::temp_dir().join("livescan-tests"),
        )),
        shared: Default::default(),
        capacity: Default::default(),
    });
    tool(id)
        .run(ctx)
        .await
        .unwrap_or_else(|e| panic!("{id} failed: {e}"));
    findings.take()
}

fn directory(root: &Path) -> ToolTarget {
    let inventory = Inventory::walk(root, &[], &CancellationToken::new()).expect("fixture tree is readable");
    ToolTarget::Directory(Arc::new(inventory))
}

/// Runs the given tools over `root`, as rows plus the findings themselves.
async fn scan_directory(root: &Path, tools: &[&str]) -> (Vec<Row>, Vec<(String, Finding)>) {
    let mut rows = Vec::new();
    let mut all = Vec::new();
    for &id in tools {
        for finding in run(id, directory(root)).await {
            let path = finding.path.clone().expect("directory findings carry a path");
            rows.push((id.to_string(), finding.rule_id.clone(), path, finding.line));
            all.push((id.to_string(), finding));
        }
    }
    rows.sort();
    (rows, all)
}

fn expected(file: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut rows: Vec<Row> = text
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 4, "malformed row `{line}` in {}", file.display());
            let line_no = (!cols[3].is_empty()).then(|| cols[3].parse().expect("line is a number"));
            (cols[0].into(), cols[1].into(), cols[2].into(), line_no)
        })
        .collect();
    rows.sort();
    rows
}

/// What a security finding of a native tool lacks of its weakness.
fn weakness_unnamed(tool: &str, finding: &Finding) -> Option<String> {
    let category = native::all(&CatalogOptions::default())
        .into_iter()
        .find(|t| t.spec().id == tool)
        .map(|t| t.spec().category);
    // A missing or stale security.txt is a gap in disclosure, not a weakness.
    if category != Some(Category::Security) || tool == "security-txt" {
        return None;
    }
    weakness::unnamed(tool, finding)
}

/// Asserts the multisets are equal, listing what is missing and what is extra.
fn assert_rows(actual: &[Row], expected: &[Row], what: &str) {
    let missing: Vec<_> = expected.iter().filter(|row| !actual.contains(row)).collect();
    let unexpected: Vec<_> = actual.iter().filter(|row| !expected.contains(row)).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{what}:\n missing {missing:#?}\n unexpected {unexpected:#?}"
    );
    assert_eq!(actual, expected, "{what}: duplicated findings");
}

#[test]
fn catalog_specs_are_complete() {
    let tools = natives();
    let mut ids: Vec<_> = tools.iter().map(|t| t.spec().id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), tools.len(), "tool ids are unique");
    for tool in &tools {
        let spec = tool.spec();
        assert!((1..=10).contains(&spec.cost), "{}", spec.id);
        assert!(
            !spec.summary.is_empty() && spec.summary.len() <= 120,
            "{}",
            spec.id
        );
        assert!(!spec.targets.is_empty(), "{}", spec.id);
        // URL tools take both one URL and a list.
        assert_eq!(
            spec.applies_to(TargetKind::Url),
            spec.applies_to(TargetKind::Urls),
            "{}",
            spec.id
        );
        let fixtures_of_its_own = fixtures().join("tools").join(spec.id).is_dir();
        assert!(
            fixtures_of_its_own
                || DIR_PLANTED_TOOLS.contains(&spec.id)
                || URL_TOOLS.contains(&spec.id)
                || BROWSER_TOOLS.contains(&spec.id)
                || spec.id == "tls",
            "{} has no fixtures",
            spec.id
        );
    }
    // Without an advisory directory the dependency check uses its built-in
    // snapshot; a directory that does not exist makes it unavailable, with
    // how to fix that.
    let bare = native::all(&CatalogOptions::default());
    let deps = |tools: &[Arc<dyn Tool>]| {
        tools
            .iter()
            .find(|t| t.spec().id == "vulnerable-dependencies")
            .unwrap()
            .availability()
    };
    assert_eq!(deps(&bare), livescan::tools::Availability::Available);
    let missing = native::all(&CatalogOptions {
        advisory_db: Some(PathBuf::from("/nonexistent/advisories")),
        ..CatalogOptions::default()
    });
    match deps(&missing) {
        livescan::tools::Availability::Unavailable { install_hint, .. } => {
            assert!(install_hint.contains("advisories refresh"), "{install_hint}")
        }
        available => panic!("vulnerable-dependencies with a missing directory: {available:?}"),
    }
    let category = |id: &str| tools.iter().find(|t| t.spec().id == id).unwrap().spec().category;
    assert_eq!(category("secrets"), Category::Security);
    assert_eq!(category("merge-conflicts"), Category::CodeQuality);
    assert_eq!(category("todo-comments"), Category::CodeQuality);
    assert_eq!(category("large-files"), Category::Performance);
    assert_eq!(category("http-headers"), Category::Security);
    assert_eq!(category("html-a11y"), Category::Accessibility);
}

#[tokio::test]
async fn directory_tools_find_exactly_the_planted_problems() {
    let root = fixtures().join("dir-planted");
    let (rows, findings) = scan_directory(&root, &DIR_PLANTED_TOOLS).await;
    assert_rows(
        &rows,
        &expected(&fixtures().join("dir-planted.expected.tsv")),
        "dir-planted",
    );

    let secret_rules: std::collections::BTreeSet<_> = rows
        .iter()
        .filter(|r| r.0 == "secrets")
        .map(|r| r.1.as_str())
        .collect();
    assert!(
        secret_rules.len() >= 20,
        "only {} secrets rules hit",
        secret_rules.len()
    );

    weakness::assert_all_named(
        findings
            .iter()
            .filter_map(|(tool, f)| weakness_unnamed(tool, f))
            .collect(),
    );
    for (tool, finding) in &findings {
        assert!(
            !finding.fingerprint.is_empty(),
            "{tool}/{}: no fingerprint",
            finding.rule_id
        );
        assert!(
            finding.line.is_some_and(|l| l >= 1),
            "{tool}/{}: no line",
            finding.rule_id
        );
        if tool != "secrets" {
            continue;
        }
        // No long word of the offending line (the token) may appear in the message.
        let text = std::fs::read_to_string(root.join(finding.path.as_ref().unwrap())).unwrap();
        let line = text.lines().nth(finding.line.unwrap() as usize - 1).unwrap();
        for word in line.split(|c: char| c.is_whitespace() || "\"'=:;`,".contains(c)) {
            assert!(
                word.len() < 16 || !finding.message.contains(word),
                "{}: message `{}` leaks `{word}`",
                finding.rule_id,
                finding.message
            );
        }
    }
}

#[tokio::test]
async fn directory_tools_are_silent_on_clean_code() {
    let (rows, _) = scan_directory(&fixtures().join("dir-clean"), &directory_tool_ids()).await;
    assert!(rows.is_empty(), "dir-clean produced {rows:#?}");
}

/// Each directory tool with fixtures of its own under `tools/<id>/`: the
/// `planted` tree gives exactly the rows of `expected.tsv` (rule, path,
/// line), every finding carries a line, a fingerprint and a help link, and
/// the `clean` tree gives nothing.
#[tokio::test]
async fn each_tool_finds_exactly_its_planted_problems_and_nothing_on_clean_code() {
    let mut checked = 0;
    let mut unnamed: Vec<String> = Vec::new();
    for id in directory_tool_ids() {
        let dir = fixtures().join("tools").join(id);
        if !dir.is_dir() {
            continue;
        }
        let findings = run(id, directory(&dir.join("planted"))).await;
        unnamed.extend(findings.iter().filter_map(|f| weakness_unnamed(id, f)));
        for finding in &findings {
            assert!(
                !finding.fingerprint.is_empty(),
                "{id}/{}: no fingerprint",
                finding.rule_id
            );
            assert!(
                finding.help_uri.is_some(),
                "{id}/{}: no help link",
                finding.rule_id
            );
        }
        let mut rows: Vec<Row> = findings
            .into_iter()
            .map(|f| (id.to_string(), f.rule_id, f.path.expect("a path"), f.line))
            .collect();
        rows.sort();
        let expected: Vec<Row> = expected_rows(&dir.join("expected.tsv"))
            .into_iter()
            .map(|(rule, path, line)| (id.to_string(), rule, path, line))
            .collect();
        assert_rows(&rows, &expected, &format!("{id} on its planted fixtures"));
        let clean = run(id, directory(&dir.join("clean"))).await;
        assert!(clean.is_empty(), "{id} on its clean fixtures: {clean:#?}");
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} tools have fixtures of their own");
    weakness::assert_all_named(unnamed);
}

/// Serves a fixture site: each file under `root` at its path (a path
/// segment `dot-x` stands for `.x`, since git cannot hold a `.git/`
/// directory); `<file>.headers` holds extra response headers, one
/// `Name: value` per line (`Status: 301` sets the status, `Delay-Ms: 900`
/// holds the answer back); `_fallback.html`,
/// if present, answers every other path with 200 (a "soft 404" site).
async fn serve_site(root: PathBuf) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = site_router(root);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

/// The fixture site of [`serve_site`] as a router.
fn site_router(root: PathBuf) -> Router {
    use axum::http::{HeaderName, HeaderValue, StatusCode, Uri};
    let handler = move |uri: Uri| {
        let root = root.clone();
        async move {
            let rel: Vec<String> = uri
                .path()
                .trim_start_matches('/')
                .split('/')
                .map(|seg| {
                    seg.strip_prefix('.')
                        .map_or(seg.to_string(), |rest| format!("dot-{rest}"))
                })
                .collect();
            let mut file = root.join(rel.join("/"));
            if uri.path().ends_with('/') {
                file = file.join("index.html");
            }
            let (status, body) = match std::fs::read(&file) {
                Ok(body) if file.is_file() => (StatusCode::OK, body),
                _ => match std::fs::read(root.join("_fallback.html")) {
                    Ok(body) => (StatusCode::OK, body),
                    Err(_) => (StatusCode::NOT_FOUND, b"not found".to_vec()),
                },
            };
            let mut response = axum::response::Response::new(axum::body::Body::from(body));
            *response.status_mut() = status;
            let extra = std::fs::read_to_string(format!("{}.headers", file.display())).unwrap_or_default();
            for line in extra.lines() {
                let Some((name, value)) = line.split_once(':') else {
                    continue;
                };
                if name.eq_ignore_ascii_case("delay-ms") {
                    tokio::time::sleep(Duration::from_millis(value.trim().parse().unwrap())).await;
                } else if name.eq_ignore_ascii_case("status") {
                    *response.status_mut() = StatusCode::from_u16(value.trim().parse().unwrap()).unwrap();
                } else {
                    response.headers_mut().append(
                        HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
                        HeaderValue::from_str(value.trim()).unwrap(),
                    );
                }
            }
            if !response.headers().contains_key(CONTENT_TYPE) && file.extension().is_some_and(|e| e == "html")
            {
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            }
            response
        }
    };
    Router::new().fallback(handler)
}

#[tokio::test]
async fn tls_checks_redirects_issuers_host_names_and_expiry() {
    let ca = tls::TestCa::new();
    let site = fixtures().join("tools/cookies/clean");
    let good = ca
        .serve(site_router(site.clone()), &["127.0.0.1", "localhost"], 365)
        .await;
    let expiring = ca.serve(site_router(site.clone()), &["127.0.0.1"], 5).await;
    let wrong_name = ca.serve(site_router(site.clone()), &["other.test"], 365).await;
    let plain = serve_site(site.clone()).await;
    let urls = vec![
        format!("{good}/"),
        format!("{expiring}/"),
        format!("{wrong_name}/"),
        format!("{plain}/"),
    ];
    let findings = run_with("tls", ToolTarget::Urls(urls.clone()), ca.fetcher()).await;
    let mut rows: Vec<(&str, &str, Severity)> = findings
        .iter()
        .map(|f| (f.url.as_deref().unwrap(), f.rule_id.as_str(), f.severity))
        .collect();
    rows.sort();
    let mut expected = vec![
        (urls[1].as_str(), "certificate-expires-soon", Severity::High),
        (urls[2].as_str(), "certificate-invalid", Severity::Critical),
        (urls[3].as_str(), "no-https-redirect", Severity::Medium),
    ];
    expected.sort();
    assert_eq!(rows, expected, "{findings:#?}");
    let invalid = findings
        .iter()
        .find(|f| f.rule_id == "certificate-invalid")
        .unwrap();
    assert!(
        invalid.message.contains("not valid for name"),
        "{}",
        invalid.message
    );

    // Without the test CA among its roots, the good site's issuer is unknown.
    let untrusted = run_with("tls", ToolTarget::Urls(vec![urls[0].clone()]), Fetcher::new(true)).await;
    assert!(untrusted[0].message.contains("UnknownIssuer"), "{untrusted:#?}");
}

/// Each URL tool with fixtures of its own under `tools/<id>/`: the
/// `planted` site, asked for the paths in `targets.txt`, gives exactly the
/// rows of `expected.tsv` (rule, URL path), and the `clean` site nothing.
#[tokio::test]
async fn each_url_tool_finds_exactly_its_planted_problems_and_nothing_on_a_clean_site() {
    let mut checked = 0;
    let mut unnamed: Vec<String> = Vec::new();
    for tool_spec in natives().iter().map(|t| t.spec().clone()) {
        let dir = fixtures().join("tools").join(tool_spec.id);
        // A tool for both target kinds keeps directory fixtures there (no targets.txt).
        if !tool_spec.applies_to(TargetKind::Url) || !dir.join("targets.txt").is_file() {
            continue;
        }
        let id = tool_spec.id;
        let targets = std::fs::read_to_string(dir.join("targets.txt")).unwrap();
        let paths: Vec<&str> = targets.lines().filter(|l| !l.trim().is_empty()).collect();
        // Tools that only look at HTTPS pages get their sites over HTTPS.
        let ca = tls::TestCa::new();
        for site in ["planted", "clean"] {
            let (base, fetcher) = if HTTPS_ONLY_TOOLS.contains(&id) {
                (
                    ca.serve(site_router(dir.join(site)), &["127.0.0.1"], 365).await,
                    ca.fetcher(),
                )
            } else {
                (serve_site(dir.join(site)).await, Fetcher::new(true))
            };
            let urls = paths.iter().map(|p| format!("{base}{p}")).collect();
            let findings = run_with(id, ToolTarget::Urls(urls), fetcher).await;
            unnamed.extend(findings.iter().filter_map(|f| weakness_unnamed(id, f)));
            let mut rows: Vec<Row> = findings
                .iter()
                .map(|f| {
                    assert!(
                        !f.fingerprint.is_empty() && f.help_uri.is_some(),
                        "{id}/{}",
                        f.rule_id
                    );
                    let url = f.url.as_deref().expect("URL findings carry their URL");
                    let path = url.strip_prefix(&base).unwrap_or(url).to_string();
                    (id.to_string(), f.rule_id.clone(), path, None)
                })
                .collect();
            rows.sort();
            if site == "clean" {
                assert!(rows.is_empty(), "{id} on its clean site: {rows:#?}");
                continue;
            }
            let expected: Vec<Row> = expected_rows(&dir.join("expected.tsv"))
                .into_iter()
                .map(|(rule, path, line)| (id.to_string(), rule, path, line))
                .collect();
            assert_rows(&rows, &expected, &format!("{id} on its planted site"));
        }
        checked += 1;
    }
    assert!(checked >= 1, "no URL tool has fixtures of its own");
    weakness::assert_all_named(unnamed);
}

/// A tool's `expected.tsv`: rule, path, line (empty when the finding is about
/// the whole file).
fn expected_rows(file: &Path) -> Vec<(String, String, Option<u32>)> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut rows: Vec<_> = text
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 3, "malformed row `{line}` in {}", file.display());
            let line_no = (!cols[2].is_empty()).then(|| cols[2].parse().expect("line is a number"));
            (cols[0].to_string(), cols[1].to_string(), line_no)
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn large_files_are_flagged_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let sized = |name: &str, len: u64| {
        std::fs::File::create(dir.path().join(name))
            .unwrap()
            .set_len(len)
            .unwrap();
    };
    sized("big.bin", 2 * 1024 * 1024);
    sized("small.txt", 1024);
    sized("disk.img", 10 * 1024 * 1024);
    let findings = run("large-files", directory(dir.path())).await;
    let mut seen: Vec<_> = findings
        .iter()
        .map(|f| (f.path.as_deref().unwrap(), f.rule_id.as_str(), f.message.as_str()))
        .collect();
    seen.sort();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!((seen[0].0, seen[0].1), ("big.bin", "large-file"));
    assert!(seen[0].2.contains("2.0 MiB"), "{}", seen[0].2);
    assert_eq!((seen[1].0, seen[1].1), ("disk.img", "very-large-file"));
    assert!(seen[1].2.contains("10.0 MiB"), "{}", seen[1].2);
}

/// Serves the web fixtures on an ephemeral local port: `planted.html` with
/// weak headers, `clean.html` with strong ones, `bare.html` (the clean body)
/// with no security headers at all, and `meta.html`, whose CSP and referrer
/// policy are set only by `<meta>` tags.
async fn serve_web_fixtures() -> String {
    let planted = std::fs::read_to_string(fixtures().join("web/planted.html")).unwrap();
    let clean = std::fs::read_to_string(fixtures().join("web/clean.html")).unwrap();
    let bare = clean.clone();
    let meta = std::fs::read_to_string(fixtures().join("web/meta.html")).unwrap();
    let router = Router::new()
        .route(
            "/planted.html",
            get(move || async move {
                (
                    [
                        (
                            "content-security-policy",
                            "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval' https:; img-src *",
                        ),
                        ("x-frame-options", "ALLOW-FROM https://partner.example"),
                        ("referrer-policy", "no-referrer-when-downgrade"),
                    ],
                    Html(planted),
                )
            }),
        )
        .route(
            "/clean.html",
            get(move || async move {
                (
                    [
                        (
                            "content-security-policy",
                            "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; \
                             frame-ancestors 'none'",
                        ),
                        ("strict-transport-security", "max-age=63072000; includeSubDomains"),
                        ("x-content-type-options", "nosniff"),
                        ("x-frame-options", "DENY"),
                        ("referrer-policy", "strict-origin-when-cross-origin"),
                    ],
                    Html(clean),
                )
            }),
        )
        .route(
            "/bare.html",
            get(move || async move { ([(CONTENT_TYPE, "text/html")], bare).into_response() }),
        )
        .route(
            "/meta.html",
            get(move || async move { ([("x-content-type-options", "nosniff")], Html(meta)) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

/// The last path segment of a finding's page, e.g. `planted.html`.
fn page_of(finding: &Finding) -> String {
    let url = finding.url.as_deref().expect("page findings carry a URL");
    url.rsplit('/').next().unwrap().to_string()
}

#[tokio::test]
async fn url_tools_match_the_web_fixtures() {
    let base = serve_web_fixtures().await;
    let pages = ["planted.html", "clean.html", "bare.html", "meta.html"];
    let urls: Vec<String> = pages.iter().map(|page| format!("{base}/{page}")).collect();
    let mut rows: Vec<Row> = Vec::new();
    for id in URL_TOOLS {
        for finding in run(id, ToolTarget::Urls(urls.clone())).await {
            assert!(finding.line.is_none() && finding.path.is_none());
            assert!(!finding.fingerprint.is_empty());
            let help = finding.help_uri.as_deref().unwrap_or_default();
            match id {
                "html-a11y" => assert_eq!(
                    help,
                    format!("https://dequeuniversity.com/rules/axe/4.10/{}", finding.rule_id)
                ),
                _ => assert!(help.starts_with("https://developer.mozilla.org/"), "{help}"),
            }
            rows.push((id.to_string(), finding.rule_id.clone(), page_of(&finding), None));
        }
    }
    rows.sort();
    let on = |page: &str| -> Vec<Row> { rows.iter().filter(|r| r.2 == page).cloned().collect() };

    assert_rows(
        &on("planted.html"),
        &expected(&fixtures().join("web/planted.expected.tsv")),
        "planted.html",
    );

    // Over plain HTTP the clean page can only lack HTTPS (HSTS needs HTTPS).
    let clean: Vec<_> = on("clean.html")
        .into_iter()
        .filter(|r| r.1 != "no-https" && !r.1.starts_with("hsts-"))
        .collect();
    assert!(clean.is_empty(), "clean.html produced {clean:#?}");

    let bare: Vec<_> = on("bare.html").into_iter().map(|r| r.1).collect();
    assert_eq!(
        bare,
        [
            "clickjacking-protection-missing",
            "csp-missing",
            "no-https",
            "referrer-policy-missing",
            "x-content-type-options-missing"
        ]
    );

    // Meta policies count, but browsers ignore frame-ancestors in a meta CSP.
    let meta: Vec<_> = on("meta.html").into_iter().map(|r| r.1).collect();
    assert_eq!(meta, ["clickjacking-protection-missing", "no-https"]);
}

#[tokio::test]
async fn url_only_tools_reject_directory_targets() {
    let url_only: Vec<&str> = natives()
        .iter()
        .map(|t| t.spec())
        .filter(|spec| !spec.applies_to(TargetKind::Directory))
        .map(|spec| spec.id)
        .collect();
    assert!(url_only.len() >= 5);
    for id in url_only {
        let ctx = Arc::new(ToolContext {
            target: directory(&fixtures().join("dir-clean")),
            deadline: Instant::now() + Duration::from_secs(60),
            cancel: CancellationToken::new(),
            findings: FindingSink::default(),
            pages: Pages::new(Arc::new(Fetcher::new(true))),
            workspace: Arc::new(livescan::tools::Workspace::scratch(
                std::env::temp_dir().join("livescan-tests"),
            )),
            shared: Default::default(),
            capacity: Default::default(),
        });
        assert!(tool(id).run(ctx).await.is_err(), "{id} accepted a directory");
    }
}

/// `http-headers` grades every page as the HTTP Observatory would, beside its findings.
#[tokio::test]
async fn http_headers_reports_an_observatory_grade_per_page() {
    let base = serve_web_fixtures().await;
    let sink = FindingSink::default();
    let urls = vec![format!("{base}/planted.html"), format!("{base}/clean.html")];
    let ctx = Arc::new(ToolContext {
        target: ToolTarget::Urls(urls.clone()),
        deadline: Instant::now() + Duration::from_secs(60),
        cancel: CancellationToken::new(),
        findings: sink.clone(),
        pages: Pages::new(Arc::new(Fetcher::new(true))),
        workspace: Arc::new(livescan::tools::Workspace::scratch(
            std::env::temp_dir().join("livescan-tests"),
        )),
        shared: Default::default(),
        capacity: Default::default(),
    });
    tool("http-headers").run(ctx).await.unwrap();
    let metrics = sink.take_metrics();
    assert_eq!(metrics.len(), 2, "{metrics:#?}");
    for (metric, url) in metrics.iter().zip(&urls) {
        assert_eq!(metric.name, "http-observatory");
        assert_eq!(metric.url.as_deref(), Some(url.as_str()));
    }
    // Over plain HTTP even the clean page loses the HTTPS tests: 100 - 20 - 20.
    assert!(
        metrics[1].value.starts_with("C+ (60/100)"),
        "{}",
        metrics[1].value
    );
    assert!(
        metrics[0].value.starts_with('F') || metrics[0].value.starts_with('D'),
        "{}",
        metrics[0].value
    );
}
