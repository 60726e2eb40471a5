//! One index read, driven step by step by the host: each [`HistoryCursor::next`] reads one
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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{json, Value};

use crate::checkpoint::{self, Checkpoint};
use crate::client::{Client, Command};
use crate::config::{self, TautulliConfig};
use crate::error::{Error, Result};
use crate::history::{ClientPages, IndexPage, IndexRow, ReadOutcome, Since};
use crate::index::{GroupRef, Index, IndexBuilder, ReadKind, Report, TemplateId};
use crate::normalise::{
    self, Identity, IdentityCache, MetaAnswer, MetaRequest, Play, Policy, SkipReason,
};
use crate::reader::{Reader, WindowOptions};
use crate::rows::Metadata;
use crate::state::{self, Freshness, State};

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

/// The normalisation policy from the config's `history` block.
pub fn policy(cfg: &config::HistoryConfig) -> Policy {
    Policy {
        watched_only: cfg.watched_only,
        min_percent: cfg.min_percent,
        include_live: cfg.include_live,
        watched_at: cfg.watched_at,
        rewatches: cfg.rewatches,
    }
}

/// The host's `index` options (a JSON object; unknown keys are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexOptions {
    /// `clear_metadata_cache`: forget every cached metadata answer of this server first, so
    /// every show and new-agent movie is asked again (after fixing a match in Plex).
    pub clear_metadata_cache: bool,
    /// `reset_checkpoint`: ignore `checkpoint`, so the read is a full one (whose report then
    /// carries a new checkpoint).
    pub reset_checkpoint: bool,
    /// `dry_run`: the host only plans; the plugin's state (metadata cache) is neither read
    /// nor written, so a dry run changes no file at all. The checkpoint given is used as in
    /// a real run, so the plan is exactly what that run would import.
    pub dry_run: bool,
    /// `checkpoint`: the token of the last committed import's report (`null`/absent: none),
    /// where `history.mode: incremental` starts.
    pub checkpoint: Option<String>,
}

impl IndexOptions {
    pub fn from_json(options: &Value) -> Result<Self> {
        let Value::Object(m) = options else {
            return Err(Error::ConfigInvalid {
                key: "(index options)".into(),
                reason: format!("expected a JSON object, found {options}"),
            });
        };
        let flag = |name: &str| match m.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(Error::ConfigInvalid {
                key: format!("(index options).{name}"),
                reason: format!("found {other}, expected true or false"),
            }),
        };
        let checkpoint = match m.get("checkpoint") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(Error::ConfigInvalid {
                    key: "(index options).checkpoint".into(),
                    reason: format!(
                        "found {}, expected the checkpoint string of an index report, or null",
                        config::describe(other)
                    ),
                })
            }
        };
        Ok(Self {
            clear_metadata_cache: flag("clear_metadata_cache")?,
            reset_checkpoint: flag("reset_checkpoint")?,
            dry_run: flag("dry_run")?,
            checkpoint,
        })
    }
}

/// Where the plugin's state lives, in the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StateReport {
    /// `tautulli.state_dir`, when set.
    pub dir: Option<String>,
    /// The state file, when it could be opened.
    pub file: Option<String>,
    /// True when the metadata cache persists between runs.
    pub persistent: bool,
    /// Why they do not (no `state_dir`, or the file could not be opened).
    pub note: Option<String>,
}

/// The metadata cache, in the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CacheReport {
    pub enabled: bool,
    /// `tautulli.metadata_cache_days`.
    pub days: u32,
    /// Lookups answered from the cache (no `get_metadata` sent).
    pub hits: u64,
    /// Answers stored this run.
    pub stored: u64,
    /// Expired answers removed at the start.
    pub expired_removed: u64,
    /// Answers removed by `clear_metadata_cache` (null when not asked).
    pub cleared: Option<u64>,
    /// The first cache failure, if any (the read went on without it).
    pub error: Option<String>,
}

/// Incremental reading and checkpoints, in the report (readable copies; the token the host
/// keeps is the report's top-level `checkpoint`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct IncrementalReport {
    /// The checkpoint given that this read started from (incremental) or could have (full).
    pub checkpoint_before: Option<Checkpoint>,
    /// The checkpoint a complete read leaves (the report's `checkpoint` once the index has
    /// been handed out).
    pub checkpoint_after: Option<Checkpoint>,
    /// An incremental read stopped at rows dated before this (epoch s).
    pub cutoff_date: Option<i64>,
    /// `tautulli.history.overlap_hours`.
    pub overlap_hours: u32,
    /// Rows read but skipped as unchanged since the checkpoint.
    pub unchanged_rows: u64,
    /// Why `mode: incremental` read the whole history instead.
    pub fallback_reason: Option<String>,
}

