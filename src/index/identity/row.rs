//! Which item a history row is about, and the cache of identities already seen, so a
//! million-play history builds each distinct item once.

use std::collections::HashMap;

use crate::hash::FxHashMap;
use crate::index::rules::{item_title, series_title, Accepted};
use crate::tautulli::rows::HistoryRow;
use crate::tautulli::rows::MediaKind;

/// Every row field [`complete`](crate::index::rules::complete) reads, as it reads them: rows with equal identities (and
/// equal metadata answers) give equal plays but for time and group, hence equal items. A
/// million-play history has far fewer identities than rows, so the caller builds each
/// item once ([`IdentityCache`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity<'a> {
    pub kind: MediaKind,
    pub rating_key: i64,
    pub parent_rating_key: Option<i64>,
    pub grandparent_rating_key: Option<i64>,
    pub parent_media_index: Option<i64>,
    pub media_index: Option<i64>,
    pub year: Option<i64>,
    /// The title [`Play::title`](crate::index::rules::Play::title) is made of.
    pub title: Option<&'a str>,
    /// The show title [`Play::series_title`](crate::index::rules::Play::series_title) is made of.
    pub series_title: Option<&'a str>,
    pub guid: Option<&'a str>,
}

/// The [`Identity`] of a row that passed [`precheck`](crate::index::rules::precheck).
pub fn identity<'a>(row: &'a HistoryRow, accepted: &Accepted) -> Identity<'a> {
    Identity {
        kind: accepted.kind,
        rating_key: accepted.rating_key,
        parent_rating_key: row.parent_rating_key,
        grandparent_rating_key: row.grandparent_rating_key,
        parent_media_index: row.parent_media_index,
        media_index: row.media_index,
        year: row.year,
        title: item_title(row, accepted.kind),
        series_title: series_title(row, accepted.kind),
        guid: row.guid.as_deref(),
    }
}

/// An owned [`Identity`], its three texts packed into one allocation (one cache miss to
/// compare, not three).
#[derive(Debug, Clone, PartialEq, Eq)]
struct OwnedIdentity {
    kind: MediaKind,
    rating_key: i64,
    parent_rating_key: Option<i64>,
    grandparent_rating_key: Option<i64>,
    parent_media_index: Option<i64>,
    media_index: Option<i64>,
    year: Option<i64>,
    /// Byte length of title, series title and guid in `texts`; [`ABSENT`] for `None`.
    lens: [u32; 3],
    texts: Box<str>,
}

/// An absent text in [`OwnedIdentity::lens`].
const ABSENT: u32 = u32::MAX;

impl OwnedIdentity {
    fn texts<'a>(id: &Identity<'a>) -> [Option<&'a str>; 3] {
        [id.title, id.series_title, id.guid]
    }

    /// `None` when a text is too long to pack (such an identity is not cached).
    fn new(id: &Identity<'_>) -> Option<OwnedIdentity> {
        let mut lens = [ABSENT; 3];
        let mut texts = String::new();
        for (len, t) in lens.iter_mut().zip(Self::texts(id)) {
            if let Some(t) = t {
                *len = u32::try_from(t.len()).ok().filter(|l| *l != ABSENT)?;
                texts.push_str(t);
            }
        }
        Some(OwnedIdentity {
            kind: id.kind,
            rating_key: id.rating_key,
            parent_rating_key: id.parent_rating_key,
            grandparent_rating_key: id.grandparent_rating_key,
            parent_media_index: id.parent_media_index,
            media_index: id.media_index,
            year: id.year,
            lens,
            texts: texts.into_boxed_str(),
        })
    }

    fn matches(&self, id: &Identity<'_>) -> bool {
        if self.kind != id.kind
            || self.rating_key != id.rating_key
            || self.parent_rating_key != id.parent_rating_key
            || self.grandparent_rating_key != id.grandparent_rating_key
            || self.parent_media_index != id.parent_media_index
            || self.media_index != id.media_index
            || self.year != id.year
        {
            return false;
        }
        let texts = Self::texts(id);
        let len = |t: Option<&str>| t.map_or(ABSENT, |t| t.len() as u32);
        if self.lens.iter().zip(texts).any(|(l, t)| *l != len(t)) {
            return false;
        }
        let mut at = 0;
        for t in texts.into_iter().flatten() {
            if self.texts.as_bytes()[at..at + t.len()] != *t.as_bytes() {
                return false;
            }
            at += t.len();
        }
        true
    }
}

