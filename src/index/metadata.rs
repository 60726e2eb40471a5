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
