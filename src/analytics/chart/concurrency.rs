//! Peak concurrent streams per local day, overall and by stream decision.

use super::clock::day_start;
use super::input::{count, date_labels, Input};
use super::series::{Series, DECISIONS, MAX_CONCURRENT};
use crate::analytics::session::StreamDecision;
use crate::analytics::store::decision_code;

/// Peak concurrent streams per local day: one sweep over all streams of the window
/// (ungrouped sessions), then the maximum of the running count within each day, including
/// the streams still running at midnight. The events are sorted once (O(n log n)); each
/// series is a linear pass over them, and each day a binary search into its steps.
pub(super) fn concurrency(input: &mut Input) -> (Vec<String>, Vec<Series>) {
    let days = input.days(true);
    let bounds: Vec<Option<(i64, i64)>> = days
        .iter()
        .map(|&d| {
            let start = day_start(input.tz, d)?;
            let end = d.tomorrow().ok().and_then(|t| day_start(input.tz, t))?;
            Some((start, end))
        })
        .collect();
    let mut no_end = 0;
    let mut unknown = 0;
    // One i64 per event, sorted: the second, then 0 for a stop and 1 for a start (stops
    // sort first at a second), then the decision. 8 bytes instead of a 16-byte tuple.
    let mut events: Vec<i64> = Vec::with_capacity(input.rows.len() * 2);
    for r in &input.rows {
        match r.end() {
            Some(end) => {
                let d = decision_code(r.decision);
                events.push(event_key(r.started, true, d));
                events.push(event_key(end, false, d));
                unknown += usize::from(r.decision == StreamDecision::Unknown);
            }
            None => no_end += 1,
        }
    }
    // The rows are not needed any more: give their memory back before the steps are built.
    input.rows = Vec::new();
    events.sort_unstable();
    let per_day = |pick: &dyn Fn(i64) -> bool| -> Vec<u64> {
        let steps = steps_of_sorted(
            events
                .iter()
                .filter(|&&e| pick(e & 3))
                .map(|&e| (e >> 3, if e & 4 == 0 { -1 } else { 1 })),
        );
        bounds
            .iter()
            .map(|b| b.map_or(0, |(start, end)| peak_within(&steps, start, end)))
            .collect()
    };
    let mut series: Vec<Series> = DECISIONS
        .iter()
        .map(|&want| Series {
            name: want.label().to_string(),
            data: per_day(&|d| d == decision_code(want)),
        })
        .collect();
    series.push(Series {
        name: MAX_CONCURRENT.to_string(),
        data: per_day(&|_| true),
    });
    drop(events);
    if no_end > 0 {
        input.notes.push(format!(
            "{} without a stop time left out",
            count(no_end, "session", "sessions")
        ));
    }
    if unknown > 0 {
        input.notes.push(format!(
            "{} with an unknown stream decision counted only in {MAX_CONCURRENT}",
            count(unknown, "stream", "streams")
        ));
    }
    (date_labels(&days), series)
}

/// Event times beyond this are clamped to it. Days are within jiff's range (about ±2^38 s),
/// so an event past the limit is past every day either way, and the peaks are unchanged.
const EVENT_TIME_LIMIT: i64 = 1 << 59;

/// A concurrency event as one sortable number: `(second, stop 0 / start 1, decision code)`.
fn event_key(t: i64, start: bool, decision: i64) -> i64 {
    (t.clamp(-EVENT_TIME_LIMIT, EVENT_TIME_LIMIT) << 3) | (i64::from(start) << 2) | decision
}

/// [`steps_of_sorted`] of `(start, end)` intervals in any order.
#[cfg(test)]
fn running_counts(intervals: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut events: Vec<(i64, i8)> = Vec::with_capacity(intervals.len() * 2);
    for &(start, end) in intervals {
        events.push((start, 1));
        events.push((end, -1));
    }
    events.sort_unstable();
    steps_of_sorted(events.into_iter())
}