/// What a row identity became (see [`normalise::Identity`]).
#[derive(Debug, Clone, Copy)]
enum Known {
    Item(TemplateId),
    Skip(SkipReason),
}

enum Phase {
    Reading {
        reader: Box<Reader<ClientPages<IndexPage>, IndexPage>>,
        builder: Box<IndexBuilder>,
        /// What each row identity seen so far became.
        known: Box<IdentityCache<Known>>,
    },
    Emitting {
        index: Box<Index>,
    },
    Done,
}

/// Resolves metadata requests: this run's answers, then the persistent cache, then Tautulli.
struct Resolver {
    client: Arc<Client>,
    concurrency: usize,
    /// Answers by request, for this run: each rating key is asked at most once.
    answers: HashMap<MetaRequest, MetaAnswer>,
    /// Answers Tautulli gave this run, and how many of them were empty (`{}`).
    fresh: u64,
    fresh_empty: u64,
    max_in_flight: usize,
    /// The cache's key for this server.
    server: String,
    /// Which cached answers are still good; `None`: no cache.
    fresh_since: Option<Freshness>,
    /// Empty answers of this run, cached only once the read got through (see [`state`]).
    pending_deleted: Vec<MetaRequest>,
    cache: CacheReport,
}

impl Resolver {
    /// Makes sure every request in `wanted` has an answer; returns the `get_metadata` calls
    /// made. A failed call fails the read, but the IDs that came back are cached first.
    fn resolve(&mut self, store: Option<&mut State>, wanted: &[MetaRequest]) -> Result<u64> {
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
                MetaAnswer::Failed(_) => {}
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
        match st.store(&self.server, answers, state::now_epoch()) {
            Ok(n) => self.cache.stored += n,
            Err(e) => {
                self.cache.error.get_or_insert(e.to_string());
            }
        }
    }

