//! Tautulli 2.17.2's graph commands computed from the play history, so a client's own
//! statistics can be checked against "what Tautulli would say" on the same data.
//!
//! The SQL is mirrored step by step:
//! - window: sessions with `stopped >= now - time_range days` (per month: since the first of
//!   the UTC month `time_range` months back), optional `user_id` list;
//! - viewings: `GROUP BY <bucket>, reference_id` (grouping on) or per session, so one viewing
//!   counts once per bucket (local day, hour, weekday, month) it has a session starting in;
//!   the viewing's type, stream decision, platform and user are those of its first session
//!   in the bucket (SQLite returns bare columns from the first row it scans of a group, and
//!   a group's sessions are scanned oldest first);
//! - `y_axis=duration`: the bucket sums `stopped - started - paused_counter` of the sessions
//!   (0 for a session without `stopped`) instead of counting viewings;
//! - categories: every day / hour / weekday / month of the window, zeros included; top-10
//!   charts list only platforms or users with plays.
//!
//! Every chart is one pass over the sessions plus one over its categories (a million
//! sessions over 3 650 days in well under a second), never sessions times days.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use serde::Serialize;

use crate::catalog::MediaType;
use crate::clock::{date_string, first_day_of_month, month_of, weekday, DAY};
use crate::ctx::{display_name, Ctx};
use crate::params::{parse_py_int, Params};
use crate::scenario::{Session, TranscodeDecision};

/// The graph commands this fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphKind {
    PlaysByDate,
    PlaysByDayOfWeek,
    PlaysByHourOfDay,
    PlaysPerMonth,
    PlaysByTop10Platforms,
    PlaysByTop10Users,
    PlaysByStreamType,
    ConcurrentStreamsByStreamType,
    StreamTypeByTop10Platforms,
    StreamTypeByTop10Users,
}

impl GraphKind {
    pub fn parse(cmd: &str) -> Option<GraphKind> {
        Some(match cmd {
            "get_plays_by_date" => GraphKind::PlaysByDate,
            "get_plays_by_dayofweek" => GraphKind::PlaysByDayOfWeek,
            "get_plays_by_hourofday" => GraphKind::PlaysByHourOfDay,
            "get_plays_per_month" => GraphKind::PlaysPerMonth,
            "get_plays_by_top_10_platforms" => GraphKind::PlaysByTop10Platforms,
            "get_plays_by_top_10_users" => GraphKind::PlaysByTop10Users,
            "get_plays_by_stream_type" => GraphKind::PlaysByStreamType,
            "get_concurrent_streams_by_stream_type" => GraphKind::ConcurrentStreamsByStreamType,
            "get_stream_type_by_top_10_platforms" => GraphKind::StreamTypeByTop10Platforms,
            "get_stream_type_by_top_10_users" => GraphKind::StreamTypeByTop10Users,
            _ => return None,
        })
    }
}

/// The parameters every graph command takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphParams {
    /// Days (months for `get_plays_per_month`); never 0 (Tautulli's `cast_to_int(x) or 30`).
    pub time_range: i64,
    /// `y_axis` other than `plays`: sum play seconds instead of counting viewings.
    pub duration: bool,
    /// `None`: every user. `Some(list)`: only these (an empty list matches nothing).
    pub user_ids: Option<Vec<i64>>,
    pub grouping: bool,
}

impl GraphParams {
    /// Parses the way Tautulli's web layer does: a `time_range` that is no integer or is 0
    /// means the default; a `user_id` list with anything but digits is ignored (all users).
    pub fn parse(p: &Params, kind: GraphKind, default_grouping: bool) -> GraphParams {
        let default_range = if kind == GraphKind::PlaysPerMonth {
            12
        } else {
            30
        };
        let time_range = p
            .get("time_range")
            .and_then(|v| parse_py_int(v))
            .filter(|&n| n != 0)
            .unwrap_or(default_range);
        let duration = p.get("y_axis").is_some_and(|v| v != "plays");
        GraphParams {
            time_range,
            duration,
            user_ids: p.get("user_id").and_then(|v| user_list(v)),
            grouping: graph_grouping(p.get("grouping").map(String::as_str), default_grouping),
        }
    }
}

