//! The `get_metadata` calls an index read needs: which one a play depends on, what an answer
//! says, and the resolver that answers them from this run, the persistent cache, or Tautulli
//! (several calls in flight at once).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::index::identity::guid::{self, Guid};
use crate::index::identity::ids::{IdKind, Ids};
use crate::index::report::CacheReport;
use crate::index::rules::Play;
use crate::index::state::{Freshness, State};
use crate::tautulli::client::{Client, Command};
use crate::tautulli::rows::MediaKind;
use crate::tautulli::rows::Metadata;

/// Which item a `get_metadata` call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetaLevel {
    /// A movie's own IDs.
    Movie,
    /// A show's IDs (asked on the show's rating key, shared by all its episodes).
    Show,
}

/// One `get_metadata` call a play depends on. Equal requests are one call: dedupe and cache
/// answers by this value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetaRequest {
    pub rating_key: i64,
    pub level: MetaLevel,
}

/// The outcome of a [`MetaRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaAnswer {
    /// The IDs of the asked level (possibly without any external ID: legacy items answer
    /// `guids: []`).
    Found(Ids),
    /// Tautulli answered `{}`: item deleted from Plex, unknown, or Plex unreachable.
    Deleted,
}

impl MetaAnswer {
    /// Reads a `get_metadata` answer for `level`. Only the asked level's own lists are used:
    /// for [`MetaLevel::Show`] that is `guids`/`guid` of a show answer, or
    /// `grandparent_guids`/`grandparent_guid` if an episode's answer was passed, and never a
    /// season's IDs.
    pub fn from_metadata(meta: &Metadata, level: MetaLevel) -> MetaAnswer {
        if meta.is_empty() {
            return MetaAnswer::Deleted;
        }
        let media_type = meta.media_type.as_deref().unwrap_or("");
        let (list, own_guid): (&[String], &Option<String>) = match level {
            MetaLevel::Show if media_type.eq_ignore_ascii_case("episode") => {
                (&meta.grandparent_guids, &meta.grandparent_guid)
            }
            // A season's answer has no show ID list of its own; only the show's guid.
            MetaLevel::Show if media_type.eq_ignore_ascii_case("season") => {
                (&[], &meta.parent_guid)
            }
            _ => (&meta.guids, &meta.guid),
        };
        let mut ids = guid::ids_from_list(list);
        if let Some(plex) = own_guid
            .as_deref()
            .map(guid::parse)
            .and_then(|g| g.plex_guid())
        {
            ids.insert_missing(IdKind::Guid, &plex);
        }
        MetaAnswer::Found(ids)
    }
}

/// The `get_metadata` call this play's IDs need, if any: new-agent (`plex://`) movies need
/// their own; new-agent episodes need their **show's** (`grandparent_rating_key`). Legacy,
/// HAMA, unmatched and unknown guids carry all there is to know.
pub fn metadata_need(play: &Play) -> Option<MetaRequest> {
    if !matches!(play.guid, Some(Guid::Plex { .. })) {
        return None;
    }
    match play.kind {
        MediaKind::Movie => Some(MetaRequest {
            rating_key: play.rating_key,
            level: MetaLevel::Movie,
        }),
        MediaKind::Episode => play.grandparent_rating_key.map(|rk| MetaRequest {
            rating_key: rk,
            level: MetaLevel::Show,
        }),
    }
}

/// Resolves metadata requests: this run's answers, then the persistent cache, then Tautulli.
pub(crate) struct Resolver {
    pub(crate) client: Arc<Client>,
    pub(crate) concurrency: usize,
    /// Answers by request, for this run: each rating key is asked at most once.
    pub(crate) answers: HashMap<MetaRequest, MetaAnswer>,
    /// Answers Tautulli gave this run, and how many of them were empty (`{}`).
    pub(crate) fresh: u64,
    pub(crate) fresh_empty: u64,
    pub(crate) max_in_flight: usize,
    /// The cache's key for this server.
    pub(crate) server: String,
    /// Which cached answers are still good; `None`: no cache.
    pub(crate) fresh_since: Option<Freshness>,
    /// Empty answers of this run, cached only once the read got through (see [`crate::index::state`]).
    pub(crate) pending_deleted: Vec<MetaRequest>,
    pub(crate) cache: CacheReport,
}

