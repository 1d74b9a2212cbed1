//! Text from outside (a client's request, a tool's output) cut to a bound,
//! saying how long it was, so no value of unbounded size is stored or
//! echoed whole.

/// `text` cut to `max` characters, saying how long it was.
pub fn bounded(text: &str, max: usize) -> String {
    let length = text.chars().count();
    if length <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… ({length} characters)")
}

/// Cuts `text` in place to `max` characters (see [`bounded`]).
pub fn bound(text: &mut String, max: usize) {
    if text.len() > max {
        *text = bounded(text, max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_and_says_so() {
        assert_eq!(bounded("short", 10), "short");
        assert_eq!(bounded("abcdefghij", 4), "abcd… (10 characters)");
        assert_eq!(bounded("ééééé", 2), "éé… (5 characters)");
        let mut text = "x".repeat(50);
        bound(&mut text, 10);
        assert_eq!(text, format!("{}… (50 characters)", "x".repeat(10)));
    }
}
