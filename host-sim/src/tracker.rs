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
//!   covers, in the same transaction ([`Import::set_checkpoint`]): it is never ahead of the
//!   items, whatever stops the import.

mod atomic;
mod schema;
mod utc;

use std::borrow::Cow;
use std::collections::{BinaryHeap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Statement, TransactionBehavior};
use serde::{Deserialize, Serialize};

pub use utc::{format_stamp, format_watched_at, parse_watched_at};

/// The database file inside the tracker's root directory.
pub const DB_FILE: &str = "tracker.sqlite";
/// Items the plugin could not key, rewritten each run inside the tracker's root directory.
pub const UNRESOLVED_FILE: &str = "unresolved.jsonl";
/// How many added / updated keys an [`ImportOutcome`] lists, enough for a dry-run plan.
pub const SAMPLE_LIMIT: usize = 20;

/// Everything the Tracker can fail with; each message says what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackerError {
    #[error("tracker database failed while {context}: {source}\n  hint: make sure the disk is not full; if the file is damaged, move it aside and import again")]
    Sqlite {
        context: String,
        #[source]
        source: rusqlite::Error,
    },

    /// Another run held the lock this one needed for longer than [`BUSY_TIMEOUT`]. The
    /// Tracker is fine; nothing of this run was written.
    #[error("another host-sim run is using this Tracker ({}); waited {waited_secs} s; try again when it has finished", path.display())]
    Busy { path: PathBuf, waited_secs: u64 },

    #[error(
        "cannot access {path}: {source}\n  hint: check that the directory exists and is writable"
    )]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("item {key:?} rejected: {reason}; the whole import was rolled back\n  hint: the source plugin produced a malformed item: fix or report it, then run the import again")]
    BadItem { key: String, reason: String },

    #[error("invalid feature name {feature:?}\n  hint: use a lower-case name made of letters, digits and '_', such as \"history\"")]
    BadFeature { feature: String },

    #[error("no snapshot with id {id}\n  hint: list the snapshots to see which ids exist; retention removes old ones")]
    UnknownSnapshot { id: i64 },

    #[error("cannot {operation}: the tracker was opened read-only for a dry run\n  hint: run again without the dry-run option to change the tracker")]
    ReadOnly { operation: &'static str },

    #[error("this import already failed on an earlier batch and cannot be finished\n  hint: drop it (that rolls it back), fix the cause reported first, and import again")]
    ImportFailed,

    #[error("tracker.sqlite has schema version {found}, newer than the {supported} this host knows\n  hint: use the newer host-sim that wrote it, or move the file aside to start a new tracker")]
    NewerSchema { found: i64, supported: i64 },

    #[error("tracker.sqlite has schema version {found}, older than the {supported} this host needs, and a dry run cannot upgrade it\n  hint: run one import without the dry-run option to upgrade it, then retry")]
    OutdatedSchema { found: i64, supported: i64 },

    #[error("unresolved entry {line} is not one JSON object on one line: {reason}\n  hint: this is a host bug; please report it")]
    BadUnresolved { line: usize, reason: String },
}

pub type Result<T, E = TrackerError> = std::result::Result<T, E>;

/// How long a run waits for another one's lock on tracker.sqlite before it gives up with
/// [`TrackerError::Busy`]: longer than any merge or export of a large Tracker normally
/// holds it, short enough that a stuck run is reported rather than waited for forever.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

/// SQLite's answer when another connection holds the lock it needed (after the busy
/// timeout).
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl TrackerError {
    /// The error a caller sees: a locked database becomes [`TrackerError::Busy`] naming the
    /// file at `db` and the wait.
    fn at(self, db: &Path, waited: Duration) -> TrackerError {
        match self {
            TrackerError::Sqlite { source, .. } if is_busy(&source) => TrackerError::Busy {
                path: db.to_owned(),
                waited_secs: waited.as_secs(),
            },
            other => other,
        }
    }
}

