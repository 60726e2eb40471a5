//! Export: the files CrossWatch's Tracker keeps and its Editor imports, written from one
//! consistent read, each replaced atomically.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rusqlite::{params, Statement};
use serde::Serialize;

use super::error::{Result, SqlContext};
use super::snapshots::{snapshots_in, SNAPSHOT_STATE_SQL};
use super::{atomic, check_feature, text, Tracker, STATE_SQL};

/// The files an [`Tracker::export`] wrote or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// `<out_dir>/<feature>.json`.
    pub state_file: PathBuf,
    /// Items in `state_file`.
    pub item_count: u64,
    /// `<out_dir>/snapshots/<stamp>-<feature>.json`, oldest first.
    pub snapshot_files: Vec<PathBuf>,
    /// Snapshot files of this feature left by an earlier export whose snapshot retention has
    /// since removed, deleted so the directory mirrors the tracker.
    pub removed_stale: Vec<PathBuf>,
}

/// `<stamp>` when `name` is `<stamp>-<feature>.json` for this feature.
fn snapshot_file_stamp<'a>(name: &'a str, feature: &str) -> Option<&'a str> {
    let stamp = name
        .strip_suffix(".json")?
        .strip_suffix(feature)?
        .strip_suffix('-')?;
    let b = stamp.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (b.len() == 16 && digits(0..8) && b[8] == b'T' && digits(9..15) && b[15] == b'Z')
        .then_some(stamp)
}

/// Writes `{"ts": ts, "items": {key: item, ...}}`, one item per line, atomically; returns
/// the item count. Rows are streamed, never collected.
fn write_items_doc(
    path: &Path,
    ts: i64,
    stmt: &mut Statement<'_>,
    params: impl rusqlite::Params,
) -> Result<u64> {
    let mut count = 0u64;
    atomic::replace(path, |w| {
        let io = atomic::io_error(path);
        write!(w, "{{\"ts\":{ts},\"items\":{{").map_err(&io)?;
        let mut rows = stmt.query(params).ctx("reading items to export")?;
        while let Some(row) = rows.next().ctx("reading items to export")? {
            let key = text(row, 0, "reading items to export")?;
            let item = text(row, 1, "reading items to export")?;
            w.write_all(if count == 0 { b"\n" } else { b",\n" })
                .map_err(&io)?;
            serde_json::to_writer(&mut *w, key).map_err(|e| io(e.into()))?;
            w.write_all(b":").map_err(&io)?;
            w.write_all(item.as_bytes()).map_err(&io)?;
            count += 1;
        }
        w.write_all(b"\n}}\n").map_err(&io)
    })?;
    Ok(count)
}

impl Tracker {
    /// Writes the files CrossWatch's Tracker keeps and its Editor imports:
    /// `<out_dir>/<feature>.json` = `{"ts": now, "items": {key: item}}` and, per kept
    /// snapshot, `<out_dir>/snapshots/<stamp>-<feature>.json` of the same shape with `ts` =
    /// the snapshot's time. Each file is replaced atomically; all come from one consistent
    /// read, and this feature's snapshot files that retention has dropped are removed.
    pub fn export(&self, feature: &str, out_dir: &Path, now: i64) -> Result<ExportSummary> {
        self.export_inner(feature, out_dir, now)
            .map_err(self.busy())
    }

