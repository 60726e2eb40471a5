//! Importing entries: staged batch by batch in the connection's temp database (no lock on
//! the Tracker), then classified and merged in key order in one transaction, which also
//! opens the snapshot and stores the recorded checkpoints.

use std::borrow::Cow;
use std::collections::BinaryHeap;

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::checkpoint::{store_checkpoint, CheckpointUpdate};
use super::error::{Result, SqlContext, TrackerError};
use super::snapshots::SnapshotInfo;
use super::{check_feature, count_in, format_stamp, parse_watched_at, text, Tracker};

/// How many added / updated keys an [`ImportOutcome`] lists, enough for a dry-run plan.
pub const SAMPLE_LIMIT: usize = 20;

/// What an import did (or, for a dry run, would do).
///
/// Each entry is classified against the state as it stands when the entry arrives, earlier
/// entries of the same import included, so `added + updated + unchanged` = entries given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportOutcome {
    pub added: u64,
    /// A newer play than the one stored.
    pub updated: u64,
    /// Already present with the same or a newer play.
    pub unchanged: u64,
    /// The snapshot this import made; `None` when nothing changed or for a dry run.
    pub snapshot: Option<SnapshotInfo>,
    /// State size after the import (for a dry run: what it would be).
    pub total_after: u64,
    /// The first [`SAMPLE_LIMIT`] added keys, in arrival order.
    pub sample_added: Vec<String>,
    /// The first [`SAMPLE_LIMIT`] updated keys, in arrival order.
    pub sample_updated: Vec<String>,
}

/// How one entry relates to the stored play of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Added,
    Updated,
    Unchanged,
}

/// Newest play wins; an equal or older one changes nothing.
fn classify(stored: Option<i64>, incoming: i64) -> Change {
    match stored {
        None => Change::Added,
        Some(stored) if incoming > stored => Change::Updated,
        Some(_) => Change::Unchanged,
    }
}

/// Validates one item and returns its `watched_at` as epoch seconds.
fn watched_at_of(key: &str, item_json: &str) -> Result<i64> {
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(borrow, default)]
        watched_at: Option<Cow<'a, str>>,
    }
    let bad = |reason: String| TrackerError::BadItem {
        key: key.to_owned(),
        reason,
    };
    if key.is_empty() {
        return Err(bad("the key is empty".into()));
    }
    if !item_json.trim_start().starts_with('{') {
        return Err(bad("the item is not a JSON object".into()));
    }
    // Deserialising validates the whole document while skipping every other field.
    let probe: Probe = serde_json::from_str(item_json).map_err(|e| {
        bad(match e.classify() {
            serde_json::error::Category::Data => format!("the item has the wrong shape: {e}"),
            _ => format!("the item is not valid JSON: {e}"),
        })
    })?;
    let text = probe
        .watched_at
        .ok_or_else(|| bad("the item has no watched_at".into()))?;
    parse_watched_at(&text).ok_or_else(|| {
        bad(format!(
            "watched_at {text:?} is not a UTC time like \"2026-11-11T22:18:00Z\""
        ))
    })
}

impl Tracker {
    /// Starts an import of one feature. Feed entries with [`Import::add_batch`] and commit
    /// with [`Import::finish`], which merges them in ONE transaction; dropping the import
    /// instead writes nothing. Until `finish`, the import holds no lock on the Tracker
    /// (entries wait in the connection's temp database), so other runs can use it while the
    /// entries are being read. A dry run classifies exactly like a real one but writes
    /// nothing (it works on a read-only tracker too).
    pub fn begin_import(&mut self, feature: &str, dry_run: bool) -> Result<Import<'_>> {
        check_feature(feature)?;
        if self.read_only && !dry_run {
            return Err(TrackerError::ReadOnly {
                operation: "import",
            });
        }
        // Entries are staged in arrival order and merged in key order at `finish`: B-tree
        // writes in key order are sequential, which is what makes 1M-entry imports fast.
        // The temp table spills to disk (memory stays bounded); the import drops it.
        self.conn
            .execute_batch(
                "DROP TABLE IF EXISTS temp.import_staging;
                 CREATE TEMP TABLE import_staging (
                     seq        INTEGER PRIMARY KEY,
                     key        TEXT    NOT NULL,
                     watched_at INTEGER NOT NULL,
                     item_json  TEXT    NOT NULL
                 );",
            )
            .ctx("preparing the import")
            .map_err(self.busy())?;
        Ok(Import {
            tracker: self,
            feature: feature.to_owned(),
            dry_run,
            failed: false,
            checkpoints: Vec::new(),
        })
    }
}

