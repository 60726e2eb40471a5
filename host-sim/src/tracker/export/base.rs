//! Merging an export onto the user's own CrossWatch `history.json`.
//!
//! CrossWatch's Editor import replaces its Tracker's state file whole, with no snapshot
//! first, so importing a plain export would drop every item only CrossWatch knew. Merging
//! onto a copy of that file first keeps them: per key the newer `watched_at` wins, as the
//! engine itself decides when it adds an item. Event (rewatch) keys carry the play's time
//! (`<key>@<epoch>`), so the same rule keeps every play of both sides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::super::{parse_watched_at, Result, TrackerError};

/// The user's `history.json`, read and checked in full before the export writes anything.
#[derive(Debug)]
pub(super) struct Base {
    path: PathBuf,
    /// Key -> (the item's time if it has one we can read, the item as JSON text).
    items: BTreeMap<String, (Option<i64>, String)>,
}

/// What a merge took from each side; it is reported so the user sees nothing was lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseMerge {
    /// The base file merged onto.
    pub file: PathBuf,
    /// Items in the base file.
    pub base_items: u64,
    /// Base items whose key the Tracker does not have, kept as they were.
    pub kept_from_base: u64,
    /// Keys on both sides where the base's `watched_at` is newer: the base item is kept.
    pub base_newer: u64,
    /// Keys on both sides where the Tracker's item is as new or newer: it replaces the base's.
    pub replaced: u64,
}

/// An item's `watched_at` as epoch seconds. CrossWatch keeps what its sources sent, so a
/// base item may carry fractions or an offset; the Tracker's own items have the strict shape.
fn watched_at(item: &serde_json::Value) -> Option<i64> {
    let text = item.get("watched_at")?.as_str()?;
    parse_watched_at(text).or_else(|| text.parse::<jiff::Timestamp>().ok().map(|t| t.as_second()))
}

