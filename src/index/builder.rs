//! Assembles items into the engine's index (canonical key -> item) and the run's report.
//!
//! - Collapsed mode keeps, per key, the play with the newest `watched_at`, decided by
//!   comparing times, never by arrival order (pages and windows arrive in no time order); on a
//!   tie the first play stays.
//! - Rewatch (event) mode keeps every play under `<key>@<epoch>`.
//! - A Tautulli group (`reference_id`) seen again, as happens when a group grows while pages
//!   are read, replaces its earlier play instead of adding a second one. Because a growing
//!   group's times only move forward, the new play wins over anything the old one beat, so
//!   dropping the old one loses nothing.
//!
//! Only winners are held (plus one small entry per group), so memory follows the number of
//! distinct titles, not of plays.

use std::collections::HashMap;
use std::sync::Arc;

use crate::hash::FxHashMap;
use crate::index::emission::{DateCache, Entry, Index};
use crate::index::identity::keys::canonical_key;
use crate::index::item::Item;
use crate::index::item::UnresolvedReason;
use crate::index::report::{Mode, Report};
use crate::index::rules::{GroupRef, Policy, SkipReason};

/// A distinct item held once and shared by all its plays (see [`IndexBuilder::template`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TemplateId(u32);

/// Everything a play needs but its time and group.
pub(crate) struct Template {
    /// The item; its `watched_at` is meaningless (each play brings its own).
    pub(crate) item: Item,
    /// Its canonical key, as an index into `Keys::names`.
    pub(crate) base: u32,
    pub(crate) unresolved: Option<Box<UnresolvedReason>>,
}

/// Canonical keys, each held once.
#[derive(Default)]
struct Keys {
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u32>,
}

impl Keys {
    fn intern(&mut self, key: String) -> u32 {
        if let Some(&id) = self.ids.get(key.as_str()) {
            return id;
        }
        let id = u32::try_from(self.names.len()).expect("fewer than 2^32 distinct titles");
        let key: Arc<str> = key.into();
        self.names.push(key.clone());
        self.ids.insert(key, id);
        id
    }
}

/// No template: an empty collapsed slot.
const NONE: u32 = u32::MAX;

/// Collapsed mode: the play holding one canonical key.
#[derive(Debug, Clone, Copy)]
struct Slot {
    template: u32,
    watched_at: i64,
    group: GroupRef,
}

/// Rewatch mode: one pushed play, in arrival order.
#[derive(Debug, Clone, Copy)]
struct PlayRec {
    template: u32,
    /// Arrival index of the next play of the same group ([`NONE`]: none), set by `finish`.
    next: u32,
    watched_at: i64,
    group: GroupRef,
}

