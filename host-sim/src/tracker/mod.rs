//! The simulated host's local Tracker, like CrossWatch's: per feature (e.g. `history`) a
//! current state (canonical key -> item JSON) plus timestamped snapshots, kept in SQLite at
//! `<root>/tracker.sqlite`, and exported in the exact files CrossWatch's Editor imports.
//!
//! Why SQLite and this shape:
//! - An import is fed in bounded batches, staged in a temp table (on disk, so a 1M-item index
//!   never sits in memory) and merged in key order at the end in ONE transaction: every
//!   B-tree write is sequential (1M entries take seconds, not minutes) and a killed import
//!   leaves the previous state untouched.
//! - Locks are held only for the write. Staging goes to the connection's own temp database,
//!   which locks nothing in tracker.sqlite, so the Tautulli read that feeds an import can
//!   take as long as it takes while other runs read, export or import; the write lock is
//!   taken when the last batch is in, for the merge alone. A run that finds the Tracker
//!   locked waits up to [`BUSY_TIMEOUT`], then fails with [`TrackerError::Busy`].
//! - Snapshots store only the rows they changed (a change log); the full state at snapshot N
//!   is, per key, its latest change at or before N. Pruning folds a dropped snapshot's rows
//!   into the next kept one, so every kept snapshot still reconstructs exactly.
//! - The database is always a single file: it keeps SQLite's rollback journal, never WAL.
//!   In WAL mode a reader that outlives the writer (an export still running when a sync
//!   ends) cannot fold the `-wal` back, leaving `-wal`/`-shm` beside the file for good; a
//!   rollback journal exists only while a write commits. Readers open the file writable but
//!   never write, so one can roll back the journal a killed writer left (a read-only
//!   connection cannot) and a dry run still creates nothing.
//! - A source's incremental checkpoint is stored by the import that received the items it
//!   covers, in the same transaction ([`import::Import::set_checkpoint`]): it is never ahead of the
//!   items, whatever stops the import.

//!
//! Layout: this file holds the Tracker itself (opening, the current state, the unresolved
//! list); [`error`] what it fails with; [`import`] how entries come in; [`checkpoint`] the
//! sources' incremental checkpoints; [`snapshots`] the change log and its retention;
//! [`export`] the files CrossWatch reads; [`schema`], [`atomic`] and [`utc`] their helpers.

mod atomic;
mod checkpoint;
mod error;
mod export;
mod import;
mod schema;
mod snapshots;
#[cfg(test)]
mod testutil;
mod utc;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Statement};

pub use checkpoint::CheckpointUpdate;
use error::SqlContext;
pub use error::{Result, TrackerError, BUSY_TIMEOUT};
pub use export::ExportOptions;
pub use import::ImportOutcome;
pub use snapshots::{Retention, SnapshotInfo};
pub use utc::{format_stamp, format_watched_at, parse_watched_at};

/// The database file inside the tracker's root directory.
pub const DB_FILE: &str = "tracker.sqlite";
/// Items the plugin could not key, rewritten each run inside the tracker's root directory.
pub const UNRESOLVED_FILE: &str = "unresolved.jsonl";

/// Feature names become file names, so keep them to a safe, unambiguous alphabet.
fn check_feature(feature: &str) -> Result<()> {
    let ok = !feature.is_empty()
        && feature.len() <= 64
        && feature
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(TrackerError::BadFeature {
            feature: feature.to_owned(),
        })
    }
}

/// The current state: per key, its latest change (which is always the stored play).
/// SQLite takes the bare `item_json` from the row that supplies `MAX(snapshot_id)`.
const STATE_SQL: &str = "SELECT key, item_json, MAX(snapshot_id) FROM snapshot_changes
     WHERE feature = ?1 GROUP BY key ORDER BY key";

fn collect_pairs(
    stmt: &mut Statement<'_>,
    params: impl rusqlite::Params,
) -> Result<Vec<(String, String)>> {
    let rows = stmt
        .query_map(params, |row| Ok((row.get(0)?, row.get(1)?)))
        .ctx("reading items")?;
    rows.collect::<rusqlite::Result<_>>().ctx("reading items")
}

