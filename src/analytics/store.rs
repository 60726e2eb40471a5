//! The local history store: a SQLite copy of Tautulli's sessions (one row per ungrouped
//! session), the users seen, sync high-water marks, collections with their members, rotations
//! and collection snapshots.
//!
//! Why SQLite: every statistic is computed locally, exactly and offline, over any window or
//! time zone, without asking Tautulli again; a sync is one transaction, so a failed sync
//! leaves the copy as it was. WAL lets readers (charts, queries) run while a sync writes.
//! The schema is versioned with `PRAGMA user_version`; each migration runs once, in order.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::analytics::session::{MediaType, Session, StreamDecision};
use crate::error::{Error, Result};

/// The store's file name inside `analytics.data_dir`.
pub const FILE_NAME: &str = "analytics.sqlite";

/// Schema migrations; `MIGRATIONS[i]` brings `user_version` from `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE sessions (
    id                     INTEGER PRIMARY KEY,
    reference_id           INTEGER NOT NULL,
    user_id                INTEGER NOT NULL,
    user                   TEXT    NOT NULL,
    started                INTEGER NOT NULL,
    stopped                INTEGER,
    paused_seconds         INTEGER NOT NULL,
    play_seconds           INTEGER NOT NULL,
    media_type             TEXT    NOT NULL,
    live                   INTEGER NOT NULL,
    rating_key             INTEGER NOT NULL,
    parent_rating_key      INTEGER,
    grandparent_rating_key INTEGER,
    section_id             INTEGER,
    decision               TEXT    NOT NULL,
    platform               TEXT    NOT NULL,
    player                 TEXT    NOT NULL,
    title                  TEXT    NOT NULL
);
CREATE INDEX sessions_started ON sessions(started);
CREATE INDEX sessions_stopped ON sessions(stopped);
CREATE INDEX sessions_reference ON sessions(reference_id);
CREATE INDEX sessions_rating_key ON sessions(rating_key);
CREATE INDEX sessions_parent ON sessions(parent_rating_key);
CREATE INDEX sessions_grandparent ON sessions(grandparent_rating_key);

CREATE TABLE users (
    user_id       INTEGER PRIMARY KEY,
    username      TEXT,
    friendly_name TEXT
);

CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TABLE collections (
    id          INTEGER PRIMARY KEY,
    section_id  INTEGER NOT NULL,
    library     TEXT    NOT NULL,
    rating_key  INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    source      TEXT    NOT NULL CHECK (source IN ('config', 'discovered')),
    active      INTEGER NOT NULL DEFAULT 1,
    updated_at  INTEGER NOT NULL,
    UNIQUE (section_id, rating_key)
);

CREATE TABLE collection_members (
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    rating_key    INTEGER NOT NULL,
    kind          TEXT,
    title         TEXT,
    PRIMARY KEY (collection_id, rating_key)
);

CREATE TABLE rotations (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    started_at INTEGER NOT NULL,
    note       TEXT
);

