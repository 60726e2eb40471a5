//! What every chart computes from: the window's rows in start order with their local start,
//! the media series shown, the viewings among the rows, the days shown, and the notes on
//! what was left out; plus the tally the bucketed charts share.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use super::clock::{date_of_day, day_number, local, LocalClock};
use super::data::{ChartData, ChartRow};
use super::series::{with_total, MediaSeries, Series};
use super::{ChartOptions, YAxis};
use crate::analytics::window::Window;
use crate::hash::FxHasher;

/// What every chart needs: the window's sessions in start order with their local start,
/// the media series of the data set, and the notes collected while computing.
pub(super) struct Input<'a> {
    pub(super) tz: &'a TimeZone,
    pub(super) clock: LocalClock<'a>,
    pub(super) window: Window,
    pub(super) rows: Vec<ChartRow>,
    pub(super) names: Vec<String>,
    pub(super) media: Vec<MediaSeries>,
    pub(super) notes: Vec<String>,
    /// Sum seconds instead of counting viewings (Tautulli's `y_axis=duration`).
    pub(super) duration: bool,
}

impl<'a> Input<'a> {
    /// `keep_unstopped`: keep the sessions without a stop time (the concurrency chart, which
    /// uses their played time when known); every plays chart leaves them out, as Tautulli's
    /// graphs do, and says how many.
    pub(super) fn new(
        data: ChartData,
        tz: &'a TimeZone,
        window: Window,
        options: &ChartOptions,
        keep_unstopped: bool,
    ) -> Input<'a> {
        let ChartData {
            mut rows,
            names,
            has_music,
            has_live,
        } = data;
        let media = MediaSeries::shown(has_music, has_live);
        rows.retain(|r| window.contains_span(r.started, r.end()));
        let before_stop = rows.len();
        if !keep_unstopped {
            rows.retain(|r| r.has_stop);
        }
        let unstopped = before_stop - rows.len();
        // The range the clock caches: every start and end jiff can convert.
        let valid = Timestamp::MIN.as_second()..=Timestamp::MAX.as_second();
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for t in rows
            .iter()
            .flat_map(|r| [Some(r.started), r.end()])
            .flatten()
        {
            if valid.contains(&t) {
                lo = lo.min(t);
                hi = hi.max(t);
            }
        }
        let clock = LocalClock::new(tz, lo, hi);
        let before = rows.len();
        rows.retain_mut(|r| match clock.local(r.started) {
            Some((day, second)) => match i32::try_from(day) {
                Ok(day) => {
                    r.local_day = day;
                    r.local_second = second as u32;
                    true
                }
                Err(_) => false,
            },
            None => false,
        });
        let out_of_range = before - rows.len();
        // Start order makes "the first session of a viewing" well defined (stable: equal
        // keys keep the order they were given in).
        rows.sort_by_key(|r| (r.started, r.id));
        if options.grouping {
            mark_shared_references(&mut rows);
        }
        let mut notes = Vec::new();
        if unstopped > 0 {
            notes.push(format!(
                "{} without a stop time left out",
                count(unstopped, "session", "sessions")
            ));
        }
        if out_of_range > 0 {
            notes.push(format!(
                "{} with a start time out of range left out",
                count(out_of_range, "session", "sessions")
            ));
        }
        Input {
            tz,
            clock,
            window,
            rows,
            names,
            media,
            notes,
            duration: options.y_axis == YAxis::Duration,
        }
    }

    /// Calls `f` once per distinct (bucket, reference_id) viewing (per session with grouping
    /// off), with its first session and its value: 1 on the plays axis, on the duration axis
    /// the [`ChartRow::graph_seconds`] of its sessions in the bucket (Tautulli's
    /// `SUM(...) GROUP BY bucket, reference_id`). Only sessions sharing a reference need
    /// remembering: a lone one is its own viewing.
    pub(super) fn viewings<K: Copy + Eq + Hash>(
        &self,
        bucket: impl Fn(&ChartRow) -> K,
        mut f: impl FnMut(K, &ChartRow, i64),
    ) {
        let value = |r: &ChartRow| if self.duration { r.graph_seconds() } else { 1 };
        if !self.duration {
            let mut seen: HashSet<(K, i64), BuildHasherDefault<FxHasher>> = HashSet::default();
            for r in &self.rows {
                let k = bucket(r);
                if !r.shared || seen.insert((k, r.reference_id)) {
                    f(k, r, 1);
                }
            }
            return;
        }
        // Duration: a shared viewing's seconds are summed before it is handed on; its first
        // session (start order) is the one that types it.
        let mut groups: HashMap<(K, i64), (usize, i64), BuildHasherDefault<FxHasher>> =
            HashMap::default();
        let mut order: Vec<(K, i64)> = Vec::new();
        for (i, r) in self.rows.iter().enumerate() {
            let k = bucket(r);
            if !r.shared {
                f(k, r, value(r));
                continue;
            }
            match groups.entry((k, r.reference_id)) {
                Entry::Occupied(mut e) => e.get_mut().1 += value(r),
                Entry::Vacant(e) => {
                    e.insert((i, value(r)));
                    order.push((k, r.reference_id));
                }
            }
        }
        for key in order {
            let (i, v) = groups[&key];
            f(key.0, &self.rows[i], v);
        }
    }

    /// The local calendar days the per-day charts show: `days` days ending today, or for
    /// all time the first..last day a session started (or, with `through_ends`, ended).
    pub(super) fn days(&mut self, through_ends: bool) -> Vec<Date> {
        let first_start = || self.rows.iter().map(|r| r.local_day).min();
        let (first, last) = if self.window.days > 0 {
            let Some(today) = local(self.tz, self.window.now).map(|dt| dt.date()) else {
                self.notes
                    .push("the window's end is out of range: no days shown".to_string());
                return Vec::new();
            };
            let back = Span::new()
                .try_days(i64::from(self.window.days) - 1)
                .and_then(|span| today.checked_sub(span));
            match back {
                Ok(first) => (first, today),
                Err(_) => {
                    let first = first_start().and_then(|d| date_of_day(i64::from(d)));
                    self.notes.push(
                        "the window reaches past the earliest date: days shown from the first play"
                            .to_string(),
                    );
                    let Some(first) = first else {
                        return Vec::new();
                    };
                    (first, today)
                }
            }
        } else {
            let mut last = self.rows.iter().map(|r| i64::from(r.local_day)).max();
            if through_ends {
                let ends = self
                    .rows
                    .iter()
                    .filter_map(|r| r.end())
                    .filter_map(|end| self.clock.local(end))
                    .map(|(day, _)| day)
                    .max();
                last = last.max(ends);
            }
            let first = first_start().and_then(|d| date_of_day(i64::from(d)));
            let (Some(first), Some(last)) = (first, last.and_then(date_of_day)) else {
                return Vec::new();
            };
            (first, last)
        };
        let mut days = Vec::new();
        let mut day = first;
        while day <= last {
            days.push(day);
            match day.tomorrow() {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        days
    }

    pub(super) fn media_labels(&self) -> Vec<String> {
        self.media.iter().map(|m| m.label().to_string()).collect()
    }

    pub(super) fn media_index(&self, r: &ChartRow) -> Option<usize> {
        let m = r.media_series()?;
        self.media.iter().position(|&x| x == m)
    }

    pub(super) fn note_other_media(&mut self, n: usize) {
        if n > 0 {
            self.notes.push(format!(
                "{} of other media types (not TV, movie, music or live) left out",
                count(n, "viewing", "viewings")
            ));
        }
    }

    pub(super) fn note_before_first_day(&mut self, n: usize) {
        if n > 0 {
            self.notes.push(format!(
                "{} started before the first day shown left out",
                count(n, "viewing", "viewings")
            ));
        }
    }
}

/// Marks the rows whose `reference_id` another row shares.
fn mark_shared_references(rows: &mut [ChartRow]) {
    let mut refs: Vec<i64> = rows.iter().map(|r| r.reference_id).collect();
    refs.sort_unstable();
    let mut shared: Vec<i64> = refs
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    drop(refs);
    shared.dedup();
    if shared.is_empty() {
        return;
    }
    for r in rows {
        r.shared = shared.binary_search(&r.reference_id).is_ok();
    }
}

pub(super) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(super) fn date_labels(days: &[Date]) -> Vec<String> {
    days.iter().map(|d| d.to_string()).collect()
}

/// Counts the viewings of `input` (or sums their seconds, on the duration axis) bucketed by
/// `bucket` into `names.len()` series by `n` categories, then appends "Total". Returns the
/// series and how many viewings had no category / no series.
pub(super) fn tally<K: Copy + Eq + Hash>(
    input: &Input,
    bucket: impl Fn(&ChartRow) -> K,
    n: usize,
    names: Vec<String>,
    category: impl Fn(K) -> Option<usize>,
    series: impl Fn(&ChartRow) -> Option<usize>,
) -> (Vec<Series>, usize, usize) {
    let mut data = vec![vec![0i64; n]; names.len()];
    let (mut uncategorised, mut unclassified) = (0, 0);
    input.viewings(bucket, |k, r, value| {
        let Some(c) = category(k) else {
            uncategorised += 1;
            return;
        };
        let Some(i) = series(r) else {
            unclassified += 1;
            return;
        };
        data[i][c] += value;
    });
    (
        with_total(names, non_negative(data)),
        uncategorised,
        unclassified,
    )
}

/// Summed values as the series hold them: only a broken row (stopped before started) can
/// make a sum of seconds negative, and such a sum shows as 0.
pub(super) fn non_negative(data: Vec<Vec<i64>>) -> Vec<Vec<u64>> {
    data.into_iter()
        .map(|row| row.into_iter().map(|v| v.max(0) as u64).collect())
        .collect()
}

/// The category of a local day among `days` (consecutive dates).
pub(super) fn day_category(days: &[Date]) -> impl Fn(i32) -> Option<usize> {
    let first = days.first().and_then(|&d| day_number(d));
    let n = days.len();
    move |day| {
        let i = i64::from(day) - first?;
        usize::try_from(i).ok().filter(|&i| i < n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::chart::testutil::*;

    #[test]
    fn a_grouped_viewing_counts_once_per_day_it_has_sessions_on() {
        let now = utc(2026, 11, 21, 12, 0);
        let base = utc(2026, 11, 18, 20, 0);
        let sessions = vec![
            // Viewing 10: three sessions on the 18th (paused twice), one on the 19th.
            ep(10, base, base + H),
            Session {
                reference_id: 10,
                ..ep(11, base + 2 * H, base + 3 * H)
            },
            Session {
                reference_id: 10,
                ..ep(12, base + 3 * H + 60, base + 3 * H + 600)
            },
            Session {
                reference_id: 10,
                ..ep(13, base + 27 * H, base + 28 * H)
            },
            // Another viewing on the 18th.
            s(14, base, base + H),
        ];
        let c = utc_chart(ChartKind::PlaysByDate, &sessions, now, 4);
        assert_eq!(c.categories[1], "2026-11-19");
        assert_eq!(data(&c, "TV"), [1, 1, 0, 0]);
        assert_eq!(data(&c, "Movies"), [1, 0, 0, 0]);
        assert_eq!(data(&c, "Total"), [2, 1, 0, 0]);
        // By hour: sessions at 20:00, 22:00, 23:01 and 23:00 (next day) -> viewing 10 once
        // in 20, 22, 23 each; the movie once in 20.
        let c = utc_chart(ChartKind::PlaysByHour, &sessions, now, 4);
        assert_eq!(data(&c, "TV")[20..24], [1, 0, 1, 1]);
        assert_eq!(data(&c, "Total")[20..24], [2, 0, 1, 1]);
        assert_eq!(data(&c, "Total").iter().sum::<u64>(), 4);
    }

    #[test]
    fn sessions_without_a_stop_time_are_in_no_plays_chart() {
        let now = utc(2026, 11, 21, 12, 0);
        let t = utc(2026, 11, 21, 8, 0);
        let sessions = vec![
            s(1, t, t + H),
            // A PlexWatch import: no stop, but a play time that gives it an end.
            Session {
                stopped: None,
                ..s(2, t + 2 * H, t + 3 * H)
            },
            Session {
                stopped: Some(0),
                ..s(3, t, t + H)
            },
        ];
        for kind in ChartKind::ALL {
            let c = utc_chart(kind, &sessions, now, 1);
            if kind == ChartKind::Concurrency {
                // Concurrency keeps those whose played time gives an end (3 overlaps 1).
                assert_eq!(data(&c, MAX_CONCURRENT), [2], "{kind}");
                continue;
            }
            assert_eq!(data(&c, TOTAL).iter().sum::<u64>(), 1, "{kind}");
            assert_eq!(
                c.notes,
                ["2 sessions without a stop time left out"],
                "{kind}"
            );
        }
    }

    #[test]
    fn duration_sums_the_seconds_of_a_viewing_in_each_bucket() {
        let now = utc(2026, 11, 21, 12, 0);
        let t = utc(2026, 11, 20, 20, 0);
        let sessions = vec![
            // One viewing: 20:00-21:00 with 10 min paused, resumed 22:00-22:30, and on the
            // next day 09:00-09:20.
            Session {
                paused_seconds: 600,
                ..ep(1, t, t + H)
            },
            Session {
                reference_id: 1,
                ..ep(2, t + 2 * H, t + 2 * H + 1800)
            },
            Session {
                reference_id: 1,
                ..ep(3, t + 13 * H, t + 13 * H + 1200)
            },
            s(4, t, t + 100),
        ];
        let options = ChartOptions {
            y_axis: YAxis::Duration,
            ..ChartOptions::plays(10)
        };
        let w = Window::last_days(now, 2);
        let c = compute_with(ChartKind::PlaysByDate, &sessions, "UTC", w, options);
        assert_eq!(c.title, "Watch time by date (last 2 days)");
        assert_eq!(c.y_axis, YAxis::Duration);
        assert_eq!(data(&c, "TV"), [3000 + 1800, 1200]);
        assert_eq!(data(&c, "Movies"), [100, 0]);
        assert_total_is_sum(&c);
        let c = compute_with(ChartKind::TopUsers, &sessions, "UTC", w, options);
        assert_eq!(data(&c, TOTAL), [3000 + 1800 + 1200 + 100]);
        assert_eq!(c.title, "Top users by watch time (last 2 days)");
    }

    #[test]
    fn grouping_off_counts_every_session() {
        let now = utc(2026, 11, 21, 12, 0);
        let t = utc(2026, 11, 21, 8, 0);
        let sessions = vec![
            ep(1, t, t + H),
            Session {
                reference_id: 1,
                ..ep(2, t + 2 * H, t + 3 * H)
            },
        ];
        let w = Window::last_days(now, 1);
        let on = compute_with(
            ChartKind::PlaysByDate,
            &sessions,
            "UTC",
            w,
            ChartOptions::plays(10),
        );
        assert_eq!(data(&on, TOTAL), [1]);
        let off = ChartOptions {
            grouping: false,
            ..ChartOptions::plays(10)
        };
        for kind in [
            ChartKind::PlaysByDate,
            ChartKind::TopUsers,
            ChartKind::TopPlatforms,
        ] {
            let c = compute_with(kind, &sessions, "UTC", w, off);
            assert_eq!(data(&c, TOTAL), [2], "{kind}");
        }
    }

    #[test]
    fn a_viewing_is_typed_by_its_first_session() {
        let now = utc(2026, 11, 21, 12, 0);
        let t = utc(2026, 11, 21, 8, 0);
        let sessions = vec![
            // Listed out of order on purpose: the earliest session decides.
            Session {
                reference_id: 1,
                decision: StreamDecision::Transcode,
                ..s(2, t + H, t + 2 * H)
            },
            Session {
                decision: StreamDecision::DirectStream,
                ..s(1, t, t + H / 2)
            },
        ];
        let c = utc_chart(ChartKind::StreamTypes, &sessions, now, 1);
        assert_eq!(
            names(&c),
            ["Direct Play", "Direct Stream", "Transcode", "Total"]
        );
        assert_eq!(data(&c, "Direct Stream"), [1]);
        assert_eq!(data(&c, "Transcode"), [0]);
        assert_eq!(data(&c, "Total"), [1]);
    }

    #[test]
    fn window_cuts_plays_and_keeps_started_before_first_day_out_of_the_days() {
        let now = utc(2026, 11, 21, 12, 0);
        let sessions = vec![
            // Started on the 19th at 13:00, ended on the 20th at 13:00, after the window
            // start (the 19th at 12:00): in the window, but its start day is not shown.
            s(1, utc(2026, 11, 19, 13, 0), utc(2026, 11, 20, 13, 0)),
            // Ended before the window start: out.
            s(2, utc(2026, 11, 19, 10, 0), utc(2026, 11, 19, 11, 0)),
            s(3, utc(2026, 11, 20, 10, 0), utc(2026, 11, 20, 11, 0)),
        ];
        let c = utc_chart(ChartKind::PlaysByDate, &sessions, now, 2);
        assert_eq!(c.categories, ["2026-11-20", "2026-11-21"]);
        assert_eq!(data(&c, "Total"), [1, 0]);
        assert_eq!(
            c.notes,
            ["1 viewing started before the first day shown left out"]
        );
        // By hour it still counts (hour 13) while session 2 does not.
        let c = utc_chart(ChartKind::PlaysByHour, &sessions, now, 2);
        assert_eq!(data(&c, "Total")[13], 1);
        assert_eq!(data(&c, "Total")[10], 1);
        assert_eq!(data(&c, "Total").iter().sum::<u64>(), 2);
    }

    #[test]
    fn all_time_spans_the_first_to_the_last_day_played() {
        let now = utc(2026, 11, 21, 12, 0);
        let sessions = vec![
            s(1, utc(2026, 11, 3, 10, 0), utc(2026, 11, 3, 11, 0)),
            ep(2, utc(2026, 11, 6, 23, 0), utc(2026, 11, 7, 1, 0)),
        ];
        let c = chart(
            ChartKind::PlaysByDate,
            &sessions,
            "UTC",
            Window::all_time(now),
        );
        assert_eq!(
            c.categories,
            ["2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06"]
        );
        assert_eq!(data(&c, "Total"), [1, 0, 0, 1]);
        assert_eq!(c.title, "Plays by date (all time)");
        // Concurrency runs through the last day a stream ended.
        let c = chart(
            ChartKind::Concurrency,
            &sessions,
            "UTC",
            Window::all_time(now),
        );
        assert_eq!(c.categories.len(), 5);
        assert_eq!(data(&c, MAX_CONCURRENT), [1, 0, 0, 1, 1]);
        // No sessions: no days, but every series is there.
        let c = chart(ChartKind::PlaysByDate, &[], "UTC", Window::all_time(now));
        assert!(c.categories.is_empty());
        assert_eq!(names(&c), ["TV", "Movies", "Total"]);
        assert!(c.series.iter().all(|s| s.data.is_empty()));
    }
}
