//! `get_metadata`: one item at one level (movie, show, season, episode) in the shape of the
//! real answer, numbers as strings. Each `*guids` list belongs to exactly one level, which is
//! the point of modelling this faithfully: clients must not mix a season's IDs into a show's.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::catalog::{thumb_path, Catalog, Node};
use crate::scenario::{ItemCommon, Library, Scenario};

/// The guids list `get_metadata` reports for a level: legacy agents (anything but `plex://`)
/// give `[]`.
fn level_guids(c: &ItemCommon) -> &[String] {
    let plex = c
        .guid
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("plex://"));
    if plex {
        &c.guids
    } else {
        &[]
    }
}

fn opt_num(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The `data` of a `get_metadata` answer for a live item.
#[derive(Debug, Default)]
pub struct MetadataOut<'a> {
    media_type: &'static str,
    section_id: i64,
    library_name: &'a str,
    rating_key: i64,
    parent_rating_key: Option<i64>,
    grandparent_rating_key: Option<i64>,
    title: &'a str,
    parent_title: &'a str,
    grandparent_title: &'a str,
    original_title: &'a str,
    media_index: Option<i64>,
    parent_media_index: Option<i64>,
    content_rating: &'a str,
    /// Seconds; written in milliseconds like Plex.
    duration: Option<i64>,
    year: Option<i64>,
    parent_year: Option<i64>,
    grandparent_year: Option<i64>,
    thumb: String,
    parent_thumb: String,
    grandparent_thumb: String,
    originally_available_at: &'a str,
    guid: &'a str,
    parent_guid: &'a str,
    grandparent_guid: &'a str,
    guids: &'a [String],
    parent_guids: &'a [String],
    grandparent_guids: &'a [String],
    full_title: String,
    children_count: usize,
    live: bool,
}

impl Serialize for MetadataOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let empty: &[String] = &[];
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("media_type", self.media_type)?;
        m.serialize_entry("section_id", &self.section_id.to_string())?;
        m.serialize_entry("library_name", self.library_name)?;
        m.serialize_entry("rating_key", &self.rating_key.to_string())?;
        m.serialize_entry("parent_rating_key", &opt_num(self.parent_rating_key))?;
        m.serialize_entry(
            "grandparent_rating_key",
            &opt_num(self.grandparent_rating_key),
        )?;
        m.serialize_entry("title", self.title)?;
        m.serialize_entry("parent_title", self.parent_title)?;
        m.serialize_entry("grandparent_title", self.grandparent_title)?;
        m.serialize_entry("original_title", self.original_title)?;
        for k in [
            "sort_title",
            "edition_title",
            "slug",
            "parent_slug",
            "grandparent_slug",
        ] {
            m.serialize_entry(k, "")?;
        }
        m.serialize_entry("media_index", &opt_num(self.media_index))?;
        m.serialize_entry("parent_media_index", &opt_num(self.parent_media_index))?;
        m.serialize_entry("studio", "")?;
        m.serialize_entry("content_rating", self.content_rating)?;
        for k in [
            "summary",
            "tagline",
            "rating",
            "rating_image",
            "audience_rating",
            "audience_rating_image",
            "user_rating",
        ] {
            m.serialize_entry(k, "")?;
        }
        m.serialize_entry("duration", &opt_num(self.duration.map(|d| d * 1000)))?;
        m.serialize_entry("year", &opt_num(self.year))?;
        m.serialize_entry("parent_year", &opt_num(self.parent_year))?;
        m.serialize_entry("grandparent_year", &opt_num(self.grandparent_year))?;
        m.serialize_entry("thumb", &self.thumb)?;
        m.serialize_entry("parent_thumb", &self.parent_thumb)?;
        m.serialize_entry("grandparent_thumb", &self.grandparent_thumb)?;
        m.serialize_entry("art", "")?;
        m.serialize_entry("banner", "")?;
        m.serialize_entry("originally_available_at", self.originally_available_at)?;
        for k in ["added_at", "updated_at", "last_viewed_at"] {
            m.serialize_entry(k, "")?;
        }
        m.serialize_entry("guid", self.guid)?;
        m.serialize_entry("parent_guid", self.parent_guid)?;
        m.serialize_entry("grandparent_guid", self.grandparent_guid)?;
        for k in [
            "directors",
            "writers",
            "actors",
            "genres",
            "labels",
            "collections",
        ] {
            m.serialize_entry(k, empty)?;
        }
        m.serialize_entry("guids", self.guids)?;
        m.serialize_entry("markers", empty)?;
        m.serialize_entry("parent_guids", self.parent_guids)?;
        m.serialize_entry("grandparent_guids", self.grandparent_guids)?;
        m.serialize_entry("full_title", &self.full_title)?;
        m.serialize_entry("children_count", &self.children_count)?;
        m.serialize_entry("live", &u8::from(self.live))?;
        m.serialize_entry("media_info", empty)?;
        m.end()
    }
}

fn library(s: &Scenario, section_id: i64) -> &str {
    s.libraries
        .iter()
        .find(|l: &&Library| l.section_id == section_id)
        .map(|l| l.section_name.as_str())
        .unwrap_or("")
}

