//! An index read: the options a host starts it with, and the report it ends with.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::null_default;

/// The options of `SourceProvider::index` (every field may be left out, or `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IndexOptions {
    /// The token of the last committed import's report, where an incremental read starts.
    #[serde(deserialize_with = "checkpoint_token")]
    pub checkpoint: Option<String>,
    /// Forget cached service answers first (after fixing a match at the service).
    #[serde(deserialize_with = "null_default")]
    pub clear_metadata_cache: bool,
    /// The host only plans: the plugin writes none of its own state either.
    #[serde(deserialize_with = "null_default")]
    pub dry_run: bool,
    /// Ignore `checkpoint`: a full read, whose report carries a new one.
    #[serde(deserialize_with = "null_default")]
    pub reset_checkpoint: bool,
}

/// A checkpoint token is a string, or `null` for none; anything else is a host's mistake
/// worth a clear message (a token is opaque: hosts store it as given).
fn checkpoint_token<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Token;
    impl<'de> Visitor<'de> for Token {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("the checkpoint string of an index report, or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Token)
}

/// What an index read did (`IndexCursor::report`, final once a step said `done`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IndexReport {
    pub catch_up_passes: u32,
    /// The token a host stores with the import and passes back as
    /// [`IndexOptions::checkpoint`]; set only once a complete read handed out its last batch.
    pub checkpoint: Option<String>,
    /// True only when the whole history was read.
    pub complete: bool,
    /// The config's `history.mode`: `full` or `incremental`.
    pub history_mode: String,
    pub incomplete_reason: Option<String>,
    pub incremental: Option<IncrementalReport>,
    /// Entries in the index.
    pub items: u64,
    pub metadata_cache: Option<CacheReport>,
    pub metadata_calls: u64,
    /// `collapsed` (newest play per item) or `rewatch` (every play).
    pub mode: String,
    pub pages: u64,
    pub plays_kept: u64,
    /// What the read covered: `full` or `incremental`.
    pub read: String,
    pub reader: Option<ReaderReport>,
    pub records_filtered: u64,
    pub replaced: u64,
    /// Requests sent to the service by this read, per command.
    pub requests: BTreeMap<String, u64>,
    pub rows_seen: u64,
    /// `present` (the index is the whole truth: a missing key was removed) or `delta`.
    pub semantics: String,
    /// Rows skipped, per reason (every reason, zeros included).
    pub skipped: BTreeMap<String, u64>,
    pub state: Option<StateReport>,
    pub superseded: u64,
    /// Items in the index without an external ID, sorted by key.
    pub unresolved: Vec<Unresolved>,
    /// Problems with the config that did not stop the read (an unknown key, with the known
    /// one it probably meant), one line each, for people. Absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// How the service was asked for the history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReaderReport {
    pub count_requests: u64,
    /// Why a windowed read planned without counts, or fell back to paging.
    pub fallback: Option<String>,
    pub history_requests: u64,
    pub merged_parts: u64,
    /// `windowed`, `walked` or `paged`; absent before the read is over.
    pub mode: Option<String>,
    pub rows_received: u64,
    /// Time spent waiting for the service's answers.
    pub waited_s: f64,
    pub windows: u64,
}

/// Incremental reading, in readable form (the token itself is [`IndexReport::checkpoint`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IncrementalReport {
    pub checkpoint_after: Option<CheckpointView>,
    pub checkpoint_before: Option<CheckpointView>,
    /// An incremental read stopped at rows dated before this (epoch s).
    pub cutoff_date: Option<i64>,
    /// Why `mode: incremental` read the whole history instead.
    pub fallback_reason: Option<String>,
    pub overlap_hours: u32,
    /// Rows read but skipped as unchanged since the checkpoint.
    pub unchanged_rows: u64,
}

/// What a checkpoint token holds, for people.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckpointView {
    pub max_date: i64,
    pub max_row_id: i64,
    pub records: u64,
    pub settings: String,
}

/// The plugin's metadata cache during the read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheReport {
    /// Answers removed by `clear_metadata_cache` (null when not asked).
    pub cleared: Option<u64>,
    pub days: u32,
    pub enabled: bool,
    /// The first cache failure (the read went on without it).
    pub error: Option<String>,
    pub expired_removed: u64,
    pub hits: u64,
    pub stored: u64,
}

/// Where the plugin's own state lives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StateReport {
    pub dir: Option<String>,
    pub file: Option<String>,
    /// Why the state does not persist, when it does not.
    pub note: Option<String>,
    pub persistent: bool,
}

