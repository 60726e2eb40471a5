//! The HTTP side of Tautulli's API v2: a fixed allow-list of read commands, retries, and the
//! mapping of every answer (or non-answer) to a typed [`Error`].
//!
//! Why it looks like this:
//! - Requests are POST forms so the API key travels in the body, never in a URL that proxies
//!   and access logs keep. Every text that goes into an error is scrubbed of the key anyway
//!   (a misbehaving server or proxy can echo it back), made printable (no escape sequences
//!   reach a terminal) and cut short, copying only the part that is shown.
//! - An answer is bounded in size once decompressed, in time as a whole, and a command in
//!   time over all its retries (see the constants below): a hostile or broken server cannot
//!   hold a sync for ever or make it allocate gigabytes.
//! - Only [`Command`] values can be sent: a read-only plugin must not be able to send a
//!   command that changes Tautulli's data, whatever its callers do.
//! - ureq is told not to turn HTTP statuses into errors and not to follow redirects: Tautulli
//!   answers its own errors with 400 + a JSON message we need to read, and a redirect would
//!   turn our POST into a GET without the form (and the key).
//! - `data` is kept as raw JSON and parsed straight into the caller's type, so an error
//!   envelope's `{}` never has to fit that type and no `serde_json::Value` tree is built.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::clock::Clock;
use crate::config::{ApiKey, TautulliConfig};
use crate::error::{Error, Result};
use crate::sanitize::{display_cut, display_text};

mod answer;
mod scrub;

use scrub::*;

/// Largest `get_history` answer read, counted after decompression: a 100 000-row window
/// (`history.window_rows`' maximum) is ~100-150 MB, the default 20 000 rows a fifth of that.
const HISTORY_LIMIT: usize = 256 << 20;
/// Largest answer to any other command, decompressed: they answer in kilobytes (a large
/// library's tables in a few MB).
const OTHER_LIMIT: usize = 16 << 20;
/// Longest wait between two attempts, whatever the backoff or `Retry-After` say.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const MAX_RETRY_AFTER_SECS: u64 = 60;
/// A whole answer (connecting, sending, the head and the body's last byte) must arrive
/// within this many `timeout`s. `timeout` bounds each wait for data; this bounds a server
/// that keeps sending a little, which would otherwise hold a sync (and the host's locks)
/// for ever. 6 × the default 10 s is a minute: room for the largest history window.
const ANSWER_TIMEOUTS: u32 = 6;
/// One command, all its attempts and the pauses between them included, gets this many
/// `timeout`s (2 minutes by default): no retry, backoff or `Retry-After` goes past it.
const COMMAND_TIMEOUTS: u32 = 12;
/// Error excerpts are at most this many characters.
const EXCERPT_CHARS: usize = 120;
/// Tautulli's `message` (or another single text of the server's) is shown up to this many
/// characters; only a few KB of it are ever kept.
const MESSAGE_CHARS: usize = 300;
/// The JSON parser's error texts quote the value they choke on, which can be any size.
const PARSER_CHARS: usize = 200;
/// A key cut this short by the end of a text is still scrubbed.
const KEY_PIECE: usize = 8;
/// Form fields the client sets itself (or that would change the answer's format).
const RESERVED_PARAMS: [&str; 4] = ["apikey", "cmd", "out_type", "callback"];

/// The read commands this plugin may send. Nothing else can be sent: there is no public way
/// to put any other `cmd` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Command {
    GetHistory,
    GetMetadata,
    GetTautulliInfo,
    GetUsers,
    GetLibraryNames,
    GetLibrariesTable,
    GetChildrenMetadata,
    GetCollectionsTable,
    GetPlaysByDate,
    GetPlaysByHourOfDay,
    GetPlaysByDayOfWeek,
    GetPlaysByStreamType,
    GetConcurrentStreamsByStreamType,
    GetItemWatchTimeStats,
    GetItemUserStats,
    /// Tautulli's config sections; the analytics read `group_history_tables` from `General`.
    GetSettings,
    Status,
}

impl Command {
    /// Every allowed command, in declaration order.
    pub const ALL: [Command; 17] = [
        Self::GetHistory,
        Self::GetMetadata,
        Self::GetTautulliInfo,
        Self::GetUsers,
        Self::GetLibraryNames,
        Self::GetLibrariesTable,
        Self::GetChildrenMetadata,
        Self::GetCollectionsTable,
        Self::GetPlaysByDate,
        Self::GetPlaysByHourOfDay,
        Self::GetPlaysByDayOfWeek,
        Self::GetPlaysByStreamType,
        Self::GetConcurrentStreamsByStreamType,
        Self::GetItemWatchTimeStats,
        Self::GetItemUserStats,
        Self::GetSettings,
        Self::Status,
    ];

    /// The `cmd` value Tautulli knows the command by.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GetHistory => "get_history",
            Self::GetMetadata => "get_metadata",
            Self::GetTautulliInfo => "get_tautulli_info",
            Self::GetUsers => "get_users",
            Self::GetLibraryNames => "get_library_names",
            Self::GetLibrariesTable => "get_libraries_table",
            Self::GetChildrenMetadata => "get_children_metadata",
            Self::GetCollectionsTable => "get_collections_table",
            Self::GetPlaysByDate => "get_plays_by_date",
            Self::GetPlaysByHourOfDay => "get_plays_by_hourofday",
            Self::GetPlaysByDayOfWeek => "get_plays_by_dayofweek",
            Self::GetPlaysByStreamType => "get_plays_by_stream_type",
            Self::GetConcurrentStreamsByStreamType => "get_concurrent_streams_by_stream_type",
            Self::GetItemWatchTimeStats => "get_item_watch_time_stats",
            Self::GetItemUserStats => "get_item_user_stats",
            Self::GetSettings => "get_settings",
            Self::Status => "status",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The most bytes an answer to this command may have once decompressed.
    fn body_limit(self) -> usize {
        match self {
            Self::GetHistory => HISTORY_LIMIT,
            _ => OTHER_LIMIT,
        }
    }
}

/// A Tautulli API client. Cheap to share: every method takes `&self` and it is `Send + Sync`,
/// so metadata lookups can run on several threads at once.
pub struct Client {
    agent: ureq::Agent,
    /// `{server_url}/api/v2`.
    endpoint: String,
    server_url: String,
    server_url_key: String,
    key: ApiKey,
    /// The key as a server may echo it: raw and form-encoded (see [`scrub_range`]).
    key_forms: Vec<Vec<u8>>,
    timeout: Duration,
    max_retries: u32,
    backoff_ms: u64,
    /// HTTP requests sent per command (retries included), indexed by [`Command::index`].
    sent: [AtomicU64; Command::ALL.len()],
    /// Microseconds spent waiting for Tautulli's answers per command (retries and their
    /// pauses included; overlapping requests each count their own wait).
    waited_us: [AtomicU64; Command::ALL.len()],
    /// What times attempts and waits between them.
    clock: Clock,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server_url", &self.server_url)
            .field("key", &self.key)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// A complete HTTP answer (body read).
struct Answer {
    status: u16,
    content_type: String,
    retry_after: Option<u64>,
    location: Option<String>,
    body: Vec<u8>,
}

/// How the attempts at one command went.
#[derive(Debug, Clone, Copy)]
struct Tally {
    attempts: u32,
    /// Time spent on the command, retries and pauses included.
    elapsed_ms: u64,
    /// A `Retry-After` that was not waited for: the command's time would have run out.
    wait_refused_secs: Option<u64>,
}

/// A final answer to one command, received but not read yet (see [`Client::send`]).
pub struct Received {
    cmd: Command,
    answer: Answer,
    tally: Tally,
}

impl Received {
    /// A 200 answer that is not an HTML page: worth guessing that it holds a usable page.
    pub fn looks_ok(&self) -> bool {
        self.answer.status == 200 && !looks_like_html(&self.answer)
    }
}

impl std::fmt::Debug for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body may echo the key (the client scrubs it only when reading): never printed.
        f.debug_struct("Received")
            .field("cmd", &self.cmd)
            .field("status", &self.answer.status)
            .field("bytes", &self.answer.body.len())
            .field("attempts", &self.tally.attempts)
            .finish_non_exhaustive()
    }
}