/// Keeps the [`SAMPLE_LIMIT`] earliest-arriving keys of one kind while entries are visited
/// in key order.
#[derive(Debug, Default)]
struct Sample(BinaryHeap<(i64, String)>);

impl Sample {
    fn offer(&mut self, seq: i64, key: &str) {
        if self.0.len() < SAMPLE_LIMIT {
            self.0.push((seq, key.to_owned()));
        } else if self.0.peek().is_some_and(|(latest, _)| seq < *latest) {
            self.0.pop();
            self.0.push((seq, key.to_owned()));
        }
    }

    fn into_keys(self) -> Vec<String> {
        self.0
            .into_sorted_vec()
            .into_iter()
            .map(|(_, key)| key)
            .collect()
    }
}

/// Counts of an import's entries by [`Change`].
#[derive(Debug, Default)]
struct Tally {
    added: u64,
    updated: u64,
    unchanged: u64,
    sample_added: Sample,
    sample_updated: Sample,
}

impl Tally {
    fn record(&mut self, change: Change, seq: i64, key: &str) {
        match change {
            Change::Added => {
                self.added += 1;
                self.sample_added.offer(seq, key);
            }
            Change::Updated => {
                self.updated += 1;
                self.sample_updated.offer(seq, key);
            }
            Change::Unchanged => self.unchanged += 1,
        }
    }
}

/// One key's entries during the merge: the stored play, the newest play so far, and the
/// item JSON of the entry that set it (when it came from this import).
#[derive(Debug, Default)]
struct KeyGroup {
    key: String,
    stored: Option<i64>,
    newest: Option<i64>,
    winner: String,
}

impl KeyGroup {
    fn changed(&self) -> bool {
        self.newest != self.stored
    }
}

/// One import in progress; see [`Tracker::begin_import`].
pub struct Import<'a> {
    tracker: &'a mut Tracker,
    feature: String,
    dry_run: bool,
    failed: bool,
    /// What [`Import::set_checkpoint`] recorded: (source, instance, update, now), stored by
    /// the merge's transaction.
    checkpoints: Vec<(String, String, CheckpointUpdate, i64)>,
}

impl std::fmt::Debug for Import<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Import")
            .field("feature", &self.feature)
            .field("dry_run", &self.dry_run)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl Drop for Import<'_> {
    /// The staged entries go with the import, finished or not (a killed process loses its
    /// temp database anyway).
    fn drop(&mut self) {
        let _ = self
            .tracker
            .conn
            .execute_batch("DROP TABLE IF EXISTS temp.import_staging");
    }
}

