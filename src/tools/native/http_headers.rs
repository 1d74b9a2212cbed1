//! The `http-headers` tool: security response headers of each fetched page —
//! transport (HTTPS, HSTS), Content-Security-Policy strength, MIME sniffing,
//! framing (clickjacking) and Referrer-Policy. On HTML pages a policy set in
//! the document counts too: `<meta http-equiv="Content-Security-Policy">` in the
//! head (though, as in browsers, not for `frame-ancestors`) and
//! `<meta name="referrer">`, which overrides the header. Also CORS (universal
//! access with credentials) and Subresource Integrity of cross-origin
//! scripts; and, as a measurement, the page's MDN HTTP Observatory score and
//! grade over its ten tests.

use super::cookies::{Cookie, is_session_like};
use crate::model::{Category, Ecosystem, Finding, Metric, Severity, TargetKind};
use crate::tools::{Page, PageCheck, ToolSpec};
use scraper::{Html, Selector};

static SPEC: ToolSpec = ToolSpec {
    id: "http-headers",
    category: Category::Security,
    ecosystem: Ecosystem::Website,
    targets: &[TargetKind::Url, TargetKind::Urls],
    cost: 1,
    summary: "Missing or weak security headers: HTTPS/HSTS, CSP, nosniff, framing and Referrer-Policy",
};

/// Six months, the shortest HSTS max-age commonly recommended (and required
/// for preload lists).
const MIN_HSTS_MAX_AGE: u64 = 15_552_000;

const MDN: &str = "https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/";

/// The weakness each rule finds.
fn cwe(rule: &str) -> u32 {
    match rule {
        "no-https" | "hsts-missing" | "hsts-short-max-age" => 319, // cleartext transmission
        "clickjacking-protection-missing" => 1021,                 // improper restriction of frames
        "cors-universal-access" | "access-control-allow-origin" | "access-control-allow-credentials" => 942,
        "sri-missing" => 353, // missing support for integrity check
        "referrer-policy-missing" | "referrer-policy-unsafe" => 200, // exposure of information
        _ => 693,             // protection mechanism failure
    }
}
const TLS_HELP: &str =
    "https://developer.mozilla.org/en-US/docs/Web/Security/Practical_implementation_guides/TLS";

/// Checks the response headers of each page.
pub struct HttpHeaders;

impl PageCheck for HttpHeaders {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn check(&self, page: &Page, out: &mut Vec<Finding>) {
        let mut report = Report { page, out };
        check_transport(page, &mut report);
        let header_policies = csp_policies(page);
        let meta = MetaPolicies::of(page);
        check_csp(&[header_policies.as_slice(), &meta.csp].concat(), &mut report);
        // Browsers ignore frame-ancestors in a <meta> policy.
        check_framing(page, &header_policies, &mut report);
        check_nosniff(page, &mut report);
        check_referrer_policy(page, &meta.referrer, &mut report);
        check_cors(page, &mut report);
        check_sri(page, &mut report);
    }

    fn measure(&self, page: &Page) -> Vec<Metric> {
        let mut findings = Vec::new();
        self.check(page, &mut findings);
        let rules: Vec<&str> = findings.iter().map(|f| f.rule_id.as_str()).collect();
        let (score, tests) = observatory(page, &rules);
        let details: Vec<String> = tests.iter().map(|(test, m)| format!("{test} {m:+}")).collect();
        vec![Metric {
            name: "http-observatory".into(),
            value: format!(
                "{} ({score}/100){}{}",
                grade(score),
                if details.is_empty() { "" } else { ": " },
                details.join(", ")
            ),
            url: Some(page.url.clone()),
        }]
    }
}

/// The policies an HTML page sets in its markup, in document order.
#[derive(Default)]
struct MetaPolicies {
    /// Each `<meta http-equiv="Content-Security-Policy">` that is a child of
    /// `<head>` (browsers ignore the others).
    csp: Vec<Policy>,
    /// Each `<meta name="referrer">` content, trimmed and lowercased.
    referrer: Vec<String>,
}

