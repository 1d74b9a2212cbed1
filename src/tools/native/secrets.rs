//! The `secrets` tool: hard-coded credentials in a directory, found by a table
//! of well-known token formats. One Aho-Corasick pass over each file picks the
//! rules whose keywords occur; only those rules' regexes then run. Messages show
//! a redacted prefix, never the secret (a `livescan:ignore` comment suppresses
//! a finding, as for every tool: see `model::repo_config`). One generic rule catches credential-named assignments of random-
//! looking values (by entropy, with placeholders allowed) that no format
//! rule knows.

use super::rules::to_u32;
use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::origin::{is_docs_path, is_test_path};
use crate::tools::{FileCheck, FileEntry, ToolSpec};
use aho_corasick::{AhoCorasick, AhoCorasickKind};
use regex::Regex;
use std::collections::HashMap;

static SPEC: ToolSpec = ToolSpec {
    id: "secrets",
    category: Category::Security,
    ecosystem: Ecosystem::Any,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "Hard-coded credentials: cloud keys, API tokens, webhooks, JWTs and private keys",
};

const HELP: &str = "https://cheatsheetseries.owasp.org/cheatsheets/Secrets_Management_Cheat_Sheet.html";
/// CWE-798: use of hard-coded credentials.
const HARD_CODED_CREDENTIALS: u32 = 798;

/// The rule that judges values by randomness rather than format: it reports
/// only values with at least [`MIN_ENTROPY`] bits per character that are
/// not placeholders, and only on lines no specific rule already reported.
const GENERIC_RULE: &str = "generic-secret-assignment";
const MIN_ENTROPY: f64 = 3.5;

/// The rule for passwords inside URLs, which skips placeholders.
const URL_RULE: &str = "url-password";

/// Passwords that documentation writes in example URLs.
const EXAMPLE_PASSWORDS: &[&str] = &["password", "pass", "passwd", "pwd", "secret", "user", "username"];

/// Whether a URL's password is a placeholder or a template variable
/// (`$DB_PASSWORD`, `%s`, `{password}`, `<pass>`, `***`, an HTML-escaped
/// empty string), not a value.
fn is_url_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    value.starts_with(['$', '%', '{', '<', '*'])
        || lower.starts_with("&quot;")
        || EXAMPLE_PASSWORDS.contains(&lower.as_str())
        || PLACEHOLDERS.iter().any(|p| lower.contains(p))
}

/// Values that are documentation, not credentials.
const PLACEHOLDERS: &[&str] = &[
    "example",
    "changeme",
    "change_me",
    "placeholder",
    "xxxx",
    "your_",
    "your-",
    "<",
    "${",
    "{{",
    "%(",
    "dummy",
    "sample",
    "redacted",
    "****",
    "replace",
    "todo",
    "insert",
];

/// Shannon entropy of `value`, in bits per character.
fn entropy(value: &str) -> f64 {
    let mut counts = [0usize; 256];
    for byte in value.bytes() {
        counts[byte as usize] += 1;
    }
    let len = value.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / len;
            -p * p.log2()
        })
        .sum()
}

/// Whether a generic match is a real-looking secret: random enough, in a
/// token's alphabet (printable ASCII: translated UI text is not a key), not
/// a placeholder, a character set or a file path.
pub(crate) fn looks_secret(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    value.bytes().all(|b| b.is_ascii_graphic())
        && entropy(value) >= MIN_ENTROPY
        && !PLACEHOLDERS.iter().any(|p| lower.contains(p))
        && !CHARACTER_RUNS.iter().any(|run| lower.contains(run))
        && !looks_like_path(value)
}

/// Runs that mark an alphabet spelled out (a password generator's
/// character set), not a secret.
const CHARACTER_RUNS: &[&str] = &["abcdefgh", "01234567"];

/// A relative or absolute path to a named file (`passwords/accounts.txt`).
fn looks_like_path(value: &str) -> bool {
    let Some((dirs, name)) = value.rsplit_once('/') else {
        return false;
    };
    let word = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-~".contains(&b))
    };
    let has_extension = name
        .rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && (1..=5).contains(&ext.len()));
    has_extension && word(name) && dirs.split('/').all(|d| d.is_empty() || word(d))
}

/// Prefixes of the stored forms of password hashes (crypt, bcrypt, argon2,
/// Django, LDAP): a hash in a seed file is no usable credential.
const HASH_PREFIXES: &[&str] = &[
    "$2a$", "$2b$", "$2y$", "$1$", "$5$", "$6$", "$argon2", "$pbkdf2", "pbkdf2_", "md5$", "sha1$", "bcrypt$",
    "argon2$", "{sha", "{ssha", "{md5",
];

