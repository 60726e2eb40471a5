//! A finished index, handed out in bounded batches of `(key, item JSON)`.

use std::sync::Arc;

use crate::index::builder::Template;
use crate::index::identity::ids::IdKind;
use crate::index::identity::keys::event_key;
use crate::index::item::Item;
use crate::index::report::{Mode, UnresolvedEntry};
use crate::tautulli::rows::MediaKind;
use crate::timefmt::format_utc;

/// One entry of a finished index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) template: u32,
    pub(crate) watched_at: i64,
}

/// A finished index, handed out in batches: keys and JSON are built only for the batch at
/// hand, each item's JSON from its template's serialised head.
pub struct Index {
    pub(crate) mode: Mode,
    pub(crate) templates: Vec<Template>,
    pub(crate) keys: Vec<Arc<str>>,
    pub(crate) entries: Vec<Entry>,
    /// Each template's [`Item::json_head`], made on first use.
    pub(crate) heads: Vec<Option<Box<str>>>,
    /// Entries handed out so far.
    pub(crate) next: usize,
    pub(crate) dates: DateCache,
}

/// [`format_utc`] for many times: each day's `YYYY-MM-DDT` is made by `format_utc` once
/// (a history spans few days compared with its plays), the time of day is written here.
pub(crate) struct DateCache {
    /// Direct-mapped by day: (day, its date part up to and including `T`).
    pub(crate) slots: Vec<Option<(i64, Box<str>)>>,
}

impl DateCache {
    pub(crate) const SLOTS: usize = 4096;

    pub(crate) fn new() -> DateCache {
        DateCache {
            slots: vec![None; Self::SLOTS],
        }
    }

    /// Appends `format_utc(epoch)`.
    pub(crate) fn push_utc(&mut self, out: &mut String, epoch: i64) {
        let day = epoch.div_euclid(86_400);
        let secs = epoch.rem_euclid(86_400);
        let slot = &mut self.slots[day.rem_euclid(Self::SLOTS as i64) as usize];
        if slot.as_ref().is_none_or(|(d, _)| *d != day) {
            let full = format_utc(day * 86_400);
            let date = &full[..=full.find('T').expect("format_utc writes a T")];
            *slot = Some((day, date.into()));
        }
        out.push_str(&slot.as_ref().expect("just filled").1);
        for (i, v) in [secs / 3_600, secs % 3_600 / 60, secs % 60]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                out.push(':');
            }
            out.push(char::from(b'0' + (v / 10) as u8));
            out.push(char::from(b'0' + (v % 10) as u8));
        }
        out.push('Z');
    }
}

impl Index {
    /// Entries in the index.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entries not handed out yet.
    pub fn remaining(&self) -> usize {
        self.entries.len() - self.next
    }

    pub(crate) fn key(&self, e: &Entry) -> String {
        let base = &self.keys[self.templates[e.template as usize].base as usize];
        match self.mode {
            Mode::Collapsed => base.to_string(),
            Mode::Rewatch => event_key(base, e.watched_at),
        }
    }

    /// The next `max` entries as `(key, item JSON)`.
    pub fn next_batch(&mut self, max: usize) -> Vec<(String, String)> {
        if self.heads.len() < self.templates.len() {
            self.heads.resize(self.templates.len(), None);
        }
        let end = self.entries.len().min(self.next.saturating_add(max));
        let mut out = Vec::with_capacity(end - self.next);
        for j in self.next..end {
            let e = self.entries[j];
            let head = self.heads[e.template as usize].get_or_insert_with(|| {
                self.templates[e.template as usize]
                    .item
                    .json_head()
                    .into_boxed_str()
            });
            let mut json = String::with_capacity(head.len() + 36);
            json.push_str(head);
            json.push_str(",\"watched_at\":\"");
            self.dates.push_utc(&mut json, e.watched_at);
            json.push_str("\"}");
            out.push((self.key(&e), json));
        }
        self.next = end;
        out
    }

    /// The unresolved entries, sorted by key.
    pub(crate) fn unresolved(&self) -> Vec<UnresolvedEntry> {
        let mut list: Vec<UnresolvedEntry> = self
            .entries
            .iter()
            .filter_map(|e| {
                let t = &self.templates[e.template as usize];
                let reason = t.unresolved.as_deref()?;
                Some(UnresolvedEntry {
                    key: self.key(e),
                    title: display_title(&t.item),
                    reason: reason.as_str(),
                    message: reason.message(),
                    rating_key: t.item.ids.get(IdKind::Plex).and_then(|v| v.parse().ok()),
                })
            })
            .collect();
        list.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        list
    }
}

fn display_title(item: &Item) -> String {
    match (item.kind, item.series_title.as_deref()) {
        (MediaKind::Episode, Some(show)) => format!("{show} - {}", item.title),
        _ => item.title.to_string(),
    }
}
