//! The plugin's own state between runs: one SQLite file, `<state_dir>/tautulli-plugin.sqlite`,
//! holding
//! - the **metadata cache**: the IDs `get_metadata` gave for a show or a new-agent movie, per
//!   Tautulli server, so a warm run asks Tautulli nothing it already knows (known fault 4:
//!   the reference module cached for one run only);
//! - the **incremental checkpoints**: where the last complete read of one history stream
//!   (instance, server, user filter, Live TV) ended, so the next read can stop there.
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
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::config::{HistoryConfig, TautulliConfig};
use crate::ids::Ids;
use crate::normalise::{MetaAnswer, MetaLevel, MetaRequest};

/// The state file inside `tautulli.state_dir`.
pub const FILE_NAME: &str = "tautulli-plugin.sqlite";

/// Empty (`{}`) answers are trusted for a day at most.
pub const DELETED_TTL_SECS: i64 = 86_400;

/// Schema version this code writes (`PRAGMA user_version`).
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
CREATE TABLE IF NOT EXISTS checkpoints (
    scope TEXT PRIMARY KEY,
    max_row_id INTEGER NOT NULL,
    max_date INTEGER NOT NULL,
    records INTEGER NOT NULL,
    settings TEXT NOT NULL,
    saved_at INTEGER NOT NULL
);
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
         delete the file to start afresh (it only holds a cache and checkpoints)"
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

/// Where the last complete read of one history stream ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// Rows (groups) with a `row_id` at or below this were read: an incremental read skips
    /// them. A group that grows gets a new, higher `row_id`, so it is read again.
    pub max_row_id: i64,
    /// Newest `date` (epoch s) seen; an incremental read pages down to this minus the overlap.
    pub max_date: i64,
    /// Tautulli's `recordsFiltered` then: fewer rows now means rows were deleted or the
    /// database was replaced, and row ids can no longer be trusted.
    pub records: u64,
    /// [`settings_fingerprint`] of the read: rows skipped under other settings (a partial
    /// play with `watched_only` on) must be read again when they change.
    pub settings: String,
    /// When it was saved (epoch s).
    pub saved_at: i64,
}

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
        // Two runs at once (a host and a CLI) wait for each other instead of failing.
        conn.busy_timeout(Duration::from_secs(10))
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
        Ok(State { conn, path })
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
    /// were stored (`Failed` answers never are).
    pub fn store(
        &mut self,
        server: &str,
        answers: &[(MetaRequest, MetaAnswer)],
        now: i64,
    ) -> StateResult<u64> {
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
                    MetaAnswer::Failed(_) => continue,
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
        let n = self
            .conn
            .execute("DELETE FROM metadata_cache WHERE server = ?1", [server])
            .map_err(self.sql("clearing the metadata cache"))?;
        Ok(n as u64)
    }

    /// Removes answers (of every server) that are no longer fresh; returns how many.
    pub fn prune_metadata(&mut self, fresh: Freshness) -> StateResult<u64> {
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

    /// Cached answers of `server`, fresh or not.
    pub fn metadata_count(&self, server: &str) -> StateResult<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM metadata_cache WHERE server = ?1",
                [server],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(self.sql("counting the metadata cache"))
    }

    /// The checkpoint of `scope` ([`checkpoint_scope`]), if any.
    pub fn checkpoint(&self, scope: &str) -> StateResult<Option<Checkpoint>> {
        self.conn
            .query_row(
                "SELECT max_row_id, max_date, records, settings, saved_at FROM checkpoints \
                 WHERE scope = ?1",
                [scope],
                |r| {
                    Ok(Checkpoint {
                        max_row_id: r.get(0)?,
                        max_date: r.get(1)?,
                        records: r.get::<_, i64>(2)?.max(0) as u64,
                        settings: r.get(3)?,
                        saved_at: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(self.sql("reading the checkpoint"))
    }

    /// Saves (replaces) the checkpoint of `scope`.
    pub fn save_checkpoint(&mut self, scope: &str, cp: &Checkpoint) -> StateResult<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO checkpoints \
                 (scope, max_row_id, max_date, records, settings, saved_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    scope,
                    cp.max_row_id,
                    cp.max_date,
                    i64::try_from(cp.records).unwrap_or(i64::MAX),
                    cp.settings,
                    cp.saved_at
                ],
            )
            .map(drop)
            .map_err(self.sql("saving the checkpoint"))
    }

    /// Forgets the checkpoint of `scope`; true if there was one.
    pub fn clear_checkpoint(&mut self, scope: &str) -> StateResult<bool> {
        self.conn
            .execute("DELETE FROM checkpoints WHERE scope = ?1", [scope])
            .map(|n| n > 0)
            .map_err(self.sql("clearing the checkpoint"))
    }
}

fn level_name(level: MetaLevel) -> &'static str {
    match level {
        MetaLevel::Movie => "movie",
        MetaLevel::Show => "show",
    }
}

