//! The plugin's own state between runs: one SQLite file, `<state_dir>/tautulli-plugin.sqlite`,
//! holding the **metadata cache**: the IDs `get_metadata` gave for a show or a new-agent
//! movie, per Tautulli server, so a warm run asks Tautulli nothing it already knows (a cache
//! of one run would ask for every show again on each import).
//!
//! Incremental checkpoints used to live here too, saved before the host had committed the
//! plays they covered; they now travel in the index report to the host, which commits them
//! with the items (see [`crate::index::checkpoint`]). An old file's `checkpoints` table is dropped
//! on open.
//!
//! What is cached, and for how long:
//! - `Found` answers (the IDs), for `tautulli.metadata_cache_days`. They are written as soon as
//!   they arrive, even if the read fails later: they are Tautulli's own answers and stay true
//!   whatever the read's outcome, and a retry then asks less.
//! - Empty answers (`{}`: deleted from Plex) for at most [`DELETED_TTL_SECS`], and only when
//!   the read got through and at least one other lookup of that run found IDs. `{}` is also
//!   what every lookup answers while Plex is down behind Tautulli; caching that would key
//!   items by their Plex ID for as long as it lasts.
//! - Failures never.
//!
//! Everything here is an optimisation: losing the file costs one slow (full) run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::config::TautulliConfig;
use crate::index::identity::ids::Ids;
use crate::index::metadata::{MetaAnswer, MetaLevel, MetaRequest};

/// The state file inside `tautulli.state_dir`.
pub const FILE_NAME: &str = "tautulli-plugin.sqlite";

/// How long opening or writing the state waits for another run's lock (a host and a CLI at
/// once wait for each other instead of failing); host-sim's tests may shorten it (see
/// [`crate::clock::lock_wait`]).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Empty (`{}`) answers are trusted for a day at most.
pub const DELETED_TTL_SECS: i64 = 86_400;

/// Schema version this code writes (`PRAGMA user_version`). Still 1 without `checkpoints`:
/// an older plugin opening the file recreates that table and works as before.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS metadata_cache (
    server TEXT NOT NULL,
    rating_key INTEGER NOT NULL,
    level TEXT NOT NULL,
    found INTEGER NOT NULL,
    ids TEXT NOT NULL,
    fetched_at INTEGER NOT NULL,
    PRIMARY KEY (server, rating_key, level)
);
DROP TABLE IF EXISTS checkpoints;
";

/// Why the state could not be used. The read itself goes on without it (a full read, no
/// cache), and the report carries the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    #[error(
        "cannot create the state folder {path}: {reason}; check tautulli.state_dir and its \
         permissions"
    )]
    CreateDir { path: String, reason: String },
    #[error(
        "cannot open the plugin state {path}: {reason}; check the folder's permissions, or \
         delete the file to start afresh (it only holds a cache)"
    )]
    Open { path: String, reason: String },
    #[error(
        "the plugin state {path} was written by a newer plugin (schema {found}, this one \
         knows {supported}); update the plugin or point tautulli.state_dir elsewhere"
    )]
    NewerSchema {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("plugin state {path}: {op} failed: {reason}")]
    Sql {
        path: String,
        op: &'static str,
        reason: String,
    },
}

pub type StateResult<T> = std::result::Result<T, StateError>;

/// Which cached answers are still good: those fetched at or after these times (epoch s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    pub found_since: i64,
    pub deleted_since: i64,
}

impl Freshness {
    /// For a cache of `days` days (at least 1), now: IDs for `days`, empty answers for at
    /// most [`DELETED_TTL_SECS`].
    pub fn new(now: i64, days: u32) -> Freshness {
        let ttl = i64::from(days.max(1)) * 86_400;
        Freshness {
            found_since: now - ttl,
            deleted_since: now - ttl.min(DELETED_TTL_SECS),
        }
    }
}

/// The open state file.
#[derive(Debug)]
pub struct State {
    conn: Connection,
    path: PathBuf,
    /// Opened by [`State::open_read_only`]: every write is skipped.
    read_only: bool,
}