/// Collects items into an index, one history row at a time.
///
/// Memory: each distinct item is held once (a [`TemplateId`]); a play costs a few words.
/// Collapsed mode keeps one slot per canonical key plus one small entry per group. Rewatch
/// mode only appends `(template, time, group)` per play and settles equal event keys and
/// re-read groups in [`IndexBuilder::finish_index`], exactly as if each play had been put
/// into a map on arrival (see there).
pub struct IndexBuilder {
    mode: Mode,
    templates: Vec<Template>,
    keys: Keys,
    /// Collapsed: by canonical key id.
    slots: Vec<Slot>,
    /// Collapsed: where each group's play went (its slot may since belong to another group).
    groups: FxHashMap<GroupRef, u32>,
    /// Collapsed: occupied slots.
    held: usize,
    /// Rewatch: every play, in arrival order.
    plays: Vec<PlayRec>,
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
            templates: Vec::new(),
            keys: Keys::default(),
            slots: Vec::new(),
            groups: HashMap::default(),
            held: 0,
            plays: Vec::new(),
            report: Report::new(mode),
        }
    }

    /// The report so far (the reader fills pages, metadata calls and completeness here). In
    /// rewatch mode `superseded` and `replaced` are counted by [`Self::finish_index`].
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

    /// Holds `item` (its `watched_at` is ignored) for plays to share: see
    /// [`Self::push_play`]. `unresolved` lists its plays in the report while they stay in
    /// the index.
    pub fn template(&mut self, mut item: Item, unresolved: Option<UnresolvedReason>) -> TemplateId {
        item.watched_at = 0;
        let base = self.keys.intern(canonical_key(&item));
        let id = u32::try_from(self.templates.len())
            .ok()
            .filter(|id| *id != NONE)
            .expect("fewer than 2^32 - 1 distinct items");
        self.templates.push(Template {
            item,
            base,
            unresolved: unresolved.map(Box::new),
        });
        TemplateId(id)
    }

    /// Adds a play of a held item.
    pub fn push_play(&mut self, template: TemplateId, watched_at: i64, group: GroupRef) {
        self.report.rows_seen += 1;
        self.report.plays_kept += 1;
        match self.mode {
            Mode::Collapsed => self.insert_collapsed(template.0, watched_at, group),
            Mode::Rewatch => self.plays.push(PlayRec {
                template: template.0,
                next: NONE,
                watched_at,
                group,
            }),
        }
    }

    fn insert_collapsed(&mut self, template: u32, watched_at: i64, group: GroupRef) {
        let key = self.templates[template as usize].base as usize;
        if self.slots.len() <= key {
            self.slots.resize(
                key + 1,
                Slot {
                    template: NONE,
                    watched_at: 0,
                    group: GroupRef(0),
                },
            );
        }
        if let Some(&old) = self.groups.get(&group) {
            let slot = &mut self.slots[old as usize];
            if slot.template != NONE && slot.group == group {
                slot.template = NONE;
                self.held -= 1;
                self.report.replaced += 1;
            }
        }
        let slot = &mut self.slots[key];
        let new = Slot {
            template,
            watched_at,
            group,
        };
        if slot.template == NONE {
            *slot = new;
            self.held += 1;
        } else {
            self.report.superseded += 1;
            if watched_at > slot.watched_at {
                *slot = new;
            }
        }
        self.groups.insert(group, key as u32);
    }

    /// The finished index and report (items and unresolved filled in).
    ///
    /// Rewatch mode settles the plays here exactly as if each had gone into a map of event
    /// keys on arrival: a play whose group is read again is replaced then (if it held its
    /// key), and a play whose event key is held by an earlier play at that moment is
    /// superseded (the first stays). So: a play holds its key when no earlier play of that
    /// key still holds it, i.e. none whose group's next play arrives later than it; and it
    /// stays in the index when it holds its key and is its group's last play.
    pub fn finish_index(self) -> (Index, Report) {
        let IndexBuilder {
            mode,
            templates,
            keys,
            slots,
            groups,
            plays,
            mut report,
            ..
        } = self;
        drop(groups);
        let entries: Vec<Entry> = match mode {
            Mode::Collapsed => slots
                .into_iter()
                .filter(|s| s.template != NONE)
                .map(|s| Entry {
                    template: s.template,
                    watched_at: s.watched_at,
                })
                .collect(),
            Mode::Rewatch => settle_rewatches(plays, &templates, &mut report),
        };
        report.items = entries.len() as u64;
        let index = Index {
            mode,
            templates,
            keys: keys.names,
            entries,
            heads: Vec::new(),
            next: 0,
            dates: DateCache::new(),
        };
        report.unresolved = index.unresolved();
        (index, report)
    }
}