/// A text column borrowed from the row (no copy).
fn text<'r>(row: &'r rusqlite::Row<'_>, index: usize, context: &str) -> Result<&'r str> {
    row.get_ref(index)
        .and_then(|value| value.as_str().map_err(rusqlite::Error::from))
        .ctx(context)
}

fn count_in(conn: &Connection, feature: &str) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM items WHERE feature = ?1")
        .and_then(|mut s| s.query_row([feature], |r| r.get(0)))
        .ctx("counting items")?;
    Ok(n as u64)
}

/// The Tracker: one SQLite database under a root directory.
pub struct Tracker {
    conn: Connection,
    root: PathBuf,
    read_only: bool,
    /// Schema version of the file; older than the current one only when opened read-only.
    schema: i64,
    /// How long a statement waits for another connection's lock ([`BUSY_TIMEOUT`]).
    busy_timeout: Duration,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("root", &self.root)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// Opens `path` for [`Tracker::open`] and [`Tracker::open_existing_read_only`]: waiting up to
/// [`BUSY_TIMEOUT`] for locks, with a rollback journal (see the module docs).
fn connect(path: &Path, flags: OpenFlags, busy_timeout: Duration) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, flags).ctx("opening tracker.sqlite")?;
    conn.busy_timeout(busy_timeout)
        .ctx("configuring tracker.sqlite")?;
    // Staging (a dry run's too) spills to disk: memory stays bounded.
    conn.execute_batch("PRAGMA temp_store = FILE;")
        .ctx("configuring tracker.sqlite")?;
    Ok(conn)
}

/// Brings a Tracker that an older host-sim left in WAL mode back to a rollback journal
/// (which folds its `-wal` into the file and removes `-wal` and `-shm`). That needs the
/// file to itself: while another run has it open this does nothing, without waiting, and
/// the next run that finds it alone does it.
fn leave_wal(conn: &Connection, busy_timeout: Duration) {
    let mode = conn.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0));
    if mode.is_ok_and(|m| m.eq_ignore_ascii_case("wal"))
        && conn.busy_timeout(Duration::ZERO).is_ok()
    {
        let _ = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| {
            r.get::<_, String>(0)
        });
        let _ = conn.busy_timeout(busy_timeout);
    }
}

/// The hidden environment variable that shortens the lock wait ([`lock_wait`]). Not a
/// product setting (no document names it): the end-to-end tests run this binary, where no
/// test clock reaches, and set it so a test that holds the Tracker's lock on purpose proves
/// the wait and the [`TrackerError::Busy`] it ends in within a second, not [`BUSY_TIMEOUT`].
pub(crate) const LOCK_WAIT_ENV: &str = "HOST_SIM_LOCK_WAIT_SECS";

/// How long this process waits for another run's lock: [`BUSY_TIMEOUT`], unless
/// [`LOCK_WAIT_ENV`] holds a whole number of seconds.
fn lock_wait() -> Duration {
    lock_wait_from(std::env::var(LOCK_WAIT_ENV).ok().as_deref())
}

fn lock_wait_from(setting: Option<&str>) -> Duration {
    setting
        .and_then(|s| s.trim().parse().ok())
        .map_or(BUSY_TIMEOUT, Duration::from_secs)
}

impl Tracker {
    /// Opens (creating the directory and database if needed) for reading and writing, and
    /// upgrades the schema.
    pub fn open(root_dir: &Path) -> Result<Tracker> {
        Self::open_waiting(root_dir, lock_wait())
    }

    /// [`Tracker::open`] waiting `busy_timeout` for locks (tests wait less).
    fn open_waiting(root_dir: &Path, busy_timeout: Duration) -> Result<Tracker> {
        let db = root_dir.join(DB_FILE);
        Self::open_rw(root_dir, busy_timeout).map_err(|e| e.at(&db, busy_timeout))
    }