impl State {
    /// Opens (creating folder and file when needed) `<dir>/tautulli-plugin.sqlite`.
    pub fn open(dir: &Path) -> StateResult<State> {
        std::fs::create_dir_all(dir).map_err(|e| StateError::CreateDir {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let path = dir.join(FILE_NAME);
        let shown = path.display().to_string();
        let open_err = |e: rusqlite::Error| StateError::Open {
            path: shown.clone(),
            reason: e.to_string(),
        };
        let conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(crate::clock::lock_wait(BUSY_TIMEOUT))
            .map_err(open_err)?;
        let _mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(open_err)?;
        if found > SCHEMA_VERSION {
            return Err(StateError::NewerSchema {
                path: shown,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(open_err)?;
        Ok(State {
            conn,
            path,
            read_only: false,
        })
    }

    /// Opens an existing state file for reading only: a dry run uses the cached answers
    /// (it would otherwise ask Tautulli for every one again) but changes nothing; every
    /// write is skipped. `None` when there is no file yet, or one of another schema.
    pub fn open_read_only(dir: &Path) -> StateResult<Option<State>> {
        let path = dir.join(FILE_NAME);
        if !path.is_file() {
            return Ok(None);
        }
        let open_err = |e: rusqlite::Error| StateError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        // `immutable`: a read-only connection to a WAL file would still leave `-wal` and
        // `-shm` files behind. A run writing the cache meanwhile can at worst make a lookup
        // fail (then asked of Tautulli) or miss its newest answers: it is only a cache.
        let uri = format!(
            "file:{}?immutable=1",
            path.display()
                .to_string()
                .replace('%', "%25")
                .replace('?', "%3f")
                .replace('#', "%23")
        );
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(uri, flags).map_err(open_err)?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(open_err)?;
        Ok((found == SCHEMA_VERSION).then_some(State {
            conn,
            path,
            read_only: true,
        }))
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, op: &'static str) -> impl Fn(rusqlite::Error) -> StateError + '_ {
        move |e| StateError::Sql {
            path: self.path.display().to_string(),
            op,
            reason: e.to_string(),
        }
    }

    /// Cached answers for each of `requests` on `server` that are still fresh; requests
    /// without one are absent from the answer.
    pub fn cached(
        &self,
        server: &str,
        requests: &[MetaRequest],
        fresh: Freshness,
    ) -> StateResult<HashMap<MetaRequest, MetaAnswer>> {
        let err = self.sql("reading the metadata cache");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT found, ids FROM metadata_cache \
                 WHERE server = ?1 AND rating_key = ?2 AND level = ?3 \
                 AND fetched_at >= CASE WHEN found = 1 THEN ?4 ELSE ?5 END",
            )
            .map_err(&err)?;
        let mut out = HashMap::new();
        for req in requests {
            let row: Option<(bool, String)> = stmt
                .query_row(
                    params![
                        server,
                        req.rating_key,
                        level_name(req.level),
                        fresh.found_since,
                        fresh.deleted_since
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(&err)?;
            // An entry that no longer parses is treated as missing: it is asked again and
            // overwritten.
            let answer = match row {
                Some((true, text)) => serde_json::from_str::<Ids>(&text)
                    .ok()
                    .map(MetaAnswer::Found),
                Some((false, _)) => Some(MetaAnswer::Deleted),
                None => None,
            };
            if let Some(a) = answer {
                out.insert(*req, a);
            }
        }
        Ok(out)
    }

    /// Stores `answers` for `server`, stamped `now`, in one transaction; returns how many
    /// were stored.
    pub fn store(
        &mut self,
        server: &str,
        answers: &[(MetaRequest, MetaAnswer)],
        now: i64,
    ) -> StateResult<u64> {
        if self.read_only {
            return Ok(0);
        }
        let path = self.path.display().to_string();
        let err = |e: rusqlite::Error| StateError::Sql {
            path: path.clone(),
            op: "writing the metadata cache",
            reason: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(err)?;
        let mut stored = 0;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO metadata_cache \
                     (server, rating_key, level, found, ids, fetched_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(err)?;
            for (req, answer) in answers {
                let (found, json) = match answer {
                    MetaAnswer::Found(ids) => (
                        true,
                        serde_json::to_string(ids).unwrap_or_else(|_| "{}".into()),
                    ),
                    MetaAnswer::Deleted => (false, "{}".to_string()),
                };
                stmt.execute(params![
                    server,
                    req.rating_key,
                    level_name(req.level),
                    found,
                    json,
                    now
                ])
                .map_err(err)?;
                stored += 1;
            }
        }
        tx.commit().map_err(err)?;
        Ok(stored)
    }

    /// Removes every cached answer of `server`; returns how many there were.
    pub fn clear_metadata(&mut self, server: &str) -> StateResult<u64> {
        if self.read_only {
            return Ok(0);
        }
        let n = self
            .conn
            .execute("DELETE FROM metadata_cache WHERE server = ?1", [server])
            .map_err(self.sql("clearing the metadata cache"))?;
        Ok(n as u64)
    }

    /// Removes answers (of every server) that are no longer fresh; returns how many.
    pub fn prune_metadata(&mut self, fresh: Freshness) -> StateResult<u64> {
        if self.read_only {
            return Ok(0);
        }
        let n = self
            .conn
            .execute(
                "DELETE FROM metadata_cache \
                 WHERE fetched_at < CASE WHEN found = 1 THEN ?1 ELSE ?2 END",
                [fresh.found_since, fresh.deleted_since],
            )
            .map_err(self.sql("pruning the metadata cache"))?;
        Ok(n as u64)
    }
}

fn level_name(level: MetaLevel) -> &'static str {
    match level {
        MetaLevel::Movie => "movie",
        MetaLevel::Show => "show",
    }
}

/// The metadata cache's key for a Tautulli server: rating keys belong to the Plex server
/// behind it, so the normalised URL is enough (whatever user filter a read has). As it is
/// written down, it is the URL as printed: without `user:password@` and without the API key
/// (should the user have pasted it into the URL).
pub fn cache_scope(cfg: &TautulliConfig) -> String {
    cfg.display_url()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::identity::ids::IdKind;
    use std::sync::atomic::{AtomicU32, Ordering};

    impl State {
        /// Cached answers of `server`, fresh or not.
        fn metadata_count(&self, server: &str) -> StateResult<u64> {
            self.conn
                .query_row(
                    "SELECT COUNT(*) FROM metadata_cache WHERE server = ?1",
                    [server],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n as u64)
                .map_err(self.sql("counting the metadata cache"))
        }
    }

    /// A fresh folder under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static N: AtomicU32 = AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!(
                "tautulli-state-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&p);
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn show(rk: i64) -> MetaRequest {
        MetaRequest {
            rating_key: rk,
            level: MetaLevel::Show,
        }
    }

    fn found(tvdb: &str) -> MetaAnswer {
        let mut i = Ids::new();
        i.insert(IdKind::Tvdb, tvdb);
        i.insert(IdKind::Guid, "plex://show/5d9c086c46115600200aa2fe");
        MetaAnswer::Found(i)
    }

    fn fresh(found_since: i64, deleted_since: i64) -> Freshness {
        Freshness {
            found_since,
            deleted_since,
        }
    }

    #[test]
    fn ids_round_trip_and_survive_reopening() {
        let dir = TempDir::new();
        let mut s = State::open(&dir.0.join("nested")).unwrap();
        assert!(s.path().ends_with(FILE_NAME));
        let answers = [(show(1), found("81189")), (show(2), MetaAnswer::Deleted)];
        assert_eq!(s.store("http://a", &answers, 1000).unwrap(), 2);
        drop(s);
        let s = State::open(&dir.0.join("nested")).unwrap();
        let got = s
            .cached("http://a", &[show(1), show(2), show(3)], fresh(0, 0))
            .unwrap();
        assert_eq!(got.len(), 2, "show(3) was never stored");
        assert_eq!(got[&show(1)], found("81189"));
        assert_eq!(got[&show(2)], MetaAnswer::Deleted);
        let movie = MetaRequest {
            rating_key: 1,
            level: MetaLevel::Movie,
        };
        assert!(s
            .cached("http://a", &[movie], fresh(0, 0))
            .unwrap()
            .is_empty());
        assert!(s
            .cached("http://b", &[show(1)], fresh(0, 0))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn expiry_and_clearing() {
        let dir = TempDir::new();
        let mut s = State::open(&dir.0).unwrap();
        s.store("http://a", &[(show(1), found("1"))], 1000).unwrap();
        s.store("http://a", &[(show(2), found("2"))], 2000).unwrap();
        s.store("http://a", &[(show(3), MetaAnswer::Deleted)], 2000)
            .unwrap();
        s.store("http://b", &[(show(1), found("3"))], 2000).unwrap();
        let all = [show(1), show(2), show(3)];
        let got = s.cached("http://a", &all, fresh(1500, 1500)).unwrap();
        assert_eq!(got.len(), 2);
        assert!(!got.contains_key(&show(1)), "expired");
        // Empty answers expire on their own, shorter clock.
        let got = s.cached("http://a", &all, fresh(1500, 2500)).unwrap();
        assert_eq!(got.keys().copied().collect::<Vec<_>>(), [show(2)]);
        assert_eq!(s.prune_metadata(fresh(1500, 2500)).unwrap(), 2);
        assert_eq!(s.metadata_count("http://a").unwrap(), 1);
        assert_eq!(s.clear_metadata("http://a").unwrap(), 1);
        assert_eq!(s.metadata_count("http://a").unwrap(), 0);
        assert_eq!(
            s.metadata_count("http://b").unwrap(),
            1,
            "other servers kept"
        );
    }

    #[test]
    fn freshness_caps_empty_answers_at_a_day() {
        let f = Freshness::new(1_000_000, 30);
        assert_eq!(f.found_since, 1_000_000 - 30 * 86_400);
        assert_eq!(f.deleted_since, 1_000_000 - DELETED_TTL_SECS);
        let f = Freshness::new(1_000_000, 1);
        assert_eq!(f.found_since, f.deleted_since);
    }

    #[test]
    fn a_file_with_the_old_checkpoints_table_opens_and_keeps_its_cache() {
        let dir = TempDir::new();
        std::fs::create_dir_all(&dir.0).unwrap();
        {
            // The file as the previous plugin left it.
            let c = Connection::open(dir.0.join(FILE_NAME)).unwrap();
            c.execute_batch(
                "CREATE TABLE metadata_cache (server TEXT NOT NULL, rating_key INTEGER NOT NULL,
                     level TEXT NOT NULL, found INTEGER NOT NULL, ids TEXT NOT NULL,
                     fetched_at INTEGER NOT NULL, PRIMARY KEY (server, rating_key, level));
                 CREATE TABLE checkpoints (scope TEXT PRIMARY KEY, max_row_id INTEGER NOT NULL,
                     max_date INTEGER NOT NULL, records INTEGER NOT NULL,
                     settings TEXT NOT NULL, saved_at INTEGER NOT NULL);
                 INSERT INTO metadata_cache VALUES ('http://a', 1, 'show', 0, '{}', 1000);
                 INSERT INTO checkpoints VALUES ('instance=|server=http://a|user=*|live=0',
                     42, 1800000000, 40, 's', 5);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let s = State::open(&dir.0).unwrap();
        assert_eq!(s.metadata_count("http://a").unwrap(), 1);
        let tables: i64 = s
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'checkpoints'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "the stale checkpoints are gone");
        drop(s);
        State::open(&dir.0).unwrap();
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = TempDir::new();
        drop(State::open(&dir.0).unwrap());
        let c = Connection::open(dir.0.join(FILE_NAME)).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        let e = State::open(&dir.0).unwrap_err();
        assert!(
            matches!(e, StateError::NewerSchema { found: 99, .. }),
            "{e}"
        );
    }

    #[test]
    fn an_unusable_folder_is_a_clear_error() {
        let dir = TempDir::new();
        std::fs::create_dir_all(&dir.0).unwrap();
        let file = dir.0.join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let e = State::open(&file).unwrap_err();
        assert!(matches!(e, StateError::CreateDir { .. }), "{e}");
        assert!(e.to_string().contains("tautulli.state_dir"), "{e}");
    }

    #[test]
    fn the_cache_scope_is_the_server_without_credentials() {
        let load = |url: &str| {
            TautulliConfig::from_engine_config(
                &serde_json::json!({"tautulli": {"server_url": url, "api_key": "k",
                    "history": {"user_id": 3}}}),
                "",
            )
            .unwrap()
        };
        assert_eq!(cache_scope(&load("http://h:8181")), "http://h:8181");
        assert_eq!(cache_scope(&load("https://h/tt/")), "https://h/tt");
        assert_eq!(
            cache_scope(&load("http://admin:S3cret@h:8181")),
            "http://h:8181"
        );
    }
}
