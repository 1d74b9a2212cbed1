//! Timestamps as the API shows them: RFC 3339, UTC, millisecond precision.
//!
//! Millisecond precision is deliberate: event times are kept strictly
//! increasing in whole milliseconds, so a JavaScript `Date` (which holds
//! milliseconds) round-trips a `lastUpdated` value exactly and `?since=` never
//! skips or repeats a report.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serializer};

pub type Timestamp = DateTime<Utc>;

pub fn format(ts: &Timestamp) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an ISO 8601 / RFC 3339 timestamp with any precision. A missing
/// offset means UTC, an offset may be written `+01:00` or `+0100` (as some
/// generated clients send it), and a space where the offset's `+` belongs
/// (an unencoded `+` in a query string) is read as `+`.
pub fn parse(raw: &str) -> Result<Timestamp, String> {
    let trimmed = raw.trim();
    let is_offset = |offset: &str| {
        let digits: String = offset.chars().filter(|c| *c != ':').collect();
        digits.len() == 4 && digits.chars().all(|c| c.is_ascii_digit()) && offset.len() <= 5
    };
    let repaired = match trimmed.rsplit_once(' ') {
        Some((time, offset)) if is_offset(offset) => format!("{time}+{offset}"),
        _ => trimmed.to_string(),
    };
    DateTime::parse_from_rfc3339(&repaired)
        .or_else(|_| DateTime::parse_from_str(&repaired, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|ts| ts.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(&repaired, "%Y-%m-%dT%H:%M:%S%.f").map(|ts| ts.and_utc()))
        .map_err(|_| {
            format!("`{raw}` is not an ISO 8601 timestamp; pass the previous response's lastUpdated")
        })
}

pub fn from_millis(ms: i64) -> Timestamp {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

pub fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(ts))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    let raw = String::deserialize(d)?;
    parse(&raw).map_err(serde::de::Error::custom)
}

/// The same format for optional timestamps.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(ts) => super::serialize(ts, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|raw| parse(&raw).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_and_parses_offsets() {
        let ts = from_millis(1_769_077_818_123);
        assert_eq!(format(&ts), "2026-01-22T10:30:18.123Z");
        assert_eq!(parse("2026-01-22T10:30:18.123Z").unwrap(), ts);
        assert_eq!(parse("2026-01-22T11:30:18.123+01:00").unwrap(), ts);
        assert_eq!(
            parse("2026-01-22T10:30:18.123").unwrap(),
            ts,
            "no offset means UTC"
        );
        assert_eq!(
            parse("2026-01-22T11:30:18.123 01:00").unwrap(),
            ts,
            "an unencoded + arrives as a space"
        );
        assert_eq!(
            parse("2026-01-22T11:30:18.123000+0100").unwrap(),
            ts,
            "a basic offset"
        );
        assert_eq!(parse("2026-01-22T11:30:18.123 0100").unwrap(), ts);
        assert!(parse("yesterday").unwrap_err().contains("ISO 8601"));
    }
}
