//! Snapshots: the change log each import that changed something appends to, the state it
//! reconstructs, and the retention that prunes it (folding a dropped snapshot's changes
//! into the next kept one).

use rusqlite::{Connection, TransactionBehavior};
use serde::Serialize;

use super::error::{Result, SqlContext, TrackerError};
use super::{check_feature, Tracker, DB_FILE};

/// One snapshot: the state of a feature after an import that changed something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotInfo {
    pub id: i64,
    /// `YYYYMMDDTHHMMSSZ`, unique per feature and increasing with `id`.
    pub stamp: String,
    /// Epoch seconds of `stamp`.
    pub taken_at: i64,
    /// Size of the whole state at this snapshot.
    pub item_count: u64,
    /// Entries of the import that made this snapshot which added a new key.
    pub added: u64,
    /// Entries of that import which replaced a stored play with a newer one.
    pub updated: u64,
}

/// Which snapshots to keep: none older than `max_age_days`, at most `max_count`, and always
/// the newest one whatever the policy says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Retention {
    pub max_age_days: u32,
    pub max_count: u32,
}

impl Default for Retention {
    /// CrossWatch's defaults: 30 days, 64 snapshots.
    fn default() -> Self {
        Self {
            max_age_days: 30,
            max_count: 64,
        }
    }
}

/// The state at snapshot ?2: per key, its latest change at or before it.
pub(super) const SNAPSHOT_STATE_SQL: &str =
    "SELECT key, item_json, MAX(snapshot_id) FROM snapshot_changes
     WHERE feature = ?1 AND snapshot_id <= ?2 GROUP BY key ORDER BY key";

/// Newest first.
pub(super) fn snapshots_in(conn: &Connection, feature: &str) -> Result<Vec<SnapshotInfo>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, stamp, taken_at, item_count, added, updated FROM snapshots
             WHERE feature = ?1 ORDER BY id DESC",
        )
        .ctx("listing snapshots")?;
    let rows = stmt
        .query_map([feature], |r| {
            Ok(SnapshotInfo {
                id: r.get(0)?,
                stamp: r.get(1)?,
                taken_at: r.get(2)?,
                item_count: r.get::<_, i64>(3)? as u64,
                added: r.get::<_, i64>(4)? as u64,
                updated: r.get::<_, i64>(5)? as u64,
            })
        })
        .ctx("listing snapshots")?;
    rows.collect::<rusqlite::Result<_>>()
        .ctx("listing snapshots")
}

/// Which snapshots retention removes, each paired with the next newer kept snapshot that
/// inherits its changes. Input and output are newest first, so every kept snapshot receives
/// its predecessors' changes newest first (the order folding needs).
fn retention_plan(newest_first: &[(i64, i64)], policy: Retention, now: i64) -> Vec<(i64, i64)> {
    let cutoff = now.saturating_sub(i64::from(policy.max_age_days) * 86_400);
    let mut plan = Vec::new();
    let Some(&(newest, _)) = newest_first.first() else {
        return plan;
    };
    let mut heir = newest;
    for (index, &(id, taken_at)) in newest_first.iter().enumerate().skip(1) {
        if index >= policy.max_count as usize || taken_at < cutoff {
            plan.push((id, heir));
        } else {
            heir = id;
        }
    }
    plan
}

impl Tracker {
    /// Newest first.
    pub fn snapshots(&self, feature: &str) -> Result<Vec<SnapshotInfo>> {
        check_feature(feature)?;
        snapshots_in(&self.conn, feature).map_err(self.busy())
    }

    /// The full state as it was right after snapshot `snapshot_id`, in key order. Only tests
    /// need it: it proves that every kept snapshot still reconstructs after pruning.
    #[cfg(test)]
    pub fn snapshot_state(&self, snapshot_id: i64) -> Result<Vec<(String, String)>> {
        self.snapshot_state_inner(snapshot_id).map_err(self.busy())
    }

    #[cfg(test)]
    fn snapshot_state_inner(&self, snapshot_id: i64) -> Result<Vec<(String, String)>> {
        use rusqlite::{params, OptionalExtension};

        use super::collect_pairs;

        let feature: String = self
            .conn
            .query_row(
                "SELECT feature FROM snapshots WHERE id = ?1",
                [snapshot_id],
                |r| r.get(0),
            )
            .optional()
            .ctx("looking up a snapshot")?
            .ok_or(TrackerError::UnknownSnapshot { id: snapshot_id })?;
        let mut stmt = self
            .conn
            .prepare_cached(SNAPSHOT_STATE_SQL)
            .ctx("reading a snapshot")?;
        collect_pairs(&mut stmt, params![feature, snapshot_id])
    }

