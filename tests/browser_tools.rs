//! The browser tools (`axe`, `console-errors`, `third-party`,
//! `rendered-mixed-content`) on pages a local server writes with
//! JavaScript: a real Chromium renders each page once per session for all
//! of them and sees what a tool reading the HTML as served cannot; a clean
//! page gives nothing. The address guard on every
//! request a page makes is tried inside a network namespace of the test's
//! own (loopback only), where the page sits on an address the policy calls
//! public and asks for loopback, private and metadata addresses.

mod common;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use livescan::model::{Finding, Metric};
use livescan::tools::{Fetcher, FindingSink, Pages, Tool, ToolContext, ToolTarget};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A page whose content is all written by its script: an image without
/// alternative text and a button without a name, an uncaught error, a
/// `console.error`, a script that is missing, and a third-party script
/// without an integrity hash.
fn app_page(third_party: &str) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><title>App</title></head>
<body><main id="root"></main>
<script>
  const root = document.getElementById("root");
  root.innerHTML = '<h1>Dashboard</h1><img src="/logo.png"><button class="buy"></button>';
  const missing = document.createElement("script");
  missing.src = "/missing.js";
  document.body.appendChild(missing);
  const vendor = document.createElement("script");
  vendor.src = "{third_party}/vendor.js";
  document.body.appendChild(vendor);
  console.error("cart failed to load");
  setTimeout(() => {{ undefinedFunction(); }}, 0);
</script></body></html>"#
    )
}

/// A page with nothing wrong, also written by its script.
const CLEAN_PAGE: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Clean</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="A clean page."><link rel="icon" href="data:,"></head>
<body><main id="root"></main>
<script>
  document.getElementById("root").innerHTML =
    '<h1>Welcome</h1><img src="/logo.png" alt="Company logo"><button>Buy</button>';
</script></body></html>"#;

/// A one-pixel PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00,
    0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x02, 0x00, 0x00, 0x05, 0x00,
    0x01, 0xe9, 0xfa, 0xdc, 0xd8, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// Serves `router` on `ip`, port chosen by the system.
async fn serve(ip: &str, router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    address
}

/// A site on 127.0.0.1 with the app and clean pages, counting page loads;
/// the third-party origin is on 127.0.0.2, another site.
async fn local_site(loads: Arc<AtomicUsize>) -> String {
    let vendor = serve(
        "127.0.0.2",
        Router::new().route("/vendor.js", get(|| async { "window.vendor = true;" })),
    )
    .await;
    let app = app_page(&format!("http://{vendor}"));
    let router = Router::new()
        .route(
            "/app",
            get(move || {
                loads.fetch_add(1, Ordering::SeqCst);
                let app = app.clone();
                async move { Html(app) }
            }),
        )
        .route("/clean", get(|| async { Html(CLEAN_PAGE) }))
        .route(
            "/logo.png",
            get(|| async { ([(axum::http::header::CONTENT_TYPE, "image/png")], PNG) }),
        );
    format!("http://{}", serve("127.0.0.1", router).await)
}

/// Runs the test `path` inside a network namespace of its own (loopback
/// only), where 11.0.0.1, an address the policy calls public, is on
/// loopback: true inside, false in the outer process once it passed there.
fn in_namespace_with_a_public_address(path: &str) -> bool {
    if !common::in_own_network_namespace(path) {
        return false;
    }
    let added = std::process::Command::new("ip")
        .args(["addr", "add", "11.0.0.1/32", "dev", "lo"])
        .status()
        .unwrap();
    assert!(added.success());
    true
}

fn tool(id: &str) -> Arc<dyn Tool> {
    common::installed_catalog()
        .get(id)
        .cloned()
        .unwrap_or_else(|| panic!("no tool `{id}`"))
}

/// Runs `id` on `url` with the session's `pages`: its findings and metrics.
async fn run(id: &str, url: &str, pages: &Arc<Pages>) -> Result<(Vec<Finding>, Vec<Metric>), String> {
    let findings = FindingSink::default();
    let ctx = Arc::new(ToolContext {
        target: ToolTarget::Urls(vec![url.to_string()]),
        deadline: Instant::now() + Duration::from_secs(120),
        cancel: CancellationToken::new(),
        findings: findings.clone(),
        pages: pages.clone(),
        workspace: Arc::new(livescan::tools::Workspace::scratch(
            std::env::temp_dir().join("livescan-tests"),
        )),
        shared: Default::default(),
        capacity: Default::default(),
    });
    tool(id).run(ctx).await.map_err(|e| e.to_string())?;
    Ok((findings.take(), findings.take_metrics()))
}

