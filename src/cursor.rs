//! One index read, driven step by step by the host: each [`HistoryCursor::next`] reads one
//! history page (resolving the IDs its new-agent items need), and once the read is over,
//! hands out the index in bounded batches. The host can show progress between steps, and
//! the index never crosses the boundary as one giant string.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::client::{Client, Command};
use crate::config::{self, TautulliConfig};
use crate::error::{Error, Result};
use crate::history::{ClientPages, HistoryReader};
use crate::index::{IndexBuilder, Report};
use crate::item::Item;
use crate::normalise::{self, MetaAnswer, MetaRequest, Policy, SkipReason, TimeField};
use crate::rows::{HistoryRow, Metadata};

/// Entries per emitted batch.
pub const BATCH: usize = 1000;

/// What one step produced, in plain types (the FFI layer converts).
#[derive(Debug)]
pub struct Step {
    pub phase: &'static str,
    pub done_units: u64,
    pub total_units: u64,
    pub entries: Vec<(String, String)>,
    pub done: bool,
}

/// The normalisation policy from the config's `history` block.
pub fn policy(cfg: &config::HistoryConfig) -> Policy {
    Policy {
        watched_only: cfg.watched_only,
        min_percent: cfg.min_percent,
        include_live: cfg.include_live,
        watched_at: match cfg.watched_at {
            config::TimeField::Stopped => TimeField::Stopped,
            config::TimeField::Date => TimeField::Date,
            config::TimeField::Started => TimeField::Started,
        },
        rewatches: cfg.rewatches,
    }
}

enum State {
    Reading {
        reader: Box<HistoryReader<ClientPages>>,
        builder: Box<IndexBuilder>,
    },
    Emitting {
        entries: std::vec::IntoIter<(String, Item)>,
        total: u64,
        emitted: u64,
    },
    Done,
}

/// A running index read of Tautulli history.
pub struct HistoryCursor {
    client: Arc<Client>,
    policy: Policy,
    concurrency: usize,
    /// Answers by request, for this run: each rating key is asked at most once.
    meta: HashMap<MetaRequest, MetaAnswer>,
    state: State,
    report: Option<Report>,
    records_filtered: u64,
    catch_up_passes: u32,
}

impl HistoryCursor {
    pub fn new(client: Arc<Client>, cfg: TautulliConfig) -> Self {
        let policy = policy(&cfg.history);
        let pages = ClientPages::new(client.clone(), &cfg.history);
        let reader = HistoryReader::new(pages, cfg.history.per_page, cfg.history.max_pages);
        Self {
            client,
            policy: policy.clone(),
            concurrency: cfg.concurrency.max(1),
            meta: HashMap::new(),
            state: State::Reading {
                reader: Box::new(reader),
                builder: Box::new(IndexBuilder::new(&policy)),
            },
            report: None,
            records_filtered: 0,
            catch_up_passes: 0,
        }
    }

    /// Does the next unit of work.
    pub fn step(&mut self) -> Result<Step> {
        match &mut self.state {
            State::Reading { reader, builder } => match reader.next_page()? {
                Some(page) => {
                    self.records_filtered = page.records_filtered;
                    let rows = page.rows;
                    let (done, total) = (page.rows_seen, page.records_filtered);
                    Self::absorb(
                        &self.client,
                        self.concurrency,
                        &self.policy,
                        &mut self.meta,
                        builder,
                        rows,
                    )?;
                    Ok(Step {
                        phase: "history",
                        done_units: done,
                        total_units: total.max(done),
                        entries: Vec::new(),
                        done: false,
                    })
                }
                None => {
                    self.finish_reading()?;
                    self.step()
                }
            },
            State::Emitting {
                entries,
                total,
                emitted,
            } => {
                let batch: Vec<(String, String)> = entries
                    .by_ref()
                    .take(BATCH)
                    .map(|(key, item)| {
                        let json = item.to_json();
                        (key, json)
                    })
                    .collect();
                *emitted += batch.len() as u64;
                let done = *emitted >= *total;
                let step = Step {
                    phase: "emit",
                    done_units: *emitted,
                    total_units: *total,
                    entries: batch,
                    done,
                };
                if done {
                    self.state = State::Done;
                }
                Ok(step)
            }
            State::Done => Ok(Step {
                phase: "emit",
                done_units: 0,
                total_units: 0,
                entries: Vec::new(),
                done: true,
            }),
        }
    }

