//! The engine's history item: what one watched movie or episode looks like in an index.
//!
//! Fields are compact (`Box<str>`, shared `Arc<str>` series titles, packed [`Ids`]) because a
//! whole history, possibly a million plays, is held in memory before it is emitted.

use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::index::identity::ids::Ids;
use crate::timefmt::format_utc;

/// What an item is. Tautulli history also has tracks, clips and photos; the engine's history
/// feature only takes these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Movie,
    Episode,
}

impl MediaKind {
    /// The engine's `type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Movie => "movie",
            MediaKind::Episode => "episode",
        }
    }
}

/// One watched movie or episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub kind: MediaKind,
    /// Movie title, or the episode's own title.
    pub title: Box<str>,
    pub year: Option<i32>,
    /// Episodes only.
    pub season: Option<u32>,
    /// Episodes only.
    pub episode: Option<u32>,
    /// Episodes only: the show's title (shared between the episodes of one show).
    pub series_title: Option<Arc<str>>,
    /// The item's own IDs (the episode's, never its show's or season's).
    pub ids: Ids,
    /// Episodes only: the show's IDs.
    pub show_ids: Ids,
    /// Epoch seconds, UTC.
    pub watched_at: i64,
}

impl Item {
    /// The JSON of this item without its `watched_at` and closing brace, to be finished with
    /// each play's `watched_at` (the index does, when it hands entries out): plays of one title share everything else, so
    /// a million-play index serialises each title once.
    pub fn json_head(&self) -> String {
        let mut json = serde_json::to_string(&Fields(self)).expect("an Item is always valid JSON");
        json.pop(); // the closing brace; the map always holds `type`, so a comma may follow
        json
    }

    /// The item's `watched_at` as the engine writes it (`2026-11-10T22:17:00Z`).
    pub fn watched_at_utc(&self) -> String {
        format_utc(self.watched_at)
    }
}

impl Serialize for Item {
    /// Movie: `type, title, year?, ids, watched_at`. Episode: `type, title, year?, season,
    /// episode, series_title, ids, show_ids, watched_at`. `year` is left out when unknown;
    /// `series_title` is `null` when unknown (an episode always carries the field).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        self.serialize_fields(&mut map)?;
        map.serialize_entry("watched_at", &self.watched_at_utc())?;
        map.end()
    }
}

/// Every field of an item but `watched_at` (see [`Item::json_head`]).
struct Fields<'a>(&'a Item);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        self.0.serialize_fields(&mut map)?;
        map.end()
    }
}

impl Item {
    fn serialize_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        map.serialize_entry("type", self.kind.as_str())?;
        map.serialize_entry("title", &*self.title)?;
        if let Some(year) = self.year {
            map.serialize_entry("year", &year)?;
        }
        if self.kind == MediaKind::Episode {
            map.serialize_entry("season", &self.season)?;
            map.serialize_entry("episode", &self.episode)?;
            map.serialize_entry("series_title", &self.series_title.as_deref())?;
            map.serialize_entry("ids", &self.ids)?;
            map.serialize_entry("show_ids", &self.show_ids)?;
        } else {
            map.serialize_entry("ids", &self.ids)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::identity::ids::IdKind;

    #[test]
    fn movie_shape_matches_the_engine() {
        let mut m = Item::movie("The Matrix", Some(1999), 1_794_349_020);
        for (k, v) in [
            (IdKind::Imdb, "tt0133093"),
            (IdKind::Tmdb, "603"),
            (IdKind::Tvdb, "169"),
            (IdKind::Plex, "101"),
            (IdKind::Guid, "plex://movie/5d7768ba96b655001fdc0408"),
        ] {
            assert!(m.ids.insert(k, v));
        }
        // Stray episode fields on a movie are not written.
        m.season = Some(3);
        m.show_ids.insert(IdKind::Plex, "9");
        assert_eq!(
            m.to_json(),
            r#"{"type":"movie","title":"The Matrix","year":1999,"ids":{"tmdb":"603","imdb":"tt0133093","tvdb":"169","plex":"101","guid":"plex://movie/5d7768ba96b655001fdc0408"},"watched_at":"2026-11-10T22:17:00Z"}"#
        );
    }

    #[test]
    fn episode_shape_matches_the_engine() {
        let series: Arc<str> = Arc::from("Breaking Bad");
        let mut e = Item::episode(
            Some(series.clone()),
            "Pilot",
            Some(2008),
            1,
            1,
            1_794_776_200,
        );
        e.ids.insert(IdKind::Plex, "201");
        e.show_ids.insert(IdKind::Tmdb, "1396");
        e.show_ids.insert(IdKind::Plex, "199");
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "type": "episode", "title": "Pilot", "year": 2008, "season": 1, "episode": 1,
                "series_title": "Breaking Bad",
                "ids": {"plex": "201"},
                "show_ids": {"tmdb": "1396", "plex": "199"},
                "watched_at": "2026-11-15T20:56:40Z"
            })
        );
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert!(keys.contains(&"show_ids") && keys.contains(&"season"));
        // The series title is shared, not copied.
        assert!(Arc::ptr_eq(e.series_title.as_ref().unwrap(), &series));
    }

    #[test]
    fn unknown_year_is_left_out() {
        let m = Item::movie("Birthday 2019", None, 0);
        assert_eq!(
            m.to_json(),
            r#"{"type":"movie","title":"Birthday 2019","ids":{},"watched_at":"1970-01-01T00:00:00Z"}"#
        );
        let e = Item::episode(None, "x", None, 0, 0, 0);
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["series_title"], serde_json::Value::Null);
        assert!(v.get("year").is_none());
        assert_eq!(v["season"], 0);
    }

    #[test]
    fn the_head_finished_with_a_time_is_the_item_json() {
        let mut e = Item::episode(Some(Arc::from("B\"B")), "Pilot", None, 1, 2, 0);
        e.ids.insert(IdKind::Plex, "201");
        let mut m = Item::movie("M", Some(1999), 0);
        m.ids.insert(IdKind::Tmdb, "603");
        for mut item in [e, m] {
            let head = item.json_head();
            for at in [0, 1_794_349_020, -86_401] {
                item.watched_at = at;
                let json = format!("{head},\"watched_at\":\"{}\"}}", format_utc(at));
                assert_eq!(json, item.to_json());
            }
        }
    }

    #[test]
    fn non_ascii_titles_are_kept() {
        let m = Item::movie("Amélie — 天気の子 \"q\"", Some(2001), 0);
        let v: serde_json::Value = serde_json::from_str(&m.to_json()).unwrap();
        assert_eq!(v["title"], "Amélie — 天気の子 \"q\"");
    }
}