    /// Drops snapshots older than `max_age_days` (relative to `now`, epoch seconds) or beyond
    /// the `max_count` newest, never the newest one. Each dropped snapshot's changes move to
    /// the next newer kept snapshot, so the kept ones still reconstruct exactly. Returns how
    /// many were removed.
    pub fn apply_retention(&mut self, feature: &str, policy: Retention, now: i64) -> Result<usize> {
        let busy = {
            let db = self.root.join(DB_FILE);
            let waited = self.busy_timeout;
            move |e: TrackerError| e.at(&db, waited)
        };
        self.apply_retention_inner(feature, policy, now)
            .map_err(busy)
    }

    fn apply_retention_inner(
        &mut self,
        feature: &str,
        policy: Retention,
        now: i64,
    ) -> Result<usize> {
        check_feature(feature)?;
        if self.read_only {
            return Err(TrackerError::ReadOnly {
                operation: "prune snapshots",
            });
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("starting snapshot retention")?;
        let snapshots: Vec<(i64, i64)> = snapshots_in(&tx, feature)?
            .iter()
            .map(|s| (s.id, s.taken_at))
            .collect();
        let plan = retention_plan(&snapshots, policy, now);
        {
            const CTX: &str = "folding a pruned snapshot into the next one";
            // The heir's own change of a key is newer, so it wins (OR IGNORE).
            let mut fold = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO snapshot_changes (feature, key, snapshot_id, item_json)
                     SELECT feature, key, ?2, item_json FROM snapshot_changes
                     WHERE snapshot_id = ?1",
                )
                .ctx(CTX)?;
            let mut drop_changes = tx
                .prepare_cached("DELETE FROM snapshot_changes WHERE snapshot_id = ?1")
                .ctx(CTX)?;
            let mut drop_snapshot = tx
                .prepare_cached("DELETE FROM snapshots WHERE id = ?1")
                .ctx(CTX)?;
            for &(id, heir) in &plan {
                fold.execute([id, heir]).ctx(CTX)?;
                drop_changes.execute([id]).ctx(CTX)?;
                drop_snapshot.execute([id]).ctx(CTX)?;
            }
        }
        tx.commit().ctx("committing snapshot retention")?;
        Ok(plan.len())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use super::*;

    #[test]
    fn every_snapshot_reconstructs_the_state_it_was_taken_of() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        let rounds = several_rounds(&mut t);
        let listed = t.snapshots("history").unwrap();
        let expected: Vec<SnapshotInfo> = rounds.iter().rev().map(|(s, _)| s.clone()).collect();
        assert_eq!(listed, expected);
        for (snap, state) in &rounds {
            assert_eq!(&t.snapshot_state(snap.id).unwrap(), state, "{}", snap.stamp);
            assert_eq!(snap.item_count as usize, state.len());
        }
        let counts: Vec<(u64, u64)> = rounds.iter().map(|(s, _)| (s.added, s.updated)).collect();
        assert_eq!(counts, [(2, 0), (1, 1), (1, 1), (0, 1), (1, 0)]);
        assert!(matches!(
            t.snapshot_state(9_999),
            Err(TrackerError::UnknownSnapshot { id: 9_999 })
        ));
    }

