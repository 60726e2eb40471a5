//! The Tracker's SQLite schema, versioned by `PRAGMA user_version`.
//!
//! Each migration runs once, in its own transaction, so a database written by any earlier
//! version of this host is brought forward on open and a half-applied migration never sticks.

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
];

/// The schema version this build reads and writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

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
    for (from, sql) in MIGRATIONS.iter().enumerate() {
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

/// Checks, without writing, that a read-only connection sees exactly the current schema.
pub fn check_current(conn: &Connection) -> Result<()> {
    match user_version(conn)? {
        CURRENT_VERSION => Ok(()),
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
        check_current(&conn).unwrap();
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'
                   AND name IN ('items', 'snapshots', 'snapshot_changes')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 3);
    }

    #[test]
    fn newer_and_unmigrated_databases_are_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert!(matches!(
            check_current(&conn),
            Err(TrackerError::OutdatedSchema { found: 0, .. })
        ));
        conn.pragma_update(None, "user_version", CURRENT_VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(TrackerError::NewerSchema { .. })
        ));
        assert!(matches!(
            check_current(&conn),
            Err(TrackerError::NewerSchema { .. })
        ));
    }
}