/// See [`IndexBuilder::finish_index`]. Returns the kept plays ordered by (canonical key,
/// time): deterministic for a given input.
fn settle_rewatches(
    mut plays: Vec<PlayRec>,
    templates: &[Template],
    report: &mut Report,
) -> Vec<Entry> {
    assert!(u32::try_from(plays.len()).is_ok(), "fewer than 2^32 plays");
    // Sort keys packed with the arrival index into one integer: sorting them is fast and
    // touches nothing else. `order` is reused for both sorts.
    let bits = |v: i64| (v as u64 ^ (1 << 63)) as u128; // order-preserving
    let mut order: Vec<u128> = plays
        .iter()
        .enumerate()
        .map(|(i, p)| bits(p.group.0) << 32 | i as u128)
        .collect();
    // Link each play to its group's next one.
    order.sort_unstable();
    for w in order.windows(2) {
        if w[0] >> 32 == w[1] >> 32 {
            plays[w[0] as u32 as usize].next = w[1] as u32;
        }
    }
    // Walk each event key's plays in arrival order.
    let base = |p: &PlayRec| templates[p.template as usize].base;
    for (o, (i, p)) in order.iter_mut().zip(plays.iter().enumerate()) {
        *o = u128::from(base(p)) << 96 | bits(p.watched_at) << 32 | i as u128;
    }
    order.sort_unstable();
    let mut entries = Vec::new();
    let mut holder: Option<(u128, u32)> = None; // (event key bits, its next play)
    for o in order {
        let (key, i) = (o >> 32, o as u32);
        let p = plays[i as usize];
        // The holder is gone once its group's next play has arrived (at or before this one).
        if holder.is_some_and(|(k, next)| k == key && next > i) {
            report.superseded += 1;
            continue;
        }
        holder = Some((key, p.next));
        if p.next != NONE {
            report.replaced += 1;
        } else {
            entries.push(Entry {
                template: p.template,
                watched_at: p.watched_at,
            });
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    use crate::index::identity::ids::{IdKind, Ids};
    use crate::index::identity::keys::event_key;

    use crate::index::item::{build_item, UnresolvedReason};
    use crate::index::metadata::{metadata_need, MetaAnswer, MetaLevel, MetaRequest};
    use crate::index::report::SkipCounts;

    use crate::index::rules::tests::classify;
    use crate::tautulli::rows::HistoryPage;
    use crate::tautulli::rows::Metadata;
    use crate::timefmt::format_utc;

    /// Shortcuts only tests take: a whole item per play, and the index as a sorted list.
    impl IndexBuilder {
        /// Adds a resolved play.
        fn push(&mut self, item: Item, group: GroupRef) {
            let at = item.watched_at;
            let t = self.template(item, None);
            self.push_play(t, at, group);
        }

        /// Adds a play that has no external ID; it is listed in the report while it stays in the
        /// index.
        fn push_unresolved(&mut self, item: Item, group: GroupRef, reason: UnresolvedReason) {
            let at = item.watched_at;
            let t = self.template(item, Some(reason));
            self.push_play(t, at, group);
        }

        /// Adds the outcome of [`crate::index::rules::build_item`].
        fn push_result(&mut self, built: Result<Item, (Item, UnresolvedReason)>, group: GroupRef) {
            match built {
                Ok(item) => self.push(item, group),
                Err((item, reason)) => self.push_unresolved(item, group, reason),
            }
        }

        /// The index in key order, and the final report (items and unresolved filled in).
        fn finish(self) -> (Vec<(String, Item)>, Report) {
            let (index, report) = self.finish_index();
            (index.into_items(), report)
        }
    }

    impl Index {
        /// Every entry as `(key, item)`, in key order.
        fn into_items(self) -> Vec<(String, Item)> {
            let mut items: Vec<(String, Item)> = self
                .entries
                .iter()
                .map(|e| {
                    let mut item = self.templates[e.template as usize].item.clone();
                    item.watched_at = e.watched_at;
                    (self.key(e), item)
                })
                .collect();
            items.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            items
        }
    }

    impl SkipCounts {
        fn total(&self) -> u64 {
            SkipReason::ALL.iter().map(|r| self.get(*r)).sum()
        }
    }

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
        assert_eq!(b.mode, Mode::Rewatch);
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

    /// The original one-map-entry-per-play builder, as the reference for the compact one:
    /// returns the index (key -> (title, watched_at)) and (superseded, replaced).
    fn model(
        mode: Mode,
        pushes: &[(Item, GroupRef)],
    ) -> (BTreeMap<String, (String, i64)>, (u64, u64)) {
        let mut slots: HashMap<String, (Item, GroupRef)> = HashMap::new();
        let mut groups: HashMap<GroupRef, String> = HashMap::new();
        let (mut superseded, mut replaced) = (0, 0);
        for (item, group) in pushes {
            let base = canonical_key(item);
            let key = match mode {
                Mode::Collapsed => base,
                Mode::Rewatch => event_key(&base, item.watched_at),
            };
            if let Some(old) = groups.get(group) {
                if slots.get(old).is_some_and(|s| s.1 == *group) {
                    slots.remove(old);
                    replaced += 1;
                }
            }
            match slots.get_mut(&key) {
                None => {
                    slots.insert(key.clone(), (item.clone(), *group));
                }
                Some(held) => {
                    superseded += 1;
                    if item.watched_at > held.0.watched_at {
                        *held = (item.clone(), *group);
                    }
                }
            }
            groups.insert(*group, key);
        }
        let index = slots
            .into_iter()
            .map(|(k, (i, _))| (k, (i.title.to_string(), i.watched_at)))
            .collect();
        (index, (superseded, replaced))
    }

    /// A tiny deterministic generator (no dependency needed).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }
    }

    #[test]
    fn compact_builder_matches_the_one_entry_per_play_model() {
        let mut rng = Lcg(7);
        for round in 0..400 {
            // Few titles, groups and times, so keys, ties and re-read groups collide often.
            let n = 1 + rng.next(40) as usize;
            let (titles, groups, times) = (1 + rng.next(4), 1 + rng.next(12), 1 + rng.next(6));
            let pushes: Vec<(Item, GroupRef)> = (0..n)
                .map(|i| {
                    let mut m = movie(
                        &(600 + rng.next(titles)).to_string(),
                        rng.next(times) as i64,
                    );
                    m.title = format!("play {i}").into();
                    (m, GroupRef(rng.next(groups) as i64))
                })
                .collect();
            for mode in [Mode::Collapsed, Mode::Rewatch] {
                let mut b = if mode == Mode::Rewatch {
                    rewatch()
                } else {
                    collapsed()
                };
                for (item, group) in &pushes {
                    b.push(item.clone(), *group);
                }
                let (index, report) = b.finish();
                let got: BTreeMap<String, (String, i64)> = index
                    .into_iter()
                    .map(|(k, i)| (k, (i.title.to_string(), i.watched_at)))
                    .collect();
                let (want, (superseded, replaced)) = model(mode, &pushes);
                assert_eq!(got, want, "round {round} {mode:?}: {pushes:?}");
                assert_eq!(
                    (report.superseded, report.replaced, report.items),
                    (superseded, replaced, want.len() as u64),
                    "round {round} {mode:?}"
                );
                assert_eq!(report.plays_kept, n as u64);
            }
        }
    }

    #[test]
    fn batches_hand_out_every_entry_once_with_engine_json() {
        for mut b in [collapsed(), rewatch()] {
            for (g, (id, at)) in [("603", 5), ("550", 7), ("603", 9), ("1", 1)]
                .iter()
                .enumerate()
            {
                b.push(movie(id, *at), GroupRef(g as i64));
            }
            let (mut index, _) = b.finish_index();
            let total = index.len();
            let mut got = Vec::new();
            while index.remaining() > 0 {
                let batch = index.next_batch(2);
                assert!(!batch.is_empty() && batch.len() <= 2);
                got.extend(batch);
            }
            assert!(index.next_batch(2).is_empty());
            assert_eq!(got.len(), total);
            for (key, json) in &got {
                let v: serde_json::Value = serde_json::from_str(json).unwrap();
                let at = crate::timefmt::parse_utc(v["watched_at"].as_str().unwrap()).unwrap();
                let tmdb = v["ids"]["tmdb"].as_str().unwrap();
                let want = match index.mode {
                    Mode::Collapsed => format!("tmdb:{tmdb}"),
                    Mode::Rewatch => format!("tmdb:{tmdb}@{at}"),
                };
                assert_eq!(key, &want);
                assert_eq!(json, &movie(tmdb, at).to_json());
            }
        }
    }

    #[test]
    fn times_are_written_as_format_utc_writes_them() {
        let mut dates = DateCache::new();
        for v in [
            0,
            -1,
            59,
            86_399,
            86_400,
            -86_401,
            1_794_349_020,
            i64::MAX,
            i64::MIN,
            253_402_300_800, // year 10000
            -62_167_219_201, // before year 0
        ] {
            if v.checked_abs().is_some_and(|a| a < 1 << 50) {
                for _ in 0..2 {
                    let mut t = String::from("x");
                    dates.push_utc(&mut t, v);
                    assert_eq!(t, format!("x{}", format_utc(v)), "{v}");
                }
            }
        }
        // Days sharing a slot do not mix.
        let a = 5 * 86_400 + 3_661;
        let b = a + DateCache::SLOTS as i64 * 86_400;
        for v in [a, b, a] {
            let mut t = String::new();
            dates.push_utc(&mut t, v);
            assert_eq!(t, format_utc(v));
        }
        let mut b = rewatch();
        b.push(movie("603", -5), GroupRef(1));
        let (mut index, _) = b.finish_index();
        assert_eq!(index.next_batch(1)[0].0, event_key("tmdb:603", -5));
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
            r#""skipped":{"partial":2,"live":1,"other_media_type":0,"no_season_episode":0,"no_time":0,"in_progress":0,"no_rating_key":0,"bad_time":0},"#,
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

    /// Every item the plugin emits is one the Tracker accepts, whatever the rows were.
    mod props {
        use proptest::prelude::*;
        use serde_json::Value;

        use super::*;
        use crate::index::identity::ids::IdKind;
        use crate::index::rules::{complete, precheck, TimeField};
        use crate::tautulli::rows::HistoryRow;
        use crate::testutil::gen::{guid_text, history_row};
        use crate::timefmt::{parse_utc, TIME_RANGE};

        /// What the Tracker checks before it stores an item (restated: the plugin does not
        /// link the host), and what the plugin promises on top: a non-empty, lower-case key;
        /// a JSON object whose `watched_at` is `YYYY-MM-DDTHH:MM:SSZ` within [`TIME_RANGE`];
        /// titles without control characters (nor escape sequences) or surrounding space;
        /// `ids`/`show_ids` of known kinds whose values are strings (digits only for numeric
        /// kinds, `tt` + digits for IMDb, no control characters); an event key ending in
        /// its play's epoch.
        pub(crate) fn tracker_accepts(mode: Mode, key: &str, json: &str) -> Result<(), String> {
            if key.is_empty() || key != key.to_lowercase() {
                return Err(format!("key {key:?} is empty or not lower-case"));
            }
            let v: Value = serde_json::from_str(json).map_err(|e| format!("{e}: {json}"))?;
            let obj = v.as_object().ok_or("not an object")?;
            let at = obj
                .get("watched_at")
                .and_then(Value::as_str)
                .ok_or("no watched_at")?;
            let t = parse_utc(at).ok_or_else(|| format!("watched_at {at:?}"))?;
            if !TIME_RANGE.contains(&t) {
                return Err(format!("watched_at {at:?} out of range"));
            }
            if mode == Mode::Rewatch && !key.ends_with(&format!("@{t}")) {
                return Err(format!("event key {key:?} for {at}"));
            }
            match obj.get("type").and_then(Value::as_str) {
                Some("movie" | "episode") => {}
                other => return Err(format!("type {other:?}")),
            }
            for field in ["title", "series_title"] {
                if let Some(text) = obj.get(field).and_then(Value::as_str) {
                    if text.chars().any(char::is_control) || text.trim() != text {
                        return Err(format!("{field} {text:?}"));
                    }
                }
            }
            for field in ["ids", "show_ids"] {
                let Some(ids) = obj.get(field) else { continue };
                for (kind, value) in ids.as_object().ok_or("ids not an object")? {
                    let kind = IdKind::parse(kind)
                        .filter(|k| k.as_str() == kind)
                        .ok_or_else(|| format!("unknown id kind {kind:?}"))?;
                    let value = value.as_str().ok_or_else(|| format!("{kind}: {value}"))?;
                    let digits = |d: &str| {
                        !d.is_empty()
                            && d.bytes().all(|b| b.is_ascii_digit())
                            && d.bytes().any(|b| b != b'0')
                    };
                    let ok = match kind {
                        IdKind::Imdb => value.strip_prefix("tt").is_some_and(digits),
                        IdKind::Guid | IdKind::Slug => {
                            !value.is_empty()
                                && value.trim() == value
                                && !value.chars().any(char::is_control)
                        }
                        _ => digits(value),
                    };
                    if !ok {
                        return Err(format!("{field}.{kind} = {value:?}"));
                    }
                }
            }
            Ok(())
        }

        fn policy() -> impl Strategy<Value = Policy> {
            (
                any::<bool>(),
                0u8..=100,
                any::<bool>(),
                prop::sample::select(TimeField::ALL.to_vec()),
                any::<bool>(),
            )
                .prop_map(
                    |(watched_only, min_percent, include_live, watched_at, rewatches)| Policy {
                        watched_only,
                        min_percent,
                        include_live,
                        watched_at,
                        rewatches,
                    },
                )
        }

        /// A `get_metadata` answer: deleted or a guid list of any shape.
        fn answer() -> impl Strategy<Value = MetaAnswer> {
            prop_oneof![
                1 => Just(MetaAnswer::Deleted),
                4 => (
                    prop::collection::vec(guid_text(), 0..4),
                    prop::option::of(guid_text()),
                    prop::sample::select(vec!["movie", "show", "episode", "season"]),
                )
                    .prop_map(|(guids, guid, media_type)| {
                        let meta = Metadata {
                            media_type: Some(media_type.into()),
                            rating_key: Some(1),
                            guid: guid.clone(),
                            grandparent_guid: guid,
                            guids: guids.clone(),
                            grandparent_guids: guids,
                            ..Metadata::default()
                        };
                        MetaAnswer::from_metadata(&meta, MetaLevel::Movie)
                    }),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(384))]

            #[test]
            fn every_item_emitted_is_one_the_tracker_accepts(
                rows in prop::collection::vec(history_row(), 1..10),
                policy in policy(),
                answers in prop::collection::vec(answer(), 1..4),
            ) {
                let mut builder = IndexBuilder::new(&policy);
                let mut pushed = 0u64;
                for json in &rows {
                    // A refused row fails its page: never an item.
                    let Ok(row) = serde_json::from_value::<HistoryRow>(json.clone()) else {
                        continue;
                    };
                    pushed += 1;
                    let play = precheck(&row, &policy).and_then(|a| complete(&row, a));
                    let play = match play {
                        Ok(p) => p,
                        Err(reason) => {
                            builder.skip(reason);
                            continue;
                        }
                    };
                    prop_assert!(TIME_RANGE.contains(&play.watched_at), "{}", json);
                    let meta = metadata_need(&play).map(|r| {
                        &answers[r.rating_key.unsigned_abs() as usize % answers.len()]
                    });
                    let built = build_item(&play, meta);
                    let item = match &built {
                        Ok(i) | Err((i, _)) => i,
                    };
                    let key = canonical_key(item);
                    prop_assert!(!key.is_empty() && key == key.to_lowercase(), "{}", key);
                    builder.push_result(built, play.group);
                }
                let mode = builder.mode;
                let (mut index, report) = builder.finish_index();
                prop_assert_eq!(report.rows_seen, pushed);
                prop_assert_eq!(report.skipped.total() + report.plays_kept, pushed);
                let batch = index.next_batch(usize::MAX);
                prop_assert_eq!(batch.len() as u64, report.items);
                for (key, json) in &batch {
                    if let Err(why) = tracker_accepts(mode, key, json) {
                        prop_assert!(false, "{}: {} ({})", key, why, json);
                    }
                }
            }
        }
    }
}
