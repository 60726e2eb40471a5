//! `get_history` computed the way Tautulli 2.17.2 does it: filters (SQL `WHERE`) on single
//! sessions, then `GROUP BY reference_id` (grouping=1) or per session (grouping=0), then the
//! in-progress activity rows `UNION`ed in, then `ORDER BY`, then a Python slice for paging.
//!
//! The grouped, filtered and sorted result (a [`View`]) does not depend on paging, so the
//! server caches it per [`ViewKey`] and pages through it: a client reading 1M plays 10 000 rows
//! at a time costs one grouping pass, not one per page.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::io::Write;
use std::ops::Range;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::catalog::{MediaType, PlayItem};
use crate::ctx::Ctx;
use crate::params::{parse_bool, parse_day, parse_int_list, py_slice, Params};
use crate::scenario::{Client, ServerSettings, WatchedPercent};

/// Tautulli's placeholder avatar for users without a thumb.
const DEFAULT_USER_THUMB: &str = "interfaces/default/images/gravatar-default-80x80.png";

/// Sortable columns: the names `order_column` accepts (anything else is ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Date,
    FriendlyName,
    IpAddress,
    Platform,
    Product,
    Player,
    FullTitle,
    Started,
    PausedCounter,
    Stopped,
    /// The item's runtime, not the play duration (Tautulli sorts on the metadata column).
    Duration,
}

impl Column {
    pub fn parse(name: &str) -> Option<Column> {
        Some(match name {
            "date" => Column::Date,
            "friendly_name" => Column::FriendlyName,
            "ip_address" => Column::IpAddress,
            "platform" => Column::Platform,
            "product" => Column::Product,
            "player" => Column::Player,
            "full_title" => Column::FullTitle,
            "started" => Column::Started,
            "paused_counter" => Column::PausedCounter,
            "stopped" => Column::Stopped,
            "duration" => Column::Duration,
            _ => return None,
        })
    }
}

/// Row filters (Tautulli's `custom_where` plus `search`). `Some(vec![])` matches nothing
/// (a list parameter whose values were all non-numeric).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filters {
    pub user_ids: Option<Vec<i64>>,
    pub user: Option<String>,
    /// Compared with `media_type_live`: `live` for Live TV rows, the media type otherwise.
    pub media_types: Option<Vec<String>>,
    pub rating_keys: Option<Vec<i64>>,
    pub parent_rating_keys: Option<Vec<i64>>,
    pub grandparent_rating_keys: Option<Vec<i64>>,
    pub section_ids: Option<Vec<i64>>,
    /// Lower-case prefix (SQLite `LIKE 'x%'` ignores ASCII case).
    pub guid_prefix: Option<String>,
    /// Local days (days since 1970-01-01 in the host's time zone), inclusive.
    pub after_day: Option<i64>,
    pub before_day: Option<i64>,
    pub on_day: Option<i64>,
    /// Lower-case substring over titles, user names, IP, platform, product, player.
    pub search: Option<String>,
}

/// Everything a [`View`] depends on; paging is applied afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ViewKey {
    pub grouping: bool,
    pub include_activity: bool,
    pub filters: Filters,
    pub order: Column,
    pub descending: bool,
}

/// A parsed `get_history` request.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRequest {
    pub key: ViewKey,
    pub start: i64,
    pub length: i64,
    pub draw: i64,
}

/// A parameter Tautulli would choke on with an exception (HTTP 500).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parameter {name} is not an integer")]
pub struct BadParam {
    pub name: &'static str,
}