impl Import<'_> {
    /// Validates and stages a batch of `(key, item JSON)` entries; they are classified and
    /// stored by [`Import::finish`]. A bad item fails the batch and the whole import: only
    /// dropping it is left. Staging locks nothing in tracker.sqlite.
    pub fn add_batch(&mut self, entries: &[(String, String)]) -> Result<()> {
        if self.failed {
            return Err(TrackerError::ImportFailed);
        }
        let result = self.stage(entries).map_err(self.tracker.busy());
        self.failed = result.is_err();
        result
    }

    fn stage(&self, entries: &[(String, String)]) -> Result<()> {
        const CTX: &str = "staging imported items";
        // One transaction per batch, on the temp database only (no lock on the Tracker).
        let tx = self.tracker.conn.unchecked_transaction().ctx(CTX)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO temp.import_staging (key, watched_at, item_json)
                     VALUES (?1, ?2, ?3)",
                )
                .ctx(CTX)?;
            for (key, item) in entries {
                let at = watched_at_of(key, item)?;
                insert.execute(params![key, at, item]).ctx(CTX)?;
            }
        }
        tx.commit().ctx(CTX)
    }

    /// Records what this import does to the checkpoint of `source` (instance `instance`):
    /// it is stored by the transaction in which [`Import::finish`] merges the items, and
    /// vanishes with everything else when the import is dropped or fails. A dry run stores
    /// nothing. Call it after the last batch (the checkpoint covers the items given).
    pub fn set_checkpoint(
        &mut self,
        source: &str,
        instance: &str,
        update: CheckpointUpdate,
        now: i64,
    ) -> Result<()> {
        if self.failed {
            return Err(TrackerError::ImportFailed);
        }
        if !self.dry_run {
            self.checkpoints
                .push((source.to_owned(), instance.to_owned(), update, now));
        }
        Ok(())
    }

    /// Takes the write lock (waiting up to [`BUSY_TIMEOUT`] for another run's), classifies
    /// every staged entry and, unless this is a dry run, stores each changed key's newest
    /// play and the recorded checkpoints, and commits: the one transaction of the import. A
    /// dry run only reads. If anything changed, the snapshot is stamped `now` (epoch
    /// seconds), or one second after the feature's previous snapshot if that is not earlier,
    /// so stamps stay unique and in order.
    pub fn finish(self, now: i64) -> Result<ImportOutcome> {
        if self.failed {
            return Err(TrackerError::ImportFailed);
        }
        self.commit(now).map_err(self.tracker.busy())
    }

    fn commit(&self, now: i64) -> Result<ImportOutcome> {
        // A real import takes the write lock before its first read, so that what it
        // classifies against cannot change under it; a dry run only needs a stable view.
        let behavior = if self.dry_run {
            TransactionBehavior::Deferred
        } else {
            TransactionBehavior::Immediate
        };
        let tx = rusqlite::Transaction::new_unchecked(&self.tracker.conn, behavior)
            .ctx("starting the import")?;
        let count_before = count_in(&tx, &self.feature)?;
        let (tally, snapshot) = self.merge(&tx, count_before, now)?;
        let outcome = ImportOutcome {
            added: tally.added,
            updated: tally.updated,
            unchanged: tally.unchanged,
            snapshot,
            // Every new key has exactly one Added entry (its first).
            total_after: count_before + tally.added,
            sample_added: tally.sample_added.into_keys(),
            sample_updated: tally.sample_updated.into_keys(),
        };
        if self.dry_run {
            tx.rollback().ctx("ending the dry run")?;
        } else {
            for (source, instance, update, at) in &self.checkpoints {
                store_checkpoint(&tx, &self.feature, source, instance, update, *at)?;
            }
            tx.commit().ctx("committing the import")?;
        }
        Ok(outcome)
    }

    /// Walks the staged entries in (key, arrival) order: each is classified against the
    /// newest play so far (stored, or earlier in this import), and each changed key is
    /// written once, in key order.
    fn merge<'t>(
        &self,
        tx: &'t rusqlite::Transaction<'t>,
        count_before: u64,
        now: i64,
    ) -> Result<(Tally, Option<SnapshotInfo>)> {
        const CTX: &str = "merging the import";
        let mut read = tx
            .prepare(
                "SELECT key, watched_at, item_json, seq FROM temp.import_staging
                 ORDER BY key, seq",
            )
            .ctx(CTX)?;
        let mut stored = tx
            .prepare_cached("SELECT watched_at FROM items WHERE feature = ?1 AND key = ?2")
            .ctx(CTX)?;
        let mut writer = if self.dry_run {
            None
        } else {
            Some(Writer::new(tx, &self.feature, now)?)
        };
        let mut tally = Tally::default();
        let mut group: Option<KeyGroup> = None;
        let mut rows = read.query([]).ctx(CTX)?;
        while let Some(row) = rows.next().ctx(CTX)? {
            let key = text(row, 0, CTX)?;
            if group.as_ref().is_none_or(|g| g.key != key) {
                let previous: Option<i64> = stored
                    .query_row(params![self.feature, key], |r| r.get(0))
                    .optional()
                    .ctx(CTX)?;
                let next = KeyGroup {
                    key: key.to_owned(),
                    stored: previous,
                    newest: previous,
                    winner: String::new(),
                };
                if let (Some(done), Some(writer)) = (group.replace(next), writer.as_mut()) {
                    writer.write(&done)?;
                }
            }
            let g = group.as_mut().expect("a group was opened above");
            let at: i64 = row.get(1).ctx(CTX)?;
            let seq: i64 = row.get(3).ctx(CTX)?;
            let change = classify(g.newest, at);
            if change != Change::Unchanged {
                g.newest = Some(at);
                if writer.is_some() {
                    g.winner.clear();
                    g.winner.push_str(text(row, 2, CTX)?);
                }
            }
            tally.record(change, seq, &g.key);
        }
        if let (Some(done), Some(writer)) = (group.take(), writer.as_mut()) {
            writer.write(&done)?;
        }
        let snapshot = match writer {
            Some(writer) => writer.seal(count_before + tally.added, &tally)?,
            None => None,
        };
        Ok((tally, snapshot))
    }
}

