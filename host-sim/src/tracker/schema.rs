//! The Tracker's SQLite schema, versioned by `PRAGMA user_version`.
//!
//! Each migration runs once, in its own transaction, so a database written by any earlier
//! version of this host is brought forward on open and a half-applied migration never sticks.
//! A migration waits for another run's lock like any write, and fails as
//! [`TrackerError::Busy`] when it is not let go.

use rusqlite::{Connection, TransactionBehavior};

use super::{Result, SqlContext, TrackerError};

/// Migration `i` takes the schema from version `i` to `i + 1`. Append only; never edit one
/// that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: newest play per key, snapshots, and each snapshot's changed rows.
    //
    // A snapshot stores only the rows it changed; the full state at snapshot N is, per key,
    // its latest change with snapshot_id <= N, and the current state is the latest change
    // of each key, so item JSON is stored once. `items` keeps just what classifying an
    // incoming play needs. `snapshot_changes` is keyed (feature, key, snapshot_id) so that
    // reconstruction is one ordered index scan. AUTOINCREMENT keeps snapshot ids
    // chronological and never reused after pruning.
    "CREATE TABLE items (
         feature    TEXT    NOT NULL,
         key        TEXT    NOT NULL,
         watched_at INTEGER NOT NULL,
         PRIMARY KEY (feature, key)
     ) WITHOUT ROWID;
     CREATE TABLE snapshots (
         id         INTEGER PRIMARY KEY AUTOINCREMENT,
         feature    TEXT    NOT NULL,
         stamp      TEXT    NOT NULL,
         taken_at   INTEGER NOT NULL,
         added      INTEGER NOT NULL,
         updated    INTEGER NOT NULL,
         item_count INTEGER NOT NULL,
         UNIQUE (feature, stamp)
     );
     CREATE TABLE snapshot_changes (
         feature     TEXT    NOT NULL,
         key         TEXT    NOT NULL,
         snapshot_id INTEGER NOT NULL REFERENCES snapshots (id),
         item_json   TEXT    NOT NULL,
         PRIMARY KEY (feature, key, snapshot_id)
     ) WITHOUT ROWID;
     CREATE INDEX snapshot_changes_by_snapshot ON snapshot_changes (snapshot_id);",
    // 2: each source's incremental checkpoint, an opaque string from its index report.
    //
    // It lives here, not in the plugin, so that it commits in the same transaction as the
    // items it covers: a checkpoint can then never be ahead of the Tracker (a killed or
    // failed import leaves both as they were).
    "CREATE TABLE source_checkpoints (
         feature  TEXT    NOT NULL,
         source   TEXT    NOT NULL,
         instance TEXT    NOT NULL,
         value    TEXT    NOT NULL,
         saved_at INTEGER NOT NULL,
         PRIMARY KEY (feature, source, instance)
     ) WITHOUT ROWID;",
];

/// The schema version this build reads and writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// The first version with `source_checkpoints`. A read-only open (a dry run, an export)
/// cannot migrate, so it reads an older Tracker as one without checkpoints.
pub const CHECKPOINTS_VERSION: i64 = 2;

/// The oldest version a read-only open accepts: every later migration only adds tables.
const OLDEST_READABLE: i64 = 1;

fn user_version(conn: &Connection) -> Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .ctx("reading the schema version")
}

fn newer(found: i64) -> TrackerError {
    TrackerError::NewerSchema {
        found,
        supported: CURRENT_VERSION,
    }
}

/// Brings the schema up to [`CURRENT_VERSION`].
pub fn migrate(conn: &mut Connection) -> Result<()> {
    migrate_to(conn, CURRENT_VERSION)
}

/// Brings the schema up to `target` (tests build the files older versions wrote with it).
pub(super) fn migrate_to(conn: &mut Connection, target: i64) -> Result<()> {
    // Only a migration takes the write lock: a Tracker already up to date is opened without
    // waiting for another run's lock (which may be held for a whole merge).
    let found = user_version(conn)?;
    if found > CURRENT_VERSION {
        return Err(newer(found));
    }
    if found >= target {
        return Ok(());
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().take(target as usize) {
        let from = from as i64;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("starting a schema migration")?;
        // Read inside the write lock: another process may have migrated meanwhile.
        let found = user_version(&tx)?;
        if found > CURRENT_VERSION {
            return Err(newer(found));
        }
        if found == from {
            tx.execute_batch(sql).ctx("migrating the schema")?;
            tx.pragma_update(None, "user_version", from + 1)
                .ctx("recording the schema version")?;
            tx.commit().ctx("committing a schema migration")?;
        }
    }
    let found = user_version(conn)?;
    if found > CURRENT_VERSION {
        return Err(newer(found));
    }
    Ok(())
}

/// Checks, without writing, that a read-only connection sees a schema this build can read
/// (the current one, or an older one that lacks only added tables); returns its version.
pub fn check_readable(conn: &Connection) -> Result<i64> {
    match user_version(conn)? {
        found @ OLDEST_READABLE..=CURRENT_VERSION => Ok(found),
        found if found > CURRENT_VERSION => Err(newer(found)),
        found => Err(TrackerError::OutdatedSchema {
            found,
            supported: CURRENT_VERSION,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrate_is_idempotent_and_reaches_the_current_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), CURRENT_VERSION);
        migrate(&mut conn).unwrap();
        assert_eq!(check_readable(&conn).unwrap(), CURRENT_VERSION);
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'
                   AND name IN ('items', 'snapshots', 'snapshot_changes', 'source_checkpoints')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 4);
    }

    #[test]
    fn a_schema_1_database_keeps_its_rows_and_gains_the_checkpoint_table() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO items (feature, key, watched_at) VALUES ('history', 'tmdb:603', 5)",
            [],
        )
        .unwrap();
        assert_eq!(
            check_readable(&conn).unwrap(),
            1,
            "readable before migrating"
        );
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), CURRENT_VERSION);
        let kept: i64 = conn
            .query_row(
                "SELECT watched_at FROM items WHERE key = 'tmdb:603'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, 5);
        let checkpoints: i64 = conn
            .query_row("SELECT count(*) FROM source_checkpoints", [], |r| r.get(0))
            .unwrap();
        assert_eq!(checkpoints, 0);
    }

    #[test]
    fn newer_and_unmigrated_databases_are_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert!(matches!(
            check_readable(&conn),
            Err(TrackerError::OutdatedSchema { found: 0, .. })
        ));
        conn.pragma_update(None, "user_version", CURRENT_VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(TrackerError::NewerSchema { .. })
        ));
        assert!(matches!(
            check_readable(&conn),
            Err(TrackerError::NewerSchema { .. })
        ));
    }
}