impl HistoryRequest {
    pub fn parse(p: &Params, defaults: &ServerSettings) -> Result<HistoryRequest, BadParam> {
        let get = |name: &str| p.get(name).map(String::as_str);
        let int = |name: &'static str, default: i64| -> Result<i64, BadParam> {
            match get(name) {
                None => Ok(default),
                Some(v) => v.trim().parse().map_err(|_| BadParam { name }),
            }
        };
        let start = int("start", 0)?;
        let length = int("length", 25)?;
        let draw = int("draw", 1).unwrap_or(1);
        let grouping = get("grouping")
            .and_then(parse_bool)
            .unwrap_or(defaults.grouping);
        let include_activity = get("include_activity")
            .and_then(parse_bool)
            .unwrap_or(defaults.include_activity);
        let nonempty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let mut f = Filters {
            user_ids: nonempty("user_id").map(parse_int_list),
            media_types: nonempty("media_type").map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            }),
            rating_keys: nonempty("rating_key").map(parse_int_list),
            parent_rating_keys: nonempty("parent_rating_key").map(parse_int_list),
            grandparent_rating_keys: nonempty("grandparent_rating_key").map(parse_int_list),
            section_ids: nonempty("section_id").map(parse_int_list),
            guid_prefix: nonempty("guid").map(|g| g.to_ascii_lowercase()),
            after_day: nonempty("after").and_then(parse_day),
            before_day: nonempty("before").and_then(parse_day),
            on_day: nonempty("start_date").and_then(parse_day),
            search: nonempty("search").map(|s| s.to_lowercase()),
            ..Filters::default()
        };
        // `user_id` wins over `user` (Tautulli only looks at `user` without a `user_id`).
        if f.user_ids.is_none() {
            f.user = nonempty("user").map(str::to_owned);
        }
        let order = get("order_column")
            .and_then(Column::parse)
            .unwrap_or(Column::Date);
        let descending = !matches!(get("order_dir"), Some(d) if d.eq_ignore_ascii_case("asc"));
        Ok(HistoryRequest {
            key: ViewKey {
                grouping,
                include_activity,
                filters: f,
                order,
                descending,
            },
            start,
            length,
            draw,
        })
    }
}

/// Watched status in quarters: 4 = watched (1), 3 = 0.75, ... 0 = 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watched(pub u8);

impl Serialize for Watched {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            0 => s.serialize_i64(0),
            4 => s.serialize_i64(1),
            q => s.serialize_f64(f64::from(q) / 4.0),
        }
    }
}

/// Tautulli's ladder: watched by threshold or credits, else 0.75/0.5/0.25/0 at
/// 3/4, 1/2, 1/4 of the threshold.
pub fn watched_status(watched: bool, percent: f64, threshold: f64) -> Watched {
    let base = threshold / 4.0;
    Watched(if watched {
        4
    } else if percent >= base * 3.0 {
        3
    } else if percent >= base * 2.0 {
        2
    } else if percent >= base {
        1
    } else {
        0
    })
}

fn threshold(w: &WatchedPercent, t: MediaType) -> f64 {
    match t {
        MediaType::Movie => w.movie,
        MediaType::Episode => w.episode,
    }
}

/// Where a row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    /// A history group; the index is its latest session (max id), whose columns it shows.
    History(u32),
    Activity(u32),
}

/// One row of the result before rendering.
#[derive(Debug, Clone)]
pub struct ViewRow {
    pub src: Src,
    pub reference_id: i64,
    pub row_id: i64,
    pub date: i64,
    pub started: i64,
    pub stopped: i64,
    pub play_duration: i64,
    pub paused: i64,
    pub count: u32,
    /// `MAX(view_offset / duration)` over the group, in percent, before rounding.
    pub max_percent: f64,
    /// Member session ids of a group of two or more, ascending.
    pub members: Option<Vec<i64>>,
}

/// The filtered, grouped and sorted result of one [`ViewKey`].
#[derive(Debug, Default)]
pub struct View {
    pub rows: Vec<ViewRow>,
    /// `COUNT(id)` of the whole history table.
    pub records_total: usize,
    /// Play seconds of every session passing the filters (Tautulli's `get_total_duration`).
    pub total_duration: i64,
}

struct Probe<'a> {
    user_id: i64,
    started: i64,
    live: bool,
    item: &'a PlayItem,
    client: &'a Client,
}