impl MetaPolicies {
    fn of(page: &Page) -> Self {
        let mut found = MetaPolicies::default();
        let is_html = page
            .header("content-type")
            .is_none_or(|ct| ct.to_ascii_lowercase().contains("html"));
        if !is_html {
            return found;
        }
        let document = Html::parse_document(&page.body);
        let metas = Selector::parse("meta[content]").expect("the meta selector is valid CSS");
        for meta in document.select(&metas) {
            let element = meta.value();
            let content = element.attr("content").unwrap_or_default();
            let is = |attr: &str, value: &str| {
                element
                    .attr(attr)
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
            };
            let in_head = meta
                .parent()
                .is_some_and(|parent| parent.value().as_element().is_some_and(|e| e.name() == "head"));
            if is("http-equiv", "content-security-policy") && in_head {
                let policy = parse_policy(content);
                if !policy.is_empty() {
                    found.csp.push(policy);
                }
            } else if is("name", "referrer") {
                found.referrer.push(content.trim().to_ascii_lowercase());
            }
        }
        found
    }
}

/// Pushes findings for one page.
struct Report<'a> {
    page: &'a Page,
    out: &'a mut Vec<Finding>,
}

impl Report<'_> {
    /// `header` names the MDN header page for help (or is a whole help URL);
    /// `evidence` is the offending value.
    fn add(&mut self, rule_id: &str, severity: Severity, message: String, header: &str, evidence: &str) {
        let help = if header.is_empty() {
            TLS_HELP.to_string()
        } else if header.starts_with("https://") {
            header.to_string()
        } else {
            format!("{MDN}{header}")
        };
        self.out.push(
            Finding::new(rule_id, severity, message)
                .at_url(&self.page.url)
                .with_help(&help)
                .with_cwe(cwe(rule_id))
                .fingerprinted(evidence),
        );
    }
}

fn check_transport(page: &Page, report: &mut Report<'_>) {
    if !page.is_https() {
        report.add(
            "no-https",
            Severity::Medium,
            format!(
                "Page is served over plain HTTP ({}); serve it over HTTPS and redirect HTTP to it",
                page.final_url
            ),
            "",
            &page.final_url,
        );
        return;
    }
    const HSTS: &str = "Strict-Transport-Security";
    let Some(value) = page.header(HSTS) else {
        report.add(
            "hsts-missing",
            Severity::Medium,
            "No Strict-Transport-Security header; browsers may still try plain HTTP first".into(),
            HSTS,
            "",
        );
        return;
    };
    match hsts_max_age(value) {
        Some(age) if age >= MIN_HSTS_MAX_AGE => {}
        Some(age) => report.add(
            "hsts-short-max-age",
            Severity::Low,
            format!("Strict-Transport-Security max-age is {age} seconds; use at least {MIN_HSTS_MAX_AGE} (180 days)"),
            HSTS,
            value,
        ),
        None => report.add(
            "hsts-short-max-age",
            Severity::Low,
            format!("Strict-Transport-Security has no valid max-age (`{value}`)"),
            HSTS,
            value,
        ),
    }
}

/// The `max-age` of a Strict-Transport-Security value, if it has a valid one.
fn hsts_max_age(value: &str) -> Option<u64> {
    value.split(';').find_map(|directive| {
        let (name, age) = directive.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        age.trim().trim_matches('"').parse().ok()
    })
}

/// One Content-Security-Policy: directive names (lowercased) and their sources.
type Policy = Vec<(String, Vec<String>)>;

/// Every policy enforced by header (each header, and each comma-separated
/// policy in it).
fn csp_policies(page: &Page) -> Vec<Policy> {
    page.headers_named("content-security-policy")
        .flat_map(|value| value.split(','))
        .map(parse_policy)
        .filter(|policy| !policy.is_empty())
        .collect()
}

/// One serialized policy: `;`-separated directives of a name and sources.
fn parse_policy(policy: &str) -> Policy {
    policy
        .split(';')
        .filter_map(|directive| {
            let mut tokens = directive.split_ascii_whitespace();
            let name = tokens.next()?.to_ascii_lowercase();
            Some((name, tokens.map(str::to_string).collect()))
        })
        .collect()
}

fn directive<'p>(policy: &'p Policy, name: &str) -> Option<&'p [String]> {
    policy
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, sources)| sources.as_slice())
}

/// The sources scripts are checked against: `script-src`, else `default-src`.
fn script_sources(policy: &Policy) -> Option<&[String]> {
    directive(policy, "script-src").or_else(|| directive(policy, "default-src"))
}

fn has_source(sources: &[String], source: &str) -> bool {
    sources.iter().any(|s| s.eq_ignore_ascii_case(source))
}

/// Nonces, hashes and `'strict-dynamic'` make browsers ignore `'unsafe-inline'`.
fn neutralises_inline(sources: &[String]) -> bool {
    sources.iter().any(|s| {
        let s = s.to_ascii_lowercase();
        s.starts_with("'nonce-")
            || s.starts_with("'sha256-")
            || s.starts_with("'sha384-")
            || s.starts_with("'sha512-")
            || s == "'strict-dynamic'"
    })
}

