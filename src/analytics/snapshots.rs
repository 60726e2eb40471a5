//! Collection snapshots: for every collection and window, how much it was watched, recorded
//! append-only with an optional rotation (campaign) that is a real row of `rotations`.
//!
//! Counting, per window of `days` (0 = all time) ending at `now`:
//! - the sessions considered are those started at or before `now` that ended (else started)
//!   at or after `now - days * 86400`: Tautulli's own window rule, and the charts' one
//!   ([`Session::end`] gives the end);
//! - a session belongs to the collection when one of its rating keys (item, parent,
//!   grandparent) is a member;
//! - `plays` are viewings: distinct `reference_id`, as Tautulli counts with grouping on;
//! - `watch_seconds` sums the sessions' play seconds (negative values, which only a broken
//!   row can have, count as 0); `unique_users` counts distinct user ids;
//! - `items_with_plays` counts members with at least one session (a show member counts once,
//!   whatever number of its episodes were played); `total_items` counts members.
//!
//! Retention runs after every collect: snapshots older than `max_age_days` go, and per
//! collection only the newest `max_per_collection` runs (all windows of one collect are one
//! run) are kept.

use std::collections::{BTreeMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::analytics::collections::{active_collections, ResolveReport};
use crate::analytics::config::Retention;
use crate::analytics::session::Session;
use crate::analytics::store::{self, session_from_row, Store, SESSION_COLUMNS};
use crate::analytics::window::Window;
use crate::error::Result;
use crate::timefmt::format_utc;

/// Longest rotation name accepted.
pub const MAX_ROTATION_NAME: usize = 200;

/// The counts of one collection over one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub plays: i64,
    pub watch_seconds: i64,
    pub unique_users: i64,
    pub items_with_plays: i64,
    pub total_items: i64,
}

/// Counts `sessions` for a collection of `members` over `days` (0 = all time) ending at `now`.
/// `sessions` may hold anything: those outside the window or the collection are ignored.
pub fn stats(sessions: &[Session], members: &[i64], now: i64, days: u32) -> Stats {
    let members: HashSet<i64> = members.iter().copied().collect();
    let window = Window { now, days };
    let mut viewings = HashSet::new();
    let mut users = HashSet::new();
    let mut items = HashSet::new();
    let mut watch_seconds = 0i64;
    for s in sessions {
        if !window.contains(s) {
            continue;
        }
        let keys = [
            Some(s.rating_key),
            s.parent_rating_key,
            s.grandparent_rating_key,
        ];
        let mut matched = false;
        for k in keys.into_iter().flatten() {
            if members.contains(&k) {
                items.insert(k);
                matched = true;
            }
        }
        if matched {
            viewings.insert(s.reference_id);
            users.insert(s.user_id);
            watch_seconds += s.play_seconds.max(0);
        }
    }
    Stats {
        plays: viewings.len() as i64,
        watch_seconds,
        unique_users: users.len() as i64,
        items_with_plays: items.len() as i64,
        total_items: members.len() as i64,
    }
}

/// One stored snapshot, as queries return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotRow {
    pub id: i64,
    pub collection: String,
    pub library: String,
    pub section_id: i64,
    pub rating_key: i64,
    /// 0 = all time.
    pub window_days: u32,
    pub plays: i64,
    pub watch_seconds: i64,
    pub unique_users: i64,
    pub items_with_plays: i64,
    pub total_items: i64,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub collected_at: String,
    pub rotation: Option<String>,
}

/// The change of one collection and window between two runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delta {
    pub collection: String,
    pub library: String,
    pub section_id: i64,
    pub rating_key: i64,
    pub window_days: u32,
    pub from: String,
    pub to: String,
    pub plays_from: i64,
    pub plays_to: i64,
    pub plays_change: i64,
    pub watch_seconds_from: i64,
    pub watch_seconds_to: i64,
    pub watch_seconds_change: i64,
    pub unique_users_from: i64,
    pub unique_users_to: i64,
    pub unique_users_change: i64,
    pub items_with_plays_change: i64,
    pub total_items_change: i64,
}