impl Filters {
    fn matches(&self, ctx: &Ctx, p: &Probe) -> bool {
        fn has(list: &Option<Vec<i64>>, v: Option<i64>) -> bool {
            match list {
                None => true,
                Some(l) => v.is_some_and(|v| l.contains(&v)),
            }
        }
        if !has(&self.user_ids, Some(p.user_id))
            || !has(&self.rating_keys, Some(p.item.rating_key))
            || !has(&self.parent_rating_keys, p.item.parent_rating_key)
            || !has(&self.grandparent_rating_keys, p.item.grandparent_rating_key)
            || !has(&self.section_ids, Some(p.item.section_id))
        {
            return false;
        }
        let user = ctx.user(p.user_id);
        if let Some(name) = &self.user {
            if user.map(|u| u.username.as_str()) != Some(name.as_str()) {
                return false;
            }
        }
        if let Some(types) = &self.media_types {
            let t = if p.live {
                "live"
            } else {
                p.item.media_type.as_str()
            };
            if !types.iter().any(|x| x == t) {
                return false;
            }
        }
        if let Some(prefix) = &self.guid_prefix {
            let g = p.item.guid.as_bytes();
            if g.len() < prefix.len() || !g[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
            {
                return false;
            }
        }
        if self.after_day.is_some() || self.before_day.is_some() || self.on_day.is_some() {
            let day = ctx.zone.day(p.started);
            if self.after_day.is_some_and(|d| day < d)
                || self.before_day.is_some_and(|d| day > d)
                || self.on_day.is_some_and(|d| day != d)
            {
                return false;
            }
        }
        if let Some(needle) = &self.search {
            let (username, friendly) = user
                .map(|u| {
                    (
                        u.username.as_str(),
                        u.friendly_name.as_deref().unwrap_or(""),
                    )
                })
                .unwrap_or(("", ""));
            let hay = [
                p.item.full_title.as_str(),
                username,
                friendly,
                p.client.ip_address.as_str(),
                p.client.platform.as_str(),
                p.client.product.as_str(),
                p.client.player.as_str(),
            ];
            if !hay
                .iter()
                .any(|h| h.to_lowercase().contains(needle.as_str()))
            {
                return false;
            }
        }
        true
    }
}

fn round_half_even(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// Builds the view for one key: filter, group, union activity, sort.
pub fn build_view(ctx: &Ctx, key: &ViewKey) -> View {
    let mut rows: Vec<ViewRow> = Vec::new();
    let mut by_group: HashMap<i64, usize> = HashMap::new();
    let mut total_duration = 0i64;
    for (i, s) in ctx.sessions.iter().enumerate() {
        let item = ctx.item_of_session(i as u32);
        let probe = Probe {
            user_id: s.user_id,
            started: s.started,
            live: s.live || item.live,
            item,
            client: ctx.client(s.client),
        };
        if !key.filters.matches(ctx, &probe) {
            continue;
        }
        let d = s.play_duration();
        total_duration += d;
        let group = key.grouping.then(|| s.reference_id());
        let existing = group.and_then(|g| by_group.get(&g).copied());
        match existing {
            Some(r) => {
                let row = &mut rows[r];
                row.members
                    .get_or_insert_with(|| vec![row.row_id])
                    .push(s.id);
                if s.id > row.row_id {
                    row.row_id = s.id;
                    row.src = Src::History(i as u32);
                }
                row.date = row.date.max(s.started);
                row.started = row.started.min(s.started);
                row.stopped = row.stopped.max(s.stopped);
                row.play_duration += d;
                row.paused += s.paused_counter;
                row.count += 1;
                row.max_percent = row.max_percent.max(s.percent);
            }
            None => {
                if let Some(g) = group {
                    by_group.insert(g, rows.len());
                }
                rows.push(ViewRow {
                    src: Src::History(i as u32),
                    reference_id: s.reference_id(),
                    row_id: s.id,
                    date: s.started,
                    started: s.started,
                    stopped: s.stopped,
                    play_duration: d,
                    paused: s.paused_counter,
                    count: 1,
                    max_percent: s.percent,
                    members: None,
                });
            }
        }
    }
    for row in &mut rows {
        if let Some(m) = &mut row.members {
            m.sort_unstable();
        }
    }
    if key.include_activity {
        for (i, a) in ctx.activity.iter().enumerate() {
            let item = ctx.item_of_activity(i as u32);
            let probe = Probe {
                user_id: a.user_id,
                started: a.started,
                live: a.live || item.live,
                item,
                client: ctx.client(a.client),
            };
            if !key.filters.matches(ctx, &probe) {
                continue;
            }
            let played = a
                .play_duration
                .unwrap_or_else(|| (a.percent / 100.0 * item.duration as f64).round() as i64);
            rows.push(ViewRow {
                src: Src::Activity(i as u32),
                reference_id: 0,
                row_id: 0,
                date: a.started,
                started: a.started,
                stopped: 0,
                play_duration: played,
                paused: a.paused_counter,
                count: 1,
                max_percent: a.percent,
                members: None,
            });
        }
    }
    sort_rows(ctx, &mut rows, key.order, key.descending);
    View {
        rows,
        records_total: ctx.sessions.len(),
        total_duration,
    }
}

impl ViewRow {
    fn is_activity(&self) -> bool {
        matches!(self.src, Src::Activity(_))
    }
}

/// Case-insensitive (ASCII, SQLite `NOCASE`) comparison.
fn cmp_nocase(a: &str, b: &str) -> Ordering {
    let a = a.bytes().map(|c| c.to_ascii_lowercase());
    let b = b.bytes().map(|c| c.to_ascii_lowercase());
    a.cmp(b)
}

fn friendly_name<'a>(ctx: &Ctx<'a>, user_id: i64) -> Option<&'a str> {
    let u = ctx.user(user_id)?;
    match u.friendly_name.as_deref() {
        None => None,
        Some(f) if f.trim().is_empty() => Some(u.username.as_str()),
        Some(f) => Some(f),
    }
}