/// A source that lets scripts load from any host (`*`) or any URL of a scheme.
fn wildcard_source(sources: &[String]) -> Option<&str> {
    if has_source(sources, "'strict-dynamic'") {
        return None;
    }
    sources.iter().map(String::as_str).find(|s| {
        matches!(
            s.to_ascii_lowercase().as_str(),
            "*" | "http:" | "https:" | "data:" | "blob:"
        )
    })
}

fn check_csp(policies: &[Policy], report: &mut Report<'_>) {
    const CSP: &str = "Content-Security-Policy";
    if policies.is_empty() {
        report.add(
            "csp-missing",
            Severity::Medium,
            "No Content-Security-Policy header or <meta> policy; injected scripts would run unrestricted"
                .into(),
            CSP,
            "",
        );
        return;
    }
    // A script must satisfy every policy, so a weakness matters only when each
    // policy that restricts scripts has it.
    let script_policies: Vec<&[String]> = policies.iter().filter_map(script_sources).collect();
    if script_policies.is_empty() {
        report.add(
            "csp-missing",
            Severity::Medium,
            "Content-Security-Policy sets neither script-src nor default-src, so scripts are unrestricted"
                .into(),
            CSP,
            "",
        );
        return;
    }
    let evidence = script_policies
        .iter()
        .map(|s| s.join(" "))
        .collect::<Vec<_>>()
        .join(", ");
    if script_policies
        .iter()
        .all(|s| has_source(s, "'unsafe-inline'") && !neutralises_inline(s))
    {
        report.add(
            "csp-unsafe-inline",
            Severity::Medium,
            "Content-Security-Policy allows 'unsafe-inline' scripts, which defeats its XSS protection; use nonces or hashes".into(),
            CSP,
            &evidence,
        );
    }
    if script_policies.iter().all(|s| has_source(s, "'unsafe-eval'")) {
        report.add(
            "csp-unsafe-eval",
            Severity::Low,
            "Content-Security-Policy allows 'unsafe-eval', so strings can be run as script".into(),
            CSP,
            &evidence,
        );
    }
    if let Some(source) = script_policies
        .iter()
        .map(|s| wildcard_source(s))
        .collect::<Option<Vec<_>>>()
        .and_then(|sources| sources.first().copied())
    {
        report.add(
            "csp-wildcard-source",
            Severity::Medium,
            format!("Content-Security-Policy allows scripts from `{source}`, i.e. from any host"),
            CSP,
            &evidence,
        );
    }
}

fn check_framing(page: &Page, policies: &[Policy], report: &mut Report<'_>) {
    const XFO: &str = "X-Frame-Options";
    let xfo = page.header(XFO).map(str::trim);
    let xfo_ok = xfo.is_some_and(|v| v.eq_ignore_ascii_case("deny") || v.eq_ignore_ascii_case("sameorigin"));
    let frame_ancestors = policies.iter().any(|p| directive(p, "frame-ancestors").is_some());
    if !xfo_ok && !frame_ancestors {
        let message = match xfo {
            Some(value) => format!(
                "X-Frame-Options is `{value}` (not DENY or SAMEORIGIN) and the CSP has no frame-ancestors; \
                 the page can be framed for clickjacking"
            ),
            None => "Neither X-Frame-Options nor CSP frame-ancestors is set; the page can be framed for clickjacking"
                .into(),
        };
        report.add(
            "clickjacking-protection-missing",
            Severity::Medium,
            message,
            XFO,
            xfo.unwrap_or(""),
        );
    }
}

fn check_nosniff(page: &Page, report: &mut Report<'_>) {
    const XCTO: &str = "X-Content-Type-Options";
    let value = page.header(XCTO).map(str::trim);
    if value.is_some_and(|v| v.eq_ignore_ascii_case("nosniff")) {
        return;
    }
    let message = match value {
        Some(value) => {
            format!("X-Content-Type-Options is `{value}`, not `nosniff`; browsers may MIME-sniff responses")
        }
        None => "No X-Content-Type-Options: nosniff header; browsers may MIME-sniff responses".into(),
    };
    report.add(
        "x-content-type-options-missing",
        Severity::Low,
        message,
        XCTO,
        value.unwrap_or(""),
    );
}

const REFERRER_POLICIES: [&str; 8] = [
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
];

