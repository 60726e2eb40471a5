//! The analytics provider as the FFI (and tests) use it: opened from the engine's whole JSON
//! config, with JSON-friendly methods. Network use is limited to `sync` (history) and
//! `collect` (library names and collection discovery, only when needed); queries and charts
//! read the local store only.
//!
//! Every method takes `&self` (the store sits behind a mutex; a sync reads and writes on a
//! connection of its own), so one service can be shared between threads.

use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde_json::{json, Value};

use crate::analytics::chart::{self, ChartData, ChartKind, ChartOptions, Window, YAxis};
use crate::analytics::collections::{self, known_libraries, ClientCollections, CollectionSource};
use crate::analytics::config::{load_time_zone, AnalyticsConfig};
use crate::analytics::grouping::{Grouping, ServerGrouping};
use crate::analytics::snapshots::{self, CollectReport, RunRef};
use crate::analytics::store::{bad_argument, Store, StoreCounts, STATE_LAST_SYNC};
use crate::analytics::sync::{self, SyncOptions, SyncReport};
use crate::config::TautulliConfig;
use crate::error::{Error, Result};
use crate::tautulli::client::{Client, Command};
use crate::tautulli::reader::PageSource;
use crate::timefmt::parse_utc;

/// Queries [`AnalyticsService::query`] answers.
pub const QUERIES: [&str; 8] = [
    "latest",
    "history",
    "top",
    "rotation",
    "diff",
    "collections",
    "rotations",
    "status",
];

/// An open analytics provider: checked configs, an HTTP client and the local store.
pub struct AnalyticsService {
    tautulli: TautulliConfig,
    config: AnalyticsConfig,
    client: Arc<Client>,
    store: Mutex<Store>,
    /// Unknown keys in the `tautulli` and `analytics` blocks, named once at open: the sync
    /// and collect reports carry them, so an `analytics.windws` typo is said where the
    /// windows it meant are used.
    config_warnings: Vec<String>,
}

impl std::fmt::Debug for AnalyticsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalyticsService")
            .field("server_url", &self.tautulli.display_url())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A collection with its members, for the `collections` query.
#[derive(Debug, Clone, Serialize)]
struct CollectionListing {
    #[serde(flatten)]
    collection: collections::StoredCollection,
    members: Vec<collections::Member>,
}

