//! The plugin's view of the engine config: the `tautulli` block, checked key by key.
//!
//! The engine hands over its whole config; we read only `tautulli` (and
//! `tautulli.instances.<id>` for a named instance). Every wrong value is reported with the exact
//! key path, what was found and what is expected, because a user fixing a config file needs all
//! three. An unknown key is no error (the engine may add its own, `_cw_*`) but gets a
//! warning naming the closest known key: a misspelled optional key would otherwise be
//! silently ignored, and the setting it meant silently left at its default.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// `tautulli.history.read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// Day windows, one request each (what a real Tautulli answers fastest).
    #[default]
    Windowed,
    /// `start`/`length` pages of the whole history (each page costs Tautulli the whole
    /// history: only for servers whose day filters are broken).
    Paged,
}

impl ReadMode {
    pub const ALL: [Self; 2] = [Self::Windowed, Self::Paged];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Windowed => "windowed",
            Self::Paged => "paged",
        }
    }
}

/// Largest page Tautulli is asked for: 10 000-row pages are ~15 MB and answer fine.
pub const MAX_PER_PAGE: u32 = 10_000;

/// The Tautulli API key. Its `Debug` and `Display` print `***` so it cannot leak through
/// logs, error messages or `{:?}` of a containing struct; [`ApiKey::expose`] is the one way out.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, for the request body only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every copy of the key, raw or form-encoded, replaced by `***` (a server or
    /// proxy can echo it back, and a user can paste it anywhere).
    pub fn scrub(&self, text: &str) -> String {
        let key = self.expose();
        if key.is_empty() {
            return text.to_string();
        }
        let mut out = text.replace(key, "***");
        let encoded = form_encode(key);
        if encoded != key {
            out = out.replace(&encoded, "***");
        }
        out
    }
}

/// `application/x-www-form-urlencoded` encoding of one value (for scrubbing echoes of it).
pub(crate) fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Which time of a (grouped) history row becomes the play's `watched_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeField {
    /// `stopped`: the latest stop, i.e. when the user finished watching (what users expect).
    #[default]
    Stopped,
    /// `date`: the latest start in the group.
    Date,
    /// `started`: the earliest start in the group (can be weeks before the finish).
    Started,
}

impl TimeField {
    pub const ALL: [Self; 3] = [Self::Stopped, Self::Date, Self::Started];

    /// The config spelling (and the Tautulli field name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stopped => "stopped",
            Self::Date => "date",
            Self::Started => "started",
        }
    }
}

/// How history is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Read the whole (filtered) history every run.
    #[default]
    Full,
    /// Read only the plays newer than the checkpoint the host passes back (the token of the
    /// last committed import's report), plus an overlap; the index is then a `delta`.
    /// Without a usable checkpoint the read is a full one.
    Incremental,
}

impl Mode {
    pub const ALL: [Self; 2] = [Self::Full, Self::Incremental];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Incremental => "incremental",
        }
    }
}

/// `tautulli.history.*`: which rows are read and which plays count.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryConfig {
    /// Only this Tautulli user; `None` = everyone.
    pub user_id: Option<i64>,
    /// Rows per `get_history` page, 1..=[`MAX_PER_PAGE`].
    pub per_page: u32,
    /// Safety cap on pages per read; hitting it makes the read incomplete, never silently short.
    pub max_pages: u32,
    /// Keep only completed plays.
    pub watched_only: bool,
    /// Completion threshold (percent) used when `watched_status` does not say "watched".
    pub min_percent: u8,
    /// Keep Live TV rows (off: live recordings have no stable IDs to sync).
    pub include_live: bool,
    /// Which row time becomes `watched_at`.
    pub watched_at: TimeField,
    /// Keep every play (event keys) instead of the newest per item.
    pub rewatches: bool,
    pub mode: Mode,
    /// Incremental reads go this far below the checkpoint's newest play, so plays that
    /// started before the last read but finished after it are not missed.
    pub overlap_hours: u32,
    /// How `get_history` is asked: day windows (default) or `start` paging.
    pub read: ReadMode,
    /// Rows a day window is planned to hold, `MIN_WINDOW_ROWS..=MAX_WINDOW_ROWS`.
    pub window_rows: u32,
}

/// Window sizes accepted for `history.window_rows`.
pub const MIN_WINDOW_ROWS: u32 = 10;
pub const MAX_WINDOW_ROWS: u32 = 100_000;
/// The default, measured with the bench's model of a real Tautulli (BENCHMARKS.md): at 1M
/// plays 25 000 rows a window cost 1.08x the fewest seconds any reader could spend with
/// answers capped at 25 000 rows (20 000: 1.21x; 10 000: 2.06x), at ~195 MB peak.
pub const DEFAULT_WINDOW_ROWS: u32 = 25_000;

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            user_id: None,
            per_page: 1000,
            max_pages: 5000,
            watched_only: true,
            min_percent: 85,
            include_live: false,
            watched_at: TimeField::Stopped,
            rewatches: false,
            mode: Mode::Full,
            overlap_hours: 6,
            read: ReadMode::Windowed,
            window_rows: DEFAULT_WINDOW_ROWS,
        }
    }
}