/// The metadata cache's key for a Tautulli server: rating keys belong to the Plex server
/// behind it, so the normalised URL is enough (whatever user filter a read has).
pub fn cache_scope(cfg: &TautulliConfig) -> String {
    cfg.server_url.clone()
}

/// One history stream: a checkpoint is only valid for the same rows. The instance is part of
/// it, so two instances (two pairs) reading one server each keep their own place.
pub fn checkpoint_scope(cfg: &TautulliConfig) -> String {
    let user = cfg
        .history
        .user_id
        .map_or_else(|| "*".to_string(), |u| u.to_string());
    format!(
        "instance={}|server={}|user={}|live={}",
        cfg.instance, cfg.server_url, user, cfg.history.include_live as u8
    )
}

/// The settings that decide which rows become which plays. An incremental read skips rows
/// read before, so a change here needs a full read.
pub fn settings_fingerprint(h: &HistoryConfig) -> String {
    format!(
        "watched_only={}|min_percent={}|watched_at={}|rewatches={}",
        h.watched_only as u8,
        h.min_percent,
        h.watched_at.as_str(),
        h.rewatches as u8
    )
}

/// Seconds since the epoch, now.
pub fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::IdKind;
    use std::sync::atomic::{AtomicU32, Ordering};

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
        let answers = [
            (show(1), found("81189")),
            (show(2), MetaAnswer::Deleted),
            (show(3), MetaAnswer::Failed("timeout".into())),
        ];
        assert_eq!(s.store("http://a", &answers, 1000).unwrap(), 2);
        drop(s);
        let s = State::open(&dir.0.join("nested")).unwrap();
        let got = s
            .cached("http://a", &[show(1), show(2), show(3)], fresh(0, 0))
            .unwrap();
        assert_eq!(got.len(), 2, "failures are never cached");
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
    fn checkpoints_per_scope() {
        let dir = TempDir::new();
        let mut s = State::open(&dir.0).unwrap();
        assert_eq!(s.checkpoint("x").unwrap(), None);
        let cp = Checkpoint {
            max_row_id: 42,
            max_date: 1_800_000_000,
            records: 40,
            settings: "s".into(),
            saved_at: 5,
        };
        s.save_checkpoint("x", &cp).unwrap();
        assert_eq!(s.checkpoint("x").unwrap(), Some(cp.clone()));
        assert_eq!(s.checkpoint("y").unwrap(), None);
        let newer = Checkpoint {
            max_row_id: 50,
            ..cp
        };
        s.save_checkpoint("x", &newer).unwrap();
        assert_eq!(s.checkpoint("x").unwrap(), Some(newer));
        assert!(s.clear_checkpoint("x").unwrap());
        assert!(!s.clear_checkpoint("x").unwrap());
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
    fn scopes_separate_streams_and_settings() {
        let load = |extra: serde_json::Value, instance: &str| {
            let mut t = serde_json::json!({"server_url": "http://h:8181", "api_key": "k",
                "instances": {"two": {}}});
            if let (serde_json::Value::Object(t), serde_json::Value::Object(e)) = (&mut t, extra) {
                t.extend(e);
            }
            TautulliConfig::from_engine_config(&serde_json::json!({"tautulli": t}), instance)
                .unwrap()
        };
        let base = load(serde_json::json!({}), "");
        let user = load(serde_json::json!({"history": {"user_id": 3}}), "");
        let live = load(serde_json::json!({"history": {"include_live": true}}), "");
        let two = load(serde_json::json!({}), "two");
        let scopes = [&base, &user, &live, &two].map(checkpoint_scope);
        for (i, a) in scopes.iter().enumerate() {
            for b in &scopes[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(cache_scope(&base), cache_scope(&user));
        let loose = load(serde_json::json!({"history": {"watched_only": false}}), "");
        assert_ne!(
            settings_fingerprint(&base.history),
            settings_fingerprint(&loose.history)
        );
        assert_eq!(
            settings_fingerprint(&base.history),
            settings_fingerprint(&user.history)
        );
    }
}
