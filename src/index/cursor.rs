//! One index read, driven step by step by the host: each [`HistoryCursor::step`] reads one
//! history page (resolving the IDs its new-agent items need), and once the read is over,
//! hands out the index in bounded batches. The host can show progress between steps, and
//! the index never crosses the boundary as one giant string.
//!
//! With `tautulli.state_dir` set, the cursor also keeps the plugin's [`State`]: metadata
//! answers are looked up there before Tautulli is asked (and stored once asked).
//!
//! The incremental checkpoint is not kept here: it must commit with the items it covers,
//! and only the host knows when that happens. A complete read puts a token in its report
//! (`"checkpoint"`, once the last batch has been handed out); the host stores it with the
//! import and passes it back as index option `"checkpoint"`, from which `history.mode:
//! incremental` reads only what changed. A host that stops or fails before committing still
//! holds the previous token, so the next read covers those plays again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::config::{self, TautulliConfig};
use crate::error::{Error, Result};
use crate::index::builder::{IndexBuilder, TemplateId};
use crate::index::checkpoint::{self, Checkpoint};
use crate::index::emission::Index;
use crate::index::identity::row::{identity, Identity, IdentityCache};
use crate::index::item::build_item;
use crate::index::metadata::{metadata_need, MetaRequest, Resolver};
use crate::index::options::IndexOptions;
use crate::index::report::{CacheReport, IncrementalReport, StateReport};
use crate::index::report::{ReadKind, Report};
use crate::index::rules::GroupRef;
use crate::index::rules::{self as rules, Play, Policy, SkipReason};
use crate::index::state::{self, Freshness, State};
use crate::tautulli::client::{Client, Command};
use crate::tautulli::reader::{ClientPages, ReadOutcome};
use crate::tautulli::reader::{Reader, WindowOptions};
use crate::tautulli::rows::{HistoryPage, HistoryRow};

/// Entries per emitted batch.
pub const BATCH: usize = 1000;

/// Days of per-day counts a windowed read plans from (ten years answer in about a second
/// at 200 000 plays); older history is walked.
pub const COUNT_HORIZON_DAYS: u32 = 3650;

/// What one step produced, in plain types (the FFI layer converts).
#[derive(Debug)]
pub struct Step {
    pub phase: &'static str,
    pub done_units: u64,
    pub total_units: u64,
    pub entries: Vec<(String, String)>,
    pub done: bool,
}

/// What a row identity became (see [`Identity`]).
#[derive(Debug, Clone, Copy)]
enum Known {
    Item(TemplateId),
    Skip(SkipReason),
}

enum Phase {
    Reading {
        reader: Box<Reader<ClientPages<HistoryPage>, HistoryPage>>,
        builder: Box<IndexBuilder>,
        /// What each row identity seen so far became.
        known: Box<IdentityCache<Known>>,
    },
    Emitting {
        index: Box<Index>,
    },
    Done,
}

/// A running index read of Tautulli history.
pub struct HistoryCursor {
    client: Arc<Client>,
    /// The shared client's request counts when this read began: the report counts only
    /// this read's requests.
    stats_at_start: std::collections::BTreeMap<&'static str, u64>,
    /// The same for the time spent waiting for answers.
    waited_at_start: std::collections::BTreeMap<&'static str, u64>,
    /// How the history was read, once it was.
    read: Option<ReadOutcome>,
    policy: Policy,
    phase: Phase,
    resolver: Resolver,
    store: Option<State>,
    history_mode: config::Mode,
    /// [`checkpoint::stream_id`] of this read.
    stream: String,
    settings: String,
    /// A complete read's checkpoint, published once the last batch is handed out.
    pending_checkpoint: Option<Checkpoint>,
    /// The report's `checkpoint` token.
    checkpoint_token: Option<String>,
    state_report: StateReport,
    incremental: IncrementalReport,
    report: Option<Report>,
    records_filtered: u64,
    catch_up_passes: u32,
    /// The config's warnings, restated in the report for the host to show.
    warnings: Vec<String>,
}

impl HistoryCursor {
    /// A read with default options.
    pub fn new(client: Arc<Client>, cfg: TautulliConfig) -> Self {
        Self::with_options(client, cfg, IndexOptions::default())
    }

