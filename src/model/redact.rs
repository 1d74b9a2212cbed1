//! Credentials inside URLs (`https://user:password@host/`), hidden wherever
//! a URL is shown or logged: `https://***@host/`.

use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

/// A scheme, then user information up to the `@` before the host.
static USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#@]+@").expect("the user-information pattern is valid")
});

/// `text` with the user information of every URL in it replaced by `***`.
pub fn url_credentials(text: &str) -> Cow<'_, str> {
    USERINFO.replace_all(text, "${1}***@")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_information_is_hidden_and_nothing_else_changes() {
        assert_eq!(
            url_credentials("fetching https://admin:hunter2@example.com/a?b=c failed"),
            "fetching https://***@example.com/a?b=c failed"
        );
        assert_eq!(
            url_credentials("http://token@10.0.0.1:8080/"),
            "http://***@10.0.0.1:8080/"
        );
        for plain in [
            "https://example.com/a@b",
            "mailto:someone@example.com",
            "see http://example.com/?q=a@b",
        ] {
            assert_eq!(url_credentials(plain), plain);
        }
    }
}