/// An item of the index without an external ID. Declared in sorted order: hosts write it
/// back out (the unresolved list) byte for byte as the plugin sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Unresolved {
    /// Its key in the index.
    pub key: String,
    pub message: String,
    /// The item's own rating key at the service.
    pub rating_key: Option<i64>,
    /// Why it has no ID (e.g. `unmatched`).
    pub reason: String,
    pub title: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::decode;
    use serde_json::json;

    #[test]
    fn options_are_tolerant_of_null_and_unknown_keys() {
        let o: IndexOptions = decode(
            r#"{"dry_run": null, "checkpoint": null, "later": 1, "reset_checkpoint": true}"#,
        )
        .unwrap();
        assert_eq!(
            o,
            IndexOptions {
                reset_checkpoint: true,
                ..IndexOptions::default()
            }
        );
        assert_eq!(
            decode::<IndexOptions>("{}").unwrap(),
            IndexOptions::default()
        );
    }

    #[test]
    fn options_of_the_wrong_type_name_the_field() {
        let e = decode::<IndexOptions>(r#"{"clear_metadata_cache": "yes"}"#).unwrap_err();
        assert_eq!(e.field(), Some("clear_metadata_cache"));
        for bad in [
            json!(7),
            json!({"max_row_id": 1}),
            json!(["x"]),
            json!(true),
        ] {
            let e = decode::<IndexOptions>(&json!({ "checkpoint": bad }).to_string()).unwrap_err();
            assert_eq!(e.field(), Some("checkpoint"), "{bad}");
            assert!(e.reason().contains("checkpoint string"), "{e}");
        }
    }

    #[test]
    fn options_encode_as_hosts_sent_them() {
        let o = IndexOptions {
            checkpoint: Some("t".into()),
            dry_run: true,
            ..IndexOptions::default()
        };
        assert_eq!(
            serde_json::to_string(&o).unwrap(),
            json!({"checkpoint": "t", "clear_metadata_cache": false, "dry_run": true,
                   "reset_checkpoint": false})
            .to_string()
        );
    }

    #[test]
    fn a_report_reads_its_parts_and_ignores_what_it_does_not_know() {
        let r: IndexReport = decode(
            &json!({
                "complete": true, "semantics": "present", "items": 3, "future": [1],
                "skipped": {"partial": 2, "live": 0},
                "reader": {"waited_s": 0.5},
                "incremental": {"checkpoint_after": {"max_row_id": 9, "max_date": 1,
                    "records": 9, "settings": "s"}, "overlap_hours": 6},
                "unresolved": [{"key": "plex:1", "title": "T", "reason": "unmatched",
                    "message": "m", "rating_key": null}],
                "checkpoint": "tok"
            })
            .to_string(),
        )
        .unwrap();
        assert!(r.complete);
        assert_eq!(r.skipped["partial"], 2);
        assert_eq!(r.reader.unwrap().mode, None);
        let inc = r.incremental.unwrap();
        assert_eq!(inc.checkpoint_after.unwrap().max_row_id, 9);
        assert_eq!(r.unresolved[0].reason, "unmatched");
        assert_eq!(r.checkpoint.as_deref(), Some("tok"));
    }

    #[test]
    fn a_report_with_a_wrong_type_is_refused() {
        let e = decode::<IndexReport>(r#"{"complete": "yes"}"#).unwrap_err();
        assert_eq!(e.field(), Some("complete"));
        let e = decode::<IndexReport>(r#"{"checkpoint": 5}"#).unwrap_err();
        assert_eq!(e.field(), Some("checkpoint"));
    }

    /// Declared in sorted order, like the `Value` the plugin's cursor builds its report
    /// as: a cursor that builds this type instead sends the same bytes.
    #[test]
    fn a_full_report_encodes_with_sorted_keys() {
        let r = IndexReport {
            incremental: Some(IncrementalReport {
                checkpoint_after: Some(CheckpointView::default()),
                ..IncrementalReport::default()
            }),
            metadata_cache: Some(CacheReport::default()),
            reader: Some(ReaderReport::default()),
            requests: BTreeMap::from([("get_history".into(), 2)]),
            skipped: BTreeMap::from([("partial".into(), 1), ("live".into(), 0)]),
            state: Some(StateReport::default()),
            unresolved: vec![Unresolved::default()],
            ..IndexReport::default()
        };
        let direct = serde_json::to_string(&r).unwrap();
        assert_eq!(direct, serde_json::to_value(&r).unwrap().to_string());
    }

    #[test]
    fn an_unresolved_entry_encodes_with_sorted_keys() {
        let u = Unresolved {
            key: "k".into(),
            rating_key: Some(1),
            ..Unresolved::default()
        };
        let direct = serde_json::to_string(&u).unwrap();
        assert_eq!(direct, serde_json::to_value(&u).unwrap().to_string());
    }
}
