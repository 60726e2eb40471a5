//! The engine's history item: what one watched movie or episode looks like in an index.
//!
//! Fields are compact (`Box<str>`, shared `Arc<str>` series titles, packed [`Ids`]) because a
//! whole history, possibly a million plays, is held in memory before it is emitted.
//!
//! [`build_item`] makes a play's item, each ID at its own level; an item without an external
//! ID still comes out, keyed by its Plex ID, with an [`UnresolvedReason`].

use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::index::identity::guid::{Guid, IdLevel};
use crate::index::identity::ids::{IdKind, Ids};
use crate::index::metadata::MetaAnswer;
use crate::index::rules::Play;
pub use crate::tautulli::rows::MediaKind;
use crate::timefmt::format_utc;

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

/// Why an item could not be resolved to an external ID. The item is still produced, keyed by
/// its Plex ID, so the user sees it and can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnresolvedReason {
    #[error(
        "get_metadata answered {{}} for rating key {rating_key}: item deleted from Plex or \
         Plex unreachable; kept under its Plex ID (check that Plex is up, then re-run)"
    )]
    Deleted { rating_key: i64 },
    #[error(
        "get_metadata for rating key {rating_key} was needed but not looked up; kept under \
         its Plex ID"
    )]
    MetadataMissing { rating_key: i64 },
    #[error(
        "new-agent episode without grandparent_rating_key: its show's IDs cannot be looked \
         up; kept under its Plex ID"
    )]
    NoShowKey,
    #[error(
        "Plex knows no TMDb/IMDb/TVDB ID for rating key {rating_key}; match the item in \
         Plex (Fix Match) to give it one"
    )]
    NoExternalIds { rating_key: i64 },
    #[error(
        "unmatched media (local:// or the none agent): no external ID exists; match the \
         item in Plex to give it one"
    )]
    Unmatched,
    #[error("the history row has no guid; kept under its Plex ID")]
    NoGuid,
    #[error("unknown guid form {0:?}; kept under its Plex ID with the guid as given")]
    UnknownGuid(String),
}

impl UnresolvedReason {
    /// snake_case name for reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            UnresolvedReason::Deleted { .. } => "deleted",
            UnresolvedReason::MetadataMissing { .. } => "metadata_missing",
            UnresolvedReason::NoShowKey => "no_show_key",
            UnresolvedReason::NoExternalIds { .. } => "no_external_ids",
            UnresolvedReason::Unmatched => "unmatched",
            UnresolvedReason::NoGuid => "no_guid",
            UnresolvedReason::UnknownGuid(_) => "unknown_guid",
        }
    }

    /// The human explanation (same as `Display`).
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// Builds the item of a play. `meta` is the answer to [`metadata_need`](crate::index::metadata::metadata_need)'s request (ignored
/// when none was needed).
///
/// IDs never mix levels:
/// - movie `ids`: plex rating key, the guid's ID, or (new agent) the movie's `guids` and its
///   `plex://movie/..` guid;
/// - episode `ids`: the episode's own only: plex rating key, plus its `plex://episode/..`
///   guid (new agent) or an item-level ID of its guid (never seen in practice);
/// - episode `show_ids`: plex = `grandparent_rating_key`, plus the show part of a legacy/HAMA
///   guid or the show's own `get_metadata` IDs (including its `plex://show/..` guid).
///
/// `Err` carries the item anyway (keyed by its Plex ID: `plex:<rk>`, episodes
/// `plex:<show rk>#sXXeYY`) when no external ID was found for the keyed level.
// Both variants hold an `Item` of the same size, and the `Err` is an outcome to record, not
// an error to propagate with `?`: boxing it would only add an allocation.
#[allow(clippy::result_large_err)]
pub fn build_item(
    play: &Play,
    meta: Option<&MetaAnswer>,
) -> Result<Item, (Item, UnresolvedReason)> {
    let mut item = Item {
        kind: play.kind,
        title: play.title.clone(),
        year: play.year,
        season: play.season,
        episode: play.episode,
        series_title: play.series_title.clone(),
        ids: Ids::new(),
        show_ids: Ids::new(),
        watched_at: play.watched_at,
    };
    item.ids.insert(IdKind::Plex, &play.rating_key.to_string());
    if play.kind == MediaKind::Episode {
        if let Some(gp) = play.grandparent_rating_key {
            item.show_ids.insert(IdKind::Plex, &gp.to_string());
        }
    }

    let mut problem = None;
    match &play.guid {
        None => problem = Some(UnresolvedReason::NoGuid),
        Some(g @ Guid::Plex { .. }) => {
            if let Some(p) = g.plex_guid() {
                item.ids.insert(IdKind::Guid, &p);
            }
            problem = match (play.kind, play.grandparent_rating_key) {
                (MediaKind::Movie, _) => apply_meta(&mut item.ids, meta, play.rating_key),
                (MediaKind::Episode, Some(gp)) => apply_meta(&mut item.show_ids, meta, gp),
                (MediaKind::Episode, None) => Some(UnresolvedReason::NoShowKey),
            };
        }
        Some(Guid::Legacy(g)) => {
            let target = match (play.kind, g.level) {
                (MediaKind::Episode, IdLevel::Show) => &mut item.show_ids,
                _ => &mut item.ids,
            };
            target.insert(g.kind, &g.value);
        }
        Some(Guid::External(kind, value)) => {
            item.ids.insert(*kind, value);
        }
        Some(Guid::Unmatched) => problem = Some(UnresolvedReason::Unmatched),
        Some(Guid::Unknown(raw)) => {
            item.ids.insert(IdKind::Guid, raw);
            problem = Some(UnresolvedReason::UnknownGuid(raw.clone()));
        }
    }

    let (keyed, keyed_rk) = match play.kind {
        MediaKind::Movie => (&item.ids, play.rating_key),
        MediaKind::Episode => (
            &item.show_ids,
            play.grandparent_rating_key.unwrap_or(play.rating_key),
        ),
    };
    if problem.is_none() && !keyed.has_external() {
        problem = Some(UnresolvedReason::NoExternalIds {
            rating_key: keyed_rk,
        });
    }
    match problem {
        None => Ok(item),
        Some(reason) => Err((item, reason)),
    }
}

