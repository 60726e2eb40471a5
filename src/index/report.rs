//! What an index read reports: counts, outcomes and why a read is partial. The builder fills
//! [`Report`]; the cursor adds the state, the metadata cache and the checkpoint.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::index::checkpoint::Checkpoint;
use crate::index::rules::SkipReason;

/// How plays of one title are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Newest play per canonical key.
    Collapsed,
    /// Every play, keyed `<key>@<epoch>`.
    Rewatch,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Collapsed => "collapsed",
            Mode::Rewatch => "rewatch",
        }
    }
}

/// What part of the history a read covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadKind {
    /// The whole (filtered) history: a complete one is the whole truth (`present`).
    #[default]
    Full,
    /// Only what changed since a checkpoint: never more than a `delta`.
    Incremental,
}

impl ReadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadKind::Full => "full",
            ReadKind::Incremental => "incremental",
        }
    }
}

/// Count of skipped rows per [`SkipReason`]; serialises every reason, zeros included, in
/// [`SkipReason::ALL`] order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipCounts([u64; SkipReason::ALL.len()]);

impl SkipCounts {
    pub fn get(&self, reason: SkipReason) -> u64 {
        self.0[Self::slot(reason)]
    }

    pub fn add(&mut self, reason: SkipReason) {
        self.0[Self::slot(reason)] += 1;
    }

    fn slot(reason: SkipReason) -> usize {
        SkipReason::ALL
            .iter()
            .position(|r| *r == reason)
            .expect("every reason is in SkipReason::ALL")
    }
}

impl Serialize for SkipCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(SkipReason::ALL.len()))?;
        for r in SkipReason::ALL {
            map.serialize_entry(r.as_str(), &self.get(r))?;
        }
        map.end()
    }
}

/// An item in the index that has no external ID, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnresolvedEntry {
    /// Its key in the index (an event key in rewatch mode).
    pub key: String,
    /// `Show - Episode` for episodes, the title for movies.
    pub title: String,
    /// [`UnresolvedReason::as_str`](crate::index::item::UnresolvedReason::as_str).
    pub reason: &'static str,
    pub message: String,
    /// The item's own Plex rating key.
    pub rating_key: Option<i64>,
}

/// What a history read did. The builder counts rows, plays and outcomes; the history reader
/// fills `pages`, `metadata_calls` and completeness. A report is `delta` until the reader
/// marks it complete, so a forgotten or truncated read never passes as the whole truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// History pages read.
    pub pages: u64,
    /// Rows handed to the builder (pushed or skipped), re-read groups included.
    pub rows_seen: u64,
    /// Entries in the index.
    pub items: u64,
    /// Rows accepted as plays (each push, re-read groups included).
    pub plays_kept: u64,
    /// Plays dropped because the same key had a newer (or equally new, earlier) play.
    pub superseded: u64,
    /// Earlier plays of a re-read group dropped in favour of the newer read.
    pub replaced: u64,
    pub skipped: SkipCounts,
    /// Unresolved items present in the index, sorted by key.
    pub unresolved: Vec<UnresolvedEntry>,
    /// `get_metadata` calls made.
    pub metadata_calls: u64,
    /// True only when every page was read (no cap, no repeat guard, no error).
    pub complete: bool,
    /// Why the read stopped early, when it did.
    pub incomplete_reason: Option<String>,
    /// Full or incremental (the cursor sets it).
    pub read: ReadKind,
    pub mode: Mode,
}

impl Report {
    pub fn new(mode: Mode) -> Report {
        Report {
            pages: 0,
            rows_seen: 0,
            items: 0,
            plays_kept: 0,
            superseded: 0,
            replaced: 0,
            skipped: SkipCounts::default(),
            unresolved: Vec::new(),
            metadata_calls: 0,
            complete: false,
            incomplete_reason: None,
            read: ReadKind::Full,
            mode,
        }
    }

    /// `present` (the index is the whole truth) only for a complete full read, else `delta`
    /// (an incremental read, even complete, holds only what changed).
    pub fn semantics(&self) -> &'static str {
        if self.complete && self.read == ReadKind::Full {
            "present"
        } else {
            "delta"
        }
    }

    /// The whole history was read.
    pub fn mark_complete(&mut self) {
        self.complete = true;
        self.incomplete_reason = None;
    }

    /// The read stopped early for `reason`.
    pub fn mark_incomplete(&mut self, reason: impl Into<String>) {
        self.complete = false;
        self.incomplete_reason = Some(reason.into());
    }
}

impl Serialize for Report {
    /// Field order: pages, rows_seen, items, plays_kept, superseded, replaced, skipped,
    /// unresolved, metadata_calls, complete, incomplete_reason, read, semantics, mode.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(14))?;
        map.serialize_entry("pages", &self.pages)?;
        map.serialize_entry("rows_seen", &self.rows_seen)?;
        map.serialize_entry("items", &self.items)?;
        map.serialize_entry("plays_kept", &self.plays_kept)?;
        map.serialize_entry("superseded", &self.superseded)?;
        map.serialize_entry("replaced", &self.replaced)?;
        map.serialize_entry("skipped", &self.skipped)?;
        map.serialize_entry("unresolved", &self.unresolved)?;
        map.serialize_entry("metadata_calls", &self.metadata_calls)?;
        map.serialize_entry("complete", &self.complete)?;
        map.serialize_entry("incomplete_reason", &self.incomplete_reason)?;
        map.serialize_entry("read", self.read.as_str())?;
        map.serialize_entry("semantics", self.semantics())?;
        map.serialize_entry("mode", self.mode.as_str())?;
        map.end()
    }
}

/// Where the plugin's state lives, in the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StateReport {
    /// `tautulli.state_dir`, when set.
    pub dir: Option<String>,
    /// The state file, when it could be opened.
    pub file: Option<String>,
    /// True when the metadata cache persists between runs.
    pub persistent: bool,
    /// Why they do not (no `state_dir`, or the file could not be opened).
    pub note: Option<String>,
}

/// The metadata cache, in the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CacheReport {
    pub enabled: bool,
    /// `tautulli.metadata_cache_days`.
    pub days: u32,
    /// Lookups answered from the cache (no `get_metadata` sent).
    pub hits: u64,
    /// Answers stored this run.
    pub stored: u64,
    /// Expired answers removed at the start.
    pub expired_removed: u64,
    /// Answers removed by `clear_metadata_cache` (null when not asked).
    pub cleared: Option<u64>,
    /// The first cache failure, if any (the read went on without it).
    pub error: Option<String>,
}

/// Incremental reading and checkpoints, in the report (readable copies; the token the host
/// keeps is the report's top-level `checkpoint`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct IncrementalReport {
    /// The checkpoint given that this read started from (incremental) or could have (full).
    pub checkpoint_before: Option<Checkpoint>,
    /// The checkpoint a complete read leaves (the report's `checkpoint` once the index has
    /// been handed out).
    pub checkpoint_after: Option<Checkpoint>,
    /// An incremental read stopped at rows dated before this (epoch s).
    pub cutoff_date: Option<i64>,
    /// `tautulli.history.overlap_hours`.
    pub overlap_hours: u32,
    /// Rows read but skipped as unchanged since the checkpoint.
    pub unchanged_rows: u64,
    /// Why `mode: incremental` read the whole history instead.
    pub fallback_reason: Option<String>,
}
