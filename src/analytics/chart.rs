//! Charts computed from the local session store, exactly and offline, in an explicit time
//! zone: plays by date / hour / weekday, plays by stream type, peak concurrent streams per
//! day, top users and top platforms.
//!
//! The rules mirror Tautulli's own graphs (graphs.py, 2.17) where those are right, so the
//! numbers agree with `get_plays_by_date` & co. on the same data and time zone:
//! - A *play* is a viewing: the sessions sharing a `reference_id` count once per bucket
//!   (Tautulli's `GROUP BY date_played, reference_id`); a viewing split over two days counts
//!   on both days. The viewing is typed (media, stream decision) by its first session.
//! - The window holds the sessions that ended (else started) at or after `now - days * 86400`
//!   and started at or before `now`. Per-day charts show every local calendar day of the
//!   window, zeros included.
//! - Series: "TV" (episode), "Movies" (movie), "Music" (track), "Live TV" (any live session),
//!   plus "Total", their per-bucket sum (never added again). TV and Movies are always
//!   present; Music and Live TV only when the whole data set has such a session at all
//!   (Tautulli shows them only for library types that exist). Other media types (clips)
//!   are left out, as Tautulli does, and the chart says how many.
//!
//! Where Tautulli is wrong we are not: concurrency counts real overlap across midnight (a
//! stream that began yesterday and still runs counts today), and days are local calendar
//! days through DST changes (a 23- or 25-hour day is one day; the repeated hour at the end
//! of DST holds the plays of both).
//!
//! Cost: a chart reads [`ChartRow`]s (numbers only, a few dozen bytes a session), converts
//! start times to local time through the zone's UTC offsets looked up once for the data's
//! range, counts viewings remembering only references that several sessions share, and
//! sweeps the concurrency events sorted once: O(n log n) for n sessions, whatever the days.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hash};
use std::str::FromStr;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde::{Deserialize, Serialize};

use super::session::{MediaType, Session, StreamDecision};
use super::store::decision_code;
use crate::hash::{FxHashMap, FxHasher};

/// Seconds in the days of a window (Tautulli's `time_range` is counted in 86 400 s steps).
pub const SECONDS_PER_DAY: i64 = 86_400;
/// The name of the per-bucket sum series.
pub const TOTAL: &str = "Total";
/// The name of the all-streams series of the concurrency chart (Tautulli's).
pub const MAX_CONCURRENT: &str = "Max. Concurrent Streams";

/// Which chart to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChartKind {
    PlaysByDate,
    PlaysByHour,
    PlaysByWeekday,
    StreamTypes,
    Concurrency,
    TopUsers,
    TopPlatforms,
}

impl ChartKind {
    /// Every kind, in the order the CLI lists them.
    pub const ALL: [ChartKind; 7] = [
        ChartKind::PlaysByDate,
        ChartKind::PlaysByHour,
        ChartKind::PlaysByWeekday,
        ChartKind::StreamTypes,
        ChartKind::Concurrency,
        ChartKind::TopUsers,
        ChartKind::TopPlatforms,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChartKind::PlaysByDate => "plays-by-date",
            ChartKind::PlaysByHour => "plays-by-hour",
            ChartKind::PlaysByWeekday => "plays-by-weekday",
            ChartKind::StreamTypes => "stream-types",
            ChartKind::Concurrency => "concurrency",
            ChartKind::TopUsers => "top-users",
            ChartKind::TopPlatforms => "top-platforms",
        }
    }

    pub fn parse(s: &str) -> Result<ChartKind, UnknownChartKind> {
        let wanted = s.trim();
        ChartKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownChartKind {
                given: s.to_string(),
            })
    }

    /// Whether the categories are the calendar days of the window.
    pub fn is_per_day(self) -> bool {
        matches!(
            self,
            ChartKind::PlaysByDate | ChartKind::StreamTypes | ChartKind::Concurrency
        )
    }
}

impl fmt::Display for ChartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChartKind {
    type Err = UnknownChartKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChartKind::parse(s)
    }
}

/// A chart name that is not one of [`ChartKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown chart kind {given:?}: use one of plays-by-date, plays-by-hour, plays-by-weekday, \
     stream-types, concurrency, top-users, top-platforms"
)]
pub struct UnknownChartKind {
    pub given: String,
}

/// Which sessions a chart looks at: those that ended (else started) at or after
/// `now - days * 86400` and started at or before `now`. `days == 0` means all time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Epoch seconds: the end of the window (and "today" for per-day charts).
    pub now: i64,
    /// Length in days; 0 = all time (per-day charts then span the first..last day played).
    pub days: u32,
}

impl Window {
    pub fn last_days(now: i64, days: u32) -> Window {
        Window { now, days }
    }

    pub fn all_time(now: i64) -> Window {
        Window { now, days: 0 }
    }

    /// The earliest end time a session may have to be in the window; `None` for all time.
    pub fn start(&self) -> Option<i64> {
        (self.days > 0).then(|| {
            self.now
                .saturating_sub(i64::from(self.days) * SECONDS_PER_DAY)
        })
    }

    pub fn contains(&self, session: &Session) -> bool {
        self.contains_span(session.started, session.end())
    }

    /// [`Self::contains`] of a session that started at `started` and ended at `end`.
    pub fn contains_span(&self, started: i64, end: Option<i64>) -> bool {
        let end = end.unwrap_or(started);
        started <= self.now && self.start().is_none_or(|start| end >= start)
    }

    fn describe(&self) -> String {
        match self.days {
            0 => "all time".to_string(),
            1 => "last day".to_string(),
            n => format!("last {n} days"),
        }
    }
}

/// One named row of values, one per category.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Series {
    pub name: String,
    pub data: Vec<u64>,
}

/// A computed chart: what the CLI prints as a table or JSON and host-sim draws as SVG.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Chart {
    pub kind: ChartKind,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub categories: Vec<String>,
    /// Type series first, then the sum series ([`TOTAL`], or [`MAX_CONCURRENT`] for the
    /// concurrency chart, which is a maximum and not a sum).
    pub series: Vec<Series>,
    /// The IANA name the days and hours are local to.
    pub timezone: String,
    pub window: Window,
    /// What was left out and why, e.g. "3 sessions without a stop time left out".
    pub notes: Vec<String>,
}