/// Stores changed keys for a real import, opening its snapshot at the first change.
struct Writer<'t> {
    tx: &'t rusqlite::Transaction<'t>,
    feature: &'t str,
    now: i64,
    snapshot: Option<(i64, i64)>,
    upsert: rusqlite::CachedStatement<'t>,
    record: rusqlite::CachedStatement<'t>,
}

impl<'t> Writer<'t> {
    const CTX: &'static str = "storing imported items";

    fn new(tx: &'t rusqlite::Transaction<'t>, feature: &'t str, now: i64) -> Result<Self> {
        let upsert = tx
            .prepare_cached(
                "INSERT INTO items (feature, key, watched_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (feature, key) DO UPDATE SET watched_at = excluded.watched_at",
            )
            .ctx(Self::CTX)?;
        let record = tx
            .prepare_cached(
                "INSERT INTO snapshot_changes (feature, key, snapshot_id, item_json)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .ctx(Self::CTX)?;
        Ok(Self {
            tx,
            feature,
            now,
            snapshot: None,
            upsert,
            record,
        })
    }

    /// The snapshot's (id, taken_at), created on first use.
    fn snapshot(&mut self) -> Result<(i64, i64)> {
        if let Some(snapshot) = self.snapshot {
            return Ok(snapshot);
        }
        let previous: Option<i64> = self
            .tx
            .query_row(
                "SELECT MAX(taken_at) FROM snapshots WHERE feature = ?1",
                [self.feature],
                |r| r.get(0),
            )
            .ctx("recording the snapshot")?;
        let taken_at = match previous {
            Some(previous) if self.now <= previous => previous + 1,
            _ => self.now,
        };
        self.tx
            .execute(
                "INSERT INTO snapshots (feature, stamp, taken_at, added, updated, item_count)
                 VALUES (?1, ?2, ?3, 0, 0, 0)",
                params![self.feature, format_stamp(taken_at), taken_at],
            )
            .ctx("recording the snapshot")?;
        Ok(*self
            .snapshot
            .insert((self.tx.last_insert_rowid(), taken_at)))
    }

    fn write(&mut self, group: &KeyGroup) -> Result<()> {
        if !group.changed() {
            return Ok(());
        }
        let (snapshot_id, _) = self.snapshot()?;
        self.upsert
            .execute(params![self.feature, group.key, group.newest])
            .ctx(Self::CTX)?;
        self.record
            .execute(params![self.feature, group.key, snapshot_id, group.winner])
            .ctx(Self::CTX)?;
        Ok(())
    }

    /// Fills in the snapshot's counts; `None` when nothing changed.
    fn seal(self, item_count: u64, tally: &Tally) -> Result<Option<SnapshotInfo>> {
        let Some((id, taken_at)) = self.snapshot else {
            return Ok(None);
        };
        let info = SnapshotInfo {
            id,
            stamp: format_stamp(taken_at),
            taken_at,
            item_count,
            added: tally.added,
            updated: tally.updated,
        };
        self.tx
            .execute(
                "UPDATE snapshots SET item_count = ?2, added = ?3, updated = ?4 WHERE id = ?1",
                params![
                    id,
                    info.item_count as i64,
                    info.added as i64,
                    info.updated as i64
                ],
            )
            .ctx("recording the snapshot")?;
        Ok(Some(info))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use super::*;

    #[test]
    fn newest_play_wins_whatever_the_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        let first = import(&mut t, &[entry("a", T0 + 200), entry("b", T0 + 100)], T0);
        assert_eq!((first.added, first.updated, first.unchanged), (2, 0, 0));
        assert_eq!(first.total_after, 2);
        assert_eq!(first.sample_added, ["a", "b"]);

        let second = import(
            &mut t,
            &[
                entry("a", T0 + 100), // older than stored
                entry("a", T0 + 200), // equal to stored
                entry("b", T0 + 300), // newer
                entry("c", T0 + 50),  // new key
                entry("c", T0 + 10),  // older play of the key just added
                entry("c", T0 + 90),  // newer play of the key just added
            ],
            T0 + 10,
        );
        assert_eq!((second.added, second.updated, second.unchanged), (1, 2, 3));
        assert_eq!(second.sample_added, ["c"]);
        assert_eq!(second.sample_updated, ["b", "c"]);
        assert_eq!(second.total_after, 3);
        assert_eq!(watched(&t, "a").unwrap(), format_watched_at(T0 + 200));
        assert_eq!(watched(&t, "b").unwrap(), format_watched_at(T0 + 300));
        assert_eq!(watched(&t, "c").unwrap(), format_watched_at(T0 + 90));

        // The newest snapshot holds the final item of a key changed twice in one import.
        let snap = second.snapshot.unwrap();
        assert_eq!(
            t.snapshot_state(snap.id).unwrap(),
            t.state("history").unwrap()
        );

        // An equal play arriving later keeps the first item of that time.
        let first_d = ("d".to_owned(), item("first", T0));
        let out = import(
            &mut t,
            &[first_d.clone(), ("d".to_owned(), item("second", T0))],
            T0 + 20,
        );
        assert_eq!((out.added, out.updated, out.unchanged), (1, 0, 1));
        let state = t.state("history").unwrap();
        assert!(state.contains(&first_d), "{state:?}");
    }

    #[test]
    fn samples_list_the_first_arrivals_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        // Arrival order is the reverse of key order.
        let entries: Vec<_> = (0..50)
            .rev()
            .map(|i| entry(&format!("k{i:02}"), T0))
            .collect();
        let out = import(&mut t, &entries, T0);
        assert_eq!(out.added, 50);
        let expected: Vec<String> = (30..50).rev().map(|i| format!("k{i:02}")).collect();
        assert_eq!(out.sample_added, expected);
        let newer: Vec<_> = [7, 3, 45, 1]
            .iter()
            .map(|i| entry(&format!("k{i:02}"), T0 + 1))
            .collect();
        let out = import(&mut t, &newer, T0 + 1);
        assert_eq!(out.sample_updated, ["k07", "k03", "k45", "k01"]);
        assert!(out.sample_added.is_empty());
    }

