//! The `security-txt` tool: whether each origin publishes
//! `/.well-known/security.txt` (RFC 9116) with a `Contact:` and an
//! `Expires:` that has not passed, so people who find a vulnerability know
//! where to report it.

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind, time};
use crate::tools::{Tool, ToolContext, ToolError, ToolSpec, ToolTarget, origins};
use futures::future::BoxFuture;
use std::sync::Arc;

static SPEC: ToolSpec = ToolSpec {
    id: "security-txt",
    category: Category::Security,
    ecosystem: Ecosystem::Website,
    targets: &[TargetKind::Url, TargetKind::Urls],
    cost: 1,
    summary: "A missing, contactless or expired /.well-known/security.txt (RFC 9116)",
};

const HELP: &str = "https://www.rfc-editor.org/rfc/rfc9116";

/// What is wrong with a security.txt body, if anything.
fn problem(status: u16, body: &str, now: time::Timestamp) -> Option<(&'static str, Severity, String)> {
    let field = |name: &str| {
        body.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim().to_string())
            })
    };
    if status != 200 || body.contains('<') || field("contact").is_none() {
        return Some(("security-txt-missing", Severity::Info,
            "no /.well-known/security.txt with a Contact: field; researchers who find a vulnerability have nowhere to report it".into()));
    }
    match field("expires").map(|raw| time::parse(&raw)) {
        None => Some((
            "security-txt-no-expiry",
            Severity::Info,
            "security.txt has no Expires: field, which RFC 9116 requires".into(),
        )),
        Some(Err(_)) => Some((
            "security-txt-no-expiry",
            Severity::Info,
            "security.txt's Expires: is not an RFC 3339 date".into(),
        )),
        Some(Ok(at)) if at < now => Some((
            "security-txt-expired",
            Severity::Low,
            format!(
                "security.txt expired at {}; its contacts may be stale",
                time::format(&at)
            ),
        )),
        Some(Ok(_)) => None,
    }
}

pub struct SecurityTxt;

impl Tool for SecurityTxt {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            let ToolTarget::Urls(urls) = &ctx.target else {
                return Err(ToolError::UnsupportedTarget);
            };
            for origin in origins(urls) {
                let url = origin
                    .join("/.well-known/security.txt")
                    .map_err(|e| ToolError::Failed(e.to_string()))?;
                let page = ctx.page(url.as_str()).await?;
                let now = time::from_millis(time::now_millis());
                if let Some((rule, severity, message)) = problem(page.status, &page.body, now) {
                    ctx.findings.extend([Finding::new(rule, severity, message)
                        .at_url(url.as_str())
                        .with_help(HELP)
                        .fingerprinted(rule)]);
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_and_expiry_are_checked() {
        let now = time::from_millis(1_800_000_000_000);
        let rule = |status, body: &str| problem(status, body, now).map(|p| p.0);
        assert_eq!(rule(404, "not found"), Some("security-txt-missing"));
        assert_eq!(rule(200, "<html>home</html>"), Some("security-txt-missing"));
        assert_eq!(
            rule(200, "Contact: mailto:security@acme.test\n"),
            Some("security-txt-no-expiry")
        );
        assert_eq!(
            rule(200, "Contact: mailto:s@a.test\nExpires: 2020-01-01T00:00:00Z\n"),
            Some("security-txt-expired")
        );
        assert_eq!(
            rule(
                200,
                "# hi\nContact: mailto:s@a.test\nExpires: 2099-01-01T00:00:00Z\n"
            ),
            None
        );
    }
}