struct RowFacts<'a> {
    user_id: i64,
    item: &'a PlayItem,
    client: &'a Client,
}

fn facts<'a>(ctx: &Ctx<'a>, row: &ViewRow) -> RowFacts<'a> {
    match row.src {
        Src::History(i) => {
            let s = &ctx.sessions[i as usize];
            RowFacts {
                user_id: s.user_id,
                item: ctx.item_of_session(i),
                client: ctx.client(s.client),
            }
        }
        Src::Activity(i) => {
            let a = &ctx.activity[i as usize];
            RowFacts {
                user_id: a.user_id,
                item: ctx.item_of_activity(i),
                client: ctx.client(a.client),
            }
        }
    }
}

fn sort_rows(ctx: &Ctx, rows: &mut [ViewRow], col: Column, descending: bool) {
    // `NULL` sorts first ascending in SQLite, like `None` here.
    let stopped = |r: &ViewRow| (!r.is_activity()).then_some(r.stopped);
    let row_id = |r: &ViewRow| (!r.is_activity()).then_some(r.row_id);
    let by_str = |a: Option<&str>, b: Option<&str>| match (a, b) {
        (Some(a), Some(b)) => cmp_nocase(a, b),
        (a, b) => a.is_some().cmp(&b.is_some()),
    };
    let primary = |a: &ViewRow, b: &ViewRow| -> Ordering {
        match col {
            Column::Date => a.date.cmp(&b.date),
            Column::Started => a.started.cmp(&b.started),
            Column::Stopped => stopped(a).cmp(&stopped(b)),
            Column::PausedCounter => a.paused.cmp(&b.paused),
            _ => {
                let (fa, fb) = (facts(ctx, a), facts(ctx, b));
                match col {
                    Column::Duration => fa.item.duration.cmp(&fb.item.duration),
                    Column::FullTitle => cmp_nocase(&fa.item.full_title, &fb.item.full_title),
                    Column::FriendlyName => by_str(
                        friendly_name(ctx, fa.user_id),
                        friendly_name(ctx, fb.user_id),
                    ),
                    Column::IpAddress => cmp_nocase(&fa.client.ip_address, &fb.client.ip_address),
                    Column::Platform => cmp_nocase(&fa.client.platform, &fb.client.platform),
                    Column::Product => cmp_nocase(&fa.client.product, &fb.client.product),
                    Column::Player => cmp_nocase(&fa.client.player, &fb.client.player),
                    _ => Ordering::Equal,
                }
            }
        }
    };
    let activity_key = |r: &ViewRow| match r.src {
        Src::Activity(i) => ctx.activity[i as usize].session_key,
        Src::History(_) => 0,
    };
    rows.sort_unstable_by(|a, b| {
        let p = primary(a, b);
        let p = if descending { p.reverse() } else { p };
        // Deterministic tie-break: newest row first, activity by session key.
        p.then_with(|| row_id(b).cmp(&row_id(a)))
            .then_with(|| activity_key(b).cmp(&activity_key(a)))
    });
}