/// Whether a value is the stored form of a password hash, or a bare MD5,
/// SHA-1 or SHA-256 digest in hex.
fn looks_like_hash(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    HASH_PREFIXES.iter().any(|p| lower.starts_with(p))
        || (matches!(value.len(), 32 | 40 | 64) && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Rules whose matches in tests and documentation are mostly sample values
/// (a fixture's password, a JWT pasted into a tutorial): reported there at
/// low severity.
const SAMPLE_PRONE_RULES: &[&str] = &[GENERIC_RULE, "jwt"];

/// One token format.
struct Rule {
    id: &'static str,
    /// What the credential is, for the message.
    name: &'static str,
    severity: Severity,
    /// Literals (matched ASCII case-insensitively) of which at least one occurs
    /// wherever the regex matches.
    keywords: &'static [&'static str],
    /// The regex; a `secret` group, when present, is the credential itself.
    pattern: &'static str,
    /// How many leading characters of the credential are a public prefix that
    /// may be shown (`ghp_`); 0 shows none.
    shown: usize,
}

/// Characters that end a token whose alphabet includes `-`, where `\b` fails.
macro_rules! end_dash {
    () => {
        r"(?:[^A-Za-z0-9_\-]|$)"
    };
}

const RULES: &[Rule] = &[
    Rule {
        id: "aws-access-key-id",
        name: "AWS access key ID",
        severity: Severity::Critical,
        keywords: &["akia", "asia", "abia", "acca", "a3t"],
        pattern: r"\b(?P<secret>(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b",
        shown: 4,
    },
    Rule {
        id: "aws-secret-access-key",
        name: "AWS secret access key",
        severity: Severity::Critical,
        keywords: &["aws_secret", "awssecret"],
        // `=`, `:`, `=>`, Go's `:=`, or a typed declaration (`: &str =`,
        // `: &'static str =`, `: string =`).
        pattern: r#"(?i)\baws_?secret_?(?:access_?)?key\b["']?\s*(?::\s*&?(?:'[a-z_]+\s+)?[a-z_][a-z0-9_:<>\[\]]*\s*=|:=|=>|=|:)\s*["']?(?P<secret>[a-z0-9/+]{40})(?:[^a-z0-9/+=]|$)"#,
        shown: 0,
    },
    Rule {
        id: "alibaba-access-key-id",
        name: "Alibaba Cloud access key ID",
        severity: Severity::Critical,
        keywords: &["ltai"],
        pattern: r"\b(?P<secret>LTAI[A-Za-z0-9]{20})\b",
        shown: 4,
    },
    Rule {
        id: "azure-storage-account-key",
        name: "Azure storage account key",
        severity: Severity::Critical,
        keywords: &["accountkey="],
        pattern: r"(?i)\bAccountKey=(?P<secret>[a-z0-9+/]{86}==)",
        shown: 0,
    },
    Rule {
        id: "google-api-key",
        name: "Google API key",
        severity: Severity::High,
        keywords: &["aiza"],
        pattern: concat!(r"\b(?P<secret>AIza[A-Za-z0-9_\-]{35})", end_dash!()),
        shown: 4,
    },
    Rule {
        id: "gcp-oauth-client-secret",
        name: "Google Cloud OAuth client secret",
        severity: Severity::High,
        keywords: &["gocspx-"],
        pattern: concat!(r"\b(?P<secret>GOCSPX-[A-Za-z0-9_\-]{28})", end_dash!()),
        shown: 7,
    },
    Rule {
        id: "digitalocean-pat",
        name: "DigitalOcean personal access token",
        severity: Severity::Critical,
        keywords: &["dop_v1_"],
        pattern: r"\b(?P<secret>dop_v1_[a-f0-9]{64})\b",
        shown: 7,
    },
    Rule {
        id: "digitalocean-oauth-token",
        name: "DigitalOcean OAuth token",
        severity: Severity::Critical,
        keywords: &["doo_v1_", "dor_v1_"],
        pattern: r"\b(?P<secret>do[or]_v1_[a-f0-9]{64})\b",
        shown: 7,
    },
    Rule {
        id: "stripe-secret-key",
        name: "Stripe live secret key",
        severity: Severity::Critical,
        keywords: &["sk_live_"],
        pattern: r"\b(?P<secret>sk_live_[A-Za-z0-9]{24,99})\b",
        shown: 8,
    },
    Rule {
        id: "stripe-restricted-key",
        name: "Stripe live restricted key",
        severity: Severity::Critical,
        keywords: &["rk_live_"],
        pattern: r"\b(?P<secret>rk_live_[A-Za-z0-9]{24,99})\b",
        shown: 8,
    },
    Rule {
        id: "stripe-webhook-secret",
        name: "Stripe webhook signing secret",
        severity: Severity::High,
        keywords: &["whsec_"],
        pattern: r"\b(?P<secret>whsec_[A-Za-z0-9]{32,64})\b",
        shown: 6,
    },
    Rule {
        id: "square-access-token",
        name: "Square access token",
        severity: Severity::Critical,
        keywords: &["sq0atp-"],
        pattern: concat!(r"\b(?P<secret>sq0atp-[A-Za-z0-9_\-]{22})", end_dash!()),
        shown: 7,
    },
    Rule {
        id: "square-oauth-secret",
        name: "Square OAuth secret",
        severity: Severity::Critical,
        keywords: &["sq0csp-"],
        pattern: concat!(r"\b(?P<secret>sq0csp-[A-Za-z0-9_\-]{43})", end_dash!()),
        shown: 7,
    },
    Rule {
        id: "livescan-api-key",
        name: "livescan API key",
        severity: Severity::Critical,
        keywords: &["lsk_"],
        pattern: r"\b(?P<secret>lsk_[a-z0-9]{12}_[A-Za-z0-9]{40})\b",
        // The prefix and the public key id: enough to find it in `keys list`.
        shown: 16,
    },
    Rule {
        id: "github-pat",
        name: "GitHub personal access token",
        severity: Severity::High,
        keywords: &["ghp_"],
        pattern: r"\b(?P<secret>ghp_[A-Za-z0-9]{36})\b",
        shown: 4,
    },
    Rule {
        id: "github-fine-grained-pat",
        name: "GitHub fine-grained personal access token",
        severity: Severity::High,
        keywords: &["github_pat_"],
        pattern: r"\b(?P<secret>github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b",
        shown: 11,
    },
    Rule {
        id: "github-oauth-token",
        name: "GitHub OAuth access token",
        severity: Severity::High,
        keywords: &["gho_"],
        pattern: r"\b(?P<secret>gho_[A-Za-z0-9]{36})\b",
        shown: 4,
    },
    Rule {
        id: "github-app-token",
        name: "GitHub App token",
        severity: Severity::High,
        keywords: &["ghu_", "ghs_"],
        pattern: r"\b(?P<secret>gh[us]_[A-Za-z0-9]{36})\b",
        shown: 4,
    },
    Rule {
        id: "github-refresh-token",
        name: "GitHub refresh token",
        severity: Severity::High,
        keywords: &["ghr_"],
        pattern: r"\b(?P<secret>ghr_[A-Za-z0-9]{36})\b",
        shown: 4,
    },
    Rule {
        id: "gitlab-pat",
        name: "GitLab personal access token",
        severity: Severity::High,
        keywords: &["glpat-"],
        // Legacy tokens have 20 characters; routable ones a
        // base64url payload, then `.<version>.<length><crc>` in base 36.
        pattern: concat!(
            r"\b(?P<secret>glpat-(?:[A-Za-z0-9_\-]{27,300}\.[0-9a-z]{2}\.[0-9a-z]{9}|[A-Za-z0-9_\-]{20}))",
            end_dash!()
        ),
        shown: 6,
    },
    Rule {
        id: "gitlab-pipeline-trigger-token",
        name: "GitLab pipeline trigger token",
        severity: Severity::High,
        keywords: &["glptt-"],
        pattern: r"\b(?P<secret>glptt-[0-9a-f]{40})\b",
        shown: 6,
    },
    Rule {
        id: "gitlab-runner-token",
        name: "GitLab runner authentication token",
        severity: Severity::High,
        keywords: &["glrt-"],
        pattern: concat!(r"\b(?P<secret>glrt-[A-Za-z0-9_\-]{20})", end_dash!()),
        shown: 5,
    },
    Rule {
        id: "slack-bot-token",
        name: "Slack bot token",
        severity: Severity::High,
        keywords: &["xoxb-"],
        pattern: r"\b(?P<secret>xoxb-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24})\b",
        shown: 5,
    },
    Rule {
        id: "slack-user-token",
        name: "Slack user token",
        severity: Severity::High,
        keywords: &["xoxp-"],
        pattern: r"\b(?P<secret>xoxp(?:-[0-9]{10,13}){3}-[A-Za-z0-9]{28,34})\b",
        shown: 5,
    },
    Rule {
        id: "slack-refresh-token",
        name: "Slack configuration refresh token",
        severity: Severity::High,
        keywords: &["xoxe-"],
        // The tail is unpadded base64 of the team, user and token ids and a hex secret.
        pattern: r"\b(?P<secret>xoxe-[0-9]-[A-Za-z0-9]{140,160})\b",
        shown: 7,
    },
    Rule {
        id: "slack-webhook",
        name: "Slack incoming webhook URL",
        severity: Severity::High,
        keywords: &["hooks.slack.com"],
        pattern: r"(?P<secret>https://hooks\.slack\.com/services/T[A-Z0-9]{8,12}/[AB][A-Z0-9]{8,12}/[A-Za-z0-9]{24})\b",
        shown: 24,
    },
    Rule {
        id: "slack-workflow-webhook",
        name: "Slack workflow webhook URL",
        severity: Severity::High,
        keywords: &["hooks.slack.com"],
        // Workspace, app and trigger ids, then the secret.
        pattern: r"(?P<secret>https://hooks\.slack\.com/workflows/T[A-Z0-9]{8,12}/A[A-Z0-9]{8,12}/[0-9]{17,19}/[A-Za-z0-9]{24})\b",
        shown: 34,
    },
    Rule {
        id: "twilio-api-key",
        name: "Twilio API key",
        severity: Severity::High,
        keywords: &["sk"],
        pattern: r"\b(?P<secret>SK[0-9a-fA-F]{32})\b",
        shown: 2,
    },
    Rule {
        id: "sendgrid-api-key",
        name: "SendGrid API key",
        severity: Severity::High,
        keywords: &["sg."],
        pattern: concat!(
            r"\b(?P<secret>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})",
            end_dash!()
        ),
        shown: 3,
    },
    Rule {
        id: "mailgun-api-key",
        name: "Mailgun API key",
        severity: Severity::High,
        keywords: &["key-"],
        pattern: r"\b(?P<secret>key-[0-9a-f]{32})\b",
        shown: 4,
    },
    Rule {
        id: "brevo-api-key",
        name: "Brevo (Sendinblue) API key",
        severity: Severity::High,
        keywords: &["xkeysib-"],
        pattern: r"\b(?P<secret>xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16})\b",
        shown: 8,
    },
    Rule {
        id: "npm-token",
        name: "npm access token",
        severity: Severity::High,
        keywords: &["npm_"],
        pattern: r"\b(?P<secret>npm_[A-Za-z0-9]{36})\b",
        shown: 4,
    },
    Rule {
        id: "pypi-token",
        name: "PyPI upload token",
        severity: Severity::High,
        keywords: &["pypi-ageichlwas5vcmc"],
        pattern: concat!(
            r"\b(?P<secret>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})",
            end_dash!()
        ),
        shown: 5,
    },
    Rule {
        id: "docker-hub-pat",
        name: "Docker Hub personal access token",
        severity: Severity::High,
        keywords: &["dckr_pat_"],
        pattern: concat!(r"\b(?P<secret>dckr_pat_[A-Za-z0-9_\-]{27})", end_dash!()),
        shown: 9,
    },
    Rule {
        id: "shopify-access-token",
        name: "Shopify access token",
        severity: Severity::High,
        keywords: &["shpat_", "shpca_", "shppa_"],
        pattern: r"\b(?P<secret>shp(?:at|ca|pa)_[a-fA-F0-9]{32})\b",
        shown: 6,
    },
    Rule {
        id: "shopify-shared-secret",
        name: "Shopify shared secret",
        severity: Severity::High,
        keywords: &["shpss_"],
        pattern: r"\b(?P<secret>shpss_[a-fA-F0-9]{32})\b",
        shown: 6,
    },
    Rule {
        id: "telegram-bot-token",
        name: "Telegram bot token",
        severity: Severity::High,
        keywords: &[":aa"],
        pattern: concat!(r"\b(?P<secret>[0-9]{8,10}:AA[A-Za-z0-9_\-]{33})", end_dash!()),
        shown: 0,
    },
    Rule {
        id: "openai-api-key",
        name: "OpenAI API key",
        severity: Severity::High,
        keywords: &["t3blbkfj"],
        pattern: concat!(
            r"\b(?P<secret>sk-[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,})",
            end_dash!()
        ),
        shown: 3,
    },
    Rule {
        id: "anthropic-api-key",
        name: "Anthropic API key",
        severity: Severity::High,
        keywords: &["sk-ant-"],
        pattern: concat!(
            r"\b(?P<secret>sk-ant-(?:api03|admin01)-[A-Za-z0-9_\-]{93}AA)",
            end_dash!()
        ),
        shown: 7,
    },
    Rule {
        id: "huggingface-token",
        name: "Hugging Face access token",
        severity: Severity::High,
        keywords: &["hf_"],
        pattern: r"\b(?P<secret>hf_[A-Za-z]{34})\b",
        shown: 3,
    },
    Rule {
        id: "hashicorp-vault-token",
        name: "HashiCorp Vault token",
        severity: Severity::High,
        keywords: &["hvs.", "hvb."],
        pattern: concat!(
            r"\b(?P<secret>hvs\.[A-Za-z0-9_\-]{90,120}|hvb\.[A-Za-z0-9_\-]{138,300})",
            end_dash!()
        ),
        shown: 4,
    },
    Rule {
        id: "postman-api-key",
        name: "Postman API key",
        severity: Severity::High,
        keywords: &["pmak-"],
        pattern: r"\b(?P<secret>PMAK-[a-f0-9]{24}-[a-f0-9]{34})\b",
        shown: 5,
    },
    Rule {
        id: "databricks-token",
        name: "Databricks access token",
        severity: Severity::High,
        keywords: &["dapi"],
        pattern: r"\b(?P<secret>dapi[a-f0-9]{32}(?:-[0-9])?)\b",
        shown: 4,
    },
    Rule {
        id: "grafana-token",
        name: "Grafana service account token",
        severity: Severity::High,
        keywords: &["glsa_"],
        pattern: r"\b(?P<secret>glsa_[A-Za-z0-9]{32}_[a-f0-9]{8})\b",
        shown: 5,
    },
    Rule {
        id: "grafana-cloud-token",
        name: "Grafana Cloud API token",
        severity: Severity::High,
        keywords: &["glc_"],
        pattern: r"\b(?P<secret>glc_[A-Za-z0-9+/]{32,400}={0,2})",
        shown: 4,
    },
    Rule {
        id: "new-relic-key",
        name: "New Relic user API key",
        severity: Severity::High,
        keywords: &["nrak-"],
        pattern: r"\b(?P<secret>NRAK-[A-Z0-9]{27})\b",
        shown: 5,
    },
    Rule {
        id: "pulumi-token",
        name: "Pulumi access token",
        severity: Severity::High,
        keywords: &["pul-"],
        pattern: r"\b(?P<secret>pul-[a-f0-9]{40})\b",
        shown: 4,
    },
    Rule {
        id: "doppler-token",
        name: "Doppler token",
        severity: Severity::High,
        keywords: &["dp.pt.", "dp.st.", "dp.ct.", "dp.sa.", "dp.scim.", "dp.audit."],
        pattern: r"\b(?P<secret>dp\.(?:pt|st|ct|sa|scim|audit)\.[A-Za-z0-9]{40,44})\b",
        shown: 3,
    },
    Rule {
        id: "linear-api-key",
        name: "Linear API key",
        severity: Severity::High,
        keywords: &["lin_api_"],
        pattern: r"\b(?P<secret>lin_api_[A-Za-z0-9]{40})\b",
        shown: 8,
    },
    Rule {
        id: "age-secret-key",
        name: "age encryption secret key",
        severity: Severity::Critical,
        keywords: &["age-secret-key-1"],
        pattern: r"\b(?P<secret>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})\b",
        shown: 15,
    },
    Rule {
        id: "jwt",
        name: "JSON Web Token",
        severity: Severity::Medium,
        keywords: &["eyj"],
        pattern: r"\b(?P<secret>eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,})",
        shown: 3,
    },
    Rule {
        id: "gcp-service-account-key",
        name: "Google Cloud service account key",
        severity: Severity::Critical,
        keywords: &["private_key_id"],
        pattern: r#""private_key_id"\s*:\s*"(?P<secret>[a-f0-9]{40})""#,
        shown: 0,
    },
    Rule {
        id: "azure-ad-client-secret",
        name: "Azure AD client secret",
        severity: Severity::Critical,
        keywords: &["q~"],
        pattern: r"(?:^|[^A-Za-z0-9_~.\-])(?P<secret>[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})(?:[^A-Za-z0-9_~.\-]|$)",
        shown: 0,
    },
    Rule {
        id: "discord-webhook",
        name: "Discord webhook URL",
        severity: Severity::High,
        keywords: &["discord"],
        pattern: r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{17,20}/(?P<secret>[A-Za-z0-9_\-]{60,70})",
        shown: 0,
    },
    Rule {
        id: "atlassian-api-token",
        name: "Atlassian API token",
        severity: Severity::High,
        keywords: &["atatt3"],
        pattern: r"\b(?P<secret>ATATT3[A-Za-z0-9_\-=]{180,200})",
        shown: 6,
    },
    Rule {
        id: "sentry-auth-token",
        name: "Sentry auth token",
        severity: Severity::High,
        keywords: &["sntrys_", "sntryu_"],
        pattern: r"\b(?P<secret>sntrys_[A-Za-z0-9+/=_]{60,250}|sntryu_[a-f0-9]{64})",
        shown: 7,
    },
    Rule {
        id: "planetscale-token",
        name: "PlanetScale service token",
        severity: Severity::High,
        keywords: &["pscale_tkn_", "pscale_pw_"],
        pattern: r"\b(?P<secret>pscale_(?:tkn|pw)_[A-Za-z0-9_\-.]{32,64})",
        shown: 11,
    },
    Rule {
        id: "heroku-api-key",
        name: "Heroku API key",
        severity: Severity::High,
        keywords: &["hrku-"],
        pattern: r"\b(?P<secret>HRKU-[A-Za-z0-9_\-]{58,62})",
        shown: 5,
    },
    Rule {
        id: "url-password",
        name: "Password in a connection URL",
        severity: Severity::High,
        keywords: &["://"],
        // scheme://user:password@host, as database, broker and proxy URLs
        // carry them; the user name is shown, the password never.
        pattern: r"\b[A-Za-z][A-Za-z0-9+.\-]{1,20}://(?P<user>[A-Za-z0-9._%~\-]{1,64}):(?P<secret>[^\s:@/?#\x22'`<>\\]{3,128})@[A-Za-z0-9.\-]+",
        shown: 0,
    },
    Rule {
        id: "generic-secret-assignment",
        name: "Secret-looking value assigned to a credential name",
        severity: Severity::High,
        keywords: &[
            "secret",
            "passw",
            "api_key",
            "apikey",
            "api-key",
            "access_key",
            "auth_token",
            "private_key",
            "client_secret",
        ],
        pattern: r#"(?i)\b[a-z0-9_.\-]*(?:secret|passwd|password|api_?key|api-key|access_?key|auth_?token|private_?key)[a-z0-9_.\-]*["']?\s*[:=]\s*["'](?P<secret>[^"'\s]{12,128})["']"#,
        shown: 0,
    },
    Rule {
        id: "private-key",
        name: "Private key (PEM block)",
        severity: Severity::Critical,
        keywords: &["private key"],
        // The body alphabet (base64 plus the `Proc-Type`/`DEK-Info`/PGP armor
        // headers) keeps code that merely names both armor lines from matching.
        pattern: r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----\s*[A-Za-z0-9+/=\s:,.()\-]{40,}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        shown: 0,
    },
];

/// Every keyword of every rule, lower-case, each once: the literals that
/// must occur in a file before any regex runs on it.
pub fn keywords() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = RULES
        .iter()
        .flat_map(|rule| rule.keywords.iter().copied())
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// The secrets scanner; builds its regexes and keyword automaton once.
pub struct Secrets {
    regexes: Vec<Regex>,
    keywords: AhoCorasick,
    /// For each automaton pattern, the rules that keyword belongs to.
    keyword_rules: Vec<Vec<usize>>,
}

impl Default for Secrets {
    fn default() -> Self {
        Self::new()
    }
}

impl Secrets {
    pub fn new() -> Self {
        let regexes = RULES
            .iter()
            .map(|rule| {
                // Word boundaries are ASCII ones: every token is ASCII, and a
                // Unicode `\b` sends the regex engine to its slowest matcher on
                // any text that is not.
                Regex::new(&rule.pattern.replace(r"\b", r"(?-u:\b)"))
                    .unwrap_or_else(|e| panic!("secrets rule {} has an invalid regex: {e}", rule.id))
            })
            .collect();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut literals = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        for (rule_index, rule) in RULES.iter().enumerate() {
            for keyword in rule.keywords {
                let key = keyword.to_ascii_lowercase();
                let slot = *index.entry(key.clone()).or_insert_with(|| {
                    literals.push(key);
                    keyword_rules.push(Vec::new());
                    literals.len() - 1
                });
                keyword_rules[slot].push(rule_index);
            }
        }
        let keywords = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&literals)
            .expect("the secrets keywords form a valid automaton");
        Secrets {
            regexes,
            keywords,
            keyword_rules,
        }
    }

    /// Which rules have at least one keyword in `text`.
    fn candidate_rules(&self, text: &str) -> Vec<bool> {
        let mut wanted = vec![false; RULES.len()];
        for found in self.keywords.find_overlapping_iter(text) {
            for &rule in &self.keyword_rules[found.pattern().as_usize()] {
                wanted[rule] = true;
            }
        }
        wanted
    }

    /// Every credential in `text`, rule by rule (generic values only when
    /// they look random enough).
    fn find<'t>(&self, text: &'t str) -> Vec<Found<'t>> {
        let wanted = self.candidate_rules(text);
        let mut found = Vec::new();
        for ((rule, regex), _) in RULES.iter().zip(&self.regexes).zip(&wanted).filter(|(_, w)| **w) {
            for caps in regex.captures_iter(text) {
                let whole = caps.get(0).expect("group 0 always participates");
                // The token itself, without the delimiter some patterns match after it.
                let secret = caps.name("secret").unwrap_or(whole);
                if rule.id == GENERIC_RULE && !looks_secret(secret.as_str()) {
                    continue;
                }
                // A password equal to the user name is a local default
                // (`postgres://app:app@localhost`), not a secret.
                let same_as_user = caps
                    .name("user")
                    .is_some_and(|user| user.as_str() == secret.as_str());
                if rule.id == URL_RULE && (is_url_placeholder(secret.as_str()) || same_as_user) {
                    continue;
                }
                found.push(Found { rule, whole, secret });
            }
        }
        found
    }

    /// `text` with every credential it holds replaced by a description
    /// that shows at most its public prefix; `None` when it holds none.
    pub fn redact_text(&self, text: &str) -> Option<String> {
        let mut found = self.find(text);
        if found.is_empty() {
            return None;
        }
        found.sort_by_key(|f| (f.secret.start(), std::cmp::Reverse(f.secret.end())));
        let mut redacted = String::with_capacity(text.len());
        let mut done = 0;
        for f in &found {
            if f.secret.start() < done {
                continue; // inside a credential already replaced
            }
            redacted.push_str(&text[done..f.secret.start()]);
            redacted.push_str(&format!("[{}]", redact(f.secret.as_str(), f.rule.shown)));
            done = f.secret.end();
        }
        redacted.push_str(&text[done..]);
        Some(redacted)
    }
}