CREATE TABLE collection_snapshots (
    id               INTEGER PRIMARY KEY,
    collection_id    INTEGER NOT NULL REFERENCES collections(id),
    window_days      INTEGER NOT NULL,
    plays            INTEGER NOT NULL,
    watch_seconds    INTEGER NOT NULL,
    unique_users     INTEGER NOT NULL,
    items_with_plays INTEGER NOT NULL,
    total_items      INTEGER NOT NULL,
    collected_at     INTEGER NOT NULL,
    rotation_id      INTEGER NULL REFERENCES rotations(id)
);
CREATE INDEX snapshots_collection ON collection_snapshots(collection_id, collected_at);
CREATE INDEX snapshots_collected ON collection_snapshots(collected_at);
CREATE INDEX snapshots_rotation ON collection_snapshots(rotation_id);
"#];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Every column of `sessions`, in [`session_from_row`] order.
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

    /// A store in memory (tests, dry runs).
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory().map_err(|e| db_error(None, e))?;
        let mut store = Store { conn, path: None };
        store.prepare(false)?;
        Ok(store)
    }

    fn prepare(&mut self, wal: bool) -> Result<()> {
        let path = self.path.clone();
        let err = |e| db_error(path.as_deref(), e);
        self.conn
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        if wal {
            // Returns the mode as a row, so it is queried rather than executed.
            let _: String = self
                .conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(err)?;
        }
        self.conn
            .execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
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
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(())
    }

    /// The file, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
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

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Sessions held.
    pub fn session_count(&self) -> Result<i64> {
        self.scalar("SELECT COUNT(*) FROM sessions")
            .map(|v| v.unwrap_or(0))
    }

    /// The latest session start held: the sync's high-water mark.
    pub fn max_started(&self) -> Result<Option<i64>> {
        self.scalar("SELECT MAX(started) FROM sessions")
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

    /// Sessions whose time span `[started, end]` touches `[from, to]` (epoch seconds,
    /// inclusive), oldest start first. `end` is the latest of `stopped` and
    /// `started + play + paused`, so a session without a stop time is not lost.
    pub fn sessions_between(&self, from: i64, to: i64) -> Result<Vec<Session>> {
        self.sessions_where(
            "started <= ?2 AND MAX(started, COALESCE(stopped, started), \
             started + MAX(play_seconds, 0) + MAX(paused_seconds, 0)) >= ?1",
            params![from, to],
        )
    }

    /// The first session (by start) matching a fixed SQL condition, if any.
    pub(crate) fn first_session_where(&self, cond: &str) -> Result<Option<Session>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE {cond} ORDER BY started, id \
                     LIMIT 1"
                ),
                [],
                session_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
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
    pub fn sync_state(&self, key: &str) -> Result<Option<i64>> {
        self.conn
            .query_row("SELECT value FROM sync_state WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Counts for a status report.
    pub fn counts(&self) -> Result<StoreCounts> {
        let n = |sql: &str| self.scalar(sql).map(|v| v.unwrap_or(0));
        Ok(StoreCounts {
            sessions: n("SELECT COUNT(*) FROM sessions")?,
            viewings: n("SELECT COUNT(DISTINCT reference_id) FROM sessions")?,
            users: n("SELECT COUNT(DISTINCT user_id) FROM sessions")?,
            collections: n("SELECT COUNT(*) FROM collections WHERE active = 1")?,
            snapshots: n("SELECT COUNT(*) FROM collection_snapshots")?,
            rotations: n("SELECT COUNT(*) FROM rotations")?,
            first_started: self.scalar("SELECT MIN(started) FROM sessions")?,
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

/// `sync_state` key: epoch seconds of the last successful sync.
pub const STATE_LAST_SYNC: &str = "last_sync_at";
/// `sync_state` key: Tautulli's `recordsFiltered` at the last successful sync.
pub const STATE_RECORDS: &str = "records_filtered";
/// `sync_state` key: the newest session start after the last successful sync.
pub const STATE_MAX_STARTED: &str = "max_started";

/// A SQLite failure as the plugin's error. Not a config problem and not Tautulli's: the
/// local file is broken, locked or on a full disk.
pub(crate) fn db_error(path: Option<&Path>, e: rusqlite::Error) -> Error {
    let at = path.map_or_else(|| "(in memory)".to_string(), |p| p.display().to_string());
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
/// group has a new `reference_id`), or leaves it as it is.
pub(crate) fn upsert_session(conn: &Connection, s: &Session) -> rusqlite::Result<Upsert> {
    let existing = conn
        .prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
        ))?
        .query_row([s.id], session_from_row)
        .optional()?;
    let values = params![
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
    ];
    match existing {
        Some(old) if old == *s => Ok(Upsert::Unchanged),
        Some(_) => {
            conn.prepare_cached(
                "UPDATE sessions SET reference_id = ?2, user_id = ?3, user = ?4, started = ?5, \
                 stopped = ?6, paused_seconds = ?7, play_seconds = ?8, media_type = ?9, \
                 live = ?10, rating_key = ?11, parent_rating_key = ?12, \
                 grandparent_rating_key = ?13, section_id = ?14, decision = ?15, \
                 platform = ?16, player = ?17, title = ?18 WHERE id = ?1",
            )?
            .execute(values)?;
            Ok(Upsert::Updated)
        }
        None => {
            conn.prepare_cached(&format!(
                "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, \
                 ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
            ))?
            .execute(values)?;
            Ok(Upsert::Inserted)
        }
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
        assert_eq!(s.session_count().unwrap(), 1);
    }

    #[test]
    fn sessions_between_uses_the_whole_span() {
        let s = Store::open_in_memory().unwrap();
        for (id, start) in [(1, 100), (2, 1000), (3, 5000)] {
            upsert_session(s.conn(), &session(id, 1, 5, start)).unwrap();
        }
        // Session 2 runs 1000..1600: it touches [1500, 2000] though it started before.
        let ids = |v: Vec<Session>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(ids(s.sessions_between(1500, 2000).unwrap()), [2]);
        assert_eq!(ids(s.sessions_between(0, i64::MAX).unwrap()), [1, 2, 3]);
        assert_eq!(
            ids(s.sessions_between(701, 999).unwrap()),
            Vec::<i64>::new()
        );
        assert_eq!(ids(s.all_sessions().unwrap()), [1, 2, 3]);
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
        let dir = std::env::temp_dir().join(format!(
            "analytics-store-test-{}-{}",
            std::process::id(),
            line!()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let s = Store::open(&dir).unwrap();
            upsert_session(s.conn(), &session(9, 1, 5, 10)).unwrap();
            set_sync_state(s.conn(), STATE_LAST_SYNC, 77).unwrap();
        }
        let s = Store::open(&dir).unwrap();
        assert_eq!(s.session_count().unwrap(), 1);
        assert_eq!(s.counts().unwrap().last_sync, Some(77));
        assert_eq!(s.path(), Some(dir.join(FILE_NAME).as_path()));
        drop(s);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = std::env::temp_dir().join(format!(
            "analytics-store-test-{}-{}",
            std::process::id(),
            line!()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        {
            let c = Connection::open(dir.join(FILE_NAME)).unwrap();
            c.pragma_update(None, "user_version", 99).unwrap();
        }
        let e = Store::open(&dir).unwrap_err().to_string();
        assert!(e.contains("schema version 99"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