/// Tautulli's `helpers.human_duration(seconds, sig='dhms')`: "10 hrs 13 mins 20 secs".
pub fn human_duration(seconds: i64) -> String {
    if seconds <= 0 {
        return "0".into();
    }
    let parts = [
        (seconds / 86_400, "day", "days"),
        (seconds % 86_400 / 3_600, "hr", "hrs"),
        (seconds % 3_600 / 60, "min", "mins"),
        (seconds % 60, "sec", "secs"),
    ];
    parts
        .iter()
        .filter(|(v, _, _)| *v > 0)
        .map(|(v, one, many)| format!("{v} {}", if *v == 1 { one } else { many }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An int, or a digit string with the `digit_strings` quirk.
struct Int(i64, bool);
impl Serialize for Int {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.1 {
            s.collect_str(&self.0)
        } else {
            s.serialize_i64(self.0)
        }
    }
}

/// An int or `null`.
struct OptInt(Option<i64>, bool);
impl Serialize for OptInt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(v) => Int(v, self.1).serialize(s),
            None => s.serialize_unit(),
        }
    }
}

/// An int or `""` (SQLite's empty value for a missing number).
struct IntOrEmpty(Option<i64>, bool);
impl Serialize for IntOrEmpty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(v) => Int(v, self.1).serialize(s),
            None => s.serialize_str(""),
        }
    }
}

struct GroupIds<'a>(&'a ViewRow);
impl Serialize for GroupIds<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0.members {
            Some(m) => s.collect_str(&format_args!("{}", join_ids(m))),
            None => s.collect_str(&self.0.row_id),
        }
    }
}

fn join_ids(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// One rendered row, in the field order of the real server.
pub struct RowOut<'a> {
    ctx: Ctx<'a>,
    row: &'a ViewRow,
    ds: bool,
}