    /// A read with the host's `index` options. Opening the state never fails the read: a
    /// state that cannot be used is reported and the read goes on without it.
    pub fn with_options(client: Arc<Client>, cfg: TautulliConfig, options: IndexOptions) -> Self {
        let policy = Policy::from_config(&cfg.history);
        let now = client.clock().epoch();
        let mut state_report = StateReport {
            dir: cfg.state_dir.as_ref().map(|d| d.display().to_string()),
            ..StateReport::default()
        };
        let mut store = match &cfg.state_dir {
            // A dry run uses the cache read-only (unless asked to forget it): it writes none
            // of the plugin's state, but need not ask Tautulli for every answer again.
            Some(dir) if options.dry_run && !options.clear_metadata_cache => {
                let opened = State::open_read_only(dir);
                state_report.note = Some(match &opened {
                    Ok(Some(_)) => "dry run: the metadata cache is read, never written".into(),
                    Ok(None) => "dry run: no metadata cache yet, and none is written".into(),
                    Err(e) => format!("dry run: {e}; this read goes on without the cache"),
                });
                opened.ok().flatten()
            }
            Some(_) if options.dry_run => {
                state_report.note = Some(
                    "dry run: the plugin's state (metadata cache) is neither read nor written"
                        .into(),
                );
                None
            }
            None => {
                state_report.note =
                    Some("tautulli.state_dir is not set: no metadata cache between runs".into());
                None
            }
            Some(dir) => match State::open(dir) {
                Ok(s) => {
                    state_report.file = Some(s.path().display().to_string());
                    state_report.persistent = true;
                    Some(s)
                }
                Err(e) => {
                    state_report.note =
                        Some(format!("{e}; this read goes on without the metadata cache"));
                    None
                }
            },
        };

        let server = state::cache_scope(&cfg);
        let days = cfg.metadata_cache_days;
        let mut cache = CacheReport {
            enabled: store.is_some() && days > 0,
            days,
            ..CacheReport::default()
        };
        let fresh_since = cache.enabled.then(|| Freshness::new(now, days));
        if let Some(st) = store.as_mut() {
            if options.clear_metadata_cache {
                match st.clear_metadata(&server) {
                    Ok(n) => cache.cleared = Some(n),
                    Err(e) => cache.error = Some(e.to_string()),
                }
            }
            if let Some(fresh) = fresh_since {
                match st.prune_metadata(fresh) {
                    Ok(n) => cache.expired_removed = n,
                    Err(e) => {
                        cache.error.get_or_insert(e.to_string());
                    }
                }
            }
        }

        let stream = checkpoint::stream_id(&cfg);
        let settings = checkpoint::settings_fingerprint(&cfg.history);
        let given = checkpoint::given(&options, &stream, &settings);
        let mut incremental = IncrementalReport {
            overlap_hours: cfg.history.overlap_hours,
            checkpoint_before: given.as_ref().ok().cloned(),
            ..IncrementalReport::default()
        };
        let since = match cfg.history.mode {
            config::Mode::Full => None,
            config::Mode::Incremental => {
                let since = checkpoint::since(given.as_ref(), cfg.history.overlap_hours);
                match since {
                    Ok(s) => {
                        incremental.cutoff_date = Some(s.cutoff_date);
                        Some(s)
                    }
                    Err(why) => {
                        incremental.fallback_reason = Some(why);
                        None
                    }
                }
            }
        };

        let pages = ClientPages::index(client.clone(), &cfg.history);
        let opts = WindowOptions {
            target: cfg.history.window_rows.into(),
            max_pages: cfg.history.max_pages.into(),
            horizon_days: COUNT_HORIZON_DAYS,
            grouped: true,
        };
        let mut reader = Reader::new(pages, cfg.history.read, opts, cfg.history.per_page);
        if let Some(s) = since {
            reader = reader.since(s);
        }
        Self {
            stats_at_start: client.stats(),
            waited_at_start: client.waited_us(),
            read: None,
            client: client.clone(),
            policy: policy.clone(),
            phase: Phase::Reading {
                reader: Box::new(reader),
                builder: Box::new(IndexBuilder::new(&policy)),
                known: Box::default(),
            },
            resolver: Resolver {
                client,
                concurrency: cfg.concurrency.max(1),
                answers: HashMap::new(),
                fresh: 0,
                fresh_empty: 0,
                max_in_flight: 0,
                server,
                fresh_since,
                pending_deleted: Vec::new(),
                cache,
            },
            store,
            history_mode: cfg.history.mode,
            stream,
            settings,
            pending_checkpoint: None,
            checkpoint_token: None,
            state_report,
            incremental,
            report: None,
            records_filtered: 0,
            catch_up_passes: 0,
            warnings: cfg.warnings.clone(),
        }
    }