/// Tautulli's `_make_user_cond`: a comma list of digit strings filters, anything else does not.
fn user_list(v: &str) -> Option<Vec<i64>> {
    if v.is_empty() {
        return None;
    }
    let parts: Vec<&str> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if !parts.iter().all(|s| s.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    Some(parts.iter().filter_map(|s| s.parse().ok()).collect())
}

/// The web layer's `grouping` handling for graphs and item stats: absent -> the server
/// setting; digits -> their value != 0; `false` -> off; any other text is a truthy Python
/// string (on), except `""` which is falsy (off).
pub fn graph_grouping(v: Option<&str>, default: bool) -> bool {
    match v {
        None => default,
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            v.bytes().any(|b| b != b'0')
        }
        Some("false") | Some("") => false,
        Some(_) => true,
    }
}

/// A chart: x-axis labels and one data row per series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Graph {
    pub categories: Vec<String>,
    pub series: Vec<Series>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Series {
    pub name: &'static str,
    pub data: Vec<i64>,
}

/// Media series of the plays charts, in Tautulli's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    Tv,
    Movies,
    Music,
    Live,
}

const MEDIA: [(Media, &str); 4] = [
    (Media::Tv, "TV"),
    (Media::Movies, "Movies"),
    (Media::Music, "Music"),
    (Media::Live, "Live TV"),
];

const STREAM_TYPES: [(TranscodeDecision, &str); 3] = [
    (TranscodeDecision::DirectPlay, "Direct Play"),
    (TranscodeDecision::Copy, "Direct Stream"),
    (TranscodeDecision::Transcode, "Transcode"),
];

/// Tautulli's `PLATFORM_NAME_OVERRIDES`, applied to top-10 platform labels.
const PLATFORM_NAME_OVERRIDES: &[(&str, &str)] = &[
    ("Konvergo", "Plex Media Player"),
    ("Mystery 3", "Playstation 3"),
    ("Mystery 4", "Playstation 4"),
    ("Mystery 5", "Xbox 360"),
    ("WebMAF", "Playstation 4"),
    ("windows", "Windows"),
    ("osx", "macOS"),
    ("macos", "macOS"),
];

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Which media series a chart shows: `has_library_type` of show / movie / artist / live
/// (Tautulli adds its Live TV library once it has seen a live play).
#[derive(Debug, Clone, Copy)]
struct Present([bool; 4]);

impl Present {
    fn of(ctx: &Ctx) -> Present {
        let has = |t: &str| ctx.scenario.libraries.iter().any(|l| l.section_type == t);
        let live = has("live")
            || ctx.catalog.items.iter().any(|i| i.live)
            || ctx.sessions.iter().any(|s| s.live);
        Present([has("show"), has("movie"), has("artist"), live])
    }
}

fn media_of(ctx: &Ctx, i: usize) -> Media {
    let item = ctx.item_of_session(i as u32);
    if ctx.sessions[i].live || item.live {
        Media::Live
    } else {
        match item.media_type {
            MediaType::Movie => Media::Movies,
            MediaType::Episode => Media::Tv,
        }
    }
}

/// SQL's `CASE WHEN stopped > 0 THEN (stopped - started) - paused_counter ELSE 0 END`.
fn graph_seconds(s: &Session) -> i64 {
    if s.stopped > 0 {
        s.stopped - s.started - s.paused_counter
    } else {
        0
    }
}

/// One viewing within a bucket: its first session (the bare columns) and summed seconds.
#[derive(Debug, Clone, Copy)]
struct Pick {
    index: usize,
    id: i64,
    seconds: i64,
}

impl Pick {
    fn value(&self, duration: bool) -> i64 {
        if duration {
            self.seconds
        } else {
            1
        }
    }
}