/// `metas` are the page's `<meta name="referrer">` contents, in document order.
fn check_referrer_policy(page: &Page, metas: &[String], report: &mut Report<'_>) {
    const REFERRER: &str = "Referrer-Policy";
    let mut values: Vec<&str> = page.headers_named(REFERRER).collect();
    // Browsers apply the last policy they recognise, and a recognised meta
    // referrer replaces the header's.
    let recognised = |token: &String| REFERRER_POLICIES.contains(&token.as_str());
    let policy = metas
        .iter()
        .rfind(|token| recognised(token))
        .cloned()
        .or_else(|| {
            values
                .iter()
                .flat_map(|v| v.split(','))
                .map(|token| token.trim().to_ascii_lowercase())
                .rfind(recognised)
        });
    values.extend(metas.iter().map(String::as_str));
    match policy.as_deref() {
        None => {
            let message = if values.is_empty() {
                "No Referrer-Policy header or <meta name=\"referrer\">; set one such as strict-origin-when-cross-origin"
                    .to_string()
            } else {
                format!("Referrer-Policy `{}` has no recognised policy", values.join(", "))
            };
            report.add(
                "referrer-policy-missing",
                Severity::Low,
                message,
                REFERRER,
                &values.join(", "),
            );
        }
        Some(unsafe_policy @ ("unsafe-url" | "no-referrer-when-downgrade")) => report.add(
            "referrer-policy-unsafe",
            Severity::Low,
            format!(
                "Referrer-Policy `{unsafe_policy}` sends full URLs (paths and query strings) to other origins"
            ),
            REFERRER,
            unsafe_policy,
        ),
        Some(_) => {}
    }
}

/// `Access-Control-Allow-Origin: *` together with credentials: any site may
/// read this origin's responses with the visitor's cookies (browsers refuse
/// the combination, but servers that answer it usually reflect origins).
fn check_cors(page: &Page, report: &mut Report<'_>) {
    const ACAO: &str = "Access-Control-Allow-Origin";
    let origin = page.header(ACAO).map(str::trim);
    let credentials = page
        .header("access-control-allow-credentials")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if origin == Some("*") && credentials {
        report.add(
            "cors-universal-access",
            Severity::High,
            "Access-Control-Allow-Origin: * with Access-Control-Allow-Credentials: true lets any site read \
             responses meant for signed-in visitors; allow only the origins you trust"
                .into(),
            ACAO,
            "*",
        );
    }
}

/// Scripts from another origin without an `integrity` hash: whoever controls
/// that host (or, over HTTP, the network) controls this page.
fn check_sri(page: &Page, report: &mut Report<'_>) {
    let Ok(base) = reqwest::Url::parse(&page.final_url) else {
        return;
    };
    let document = Html::parse_document(&page.body);
    let scripts = Selector::parse("script[src]").expect("valid selector");
    let unprotected: Vec<String> = document
        .select(&scripts)
        .filter(|s| s.value().attr("integrity").is_none_or(|i| i.trim().is_empty()))
        .filter_map(|s| base.join(s.value().attr("src")?).ok())
        .filter(|url| url.origin() != base.origin())
        .map(|url| url.to_string())
        .collect();
    if unprotected.is_empty() {
        return;
    }
    let severity = if page.is_https() {
        Severity::Low
    } else {
        Severity::Medium
    };
    report.add(
        "sri-missing",
        severity,
        format!(
            "{} cross-origin scripts load without an integrity hash: {}",
            unprotected.len(),
            unprotected.join(", ")
        ),
        "https://developer.mozilla.org/en-US/docs/Web/Security/Subresource_Integrity",
        &unprotected.join(" "),
    );
}