impl Chart {
    pub fn series_named(&self, name: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.name == name)
    }

    /// A plain-text table (one row per category, one column per series) for terminals.
    pub fn to_table(&self) -> String {
        let mut header = vec![self.x_label.clone()];
        header.extend(self.series.iter().map(|s| s.name.clone()));
        let rows: Vec<Vec<String>> = self
            .categories
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut row = vec![c.clone()];
                row.extend(
                    self.series
                        .iter()
                        .map(|s| s.data.get(i).map_or(String::new(), u64::to_string)),
                );
                row
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|col| {
                rows.iter()
                    .map(|r| r[col].chars().count())
                    .chain(std::iter::once(header[col].chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| -> String {
            let mut out = String::new();
            for (col, cell) in cells.iter().enumerate() {
                let pad = widths[col].saturating_sub(cell.chars().count());
                if col == 0 {
                    out.push_str(cell);
                    out.push_str(&" ".repeat(pad));
                } else {
                    out.push_str("  ");
                    out.push_str(&" ".repeat(pad));
                    out.push_str(cell);
                }
            }
            out.trim_end().to_string()
        };
        let mut out = format!(
            "{}\n{} ({}), time zone {}\n\n",
            self.title, self.y_label, self.kind, self.timezone
        );
        out.push_str(&line(&header));
        out.push('\n');
        out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
        out.push('\n');
        for row in &rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        if rows.is_empty() {
            out.push_str("(no data)\n");
        }
        for note in &self.notes {
            out.push_str("note: ");
            out.push_str(note);
            out.push('\n');
        }
        out
    }
}

/// Computes one chart from ungrouped sessions. `tz_name` is only recorded in the chart.
/// `top_n` limits the top-users/top-platforms categories (0 = no limit).
pub fn compute(
    kind: ChartKind,
    sessions: &[Session],
    tz: &TimeZone,
    tz_name: &str,
    window: Window,
    top_n: usize,
) -> Chart {
    compute_data(
        kind,
        ChartData::from_sessions(sessions),
        tz,
        tz_name,
        window,
        top_n,
    )
}

/// [`compute`] from [`ChartData`] (what the store loads: only the columns charts read).
pub fn compute_data(
    kind: ChartKind,
    data: ChartData,
    tz: &TimeZone,
    tz_name: &str,
    window: Window,
    top_n: usize,
) -> Chart {
    let mut input = Input::new(data, tz, window);
    let (title, x_label, y_label) = match kind {
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
        notes: input.notes,
    }
}

/// The media series a viewing counts in (Tautulli's plays-by-date series).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum MediaSeries {
    Tv,
    Movies,
    Music,
    LiveTv,
}

impl MediaSeries {
    fn of(s: &Session) -> Option<MediaSeries> {
        MediaSeries::classify(s.live, s.media_type)
    }

    fn classify(live: bool, media_type: MediaType) -> Option<MediaSeries> {
        if live {
            return Some(MediaSeries::LiveTv);
        }
        match media_type {
            MediaType::Episode => Some(MediaSeries::Tv),
            MediaType::Movie => Some(MediaSeries::Movies),
            MediaType::Track => Some(MediaSeries::Music),
            MediaType::Other => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            MediaSeries::Tv => "TV",
            MediaSeries::Movies => "Movies",
            MediaSeries::Music => "Music",
            MediaSeries::LiveTv => "Live TV",
        }
    }
}

const DECISIONS: [StreamDecision; 3] = [
    StreamDecision::DirectPlay,
    StreamDecision::DirectStream,
    StreamDecision::Transcode,
];

/// One session as the charts read it: numbers only, with the user and platform as indexes
/// into [`ChartData::names`], so a year of a million sessions is tens of megabytes rather
/// than hundreds (no titles, no player names, no per-session strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartRow {
    pub id: i64,
    pub reference_id: i64,
    pub started: i64,
    /// [`Session::end`] (meaningful only when `has_end`).
    end: i64,
    pub user_id: i64,
    /// Index of the user's name (friendly, else user name) in [`ChartData::names`].
    pub user: u32,
    /// Index of the platform in [`ChartData::names`].
    pub platform: u32,
    /// Local day of the start (days since 1970-01-01), set by [`Input::new`].
    local_day: i32,
    /// Local second of that day of the start, set by [`Input::new`].
    local_second: u32,
    pub media_type: MediaType,
    pub live: bool,
    pub decision: StreamDecision,
    has_end: bool,
    /// Another session of the window shares the `reference_id` (set by [`Input::new`]).
    shared: bool,
}

impl ChartRow {
    /// A row from a session's stored values (`stopped`, played and paused seconds give
    /// the end exactly as [`Session::end`] does).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: i64,
        reference_id: i64,
        started: i64,
        stopped: Option<i64>,
        play_seconds: i64,
        paused_seconds: i64,
        user_id: i64,
        user: u32,
        platform: u32,
        media_type: MediaType,
        live: bool,
        decision: StreamDecision,
    ) -> ChartRow {
        let end = session_end(started, stopped, play_seconds, paused_seconds);
        ChartRow {
            id,
            reference_id,
            started,
            end: end.unwrap_or(0),
            user_id,
            user,
            platform,
            local_day: 0,
            local_second: 0,
            media_type,
            live,
            decision,
            has_end: end.is_some(),
            shared: false,
        }
    }

    /// [`Session::end`].
    pub fn end(&self) -> Option<i64> {
        self.has_end.then_some(self.end)
    }

    fn media_series(&self) -> Option<MediaSeries> {
        MediaSeries::classify(self.live, self.media_type)
    }
}

/// [`Session::end`] from the stored values.
fn session_end(started: i64, stopped: Option<i64>, play: i64, paused: i64) -> Option<i64> {
    match stopped {
        Some(s) if s >= started => Some(s),
        _ if play > 0 => Some(started + play + paused),
        _ => None,
    }
}

/// What a chart is computed from: sessions as [`ChartRow`]s (any order, any window: the
/// chart keeps those of its window), the names they point at, and whether the whole data
/// set (not only the window) has music and Live TV plays, which decides those series.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChartData {
    pub rows: Vec<ChartRow>,
    pub names: Vec<String>,
    pub has_music: bool,
    pub has_live: bool,
}