fn rules(findings: &[Finding]) -> Vec<(String, String)> {
    let mut rules: Vec<(String, String)> = findings
        .iter()
        .map(|f| (f.rule_id.clone(), f.message.clone()))
        .collect();
    rules.sort();
    rules
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_sees_what_scripts_write_and_renders_each_page_once() {
    for id in ["axe", "console-errors", "third-party"] {
        assert_eq!(
            tool(id).availability(),
            livescan::tools::Availability::Available,
            "{id}: run scripts/install-test-tools"
        );
    }
    let loads = Arc::new(AtomicUsize::new(0));
    let site = local_site(loads.clone()).await;
    let app = format!("{site}/app");
    let pages = Pages::new(Arc::new(Fetcher::new(true)));

    let (axe, _) = run("axe", &app, &pages).await.unwrap();
    let found: Vec<(&str, &str)> = axe
        .iter()
        .map(|f| (f.rule_id.as_str(), f.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("button-name", "Buttons must have discernible text: button"),
            ("image-alt", "Images must have alternative text: img"),
        ]
    );
    assert!(axe.iter().all(|f| {
        f.help_uri
            .as_deref()
            .is_some_and(|u| u.starts_with("https://dequeuniversity.com/"))
    }));
    assert!(axe.iter().all(|f| f.url.as_deref() == Some(app.as_str())));
    // The same page read as served shows none of it: the script wrote it.
    let (served, _) = run("html-a11y", &app, &pages).await.unwrap();
    assert!(
        served
            .iter()
            .all(|f| f.rule_id != "img-alt" && f.rule_id != "image-alt"),
        "{served:#?}"
    );

    let (errors, _) = run("console-errors", &app, &pages).await.unwrap();
    let errors = rules(&errors);
    let texts: Vec<String> = errors
        .iter()
        .map(|(rule, message)| format!("{rule}: {message}"))
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("uncaught-exception: ReferenceError: undefinedFunction is not defined")),
        "{texts:#?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("console-error: cart failed to load")),
        "{texts:#?}"
    );
    assert!(
        texts.contains(&format!(
            "failed-request: Script {site}/missing.js failed: HTTP 404"
        )),
        "{texts:#?}"
    );
    assert_eq!(texts.len(), 3, "{texts:#?}");

    let (third, metrics) = run("third-party", &app, &pages).await.unwrap();
    let third: Vec<&str> = third.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(third, ["third-party-script-without-sri"]);
    let origins = metrics
        .iter()
        .find(|m| m.name == "third-party-origins")
        .expect("a count of origins");
    assert_eq!(origins.value, "1");

    // Three tools, one rendering.
    assert_eq!(
        loads.load(Ordering::SeqCst),
        2,
        "one fetch (html-a11y) and one rendering"
    );

    let clean = format!("{site}/clean");
    for id in ["axe", "console-errors", "third-party"] {
        let (findings, _) = run(id, &clean, &pages).await.unwrap();
        assert!(findings.is_empty(), "{id} on the clean page: {findings:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lighthouse_scores_the_rendered_page_and_names_failed_audits() {
    assert_eq!(
        tool("lighthouse").availability(),
        livescan::tools::Availability::Available,
        "run scripts/install-test-tools"
    );
    let site = local_site(Arc::new(AtomicUsize::new(0))).await;
    let pages = Pages::new(Arc::new(Fetcher::new(true)));
    let score = |metrics: &[Metric], category: &str| {
        metrics
            .iter()
            .find(|m| m.name == format!("lighthouse {category}"))
            .map(|m| m.value.clone())
            .unwrap_or_else(|| panic!("no {category} score: {metrics:#?}"))
    };

    let (findings, metrics) = run("lighthouse", &format!("{site}/app"), &pages).await.unwrap();
    let accessibility: u32 = score(&metrics, "accessibility").parse().unwrap();
    assert!(accessibility < 90, "{metrics:#?}");
    for category in ["performance", "best-practices", "seo"] {
        score(&metrics, category);
    }
    // Timings are measurements, never findings: they vary with the load.
    for timing in ["first-contentful-paint", "total-blocking-time"] {
        assert!(score(&metrics, timing).ends_with(" ms") || score(&metrics, timing).ends_with(" s"));
    }
    let audits: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f.rule_id.as_str(), f.message.as_str()))
        .collect();
    // What the script wrote: an image without alt text, a nameless button.
    assert!(
        audits
            .iter()
            .any(|(id, m)| *id == "image-alt" && m.ends_with("— body > main#root > img")),
        "{audits:#?}"
    );
    assert!(audits.iter().any(|(id, _)| *id == "button-name"), "{audits:#?}");
    assert!(
        audits.iter().any(|(id, _)| *id == "errors-in-console"),
        "{audits:#?}"
    );

    let (findings, metrics) = run("lighthouse", &format!("{site}/clean"), &pages).await.unwrap();
    assert!(findings.is_empty(), "lighthouse on the clean page: {findings:#?}");
    assert_eq!(score(&metrics, "accessibility"), "100");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_cannot_load_fails_the_run_saying_why() {
    let pages = Pages::new(Arc::new(Fetcher::new(true)));
    // Nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let failed = run("console-errors", &url, &pages).await.unwrap_err();
    assert!(failed.contains("did not load"), "{failed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_a_page_makes_meets_the_address_guard() {
    if !in_namespace_with_a_public_address("every_request_a_page_makes_meets_the_address_guard") {
        return;
    }
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let private = serve(
        "127.0.0.1",
        Router::new().fallback(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { "internal" }
        }),
    )
    .await;
    let page = format!(
        r#"<!doctype html><html lang="en"><head><title>Greedy</title></head><body>
<img src="http://{private}/pixel.png" alt="pixel">
<script src="http://{private}/internal.js"></script>
<script>fetch("http://169.254.169.254/latest/meta-data/").catch(() => {{}});</script>
</body></html>"#
    );
    let public = serve(
        "11.0.0.1",
        Router::new().route("/", get(move || async move { Html(page) })),
    )
    .await;
    let pages = Pages::new(Arc::new(Fetcher::new(false)));
    let (findings, _) = run("console-errors", &format!("http://{public}/"), &pages)
        .await
        .unwrap();
    let refused: Vec<&str> = findings
        .iter()
        .filter(|f| f.rule_id == "request-refused")
        .map(|f| f.message.as_str())
        .collect();
    assert!(
        refused
            .iter()
            .any(|m| m.contains(&format!("http://{private}/internal.js"))),
        "{refused:#?}"
    );
    assert!(
        refused
            .iter()
            .any(|m| m.contains(&format!("http://{private}/pixel.png"))),
        "{refused:#?}"
    );
    assert!(
        refused.iter().any(|m| m.contains("169.254.169.254")),
        "{refused:#?}"
    );
    // Lighthouse starts a browser of its own, behind a guard of its own.
    let (_, metrics) = run("lighthouse", &format!("http://{public}/"), &pages)
        .await
        .unwrap();
    assert!(
        metrics.iter().any(|m| m.name == "lighthouse accessibility"),
        "{metrics:#?}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing reached the private server"
    );
}