impl AnalyticsService {
    /// Opens the provider from the engine's whole config (JSON) and a Tautulli instance id
    /// (`""` for the base block). Creates the store when needed.
    pub fn open(engine_config_json: &str, instance: &str) -> Result<Self> {
        let cfg: Value =
            serde_json::from_str(engine_config_json).map_err(|e| Error::ConfigInvalid {
                key: "(config)".into(),
                reason: format!("not valid JSON: {e}"),
            })?;
        let tautulli = TautulliConfig::from_engine_config(&cfg, instance)?;
        let mut config_warnings = tautulli.warnings.clone();
        config_warnings.extend(crate::analytics::config::config_warnings(&cfg));
        let config = AnalyticsConfig::from_engine_config(&cfg)?;
        let store = Store::open(config.require_data_dir()?)?;
        let client = Arc::new(Client::new(&tautulli)?);
        Ok(Self {
            tautulli,
            config,
            client,
            store: Mutex::new(store),
            config_warnings,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic mid-call leaves no half-written data (every write is one transaction).
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copies new (and regrouped) sessions from Tautulli into the store (the `sync` module
    /// says how much it reads, and why).
    pub fn sync(&self) -> Result<SyncReport> {
        let opts = SyncOptions {
            read: self.tautulli.history.read,
            window_rows: self.tautulli.history.window_rows,
            per_page: self.tautulli.history.per_page,
            max_pages: self.tautulli.history.max_pages,
            overlap_seconds: i64::from(self.config.sync_overlap_hours) * 3600,
        };
        // Tautulli's own grouping, read once per sync unless the config chooses.
        let server_grouping = match self.config.grouping {
            None => Some(ServerGrouping::read(&self.client)?),
            Some(_) => None,
        };
        let before = self.history_requests();
        // The read can take minutes: it runs on a connection of its own, not behind the
        // shared store's mutex, so this provider's other calls (from other threads) use the
        // store meanwhile, as other processes do; SQLite's lock orders the writes.
        let mut store = Store::open(self.config.require_data_dir()?)?;
        let mut pages = sync::session_pages(Arc::clone(&self.client));
        let report = sync::sync(&mut store, &mut pages, &opts, self.now());
        // A guess still in flight is counted before the figures are read.
        pages.settle();
        let mut report = report?;
        report.requests = self.history_requests().saturating_sub(before);
        if let Some(g) = server_grouping {
            g.save(&store)?;
            report.warnings.extend(g.warning());
        }
        report
            .warnings
            .splice(0..0, self.config_warnings.iter().cloned());
        Ok(report)
    }

    /// Now, in epoch seconds, on the crate's one clock: the client's, so a test that gives
    /// the client a test clock moves this one too.
    fn now(&self) -> i64 {
        self.client.clock().epoch()
    }

    fn history_requests(&self) -> u64 {
        self.client
            .stats()
            .get(Command::GetHistory.as_str())
            .copied()
            .unwrap_or(0)
    }

    /// Resolves the collections (config, and discovery when on) and records a snapshot of
    /// each for every configured window at `now` (default: the current time), under an
    /// optional rotation. Does not sync: run [`Self::sync`] first for fresh numbers.
    pub fn collect(&self, rotation: Option<String>, now: Option<i64>) -> Result<CollectReport> {
        let mut source = ClientCollections::new(Arc::clone(&self.client));
        self.collect_with(
            &mut source,
            rotation.as_deref(),
            now.unwrap_or_else(|| self.now()),
        )
    }

    /// [`Self::collect`] with another collection source (tests).
    pub(crate) fn collect_with<S: CollectionSource>(
        &self,
        source: &mut S,
        rotation: Option<&str>,
        now: i64,
    ) -> Result<CollectReport> {
        let mut store = self.lock();
        require_synced(&store)?;
        let known = known_libraries(&store)?;
        let resolution = collections::resolve(&self.config, source, &known)?;
        let resolved = collections::save(&mut store, &resolution, self.config.discover, now)?;
        let grouping = Grouping::resolve(self.config.grouping, &store)?;
        let mut report = snapshots::collect(
            &mut store,
            now,
            rotation,
            &self.config.windows,
            &self.config.retention,
            grouping.on,
        )?;
        let mut warnings = self.config_warnings.clone();
        warnings.extend(resolved.warnings.iter().cloned());
        warnings.append(&mut report.warnings);
        report.warnings = warnings;
        report.resolve = Some(resolved);
        Ok(report)
    }

    /// Answers a stored-data query: `{"query": NAME, ...}` with NAME one of these:
    /// - `latest`; `history` `{collection}`; `top` `{n = 10, window = 30 or the first
    ///   configured}`; `rotation` `{name}`; `diff` `{from = "previous", to = "latest",
    ///   collection?}` where a run is `"latest"`, `"previous"`, epoch seconds or a UTC
    ///   `YYYY-MM-DDTHH:MM:SSZ` (the newest run at or before it), or `from_id`/`to_id`
    ///   (the run of that snapshot id); `collections`; `rotations`; `status`.
    ///
    /// Answers `{"query": NAME, "rows": [...]}` (`status`: `{"query", "status": {...}}`).
    pub fn query(&self, request: &Value) -> Result<Value> {
        let name = match request.get("query") {
            Some(Value::String(s)) => s.trim().to_ascii_lowercase(),
            _ => {
                return Err(bad_argument(
                    "query",
                    format!("missing; give one of {}", QUERIES.join(", ")),
                ))
            }
        };
        let store = self.lock();
        let rows = match name.as_str() {
            "latest" => to_json(snapshots::latest(&store)?),
            "history" => {
                let c = string_arg(request, "collection")?;
                to_json(snapshots::history(&store, &c)?)
            }
            "top" => {
                let n = uint_arg(request, &["n", "top"])?.unwrap_or(10) as usize;
                let default_window = if self.config.windows.contains(&30) {
                    30
                } else {
                    self.config.windows[0]
                };
                let w = uint_arg(request, &["window", "window_days", "days"])?
                    .map_or(default_window, |w| w as u32);
                to_json(snapshots::top(&store, n, w)?)
            }
            "rotation" => {
                let r = string_arg(request, "name")?;
                to_json(snapshots::rotation(&store, &r)?)
            }
            "diff" => {
                let from = run_arg(request, "from", "from_id", RunRef::Previous)?;
                let to = run_arg(request, "to", "to_id", RunRef::Latest)?;
                let c = match request.get("collection") {
                    None | Some(Value::Null) => None,
                    Some(_) => Some(string_arg(request, "collection")?),
                };
                to_json(snapshots::diff(&store, from, to, c.as_deref())?)
            }
            "collections" => {
                let list = collections::active_collections(&store)?
                    .into_iter()
                    .map(|c| {
                        let members = collections::members(&store, c.id)?;
                        Ok(CollectionListing {
                            collection: c,
                            members,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                to_json(list)
            }
            "rotations" => to_json(snapshots::rotations(&store)?),
            "status" => {
                let counts: StoreCounts = store.counts()?;
                return Ok(json!({
                    "query": "status",
                    "status": counts,
                    "store": store.path().map(|p| p.display().to_string()),
                    "timezone": self.config.timezone,
                    "windows": self.config.windows,
                    "grouping": Grouping::resolve(self.config.grouping, &store)?.note(),
                }));
            }
            other => {
                return Err(bad_argument(
                    "query",
                    format!(
                        "unknown query \"{other}\"; use one of {}",
                        QUERIES.join(", ")
                    ),
                ))
            }
        };
        Ok(json!({ "query": name, "rows": rows }))
    }

    /// Computes a chart from the store: `kind` one of [`ChartKind::ALL`] (e.g.
    /// `plays-by-date`), over `days` (0 = all time) ending at `now` (default: the current
    /// time), in `tz` (default `analytics.timezone`), with `top` rows for the top-N charts.
    /// Answers the serialised [`chart::Chart`], counting viewings.
    pub fn chart(
        &self,
        kind: &str,
        days: u32,
        tz: Option<&str>,
        now: Option<i64>,
        top: usize,
    ) -> Result<Value> {
        self.chart_on(kind, days, tz, now, top, None)
    }

    /// [`Self::chart`] on a `y_axis`: `plays` (the default) or `duration` (seconds watched,
    /// every chart but concurrency, as Tautulli offers it).
    pub fn chart_on(
        &self,
        kind: &str,
        days: u32,
        tz: Option<&str>,
        now: Option<i64>,
        top: usize,
        y_axis: Option<&str>,
    ) -> Result<Value> {
        let kind = ChartKind::parse(kind).map_err(|e| bad_argument("kind", e.to_string()))?;
        let y_axis = y_axis
            .map(YAxis::parse)
            .transpose()
            .map_err(|r| bad_argument("y_axis", r))?
            .unwrap_or_default();
        if !y_axis.fits(kind) {
            return Err(bad_argument(
                "y_axis",
                format!("the {kind} chart counts streams and has no {y_axis} axis; use plays"),
            ));
        }
        let (tz, tz_name) = match tz.map(str::trim).filter(|t| !t.is_empty()) {
            None => (self.config.tz.clone(), self.config.timezone.clone()),
            Some(name) => {
                let tz = load_time_zone(name).map_err(|r| bad_argument("tz", r))?;
                let canonical = tz.iana_name().unwrap_or(name).to_string();
                (tz, canonical)
            }
        };
        let window = Window {
            now: now.unwrap_or_else(|| self.now()),
            days,
        };
        let (data, grouping) = {
            let store = self.lock();
            require_synced(&store)?;
            (
                ChartData::load(&store, &window)?,
                Grouping::resolve(self.config.grouping, &store)?,
            )
        };
        let options = ChartOptions {
            top_n: top,
            y_axis,
            grouping: grouping.on,
        };
        let mut chart = chart::compute(kind, data, &tz, &tz_name, window, options);
        // Concurrency counts streams, whatever the grouping.
        if kind != ChartKind::Concurrency {
            chart.notes.push(grouping.note());
        }
        serde_json::to_value(chart).map_err(|e| Error::Internal {
            reason: format!("a chart could not be written as JSON: {e}"),
        })
    }
}

/// Charts and snapshots of a store that was never synced would be all zeros, which reads as
/// "nobody watched anything": say what is missing instead.
fn require_synced(store: &Store) -> Result<()> {
    if store.sync_state(STATE_LAST_SYNC)?.is_some() {
        return Ok(());
    }
    Err(bad_argument(
        "analytics store",
        "it is empty: no history was synced into it yet; run `analytics sync` first (it \
         copies Tautulli's history), then chart or collect",
    ))
}

fn to_json<T: Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn string_arg(request: &Value, name: &str) -> Result<String> {
    match request.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(bad_argument(name, "missing; give it as a string")),
    }
}

fn uint_arg(request: &Value, names: &[&str]) -> Result<Option<u64>> {
    for name in names {
        match request.get(*name) {
            None | Some(Value::Null) => continue,
            Some(v) => {
                let n = match v {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
                return n.map(Some).ok_or_else(|| {
                    bad_argument(name, format!("found {v}, expected a whole number from 0"))
                });
            }
        }
    }
    Ok(None)
}

fn run_arg(request: &Value, name: &str, id_name: &str, default: RunRef) -> Result<RunRef> {
    if let Some(id) = uint_arg(request, &[id_name])? {
        return Ok(RunRef::Snapshot(id as i64));
    }
    match request.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(RunRef::At)
            .ok_or_else(|| bad_argument(name, format!("found {n}, expected epoch seconds"))),
        Some(Value::String(s)) => {
            let t = s.trim();
            match t.to_ascii_lowercase().as_str() {
                "latest" => Ok(RunRef::Latest),
                "previous" => Ok(RunRef::Previous),
                _ => t
                    .parse::<i64>()
                    .ok()
                    .or_else(|| parse_utc(t))
                    .map(RunRef::At)
                    .ok_or_else(|| {
                        bad_argument(
                            name,
                            format!(
                                "found \"{t}\", expected \"latest\", \"previous\", epoch seconds \
                                 or a UTC time like 2026-11-11T22:18:00Z"
                            ),
                        )
                    }),
            }
        }
        Some(other) => Err(bad_argument(
            name,
            format!("found {other}, expected a run (\"latest\", \"previous\", a time)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_arguments() {
        let r = json!({"from": "2026-11-11T22:18:00Z", "to": 42, "from_id": null});
        assert_eq!(
            run_arg(&r, "from", "from_id", RunRef::Previous).unwrap(),
            RunRef::At(parse_utc("2026-11-11T22:18:00Z").unwrap())
        );
        assert_eq!(
            run_arg(&r, "to", "to_id", RunRef::Latest).unwrap(),
            RunRef::At(42)
        );
        assert_eq!(
            run_arg(&json!({}), "to", "to_id", RunRef::Latest).unwrap(),
            RunRef::Latest
        );
        assert_eq!(
            run_arg(
                &json!({"to_id": "7", "to": "latest"}),
                "to",
                "to_id",
                RunRef::Latest
            )
            .unwrap(),
            RunRef::Snapshot(7)
        );
        assert_eq!(
            run_arg(
                &json!({"from": "PREVIOUS"}),
                "from",
                "from_id",
                RunRef::Latest
            )
            .unwrap(),
            RunRef::Previous
        );
        assert!(run_arg(
            &json!({"from": "yesterday"}),
            "from",
            "from_id",
            RunRef::Latest
        )
        .is_err());
    }

    #[test]
    fn numeric_arguments() {
        assert_eq!(uint_arg(&json!({"n": "5"}), &["n"]).unwrap(), Some(5));
        assert_eq!(
            uint_arg(&json!({"top": 3}), &["n", "top"]).unwrap(),
            Some(3)
        );
        assert_eq!(uint_arg(&json!({}), &["n"]).unwrap(), None);
        assert!(uint_arg(&json!({"n": -1}), &["n"]).is_err());
        assert!(string_arg(&json!({"collection": " "}), "collection").is_err());
    }

    #[test]
    fn the_service_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<AnalyticsService>();
    }

    #[test]
    fn opening_needs_a_data_dir() {
        let cfg = json!({"tautulli": {"server_url": "http://127.0.0.1:1", "api_key": "k"}});
        let e = AnalyticsService::open(&cfg.to_string(), "").unwrap_err();
        assert!(
            matches!(e, Error::ConfigInvalid { ref key, .. } if key == "analytics.data_dir"),
            "{e}"
        );
    }

    #[test]
    fn charts_and_collects_of_a_never_synced_store_say_to_sync() {
        let dir = tempfile::tempdir().unwrap();
        // Nothing listens on port 9: a request would fail differently.
        let cfg = json!({
            "tautulli": {"server_url": "http://127.0.0.1:9", "api_key": "0123456789abcdef0123456789abcdef"},
            "analytics": {"data_dir": dir.path()}
        });
        let svc = AnalyticsService::open(&cfg.to_string(), "").unwrap();
        for e in [
            svc.chart("plays-by-date", 30, None, Some(0), 10)
                .unwrap_err(),
            svc.collect(None, Some(0)).unwrap_err(),
        ] {
            let text = e.to_string();
            assert!(text.contains("empty"), "{text}");
            assert!(text.contains("run `analytics sync` first"), "{text}");
        }
        let e = svc
            .chart_on("concurrency", 30, None, Some(0), 10, Some("duration"))
            .unwrap_err();
        assert!(e.to_string().contains("no duration axis"), "{e}");
        let e = svc
            .chart_on("plays-by-date", 30, None, Some(0), 10, Some("hours"))
            .unwrap_err();
        assert!(e.to_string().contains("plays or duration"), "{e}");
    }
}