impl ChartData {
    /// The data of sessions held in memory; every session also decides the series shown.
    pub fn from_sessions(sessions: &[Session]) -> ChartData {
        fn name<'s>(index: &mut HashMap<&'s str, u32>, names: &mut Vec<String>, s: &'s str) -> u32 {
            *index.entry(s).or_insert_with(|| {
                names.push(s.to_string());
                (names.len() - 1) as u32
            })
        }
        let mut index: HashMap<&str, u32> = HashMap::new();
        let mut names: Vec<String> = Vec::new();
        let rows = sessions
            .iter()
            .map(|s| {
                ChartRow::new(
                    s.id,
                    s.reference_id,
                    s.started,
                    s.stopped,
                    s.play_seconds,
                    s.paused_seconds,
                    s.user_id,
                    name(&mut index, &mut names, &s.user),
                    name(&mut index, &mut names, &s.platform),
                    s.media_type,
                    s.live,
                    s.decision,
                )
            })
            .collect();
        ChartData {
            rows,
            names,
            has_music: sessions
                .iter()
                .any(|s| MediaSeries::of(s) == Some(MediaSeries::Music)),
            has_live: sessions
                .iter()
                .any(|s| MediaSeries::of(s) == Some(MediaSeries::LiveTv)),
        }
    }
}

