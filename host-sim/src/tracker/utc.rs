//! UTC timestamps in the two text shapes the Tracker deals with: items' `watched_at`
//! (`YYYY-MM-DDTHH:MM:SSZ`) and snapshot stamps (`YYYYMMDDTHHMMSSZ`).
//!
//! The calendar is jiff's; this file only pins the shapes. Parsing checks the exact shape
//! by hand first because jiff's own parsers are more lenient than the Tracker wants (they
//! take other offsets, fractions, and a leap second 60, which they clamp to 59).

use jiff::civil::{date, DateTime};
use jiff::SignedDuration;

/// 1970-01-01T00:00:00, the instant epoch seconds count from. Epoch seconds are read as a
/// distance from it in civil time (UTC has no other offset to apply), which spans jiff's
/// whole calendar, years -9999 to 9999, where a `Timestamp` stops a day short of each end.
const EPOCH: DateTime = date(1970, 1, 1).at(0, 0, 0, 0);

/// Parses `YYYY-MM-DDTHH:MM:SSZ` into epoch seconds; `None` for any other shape or an
/// impossible date/time (month 13, 30 February, hour 24, ...).
pub fn parse_watched_at(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    // At most four ASCII digits, so every value fits the narrower integer jiff takes.
    let num = |from: usize, to: usize| -> Option<i16> {
        b[from..to].iter().try_fold(0i16, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i16::from(c - b'0'))
        })
    };
    let small = |from: usize, to: usize| num(from, to).and_then(|n| i8::try_from(n).ok());
    // jiff refuses what no calendar has: month 13, 30 February, hour 24, second 60, ...
    let datetime = DateTime::new(
        num(0, 4)?,
        small(5, 7)?,
        small(8, 10)?,
        small(11, 13)?,
        small(14, 16)?,
        small(17, 19)?,
        0,
    )
    .ok()?;
    Some(datetime.duration_since(EPOCH).as_secs())
}

/// The UTC date and time of `epoch`. jiff's calendar covers the years -9999 to 9999; an
/// epoch outside them (no clock and no item comes near) saturates at the nearest end.
fn utc(epoch: i64) -> DateTime {
    EPOCH
        .checked_add(SignedDuration::from_secs(epoch))
        .unwrap_or(if epoch < 0 {
            DateTime::MIN
        } else {
            DateTime::MAX
        })
}

/// Formats epoch seconds as a snapshot stamp, `YYYYMMDDTHHMMSSZ` (sorts as text in time order
/// for years 0000-9999).
pub fn format_stamp(epoch: i64) -> String {
    utc(epoch).strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// Formats epoch seconds in the items' `watched_at` shape, `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_watched_at(epoch: i64) -> String {
    utc(epoch).strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_match_the_unix_clock() {
        // Values from `date -u -d <text> +%s`.
        assert_eq!(parse_watched_at("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_watched_at("2026-11-11T22:18:00Z"),
            Some(1_794_435_480)
        );
        assert_eq!(parse_watched_at("2000-02-29T12:00:00Z"), Some(951_825_600));
        assert_eq!(parse_watched_at("1969-12-31T23:59:59Z"), Some(-1));
        assert_eq!(format_stamp(1_794_435_480), "20261111T221800Z");
        assert_eq!(format_watched_at(951_825_600), "2000-02-29T12:00:00Z");
        assert_eq!(format_stamp(-1), "19691231T235959Z");
        // Four digits at both ends of the shape's range.
        for text in [
            "0000-01-01T00:00:00Z",
            "0999-03-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            assert_eq!(format_watched_at(parse_watched_at(text).unwrap()), text);
        }
    }

    fn is_leap(year: i64) -> bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    fn days_in_month(year: i64, month: u32) -> u32 {
        match month {
            2 if is_leap(year) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    #[test]
    fn every_day_over_four_centuries_round_trips() {
        // Covers all leap rules (÷4, ÷100, ÷400) from 1900 to 2300, against a calendar
        // counted here day by day rather than jiff's.
        const SECS_PER_DAY: i64 = 86_400;
        let start = parse_watched_at("1900-01-01T00:00:00Z").unwrap() / SECS_PER_DAY;
        let end = parse_watched_at("2300-12-31T00:00:00Z").unwrap() / SECS_PER_DAY;
        let mut expected = (1900, 1, 1);
        for day in start..=end {
            let epoch = day * SECS_PER_DAY + 3_723;
            let (y, m, d) = expected;
            assert_eq!(
                format_watched_at(epoch),
                format!("{y:04}-{m:02}-{d:02}T01:02:03Z"),
                "day {day}"
            );
            assert_eq!(parse_watched_at(&format_watched_at(epoch)), Some(epoch));
            expected = if d < days_in_month(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    #[test]
    fn impossible_or_other_shapes_are_rejected() {
        for bad in [
            "",
            "2026-11-11",
            "2026-11-11 22:18:00Z",
            "2026-11-11T22:18:00",
            "2026-11-11T22:18:00+00:00",
            "2026-11-11T22:18:00.5Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T00:00:60Z",
            "2026-01-01T00:00:0xZ",
            "+026-01-01T00:00:00Z",
            "２026-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_watched_at(bad), None, "{bad:?}");
        }
        assert!(parse_watched_at("2024-02-29T23:59:59Z").is_some());
    }

    #[test]
    fn an_instant_beyond_the_calendar_saturates() {
        assert_eq!(format_stamp(i64::MAX), "99991231T235959Z");
        assert_eq!(format_watched_at(i64::MIN), "-9999-01-01T00:00:00Z");
    }

    #[test]
    fn stamps_sort_as_text_in_time_order() {
        let instants = [0, 59, 3_600, 86_399, 86_400, 951_825_600, 1_794_435_480];
        let stamps: Vec<String> = instants.iter().map(|&e| format_stamp(e)).collect();
        let mut sorted = stamps.clone();
        sorted.sort();
        assert_eq!(stamps, sorted);
    }
}
