//! Export: the files CrossWatch's Tracker keeps and its Editor imports, written from one
//! consistent read, each replaced atomically; optionally also the ZIP its Editor's "Import
//! tracker archive" takes ([`archive`]) and a state merged onto the user's own
//! `history.json` ([`base`]), since that import replaces the state file whole.
//!
//! Snapshot files get the snapshot's time as their modification time: CrossWatch orders and
//! expires snapshots by file time, so an export made today must not look like today's.

mod archive;
mod base;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{params, Statement};
use serde::Serialize;

use super::error::{Result, SqlContext};
use super::snapshots::{snapshots_in, SNAPSHOT_STATE_SQL};
use super::{atomic, check_feature, text, Tracker, STATE_SQL};
use base::Base;
pub use base::BaseMerge;

/// What an export writes besides the Tracker's files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportOptions {
    /// Also write the Editor's ZIP here.
    pub archive: Option<PathBuf>,
    /// Merge the state onto this CrossWatch `<feature>.json` (newer `watched_at` per key).
    pub base: Option<PathBuf>,
}

impl ExportOptions {
    /// The ZIP at `archive`, if any, and the merge onto `base`, if any.
    pub fn new(archive: Option<PathBuf>, base: Option<PathBuf>) -> Self {
        ExportOptions { archive, base }
    }
}

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
    /// The Editor's ZIP, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_file: Option<PathBuf>,
    /// What the merge onto a base file took from each side, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseMerge>,
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

/// Writes `{"ts": ts, "items": {key: item, ...}}` like [`write_items_doc`], from items
/// already in memory (a merge needs both sides at once).
fn write_merged_doc(path: &Path, ts: i64, items: &BTreeMap<String, String>) -> Result<u64> {
    atomic::replace(path, |w| {
        let io = atomic::io_error(path);
        write!(w, "{{\"ts\":{ts},\"items\":{{").map_err(&io)?;
        for (i, (key, item)) in items.iter().enumerate() {
            w.write_all(if i == 0 { b"\n" } else { b",\n" })
                .map_err(&io)?;
            serde_json::to_writer(&mut *w, key).map_err(|e| io(e.into()))?;
            w.write_all(b":").map_err(&io)?;
            w.write_all(item.as_bytes()).map_err(&io)?;
        }
        w.write_all(b"\n}}\n").map_err(&io)
    })?;
    Ok(items.len() as u64)
}

/// Sets `path`'s modification time to `epoch` (the epoch itself for an earlier time).
fn set_mtime(path: &Path, epoch: i64) -> Result<()> {
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(epoch.max(0).unsigned_abs());
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(time))
        .map_err(atomic::io_error(path))
}

impl Tracker {
    /// Writes the files CrossWatch's Tracker keeps and its Editor imports:
    /// `<out_dir>/<feature>.json` = `{"ts": now, "items": {key: item}}` and, per kept
    /// snapshot, `<out_dir>/snapshots/<stamp>-<feature>.json` of the same shape with `ts` =
    /// the snapshot's time. Each file is replaced atomically; all come from one consistent
    /// read, and this feature's snapshot files that retention has dropped are removed.
    pub fn export(&self, feature: &str, out_dir: &Path, now: i64) -> Result<ExportSummary> {
        self.export_with(feature, out_dir, now, &ExportOptions::default())
    }

    /// [`Tracker::export`], plus the Editor's ZIP of the written files and a merge onto a
    /// base file as `options` asks. A base file is read and checked before anything is
    /// written: a malformed one fails the export with [`TrackerError::BadBase`] and no file.
    ///
    /// [`TrackerError::BadBase`]: super::TrackerError::BadBase
    pub fn export_with(
        &self,
        feature: &str,
        out_dir: &Path,
        now: i64,
        options: &ExportOptions,
    ) -> Result<ExportSummary> {
        self.export_inner(feature, out_dir, now, options)
            .map_err(self.busy())
    }

