//! The `insecure-transport` tool: plain `http://` endpoints in code and
//! configuration, and TLS certificate or host-name verification turned off
//! in Python, JavaScript, Go, Rust, Java, shell and the like.

use super::lang::Lang::{self, *};
use super::rules::{LineRule, LineRules, line_rule as rule};
use crate::model::{Category, Ecosystem, Severity::*, TargetKind};
use crate::tools::ToolSpec;

static SPEC: ToolSpec = ToolSpec {
    id: "insecure-transport",
    category: Category::Security,
    ecosystem: Ecosystem::Any,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "http:// endpoints and TLS verification turned off (Python, JS, Go, Rust, Java, curl)",
};

const CLEARTEXT: &str = "https://cwe.mitre.org/data/definitions/319.html";
const NO_VERIFY: &str = "https://cwe.mitre.org/data/definitions/295.html";

const CODE_AND_CONFIG: &[Lang] = &[
    Python, JavaScript, Go, Java, Kotlin, CSharp, Php, Ruby, Shell, Rust, C, Yaml, Json, Toml, Dockerfile,
];

/// Hosts and documents for which `http://` is harmless: loopback, reserved
/// example domains, and XML/JSON-schema namespace identifiers that are names,
/// not endpoints.
const HARMLESS_HTTP: &[&str] = &[
    "http://localhost",
    "http://127.",
    "http://0.0.0.0",
    "http://[::1]",
    "http://example.",
    "http://www.example.",
    ".example.com",
    ".example.org",
    ".test/",
    ".local",
    ".localhost",
    "http://www.w3.org/",
    "http://json-schema.org/",
    "http://schemas.",
    "http://xmlns.",
    "http://purl.org/",
    "http://www.apache.org/licenses/",
    "http://opensource.org/",
    "http://www.gnu.org/",
    "http://ns.adobe.com/",
    "http://host.docker.internal",
    "http://%s",
    "http://${",
    "http://{",
];

static RULES: &[LineRule] = &[
    rule!(
        "cleartext-http-url",
        Medium,
        CODE_AND_CONFIG,
        r#"\bhttp://[A-Za-z0-9.\-]+[A-Za-z0-9](:\d+)?"#,
        "",
        HARMLESS_HTTP,
        "a plain http:// endpoint: traffic and credentials can be read and changed in transit; use https://",
        CLEARTEXT
    ),
    rule!(
        "python-tls-verify-off",
        High,
        &[Python],
        r"\bverify\s*=\s*False\b|\bssl\._create_unverified_context\b|\bCERT_NONE\b|\bcheck_hostname\s*=\s*False\b",
        "",
        // PyJWT 1's `jwt.decode(token, verify=False)` skips the signature
        // check, not TLS: semgrep's JWT rule reports it as what it is.
        &["jwt"],
        "TLS certificate verification is turned off; any machine on the path can impersonate the server",
        NO_VERIFY
    ),
    rule!(
        "js-tls-verify-off",
        High,
        &[JavaScript, Shell, Yaml, Dockerfile],
        r#"\brejectUnauthorized\s*:\s*false\b|NODE_TLS_REJECT_UNAUTHORIZED["']?\s*[=:]\s*["']?0"#,
        "TLS certificate verification is turned off; any machine on the path can impersonate the server",
        NO_VERIFY
    ),
    rule!(
        "go-tls-verify-off",
        High,
        &[Go],
        r"\bInsecureSkipVerify\s*:\s*true\b",
        "InsecureSkipVerify turns off certificate and host-name checks",
        NO_VERIFY
    ),
    rule!(
        "rust-tls-verify-off",
        High,
        &[Rust],
        r"\bdanger_accept_invalid_(certs|hostnames)\s*\(\s*true\s*\)",
        "accepting invalid certificates or host names turns TLS authentication off",
        NO_VERIFY
    ),
    rule!(
        "java-tls-verify-off",
        High,
        &[Java, Kotlin],
        r"\b(NoopHostnameVerifier|ALLOW_ALL_HOSTNAME_VERIFIER|TrustAllStrategy|InsecureTrustManagerFactory)\b|setHostnameVerifier\s*\(\s*\(?[^)]*\)?\s*->\s*true",
        "",
        &["import "],
        "a trust-everything manager or host-name verifier turns TLS authentication off",
        NO_VERIFY
    ),
    rule!(
        "curl-insecure",
        High,
        &[Shell, Dockerfile, Yaml],
        r"\b(curl\b[^#\n]*\s(-k|--insecure)\b|wget\b[^#\n]*--no-check-certificate)",
        "curl -k / wget --no-check-certificate download without checking who sent the file",
        NO_VERIFY
    ),
];

/// Test code talks plain HTTP to local test servers and turns verification
/// off for self-signed certificates as a matter of course: it is left alone.
pub fn tool() -> LineRules {
    LineRules::new(&SPEC, RULES).outside_tests()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_fires_on_its_sample() {
        super::super::rules::assert_table(
            RULES,
            &[
                (
                    "cleartext-http-url",
                    "config.yaml",
                    "api_url: http://payments.internal.acme.io/v1",
                ),
                (
                    "python-tls-verify-off",
                    "a.py",
                    "r = requests.get(url, verify=False)",
                ),
                (
                    "js-tls-verify-off",
                    "a.js",
                    "const agent = new https.Agent({ rejectUnauthorized: false });",
                ),
                (
                    "go-tls-verify-off",
                    "a.go",
                    "cfg := &tls.Config{InsecureSkipVerify: true}",
                ),
                (
                    "rust-tls-verify-off",
                    "a.rs",
                    "let c = Client::builder().danger_accept_invalid_certs(true).build()?;",
                ),
                (
                    "java-tls-verify-off",
                    "A.java",
                    "builder.setSSLHostnameVerifier(NoopHostnameVerifier.INSTANCE);",
                ),
                (
                    "curl-insecure",
                    "a.sh",
                    "curl -k -o out.tar.gz https://mirror.acme.io/out.tar.gz",
                ),
            ],
            &SPEC,
        );
    }

    #[test]
    fn loopback_namespaces_and_docs_are_quiet() {
        super::super::rules::assert_quiet(
            &tool(),
            &[
                ("a.py", "BASE = 'http://localhost:8080/api'"),
                ("a.xml.py", "NS = 'http://www.w3.org/2000/svg'"),
                (
                    "schema.json",
                    "\"$schema\": \"http://json-schema.org/draft-07/schema#\",",
                ),
                ("README.md", "see http://old.acme.io for the archive"),
                ("a.js", "fetch('https://api.acme.io/v1')"),
                ("a.sh", "curl -fsSL https://acme.io/install.sh -o install.sh"),
                ("tests/test_client.py", "r = requests.get(url, verify=False)"),
                ("auth.py", "claims = jwt.decode(token, verify=False)"),
                (
                    "web/api.test.js",
                    "const agent = new https.Agent({ rejectUnauthorized: false });",
                ),
                (
                    "src/lib.rs",
                    "fn a() {}\n#[cfg(test)]\nmod tests { const URL: &str = \"http://api.acme-corp.net\"; }",
                ),
            ],
        );
    }
}