    fn open_rw(root_dir: &Path, busy_timeout: Duration) -> Result<Tracker> {
        std::fs::create_dir_all(root_dir).map_err(atomic::io_error(root_dir))?;
        let mut conn = connect(
            &root_dir.join(DB_FILE),
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            busy_timeout,
        )?;
        leave_wal(&conn, busy_timeout);
        // FULL (SQLite's default) because a rollback journal, unlike WAL, can lose a commit
        // to a power cut under NORMAL; one import is one commit, so the extra sync is cheap.
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA cache_size = -65536;",
        )
        .ctx("configuring tracker.sqlite")?;
        schema::migrate(&mut conn)?;
        Ok(Tracker {
            conn,
            root: root_dir.to_owned(),
            read_only: false,
            schema: schema::CURRENT_VERSION,
            busy_timeout,
        })
    }

    /// Opens an existing database for reading only; `None` when there is none yet. Creates
    /// nothing, so dry runs leave no trace. (The file is opened writable so that a journal
    /// left by a killed writer can be rolled back; nothing else is ever written.)
    pub fn open_existing_read_only(root_dir: &Path) -> Result<Option<Tracker>> {
        let path = root_dir.join(DB_FILE);
        match std::fs::metadata(&path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(TrackerError::Io { path, source }),
        }
        let busy_timeout = lock_wait();
        let open = || -> Result<Tracker> {
            // No SQLITE_OPEN_CREATE: a file removed meanwhile is an error, not a new one.
            let conn = connect(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                busy_timeout,
            )?;
            let schema = schema::check_readable(&conn)?;
            Ok(Tracker {
                conn,
                root: root_dir.to_owned(),
                read_only: true,
                schema,
                busy_timeout,
            })
        };
        open().map(Some).map_err(|e| e.at(&path, busy_timeout))
    }

    /// The file errors name, and a locked database turned into [`TrackerError::Busy`].
    fn busy(&self) -> impl Fn(TrackerError) -> TrackerError + '_ {
        let db = self.root.join(DB_FILE);
        move |e| e.at(&db, self.busy_timeout)
    }

    /// The current state of a feature, in key order.
    pub fn state(&self, feature: &str) -> Result<Vec<(String, String)>> {
        check_feature(feature)?;
        let read = || {
            let mut stmt = self.conn.prepare_cached(STATE_SQL).ctx("reading items")?;
            collect_pairs(&mut stmt, [feature])
        };
        read().map_err(self.busy())
    }

    /// The state's size; only tests need it, as an oracle for the imports' own counts.
    #[cfg(test)]
    pub fn count(&self, feature: &str) -> Result<u64> {
        check_feature(feature)?;
        count_in(&self.conn, feature).map_err(self.busy())
    }

    /// Replaces `<root>/unresolved.jsonl` with `lines`, each one JSON object on one line
    /// (an empty slice leaves an empty file, clearing the previous run's list).
    pub fn write_unresolved(&self, lines: &[String]) -> Result<PathBuf> {
        if self.read_only {
            return Err(TrackerError::ReadOnly {
                operation: "write unresolved.jsonl",
            });
        }
        for (index, line) in lines.iter().enumerate() {
            let bad = |reason: String| TrackerError::BadUnresolved {
                line: index + 1,
                reason,
            };
            if line.contains(['\n', '\r']) {
                return Err(bad("it contains a line break".into()));
            }
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line)
                .map_err(|e| bad(e.to_string()))?;
        }
        let path = self.root.join(UNRESOLVED_FILE);
        atomic::replace(&path, |w| {
            let io = atomic::io_error(&path);
            for line in lines {
                w.write_all(line.as_bytes()).map_err(&io)?;
                w.write_all(b"\n").map_err(&io)?;
            }
            Ok(())
        })?;
        Ok(path)
    }
}