/// An HTTPS page whose script asks for a script and an image over plain
/// HTTP after it loads: the browser blocks the script and loads the image
/// (it upgrades images only on host names, not on an IP address), and
/// `rendered-mixed-content` says so, where `mixed-content` reading the
/// HTML as served sees nothing. The insecure server must not be on
/// loopback (browsers trust plain HTTP there), so this runs in a network
/// namespace of its own, on an address the policy calls public.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_reports_mixed_content_that_scripts_ask_for() {
    if !in_namespace_with_a_public_address("the_browser_reports_mixed_content_that_scripts_ask_for") {
        return;
    }
    let insecure = serve(
        "11.0.0.1",
        Router::new()
            .route("/tracker.js", get(|| async { "window.tracked = true;" }))
            .route(
                "/pixel.png",
                get(|| async { ([(axum::http::header::CONTENT_TYPE, "image/png")], PNG) }),
            ),
    )
    .await;
    let shop = format!(
        r#"<!doctype html><html lang="en"><head><title>Shop</title></head><body><main></main>
<script>
  const tracker = document.createElement("script");
  tracker.src = "http://{insecure}/tracker.js";
  document.body.appendChild(tracker);
  const pixel = document.createElement("img");
  pixel.src = "http://{insecure}/pixel.png";
  pixel.alt = "";
  document.querySelector("main").appendChild(pixel);
</script></body></html>"#
    );
    let ca = common::tls::TestCa::new();
    let site = ca
        .serve_on(
            "11.0.0.1",
            Router::new()
                .route("/shop", get(move || async move { Html(shop) }))
                .route("/clean", get(|| async { Html(CLEAN_PAGE) }))
                .route(
                    "/logo.png",
                    get(|| async { ([(axum::http::header::CONTENT_TYPE, "image/png")], PNG) }),
                ),
            &["11.0.0.1"],
            30,
        )
        .await;
    // As `serve --ca-cert` makes it: the fetcher and the browser trust the CA.
    let pages = Pages::new(Arc::new(Fetcher::with_roots(false, vec![ca.root()])));
    let shop = format!("{site}/shop");
    let (found, _) = run("rendered-mixed-content", &shop, &pages).await.unwrap();
    assert_eq!(
        rules(&found),
        [
            (
                "mixed-content-blocked".to_string(),
                format!(
                    "the HTTPS page asks for the script http://{insecure}/tracker.js over plain HTTP: \
                     the browser blocked it, so the page works only without it"
                )
            ),
            (
                "mixed-content-loaded".to_string(),
                format!(
                    "the HTTPS page asks for the image http://{insecure}/pixel.png over plain HTTP: \
                     the browser loaded it over HTTP, where anyone on the path can read or replace it"
                )
            ),
        ]
    );
    let (served, _) = run("mixed-content", &shop, &pages).await.unwrap();
    assert!(
        served.is_empty(),
        "the HTML as served holds no http:// URL: {served:#?}"
    );
    let (clean, _) = run("rendered-mixed-content", &format!("{site}/clean"), &pages)
        .await
        .unwrap();
    assert!(clean.is_empty(), "{clean:#?}");
}