/// Adds what the database was doing to a rusqlite error (allocating only on failure).
trait SqlContext<T> {
    fn ctx(self, context: &str) -> Result<T>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn ctx(self, context: &str) -> Result<T> {
        self.map_err(|source| TrackerError::Sqlite {
            context: context.to_owned(),
            source,
        })
    }
}

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

/// The files an [`Tracker::export`] wrote or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// `<out_dir>/<feature>.json`.
    pub state_file: PathBuf,
    /// Items in `state_file`.
    pub item_count: u64,
    /// `<out_dir>/snapshots/<stamp>-<feature>.json`, oldest first.
    pub snapshot_files: Vec<PathBuf>,
    /// Snapshot files of this feature left by an earlier export whose snapshot retention has
    /// since removed, deleted so the directory mirrors the tracker.
    pub removed_stale: Vec<PathBuf>,
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

/// The current state: per key, its latest change (which is always the stored play).
/// SQLite takes the bare `item_json` from the row that supplies `MAX(snapshot_id)`.
const STATE_SQL: &str = "SELECT key, item_json, MAX(snapshot_id) FROM snapshot_changes
     WHERE feature = ?1 GROUP BY key ORDER BY key";

/// The state at snapshot ?2: per key, its latest change at or before it.
const SNAPSHOT_STATE_SQL: &str = "SELECT key, item_json, MAX(snapshot_id) FROM snapshot_changes
     WHERE feature = ?1 AND snapshot_id <= ?2 GROUP BY key ORDER BY key";

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

/// Newest first.
fn snapshots_in(conn: &Connection, feature: &str) -> Result<Vec<SnapshotInfo>> {
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

/// `<stamp>` when `name` is `<stamp>-<feature>.json` for this feature.
fn snapshot_file_stamp<'a>(name: &'a str, feature: &str) -> Option<&'a str> {
    let stamp = name
        .strip_suffix(".json")?
        .strip_suffix(feature)?
        .strip_suffix('-')?;
    let b = stamp.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (b.len() == 16 && digits(0..8) && b[8] == b'T' && digits(9..15) && b[15] == b'Z')
        .then_some(stamp)
}

/// Writes `{"ts": ts, "items": {key: item, ...}}`, one item per line, atomically; returns
/// the item count. Rows are streamed, never collected.
fn write_items_doc(
    path: &Path,
    ts: i64,
    stmt: &mut Statement<'_>,
    params: impl rusqlite::Params,
) -> Result<u64> {
    let mut count = 0u64;
    atomic::replace(path, |w| {
        let io = atomic::io_error(path);
        write!(w, "{{\"ts\":{ts},\"items\":{{").map_err(&io)?;
        let mut rows = stmt.query(params).ctx("reading items to export")?;
        while let Some(row) = rows.next().ctx("reading items to export")? {
            let key = text(row, 0, "reading items to export")?;
            let item = text(row, 1, "reading items to export")?;
            w.write_all(if count == 0 { b"\n" } else { b",\n" })
                .map_err(&io)?;
            serde_json::to_writer(&mut *w, key).map_err(|e| io(e.into()))?;
            w.write_all(b":").map_err(&io)?;
            w.write_all(item.as_bytes()).map_err(&io)?;
            count += 1;
        }
        w.write_all(b"\n}}\n").map_err(&io)
    })?;
    Ok(count)
}

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

impl Tracker {
    /// Opens (creating the directory and database if needed) for reading and writing, and
    /// upgrades the schema.
    pub fn open(root_dir: &Path) -> Result<Tracker> {
        Self::open_waiting(root_dir, BUSY_TIMEOUT)
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
        let open = || -> Result<Tracker> {
            // No SQLITE_OPEN_CREATE: a file removed meanwhile is an error, not a new one.
            let conn = connect(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                BUSY_TIMEOUT,
            )?;
            let schema = schema::check_readable(&conn)?;
            Ok(Tracker {
                conn,
                root: root_dir.to_owned(),
                read_only: true,
                schema,
                busy_timeout: BUSY_TIMEOUT,
            })
        };
        open().map(Some).map_err(|e| e.at(&path, BUSY_TIMEOUT))
    }