/// Which run (all snapshots of one collect) a diff side means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunRef {
    /// The newest run.
    Latest,
    /// The run before the newest.
    Previous,
    /// The newest run at or before this epoch second.
    At(i64),
    /// The run the snapshot with this id belongs to.
    Snapshot(i64),
}

/// What a collect did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CollectReport {
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub collected_at: String,
    pub collected_at_epoch: i64,
    pub rotation: Option<String>,
    pub collections: usize,
    pub windows: Vec<u32>,
    pub snapshots_written: usize,
    /// Snapshots removed by the retention policy.
    pub retention_deleted: usize,
    /// The snapshots written, as [`latest`] returns them.
    pub rows: Vec<SnapshotRow>,
    /// How the collections were resolved (set by the service, which resolves them first).
    pub resolve: Option<ResolveReport>,
    pub warnings: Vec<String>,
}

/// Records a snapshot of every active collection for every window, in one transaction, then
/// applies the retention policy.
pub fn collect(
    store: &mut Store,
    now: i64,
    rotation: Option<&str>,
    windows: &[u32],
    retention: &Retention,
) -> Result<CollectReport> {
    let rotation = match rotation.map(str::trim) {
        None => None,
        Some("") => {
            return Err(store::bad_argument(
                "rotation",
                "empty; give the rotation (campaign) a name, or leave it out",
            ))
        }
        Some(r) if r.chars().count() > MAX_ROTATION_NAME => {
            return Err(store::bad_argument(
                "rotation",
                format!("longer than {MAX_ROTATION_NAME} characters"),
            ))
        }
        Some(r) => Some(r.to_string()),
    };
    let collections = active_collections(store)?;
    let path = store.path().map(|p| p.to_path_buf());
    let err = |e| store::db_error(path.as_deref(), e);
    // The write lock up front: a read that later wants to write while another run commits
    // would fail at once instead of waiting for its turn.
    let tx = store
        .conn_mut()
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    let rotation_id = match &rotation {
        None => None,
        Some(name) => {
            tx.execute(
                "INSERT INTO rotations (name, started_at) VALUES (?1, ?2) \
                 ON CONFLICT(name) DO NOTHING",
                params![name, now],
            )
            .map_err(err)?;
            Some(
                tx.query_row("SELECT id FROM rotations WHERE name = ?1", [name], |r| {
                    r.get::<_, i64>(0)
                })
                .map_err(err)?,
            )
        }
    };
    let mut written = 0usize;
    for c in &collections {
        let members = member_keys(&tx, c.id).map_err(err)?;
        let sessions = member_sessions(&tx, c.id, now).map_err(err)?;
        for &days in windows {
            let s = stats(&sessions, &members, now, days);
            tx.prepare_cached(
                "INSERT INTO collection_snapshots (collection_id, window_days, plays, \
                 watch_seconds, unique_users, items_with_plays, total_items, collected_at, \
                 rotation_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    c.id,
                    days,
                    s.plays,
                    s.watch_seconds,
                    s.unique_users,
                    s.items_with_plays,
                    s.total_items,
                    now,
                    rotation_id
                ])
            })
            .map_err(err)?;
            written += 1;
        }
    }
    let deleted = apply_retention(&tx, now, retention).map_err(err)?;
    tx.commit().map_err(err)?;

    let mut warnings = Vec::new();
    if collections.is_empty() {
        warnings.push(
            "no collections to snapshot: define analytics.collections or turn on \
             analytics.discover (with Plex reachable behind Tautulli)"
                .to_string(),
        );
    }
    let rows = select_rows(
        store,
        "s.collected_at = ?1",
        params![now],
        "c.library, c.name, c.section_id, c.rating_key, s.id",
    )?;
    Ok(CollectReport {
        collected_at: format_utc(now),
        collected_at_epoch: now,
        rotation,
        collections: collections.len(),
        windows: windows.to_vec(),
        snapshots_written: written,
        retention_deleted: deleted,
        rows,
        resolve: None,
        warnings,
    })
}