    /// The report as JSON (final once a step said `done`).
    pub fn report_json(&self) -> String {
        let mut v = match (&self.report, &self.state) {
            (Some(r), _) => serde_json::to_value(r).unwrap_or(Value::Null),
            (None, State::Reading { builder, .. }) => {
                serde_json::to_value(builder.report()).unwrap_or(Value::Null)
            }
            (None, _) => Value::Null,
        };
        if let Value::Object(m) = &mut v {
            m.insert("records_filtered".into(), json!(self.records_filtered));
            m.insert("catch_up_passes".into(), json!(self.catch_up_passes));
            m.insert("requests".into(), json!(self.client.stats()));
        }
        v.to_string()
    }

    /// Classifies a page's rows, resolves the metadata they need (new keys only, in
    /// parallel), and adds them to the index.
    fn absorb(
        client: &Client,
        concurrency: usize,
        policy: &Policy,
        meta: &mut HashMap<MetaRequest, MetaAnswer>,
        builder: &mut IndexBuilder,
        rows: Vec<HistoryRow>,
    ) -> Result<()> {
        let mut plays = Vec::with_capacity(rows.len());
        for row in &rows {
            match normalise::classify(row, policy) {
                Ok(play) => plays.push(play),
                Err(reason) => builder.skip(reason),
            }
        }
        let mut wanted: Vec<MetaRequest> = Vec::new();
        let mut seen = HashSet::new();
        for play in &plays {
            if let Some(req) = normalise::metadata_need(play) {
                if !meta.contains_key(&req) && seen.insert(req) {
                    wanted.push(req);
                }
            }
        }
        if !wanted.is_empty() {
            builder.report_mut().metadata_calls += wanted.len() as u64;
            for (req, answer) in fetch_metadata(client, concurrency, &wanted)? {
                meta.insert(req, answer);
            }
        }
        for play in plays {
            let answer = normalise::metadata_need(&play).and_then(|r| meta.get(&r));
            let group = play.group;
            builder.push_result(normalise::build_item(&play, answer), group);
        }
        Ok(())
    }

    fn finish_reading(&mut self) -> Result<()> {
        let State::Reading { reader, builder } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Ok(());
        };
        let outcome = reader.outcome();
        let mut builder = *builder;
        for _ in 0..outcome.null_id_rows {
            builder.skip(SkipReason::InProgress);
        }
        self.catch_up_passes = outcome.catch_up_passes;
        self.records_filtered = outcome.records_filtered;
        // Plex unreachable behind Tautulli makes every get_metadata answer `{}`; importing
        // that would key every new-agent item by its Plex ID. Refuse instead.
        let asked = self.meta.len();
        let empty = self
            .meta
            .values()
            .filter(|a| matches!(a, MetaAnswer::Deleted))
            .count();
        if asked >= 3 && empty == asked {
            return Err(Error::BadResponse {
                cmd: Command::GetMetadata.as_str(),
                status: 200,
                reason: format!(
                    "all {asked} get_metadata answers were empty: Plex is probably unreachable \
                     from Tautulli, so no new-agent item could get its IDs; nothing was imported, \
                     try again when Plex is up"
                ),
                excerpt: "{}".into(),
            });
        }
        let (entries, mut report) = builder.finish();
        report.pages = outcome.pages;
        if outcome.complete {
            report.mark_complete();
        } else {
            report.mark_incomplete(
                outcome
                    .incomplete_reason
                    .unwrap_or_else(|| "the read ended early".into()),
            );
        }
        let total = entries.len() as u64;
        self.report = Some(report);
        self.state = State::Emitting {
            entries: entries.into_iter(),
            total,
            emitted: 0,
        };
        Ok(())
    }
}

/// Asks `get_metadata` for each request with at most `concurrency` calls in flight. The
/// first error (auth, network, bad answer) fails the read: importing items under the wrong
/// key would leave duplicates in the Tracker for ever.
fn fetch_metadata(
    client: &Client,
    concurrency: usize,
    wanted: &[MetaRequest],
) -> Result<Vec<(MetaRequest, MetaAnswer)>> {
    let next = AtomicUsize::new(0);
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
                let answer: Result<Metadata> = client.call(
                    Command::GetMetadata,
                    &[("rating_key", req.rating_key.to_string())],
                );
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
    if let Some(e) = failure.into_inner().unwrap_or(None) {
        return Err(e);
    }
    Ok(results.into_inner().unwrap_or_default())
}