    /// The file errors name, and a locked database turned into [`TrackerError::Busy`].
    fn busy(&self) -> impl Fn(TrackerError) -> TrackerError + '_ {
        let db = self.root.join(DB_FILE);
        move |e| e.at(&db, self.busy_timeout)
    }

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

    /// Writes the files CrossWatch's Tracker keeps and its Editor imports:
    /// `<out_dir>/<feature>.json` = `{"ts": <now>, "items": {key: item}}` and, per kept
    /// snapshot, `<out_dir>/snapshots/<stamp>-<feature>.json` of the same shape with `ts` =
    /// the snapshot's time. Each file is replaced atomically; all come from one consistent
    /// read, and this feature's snapshot files that retention has dropped are removed.
    pub fn export(&self, feature: &str, out_dir: &Path) -> Result<ExportSummary> {
        self.export_inner(feature, out_dir).map_err(self.busy())
    }

    fn export_inner(&self, feature: &str, out_dir: &Path) -> Result<ExportSummary> {
        check_feature(feature)?;
        let snapshot_dir = out_dir.join("snapshots");
        std::fs::create_dir_all(&snapshot_dir).map_err(atomic::io_error(&snapshot_dir))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);

        // One read transaction: the state and every snapshot come from the same moment.
        let tx = self
            .conn
            .unchecked_transaction()
            .ctx("starting the export")?;
        let state_file = out_dir.join(format!("{feature}.json"));
        let mut stmt = tx.prepare_cached(STATE_SQL).ctx("reading items")?;
        let item_count = write_items_doc(&state_file, now, &mut stmt, [feature])?;

        let mut snapshot_stmt = tx
            .prepare_cached(SNAPSHOT_STATE_SQL)
            .ctx("reading a snapshot")?;
        let mut snapshot_files = Vec::new();
        let mut kept = HashSet::new();
        for snapshot in snapshots_in(&tx, feature)?.into_iter().rev() {
            let path = snapshot_dir.join(format!("{}-{feature}.json", snapshot.stamp));
            write_items_doc(
                &path,
                snapshot.taken_at,
                &mut snapshot_stmt,
                params![feature, snapshot.id],
            )?;
            kept.insert(snapshot.stamp);
            snapshot_files.push(path);
        }

        let mut removed_stale = Vec::new();
        let entries = std::fs::read_dir(&snapshot_dir).map_err(atomic::io_error(&snapshot_dir))?;
        for entry in entries {
            let entry = entry.map_err(atomic::io_error(&snapshot_dir))?;
            let name = entry.file_name();
            let Some(stamp) = name.to_str().and_then(|n| snapshot_file_stamp(n, feature)) else {
                continue;
            };
            if !kept.contains(stamp) {
                let path = entry.path();
                std::fs::remove_file(&path).map_err(atomic::io_error(&path))?;
                removed_stale.push(path);
            }
        }
        removed_stale.sort();
        Ok(ExportSummary {
            state_file,
            item_count,
            snapshot_files,
            removed_stale,
        })
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