/// Why an attempt produced no usable answer.
enum Failure {
    Transport(ureq::Error),
    /// More than [`Command::body_limit`] bytes.
    TooLarge {
        status: u16,
    },
}

impl Client {
    /// Builds the client from a checked config. Proxies from the environment are honoured,
    /// except for a loopback `server_url`.
    pub fn new(cfg: &TautulliConfig) -> Result<Self> {
        let endpoint = format!("{}/api/v2", cfg.server_url);
        if let Err(e) = ureq::http::Uri::try_from(endpoint.as_str()) {
            return Err(Error::ConfigInvalid {
                key: cfg.server_url_key.clone(),
                reason: format!(
                    "\"{}\" is not a usable URL ({}); expected e.g. \"http://192.168.1.10:8181\"",
                    cfg.display_url(),
                    cfg.api_key.scrub(&e.to_string())
                ),
            });
        }
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(!cfg.verify_ssl)
            .build();
        let proxy = if is_loopback(&cfg.server_url) {
            None
        } else {
            ureq::Proxy::try_from_env()
        };
        // Like Python requests' `timeout`: a bound on connecting and on each wait for data.
        // The whole answer gets a multiple of it on top, set per attempt (`send_once`).
        let t = Some(cfg.timeout);
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_resolve(t)
            .timeout_connect(t)
            .timeout_per_read(t)
            .timeout_per_write(t)
            .tls_config(tls)
            .proxy(proxy)
            .user_agent(concat!("tautulli-plugin/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Self {
            agent: ureq::Agent::new_with_config(config),
            endpoint,
            server_url: cfg.display_url(),
            server_url_key: cfg.server_url_key.clone(),
            key: cfg.api_key.clone(),
            key_forms: key_forms(&cfg.api_key),
            timeout: cfg.timeout,
            max_retries: cfg.max_retries,
            backoff_ms: cfg.backoff_ms,
            sent: std::array::from_fn(|_| AtomicU64::new(0)),
            waited_us: std::array::from_fn(|_| AtomicU64::new(0)),
            clock: Clock::system(),
        })
    }

    /// The same client timed by `clock` (tests: a clock whose waits do not wait).
    #[cfg(test)]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The clock this client (and the read using it) goes by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The normalised base URL (no key in it), for reports.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// Sends `cmd` with `params` and parses the envelope's `data` into `T`.
    ///
    /// `params` must not set `apikey`, `cmd`, `out_type` or `callback` (an
    /// [`Error::Internal`]: the client sets the first two itself and the others would change
    /// the answer's format).
    pub fn call<T: DeserializeOwned>(&self, cmd: Command, params: &[(&str, String)]) -> Result<T> {
        let received = self.send(cmd, params)?;
        self.read(&received)
    }

    /// The first half of [`Self::call`]: sends (with retries) and waits for the final answer,
    /// without parsing it, so a caller can send its next request before paying for the parse.
    /// Transport failures are errors here; every answer's meaning is decided by [`Self::read`].
    pub fn send(&self, cmd: Command, params: &[(&str, String)]) -> Result<Received> {
        let form = form(cmd, &self.key, params)?;
        let (outcome, tally) = self.exchange(cmd, &form);
        match outcome {
            Ok(answer) => Ok(Received { cmd, answer, tally }),
            Err(Failure::TooLarge { status }) => Err(Error::BadResponse {
                cmd: cmd.as_str(),
                status,
                reason: too_large(cmd),
                excerpt: String::new(),
            }),
            Err(Failure::Transport(e)) => Err(self.transport_error(&e, tally)),
        }
    }

    /// The second half of [`Self::call`]: the answer's `data` as `T`, or the error it stands
    /// for.
    pub fn read<T: DeserializeOwned>(&self, received: &Received) -> Result<T> {
        self.interpret(received.cmd, &received.answer, received.tally)
    }

