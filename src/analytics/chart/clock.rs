//! Local calendar days and wall-clock times of epoch seconds in the chart's time zone.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use crate::analytics::window::SECONDS_PER_DAY;

/// Local wall-clock time of many epoch seconds, fast: the zone's UTC offsets over the
/// range the data spans are looked up once (a handful per year, at its transitions), so a
/// session costs a binary search over them instead of a time zone conversion. Times
/// outside that range are converted through the zone itself.
pub(super) struct LocalClock<'a> {
    tz: &'a TimeZone,
    /// `(from, offset seconds)`, ascending: the offset in force from `from` to the next.
    spans: Vec<(i64, i64)>,
    /// The range `spans` covers, inclusive.
    lo: i64,
    hi: i64,
}

/// More transitions than this in the data's range (thousands of years of DST) are not
/// cached; such times go through the zone one by one.
const MAX_CACHED_TRANSITIONS: usize = 100_000;

impl<'a> LocalClock<'a> {
    pub(super) fn new(tz: &'a TimeZone, lo: i64, hi: i64) -> LocalClock<'a> {
        let mut clock = LocalClock {
            tz,
            spans: Vec::new(),
            lo,
            hi,
        };
        let Ok(start) = Timestamp::from_second(lo) else {
            return clock;
        };
        if lo > hi || Timestamp::from_second(hi).is_err() {
            return clock;
        }
        let mut spans = vec![(lo, i64::from(tz.to_offset(start).seconds()))];
        for t in tz.following(start) {
            let at = t.timestamp().as_second();
            if at > hi {
                break;
            }
            if at <= spans[spans.len() - 1].0 || spans.len() >= MAX_CACHED_TRANSITIONS {
                return clock;
            }
            spans.push((at, i64::from(tz.to_offset(t.timestamp()).seconds())));
        }
        clock.spans = spans;
        clock
    }

    /// Local `(day since 1970-01-01, second of that day)` of `t`; `None` outside jiff's
    /// range (such a session is left out, and counted).
    pub(super) fn local(&self, t: i64) -> Option<(i64, i64)> {
        let offset = if !self.spans.is_empty() && t >= self.lo && t <= self.hi {
            let i = self.spans.partition_point(|&(from, _)| from <= t);
            self.spans[i - 1].1
        } else {
            i64::from(self.tz.to_offset(Timestamp::from_second(t).ok()?).seconds())
        };
        let local = t + offset;
        Some((
            local.div_euclid(SECONDS_PER_DAY),
            local.rem_euclid(SECONDS_PER_DAY),
        ))
    }
}

/// 1970-01-01: day 0 of the local day numbers.
const EPOCH_DAY: Date = Date::constant(1970, 1, 1);

pub(super) fn day_number(d: Date) -> Option<i64> {
    d.since(EPOCH_DAY).ok().map(|s| i64::from(s.get_days()))
}

pub(super) fn date_of_day(n: i64) -> Option<Date> {
    Span::new()
        .try_days(n)
        .ok()
        .and_then(|span| EPOCH_DAY.checked_add(span).ok())
}

/// Local wall-clock time of an epoch second; `None` outside jiff's range.
pub(super) fn local(tz: &TimeZone, t: i64) -> Option<DateTime> {
    Timestamp::from_second(t).ok().map(|ts| tz.to_datetime(ts))
}

/// Epoch second of the start of a local calendar day (midnight, or the first valid time
/// when a DST gap swallows midnight).
pub(super) fn day_start(tz: &TimeZone, day: Date) -> Option<i64> {
    tz.to_zoned(DateTime::from(day))
        .ok()
        .map(|z| z.timestamp().as_second())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::chart::testutil::*;

    #[test]
    fn the_local_clock_agrees_with_the_zone() {
        let zones = [
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Asia/Kolkata",
            "Australia/Lord_Howe",
            "Pacific/Apia",
            "America/Sao_Paulo",
        ];
        let (lo, hi) = (utc(2008, 1, 1, 0, 0), utc(2030, 1, 1, 0, 0));
        let mut rng = Rng(0x5eed);
        for zone in zones {
            let tzone = tz(zone);
            let clock = LocalClock::new(&tzone, lo, hi);
            assert!(!clock.spans.is_empty(), "{zone}");
            let check = |t: i64| {
                let dt = local(&tzone, t).unwrap();
                let (day, second) = clock.local(t).unwrap();
                assert_eq!(date_of_day(day), Some(dt.date()), "{zone} {t}");
                let wall = i64::from(dt.hour()) * 3600
                    + i64::from(dt.minute()) * 60
                    + i64::from(dt.second());
                assert_eq!(second, wall, "{zone} {t}");
                assert_eq!(day_number(dt.date()), Some(day));
            };
            for &(from, _) in &clock.spans {
                for t in [from - 1, from, from + 1] {
                    check(t);
                }
            }
            for _ in 0..5_000 {
                // Inside the cached range and beyond it on both sides.
                check(lo - 400_000_000 + rng.below((hi - lo + 800_000_000) as u64));
            }
            assert_eq!(clock.local(i64::MAX), None);
            assert_eq!(clock.local(i64::MIN), None);
        }
    }

    #[test]
    fn the_time_zone_moves_a_play_to_another_day_and_hour() {
        let now = utc(2026, 11, 21, 12, 0);
        // 2026-11-20 23:30 UTC = 2026-11-21 00:30 in Berlin (CET, +1) = 18:30 in New York.
        let sessions = vec![s(1, utc(2026, 11, 20, 23, 30), utc(2026, 11, 21, 1, 0))];
        let w = Window::last_days(now, 2);
        let by_day = |zone| chart(ChartKind::PlaysByDate, &sessions, zone, w);
        assert_eq!(data(&by_day("UTC"), TOTAL), [1, 0]);
        assert_eq!(data(&by_day("Europe/Berlin"), TOTAL), [0, 1]);
        assert_eq!(data(&by_day("America/New_York"), TOTAL), [1, 0]);
        let hour = |zone| {
            let c = chart(ChartKind::PlaysByHour, &sessions, zone, w);
            data(&c, TOTAL).iter().position(|&n| n == 1).unwrap()
        };
        assert_eq!(hour("UTC"), 23);
        assert_eq!(hour("Europe/Berlin"), 0);
        assert_eq!(hour("America/New_York"), 18);
        // Weekday: Friday 20th in UTC and New York, Saturday 21st in Berlin.
        let weekday = |zone| {
            let c = chart(ChartKind::PlaysByWeekday, &sessions, zone, w);
            let i = data(&c, TOTAL).iter().position(|&n| n == 1).unwrap();
            c.categories[i].clone()
        };
        assert_eq!(weekday("UTC"), "Friday");
        assert_eq!(weekday("Europe/Berlin"), "Saturday");
        assert_eq!(weekday("America/New_York"), "Friday");
    }

    #[test]
    fn berlin_spring_forward_day_has_23_hours() {
        // 2026-03-29: 02:00 CET -> 03:00 CEST. Local midnight = 2026-03-28T23:00Z,
        // next midnight = 2026-03-29T22:00Z.
        let zone = "Europe/Berlin";
        let now = utc(2026, 3, 30, 10, 0);
        let sessions = vec![
            // 01:30 CET
            s(1, utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 0, 50)),
            // 03:30 CEST (one real hour later)
            ep(2, utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 1, 50)),
            // 23:30 CEST on the 29th = 21:30Z: still the 29th.
            ep(3, utc(2026, 3, 29, 21, 30), utc(2026, 3, 29, 21, 50)),
            // 23:30 CET on the 28th = 22:30Z on the 28th.
            s(4, utc(2026, 3, 28, 22, 30), utc(2026, 3, 28, 22, 45)),
            // 00:10 CEST on the 30th = 22:10Z on the 29th.
            s(5, utc(2026, 3, 29, 22, 10), utc(2026, 3, 29, 22, 20)),
        ];
        let w = Window::last_days(now, 3);
        let c = chart(ChartKind::PlaysByDate, &sessions, zone, w);
        assert_eq!(c.categories, ["2026-03-28", "2026-03-29", "2026-03-30"]);
        assert_eq!(data(&c, TOTAL), [1, 3, 1]);
        assert_eq!(c.timezone, zone);
        let c = chart(ChartKind::PlaysByHour, &sessions, zone, w);
        let total = data(&c, TOTAL);
        assert_eq!((total[1], total[2], total[3]), (1, 0, 1));
        assert_eq!((total[23], total[0]), (2, 1));
        // Concurrency: the day boundary is local midnight. A stream from 23:50 CET on the
        // 28th to 00:10 CEST on the 30th spans the whole 23-hour day.
        let long = vec![s(9, utc(2026, 3, 28, 22, 50), utc(2026, 3, 29, 22, 10))];
        let c = chart(ChartKind::Concurrency, &long, zone, w);
        assert_eq!(data(&c, MAX_CONCURRENT), [1, 1, 1]);
        // Ending exactly at the 29th's local midnight (22:00Z) it does not reach the 30th.
        let ends_at_midnight = vec![s(9, utc(2026, 3, 29, 12, 0), utc(2026, 3, 29, 22, 0))];
        let c = chart(ChartKind::Concurrency, &ends_at_midnight, zone, w);
        assert_eq!(data(&c, MAX_CONCURRENT), [0, 1, 0]);
    }

    #[test]
    fn berlin_fall_back_repeated_hour_holds_both_plays() {
        // 2026-10-25: 03:00 CEST -> 02:00 CET; 02:30 happens at 00:30Z and at 01:30Z.
        // Local day = [2026-10-24T22:00Z, 2026-10-25T23:00Z): 25 hours.
        let zone = "Europe/Berlin";
        let now = utc(2026, 10, 26, 12, 0);
        let sessions = vec![
            ep(1, utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 0, 50)),
            s(2, utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 1, 50)),
            // 23:30 CET on the 25th = 22:30Z.
            s(3, utc(2026, 10, 25, 22, 30), utc(2026, 10, 25, 22, 45)),
            // 00:30 CET on the 26th = 23:30Z on the 25th.
            s(4, utc(2026, 10, 25, 23, 30), utc(2026, 10, 25, 23, 45)),
        ];
        let w = Window::last_days(now, 2);
        let c = chart(ChartKind::PlaysByHour, &sessions, zone, w);
        let total = data(&c, TOTAL);
        assert_eq!(total[2], 2);
        assert_eq!(data(&c, "TV")[2], 1);
        assert_eq!(data(&c, "Movies")[2], 1);
        assert_eq!((total[1], total[3], total[23], total[0]), (0, 0, 1, 1));
        let c = chart(ChartKind::PlaysByDate, &sessions, zone, w);
        assert_eq!(c.categories, ["2026-10-25", "2026-10-26"]);
        assert_eq!(data(&c, TOTAL), [3, 1]);
        // A stream over the whole 25-hour day and 1 second into the next.
        let long = vec![s(9, utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 23, 0) + 1)];
        let c = chart(ChartKind::Concurrency, &long, zone, w);
        assert_eq!(data(&c, MAX_CONCURRENT), [1, 1]);
        let long = vec![s(9, utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 23, 0))];
        let c = chart(ChartKind::Concurrency, &long, zone, w);
        assert_eq!(data(&c, MAX_CONCURRENT), [1, 0]);
    }

    #[test]
    fn new_york_dst_changes() {
        let zone = "America/New_York";
        // Spring forward 2026-03-08: 02:00 EST -> 03:00 EDT. 06:30Z = 01:30 EST,
        // 07:30Z = 03:30 EDT. Local day = [05:00Z on the 8th, 04:00Z on the 9th).
        let spring = vec![
            s(1, utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 6, 45)),
            s(2, utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 7, 45)),
            // 23:30 EDT on the 8th = 03:30Z on the 9th.
            s(3, utc(2026, 3, 9, 3, 30), utc(2026, 3, 9, 3, 45)),
            // 00:30 EDT on the 9th = 04:30Z.
            s(4, utc(2026, 3, 9, 4, 30), utc(2026, 3, 9, 4, 45)),
        ];
        let w = Window::last_days(utc(2026, 3, 9, 12, 0), 2);
        let c = chart(ChartKind::PlaysByDate, &spring, zone, w);
        assert_eq!(c.categories, ["2026-03-08", "2026-03-09"]);
        assert_eq!(data(&c, TOTAL), [3, 1]);
        let c = chart(ChartKind::PlaysByHour, &spring, zone, w);
        let total = data(&c, TOTAL);
        assert_eq!(
            (total[0], total[1], total[2], total[3], total[23]),
            (1, 1, 0, 1, 1)
        );
        // Fall back 2026-11-01: 02:00 EDT -> 01:00 EST; 01:30 at 05:30Z and 06:30Z.
        let fall = vec![
            s(1, utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 5, 45)),
            ep(2, utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 6, 45)),
            // Overlapping the repeated hour: runs 05:50Z-06:40Z.
            s(3, utc(2026, 11, 1, 5, 50), utc(2026, 11, 1, 6, 40)),
        ];
        let w = Window::last_days(utc(2026, 11, 1, 20, 0), 1);
        let c = chart(ChartKind::PlaysByHour, &fall, zone, w);
        assert_eq!(data(&c, TOTAL)[1], 3);
        let c = chart(ChartKind::Concurrency, &fall, zone, w);
        assert_eq!(c.categories, ["2026-11-01"]);
        assert_eq!(data(&c, MAX_CONCURRENT), [2]);
    }
}