/// The metadata of `rating_key`, or `None` when Tautulli answers `{}` (deleted, unknown, or a
/// Live TV programme that is not in any library).
pub fn lookup<'a>(s: &'a Scenario, c: &Catalog, rating_key: i64) -> Option<MetadataOut<'a>> {
    if c.is_deleted(rating_key) {
        return None;
    }
    Some(match c.node(rating_key)? {
        Node::Movie(i) => {
            let m = &s.movies[i];
            if m.live {
                return None;
            }
            let x = &m.common;
            MetadataOut {
                media_type: "movie",
                section_id: m.section_id,
                library_name: library(s, m.section_id),
                rating_key,
                title: &x.title,
                original_title: &x.original_title,
                content_rating: &x.content_rating,
                duration: Some(m.duration),
                year: x.year,
                thumb: thumb_path(rating_key),
                originally_available_at: &x.originally_available_at,
                guid: &x.guid,
                guids: level_guids(x),
                full_title: x.title.clone(),
                ..MetadataOut::default()
            }
        }
        Node::Show(si) => {
            let show = &s.shows[si];
            let x = &show.common;
            MetadataOut {
                media_type: "show",
                section_id: show.section_id,
                library_name: library(s, show.section_id),
                rating_key,
                title: &x.title,
                original_title: &x.original_title,
                content_rating: &x.content_rating,
                year: x.year,
                thumb: thumb_path(rating_key),
                originally_available_at: &x.originally_available_at,
                guid: &x.guid,
                guids: level_guids(x),
                full_title: x.title.clone(),
                children_count: show.seasons.len(),
                ..MetadataOut::default()
            }
        }
        Node::Season(si, ssi) => {
            let show = &s.shows[si];
            let season = &show.seasons[ssi];
            let x = &season.common;
            MetadataOut {
                media_type: "season",
                section_id: show.section_id,
                library_name: library(s, show.section_id),
                rating_key,
                parent_rating_key: Some(show.common.rating_key),
                title: &x.title,
                parent_title: &show.common.title,
                content_rating: &show.common.content_rating,
                media_index: season.media_index,
                parent_year: show.common.year,
                thumb: thumb_path(rating_key),
                parent_thumb: thumb_path(show.common.rating_key),
                guid: &x.guid,
                parent_guid: &show.common.guid,
                guids: level_guids(x),
                parent_guids: level_guids(&show.common),
                full_title: format!("{} - {}", show.common.title, x.title),
                children_count: season.episodes.len(),
                ..MetadataOut::default()
            }
        }
        Node::Episode(si, ssi, ei) => {
            let show = &s.shows[si];
            let season = &show.seasons[ssi];
            let e = &season.episodes[ei];
            if e.live {
                return None;
            }
            let x = &e.common;
            MetadataOut {
                media_type: "episode",
                section_id: show.section_id,
                library_name: library(s, show.section_id),
                rating_key,
                parent_rating_key: Some(season.common.rating_key),
                grandparent_rating_key: Some(show.common.rating_key),
                title: &x.title,
                parent_title: &season.common.title,
                grandparent_title: &show.common.title,
                original_title: &x.original_title,
                media_index: e.media_index,
                parent_media_index: season.media_index,
                content_rating: &show.common.content_rating,
                duration: Some(e.duration),
                year: x.year.or(show.common.year),
                grandparent_year: show.common.year,
                thumb: thumb_path(rating_key),
                parent_thumb: thumb_path(season.common.rating_key),
                grandparent_thumb: thumb_path(show.common.rating_key),
                originally_available_at: &x.originally_available_at,
                guid: &x.guid,
                parent_guid: &season.common.guid,
                grandparent_guid: &show.common.guid,
                guids: level_guids(x),
                parent_guids: level_guids(&season.common),
                grandparent_guids: level_guids(&show.common),
                full_title: format!("{} - {}", show.common.title, x.title),
                ..MetadataOut::default()
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(rk: i64) -> serde_json::Value {
        let s = Scenario::reference();
        let c = Catalog::new(&s);
        lookup(&s, &c, rk)
            .map(|m| serde_json::to_value(&m).unwrap())
            .unwrap_or(serde_json::json!({}))
    }

    #[test]
    fn each_level_keeps_its_own_guids() {
        let e = meta(201);
        assert_eq!(e["media_type"], "episode");
        assert_eq!(e["rating_key"], "201");
        assert_eq!(e["duration"], "3480000");
        assert_eq!(e["guids"][0], "imdb://tt0959621");
        assert_eq!(e["parent_guids"], serde_json::json!(["tvdb://30272"]));
        assert_eq!(e["grandparent_guids"][1], "tmdb://1396");
        let season = meta(200);
        assert_eq!(season["media_type"], "season");
        assert_eq!(season["guids"], serde_json::json!(["tvdb://30272"]));
        assert_eq!(season["parent_guids"][1], "tmdb://1396");
        let show = meta(199);
        assert_eq!(show["media_type"], "show");
        assert_eq!(show["guids"][0], "imdb://tt0903747");
    }

    #[test]
    fn legacy_agents_have_no_guid_lists_and_unknown_keys_are_empty() {
        let legacy = meta(102);
        assert_eq!(
            legacy["guid"],
            "com.plexapp.agents.imdb://tt0111161?lang=en"
        );
        assert_eq!(legacy["guids"], serde_json::json!([]));
        assert_eq!(meta(123_456), serde_json::json!({}));
    }
}
