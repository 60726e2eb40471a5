//! What the unit tests share: a counting allocator ([`alloc`]), generators of what a
//! Tautulli may send ([`gen`]), and constructors only tests need.

#[allow(unsafe_code)]
pub mod alloc;
pub mod gen;

use std::sync::Arc;

use crate::index::identity::ids::Ids;
use crate::index::item::Item;
use crate::tautulli::rows::MediaKind;

impl Item {
    /// A movie with no IDs yet.
    pub fn movie(title: &str, year: Option<i32>, watched_at: i64) -> Item {
        Item {
            kind: MediaKind::Movie,
            title: title.into(),
            year,
            season: None,
            episode: None,
            series_title: None,
            ids: Ids::new(),
            show_ids: Ids::new(),
            watched_at,
        }
    }

    /// An episode with no IDs yet.
    pub fn episode(
        series_title: Option<Arc<str>>,
        title: &str,
        year: Option<i32>,
        season: u32,
        episode: u32,
        watched_at: i64,
    ) -> Item {
        Item {
            kind: MediaKind::Episode,
            title: title.into(),
            year,
            season: Some(season),
            episode: Some(episode),
            series_title,
            ids: Ids::new(),
            show_ids: Ids::new(),
            watched_at,
        }
    }

    /// The engine's JSON form of one play (the index writes it from a shared head).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an Item is always valid JSON")
    }
}