    /// The most `get_metadata` calls that were in flight at once (at most `concurrency`).
    pub fn metadata_max_in_flight(&self) -> usize {
        self.resolver.max_in_flight
    }

    /// Does the next unit of work.
    pub fn step(&mut self) -> Result<Step> {
        match &mut self.phase {
            Phase::Reading {
                reader,
                builder,
                known,
            } => match reader.next_page()? {
                Some(page) => {
                    self.records_filtered = page.records_filtered;
                    let rows = page.rows;
                    let done = page.rows_seen;
                    // An incremental read ends at its checkpoint, long before the count.
                    let total = if reader.is_incremental() {
                        0
                    } else {
                        page.records_filtered.max(done)
                    };
                    Self::absorb(
                        &mut self.resolver,
                        self.store.as_mut(),
                        &self.policy,
                        builder,
                        known,
                        rows,
                    )?;
                    Ok(Step {
                        phase: "history",
                        done_units: done,
                        total_units: total,
                        entries: Vec::new(),
                        done: false,
                    })
                }
                None => {
                    self.finish_reading()?;
                    self.step()
                }
            },
            Phase::Emitting { index } => {
                let batch = index.next_batch(BATCH);
                let total = index.len() as u64;
                let done = index.remaining() == 0;
                let step = Step {
                    phase: "emit",
                    done_units: total - index.remaining() as u64,
                    total_units: total,
                    entries: batch,
                    done,
                };
                if done {
                    self.phase = Phase::Done;
                    // Only now: the host has every item the checkpoint covers.
                    self.checkpoint_token = self.pending_checkpoint.take().map(|c| c.encode());
                }
                Ok(step)
            }
            Phase::Done => Ok(Step {
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
        let mut v = match (&self.report, &self.phase) {
            (Some(r), _) => serde_json::to_value(r).unwrap_or(Value::Null),
            (None, Phase::Reading { builder, .. }) => {
                serde_json::to_value(builder.report()).unwrap_or(Value::Null)
            }
            (None, _) => Value::Null,
        };
        if let Value::Object(m) = &mut v {
            m.insert("records_filtered".into(), json!(self.records_filtered));
            m.insert("catch_up_passes".into(), json!(self.catch_up_passes));
            let requests: std::collections::BTreeMap<&str, u64> = self
                .client
                .stats()
                .into_iter()
                .map(|(cmd, n)| (cmd, n - self.stats_at_start.get(cmd).copied().unwrap_or(0)))
                .filter(|(_, n)| *n > 0)
                .collect();
            m.insert("requests".into(), json!(requests));
            m.insert("reader".into(), self.reader_json());
            m.insert("history_mode".into(), json!(self.history_mode.as_str()));
            m.insert("incremental".into(), json!(self.incremental));
            m.insert("checkpoint".into(), json!(self.checkpoint_token));
            m.insert("metadata_cache".into(), json!(self.resolver.cache));
            m.insert("state".into(), json!(self.state_report));
            if !self.warnings.is_empty() {
                m.insert("warnings".into(), json!(self.warnings));
            }
        }
        v.to_string()
    }

    /// How the history was read: requests, windows, rows, and the time spent waiting for
    /// Tautulli's answers (the cost a real server's users feel).
    fn reader_json(&self) -> Value {
        let waited_us: u64 = self
            .client
            .waited_us()
            .into_iter()
            .map(|(cmd, us)| us - self.waited_at_start.get(cmd).copied().unwrap_or(0))
            .sum();
        let Some(o) = &self.read else {
            return json!({"waited_s": waited_us as f64 / 1e6});
        };
        json!({
            "mode": o.reader,
            "history_requests": o.pages,
            "count_requests": o.count_requests,
            "windows": o.windows,
            "rows_received": o.rows_seen,
            "merged_parts": o.merged_parts,
            "fallback": o.reader_fallback,
            "waited_s": waited_us as f64 / 1e6,
        })
    }

    /// Classifies a page's rows, resolves the metadata they need (new keys only, from the
    /// cache or in parallel), and adds them to the index.
    fn absorb(
        resolver: &mut Resolver,
        store: Option<&mut State>,
        policy: &Policy,
        builder: &mut IndexBuilder,
        known: &mut IdentityCache<Known>,
        rows: Vec<HistoryRow>,
    ) -> Result<()> {
        /// A play in page order: of an item already built, or to build.
        enum Pending<'a> {
            Known(TemplateId, i64, GroupRef),
            /// Rare (first sight of an identity): boxed to keep the common case small.
            New(Box<(Play, Identity<'a>)>),
        }
        let mut pending = Vec::with_capacity(rows.len());
        for row in &rows {
            let accepted = match rules::precheck(row, policy) {
                Ok(a) => a,
                Err(reason) => {
                    builder.skip(reason);
                    continue;
                }
            };
            let id = identity(row, &accepted);
            match known.get(&id) {
                Some(Known::Item(t)) => {
                    pending.push(Pending::Known(t, accepted.watched_at, accepted.group))
                }
                Some(Known::Skip(reason)) => builder.skip(reason),
                None => match rules::complete(row, accepted) {
                    Ok(play) => pending.push(Pending::New(Box::new((play, id)))),
                    Err(reason) => {
                        known.insert(&id, Known::Skip(reason));
                        builder.skip(reason);
                    }
                },
            }
        }
        let mut wanted: Vec<MetaRequest> = Vec::new();
        let mut seen = HashSet::new();
        for p in &pending {
            let Pending::New(new) = p else { continue };
            let play = &new.0;
            if let Some(req) = metadata_need(play) {
                if !resolver.answers.contains_key(&req) && seen.insert(req) {
                    wanted.push(req);
                }
            }
        }
        if !wanted.is_empty() {
            let calls = resolver.resolve(store, &wanted);
            // Calls made count even when one of them failed the read.
            let made = match &calls {
                Ok(n) => *n,
                Err(_) => 0,
            };
            builder.report_mut().metadata_calls += made;
            calls?;
        }
        for p in pending {
            match p {
                Pending::Known(t, at, group) => builder.push_play(t, at, group),
                Pending::New(new) => {
                    let (play, id) = *new;
                    // An earlier row of this page may have built it.
                    if let Some(Known::Item(t)) = known.get(&id) {
                        builder.push_play(t, play.watched_at, play.group);
                        continue;
                    }
                    let need = metadata_need(&play);
                    let answer = need.and_then(|r| resolver.answers.get(&r));
                    let t = match build_item(&play, answer) {
                        Ok(item) => builder.template(item, None),
                        Err((item, reason)) => builder.template(item, Some(reason)),
                    };
                    // A run's answers never change once given, so the item is final (one
                    // still missing might come later: not remembered).
                    if need.is_none() || answer.is_some() {
                        known.insert(&id, Known::Item(t));
                    }
                    builder.push_play(t, play.watched_at, play.group);
                }
            }
        }
        Ok(())
    }

    fn finish_reading(&mut self) -> Result<()> {
        let Phase::Reading {
            reader, builder, ..
        } = std::mem::replace(&mut self.phase, Phase::Done)
        else {
            return Ok(());
        };
        let outcome = reader.outcome();
        self.read = Some(outcome.clone());
        let mut builder = *builder;
        for _ in 0..outcome.null_id_rows {
            builder.skip(SkipReason::InProgress);
        }
        self.catch_up_passes = outcome.catch_up_passes;
        self.records_filtered = outcome.records_filtered;
        self.incremental.unchanged_rows = outcome.unchanged_rows;
        if let Some(why) = &outcome.fallback_reason {
            self.incremental.fallback_reason = Some(why.clone());
            self.incremental.cutoff_date = None;
        }
        // Plex unreachable behind Tautulli makes every get_metadata answer `{}`; importing
        // that would key every new-agent item by its Plex ID. Refuse instead. Only this
        // run's answers count: cached ones say nothing about Plex now.
        let (asked, empty) = (self.resolver.fresh, self.resolver.fresh_empty);
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
        self.resolver.store_deleted(self.store.as_mut());
        let (index, mut report) = builder.finish_index();
        report.pages = outcome.pages;
        report.read = if outcome.incremental {
            ReadKind::Incremental
        } else {
            ReadKind::Full
        };
        if outcome.complete {
            report.mark_complete();
            let after = checkpoint::next(
                self.incremental.checkpoint_before.as_ref(),
                &outcome,
                &self.stream,
                &self.settings,
            );
            self.incremental.checkpoint_after = Some(after.clone());
            self.pending_checkpoint = Some(after);
        } else {
            report.mark_incomplete(
                outcome
                    .incomplete_reason
                    .unwrap_or_else(|| "the read ended early".into()),
            );
        }
        self.report = Some(report);
        self.phase = Phase::Emitting {
            index: Box::new(index),
        };
        Ok(())
    }
}