/// The window's sessions grouped `GROUP BY bucket, reference_id` (or per session), in
/// session order: callers look up each pick's session, and doing that in order keeps a
/// million-session history in cache.
fn viewings<K: Hash + Eq + Copy>(
    ctx: &Ctx,
    p: &GraphParams,
    since: i64,
    bucket: impl Fn(&Session) -> K,
) -> Vec<(K, Pick)> {
    let window = ctx
        .sessions
        .iter()
        .enumerate()
        .filter(|(_, s)| in_window(s, p, since));
    let alone = |i: usize, s: &Session| {
        let pick = Pick {
            index: i,
            id: s.id,
            seconds: graph_seconds(s),
        };
        (bucket(s), pick)
    };
    if !p.grouping {
        // One viewing per session: nothing to group.
        return window.map(|(i, s)| alone(i, s)).collect();
    }
    // Groups of two or more sessions: all but at most one member (ids are unique) name
    // another session as their reference. Only those groups need a map.
    let shared: HashSet<i64> = window
        .clone()
        .filter(|(_, s)| s.reference_id() != s.id)
        .map(|(_, s)| s.reference_id())
        .collect();
    let mut out = Vec::new();
    let mut groups: HashMap<(K, i64), Pick> = HashMap::new();
    for (i, s) in window {
        if !shared.contains(&s.reference_id()) {
            out.push(alone(i, s));
            continue;
        }
        let seconds = graph_seconds(s);
        groups
            .entry((bucket(s), s.reference_id()))
            .and_modify(|g| {
                g.seconds += seconds;
                if s.id < g.id {
                    g.index = i;
                    g.id = s.id;
                }
            })
            .or_insert(Pick {
                index: i,
                id: s.id,
                seconds,
            });
    }
    out.extend(groups.into_iter().map(|((k, _), g)| (k, g)));
    out.sort_unstable_by_key(|(_, g)| g.index);
    out
}

fn in_window(s: &Session, p: &GraphParams, since: i64) -> bool {
    s.stopped >= since
        && p.user_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&s.user_id))
}

/// `now - days`, saturating like Python's big integers would not need to.
fn since_days(now: i64, days: i64) -> i64 {
    now.saturating_sub(days.saturating_mul(DAY))
}

/// Sessions one graph command aggregates at `now`: those its window and user filter select
/// (what the real server's SQL reads past the scan).
pub fn window_sessions(ctx: &Ctx, kind: GraphKind, p: &GraphParams, now: i64) -> usize {
    let since = match kind {
        GraphKind::PlaysPerMonth => month_window_start(now, p.time_range),
        _ => since_days(now, p.time_range),
    };
    ctx.sessions
        .iter()
        .filter(|s| in_window(s, p, since))
        .count()
}

/// Computes one graph command's `data` at `now`.
pub fn graph(ctx: &Ctx, kind: GraphKind, p: &GraphParams, now: i64) -> Graph {
    match kind {
        GraphKind::PlaysByDate => by_day_media(ctx, p, now, true),
        GraphKind::PlaysByHourOfDay => {
            let cats = (0..24).map(|h| format!("{h:02}")).collect();
            let zone = ctx.zone;
            fixed_media(ctx, p, now, cats, |s| zone.hour(s.started))
        }
        GraphKind::PlaysByDayOfWeek => {
            let cats = WEEKDAYS.iter().map(|d| (*d).to_owned()).collect();
            let zone = ctx.zone;
            fixed_media(ctx, p, now, cats, |s| weekday(zone.day(s.started)))
        }
        GraphKind::PlaysPerMonth => per_month(ctx, p, now),
        GraphKind::PlaysByStreamType => by_day_stream_type(ctx, p, now),
        GraphKind::ConcurrentStreamsByStreamType => concurrent(ctx, p, now),
        GraphKind::PlaysByTop10Platforms => top10(ctx, p, now, Who::Platform, Split::Media),
        GraphKind::PlaysByTop10Users => top10(ctx, p, now, Who::User, Split::Media),
        GraphKind::StreamTypeByTop10Platforms => {
            top10(ctx, p, now, Who::Platform, Split::StreamType)
        }
        GraphKind::StreamTypeByTop10Users => top10(ctx, p, now, Who::User, Split::StreamType),
    }
}

/// `time_range` local days ending today (empty for a negative range).
fn day_list(ctx: &Ctx, p: &GraphParams, now: i64) -> Vec<i64> {
    let today = ctx.zone.day(now);
    (0..p.time_range.max(0)).rev().map(|x| today - x).collect()
}

/// Media series over the given categories from per-category values; `Total` optional.
fn media_series(present: Present, values: &[[i64; 4]], total: bool) -> Vec<Series> {
    let mut series: Vec<Series> = MEDIA
        .iter()
        .enumerate()
        .filter(|(m, _)| present.0[*m])
        .map(|(m, (_, name))| Series {
            name,
            data: values.iter().map(|v| v[m]).collect(),
        })
        .collect();
    if total && !series.is_empty() {
        let data = (0..values.len())
            .map(|c| series.iter().map(|s| s.data[c]).sum())
            .collect();
        series.push(Series {
            name: "Total",
            data,
        });
    }
    series
}