impl Resolver {
    /// Makes sure every request in `wanted` has an answer; returns the `get_metadata` calls
    /// made. A failed call fails the read, but the IDs that came back are cached first.
    pub(crate) fn resolve(
        &mut self,
        store: Option<&mut State>,
        wanted: &[MetaRequest],
    ) -> Result<u64> {
        let mut rest: Vec<MetaRequest> = wanted.to_vec();
        if let (Some(fresh), Some(st)) = (self.fresh_since, store.as_deref()) {
            match st.cached(&self.server, wanted, fresh) {
                Ok(hits) => {
                    self.cache.hits += hits.len() as u64;
                    rest.retain(|r| !hits.contains_key(r));
                    self.answers.extend(hits);
                }
                Err(e) => {
                    self.cache.error.get_or_insert(e.to_string());
                }
            }
        }
        if rest.is_empty() {
            return Ok(0);
        }
        let fetched = fetch_metadata(&self.client, self.concurrency, &rest);
        self.max_in_flight = self.max_in_flight.max(fetched.max_in_flight);
        let mut keep: Vec<(MetaRequest, MetaAnswer)> = Vec::new();
        for (req, answer) in fetched.answers {
            self.fresh += 1;
            match &answer {
                MetaAnswer::Found(_) => keep.push((req, answer.clone())),
                MetaAnswer::Deleted => {
                    self.fresh_empty += 1;
                    self.pending_deleted.push(req);
                }
            }
            self.answers.insert(req, answer);
        }
        self.store(store, &keep);
        match fetched.failure {
            Some(e) => Err(e),
            None => Ok(rest.len() as u64),
        }
    }

    fn store(&mut self, store: Option<&mut State>, answers: &[(MetaRequest, MetaAnswer)]) {
        let (Some(_), Some(st)) = (self.fresh_since, store) else {
            return;
        };
        if answers.is_empty() {
            return;
        }
        match st.store(&self.server, answers, self.client.clock().epoch()) {
            Ok(n) => self.cache.stored += n,
            Err(e) => {
                self.cache.error.get_or_insert(e.to_string());
            }
        }
    }

    /// The read got through: cache this run's empty answers, but only if some lookup found
    /// IDs (a Plex that answers at all), else they may all be a Plex outage.
    pub(crate) fn store_deleted(&mut self, store: Option<&mut State>) {
        let deleted = std::mem::take(&mut self.pending_deleted);
        if self.fresh > self.fresh_empty {
            let answers: Vec<_> = deleted
                .into_iter()
                .map(|r| (r, MetaAnswer::Deleted))
                .collect();
            self.store(store, &answers);
        }
    }
}

/// What [`fetch_metadata`] got: every answer that came back, the first failure, and the
/// most calls seen in flight at once.
struct Fetched {
    answers: Vec<(MetaRequest, MetaAnswer)>,
    failure: Option<Error>,
    max_in_flight: usize,
}

