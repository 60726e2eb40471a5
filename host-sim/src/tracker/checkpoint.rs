//! A source's incremental checkpoint: the token its last committed read gave, stored per
//! (feature, source, instance) by the same transaction as the items it covers, so it is
//! never ahead of them.

use rusqlite::{params, OptionalExtension};

use super::error::{Result, SqlContext};
use super::{check_feature, schema, Tracker};

/// What an import does to the stored checkpoint of its source when it commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointUpdate {
    /// Leave it as it is (the read gave none, e.g. it was incomplete).
    Keep,
    /// Store this one instead.
    Replace(String),
    /// Forget it (the user asked to, and the read gave no new one).
    Clear,
}

impl Tracker {
    /// The checkpoint `source` (instance `instance`) left with the last committed import of
    /// `feature`, if any. A Tracker from before checkpoints (read-only, not migrated) has none.
    pub fn checkpoint(
        &self,
        feature: &str,
        source: &str,
        instance: &str,
    ) -> Result<Option<String>> {
        check_feature(feature)?;
        if self.schema < schema::CHECKPOINTS_VERSION {
            return Ok(None);
        }
        self.conn
            .prepare_cached(
                "SELECT value FROM source_checkpoints
                 WHERE feature = ?1 AND source = ?2 AND instance = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![feature, source, instance], |r| r.get(0))
                    .optional()
            })
            .ctx("reading the source checkpoint")
            .map_err(self.busy())
    }
}