/// Local wall-clock time of many epoch seconds, fast: the zone's UTC offsets over the
/// range the data spans are looked up once (a handful per year, at its transitions), so a
/// session costs a binary search over them instead of a time zone conversion. Times
/// outside that range are converted through the zone itself.
struct LocalClock<'a> {
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
    fn new(tz: &'a TimeZone, lo: i64, hi: i64) -> LocalClock<'a> {
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
    fn local(&self, t: i64) -> Option<(i64, i64)> {
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

fn day_number(d: Date) -> Option<i64> {
    d.since(EPOCH_DAY).ok().map(|s| i64::from(s.get_days()))
}

fn date_of_day(n: i64) -> Option<Date> {
    Span::new()
        .try_days(n)
        .ok()
        .and_then(|span| EPOCH_DAY.checked_add(span).ok())
}

/// What every chart needs: the window's sessions in start order with their local start,
/// the media series of the data set, and the notes collected while computing.
struct Input<'a> {
    tz: &'a TimeZone,
    clock: LocalClock<'a>,
    window: Window,
    rows: Vec<ChartRow>,
    names: Vec<String>,
    media: Vec<MediaSeries>,
    notes: Vec<String>,
}

impl<'a> Input<'a> {
    fn new(data: ChartData, tz: &'a TimeZone, window: Window) -> Input<'a> {
        let ChartData {
            mut rows,
            names,
            has_music,
            has_live,
        } = data;
        let mut media = vec![MediaSeries::Tv, MediaSeries::Movies];
        if has_music {
            media.push(MediaSeries::Music);
        }
        if has_live {
            media.push(MediaSeries::LiveTv);
        }
        rows.retain(|r| window.contains_span(r.started, r.end()));
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
        mark_shared_references(&mut rows);
        let mut notes = Vec::new();
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
        }
    }

    /// Calls `f` once per distinct (bucket, reference_id) viewing, with its first session.
    /// Only sessions sharing a reference need remembering: a lone one is its own viewing.
    fn viewings<K: Copy + Eq + Hash>(
        &self,
        bucket: impl Fn(&ChartRow) -> K,
        mut f: impl FnMut(K, &ChartRow),
    ) {
        let mut seen: HashSet<(K, i64), BuildHasherDefault<FxHasher>> = HashSet::default();
        for r in &self.rows {
            let k = bucket(r);
            if !r.shared || seen.insert((k, r.reference_id)) {
                f(k, r);
            }
        }
    }

    /// The local calendar days the per-day charts show: `days` days ending today, or for
    /// all time the first..last day a session started (or, with `through_ends`, ended).
    fn days(&mut self, through_ends: bool) -> Vec<Date> {
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

    fn media_labels(&self) -> Vec<String> {
        self.media.iter().map(|m| m.label().to_string()).collect()
    }

    fn media_index(&self, r: &ChartRow) -> Option<usize> {
        let m = r.media_series()?;
        self.media.iter().position(|&x| x == m)
    }

    fn note_other_media(&mut self, n: usize) {
        if n > 0 {
            self.notes.push(format!(
                "{} of other media types (not TV, movie, music or live) left out",
                count(n, "viewing", "viewings")
            ));
        }
    }

    fn note_before_first_day(&mut self, n: usize) {
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

/// Local wall-clock time of an epoch second; `None` outside jiff's range.
fn local(tz: &TimeZone, t: i64) -> Option<DateTime> {
    Timestamp::from_second(t).ok().map(|ts| tz.to_datetime(ts))
}

/// Epoch second of the start of a local calendar day (midnight, or the first valid time
/// when a DST gap swallows midnight).
fn day_start(tz: &TimeZone, day: Date) -> Option<i64> {
    tz.to_zoned(DateTime::from(day))
        .ok()
        .map(|z| z.timestamp().as_second())
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn date_labels(days: &[Date]) -> Vec<String> {
    days.iter().map(|d| d.to_string()).collect()
}

/// Counts the viewings of `input` bucketed by `bucket` into `names.len()` series by `n`
/// categories, then appends "Total". Returns the series and how many viewings had no
/// category / no series.
fn tally<K: Copy + Eq + Hash>(
    input: &Input,
    bucket: impl Fn(&ChartRow) -> K,
    n: usize,
    names: Vec<String>,
    category: impl Fn(K) -> Option<usize>,
    series: impl Fn(&ChartRow) -> Option<usize>,
) -> (Vec<Series>, usize, usize) {
    let mut data = vec![vec![0u64; n]; names.len()];
    let (mut uncategorised, mut unclassified) = (0, 0);
    input.viewings(bucket, |k, r| {
        let Some(c) = category(k) else {
            uncategorised += 1;
            return;
        };
        let Some(i) = series(r) else {
            unclassified += 1;
            return;
        };
        data[i][c] += 1;
    });
    (with_total(names, data), uncategorised, unclassified)
}

fn with_total(names: Vec<String>, data: Vec<Vec<u64>>) -> Vec<Series> {
    let n = data.first().map_or(0, Vec::len);
    let total: Vec<u64> = (0..n)
        .map(|c| data.iter().map(|row| row[c]).sum())
        .collect();
    let mut series: Vec<Series> = names
        .into_iter()
        .zip(data)
        .map(|(name, data)| Series { name, data })
        .collect();
    series.push(Series {
        name: TOTAL.to_string(),
        data: total,
    });
    series
}

/// The category of a local day among `days` (consecutive dates).
fn day_category(days: &[Date]) -> impl Fn(i32) -> Option<usize> {
    let first = days.first().and_then(|&d| day_number(d));
    let n = days.len();
    move |day| {
        let i = i64::from(day) - first?;
        usize::try_from(i).ok().filter(|&i| i < n)
    }
}

fn plays_by_date(input: &mut Input) -> (Vec<String>, Vec<Series>) {
    let days = input.days(false);
    let (series, before, other) = tally(
        input,
        |r| r.local_day,
        days.len(),
        input.media_labels(),
        day_category(&days),
        |r| input.media_index(r),
    );
    input.note_before_first_day(before);
    input.note_other_media(other);
    (date_labels(&days), series)
}

fn plays_by_hour(input: &mut Input) -> (Vec<String>, Vec<Series>) {
    let (series, _, other) = tally(
        input,
        |r| r.local_second / 3600,
        24,
        input.media_labels(),
        |h| usize::try_from(h).ok(),
        |r| input.media_index(r),
    );
    input.note_other_media(other);
    ((0..24).map(|h| format!("{h:02}")).collect(), series)
}

fn plays_by_weekday(input: &mut Input) -> (Vec<String>, Vec<Series>) {
    const NAMES: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    // 1970-01-01 was a Thursday (4 days after a Sunday).
    let (series, _, other) = tally(
        input,
        |r| (i64::from(r.local_day) + 4).rem_euclid(7),
        7,
        input.media_labels(),
        |d| usize::try_from(d).ok(),
        |r| input.media_index(r),
    );
    input.note_other_media(other);
    (NAMES.iter().map(|s| s.to_string()).collect(), series)
}

fn stream_types(input: &mut Input) -> (Vec<String>, Vec<Series>) {
    let days = input.days(false);
    let (series, before, unknown) = tally(
        input,
        |r| r.local_day,
        days.len(),
        DECISIONS.iter().map(|d| d.label().to_string()).collect(),
        day_category(&days),
        |r| DECISIONS.iter().position(|&d| d == r.decision),
    );
    input.note_before_first_day(before);
    if unknown > 0 {
        input.notes.push(format!(
            "{} with an unknown stream decision left out",
            count(unknown, "viewing", "viewings")
        ));
    }
    (date_labels(&days), series)
}

/// Peak concurrent streams per local day: one sweep over all streams of the window
/// (ungrouped sessions), then the maximum of the running count within each day, including
/// the streams still running at midnight. The events are sorted once (O(n log n)); each
/// series is a linear pass over them, and each day a binary search into its steps.
fn concurrency(input: &mut Input) -> (Vec<String>, Vec<Series>) {
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

/// The running number of streams as a step function: `(second, count from then on)`, one
/// entry per second with events. Only the count after *all* events of a second is kept:
/// that is Tautulli's "stop before start at the same second" (stops only lower the count,
/// starts only raise it, so with stops first the peak of the second is its final count),
/// and back-to-back streams never overlap. O(n log n).
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

/// [`running_counts`] of events already in time order.
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

#[derive(Clone, Copy)]
enum TopBy {
    User,
    Platform,
}

/// Users or platforms by viewings (descending, ties by name), top `top_n` (0 = all),
/// with the media series and Total.
fn top(input: &mut Input, top_n: usize, by: TopBy) -> (Vec<String>, Vec<Series>) {
    // Every row's category as an index into `shown` (distinct display names).
    let (shown, key_of_row) = display_keys(input, by);
    let mut per_key: Vec<Option<Vec<u64>>> = vec![None; shown.len()];
    let mut other = 0;
    let media_len = input.media.len();
    input.viewings(
        |r| key_of_row.of(r),
        |key, r| match input.media_index(r) {
            Some(i) => per_key[key as usize].get_or_insert_with(|| vec![0; media_len])[i] += 1,
            None => other += 1,
        },
    );
    let mut ranked: Vec<(String, Vec<u64>)> = per_key
        .into_iter()
        .zip(shown)
        .filter_map(|(counts, name)| counts.map(|c| (name, c)))
        .collect();
    ranked.sort_by(|a, b| {
        let (ta, tb) = (a.1.iter().sum::<u64>(), b.1.iter().sum::<u64>());
        tb.cmp(&ta).then_with(|| a.0.cmp(&b.0))
    });
    if top_n > 0 && ranked.len() > top_n {
        let (one, many) = match by {
            TopBy::User => ("user", "users"),
            TopBy::Platform => ("platform", "platforms"),
        };
        input.notes.push(format!(
            "{} beyond the top {top_n} not shown",
            count(ranked.len() - top_n, one, many)
        ));
        ranked.truncate(top_n);
    }
    input.note_other_media(other);
    let data: Vec<Vec<u64>> = (0..input.media.len())
        .map(|i| ranked.iter().map(|(_, counts)| counts[i]).collect())
        .collect();
    let categories = ranked.into_iter().map(|(name, _)| name).collect();
    (categories, with_total(input.media_labels(), data))
}

/// Which of the shown names a row counts under.
enum DisplayKeys {
    /// By user id.
    Users(FxHashMap<i64, u32>),
    /// By index into [`ChartData::names`].
    Platforms(Vec<u32>),
}

impl DisplayKeys {
    fn of(&self, r: &ChartRow) -> u32 {
        match self {
            DisplayKeys::Users(keys) => keys[&r.user_id],
            DisplayKeys::Platforms(keys) => keys[r.platform as usize],
        }
    }
}

/// The distinct names a top chart shows, and which of them each row counts under.
///
/// Users: the name of their latest session, with " (#id)" added when two users would
/// otherwise share a name. Platforms: the platform, trimmed, "Unknown" when empty.
fn display_keys(input: &Input, by: TopBy) -> (Vec<String>, DisplayKeys) {
    let mut shown: Vec<String> = Vec::new();
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut intern = |name: String| -> u32 {
        if let Some(&i) = index.get(&name) {
            return i;
        }
        shown.push(name.clone());
        let i = (shown.len() - 1) as u32;
        index.insert(name, i);
        i
    };
    match by {
        TopBy::User => {
            // Rows are in start order: the last one seen wins.
            let mut latest: BTreeMap<i64, u32> = BTreeMap::new();
            for r in &input.rows {
                latest.insert(r.user_id, r.user);
            }
            let latest: BTreeMap<i64, String> = latest
                .into_iter()
                .map(|(id, name)| {
                    let name = input.names[name as usize].trim();
                    let name = if name.is_empty() {
                        format!("User {id}")
                    } else {
                        name.to_string()
                    };
                    (id, name)
                })
                .collect();
            let mut uses: HashMap<&str, usize> = HashMap::new();
            for name in latest.values() {
                *uses.entry(name.as_str()).or_default() += 1;
            }
            let keys: FxHashMap<i64, u32> = latest
                .iter()
                .map(|(id, name)| {
                    let show = if uses[name.as_str()] > 1 {
                        format!("{name} (#{id})")
                    } else {
                        name.clone()
                    };
                    (*id, intern(show))
                })
                .collect();
            (shown, DisplayKeys::Users(keys))
        }
        TopBy::Platform => {
            let keys: Vec<u32> = input
                .names
                .iter()
                .map(|p| {
                    let p = p.trim();
                    intern(if p.is_empty() {
                        "Unknown".to_string()
                    } else {
                        p.to_string()
                    })
                })
                .collect();
            (shown, DisplayKeys::Platforms(keys))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---- helpers -------------------------------------------------------------------

    /// Epoch seconds of a UTC wall-clock time, computed without jiff (days from civil,
    /// H. Hinnant), so test inputs do not depend on the code under test.
    fn utc(y: i64, m: i64, d: i64, h: i64, mi: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400 + h * 3600 + mi * 60
    }

    const H: i64 = 3600;

    fn tz(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    /// A lone direct-play movie session by alice on Chrome.
    fn s(id: i64, started: i64, stopped: i64) -> Session {
        Session {
            id,
            reference_id: id,
            user_id: 1,
            user: "alice".to_string(),
            started,
            stopped: Some(stopped),
            paused_seconds: 0,
            play_seconds: stopped - started,
            media_type: MediaType::Movie,
            live: false,
            rating_key: 100 + id,
            parent_rating_key: None,
            grandparent_rating_key: None,
            section_id: Some(1),
            decision: StreamDecision::DirectPlay,
            platform: "Chrome".to_string(),
            player: "Chrome".to_string(),
            title: format!("Movie {id}"),
        }
    }

    fn ep(id: i64, started: i64, stopped: i64) -> Session {
        Session {
            media_type: MediaType::Episode,
            ..s(id, started, stopped)
        }
    }

    fn chart(kind: ChartKind, sessions: &[Session], zone: &str, window: Window) -> Chart {
        compute(kind, sessions, &tz(zone), zone, window, 10)
    }

    fn data<'c>(c: &'c Chart, name: &str) -> &'c [u64] {
        &c.series_named(name)
            .unwrap_or_else(|| panic!("no series {name} in {:?}", c.series))
            .data
    }

    fn names(c: &Chart) -> Vec<&str> {
        c.series.iter().map(|s| s.name.as_str()).collect()
    }

    fn assert_total_is_sum(c: &Chart) {
        let total = data(c, TOTAL);
        for (i, t) in total.iter().enumerate() {
            let sum: u64 = c
                .series
                .iter()
                .filter(|s| s.name != TOTAL)
                .map(|s| s.data[i])
                .sum();
            assert_eq!(*t, sum, "category {} of {}", c.categories[i], c.kind);
        }
        for s in &c.series {
            assert_eq!(s.data.len(), c.categories.len(), "series {}", s.name);
        }
    }

    // ---- the helper itself ---------------------------------------------------------

    #[test]
    fn utc_helper_matches_known_epochs() {
        assert_eq!(utc(1970, 1, 1, 0, 0), 0);
        assert_eq!(utc(2026, 3, 29, 1, 30), 1_774_747_800);
        assert_eq!(utc(2026, 10, 25, 0, 30), 1_792_888_200);
        assert_eq!(utc(2026, 11, 1, 6, 30), 1_793_514_600);
        assert_eq!(utc(2000, 2, 29, 12, 0), 951_825_600);
    }

    // ---- kinds, names, window ------------------------------------------------------

    #[test]
    fn kinds_round_trip_through_strings_and_serde() {
        for k in ChartKind::ALL {
            assert_eq!(ChartKind::parse(k.as_str()), Ok(k));
            assert_eq!(k.as_str().parse::<ChartKind>(), Ok(k));
            assert_eq!(k.to_string(), k.as_str());
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<ChartKind>(&json).unwrap(), k);
        }
        assert_eq!(
            ChartKind::parse(" Plays-By-Date "),
            Ok(ChartKind::PlaysByDate)
        );
        let err = ChartKind::parse("pie").unwrap_err();
        assert!(err.to_string().contains("\"pie\""));
        assert!(err.to_string().contains("top-platforms"));
    }

    #[test]
    fn window_bounds_are_inclusive_and_use_the_end() {
        let now = utc(2026, 11, 21, 12, 0);
        let w = Window::last_days(now, 7);
        let start = now - 7 * 86_400;
        assert_eq!(w.start(), Some(start));
        // Ended exactly at the window start: in. One second earlier: out.
        assert!(w.contains(&s(1, start - 100, start)));
        assert!(!w.contains(&s(2, start - 100, start - 1)));
        // Started before the window but ended inside: in (Tautulli's stopped >= ...).
        assert!(w.contains(&s(3, start - 5 * H, start + H)));
        // No stop, no play time: its start decides.
        let open = Session {
            stopped: None,
            play_seconds: 0,
            ..s(4, start + 10, start + 10)
        };
        assert!(w.contains(&open));
        assert!(!w.contains(&Session {
            started: start - 1,
            ..open.clone()
        }));
        // Started after now: out, also for all time.
        assert!(!w.contains(&s(5, now + 1, now + 100)));
        assert!(!Window::all_time(now).contains(&s(5, now + 1, now + 100)));
        assert!(Window::all_time(now).contains(&s(6, 0, 10)));
        assert_eq!(Window::all_time(now).start(), None);
    }

    // ---- plays by date ---------------------------------------------------------------

    #[test]
    fn plays_by_date_has_every_day_with_zeros_and_a_total() {
        let now = utc(2026, 11, 21, 12, 0);
        let sessions = vec![
            s(1, utc(2026, 11, 15, 20, 0), utc(2026, 11, 15, 22, 0)),
            ep(2, utc(2026, 11, 15, 18, 0), utc(2026, 11, 15, 19, 0)),
            ep(3, utc(2026, 11, 17, 9, 0), utc(2026, 11, 17, 10, 0)),
            s(4, utc(2026, 11, 21, 8, 0), utc(2026, 11, 21, 10, 0)),
            // Outside the 7-day window entirely.
            s(5, utc(2026, 11, 1, 8, 0), utc(2026, 11, 1, 10, 0)),
        ];
        let c = chart(
            ChartKind::PlaysByDate,
            &sessions,
            "UTC",
            Window::last_days(now, 7),
        );
        assert_eq!(
            c.categories,
            [
                "2026-11-15",
                "2026-11-16",
                "2026-11-17",
                "2026-11-18",
                "2026-11-19",
                "2026-11-20",
                "2026-11-21"
            ]
        );
        assert_eq!(names(&c), ["TV", "Movies", "Total"]);
        assert_eq!(data(&c, "TV"), [1, 0, 1, 0, 0, 0, 0]);
        assert_eq!(data(&c, "Movies"), [1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(data(&c, "Total"), [2, 0, 1, 0, 0, 0, 1]);
        assert_eq!(c.title, "Plays by date (last 7 days)");
        assert_eq!(c.timezone, "UTC");
        assert!(c.notes.is_empty(), "{:?}", c.notes);
        assert_total_is_sum(&c);
    }

    #[test]
    fn music_and_live_tv_appear_only_when_the_data_set_has_them() {
        let now = utc(2026, 11, 21, 12, 0);
        let track = Session {
            media_type: MediaType::Track,
            ..s(1, utc(2026, 11, 21, 8, 0), utc(2026, 11, 21, 8, 4))
        };
        let live = Session {
            live: true,
            ..ep(2, utc(2026, 11, 20, 8, 0), utc(2026, 11, 20, 9, 0))
        };
        let clip = Session {
            media_type: MediaType::Other,
            ..s(3, utc(2026, 11, 21, 9, 0), utc(2026, 11, 21, 9, 1))
        };
        let w = Window::last_days(now, 2);
        let c = chart(
            ChartKind::PlaysByDate,
            std::slice::from_ref(&track),
            "UTC",
            w,
        );
        assert_eq!(names(&c), ["TV", "Movies", "Music", "Total"]);
        let c = chart(
            ChartKind::PlaysByDate,
            &[track.clone(), live.clone(), clip],
            "UTC",
            w,
        );
        assert_eq!(names(&c), ["TV", "Movies", "Music", "Live TV", "Total"]);
        assert_eq!(data(&c, "Music"), [0, 1]);
        // A live episode counts as Live TV only, never also as TV.
        assert_eq!(data(&c, "Live TV"), [1, 0]);
        assert_eq!(data(&c, "TV"), [0, 0]);
        assert_eq!(data(&c, "Total"), [1, 1]);
        assert_eq!(
            c.notes,
            ["1 viewing of other media types (not TV, movie, music or live) left out"]
        );
        // The series set comes from the whole data set, not only the window.
        let c = chart(
            ChartKind::PlaysByDate,
            &[track],
            "UTC",
            Window::last_days(now + 30 * 86_400, 2),
        );
        assert_eq!(names(&c), ["TV", "Movies", "Music", "Total"]);
        assert_eq!(data(&c, "Total"), [0, 0]);
    }

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
        let c = chart(
            ChartKind::PlaysByDate,
            &sessions,
            "UTC",
            Window::last_days(now, 4),
        );
        assert_eq!(c.categories[1], "2026-11-19");
        assert_eq!(data(&c, "TV"), [1, 1, 0, 0]);
        assert_eq!(data(&c, "Movies"), [1, 0, 0, 0]);
        assert_eq!(data(&c, "Total"), [2, 1, 0, 0]);
        // By hour: sessions at 20:00, 22:00, 23:01 and 23:00 (next day) -> viewing 10 once
        // in 20, 22, 23 each; the movie once in 20.
        let c = chart(
            ChartKind::PlaysByHour,
            &sessions,
            "UTC",
            Window::last_days(now, 4),
        );
        assert_eq!(data(&c, "TV")[20..24], [1, 0, 1, 1]);
        assert_eq!(data(&c, "Total")[20..24], [2, 0, 1, 1]);
        assert_eq!(data(&c, "Total").iter().sum::<u64>(), 4);
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
        let c = chart(
            ChartKind::StreamTypes,
            &sessions,
            "UTC",
            Window::last_days(now, 1),
        );
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
        let c = chart(
            ChartKind::PlaysByDate,
            &sessions,
            "UTC",
            Window::last_days(now, 2),
        );
        assert_eq!(c.categories, ["2026-11-20", "2026-11-21"]);
        assert_eq!(data(&c, "Total"), [1, 0]);
        assert_eq!(
            c.notes,
            ["1 viewing started before the first day shown left out"]
        );
        // By hour it still counts (hour 13) while session 2 does not.
        let c = chart(
            ChartKind::PlaysByHour,
            &sessions,
            "UTC",
            Window::last_days(now, 2),
        );
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

    // ---- hour and weekday ----------------------------------------------------------

    #[test]
    fn plays_by_hour_has_24_zero_padded_hours() {
        let now = utc(2026, 11, 21, 12, 0);
        let sessions = vec![
            ep(1, utc(2026, 11, 20, 20, 10), utc(2026, 11, 20, 21, 0)),
            ep(2, utc(2026, 11, 19, 20, 50), utc(2026, 11, 19, 21, 30)),
            s(3, utc(2026, 11, 19, 22, 0), utc(2026, 11, 20, 0, 30)),
            s(4, utc(2026, 11, 21, 0, 5), utc(2026, 11, 21, 1, 0)),
        ];
        let c = chart(
            ChartKind::PlaysByHour,
            &sessions,
            "UTC",
            Window::last_days(now, 7),
        );
        assert_eq!(c.categories.len(), 24);
        assert_eq!(c.categories[0], "00");
        assert_eq!(c.categories[9], "09");
        assert_eq!(c.categories[23], "23");
        let mut tv = [0u64; 24];
        tv[20] = 2;
        let mut movies = [0u64; 24];
        movies[22] = 1;
        movies[0] = 1;
        assert_eq!(data(&c, "TV"), tv);
        assert_eq!(data(&c, "Movies"), movies);
        assert_total_is_sum(&c);
        assert_eq!(c.x_label, "Hour of day");
    }

    #[test]
    fn plays_by_weekday_runs_sunday_to_saturday() {
        let now = utc(2026, 11, 22, 23, 0);
        // 2026-11-15 is a Sunday, 2026-11-21 a Saturday.
        let sessions = vec![
            s(1, utc(2026, 11, 15, 10, 0), utc(2026, 11, 15, 11, 0)),
            s(2, utc(2026, 11, 22, 10, 0), utc(2026, 11, 22, 11, 0)),
            ep(3, utc(2026, 11, 21, 10, 0), utc(2026, 11, 21, 11, 0)),
            ep(4, utc(2026, 11, 18, 10, 0), utc(2026, 11, 18, 11, 0)),
        ];
        let c = chart(
            ChartKind::PlaysByWeekday,
            &sessions,
            "UTC",
            Window::last_days(now, 30),
        );
        assert_eq!(
            c.categories,
            [
                "Sunday",
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday"
            ]
        );
        assert_eq!(data(&c, "Movies"), [2, 0, 0, 0, 0, 0, 0]);
        assert_eq!(data(&c, "TV"), [0, 0, 0, 1, 0, 0, 1]);
        assert_eq!(data(&c, "Total"), [2, 0, 0, 1, 0, 0, 1]);
    }

    // ---- stream types --------------------------------------------------------------

    #[test]
    fn stream_types_per_day_with_unknown_noted() {
        let now = utc(2026, 11, 21, 12, 0);
        let with = |id, day, decision| Session {
            decision,
            ..s(id, utc(2026, 11, day, 10, 0), utc(2026, 11, day, 11, 0))
        };
        let sessions = vec![
            with(1, 19, StreamDecision::DirectPlay),
            with(2, 19, StreamDecision::Transcode),
            with(3, 20, StreamDecision::DirectStream),
            with(4, 21, StreamDecision::Unknown),
            with(5, 21, StreamDecision::DirectPlay),
        ];
        let c = chart(
            ChartKind::StreamTypes,
            &sessions,
            "UTC",
            Window::last_days(now, 3),
        );
        assert_eq!(c.categories, ["2026-11-19", "2026-11-20", "2026-11-21"]);
        assert_eq!(data(&c, "Direct Play"), [1, 0, 1]);
        assert_eq!(data(&c, "Direct Stream"), [0, 1, 0]);
        assert_eq!(data(&c, "Transcode"), [1, 0, 0]);
        assert_eq!(data(&c, "Total"), [2, 1, 1]);
        assert_eq!(
            c.notes,
            ["1 viewing with an unknown stream decision left out"]
        );
        assert_total_is_sum(&c);
    }

    // ---- concurrency ---------------------------------------------------------------

    #[test]
    fn back_to_back_streams_are_not_concurrent() {
        let now = utc(2026, 11, 21, 23, 0);
        let t = utc(2026, 11, 21, 10, 0);
        let sessions = vec![
            s(1, t, t + H),
            s(2, t + H, t + 2 * H),
            s(3, t + 2 * H, t + 3 * H),
        ];
        let c = chart(
            ChartKind::Concurrency,
            &sessions,
            "UTC",
            Window::last_days(now, 1),
        );
        assert_eq!(
            names(&c),
            ["Direct Play", "Direct Stream", "Transcode", MAX_CONCURRENT]
        );
        assert_eq!(data(&c, MAX_CONCURRENT), [1]);
        // One second of overlap makes them concurrent.
        let sessions = vec![s(1, t, t + H + 1), s(2, t + H, t + 2 * H)];
        let c = chart(
            ChartKind::Concurrency,
            &sessions,
            "UTC",
            Window::last_days(now, 1),
        );
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
        let c = chart(
            ChartKind::Concurrency,
            &sessions,
            "UTC",
            Window::last_days(now, 1),
        );
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
        let c = chart(
            ChartKind::Concurrency,
            &sessions,
            "UTC",
            Window::last_days(now, 3),
        );
        assert_eq!(c.categories, ["2026-11-19", "2026-11-20", "2026-11-21"]);
        // The 20th: 1 carried in at midnight plus 2 at 01:00 -> 2 (Tautulli, counting only
        // streams started that day, would say 1 for the 20th).
        assert_eq!(data(&c, MAX_CONCURRENT), [1, 2, 1]);
        // A stream ending exactly at midnight does not reach the next day.
        let sessions = vec![s(1, utc(2026, 11, 20, 22, 0), utc(2026, 11, 21, 0, 0))];
        let c = chart(
            ChartKind::Concurrency,
            &sessions,
            "UTC",
            Window::last_days(now, 2),
        );
        assert_eq!(data(&c, MAX_CONCURRENT), [1, 0]);
        // A stop time absurdly far away still runs through every day after the start.
        let sessions = vec![
            s(1, utc(2026, 11, 20, 22, 0), i64::MAX),
            s(2, utc(2026, 11, 21, 5, 0), utc(2026, 11, 21, 6, 0)),
        ];
        let c = chart(
            ChartKind::Concurrency,
            &sessions,
            "UTC",
            Window::last_days(now, 3),
        );
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
        let c = chart(
            ChartKind::Concurrency,
            &sessions,
            "UTC",
            Window::last_days(now, 1),
        );
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
        let c = chart(
            ChartKind::Concurrency,
            &sessions,
            "UTC",
            Window::last_days(now, 1),
        );
        assert_eq!(data(&c, MAX_CONCURRENT), [2]);
    }

    // ---- DST -----------------------------------------------------------------------

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

    // ---- top users / platforms -----------------------------------------------------

    #[test]
    fn top_users_by_viewings_with_ties_by_name_and_a_limit() {
        let now = utc(2026, 11, 21, 12, 0);
        let t = utc(2026, 11, 20, 10, 0);
        let by = |id, user_id: i64, user: &str, episode: bool| {
            let base = Session {
                user_id,
                user: user.to_string(),
                ..s(id, t + id * H, t + id * H + 600)
            };
            if episode {
                Session {
                    media_type: MediaType::Episode,
                    ..base
                }
            } else {
                base
            }
        };
        let sessions = vec![
            by(1, 1, "carol", false),
            by(2, 2, "bob", true),
            by(3, 2, "bob", false),
            by(4, 3, "dave", true),
            by(5, 3, "dave", true),
            // Part of dave's viewing 5: counts once.
            Session {
                reference_id: 5,
                ..by(6, 3, "dave", true)
            },
            by(7, 4, "anna", true),
        ];
        let w = Window::last_days(now, 7);
        let c = compute(ChartKind::TopUsers, &sessions, &tz("UTC"), "UTC", w, 0);
        assert_eq!(c.categories, ["bob", "dave", "anna", "carol"]);
        assert_eq!(data(&c, "TV"), [1, 2, 1, 0]);
        assert_eq!(data(&c, "Movies"), [1, 0, 0, 1]);
        assert_eq!(data(&c, "Total"), [2, 2, 1, 1]);
        assert!(c.notes.is_empty());
        let c = compute(ChartKind::TopUsers, &sessions, &tz("UTC"), "UTC", w, 3);
        assert_eq!(c.categories, ["bob", "dave", "anna"]);
        assert_eq!(data(&c, "Total"), [2, 2, 1]);
        assert_eq!(c.notes, ["1 user beyond the top 3 not shown"]);
        assert_total_is_sum(&c);
    }

    #[test]
    fn top_users_keep_two_people_with_one_name_apart() {
        let now = utc(2026, 11, 21, 12, 0);
        let t = utc(2026, 11, 20, 10, 0);
        let sessions = vec![
            Session {
                user_id: 7,
                user: "sam".to_string(),
                ..s(1, t, t + 60)
            },
            Session {
                user_id: 8,
                user: "sam".to_string(),
                ..s(2, t + H, t + H + 60)
            },
            Session {
                user_id: 8,
                user: "sam".to_string(),
                ..s(3, t + 2 * H, t + 2 * H + 60)
            },
        ];
        let c = chart(
            ChartKind::TopUsers,
            &sessions,
            "UTC",
            Window::last_days(now, 7),
        );
        assert_eq!(c.categories, ["sam (#8)", "sam (#7)"]);
        assert_eq!(data(&c, TOTAL), [2, 1]);
    }

    #[test]
    fn top_platforms() {
        let now = utc(2026, 11, 21, 12, 0);
        let t = utc(2026, 11, 20, 10, 0);
        let on = |id, platform: &str| Session {
            platform: platform.to_string(),
            ..ep(id, t + id * H, t + id * H + 60)
        };
        let sessions = vec![
            on(1, "Roku"),
            on(2, "Android"),
            on(3, "Roku"),
            on(4, ""),
            on(5, "Android"),
            on(6, "Roku"),
        ];
        let c = chart(
            ChartKind::TopPlatforms,
            &sessions,
            "UTC",
            Window::last_days(now, 7),
        );
        assert_eq!(c.categories, ["Roku", "Android", "Unknown"]);
        assert_eq!(data(&c, "TV"), [3, 2, 1]);
        assert_eq!(data(&c, "Movies"), [0, 0, 0]);
        assert_eq!(c.x_label, "Platform");
    }

    #[test]
    fn table_lists_every_category_and_note() {
        let now = utc(2026, 11, 21, 12, 0);
        let sessions = vec![
            s(1, utc(2026, 11, 21, 10, 0), utc(2026, 11, 21, 11, 0)),
            Session {
                stopped: None,
                play_seconds: 0,
                ..s(2, utc(2026, 11, 21, 10, 0), 0)
            },
        ];
        let c = chart(
            ChartKind::Concurrency,
            &sessions,
            "UTC",
            Window::last_days(now, 2),
        );
        let table = c.to_table();
        assert!(table.contains("Peak concurrent streams per day (last 2 days)"));
        assert!(table.contains(
            "Date        Direct Play  Direct Stream  Transcode  Max. Concurrent Streams"
        ));
        assert!(table.contains(
            "2026-11-20            0              0          0                        0"
        ));
        assert!(table.contains(
            "2026-11-21            1              0          0                        1"
        ));
        assert!(table.contains("note: 1 session without a stop time left out"));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["kind"], "concurrency");
        assert_eq!(json["window"]["days"], 2);
        let back: Chart = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }

    // ---- properties on generated data ----------------------------------------------

    /// A small deterministic generator (xorshift64*), so no extra dependency is needed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> i64 {
            (self.next() % n) as i64
        }
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
                    let c = compute(kind, &sessions, &tzone, zone, window, 3);
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
                let hour_w = compute(ChartKind::PlaysByHour, &sessions, &tzone, zone, window, 0);
                let hour_all = compute(ChartKind::PlaysByHour, &sessions, &tzone, zone, all, 0);
                for h in 0..24 {
                    assert!(data(&hour_w, TOTAL)[h] <= data(&hour_all, TOTAL)[h]);
                }
                let date_w = compute(ChartKind::PlaysByDate, &sessions, &tzone, zone, window, 0);
                let date_all = compute(ChartKind::PlaysByDate, &sessions, &tzone, zone, all, 0);
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
                let users = compute(ChartKind::TopUsers, &sessions, &tzone, zone, window, 0);
                let refs: std::collections::BTreeSet<i64> = sessions
                    .iter()
                    .filter(|s| window.contains(s) && MediaSeries::of(s).is_some())
                    .map(|s| s.reference_id)
                    .collect();
                assert_eq!(sum(&users), refs.len() as u64);
                // Concurrency: equals a brute force per day, never more than the streams
                // touching that day, and each type never above the maximum.
                let c = compute(ChartKind::Concurrency, &sessions, &tzone, zone, window, 0);
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