fn member_keys(conn: &Connection, collection_id: i64) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT rating_key FROM collection_members WHERE collection_id = ?1 ORDER BY rating_key",
    )?;
    let rows = stmt.query_map([collection_id], |r| r.get(0))?;
    rows.collect()
}

/// Sessions started by `now` that belong to the collection, found through the three rating
/// key indexes.
fn member_sessions(
    conn: &Connection,
    collection_id: i64,
    now: i64,
) -> rusqlite::Result<Vec<Session>> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE started <= ?2 AND id IN ( \
           SELECT s.id FROM sessions s JOIN collection_members m ON s.rating_key = m.rating_key \
             WHERE m.collection_id = ?1 \
           UNION SELECT s.id FROM sessions s \
             JOIN collection_members m ON s.parent_rating_key = m.rating_key \
             WHERE m.collection_id = ?1 \
           UNION SELECT s.id FROM sessions s \
             JOIN collection_members m ON s.grandparent_rating_key = m.rating_key \
             WHERE m.collection_id = ?1)"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![collection_id, now], session_from_row)?;
    rows.collect()
}

/// Deletes snapshots past the retention policy; returns how many.
fn apply_retention(conn: &Connection, now: i64, r: &Retention) -> rusqlite::Result<usize> {
    let mut deleted = 0;
    if r.max_age_days > 0 {
        deleted += conn.execute(
            "DELETE FROM collection_snapshots WHERE collected_at < ?1",
            [now.saturating_sub(i64::from(r.max_age_days) * 86_400)],
        )?;
    }
    if r.max_per_collection > 0 {
        deleted += conn.execute(
            "DELETE FROM collection_snapshots WHERE id IN ( \
               SELECT id FROM ( \
                 SELECT id, DENSE_RANK() OVER ( \
                   PARTITION BY collection_id ORDER BY collected_at DESC) AS run \
                 FROM collection_snapshots) \
               WHERE run > ?1)",
            [i64::from(r.max_per_collection)],
        )?;
    }
    Ok(deleted)
}

const ROW_SELECT: &str = "SELECT s.id, c.name, c.library, c.section_id, c.rating_key, \
     s.window_days, s.plays, s.watch_seconds, s.unique_users, s.items_with_plays, \
     s.total_items, s.collected_at, r.name \
     FROM collection_snapshots s JOIN collections c ON c.id = s.collection_id \
     LEFT JOIN rotations r ON r.id = s.rotation_id";

/// Windows ascending, all time last.
const WINDOW_ORDER: &str = "CASE s.window_days WHEN 0 THEN 1 ELSE 0 END, s.window_days";

