//! The `tls` tool: whether each origin of the target is reached over HTTPS
//! (a plain-HTTP target must redirect there), and, for HTTPS origins, whether
//! the certificate verifies (issuer, validity, host name) and how soon it
//! expires. The handshake is made here, through the same address policy and
//! trusted roots as every fetch, so the certificate itself can be read.

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{Fetcher, Tool, ToolContext, ToolError, ToolSpec, per_url};
use futures::future::BoxFuture;
use reqwest::Url;
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;

static SPEC: ToolSpec = ToolSpec {
    id: "tls",
    category: Category::Security,
    ecosystem: Ecosystem::Website,
    targets: &[TargetKind::Url, TargetKind::Urls],
    cost: 1,
    summary: "HTTPS: redirect from plain HTTP, certificate issuer, validity, host name and expiry",
};

const HELP: &str =
    "https://developer.mozilla.org/en-US/docs/Web/Security/Practical_implementation_guides/TLS";
/// A certificate expiring sooner than this is reported.
const EXPIRY_WARNING_DAYS: i64 = 30;
/// Sooner than this, urgently.
const EXPIRY_URGENT_DAYS: i64 = 7;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// What the handshake with an HTTPS origin showed.
enum Handshake {
    /// Verified; the certificate's days left.
    Valid { days_left: i64 },
    /// Refused by verification, with rustls' reason.
    Invalid(String),
}

async fn handshake(fetcher: &Fetcher, host: &str, port: u16) -> Result<Handshake, String> {
    let addrs = fetcher
        .addresses(host, port)
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let tcp = tokio::net::TcpStream::connect(addrs.as_slice())
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let name =
        ServerName::try_from(host.to_string()).map_err(|e| format!("`{host}` is no server name: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(fetcher.tls_config());
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, tcp)).await {
        Err(_) => return Err(format!("the TLS handshake with {host}:{port} timed out")),
        Ok(Err(e)) if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => {
            return Ok(Handshake::Invalid(e.to_string()));
        }
        Ok(Err(e)) => return Err(format!("the TLS handshake with {host}:{port} failed: {e}")),
        Ok(Ok(stream)) => stream,
    };
    let (_, connection) = stream.get_ref();
    let leaf = connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .ok_or_else(|| format!("{host}:{port} sent no certificate"))?;
    let (_, certificate) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|e| format!("unreadable certificate: {e}"))?;
    let not_after = certificate.validity().not_after.timestamp();
    let now = crate::model::time::now_millis() / 1000;
    Ok(Handshake::Valid {
        days_left: (not_after - now) / 86_400,
    })
}

pub struct Tls;

impl Tls {
    async fn check(ctx: &ToolContext, raw: &str) -> Result<Vec<Finding>, ToolError> {
        let failed = |e: String| ToolError::Failed(e);
        let url = Url::parse(raw).map_err(|e| failed(e.to_string()))?;
        let finding = |rule: &str, severity: Severity, message: String| {
            Finding::new(rule, severity, message)
                .at_url(raw)
                .with_help(HELP)
                .with_cwe(if rule == "no-https-redirect" { 319 } else { 295 })
                .fingerprinted(rule)
        };
        let mut findings = Vec::new();
        let https_url = if url.scheme() == "https" {
            url
        } else {
            let page = ctx.pages.get(raw).await?;
            if !page.is_https() {
                findings.push(finding(
                    "no-https-redirect",
                    Severity::Medium,
                    format!("{raw} is served over plain HTTP and does not redirect to HTTPS"),
                ));
                return Ok(findings);
            }
            Url::parse(&page.final_url).map_err(|e| failed(e.to_string()))?
        };
        let host = https_url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_string();
        let port = https_url.port_or_known_default().unwrap_or(443);
        // A handshake that cannot happen is the target's doing (no answer,
        // refused by the address policy), not the tool's.
        match handshake(ctx.pages.fetcher(), &host, port)
            .await
            .map_err(ToolError::Target)?
        {
            Handshake::Invalid(reason) => findings.push(finding(
                "certificate-invalid",
                Severity::Critical,
                format!(
                    "the certificate of {host}:{port} does not verify ({reason}); browsers refuse the site"
                ),
            )),
            Handshake::Valid { days_left } if days_left < EXPIRY_WARNING_DAYS => {
                let severity = if days_left < EXPIRY_URGENT_DAYS {
                    Severity::High
                } else {
                    Severity::Medium
                };
                findings.push(finding(
                    "certificate-expires-soon",
                    severity,
                    format!("the certificate of {host}:{port} expires in {days_left} days; renew it (and automate renewal)"),
                ));
            }
            Handshake::Valid { .. } => {}
        }
        Ok(findings)
    }
}

impl Tool for Tls {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        per_url(ctx, |ctx, url| async move { Self::check(&ctx, &url).await })
    }
}
