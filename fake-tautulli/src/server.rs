//! The running fake: an HTTP server on 127.0.0.1 (several worker threads, since clients make
//! up to 4 concurrent requests) that records every request, applies injected faults and
//! latency, answers Tautulli's API v2 from a [`Scenario`], and (when asked) prices each
//! request with a [`CostModel`] of the real server.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::answer::{Answer, HTML};
use crate::catalog::Catalog;
use crate::clock::{real_now, Zone};
use crate::collections;
use crate::commands::{self, Command, Read, KNOWN_COMMANDS};
use crate::cost::{CostModel, Work};
use crate::ctx::Ctx;
use crate::faults::{self, Effect, FaultRule};
use crate::graphs::{self, graph_grouping, GraphParams};
use crate::history::{self, HistoryRequest, View, ViewKey};
use crate::item_stats::{self, ItemQuery};
use crate::metadata;
use crate::params::{parse_bool, parse_urlencoded, Params};
use crate::scenario::{ActivitySession, Scenario, Session};

use crate::faults::Fault;

/// Views kept per server state; more distinct queries than this start the cache afresh.
const VIEW_CACHE: usize = 8;
/// `Shared::now` value meaning "use the wall clock".
const REAL_TIME: i64 = i64::MIN;

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The URL path without the query string, e.g. `/tautulli/api/v2`.
    pub path: String,
    pub cmd: Option<String>,
    /// Query and form parameters merged (form wins), `apikey` removed.
    pub params: BTreeMap<String, String>,
    /// The request carried the scenario's key.
    pub apikey_valid: bool,
    /// What the real Tautulli would have spent on it under the server's [`CostModel`]; zero
    /// without a model, and until the answer is computed.
    pub modelled: Duration,
}

/// The request log. `first` is the sequence number of `list[0]`, so a request's record can
/// be found again (to add its cost) after earlier ones were cleared.
#[derive(Default)]
struct Requests {
    list: Vec<RecordedRequest>,
    first: u64,
}

/// The mutable play data; views are cached per [`ViewKey`] until it changes.
struct Plays {
    sessions: Arc<Vec<Session>>,
    /// `catalog.items` index per session.
    items: Arc<Vec<u32>>,
    activity: Arc<Vec<ActivitySession>>,
    generation: u64,
    cache: HashMap<ViewKey, Arc<View>>,
}

/// A consistent copy of the play data for answering one request without holding the lock.
struct Snapshot {
    sessions: Arc<Vec<Session>>,
    items: Arc<Vec<u32>>,
    activity: Arc<Vec<ActivitySession>>,
    generation: u64,
}

struct Pending {
    remaining: usize,
    sessions: Vec<Session>,
}

struct Shared {
    /// The scenario without its sessions and activity (those live in `plays`).
    scenario: Scenario,
    catalog: Catalog,
    /// The host's time zone, resolved once.
    zone: Zone,
    /// The clock of time-window commands; `i64::MIN`: real time.
    now: AtomicI64,
    plex_online: AtomicBool,
    root: String,
    stop: AtomicBool,
    plays: Mutex<Plays>,
    requests: Mutex<Requests>,
    faults: Mutex<Vec<FaultRule>>,
    pending: Mutex<Vec<Pending>>,
    latency: Mutex<HashMap<Option<String>, Duration>>,
    cost: Mutex<Option<CostModel>>,
    /// Sleep the modelled cost before answering.
    cost_sleep: AtomicBool,
    /// Modelled cost per command (`(none)` without one) since the server started.
    modelled: Mutex<BTreeMap<String, Duration>>,
}

/// The key of requests without a `cmd` in the per-command cost totals.
pub const NO_CMD: &str = "(none)";

/// A running fake Tautulli. Stops (and joins its threads) when dropped.
pub struct FakeServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    http: Option<crate::http::Server>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not take the whole server down with a poisoned lock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `"/tautulli/"` -> `"/tautulli"`, `"/"` or `""` -> `""`.
fn normalise_root(root: &str) -> String {
    let t = root.trim().trim_end_matches('/');
    if t.is_empty() {
        String::new()
    } else if t.starts_with('/') {
        t.to_owned()
    } else {
        format!("/{t}")
    }
}

impl FakeServer {
    /// Starts a fake serving `{url}/api/v2` on an ephemeral port of 127.0.0.1.
    pub fn start(scenario: Scenario) -> std::io::Result<FakeServer> {
        FakeServer::start_with_root(scenario, "")
    }

