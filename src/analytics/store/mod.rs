//! The local history store: a SQLite copy of Tautulli's sessions (one row per ungrouped
//! session), the users seen, sync high-water marks, collections with their members, rotations
//! and collection snapshots.
//!
//! Why SQLite: every statistic is computed locally, exactly and offline, over any window or
//! time zone, without asking Tautulli again; a sync writes in one transaction, so a failed
//! sync leaves the copy as it was. WAL lets readers (charts, queries) run while a sync
//! writes, and the sync's read holds no lock at all (it stages rows in the connection's temp
//! database, see [`crate::analytics::sync`]), so a collect can run beside it. A write that
//! finds another one's lock waits up to [`BUSY_TIMEOUT`], then fails as
//! [`Error::StoreBusy`].
//! The schema is versioned with `PRAGMA user_version`; each migration runs once, in order.
//!
//! Sessions (schema 2) live in `session_rows`: numbers only, with the media type and stream
//! decision as small codes and the user, platform, player and title as ids into `strings`
//! (each distinct text stored once). A million sessions are then ~60 MB instead of ~230 MB,
//! which is what a sync writes and a chart reads. The `sessions` view shows them as
//! schema 1 stored them (text and all), for queries that want whole [`Session`]s.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Row, Statement, Transaction};

use crate::analytics::session::{MediaType, Session, StreamDecision};
use crate::error::{Error, Result};
use crate::hash::FxHashMap;

mod schema;

use schema::{MIGRATIONS, SCHEMA_VERSION};

/// The store's file name inside `analytics.data_dir`.
pub const FILE_NAME: &str = "analytics.sqlite";

/// How long a write waits for another run's lock before it fails as [`Error::StoreBusy`]:
/// longer than a sync's write of a large history normally holds it, short enough that a
/// stuck run is reported rather than waited for forever.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// The wait this process uses: [`BUSY_TIMEOUT`], or the shorter one host-sim's tests set
/// (see [`crate::clock::lock_wait`]). Read where the wait is set and where it is reported,
/// so the error always names the wait that happened.
fn busy_timeout() -> std::time::Duration {
    crate::clock::lock_wait(BUSY_TIMEOUT)
}

/// Every column of the `sessions` view, in [`session_from_row`] order.
pub(crate) const SESSION_COLUMNS: &str = "id, reference_id, user_id, user, started, stopped, \
     paused_seconds, play_seconds, media_type, live, rating_key, parent_rating_key, \
     grandparent_rating_key, section_id, decision, platform, player, title";

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Inserted,
    Updated,
    Unchanged,
}

/// Row counts and time span of the store, for reports and `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreCounts {
    pub sessions: i64,
    /// Distinct `reference_id`: plays as Tautulli counts them.
    pub viewings: i64,
    pub users: i64,
    /// Active collections.
    pub collections: i64,
    pub snapshots: i64,
    pub rotations: i64,
    /// Earliest and latest session start held (epoch seconds).
    pub first_started: Option<i64>,
    pub last_started: Option<i64>,
    /// When the last successful sync finished (epoch seconds).
    pub last_sync: Option<i64>,
}

/// The open store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
}