    fn export_inner(
        &self,
        feature: &str,
        out_dir: &Path,
        now: i64,
        options: &ExportOptions,
    ) -> Result<ExportSummary> {
        check_feature(feature)?;
        let base = options.base.as_deref().map(Base::read).transpose()?;
        let snapshot_dir = out_dir.join("snapshots");
        std::fs::create_dir_all(&snapshot_dir).map_err(atomic::io_error(&snapshot_dir))?;

        // One read transaction: the state and every snapshot come from the same moment.
        let tx = self
            .conn
            .unchecked_transaction()
            .ctx("starting the export")?;
        let state_file = out_dir.join(format!("{feature}.json"));
        let mut stmt = tx.prepare_cached(STATE_SQL).ctx("reading items")?;
        let (item_count, base) = match base {
            None => (
                write_items_doc(&state_file, now, &mut stmt, [feature])?,
                None,
            ),
            Some(base) => {
                let rows = stmt.query_map([feature], |row| Ok((row.get(0)?, row.get(1)?)));
                let rows = rows.ctx("reading items to export")?;
                let (merged, summary) =
                    base.merge(rows.map(|r| r.ctx("reading items to export")))?;
                (write_merged_doc(&state_file, now, &merged)?, Some(summary))
            }
        };

        let mut snapshot_stmt = tx
            .prepare_cached(SNAPSHOT_STATE_SQL)
            .ctx("reading a snapshot")?;
        let mut snapshot_files = Vec::new();
        let mut kept = HashSet::new();
        let mut times = Vec::new();
        for snapshot in snapshots_in(&tx, feature)?.into_iter().rev() {
            let path = snapshot_dir.join(format!("{}-{feature}.json", snapshot.stamp));
            write_items_doc(
                &path,
                snapshot.taken_at,
                &mut snapshot_stmt,
                params![feature, snapshot.id],
            )?;
            set_mtime(&path, snapshot.taken_at)?;
            times.push(snapshot.taken_at);
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

        let archive_file = match &options.archive {
            None => None,
            Some(zip) => {
                let state = archive::Entry {
                    source: &state_file,
                    name: format!("{feature}.json"),
                    time: now,
                };
                let snapshots = snapshot_files.iter().zip(&times).map(|(path, &time)| {
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    archive::Entry {
                        source: path,
                        name: format!("snapshots/{name}"),
                        time,
                    }
                });
                let entries: Vec<_> = std::iter::once(state).chain(snapshots).collect();
                archive::write(zip, &entries)?;
                Some(zip.clone())
            }
        };
        Ok(ExportSummary {
            state_file,
            item_count,
            snapshot_files,
            removed_stale,
            archive_file,
            base,
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

    fn mtime(path: &Path) -> i64 {
        let modified = std::fs::metadata(path).unwrap().modified().unwrap();
        let secs = modified.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        i64::try_from(secs.as_secs()).unwrap()
    }

    #[test]
    fn snapshot_files_carry_the_snapshots_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(&dir.path().join("tracker")).unwrap();
        several_rounds(&mut t);
        let summary = t
            .export("history", &dir.path().join("out"), T0 + 30 * DAY)
            .unwrap();
        let snaps = t.snapshots("history").unwrap();
        let times: Vec<i64> = summary.snapshot_files.iter().map(|p| mtime(p)).collect();
        let expected: Vec<i64> = snaps.iter().rev().map(|s| s.taken_at).collect();
        assert_eq!(times, expected);
        assert_ne!(times[0], times[1], "each its own time");
    }

    #[test]
    fn the_archive_holds_the_written_files_under_the_trackers_names() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut t = Tracker::open(&dir.path().join("tracker")).unwrap();
        several_rounds(&mut t);
        std::fs::create_dir_all(out.join("snapshots")).unwrap();
        std::fs::write(out.join("snapshots/notes.txt"), "not ours").unwrap();
        let zip_path = dir.path().join("tracker.zip");
        let now = T0 + 7 * DAY;
        let options = ExportOptions::new(Some(zip_path.clone()), None);
        let summary = t.export_with("history", &out, now, &options).unwrap();
        assert_eq!(summary.archive_file.as_ref(), Some(&zip_path));

        let mut zip = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
        let mut expected = vec![(summary.state_file.clone(), "history.json".to_owned(), now)];
        let snaps = t.snapshots("history").unwrap();
        for (path, snap) in summary.snapshot_files.iter().zip(snaps.iter().rev()) {
            let name = format!("snapshots/{}-history.json", snap.stamp);
            expected.push((path.clone(), name, snap.taken_at));
        }
        assert_eq!(zip.len(), expected.len());
        for (i, (path, name, time)) in expected.iter().enumerate() {
            let mut entry = zip.by_index(i).unwrap();
            assert_eq!(entry.name().unwrap(), name.as_str());
            assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            assert_eq!(bytes, std::fs::read(path).unwrap(), "{name}");
            let at = entry.last_modified().unwrap();
            let stamp = format_stamp(*time);
            let dos = format!(
                "{:04}{:02}{:02}T{:02}{:02}",
                at.year(),
                at.month(),
                at.day(),
                at.hour(),
                at.minute()
            );
            assert_eq!(dos, stamp[..13], "{name}");
        }
    }

    #[test]
    fn a_base_merge_writes_the_merged_state_and_a_bad_base_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tracker::open(&dir.path().join("tracker")).unwrap();
        import(&mut t, &[entry("a", T0), entry("b@100", T0)], T0);
        let base = dir.path().join("base.json");
        std::fs::write(
            &base,
            serde_json::json!({"ts": 5, "items": {
                "only_base": {"watched_at": "2020-01-01T00:00:00Z"},
                "b@50": {"watched_at": "2020-01-01T00:00:00Z"},
                "a": {"watched_at": "2030-01-01T00:00:00Z"},
            }})
            .to_string(),
        )
        .unwrap();
        let out = dir.path().join("out");
        let zip_path = out.join("x.zip");
        let options = ExportOptions::new(Some(zip_path.clone()), Some(base.clone()));
        let summary = t.export_with("history", &out, T0 + 9, &options).unwrap();
        let (ts, items) = read_doc(&summary.state_file);
        assert_eq!(ts, T0 + 9);
        let keys: Vec<&str> = items.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["a", "b@100", "b@50", "only_base"],
            "every play is kept"
        );
        assert!(items[0].1.contains("2030-01-01"), "the base's newer item");
        assert_eq!(summary.item_count, 4);
        let merge = summary.base.unwrap();
        assert_eq!((merge.base_items, merge.kept_from_base), (3, 2));
        assert_eq!((merge.base_newer, merge.replaced), (1, 0));
        // The archive holds the merged state.
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
        let mut state = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("history.json").unwrap(), &mut state)
            .unwrap();
        assert_eq!(state, std::fs::read_to_string(&summary.state_file).unwrap());

        std::fs::write(&base, "{\"items\": [1, 2]}").unwrap();
        let fresh = dir.path().join("fresh");
        let options = ExportOptions::new(Some(fresh.join("x.zip")), Some(base.clone()));
        let err = t.export_with("history", &fresh, T0, &options).unwrap_err();
        assert!(matches!(err, TrackerError::BadBase { .. }), "{err:?}");
        assert!(!fresh.exists(), "nothing written");
        let before = std::fs::read(&summary.state_file).unwrap();
        let err = t.export_with("history", &out, T0, &options).unwrap_err();
        assert!(err.to_string().contains("nothing was written"), "{err}");
        assert_eq!(std::fs::read(&summary.state_file).unwrap(), before);
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
