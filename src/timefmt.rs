//! UTC timestamps in the engine's `YYYY-MM-DDTHH:MM:SSZ` form, and the range of times a
//! play may carry. The calendar is jiff's (proleptic Gregorian, like the engine's).

use std::ops::RangeInclusive;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// 400 Gregorian years, in seconds: the calendar repeats after them, day for day. jiff's
/// years end at ±9999; an `i64` second lies further out, so [`format_utc`] moves it by whole
/// cycles into jiff's range and back.
const CYCLE_SECS: i64 = 146_097 * 86_400;

/// 9999-12-31T23:59:59Z: the last second `YYYY-MM-DDTHH:MM:SSZ` can write.
pub const LAST_TIME: i64 = 253_402_300_799;

/// The times (epoch seconds) a play or session may carry: 1970-01-01T00:00:01Z through
/// 9999-12-31T23:59:59Z. This is the one place the range is decided.
///
/// Why: every value in it formats to a `watched_at` the Tracker accepts, and none outside
/// does anything useful. 0 is SQLite's "no value" (read as no time, see `row_time`); a
/// negative time, or one past year 9999, is garbage in the row: emitted, it would make the
/// Tracker refuse (and roll back) the whole import, every time. No clock is consulted: a
/// server whose clock was wrong still wrote a real play, and reads must be repeatable.
pub const TIME_RANGE: RangeInclusive<i64> = 1..=LAST_TIME;

/// What one time field of a row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowTime {
    /// Absent, `""`, `null` or 0.
    Missing,
    /// Present but outside [`TIME_RANGE`].
    Bad,
    /// A usable time.
    At(i64),
}

/// Reads a time field against [`TIME_RANGE`].
pub fn row_time(t: Option<i64>) -> RowTime {
    match t {
        None | Some(0) => RowTime::Missing,
        Some(t) if TIME_RANGE.contains(&t) => RowTime::At(t),
        Some(_) => RowTime::Bad,
    }
}

/// The time, when it is a usable one (see `row_time`).
pub fn valid_time(t: Option<i64>) -> Option<i64> {
    t.filter(|t| TIME_RANGE.contains(t))
}