/// Merges a metadata answer into `target` (the level it was asked for).
fn apply_meta(
    target: &mut Ids,
    meta: Option<&MetaAnswer>,
    rating_key: i64,
) -> Option<UnresolvedReason> {
    match meta {
        None => Some(UnresolvedReason::MetadataMissing { rating_key }),
        Some(MetaAnswer::Deleted) => Some(UnresolvedReason::Deleted { rating_key }),
        Some(MetaAnswer::Found(ids)) => {
            target.merge_missing(ids);
            (!ids.has_external()).then_some(UnresolvedReason::NoExternalIds { rating_key })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::index::identity::ids::IdKind;
    use crate::index::identity::keys::canonical_key;
    use crate::index::rules::Policy;

    use crate::index::metadata::MetaAnswer;
    use crate::index::rules::tests::{classify_json, episode_row, found, movie_row, with};

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

    #[test]
    fn new_agent_movie_takes_its_metadata_ids() {
        let play = classify_json(movie_row(), &Policy::default()).unwrap();
        let meta = found(&[
            (IdKind::Imdb, "tt0133093"),
            (IdKind::Tmdb, "603"),
            (IdKind::Tvdb, "169"),
        ]);
        let item = build_item(&play, Some(&meta)).unwrap();
        assert_eq!(
            serde_json::to_string(&item.ids).unwrap(),
            r#"{"tmdb":"603","imdb":"tt0133093","tvdb":"169","plex":"101","guid":"plex://movie/5d7768ba96b655001fdc0408"}"#
        );
        assert_eq!(canonical_key(&item), "tmdb:603");
        assert_eq!((item.watched_at, item.year), (2000, Some(1999)));
    }

    #[test]
    fn new_agent_episode_ids_stay_at_their_level() {
        let play = classify_json(episode_row(), &Policy::default()).unwrap();
        let show = found(&[
            (IdKind::Imdb, "tt0903747"),
            (IdKind::Tmdb, "1396"),
            (IdKind::Tvdb, "81189"),
            (IdKind::Guid, "plex://show/5d9c086c46115600200aa2fe"),
        ]);
        let item = build_item(&play, Some(&show)).unwrap();
        assert_eq!(
            serde_json::to_string(&item.ids).unwrap(),
            r#"{"plex":"201","guid":"plex://episode/5d9c0873ffd9ef001e99b9dc"}"#
        );
        assert_eq!(
            serde_json::to_string(&item.show_ids).unwrap(),
            r#"{"tmdb":"1396","imdb":"tt0903747","tvdb":"81189","plex":"199","guid":"plex://show/5d9c086c46115600200aa2fe"}"#
        );
        assert_eq!(canonical_key(&item), "tmdb:1396#s01e01");
    }

    #[test]
    fn legacy_episode_show_ids_come_from_the_guid() {
        let play = classify_json(
            with(
                episode_row(),
                serde_json::json!({"rating_key": 301, "grandparent_rating_key": 299,
                    "media_index": 1, "parent_media_index": 6,
                    "guid": "com.plexapp.agents.thetvdb://121361/6/1?lang=en"}),
            ),
            &Policy::default(),
        )
        .unwrap();
        let item = build_item(&play, None).unwrap();
        assert_eq!(
            serde_json::to_string(&item.ids).unwrap(),
            r#"{"plex":"301"}"#
        );
        assert_eq!(
            serde_json::to_string(&item.show_ids).unwrap(),
            r#"{"tvdb":"121361","plex":"299"}"#
        );
        assert_eq!(canonical_key(&item), "tvdb:121361#s06e01");
    }

    #[test]
    fn hama_episode_keys_by_anidb() {
        let play = classify_json(
            with(
                episode_row(),
                serde_json::json!({"rating_key": 401, "grandparent_rating_key": 399,
                    "guid": "com.plexapp.agents.hama://anidb-23/1/1?lang=en"}),
            ),
            &Policy::default(),
        )
        .unwrap();
        let item = build_item(&play, None).unwrap();
        assert_eq!(canonical_key(&item), "anidb:23#s01e01");
    }

    #[test]
    fn legacy_movie_ids_come_from_the_guid() {
        for (guid, key) in [
            ("com.plexapp.agents.themoviedb://550?lang=en", "tmdb:550"),
            (
                "com.plexapp.agents.imdb://TT0111161?lang=en",
                "imdb:tt0111161",
            ),
            ("com.plexapp.agents.hama://anidb-5101", "anidb:5101"),
            ("tmdb://603", "tmdb:603"),
        ] {
            let play = classify_json(
                with(movie_row(), serde_json::json!({"guid": guid})),
                &Policy::default(),
            )
            .unwrap();
            let item = build_item(&play, None).unwrap_or_else(|e| panic!("{guid}: {e:?}"));
            assert_eq!(canonical_key(&item), key, "{guid}");
            assert_eq!(item.ids.get(IdKind::Plex), Some("101"));
            assert_eq!(item.ids.get(IdKind::Guid), None, "{guid}");
        }
    }

    #[test]
    fn deleted_items_keep_their_plex_ids() {
        let p = Policy::default();
        let movie = classify_json(movie_row(), &p).unwrap();
        let (item, why) = build_item(&movie, Some(&MetaAnswer::Deleted)).unwrap_err();
        assert_eq!(canonical_key(&item), "plex:101");
        assert_eq!(why, UnresolvedReason::Deleted { rating_key: 101 });
        assert_eq!(why.as_str(), "deleted");
        assert!(
            why.message().contains("get_metadata answered {}"),
            "{}",
            why.message()
        );

        let ep = classify_json(
            with(
                episode_row(),
                serde_json::json!({"media_index": 12, "parent_media_index": 3}),
            ),
            &p,
        )
        .unwrap();
        let (item, why) = build_item(&ep, Some(&MetaAnswer::Deleted)).unwrap_err();
        assert_eq!(canonical_key(&item), "plex:199#s03e12");
        assert_eq!(why, UnresolvedReason::Deleted { rating_key: 199 });
        assert_eq!(item.ids.get(IdKind::Plex), Some("201"));
    }

    #[test]
    fn gaps_are_unresolved_with_reasons() {
        let p = Policy::default();
        let movie = classify_json(movie_row(), &p).unwrap();
        let (_, why) = build_item(&movie, None).unwrap_err();
        assert_eq!(why, UnresolvedReason::MetadataMissing { rating_key: 101 });
        // Legacy item answered guids: [] -> no external IDs.
        let (item, why) =
            build_item(&movie, Some(&found(&[(IdKind::Guid, "plex://movie/x")]))).unwrap_err();
        assert_eq!(why, UnresolvedReason::NoExternalIds { rating_key: 101 });
        assert_eq!(canonical_key(&item), "plex:101");

        let local = classify_json(
            with(
                movie_row(),
                serde_json::json!({"rating_key": 9001, "guid": "local://9001"}),
            ),
            &p,
        )
        .unwrap();
        let (item, why) = build_item(&local, None).unwrap_err();
        assert_eq!(
            (canonical_key(&item).as_str(), why.as_str()),
            ("plex:9001", "unmatched")
        );

        let unknown = classify_json(
            with(
                movie_row(),
                serde_json::json!({"guid": "com.plexapp.agents.youtube://Xy"}),
            ),
            &p,
        )
        .unwrap();
        let (item, why) = build_item(&unknown, None).unwrap_err();
        assert_eq!(why.as_str(), "unknown_guid");
        assert_eq!(
            item.ids.get(IdKind::Guid),
            Some("com.plexapp.agents.youtube://Xy")
        );
        assert_eq!(canonical_key(&item), "plex:101");

        let noguid = classify_json(with(movie_row(), serde_json::json!({"guid": ""})), &p).unwrap();
        assert_eq!(
            build_item(&noguid, None).unwrap_err().1,
            UnresolvedReason::NoGuid
        );

        let orphan = classify_json(
            with(
                episode_row(),
                serde_json::json!({"grandparent_rating_key": ""}),
            ),
            &p,
        )
        .unwrap();
        let (item, why) = build_item(&orphan, None).unwrap_err();
        assert_eq!(why, UnresolvedReason::NoShowKey);
        assert_eq!(canonical_key(&item), "plex:201#s01e01");
        assert_eq!(item.show_ids.best(), None);
    }

    #[test]
    fn unresolved_names_are_distinct() {
        let all = [
            UnresolvedReason::Deleted { rating_key: 1 },
            UnresolvedReason::MetadataMissing { rating_key: 1 },
            UnresolvedReason::NoShowKey,
            UnresolvedReason::NoExternalIds { rating_key: 1 },
            UnresolvedReason::Unmatched,
            UnresolvedReason::NoGuid,
            UnresolvedReason::UnknownGuid("g".into()),
        ];
        let mut names: Vec<&str> = all.iter().map(|r| r.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert!(all.iter().all(|r| !r.message().is_empty()));
    }
}
