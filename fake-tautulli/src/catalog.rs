//! The scenario's items resolved into lookup tables: what Tautulli stores per play in
//! `session_history_metadata` (titles, keys, numbers, guid) and where each rating key lives in
//! the show -> season -> episode tree for `get_metadata`.

use std::collections::{HashMap, HashSet};

use crate::scenario::{Scenario, User};

/// `movie` or `episode`: the media types a history row can carry here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    Movie,
    Episode,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Movie => "movie",
            MediaType::Episode => "episode",
        }
    }
}

/// Everything a history row shows about the played item.
#[derive(Debug, Clone)]
pub struct PlayItem {
    pub rating_key: i64,
    pub media_type: MediaType,
    pub parent_rating_key: Option<i64>,
    pub grandparent_rating_key: Option<i64>,
    pub title: String,
    pub parent_title: String,
    pub grandparent_title: String,
    pub full_title: String,
    pub original_title: String,
    pub year: Option<i64>,
    pub media_index: Option<i64>,
    pub parent_media_index: Option<i64>,
    /// Tautulli shows the season's poster for episodes, the item's own otherwise.
    pub thumb: String,
    pub originally_available_at: String,
    pub guid: String,
    /// Runtime in seconds (`order_column=duration` sorts by this).
    pub duration: i64,
    pub section_id: i64,
    pub live: bool,
}

/// Where a rating key sits in the scenario (indexes into `movies` / `shows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Movie(usize),
    Show(usize),
    Season(usize, usize),
    Episode(usize, usize, usize),
}

/// Lookup tables built once per scenario.
#[derive(Debug, Default)]
pub struct Catalog {
    pub items: Vec<PlayItem>,
    by_key: HashMap<i64, u32>,
    nodes: HashMap<i64, Node>,
    users: HashMap<i64, usize>,
    /// Rating keys `get_metadata` answers `{}` for (deleted shows take their children along).
    deleted: HashSet<i64>,
}

/// A Plex-style thumb path; the timestamp is fixed so answers stay deterministic.
pub fn thumb_path(rating_key: i64) -> String {
    format!("/library/metadata/{rating_key}/thumb/1600000000")
}

impl Catalog {
    pub fn new(s: &Scenario) -> Catalog {
        let mut c = Catalog::default();
        for (i, m) in s.movies.iter().enumerate() {
            let rk = m.common.rating_key;
            c.nodes.insert(rk, Node::Movie(i));
            c.push(PlayItem {
                rating_key: rk,
                media_type: MediaType::Movie,
                parent_rating_key: None,
                grandparent_rating_key: None,
                title: m.common.title.clone(),
                parent_title: String::new(),
                grandparent_title: String::new(),
                full_title: m.common.title.clone(),
                original_title: m.common.original_title.clone(),
                year: m.common.year,
                media_index: None,
                parent_media_index: None,
                thumb: thumb_path(rk),
                originally_available_at: m.common.originally_available_at.clone(),
                guid: m.common.guid.clone(),
                duration: m.duration,
                section_id: m.section_id,
                live: m.live,
            });
        }
        for (si, show) in s.shows.iter().enumerate() {
            c.nodes.insert(show.common.rating_key, Node::Show(si));
            for (ssi, season) in show.seasons.iter().enumerate() {
                c.nodes
                    .insert(season.common.rating_key, Node::Season(si, ssi));
                for (ei, e) in season.episodes.iter().enumerate() {
                    let rk = e.common.rating_key;
                    c.nodes.insert(rk, Node::Episode(si, ssi, ei));
                    c.push(PlayItem {
                        rating_key: rk,
                        media_type: MediaType::Episode,
                        parent_rating_key: Some(season.common.rating_key),
                        grandparent_rating_key: Some(show.common.rating_key),
                        title: e.common.title.clone(),
                        parent_title: season.common.title.clone(),
                        grandparent_title: show.common.title.clone(),
                        full_title: format!("{} - {}", show.common.title, e.common.title),
                        original_title: e.common.original_title.clone(),
                        year: e.common.year.or(show.common.year),
                        media_index: e.media_index,
                        parent_media_index: season.media_index,
                        thumb: thumb_path(season.common.rating_key),
                        originally_available_at: e.common.originally_available_at.clone(),
                        guid: e.common.guid.clone(),
                        duration: e.duration,
                        section_id: show.section_id,
                        live: e.live,
                    });
                }
            }
        }
        for (i, u) in s.users.iter().enumerate() {
            c.users.insert(u.user_id, i);
        }
        for &rk in &s.deleted {
            c.deleted.insert(rk);
            match c.nodes.get(&rk) {
                Some(Node::Show(si)) => {
                    for season in &s.shows[*si].seasons {
                        c.deleted.insert(season.common.rating_key);
                        c.deleted
                            .extend(season.episodes.iter().map(|e| e.common.rating_key));
                    }
                }
                Some(Node::Season(si, ssi)) => {
                    let season = &s.shows[*si].seasons[*ssi];
                    c.deleted
                        .extend(season.episodes.iter().map(|e| e.common.rating_key));
                }
                _ => {}
            }
        }
        c
    }

    fn push(&mut self, item: PlayItem) {
        self.by_key.insert(item.rating_key, self.items.len() as u32);
        self.items.push(item);
    }

    /// Index into `items` of a playable rating key.
    pub fn item_index(&self, rating_key: i64) -> Option<u32> {
        self.by_key.get(&rating_key).copied()
    }

    pub fn node(&self, rating_key: i64) -> Option<Node> {
        self.nodes.get(&rating_key).copied()
    }

    pub fn is_deleted(&self, rating_key: i64) -> bool {
        self.deleted.contains(&rating_key)
    }

    pub fn user<'a>(&self, s: &'a Scenario, user_id: i64) -> Option<&'a User> {
        self.users.get(&user_id).map(|&i| &s.users[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episodes_resolve_their_parents() {
        let s = Scenario::reference();
        let c = Catalog::new(&s);
        let e = &c.items[c.item_index(201).unwrap() as usize];
        assert_eq!(e.media_type, MediaType::Episode);
        assert_eq!(e.parent_rating_key, Some(200));
        assert_eq!(e.grandparent_rating_key, Some(199));
        assert_eq!(e.full_title, "Breaking Bad - Pilot");
        assert_eq!(e.thumb, thumb_path(200));
        assert_eq!(c.node(200), Some(Node::Season(0, 0)));
        assert!(c.item_index(199).is_none(), "a show is not playable");
    }
}