    /// Starts a fake serving under an HTTP root, e.g. `/tautulli` (reverse-proxy setups).
    pub fn start_with_root(scenario: Scenario, http_root: &str) -> std::io::Result<FakeServer> {
        FakeServer::start_at(scenario, http_root, 0)
    }

    /// Starts a fake on a chosen port of 127.0.0.1 (0: an ephemeral one), for a fake that
    /// people point a config at.
    pub fn start_on_port(scenario: Scenario, port: u16) -> std::io::Result<FakeServer> {
        FakeServer::start_at(scenario, "", port)
    }

    fn start_at(mut scenario: Scenario, http_root: &str, port: u16) -> std::io::Result<FakeServer> {
        let catalog = Catalog::new(&scenario);
        let sessions = std::mem::take(&mut scenario.sessions);
        let activity = std::mem::take(&mut scenario.activity);
        let items = sessions
            .iter()
            .map(|s| item_index(&catalog, s))
            .collect::<std::io::Result<Vec<u32>>>()?;
        let zone = scenario.server.zone();
        let now = AtomicI64::new(scenario.server.now.unwrap_or(REAL_TIME));
        let plex_online = AtomicBool::new(scenario.server.plex_online);
        let shared = Arc::new(Shared {
            scenario,
            catalog,
            zone,
            now,
            plex_online,
            root: normalise_root(http_root),
            stop: AtomicBool::new(false),
            plays: Mutex::new(Plays {
                sessions: Arc::new(sessions),
                items: Arc::new(items),
                activity: Arc::new(activity),
                generation: 0,
                cache: HashMap::new(),
            }),
            requests: Mutex::new(Requests::default()),
            faults: Mutex::new(Vec::new()),
            pending: Mutex::new(Vec::new()),
            latency: Mutex::new(HashMap::new()),
            cost: Mutex::new(None),
            cost_sleep: AtomicBool::new(false),
            modelled: Mutex::new(BTreeMap::new()),
        });
        let http = {
            let shared = Arc::clone(&shared);
            crate::http::Server::start_on(port, move |request| serve(&shared, request))?
        };
        let addr = http.addr();
        Ok(FakeServer {
            shared,
            addr,
            http: Some(http),
        })
    }

