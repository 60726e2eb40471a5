//! Charts computed from the local session store, exactly and offline, in an explicit time
//! zone: plays (or watch time) by date / hour / weekday, by stream type, peak concurrent
//! streams per day, top users and top platforms.
//!
//! The rules mirror Tautulli's own graphs (as of Tautulli 2.17) where those are right, so the
//! numbers agree with `get_plays_by_date` & co. on the same data and time zone:
//! - A *play* is a viewing: the sessions sharing a `reference_id` count once per bucket
//!   (Tautulli's `GROUP BY date_played, reference_id`); a viewing split over two days counts
//!   on both days. The viewing is typed (media, stream decision, platform, user) by its
//!   first session. With grouping off (`analytics.grouping`) every session is a viewing.
//! - On the duration axis a viewing adds the seconds of its sessions in the bucket
//!   (`stopped - started - paused`, Tautulli's `y_axis=duration`); concurrency has no such
//!   axis.
//! - The window holds the sessions that ended (else started) at or after `now - days * 86400`
//!   and started at or before `now`. Per-day charts show every local calendar day of the
//!   window, zeros included. A session without a stop time (NULL or 0, as imports write) is
//!   in no plays chart, as in Tautulli (its window is `stopped >= ...`); the notes say how
//!   many.
//! - Top users and platforms count each viewing once over the window; users Tautulli no
//!   longer lists are left out, platforms are told apart by raw name and ties ordered as
//!   Tautulli's SQL returns them (the `top` module says how).
//! - Series: "TV" (episode), "Movies" (movie), "Music" (track), "Live TV" (any live session),
//!   plus "Total", their per-bucket sum (never added again). TV and Movies are always
//!   present; Music and Live TV only when the whole data set has such a session at all
//!   (Tautulli shows them when a library of that type exists, which the store does not
//!   know offline). Other media types (clips) are left out, as Tautulli does, and the chart
//!   says how many.
//!
//! Where Tautulli is wrong we are not: concurrency counts real overlap across midnight (a
//! stream that began yesterday and still runs counts today), and days are local calendar
//! days through DST changes (a 23- or 25-hour day is one day; the repeated hour at the end
//! of DST holds the plays of both).
//!
//! Cost: a chart reads [`ChartRow`](data::ChartRow)s (numbers only, a few dozen bytes a
//! session), converts start times to local time through the zone's UTC offsets looked up once for the data's
//! range, counts viewings remembering only references that several sessions share, and
//! sweeps the concurrency events sorted once: O(n log n) for n sessions, whatever the days.

mod axis;
mod by_date;
mod by_hour_and_weekday;
mod clock;
mod concurrency;
mod data;
mod input;
mod kind;
mod series;
mod stream_types;
#[cfg(test)]
pub(super) mod testutil;
mod top;

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

pub use crate::analytics::window::Window;
pub(crate) use axis::ChartOptions;
pub use axis::YAxis;
use by_date::plays_by_date;
use by_hour_and_weekday::{plays_by_hour, plays_by_weekday};
use concurrency::concurrency;
pub(crate) use data::ChartData;
use input::Input;
pub use kind::ChartKind;
pub use series::Series;
use stream_types::stream_types;
use top::{top, TopBy};

/// A computed chart: what the CLI prints as a table or JSON and host-sim draws as SVG.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Chart {
    pub kind: ChartKind,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub categories: Vec<String>,
    /// Type series first, then the sum series ("Total", or "Max. Concurrent Streams" for the
    /// concurrency chart, which is a maximum and not a sum).
    pub series: Vec<Series>,
    /// The IANA name the days and hours are local to.
    pub timezone: String,
    pub window: Window,
    /// What the values measure (viewings, or seconds watched).
    #[serde(default)]
    pub y_axis: YAxis,
    /// What was left out and why, e.g. "3 sessions without a stop time left out".
    pub notes: Vec<String>,
}

impl Chart {
    pub fn series_named(&self, name: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.name == name)
    }
}