/// Applies one recorded [`CheckpointUpdate`] inside the import's transaction.
fn store_checkpoint(
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
    use super::*;

    const T0: i64 = 1_794_435_480; // 2026-11-11T22:18:00Z
    const DAY: i64 = 86_400;

    fn item(title: &str, at: i64) -> String {
        serde_json::json!({
            "type": "movie",
            "title": title,
            "ids": {"tmdb": "603"},
            "watched_at": format_watched_at(at),
        })
        .to_string()
    }

    fn entry(key: &str, at: i64) -> (String, String) {
        (key.to_owned(), item(key, at))
    }

    fn import(t: &mut Tracker, entries: &[(String, String)], now: i64) -> ImportOutcome {
        let mut imp = t.begin_import("history", false).unwrap();
        imp.add_batch(entries).unwrap();
        imp.finish(now).unwrap()
    }

    fn watched(t: &Tracker, key: &str) -> Option<String> {
        t.state("history")
            .unwrap()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, json)| {
                let v: serde_json::Value = serde_json::from_str(&json).unwrap();
                v["watched_at"].as_str().unwrap().to_owned()
            })
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

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

    /// Imports several rounds and returns the snapshot ids with the state after each.
    /// The state checked against a plain newest-wins model after each round.
    fn several_rounds(t: &mut Tracker) -> Vec<(SnapshotInfo, Vec<(String, String)>)> {
        let rounds: [&[(&str, i64)]; 5] = [
            &[("a", T0), ("b", T0)],
            &[("b", T0 + 10), ("c", T0)],
            &[("a", T0 + 20), ("d", T0)],
            &[("a", T0 + 5), ("c", T0 + 30)],
            &[("e", T0)],
        ];
        let mut model = std::collections::BTreeMap::new();
        let mut out = Vec::new();
        for (i, round) in rounds.iter().enumerate() {
            let entries: Vec<_> = round.iter().map(|&(k, at)| entry(k, at)).collect();
            let outcome = import(t, &entries, T0 + i as i64 * DAY);
            for &(k, at) in round.iter() {
                let newest = model.get(k).map_or(at, |&stored: &i64| stored.max(at));
                model.insert(k, newest);
            }
            let expected: Vec<(String, String)> = model
                .iter()
                .map(|(k, &at)| (k.to_string(), item(k, at)))
                .collect();
            let state = t.state("history").unwrap();
            assert_eq!(state, expected, "round {i}");
            assert_eq!(t.count("history").unwrap(), model.len() as u64);
            out.push((outcome.snapshot.unwrap(), state));
        }
        out
    }

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

    fn read_doc(path: &Path) -> (i64, Vec<(String, String)>) {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let obj = doc.as_object().unwrap();
        assert_eq!(obj.len(), 2, "{path:?} has only ts and items");
        let items = obj["items"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        (obj["ts"].as_i64().unwrap(), items)
    }

    /// Item JSON as serde_json re-serialises it, for comparing with parsed files.
    fn normalised(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
        pairs
            .into_iter()
            .map(|(k, v)| {
                let v: serde_json::Value = serde_json::from_str(&v).unwrap();
                (k, v.to_string())
            })
            .collect()
    }

    #[test]
    fn export_writes_crosswatch_files_that_parse_back_to_the_tracker() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("export");
        let mut t = Tracker::open(&dir.path().join("tracker")).unwrap();
        let rounds = several_rounds(&mut t);
        // A key needing JSON escaping survives the trip.
        let odd_key = "movie|title:\"quoted\" \\ ünïcode|year:1999";
        import(&mut t, &[entry(odd_key, T0)], T0 + 6 * DAY);
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;

        let summary = t.export("history", &out).unwrap();
        assert_eq!(summary.state_file, out.join("history.json"));
        assert_eq!(summary.item_count, 6);
        let (ts, items) = read_doc(&summary.state_file);
        assert!(ts >= started, "ts {ts} is the export time");
        assert_eq!(items, normalised(t.state("history").unwrap()));
        assert!(items.iter().any(|(k, _)| k == odd_key));

        let snaps = t.snapshots("history").unwrap();
        assert_eq!(summary.snapshot_files.len(), snaps.len());
        for (path, snap) in summary.snapshot_files.iter().zip(snaps.iter().rev()) {
            assert_eq!(
                path,
                &out.join("snapshots")
                    .join(format!("{}-history.json", snap.stamp))
            );
            let (ts, items) = read_doc(path);
            assert_eq!(ts, snap.taken_at);
            assert_eq!(items, normalised(t.snapshot_state(snap.id).unwrap()));
        }
        assert_eq!(
            read_doc(&summary.snapshot_files[1]).1,
            normalised(rounds[1].1.clone())
        );
        assert_eq!(files(&out), ["history.json", "snapshots"]);
    }

    #[test]
    fn re_export_replaces_files_and_drops_only_pruned_snapshot_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("export");
        let mut t = Tracker::open(&dir.path().join("tracker")).unwrap();
        several_rounds(&mut t);
        let first = t.export("history", &out).unwrap();
        assert_eq!(first.removed_stale, Vec::<PathBuf>::new());
        let snap_dir = out.join("snapshots");
        // Files that are not this feature's snapshots are left alone.
        let foreign = [
            "notes.txt",
            "20260101T000000Z-watchlist.json",
            "x-history.json",
        ];
        for name in foreign {
            std::fs::write(snap_dir.join(name), "keep").unwrap();
        }

        import(&mut t, &[entry("zz", T0)], T0 + 7 * DAY);
        let policy = Retention {
            max_age_days: 365,
            max_count: 3,
        };
        assert_eq!(
            t.apply_retention("history", policy, T0 + 7 * DAY).unwrap(),
            3
        );
        let second = t.export("history", &out).unwrap();
        assert_eq!(second.removed_stale, first.snapshot_files[..3].to_vec());
        assert_eq!(second.snapshot_files[..2], first.snapshot_files[3..]);
        let (_, items) = read_doc(&second.state_file);
        assert!(items.iter().any(|(k, _)| k == "zz"));
        let mut expected: Vec<String> = second
            .snapshot_files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .chain(foreign.iter().map(|s| s.to_string()))
            .collect();
        expected.sort();
        assert_eq!(files(&snap_dir), expected, "no temp files are left behind");
        for name in foreign {
            assert_eq!(
                std::fs::read_to_string(snap_dir.join(name)).unwrap(),
                "keep"
            );
        }
    }

    #[test]
    fn an_empty_feature_exports_an_empty_items_object() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tracker::open(dir.path()).unwrap();
        let summary = t.export("history", &dir.path().join("out")).unwrap();
        assert_eq!(summary.item_count, 0);
        assert_eq!(read_doc(&summary.state_file).1, Vec::new());
        assert!(summary.snapshot_files.is_empty());
    }

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

    const SRC: &str = "TAUTULLI";

    fn cp(t: &Tracker) -> Option<String> {
        t.checkpoint("history", SRC, "").unwrap()
    }

    /// A real import of `entries` that sets the checkpoint to `update` before committing.
    fn import_with(t: &mut Tracker, entries: &[(String, String)], update: CheckpointUpdate) {
        let mut imp = t.begin_import("history", false).unwrap();
        imp.add_batch(entries).unwrap();
        imp.set_checkpoint(SRC, "", update, T0).unwrap();
        imp.finish(T0).unwrap();
    }

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

    /// A Tracker that waits only `ms` milliseconds for locks.
    fn open_impatient(dir: &Path, ms: u64) -> Tracker {
        Tracker::open_waiting(dir, Duration::from_millis(ms)).unwrap()
    }

    /// Another process's connection to the Tracker under `dir`, holding its write lock
    /// until dropped.
    fn lock_writer(dir: &Path) -> Connection {
        let c = Connection::open(dir.join(DB_FILE)).unwrap();
        c.execute_batch("BEGIN IMMEDIATE; CREATE TABLE held (x INTEGER);")
            .unwrap();
        c
    }

    fn assert_busy(err: &TrackerError, dir: &Path) {
        match err {
            TrackerError::Busy { path, .. } => assert_eq!(path, &dir.join(DB_FILE)),
            other => panic!("not Busy: {other:?}"),
        }
        let text = err.to_string();
        let wanted = format!(
            "another host-sim run is using this Tracker ({})",
            dir.join(DB_FILE).display()
        );
        assert!(text.contains(&wanted), "{text}");
        assert!(text.contains("try again when it has finished"), "{text}");
        for wrong in ["move it aside", "disk", "locked"] {
            assert!(!text.contains(wrong), "{wrong:?} in {text}");
        }
        assert!(std::error::Error::source(err).is_none(), "{err:?}");
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
            other.export("history", &dir.path().join("out")).unwrap();
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

    /// Measures a 100k-entry import in batches (printed with --nocapture, not asserted) and
    /// checks it is exact.
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
        let summary = t.export("history", &dir.path().join("out")).unwrap();
        eprintln!("dry run + 100k export took {:?}", started.elapsed());
        assert_eq!(summary.item_count, n);
    }
}