fn media_index(m: Media) -> usize {
    MEDIA.iter().position(|(x, _)| *x == m).expect("listed")
}

fn by_day_media(ctx: &Ctx, p: &GraphParams, now: i64, total: bool) -> Graph {
    let days = day_list(ctx, p, now);
    let pos: HashMap<i64, usize> = days.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let mut values = vec![[0i64; 4]; days.len()];
    let zone = ctx.zone;
    for (day, pick) in viewings(ctx, p, since_days(now, p.time_range), |s| {
        zone.day(s.started)
    }) {
        if let Some(&c) = pos.get(&day) {
            values[c][media_index(media_of(ctx, pick.index))] += pick.value(p.duration);
        }
    }
    Graph {
        categories: days.into_iter().map(date_string).collect(),
        series: media_series(Present::of(ctx), &values, total),
    }
}

/// Hour-of-day and day-of-week charts: fixed categories indexed by `bucket`.
fn fixed_media(
    ctx: &Ctx,
    p: &GraphParams,
    now: i64,
    categories: Vec<String>,
    bucket: impl Fn(&Session) -> usize,
) -> Graph {
    let mut values = vec![[0i64; 4]; categories.len()];
    for (c, pick) in viewings(ctx, p, since_days(now, p.time_range), bucket) {
        values[c][media_index(media_of(ctx, pick.index))] += pick.value(p.duration);
    }
    Graph {
        categories,
        series: media_series(Present::of(ctx), &values, false),
    }
}

/// The first of the UTC month `months` months back (arrow's `shift(months=-n)
/// .floor('month')` on a UTC timestamp): where `get_plays_per_month`'s window starts.
fn month_window_start(now: i64, months: i64) -> i64 {
    let first = month_of(now.div_euclid(DAY)).saturating_sub(months);
    first_day_of_month(first).saturating_mul(DAY)
}

fn per_month(ctx: &Ctx, p: &GraphParams, now: i64) -> Graph {
    let since = month_window_start(now, p.time_range);
    // Categories: the local current month and `time_range - 1` before it (at least one).
    let current = month_of(ctx.zone.day(now));
    let months: Vec<i64> = (0..p.time_range.max(1))
        .rev()
        .map(|k| current - k)
        .collect();
    let pos: HashMap<i64, usize> = months.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let mut values = vec![[0i64; 4]; months.len()];
    let zone = ctx.zone;
    for (month, pick) in viewings(ctx, p, since, |s| month_of(zone.day(s.started))) {
        if let Some(&c) = pos.get(&month) {
            values[c][media_index(media_of(ctx, pick.index))] += pick.value(p.duration);
        }
    }
    Graph {
        categories: months
            .iter()
            .map(|m| format!("{} {}", MONTHS[m.rem_euclid(12) as usize], m.div_euclid(12)))
            .collect(),
        series: media_series(Present::of(ctx), &values, false),
    }
}

fn stream_index(d: TranscodeDecision) -> usize {
    STREAM_TYPES
        .iter()
        .position(|(x, _)| *x == d)
        .expect("listed")
}

fn stream_series(values: &[[i64; 3]]) -> Vec<Series> {
    STREAM_TYPES
        .iter()
        .enumerate()
        .map(|(k, (_, name))| Series {
            name,
            data: values.iter().map(|v| v[k]).collect(),
        })
        .collect()
}

fn by_day_stream_type(ctx: &Ctx, p: &GraphParams, now: i64) -> Graph {
    let days = day_list(ctx, p, now);
    let pos: HashMap<i64, usize> = days.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let mut values = vec![[0i64; 3]; days.len()];
    let zone = ctx.zone;
    for (day, pick) in viewings(ctx, p, since_days(now, p.time_range), |s| {
        zone.day(s.started)
    }) {
        if let Some(&c) = pos.get(&day) {
            let d = ctx.sessions[pick.index].transcode_decision;
            values[c][stream_index(d)] += pick.value(p.duration);
        }
    }
    Graph {
        categories: days.into_iter().map(date_string).collect(),
        series: stream_series(&values),
    }
}