impl Base {
    /// Reads `path`, which must be CrossWatch's `{"ts": ..., "items": {key: {item}}}`.
    pub(super) fn read(path: &Path) -> Result<Base> {
        let bad = |reason: String| TrackerError::BadBase {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let doc: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let items = doc
            .as_object()
            .ok_or_else(|| bad("the top level is not a JSON object".into()))?
            .get("items")
            .ok_or_else(|| bad("it has no \"items\"".into()))?
            .as_object()
            .ok_or_else(|| bad("\"items\" is not an object of key -> item".into()))?;
        let items = items
            .iter()
            .map(|(key, item)| {
                if !item.is_object() {
                    return Err(bad(format!("item {key:?} is not a JSON object")));
                }
                Ok((key.clone(), (watched_at(item), item.to_string())))
            })
            .collect::<Result<_>>()?;
        Ok(Base {
            path: path.to_owned(),
            items,
        })
    }

    /// Merges the Tracker's `(key, item JSON)` rows onto the base: per key the newer
    /// `watched_at` wins (the Tracker's on a tie, or when the base item has no readable
    /// time); keys on one side only are kept. Returns the merged items in key order.
    pub(super) fn merge(
        self,
        ours: impl IntoIterator<Item = Result<(String, String)>>,
    ) -> Result<(BTreeMap<String, String>, BaseMerge)> {
        let mut summary = BaseMerge {
            file: self.path,
            base_items: self.items.len() as u64,
            kept_from_base: 0,
            base_newer: 0,
            replaced: 0,
        };
        let mut base = self.items;
        let mut merged = BTreeMap::new();
        for row in ours {
            let (key, item) = row?;
            let item = match base.remove(&key) {
                None => item,
                Some((base_at, base_item)) => {
                    let ours_at = serde_json::from_str(&item)
                        .ok()
                        .and_then(|v| watched_at(&v));
                    if matches!((base_at, ours_at), (Some(b), Some(o)) if b > o)
                        || (base_at.is_some() && ours_at.is_none())
                    {
                        summary.base_newer += 1;
                        base_item
                    } else {
                        summary.replaced += 1;
                        item
                    }
                }
            };
            merged.insert(key, item);
        }
        summary.kept_from_base = base.len() as u64;
        merged.extend(base.into_iter().map(|(key, (_, item))| (key, item)));
        Ok((merged, summary))
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testutil::{item, T0};
    use super::*;

    fn base_file(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("history.json");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn ours(rows: &[(&str, i64)]) -> Vec<Result<(String, String)>> {
        rows.iter()
            .map(|&(k, at)| Ok((k.to_owned(), item(k, at))))
            .collect()
    }

    #[test]
    fn newer_wins_per_key_and_either_side_alone_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let base = serde_json::json!({"ts": 1, "items": {
            "both_base_newer": serde_json::from_str::<serde_json::Value>(&item("b", T0 + 60)).unwrap(),
            "both_ours_newer": serde_json::from_str::<serde_json::Value>(&item("b", T0)).unwrap(),
            "tie": serde_json::from_str::<serde_json::Value>(&item("base-tie", T0)).unwrap(),
            // A source's time with fractions and an offset is still a time.
            "offset": {"type": "movie", "watched_at": "2026-11-11T23:18:30.5+01:00"},
            "only_base": {"type": "movie", "title": "kept", "watched_at": "2020-01-01T00:00:00Z"},
        }});
        let path = base_file(dir.path(), &base.to_string());
        let (merged, summary) = Base::read(&path)
            .unwrap()
            .merge(ours(&[
                ("both_base_newer", T0),
                ("both_ours_newer", T0 + 60),
                ("offset", T0),
                ("only_ours", T0),
                ("tie", T0),
            ]))
            .unwrap();
        let at = |k: &str| {
            let v: serde_json::Value = serde_json::from_str(&merged[k]).unwrap();
            (
                v["title"].clone(),
                v["watched_at"].as_str().unwrap().to_owned(),
            )
        };
        assert_eq!(at("both_base_newer").1, "2026-11-11T22:19:00Z");
        assert_eq!(at("both_ours_newer").1, "2026-11-11T22:19:00Z");
        assert_eq!(at("tie").0, "tie", "a tie keeps the Tracker's item");
        assert_eq!(
            at("offset").1,
            "2026-11-11T23:18:30.5+01:00",
            "22:18:30 > 22:18:00"
        );
        assert_eq!(at("only_base").0, "kept");
        assert_eq!(at("only_ours").0, "only_ours");
        assert_eq!(merged.len(), 6);
        assert_eq!(
            summary,
            BaseMerge {
                file: path,
                base_items: 5,
                kept_from_base: 1,
                base_newer: 2,
                replaced: 2,
            }
        );
    }

    #[test]
    fn a_base_item_without_a_readable_time_loses_to_the_trackers() {
        let dir = tempfile::tempdir().unwrap();
        let path = base_file(
            dir.path(),
            r#"{"items": {"a": {"watched_at": "yesterday"}, "b": {}}}"#,
        );
        let (merged, summary) = Base::read(&path)
            .unwrap()
            .merge(ours(&[("a", T0), ("b", T0)]))
            .unwrap();
        assert_eq!(merged["a"], item("a", T0));
        assert_eq!(merged["b"], item("b", T0));
        assert_eq!(summary.replaced, 2);
    }

    #[test]
    fn malformed_base_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        for (text, reason) in [
            ("{\"items\": {", "not JSON"),
            ("[]", "the top level is not a JSON object"),
            ("{\"ts\": 1}", "it has no \"items\""),
            ("{\"items\": []}", "\"items\" is not an object"),
            ("{\"items\": {\"k\": 3}}", "item \"k\" is not a JSON object"),
        ] {
            let path = base_file(dir.path(), text);
            let err = Base::read(&path).unwrap_err();
            assert!(matches!(err, TrackerError::BadBase { .. }), "{err:?}");
            let msg = err.to_string();
            assert!(msg.contains(reason), "{text}: {msg}");
            assert!(msg.contains(&path.display().to_string()), "{msg}");
        }
        let err = Base::read(&dir.path().join("missing.json")).unwrap_err();
        assert!(matches!(err, TrackerError::BadBase { .. }), "{err:?}");
    }
}