    /// HTTP requests sent so far per command name (retries included); commands never sent
    /// are left out.
    pub fn stats(&self) -> BTreeMap<&'static str, u64> {
        Command::ALL
            .iter()
            .map(|c| (c.as_str(), self.sent[c.index()].load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Microseconds spent waiting for answers so far, per command name; commands never sent
    /// are left out.
    pub fn waited_us(&self) -> BTreeMap<&'static str, u64> {
        Command::ALL
            .iter()
            .filter(|c| self.sent[c.index()].load(Ordering::Relaxed) > 0)
            .map(|c| {
                (
                    c.as_str(),
                    self.waited_us[c.index()].load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// Sends until an answer is final, the retries run out or the command's time does.
    /// Returns the last outcome and how the attempts went.
    fn exchange(&self, cmd: Command, form: &[(&str, &str)]) -> (Result<Answer, Failure>, Tally) {
        let began = self.clock.now();
        let (outcome, mut tally) = self.exchange_timed(cmd, form, began);
        let waited = u64::try_from(self.clock.since(began).as_micros()).unwrap_or(u64::MAX);
        tally.elapsed_ms = waited / 1000;
        self.waited_us[cmd.index()].fetch_add(waited, Ordering::Relaxed);
        (outcome, tally)
    }

    fn exchange_timed(
        &self,
        cmd: Command,
        form: &[(&str, &str)],
        began: Instant,
    ) -> (Result<Answer, Failure>, Tally) {
        let budget = self.command_budget();
        let mut tally = Tally {
            attempts: 0,
            elapsed_ms: 0,
            wait_refused_secs: None,
        };
        loop {
            tally.attempts += 1;
            self.sent[cmd.index()].fetch_add(1, Ordering::Relaxed);
            let left = budget.saturating_sub(self.clock.since(began));
            let outcome = self.send_once(cmd, form, self.answer_deadline().min(left));
            let attempt = tally.attempts;
            let (wait, asked) = match &outcome {
                Err(Failure::Transport(e)) if is_transient(e) => {
                    (Some(self.backoff(attempt)), None)
                }
                Ok(a) if a.status == 429 => match a.retry_after {
                    Some(s) => (
                        Some(Duration::from_secs(s.min(MAX_RETRY_AFTER_SECS))),
                        Some(s),
                    ),
                    None => (Some(self.backoff(attempt)), None),
                },
                Ok(a) if a.status >= 500 => (Some(self.backoff(attempt)), None),
                _ => (None, None),
            };
            let Some(wait) = wait.filter(|_| attempt <= self.max_retries) else {
                return (outcome, tally);
            };
            // The pause and at least a little of an attempt must fit in what is left.
            let left = budget.saturating_sub(self.clock.since(began));
            if wait >= left {
                tally.wait_refused_secs = asked.filter(|s| Duration::from_secs(*s) >= left);
                return (outcome, tally);
            }
            self.clock.sleep(wait);
        }
    }

    /// How long one whole answer may take ([`ANSWER_TIMEOUTS`]).
    fn answer_deadline(&self) -> Duration {
        self.timeout * ANSWER_TIMEOUTS
    }

    /// How long one command may take over all its attempts ([`COMMAND_TIMEOUTS`]).
    fn command_budget(&self) -> Duration {
        self.timeout * COMMAND_TIMEOUTS
    }

    /// `backoff_ms * 2^(attempt-1)`, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u64 << attempt.saturating_sub(1).min(20);
        Duration::from_millis(self.backoff_ms.saturating_mul(factor)).min(MAX_BACKOFF)
    }

    fn send_once(
        &self,
        cmd: Command,
        form: &[(&str, &str)],
        deadline: Duration,
    ) -> Result<Answer, Failure> {
        let mut resp = self
            .agent
            .post(&self.endpoint)
            .config()
            .timeout_global(Some(deadline))
            .build()
            .header("Accept", "application/json")
            .send_form(form.iter().copied())
            .map_err(Failure::Transport)?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
        };
        let content_type = header("content-type").unwrap_or_default();
        let retry_after = header("retry-after").and_then(|s| s.parse::<u64>().ok());
        let location = header("location");
        // ureq inflates `Content-Encoding: gzip` itself (dropping that header and the
        // length), and its own limit counts the bytes on the wire: a few MB can inflate to
        // GBs. So the limit is applied here, to what the reader hands out (and to the wire
        // bytes too: JSON never decodes to less than it was sent as).
        let limit = cmd.body_limit();
        let too_large = Failure::TooLarge { status };
        let expected = match resp.body().content_length() {
            Some(n) if n > limit as u64 => return Err(too_large),
            Some(n) => n as usize,
            None => 0,
        };
        let mut reader = resp.body_mut().with_config().limit(limit as u64).reader();
        let body = match read_limited(&mut reader, limit, expected) {
            Ok(Some(b)) => b,
            Ok(None) => return Err(too_large),
            Err(e) => match ureq::Error::from(e) {
                ureq::Error::BodyExceedsLimit(_) => return Err(too_large),
                e => return Err(Failure::Transport(e)),
            },
        };
        Ok(Answer {
            status,
            content_type,
            retry_after,
            location,
            body,
        })
    }

    fn transport_error(&self, e: &ureq::Error, tally: Tally) -> Error {
        let url = &self.server_url;
        let tries = crate::error::tries(tally.attempts, tally.elapsed_ms);
        let reason = match e {
            ureq::Error::Timeout(ureq::Timeout::Global) => format!(
                "no complete answer from {url} after {tries}: an answer must arrive whole \
                 within {}s ({ANSWER_TIMEOUTS} × tautulli.timeout) and a command with its \
                 retries within {}s ({COMMAND_TIMEOUTS} × tautulli.timeout), but Tautulli (or \
                 something between it and us) sends too slowly; check the network, or raise \
                 tautulli.timeout if Tautulli is just slow",
                self.answer_deadline().as_secs_f64(),
                self.command_budget().as_secs_f64()
            ),
            ureq::Error::Timeout(what) => format!(
                "no answer from {url} within the {}s timeout ({what}) after {tries}: check that \
                 Tautulli is running and reachable, or raise tautulli.timeout",
                self.timeout.as_secs_f64()
            ),
            ureq::Error::HostNotFound => format!(
                "the host of {url} could not be resolved (DNS) after {tries}: check \
                 tautulli.server_url"
            ),
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => format!(
                "{url} refused the connection after {tries}: is Tautulli running on that host \
                 and port?"
            ),
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => format!(
                "no answer from {url} within the {}s timeout after {tries}: check that Tautulli \
                 is running and reachable, or raise tautulli.timeout",
                self.timeout.as_secs_f64()
            ),
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
                return Error::ConfigInvalid {
                    key: self.server_url_key.clone(),
                    reason: format!(
                        "\"{url}\" is not a usable URL: {}",
                        self.shown(&e.to_string(), MESSAGE_CHARS)
                    ),
                }
            }
            other if is_tls(other) => format!(
                "the TLS connection to {url} failed ({}): if Tautulli uses a self-signed \
                 certificate set tautulli.verify_ssl to false, or use http:// on a trusted network",
                self.shown(&other.to_string(), MESSAGE_CHARS)
            ),
            other => format!(
                "network error talking to {url} after {tries} ({})",
                self.shown(&other.to_string(), MESSAGE_CHARS)
            ),
        };
        Error::Unreachable { reason }
    }
}

/// Reads `r` to its end, or gives `None` as soon as more than `limit` bytes came (reading
/// one byte past it, no more). The buffer starts at `expected` (the announced length) and
/// doubles, but never grows past `limit + 1` bytes: an answer costs at most that, plus the
/// old buffer while one growth copies it.
fn read_limited(
    r: &mut impl std::io::Read,
    limit: usize,
    expected: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let most = limit.saturating_add(1);
    // One byte more than announced, so that reaching the end needs no growth.
    let mut buf = Vec::with_capacity(expected.saturating_add(1).max(8 << 10).min(most));
    loop {
        if buf.len() == buf.capacity() {
            if buf.len() >= most {
                return Ok(None);
            }
            buf.reserve_exact(buf.capacity().min(most - buf.len()));
        }
        // `take` keeps `read_to_end` inside the room reserved (it would double it itself).
        let room = buf.capacity() - buf.len();
        let n = r.by_ref().take(room as u64).read_to_end(&mut buf)?;
        if n < room {
            return Ok((buf.len() <= limit).then_some(buf));
        }
    }
}

/// The reason of an answer over [`Command::body_limit`], saying what to do.
fn too_large(cmd: Command) -> String {
    let what = format!(
        "the answer of `{}` is larger than {} MiB once decompressed",
        cmd.as_str(),
        cmd.body_limit() >> 20
    );
    match cmd {
        Command::GetHistory => format!(
            "{what}, more than any history window should hold: lower \
             tautulli.history.window_rows (or history.per_page for a paged read), and check that \
             tautulli.server_url points at Tautulli itself"
        ),
        _ => format!(
            "{what}, far more than this command ever needs: check that tautulli.server_url \
             points at Tautulli itself, not at a proxy page or another service"
        ),
    }
}

/// The form body: `apikey`, `cmd`, then the caller's parameters. The only way a `cmd` gets
/// on the wire.
fn form<'a>(
    cmd: Command,
    key: &'a ApiKey,
    params: &'a [(&'a str, String)],
) -> Result<Vec<(&'a str, &'a str)>> {
    if let Some((name, _)) = params
        .iter()
        .find(|(n, _)| RESERVED_PARAMS.contains(&n.trim().to_ascii_lowercase().as_str()))
    {
        return Err(Error::Internal {
            reason: format!("parameter `{name}` is set by the client and may not be passed in"),
        });
    }
    let mut form = Vec::with_capacity(params.len() + 2);
    form.push(("apikey", key.expose()));
    form.push(("cmd", cmd.as_str()));
    form.extend(params.iter().map(|(n, v)| (*n, v.as_str())));
    Ok(form)
}

/// Network trouble worth another attempt (not TLS or URL problems, which will not change).
fn is_transient(e: &ureq::Error) -> bool {
    !is_tls(e)
        && matches!(
            e,
            ureq::Error::Timeout(_)
                | ureq::Error::Io(_)
                | ureq::Error::HostNotFound
                | ureq::Error::ConnectionFailed
                | ureq::Error::Protocol(_)
                | ureq::Error::BodyStalled
        )
}

fn is_tls(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => true,
        ureq::Error::Io(io) => {
            let text = io.to_string().to_ascii_lowercase();
            text.contains("certificate") || text.contains("tls") || text.contains("handshake")
        }
        _ => false,
    }
}

