//! Durations typed in flags and the environment: a whole number and a
//! unit (`500ms`, `30s`, `15m`, `12h`, `90d`), bounded so that no setting
//! overflows the clock it is added to.

use std::time::Duration;

/// The longest duration any setting takes: ten years is past every
/// retention, expiry and timeout anyone means, and far from where adding
/// it to a timestamp overflows.
const LONGEST_DAYS: u64 = 3_650;

/// How a number without a unit is read.
#[derive(Clone, Copy)]
pub enum BareNumber {
    /// As seconds (the server's timeouts, as they always were).
    Seconds,
    /// As an error: for an expiry, `90` could mean seconds or days.
    Refused,
}

/// `raw` as a duration, or an error that quotes it and says what is wrong.
pub fn parse(raw: &str, bare: BareNumber) -> Result<Duration, String> {
    let invalid = || format!("`{raw}` is not a duration like 500ms, 30s, 15m, 12h or 90d");
    let too_long = || format!("`{raw}` is longer than {LONGEST_DAYS}d, the longest a setting takes");
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let millis_each: u64 = match (unit, bare) {
        ("ms", _) => 1,
        ("s", _) | ("", BareNumber::Seconds) => 1_000,
        ("m", _) => 60_000,
        ("h", _) => 3_600_000,
        ("d", _) => 86_400_000,
        _ => return Err(invalid()),
    };
    let number: u64 = match number.parse() {
        Ok(number) => number,
        Err(err) if *err.kind() == std::num::IntErrorKind::PosOverflow => return Err(too_long()),
        Err(_) => return Err(invalid()),
    };
    number
        .checked_mul(millis_each)
        .map(Duration::from_millis)
        .filter(|duration| *duration <= Duration::from_secs(LONGEST_DAYS * 86_400))
        .ok_or_else(too_long)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        let parse_expiry = |raw| parse(raw, BareNumber::Refused);
        assert_eq!(parse_expiry("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_expiry("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_expiry("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_expiry("12").is_err());
        assert_eq!(parse("12", BareNumber::Seconds), Ok(Duration::from_secs(12)));
        for malformed in ["h", "3w", "", "-5s", "1.5s", "5 s"] {
            let err = parse(malformed, BareNumber::Seconds).unwrap_err();
            assert!(err.contains(&format!("`{malformed}` is not a duration")), "{err}");
        }
    }

    #[test]
    fn a_duration_too_long_for_the_clock_is_refused_not_wrapped() {
        assert_eq!(
            parse("3650d", BareNumber::Refused),
            Ok(Duration::from_secs(3_650 * 86_400))
        );
        for huge in [
            "3651d",
            "99999999999999999d",
            "9999999999999999h",
            "18446744073709551615",
            "99999999999999999999999s",
        ] {
            let err = parse(huge, BareNumber::Seconds).unwrap_err();
            assert!(err.contains("is longer than 3650d"), "{huge}: {err}");
        }
    }
}
