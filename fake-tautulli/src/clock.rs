//! The server's clock and its local time zone. Tautulli measures every time window back from
//! "now" and buckets days and hours in its host's local time (SQLite `'localtime'`, Python
//! `date.today()`), so a fake that is to agree with it needs both under test control.

use std::time::{SystemTime, UNIX_EPOCH};

use jiff::civil::{Date, Time};
use jiff::SignedDuration;

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// Day number 0: local days are counted from here, so they hash and subtract as integers.
const EPOCH_DATE: Date = jiff::civil::date(1970, 1, 1);

/// The wall clock in epoch seconds (the default "now" of a server).
pub fn real_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The Tautulli host's time zone: a fixed offset, or an IANA zone with its DST rules.
#[derive(Debug, Clone)]
pub enum Zone {
    /// Seconds east of UTC.
    Fixed(i64),
    Named(jiff::tz::TimeZone),
}

impl Zone {
    /// An IANA zone from the bundled database; the error says why the name is unusable.
    pub fn named(name: &str) -> Result<Zone, String> {
        jiff::tz::TimeZone::get(name)
            .map(Zone::Named)
            .map_err(|e| e.to_string())
    }

    /// Seconds east of UTC in force at `epoch`.
    pub fn offset(&self, epoch: i64) -> i64 {
        match self {
            Zone::Fixed(s) => *s,
            Zone::Named(tz) => jiff::Timestamp::from_second(epoch)
                .map_or(0, |t| i64::from(tz.to_offset(t).seconds())),
        }
    }

    /// Local wall-clock seconds since 1970-01-01T00:00 local.
    pub fn local_seconds(&self, epoch: i64) -> i64 {
        epoch + self.offset(epoch)
    }

    /// The local day of `epoch` (days since 1970-01-01).
    pub fn day(&self, epoch: i64) -> i64 {
        self.local_seconds(epoch).div_euclid(DAY)
    }

    /// The local hour of `epoch`, 0..=23.
    pub fn hour(&self, epoch: i64) -> usize {
        (self.local_seconds(epoch).rem_euclid(DAY) / 3600) as usize
    }

    /// `YYYY-MM-DDTHH:MM:SS` in local time (Python's naive `datetime.isoformat()`).
    pub fn iso(&self, epoch: i64) -> String {
        let local = self.local_seconds(epoch);
        let time = Time::midnight().wrapping_add(SignedDuration::from_secs(local.rem_euclid(DAY)));
        date(local.div_euclid(DAY)).to_datetime(time).to_string()
    }
}

/// An end of jiff's calendar (years -9999 to 9999, wider than Python's 1 to 9999, so no date
/// a real Tautulli can hold is lost): a day beyond it is clamped rather than failing a request.
fn clamp(day: i64) -> Date {
    if day < 0 {
        Date::MIN
    } else {
        Date::MAX
    }
}

/// The calendar date of a day number (days since 1970-01-01); clamped to jiff's range.
pub fn date(day: i64) -> Date {
    jiff::Span::new()
        .try_days(day)
        .and_then(|span| EPOCH_DATE.checked_add(span))
        .unwrap_or_else(|_| clamp(day))
}

/// The day number (days since 1970-01-01) of a calendar date.
pub fn day_number(date: Date) -> i64 {
    i64::from((date - EPOCH_DATE).get_days())
}

/// Day of the week of a day number, 0 = Sunday (SQLite's `strftime('%w')`).
pub fn weekday(day: i64) -> usize {
    date(day).weekday().to_sunday_zero_offset() as usize
}

/// `YYYY-MM-DD` of a day number.
pub fn date_string(day: i64) -> String {
    date(day).to_string()
}

/// The month of a day number as `year * 12 + month - 1`, so months count like days do.
pub fn month_of(day: i64) -> i64 {
    let d = date(day);
    i64::from(d.year()) * 12 + i64::from(d.month()) - 1
}

/// The day number of the first day of a [`month_of`] month; clamped to jiff's range.
pub fn first_day_of_month(month: i64) -> i64 {
    let year = i16::try_from(month.div_euclid(12)).ok();
    let first = year.and_then(|y| Date::new(y, (month.rem_euclid(12) + 1) as i8, 1).ok());
    day_number(first.unwrap_or_else(|| clamp(month)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        for day in [-800_000, -1, 0, 1, 19_000, 20_454, 2_000_000] {
            assert_eq!(day_number(date(day)), day, "{}", date(day));
        }
        assert_eq!(date_string(0), "1970-01-01");
        assert_eq!(date_string(20_454), "2026-01-01");
        assert_eq!(weekday(0), 4, "a Thursday");
        assert_eq!(weekday(20_454), 4, "2026-01-01 is a Thursday");
        assert_eq!(month_of(20_454), 2026 * 12, "January 2026");
        assert_eq!(date_string(first_day_of_month(2026 * 12 + 1)), "2026-02-01");
        assert_eq!(first_day_of_month(month_of(-1)), -31, "December 1969");
        assert_eq!((date(i64::MIN), date(i64::MAX)), (Date::MIN, Date::MAX));
    }

    #[test]
    fn fixed_offsets_move_days_and_hours() {
        // 2026-11-20T23:30:00Z
        let t = 1_795_217_400;
        let utc = Zone::Fixed(0);
        let cet = Zone::Fixed(3600);
        let ny = Zone::Fixed(-5 * 3600);
        assert_eq!(date_string(utc.day(t)), "2026-11-20");
        assert_eq!(date_string(cet.day(t)), "2026-11-21");
        assert_eq!(cet.hour(t), 0);
        assert_eq!(ny.hour(t), 18);
        assert_eq!(cet.iso(t), "2026-11-21T00:30:00");
    }

    #[test]
    fn named_zones_follow_dst() {
        let berlin = Zone::named("Europe/Berlin").unwrap();
        // 2026-03-29T00:30Z is 01:30 CET; 01:30Z is 03:30 CEST.
        assert_eq!(berlin.hour(1_774_744_200), 1);
        assert_eq!(berlin.hour(1_774_747_800), 3);
        assert_eq!(berlin.iso(1_774_747_800), "2026-03-29T03:30:00");
        // 2026-10-25T00:30Z is 02:30 CEST and 01:30Z is 02:30 CET: the hour repeats.
        assert_eq!(berlin.hour(1_792_888_200), 2);
        assert_eq!(berlin.hour(1_792_891_800), 2);
        assert!(Zone::named("Mars/Olympus_Mons").is_err());
    }
}