fn select_rows(
    store: &Store,
    cond: &str,
    p: &[&dyn rusqlite::ToSql],
    order: &str,
) -> Result<Vec<SnapshotRow>> {
    let sql = format!("{ROW_SELECT} WHERE {cond} ORDER BY {order}, {WINDOW_ORDER}, s.id");
    let mut stmt = store.conn().prepare(&sql).map_err(|e| store.err(e))?;
    let rows = stmt
        .query_map(p, |r| {
            Ok(SnapshotRow {
                id: r.get(0)?,
                collection: r.get(1)?,
                library: r.get(2)?,
                section_id: r.get(3)?,
                rating_key: r.get(4)?,
                window_days: r.get(5)?,
                plays: r.get(6)?,
                watch_seconds: r.get(7)?,
                unique_users: r.get(8)?,
                items_with_plays: r.get(9)?,
                total_items: r.get(10)?,
                collected_at: format_utc(r.get(11)?),
                rotation: r.get(12)?,
            })
        })
        .map_err(|e| store.err(e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| store.err(e))
}

/// Snapshot ids of the newest row per (collection, window) among rows at `collected_at`
/// condition `run`; used to read one run even when two collects shared a second.
const NEWEST_PER_WINDOW: &str = "s.id IN (SELECT MAX(x.id) FROM collection_snapshots x \
     WHERE x.collected_at = (SELECT MAX(y.collected_at) FROM collection_snapshots y \
                             WHERE y.collection_id = x.collection_id) \
     GROUP BY x.collection_id, x.window_days)";

/// The latest run of every active collection, by library and name.
pub fn latest(store: &Store) -> Result<Vec<SnapshotRow>> {
    select_rows(
        store,
        &format!("c.active = 1 AND {NEWEST_PER_WINDOW}"),
        params![],
        "c.library, c.name, c.section_id, c.rating_key",
    )
}

/// Every snapshot of one collection (name or `SECTION:RATING_KEY`), newest first.
pub fn history(store: &Store, collection: &str) -> Result<Vec<SnapshotRow>> {
    let c = crate::analytics::collections::find(store, collection)?;
    select_rows(
        store,
        "s.collection_id = ?1",
        params![c.id],
        "s.collected_at DESC",
    )
}

/// The `n` active collections with the most plays in their latest snapshot of `window_days`.
pub fn top(store: &Store, n: usize, window_days: u32) -> Result<Vec<SnapshotRow>> {
    let mut rows: Vec<SnapshotRow> = latest(store)?
        .into_iter()
        .filter(|r| r.window_days == window_days)
        .collect();
    rows.sort_by(|a, b| {
        b.plays
            .cmp(&a.plays)
            .then(b.watch_seconds.cmp(&a.watch_seconds))
            .then_with(|| a.collection.cmp(&b.collection))
            .then(a.section_id.cmp(&b.section_id))
    });
    rows.truncate(n);
    Ok(rows)
}

/// Every snapshot recorded under a rotation, newest first.
pub fn rotation(store: &Store, name: &str) -> Result<Vec<SnapshotRow>> {
    let id: Option<i64> = store
        .conn()
        .query_row(
            "SELECT id FROM rotations WHERE name = ?1",
            [name.trim()],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| store.err(e))?;
    let Some(id) = id else {
        let known = rotations(store)?;
        return Err(store::bad_argument(
            "rotation",
            format!(
                "no rotation named \"{}\"; known: {}",
                name.trim(),
                if known.is_empty() {
                    "none yet (collect with --rotation NAME)".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    select_rows(
        store,
        "s.rotation_id = ?1",
        params![id],
        "s.collected_at DESC, c.library, c.name, c.section_id, c.rating_key",
    )
}

/// Rotation names, oldest first.
pub fn rotations(store: &Store) -> Result<Vec<String>> {
    let mut stmt = store
        .conn()
        .prepare("SELECT name FROM rotations ORDER BY started_at, id")
        .map_err(|e| store.err(e))?;
    let rows = stmt.query_map([], |r| r.get(0)).map_err(|e| store.err(e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| store.err(e))
}

/// The change between two runs, per collection and window present in both, optionally for
/// one collection (name or `SECTION:RATING_KEY`).
pub fn diff(
    store: &Store,
    from: RunRef,
    to: RunRef,
    collection: Option<&str>,
) -> Result<Vec<Delta>> {
    let only = collection
        .map(|c| crate::analytics::collections::find(store, c))
        .transpose()?;
    let runs: Vec<i64> = {
        let (sql, p): (&str, Vec<i64>) = match &only {
            Some(c) => (
                "SELECT DISTINCT collected_at FROM collection_snapshots WHERE collection_id = ?1 \
                 ORDER BY collected_at DESC",
                vec![c.id],
            ),
            None => (
                "SELECT DISTINCT collected_at FROM collection_snapshots ORDER BY collected_at DESC",
                vec![],
            ),
        };
        let mut stmt = store.conn().prepare(sql).map_err(|e| store.err(e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(p), |r| r.get(0))
            .map_err(|e| store.err(e))?;
        rows.collect::<rusqlite::Result<Vec<i64>>>()
            .map_err(|e| store.err(e))?
    };
    let ta = run_time(store, &runs, from, "from")?;
    let tb = run_time(store, &runs, to, "to")?;
    let side = |t: i64| -> Result<BTreeMap<(i64, i64, u32), SnapshotRow>> {
        let rows = select_rows(
            store,
            "s.collected_at = ?1 AND (?2 IS NULL OR s.collection_id = ?2)",
            params![t, only.as_ref().map(|c| c.id)],
            "c.library, c.name, c.section_id, c.rating_key",
        )?;
        // Newest row per (collection, window) when two collects shared a second.
        Ok(rows
            .into_iter()
            .map(|r| ((r.section_id, r.rating_key, r.window_days), r))
            .collect())
    };
    let a = side(ta)?;
    let b = side(tb)?;
    let mut out: Vec<Delta> = b
        .iter()
        .filter_map(|(k, rb)| {
            let ra = a.get(k)?;
            Some(Delta {
                collection: rb.collection.clone(),
                library: rb.library.clone(),
                section_id: rb.section_id,
                rating_key: rb.rating_key,
                window_days: rb.window_days,
                from: ra.collected_at.clone(),
                to: rb.collected_at.clone(),
                plays_from: ra.plays,
                plays_to: rb.plays,
                plays_change: rb.plays - ra.plays,
                watch_seconds_from: ra.watch_seconds,
                watch_seconds_to: rb.watch_seconds,
                watch_seconds_change: rb.watch_seconds - ra.watch_seconds,
                unique_users_from: ra.unique_users,
                unique_users_to: rb.unique_users,
                unique_users_change: rb.unique_users - ra.unique_users,
                items_with_plays_change: rb.items_with_plays - ra.items_with_plays,
                total_items_change: rb.total_items - ra.total_items,
            })
        })
        .collect();
    out.sort_by(|x, y| {
        (&x.library, &x.collection, x.section_id, x.rating_key)
            .cmp(&(&y.library, &y.collection, y.section_id, y.rating_key))
            .then((x.window_days == 0).cmp(&(y.window_days == 0)))
            .then(x.window_days.cmp(&y.window_days))
    });
    Ok(out)
}

fn run_time(store: &Store, runs_desc: &[i64], r: RunRef, side: &str) -> Result<i64> {
    let none = || {
        store::bad_argument(
            side,
            format!(
                "no such snapshot run ({r:?}); runs held: {}",
                if runs_desc.is_empty() {
                    "none yet (run `analytics collect`)".to_string()
                } else {
                    runs_desc
                        .iter()
                        .take(10)
                        .map(|&t| format_utc(t))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        )
    };
    match r {
        RunRef::Latest => runs_desc.first().copied().ok_or_else(none),
        RunRef::Previous => runs_desc.get(1).copied().ok_or_else(none),
        RunRef::At(t) => runs_desc.iter().copied().find(|&x| x <= t).ok_or_else(none),
        RunRef::Snapshot(id) => store
            .conn()
            .query_row(
                "SELECT collected_at FROM collection_snapshots WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| store.err(e))?
            .ok_or_else(none),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::collections::{save, Member, Origin, Resolution, ResolvedCollection};
    use crate::analytics::session::MediaType;
    use crate::analytics::store::tests::session;
    use crate::analytics::store::upsert_session;

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_000 * DAY;

    fn episode(id: i64, user: i64, ep: i64, season: i64, show: i64, started: i64) -> Session {
        let mut s = session(id, user, ep, started);
        s.media_type = MediaType::Episode;
        s.parent_rating_key = Some(season);
        s.grandparent_rating_key = Some(show);
        s
    }

    fn sessions() -> Vec<Session> {
        let mut v = vec![
            // Movie 101: alice twice in one viewing (group 1), bob once, long ago.
            session(1, 1, 101, NOW - 2 * DAY),
            session(2, 1, 101, NOW - 2 * DAY + 700),
            session(3, 2, 101, NOW - 40 * DAY),
            // Show 199: two episodes by carol today.
            episode(4, 3, 201, 200, 199, NOW - 3600),
            episode(5, 3, 202, 200, 199, NOW - 1800),
            // Not a member.
            session(6, 1, 555, NOW - 100),
            // After `now`: ignored.
            session(7, 4, 101, NOW + 10),
        ];
        v[1].reference_id = 1;
        v[2].play_seconds = 1234;
        v
    }

    #[test]
    fn stats_count_viewings_users_seconds_and_items() {
        let s = sessions();
        let all = stats(&s, &[101, 199, 104], NOW, 0);
        assert_eq!(
            all,
            Stats {
                plays: 4,
                watch_seconds: 600 + 600 + 1234 + 600 + 600,
                unique_users: 3,
                items_with_plays: 2,
                total_items: 3
            }
        );
        let week = stats(&s, &[101, 199, 104], NOW, 7);
        assert_eq!(
            (week.plays, week.unique_users, week.items_with_plays),
            (3, 2, 2)
        );
        let day = stats(&s, &[101, 199, 104], NOW, 1);
        assert_eq!(
            (day.plays, day.unique_users, day.items_with_plays),
            (2, 1, 1)
        );
        // A season member and an episode member.
        let season = stats(&s, &[200], NOW, 0);
        assert_eq!((season.plays, season.items_with_plays), (2, 1));
        let ep = stats(&s, &[202], NOW, 0);
        assert_eq!((ep.plays, ep.items_with_plays), (1, 1));
    }

    #[test]
    fn windows_never_exceed_all_time() {
        let s = sessions();
        let members = [101, 199, 555];
        let all = stats(&s, &members, NOW, 0);
        for days in [1, 2, 3, 7, 30, 39, 40, 41, 365] {
            let w = stats(&s, &members, NOW, days);
            assert!(
                w.plays <= all.plays && w.unique_users <= all.unique_users,
                "{days}"
            );
            assert!(
                w.watch_seconds <= all.watch_seconds && w.items_with_plays <= all.items_with_plays
            );
        }
    }

    fn store_with_collections() -> Store {
        let mut store = Store::open_in_memory().unwrap();
        for s in sessions() {
            upsert_session(store.conn(), &s).unwrap();
        }
        let m = |k| Member {
            rating_key: k,
            kind: None,
            title: None,
        };
        let res = Resolution {
            collections: vec![
                ResolvedCollection {
                    section_id: 1,
                    library: "Movies".into(),
                    rating_key: 5001,
                    name: "Favourites".into(),
                    origin: Origin::Config,
                    members: vec![m(101), m(104)],
                },
                ResolvedCollection {
                    section_id: 2,
                    library: "TV".into(),
                    rating_key: 6001,
                    name: "Favourites".into(),
                    origin: Origin::Config,
                    members: vec![m(199)],
                },
            ],
            ..Resolution::default()
        };
        save(&mut store, &res, false, 0).unwrap();
        store
    }

    #[test]
    fn collect_writes_one_row_per_collection_and_window_and_queries_read_them() {
        let mut store = store_with_collections();
        let r = collect(
            &mut store,
            NOW,
            Some("spring"),
            &[1, 7, 0],
            &Retention::default(),
        )
        .unwrap();
        assert_eq!(
            (r.collections, r.snapshots_written, r.retention_deleted),
            (2, 6, 0)
        );
        assert_eq!(r.rows.len(), 6);
        let movies_all = r
            .rows
            .iter()
            .find(|x| x.library == "Movies" && x.window_days == 0)
            .unwrap();
        assert_eq!(
            (
                movies_all.plays,
                movies_all.unique_users,
                movies_all.total_items
            ),
            (2, 2, 2)
        );
        assert_eq!(movies_all.rotation.as_deref(), Some("spring"));

        let r2 = collect(
            &mut store,
            NOW + DAY,
            None,
            &[1, 7, 0],
            &Retention::default(),
        )
        .unwrap();
        assert_eq!(r2.rotation, None);
        let latest = latest(&store).unwrap();
        assert_eq!(latest.len(), 6);
        assert!(latest
            .iter()
            .all(|x| x.collected_at == format_utc(NOW + DAY)));
        let windows: Vec<u32> = latest.iter().take(3).map(|x| x.window_days).collect();
        assert_eq!(windows, [1, 7, 0], "all time last");

        let h = history(&store, "1:5001").unwrap();
        assert_eq!(h.len(), 6);
        assert_eq!(h[0].collected_at, format_utc(NOW + DAY), "newest first");
        let e = history(&store, "Favourites").unwrap_err().to_string();
        assert!(e.contains("1:5001") && e.contains("2:6001"), "{e}");

        let top1 = top(&store, 1, 0).unwrap();
        assert_eq!(top1.len(), 1);
        assert_eq!(
            top1[0].library, "Movies",
            "2 plays each: more watch time wins"
        );

        assert_eq!(rotation(&store, "spring").unwrap().len(), 6);
        let e = rotation(&store, "autumn").unwrap_err().to_string();
        assert!(e.contains("spring"), "{e}");

        // One day later the 1-day window lost carol's two episodes.
        let d = diff(&store, RunRef::Previous, RunRef::Latest, Some("2:6001")).unwrap();
        let day = d.iter().find(|x| x.window_days == 1).unwrap();
        assert_eq!((day.plays_from, day.plays_to, day.plays_change), (2, 0, -2));
        let all = d.iter().find(|x| x.window_days == 0).unwrap();
        assert_eq!(all.plays_change, 0);
        let by_id = diff(&store, RunRef::Snapshot(1), RunRef::At(NOW + 2 * DAY), None).unwrap();
        assert_eq!(by_id.len(), 6);
        assert!(diff(&store, RunRef::At(NOW - 1), RunRef::Latest, None).is_err());
    }

    #[test]
    fn the_rotation_is_a_real_row() {
        let mut store = store_with_collections();
        collect(
            &mut store,
            NOW,
            Some(" launch "),
            &[0],
            &Retention::default(),
        )
        .unwrap();
        collect(
            &mut store,
            NOW + 1,
            Some("launch"),
            &[0],
            &Retention::default(),
        )
        .unwrap();
        assert_eq!(rotations(&store).unwrap(), ["launch"]);
        let orphans: i64 = store
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM collection_snapshots s LEFT JOIN rotations r \
                 ON r.id = s.rotation_id WHERE s.rotation_id IS NOT NULL AND r.id IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0);
        let e = store
            .conn()
            .execute(
                "INSERT INTO collection_snapshots (collection_id, window_days, plays, \
                 watch_seconds, unique_users, items_with_plays, total_items, collected_at, \
                 rotation_id) VALUES (1, 0, 0, 0, 0, 0, 0, 0, 999)",
                [],
            )
            .unwrap_err();
        assert!(e.to_string().contains("FOREIGN KEY"), "{e}");
        assert!(collect(&mut store, NOW, Some("  "), &[0], &Retention::default()).is_err());
    }

    #[test]
    fn retention_by_age_and_by_count() {
        let mut store = store_with_collections();
        let keep3 = Retention {
            max_age_days: 10,
            max_per_collection: 3,
        };
        for i in 0..5 {
            collect(&mut store, NOW + i * DAY, None, &[1, 0], &keep3).unwrap();
        }
        let runs = |store: &Store| -> Vec<i64> {
            let mut st = store
                .conn()
                .prepare("SELECT DISTINCT collected_at FROM collection_snapshots ORDER BY 1")
                .unwrap();
            st.query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        };
        assert_eq!(runs(&store), [NOW + 2 * DAY, NOW + 3 * DAY, NOW + 4 * DAY]);
        let r = collect(&mut store, NOW + 16 * DAY, None, &[1, 0], &keep3).unwrap();
        // Age: runs before NOW + 6 days go (3 runs x 2 collections x 2 windows).
        assert_eq!(r.retention_deleted, 12);
        assert_eq!(runs(&store), [NOW + 16 * DAY]);
    }
}
