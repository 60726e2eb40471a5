//! Recording snapshots: every active collection for every window in one transaction, under
//! an optional rotation, then the retention policy.

use rusqlite::{params, Connection};
use serde::Serialize;

use super::query::{select_rows, SnapshotRow};
use super::stats::stats;
use crate::analytics::collections::{active_collections, ResolveReport};
use crate::analytics::config::Retention;
use crate::analytics::session::Session;
use crate::analytics::store::{self, session_from_row, Store, SESSION_COLUMNS};
use crate::error::Result;
use crate::timefmt::format_utc;

/// Longest rotation name accepted.
pub const MAX_ROTATION_NAME: usize = 200;

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
    /// The snapshots written, as the `latest` query returns them.
    pub rows: Vec<SnapshotRow>,
    /// How the collections were resolved (set by the service, which resolves them first).
    pub resolve: Option<ResolveReport>,
    pub warnings: Vec<String>,
}

/// Records a snapshot of every active collection for every window, in one transaction, then
/// applies the retention policy. `grouping`: plays count viewings (sessions sharing a
/// `reference_id` once), else sessions, as Tautulli's item stats do with grouping off.
pub fn collect(
    store: &mut Store,
    now: i64,
    rotation: Option<&str>,
    windows: &[u32],
    retention: &Retention,
    grouping: bool,
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
    let tx = store.begin_write()?;
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
    // This collect's run: the next number, whatever the second (collects within one second
    // are runs of their own).
    let run: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(run), 0) + 1 FROM collection_snapshots",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    let mut written = 0usize;
    for c in &collections {
        let members = member_keys(&tx, c.id).map_err(err)?;
        let sessions = member_sessions(&tx, c.id, now).map_err(err)?;
        for &days in windows {
            let s = stats(&sessions, &members, now, days, grouping);
            tx.prepare_cached(
                "INSERT INTO collection_snapshots (collection_id, window_days, plays, \
                 watch_seconds, unique_users, items_with_plays, total_items, collected_at, \
                 rotation_id, run) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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
                    rotation_id,
                    run
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
        "s.run = ?1",
        params![run],
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
                   PARTITION BY collection_id ORDER BY run DESC) AS run_rank \
                 FROM collection_snapshots) \
               WHERE run_rank > ?1)",
            [i64::from(r.max_per_collection)],
        )?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::snapshots::query::{
        diff, history, latest, rotation, rotations, top, RunRef,
    };
    use crate::analytics::snapshots::testutil::{store_with_collections, DAY, NOW};

    #[test]
    fn collect_writes_one_row_per_collection_and_window_and_queries_read_them() {
        let mut store = store_with_collections();
        let r = collect(
            &mut store,
            NOW,
            Some("spring"),
            &[1, 7, 0],
            &Retention::default(),
            true,
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
            true,
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
            true,
        )
        .unwrap();
        collect(
            &mut store,
            NOW + 1,
            Some("launch"),
            &[0],
            &Retention::default(),
            true,
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
        assert!(collect(
            &mut store,
            NOW,
            Some("  "),
            &[0],
            &Retention::default(),
            true
        )
        .is_err());
    }

    #[test]
    fn retention_by_age_and_by_count() {
        let mut store = store_with_collections();
        let keep3 = Retention {
            max_age_days: 10,
            max_per_collection: 3,
        };
        for i in 0..5 {
            collect(&mut store, NOW + i * DAY, None, &[1, 0], &keep3, true).unwrap();
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
        let r = collect(&mut store, NOW + 16 * DAY, None, &[1, 0], &keep3, true).unwrap();
        // Age: runs before NOW + 6 days go (3 runs x 2 collections x 2 windows).
        assert_eq!(r.retention_deleted, 12);
        assert_eq!(runs(&store), [NOW + 16 * DAY]);
    }

    #[test]
    fn collects_within_one_second_are_runs_of_their_own() {
        let mut store = store_with_collections();
        for _ in 0..3 {
            collect(&mut store, NOW, None, &[1, 0], &Retention::default(), true).unwrap();
        }
        let runs: i64 = store
            .conn()
            .query_row(
                "SELECT COUNT(DISTINCT run) FROM collection_snapshots",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(runs, 3);
        assert_eq!(
            latest(&store).unwrap().len(),
            4,
            "one run: 2 collections x 2 windows"
        );
        let d = diff(&store, RunRef::Previous, RunRef::Latest, None).unwrap();
        assert_eq!(d.len(), 4);
        assert!(d.iter().all(|x| x.plays_change == 0));
        // Retention counts them as runs too.
        let keep2 = Retention {
            max_age_days: 0,
            max_per_collection: 2,
        };
        let r = collect(&mut store, NOW, None, &[1, 0], &keep2, true).unwrap();
        assert_eq!(r.retention_deleted, 8);
        assert_eq!(r.rows.len(), 4, "the report shows this run only");
    }

    #[test]
    fn a_diff_with_one_run_says_two_are_needed() {
        let mut store = store_with_collections();
        let e = diff(&store, RunRef::Previous, RunRef::Latest, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no collect runs yet"), "{e}");
        collect(&mut store, NOW, None, &[1, 0], &Retention::default(), true).unwrap();
        let e = diff(&store, RunRef::Previous, RunRef::Latest, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("two collect runs"), "{e}");
        assert!(e.contains("only one is held"), "{e}");
    }

    #[test]
    fn top_of_a_window_never_collected_says_which_windows_are_held() {
        let mut store = store_with_collections();
        assert!(
            top(&store, 10, 12345).unwrap().is_empty(),
            "nothing collected yet"
        );
        collect(
            &mut store,
            NOW,
            None,
            &[1, 7, 0],
            &Retention::default(),
            true,
        )
        .unwrap();
        let e = top(&store, 10, 12345).unwrap_err().to_string();
        assert!(e.contains("no snapshots of a 12345-day window"), "{e}");
        assert!(e.contains("1, 7, 0 (all time)"), "{e}");
        assert_eq!(top(&store, 10, 7).unwrap().len(), 2);
    }
}