    /// `http://127.0.0.1:PORT` plus the HTTP root: what a client's `server_url` should be.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.shared.root)
    }

    /// The scenario's API key (for test clients; never print it).
    pub fn api_key(&self) -> String {
        self.shared.scenario.api_key.expose().to_owned()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).list.clone()
    }

    /// Forgets the recorded requests (the modelled totals keep counting).
    pub fn clear_requests(&self) {
        let mut r = lock(&self.shared.requests);
        r.first += r.list.len() as u64;
        r.list.clear();
    }

    /// Prices every request from now on with `model` (`None`, the default: no pricing, every
    /// `modelled` stays zero).
    pub fn set_cost_model(&self, model: Option<CostModel>) {
        *lock(&self.shared.cost) = model;
    }

    /// The model requests are priced with.
    pub fn cost_model(&self) -> Option<CostModel> {
        *lock(&self.shared.cost)
    }

    /// With a cost model, really sleep each request's modelled cost (less the fake's own
    /// time on it) before answering, so an end-to-end run feels like the real server. Off by
    /// default: the cost is only counted.
    pub fn set_cost_sleep(&self, sleep: bool) {
        self.shared.cost_sleep.store(sleep, Ordering::SeqCst);
    }

    /// Modelled Tautulli seconds of every request answered since the server started (not
    /// reset by [`FakeServer::clear_requests`]: compare two readings for a window).
    pub fn modelled_seconds(&self) -> f64 {
        lock(&self.shared.modelled)
            .values()
            .fold(Duration::ZERO, |a, b| a.saturating_add(*b))
            .as_secs_f64()
    }

    /// [`FakeServer::modelled_seconds`] per command ([`NO_CMD`] for requests without one).
    pub fn modelled_seconds_by_command(&self) -> BTreeMap<String, f64> {
        lock(&self.shared.modelled)
            .iter()
            .map(|(k, v)| (k.clone(), v.as_secs_f64()))
            .collect()
    }

    /// Adds a fault rule. Rules are tried in push order; the first matching one with uses
    /// left applies.
    pub fn push_fault(&self, rule: FaultRule) {
        lock(&self.shared.faults).push(rule);
    }

    /// Removes every fault rule: the server answers normally again.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Adds `sessions` right after the `n`-th `get_history` request (counted from this call)
    /// has been answered with data, before that answer is sent: the next page a client asks
    /// for already sees them, as when plays finish while a client pages.
    ///
    /// Panics when a session names an item, user or client the scenario lacks.
    pub fn insert_sessions_after_history_requests(&self, n: usize, sessions: Vec<Session>) {
        for s in &sessions {
            self.check_session(s);
        }
        if n == 0 {
            self.add_sessions(sessions);
        } else {
            lock(&self.shared.pending).push(Pending {
                remaining: n,
                sessions,
            });
        }
    }

    /// Adds finished plays now. Panics when a session names an item, user or client the
    /// scenario lacks.
    pub fn add_sessions(&self, sessions: Vec<Session>) {
        for s in &sessions {
            self.check_session(s);
        }
        self.shared.add_sessions(sessions);
    }

    fn check_session(&self, s: &Session) {
        let sc = &self.shared.scenario;
        assert!(
            self.shared.catalog.item_index(s.rating_key).is_some(),
            "session {}: rating_key {} is no movie or episode of the scenario",
            s.id,
            s.rating_key
        );
        assert!(
            sc.users.iter().any(|u| u.user_id == s.user_id),
            "session {}: user_id {} is not in the scenario",
            s.id,
            s.user_id
        );
        assert!(
            (s.client as usize) < sc.clients.len().max(1),
            "session {}: client {} is not in the scenario",
            s.id,
            s.client
        );
    }

    /// Delays every answer to `cmd` (`None`: every command) by `delay`; zero removes it.
    pub fn set_latency(&self, cmd: Option<&str>, delay: Duration) {
        let mut l = lock(&self.shared.latency);
        let key = cmd.map(str::to_owned);
        if delay.is_zero() {
            l.remove(&key);
        } else {
            l.insert(key, delay);
        }
    }

    /// Fixes the server's clock at `epoch` (seconds) for every time-window command: graph
    /// windows and "today", item watch-time windows. Default: the scenario's `server.now`,
    /// else real time.
    pub fn set_now(&self, epoch: i64) {
        self.shared.now.store(epoch, Ordering::SeqCst);
    }

    /// Lets the server's clock follow real time again.
    pub fn use_real_time(&self) {
        self.shared.now.store(REAL_TIME, Ordering::SeqCst);
    }

    /// The server's current "now" in epoch seconds.
    pub fn now(&self) -> i64 {
        self.shared.now()
    }

    /// Makes Plex reachable or not behind the fake (initially `server.plex_online`).
    pub fn set_plex_online(&self, online: bool) {
        self.shared.plex_online.store(online, Ordering::SeqCst);
    }

    /// Number of finished plays currently in the history table.
    pub fn session_count(&self) -> usize {
        lock(&self.shared.plays).sessions.len()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        drop(self.http.take());
    }
}

fn item_index(catalog: &Catalog, s: &Session) -> std::io::Result<u32> {
    catalog.item_index(s.rating_key).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "session {} plays rating_key {}, which is no movie or episode of the scenario",
                s.id, s.rating_key
            ),
        )
    })
}

fn serve(shared: &Shared, request: crate::http::Request) -> crate::http::Response {
    let method = request.method.to_ascii_uppercase();
    let url = request.target.as_str();
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Params = parse_urlencoded(query).into_iter().collect();
    let is_form = request.header("content-type").is_some_and(|v| {
        v.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if is_form {
        params.extend(parse_urlencoded(&String::from_utf8_lossy(&request.body)));
    }
    let apikey = params.remove("apikey");
    let apikey_valid = apikey.as_deref() == Some(shared.scenario.api_key.expose());
    let cmd = params.get("cmd").cloned();
    let seq = {
        let mut r = lock(&shared.requests);
        r.list.push(RecordedRequest {
            method,
            path: path.to_owned(),
            cmd: cmd.clone(),
            params: params.clone(),
            apikey_valid,
            modelled: Duration::ZERO,
        });
        r.first + r.list.len() as u64 - 1
    };

    let answer = shared.answer(seq, path, cmd.as_deref(), &params, apikey.as_deref());
    let mut headers = vec![("Content-Type".to_string(), answer.content_type.to_string())];
    headers.extend(
        answer
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string())),
    );
    crate::http::Response {
        status: answer.status,
        headers,
        body: answer.body,
        delivery: answer.delivery,
    }
}