impl Store {
    /// Opens (creating when needed) `<data_dir>/analytics.sqlite` and brings its schema up
    /// to date.
    pub fn open(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::ConfigInvalid {
            key: "analytics.data_dir".into(),
            reason: format!(
                "cannot create the folder {} ({e}); point analytics.data_dir at a writable \
                 folder",
                data_dir.display()
            ),
        })?;
        let path = data_dir.join(FILE_NAME);
        let conn = Connection::open(&path).map_err(|e| Error::ConfigInvalid {
            key: "analytics.data_dir".into(),
            reason: format!(
                "cannot open the analytics store {} ({e}); point analytics.data_dir at a \
                 writable folder",
                path.display()
            ),
        })?;
        let mut store = Store {
            conn,
            path: Some(path),
        };
        store.prepare(true)?;
        Ok(store)
    }

    /// A store in memory.
    #[cfg(test)]
    pub(crate) fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory().map_err(|e| db_error(None, e))?;
        let mut store = Store { conn, path: None };
        store.prepare(false)?;
        Ok(store)
    }

    fn prepare(&mut self, wal: bool) -> Result<()> {
        let path = self.path.clone();
        let err = |e| db_error(path.as_deref(), e);
        self.conn.busy_timeout(busy_timeout()).map_err(err)?;
        if wal {
            // Returns the mode as a row, so it is queried rather than executed.
            let _: String = self
                .conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(err)?;
        }
        // A sync stages what it reads in a temp table: on disk, so memory stays bounded.
        self.conn
            .execute_batch(
                "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = FILE;",
            )
            .map_err(err)?;
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(Error::ConfigInvalid {
                key: "analytics.data_dir".into(),
                reason: format!(
                    "the analytics store {} has schema version {version}, newer than this \
                     plugin's {SCHEMA_VERSION}: update the plugin or point analytics.data_dir \
                     elsewhere",
                    self.describe()
                ),
            });
        }
        // Only a migration takes the write lock (waiting for another run's like any write),
        // and reads the version again under it: another process may have migrated meanwhile.
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(err)?;
            let found: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(err)?;
            if found == i as i64 {
                tx.execute_batch(sql).map_err(err)?;
                tx.pragma_update(None, "user_version", (i + 1) as i64)
                    .map_err(err)?;
                tx.commit().map_err(err)?;
            }
        }
        Ok(())
    }

    /// The file, or `None` in memory.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn describe(&self) -> String {
        self.path
            .as_deref()
            .map_or_else(|| "(in memory)".to_string(), |p| p.display().to_string())
    }

    /// Maps a SQLite error to the plugin's error, naming the store.
    pub(crate) fn err(&self, e: rusqlite::Error) -> Error {
        db_error(self.path.as_deref(), e)
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Starts a write transaction that takes the write lock up front: a read that later
    /// wanted to write while another run commits would fail at once instead of waiting for
    /// its turn ([`BUSY_TIMEOUT`]).
    pub(crate) fn begin_write(&mut self) -> Result<Transaction<'_>> {
        let path = self.path.clone();
        self.conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| db_error(path.as_deref(), e))
    }

    /// The latest session start held: the sync's high-water mark.
    pub(crate) fn max_started(&self) -> Result<Option<i64>> {
        self.scalar("SELECT MAX(started) FROM session_rows")
    }

    /// One session by Tautulli id.
    pub fn session(&self, id: i64) -> Result<Option<Session>> {
        self.conn
            .query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"),
                [id],
                session_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every session, oldest start first (ties by id).
    pub fn all_sessions(&self) -> Result<Vec<Session>> {
        self.sessions_where("1", params![])
    }

    fn sessions_where(&self, cond: &str, p: &[&dyn rusqlite::ToSql]) -> Result<Vec<Session>> {
        let sql =
            format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE {cond} ORDER BY started, id");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(p, session_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// A `sync_state` value.
    pub(crate) fn sync_state(&self, key: &str) -> Result<Option<i64>> {
        sync_state_in(&self.conn, key).map_err(|e| self.err(e))
    }

    /// Counts for a status report.
    pub fn counts(&self) -> Result<StoreCounts> {
        let n = |sql: &str| self.scalar(sql).map(|v| v.unwrap_or(0));
        Ok(StoreCounts {
            sessions: n("SELECT COUNT(*) FROM session_rows")?,
            viewings: n("SELECT COUNT(DISTINCT reference_id) FROM session_rows")?,
            users: n("SELECT COUNT(DISTINCT user_id) FROM session_rows")?,
            collections: n("SELECT COUNT(*) FROM collections WHERE active = 1")?,
            snapshots: n("SELECT COUNT(*) FROM collection_snapshots")?,
            rotations: n("SELECT COUNT(*) FROM rotations")?,
            first_started: self.scalar("SELECT MIN(started) FROM session_rows")?,
            last_started: self.max_started()?,
            last_sync: self.sync_state(STATE_LAST_SYNC)?,
        })
    }

    fn scalar(&self, sql: &str) -> Result<Option<i64>> {
        self.conn
            .query_row(sql, [], |r| r.get::<_, Option<i64>>(0))
            .map_err(|e| self.err(e))
    }
}

/// Drops the secondary indexes of `session_rows` and answers the SQL that creates them
/// again ([`create_indexes`]). A sync that writes most of the store does this: building an
/// index once from sorted keys is far cheaper than a million random inserts into each, and
/// both happen inside the sync's transaction, so a failed sync keeps the indexes.
pub(crate) fn drop_session_indexes(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let indexes: Vec<(String, String)> = conn
        .prepare(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' \
             AND tbl_name = 'session_rows' AND sql IS NOT NULL ORDER BY name",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut sql = Vec::with_capacity(indexes.len());
    for (name, create) in indexes {
        conn.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))?;
        sql.push(create);
    }
    Ok(sql)
}

