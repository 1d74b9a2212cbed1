//! Unknown request fields, named with the closest valid one: a typo such as
//! `timeOut` or `excludeTool` must not silently run (and charge for) the
//! tools the client meant to change or skip.

use crate::engine::EngineError;
use serde_json::json;

/// The error for serde's "unknown field `x`, expected ..." at `path` (the
/// field's own path, as serde_path_to_error reports it); `None` for any
/// other error.
pub fn unknown(path: &str, serde_message: &str) -> Option<EngineError> {
    let rest = serde_message.strip_prefix("unknown field `")?;
    let (name, expected) = rest.split_once("`, expected ")?;
    let valid: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let field = match path {
        "." | "" => name.to_string(),
        path => path.to_string(),
    };
    let suggestion = closest(name, &valid);
    let hint = suggestion.map_or(String::new(), |s| format!("; did you mean `{s}`?"));
    let message = format!(
        "is not a field of this request{hint} (valid: {})",
        valid.join(", ")
    );
    let mut details = json!({ "valid": valid });
    if let Some(suggestion) = suggestion {
        details["suggestion"] = json!(suggestion);
    }
    Some(EngineError::invalid_with(&field, message, details))
}

/// The valid name `name` most likely meant: one it abbreviates (`dir`),
/// else the nearest by case-insensitive edit distance, if near enough to be
/// a typo.
fn closest<'a>(name: &str, valid: &[&'a str]) -> Option<&'a str> {
    let name = name.to_lowercase();
    if name.len() >= 3
        && let Some(long) = valid.iter().find(|v| v.to_lowercase().starts_with(&name))
    {
        return Some(long);
    }
    valid
        .iter()
        .map(|v| (distance(&name, &v.to_lowercase()), *v))
        .min()
        .filter(|(d, v)| *d <= (v.len() / 3).max(2))
        .map(|(_, v)| v)
}

/// Levenshtein distance between two strings, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_named_with_the_field_meant() {
        let err = unknown(
            ".",
            "unknown field `timeOut`, expected one of `target`, `timeout`, `excludeTools`",
        )
        .unwrap();
        let EngineError::InvalidArgument {
            field,
            message,
            details,
        } = err
        else {
            panic!("not invalid")
        };
        assert_eq!(field, "timeOut");
        assert_eq!(details["suggestion"], "timeout");
        assert!(message.contains("did you mean `timeout`"), "{message}");
        let err = unknown(
            "target.dir",
            "unknown field `dir`, expected one of `url`, `urls`, `directory`",
        )
        .unwrap();
        assert!(matches!(&err, EngineError::InvalidArgument { field, .. } if field == "target.dir"));
        assert_eq!(err.details()["suggestion"], "directory");
        let far = unknown(".", "unknown field `colour`, expected `target` or `tools`").unwrap();
        assert_eq!(far.details().get("suggestion"), None);
        assert!(unknown(".", "invalid type: string, expected u64").is_none());
        assert_eq!(
            closest("excludeTool", &["tools", "excludeTools"]),
            Some("excludeTools")
        );
    }
}