impl Drop for Tracker {
    /// A Tracker an older host-sim left in WAL mode, shared with another run when this one
    /// opened it, gets a second chance to become a single file.
    fn drop(&mut self) {
        if !self.read_only {
            leave_wal(&self.conn, Duration::ZERO);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn unresolved_lines_are_written_as_jsonl_and_replaced_each_run() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tracker::open(dir.path()).unwrap();
        let lines = vec![
            r#"{"title":"No IDs","reason":"no_ids"}"#.to_owned(),
            r#"{"title":"Pilot","reason":"no_episode_number"}"#.to_owned(),
        ];
        let path = t.write_unresolved(&lines).unwrap();
        assert_eq!(path, dir.path().join(UNRESOLVED_FILE));
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1]["title"], "Pilot");

        for bad in ["[1]", "{\"a\":\n1}", "nope"] {
            let err = t
                .write_unresolved(&[lines[0].clone(), bad.to_owned()])
                .unwrap_err();
            assert!(
                matches!(err, TrackerError::BadUnresolved { line: 2, .. }),
                "{bad}"
            );
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

        t.write_unresolved(&lines[1..]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", lines[1])
        );
        t.write_unresolved(&[]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }

    #[test]
    fn the_state_survives_reopening_and_the_file_rests_without_side_files() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut t = Tracker::open(dir.path()).unwrap();
            import(&mut t, &[entry("a", T0)], T0);
            assert_eq!(t.root, dir.path());
        }
        assert_eq!(files(dir.path()), [DB_FILE]);
        let t = Tracker::open_existing_read_only(dir.path())
            .unwrap()
            .unwrap();
        assert!(t.read_only);
        assert_eq!(t.count("history").unwrap(), 1);
        assert_eq!(t.snapshots("history").unwrap().len(), 1);
    }

    #[test]
    fn a_locked_tracker_is_waited_for_then_reported_busy_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = open_impatient(dir.path(), 50);
        import_with(
            &mut t,
            &[entry("a", T0)],
            CheckpointUpdate::Replace("old".into()),
        );
        let state = t.state("history").unwrap();

        let writer = lock_writer(dir.path());
        // Opening an up-to-date Tracker, reading it and staging need no lock.
        let mut again = open_impatient(dir.path(), 50);
        assert_eq!(again.state("history").unwrap(), state);
        drop(again);
        let mut imp = t.begin_import("history", false).unwrap();
        imp.add_batch(&[entry("b", T0)]).unwrap();
        imp.set_checkpoint(SRC, "", CheckpointUpdate::Replace("new".into()), T0)
            .unwrap();
        assert_busy(&imp.finish(T0).unwrap_err(), dir.path());
        let err = t
            .apply_retention("history", Retention::default(), T0)
            .unwrap_err();
        assert_busy(&err, dir.path());
        drop(writer);

        assert_eq!(t.state("history").unwrap(), state);
        assert_eq!(cp(&t).as_deref(), Some("old"));
        import_with(
            &mut t,
            &[entry("b", T0)],
            CheckpointUpdate::Replace("new".into()),
        );
        assert_eq!(t.count("history").unwrap(), 2);
        assert_eq!(cp(&t).as_deref(), Some("new"));
        again = open_impatient(dir.path(), 50);
        assert_eq!(again.count("history").unwrap(), 2);
    }

    #[test]
    fn a_migration_waits_for_the_lock_and_reports_busy_rather_than_failing_raw() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut t = Tracker::open(dir.path()).unwrap();
            import(&mut t, &[entry("a", T0)], T0);
        }
        {
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            conn.execute_batch("DROP TABLE source_checkpoints; PRAGMA user_version = 1;")
                .unwrap();
        }
        let writer = lock_writer(dir.path());
        let err = Tracker::open_waiting(dir.path(), Duration::from_millis(50)).unwrap_err();
        assert_busy(&err, dir.path());
        // A reader does not migrate: it reads schema 1 meanwhile.
        let reader = Tracker::open_existing_read_only(dir.path())
            .unwrap()
            .unwrap();
        assert_eq!(reader.count("history").unwrap(), 1);
        drop(writer);
        drop(reader);
        let t = open_impatient(dir.path(), 50);
        assert_eq!(t.schema, schema::CURRENT_VERSION);
        assert_eq!(cp(&t), None);
    }

    #[test]
    fn the_tracker_keeps_a_rollback_journal_so_overlapping_readers_leave_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(dir.path()).unwrap();
        let mode = |c: &Connection| -> String {
            c.query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(mode(&t.conn), "delete");
        // A reader opened as `tracker export` opens it, that outlives the writer.
        let reader = Tracker::open_existing_read_only(dir.path())
            .unwrap()
            .unwrap();
        import(&mut t, &[entry("a", T0)], T0);
        drop(t);
        assert_eq!(reader.count("history").unwrap(), 1);
        assert_eq!(files(dir.path()), [DB_FILE]);
        drop(reader);
        assert_eq!(files(dir.path()), [DB_FILE]);
    }

    #[test]
    fn a_reader_rolls_back_the_journal_a_killed_writer_left() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut t = Tracker::open(dir.path()).unwrap();
            import(&mut t, &[entry("a", T0)], T0);
        }
        let state = Tracker::open_existing_read_only(dir.path())
            .unwrap()
            .unwrap()
            .state("history")
            .unwrap();
        // A writer whose changes already reached the file (a tiny cache spills them), copied
        // as a kill -9 would leave it: the file half-written, the journal holding the rest.
        let writer = Connection::open(dir.path().join(DB_FILE)).unwrap();
        writer
            .execute_batch(
                "PRAGMA cache_size = 1; BEGIN IMMEDIATE;
                 UPDATE snapshot_changes SET item_json = '{}';
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                 INSERT INTO items SELECT 'history', 'k' || i, i FROM n;",
            )
            .unwrap();
        let crashed = tempfile::tempdir().unwrap();
        for name in [DB_FILE.to_owned(), format!("{DB_FILE}-journal")] {
            std::fs::copy(dir.path().join(&name), crashed.path().join(&name)).unwrap();
        }
        drop(writer);
        let t = Tracker::open_existing_read_only(crashed.path())
            .unwrap()
            .unwrap();
        assert_eq!(t.state("history").unwrap(), state);
        assert_eq!(t.count("history").unwrap(), 1);
        drop(t);
        assert_eq!(files(crashed.path()), [DB_FILE]);
    }

    #[test]
    fn a_tracker_left_in_wal_mode_becomes_one_file_again() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut t = Tracker::open(dir.path()).unwrap();
            import(&mut t, &[entry("a", T0)], T0);
        }
        let wal = |dir: &Path| {
            let c = Connection::open(dir.join(DB_FILE)).unwrap();
            let m: String = c
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .unwrap();
            assert_eq!(m, "wal");
            c
        };
        // Alone: converted on open.
        drop(wal(dir.path()));
        {
            let t = open_impatient(dir.path(), 50);
            assert_eq!(t.count("history").unwrap(), 1);
        }
        assert_eq!(files(dir.path()), [DB_FILE]);
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let m: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(m, "delete");
        drop(c);

        // Shared when opened: the open does not wait, and the last one out converts it.
        let other = wal(dir.path());
        let mut t = open_impatient(dir.path(), 5_000);
        import(&mut t, &[entry("b", T0)], T0 + 1);
        drop(other);
        drop(t);
        assert_eq!(files(dir.path()), [DB_FILE]);
        let t = Tracker::open_existing_read_only(dir.path())
            .unwrap()
            .unwrap();
        assert_eq!(t.count("history").unwrap(), 2);
    }

    #[test]
    fn the_lock_wait_is_busy_timeout_unless_the_hidden_knob_says_otherwise() {
        assert_eq!(lock_wait_from(None), BUSY_TIMEOUT);
        assert_eq!(lock_wait_from(Some("1")), Duration::from_secs(1));
        assert_eq!(lock_wait_from(Some("soon")), BUSY_TIMEOUT);
    }
}