/// Runs the `CREATE INDEX` statements [`drop_session_indexes`] answered.
pub(crate) fn create_indexes(conn: &Connection, sql: &[String]) -> rusqlite::Result<()> {
    for create in sql {
        conn.execute_batch(create)?;
    }
    Ok(())
}

/// `sync_state` key: epoch seconds of the last successful sync.
pub const STATE_LAST_SYNC: &str = "last_sync_at";
/// `sync_state` key: Tautulli's `recordsFiltered` at the last successful sync.
pub const STATE_RECORDS: &str = "records_filtered";
/// `sync_state` key: the newest session start after the last successful sync.
pub const STATE_MAX_STARTED: &str = "max_started";
/// `sync_state` key: sessions Tautulli counts that the last successful sync left out (bad
/// times, no start) and the store does not hold.
pub const STATE_LEFT_OUT: &str = "left_out";

/// A SQLite failure as the plugin's error. Not a config problem and not Tautulli's: another
/// run kept the store locked ([`Error::StoreBusy`]), or the local file is broken or on a
/// full disk.
pub(crate) fn db_error(path: Option<&Path>, e: rusqlite::Error) -> Error {
    let at = path.map_or_else(|| "(in memory)".to_string(), |p| p.display().to_string());
    let busy = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    if busy {
        return Error::StoreBusy {
            path: at,
            waited_secs: busy_timeout().as_secs(),
        };
    }
    Error::Store {
        path: at,
        reason: e.to_string(),
    }
}

/// A request argument that cannot be used (an unknown or ambiguous collection, an unknown
/// rotation or query).
pub(crate) fn bad_argument(name: &str, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        name: name.to_string(),
        reason: reason.into(),
    }
}

/// Reads a `sessions` row selected with [`SESSION_COLUMNS`].
pub(crate) fn session_from_row(r: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(0)?,
        reference_id: r.get(1)?,
        user_id: r.get(2)?,
        user: r.get(3)?,
        started: r.get(4)?,
        stopped: r.get(5)?,
        paused_seconds: r.get(6)?,
        play_seconds: r.get(7)?,
        media_type: MediaType::parse(&r.get::<_, String>(8)?),
        live: r.get::<_, i64>(9)? != 0,
        rating_key: r.get(10)?,
        parent_rating_key: r.get(11)?,
        grandparent_rating_key: r.get(12)?,
        section_id: r.get(13)?,
        decision: StreamDecision::parse(&r.get::<_, String>(14)?),
        platform: r.get(15)?,
        player: r.get(16)?,
        title: r.get(17)?,
    })
}