/// The running number of streams as a step function: `(second, count from then on)`, one
/// entry per second with events, from `(second, +1 start / -1 stop)` events in time order
/// (stops first within a second). Only the count after *all* events of a second is kept:
/// that is Tautulli's "stop before start at the same second" (stops only lower the count,
/// starts only raise it, so with stops first the peak of the second is its final count),
/// and back-to-back streams never overlap.
fn steps_of_sorted(events: impl Iterator<Item = (i64, i8)>) -> Vec<(i64, i64)> {
    let mut steps: Vec<(i64, i64)> = Vec::new();
    let mut running = 0i64;
    for (t, delta) in events {
        running += i64::from(delta);
        match steps.last_mut() {
            Some(last) if last.0 == t => last.1 = running,
            _ => steps.push((t, running)),
        }
    }
    steps
}

/// The highest running count at any moment of `[start, end)`: the count carried in at
/// `start` (streams begun earlier and still running) and every step inside.
fn peak_within(steps: &[(i64, i64)], start: i64, end: i64) -> u64 {
    let first_after = steps.partition_point(|&(t, _)| t <= start);
    let carried = first_after.checked_sub(1).map_or(0, |i| steps[i].1);
    let inside = steps[first_after..]
        .iter()
        .take_while(|&&(t, _)| t < end)
        .map(|&(_, c)| c);
    u64::try_from(inside.fold(carried, i64::max)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::chart::testutil::*;

    #[test]
    fn back_to_back_streams_are_not_concurrent() {
        let now = utc(2026, 11, 21, 23, 0);
        let t = utc(2026, 11, 21, 10, 0);
        let sessions = vec![
            s(1, t, t + H),
            s(2, t + H, t + 2 * H),
            s(3, t + 2 * H, t + 3 * H),
        ];
        let c = utc_chart(ChartKind::Concurrency, &sessions, now, 1);
        assert_eq!(
            names(&c),
            ["Direct Play", "Direct Stream", "Transcode", MAX_CONCURRENT]
        );
        assert_eq!(data(&c, MAX_CONCURRENT), [1]);
        // One second of overlap makes them concurrent.
        let sessions = vec![s(1, t, t + H + 1), s(2, t + H, t + 2 * H)];
        let c = utc_chart(ChartKind::Concurrency, &sessions, now, 1);
        assert_eq!(data(&c, MAX_CONCURRENT), [2]);
    }

    #[test]
    fn nested_and_same_second_starts_stack_up() {
        let now = utc(2026, 11, 21, 23, 0);
        let t = utc(2026, 11, 21, 10, 0);
        let sessions = vec![
            s(1, t, t + 4 * H),
            Session {
                decision: StreamDecision::Transcode,
                ..s(2, t + H, t + 3 * H)
            },
            Session {
                decision: StreamDecision::Transcode,
                ..s(3, t + H, t + 2 * H)
            },
            // Starts when 3 stops: 3 -> 2 -> 3, never 4.
            s(4, t + 2 * H, t + 5 * H),
        ];
        let c = utc_chart(ChartKind::Concurrency, &sessions, now, 1);
        assert_eq!(data(&c, MAX_CONCURRENT), [3]);
        assert_eq!(data(&c, "Transcode"), [2]);
        // Direct play: 1 [t, t+4H) and 4 [t+2H, t+5H) overlap.
        assert_eq!(data(&c, "Direct Play"), [2]);
        assert_eq!(data(&c, "Direct Stream"), [0]);
    }

    #[test]
    fn overlap_across_midnight_is_carried_into_the_next_day() {
        let now = utc(2026, 11, 21, 23, 0);
        let sessions = vec![
            // 22:00 on the 19th to 02:00 on the 20th.
            s(1, utc(2026, 11, 19, 22, 0), utc(2026, 11, 20, 2, 0)),
            // Starts at 01:00 on the 20th, while 1 still runs.
            ep(2, utc(2026, 11, 20, 1, 0), utc(2026, 11, 20, 3, 0)),
            // A stream running through the whole 21st, begun on the 20th.
            s(3, utc(2026, 11, 20, 23, 0), utc(2026, 11, 22, 1, 0)),
        ];
        let c = utc_chart(ChartKind::Concurrency, &sessions, now, 3);
        assert_eq!(c.categories, ["2026-11-19", "2026-11-20", "2026-11-21"]);
        // The 20th: 1 carried in at midnight plus 2 at 01:00 -> 2 (Tautulli, counting only
        // streams started that day, would say 1 for the 20th).
        assert_eq!(data(&c, MAX_CONCURRENT), [1, 2, 1]);
        // A stream ending exactly at midnight does not reach the next day.
        let sessions = vec![s(1, utc(2026, 11, 20, 22, 0), utc(2026, 11, 21, 0, 0))];
        let c = utc_chart(ChartKind::Concurrency, &sessions, now, 2);
        assert_eq!(data(&c, MAX_CONCURRENT), [1, 0]);
        // A stop time absurdly far away still runs through every day after the start.
        let sessions = vec![
            s(1, utc(2026, 11, 20, 22, 0), i64::MAX),
            s(2, utc(2026, 11, 21, 5, 0), utc(2026, 11, 21, 6, 0)),
        ];
        let c = utc_chart(ChartKind::Concurrency, &sessions, now, 3);
        assert_eq!(data(&c, MAX_CONCURRENT), [0, 1, 2]);
    }

    #[test]
    fn streams_without_an_end_are_left_out_and_counted() {
        let now = utc(2026, 11, 21, 23, 0);
        let t = utc(2026, 11, 21, 10, 0);
        let open = Session {
            stopped: None,
            play_seconds: 0,
            ..s(2, t + 60, t + 60)
        };
        // No stop but a known play time: ends at start + played + paused.
        let derived = Session {
            stopped: None,
            play_seconds: 600,
            paused_seconds: 60,
            ..s(3, t + 2 * H, t + 2 * H)
        };
        let unknown = Session {
            decision: StreamDecision::Unknown,
            ..s(4, t + 2 * H + 600, t + 3 * H)
        };
        let sessions = vec![s(1, t, t + H), open, derived, unknown];
        let c = utc_chart(ChartKind::Concurrency, &sessions, now, 1);
        // 3 runs [t+2H, t+2H+660): 4 starts at t+2H+600 -> 2 concurrent.
        assert_eq!(data(&c, MAX_CONCURRENT), [2]);
        assert_eq!(data(&c, "Direct Play"), [1]);
        assert_eq!(
            c.notes,
            [
                "1 session without a stop time left out",
                "1 stream with an unknown stream decision counted only in Max. Concurrent Streams"
            ]
        );
    }

    #[test]
    fn concurrency_uses_streams_not_viewings() {
        let now = utc(2026, 11, 21, 23, 0);
        let t = utc(2026, 11, 21, 10, 0);
        // Two sessions of one viewing on two devices at once are two streams.
        let sessions = vec![
            s(1, t, t + H),
            Session {
                reference_id: 1,
                ..s(2, t + 600, t + 1200)
            },
        ];
        let c = utc_chart(ChartKind::Concurrency, &sessions, now, 1);
        assert_eq!(data(&c, MAX_CONCURRENT), [2]);
    }

    #[test]
    fn event_keys_sort_by_second_then_stops_first_and_decode() {
        let times = [-90_000, -1, 0, 1, 1_800_000_000, utc(2026, 3, 29, 1, 0)];
        let mut keys = Vec::new();
        for &t in &times {
            for start in [true, false] {
                for d in 0..4 {
                    let k = event_key(t, start, d);
                    assert_eq!((k >> 3, (k & 4) != 0, k & 3), (t, start, d));
                    keys.push((t, start, d, k));
                }
            }
        }
        let mut by_key = keys.clone();
        by_key.sort_by_key(|e| e.3);
        keys.sort_by_key(|e| (e.0, e.1, e.2));
        assert_eq!(by_key, keys);
        // Far beyond any day: clamped, still after (or before) everything else.
        assert!(event_key(i64::MAX, false, 0) > event_key(utc(9999, 1, 1, 0, 0), true, 3));
        assert!(event_key(i64::MIN, true, 3) < event_key(-utc(9999, 1, 1, 0, 0), false, 0));
    }

    #[test]
    fn running_counts_apply_stops_before_starts() {
        let steps = running_counts(&[(0, 10), (10, 20), (5, 10), (10, 10)]);
        // At 10: two stops (and the empty stream's stop) before two starts.
        assert_eq!(steps, [(0, 1), (5, 2), (10, 1), (20, 0)]);
        assert_eq!(peak_within(&steps, 0, 5), 1);
        assert_eq!(peak_within(&steps, 0, 6), 2);
        assert_eq!(peak_within(&steps, 10, 30), 1);
        assert_eq!(peak_within(&steps, 20, 30), 0);
        assert_eq!(peak_within(&steps, -5, 0), 0);
    }
}
