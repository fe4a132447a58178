//! Durations written as a number and a unit: `5s`, `10m`, `1h`, `7d`.

use crate::{Error, Result};
use chrono::Duration;

/// Parse a duration like `30s`, `10m`, `1h`, `7d` (a positive whole number followed by `s`,
/// `m`, `h` or `d`; `w` for weeks is accepted too).
///
/// ```
/// use mlcycle::controller::parse_duration;
/// assert_eq!(parse_duration("90m").unwrap(), chrono::Duration::minutes(90));
/// assert!(parse_duration("1y").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let bad = |why: &str| {
        Error::invalid(
            "duration",
            format!("`{text}` {why}; write a whole number and a unit, like 5s, 10m, 1h or 7d"),
        )
    };
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| bad("has no unit"))?;
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(bad("does not start with a number"));
    }
    let n: i64 = num.parse().map_err(|_| bad("is too large"))?;
    if n == 0 {
        return Err(bad("is zero"));
    }
    let secs_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad("has an unknown unit (use s, m, h, d or w)")),
    };
    n.checked_mul(secs_per)
        .and_then(Duration::try_seconds)
        .ok_or_else(|| bad("is too large"))
}

/// Write a duration in the largest unit that divides it (`3600` s → `1h`).
pub fn format_duration(d: Duration) -> String {
    let s = d.num_seconds();
    for (unit, n) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s != 0 && s % n == 0 {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::seconds(5));
        assert_eq!(parse_duration("10m").unwrap(), Duration::minutes(10));
        assert_eq!(parse_duration("1h").unwrap(), Duration::hours(1));
        assert_eq!(parse_duration("7d").unwrap(), Duration::days(7));
        assert_eq!(parse_duration("2w").unwrap(), Duration::days(14));
        assert_eq!(parse_duration(" 3h ").unwrap(), Duration::hours(3));
    }

    #[test]
    fn refuses_malformed_durations_with_a_reason() {
        for (bad, why) in [
            ("", "no unit"),
            ("10", "no unit"),
            ("h", "does not start with a number"),
            ("-5s", "does not start with a number"),
            ("0s", "zero"),
            ("5y", "unknown unit"),
            ("1.5h", "unknown unit"),
            ("99999999999999999999s", "too large"),
            ("999999999999999d", "too large"),
        ] {
            let e = parse_duration(bad).unwrap_err().to_string();
            assert!(e.contains(why), "`{bad}`: {e}");
            assert!(e.contains("like 5s, 10m, 1h or 7d"), "{e}");
        }
    }

    #[test]
    fn formats_in_the_largest_unit() {
        assert_eq!(format_duration(Duration::hours(1)), "1h");
        assert_eq!(format_duration(Duration::seconds(90)), "90s");
        assert_eq!(format_duration(Duration::days(7)), "1w");
        assert_eq!(format_duration(Duration::minutes(10)), "10m");
    }
}