    #[test]
    fn reimporting_the_same_entries_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        let entries = [entry("a", T0), entry("b", T0 + 1)];
        let first = import(&mut t, &entries, T0);
        assert!(first.snapshot.is_some());
        let state = t.state("history").unwrap();
        let again = import(&mut t, &entries, T0 + 60);
        assert_eq!((again.added, again.updated, again.unchanged), (0, 0, 2));
        assert_eq!(again.snapshot, None);
        assert_eq!(again.total_after, 2);
        assert_eq!(t.state("history").unwrap(), state);
        assert_eq!(t.snapshots("history").unwrap().len(), 1);
    }

    #[test]
    fn a_read_only_dry_run_on_a_missing_tracker_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tracker");
        assert!(Tracker::open_existing_read_only(&root).unwrap().is_none());
        assert!(!root.exists());
        std::fs::create_dir(&root).unwrap();
        assert!(Tracker::open_existing_read_only(&root).unwrap().is_none());
        assert!(files(&root).is_empty());
    }

    #[test]
    fn a_read_only_dry_run_plans_like_a_real_run_and_leaves_the_file_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut t = Tracker::open(dir.path()).unwrap();
            import(&mut t, &[entry("a", T0), entry("b", T0)], T0);
        }
        let db = dir.path().join(DB_FILE);
        let before = std::fs::read(&db).unwrap();
        assert_eq!(files(dir.path()), [DB_FILE]);

        let batch = [
            entry("a", T0 + 5),
            entry("b", T0),
            entry("c", T0),
            entry("c", T0 + 9),
        ];
        let planned = {
            let mut t = Tracker::open_existing_read_only(dir.path())
                .unwrap()
                .unwrap();
            assert!(matches!(
                t.begin_import("history", false),
                Err(TrackerError::ReadOnly { .. })
            ));
            assert!(matches!(
                t.apply_retention("history", Retention::default(), T0),
                Err(TrackerError::ReadOnly { .. })
            ));
            assert!(matches!(
                t.write_unresolved(&[]),
                Err(TrackerError::ReadOnly { .. })
            ));
            let mut imp = t.begin_import("history", true).unwrap();
            imp.add_batch(&batch[..2]).unwrap();
            imp.add_batch(&batch[2..]).unwrap();
            let out = imp.finish(T0 + 60).unwrap();
            assert_eq!(t.count("history").unwrap(), 2);
            out
        };
        assert_eq!(std::fs::read(&db).unwrap(), before);
        assert_eq!(files(dir.path()), [DB_FILE]);

        // The plan matches what a real run then does.
        let mut t = Tracker::open(dir.path()).unwrap();
        let real = import(&mut t, &batch, T0 + 60);
        assert_eq!(planned.snapshot, None);
        assert!(real.snapshot.is_some());
        assert_eq!(
            (
                planned.added,
                planned.updated,
                planned.unchanged,
                planned.total_after
            ),
            (real.added, real.updated, real.unchanged, real.total_after)
        );
        assert_eq!(
            (planned.sample_added, planned.sample_updated),
            (real.sample_added, real.sample_updated)
        );
        assert_eq!((real.added, real.updated, real.unchanged), (1, 2, 1));
    }

    #[test]
    fn a_dry_run_on_a_writable_tracker_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        import(&mut t, &[entry("a", T0)], T0);
        let (state, snaps) = (t.state("history").unwrap(), t.snapshots("history").unwrap());
        let mut imp = t.begin_import("history", true).unwrap();
        imp.add_batch(&[entry("a", T0 + 1), entry("z", T0)])
            .unwrap();
        let out = imp.finish(T0 + 5).unwrap();
        assert_eq!((out.added, out.updated, out.total_after), (1, 1, 2));
        assert_eq!(t.state("history").unwrap(), state);
        assert_eq!(t.snapshots("history").unwrap(), snaps);
        // The overlay table went away with the dry run: a second one starts afresh.
        let mut imp = t.begin_import("history", true).unwrap();
        imp.add_batch(&[entry("z", T0)]).unwrap();
        assert_eq!(imp.finish(T0 + 6).unwrap().added, 1);
    }

    #[test]
    fn dropping_an_import_without_finish_rolls_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        import(&mut t, &[entry("a", T0)], T0);
        let (state, snaps) = (t.state("history").unwrap(), t.snapshots("history").unwrap());
        {
            let mut imp = t.begin_import("history", false).unwrap();
            imp.add_batch(&[entry("a", T0 + 9), entry("b", T0)])
                .unwrap();
            imp.add_batch(&[entry("c", T0)]).unwrap();
        }
        assert_eq!(t.state("history").unwrap(), state);
        assert_eq!(t.snapshots("history").unwrap(), snaps);
        drop(t);
        let mut t = Tracker::open(dir.path()).unwrap();
        assert_eq!(t.state("history").unwrap(), state);
        // Nothing of the dropped import lingers into the next one.
        let out = import(&mut t, &[entry("a", T0 + 9), entry("b", T0)], T0 + 1);
        assert_eq!((out.added, out.updated, out.total_after), (1, 1, 2));
    }

    #[test]
    fn a_bad_item_names_its_key_and_rolls_the_whole_import_back() {
        let cases = [
            (
                "not-json",
                "{\"watched_at\": \"2026-11-11T22:18:00Z\"".to_owned(),
            ),
            ("array", "[\"2026-11-11T22:18:00Z\"]".to_owned()),
            ("no-time", "{\"title\": \"x\"}".to_owned()),
            ("null-time", "{\"watched_at\": null}".to_owned()),
            ("number-time", "{\"watched_at\": 1794435480}".to_owned()),
            (
                "local-time",
                "{\"watched_at\": \"2026-11-11 22:18:00\"}".to_owned(),
            ),
            ("", item("empty key", T0)),
        ];
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        import(&mut t, &[entry("a", T0)], T0);
        let (state, snaps) = (t.state("history").unwrap(), t.snapshots("history").unwrap());
        for (key, json) in cases {
            let mut imp = t.begin_import("history", false).unwrap();
            imp.add_batch(&[entry("b", T0)]).unwrap();
            let err = imp
                .add_batch(&[entry("a", T0 + 1), (key.to_owned(), json.clone())])
                .unwrap_err();
            match &err {
                TrackerError::BadItem { key: k, .. } => assert_eq!(k, key, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
            assert!(err.to_string().contains(&format!("{key:?}")));
            assert!(matches!(
                imp.add_batch(&[entry("c", T0)]),
                Err(TrackerError::ImportFailed)
            ));
            assert!(matches!(
                imp.finish(T0 + 1),
                Err(TrackerError::ImportFailed)
            ));
            assert_eq!(t.state("history").unwrap(), state, "{json}");
            assert_eq!(t.snapshots("history").unwrap(), snaps);
        }
    }

    #[test]
    fn feature_names_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        for bad in ["", "History", "../x", "a-b", "a.json"] {
            assert!(matches!(
                t.begin_import(bad, false),
                Err(TrackerError::BadFeature { .. })
            ));
            assert!(matches!(t.state(bad), Err(TrackerError::BadFeature { .. })));
        }
        assert!(t.begin_import("watch_list2", false).is_ok());
    }

    #[test]
    fn staging_an_import_locks_nothing_and_its_merge_sees_what_others_committed() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Tracker::open(dir.path()).unwrap();
        let mut imp = first.begin_import("history", false).unwrap();
        imp.add_batch(&[entry("a", T0), entry("b", T0)]).unwrap();
        imp.set_checkpoint(SRC, "", CheckpointUpdate::Replace("first".into()), T0)
            .unwrap();

        // Meanwhile another run imports, exports and prunes without waiting at all.
        {
            let mut other = open_impatient(dir.path(), 0);
            import_with(
                &mut other,
                &[entry("a", T0 + 5)],
                CheckpointUpdate::Replace("other".into()),
            );
            other
                .export("history", &dir.path().join("out"), T0)
                .unwrap();
            other
                .apply_retention("history", Retention::default(), T0)
                .unwrap();
            let reader = Tracker::open_existing_read_only(dir.path())
                .unwrap()
                .unwrap();
            assert_eq!(reader.count("history").unwrap(), 1);
        }

        // The first import merges against that: its older "a" changes nothing.
        let out = imp.finish(T0 + 10).unwrap();
        assert_eq!((out.added, out.updated, out.unchanged), (1, 0, 1));
        assert_eq!(out.total_after, 2);
        assert_eq!(watched(&first, "a").unwrap(), format_watched_at(T0 + 5));
        assert_eq!(cp(&first).as_deref(), Some("first"));
        assert_eq!(first.snapshots("history").unwrap().len(), 2);
        drop(first);
        assert_eq!(files(dir.path()), ["out", DB_FILE]);
    }

    #[test]
    fn a_large_import_in_batches_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        let n = 100_000u64;
        let started = std::time::Instant::now();
        let mut imp = t.begin_import("history", false).unwrap();
        let mut batch = Vec::with_capacity(1_000);
        for i in 0..n {
            // Scattered key order, as a hash-map index would deliver it.
            let k = i.wrapping_mul(2_654_435_761) % n;
            batch.push(entry(&format!("tmdb:{k}"), T0 + k as i64));
            if batch.len() == 1_000 {
                imp.add_batch(&batch).unwrap();
                batch.clear();
            }
        }
        imp.add_batch(&batch).unwrap();
        let out = imp.finish(T0).unwrap();
        eprintln!("100k-entry import took {:?}", started.elapsed());
        assert_eq!((out.added, out.total_after), (n, n));
        assert_eq!(out.snapshot.unwrap().item_count, n);
        let started = std::time::Instant::now();
        let mut imp = t.begin_import("history", true).unwrap();
        imp.add_batch(&[entry("tmdb:5", T0 + 5), entry("new", T0)])
            .unwrap();
        let plan = imp.finish(T0).unwrap();
        assert_eq!((plan.added, plan.updated, plan.unchanged), (1, 0, 1));
        let summary = t.export("history", &dir.path().join("out"), T0).unwrap();
        eprintln!("dry run + 100k export took {:?}", started.elapsed());
        assert_eq!(summary.item_count, n);
    }
}
