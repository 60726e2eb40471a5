//! Assembles items into the engine's index (canonical key -> item) and the run's report.
//!
//! - Collapsed mode keeps, per key, the play with the newest `watched_at`, decided by
//!   comparing times, never by arrival order (known fault 8); on a tie the first play stays.
//! - Rewatch (event) mode keeps every play under `<key>@<epoch>`.
//! - A Tautulli group (`reference_id`) seen again, as happens when a group grows while pages
//!   are read, replaces its earlier play instead of adding a second one. Because a growing
//!   group's times only move forward, the new play wins over anything the old one beat, so
//!   dropping the old one loses nothing.
//!
//! Only winners are held (plus one small entry per group), so memory follows the number of
//! distinct titles, not of plays.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::ids::IdKind;
use crate::item::{Item, MediaKind};
use crate::keys::{canonical_key, event_key};
use crate::normalise::{Policy, SkipReason, UnresolvedReason};

/// Identifies the Tautulli history row (group) a play came from: its `reference_id` (the
/// group's first row id), else its `row_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupRef(pub i64);

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

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
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
    /// [`UnresolvedReason::as_str`].
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
    fn new(mode: Mode) -> Report {
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

struct Slot {
    item: Item,
    group: GroupRef,
    unresolved: Option<Box<UnresolvedReason>>,
}

/// Collects items into an index, one history row at a time.
pub struct IndexBuilder {
    mode: Mode,
    slots: HashMap<Arc<str>, Slot>,
    /// Where each group's play went (its slot may since belong to another group).
    groups: HashMap<GroupRef, Arc<str>>,
    report: Report,
}

impl IndexBuilder {
    pub fn new(policy: &Policy) -> IndexBuilder {
        let mode = if policy.rewatches {
            Mode::Rewatch
        } else {
            Mode::Collapsed
        };
        IndexBuilder {
            mode,
            slots: HashMap::new(),
            groups: HashMap::new(),
            report: Report::new(mode),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Entries currently in the index.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The report so far (the reader fills pages, metadata calls and completeness here).
    pub fn report_mut(&mut self) -> &mut Report {
        &mut self.report
    }

    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Counts a row that was not imported.
    pub fn skip(&mut self, reason: SkipReason) {
        self.report.rows_seen += 1;
        self.report.skipped.add(reason);
    }

    /// Adds a resolved play.
    pub fn push(&mut self, item: Item, group: GroupRef) {
        self.insert(item, group, None);
    }

    /// Adds a play that has no external ID; it is listed in the report while it stays in the
    /// index.
    pub fn push_unresolved(&mut self, item: Item, group: GroupRef, reason: UnresolvedReason) {
        self.insert(item, group, Some(Box::new(reason)));
    }

    /// Adds the outcome of [`crate::normalise::build_item`].
    pub fn push_result(&mut self, built: Result<Item, (Item, UnresolvedReason)>, group: GroupRef) {
        match built {
            Ok(item) => self.push(item, group),
            Err((item, reason)) => self.push_unresolved(item, group, reason),
        }
    }

    fn insert(&mut self, item: Item, group: GroupRef, unresolved: Option<Box<UnresolvedReason>>) {
        self.report.rows_seen += 1;
        self.report.plays_kept += 1;
        let base = canonical_key(&item);
        let key: Arc<str> = match self.mode {
            Mode::Collapsed => base.into(),
            Mode::Rewatch => event_key(&base, item.watched_at).into(),
        };

        if let Some(old_key) = self.groups.get(&group) {
            if self.slots.get(old_key).is_some_and(|s| s.group == group) {
                self.slots.remove(old_key);
                self.report.replaced += 1;
            }
        }

        let slot = Slot {
            item,
            group,
            unresolved,
        };
        match self.slots.entry(key.clone()) {
            Entry::Vacant(v) => {
                v.insert(slot);
            }
            Entry::Occupied(mut o) => {
                self.report.superseded += 1;
                if slot.item.watched_at > o.get().item.watched_at {
                    o.insert(slot);
                }
            }
        }
        self.groups.insert(group, key);
    }

    /// The index in key order, and the final report (items and unresolved filled in).
    pub fn finish(self) -> (Vec<(String, Item)>, Report) {
        let IndexBuilder {
            slots,
            groups,
            mut report,
            ..
        } = self;
        drop(groups);
        let mut entries: Vec<(String, Slot)> = slots
            .into_iter()
            .map(|(k, slot)| (String::from(&*k), slot))
            .collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        report.items = entries.len() as u64;
        report.unresolved = entries
            .iter()
            .filter_map(|(key, slot)| {
                let reason = slot.unresolved.as_deref()?;
                Some(UnresolvedEntry {
                    key: key.clone(),
                    title: display_title(&slot.item),
                    reason: reason.as_str(),
                    message: reason.message(),
                    rating_key: slot.item.ids.get(IdKind::Plex).and_then(|v| v.parse().ok()),
                })
            })
            .collect();
        let index = entries.into_iter().map(|(k, s)| (k, s.item)).collect();
        (index, report)
    }
}

fn display_title(item: &Item) -> String {
    match (item.kind, item.series_title.as_deref()) {
        (MediaKind::Episode, Some(show)) => format!("{show} - {}", item.title),
        _ => item.title.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Ids;
    use crate::normalise::{
        build_item, classify, metadata_need, MetaAnswer, MetaLevel, MetaRequest,
    };
    use crate::rows::{HistoryPage, Metadata};
    use crate::timefmt::format_utc;

    fn movie(tmdb: &str, at: i64) -> Item {
        let mut m = Item::movie("M", Some(2000), at);
        m.ids.insert(IdKind::Tmdb, tmdb);
        m
    }

    fn collapsed() -> IndexBuilder {
        IndexBuilder::new(&Policy::default())
    }

    fn rewatch() -> IndexBuilder {
        IndexBuilder::new(&Policy {
            rewatches: true,
            ..Policy::default()
        })
    }

    fn times(index: &[(String, Item)]) -> Vec<(&str, i64)> {
        index
            .iter()
            .map(|(k, i)| (k.as_str(), i.watched_at))
            .collect()
    }

    #[test]
    fn newest_wins_whatever_the_arrival_order() {
        for order in [[100, 300, 200], [300, 200, 100], [200, 100, 300]] {
            let mut b = collapsed();
            for (g, at) in order.iter().enumerate() {
                b.push(movie("603", *at), GroupRef(g as i64));
            }
            let (index, report) = b.finish();
            assert_eq!(times(&index), [("tmdb:603", 300)], "{order:?}");
            assert_eq!(
                (report.items, report.plays_kept, report.superseded),
                (1, 3, 2)
            );
        }
    }

    #[test]
    fn ties_keep_the_first() {
        let mut b = collapsed();
        let mut first = movie("603", 100);
        first.title = "first".into();
        let mut second = movie("603", 100);
        second.title = "second".into();
        b.push(first, GroupRef(1));
        b.push(second, GroupRef(2));
        let (index, report) = b.finish();
        assert_eq!(&*index[0].1.title, "first");
        assert_eq!(report.superseded, 1);
    }

    #[test]
    fn rewatch_mode_keeps_every_play() {
        let mut b = rewatch();
        b.push(movie("603", 300), GroupRef(1));
        b.push(movie("603", 100), GroupRef(2));
        b.push(movie("550", 200), GroupRef(3));
        assert_eq!(b.mode(), Mode::Rewatch);
        let (index, report) = b.finish();
        assert_eq!(
            times(&index),
            [
                ("tmdb:550@200", 200),
                ("tmdb:603@100", 100),
                ("tmdb:603@300", 300)
            ]
        );
        assert_eq!(
            (report.items, report.superseded, report.mode),
            (3, 0, Mode::Rewatch)
        );
        // Two plays at the very same second are one event: the first stays.
        let mut b = rewatch();
        b.push(movie("603", 5), GroupRef(1));
        b.push(movie("603", 5), GroupRef(2));
        let (index, report) = b.finish();
        assert_eq!((index.len(), report.superseded), (1, 1));
    }

    #[test]
    fn a_regrown_group_replaces_its_earlier_play() {
        // Rewatch mode: group 3 read at stop 100, then again (grown) at stop 150.
        let mut b = rewatch();
        b.push(movie("550", 100), GroupRef(3));
        b.push(movie("603", 50), GroupRef(4));
        b.push(movie("550", 150), GroupRef(3));
        let (index, report) = b.finish();
        assert_eq!(times(&index), [("tmdb:550@150", 150), ("tmdb:603@50", 50)]);
        assert_eq!(
            (report.replaced, report.plays_kept, report.items),
            (1, 3, 2)
        );

        // Collapsed mode, key changed between reads (metadata resolved the second time):
        // no stale entry under the old key.
        let mut b = collapsed();
        let mut first = Item::movie("M", None, 100);
        first.ids.insert(IdKind::Plex, "101");
        b.push_unresolved(
            first,
            GroupRef(1),
            UnresolvedReason::MetadataMissing { rating_key: 101 },
        );
        b.push(movie("603", 120), GroupRef(1));
        let (index, report) = b.finish();
        assert_eq!(times(&index), [("tmdb:603", 120)]);
        assert!(report.unresolved.is_empty());
        assert_eq!(report.replaced, 1);
    }

    #[test]
    fn a_regrown_group_does_not_remove_a_play_it_lost_to() {
        let mut b = collapsed();
        b.push(movie("603", 100), GroupRef(1));
        b.push(movie("603", 200), GroupRef(2)); // beats group 1
        b.push(movie("603", 150), GroupRef(1)); // group 1 re-read: still older
        let (index, report) = b.finish();
        assert_eq!(times(&index), [("tmdb:603", 200)]);
        assert_eq!((report.replaced, report.superseded), (0, 2));
        assert_eq!(
            report.items,
            report.plays_kept - report.replaced - report.superseded
        );
    }

    #[test]
    fn finish_sorts_by_key() {
        let mut b = collapsed();
        for (g, id) in ["9", "10", "1", "550"].iter().enumerate() {
            b.push(movie(id, 1), GroupRef(g as i64));
        }
        let (index, _) = b.finish();
        let keys: Vec<&str> = index.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["tmdb:1", "tmdb:10", "tmdb:550", "tmdb:9"]);
    }

    #[test]
    fn report_counts_and_shape() {
        let mut b = collapsed();
        b.skip(SkipReason::Partial);
        b.skip(SkipReason::Partial);
        b.skip(SkipReason::Live);
        b.push(movie("603", 1), GroupRef(1));
        let mut e = Item::episode(Some(Arc::from("Show")), "Ep", None, 2, 3, 7);
        e.ids.insert(IdKind::Plex, "201");
        e.show_ids.insert(IdKind::Plex, "199");
        b.push_unresolved(
            e,
            GroupRef(2),
            UnresolvedReason::Deleted { rating_key: 199 },
        );
        b.report_mut().pages = 1;
        b.report_mut().metadata_calls = 4;
        assert_eq!(
            b.report().semantics(),
            "delta",
            "delta until marked complete"
        );
        b.report_mut().mark_complete();
        let (_, report) = b.finish();
        assert_eq!(report.rows_seen, 5);
        assert_eq!(report.skipped.total(), 3);
        let json = serde_json::to_string(&report).unwrap();
        let want = concat!(
            r#"{"pages":1,"rows_seen":5,"items":2,"plays_kept":2,"superseded":0,"replaced":0,"#,
            r#""skipped":{"partial":2,"live":1,"other_media_type":0,"no_season_episode":0,"no_time":0,"in_progress":0,"no_rating_key":0},"#,
            r#""unresolved":[{"key":"plex:199#s02e03","title":"Show - Ep","reason":"deleted","message":"#,
        );
        assert!(json.starts_with(want), "{json}");
        assert!(json.ends_with(
            r#""rating_key":201}],"metadata_calls":4,"complete":true,"incomplete_reason":null,"read":"full","semantics":"present","mode":"collapsed"}"#
        ), "{json}");
    }

    #[test]
    fn incomplete_reads_are_delta() {
        let mut b = collapsed();
        b.report_mut().mark_complete();
        b.report_mut().mark_incomplete("page cap 5000 reached");
        let (_, report) = b.finish();
        let v = serde_json::to_value(&report).unwrap();
        assert_eq!(v["semantics"], "delta");
        assert_eq!(v["incomplete_reason"], "page cap 5000 reached");
        assert_eq!(v["complete"], false);
    }

    fn reference(name: &str) -> serde_json::Value {
        let path = format!("{}/fixtures/reference/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// The whole pure pipeline on a real Tautulli 2.17.2 history page: classify, collect the
    /// metadata requests (deduplicated), answer them, build items, index.
    fn run_reference_pipeline(policy: &Policy) -> (Vec<(String, Item)>, Report, Vec<MetaRequest>) {
        let page: HistoryPage = serde_json::from_value(
            reference("get_history_default.json")["response"]["data"].clone(),
        )
        .unwrap();
        let movie_meta: Metadata = serde_json::from_value(
            reference("get_metadata_movie_fakepms.json")["response"]["data"].clone(),
        )
        .unwrap();
        // Show 199 (Breaking Bad) as Tautulli answers it for the show's rating key.
        let show_meta: Metadata = serde_json::from_value(serde_json::json!({
            "media_type": "show", "rating_key": "199", "title": "Breaking Bad",
            "guid": "plex://show/5d9c086c46115600200aa2fe",
            "guids": ["imdb://tt0903747", "tmdb://1396", "tvdb://81189"]
        }))
        .unwrap();
        let answer = |req: &MetaRequest| match (req.rating_key, req.level) {
            (101, MetaLevel::Movie) => MetaAnswer::from_metadata(&movie_meta, req.level),
            (199, MetaLevel::Show) => MetaAnswer::from_metadata(&show_meta, req.level),
            _ => MetaAnswer::Deleted,
        };

        let mut builder = IndexBuilder::new(policy);
        let mut plays = Vec::new();
        for row in &page.data {
            match classify(row, policy) {
                Ok(play) => plays.push(play),
                Err(reason) => builder.skip(reason),
            }
        }
        let mut requests: Vec<MetaRequest> = plays.iter().filter_map(metadata_need).collect();
        requests.sort();
        requests.dedup();
        let answers: HashMap<MetaRequest, MetaAnswer> =
            requests.iter().map(|r| (*r, answer(r))).collect();
        for play in &plays {
            let meta = metadata_need(play).map(|r| &answers[&r]);
            builder.push_result(build_item(play, meta), play.group);
        }
        builder.report_mut().pages = 1;
        builder.report_mut().metadata_calls = requests.len() as u64;
        builder.report_mut().mark_complete();
        let (index, report) = builder.finish();
        (index, report, requests)
    }

    #[test]
    fn reference_history_end_to_end() {
        let (index, report, requests) = run_reference_pipeline(&Policy::default());
        let got: Vec<(&str, String)> = index
            .iter()
            .map(|(k, i)| (k.as_str(), format_utc(i.watched_at)))
            .collect();
        assert_eq!(
            got,
            [
                ("anidb:23#s01e01", "2026-11-18T20:24:00Z".to_string()),
                ("tmdb:1396#s01e01", "2026-11-15T20:56:40Z".to_string()),
                ("tmdb:550", "2026-11-12T23:24:20Z".to_string()),
                // The Matrix: two plays; the newer (row 1, stopped 1794349020) wins although
                // the older (row 10) arrives last.
                ("tmdb:603", "2026-11-10T22:17:00Z".to_string()),
                ("tvdb:121361#s06e01", "2026-11-17T20:45:30Z".to_string()),
            ]
        );
        // One call for the movie, one for the show: never one per episode.
        assert_eq!(
            requests,
            [
                MetaRequest {
                    rating_key: 101,
                    level: MetaLevel::Movie
                },
                MetaRequest {
                    rating_key: 199,
                    level: MetaLevel::Show
                },
            ]
        );
        // Shawshank 50 %, episode 202 at 10 %, the local video at 68 %.
        assert_eq!(report.skipped.get(SkipReason::Partial), 3);
        assert_eq!(report.skipped.total(), 3);
        assert_eq!(
            (
                report.rows_seen,
                report.plays_kept,
                report.superseded,
                report.items
            ),
            (9, 6, 1, 5)
        );
        assert!(report.unresolved.is_empty(), "{:?}", report.unresolved);
        assert_eq!(report.semantics(), "present");

        let matrix = &index.iter().find(|(k, _)| k == "tmdb:603").unwrap().1;
        assert_eq!(
            matrix.to_json(),
            r#"{"type":"movie","title":"The Matrix","year":1999,"ids":{"tmdb":"603","imdb":"tt0133093","tvdb":"169","plex":"101","guid":"plex://movie/5d7768ba96b655001fdc0408"},"watched_at":"2026-11-10T22:17:00Z"}"#
        );
        let pilot = &index
            .iter()
            .find(|(k, _)| k == "tmdb:1396#s01e01")
            .unwrap()
            .1;
        let v: serde_json::Value = serde_json::from_str(&pilot.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "type": "episode", "title": "Pilot", "year": 2008, "season": 1, "episode": 1,
                "series_title": "Breaking Bad",
                "ids": {"plex": "201", "guid": "plex://episode/5d9c0873ffd9ef001e99b9dc"},
                "show_ids": {"tmdb": "1396", "imdb": "tt0903747", "tvdb": "81189", "plex": "199",
                             "guid": "plex://show/5d9c086c46115600200aa2fe"},
                "watched_at": "2026-11-15T20:56:40Z"
            })
        );
        let fight_club = &index.iter().find(|(k, _)| k == "tmdb:550").unwrap().1;
        let mut want = Ids::new();
        want.insert(IdKind::Tmdb, "550");
        want.insert(IdKind::Plex, "103");
        assert_eq!(fight_club.ids, want);
    }

    #[test]
    fn reference_history_in_rewatch_mode_and_without_watched_only() {
        let (index, report, _) = run_reference_pipeline(&Policy {
            rewatches: true,
            ..Policy::default()
        });
        let keys: Vec<&str> = index.iter().map(|(k, _)| k.as_str()).collect();
        assert!(
            keys.contains(&"tmdb:603@1794349020") && keys.contains(&"tmdb:603@1790028800"),
            "{keys:?}"
        );
        assert_eq!((report.items, report.superseded), (6, 0));

        let (index, report, _) = run_reference_pipeline(&Policy {
            watched_only: false,
            ..Policy::default()
        });
        // Partial plays now count: Shawshank by its legacy IMDb guid, episode 202 under its
        // show, and the unmatched local video under its Plex ID (reported unresolved).
        let keys: Vec<&str> = index.iter().map(|(k, _)| k.as_str()).collect();
        for k in ["imdb:tt0111161", "tmdb:1396#s01e02", "plex:9001"] {
            assert!(keys.contains(&k), "{k} in {keys:?}");
        }
        assert_eq!(report.skipped.total(), 0);
        assert_eq!(report.unresolved.len(), 1);
        assert_eq!(report.unresolved[0].reason, "unmatched");
        assert_eq!(report.unresolved[0].rating_key, Some(9001));
        assert_eq!(report.unresolved[0].title, "Birthday 2019");
    }
}