/// One credential a rule matched.
struct Found<'t> {
    rule: &'static Rule,
    whole: regex::Match<'t>,
    secret: regex::Match<'t>,
}

impl FileCheck for Secrets {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>) {
        let Some(text) = text else { return };
        let credentials = self.find(text);
        if credentials.is_empty() {
            return;
        }
        let lines = LineIndex::new(text);
        let samples_likely = is_test_path(&file.rel) || is_docs_path(&file.rel);
        let mut found = Vec::new();
        for Found { rule, whole, secret } in credentials {
            let (line, column) = lines.position(whole.start());
            let shown = redact(secret.as_str(), rule.shown);
            let (severity, message) = if rule.id == GENERIC_RULE && looks_like_hash(secret.as_str()) {
                (
                    Severity::Low,
                    format!(
                        "Password hash hard-coded ({shown}); anyone with the code can try to crack it offline"
                    ),
                )
            } else if samples_likely && SAMPLE_PRONE_RULES.contains(&rule.id) {
                (
                    Severity::Low,
                    format!(
                        "{} in test code or documentation ({shown}); make sure it is a sample, not a live credential",
                        rule.name
                    ),
                )
            } else {
                (
                    rule.severity,
                    format!(
                        "{} hard-coded ({shown}); revoke it and load it from the environment or a secret manager",
                        rule.name
                    ),
                )
            };
            found.push(
                Finding::new(rule.id, severity, message)
                    .at_path(&file.rel, Some(line), Some(column))
                    .with_help(HELP)
                    .with_cwe(HARD_CODED_CREDENTIALS)
                    .fingerprinted(secret.as_str()),
            );
        }
        // A line a specific rule explains needs no generic finding too.
        let specific: std::collections::HashSet<Option<u32>> = found
            .iter()
            .filter(|f| f.rule_id != GENERIC_RULE)
            .map(|f| f.line)
            .collect();
        found.retain(|f| f.rule_id != GENERIC_RULE || !specific.contains(&f.line));
        // Rules run one after another; report in file order.
        found.sort_by_key(|finding| (finding.line, finding.column));
        out.extend(found);
    }
}