/// Asks `get_metadata` for each request with at most `concurrency` calls in flight. The
/// first error (auth, network, bad answer) stops the workers and fails the read: importing
/// items under the wrong key would leave duplicates in the Tracker for ever.
fn fetch_metadata(client: &Client, concurrency: usize, wanted: &[MetaRequest]) -> Fetched {
    let next = AtomicUsize::new(0);
    let in_flight = AtomicUsize::new(0);
    let max_in_flight = AtomicUsize::new(0);
    let results: Mutex<Vec<(MetaRequest, MetaAnswer)>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let workers = concurrency.min(wanted.len()).max(1);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(req) = wanted.get(i) else { return };
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                max_in_flight.fetch_max(now, Ordering::SeqCst);
                let answer: Result<Metadata> = client.call(
                    Command::GetMetadata,
                    &[("rating_key", req.rating_key.to_string())],
                );
                in_flight.fetch_sub(1, Ordering::SeqCst);
                match answer {
                    Ok(meta) => {
                        let level = req.level;
                        let a = MetaAnswer::from_metadata(&meta, level);
                        if let Ok(mut r) = results.lock() {
                            r.push((*req, a));
                        }
                    }
                    Err(e) => {
                        if let Ok(mut f) = failure.lock() {
                            f.get_or_insert(e);
                        }
                        return;
                    }
                }
            });
        }
    });
    Fetched {
        answers: results.into_inner().unwrap_or_default(),
        failure: failure.into_inner().unwrap_or(None),
        max_in_flight: max_in_flight.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::index::identity::ids::IdKind;
    use crate::index::identity::keys::canonical_key;
    use crate::index::item::build_item;
    use crate::index::rules::tests::{classify_json, episode_row, found, movie_row, with};
    use crate::index::rules::Policy;
    use crate::tautulli::rows::Metadata;

    #[test]
    fn metadata_is_asked_per_movie_and_per_show() {
        let p = Policy::default();
        let m = classify_json(movie_row(), &p).unwrap();
        assert_eq!(
            metadata_need(&m),
            Some(MetaRequest {
                rating_key: 101,
                level: MetaLevel::Movie
            })
        );
        let e1 = classify_json(episode_row(), &p).unwrap();
        let e2 = classify_json(
            with(
                episode_row(),
                serde_json::json!({"rating_key": 202, "media_index": 2}),
            ),
            &p,
        )
        .unwrap();
        let want = Some(MetaRequest {
            rating_key: 199,
            level: MetaLevel::Show,
        });
        assert_eq!(metadata_need(&e1), want);
        assert_eq!(
            metadata_need(&e2),
            want,
            "one call per show, not per episode"
        );
        for guid in [
            "com.plexapp.agents.themoviedb://550?lang=en",
            "com.plexapp.agents.hama://anidb-23/1/1",
            "local://9001",
            "weird",
        ] {
            let m =
                classify_json(with(movie_row(), serde_json::json!({"guid": guid})), &p).unwrap();
            assert_eq!(metadata_need(&m), None, "{guid}");
        }
        let orphan = classify_json(
            with(
                episode_row(),
                serde_json::json!({"grandparent_rating_key": ""}),
            ),
            &p,
        )
        .unwrap();
        assert_eq!(metadata_need(&orphan), None);
    }

    #[test]
    fn show_metadata_answer_never_uses_season_ids() {
        // An episode's answer given for a show request: only grandparent lists are used.
        let meta: Metadata = serde_json::from_value(serde_json::json!({
            "media_type": "episode", "rating_key": "801",
            "guid": "plex://episode/e", "guids": ["tmdb://9999"],
            "parent_guid": "plex://season/s", "parent_guids": ["tmdb://66001"],
            "grandparent_guid": "plex://show/g", "grandparent_guids": ["tvdb://121361"]
        }))
        .unwrap();
        let ans = MetaAnswer::from_metadata(&meta, MetaLevel::Show);
        let MetaAnswer::Found(ids) = &ans else {
            panic!("{ans:?}")
        };
        assert_eq!(
            serde_json::to_string(ids).unwrap(),
            r#"{"tvdb":"121361","guid":"plex://show/g"}"#
        );

        let play = classify_json(
            with(
                episode_row(),
                serde_json::json!({"parent_media_index": 8, "media_index": 1}),
            ),
            &Policy::default(),
        )
        .unwrap();
        let item = build_item(&play, Some(&ans)).unwrap();
        assert_eq!(canonical_key(&item), "tvdb:121361#s08e01");

        let show: Metadata = serde_json::from_value(serde_json::json!({
            "media_type": "show", "rating_key": "199", "guid": "plex://show/abc",
            "guids": ["imdb://tt0903747", "tmdb://1396"]
        }))
        .unwrap();
        assert_eq!(
            MetaAnswer::from_metadata(&show, MetaLevel::Show),
            found(&[
                (IdKind::Imdb, "tt0903747"),
                (IdKind::Tmdb, "1396"),
                (IdKind::Guid, "plex://show/abc")
            ])
        );
        assert_eq!(
            MetaAnswer::from_metadata(&Metadata::default(), MetaLevel::Movie),
            MetaAnswer::Deleted
        );
    }

    #[test]
    fn reference_movie_metadata_reads_its_own_guids() {
        let path = format!(
            "{}/fixtures/reference/get_metadata_movie_fakepms.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let meta: Metadata = serde_json::from_value(v["response"]["data"].clone()).unwrap();
        assert_eq!(
            MetaAnswer::from_metadata(&meta, MetaLevel::Movie),
            found(&[
                (IdKind::Imdb, "tt0133093"),
                (IdKind::Tmdb, "603"),
                (IdKind::Tvdb, "169"),
                (IdKind::Guid, "plex://movie/5d7768ba96b655001fdc0408"),
            ])
        );
    }
}