    #[test]
    fn stamps_stay_unique_and_ordered_when_imports_share_a_second_or_the_clock_goes_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        let a = import(&mut t, &[entry("a", T0)], T0).snapshot.unwrap();
        let b = import(&mut t, &[entry("b", T0)], T0).snapshot.unwrap();
        let c = import(&mut t, &[entry("c", T0)], T0 - 3_600)
            .snapshot
            .unwrap();
        assert_eq!(a.stamp, "20261111T221800Z");
        assert_eq!(b.stamp, "20261111T221801Z");
        assert_eq!(c.stamp, "20261111T221802Z");
        assert_eq!(c.taken_at, T0 + 2);
        // Other features keep their own sequence.
        let mut imp = t.begin_import("watchlist", false).unwrap();
        imp.add_batch(&[entry("w", T0)]).unwrap();
        assert_eq!(imp.finish(T0).unwrap().snapshot.unwrap().stamp, a.stamp);
    }

    #[test]
    fn retention_plan_keeps_the_newest_and_names_each_heir() {
        let p = |max_age_days, max_count| Retention {
            max_age_days,
            max_count,
        };
        let snaps = [
            (5, 50 * DAY),
            (4, 40 * DAY),
            (3, 30 * DAY),
            (2, 20 * DAY),
            (1, 10 * DAY),
        ];
        assert_eq!(
            retention_plan(&snaps, p(100, 3), 50 * DAY),
            [(2, 3), (1, 3)]
        );
        assert_eq!(
            retention_plan(&snaps, p(15, 64), 50 * DAY),
            [(3, 4), (2, 4), (1, 4)]
        );
        assert_eq!(
            retention_plan(&snaps, p(0, 0), 50 * DAY),
            [(4, 5), (3, 5), (2, 5), (1, 5)]
        );
        assert_eq!(retention_plan(&snaps[..1], p(0, 0), 500 * DAY), []);
        assert_eq!(retention_plan(&snaps, p(100, 64), 50 * DAY), []);
        // Exactly max_age_days old is not older than it.
        assert_eq!(retention_plan(&snaps, p(40, 64), 50 * DAY), []);
        // Out-of-order times: each removed snapshot goes to the next newer kept one.
        let odd = [(4, 40 * DAY), (3, 1), (2, 30 * DAY), (1, 1)];
        assert_eq!(retention_plan(&odd, p(30, 64), 50 * DAY), [(3, 4), (1, 2)]);
    }

    #[test]
    fn retention_by_count_keeps_survivors_reconstructible() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        let rounds = several_rounds(&mut t);
        let policy = Retention {
            max_age_days: 365,
            max_count: 2,
        };
        let removed = t.apply_retention("history", policy, T0 + 5 * DAY).unwrap();
        assert_eq!(removed, 3);
        let kept = t.snapshots("history").unwrap();
        let expected: Vec<SnapshotInfo> =
            rounds[3..].iter().rev().map(|(s, _)| s.clone()).collect();
        assert_eq!(kept, expected);
        for (snap, state) in &rounds[3..] {
            assert_eq!(&t.snapshot_state(snap.id).unwrap(), state);
        }
        for (snap, _) in &rounds[..3] {
            assert!(matches!(
                t.snapshot_state(snap.id),
                Err(TrackerError::UnknownSnapshot { .. })
            ));
        }
        // Pruned snapshots leave no orphan rows, and imports carry on normally.
        let orphans: i64 = t
            .conn
            .query_row(
                "SELECT count(*) FROM snapshot_changes
                 WHERE snapshot_id NOT IN (SELECT id FROM snapshots)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0);
        let next = import(&mut t, &[entry("f", T0)], T0 + 9 * DAY)
            .snapshot
            .unwrap();
        assert_eq!(
            t.snapshot_state(next.id).unwrap(),
            t.state("history").unwrap()
        );
        assert_eq!(
            t.apply_retention("history", policy, T0 + 9 * DAY).unwrap(),
            1
        );
        assert_eq!(
            t.snapshot_state(next.id).unwrap(),
            t.state("history").unwrap()
        );
        assert_eq!(t.snapshot_state(rounds[4].0.id).unwrap(), rounds[4].1);
    }

    #[test]
    fn retention_by_age_never_drops_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        let rounds = several_rounds(&mut t); // taken at T0 + 0..4 days
        let policy = Retention {
            max_age_days: 2,
            max_count: 64,
        };
        // At T0 + 5 days, snapshots from before T0 + 3 days are too old.
        assert_eq!(
            t.apply_retention("history", policy, T0 + 5 * DAY).unwrap(),
            3
        );
        for (snap, state) in &rounds[3..] {
            assert_eq!(&t.snapshot_state(snap.id).unwrap(), state);
        }
        assert_eq!(
            t.apply_retention("history", policy, T0 + 500 * DAY)
                .unwrap(),
            1
        );
        let left = t.snapshots("history").unwrap();
        assert_eq!(left, [rounds[4].0.clone()]);
        assert_eq!(t.snapshot_state(left[0].id).unwrap(), rounds[4].1);
        assert_eq!(
            t.apply_retention("history", policy, T0 + 900 * DAY)
                .unwrap(),
            0
        );
    }
}