/// Identities seen, each with what it became (`V`), looked up without allocating. Entries
/// are chained per rating key (almost always one identity per key).
#[derive(Debug)]
pub struct IdentityCache<V> {
    first: FxHashMap<i64, u32>,
    entries: Vec<(OwnedIdentity, V, u32)>,
}

/// Ends a chain.
const END: u32 = u32::MAX;

/// Identities kept per rating key at most; more are simply not cached.
const MAX_CHAIN: usize = 64;

impl<V> Default for IdentityCache<V> {
    fn default() -> Self {
        IdentityCache {
            first: HashMap::default(),
            entries: Vec::new(),
        }
    }
}

impl<V: Copy> IdentityCache<V> {
    /// Identities held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn get(&self, id: &Identity<'_>) -> Option<V> {
        let mut at = *self.first.get(&id.rating_key)?;
        while at != END {
            let (owned, value, next) = &self.entries[at as usize];
            if owned.matches(id) {
                return Some(*value);
            }
            at = *next;
        }
        None
    }

    /// Remembers `value` for `id` (which must not be cached yet).
    pub fn insert(&mut self, id: &Identity<'_>, value: V) {
        let Ok(at) = u32::try_from(self.entries.len()) else {
            return;
        };
        if at == END {
            return;
        }
        let next = self.first.get(&id.rating_key).copied().unwrap_or(END);
        let mut len = 0;
        let mut walk = next;
        while walk != END {
            len += 1;
            walk = self.entries[walk as usize].2;
        }
        if len >= MAX_CHAIN {
            return;
        }
        let Some(owned) = OwnedIdentity::new(id) else {
            return;
        };
        self.entries.push((owned, value, next));
        self.first.insert(id.rating_key, at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident<'a>(
        title: Option<&'a str>,
        series: Option<&'a str>,
        guid: Option<&'a str>,
    ) -> Identity<'a> {
        Identity {
            kind: MediaKind::Episode,
            rating_key: 201,
            parent_rating_key: Some(200),
            grandparent_rating_key: Some(199),
            parent_media_index: Some(1),
            media_index: Some(1),
            year: None,
            title,
            series_title: series,
            guid,
        }
    }

    #[test]
    fn identity_cache_tells_every_field_apart() {
        let mut cache: IdentityCache<u32> = IdentityCache::default();
        let base = ident(Some("ab"), Some("c"), Some("g"));
        cache.insert(&base, 1);
        assert_eq!(cache.get(&base), Some(1));
        // The same bytes split differently, or a text missing instead of empty.
        for other in [
            ident(Some("a"), Some("bc"), Some("g")),
            ident(Some("ab"), Some("c"), None),
            ident(Some("ab"), Some("c"), Some("")),
            ident(Some("ab"), None, Some("cg")),
            Identity {
                year: Some(2008),
                ..base
            },
            Identity {
                media_index: Some(2),
                ..base
            },
            Identity {
                kind: MediaKind::Movie,
                ..base
            },
        ] {
            assert_eq!(cache.get(&other), None, "{other:?}");
            cache.insert(&other, 2);
            assert_eq!(cache.get(&other), Some(2), "{other:?}");
        }
        assert_eq!(cache.get(&base), Some(1));
        assert_eq!(cache.len(), 8);
        // Another rating key starts its own chain.
        let elsewhere = Identity {
            rating_key: 7,
            ..base
        };
        assert_eq!(cache.get(&elsewhere), None);
    }
}