/// The checked `tautulli` block (base block, or a named instance merged over it).
/// Its `Debug` shows [`TautulliConfig::display_url`], never the URL itself.
#[derive(Clone, PartialEq)]
pub struct TautulliConfig {
    /// `""` for the base block, else the instance id.
    pub instance: String,
    /// Normalised base URL: scheme present, no trailing `/`, may carry a path root
    /// (`https://host/tautulli`), never `user:password@` (dropped when read: Tautulli's API
    /// authenticates by key, and credentials would only end up in messages and files).
    /// The API lives at `{server_url}/api/v2`. To print it, use [`Self::display_url`].
    pub server_url: String,
    /// The key path `server_url` was read from, so errors about it name the right key.
    pub server_url_key: String,
    pub api_key: ApiKey,
    pub verify_ssl: bool,
    /// Per-request network timeout (connect, and each wait for data); the client derives
    /// the deadlines of a whole answer and of a command with its retries from it.
    pub timeout: Duration,
    /// Retries after the first attempt on network errors, timeouts, 429 and 5xx.
    pub max_retries: u32,
    /// Advanced: base of the exponential backoff between retries (`backoff_ms * 2^attempt`).
    pub backoff_ms: u64,
    /// Parallel metadata lookups.
    pub concurrency: usize,
    /// Folder for the plugin's own state (the metadata cache); `None`: nothing persists
    /// between runs. Incremental checkpoints are the host's to keep (see `checkpoint`).
    pub state_dir: Option<PathBuf>,
    /// Days a cached metadata answer stays valid; 0 turns the cache off.
    pub metadata_cache_days: u32,
    pub history: HistoryConfig,
    /// The key path `history.user_id` was read from, so errors about it name the right key.
    pub user_id_key: String,
    /// One line per unknown key in the block (`did you mean ...?`), for the host to show.
    pub warnings: Vec<String>,
}

impl fmt::Debug for TautulliConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TautulliConfig")
            .field("instance", &self.instance)
            .field("server_url", &self.display_url())
            .field("server_url_key", &self.server_url_key)
            .field("api_key", &self.api_key)
            .field("verify_ssl", &self.verify_ssl)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff_ms", &self.backoff_ms)
            .field("concurrency", &self.concurrency)
            .field("state_dir", &self.state_dir)
            .field("metadata_cache_days", &self.metadata_cache_days)
            .field("history", &self.history)
            .field("user_id_key", &self.user_id_key)
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl TautulliConfig {
    /// `server_url` fit to print or write down: no query, and never the API key (pasted
    /// into the URL by mistake, it must not come back in a message or a file).
    pub fn display_url(&self) -> String {
        self.api_key.scrub(&redact_url(&self.server_url))
    }

    /// Reads the `tautulli` block of the engine's whole config. `instance` `""` is the base
    /// block; any other id is `tautulli.instances.<id>` merged over the base block (objects
    /// merged key by key, the instance winning; an instance `null` leaf means "default").
    pub fn from_engine_config(cfg: &Value, instance: &str) -> Result<Self> {
        Self::read(cfg, instance).map_err(|e| match e {
            // A key pasted into the wrong field (a URL copied from Tautulli's API docs, a
            // user id) must not come back in the message.
            Error::ConfigInvalid { key, reason } => Error::ConfigInvalid {
                key,
                reason: scrub_keys(&reason, cfg),
            },
            other => other,
        })
    }

    fn read(cfg: &Value, instance: &str) -> Result<Self> {
        let base =
            match cfg.get("tautulli") {
                Some(Value::Object(m)) => m,
                None | Some(Value::Null) => return Err(invalid(
                    "tautulli",
                    "the config has no `tautulli` block; add one with at least `server_url` and \
                     `api_key`",
                )),
                Some(other) => {
                    return Err(invalid(
                        "tautulli",
                        format!("found {}, expected an object", describe(other)),
                    ))
                }
            };
        let mut layers = Vec::with_capacity(2);
        if !instance.is_empty() {
            let key = format!("tautulli.instances.{instance}");
            let instances = match base.get("instances") {
                Some(Value::Object(m)) => Some(m),
                None | Some(Value::Null) => None,
                Some(other) => {
                    return Err(invalid(
                        "tautulli.instances",
                        format!(
                            "found {}, expected an object of named instances",
                            describe(other)
                        ),
                    ))
                }
            };
            match instances.and_then(|m| m.get(instance)) {
                Some(Value::Object(m)) => layers.push(Layer {
                    map: m,
                    prefix: key,
                }),
                Some(other) => {
                    return Err(invalid(
                        &key,
                        format!("found {}, expected an object", describe(other)),
                    ))
                }
                None => {
                    let known: Vec<&str> = instances
                        .map(|m| m.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    let known = if known.is_empty() {
                        "none are defined".to_string()
                    } else {
                        format!("defined: {}", known.join(", "))
                    };
                    return Err(invalid(
                        &key,
                        format!("no Tautulli instance named `{instance}` ({known})"),
                    ));
                }
            }
        }
        layers.push(Layer {
            map: base,
            prefix: "tautulli".to_string(),
        });
        let mut cfg = Self::from_layers(&Layers(layers), instance)?;
        cfg.warnings = block_warnings(base);
        Ok(cfg)
    }

    fn from_layers(l: &Layers<'_>, instance: &str) -> Result<Self> {
        let (url, server_url_key) = l.server_url()?;
        let server_url = normalise_url(&url).map_err(|reason| invalid(&server_url_key, reason))?;

        let (key_value, api_key_path) = l.get(&["api_key"])?;
        let api_key = match key_value {
            Some(Value::String(s)) if !s.trim().is_empty() => {
                let s = s.trim();
                if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(invalid(
                        &api_key_path,
                        "the key contains spaces or control characters; copy it again from \
                         Tautulli's Settings > Web Interface > API",
                    ));
                }
                ApiKey::new(s)
            }
            None | Some(Value::Null) | Some(Value::String(_)) => {
                return Err(invalid(
                    &api_key_path,
                    "missing; set it to Tautulli's API key (Settings > Web Interface > API)",
                ))
            }
            // Never echo the value: it may be the key itself.
            Some(other) => {
                return Err(invalid(
                    &api_key_path,
                    format!("found {}, expected a string", type_name(other)),
                ))
            }
        };

        let verify_ssl = l.bool(&["verify_ssl"], true)?;
        let (t, tkey) = l.get(&["timeout"])?;
        let timeout = match t {
            None => 10.0,
            Some(v) if is_blank(v) => 10.0,
            Some(v) => match number(v) {
                Some(n) if n > 0.0 && n <= 3600.0 => n,
                _ => {
                    return Err(invalid(
                        &tkey,
                        format!(
                            "found {}, expected a number of seconds above 0 and at most 3600",
                            describe(v)
                        ),
                    ))
                }
            },
        };
        let max_retries = l.int(&["max_retries"], 3, 0, 20)? as u32;
        let backoff_ms = l.int(&["backoff_ms"], 500, 0, 60_000)? as u64;
        let concurrency = l.int(&["concurrency"], 4, 1, 64)? as usize;
        let state_dir = l.path(&["state_dir"])?;
        let metadata_cache_days = l.int(&["metadata_cache_days"], 30, 0, 3650)? as u32;

        let (u, ukey) = l.get(&["history", "user_id"])?;
        let user_id = match u {
            None => None,
            Some(v) if is_blank(v) => None,
            Some(v) => match integer(v) {
                Some(n) if n >= 0 => Some(n),
                _ => {
                    return Err(invalid(
                        &ukey,
                        format!(
                            "found {}, expected a Tautulli user id (a whole number, or \"\" for \
                             every user)",
                            describe(v)
                        ),
                    ))
                }
            },
        };
        let d = HistoryConfig::default();
        let history = HistoryConfig {
            user_id,
            per_page: l.int(
                &["history", "per_page"],
                d.per_page.into(),
                1,
                MAX_PER_PAGE.into(),
            )? as u32,
            max_pages: l.int(&["history", "max_pages"], d.max_pages.into(), 1, 1_000_000)? as u32,
            watched_only: l.bool(&["history", "watched_only"], d.watched_only)?,
            min_percent: l.int(&["history", "min_percent"], d.min_percent.into(), 0, 100)? as u8,
            include_live: l.bool(&["history", "include_live"], d.include_live)?,
            watched_at: l.choice(
                &["history", "watched_at"],
                &TimeField::ALL,
                TimeField::as_str,
            )?,
            rewatches: l.bool(&["history", "rewatches"], d.rewatches)?,
            mode: l.choice(&["history", "mode"], &Mode::ALL, Mode::as_str)?,
            overlap_hours: l.int(
                &["history", "overlap_hours"],
                d.overlap_hours.into(),
                0,
                24 * 30,
            )? as u32,
            read: l.choice(&["history", "read"], &ReadMode::ALL, ReadMode::as_str)?,
            window_rows: l.int(
                &["history", "window_rows"],
                d.window_rows.into(),
                MIN_WINDOW_ROWS.into(),
                MAX_WINDOW_ROWS.into(),
            )? as u32,
        };
        Ok(Self {
            instance: instance.to_string(),
            server_url,
            server_url_key,
            api_key,
            verify_ssl,
            timeout: Duration::from_secs_f64(timeout),
            max_retries,
            backoff_ms,
            concurrency,
            state_dir,
            metadata_cache_days,
            history,
            user_id_key: ukey,
            warnings: Vec::new(),
        })
    }
}