    /// The read got through: cache this run's empty answers, but only if some lookup found
    /// IDs (a Plex that answers at all), else they may all be a Plex outage.
    fn store_deleted(&mut self, store: Option<&mut State>) {
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
        let policy = policy(&cfg.history);
        let now = state::now_epoch();
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
        let given = Self::given_checkpoint(&options, &stream, &settings);
        let mut incremental = IncrementalReport {
            overlap_hours: cfg.history.overlap_hours,
            checkpoint_before: given.as_ref().ok().cloned(),
            ..IncrementalReport::default()
        };
        let since = match cfg.history.mode {
            config::Mode::Full => None,
            config::Mode::Incremental => {
                let since = Self::since(given.as_ref(), cfg.history.overlap_hours);
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

    /// The checkpoint the host gave for this stream and settings, or why there is none to
    /// start from. A token that does not fit is never an error: the read is a full one.
    fn given_checkpoint(
        options: &IndexOptions,
        stream: &str,
        settings: &str,
    ) -> std::result::Result<Checkpoint, String> {
        if options.reset_checkpoint {
            return Err(
                "the index options asked for reset_checkpoint: the whole history is read, and \
                 its report carries a new checkpoint"
                    .into(),
            );
        }
        let Some(token) = options.checkpoint.as_deref() else {
            return Err(
                "no checkpoint yet (the index options gave none): the whole history is read; \
                 once the host has stored this read's checkpoint, the next read is incremental"
                    .into(),
            );
        };
        Checkpoint::decode(token, stream, settings)
            .map_err(|e| format!("{e}: the whole history is read"))
    }

    /// Where an incremental read starts from, or why it cannot be one.
    fn since(
        checkpoint: std::result::Result<&Checkpoint, &String>,
        overlap_hours: u32,
    ) -> std::result::Result<Since, String> {
        let cp = checkpoint.map_err(String::clone)?;
        Ok(Since {
            max_row_id: cp.max_row_id,
            cutoff_date: cp.max_date.saturating_sub(i64::from(overlap_hours) * 3600),
            records: cp.records,
        })
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
        rows: Vec<IndexRow>,
    ) -> Result<()> {
        /// A play in page order: of an item already built, or to build.
        enum Pending<'a> {
            Known(TemplateId, i64, GroupRef),
            /// Rare (first sight of an identity): boxed to keep the common case small.
            New(Box<(Play, Identity<'a>)>),
        }
        let mut pending = Vec::with_capacity(rows.len());
        for row in &rows {
            let accepted = match normalise::precheck(row, policy) {
                Ok(a) => a,
                Err(reason) => {
                    builder.skip(reason);
                    continue;
                }
            };
            let id = normalise::identity(row, &accepted);
            match known.get(&id) {
                Some(Known::Item(t)) => {
                    pending.push(Pending::Known(t, accepted.watched_at, accepted.group))
                }
                Some(Known::Skip(reason)) => builder.skip(reason),
                None => match normalise::complete(row, accepted) {
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
            if let Some(req) = normalise::metadata_need(play) {
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
                    let need = normalise::metadata_need(&play);
                    let answer = need.and_then(|r| resolver.answers.get(&r));
                    let t = match normalise::build_item(&play, answer) {
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
            let after = self.next_checkpoint(&outcome);
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

    /// The checkpoint a complete read leaves. An incremental read only moves the previous
    /// one forward; a full read replaces it (its ids may have gone down after a restore).
    fn next_checkpoint(&self, outcome: &crate::history::ReadOutcome) -> Checkpoint {
        let row_id = outcome.checkpoint_row_id().unwrap_or(0);
        let date = outcome.max_date.unwrap_or(0);
        let (max_row_id, max_date) =
            match (&self.incremental.checkpoint_before, outcome.incremental) {
                (Some(before), true) => (before.max_row_id.max(row_id), before.max_date.max(date)),
                _ => (row_id, date),
            };
        Checkpoint {
            stream: self.stream.clone(),
            settings: self.settings.clone(),
            max_row_id,
            max_date,
            records: outcome.records_filtered,
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

    fn cfg(history: Value) -> TautulliConfig {
        TautulliConfig::from_engine_config(
            &json!({"tautulli": {"server_url": "http://h:8181", "api_key": "k",
                "history": history}}),
            "",
        )
        .unwrap()
    }

    fn token(c: &TautulliConfig) -> String {
        Checkpoint {
            stream: checkpoint::stream_id(c),
            settings: checkpoint::settings_fingerprint(&c.history),
            max_row_id: 42,
            max_date: 1_800_000_000,
            records: 40,
        }
        .encode()
    }

    #[test]
    fn a_checkpoint_at_the_edge_of_time_gives_a_cutoff_without_overflow() {
        let c = cfg(json!({}));
        let cp = Checkpoint {
            stream: checkpoint::stream_id(&c),
            settings: checkpoint::settings_fingerprint(&c.history),
            max_row_id: 1,
            max_date: i64::MIN,
            records: 1,
        };
        let since = HistoryCursor::since(Ok(&cp), 720).unwrap();
        assert_eq!(since.cutoff_date, i64::MIN);
    }

    #[test]
    fn the_checkpoint_option_is_a_string_or_null() {
        let o = IndexOptions::from_json(&json!({"checkpoint": "abc", "dry_run": true})).unwrap();
        assert_eq!(o.checkpoint.as_deref(), Some("abc"));
        assert!(o.dry_run);
        for none in [json!({}), json!({"checkpoint": null})] {
            assert_eq!(IndexOptions::from_json(&none).unwrap().checkpoint, None);
        }
        for bad in [
            json!(5),
            json!({"max_row_id": 1}),
            json!(["x"]),
            json!(true),
        ] {
            match IndexOptions::from_json(&json!({ "checkpoint": bad })) {
                Err(Error::ConfigInvalid { key, reason }) => {
                    assert_eq!(key, "(index options).checkpoint");
                    assert!(reason.contains("checkpoint string"), "{reason}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_checkpoint_that_does_not_fit_becomes_a_full_read_with_the_reason() {
        let c = cfg(json!({"mode": "incremental"}));
        let (stream, settings) = (
            checkpoint::stream_id(&c),
            checkpoint::settings_fingerprint(&c.history),
        );
        let given = |checkpoint: Option<String>, reset: bool| {
            let o = IndexOptions {
                checkpoint,
                reset_checkpoint: reset,
                ..IndexOptions::default()
            };
            HistoryCursor::given_checkpoint(&o, &stream, &settings)
        };
        let good = given(Some(token(&c)), false).unwrap();
        assert_eq!(good.max_row_id, 42);
        let s = HistoryCursor::since(Ok(&good), 6).unwrap();
        assert_eq!(
            (s.max_row_id, s.cutoff_date, s.records),
            (42, 1_800_000_000 - 6 * 3600, 40)
        );
        let cases = [
            (given(None, false), "no checkpoint yet"),
            (given(Some(token(&c)), true), "reset_checkpoint"),
            (
                given(Some("garbage".into()), false),
                "not one this plugin wrote",
            ),
            (
                given(Some(token(&c).replacen("v1;", "v7;", 1)), false),
                "version 7",
            ),
            (
                given(
                    Some(token(&cfg(json!({"user_id": 5, "mode": "incremental"})))),
                    false,
                ),
                "another history stream",
            ),
            (
                given(Some(token(&cfg(json!({"rewatches": true})))), false),
                "settings changed",
            ),
        ];
        for (got, want) in cases {
            let why = got.unwrap_err();
            assert!(why.contains(want), "{why}");
            assert!(why.contains("history is read"), "{why}");
            assert!(!why.contains("h:8181"), "{why}");
        }
    }
}