/// Tautulli's `calc_most_concurrent`: +1 at each start, -1 at each stop, a stop sorting
/// before a start at the same second (its keys are `"<epoch>A"` and `"<epoch>B"`, compared
/// as strings, which equals this order for same-length epochs); the answer is the highest
/// count seen just before a stop.
pub fn most_concurrent(spans: &[(i64, i64)]) -> i64 {
    let mut events: Vec<(i64, u8)> = Vec::with_capacity(spans.len() * 2);
    for &(started, stopped) in spans {
        events.push((started, 1));
        events.push((stopped, 0));
    }
    events.sort_unstable();
    let (mut count, mut last) = (0i64, 0i64);
    for (_, kind) in events {
        if kind == 1 {
            count += 1;
        } else {
            if count >= last {
                last = count;
            }
            count -= 1;
        }
    }
    last
}

/// Per day, the highest concurrency among the sessions that *started* that local day (and
/// stopped inside the window), per stream type and overall. Sessions, not viewings: no
/// grouping, no `y_axis`.
fn concurrent(ctx: &Ctx, p: &GraphParams, now: i64) -> Graph {
    let days = day_list(ctx, p, now);
    let pos: HashMap<i64, usize> = days.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let mut by_type: Vec<[Vec<(i64, i64)>; 3]> = vec![Default::default(); days.len()];
    let since = since_days(now, p.time_range);
    for s in ctx.sessions.iter().filter(|s| in_window(s, p, since)) {
        if let Some(&c) = pos.get(&ctx.zone.day(s.started)) {
            by_type[c][stream_index(s.transcode_decision)].push((s.started, s.stopped));
        }
    }
    let mut values = vec![[0i64; 3]; days.len()];
    let mut max = Vec::with_capacity(days.len());
    for (c, spans) in by_type.iter().enumerate() {
        for k in 0..3 {
            values[c][k] = most_concurrent(&spans[k]);
        }
        let all: Vec<(i64, i64)> = spans.iter().flatten().copied().collect();
        max.push(most_concurrent(&all));
    }
    let mut series = stream_series(&values);
    series.push(Series {
        name: "Max. Concurrent Streams",
        data: max,
    });
    Graph {
        categories: days.into_iter().map(date_string).collect(),
        series,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Platform,
    User,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    Media,
    StreamType,
}

/// One row of a top-10 chart before ordering.
#[derive(Debug, Default)]
struct Row {
    values: [i64; 4],
    /// `COUNT(sh.id)`: viewings.
    count: i64,
    seconds: i64,
}

/// Top 10 platforms or users: viewings (`GROUP BY reference_id` over the whole window) per
/// platform or user, ordered by viewings (by seconds with `y_axis=duration`), at most 10.
///
/// Ties: `get_plays_by_top_10_platforms` (plays) orders `sh.platform ASC` explicitly (byte
/// order); every other top-10 query orders by the count alone, and SQLite's `ORDER BY ...
/// LIMIT` sorter then returns tied rows in reverse `GROUP BY` order: platform names or user
/// ids descending (checked on SQLite 3.40 with Tautulli's queries and indexes, and by the
/// reference `get_stream_type_by_top_10_platforms`, where iOS precedes Roku).
fn top10(ctx: &Ctx, p: &GraphParams, now: i64, who: Who, split: Split) -> Graph {
    let mut platforms: HashMap<&str, Row> = HashMap::new();
    let mut users: HashMap<i64, Row> = HashMap::new();
    for ((), pick) in viewings(ctx, p, since_days(now, p.time_range), |_| ()) {
        let s = &ctx.sessions[pick.index];
        let row = match who {
            Who::Platform => platforms
                .entry(ctx.client(s.client).platform.as_str())
                .or_default(),
            // `JOIN users`: plays of users Tautulli does not know are left out.
            Who::User if ctx.user(s.user_id).is_none() => continue,
            Who::User => users.entry(s.user_id).or_default(),
        };
        let slot = match split {
            Split::Media => media_index(media_of(ctx, pick.index)),
            Split::StreamType => stream_index(s.transcode_decision),
        };
        row.values[slot] += pick.value(p.duration);
        row.count += 1;
        row.seconds += pick.seconds;
    }
    let rank = |r: &Row| if p.duration { r.seconds } else { r.count };
    let mut rows: Vec<(String, Row)> = match who {
        Who::Platform => {
            let mut v: Vec<(&str, Row)> = platforms.into_iter().collect();
            let ascending = split == Split::Media && !p.duration;
            v.sort_by(|a, b| {
                let by_name = if ascending {
                    a.0.cmp(b.0)
                } else {
                    b.0.cmp(a.0)
                };
                rank(&b.1).cmp(&rank(&a.1)).then(by_name)
            });
            v.into_iter()
                .map(|(name, r)| {
                    let label = PLATFORM_NAME_OVERRIDES
                        .iter()
                        .find(|(from, _)| *from == name)
                        .map_or(name, |(_, to)| to);
                    (label.to_owned(), r)
                })
                .collect()
        }
        Who::User => {
            let mut v: Vec<(i64, Row)> = users.into_iter().collect();
            v.sort_by(|a, b| rank(&b.1).cmp(&rank(&a.1)).then(b.0.cmp(&a.0)));
            v.into_iter()
                .map(|(id, r)| (display_name(ctx, id), r))
                .collect()
        }
    };
    rows.truncate(10);
    let categories = rows.iter().map(|(n, _)| n.clone()).collect();
    let series = match split {
        Split::Media => {
            let values: Vec<[i64; 4]> = rows.iter().map(|(_, r)| r.values).collect();
            media_series(Present::of(ctx), &values, false)
        }
        Split::StreamType => {
            let values: Vec<[i64; 3]> = rows
                .iter()
                .map(|(_, r)| [r.values[0], r.values[1], r.values[2]])
                .collect();
            stream_series(&values)
        }
    };
    Graph { categories, series }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::params;

    #[test]
    fn parameters_parse_like_the_web_layer() {
        let p = GraphParams::parse(&params(&[]), GraphKind::PlaysByDate, true);
        assert_eq!(
            p,
            GraphParams {
                time_range: 30,
                duration: false,
                user_ids: None,
                grouping: true
            }
        );
        let p = GraphParams::parse(
            &params(&[
                ("time_range", " 7 "),
                ("y_axis", "duration"),
                ("user_id", "1001, 1002"),
                ("grouping", "0"),
            ]),
            GraphKind::PlaysByDate,
            true,
        );
        assert_eq!(p.time_range, 7);
        assert!(p.duration);
        assert_eq!(p.user_ids, Some(vec![1001, 1002]));
        assert!(!p.grouping);
        let p = GraphParams::parse(
            &params(&[("time_range", "x"), ("user_id", "alice")]),
            GraphKind::PlaysPerMonth,
            false,
        );
        assert_eq!(p.time_range, 12, "per month defaults to 12 months");
        assert_eq!(p.user_ids, None, "a non-numeric user list filters nothing");
        assert_eq!(user_list(","), Some(vec![]), "SQL `IN ()` matches nothing");
        assert_eq!(
            GraphParams::parse(
                &params(&[("time_range", "0")]),
                GraphKind::PlaysByDate,
                true
            )
            .time_range,
            30
        );
    }

    #[test]
    fn grouping_values_follow_python_truthiness() {
        assert!(graph_grouping(None, true));
        assert!(!graph_grouping(None, false));
        assert!(!graph_grouping(Some("0"), true));
        assert!(!graph_grouping(Some("00"), true));
        assert!(graph_grouping(Some("1"), false));
        assert!(!graph_grouping(Some("false"), true));
        assert!(!graph_grouping(Some(""), true));
        assert!(graph_grouping(Some("true"), false));
        assert!(graph_grouping(Some("False"), false), "a non-empty string");
    }

    #[test]
    fn concurrency_sweep_puts_stops_first() {
        assert_eq!(most_concurrent(&[]), 0);
        assert_eq!(most_concurrent(&[(10, 20)]), 1);
        // Back to back: not concurrent.
        assert_eq!(most_concurrent(&[(10, 20), (20, 30)]), 1);
        // Overlapping by one second.
        assert_eq!(most_concurrent(&[(10, 21), (20, 30)]), 2);
        // Nested.
        assert_eq!(most_concurrent(&[(0, 100), (10, 20), (30, 40)]), 2);
        assert_eq!(most_concurrent(&[(0, 100), (10, 90), (20, 80)]), 3);
        // A zero-length play's stop sorts before its own start.
        assert_eq!(most_concurrent(&[(5, 5)]), 0);
    }
}