/// `YYYY-MM-DDTHH:MM:SSZ` of an epoch second. Years outside 0000-9999 are written with as
/// many digits as they need (and a `-` sign before year 0): such values never come from
/// Tautulli, and [`parse_utc`] refuses them.
pub fn format_utc(epoch: i64) -> String {
    let cycles = epoch.div_euclid(CYCLE_SECS);
    let within = epoch.rem_euclid(CYCLE_SECS); // 1970 up to 2370: always in jiff's range
    let t = TimeZone::UTC.to_datetime(
        Timestamp::from_second(within).expect("a second of 1970-2370 is a jiff timestamp"),
    );
    let year = i64::from(t.year()) + 400 * cycles;
    format!(
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Reads exactly `YYYY-MM-DDTHH:MM:SSZ` (the form `format_utc` writes) into epoch seconds.
/// Anything else (other lengths, offsets, fractions, out-of-range fields, leap second 60)
/// is `None`.
pub fn parse_utc(s: &str) -> Option<i64> {
    let b = s.as_bytes();
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
    // Only ASCII digits: jiff's own parser would also take other forms.
    let num = |from: usize, to: usize| -> Option<i16> {
        let digits = &b[from..to];
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            digits
                .iter()
                .fold(0i16, |acc, d| acc * 10 + i16::from(d - b'0')),
        )
    };
    let field = |from: usize, to: usize| num(from, to).and_then(|v| i8::try_from(v).ok());
    let date = Date::new(num(0, 4)?, field(5, 7)?, field(8, 10)?).ok()?;
    let time = Time::new(field(11, 13)?, field(14, 16)?, field(17, 19)?, 0).ok()?;
    // Civil time, not a jiff `Timestamp`: those stop short of 9999-12-31T23:59:59Z.
    let epoch = DateTime::constant(1970, 1, 1, 0, 0, 0, 0);
    Some(
        DateTime::from_parts(date, time)
            .duration_since(epoch)
            .as_secs(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECS_PER_DAY: i64 = 86_400;

    /// The Gregorian month lengths, restated so the tests do not check jiff against itself.
    fn days_in_month(y: i64, m: u32) -> u32 {
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        }
    }

    #[test]
    fn known_instants() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (2_147_483_647, "2038-01-19T03:14:07Z"),
            (2_147_483_648, "2038-01-19T03:14:08Z"),
            (4_102_444_800, "2100-01-01T00:00:00Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
            (-62_135_596_800, "0001-01-01T00:00:00Z"),
            (1_794_349_020, "2026-11-10T22:17:00Z"),
            (1_794_776_200, "2026-11-15T20:56:40Z"),
        ];
        for (epoch, text) in cases {
            assert_eq!(format_utc(epoch), text, "{epoch}");
            assert_eq!(parse_utc(text), Some(epoch), "{text}");
        }
    }

    #[test]
    fn leap_days() {
        // 2000 is a leap year (divisible by 400), 1900 and 2100 are not, 2024 is.
        assert!(parse_utc("2000-02-29T00:00:00Z").is_some());
        assert!(parse_utc("2024-02-29T12:00:00Z").is_some());
        assert_eq!(parse_utc("1900-02-29T00:00:00Z"), None);
        assert_eq!(parse_utc("2100-02-29T00:00:00Z"), None);
        assert_eq!(parse_utc("2023-02-29T00:00:00Z"), None);
        assert_eq!(
            parse_utc("2024-03-01T00:00:00Z").unwrap() - parse_utc("2024-02-28T00:00:00Z").unwrap(),
            2 * SECS_PER_DAY
        );
        assert_eq!(
            parse_utc("2023-03-01T00:00:00Z").unwrap() - parse_utc("2023-02-28T00:00:00Z").unwrap(),
            SECS_PER_DAY
        );
    }

    #[test]
    fn round_trips_across_eras() {
        // Every day boundary from 1600 to 2500 plus an odd second, checked against the
        // independent day counter.
        let start = parse_utc("1600-01-01T00:00:00Z").unwrap();
        let end = parse_utc("2500-01-01T00:00:00Z").unwrap();
        let mut t = start;
        let mut prev_day = None;
        while t < end {
            let probe = t + 3_723; // 01:02:03
            let s = format_utc(probe);
            assert_eq!(parse_utc(&s), Some(probe), "{s}");
            assert!(s.ends_with("T01:02:03Z"), "{s}");
            let day: u32 = s[8..10].parse().unwrap();
            if let Some(p) = prev_day {
                assert!(day == p + 1 || day == 1, "{s} after day {p}");
            }
            prev_day = Some(day);
            t += SECS_PER_DAY;
        }
    }

    #[test]
    fn negative_epochs_before_1970() {
        assert_eq!(format_utc(-86_400), "1969-12-31T00:00:00Z");
        assert_eq!(format_utc(-86_401), "1969-12-30T23:59:59Z");
        assert_eq!(parse_utc("1969-07-20T20:17:40Z"), Some(-14_182_940));
        assert_eq!(format_utc(-14_182_940), "1969-07-20T20:17:40Z");
    }

    #[test]
    fn rejects_other_forms() {
        for bad in [
            "",
            "2026-11-10T22:17:00",
            "2026-11-10 22:17:00Z",
            "2026-11-10T22:17:00+00:00",
            "2026-11-10T22:17:00.5Z",
            "2026-13-10T22:17:00Z",
            "2026-00-10T22:17:00Z",
            "2026-11-00T22:17:00Z",
            "2026-11-31T22:17:00Z",
            "2026-11-10T24:00:00Z",
            "2026-11-10T22:60:00Z",
            "2026-11-10T22:17:60Z",
            "2026-1a-10T22:17:00Z",
            "+026-11-10T22:17:00Z",
            "2026-11-10t22:17:00z",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_accepted_range_and_its_edges() {
        assert_eq!(format_utc(*TIME_RANGE.start()), "1970-01-01T00:00:01Z");
        assert_eq!(format_utc(*TIME_RANGE.end()), "9999-12-31T23:59:59Z");
        assert_eq!(parse_utc(&format_utc(LAST_TIME + 1)), None, "year 10000");
        for (t, want) in [
            (None, RowTime::Missing),
            (Some(0), RowTime::Missing),
            (Some(1), RowTime::At(1)),
            (Some(LAST_TIME), RowTime::At(LAST_TIME)),
            (Some(LAST_TIME + 1), RowTime::Bad),
            (Some(10_i64.pow(13)), RowTime::Bad),
            (Some(i64::MAX), RowTime::Bad),
            (Some(-5), RowTime::Bad),
            (Some(i64::MIN), RowTime::Bad),
        ] {
            assert_eq!(row_time(t), want, "{t:?}");
            let valid = match want {
                RowTime::At(t) => Some(t),
                _ => None,
            };
            assert_eq!(valid_time(t), valid, "{t:?}");
        }
    }

    mod props {
        use proptest::prelude::*;

        use super::super::*;
        use super::days_in_month;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn every_accepted_time_round_trips(t in TIME_RANGE) {
                let s = format_utc(t);
                prop_assert_eq!(s.len(), 20, "{}", s);
                prop_assert_eq!(parse_utc(&s), Some(t), "{}", s);
                prop_assert_eq!(row_time(Some(t)), RowTime::At(t));
            }

            #[test]
            fn times_past_9999_are_refused(t in (LAST_TIME + 1)..=i64::MAX) {
                prop_assert_eq!(parse_utc(&format_utc(t)), None);
                prop_assert_eq!(row_time(Some(t)), RowTime::Bad);
            }

            #[test]
            fn negative_times_are_refused(t in i64::MIN..0) {
                prop_assert!(format_utc(t).ends_with('Z'));
                prop_assert_eq!(row_time(Some(t)), RowTime::Bad);
                prop_assert_eq!(valid_time(Some(t)), None);
            }

            #[test]
            fn what_parses_formats_back_and_is_in_range_from_1970(
                (y, mo, d) in (0..=9999u32, 0..=13u32, 0..=32u32),
                (h, mi, se) in (0..=24u32, 0..=60u32, 0..=60u32),
            ) {
                let s = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}Z");
                let real = (1..=12).contains(&mo)
                    && (1..=days_in_month(i64::from(y), mo)).contains(&d)
                    && h < 24 && mi < 60 && se < 60;
                let parsed = parse_utc(&s);
                prop_assert_eq!(parsed.is_some(), real, "{}", s);
                if let Some(t) = parsed {
                    prop_assert_eq!(&format_utc(t), &s);
                    // Fixed width: text order is time order.
                    let in_range = s.as_str() >= "1970-01-01T00:00:01Z";
                    prop_assert_eq!(TIME_RANGE.contains(&t), in_range, "{}", s);
                }
            }

            #[test]
            fn parse_never_panics(s in "\\PC{0,24}", near in "[0-9TZ:+-]{20}") {
                let _ = parse_utc(&s);
                if let Some(t) = parse_utc(&near) {
                    prop_assert_eq!(format_utc(t), near);
                }
            }
        }
    }

    #[test]
    fn extreme_epochs_do_not_panic() {
        for t in [i64::MIN / 2, i64::MAX / 2, i64::MIN, i64::MAX] {
            let s = format_utc(t);
            assert!(s.ends_with('Z'), "{s}");
        }
    }
}
