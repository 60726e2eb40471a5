//! UTC timestamps in the two text shapes the Tracker deals with: items' `watched_at`
//! (`YYYY-MM-DDTHH:MM:SSZ`) and snapshot stamps (`YYYYMMDDTHHMMSSZ`).
//!
//! Only these fixed, zone-less shapes occur, so a few lines of civil-calendar arithmetic
//! (Howard Hinnant's `days_from_civil`) replace a date-time dependency.

const SECS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let month_from_march = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date `days` days after 1970-01-01, as (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=12, 1..=31).
    (year, month as u32, day as u32)
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
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let year = i64::from(num(0, 4)?);
    let month = num(5, 7)?;
    let day = num(8, 10)?;
    let hour = num(11, 13)?;
    let minute = num(14, 16)?;
    let second = num(17, 19)?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(
        days_from_civil(year, month, day) * SECS_PER_DAY
            + i64::from(hour * 3600 + minute * 60 + second),
    )
}

fn split(epoch: i64) -> (i64, u32, u32, i64, i64, i64) {
    let (year, month, day) = civil_from_days(epoch.div_euclid(SECS_PER_DAY));
    let secs = epoch.rem_euclid(SECS_PER_DAY);
    (year, month, day, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Formats epoch seconds as a snapshot stamp, `YYYYMMDDTHHMMSSZ` (sorts as text in time order
/// for years 0000-9999).
pub fn format_stamp(epoch: i64) -> String {
    let (y, mo, d, h, mi, s) = split(epoch);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// Formats epoch seconds in the items' `watched_at` shape, `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_watched_at(epoch: i64) -> String {
    let (y, mo, d, h, mi, s) = split(epoch);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
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
    }

    #[test]
    fn every_day_over_four_centuries_round_trips() {
        // Covers all leap rules (÷4, ÷100, ÷400) from 1900 to 2300.
        let start = days_from_civil(1900, 1, 1);
        let end = days_from_civil(2300, 12, 31);
        let mut expected = (1900, 1, 1);
        for day in start..=end {
            let (y, m, d) = civil_from_days(day);
            assert_eq!((y, m, d), expected, "day {day}");
            assert_eq!(days_from_civil(y, m, d), day);
            let epoch = day * SECS_PER_DAY + 3_723;
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
    fn stamps_sort_as_text_in_time_order() {
        let instants = [0, 59, 3_600, 86_399, 86_400, 951_825_600, 1_794_435_480];
        let stamps: Vec<String> = instants.iter().map(|&e| format_stamp(e)).collect();
        let mut sorted = stamps.clone();
        sorted.sort();
        assert_eq!(stamps, sorted);
    }
}
