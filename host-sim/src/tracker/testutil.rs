//! Helpers shared by the Tracker's tests: items and entries at given times, one-call
//! imports, and a second connection that holds the write lock.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use super::*;

pub(super) const T0: i64 = 1_794_435_480; // 2026-11-11T22:18:00Z
pub(super) const DAY: i64 = 86_400;

pub(super) fn item(title: &str, at: i64) -> String {
    serde_json::json!({
        "type": "movie",
        "title": title,
        "ids": {"tmdb": "603"},
        "watched_at": format_watched_at(at),
    })
    .to_string()
}

pub(super) fn entry(key: &str, at: i64) -> (String, String) {
    (key.to_owned(), item(key, at))
}

pub(super) fn import(t: &mut Tracker, entries: &[(String, String)], now: i64) -> ImportOutcome {
    let mut imp = t.begin_import("history", false).unwrap();
    imp.add_batch(entries).unwrap();
    imp.finish(now).unwrap()
}

pub(super) fn watched(t: &Tracker, key: &str) -> Option<String> {
    t.state("history")
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, json)| {
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            v["watched_at"].as_str().unwrap().to_owned()
        })
}

pub(super) fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Imports several rounds and returns the snapshot ids with the state after each.
/// The state checked against a plain newest-wins model after each round.
pub(super) fn several_rounds(t: &mut Tracker) -> Vec<(SnapshotInfo, Vec<(String, String)>)> {
    let rounds: [&[(&str, i64)]; 5] = [
        &[("a", T0), ("b", T0)],
        &[("b", T0 + 10), ("c", T0)],
        &[("a", T0 + 20), ("d", T0)],
        &[("a", T0 + 5), ("c", T0 + 30)],
        &[("e", T0)],
    ];
    let mut model = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for (i, round) in rounds.iter().enumerate() {
        let entries: Vec<_> = round.iter().map(|&(k, at)| entry(k, at)).collect();
        let outcome = import(t, &entries, T0 + i as i64 * DAY);
        for &(k, at) in round.iter() {
            let newest = model.get(k).map_or(at, |&stored: &i64| stored.max(at));
            model.insert(k, newest);
        }
        let expected: Vec<(String, String)> = model
            .iter()
            .map(|(k, &at)| (k.to_string(), item(k, at)))
            .collect();
        let state = t.state("history").unwrap();
        assert_eq!(state, expected, "round {i}");
        assert_eq!(t.count("history").unwrap(), model.len() as u64);
        out.push((outcome.snapshot.unwrap(), state));
    }
    out
}

/// A Tracker that waits only `ms` milliseconds for locks.
pub(super) fn open_impatient(dir: &Path, ms: u64) -> Tracker {
    Tracker::open_waiting(dir, Duration::from_millis(ms)).unwrap()
}

/// Another process's connection to the Tracker under `dir`, holding its write lock
/// until dropped.
pub(super) fn lock_writer(dir: &Path) -> Connection {
    let c = Connection::open(dir.join(DB_FILE)).unwrap();
    c.execute_batch("BEGIN IMMEDIATE; CREATE TABLE held (x INTEGER);")
        .unwrap();
    c
}

pub(super) fn assert_busy(err: &TrackerError, dir: &Path) {
    match err {
        TrackerError::Busy { path, .. } => assert_eq!(path, &dir.join(DB_FILE)),
        other => panic!("not Busy: {other:?}"),
    }
    let text = err.to_string();
    let wanted = format!(
        "another host-sim run is using this Tracker ({})",
        dir.join(DB_FILE).display()
    );
    assert!(text.contains(&wanted), "{text}");
    assert!(text.contains("try again when it has finished"), "{text}");
    for wrong in ["move it aside", "disk", "locked"] {
        assert!(!text.contains(wrong), "{wrong:?} in {text}");
    }
    assert!(std::error::Error::source(err).is_none(), "{err:?}");
}

pub(super) const SRC: &str = "TAUTULLI";

pub(super) fn cp(t: &Tracker) -> Option<String> {
    t.checkpoint("history", SRC, "").unwrap()
}

/// A real import of `entries` that sets the checkpoint to `update` before committing.
pub(super) fn import_with(t: &mut Tracker, entries: &[(String, String)], update: CheckpointUpdate) {
    let mut imp = t.begin_import("history", false).unwrap();
    imp.add_batch(entries).unwrap();
    imp.set_checkpoint(SRC, "", update, T0).unwrap();
    imp.finish(T0).unwrap();
}