/// Inserts the session, or updates it when Tautulli's copy changed (a session that joined a
/// group has a new `reference_id`), or leaves it as it is. (A sync uses one
/// [`SessionWriter`] for all its rows.)
#[cfg(test)]
pub(crate) fn upsert_session(conn: &Connection, s: &Session) -> rusqlite::Result<Upsert> {
    SessionWriter::new(conn)?.upsert(s)
}

/// Writes sessions into `session_rows` through statements prepared once, remembering the
/// ids of the strings it has met.
///
/// Why: a sync writes up to millions of rows whose user, platform, player and title repeat;
/// looking each up in `strings` costs two statements, the cache a hash probe (and even a
/// cached statement costs a hash of its SQL text per use). Keep a writer only for one
/// transaction: after a rollback its ids may name strings that are gone.
pub(crate) struct SessionWriter<'c> {
    conn: &'c Connection,
    insert: Statement<'c>,
    update: Statement<'c>,
    strings: FxHashMap<String, i64>,
}

impl<'c> SessionWriter<'c> {
    pub(crate) fn new(conn: &'c Connection) -> rusqlite::Result<SessionWriter<'c>> {
        Ok(SessionWriter {
            conn,
            insert: conn.prepare(
                "INSERT INTO session_rows (id, reference_id, started, stopped, play_seconds, \
                 paused_seconds, media, live, decision, user_id, user_sid, platform_sid, \
                 rating_key, parent_rating_key, grandparent_rating_key, section_id, player_sid, \
                 title_sid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, \
                 ?14, ?15, ?16, ?17, ?18) ON CONFLICT(id) DO NOTHING",
            )?,
            update: conn.prepare(
                "UPDATE session_rows SET reference_id = ?2, started = ?3, stopped = ?4, \
                 play_seconds = ?5, paused_seconds = ?6, media = ?7, live = ?8, decision = ?9, \
                 user_id = ?10, user_sid = ?11, platform_sid = ?12, rating_key = ?13, \
                 parent_rating_key = ?14, grandparent_rating_key = ?15, section_id = ?16, \
                 player_sid = ?17, title_sid = ?18 \
                 WHERE id = ?1 AND (reference_id IS NOT ?2 OR started IS NOT ?3 \
                   OR stopped IS NOT ?4 OR play_seconds IS NOT ?5 OR paused_seconds IS NOT ?6 \
                   OR media IS NOT ?7 OR live IS NOT ?8 OR decision IS NOT ?9 \
                   OR user_id IS NOT ?10 OR user_sid IS NOT ?11 OR platform_sid IS NOT ?12 \
                   OR rating_key IS NOT ?13 OR parent_rating_key IS NOT ?14 \
                   OR grandparent_rating_key IS NOT ?15 OR section_id IS NOT ?16 \
                   OR player_sid IS NOT ?17 OR title_sid IS NOT ?18)",
            )?,
            strings: FxHashMap::default(),
        })
    }

    /// The id of `value` in `strings`, added when new.
    fn intern(&mut self, value: &str) -> rusqlite::Result<i64> {
        if let Some(&id) = self.strings.get(value) {
            return Ok(id);
        }
        self.conn
            .prepare_cached(
                "INSERT INTO strings (value) VALUES (?1) ON CONFLICT(value) DO NOTHING",
            )?
            .execute([value])?;
        let id: i64 = self
            .conn
            .prepare_cached("SELECT id FROM strings WHERE value = ?1")?
            .query_row([value], |r| r.get(0))?;
        self.strings.insert(value.to_string(), id);
        Ok(id)
    }

    /// Upserts a session: one insert that does nothing when the id is held, then (only then)
    /// one update that writes only when a value differs. Strings are interned, so equal text
    /// is an equal id and the comparison is exact.
    pub(crate) fn upsert(&mut self, s: &Session) -> rusqlite::Result<Upsert> {
        let user = self.intern(&s.user)?;
        let platform = self.intern(&s.platform)?;
        let player = self.intern(&s.player)?;
        let title = self.intern(&s.title)?;
        let values = params![
            s.id,
            s.reference_id,
            s.started,
            s.stopped,
            s.play_seconds,
            s.paused_seconds,
            media_code(s.media_type),
            i64::from(s.live),
            decision_code(s.decision),
            s.user_id,
            user,
            platform,
            s.rating_key,
            s.parent_rating_key,
            s.grandparent_rating_key,
            s.section_id,
            player,
            title,
        ];
        if self.insert.execute(values)? > 0 {
            return Ok(Upsert::Inserted);
        }
        Ok(if self.update.execute(values)? > 0 {
            Upsert::Updated
        } else {
            Upsert::Unchanged
        })
    }
}

/// `session_rows.media`: the [`MediaType`] as a small number (the `sessions` view turns it
/// back into text).
pub(crate) fn media_code(m: MediaType) -> i64 {
    match m {
        MediaType::Movie => 0,
        MediaType::Episode => 1,
        MediaType::Track => 2,
        MediaType::Other => 3,
    }
}

pub(crate) fn media_of_code(code: i64) -> MediaType {
    match code {
        0 => MediaType::Movie,
        1 => MediaType::Episode,
        2 => MediaType::Track,
        _ => MediaType::Other,
    }
}

/// `session_rows.decision`: the [`StreamDecision`] as a small number.
pub(crate) fn decision_code(d: StreamDecision) -> i64 {
    match d {
        StreamDecision::DirectPlay => 0,
        StreamDecision::DirectStream => 1,
        StreamDecision::Transcode => 2,
        StreamDecision::Unknown => 3,
    }
}

pub(crate) fn decision_of_code(code: i64) -> StreamDecision {
    match code {
        0 => StreamDecision::DirectPlay,
        1 => StreamDecision::DirectStream,
        2 => StreamDecision::Transcode,
        _ => StreamDecision::Unknown,
    }
}

/// Records a user's names; a row is rewritten only when they changed.
pub(crate) fn upsert_user(
    conn: &Connection,
    user_id: i64,
    username: Option<&str>,
    friendly_name: Option<&str>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO users (user_id, username, friendly_name) VALUES (?1, ?2, ?3) \
         ON CONFLICT(user_id) DO UPDATE SET username = excluded.username, \
         friendly_name = excluded.friendly_name \
         WHERE users.username IS NOT excluded.username \
            OR users.friendly_name IS NOT excluded.friendly_name",
    )?
    .execute(params![user_id, username, friendly_name])?;
    Ok(())
}