fn looks_like_html(a: &Answer) -> bool {
    a.content_type.to_ascii_lowercase().contains("text/html")
        || a.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tautulli::rows::{HistoryPage, Metadata};
    use answer::excerpt;
    use serde::Deserialize;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    const KEY: &str = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";

    /// One scripted answer of the canned server.
    enum Reply {
        /// A raw HTTP response, written as is.
        Raw(String),
        /// Read the request, then say nothing for this long and close.
        Silent(Duration),
    }

    fn http(status: &str, content_type: &str, extra: &str, body: &str) -> Reply {
        Reply::Raw(format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
             Connection: close\r\n{extra}\r\n{body}",
            body.len()
        ))
    }

    fn json(status: &str, body: &str) -> Reply {
        http(status, "application/json", "", body)
    }

    fn ok(data: &str) -> Reply {
        json(
            "200 OK",
            &format!(r#"{{"response":{{"result":"success","message":null,"data":{data}}}}}"#),
        )
    }

    /// A tiny HTTP server on 127.0.0.1 answering one scripted reply per connection and
    /// recording every request (head and body) it read.
    struct Canned {
        url: String,
        requests: Arc<Mutex<Vec<String>>>,
    }

    impl Canned {
        fn start(script: Vec<Reply>) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let requests = Arc::new(Mutex::new(Vec::new()));
            let log = Arc::clone(&requests);
            std::thread::spawn(move || {
                for reply in script {
                    let Ok((mut stream, _)) = listener.accept() else {
                        return;
                    };
                    let request = read_request(&mut stream);
                    log.lock().unwrap().push(request);
                    match reply {
                        Reply::Raw(text) => {
                            let _ = stream.write_all(text.as_bytes());
                        }
                        Reply::Silent(d) => std::thread::sleep(d),
                    }
                }
            });
            Self { url, requests }
        }

        fn requests(&self) -> Vec<String> {
            self.requests.lock().unwrap().clone()
        }
    }

    fn read_request(stream: &mut TcpStream) -> String {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + length {
                    return text;
                }
            }
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return String::from_utf8_lossy(&buf).to_string(),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn config(url: &str, timeout: f64, max_retries: u32) -> TautulliConfig {
        let cfg = serde_json::json!({"tautulli": {
            "server_url": url, "api_key": KEY, "timeout": timeout,
            "max_retries": max_retries, "backoff_ms": 10
        }});
        TautulliConfig::from_engine_config(&cfg, "").unwrap()
    }

    /// A client of `server` whose pauses between attempts do not wait.
    fn client(server: &Canned, max_retries: u32) -> Client {
        Client::new(&config(&server.url, 5.0, max_retries))
            .unwrap()
            .with_clock(Clock::skipping())
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Info {
        tautulli_version: String,
    }

    fn info(c: &Client) -> Result<Info> {
        c.call(Command::GetTautulliInfo, &[])
    }

    fn assert_no_key(e: &Error) {
        assert!(!e.to_string().contains(KEY), "{e}");
        assert!(!format!("{e:?}").contains(KEY), "{e:?}");
    }

    #[test]
    fn allow_list_holds_reads_only() {
        let writes_exact = [
            "terminate_session",
            "import_database",
            "restart",
            "update",
            "sql",
        ];
        let write_prefixes = [
            "delete_",
            "edit_",
            "set_",
            "undelete_",
            "refresh_",
            "backup_",
            "add_",
            "notify",
            "regroup_history",
            "logout_user_session",
        ];
        let mut names = std::collections::BTreeSet::new();
        for (i, c) in Command::ALL.iter().enumerate() {
            let name = c.as_str();
            assert_eq!(c.index(), i, "ALL is in declaration order");
            assert!(names.insert(name), "{name} listed twice");
            assert!(!writes_exact.contains(&name), "{name} changes data");
            assert!(
                !write_prefixes.iter().any(|p| name.starts_with(p)),
                "{name} changes data"
            );
            assert!(
                name.starts_with("get_") || name == "status",
                "{name} is not a read command"
            );
        }
    }

    #[test]
    fn the_form_is_built_only_from_a_command() {
        let key = ApiKey::new(KEY);
        let params = [("rating_key", "5".to_string())];
        for c in Command::ALL {
            let f = form(c, &key, &params).unwrap();
            let cmds: Vec<_> = f.iter().filter(|(n, _)| *n == "cmd").collect();
            assert_eq!(cmds, [&("cmd", c.as_str())]);
        }
        for name in ["cmd", "apikey", "CMD", " out_type", "callback"] {
            let params = [(name, "delete_history".to_string())];
            match form(Command::GetHistory, &key, &params) {
                Err(Error::Internal { reason }) => assert!(reason.contains(name), "{reason}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn posts_a_form_with_cmd_and_key_never_in_the_url() {
        let server = Canned::start(vec![ok(r#"{"tautulli_version":"v2.17.2"}"#)]);
        let c = client(&server, 0);
        let got = c
            .call::<Info>(Command::GetTautulliInfo, &[("x", "a b&c".to_string())])
            .unwrap();
        assert_eq!(got.tautulli_version, "v2.17.2");
        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        let (head, body) = reqs[0].split_once("\r\n\r\n").unwrap();
        let request_line = head.lines().next().unwrap();
        assert_eq!(request_line, "POST /api/v2 HTTP/1.1");
        assert!(!head.contains(KEY), "{head}");
        assert!(head
            .to_ascii_lowercase()
            .contains("content-type: application/x-www-form-urlencoded"));
        let fields: Vec<&str> = body.split('&').collect();
        assert!(fields.contains(&format!("apikey={KEY}").as_str()), "{body}");
        assert!(fields.contains(&"cmd=get_tautulli_info"), "{body}");
        assert!(fields.contains(&"x=a+b%26c"), "{body}");
        assert_eq!(c.stats(), BTreeMap::from([("get_tautulli_info", 1)]));
    }

    #[test]
    fn a_path_root_is_kept() {
        let server = Canned::start(vec![ok("{}")]);
        let c = Client::new(&config(&format!("{}/tautulli/", server.url), 5.0, 0)).unwrap();
        let m: Metadata = c
            .call(Command::GetMetadata, &[("rating_key", "1".into())])
            .unwrap();
        assert!(m.is_empty());
        assert!(server.requests()[0].starts_with("POST /tautulli/api/v2 "));
    }

    #[test]
    fn retries_a_500_then_succeeds() {
        let err500 =
            r#"{"response":{"result":"error","message":"Check the logs for errors","data":{}}}"#;
        let server = Canned::start(vec![
            json("500 Internal Server Error", err500),
            http(
                "502 Bad Gateway",
                "text/html",
                "",
                "<html>bad gateway</html>",
            ),
            ok(r#"{"tautulli_version":"v2"}"#),
        ]);
        let c = client(&server, 3);
        assert_eq!(info(&c).unwrap().tautulli_version, "v2");
        assert_eq!(server.requests().len(), 3);
        assert_eq!(c.stats()["get_tautulli_info"], 3);
    }

    #[test]
    fn retries_run_out_with_the_attempt_count() {
        let err500 =
            r#"{"response":{"result":"error","message":"Check the logs for errors","data":{}}}"#;
        let server = Canned::start(
            (0..3)
                .map(|_| json("500 Internal Server Error", err500))
                .collect(),
        );
        let c = client(&server, 2);
        let e = info(&c).unwrap_err();
        match &e {
            Error::ServerError {
                status,
                attempts,
                message,
                ..
            } => {
                assert_eq!((*status, *attempts), (500, 3));
                assert!(message.contains("Check the logs for errors"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("3 attempts"), "{e}");
        assert_eq!(e.code().name(), "bad_response");
        assert_eq!(server.requests().len(), 3);
    }

    #[test]
    fn honours_retry_after_on_429() {
        let server = Canned::start(vec![
            http(
                "429 Too Many Requests",
                "text/plain",
                "Retry-After: 1\r\n",
                "slow down",
            ),
            ok(r#"{"tautulli_version":"v2"}"#),
        ]);
        let clock = Clock::skipping();
        let c = client(&server, 1).with_clock(clock.clone());
        let (wall, started) = (Instant::now(), clock.now());
        assert_eq!(info(&c).unwrap().tautulli_version, "v2");
        assert!(
            clock.since(started) >= Duration::from_secs(1),
            "waited only {:?}",
            clock.since(started)
        );
        assert!(
            wall.elapsed() < Duration::from_secs(1),
            "the wait was a real one"
        );
        assert_eq!(server.requests().len(), 2);
    }

    #[test]
    fn rate_limit_exhausted() {
        let server = Canned::start(vec![
            http("429 Too Many Requests", "text/plain", "", ""),
            http("429 Too Many Requests", "text/plain", "", ""),
        ]);
        let e = info(&client(&server, 1)).unwrap_err();
        match e {
            Error::RateLimited {
                cmd: "get_tautulli_info",
                attempts: 2,
                wait_refused_secs: None,
                ..
            } => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_dead_port_is_unreachable_after_retries() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let c = Client::new(&config(&url, 5.0, 2)).unwrap();
        let e = info(&c).unwrap_err();
        assert_eq!(e.code().name(), "unreachable", "{e}");
        assert!(e.to_string().contains("3 attempts"), "{e}");
        assert!(e.to_string().contains(&url), "{e}");
        assert_eq!(c.stats()["get_tautulli_info"], 3);
    }

    #[test]
    fn a_silent_server_times_out() {
        let server = Canned::start(vec![Reply::Silent(Duration::from_secs(3))]);
        let c = Client::new(&config(&server.url, 0.3, 0)).unwrap();
        let started = Instant::now();
        let e = info(&c).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(e.code().name(), "unreachable", "{e}");
        assert!(e.to_string().contains("timeout"), "{e}");
        assert!(e.to_string().contains("0.3s"), "{e}");
    }

    #[test]
    fn html_is_a_bad_response_with_an_excerpt() {
        let page = format!(
            "<!DOCTYPE html>\n<html>\n  <head><title>Sign in</title></head>\n  <body>{}</body></html>",
            "Please log in to continue. ".repeat(20)
        );
        let server = Canned::start(vec![http("200 OK", "text/html; charset=utf-8", "", &page)]);
        let e = info(&client(&server, 3)).unwrap_err();
        match &e {
            Error::BadResponse {
                status,
                reason,
                excerpt,
                ..
            } => {
                assert_eq!(*status, 200);
                assert!(reason.contains("reverse proxy or login page"), "{reason}");
                assert!(
                    excerpt.starts_with("<!DOCTYPE html> <html> <head>"),
                    "{excerpt}"
                );
                assert!(excerpt.chars().count() <= 120, "{excerpt}");
                assert!(excerpt.ends_with("..."), "{excerpt}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(server.requests().len(), 1, "HTML is not retried");
    }

    #[test]
    fn invalid_and_missing_keys_and_disabled_api_are_auth_failed() {
        let err = |m: &str| {
            json(
                "400 Bad Request",
                &format!(r#"{{"response":{{"result":"error","message":"{m}","data":{{}}}}}}"#),
            )
        };
        let server = Canned::start(vec![
            err("Invalid apikey"),
            err("Parameter apikey is required"),
            err("API not enabled"),
            http("401 Unauthorized", "text/plain", "", "auth"),
        ]);
        let c = client(&server, 3);
        let hints = [
            "Settings > Web Interface > API",
            "received no API key",
            "API is disabled",
            "HTTP 401",
        ];
        for hint in hints {
            let e = info(&c).unwrap_err();
            assert_eq!(e.code().name(), "auth_failed", "{e}");
            assert!(e.to_string().contains(hint), "{e}");
        }
        assert_eq!(server.requests().len(), 4, "auth failures are not retried");
    }

    #[test]
    fn null_message_names_the_missing_parameter_case() {
        let server = Canned::start(vec![json(
            "400 Bad Request",
            r#"{"response":{"result":"error","message":null,"data":{}}}"#,
        )]);
        let e = client(&server, 3)
            .call::<Metadata>(Command::GetMetadata, &[])
            .unwrap_err();
        assert_eq!(
            e,
            Error::TautulliError {
                cmd: "get_metadata",
                status: 400,
                message: "get_metadata returned nothing (HTTP 400, no message): a required \
                          parameter is missing"
                    .to_string()
            }
        );
        assert_eq!(server.requests().len(), 1);
    }

    #[test]
    fn wrong_paths_are_config_errors() {
        let server = Canned::start(vec![
            json(
                "200 OK",
                r#"{"response":{"result":"error","message":"Please use the /api/v2 endpoint.","data":{}}}"#,
            ),
            http("404 Not Found", "text/plain", "", "not found"),
            http(
                "301 Moved Permanently",
                "text/plain",
                "Location: https://tautulli.example/api/v2\r\n",
                "",
            ),
        ]);
        let c = client(&server, 3);
        for hint in ["without /api", "path", "https://tautulli.example/api/v2"] {
            match info(&c).unwrap_err() {
                Error::ConfigInvalid { key, reason } => {
                    assert_eq!(key, "tautulli.server_url");
                    assert!(reason.contains(hint), "{reason}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn truncated_json_is_a_bad_response() {
        let full = r#"{"response":{"result":"success","message":null,"data":{"recordsFiltered":2,"data":[{"row_id":1}"#;
        let server = Canned::start(vec![json("200 OK", full)]);
        let e = client(&server, 3)
            .call::<HistoryPage>(Command::GetHistory, &[])
            .unwrap_err();
        match &e {
            Error::BadResponse {
                reason, excerpt, ..
            } => {
                assert!(reason.contains("truncated"), "{reason}");
                assert!(reason.contains("line 1 column"), "{reason}");
                assert!(excerpt.contains("row_id"), "{excerpt}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.code().name(), "bad_response");
    }

    #[test]
    fn wrong_types_point_at_the_field() {
        let rows = (0..50)
            .map(|i| {
                format!(
                    r#"{{"row_id":{i},"rating_key":"{}"}}"#,
                    if i == 40 { "oops" } else { "7" }
                )
            })
            .collect::<Vec<_>>()
            .join(",");
        let server = Canned::start(vec![ok(&format!(
            r#"{{"recordsFiltered":50,"recordsTotal":50,"data":[{rows}]}}"#
        ))]);
        let e = client(&server, 3)
            .call::<HistoryPage>(Command::GetHistory, &[])
            .unwrap_err();
        match &e {
            Error::BadResponse {
                reason, excerpt, ..
            } => {
                assert!(reason.contains("oops"), "{reason}");
                assert!(reason.contains("column"), "{reason}");
                assert!(
                    excerpt.contains("\"row_id\":40"),
                    "excerpt near the error: {excerpt}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_key_is_scrubbed_from_echoed_answers() {
        let echo_error = format!(
            r#"{{"response":{{"result":"error","message":"bad request apikey={KEY}&cmd=x","data":{{}}}}}}"#
        );
        let echo_html = format!("<html><body>Denied for {KEY}</body></html>");
        let echo_json = format!(
            r#"{{"response":{{"result":"success","message":null,"data":{{"tautulli_version":5,"k":"{KEY}"}}}}}}"#
        );
        let echo_5xx = format!(
            r#"{{"response":{{"result":"error","message":"failed for {KEY}","data":{{}}}}}}"#
        );
        let server = Canned::start(vec![
            json("400 Bad Request", &echo_error),
            http("200 OK", "text/html", "", &echo_html),
            json("200 OK", &echo_json),
            json("500 Internal Server Error", &echo_5xx),
            http(
                "302 Found",
                "text/plain",
                &format!("Location: /login?apikey={KEY}\r\n"),
                "",
            ),
        ]);
        let c = client(&server, 0);
        for _ in 0..5 {
            let e = info(&c).unwrap_err();
            assert_no_key(&e);
            assert!(e.to_string().contains("***"), "{e}");
        }
        assert!(!format!("{c:?}").contains(KEY));
    }

    #[test]
    fn excerpts_are_short_and_collapsed() {
        assert_eq!(excerpt("a \n\t b", 0, false), "a b");
        assert_eq!(excerpt("a b", 0, true), "...a b");
        let long = "x".repeat(500);
        let e = excerpt(&long, 250, false);
        assert_eq!(e.chars().count(), 120);
        assert!(e.starts_with("...") && e.ends_with("..."), "{e}");
        let multibyte = "é".repeat(200);
        assert!(excerpt(&multibyte, 101, false).chars().count() <= 120);
    }

    #[test]
    fn scrub_covers_the_form_encoded_key() {
        let key = ApiKey::new("a b/c");
        assert_eq!(key.scrub("k=a b/c!"), "k=***!");
        assert_eq!(key.scrub("k=a+b%2Fc"), "k=***");
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        assert!(is_loopback("http://127.0.0.1:8181"));
        assert!(is_loopback("http://localhost/tautulli"));
        assert!(is_loopback("http://[::1]:8181"));
        assert!(!is_loopback("http://192.168.1.10:8181"));
        assert!(!is_loopback("https://tautulli.example"));
    }

    #[test]
    fn history_pages_go_out_with_pinned_parameters() {
        use crate::tautulli::reader::{ClientPages, HistoryReader};
        let page = |rows: &str| {
            ok(&format!(
                r#"{{"recordsFiltered":3,"recordsTotal":9,"data":[{rows}]}}"#
            ))
        };
        let server = Canned::start(vec![
            page(r#"{"row_id":3,"reference_id":3},{"row_id":2,"reference_id":1}"#),
            page(r#"{"row_id":"0","reference_id":"0"}"#),
        ]);
        let cfg = serde_json::json!({"tautulli": {
            "server_url": server.url, "api_key": KEY, "history": {"user_id": "12", "per_page": 2}
        }});
        let cfg = TautulliConfig::from_engine_config(&cfg, "").unwrap();
        let c = std::sync::Arc::new(Client::new(&cfg).unwrap());
        let mut reader = HistoryReader::new(
            ClientPages::index(c.clone(), &cfg.history),
            cfg.history.per_page,
            cfg.history.max_pages,
        );
        let mut rows = 0;
        while let Some(p) = reader.next_page().unwrap() {
            rows += p.rows.len();
        }
        assert_eq!(rows, 3);
        assert!(reader.outcome().complete, "{:?}", reader.outcome());
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2);
        for (req, start) in reqs.iter().zip(["0", "2"]) {
            let body = req.split_once("\r\n\r\n").unwrap().1;
            let fields: Vec<&str> = body.split('&').collect();
            for want in [
                "cmd=get_history",
                "grouping=1",
                "include_activity=0",
                "media_type=movie%2Cepisode",
                "order_column=date",
                "order_dir=desc",
                "user_id=12",
                "length=2",
                &format!("start={start}"),
            ] {
                assert!(fields.contains(&want), "{want} missing from {body}");
            }
        }
        assert_eq!(c.stats(), BTreeMap::from([("get_history", 2)]));
    }

    /// Reads pages of `per_page` rows from the server at `url` to the end; returns how many
    /// rows were read (or the error) and how many `get_history` requests were sent.
    fn read_history(url: &str, per_page: u32) -> (std::result::Result<usize, Error>, u64) {
        use crate::tautulli::reader::{ClientPages, HistoryReader};
        let cfg = serde_json::json!({"tautulli": {
            "server_url": url, "api_key": KEY, "history": {"per_page": per_page}
        }});
        let cfg = TautulliConfig::from_engine_config(&cfg, "").unwrap();
        let c = Arc::new(Client::new(&cfg).unwrap());
        let mut reader =
            HistoryReader::new(ClientPages::index(c.clone(), &cfg.history), per_page, 100);
        let mut rows = 0;
        let result = loop {
            match reader.next_page() {
                Ok(Some(p)) => rows += p.rows.len(),
                Ok(None) => break Ok(rows),
                Err(e) => break Err(e),
            }
        };
        (result, c.stats()["get_history"])
    }

    /// The `start` form field of a recorded request.
    fn start_of(request: &str) -> Option<&str> {
        let body = request.split_once("\r\n\r\n")?.1;
        body.split('&').find_map(|f| f.strip_prefix("start="))
    }

    /// The `start` of every request `server` read, in order.
    fn starts(server: &Canned) -> Vec<String> {
        let requests = server.requests();
        requests
            .iter()
            .map(|r| start_of(r).unwrap().to_string())
            .collect()
    }

    fn history_page(records: u64, ids: std::ops::RangeInclusive<u64>) -> Reply {
        let rows: Vec<String> = ids
            .rev()
            .map(|i| format!(r#"{{"row_id":{i},"reference_id":{i}}}"#))
            .collect();
        ok(&format!(
            r#"{{"recordsFiltered":{records},"recordsTotal":{records},"data":[{}]}}"#,
            rows.join(",")
        ))
    }

    #[test]
    fn a_guessed_page_is_used_not_asked_for_twice() {
        // 5 rows, 2 per page: the page at 4 is guessed while the one at 2 is parsed.
        let server = Canned::start(vec![
            history_page(5, 4..=5),
            history_page(5, 2..=3),
            history_page(5, 1..=1),
        ]);
        let (rows, sent) = read_history(&server.url, 2);
        assert_eq!(rows.unwrap(), 5);
        assert_eq!(starts(&server), ["0", "2", "4"]);
        assert_eq!(sent, 3);
    }

    #[test]
    fn the_guess_goes_out_before_the_page_before_it_is_parsed() {
        // The page at 2 is a 200 whose JSON is cut short: the page at 4 was already asked
        // for when that showed, and the read fails on the page at 2, not on the guess.
        let server = Canned::start(vec![
            history_page(6, 5..=6),
            json(
                "200 OK",
                r#"{"response":{"result":"success","data":{"recordsFiltered":6,"data":[{"row_"#,
            ),
            history_page(6, 1..=2),
        ]);
        let (result, sent) = read_history(&server.url, 2);
        let e = result.unwrap_err();
        assert!(matches!(e, Error::BadResponse { status: 200, .. }), "{e:?}");
        assert_eq!(
            starts(&server),
            ["0", "2", "4"],
            "the guess was sent and waited for"
        );
        assert_eq!(sent, 3);
    }

    #[test]
    fn never_two_history_requests_at_once() {
        // A server answering each connection on its own thread, slowly, that records how
        // many requests it held at once: guesses must not pile up on Tautulli.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (o, m) = (Arc::clone(&open), Arc::clone(&most));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let (o, m) = (Arc::clone(&o), Arc::clone(&m));
                std::thread::spawn(move || {
                    let request = read_request(&mut stream);
                    let now = o.fetch_add(1, Ordering::SeqCst) + 1;
                    m.fetch_max(now, Ordering::SeqCst);
                    let start: u64 = start_of(&request).and_then(|v| v.parse().ok()).unwrap_or(0);
                    std::thread::sleep(Duration::from_millis(20));
                    // 10 rows, newest first, 2 a page.
                    let top = 10u64.saturating_sub(start);
                    let Reply::Raw(text) = history_page(10, top.saturating_sub(1).max(1)..=top)
                    else {
                        unreachable!()
                    };
                    o.fetch_sub(1, Ordering::SeqCst);
                    let _ = stream.write_all(text.as_bytes());
                });
            }
        });
        let (rows, sent) = read_history(&url, 2);
        assert_eq!(rows.unwrap(), 10);
        assert_eq!(sent, 5, "one request per page, every guess used");
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn no_guess_after_an_error_answer() {
        // A 400 is final and not a page: nothing is guessed after it.
        let server = Canned::start(vec![
            history_page(6, 5..=6),
            json(
                "400 Bad Request",
                r#"{"response":{"result":"error","message":"Invalid start","data":{}}}"#,
            ),
            history_page(6, 1..=2),
        ]);
        let (result, sent) = read_history(&server.url, 2);
        assert!(result.is_err());
        assert_eq!(starts(&server), ["0", "2"]);
        assert_eq!(sent, 2);
    }

    #[test]
    fn client_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Client>();
        let server = Canned::start((0..4).map(|_| ok(r#"{"tautulli_version":"v"}"#)).collect());
        let c = client(&server, 0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| info(&c).unwrap());
            }
        });
        assert_eq!(c.stats()["get_tautulli_info"], 4);
    }

    /// A client of the fake `server`, with `timeout` seconds and `max_retries`.
    fn fake_client(server: &fake_tautulli::FakeServer, timeout: f64, max_retries: u32) -> Client {
        let cfg = serde_json::json!({"tautulli": {
            "server_url": server.url(), "api_key": server.api_key(), "timeout": timeout,
            "max_retries": max_retries, "backoff_ms": 10
        }});
        Client::new(&TautulliConfig::from_engine_config(&cfg, "").unwrap())
            .unwrap()
            .with_clock(Clock::skipping())
    }

    /// A fake answering every request with a gzip bomb of `inflated_bytes`.
    fn gzip_bomb(inflated_bytes: u64) -> fake_tautulli::FakeServer {
        use fake_tautulli::{FakeServer, Fault, FaultRule, Scenario};
        let server = FakeServer::start(Scenario::reference()).unwrap();
        server.push_fault(FaultRule::always(Fault::GzipBomb { inflated_bytes }));
        server
    }

    #[test]
    fn the_body_limit_bounds_the_decoded_answer() {
        // 64 MiB of decoded spaces in ~64 KiB of gzip: over the limit of a small command,
        // however few bytes came over the wire.
        let server = gzip_bomb(64 << 20);
        let e = info(&fake_client(&server, 5.0, 3)).unwrap_err();
        match &e {
            Error::BadResponse {
                cmd,
                reason,
                excerpt,
                ..
            } => {
                assert_eq!(*cmd, "get_tautulli_info");
                assert!(
                    reason.contains(
                        "the answer of `get_tautulli_info` is larger than 16 MiB once decompressed"
                    ),
                    "{reason}"
                );
                assert!(reason.contains("tautulli.server_url"), "{reason}");
                assert!(excerpt.is_empty(), "{excerpt}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(server.requests().len(), 1, "a bomb is not retried");
    }

    #[test]
    fn history_answers_may_be_larger_but_not_unbounded() {
        let server = gzip_bomb((256 << 20) + 1);
        let e = fake_client(&server, 5.0, 0)
            .call::<HistoryPage>(Command::GetHistory, &[])
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("the answer of `get_history` is larger than 256 MiB once decompressed"),
            "{text}"
        );
        assert!(text.contains("tautulli.history.window_rows"), "{text}");
    }

    #[test]
    fn an_announced_length_over_the_limit_is_refused_unread() {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                    Content-Length: 17000000\r\nConnection: close\r\n\r\n{";
        let server = Canned::start(vec![Reply::Raw(head.to_string())]);
        let e = info(&client(&server, 3)).unwrap_err();
        assert!(
            e.to_string()
                .contains("larger than 16 MiB once decompressed"),
            "{e}"
        );
        assert_eq!(server.requests().len(), 1);
    }

    #[test]
    fn a_limited_read_never_holds_more_than_the_limit() {
        /// An endless reader that counts what it handed out.
        struct Endless(u64);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                buf.fill(b' ');
                self.0 += buf.len() as u64;
                Ok(buf.len())
            }
        }
        for limit in [0usize, 1, 1000, 8 << 10, (1 << 20) + 3] {
            let mut r = Endless(0);
            assert!(read_limited(&mut r, limit, 0).unwrap().is_none(), "{limit}");
            assert_eq!(
                r.0,
                limit as u64 + 1,
                "read just past the limit, no further"
            );
            let mut exact = std::io::repeat(b'x').take(limit as u64);
            let got = read_limited(&mut exact, limit, limit).unwrap().unwrap();
            assert_eq!(got.len(), limit);
            assert!(
                got.capacity() <= limit + 1,
                "{} for {limit}",
                got.capacity()
            );
        }
        // A wrong size hint neither over-allocates nor cuts the answer.
        let mut short = std::io::repeat(b'x').take(10);
        let got = read_limited(&mut short, 100, 1 << 40).unwrap().unwrap();
        assert_eq!((got.len(), got.capacity() <= 101), (10, true));
    }

    /// Runs `f` on its own thread; fails the test when it has not finished within `bound`
    /// (a safety net against hanging, not a measure of speed).
    fn within<T: Send + 'static>(bound: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(bound)
            .unwrap_or_else(|_| panic!("still running after {bound:?}"))
    }

    #[test]
    fn a_trickling_answer_is_cut_at_the_deadline_and_retried_within_the_budget() {
        use fake_tautulli::{FakeServer, Fault, FaultRule, Scenario};
        let server = Arc::new(FakeServer::start(Scenario::reference()).unwrap());
        // Each byte comes well within the 0.3 s timeout; the whole answer would take ~30 s.
        server.push_fault(FaultRule::always(Fault::Trickle {
            byte_every: Duration::from_millis(100),
        }));
        let s = Arc::clone(&server);
        let e = within(Duration::from_secs(30), move || {
            info(&fake_client(&s, 0.3, 5)).unwrap_err()
        });
        assert_eq!(e.code().name(), "unreachable", "{e}");
        let text = e.to_string();
        for want in [
            "no complete answer",
            "1.8s (6 × tautulli.timeout)",
            "3.6s (12 × tautulli.timeout)",
            "raise tautulli.timeout",
        ] {
            assert!(text.contains(want), "{want:?} missing: {text}");
        }
        // Two attempts fill the budget: the 5 retries allowed are not all made.
        let sent = server.requests().len();
        assert_eq!(sent, 2, "{text}");
        assert!(text.contains("after 2 attempts in 3."), "{text}");
    }

    #[test]
    fn a_retry_after_beyond_the_budget_gives_up_at_once() {
        let server = Canned::start(vec![
            http(
                "429 Too Many Requests",
                "text/plain",
                "Retry-After: 999999999\r\n",
                "slow down",
            ),
            ok(r#"{"tautulli_version":"v2"}"#),
        ]);
        let c = client(&server, 3);
        let e = within(Duration::from_secs(30), move || info(&c).unwrap_err());
        match &e {
            Error::RateLimited {
                attempts,
                wait_refused_secs,
                ..
            } => assert_eq!((*attempts, *wait_refused_secs), (1, Some(999_999_999))),
            other => panic!("{other:?}"),
        }
        let text = e.to_string();
        assert!(text.contains("after 1 attempt in 0."), "{text}");
        assert!(text.contains("asking to wait 999999999 s"), "{text}");
        assert!(text.contains("12 × tautulli.timeout"), "{text}");
        assert_eq!(server.requests().len(), 1);
    }

    #[test]
    fn errors_never_show_url_credentials_or_the_key() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = format!("http://tautulli:Pa55word@127.0.0.1:{port}/{KEY}");
        let c = Client::new(&config(&url, 5.0, 0)).unwrap();
        let e = info(&c).unwrap_err();
        assert_eq!(e.code().name(), "unreachable", "{e}");
        assert_no_key(&e);
        let shown = format!("{e} {e:?} {c:?} {}", c.server_url());
        assert!(!shown.contains("Pa55word"), "{shown}");
        assert!(!shown.contains("tautulli:"), "{shown}");
        assert!(!shown.contains(KEY), "{shown}");
        assert!(
            e.to_string()
                .contains(&format!("http://127.0.0.1:{port}/***")),
            "{e}"
        );
    }

    /// No run of 8 characters of the key.
    fn assert_no_key_piece(text: &str) {
        for piece in KEY.as_bytes().windows(8) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(!text.contains(piece), "{piece:?} of the key in {text:?}");
        }
    }

    #[test]
    fn a_huge_invalid_body_is_never_copied_and_its_excerpt_is_short_and_scrubbed() {
        // 40 MB of a history array, then the key where the JSON breaks, and the key again
        // across the left edge of the excerpt.
        let mut body = String::from(r#"{"response":{"result":"success","message":null,"data":["#);
        body.push_str(&"0,".repeat(20_000_000));
        body.push_str(&format!("{KEY},{},{KEY}]}}}}", "1".repeat(40)));
        let server = Canned::start(vec![json("200 OK", &body)]);
        let c = client(&server, 0);
        let received = c.send(Command::GetHistory, &[]).unwrap();
        let (result, peak) =
            crate::testutil::alloc::peak_bytes(|| c.read::<HistoryPage>(&received));
        let e = result.unwrap_err();
        assert!(peak < 1 << 20, "reading the error cost {peak} bytes");
        match &e {
            Error::BadResponse { excerpt, .. } => {
                assert!(excerpt.chars().count() <= EXCERPT_CHARS, "{excerpt}");
                assert!(excerpt.contains("***"), "{excerpt}");
                assert!(excerpt.starts_with("...0,0,"), "{excerpt}");
                assert_no_key_piece(excerpt);
            }
            other => panic!("{other:?}"),
        }
        assert_no_key_piece(&e.to_string());
    }

    #[test]
    fn a_key_cut_by_the_end_of_a_truncated_body_is_scrubbed() {
        let body = format!(
            r#"{{"response":{{"result":"error","message":"denied for {}"#,
            &KEY[..20]
        );
        let server = Canned::start(vec![json("200 OK", &body)]);
        let e = info(&client(&server, 0)).unwrap_err();
        assert!(e.to_string().contains("denied for ***"), "{e}");
        assert_no_key_piece(&e.to_string());
    }

    #[test]
    fn huge_server_messages_are_cut_short_and_scrubbed() {
        let long = format!("{}{KEY}{}", "x".repeat(290), "y".repeat(10_000_000));
        let envelope =
            format!(r#"{{"response":{{"result":"error","message":"{long}","data":{{}}}}}}"#);
        let html = format!("<html>{}{KEY}</html>", " ".repeat(10_000_000));
        let server = Canned::start(vec![
            json("400 Bad Request", &envelope),
            json("500 Internal Server Error", &envelope),
            http("502 Bad Gateway", "text/html", "", &html),
        ]);
        let c = client(&server, 0);
        for _ in 0..3 {
            let (e, peak) = crate::testutil::alloc::peak_bytes(|| info(&c).unwrap_err());
            let text = e.to_string();
            assert!(
                text.len() < 1000,
                "{} bytes: {}",
                text.len(),
                &text[..2000.min(text.len())]
            );
            assert_no_key_piece(&text);
            // The answer itself is read into memory once; nothing copies it again.
            assert!(peak < 12_000_000 * 3 / 2, "{peak} bytes");
        }
    }

    #[test]
    fn scrub_range_never_leaves_a_piece_of_the_key_whatever_the_range() {
        let forms = key_forms(&ApiKey::new(KEY));
        for text in [
            format!("aaaa{KEY}bbbb{KEY}"),
            format!("xx{}", &KEY[..20]),
            format!("{}yy", &KEY[12..]),
        ] {
            let bytes = text.as_bytes();
            for lo in 0..=bytes.len() {
                for hi in lo..=bytes.len() {
                    let got = scrub_range(&forms, bytes, lo, hi, lo);
                    let shown = String::from_utf8(got.bytes.clone()).unwrap();
                    assert_no_key_piece(&shown);
                    assert!(got.lo <= lo && got.hi >= hi, "{lo}..{hi}: {shown}");
                    // The mark (at `lo`) is where the range's text starts in the result.
                    let rest = &shown[got.mark..];
                    let expect = &text[lo..hi];
                    assert!(
                        rest.starts_with("***") || expect.starts_with(rest.get(..1).unwrap_or("")),
                        "{lo}..{hi}: {shown:?} mark {}",
                        got.mark
                    );
                }
            }
        }
        // The form-encoded key is scrubbed too.
        let key = ApiKey::new("k3y/with spaces+plus");
        let forms = key_forms(&key);
        let text = b"echo apikey=k3y%2Fwith+spaces%2Bplus&cmd=x";
        let got = scrub_range(&forms, text, 0, text.len(), 0);
        assert_eq!(got.bytes, b"echo apikey=***&cmd=x");
    }

    /// Neither a control character nor a bidirectional control.
    fn assert_printable(text: &str) {
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
            "{text:?}"
        );
    }

    #[test]
    fn server_text_reaches_errors_without_control_characters() {
        use fake_tautulli::{ControlShape, FakeServer, Fault, FaultRule, Scenario};
        let server = FakeServer::start(Scenario::reference()).unwrap();
        let c = fake_client(&server, 5.0, 0);
        for shape in [
            ControlShape::Message,
            ControlShape::Html,
            ControlShape::Json,
        ] {
            server.push_fault(FaultRule::for_cmd(
                "get_tautulli_info",
                Fault::ControlChars(shape),
                1,
            ));
            let e = info(&c).unwrap_err();
            let text = e.to_string();
            assert_printable(&text);
            assert!(
                text.contains("boom"),
                "{shape:?}: the text is still shown: {text}"
            );
        }
        let controls = "\u{1b}[2J\u{1b}]0;t\u{7}boom\u{0}\u{9b}1m\u{202e}";
        let escaped = serde_json::to_string(controls).unwrap();
        let server = Canned::start(vec![
            json(
                "500 Internal Server Error",
                &format!(r#"{{"response":{{"result":"error","message":{escaped},"data":{{}}}}}}"#),
            ),
            http(
                "502 Bad Gateway",
                "text/html",
                "",
                &format!("<p>{controls}</p>"),
            ),
            json(
                "200 OK",
                &format!(r#"{{"response":{{"result":{escaped},"data":{{}}}}}}"#),
            ),
            json(
                "200 OK",
                &format!(
                    r#"{{"response":{{"result":"success","data":{{"tautulli_version":{escaped}}}}}}}"#
                ),
            ),
        ]);
        let c = client(&server, 0);
        for _ in 0..3 {
            let e = info(&c).unwrap_err();
            assert_printable(&e.to_string());
            assert!(e.to_string().contains("boom"), "{e}");
        }
        // A successful answer's data is the caller's to sanitise: it comes through intact.
        assert_eq!(info(&c).unwrap().tautulli_version, controls);
    }
}
