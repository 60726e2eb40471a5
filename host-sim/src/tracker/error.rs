//! What the Tracker fails with, and how a lock held too long by another run becomes one
//! clear [`TrackerError::Busy`] instead of SQLite's raw "database is locked".

use std::path::{Path, PathBuf};
use std::time::Duration;

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

    /// The `--base` file of an export is not CrossWatch's `{"ts", "items": {key: item}}`;
    /// the export wrote nothing.
    #[error("cannot merge onto {}: {reason}; nothing was written\n  hint: pass the history.json of CrossWatch's Tracker (its Editor exports it)", path.display())]
    BadBase { path: PathBuf, reason: String },

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
    pub(super) fn at(self, db: &Path, waited: Duration) -> TrackerError {
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
pub(super) trait SqlContext<T> {
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