/// A description of `secret` that reveals at most its public prefix.
fn redact(secret: &str, shown: usize) -> String {
    let length = secret.chars().count();
    let prefix: String = secret.chars().take(shown.min(length / 2)).collect();
    if prefix.is_empty() {
        format!("{length} characters, redacted")
    } else {
        format!("`{prefix}…`, {length} characters")
    }
}

/// Maps byte offsets of a text to 1-based lines and columns (in characters).
struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, starts }
    }

    fn position(&self, offset: usize) -> (u32, u32) {
        let line = self.starts.partition_point(|&start| start <= offset) - 1;
        let column = self.text[self.starts[line]..offset].chars().count() + 1;
        (to_u32(line + 1), to_u32(column))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One sample per rule, split so this source file holds no whole token.
    const SAMPLES: &[(&str, &[&str])] = &[
        (
            "url-password",
            &["postgres://app:", "q7Rw2Lx9", "@db.internal:5432/orders"],
        ),
        (
            "gcp-service-account-key",
            &[
                "\"private_key_id\": \"",
                "eee65f53e9421ce50211670eae679f02e8d28a79",
                "\"",
            ],
        ),
        (
            "azure-ad-client-secret",
            &["beK8Q~", "Xgzg2sye9b2Rann76dEyTzAeKOmXRrvftv"],
        ),
        (
            "discord-webhook",
            &[
                "https://discord.com/api/webhooks/",
                "061231007728378326",
                "/",
                "XoY1BaIMcAxYmfsB4HbQLXjjlAFbVV6q9rXxtNDFyuzX9k1gnneGEYG1_LwiqD9jJBAc",
            ],
        ),
        (
            "atlassian-api-token",
            &[
                "ATATT3",
                "erACpdclsxHKifxi5CvQUSHL8iLc7bE6wSt9cbMOeEeUtuieeCIxVc57VVTiY96vwfRE5e32A8Yb3FKaNQyyLaMeffOhq4AUvy7VSLDCD1IfHWGbtMfEbo9ShFXNQ6Fq5axtjRNmHkW5vQ7CF5puzQqmOBZZW6m4nyoL6uniiFw152cTe8r0khCEr7",
            ],
        ),
        (
            "sentry-auth-token",
            &[
                "sntryu_",
                "6dcfaea21818b904ce6087413e3b266f850f1578b5c72dc4ee60caea63367c29",
            ],
        ),
        (
            "planetscale-token",
            &["pscale_tkn_", "IY7uq6T2bwGfcCvJAXrF6bnZ3eBZclIvRY6iEjH5"],
        ),
        (
            "heroku-api-key",
            &[
                "HRKU-",
                "UH1RSC84FL8SfWoCHJs1UJOkHG16JqtQy9235Nnt2j9IHrKFmAIhGaMybIcH",
            ],
        ),
        (
            "generic-secret-assignment",
            &["db_password = '", "Xk9#mP2$vL7qR4wZ", "'"],
        ),
        ("aws-access-key-id", &["AKIA", "MW5DNOS7NV4EQMKF"]),
        (
            "aws-secret-access-key",
            &[
                "aws_secret_access_key = ",
                "4Uy8PEZ2Ai37MBoQIYWD2jZ1a7BmScVUbHte3xJi",
            ],
        ),
        ("alibaba-access-key-id", &["LTAI", "WjzRU0x5PKEkF24Gt33l"]),
        (
            "azure-storage-account-key",
            &[
                "DefaultEndpointsProtocol=https;AccountName=demo;AccountKey=",
                "akieS4p6rwz5rktNRWihS7hyJPlJtG7A2oOFmJwbbY6fREI8zOQcrKSUZZgCiBspsRpVd5zUAq6OMMGE3A6MfF==",
            ],
        ),
        ("google-api-key", &["AIza", "dR44gIAe7hb05Js_heIpl5Rjs81nHaETBmo"]),
        (
            "gcp-oauth-client-secret",
            &["GOCSPX-", "Uyuwy5reyDnbQq9qoof5lJZrhoKR"],
        ),
        (
            "digitalocean-pat",
            &[
                "dop_v1_",
                "139975cc4a179c7f76d45fef6806a17981c48be81e9250bf1c1b170c4fc35de8",
            ],
        ),
        (
            "digitalocean-oauth-token",
            &[
                "doo_v1_",
                "b69c45f97d1130f9eb94bf74e2c3f31e8bc527dd51b3058549726416f34ff954",
            ],
        ),
        (
            "stripe-secret-key",
            &["sk_live_", "lkFBEYdkwZ4eKqlQaaucjro74OkU36ApO3"],
        ),
        (
            "stripe-restricted-key",
            &["rk_live_", "mujX7Lvw842SyuoKts9sH8BYkQ6jTaygHB"],
        ),
        (
            "stripe-webhook-secret",
            &["whsec_", "04X3lqnCF7KnigfA5RZ3z4XatlNiGMVz"],
        ),
        ("square-access-token", &["sq0atp-", "dTkwANawgXUz9tDUwb-7Et"]),
        (
            "square-oauth-secret",
            &["sq0csp-", "44Pi14TeS_fjUSPihk7WMCJBwzrKInsTdx1OKVRs1CB"],
        ),
        (
            "livescan-api-key",
            &["lsk_", "ujzde8gxd6nc_fBAepfJBd0Kh8oOOL8dKLzdocJ2isAjIhKtJ0Rlg"],
        ),
        ("github-pat", &["ghp_", "dbtx0mpWvYkeR4tftIrjwbUopScHasOLzfDv"]),
        (
            "github-fine-grained-pat",
            &[
                "github_pat_",
                "Wgz05yyT8vUAeKgqtJEXUe_AmjboFkhfHYk6HLsmVy0692De4k3sv3R96kfWmRPNVT2rc17UTlw9MUPdzc",
            ],
        ),
        (
            "github-oauth-token",
            &["gho_", "QkAQHU17c4InimEfUyjBly20HNvZG3fWgGbA"],
        ),
        (
            "github-app-token",
            &["ghs_", "jIPDQQQ2kRVqHKJDThlgQCl8mSodH6ZUOMTa"],
        ),
        (
            "github-refresh-token",
            &["ghr_", "itnvpEfhdOnNWOpF2JCh803S2xXepusldMYC"],
        ),
        ("gitlab-pat", &["glpat-", "3xJjbepijrYKghqo-3IX"]),
        (
            "gitlab-pipeline-trigger-token",
            &["glptt-", "3fa4ae7a45ed817615efa93e8b88d7da6a05a73d"],
        ),
        ("gitlab-runner-token", &["glrt-", "W-wQGEecUB2nGw7bJrYZ"]),
        (
            "slack-bot-token",
            &["xoxb-", "581814298027-2305447137762-m94rILAOJO4SNOvS8lA9FRhp"],
        ),
        (
            "slack-user-token",
            &[
                "xoxp-",
                "668710467559-825291429888-9674481807035-a7e88aebe1bc4d9b5cfafc230237f7a6",
            ],
        ),
        (
            "slack-refresh-token",
            &[
                "xoxe-1-",
                "u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8dKLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFRIBXuDL7DxtpYlS",
                "XpfKtHF4vUCsMehGAkWvj7FAc9QeWJKY40uvSwMFLZDe1f8rESQedUStPKR0",
            ],
        ),
        (
            "slack-webhook",
            &[
                "https://hooks.slack.com/services/",
                "TDAODPR5QQ2/BEXCI8C5JE0/EzSW3iNHcVnNkhSkItGJm10Y",
            ],
        ),
        (
            "slack-workflow-webhook",
            &[
                "https://hooks.slack.com/workflows/",
                "T4K7BN7XJ8/AB7TFQ7XKWO/888539336338750047/qmSM9wCZ7Uw9xfogoEmvnEN5",
            ],
        ),
        ("twilio-api-key", &["SK", "9d752d7f4feba958b8f86f6d1d2e20be"]),
        (
            "sendgrid-api-key",
            &[
                "SG.",
                "vZCJdKDcRzB-CiLT9yuwqd.xfTPUpmsUqCx03bo9cKTW25A65mmw5UfxPn5XJnfdlV",
            ],
        ),
        ("mailgun-api-key", &["key-", "4dc2723b7d33aad527105d0799b373cc"]),
        (
            "brevo-api-key",
            &[
                "xkeysib-",
                "0b87462e0c387c2fabe8c9bf1e2d470a987b6c3aa0bd7aa099e43acc994e0f32-8HebdxwpxXbljHU3",
            ],
        ),
        ("npm-token", &["npm_", "hRQzLmC8nXgScqvph3p1p1HtNTq0A5STeZdi"]),
        (
            "pypi-token",
            &[
                "pypi-AgEIcHlwaS5vcmc",
                "sRZg7u0RJ5pQsbmC4K-3STI-FVEZ9e_FwP3oVjj3vdHZglItoy8Ejz-iQfU4_Qk3j_JSv4",
            ],
        ),
        ("docker-hub-pat", &["dckr_pat_", "lnYdg5xyaA67JhF1Rb5lTi0VPtk"]),
        (
            "shopify-access-token",
            &["shpat_", "c9afb03b1d9478f3a1ecf5932c1b314d"],
        ),
        (
            "shopify-shared-secret",
            &["shpss_", "3c08f478f7f81866d21a6837b9150cec"],
        ),
        (
            "telegram-bot-token",
            &["5063314753", ":AAsFS538YSf_xZo8Rm6PDG0JAulaWOPoYKA"],
        ),
        (
            "openai-api-key",
            &[
                "sk-proj-ZEpFOsl-IPw1PLDLcMFUnwUK",
                "T3BlbkFJ",
                "rHPaZnjDxe_LEmk2x2pEWybS",
            ],
        ),
        (
            "anthropic-api-key",
            &[
                "sk-ant-api03-",
                "tSo-gR3h1B78yU3RLpWSwZ_sm5yHLlPfYFmwFNXgt1AW_E3xI-5JnZ046cG35BqwwjinoN2ZraHq6VE0bZREXLw7s2ZLeAA",
            ],
        ),
        (
            "huggingface-token",
            &["hf_", "doYHZFPIpUvIcKxPRSjUwsepHxfEboOcLx"],
        ),
        (
            "hashicorp-vault-token",
            &[
                "hvs.",
                "CAESw_yL3QAD4A4cFHnS3sY4usWkZHCzIFeskZqt47Jg2kZTc99KWw3tizfcun84orM7EmqD8Y4St0Py19WT2jbBwD_s0Tf",
            ],
        ),
        (
            "postman-api-key",
            &[
                "PMAK-",
                "301efb4343ddc0e8144d8da9-c15eddbfdc6b4082a536b9b6803a3cc72a",
            ],
        ),
        ("databricks-token", &["dapi", "02942678307272f346cd5f60eb42e1e6"]),
        (
            "grafana-token",
            &["glsa_", "wx0J9Sl62hf58Bvj4v1pq2sapn5IXn03_26f1cc74"],
        ),
        (
            "grafana-cloud-token",
            &[
                "glc_",
                "eyJvXpduekP3gPRuQVFWHuFWdVxYY0bzz9BjBWcL65fzOAvsAPu0dTSbBvvacsjn==",
            ],
        ),
        ("new-relic-key", &["NRAK-", "SNJYMXDX5IPR3TT2SBJ9HL372VR"]),
        (
            "pulumi-token",
            &["pul-", "197cecd745a0a984c488f9ca7fe81fe067ba0781"],
        ),
        (
            "doppler-token",
            &["dp.pt.", "eMlTYcp6lOVSyzt39YIz3Jt4BMyezbY2oT4EcKUDrdV"],
        ),
        (
            "linear-api-key",
            &["lin_api_", "RndopEYA9OQZyCQHqKlRgoWvc2QwvI62wKk6IE5t"],
        ),
        (
            "age-secret-key",
            &[
                "AGE-SECRET-KEY-1",
                "WLMJM59RY88786AD4E62WKZWRXE6MR3DQWL6Z76HKM6FC87MLC2N2SJFVF",
            ],
        ),
        (
            "jwt",
            &[
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
                ".eyJzdWIiOiIcZU2bTupp1Sr6diuB2cI",
                ".pjHzdzu4j3ebSWkSbMINIR6KywlB_ZSM0wDEDoplLkZ",
            ],
        ),
        (
            "private-key",
            &[
                "-----BEGIN RSA PRIVATE KEY-----\n",
                "jgdXsnRXEP0fHMd505h91EUkcUb3nNWoWxlzC/o/FppT9gkcDJiDWcmxWftjEewL\nKJrMQz3RHJ/eLeQ3FUFORzE3cgquw1vlQc5McgnnoNcfD0PaiHtNXnLrXZQ5KcTx\n9gB48GEoaH/dJuA1/meD2RwwLmKqhgIWD2CGVqR0UaDFJmZ8xemV/fosLIkKZsle\nzQShwdaVVHr0p5PxKS/46dEcQBqWS6XLzgqbGlJl5Z6gdNPC+3hWr4ahUGxqFPkR\n4VlJfyKKEbJ9L/31UzEOJTxmb+sPIMrfYMqgLL3Hp9AMYZ5utYTokEIp/BeRQQH0\nkovNQW1viaOH+GwgbN5RZSx/+AyG4uqYtEnOqGRearsb5ENntk4mvoIN88o7DQxb\nNXhE/K1zLPpYWftYWKsvTqkNC6hrE4jdXSYHNf+J==",
                "\n-----END RSA PRIVATE KEY-----",
            ],
        ),
    ];

    fn entry(rel: &str) -> FileEntry {
        FileEntry::source(rel)
    }

    fn scan(text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        Secrets::new().check(&entry("sample.txt"), Some(text), &mut out);
        out
    }

    #[test]
    fn rule_table_is_large_and_well_formed() {
        assert!(RULES.len() >= 30, "only {} rules", RULES.len());
        let mut ids: Vec<_> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len(), "rule ids are unique");
        for rule in RULES {
            assert!(!rule.keywords.is_empty(), "{} has keywords", rule.id);
            assert!(
                rule.id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{} is kebab-case",
                rule.id
            );
        }
    }

    #[test]
    fn every_rule_matches_its_sample_and_nothing_else_does() {
        let secrets = Secrets::new();
        for rule in RULES {
            let parts = SAMPLES
                .iter()
                .find(|(id, _)| *id == rule.id)
                .unwrap_or_else(|| panic!("no sample for {}", rule.id))
                .1;
            let sample = parts.concat();
            let text = format!("value = \"{sample}\"\n");
            let wanted = secrets.candidate_rules(&text);
            let index = RULES.iter().position(|r| r.id == rule.id).unwrap();
            assert!(
                wanted[index],
                "{}: keyword pre-filter rejects its sample",
                rule.id
            );
            let found = scan(&text);
            let ids: Vec<_> = found.iter().map(|f| f.rule_id.as_str()).collect();
            assert_eq!(ids, vec![rule.id], "{}: sample {sample:?}", rule.id);
            let finding = &found[0];
            assert_eq!(finding.severity, rule.severity);
            assert!(
                !finding.message.contains(&sample),
                "{}: message leaks the secret",
                rule.id
            );
            if let Some(secret) = secrets.regexes[index]
                .captures(&text)
                .and_then(|c| c.name("secret"))
            {
                assert!(
                    !finding.message.contains(secret.as_str()),
                    "{}: message leaks",
                    rule.id
                );
            }
        }
        assert_eq!(SAMPLES.len(), RULES.len(), "one sample per rule");
    }

    fn rule_ids(text: &str) -> Vec<String> {
        scan(text).into_iter().map(|f| f.rule_id).collect()
    }

    #[test]
    fn aws_secret_keys_are_found_in_go_and_typed_declarations() {
        let secret = ["ioDnkHIfxIq2HZt+PlJh", "x2jIclHkCiHp6bR1IqfE"].concat();
        for line in [
            format!("\tawsSecretKey := \"{secret}\""),
            format!("const AWS_SECRET_ACCESS_KEY: &str = \"{secret}\";"),
            format!("static AWS_SECRET_KEY: &'static str = \"{secret}\";"),
            format!("const awsSecretAccessKey: string = \"{secret}\";"),
            format!("aws_secret_access_key: {secret}"),
            format!("\"aws_secret_access_key\": \"{secret}\","),
        ] {
            assert_eq!(rule_ids(&line), vec!["aws-secret-access-key"], "{line}");
        }
        for line in [
            format!("checksum := \"{secret}\""),
            format!("const awsSecretKeyHint: string = \"{secret}\";"),
            format!("awsSecretKey := lookup(\"{secret}\")"),
            format!("aws_secret_key: string: \"{secret}\""),
        ] {
            assert!(rule_ids(&line).is_empty(), "{line}");
        }
    }

    #[test]
    fn gitlab_routable_tokens_are_found_whole() {
        let token = ["glpat-", "5r1pY4OjE2jBMptUsGr7CmY_uCu3ZR1zTOlUcR.01.932byv7s6"].concat();
        let found = scan(&format!("GITLAB_TOKEN={token}\n"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule_id, "gitlab-pat");
        assert!(found[0].message.contains(&format!("{} characters", token.len())));
        let truncated = &token[..token.len() - 1];
        assert!(scan(&format!("GITLAB_TOKEN={truncated}\n")).is_empty());
    }

    #[test]
    fn keyword_prefilter_rejects_text_without_keywords() {
        let secrets = Secrets::new();
        let text = "fn main() {\n    println!(\"hello, world\");\n}\n";
        assert!(!secrets.candidate_rules(text).contains(&true));
        assert!(scan(text).is_empty());
    }

    #[test]
    fn positions_are_one_based() {
        let token = ["ghp_", "Q7mZt2LwXc9RbV4nKd8sHj3yPf6gUa1eTo5i"].concat();
        // The marked line is found too: the engine marks it suppressed.
        let text = format!("first line\n  let t = \"{token}\";\nskip = \"{token}\" # livescan:ignore\n");
        let found = scan(&text);
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].line, Some(3));
        assert_eq!((found[0].line, found[0].column), (Some(2), Some(12)));
        assert_eq!(found[0].path.as_deref(), Some("sample.txt"));
        assert!(found[0].message.contains("`ghp_…`"));
    }

    #[test]
    fn every_pem_private_key_flavour_is_found() {
        let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nq9Zx3Lm0Vt2Rk8Wc+/Hy4Pj1Na6E=";
        for kind in [
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
            "DSA PRIVATE KEY",
            "OPENSSH PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
            "PRIVATE KEY",
            "PGP PRIVATE KEY BLOCK",
        ] {
            let block = format!("-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n");
            let ids: Vec<_> = scan(&block).into_iter().map(|f| f.rule_id).collect();
            assert_eq!(ids, vec!["private-key"], "{kind}");
        }
        let armored = format!(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n{body}\n=Xq3T\n\
             -----END PGP PRIVATE KEY BLOCK-----\n"
        );
        assert_eq!(scan(&armored).len(), 1);
        let legacy = format!(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
             DEK-Info: AES-128-CBC,3F2A9C1D7E5B4A60\n\n{body}\n-----END RSA PRIVATE KEY-----\n"
        );
        assert_eq!(scan(&legacy).len(), 1);
    }

    #[test]
    fn pem_headers_alone_are_not_a_private_key() {
        let code = "const BEGIN: &str = \"-----BEGIN PRIVATE KEY-----\";\n\
                    const END: &str = \"-----END PRIVATE KEY-----\";\n";
        assert!(scan(code).is_empty());
    }

    fn scan_at(rel: &str, text: &str) -> Vec<(String, Severity)> {
        let mut out = Vec::new();
        Secrets::new().check(&entry(rel), Some(text), &mut out);
        out.into_iter().map(|f| (f.rule_id, f.severity)).collect()
    }

    #[test]
    fn generic_values_that_are_no_credential_are_skipped() {
        for line in [
            // Translated UI text under a credential-named key.
            "\"PASSWORD_SUCCESSFULLY_CHANGED\": \"パスワードが正常に変更されました。\",",
            "\"LABEL_TWO_FACTOR_AUTH_TOKEN\": \"Zwöifaktorouthentisierigs-Token\",",
            // A generator's character set, a path to a password file.
            "var lPasswordCharset = \"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789\";",
            "$lPasswordFilePath=\"passwords/accounts.txt\";",
        ] {
            assert!(scan(line).is_empty(), "{line}: {:?}", scan(line));
        }
    }

    #[test]
    fn password_hashes_and_samples_in_tests_or_docs_are_low() {
        let hash = "\"password\": \"md5$c77N8n6nJPb1$3b35343aac5e46740f6e673521aa53dc\",";
        assert_eq!(
            scan_at("fixtures.json", hash),
            vec![(GENERIC_RULE.to_string(), Severity::Low)]
        );
        let assignment = "password: 'OhG0dPlease1nsertLiquor!'";
        assert_eq!(
            scan_at("data/users.yml", assignment),
            vec![(GENERIC_RULE.to_string(), Severity::High)]
        );
        for rel in [
            "test/api/login.test.ts",
            "docs/setup.md",
            "README.md",
            "src/app/login.component.spec.ts",
        ] {
            assert_eq!(
                scan_at(rel, assignment),
                vec![(GENERIC_RULE.to_string(), Severity::Low)],
                "{rel}"
            );
        }
        // A concrete token format keeps its severity anywhere.
        let key = [
            "-----BEGIN RSA PRIVATE KEY-----\n",
            &"QUJD".repeat(20),
            "\n-----END RSA PRIVATE KEY-----\n",
        ]
        .concat();
        assert_eq!(
            scan_at("test/keys/server.key", &key),
            vec![("private-key".to_string(), Severity::Critical)]
        );
    }

    #[test]
    fn url_passwords_are_found_and_placeholders_are_not() {
        let password = ["q7Rw", "2Lx9"].concat();
        let url = format!("DATABASE_URL = \"postgres://app:{password}@db.internal:5432/orders\"");
        let found = scan(&url);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule_id, "url-password");
        assert!(!found[0].message.contains(&password), "{}", found[0].message);
        for placeholder in [
            "postgres://user:password@localhost/db",
            "amqp://guest:${RABBIT_PASSWORD}@broker/",
            "mysql://root:%s@%s/%s",
            "redis://default:<your-password>@cache:6379",
            "https://user:****@example.com/",
            "http://localhost:8080/path",
            "sqlmap -d mysql://root:&quot;&quot;@192.168.56.102:5123/app",
            "DATABASE_URL=postgres://app:app@localhost:5432/app",
        ] {
            assert!(
                scan(placeholder).is_empty(),
                "{placeholder}: {:?}",
                scan(placeholder)
            );
        }
    }
}