/// Applies one recorded [`CheckpointUpdate`] inside the import's transaction.
pub(super) fn store_checkpoint(
    tx: &rusqlite::Transaction<'_>,
    feature: &str,
    source: &str,
    instance: &str,
    update: &CheckpointUpdate,
    now: i64,
) -> Result<()> {
    const CTX: &str = "recording the source checkpoint";
    match update {
        CheckpointUpdate::Keep => Ok(()),
        CheckpointUpdate::Replace(value) => tx
            .execute(
                "INSERT INTO source_checkpoints (feature, source, instance, value, saved_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (feature, source, instance)
                 DO UPDATE SET value = excluded.value, saved_at = excluded.saved_at",
                params![feature, source, instance, value, now],
            )
            .map(drop)
            .ctx(CTX),
        CheckpointUpdate::Clear => tx
            .execute(
                "DELETE FROM source_checkpoints
                 WHERE feature = ?1 AND source = ?2 AND instance = ?3",
                params![feature, source, instance],
            )
            .map(drop)
            .ctx(CTX),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use super::*;

    #[test]
    fn a_checkpoint_is_stored_by_the_commit_and_kept_per_feature_source_and_instance() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        assert_eq!(cp(&t), None);
        import_with(
            &mut t,
            &[entry("a", T0)],
            CheckpointUpdate::Replace("one".into()),
        );
        assert_eq!(cp(&t).as_deref(), Some("one"));
        // Nothing changed in the items: the checkpoint still moves.
        import_with(
            &mut t,
            &[entry("a", T0)],
            CheckpointUpdate::Replace("two".into()),
        );
        assert_eq!(cp(&t).as_deref(), Some("two"));
        import_with(&mut t, &[], CheckpointUpdate::Keep);
        assert_eq!(cp(&t).as_deref(), Some("two"));

        let mut imp = t.begin_import("watchlist", false).unwrap();
        imp.set_checkpoint(SRC, "", CheckpointUpdate::Replace("w".into()), T0)
            .unwrap();
        imp.set_checkpoint(SRC, "second", CheckpointUpdate::Replace("s".into()), T0)
            .unwrap();
        imp.set_checkpoint("OTHER", "", CheckpointUpdate::Replace("o".into()), T0)
            .unwrap();
        imp.finish(T0).unwrap();
        assert_eq!(cp(&t).as_deref(), Some("two"));
        assert_eq!(
            t.checkpoint("watchlist", SRC, "second").unwrap().as_deref(),
            Some("s")
        );
        assert_eq!(
            t.checkpoint("watchlist", "OTHER", "").unwrap().as_deref(),
            Some("o")
        );
        assert_eq!(t.checkpoint("watchlist", "OTHER", "second").unwrap(), None);

        import_with(&mut t, &[], CheckpointUpdate::Clear);
        assert_eq!(cp(&t), None);
        assert_eq!(
            t.checkpoint("watchlist", SRC, "").unwrap().as_deref(),
            Some("w"),
            "clearing one leaves the others"
        );
        drop(t);
        let t = Tracker::open_existing_read_only(dir.path())
            .unwrap()
            .unwrap();
        assert_eq!(
            t.checkpoint("watchlist", SRC, "").unwrap().as_deref(),
            Some("w")
        );
    }

    #[test]
    fn a_dry_run_never_stores_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        import_with(
            &mut t,
            &[entry("a", T0)],
            CheckpointUpdate::Replace("old".into()),
        );
        for update in [
            CheckpointUpdate::Replace("new".into()),
            CheckpointUpdate::Clear,
        ] {
            let mut imp = t.begin_import("history", true).unwrap();
            imp.add_batch(&[entry("b", T0)]).unwrap();
            imp.set_checkpoint(SRC, "", update, T0).unwrap();
            imp.finish(T0).unwrap();
            assert_eq!(cp(&t).as_deref(), Some("old"));
        }
        drop(t);
        let mut t = Tracker::open_existing_read_only(dir.path())
            .unwrap()
            .unwrap();
        let mut imp = t.begin_import("history", true).unwrap();
        imp.set_checkpoint(SRC, "", CheckpointUpdate::Replace("new".into()), T0)
            .unwrap();
        imp.finish(T0).unwrap();
        assert_eq!(cp(&t).as_deref(), Some("old"));
    }

    #[test]
    fn an_import_that_does_not_commit_leaves_the_old_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        import_with(
            &mut t,
            &[entry("a", T0)],
            CheckpointUpdate::Replace("old".into()),
        );
        let state = t.state("history").unwrap();

        // Dropped (the host stopped, or the read failed) after the checkpoint was set.
        {
            let mut imp = t.begin_import("history", false).unwrap();
            imp.add_batch(&[entry("b", T0)]).unwrap();
            imp.set_checkpoint(SRC, "", CheckpointUpdate::Replace("new".into()), T0)
                .unwrap();
        }
        assert_eq!(cp(&t).as_deref(), Some("old"));

        // A bad item fails the import: no checkpoint can be set, none is stored.
        {
            let mut imp = t.begin_import("history", false).unwrap();
            imp.add_batch(&[entry("b", T0)]).unwrap();
            assert!(imp.add_batch(&[("c".into(), "{}".into())]).is_err());
            assert!(matches!(
                imp.set_checkpoint(SRC, "", CheckpointUpdate::Clear, T0),
                Err(TrackerError::ImportFailed)
            ));
            assert!(imp.finish(T0).is_err());
        }
        assert_eq!(cp(&t).as_deref(), Some("old"));

        // The commit itself fails (the database refuses a row): rolled back, checkpoint too.
        t.conn
            .execute_batch(
                "CREATE TRIGGER refuse BEFORE INSERT ON items
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
            )
            .unwrap();
        {
            let mut imp = t.begin_import("history", false).unwrap();
            imp.add_batch(&[entry("b", T0)]).unwrap();
            imp.set_checkpoint(SRC, "", CheckpointUpdate::Replace("new".into()), T0)
                .unwrap();
            let err = imp.finish(T0).unwrap_err();
            assert!(err.to_string().contains("refused by the test"), "{err}");
        }
        assert_eq!(cp(&t).as_deref(), Some("old"));
        assert_eq!(t.state("history").unwrap(), state);
        t.conn.execute_batch("DROP TRIGGER refuse").unwrap();
        import_with(
            &mut t,
            &[entry("b", T0)],
            CheckpointUpdate::Replace("new".into()),
        );
        assert_eq!(cp(&t).as_deref(), Some("new"));
    }

    #[test]
    fn a_tracker_from_before_checkpoints_reads_read_only_and_migrates_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut t = Tracker::open(dir.path()).unwrap();
            import(&mut t, &[entry("a", T0), entry("b", T0 + 1)], T0);
        }
        // The same file as the previous host-sim wrote it: schema 1, no checkpoint table.
        {
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            conn.execute_batch("DROP TABLE source_checkpoints").unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            let mut fresh = Connection::open_in_memory().unwrap();
            schema::migrate_to(&mut fresh, 1).unwrap();
            let tables = |c: &Connection| -> Vec<String> {
                c.prepare("SELECT sql FROM sqlite_master ORDER BY name")
                    .unwrap()
                    .query_map([], |r| r.get::<_, Option<String>>(0))
                    .unwrap()
                    .map(|r| r.unwrap().unwrap_or_default())
                    .collect()
            };
            assert_eq!(tables(&conn), tables(&fresh), "what schema 1 looked like");
        }
        let before = std::fs::read(dir.path().join(DB_FILE)).unwrap();
        let state = {
            let mut t = Tracker::open_existing_read_only(dir.path())
                .unwrap()
                .unwrap();
            assert_eq!(cp(&t), None);
            let mut imp = t.begin_import("history", true).unwrap();
            imp.add_batch(&[entry("c", T0)]).unwrap();
            imp.set_checkpoint(SRC, "", CheckpointUpdate::Replace("x".into()), T0)
                .unwrap();
            assert_eq!(imp.finish(T0).unwrap().added, 1);
            t.state("history").unwrap()
        };
        assert_eq!(std::fs::read(dir.path().join(DB_FILE)).unwrap(), before);
        let mut t = Tracker::open(dir.path()).unwrap();
        assert_eq!(t.state("history").unwrap(), state, "items kept");
        assert_eq!(cp(&t), None);
        import_with(
            &mut t,
            &[entry("c", T0)],
            CheckpointUpdate::Replace("x".into()),
        );
        assert_eq!(cp(&t).as_deref(), Some("x"));
        assert_eq!(t.count("history").unwrap(), 3);
    }
}
