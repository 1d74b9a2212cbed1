//! The one redaction step every tool report passes before it is stored, so
//! no secret value leaves the server whole, whichever tool found it: every
//! credential the `secrets` rules know, anywhere in a message or an error;
//! quoted values that look like random tokens; every quoted value of the
//! rules a tool declares as quoting secrets (bandit's hard-coded password
//! rules print the password); and the user information of URLs. A finding
//! whose message changed gets a fingerprint derived from the redacted text,
//! so no hash of the secret is kept either.

use super::native::secrets::{Secrets, looks_secret};
use crate::model::{Finding, ToolReport, fingerprint, redact::url_credentials};
use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

static SECRETS: LazyLock<Secrets> = LazyLock::new(Secrets::new);

/// A value quoted with `'`, `"` or a backtick, on one line.
static QUOTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"'([^'\n]{1,512})'|"([^"\n]{1,512})"|`([^`\n]{1,512})`"#)
        .expect("the quote pattern is valid")
});

/// A quoted value shorter than this is never taken for a random token.
const MIN_TOKEN_CHARS: usize = 16;

/// Whether a quoted value looks like a machine-made credential: long, no
/// spaces, a token's alphabet, letters and digits, random enough, and not
/// a file path (tracebacks quote the scanner's own files).
fn looks_like_token(value: &str) -> bool {
    value.len() >= MIN_TOKEN_CHARS
        && !is_file_path(value)
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=_-.~".contains(c))
        && value.chars().any(|c| c.is_ascii_digit())
        && value.chars().any(|c| c.is_ascii_alphabetic())
        && looks_secret(value)
}

/// Whether `value` is an absolute or relative path to a named file: it
/// starts like a path and its last segment has an extension. No token
/// alphabet with `/` (base64) also has `.`, and none with `.` (JWT) has `/`.
fn is_file_path(value: &str) -> bool {
    let starts_like_path = ["/", "./", "../", "~/"].iter().any(|p| value.starts_with(p));
    let file_name = value.rsplit('/').next().unwrap_or("");
    starts_like_path
        && file_name
            .rsplit_once('.')
            .is_some_and(|(stem, ext)| !stem.is_empty() && (1..=8).contains(&ext.len()))
}

/// The value inside the quotes of a [`QUOTED`] match.
fn quoted_value<'t>(caps: &regex::Captures<'t>) -> &'t str {
    (1..=3).find_map(|i| caps.get(i)).map_or("", |m| m.as_str())
}

/// Whether a quoted value is already a redaction's description.
fn is_redacted(value: &str) -> bool {
    value.starts_with('[') && value.ends_with(']') && value.contains(" characters")
}

/// One piece of free text with every secret hidden.
pub fn text<'t>(text: &'t str, quotes_secret: bool) -> Cow<'t, str> {
    // URL user information first, so a URL's password goes with its user.
    let mut current = url_credentials(text);
    if let Some(redacted) = SECRETS.redact_text(&current) {
        current = Cow::Owned(redacted);
    }
    let hidden = |value: &str| !is_redacted(value) && (quotes_secret || looks_like_token(value));
    if QUOTED
        .captures_iter(&current)
        .any(|caps| hidden(quoted_value(&caps)))
    {
        let redacted = QUOTED.replace_all(&current, |caps: &regex::Captures| {
            let whole = caps.get(0).expect("group 0 always participates").as_str();
            let value = quoted_value(caps);
            if hidden(value) {
                let quote = &whole[..1];
                format!("{quote}[{} characters, redacted]{quote}", value.chars().count())
            } else {
                whole.to_string()
            }
        });
        current = Cow::Owned(redacted.into_owned());
    }
    current
}

/// Redacts a whole report in place. `quotes_secret(rule)` says whether the
/// tool's rule prints a secret value in quotes in its messages.
pub fn report(report: &mut ToolReport, quotes_secret: impl Fn(&str) -> bool) {
    for finding in &mut report.result.findings {
        self::finding(finding, quotes_secret(&finding.rule_id));
    }
    for field in [&mut report.result.error, &mut report.result.skip_reason]
        .into_iter()
        .flatten()
    {
        rewrite(field, |value| text(value, false));
    }
    for metric in &mut report.result.metrics {
        rewrite(&mut metric.value, |value| text(value, false));
        if let Some(url) = &mut metric.url {
            rewrite(url, url_credentials);
        }
    }
}

fn finding(finding: &mut Finding, quotes_secret: bool) {
    if let Some(url) = &mut finding.url {
        rewrite(url, url_credentials);
    }
    if rewrite(&mut finding.message, |message| text(message, quotes_secret)) {
        let location = finding.path.as_deref().or(finding.url.as_deref()).unwrap_or("");
        finding.fingerprint = fingerprint(&[&finding.rule_id, location, &finding.message]);
    }
}

/// Replaces `field` with its redacted form; whether anything changed.
fn rewrite(field: &mut String, redact: impl Fn(&str) -> Cow<'_, str>) -> bool {
    let redacted = match redact(field) {
        Cow::Owned(redacted) => redacted,
        Cow::Borrowed(_) => return false,
    };
    *field = redacted;
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Metric, Outcome, Severity};

    /// Split so that this file holds no whole token.
    fn stripe_key() -> String {
        ["sk_live_", "4eC39HqLyjWDarjtT1zdp7dc"].concat()
    }

    #[test]
    fn known_formats_quoted_tokens_and_url_credentials_are_hidden() {
        let key = stripe_key();
        let redacted = text(&format!("Possible hardcoded password: '{key}'"), false).into_owned();
        assert!(!redacted.contains(&key), "{redacted}");
        assert!(
            redacted.contains("sk_live_"),
            "the public prefix stays: {redacted}"
        );

        let token = "q8Vd3kLp0ZxW7rTn2YbH5mJc";
        let redacted = text(&format!("value `{token}` is hard-coded"), false).into_owned();
        assert_eq!(redacted, "value `[24 characters, redacted]` is hard-coded");

        let redacted = text("GET https://admin:hunter2@example.com/ failed", false);
        assert_eq!(redacted, "GET https://***@example.com/ failed");
    }

    #[test]
    fn ordinary_messages_are_left_alone() {
        for message in [
            "Probable use of `requests` call with `verify=False` disabling SSL certificate checks",
            "Constant name \"password\" doesn't conform to UPPER_CASE naming style",
            "Unused variable 'subprocess_result_handler'",
            "Line too long (180 > 120 characters)",
            r#"File "/srv/livescan/.tools/scanners/lib/python3.11/site-packages/lizard_ext/lizardns.py", line 34"#,
        ] {
            assert!(matches!(text(message, false), Cow::Borrowed(_)), "{message}");
        }
    }

    #[test]
    fn a_rule_that_quotes_secrets_has_every_quoted_value_hidden() {
        let redacted = text("Possible hardcoded password: 'hunter2'", true);
        assert_eq!(
            redacted,
            "Possible hardcoded password: '[7 characters, redacted]'"
        );
    }

    #[test]
    fn a_report_is_redacted_everywhere_and_refingerprinted() {
        let key = stripe_key();
        let finding = Finding::new(
            "B105",
            Severity::Low,
            format!("Possible hardcoded password: '{key}'"),
        )
        .at_path("app.py", Some(2), Some(1))
        .fingerprinted(&key);
        let mut report = ToolReport::finished(
            "bandit",
            Category::Security,
            Outcome::ToolError,
            1,
            vec![finding],
            Some(format!("the tool said: bad token {key}")),
        );
        report.result.metrics = vec![Metric {
            name: "m".into(),
            value: "ok".into(),
            url: Some("https://u:p@example.com/".into()),
        }];
        let before = report.result.findings[0].fingerprint.clone();
        self::report(&mut report, |rule| rule == "B105");
        let json = serde_json::to_string(&report).unwrap();
        assert!(!json.contains(&key), "{json}");
        assert!(!json.contains("u:p@"), "{json}");
        assert_ne!(report.result.findings[0].fingerprint, before);
        let again = {
            let mut copy = report.clone();
            self::report(&mut copy, |rule| rule == "B105");
            copy
        };
        assert_eq!(again, report, "redaction is idempotent");
    }
}