impl Serialize for RowOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (ctx, row, ds) = (&self.ctx, self.row, self.ds);
        let f = facts(ctx, row);
        let item = f.item;
        let user = ctx.user(f.user_id);
        let (credits, transcode, live_flag, state, session_key) = match row.src {
            Src::History(i) => {
                let x = &ctx.sessions[i as usize];
                (x.credits_watched, x.transcode_decision, x.live, None, None)
            }
            Src::Activity(i) => {
                let a = &ctx.activity[i as usize];
                (
                    false,
                    a.transcode_decision,
                    a.live,
                    Some(a.state.as_str()),
                    Some(a.session_key),
                )
            }
        };
        let live = live_flag || item.live;
        let latest_percent = match row.src {
            Src::History(i) => ctx.sessions[i as usize].percent,
            Src::Activity(i) => ctx.activity[i as usize].percent,
        };
        let thr = threshold(&ctx.scenario.server.watched_percent, item.media_type);
        // Tautulli rounds MAX(percent) over the group; `watched` (check_watched) looks at the
        // group's bare columns, i.e. its latest session; Live TV counts as 100 %.
        let (percent, watched) = if live {
            (100.0, true)
        } else {
            (row.max_percent, credits || latest_percent >= thr)
        };
        let watched = watched_status(watched, percent, thr);
        let activity = row.is_activity();
        let id = (!activity).then_some(row.row_id);
        let user_thumb = user
            .and_then(|u| u.thumb.as_deref())
            .filter(|t| !t.is_empty())
            .unwrap_or(DEFAULT_USER_THUMB);

        let mut m = s.serialize_map(Some(44))?;
        m.serialize_entry(
            "reference_id",
            &OptInt((!activity).then_some(row.reference_id), ds),
        )?;
        m.serialize_entry("row_id", &OptInt(id, ds))?;
        m.serialize_entry("id", &OptInt(id, ds))?;
        m.serialize_entry("date", &Int(row.date, ds))?;
        m.serialize_entry("started", &Int(row.started, ds))?;
        m.serialize_entry("stopped", &OptInt((!activity).then_some(row.stopped), ds))?;
        m.serialize_entry("duration", &Int(row.play_duration, ds))?;
        m.serialize_entry("play_duration", &Int(row.play_duration, ds))?;
        m.serialize_entry("paused_counter", &Int(row.paused, ds))?;
        m.serialize_entry("user_id", &Int(f.user_id, ds))?;
        m.serialize_entry("user", &user.map(|u| u.username.as_str()))?;
        m.serialize_entry("friendly_name", &friendly_name(ctx, f.user_id))?;
        m.serialize_entry("user_thumb", user_thumb)?;
        m.serialize_entry("platform", &f.client.platform)?;
        m.serialize_entry("product", &f.client.product)?;
        m.serialize_entry("player", &f.client.player)?;
        m.serialize_entry("ip_address", &f.client.ip_address)?;
        m.serialize_entry("live", &Int(i64::from(live), ds))?;
        m.serialize_entry("machine_id", &f.client.machine_id())?;
        m.serialize_entry("location", &f.client.location)?;
        m.serialize_entry("secure", &Int(i64::from(f.client.secure), ds))?;
        m.serialize_entry("relayed", &Int(i64::from(f.client.relayed), ds))?;
        m.serialize_entry("media_type", item.media_type.as_str())?;
        m.serialize_entry("rating_key", &Int(item.rating_key, ds))?;
        m.serialize_entry("parent_rating_key", &IntOrEmpty(item.parent_rating_key, ds))?;
        m.serialize_entry(
            "grandparent_rating_key",
            &IntOrEmpty(item.grandparent_rating_key, ds),
        )?;
        m.serialize_entry("full_title", &item.full_title)?;
        m.serialize_entry("title", &item.title)?;
        m.serialize_entry("parent_title", &item.parent_title)?;
        m.serialize_entry("grandparent_title", &item.grandparent_title)?;
        m.serialize_entry("original_title", &item.original_title)?;
        m.serialize_entry("year", &IntOrEmpty(item.year, ds))?;
        m.serialize_entry("media_index", &IntOrEmpty(item.media_index, ds))?;
        m.serialize_entry(
            "parent_media_index",
            &IntOrEmpty(item.parent_media_index, ds),
        )?;
        m.serialize_entry("thumb", &item.thumb)?;
        m.serialize_entry("originally_available_at", &item.originally_available_at)?;
        m.serialize_entry("guid", &item.guid)?;
        m.serialize_entry("transcode_decision", transcode.as_str())?;
        m.serialize_entry("percent_complete", &Int(round_half_even(percent), ds))?;
        m.serialize_entry("watched_status", &watched)?;
        if activity {
            m.serialize_entry("group_count", &())?;
            m.serialize_entry("group_ids", &())?;
        } else {
            m.serialize_entry("group_count", &Int(i64::from(row.count), ds))?;
            m.serialize_entry("group_ids", &GroupIds(row))?;
        }
        m.serialize_entry("state", &state)?;
        m.serialize_entry("session_key", &session_key.map(|k| Int(k, ds)))?;
        m.end()
    }
}

