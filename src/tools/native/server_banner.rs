//! The `server-banner` tool: response headers that tell an attacker which
//! software and version answers (`Server: Apache/2.4.49`, `X-Powered-By:
//! PHP/7.2.1`, `X-AspNet-Version`), which narrows the search for a known
//! exploit to one lookup.

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{Page, PageCheck, ToolSpec};

static SPEC: ToolSpec = ToolSpec {
    id: "server-banner",
    category: Category::Security,
    ecosystem: Ecosystem::Website,
    targets: &[TargetKind::Url, TargetKind::Urls],
    cost: 1,
    summary: "Server, X-Powered-By and framework headers that disclose software versions",
};

const HELP: &str = "https://owasp.org/www-project-web-security-testing-guide/latest/4-Web_Application_Security_Testing/01-Information_Gathering/02-Fingerprint_Web_Server";

/// Headers that name the software. `Server` alone (`nginx`) is fine; the
/// others say too much even without a version.
const BANNERS: &[&str] = &[
    "server",
    "x-powered-by",
    "x-aspnet-version",
    "x-aspnetmvc-version",
    "x-generator",
];

pub struct ServerBanner;

impl PageCheck for ServerBanner {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn check(&self, page: &Page, out: &mut Vec<Finding>) {
        for &name in BANNERS {
            let Some(value) = page.header(name) else { continue };
            let versioned = value.chars().any(|c| c.is_ascii_digit()) && value.contains(['/', ' ', '.']);
            if name == "server" && !versioned {
                continue;
            }
            let (rule, severity) = if versioned {
                ("version-disclosure", Severity::Low)
            } else {
                ("technology-disclosure", Severity::Info)
            };
            out.push(
                Finding::new(rule, severity, format!("`{name}: {value}` tells every visitor what runs here; remove the header or its version"))
                    .at_url(&page.url)
                    .with_help(HELP)
                    .with_cwe(497)
                    .fingerprinted(name),
            );
        }
    }
}