/// Computes one chart from [`ChartData`]. `tz_name` is only recorded in the chart. A
/// duration axis on the concurrency chart (which has none) counts streams as always.
pub(crate) fn compute(
    kind: ChartKind,
    data: ChartData,
    tz: &TimeZone,
    tz_name: &str,
    window: Window,
    options: ChartOptions,
) -> Chart {
    let options = ChartOptions {
        y_axis: if options.y_axis.fits(kind) {
            options.y_axis
        } else {
            YAxis::Plays
        },
        ..options
    };
    let top_n = options.top_n;
    let mut input = Input::new(data, tz, window, &options, kind == ChartKind::Concurrency);
    let (mut title, x_label, mut y_label) = match kind {
        ChartKind::PlaysByDate => ("Plays by date", "Date", "Plays"),
        ChartKind::PlaysByHour => ("Plays by hour of day", "Hour of day", "Plays"),
        ChartKind::PlaysByWeekday => ("Plays by day of week", "Day of week", "Plays"),
        ChartKind::StreamTypes => ("Plays by stream type", "Date", "Plays"),
        ChartKind::Concurrency => (
            "Peak concurrent streams per day",
            "Date",
            "Concurrent streams",
        ),
        ChartKind::TopUsers => ("Top users", "User", "Plays"),
        ChartKind::TopPlatforms => ("Top platforms", "Platform", "Plays"),
    };
    let duration_title;
    if options.y_axis == YAxis::Duration {
        duration_title = match kind {
            ChartKind::TopUsers | ChartKind::TopPlatforms => format!("{title} by watch time"),
            _ => title.replacen("Plays", "Watch time", 1),
        };
        title = &duration_title;
        y_label = "Seconds watched";
    }
    let (categories, series) = match kind {
        ChartKind::PlaysByDate => plays_by_date(&mut input),
        ChartKind::PlaysByHour => plays_by_hour(&mut input),
        ChartKind::PlaysByWeekday => plays_by_weekday(&mut input),
        ChartKind::StreamTypes => stream_types(&mut input),
        ChartKind::Concurrency => concurrency(&mut input),
        ChartKind::TopUsers => top(&mut input, top_n, TopBy::User),
        ChartKind::TopPlatforms => top(&mut input, top_n, TopBy::Platform),
    };
    Chart {
        kind,
        title: format!("{title} ({})", window.describe()),
        x_label: x_label.to_string(),
        y_label: y_label.to_string(),
        categories,
        series,
        timezone: tz_name.to_string(),
        window,
        y_axis: options.y_axis,
        notes: input.notes,
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::Date;

    use super::clock::day_start;
    use super::series::MediaSeries;
    use super::*;
    use crate::analytics::chart::testutil::*;

    #[test]
    fn a_chart_round_trips_through_json() {
        let now = utc(2026, 11, 21, 12, 0);
        let sessions = vec![
            s(1, utc(2026, 11, 21, 10, 0), utc(2026, 11, 21, 11, 0)),
            Session {
                stopped: None,
                play_seconds: 0,
                ..s(2, utc(2026, 11, 21, 10, 0), 0)
            },
        ];
        let c = utc_chart(ChartKind::Concurrency, &sessions, now, 2);
        assert_eq!(c.notes, ["1 session without a stop time left out"]);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["kind"], "concurrency");
        assert_eq!(json["window"]["days"], 2);
        let back: Chart = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }

    /// Sessions over ~20 days before `now`: mixed media, decisions, users, platforms,
    /// some without a stop, some grouped into viewings with a later session.
    fn generate(seed: u64, now: i64, n: usize) -> Vec<Session> {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut out: Vec<Session> = Vec::new();
        for i in 0..n {
            let id = i as i64 + 1;
            let started = now - rng.below(20 * 86_400) - 60;
            let length = rng.below(4 * 3600);
            let mut sess = s(id, started, started + length);
            sess.media_type = [
                MediaType::Movie,
                MediaType::Episode,
                MediaType::Track,
                MediaType::Other,
            ][rng.below(4) as usize];
            sess.live = rng.below(10) == 0;
            sess.decision = [
                StreamDecision::DirectPlay,
                StreamDecision::DirectStream,
                StreamDecision::Transcode,
                StreamDecision::Unknown,
            ][rng.below(4) as usize];
            sess.user_id = rng.below(5);
            sess.user = format!("user{}", sess.user_id);
            sess.platform = ["Roku", "Chrome", "iOS", ""][rng.below(4) as usize].to_string();
            match rng.below(8) {
                0 => {
                    sess.stopped = None;
                    sess.play_seconds = 0;
                }
                1 if !out.is_empty() => {
                    // Continue an earlier viewing a little after it (maybe the next day).
                    let j = rng.below(out.len() as u64) as usize;
                    let prev = out[j].clone();
                    let gap = rng.below(30 * 3600);
                    let start = prev.end().unwrap_or(prev.started) + gap;
                    if start < now {
                        sess = Session {
                            id,
                            started: start,
                            stopped: Some(start + length),
                            play_seconds: length,
                            ..prev
                        };
                    }
                }
                _ => {}
            }
            out.push(sess);
        }
        out
    }

    /// The peak at any moment of a day by brute force: the running count is highest just
    /// after some start or at the day's start.
    fn brute_peak(streams: &[(i64, i64)], day: (i64, i64)) -> u64 {
        let running = |t: i64| streams.iter().filter(|&&(s, e)| s <= t && t < e).count() as u64;
        let mut best = running(day.0);
        for &(s, _) in streams {
            if s >= day.0 && s < day.1 {
                best = best.max(running(s));
            }
        }
        best
    }

    #[test]
    fn properties_hold_on_generated_data() {
        let zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"];
        // Around the Berlin fall-back so DST days are in range.
        let now = utc(2026, 11, 3, 15, 17);
        for seed in 1..=40u64 {
            let sessions = generate(seed, now, 60 + (seed as usize % 5) * 20);
            for (z, zone) in zones.iter().enumerate() {
                let tzone = tz(zone);
                let days = [1u32, 3, 7, 30][(seed as usize + z) % 4];
                let window = Window::last_days(now, days);
                let all = Window::all_time(now);
                for kind in ChartKind::ALL {
                    let c = compute_sessions(kind, &sessions, &tzone, zone, window, 3);
                    for series in &c.series {
                        assert_eq!(series.data.len(), c.categories.len(), "{kind} {zone}");
                    }
                    if kind == ChartKind::Concurrency {
                        continue;
                    }
                    assert_total_is_sum(&c);
                    if kind.is_per_day() {
                        assert_eq!(c.categories.len(), days as usize, "{kind}");
                    }
                }
                // Window plays never exceed all-time plays, per hour and in total.
                let hour_w =
                    compute_sessions(ChartKind::PlaysByHour, &sessions, &tzone, zone, window, 0);
                let hour_all =
                    compute_sessions(ChartKind::PlaysByHour, &sessions, &tzone, zone, all, 0);
                for h in 0..24 {
                    assert!(data(&hour_w, TOTAL)[h] <= data(&hour_all, TOTAL)[h]);
                }
                let date_w =
                    compute_sessions(ChartKind::PlaysByDate, &sessions, &tzone, zone, window, 0);
                let date_all =
                    compute_sessions(ChartKind::PlaysByDate, &sessions, &tzone, zone, all, 0);
                let sum = |c: &Chart| data(c, TOTAL).iter().sum::<u64>();
                assert!(sum(&date_w) <= sum(&date_all));
                // Per day too: every shown day of the window is a day of all time.
                for (i, day) in date_w.categories.iter().enumerate() {
                    if let Some(j) = date_all.categories.iter().position(|d| d == day) {
                        assert!(data(&date_w, TOTAL)[i] <= data(&date_all, TOTAL)[j]);
                    } else {
                        assert_eq!(data(&date_w, TOTAL)[i], 0);
                    }
                }
                // Top users with no limit add up to the same viewings as plays by weekday
                // (both count distinct (bucket, reference_id) with one user per viewing).
                let users =
                    compute_sessions(ChartKind::TopUsers, &sessions, &tzone, zone, window, 0);
                let refs: std::collections::BTreeSet<i64> = sessions
                    .iter()
                    .filter(|s| window.contains(s) && MediaSeries::of(s).is_some())
                    .filter(|s| s.stopped.is_some_and(|t| t > 0))
                    .map(|s| s.reference_id)
                    .collect();
                assert_eq!(sum(&users), refs.len() as u64);
                // Concurrency: equals a brute force per day, never more than the streams
                // touching that day, and each type never above the maximum.
                let c =
                    compute_sessions(ChartKind::Concurrency, &sessions, &tzone, zone, window, 0);
                let streams: Vec<(i64, i64)> = sessions
                    .iter()
                    .filter(|s| window.contains(s))
                    .filter_map(|s| s.end().map(|e| (s.started, e)))
                    .collect();
                for (i, day) in c.categories.iter().enumerate() {
                    let date: Date = day.parse().unwrap();
                    let d0 = day_start(&tzone, date).unwrap();
                    let d1 = day_start(&tzone, date.tomorrow().unwrap()).unwrap();
                    let peak = data(&c, MAX_CONCURRENT)[i];
                    assert_eq!(peak, brute_peak(&streams, (d0, d1)), "{zone} {day}");
                    let touching = streams.iter().filter(|&&(s, e)| s < d1 && e > d0).count();
                    assert!(peak as usize <= touching);
                    for name in ["Direct Play", "Direct Stream", "Transcode"] {
                        assert!(data(&c, name)[i] <= peak);
                    }
                }
            }
        }
    }
}
