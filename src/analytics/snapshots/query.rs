//! Reading snapshots back: the latest per collection and window, a collection's history,
//! the top collections, a rotation, and the change between two runs.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use crate::analytics::store::{self, Store};
use crate::error::Result;
use crate::timefmt::format_utc;

// The rows queries return are the contract's payload types themselves: one definition of
// each shape, so what the plugin writes is what hosts read.
pub use crosswatch_contract::payload::{DiffRow, SnapshotRow};

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

const ROW_SELECT: &str = "SELECT s.id, c.name, c.library, c.section_id, c.rating_key, \
     s.window_days, s.plays, s.watch_seconds, s.unique_users, s.items_with_plays, \
     s.total_items, s.collected_at, r.name \
     FROM collection_snapshots s JOIN collections c ON c.id = s.collection_id \
     LEFT JOIN rotations r ON r.id = s.rotation_id";

/// Windows ascending, all time last.
const WINDOW_ORDER: &str = "CASE s.window_days WHEN 0 THEN 1 ELSE 0 END, s.window_days";

pub(super) fn select_rows(
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

/// Snapshot ids of the newest row per (collection, window) of each collection's latest run.
const NEWEST_PER_WINDOW: &str = "s.id IN (SELECT MAX(x.id) FROM collection_snapshots x \
     WHERE x.run = (SELECT MAX(y.run) FROM collection_snapshots y \
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
    select_rows(store, "s.collection_id = ?1", params![c.id], "s.run DESC")
}

/// The `n` active collections with the most plays in their latest snapshot of `window_days`.
pub fn top(store: &Store, n: usize, window_days: u32) -> Result<Vec<SnapshotRow>> {
    let all = latest(store)?;
    let held: std::collections::BTreeSet<u32> = all.iter().map(|r| r.window_days).collect();
    if !all.is_empty() && !held.contains(&window_days) {
        // Snapshots exist, just not of this window: "no snapshots yet" would mislead.
        let name = |d: u32| match d {
            0 => "0 (all time)".to_string(),
            d => d.to_string(),
        };
        return Err(store::bad_argument(
            "window",
            format!(
                "no snapshots of a {} window: the latest run holds the windows {} (days, \
                 from analytics.windows); pick one of those, or add {window_days} to \
                 analytics.windows and collect again",
                if window_days == 0 {
                    "all-time".to_string()
                } else {
                    format!("{window_days}-day")
                },
                held.iter()
                    .copied()
                    .filter(|&d| d != 0)
                    .chain(held.contains(&0).then_some(0))
                    .map(name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let mut rows: Vec<SnapshotRow> = all
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
        "s.run DESC, c.library, c.name, c.section_id, c.rating_key",
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
) -> Result<Vec<DiffRow>> {
    let only = collection
        .map(|c| crate::analytics::collections::find(store, c))
        .transpose()?;
    // Runs newest first, each with its time.
    let runs: Vec<(i64, i64)> = {
        let mut stmt = store
            .conn()
            .prepare(
                "SELECT run, MAX(collected_at) FROM collection_snapshots \
                 WHERE ?1 IS NULL OR collection_id = ?1 GROUP BY run ORDER BY run DESC",
            )
            .map_err(|e| store.err(e))?;
        let rows = stmt
            .query_map([only.as_ref().map(|c| c.id)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(|e| store.err(e))?;
        rows.collect::<rusqlite::Result<Vec<(i64, i64)>>>()
            .map_err(|e| store.err(e))?
    };
    let ta = run_of(store, &runs, from, "from")?;
    let tb = run_of(store, &runs, to, "to")?;
    let side = |run: i64| -> Result<BTreeMap<(i64, i64, u32), SnapshotRow>> {
        let rows = select_rows(
            store,
            "s.run = ?1 AND (?2 IS NULL OR s.collection_id = ?2)",
            params![run, only.as_ref().map(|c| c.id)],
            "c.library, c.name, c.section_id, c.rating_key",
        )?;
        Ok(rows
            .into_iter()
            .map(|r| ((r.section_id, r.rating_key, r.window_days), r))
            .collect())
    };
    let a = side(ta)?;
    let b = side(tb)?;
    let mut out: Vec<DiffRow> = b
        .iter()
        .filter_map(|(k, rb)| {
            let ra = a.get(k)?;
            Some(DiffRow {
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

/// The run a diff side means, among `runs_desc` (run, time), newest first.
fn run_of(store: &Store, runs_desc: &[(i64, i64)], r: RunRef, side: &str) -> Result<i64> {
    let held = || {
        runs_desc
            .iter()
            .take(10)
            .map(|&(_, t)| format_utc(t))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let none = || {
        let reason = match (runs_desc.len(), r) {
            (0, _) => {
                "no collect runs yet: run `analytics collect` (after `analytics sync`)".to_string()
            }
            (1, RunRef::Previous) => format!(
                "a diff compares two collect runs and only one is held ({}): run \
                 `analytics collect` again later, then diff",
                held()
            ),
            _ => format!("no such snapshot run ({r:?}); runs held: {}", held()),
        };
        store::bad_argument(side, reason)
    };
    match r {
        RunRef::Latest => runs_desc.first().map(|&(run, _)| run).ok_or_else(none),
        RunRef::Previous => runs_desc.get(1).map(|&(run, _)| run).ok_or_else(none),
        RunRef::At(t) => runs_desc
            .iter()
            .find(|&&(_, x)| x <= t)
            .map(|&(run, _)| run)
            .ok_or_else(none),
        RunRef::Snapshot(id) => store
            .conn()
            .query_row(
                "SELECT run FROM collection_snapshots WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| store.err(e))?
            .ok_or_else(none),
    }
}