struct RowsOut<'a> {
    ctx: Ctx<'a>,
    rows: &'a [ViewRow],
    ds: bool,
}

impl Serialize for RowsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.rows.len()))?;
        for row in self.rows {
            seq.serialize_element(&RowOut {
                ctx: self.ctx,
                row,
                ds: self.ds,
            })?;
        }
        seq.end()
    }
}

/// The `data` object of a `get_history` answer.
#[derive(Serialize)]
struct PageOut<'a> {
    #[serde(rename = "recordsFiltered")]
    records_filtered: usize,
    #[serde(rename = "recordsTotal")]
    records_total: usize,
    data: RowsOut<'a>,
    draw: i64,
    filter_duration: String,
    total_duration: String,
}

/// The rows of `view` one request returns: Tautulli's Python slice `[start:start + length]`.
pub fn page_range(view: &View, req: &HistoryRequest) -> Range<usize> {
    py_slice(
        view.rows.len(),
        req.start,
        req.start.saturating_add(req.length),
    )
}

/// Writes the `data` JSON of one page of `view`.
pub fn write_page(
    out: &mut impl Write,
    ctx: Ctx,
    view: &View,
    req: &HistoryRequest,
) -> serde_json::Result<()> {
    let rows = &view.rows[page_range(view, req)];
    // Tautulli sums `filter_duration` over the rows it returns (the page).
    let filter_duration: i64 = rows.iter().map(|r| r.play_duration).sum();
    let page = PageOut {
        records_filtered: view.rows.len(),
        records_total: view.records_total,
        data: RowsOut {
            ctx,
            rows,
            ds: ctx.scenario.server.quirks.digit_strings,
        },
        draw: req.draw,
        filter_duration: human_duration(filter_duration),
        total_duration: human_duration(view.total_duration),
    };
    serde_json::to_writer(out, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_match_tautulli() {
        assert_eq!(human_duration(36_800), "10 hrs 13 mins 20 secs");
        assert_eq!(
            human_duration(86_400 + 3_600 + 60 + 1),
            "1 day 1 hr 1 min 1 sec"
        );
        assert_eq!(human_duration(172_800), "2 days");
        assert_eq!(human_duration(0), "0");
    }

    #[test]
    fn watched_ladder_uses_quarters_of_the_threshold() {
        let w = |p| watched_status(false, p, 85.0).0;
        assert_eq!(w(68.0), 3);
        assert_eq!(w(63.75), 3);
        assert_eq!(w(50.0), 2);
        assert_eq!(w(36.0), 1);
        assert_eq!(w(10.0), 0);
        assert_eq!(watched_status(true, 10.0, 85.0).0, 4);
        assert_eq!(serde_json::to_string(&Watched(4)).unwrap(), "1");
        assert_eq!(serde_json::to_string(&Watched(3)).unwrap(), "0.75");
        assert_eq!(serde_json::to_string(&Watched(0)).unwrap(), "0");
    }

    #[test]
    fn rounding_is_pythons() {
        assert_eq!(round_half_even(96.5), 96);
        assert_eq!(round_half_even(97.5), 98);
        assert_eq!(round_half_even(67.6), 68);
    }

    #[test]
    fn unknown_order_columns_are_ignored() {
        assert_eq!(Column::parse("date"), Some(Column::Date));
        assert_eq!(Column::parse("rating_key"), None);
    }

    #[test]
    fn nocase_comparison() {
        assert_eq!(cmp_nocase("abc", "ABD"), Ordering::Less);
        assert_eq!(cmp_nocase("B", "a"), Ordering::Greater);
        assert_eq!(cmp_nocase("x", "X"), Ordering::Equal);
    }
}