enum Route {
    ApiV2,
    OldApi,
    NotFound,
}

impl Shared {
    fn now(&self) -> i64 {
        match self.now.load(Ordering::SeqCst) {
            REAL_TIME => real_now(),
            fixed => fixed,
        }
    }

    fn plex_online(&self) -> bool {
        self.plex_online.load(Ordering::SeqCst)
    }

    fn route(&self, path: &str) -> Route {
        let Some(rel) = path.strip_prefix(self.root.as_str()) else {
            return Route::NotFound;
        };
        match rel.trim_end_matches('/') {
            "/api/v2" => Route::ApiV2,
            "/api" => Route::OldApi,
            _ => Route::NotFound,
        }
    }

    /// Sleeps up to `d`, waking early when the server stops.
    fn pause(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            if now >= end {
                break;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(20)));
        }
    }

    fn take_fault(&self, cmd: Option<&str>, p: &Params) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let rule = faults.iter_mut().find(|r| r.matches(cmd, p))?;
        if let Some(t) = &mut rule.times {
            *t -= 1;
        }
        Some(rule.fault.clone())
    }

    /// Prices request `seq`'s `work` (when a model is set), and sleeps the price less the
    /// `spent` time when asked to.
    fn charge(&self, seq: u64, cmd: Option<&str>, work: &Work, spent: Duration) {
        let Some(model) = *lock(&self.cost) else {
            return;
        };
        let cost = model.cost(work);
        {
            let mut r = lock(&self.requests);
            if let Some(i) = seq.checked_sub(r.first) {
                if let Some(rec) = usize::try_from(i).ok().and_then(|i| r.list.get_mut(i)) {
                    rec.modelled = cost;
                }
            }
        }
        {
            let mut totals = lock(&self.modelled);
            let total = totals.entry(cmd.unwrap_or(NO_CMD).to_owned()).or_default();
            *total = total.saturating_add(cost);
        }
        if self.cost_sleep.load(Ordering::SeqCst) {
            self.pause(cost.saturating_sub(spent));
        }
    }

    fn answer(
        &self,
        seq: u64,
        path: &str,
        cmd: Option<&str>,
        p: &Params,
        apikey: Option<&str>,
    ) -> Answer {
        let delay = {
            let l = lock(&self.latency);
            l.get(&cmd.map(str::to_owned))
                .or_else(|| l.get(&None))
                .copied()
        };
        if let Some(d) = delay {
            self.pause(d);
        }
        let mut after = None;
        let stripped: Params;
        let mut p = p;
        if let Some(fault) = self.take_fault(cmd, p) {
            match fault.effect() {
                Effect::Replace(a) => {
                    self.charge(seq, cmd, &Work::Light, Duration::ZERO);
                    return a;
                }
                Effect::Delay(d) => self.pause(d),
                Effect::Without(keys) => {
                    stripped = p
                        .iter()
                        .filter(|(k, _)| !keys.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    p = &stripped;
                }
                Effect::Paging { cap, paging } => {
                    let get = |k: &str| p.get(k).and_then(|v| v.trim().parse::<u64>().ok());
                    let (start, length) = faults::bad_paging(
                        get("start").unwrap_or(0),
                        get("length").unwrap_or(25),
                        cap,
                        paging,
                    );
                    let mut q = p.clone();
                    q.insert("start".into(), start.to_string());
                    q.insert("length".into(), length.to_string());
                    stripped = q;
                    p = &stripped;
                }
                other => after = Some(other),
            }
        }
        let t = Instant::now();
        let (normal, work) = match self.route(path) {
            Route::ApiV2 => self.api(cmd, p, apikey),
            Route::OldApi => (
                Answer::error(200, Some("Please use the /api/v2 endpoint.")),
                Work::Light,
            ),
            Route::NotFound => (
                Answer::other(
                    404,
                    HTML,
                    "<!DOCTYPE html><html><head><title>404 Not Found</title></head>\
                     <body><h2>404 Not Found</h2><p>The path was not found.</p></body></html>",
                ),
                Work::Light,
            ),
        };
        self.charge(seq, cmd, &work, t.elapsed());
        match after {
            Some(Effect::Truncate) => faults::truncate(normal),
            Some(Effect::WrongTypes) => faults::wrong_types(normal, cmd),
            Some(Effect::AbsurdRows(ids)) => faults::absurd_rows(normal, &ids),
            Some(Effect::Hold(h)) => {
                h.pass(&self.stop);
                normal
            }
            Some(Effect::Deliver(delivery)) => Answer { delivery, ..normal },
            _ => normal,
        }
    }

    /// Tautulli's `_api_validate` order: missing key, missing cmd, unknown cmd (so an unknown
    /// command is reported even with a wrong key), then the key itself.
    fn api(&self, cmd: Option<&str>, p: &Params, apikey: Option<&str>) -> (Answer, Work) {
        let light = |a: Answer| (a, Work::Light);
        let Some(key) = apikey else {
            return light(Answer::error(400, Some("Parameter apikey is required")));
        };
        let Some(cmd) = cmd else {
            return light(Answer::error(
                400,
                Some(&format!(
                    "Parameter cmd is required. Possible commands are: {}",
                    KNOWN_COMMANDS.join(", ")
                )),
            ));
        };
        let Some(kind) = commands::classify(cmd) else {
            return light(Answer::error(
                400,
                Some(&commands::unknown_command_message(cmd)),
            ));
        };
        if key != self.scenario.api_key.expose() {
            return light(Answer::error(400, Some("Invalid apikey")));
        }
        match kind {
            Command::Write => light(Answer::success(&serde_json::json!({}))),
            Command::NotImplemented => {
                light(Answer::server_error().with_header("X-Fake-Tautulli", "not-implemented"))
            }
            Command::Read(r) => self.read(r, p),
        }
    }

    fn snapshot(&self) -> Snapshot {
        let p = lock(&self.plays);
        Snapshot {
            sessions: Arc::clone(&p.sessions),
            items: Arc::clone(&p.items),
            activity: Arc::clone(&p.activity),
            generation: p.generation,
        }
    }

    fn ctx<'a>(&'a self, snap: &'a Snapshot) -> Ctx<'a> {
        Ctx {
            scenario: &self.scenario,
            catalog: &self.catalog,
            sessions: &snap.sessions,
            session_items: &snap.items,
            activity: &snap.activity,
            zone: &self.zone,
        }
    }

    /// Answers a read command, and says what the real server would have done for it.
    fn read(&self, r: Read, p: &Params) -> (Answer, Work) {
        let snap = self.snapshot();
        let ctx = self.ctx(&snap);
        let table = snap.sessions.len();
        let light = |a: Answer| (a, Work::Light);
        match r {
            Read::History => {
                let (answer, work) = self.history(&snap, p);
                if answer.is_success() {
                    self.history_answered();
                }
                (answer, work)
            }
            Read::Metadata => {
                let rk = p.get("rating_key").map(|v| v.trim()).unwrap_or("");
                if rk.is_empty() {
                    return light(Answer::error(400, None));
                }
                let answer = match rk
                    .parse()
                    .ok()
                    .filter(|_| self.plex_online())
                    .and_then(|rk| metadata::lookup(&self.scenario, &self.catalog, rk))
                {
                    Some(m) => Answer::success(&m),
                    None => Answer::success(&serde_json::json!({})),
                };
                (answer, Work::Plex)
            }
            Read::TautulliInfo => light(Answer::success(&commands::tautulli_info(&ctx))),
            Read::Users => light(Answer::success(&commands::users(&ctx))),
            Read::LibraryNames => light(Answer::success(&commands::library_names(&ctx))),
            Read::LibrariesTable => {
                let grouping = p
                    .get("grouping")
                    .and_then(|v| parse_bool(v))
                    .unwrap_or(self.scenario.server.grouping);
                // Its play counts and last plays join the whole history table.
                (
                    Answer::success(&commands::libraries_table(&ctx, grouping)),
                    Work::Scan { table },
                )
            }
            Read::Status => light(Answer::success(&commands::status())),
            Read::Settings => {
                if self.scenario.server.quirks.settings_refused {
                    return light(Answer::error(400, Some("Invalid apikey")));
                }
                let key = p.get("key").map(String::as_str);
                light(match commands::settings(&ctx, key) {
                    Some(s) => Answer::success(&s),
                    // An unknown section: Tautulli's `None` answer, an error without a message.
                    None => Answer::error(400, None),
                })
            }
            Read::Graph(kind) => {
                let params = GraphParams::parse(p, kind, self.scenario.server.grouping);
                let now = self.now();
                let rows = graphs::window_sessions(&ctx, kind, &params, now);
                (
                    Answer::success(&graphs::graph(&ctx, kind, &params, now)),
                    Work::Aggregate { table, rows },
                )
            }
            Read::CollectionsTable => (collections::table(&ctx, p, self.plex_online()), Work::Plex),
            Read::ChildrenMetadata => {
                let rk = p.get("rating_key").and_then(|v| v.trim().parse().ok());
                (
                    Answer::success(&collections::children(&ctx, rk, self.plex_online())),
                    Work::Plex,
                )
            }
            Read::ItemWatchTimeStats | Read::ItemUserStats => {
                let get = |k: &str| p.get(k).map(String::as_str);
                let grouping = graph_grouping(get("grouping"), self.scenario.server.grouping);
                let Some(q) = ItemQuery::new(
                    &ctx,
                    get("rating_key"),
                    get("guid"),
                    get("media_type"),
                    grouping,
                    self.plex_online(),
                ) else {
                    return light(Answer::error(400, None));
                };
                // Indexed lookups of one item's plays: cheap next to a scan.
                if r == Read::ItemUserStats {
                    light(Answer::success(&item_stats::user_stats(&ctx, &q)))
                } else {
                    let days = item_stats::query_days(get("query_days"));
                    light(Answer::success(&item_stats::watch_time(
                        &ctx,
                        &q,
                        &days,
                        self.now(),
                    )))
                }
            }
        }
    }

    /// A `get_history` answer from the cached view (built when missing). The work is the
    /// real server's, which has no cache: the whole query on every request.
    fn history(&self, snap: &Snapshot, p: &Params) -> (Answer, Work) {
        let Ok(req) = HistoryRequest::parse(p, &self.scenario.server) else {
            return (Answer::server_error(), Work::Light);
        };
        let ctx = self.ctx(snap);
        let cached = lock(&self.plays).cache.get(&req.key).cloned();
        let view = match cached {
            Some(v) => v,
            None => {
                let v = Arc::new(history::build_view(&ctx, &req.key));
                let mut plays = lock(&self.plays);
                if plays.generation == snap.generation {
                    if plays.cache.len() >= VIEW_CACHE {
                        plays.cache.clear();
                    }
                    plays.cache.insert(req.key.clone(), Arc::clone(&v));
                }
                v
            }
        };
        let work = Work::History {
            table: view.records_total,
            filtered: view.rows.len(),
            returned: history::page_range(&view, &req).len(),
        };
        let answer = Answer::success_with(|out| history::write_page(out, ctx, &view, &req))
            .unwrap_or_else(|_| Answer::server_error());
        (answer, work)
    }

    /// Counts an answered `get_history` and applies the insertions that are due.
    fn history_answered(&self) {
        let due: Vec<Session> = {
            let mut pending = lock(&self.pending);
            let mut due = Vec::new();
            pending.retain_mut(|p| {
                p.remaining -= 1;
                if p.remaining == 0 {
                    due.append(&mut p.sessions);
                    false
                } else {
                    true
                }
            });
            due
        };
        if !due.is_empty() {
            self.add_sessions(due);
        }
    }

    fn add_sessions(&self, sessions: Vec<Session>) {
        let items: Vec<u32> = sessions
            .iter()
            .map(|s| item_index(&self.catalog, s).expect("sessions are checked when queued"))
            .collect();
        let mut plays = lock(&self.plays);
        Arc::make_mut(&mut plays.sessions).extend(sessions);
        Arc::make_mut(&mut plays.items).extend(items);
        plays.generation += 1;
        plays.cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_normalised() {
        assert_eq!(normalise_root(""), "");
        assert_eq!(normalise_root("/"), "");
        assert_eq!(normalise_root("tautulli/"), "/tautulli");
        assert_eq!(normalise_root("/a/b"), "/a/b");
    }

    #[test]
    fn routes_respect_the_root() {
        let server = FakeServer::start_with_root(Scenario::reference(), "/tautulli").unwrap();
        let s = &server.shared;
        assert!(matches!(s.route("/tautulli/api/v2"), Route::ApiV2));
        assert!(matches!(s.route("/tautulli/api/v2/"), Route::ApiV2));
        assert!(matches!(s.route("/tautulli/api"), Route::OldApi));
        assert!(matches!(s.route("/api/v2"), Route::NotFound));
        assert!(server.url().ends_with("/tautulli"));
        assert!(!format!("{server:?}").contains(&server.api_key()));
    }
}
