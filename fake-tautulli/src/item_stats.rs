//! `get_item_watch_time_stats` and `get_item_user_stats` (Tautulli's
//! `datafactory.get_watch_time_stats` / `get_user_stats`): plays and watch seconds of one
//! item, where a key matches a session's item, parent or grandparent key (a show covers its
//! episodes, a season its episodes). With `media_type=collection` the keys are the
//! collection's members as Plex lists them (none with Plex offline).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::collections;
use crate::ctx::display_name;
use crate::ctx::Ctx;
use crate::params::parse_py_int;
use crate::scenario::Session;

/// Tautulli's placeholder avatar.
const DEFAULT_USER_THUMB: &str = "interfaces/default/images/gravatar-default-80x80.png";

/// What an item-stats request selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemQuery {
    /// Rating keys compared with a session's item, parent and grandparent keys; `None` when
    /// the rating key is not all digits (then only `guid` can select).
    pub keys: Option<HashSet<i64>>,
    /// Exact item guid (`guid` parameter), used when the rating key is not numeric.
    pub guid: Option<String>,
    pub grouping: bool,
}

impl ItemQuery {
    /// `None` when neither `rating_key` nor `guid` is given (Tautulli answers nothing: HTTP 400
    /// with a null message).
    pub fn new(
        ctx: &Ctx,
        rating_key: Option<&str>,
        guid: Option<&str>,
        media_type: Option<&str>,
        grouping: bool,
        plex_online: bool,
    ) -> Option<ItemQuery> {
        let rating_key = rating_key.filter(|v| !v.is_empty());
        let guid = guid.filter(|v| !v.is_empty());
        if rating_key.is_none() && guid.is_none() {
            return None;
        }
        let numeric = rating_key
            .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<i64>().ok());
        let keys = numeric.map(|rk| {
            if matches!(media_type, Some("collection") | Some("playlist")) {
                // The children Plex lists (playlists are not modelled: none).
                collections::find(ctx.scenario, rk)
                    .filter(|_| plex_online && media_type == Some("collection"))
                    .map(|c| collections::live_members(ctx, c))
                    .unwrap_or_default()
                    .into_iter()
                    .collect()
            } else {
                HashSet::from([rk])
            }
        });
        Some(ItemQuery {
            keys,
            guid: guid.map(str::to_owned),
            grouping,
        })
    }

    /// Whether the query runs at all (a numeric key, or else a guid).
    fn runs(&self) -> bool {
        self.keys.is_some() || self.guid.is_some()
    }

    fn matches(&self, ctx: &Ctx, i: usize) -> bool {
        let item = ctx.item_of_session(i as u32);
        match &self.keys {
            Some(keys) => [
                Some(item.rating_key),
                item.parent_rating_key,
                item.grandparent_rating_key,
            ]
            .iter()
            .flatten()
            .any(|k| keys.contains(k)),
            None => self.guid.as_deref() == Some(item.guid.as_str()),
        }
    }

    fn group_key(&self, s: &Session) -> i64 {
        if self.grouping {
            s.reference_id()
        } else {
            s.id
        }
    }
}

/// SQL's `SUM(stopped - started) - SUM(paused_counter)` per session.
fn seconds(s: &Session) -> i64 {
    s.stopped - s.started - s.paused_counter
}

/// One row of `get_item_watch_time_stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchTime {
    pub query_days: i64,
    pub total_time: i64,
    pub total_plays: i64,
}

/// `query_days` as Tautulli reads it: a comma list, each `int()` or 0; default `1,7,30,0`.
pub fn query_days(v: Option<&str>) -> Vec<i64> {
    match v.filter(|v| !v.is_empty()) {
        Some(v) => v.split(',').map(|d| parse_py_int(d).unwrap_or(0)).collect(),
        None => vec![1, 7, 30, 0],
    }
}

/// One row per day count (`0` = all time, else `stopped >= now - days`). A window whose
/// seconds add up to 0 reports 0 plays too (Tautulli tests `if total_time`).
pub fn watch_time(ctx: &Ctx, q: &ItemQuery, days: &[i64], now: i64) -> Vec<WatchTime> {
    if !q.runs() {
        return Vec::new();
    }
    let matching: Vec<usize> = (0..ctx.sessions.len())
        .filter(|&i| q.matches(ctx, i))
        .collect();
    days.iter()
        .map(|&d| {
            let since = now.saturating_sub(d.saturating_mul(crate::clock::DAY));
            let mut time = 0i64;
            let mut plays = HashSet::new();
            for &i in &matching {
                let s = &ctx.sessions[i];
                if d > 0 && s.stopped < since {
                    continue;
                }
                time += seconds(s);
                plays.insert(q.group_key(s));
            }
            let (total_time, total_plays) = if time != 0 {
                (time, plays.len() as i64)
            } else {
                (0, 0)
            };
            WatchTime {
                query_days: d,
                total_time,
                total_plays,
            }
        })
        .collect()
}

/// One row of `get_item_user_stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserStat {
    pub friendly_name: String,
    pub user_id: i64,
    pub user_thumb: String,
    pub username: String,
    pub total_plays: i64,
    pub total_time: i64,
}

/// Per user (users Tautulli knows), ordered by plays then seconds, both descending; full
/// ties by user id ascending (what SQLite 3.40 returns for Tautulli's query: the `GROUP BY`
/// order survives this sort, unlike the top-10 charts' `ORDER BY ... LIMIT`).
pub fn user_stats(ctx: &Ctx, q: &ItemQuery) -> Vec<UserStat> {
    if !q.runs() {
        return Vec::new();
    }
    let mut per_user: HashMap<i64, (HashSet<i64>, i64)> = HashMap::new();
    for (i, s) in ctx.sessions.iter().enumerate() {
        if ctx.user(s.user_id).is_none() || !q.matches(ctx, i) {
            continue;
        }
        let e = per_user.entry(s.user_id).or_default();
        e.0.insert(q.group_key(s));
        e.1 += seconds(s);
    }
    let mut rows: Vec<UserStat> = per_user
        .into_iter()
        .filter_map(|(user_id, (plays, time))| {
            let u = ctx.user(user_id)?;
            Some(UserStat {
                friendly_name: display_name(ctx, user_id),
                user_id,
                user_thumb: u
                    .thumb
                    .clone()
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| DEFAULT_USER_THUMB.to_owned()),
                username: u.username.clone(),
                total_plays: plays.len() as i64,
                total_time: time,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        b.total_plays
            .cmp(&a.total_plays)
            .then(b.total_time.cmp(&a.total_time))
            .then(a.user_id.cmp(&b.user_id))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_days_parse_like_python() {
        assert_eq!(query_days(None), vec![1, 7, 30, 0]);
        assert_eq!(query_days(Some("")), vec![1, 7, 30, 0]);
        assert_eq!(query_days(Some("14, 2,x")), vec![14, 2, 0]);
    }
}