/// One config object and the key path it sits at; the most specific layer comes first.
struct Layer<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

struct Layers<'a>(Vec<Layer<'a>>);

impl Layers<'_> {
    /// The value at `path` in the most specific layer that has it, with its full key path.
    /// A `null` intermediate object means "not set here"; any other non-object is an error.
    fn get(&self, path: &[&str]) -> Result<(Option<&Value>, String)> {
        for layer in &self.0 {
            let mut cur = layer.map;
            let mut key = layer.prefix.clone();
            let mut found = None;
            for (i, part) in path.iter().enumerate() {
                key = format!("{key}.{part}");
                match cur.get(*part) {
                    None => break,
                    Some(v) if i + 1 == path.len() => found = Some(v),
                    Some(Value::Object(m)) => cur = m,
                    Some(Value::Null) => break,
                    Some(other) => {
                        return Err(invalid(
                            &key,
                            format!("found {}, expected an object", describe(other)),
                        ))
                    }
                }
            }
            if found.is_some() {
                return Ok((found, key));
            }
        }
        let prefix = self.0.last().map_or("tautulli", |l| l.prefix.as_str());
        Ok((None, format!("{prefix}.{}", path.join("."))))
    }

    /// `server_url`, or the legacy `server`, from the most specific layer that sets either.
    fn server_url(&self) -> Result<(String, String)> {
        for layer in &self.0 {
            for name in ["server_url", "server"] {
                let key = format!("{}.{name}", layer.prefix);
                match layer.map.get(name) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) if s.trim().is_empty() => {}
                    Some(Value::String(s)) => return Ok((s.trim().to_string(), key)),
                    Some(other) => {
                        return Err(invalid(
                            &key,
                            format!(
                                "found {}, expected a URL such as \"http://192.168.1.10:8181\"",
                                describe(other)
                            ),
                        ))
                    }
                }
            }
        }
        let prefix = self.0.first().map_or("tautulli", |l| l.prefix.as_str());
        Err(invalid(
            &format!("{prefix}.server_url"),
            "missing; set it to Tautulli's address, e.g. \"http://192.168.1.10:8181\" (add the \
             path root if Tautulli runs behind a reverse proxy: \"https://host/tautulli\")",
        ))
    }

    fn bool(&self, path: &[&str], default: bool) -> Result<bool> {
        let (v, key) = self.get(path)?;
        match v {
            None => Ok(default),
            Some(v) if is_blank(v) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
            Some(other) => Err(invalid(
                &key,
                format!("found {}, expected true or false", describe(other)),
            )),
        }
    }

    /// An optional folder path; `null` and `""` mean "none".
    fn path(&self, path: &[&str]) -> Result<Option<PathBuf>> {
        let (v, key) = self.get(path)?;
        match v {
            None => Ok(None),
            Some(v) if is_blank(v) => Ok(None),
            Some(Value::String(s)) => Ok(Some(PathBuf::from(s.trim()))),
            Some(other) => Err(invalid(
                &key,
                format!(
                    "found {}, expected a folder path such as \"/config/plugin-state\"",
                    describe(other)
                ),
            )),
        }
    }

    fn int(&self, path: &[&str], default: i64, min: i64, max: i64) -> Result<i64> {
        let (v, key) = self.get(path)?;
        match v {
            None => Ok(default),
            Some(v) if is_blank(v) => Ok(default),
            Some(v) => match integer(v) {
                Some(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(invalid(
                    &key,
                    format!(
                        "found {}, expected a whole number from {min} to {max}",
                        describe(v)
                    ),
                )),
            },
        }
    }

    fn choice<T: Copy + Default>(
        &self,
        path: &[&str],
        all: &[T],
        name: fn(T) -> &'static str,
    ) -> Result<T> {
        let (v, key) = self.get(path)?;
        let names = || {
            all.iter()
                .map(|t| format!("\"{}\"", name(*t)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(v) = v.filter(|v| !is_blank(v)) else {
            return Ok(T::default());
        };
        v.as_str()
            .and_then(|s| {
                all.iter()
                    .copied()
                    .find(|t| name(*t).eq_ignore_ascii_case(s.trim()))
            })
            .ok_or_else(|| {
                invalid(
                    &key,
                    format!("found {}, expected one of {}", describe(v), names()),
                )
            })
    }
}

/// Keys of the `tautulli` block (and of each instance, bar `instances`).
const BLOCK_KEYS: &[&str] = &[
    "api_key",
    "backoff_ms",
    "concurrency",
    "history",
    "instances",
    "max_retries",
    "metadata_cache_days",
    "server",
    "server_url",
    "state_dir",
    "timeout",
    "verify_ssl",
];
/// Keys of `tautulli.history`.
const HISTORY_KEYS: &[&str] = &[
    "include_live",
    "max_pages",
    "min_percent",
    "mode",
    "overlap_hours",
    "per_page",
    "read",
    "rewatches",
    "user_id",
    "watched_at",
    "watched_only",
    "window_rows",
];

/// Warnings for the unknown keys of the base block, its `history` and every instance.
fn block_warnings(base: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |map: &Map<String, Value>, prefix: &str, known: &[&str]| {
        out.extend(unknown_keys(map, prefix, known));
        if let Some(Value::Object(h)) = map.get("history") {
            out.extend(unknown_keys(h, &format!("{prefix}.history"), HISTORY_KEYS));
        }
    };
    check(base, "tautulli", BLOCK_KEYS);
    if let Some(Value::Object(instances)) = base.get("instances") {
        let known: Vec<&str> = BLOCK_KEYS
            .iter()
            .copied()
            .filter(|k| *k != "instances")
            .collect();
        for (id, inst) in instances {
            if let Value::Object(m) = inst {
                check(m, &format!("tautulli.instances.{id}"), &known);
            }
        }
    }
    out
}

/// One warning per key of `map` (at `prefix`) that is not in `known`, naming the closest
/// known key when one is near. Host-private keys (`_cw_*`) are the host's business.
pub(crate) fn unknown_keys(map: &Map<String, Value>, prefix: &str, known: &[&str]) -> Vec<String> {
    map.keys()
        .filter(|k| !k.starts_with("_cw_") && !known.contains(&k.as_str()))
        .map(|k| match closest(k, known) {
            Some(near) => {
                format!("unknown config key `{prefix}.{k}` (ignored): did you mean {near}?")
            }
            None => format!(
                "unknown config key `{prefix}.{k}` (ignored); known keys: {}",
                known.join(", ")
            ),
        })
        .collect()
}

/// The known key nearest to `key` in edits, if it is near enough to be a typo of it.
pub(crate) fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let key = key.to_ascii_lowercase();
    known
        .iter()
        // Optimal string alignment: a swap of neighbours (`windws`, `onyl`) is one edit.
        .map(|k| (strsim::osa_distance(&key, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

pub(crate) fn invalid(key: &str, reason: impl Into<String>) -> Error {
    Error::ConfigInvalid {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// `null` and `""` stand for "use the default" in optional keys.
pub(crate) fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A whole number given as a JSON integer, an integral float or a digit string.
pub(crate) fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Any finite number, given as a JSON number or a numeric string.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Every API key written anywhere in the `tautulli` block (base and instances).
fn configured_keys(cfg: &Value) -> Vec<String> {
    let t = &cfg["tautulli"];
    let mut keys: Vec<String> = std::iter::once(&t["api_key"])
        .chain(
            t["instances"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.values().map(|i| &i["api_key"])),
        )
        .filter_map(Value::as_str)
        .map(|k| k.trim().to_string())
        .filter(|k| k.len() >= 4)
        .collect();
    keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
    keys
}

/// Removes every configured key, and any `apikey=` query value, from a message.
fn scrub_keys(text: &str, cfg: &Value) -> String {
    let mut out = text.to_string();
    for k in configured_keys(cfg) {
        out = out.replace(&k, "***");
    }
    redact_apikey_params(&out)
}

/// `...apikey=SECRET&...` -> `...apikey=***&...` (any case).
fn redact_apikey_params(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(p) = lower[i..].find("apikey=") {
        let start = i + p + "apikey=".len();
        out.push_str(&text[i..start]);
        out.push_str("***");
        let end = text[start..]
            .find(|c: char| c == '&' || c == '"' || c == '#' || c.is_whitespace())
            .map_or(text.len(), |e| start + e);
        i = end;
    }
    out.push_str(&text[i..]);
    out
}

/// A URL fit to print: no `user:password@`, no query, no fragment.
pub fn redact_url(raw: &str) -> String {
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), raw),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let cut = path.find(['?', '#']);
    let path = match cut {
        Some(i) => format!("{}?…", &path[..i]),
        None => path.to_string(),
    };
    let authority = match authority.find(['?', '#']) {
        Some(i) => format!("{}?…", &authority[..i]),
        None => authority.to_string(),
    };
    format!("{scheme}{authority}{path}")
}

/// What was found, for an error message: the type and a short rendering of the value.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Array(_) | Value::Object(_) => type_name(v).to_string(),
        _ => {
            let text = v.to_string();
            let short: String = text.chars().take(60).collect();
            let cut = if short.len() < text.len() { "..." } else { "" };
            format!("{} {short}{cut}", type_name(v))
        }
    }
}

/// Adds `http://` when no scheme is given, allows only http/https, trims trailing `/` and a
/// pasted `/api/v2` suffix (the client appends it), and refuses queries and fragments.
fn normalise_url(raw: &str) -> std::result::Result<String, String> {
    let raw = raw.trim();
    let shown = redact_url(raw);
    let expected =
        "expected a URL such as \"http://192.168.1.10:8181\" or \"https://host/tautulli\"";
    let (scheme, rest) = match raw.split_once("://") {
        Some((scheme, rest)) => {
            let scheme = scheme.to_ascii_lowercase();
            if scheme != "http" && scheme != "https" {
                return Err(format!(
                    "found \"{shown}\" with scheme `{}`, expected http:// or https://",
                    redact_url(&scheme)
                ));
            }
            (scheme, rest)
        }
        None => ("http".to_string(), raw),
    };
    if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("found \"{shown}\" containing spaces, {expected}"));
    }
    if rest.contains(['?', '#']) {
        return Err(format!(
            "found \"{shown}\" with a query or fragment, {expected} (the API path is added for you)"
        ));
    }
    // `user:password@` is dropped: nothing uses it, and it must never be printed or stored.
    let host_only = |authority: &str| -> String {
        authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host)
            .to_string()
    };
    let rest = match rest.split_once('/') {
        Some((authority, path)) => format!("{}/{path}", host_only(authority)),
        None => host_only(rest),
    };
    let mut rest = rest.trim_end_matches('/');
    if rest.to_ascii_lowercase().ends_with("/api/v2") {
        rest = rest[..rest.len() - "/api/v2".len()].trim_end_matches('/');
    }
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("found \"{shown}\" without a host, {expected}"));
    }
    Ok(format!("{scheme}://{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn base(extra: Value) -> Value {
        let mut t = json!({"server_url": "http://127.0.0.1:8181", "api_key": KEY});
        if let (Value::Object(t), Value::Object(e)) = (&mut t, extra) {
            t.extend(e);
        }
        json!({ "tautulli": t, "plex": {"token": "x"} })
    }

    fn load(extra: Value) -> Result<TautulliConfig> {
        TautulliConfig::from_engine_config(&base(extra), "")
    }

    fn config_err(extra: Value) -> (String, String) {
        match load(extra) {
            Err(Error::ConfigInvalid { key, reason }) => (key, reason),
            other => panic!("expected config_invalid, got {other:?}"),
        }
    }

    #[test]
    fn defaults_apply_to_a_minimal_block() {
        let c = load(json!({})).unwrap();
        assert_eq!(c.server_url, "http://127.0.0.1:8181");
        assert_eq!(c.api_key.expose(), KEY);
        assert!(c.verify_ssl);
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!((c.max_retries, c.backoff_ms, c.concurrency), (3, 500, 4));
        assert_eq!((c.state_dir.as_deref(), c.metadata_cache_days), (None, 30));
        assert_eq!(c.history, HistoryConfig::default());
        assert_eq!(c.history.overlap_hours, 6);
        assert_eq!(c.history.per_page, 1000);
        assert_eq!(c.history.min_percent, 85);
        assert_eq!(c.history.watched_at.as_str(), "stopped");
    }

    #[test]
    fn every_key_is_read() {
        let c = load(json!({
            "verify_ssl": false, "timeout": 2.5, "max_retries": 0, "backoff_ms": 10,
            "concurrency": 8, "unknown_key": [1], "state_dir": " /var/lib/cw/plugin-state ",
            "metadata_cache_days": 0,
            "history": {"user_id": "42", "per_page": 10000, "max_pages": 7, "watched_only": false,
                        "min_percent": 0, "include_live": true, "watched_at": "Started",
                        "rewatches": "true", "mode": "incremental", "overlap_hours": "24",
                        "other": 1}
        }))
        .unwrap();
        assert_eq!(
            c.state_dir.as_deref(),
            Some(std::path::Path::new("/var/lib/cw/plugin-state"))
        );
        assert_eq!(c.metadata_cache_days, 0);
        assert_eq!(c.history.overlap_hours, 24);
        assert!(!c.verify_ssl);
        assert_eq!(c.timeout, Duration::from_millis(2500));
        assert_eq!((c.max_retries, c.backoff_ms, c.concurrency), (0, 10, 8));
        let h = c.history;
        assert_eq!(h.user_id, Some(42));
        assert_eq!((h.per_page, h.max_pages), (10_000, 7));
        assert!(!h.watched_only && h.include_live && h.rewatches);
        assert_eq!(h.min_percent, 0);
        assert_eq!(h.watched_at, TimeField::Started);
        assert_eq!(h.mode, Mode::Incremental);
    }

    #[test]
    fn null_and_empty_mean_default() {
        assert_eq!(load(json!({"state_dir": ""})).unwrap().state_dir, None);
        let c = load(json!({"timeout": null, "verify_ssl": "",
            "history": {"user_id": "", "per_page": null, "watched_at": ""}}))
        .unwrap();
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert!(c.verify_ssl);
        assert_eq!(c.history.user_id, None);
        assert_eq!(c.history.per_page, 1000);
        assert_eq!(c.history.watched_at, TimeField::Stopped);
        assert_eq!(
            load(json!({"history": null})).unwrap().history,
            HistoryConfig::default()
        );
        assert_eq!(
            load(json!({"history": {"user_id": 7}}))
                .unwrap()
                .history
                .user_id,
            Some(7)
        );
    }

    #[test]
    fn urls_are_normalised() {
        for (given, want) in [
            ("192.168.1.10:8181", "http://192.168.1.10:8181"),
            ("http://host:8181/", "http://host:8181"),
            ("HTTPS://host/tautulli//", "https://host/tautulli"),
            ("https://host/tautulli/api/v2/", "https://host/tautulli"),
            ("  http://[::1]:8181 ", "http://[::1]:8181"),
        ] {
            assert_eq!(
                load(json!({"server_url": given})).unwrap().server_url,
                want,
                "{given}"
            );
        }
        let (key, reason) = config_err(json!({"server_url": "ftp://host"}));
        assert_eq!(key, "tautulli.server_url");
        assert!(
            reason.contains("ftp") && reason.contains("http://"),
            "{reason}"
        );
        let (_, reason) = config_err(json!({"server_url": "http://host:8181/?x=1"}));
        assert!(reason.contains("query"), "{reason}");
        let (_, reason) = config_err(json!({"server_url": "http://"}));
        assert!(reason.contains("without a host"), "{reason}");
        let (key, reason) = config_err(json!({"server_url": 8181}));
        assert_eq!(key, "tautulli.server_url");
        assert!(reason.contains("a number 8181"), "{reason}");
    }

    #[test]
    fn legacy_server_key_is_read() {
        let cfg = json!({"tautulli": {"server": "tautulli.lan:8181", "api_key": KEY}});
        let c = TautulliConfig::from_engine_config(&cfg, "").unwrap();
        assert_eq!(c.server_url, "http://tautulli.lan:8181");
        assert_eq!(c.server_url_key, "tautulli.server");
    }

    #[test]
    fn missing_required_keys_are_config_invalid_with_a_hint() {
        let e = TautulliConfig::from_engine_config(&json!({"tautulli": {"api_key": KEY}}), "")
            .unwrap_err();
        assert_eq!(e.code(), crosswatch_contract::ErrorCode::CONFIG_INVALID);
        assert!(e.to_string().contains("tautulli.server_url"), "{e}");
        assert!(e.to_string().contains("http://"), "{e}");
        let (key, reason) = config_err(json!({"api_key": "  "}));
        assert_eq!(key, "tautulli.api_key");
        assert!(
            reason.contains("Settings > Web Interface > API"),
            "{reason}"
        );
        let e = TautulliConfig::from_engine_config(&json!({"other": {}}), "").unwrap_err();
        assert!(e.to_string().contains("`tautulli`"), "{e}");
    }

    #[test]
    fn wrong_values_name_key_found_and_expected() {
        let cases = [
            (
                json!({"history": {"per_page": 0}}),
                "tautulli.history.per_page",
                "1 to 10000",
            ),
            (
                json!({"history": {"per_page": 10001}}),
                "tautulli.history.per_page",
                "10001",
            ),
            (
                json!({"history": {"per_page": "abc"}}),
                "tautulli.history.per_page",
                "\"abc\"",
            ),
            (
                json!({"history": {"min_percent": 101}}),
                "tautulli.history.min_percent",
                "0 to 100",
            ),
            (
                json!({"history": {"user_id": "bob"}}),
                "tautulli.history.user_id",
                "\"bob\"",
            ),
            (
                json!({"history": {"user_id": -1}}),
                "tautulli.history.user_id",
                "-1",
            ),
            (
                json!({"history": {"watched_at": "end"}}),
                "tautulli.history.watched_at",
                "\"stopped\", \"date\", \"started\"",
            ),
            (
                json!({"history": {"mode": 3}}),
                "tautulli.history.mode",
                "\"full\", \"incremental\"",
            ),
            (
                json!({"history": {"watched_only": "yes"}}),
                "tautulli.history.watched_only",
                "true or false",
            ),
            (
                json!({"history": 5}),
                "tautulli.history",
                "expected an object",
            ),
            (json!({"timeout": 0}), "tautulli.timeout", "above 0"),
            (json!({"timeout": "soon"}), "tautulli.timeout", "\"soon\""),
            (
                json!({"verify_ssl": 1}),
                "tautulli.verify_ssl",
                "a number 1",
            ),
            (json!({"max_retries": 2.5}), "tautulli.max_retries", "2.5"),
            (json!({"concurrency": 0}), "tautulli.concurrency", "1 to 64"),
            (json!({"state_dir": 5}), "tautulli.state_dir", "folder path"),
            (
                json!({"metadata_cache_days": -1}),
                "tautulli.metadata_cache_days",
                "0 to 3650",
            ),
            (
                json!({"history": {"overlap_hours": 721}}),
                "tautulli.history.overlap_hours",
                "0 to 720",
            ),
        ];
        for (extra, want_key, want_text) in cases {
            let (key, reason) = config_err(extra.clone());
            assert_eq!(key, want_key, "{extra}");
            assert!(reason.contains(want_text), "{extra}: {reason}");
            assert!(reason.contains("found"), "{extra}: {reason}");
        }
    }

    #[test]
    fn api_key_never_printed() {
        let c = load(json!({})).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains(KEY), "{debug}");
        assert!(debug.contains("***"));
        assert_eq!(c.api_key.to_string(), "***");
        let (key, reason) = config_err(json!({"api_key": 12345678}));
        assert_eq!(key, "tautulli.api_key");
        assert!(!reason.contains("12345678"), "{reason}");
    }

    #[test]
    fn instances_merge_over_the_base_block() {
        let cfg = json!({"tautulli": {
            "server_url": "http://base:8181", "api_key": KEY, "timeout": 5,
            "history": {"per_page": 200, "min_percent": 90},
            "instances": {
                "second": {"server_url": "http://second:8181",
                           "history": {"min_percent": 50, "user_id": 3}},
                "nulls": {"timeout": null, "history": null},
                "broken": {"history": {"per_page": -5}}
            }
        }});
        let c = TautulliConfig::from_engine_config(&cfg, "second").unwrap();
        assert_eq!(c.instance, "second");
        assert_eq!(c.server_url, "http://second:8181");
        assert_eq!(c.server_url_key, "tautulli.instances.second.server_url");
        assert_eq!(c.api_key.expose(), KEY);
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!(c.history.per_page, 200);
        assert_eq!(c.history.min_percent, 50);
        assert_eq!(c.history.user_id, Some(3));

        let c = TautulliConfig::from_engine_config(&cfg, "nulls").unwrap();
        assert_eq!(
            c.timeout,
            Duration::from_secs(10),
            "instance null = default"
        );
        assert_eq!(
            c.history.per_page, 200,
            "a null object does not hide the base block"
        );

        let base = TautulliConfig::from_engine_config(&cfg, "").unwrap();
        assert_eq!(base.server_url, "http://base:8181");
        assert_eq!(base.history.min_percent, 90);

        match TautulliConfig::from_engine_config(&cfg, "broken") {
            Err(Error::ConfigInvalid { key, .. }) => {
                assert_eq!(key, "tautulli.instances.broken.history.per_page")
            }
            other => panic!("{other:?}"),
        }
        match TautulliConfig::from_engine_config(&cfg, "third") {
            Err(Error::ConfigInvalid { key, reason }) => {
                assert_eq!(key, "tautulli.instances.third");
                assert!(reason.contains("second"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    mod props {
        use proptest::prelude::*;

        use super::*;
        use crate::testutil::gen::dirty_text;

        /// Every key the block reads, as paths below `tautulli`.
        const KEYS: [&str; 23] = [
            "server_url",
            "server",
            "api_key",
            "verify_ssl",
            "timeout",
            "max_retries",
            "backoff_ms",
            "concurrency",
            "state_dir",
            "metadata_cache_days",
            "history.user_id",
            "history.per_page",
            "history.max_pages",
            "history.watched_only",
            "history.min_percent",
            "history.include_live",
            "history.watched_at",
            "history.rewatches",
            "history.mode",
            "history.overlap_hours",
            "history.read",
            "history.window_rows",
            "history",
        ];

        /// Any JSON value, leaning to what config files hold (and the key itself, which
        /// must never come back in a message).
        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                (-1e6f64..1e6).prop_map(Value::from),
                prop::sample::select(vec![
                    0i64, 1, -1, 4, 100, 3600, 3601, 10_000, 10_001, 1_000_000
                ])
                .prop_map(Value::from),
                prop::sample::select(vec![
                    "",
                    " ",
                    "true",
                    "FALSE",
                    "10",
                    " 5 ",
                    "2.5",
                    "-3",
                    "1e3",
                    "nan",
                    "inf",
                    "paged",
                    "Windowed",
                    "Started",
                    "incremental",
                    "/tmp/x",
                    "http://h:8181",
                    "https://h/tautulli/api/v2",
                    "ftp://h",
                    "h:8181",
                    "://",
                    "http://",
                    "http://u:p@h/?apikey=0123456789abcdef0123456789abcdef",
                    "0123456789abcdef0123456789abcdef",
                ])
                .prop_map(Value::from),
                dirty_text().prop_map(Value::from),
                "\\PC{0,16}".prop_map(Value::from),
            ];
            leaf.prop_recursive(2, 12, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    prop::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn set(cfg: &mut Value, path: &str, v: Value) {
            let mut at = &mut cfg["tautulli"];
            let parts: Vec<&str> = path.split('.').collect();
            for part in &parts[..parts.len() - 1] {
                if !at[*part].is_object() {
                    at[*part] = serde_json::json!({});
                }
                at = &mut at[*part];
            }
            at[*parts.last().unwrap()] = v;
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(768))]

            #[test]
            fn any_value_for_any_key_is_read_or_refused_naming_that_key(
                picks in prop::collection::vec((prop::sample::select(KEYS.to_vec()), json_value()), 1..3),
            ) {
                let mut cfg = base(json!({}));
                for (path, v) in &picks {
                    set(&mut cfg, path, v.clone());
                }
                match TautulliConfig::from_engine_config(&cfg, "") {
                    Ok(c) => {
                        prop_assert!((1..=MAX_PER_PAGE).contains(&c.history.per_page));
                        prop_assert!(c.history.min_percent <= 100);
                        prop_assert!(c.timeout > Duration::ZERO);
                        prop_assert!(c.server_url.contains("://"));
                    }
                    Err(Error::ConfigInvalid { key, reason }) => {
                        let named = picks.iter().any(|(path, _)| {
                            let full = format!("tautulli.{path}");
                            key == full || key.starts_with(&format!("{full}."))
                                || (*path == "server" && key == "tautulli.server_url")
                        });
                        prop_assert!(named, "{} ({}) for {:?}", key, reason, picks);
                        prop_assert!(!reason.is_empty());
                        // The configured key never comes back, wherever it was pasted.
                        if cfg["tautulli"]["api_key"] == KEY {
                            prop_assert!(!reason.contains(KEY), "{}", reason);
                        }
                    }
                    Err(other) => prop_assert!(false, "{:?}", other),
                }
            }

            #[test]
            fn any_block_or_instance_is_read_or_refused_under_tautulli(
                block in json_value(),
                instances in json_value(),
                use_instance in any::<bool>(),
            ) {
                for cfg in [
                    json!({"tautulli": block.clone()}),
                    {
                        let mut c = base(json!({}));
                        c["tautulli"]["instances"] = instances.clone();
                        c
                    },
                ] {
                    let instance = if use_instance { "x" } else { "" };
                    match TautulliConfig::from_engine_config(&cfg, instance) {
                        Ok(_) => {}
                        Err(Error::ConfigInvalid { key, reason }) => {
                            prop_assert!(key.starts_with("tautulli"), "{}", key);
                            prop_assert!(!reason.is_empty());
                        }
                        Err(other) => prop_assert!(false, "{:?}", other),
                    }
                }
            }
        }
    }

    #[test]
    fn url_credentials_are_dropped_and_the_key_never_shown() {
        let url = format!("http://tautulli:Pa55word@127.0.0.1:8181/{KEY}/");
        let c = load(json!({ "server_url": url })).unwrap();
        assert_eq!(
            c.server_url,
            format!("http://127.0.0.1:8181/{KEY}"),
            "userinfo is never kept (the path is needed to reach the API)"
        );
        assert_eq!(c.display_url(), "http://127.0.0.1:8181/***");
        let debug = format!("{c:?}");
        for secret in [KEY, "Pa55word", "tautulli:"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("http://127.0.0.1:8181/***"), "{debug}");
        // An instance's URL too, and one with only a user name.
        let cfg = json!({"tautulli": {"server_url": "https://u@h.example/tt", "api_key": KEY}});
        let c = TautulliConfig::from_engine_config(&cfg, "").unwrap();
        assert_eq!(c.server_url, "https://h.example/tt");
    }

    #[test]
    fn unknown_keys_are_warned_with_the_closest_known_one() {
        let cfg = json!({"tautulli": {
            "server_url": "http://127.0.0.1:8181", "api_key": KEY, "_cw_readonly": true,
            "timout": 5, "history": {"watched_onyl": false, "user_id": 3},
            "instances": {"b": {"history": {"rewaches": true}, "zzzzzzzz": 1}}
        }, "plex": {"anything": 1}});
        let c = TautulliConfig::from_engine_config(&cfg, "").unwrap();
        assert_eq!(c.warnings.len(), 4, "{:?}", c.warnings);
        let all = c.warnings.join("\n");
        for want in [
            "`tautulli.timout` (ignored): did you mean timeout?",
            "`tautulli.history.watched_onyl` (ignored): did you mean watched_only?",
            "`tautulli.instances.b.history.rewaches` (ignored): did you mean rewatches?",
            "`tautulli.instances.b.zzzzzzzz` (ignored); known keys: api_key,",
        ] {
            assert!(all.contains(want), "{want} not in {all}");
        }
        assert!(!all.contains("_cw_") && !all.contains("plex"), "{all}");
        assert!(!all.contains(KEY));
        let clean = TautulliConfig::from_engine_config(&base(json!({})), "").unwrap();
        assert!(clean.warnings.is_empty(), "{:?}", clean.warnings);
    }

    #[test]
    fn typos_are_near_and_other_words_are_not() {
        assert_eq!(closest("windws", &["windows", "timezone"]), Some("windows"));
        assert_eq!(
            closest("root_dri", &["root_dir", "snapshots"]),
            Some("root_dir")
        );
        assert_eq!(closest("Timeout", &["timeout"]), Some("timeout"));
        assert_eq!(closest("colour", &["read", "mode"]), None);
    }
}