    fn export_inner(&self, feature: &str, out_dir: &Path, now: i64) -> Result<ExportSummary> {
        check_feature(feature)?;
        let snapshot_dir = out_dir.join("snapshots");
        std::fs::create_dir_all(&snapshot_dir).map_err(atomic::io_error(&snapshot_dir))?;

        // One read transaction: the state and every snapshot come from the same moment.
        let tx = self
            .conn
            .unchecked_transaction()
            .ctx("starting the export")?;
        let state_file = out_dir.join(format!("{feature}.json"));
        let mut stmt = tx.prepare_cached(STATE_SQL).ctx("reading items")?;
        let item_count = write_items_doc(&state_file, now, &mut stmt, [feature])?;

        let mut snapshot_stmt = tx
            .prepare_cached(SNAPSHOT_STATE_SQL)
            .ctx("reading a snapshot")?;
        let mut snapshot_files = Vec::new();
        let mut kept = HashSet::new();
        for snapshot in snapshots_in(&tx, feature)?.into_iter().rev() {
            let path = snapshot_dir.join(format!("{}-{feature}.json", snapshot.stamp));
            write_items_doc(
                &path,
                snapshot.taken_at,
                &mut snapshot_stmt,
                params![feature, snapshot.id],
            )?;
            kept.insert(snapshot.stamp);
            snapshot_files.push(path);
        }

        let mut removed_stale = Vec::new();
        let entries = std::fs::read_dir(&snapshot_dir).map_err(atomic::io_error(&snapshot_dir))?;
        for entry in entries {
            let entry = entry.map_err(atomic::io_error(&snapshot_dir))?;
            let name = entry.file_name();
            let Some(stamp) = name.to_str().and_then(|n| snapshot_file_stamp(n, feature)) else {
                continue;
            };
            if !kept.contains(stamp) {
                let path = entry.path();
                std::fs::remove_file(&path).map_err(atomic::io_error(&path))?;
                removed_stale.push(path);
            }
        }
        removed_stale.sort();
        Ok(ExportSummary {
            state_file,
            item_count,
            snapshot_files,
            removed_stale,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use super::*;

    fn read_doc(path: &Path) -> (i64, Vec<(String, String)>) {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let obj = doc.as_object().unwrap();
        assert_eq!(obj.len(), 2, "{path:?} has only ts and items");
        let items = obj["items"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        (obj["ts"].as_i64().unwrap(), items)
    }

    /// Item JSON as serde_json re-serialises it, for comparing with parsed files.
    fn normalised(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
        pairs
            .into_iter()
            .map(|(k, v)| {
                let v: serde_json::Value = serde_json::from_str(&v).unwrap();
                (k, v.to_string())
            })
            .collect()
    }

    #[test]
    fn export_writes_crosswatch_files_that_parse_back_to_the_tracker() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("export");
        let mut t = Tracker::open(&dir.path().join("tracker")).unwrap();
        let rounds = several_rounds(&mut t);
        // A key needing JSON escaping survives the trip.
        let odd_key = "movie|title:\"quoted\" \\ ünïcode|year:1999";
        import(&mut t, &[entry(odd_key, T0)], T0 + 6 * DAY);
        let now = T0 + 7 * DAY;

        let summary = t.export("history", &out, now).unwrap();
        assert_eq!(summary.state_file, out.join("history.json"));
        assert_eq!(summary.item_count, 6);
        let (ts, items) = read_doc(&summary.state_file);
        assert_eq!(ts, now, "the export time");
        assert_eq!(items, normalised(t.state("history").unwrap()));
        assert!(items.iter().any(|(k, _)| k == odd_key));

        let snaps = t.snapshots("history").unwrap();
        assert_eq!(summary.snapshot_files.len(), snaps.len());
        for (path, snap) in summary.snapshot_files.iter().zip(snaps.iter().rev()) {
            assert_eq!(
                path,
                &out.join("snapshots")
                    .join(format!("{}-history.json", snap.stamp))
            );
            let (ts, items) = read_doc(path);
            assert_eq!(ts, snap.taken_at);
            assert_eq!(items, normalised(t.snapshot_state(snap.id).unwrap()));
        }
        assert_eq!(
            read_doc(&summary.snapshot_files[1]).1,
            normalised(rounds[1].1.clone())
        );
        assert_eq!(files(&out), ["history.json", "snapshots"]);
    }

    #[test]
    fn re_export_replaces_files_and_drops_only_pruned_snapshot_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("export");
        let mut t = Tracker::open(&dir.path().join("tracker")).unwrap();
        several_rounds(&mut t);
        let first = t.export("history", &out, T0).unwrap();
        assert_eq!(first.removed_stale, Vec::<PathBuf>::new());
        let snap_dir = out.join("snapshots");
        // Files that are not this feature's snapshots are left alone.
        let foreign = [
            "notes.txt",
            "20260101T000000Z-watchlist.json",
            "x-history.json",
        ];
        for name in foreign {
            std::fs::write(snap_dir.join(name), "keep").unwrap();
        }

        import(&mut t, &[entry("zz", T0)], T0 + 7 * DAY);
        let policy = Retention {
            max_age_days: 365,
            max_count: 3,
        };
        assert_eq!(
            t.apply_retention("history", policy, T0 + 7 * DAY).unwrap(),
            3
        );
        let second = t.export("history", &out, T0).unwrap();
        assert_eq!(second.removed_stale, first.snapshot_files[..3].to_vec());
        assert_eq!(second.snapshot_files[..2], first.snapshot_files[3..]);
        let (_, items) = read_doc(&second.state_file);
        assert!(items.iter().any(|(k, _)| k == "zz"));
        let mut expected: Vec<String> = second
            .snapshot_files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .chain(foreign.iter().map(|s| s.to_string()))
            .collect();
        expected.sort();
        assert_eq!(files(&snap_dir), expected, "no temp files are left behind");
        for name in foreign {
            assert_eq!(
                std::fs::read_to_string(snap_dir.join(name)).unwrap(),
                "keep"
            );
        }
    }

    #[test]
    fn an_empty_feature_exports_an_empty_items_object() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tracker::open(dir.path()).unwrap();
        let summary = t.export("history", &dir.path().join("out"), T0).unwrap();
        assert_eq!(summary.item_count, 0);
        assert_eq!(read_doc(&summary.state_file).1, Vec::new());
        assert!(summary.snapshot_files.is_empty());
    }
}
