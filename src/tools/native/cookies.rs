//! The `cookies` tool: the `Set-Cookie` headers of each page — session
//! cookies readable from JavaScript (no `HttpOnly`), cookies sent over plain
//! HTTP or without `Secure` on HTTPS, and missing or unsafe `SameSite`.

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{Page, PageCheck, ToolSpec};

static SPEC: ToolSpec = ToolSpec {
    id: "cookies",
    category: Category::Security,
    ecosystem: Ecosystem::Website,
    targets: &[TargetKind::Url, TargetKind::Urls],
    cost: 1,
    summary: "Cookies without Secure, HttpOnly (session cookies) or SameSite",
};

const HELP: &str = "https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Set-Cookie";

/// Names that usually carry a session or an authentication token.
pub(super) fn is_session_like(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["sess", "sid", "auth", "token", "jwt", "login", "remember", "user"]
        .iter()
        .any(|hint| name.contains(hint))
}

/// A parsed `Set-Cookie`: the name and its attributes, lowercased.
pub(super) struct Cookie {
    pub(super) name: String,
    attributes: Vec<(String, String)>,
}

impl Cookie {
    pub(super) fn parse(header: &str) -> Option<Cookie> {
        let mut parts = header.split(';');
        let (name, _) = parts.next()?.split_once('=')?;
        let attributes = parts
            .map(|part| {
                let (key, value) = part.split_once('=').unwrap_or((part, ""));
                (key.trim().to_ascii_lowercase(), value.trim().to_ascii_lowercase())
            })
            .collect();
        Some(Cookie {
            name: name.trim().to_string(),
            attributes,
        })
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.attributes.iter().any(|(k, _)| k == key)
    }

    fn value(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

pub struct Cookies;

impl PageCheck for Cookies {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn check(&self, page: &Page, out: &mut Vec<Finding>) {
        for cookie in page.headers_named("set-cookie").filter_map(Cookie::parse) {
            let name = &cookie.name;
            let mut push = |rule: &str, severity: Severity, message: String| {
                out.push(
                    Finding::new(rule, severity, message)
                        .at_url(&page.url)
                        .with_help(HELP)
                        .with_cwe(match rule {
                            "cookie-without-httponly" => 1004,
                            "cookie-without-samesite" => 1275,
                            _ => 614, // sent in the clear, or without Secure
                        })
                        .fingerprinted(&format!("{rule}:{name}")),
                );
            };
            let session = is_session_like(name);
            if !page.is_https() {
                let severity = if session { Severity::Medium } else { Severity::Low };
                push(
                    "cookie-over-http",
                    severity,
                    format!(
                        "cookie `{name}` is set over plain HTTP, where anyone on the path can read or replace it"
                    ),
                );
            } else if !cookie.has("secure") {
                let severity = if session { Severity::High } else { Severity::Medium };
                push(
                    "cookie-without-secure",
                    severity,
                    format!("cookie `{name}` lacks Secure, so the browser also sends it over plain HTTP"),
                );
            }
            if session && !cookie.has("httponly") {
                push(
                    "cookie-without-httponly",
                    Severity::Medium,
                    format!("session cookie `{name}` lacks HttpOnly, so any injected script can steal it"),
                );
            }
            match cookie.value("samesite") {
                None => push(
                    "cookie-without-samesite",
                    Severity::Low,
                    format!(
                        "cookie `{name}` sets no SameSite; set Lax or Strict so other sites cannot send it along (CSRF)"
                    ),
                ),
                Some("none") if !cookie.has("secure") => push(
                    "cookie-samesite-none-insecure",
                    Severity::Medium,
                    format!(
                        "cookie `{name}` has SameSite=None without Secure; browsers reject it, and it would ride every cross-site request"
                    ),
                ),
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(url: &str, cookies: &[&str]) -> Vec<String> {
        let page = Page {
            url: url.into(),
            final_url: url.into(),
            status: 200,
            headers: cookies
                .iter()
                .map(|c| ("set-cookie".to_string(), c.to_string()))
                .collect(),
            ..Default::default()
        };
        let mut out = Vec::new();
        Cookies.check(&page, &mut out);
        out.into_iter().map(|f| f.rule_id).collect()
    }

    #[test]
    fn attributes_decide() {
        assert!(
            rules(
                "https://a.test/",
                &["sid=1; Secure; HttpOnly; SameSite=Lax; Path=/"]
            )
            .is_empty()
        );
        assert_eq!(
            rules(
                "https://a.test/",
                &["sessionid=1; Path=/", "theme=dark; Secure; SameSite=None"]
            ),
            [
                "cookie-without-secure",
                "cookie-without-httponly",
                "cookie-without-samesite"
            ]
        );
        assert_eq!(
            rules("http://a.test/", &["lang=en; SameSite=Lax"]),
            ["cookie-over-http"]
        );
        assert_eq!(
            rules("https://a.test/", &["track=1; Secure; SameSite=none"]),
            Vec::<String>::new()
        );
        assert_eq!(
            rules("https://a.test/", &["x=1; SameSite=None"]),
            ["cookie-without-secure", "cookie-samesite-none-insecure"]
        );
    }
}