/// The Observatory's score for a page: 100 plus the modifier of each of its
/// ten tests (bonuses only once the score is 90 or more), judged from this
/// tool's findings on the page and, for cookies, from the `Set-Cookie`
/// headers. Returns the score and every test that moved it.
fn observatory(page: &Page, rules: &[&str]) -> (i32, Vec<(&'static str, i32)>) {
    let has = |rule: &str| rules.contains(&rule);
    let https = page.is_https();
    let mut tests: Vec<(&'static str, i32)> = Vec::new();
    let csp = if has("csp-missing") {
        -25
    } else if has("csp-unsafe-inline") || has("csp-wildcard-source") {
        -20
    } else if has("csp-unsafe-eval") {
        -10
    } else {
        0
    };
    tests.push(("content-security-policy", csp));
    let cookies: Vec<Cookie> = page
        .headers_named("set-cookie")
        .filter_map(Cookie::parse)
        .collect();
    let cookie_modifier = cookies
        .iter()
        .map(
            |c| match (c.has("secure"), c.has("httponly"), is_session_like(&c.name)) {
                (false, _, true) => -40,
                (_, false, true) => -30,
                (false, _, false) => -20,
                _ => 0,
            },
        )
        .min()
        .unwrap_or(0);
    tests.push(("cookies", cookie_modifier));
    tests.push((
        "cross-origin-resource-sharing",
        if has("cors-universal-access") { -50 } else { 0 },
    ));
    // An HTTP page that did not end on HTTPS was not redirected there.
    tests.push(("redirection", if https { 0 } else { -20 }));
    tests.push((
        "referrer-policy",
        if has("referrer-policy-unsafe") { -5 } else { 0 },
    ));
    let hsts = if !https || has("hsts-missing") {
        -20
    } else if has("hsts-short-max-age") {
        -10
    } else {
        0
    };
    tests.push(("strict-transport-security", hsts));
    let sri = match (has("sri-missing"), https) {
        (false, _) => 0,
        (true, true) => -5,
        (true, false) => -50,
    };
    tests.push(("subresource-integrity", sri));
    tests.push((
        "x-content-type-options",
        if has("x-content-type-options-missing") {
            -5
        } else {
            0
        },
    ));
    tests.push((
        "x-frame-options",
        if has("clickjacking-protection-missing") {
            -20
        } else {
            0
        },
    ));
    tests.push(("cross-origin-resource-policy", 0));
    let mut score = 100 + tests.iter().map(|(_, m)| m).sum::<i32>();
    // A private referrer policy earns a bonus on an already strong page.
    let private_referrer = page.header("referrer-policy").is_some_and(|p| {
        [
            "no-referrer",
            "same-origin",
            "strict-origin",
            "strict-origin-when-cross-origin",
        ]
        .contains(&p.trim())
    });
    if score >= 90 && private_referrer {
        tests.push(("referrer-policy", 5));
        score += 5;
    }
    tests.retain(|(_, m)| *m != 0);
    (score.max(0), tests)
}

/// The Observatory's letter for a score (below 0 counts as 0).
fn grade(score: i32) -> &'static str {
    crate::model::intelligence::observatory_grade(score.max(0).unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observatory_scores_and_grades() {
        let page = |url: &str, headers: &[(&str, &str)], body: &str| Page {
            url: url.into(),
            final_url: url.into(),
            status: 200,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
            ..Default::default()
        };
        let strong = page(
            "https://a.test/",
            &[
                (
                    "content-security-policy",
                    "default-src 'self'; frame-ancestors 'none'",
                ),
                ("strict-transport-security", "max-age=63072000"),
                ("x-content-type-options", "nosniff"),
                ("referrer-policy", "no-referrer"),
            ],
            "<html><head><title>t</title></head></html>",
        );
        let value = &HttpHeaders.measure(&strong)[0].value;
        assert_eq!(value, "A+ (105/100): referrer-policy +5");

        let weak = page(
            "http://a.test/",
            &[
                ("set-cookie", "sessionid=1"),
                ("access-control-allow-origin", "*"),
                ("access-control-allow-credentials", "true"),
            ],
            r#"<html><head><script src="http://cdn.test/a.js"></script></head></html>"#,
        );
        let mut found = Vec::new();
        HttpHeaders.check(&weak, &mut found);
        let rules: Vec<&str> = found.iter().map(|f| f.rule_id.as_str()).collect();
        assert!(
            rules.contains(&"cors-universal-access") && rules.contains(&"sri-missing"),
            "{rules:?}"
        );
        let (score, _) = observatory(&weak, &rules);
        assert_eq!((score, grade(score)), (0, "F"));
        assert_eq!(grade(70), "B");
        assert_eq!(grade(24), "F");
    }
    use std::time::Duration;

    fn page(url: &str, headers: &[(&str, &str)]) -> Page {
        Page {
            url: url.to_string(),
            final_url: url.to_string(),
            status: 200,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: String::new(),
            truncated: false,
            elapsed: Duration::ZERO,
            ..Default::default()
        }
    }

    fn rules(page: &Page) -> Vec<String> {
        let mut out = Vec::new();
        HttpHeaders.check(page, &mut out);
        let mut ids: Vec<_> = out.into_iter().map(|f| f.rule_id).collect();
        ids.sort();
        ids
    }

    const STRONG: &[(&str, &str)] = &[
        (
            "content-security-policy",
            "default-src 'self'; frame-ancestors 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
    ];

    #[test]
    fn strong_https_page_is_clean() {
        let mut headers = STRONG.to_vec();
        headers.push(("strict-transport-security", "max-age=31536000; includeSubDomains"));
        assert!(rules(&page("https://example.com/", &headers)).is_empty());
    }

    #[test]
    fn hsts_is_checked_on_https_only() {
        assert_eq!(rules(&page("https://example.com/", STRONG)), vec!["hsts-missing"]);
        let mut short = STRONG.to_vec();
        short.push(("strict-transport-security", "max-age=86400"));
        assert_eq!(
            rules(&page("https://example.com/", &short)),
            vec!["hsts-short-max-age"]
        );
        let mut invalid = STRONG.to_vec();
        invalid.push(("strict-transport-security", "includeSubDomains"));
        assert_eq!(
            rules(&page("https://example.com/", &invalid)),
            vec!["hsts-short-max-age"]
        );
        assert_eq!(rules(&page("http://example.com/", STRONG)), vec!["no-https"]);
    }

    #[test]
    fn nonces_neutralise_unsafe_inline_and_strict_dynamic_wildcards() {
        let headers = [
            (
                "content-security-policy",
                "script-src 'nonce-abc' 'unsafe-inline' 'strict-dynamic' https:; frame-ancestors 'self'",
            ),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("strict-transport-security", "max-age=63072000"),
        ];
        assert!(rules(&page("https://example.com/", &headers)).is_empty());
    }

    fn html_page(url: &str, headers: &[(&str, &str)], head: &str) -> Page {
        let mut page = page(url, headers);
        page.body = format!("<!doctype html><html><head>{head}</head><body><p>Hi</p></body></html>");
        page
    }

    const META_CSP: &str = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'; frame-ancestors 'none'\">";

    #[test]
    fn meta_policies_count_except_meta_frame_ancestors() {
        let head = format!("{META_CSP}<meta name=\"referrer\" content=\"no-referrer\">");
        let headers = [
            ("content-type", "text/html; charset=utf-8"),
            ("x-content-type-options", "nosniff"),
        ];
        assert_eq!(
            rules(&html_page("http://example.com/", &headers, &head)),
            vec!["clickjacking-protection-missing", "no-https"]
        );
        // Only a policy in the head counts, and only in an HTML response.
        let mut in_body = html_page("http://example.com/", &headers, "");
        in_body.body = in_body.body.replace("<p>", &format!("{META_CSP}<p>"));
        let json = html_page(
            "http://example.com/",
            &[("content-type", "application/json")],
            &head,
        );
        for page in [in_body, json] {
            assert!(rules(&page).contains(&"csp-missing".to_string()), "{}", page.body);
        }
    }

    #[test]
    fn meta_policies_are_checked_alongside_headers() {
        let mut headers = STRONG.to_vec();
        headers.push(("strict-transport-security", "max-age=63072000"));
        let weak = "<meta http-equiv=content-security-policy content=\"script-src 'unsafe-inline'\">";
        // Both policies apply, and the header's forbids inline scripts.
        assert!(rules(&html_page("https://example.com/", &headers, weak)).is_empty());
        let mut meta_only: Vec<_> = headers.clone();
        meta_only.retain(|(name, _)| *name != "content-security-policy");
        meta_only.push(("x-frame-options", "DENY"));
        assert_eq!(
            rules(&html_page("https://example.com/", &meta_only, weak)),
            vec!["csp-unsafe-inline"]
        );
        // A recognised meta referrer overrides the header; the last one wins.
        let metas = "<meta name=referrer content=unsafe-url><meta name=referrer content=bogus>";
        assert_eq!(
            rules(&html_page("https://example.com/", &headers, metas)),
            vec!["referrer-policy-unsafe"]
        );
        headers[2].1 = "unsafe-url";
        let metas = "<meta name=referrer content=same-origin><meta name=referrer content=bogus>";
        assert!(rules(&html_page("https://example.com/", &headers, metas)).is_empty());
    }

    #[test]
    fn last_recognised_referrer_policy_wins() {
        let mut headers = STRONG[..2].to_vec();
        headers.push(("referrer-policy", "no-referrer, unsafe-url"));
        assert_eq!(
            rules(&page("http://example.com/", &headers)),
            vec!["no-https", "referrer-policy-unsafe"]
        );
        headers[2].1 = "unsafe-url, strict-origin";
        assert_eq!(rules(&page("http://example.com/", &headers)), vec!["no-https"]);
    }
}