pub(crate) fn sync_state_in(conn: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT value FROM sync_state WHERE key = ?1", [key], |r| {
        r.get(0)
    })
    .optional()
}

pub(crate) fn set_sync_state(conn: &Connection, key: &str, value: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO sync_state (key, value) VALUES (?1, ?2) \
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A plain movie session for tests.
    pub(crate) fn session(id: i64, user_id: i64, rating_key: i64, started: i64) -> Session {
        Session {
            id,
            reference_id: id,
            user_id,
            user: format!("user{user_id}"),
            started,
            stopped: Some(started + 600),
            paused_seconds: 0,
            play_seconds: 600,
            media_type: MediaType::Movie,
            live: false,
            rating_key,
            parent_rating_key: None,
            grandparent_rating_key: None,
            section_id: Some(1),
            decision: StreamDecision::DirectPlay,
            platform: "Chrome".into(),
            player: "Chrome".into(),
            title: format!("Item {rating_key}"),
        }
    }

    #[test]
    fn schema_is_created_and_versioned() {
        let s = Store::open_in_memory().unwrap();
        let v: i64 = s
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let fk: i64 = s
            .conn()
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        assert_eq!(s.counts().unwrap(), StoreCounts::default());
    }

    #[test]
    fn sessions_round_trip_and_upsert_reports_what_it_did() {
        let s = Store::open_in_memory().unwrap();
        let mut a = session(1, 7, 101, 1000);
        a.stopped = None;
        a.media_type = MediaType::Episode;
        a.parent_rating_key = Some(200);
        a.grandparent_rating_key = Some(199);
        a.decision = StreamDecision::DirectStream;
        a.live = true;
        assert_eq!(upsert_session(s.conn(), &a).unwrap(), Upsert::Inserted);
        assert_eq!(upsert_session(s.conn(), &a).unwrap(), Upsert::Unchanged);
        assert_eq!(s.session(1).unwrap().as_ref(), Some(&a));
        a.reference_id = 0;
        assert_eq!(upsert_session(s.conn(), &a).unwrap(), Upsert::Updated);
        assert_eq!(s.session(1).unwrap().unwrap().reference_id, 0);
        assert_eq!(s.counts().unwrap().sessions, 1);
    }

    #[test]
    fn all_sessions_are_in_start_order() {
        let s = Store::open_in_memory().unwrap();
        for (id, start) in [(3, 5000), (1, 100), (2, 1000)] {
            upsert_session(s.conn(), &session(id, 1, 5, start)).unwrap();
        }
        let ids: Vec<i64> = s.all_sessions().unwrap().iter().map(|s| s.id).collect();
        assert_eq!(ids, [1, 2, 3]);
        assert_eq!(s.max_started().unwrap(), Some(5000));
    }

    #[test]
    fn users_are_rewritten_only_when_changed() {
        let s = Store::open_in_memory().unwrap();
        upsert_user(s.conn(), 1, Some("alice"), None).unwrap();
        upsert_user(s.conn(), 1, Some("alice"), None).unwrap();
        assert_eq!(s.conn().changes(), 0, "same names: no write");
        upsert_user(s.conn(), 1, Some("alice"), Some("Alice A.")).unwrap();
        assert_eq!(s.conn().changes(), 1);
        let f: Option<String> = s
            .conn()
            .query_row(
                "SELECT friendly_name FROM users WHERE user_id = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(f.as_deref(), Some("Alice A."));
    }

    #[test]
    fn a_file_store_survives_reopening() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        {
            let s = Store::open(dir).unwrap();
            upsert_session(s.conn(), &session(9, 1, 5, 10)).unwrap();
            set_sync_state(s.conn(), STATE_LAST_SYNC, 77).unwrap();
        }
        let s = Store::open(dir).unwrap();
        assert_eq!(s.counts().unwrap().sessions, 1);
        assert_eq!(s.counts().unwrap().last_sync, Some(77));
        assert_eq!(s.path(), Some(dir.join(FILE_NAME).as_path()));
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        {
            let c = Connection::open(dir.join(FILE_NAME)).unwrap();
            c.pragma_update(None, "user_version", 99).unwrap();
        }
        let e = Store::open(dir).unwrap_err().to_string();
        assert!(e.contains("schema version 99"), "{e}");
    }

    #[test]
    fn a_schema_2_stores_snapshots_get_one_run_per_collect_time() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(MIGRATIONS[1]).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute_batch(
            "INSERT INTO collections (id, section_id, library, rating_key, name, source, \
                 updated_at) VALUES (1, 1, 'Movies', 5, 'A', 'config', 0), \
                 (2, 1, 'Movies', 6, 'B', 'config', 0);
             INSERT INTO collection_snapshots (collection_id, window_days, plays, \
                 watch_seconds, unique_users, items_with_plays, total_items, collected_at) \
                 VALUES (1, 0, 1, 0, 0, 0, 0, 300), (2, 0, 1, 0, 0, 0, 0, 300), \
                 (1, 0, 1, 0, 0, 0, 0, 100), (2, 0, 1, 0, 0, 0, 0, 100), \
                 (1, 7, 1, 0, 0, 0, 0, 100);",
        )
        .unwrap();
        let mut store = Store { conn, path: None };
        store.prepare(false).unwrap();
        let mut st = store
            .conn()
            .prepare("SELECT collected_at, run FROM collection_snapshots ORDER BY id")
            .unwrap();
        let runs: Vec<(i64, i64)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(runs, [(300, 2), (300, 2), (100, 1), (100, 1), (100, 1)]);
    }

    #[test]
    fn a_schema_1_store_is_migrated_with_every_session() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let mut a = session(1, 7, 101, 1000);
        a.stopped = None;
        a.media_type = MediaType::Episode;
        a.parent_rating_key = Some(200);
        a.grandparent_rating_key = Some(199);
        a.decision = StreamDecision::DirectStream;
        a.live = true;
        let mut b = session(2, 8, 102, 2000);
        b.media_type = MediaType::Other;
        b.decision = StreamDecision::Unknown;
        b.platform = String::new();
        b.title = a.title.clone();
        let mut c = session(3, 7, 103, 3000);
        c.media_type = MediaType::Track;
        c.decision = StreamDecision::Transcode;
        c.reference_id = 1;
        for s in [&a, &b, &c] {
            conn.execute(
                &format!(
                    "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, \
                     ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
                ),
                params![
                    s.id,
                    s.reference_id,
                    s.user_id,
                    s.user,
                    s.started,
                    s.stopped,
                    s.paused_seconds,
                    s.play_seconds,
                    s.media_type.as_str(),
                    i64::from(s.live),
                    s.rating_key,
                    s.parent_rating_key,
                    s.grandparent_rating_key,
                    s.section_id,
                    s.decision.as_str(),
                    s.platform,
                    s.player,
                    s.title,
                ],
            )
            .unwrap();
        }
        let mut store = Store { conn, path: None };
        store.prepare(false).unwrap();
        assert_eq!(store.all_sessions().unwrap(), [a.clone(), b, c]);
        let kind: String = store
            .conn()
            .query_row(
                "SELECT type FROM sqlite_master WHERE name = 'sessions'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kind, "view");
        // Each distinct text once: user7, user8, Chrome (platform and player), "" and the
        // titles "Item 101" (shared by 1 and 2) and "Item 103".
        let strings = store.scalar("SELECT COUNT(*) FROM strings").unwrap();
        assert_eq!(strings, Some(6));
        assert_eq!(upsert_session(store.conn(), &a).unwrap(), Upsert::Unchanged);
    }

    #[test]
    fn every_changed_field_is_an_update() {
        let s = Store::open_in_memory().unwrap();
        let base = session(1, 7, 101, 1000);
        upsert_session(s.conn(), &base).unwrap();
        let changes: Vec<fn(&mut Session)> = vec![
            |s| s.reference_id = 9,
            |s| s.user_id = 9,
            |s| s.user = "someone else".into(),
            |s| s.started += 1,
            |s| s.stopped = None,
            |s| s.paused_seconds = 5,
            |s| s.play_seconds = 5,
            |s| s.media_type = MediaType::Track,
            |s| s.live = true,
            |s| s.rating_key = 5,
            |s| s.parent_rating_key = Some(5),
            |s| s.grandparent_rating_key = Some(5),
            |s| s.section_id = None,
            |s| s.decision = StreamDecision::Transcode,
            |s| s.platform = "Roku".into(),
            |s| s.player = "Living room".into(),
            |s| s.title = "Another".into(),
        ];
        let mut writer = SessionWriter::new(s.conn()).unwrap();
        for change in &changes {
            let mut changed = base.clone();
            change(&mut changed);
            assert_eq!(writer.upsert(&changed).unwrap(), Upsert::Updated);
            assert_eq!(s.session(1).unwrap().as_ref(), Some(&changed));
            assert_eq!(writer.upsert(&changed).unwrap(), Upsert::Unchanged);
            assert_eq!(upsert_session(s.conn(), &base).unwrap(), Upsert::Updated);
        }
        assert_eq!(s.session(1).unwrap().as_ref(), Some(&base));
    }
}
