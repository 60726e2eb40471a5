//! `host-sim-bench`: the benchmark anyone can run, and the hidden `serve-fake` it drives.
//! It is its own binary so that the product CLI (`host-sim --help`) lists only what a user
//! of the host needs.
//!
//! The fake Tautulli runs in its own process (`host-sim-bench serve-fake`) so its million
//! sessions stay out of the measured memory. Every phase is a separate run of the
//! `host-sim` next to this executable, run the way a user runs it (`--report-rss` makes it
//! print its peak RSS), timed from spawn to exit. HTTP requests are counted on the fake's
//! side, per command, so every phase (index, sync, analytics) is counted the same way,
//! retries included. Numbers come only from these runs: nothing here asserts on time.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use fake_tautulli::{CostModel, GenSpec};
use host_sim::usage::{proc_field, proc_kb};
use host_sim::{HostError, Result};
use serde::Serialize;
use serde_json::{json, Value};
use table::Shape;

mod readers;
mod serve_fake;
mod table;
use readers::{paged_cost, ReaderResult, ReaderSpec, Summary};
use serve_fake::ServeFakeArgs;

#[derive(Debug, Parser)]
#[command(
    name = "host-sim-bench",
    version,
    about = "Benchmark host-sim's index, sync and analytics against a generated fake Tautulli (1M plays by default)",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
    /// The plugin file (default: libtautulli_plugin.so next to this executable).
    #[arg(long, value_name = "PATH")]
    plugin: Option<PathBuf>,
    /// Machine-readable JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    command: Option<Hidden>,
}

/// The bench's own child processes.
#[derive(Debug, Subcommand)]
enum Hidden {
    /// Serve a generated fake Tautulli on 127.0.0.1 until stdin closes.
    #[command(hide = true)]
    ServeFake(ServeFakeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    host_sim::exit_code(match &cli.command {
        Some(Hidden::ServeFake(args)) => serve_fake::run(args),
        None => run(&cli.bench, cli.plugin.as_deref(), cli.json),
    })
}

/// The default phase list, in the order they run. `incremental` releases the held-back plays,
/// so phases after it see them.
pub const DEFAULT_PHASES: &str =
    "index,index-warm,index-rewatch,sync,sync-again,analytics,incremental,analytics-resync";

/// Every chart kind the analytics provider draws; `analytics` times each over `--chart-days`.
pub const CHART_KINDS: [&str; 7] = [
    "plays-by-date",
    "plays-by-hour",
    "plays-by-weekday",
    "stream-types",
    "concurrency",
    "top-users",
    "top-platforms",
];

/// The scenario the fake serves (see `fake_tautulli::GenSpec`); unset values take
/// the generator's defaults.
#[derive(Debug, Clone, Args)]
pub struct ScenarioArgs {
    /// Finished sessions (history rows) served at the start.
    #[arg(long, default_value_t = 1_000_000)]
    pub plays: usize,
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    #[arg(long, value_name = "N")]
    pub movies: Option<usize>,
    #[arg(long, value_name = "N")]
    pub shows: Option<usize>,
    #[arg(long, value_name = "N")]
    pub episodes_per_show: Option<usize>,
    #[arg(long, value_name = "N")]
    pub users: Option<usize>,
    /// Share of movies and shows on legacy agents (1.0: no metadata lookups needed).
    #[arg(long, value_name = "X")]
    pub legacy_share: Option<f64>,
    #[arg(long, value_name = "X")]
    pub partial_share: Option<f64>,
    #[arg(long, value_name = "X")]
    pub grouped_share: Option<f64>,
    #[arg(long, value_name = "X")]
    pub live_share: Option<f64>,
    /// Delay every get_metadata answer by this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub metadata_latency_ms: u64,
}

impl ScenarioArgs {
    /// The generator spec for `plays + extra` sessions.
    pub fn spec(&self, extra: usize) -> GenSpec {
        let d = GenSpec::default();
        GenSpec {
            plays: self.plays + extra,
            seed: self.seed.unwrap_or(d.seed),
            movies: self.movies.unwrap_or(d.movies),
            shows: self.shows.unwrap_or(d.shows),
            episodes_per_show: self.episodes_per_show.unwrap_or(d.episodes_per_show),
            users: self.users.unwrap_or(d.users),
            legacy_share: self.legacy_share.unwrap_or(d.legacy_share),
            partial_share: self.partial_share.unwrap_or(d.partial_share),
            grouped_share: self.grouped_share.unwrap_or(d.grouped_share),
            live_share: self.live_share.unwrap_or(d.live_share),
            ..d
        }
    }

    /// The same options as command-line arguments, to hand to `serve-fake`.
    fn to_args(&self) -> Vec<String> {
        let mut v = vec!["--plays".to_string(), self.plays.to_string()];
        let mut opt = |name: &str, value: Option<String>| {
            if let Some(x) = value {
                v.push(format!("--{name}"));
                v.push(x);
            }
        };
        opt("seed", self.seed.map(|x| x.to_string()));
        opt("movies", self.movies.map(|x| x.to_string()));
        opt("shows", self.shows.map(|x| x.to_string()));
        opt(
            "episodes-per-show",
            self.episodes_per_show.map(|x| x.to_string()),
        );
        opt("users", self.users.map(|x| x.to_string()));
        opt("legacy-share", self.legacy_share.map(|x| x.to_string()));
        opt("partial-share", self.partial_share.map(|x| x.to_string()));
        opt("grouped-share", self.grouped_share.map(|x| x.to_string()));
        opt("live-share", self.live_share.map(|x| x.to_string()));
        opt(
            "metadata-latency-ms",
            (self.metadata_latency_ms > 0).then(|| self.metadata_latency_ms.to_string()),
        );
        v
    }
}

/// What `host-sim-bench` runs.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Rows per get_history page (tautulli.history.per_page).
    #[arg(long, value_name = "P", default_value_t = 1000)]
    pub per_page: u32,
    /// tautulli.concurrency (parallel metadata lookups); unset: the plugin's default.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Comma-separated: index, index-warm, index-rewatch, sync, sync-again, analytics
    /// (analytics-sync and every chart), analytics-sync, charts, incremental, analytics-resync,
    /// or none. Default: every phase, or none with --readers.
    #[arg(long, value_name = "LIST")]
    pub phases: Option<String>,
    /// tautulli.history.read for the phases (windowed or paged); unset: the plugin's default.
    #[arg(long, value_name = "MODE")]
    pub read: Option<String>,
    /// tautulli.history.window_rows for the phases; unset: the plugin's default.
    #[arg(long, value_name = "N")]
    pub window_rows: Option<u32>,
    /// Before the phases, run the full `index` once per reader (comma list of paged:P,
    /// windowed, windowed:N) on the same history, and compare what each would cost Tautulli.
    /// Alone: paged:100,paged:1000,paged:10000,windowed.
    #[arg(
        long,
        alias = "compare-readers",
        value_name = "LIST",
        num_args = 0..=1,
        default_missing_value = readers::DEFAULT_READERS
    )]
    pub readers: Option<String>,
    /// Stop a reader's run after this many seconds and show its computed cost instead
    /// (a paged read of a large history can take long even against the fast fake); 0: no limit.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub reader_timeout: u64,
    /// Plays held back and added by the `incremental` phase (what a periodic re-run sees).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub new_plays: usize,
    /// Chart window in days.
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    pub chart_days: u32,
    /// Also write the results: Markdown when FILE ends in .md, else JSON.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Keep the temporary folder (configs, Tracker, analytics store) and print where it is.
    #[arg(long)]
    pub keep: bool,
    /// Do not model what the requests would cost a real Tautulli (the "Tautulli s" column).
    #[arg(long)]
    pub no_cost_model: bool,
    /// Make the fake really sleep each request's modelled Tautulli cost, as a real server
    /// takes that long (hours for 1M plays: use a small --plays).
    #[arg(long, conflicts_with = "no_cost_model")]
    pub sleep_cost: bool,
}

impl BenchArgs {
    /// The phases to run: the list given, else all of them, or none next to `--readers`.
    fn phase_list(&self) -> Result<Vec<Phase>, String> {
        match self.phases.as_deref().map(str::trim) {
            Some("none") => Ok(Vec::new()),
            Some(list) => Phase::parse_list(list),
            None if self.readers.is_some() => Ok(Vec::new()),
            None => Phase::parse_list(DEFAULT_PHASES),
        }
    }

    /// The readers to compare (none without `--readers`).
    fn reader_list(&self) -> Result<Vec<ReaderSpec>, String> {
        self.readers
            .as_deref()
            .map_or(Ok(Vec::new()), ReaderSpec::parse_list)
    }

    /// The `serve-fake` options for the cost model.
    fn cost_args(&self) -> Vec<&'static str> {
        match (self.no_cost_model, self.sleep_cost) {
            (true, _) => vec![],
            (false, false) => vec!["--cost-model"],
            (false, true) => vec!["--cost-model", "--cost-sleep"],
        }
    }
}

/// One step of the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// `index --json --report`, collapsed mode, first run (cold metadata cache).
    Index,
    /// The same again: what a warm (cached) run costs.
    IndexWarm,
    /// `index` with `history.rewatches: true` (event keys).
    IndexRewatch,
    /// `sync` into a fresh Tracker.
    Sync,
    /// `sync` again with nothing new: the periodic re-run.
    SyncAgain,
    /// `analytics sync` into a fresh store.
    AnalyticsSync,
    /// Every chart over `--chart-days`.
    Charts,
    /// `sync` with `history.mode: incremental` into its own Tracker (which keeps the
    /// checkpoint), then again after new plays arrive.
    Incremental,
    /// `analytics sync` again (after `incremental`, with the new plays).
    AnalyticsResync,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Index => "index",
            Phase::IndexWarm => "index-warm",
            Phase::IndexRewatch => "index-rewatch",
            Phase::Sync => "sync",
            Phase::SyncAgain => "sync-again",
            Phase::AnalyticsSync => "analytics-sync",
            Phase::Charts => "charts",
            Phase::Incremental => "incremental",
            Phase::AnalyticsResync => "analytics-resync",
        }
    }

    /// Parses a comma list; `analytics` stands for `analytics-sync,charts`.
    pub fn parse_list(list: &str) -> Result<Vec<Phase>, String> {
        let mut out = Vec::new();
        for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let found: &[Phase] = match word {
                "index" => &[Phase::Index],
                "index-warm" => &[Phase::IndexWarm],
                "index-rewatch" => &[Phase::IndexRewatch],
                "sync" => &[Phase::Sync],
                "sync-again" => &[Phase::SyncAgain],
                "analytics" => &[Phase::AnalyticsSync, Phase::Charts],
                "analytics-sync" => &[Phase::AnalyticsSync],
                "charts" => &[Phase::Charts],
                "incremental" => &[Phase::Incremental],
                "analytics-resync" => &[Phase::AnalyticsResync],
                other => {
                    return Err(format!(
                        "unknown phase {other:?}; expected a comma list of: {DEFAULT_PHASES}, \
                         analytics-sync, charts"
                    ))
                }
            };
            out.extend_from_slice(found);
        }
        if out.is_empty() {
            return Err("no phase given".into());
        }
        Ok(out)
    }
}

/// How a phase ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// The command does not exist or is not implemented yet in this build.
    NotAvailable(String),
    Failed(String),
    /// Stopped after the bench's time limit (`--reader-timeout`).
    TimedOut(String),
}

/// One row of the results table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseResult {
    pub phase: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub wall_s: f64,
    /// History rows the phase read (the plugin's `rows_seen`), when it says.
    pub rows: Option<u64>,
    /// Peak RSS (VmHWM) of the whole host-sim process, plugin included.
    pub peak_rss_kb: Option<u64>,
    /// CPU seconds (all threads) of the host-sim process, plugin included.
    pub host_cpu_s: Option<f64>,
    /// CPU seconds the fake Tautulli spent during the phase.
    pub fake_cpu_s: Option<f64>,
    /// Seconds a real Tautulli 2.17.2 would have spent on the phase's requests (the fake's
    /// cost model), when the model is on.
    pub tautulli_modelled_s: Option<f64>,
    /// The same per command: which requests the time went to.
    pub tautulli_modelled_by_command: BTreeMap<String, f64>,
    /// HTTP requests the fake received, per command (retries included).
    pub requests: BTreeMap<String, u64>,
    /// `get_history` requests without a day filter (each costs a real Tautulli the whole
    /// history), when the fake says.
    pub history_unfiltered: Option<u64>,
    /// How the plugin read the history (its report's `reader.mode`), when it says.
    pub reader: Option<String>,
    /// Day windows the windowed reader read (`reader.windows`).
    pub windows: Option<u64>,
    /// The history's rows as the read counted them (`records_filtered`).
    pub records: Option<u64>,
    /// `get_metadata` calls: the plugin's report when it has one, else the fake's count.
    pub metadata_calls: Option<u64>,
    /// Distinct rating keys among the `get_metadata` requests the fake received.
    pub metadata_distinct: Option<u64>,
    pub note: String,
}

impl PhaseResult {
    fn new(phase: impl Into<String>) -> PhaseResult {
        PhaseResult {
            phase: phase.into(),
            outcome: Outcome::Ok,
            wall_s: 0.0,
            rows: None,
            peak_rss_kb: None,
            host_cpu_s: None,
            fake_cpu_s: None,
            tautulli_modelled_s: None,
            tautulli_modelled_by_command: BTreeMap::new(),
            requests: BTreeMap::new(),
            history_unfiltered: None,
            reader: None,
            windows: None,
            records: None,
            metadata_calls: None,
            metadata_distinct: None,
            note: String::new(),
        }
    }

    pub fn rows_per_s(&self) -> Option<f64> {
        self.rows
            .filter(|_| self.wall_s > 0.0 && self.outcome == Outcome::Ok)
            .map(|r| r as f64 / self.wall_s)
    }
}

/// The machine the bench ran on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub mem_total_mb: u64,
    pub kernel: String,
    /// 1-, 5- and 15-minute load averages when the bench started: other work on the
    /// machine skews every figure.
    pub load_avg: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: proc_field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into()),
            mem_total_mb: proc_kb(&meminfo, "MemTotal").map_or(0, |kb| kb / 1024),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_default(),
            load_avg: std::fs::read_to_string("/proc/loadavg")
                .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_default(),
        }
    }
}

/// Everything one bench run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchResults {
    pub machine: Machine,
    /// The command line that reproduces this run.
    pub command: String,
    pub scenario: Value,
    pub per_page: u32,
    pub phases: Vec<PhaseResult>,
    /// `--readers`: one full index per reader.
    pub readers: Vec<ReaderResult>,
    /// The floor and the figures measured against the targets.
    pub summary: Summary,
}

/// The `peak_rss_kb=` line of a child's stderr (the last one, should there be several).
pub fn parse_peak_rss(stderr: &str) -> Option<u64> {
    parse_stderr_value(stderr, "peak_rss_kb=")
}

/// The last `<prefix>N` line of a child's stderr.
fn parse_stderr_value(stderr: &str, prefix: &str) -> Option<u64> {
    stderr
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix(prefix)?.trim().parse().ok())
}

/// The report in the last line `index --json --report` prints: `},"report":{...}}`.
pub fn parse_index_report_line(line: &str) -> Option<Value> {
    let body = line
        .trim()
        .strip_prefix("},\"report\":")?
        .strip_suffix('}')?;
    serde_json::from_str(body).ok()
}

/// What `serve-fake` says when it is ready.
#[derive(Debug, Clone)]
struct FakeInfo {
    url: String,
    api_key: String,
    plays: u64,
    end_epoch: i64,
    ready_s: f64,
}

/// A running `serve-fake` child; closing its stdin (on drop) stops it.
struct FakeProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    info: FakeInfo,
}

impl FakeProcess {
    fn start(
        exe: &Path,
        scenario: &ScenarioArgs,
        hold_back: usize,
        cost: &[&str],
    ) -> Result<FakeProcess> {
        let mut child = Command::new(exe)
            .arg("serve-fake")
            .args(scenario.to_args())
            .args(["--hold-back", &hold_back.to_string()])
            .args(cost)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| HostError::io(format!("cannot run {} serve-fake", exe.display()), e))?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().ok_or_else(|| {
            HostError::io("serve-fake has no stdout", std::io::ErrorKind::Other.into())
        })?);
        let mut fake = FakeProcess {
            child,
            stdin,
            stdout,
            info: FakeInfo {
                url: String::new(),
                api_key: String::new(),
                plays: 0,
                end_epoch: 0,
                ready_s: 0.0,
            },
        };
        let v = fake.read_answer()?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        fake.info = FakeInfo {
            url: s("url"),
            api_key: s("api_key"),
            plays: v.get("plays").and_then(Value::as_u64).unwrap_or(0),
            end_epoch: v.get("end_epoch").and_then(Value::as_i64).unwrap_or(0),
            ready_s: v.get("ready_s").and_then(Value::as_f64).unwrap_or(0.0),
        };
        if fake.info.url.is_empty() {
            return Err(fake_error("serve-fake did not say where it listens"));
        }
        Ok(fake)
    }

    fn read_answer(&mut self) -> Result<Value> {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .map_err(|e| HostError::io("cannot read from serve-fake", e))?;
        if n == 0 {
            return Err(fake_error("serve-fake exited early (see its error above)"));
        }
        serde_json::from_str(&line).map_err(|e| fake_error(&format!("serve-fake said {e}")))
    }

    fn ask(&mut self, cmd: &str) -> Result<Value> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| fake_error("serve-fake is closed"))?;
        writeln!(stdin, "{cmd}")
            .and_then(|_| stdin.flush())
            .map_err(|e| HostError::io("cannot talk to serve-fake", e))?;
        self.read_answer()
    }

    /// What the fake saw since the last call.
    fn take_requests(&mut self) -> Result<FakeStats> {
        let v = self.ask("stats")?;
        let requests = v
            .get("requests")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        let modelled = v.get("modelled_s").and_then(Value::as_object);
        Ok(FakeStats {
            requests,
            metadata_distinct: v
                .get("metadata_distinct")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            history_unfiltered: v
                .get("history_unfiltered")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            cpu_ms: v.get("cpu_ms").and_then(Value::as_u64),
            // A fold from +0.0: an empty float sum is -0.0, printed "-0.0".
            modelled_s: modelled
                .map(|m| m.values().filter_map(Value::as_f64).fold(0.0, |a, b| a + b)),
            modelled_by_cmd: modelled
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// One `stats` answer of `serve-fake`.
struct FakeStats {
    /// Requests per command since the last `stats`.
    requests: BTreeMap<String, u64>,
    /// Distinct `get_metadata` rating keys among them.
    metadata_distinct: u64,
    /// `get_history` requests among them without a day filter.
    history_unfiltered: u64,
    /// The fake's CPU time so far.
    cpu_ms: Option<u64>,
    /// Modelled Tautulli seconds of those requests; `None` without the cost model.
    modelled_s: Option<f64>,
    /// The same per command (empty without the cost model).
    modelled_by_cmd: BTreeMap<String, f64>,
}

impl Drop for FakeProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

fn fake_error(reason: &str) -> HostError {
    HostError::io(
        "the bench's fake Tautulli failed",
        std::io::Error::other(reason.to_owned()),
    )
}

// ---------------------------------------------------------------------------------------------
// bench

/// What to keep of a child's stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capture {
    Discard,
    /// Streamed line by line, only the last kept (the index's items can be hundreds of MB).
    LastLine,
    All,
}

struct ChildRun {
    wall_s: f64,
    success: bool,
    /// Killed at the time limit.
    timed_out: bool,
    stdout: String,
    stderr: String,
}

/// Where the bench works and what every child is given.
struct Bench<'a> {
    exe: PathBuf,
    plugin: Option<PathBuf>,
    dir: PathBuf,
    args: &'a BenchArgs,
    fake: FakeProcess,
    /// How long a measured run may take before it is killed (`None`: no limit).
    time_limit: Option<Duration>,
}

impl Bench<'_> {
    /// Writes a config with `history` overrides; the Tracker, the analytics store and the
    /// plugin's state (`state`: its metadata cache) live in the bench folder.
    fn config(&self, name: &str, history: Value, state: &str) -> Result<PathBuf> {
        self.config_in(name, history, state, "tracker")
    }

    /// [`Self::config`] with its own Tracker folder `tracker` (which holds the incremental
    /// checkpoint).
    fn config_in(&self, name: &str, history: Value, state: &str, tracker: &str) -> Result<PathBuf> {
        let mut hist = json!({"per_page": self.args.per_page});
        if let (Value::Object(h), Value::Object(extra)) = (&mut hist, history) {
            h.extend(extra);
        }
        let mut tautulli = json!({
            "server_url": self.fake.info.url,
            "api_key": self.fake.info.api_key,
            "history": hist,
            // The metadata cache (plugins without it ignore the key).
            "state_dir": self.dir.join(state).display().to_string(),
        });
        if let Some(c) = self.args.concurrency {
            tautulli["concurrency"] = json!(c);
        }
        let cfg = json!({
            "tautulli": tautulli,
            "crosswatch": {"root_dir": self.dir.join(tracker).display().to_string()},
            "analytics": {"data_dir": self.dir.join("analytics").display().to_string()},
            "pairs": [{"source": "TAUTULLI", "target": "CROSSWATCH", "feature": "history"}],
        });
        let path = self.dir.join(format!("config-{name}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap_or_default())
            .map_err(|e| HostError::io(format!("cannot write {}", path.display()), e))?;
        Ok(path)
    }

    /// Runs `host-sim --no-progress --report-rss --config CFG <args>` and times it; with a
    /// `timeout`, the child is killed once it has run that long.
    fn run(
        &self,
        config: &Path,
        args: &[&str],
        capture: Capture,
        timeout: Option<Duration>,
    ) -> Result<ChildRun> {
        let home = self.dir.join("home");
        let mut cmd = Command::new(&self.exe);
        if let Some(p) = &self.plugin {
            cmd.arg("--plugin").arg(p);
        }
        cmd.args(["--no-progress", "--report-rss", "--config"])
            .arg(config)
            .args(args)
            // Any default cache location lands in the bench folder: a cold run is cold.
            .env("HOME", &home)
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .stdin(Stdio::null())
            .stdout(if capture == Capture::Discard {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stderr(Stdio::piped());
        let start = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| HostError::io(format!("cannot run {}", self.exe.display()), e))?;
        let mut err_pipe = child.stderr.take();
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(p) = err_pipe.as_mut() {
                let _ = p.read_to_string(&mut s);
            }
            s
        });
        let out_pipe = child.stdout.take();
        let child = Arc::new(Mutex::new(child));
        // Kills the child at the deadline unless told (by `done` closing) that it has ended.
        let (done, done_rx) = std::sync::mpsc::channel::<()>();
        let watchdog = timeout.map(|limit| {
            let child = Arc::clone(&child);
            std::thread::spawn(move || {
                let fired = done_rx.recv_timeout(limit) == Err(RecvTimeoutError::Timeout);
                if fired {
                    // `Child::kill` never signals a child already waited for.
                    let _ = lock(&child).kill();
                }
                fired
            })
        });
        let mut stdout = String::new();
        if let Some(out) = out_pipe {
            let mut reader = BufReader::with_capacity(1 << 20, out);
            if capture == Capture::All {
                reader
                    .read_to_string(&mut stdout)
                    .map_err(|e| HostError::io("cannot read a child's stdout", e))?;
            } else {
                let mut line = Vec::new();
                loop {
                    line.clear();
                    let n = reader
                        .read_until(b'\n', &mut line)
                        .map_err(|e| HostError::io("cannot read a child's stdout", e))?;
                    if n == 0 {
                        break;
                    }
                    if line.starts_with(b"},\"report\":") {
                        stdout = String::from_utf8_lossy(&line).into_owned();
                    }
                }
            }
        }
        let status = loop {
            let mut c = lock(&child);
            if watchdog.is_none() {
                break c.wait();
            }
            // The watchdog needs the lock to kill: poll instead of blocking in `wait`.
            match c.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) => {}
                Err(e) => break Err(e),
            }
            drop(c);
            std::thread::sleep(Duration::from_millis(1));
        }
        .map_err(|e| HostError::io("cannot wait for a child", e))?;
        let wall_s = start.elapsed().as_secs_f64();
        drop(done);
        let fired = watchdog.is_some_and(|w| w.join().unwrap_or(false));
        let stderr = err_reader.join().unwrap_or_default();
        Ok(ChildRun {
            wall_s,
            success: status.success(),
            timed_out: fired && !status.success(),
            stdout,
            stderr,
        })
    }

    /// Runs one timed command and fills a result row from it and the fake's counts.
    fn measure(
        &mut self,
        label: &str,
        config: &Path,
        args: &[&str],
        capture: Capture,
        analytics: bool,
    ) -> Result<(PhaseResult, Value)> {
        // Requests made before this phase (e.g. by a failed earlier one) are not its own.
        let cpu_before = self.fake.take_requests()?.cpu_ms;
        let run = self.run(config, args, capture, self.time_limit)?;
        let mut r = PhaseResult::new(label);
        r.wall_s = run.wall_s;
        r.peak_rss_kb = parse_peak_rss(&run.stderr);
        r.host_cpu_s = parse_stderr_value(&run.stderr, "cpu_ms=").map(|ms| ms as f64 / 1000.0);
        let after = self.fake.take_requests()?;
        r.requests = after.requests;
        r.metadata_distinct = Some(after.metadata_distinct);
        r.tautulli_modelled_s = after.modelled_s;
        r.tautulli_modelled_by_command = after.modelled_by_cmd;
        r.history_unfiltered = Some(after.history_unfiltered);
        if let (Some(a), Some(b)) = (cpu_before, after.cpu_ms) {
            r.fake_cpu_s = Some(b.saturating_sub(a) as f64 / 1000.0);
        }
        r.metadata_calls = r.requests.get("get_metadata").copied().or(Some(0));
        if run.timed_out {
            r.outcome = Outcome::TimedOut(format!("stopped after {:.0} s", run.wall_s));
            return Ok((r, Value::Null));
        }
        if !run.success {
            let why = first_error(&run.stderr);
            r.outcome = if analytics && looks_unavailable(&run.stderr) {
                Outcome::NotAvailable(why)
            } else {
                Outcome::Failed(why)
            };
            return Ok((r, Value::Null));
        }
        let out: Value = match capture {
            Capture::LastLine => parse_index_report_line(&run.stdout).unwrap_or(Value::Null),
            Capture::All => serde_json::from_str(&run.stdout).unwrap_or(Value::Null),
            Capture::Discard => Value::Null,
        };
        Ok((r, out))
    }

    fn index(&mut self, label: &str, config: &Path) -> Result<PhaseResult> {
        let (mut r, report) = self.measure(
            label,
            config,
            &["--json", "index", "--report"],
            Capture::LastLine,
            false,
        )?;
        fill_from_report(&mut r, &report);
        Ok(r)
    }

    fn sync(&mut self, label: &str, config: &Path) -> Result<PhaseResult> {
        let (mut r, out) = self.measure(label, config, &["--json", "sync"], Capture::All, false)?;
        if let Some(pair) = out.get("pairs").and_then(|p| p.get(0)) {
            fill_from_report(&mut r, pair.get("report").unwrap_or(&Value::Null));
            let n = |k: &str| pair.get(k).and_then(Value::as_u64).unwrap_or(0);
            r.note = format!(
                "{} added, {} updated, {} unchanged, {} in Tracker",
                n("added"),
                n("updated"),
                n("unchanged"),
                n("total_after")
            );
        }
        Ok(r)
    }

    fn analytics_sync(&mut self, label: &str, config: &Path) -> Result<PhaseResult> {
        let (mut r, out) = self.measure(
            label,
            config,
            &["--json", "analytics", "sync"],
            Capture::All,
            true,
        )?;
        if r.outcome == Outcome::Ok {
            let n = |k: &str| out.get(k).and_then(Value::as_u64);
            r.rows = n("rows_seen");
            r.note = format!(
                "{} new, {} updated, {} stored",
                n("inserted").unwrap_or(0),
                n("updated").unwrap_or(0),
                n("total_sessions").unwrap_or(0)
            );
        }
        Ok(r)
    }

    fn charts(&mut self, config: &Path) -> Result<Vec<PhaseResult>> {
        let days = self.args.chart_days.to_string();
        let now = self.fake.info.end_epoch.to_string();
        let mut rows = Vec::new();
        for kind in CHART_KINDS {
            let args = [
                "--json",
                "analytics",
                "chart",
                kind,
                "--days",
                &days,
                "--now",
                &now,
            ];
            let (mut r, _) = self.measure(
                &format!("chart {kind}"),
                config,
                &args,
                Capture::Discard,
                true,
            )?;
            r.note = format!("--days {days}");
            rows.push(r);
        }
        Ok(rows)
    }

    /// [`Self::config`] with the phases' `--read` and `--window-rows` under `history`.
    fn phase_config(&self, name: &str, history: Value, state: &str) -> Result<PathBuf> {
        self.phase_config_in(name, history, state, "tracker")
    }

    /// [`Self::phase_config`] with its own Tracker folder.
    fn phase_config_in(
        &self,
        name: &str,
        history: Value,
        state: &str,
        tracker: &str,
    ) -> Result<PathBuf> {
        let mut h = json!({});
        if let Some(read) = &self.args.read {
            h["read"] = json!(read);
        }
        if let Some(n) = self.args.window_rows {
            h["window_rows"] = json!(n);
        }
        if let (Value::Object(h), Value::Object(extra)) = (&mut h, history) {
            h.extend(extra);
        }
        self.config_in(name, h, state, tracker)
    }

    /// The full `index` once per reader, each with a state of its own (so each has the cold
    /// metadata cache of a first run), on the history the phases start from. A run past
    /// `--reader-timeout` is stopped; a paged reader's cost is also computed from the rows
    /// read, to check the fake's figure and to stand in for a stopped run.
    fn readers(&mut self, specs: &[ReaderSpec]) -> Result<Vec<ReaderResult>> {
        let table = self.table();
        let mut runs = Vec::new();
        self.time_limit =
            (self.args.reader_timeout > 0).then(|| Duration::from_secs(self.args.reader_timeout));
        for (i, spec) in specs.iter().enumerate() {
            let label = spec.label();
            eprintln!("bench: reader {label} ...");
            let cfg = self.config(
                &format!("reader-{i}"),
                spec.history(table),
                &format!("plugin-state-reader-{i}"),
            )?;
            let run = self.index(&format!("index [{label}]"), &cfg);
            let run = run.inspect_err(|_| self.time_limit = None)?;
            eprintln!("{}", render_line(&run));
            runs.push(run);
        }
        self.time_limit = None;
        let rows = history_rows(&runs);
        let model = CostModel::tautulli_2_17();
        Ok(specs
            .iter()
            .zip(runs)
            .map(|(spec, run)| {
                let computed = match (spec, rows) {
                    (ReaderSpec::Paged { per_page }, Some(rows)) => {
                        Some(paged_cost(&model, table, rows as usize, *per_page as usize))
                    }
                    _ => None,
                };
                ReaderResult::new(*spec, run, computed)
            })
            .collect())
    }

    /// Sessions in the fake's table now: what each history request of a real Tautulli scans.
    fn table(&self) -> usize {
        usize::try_from(self.fake.info.plays).unwrap_or(usize::MAX)
    }

    fn phase(&mut self, phase: Phase) -> Result<Vec<PhaseResult>> {
        Ok(match phase {
            Phase::Index | Phase::IndexWarm => {
                let cfg = self.phase_config("collapsed", json!({}), "plugin-state")?;
                vec![self.index(phase.name(), &cfg)?]
            }
            Phase::IndexRewatch => {
                let cfg =
                    self.phase_config("rewatch", json!({"rewatches": true}), "plugin-state")?;
                vec![self.index(phase.name(), &cfg)?]
            }
            Phase::Sync | Phase::SyncAgain => {
                let cfg = self.phase_config("collapsed", json!({}), "plugin-state")?;
                vec![self.sync(phase.name(), &cfg)?]
            }
            Phase::AnalyticsSync | Phase::AnalyticsResync => {
                let cfg = self.phase_config("collapsed", json!({}), "plugin-state")?;
                vec![self.analytics_sync(phase.name(), &cfg)?]
            }
            Phase::Charts => {
                let cfg = self.phase_config("collapsed", json!({}), "plugin-state")?;
                let mut rows = self.charts(&cfg)?;
                rows.push(total_row("charts total", &rows));
                rows
            }
            Phase::Incremental => {
                // Its own state and Tracker: the first sync is a full read whose checkpoint
                // the Tracker stores with the import; the second starts from it.
                let cfg = self.phase_config_in(
                    "incremental",
                    json!({"mode": "incremental"}),
                    "plugin-state-incremental",
                    "tracker-incremental",
                )?;
                let first = self.sync("incremental (first run)", &cfg)?;
                let added = self.fake.ask("release")?;
                let n = added.get("added").and_then(Value::as_u64).unwrap_or(0);
                let mut again = self.sync(&format!("incremental (+{n} new)"), &cfg)?;
                if again.note.is_empty() {
                    again.note = format!("{n} plays added since the first run");
                } else {
                    again.note += &format!("; {n} plays added since the first run");
                }
                vec![first, again]
            }
        })
    }
}

/// The rows of a full read of the history (the reads' `records_filtered`; complete reads
/// agree, the largest is taken should one have been cut short).
fn history_rows<'a>(runs: impl IntoIterator<Item = &'a PhaseResult>) -> Option<u64> {
    runs.into_iter()
        .filter(|r| r.outcome == Outcome::Ok)
        .filter_map(|r| r.records)
        .max()
}

/// A child shared with the watchdog that may kill it.
fn lock(child: &Mutex<Child>) -> std::sync::MutexGuard<'_, Child> {
    child.lock().unwrap_or_else(|e| e.into_inner())
}

/// Rows, metadata calls and a short note from a plugin index report.
fn fill_from_report(r: &mut PhaseResult, report: &Value) {
    let n = |k: &str| report.get(k).and_then(Value::as_u64);
    if let Some(rows) = n("rows_seen") {
        r.rows = Some(rows);
    }
    if let Some(m) = n("metadata_calls") {
        r.metadata_calls = Some(m);
    }
    r.records = n("records_filtered").or(r.records);
    if let Some(reader) = report.get("reader") {
        r.reader = reader
            .get("mode")
            .and_then(Value::as_str)
            .map(str::to_owned);
        r.windows = reader.get("windows").and_then(Value::as_u64);
    }
    if let (Some(items), Some(pages)) = (n("items"), n("pages")) {
        let mode = report.get("mode").and_then(Value::as_str).unwrap_or("?");
        let complete = report
            .get("complete")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        r.note = format!(
            "{items} items, {pages} pages, {mode}{}",
            if complete { "" } else { ", INCOMPLETE" }
        );
    }
}

/// A sum row (wall time, requests) over `rows`; its RSS is the largest.
fn total_row(label: &str, rows: &[PhaseResult]) -> PhaseResult {
    let mut t = PhaseResult::new(label);
    for r in rows {
        t.wall_s += r.wall_s;
        t.peak_rss_kb = t.peak_rss_kb.max(r.peak_rss_kb);
        t.rows = add_opt(t.rows, r.rows);
        t.host_cpu_s = add_opt(t.host_cpu_s, r.host_cpu_s);
        t.fake_cpu_s = add_opt(t.fake_cpu_s, r.fake_cpu_s);
        t.tautulli_modelled_s = add_opt(t.tautulli_modelled_s, r.tautulli_modelled_s);
        for (k, v) in &r.tautulli_modelled_by_command {
            *t.tautulli_modelled_by_command.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &r.requests {
            *t.requests.entry(k.clone()).or_default() += v;
        }
        t.history_unfiltered = add_opt(t.history_unfiltered, r.history_unfiltered);
        if r.outcome != Outcome::Ok && t.outcome == Outcome::Ok {
            t.outcome = r.outcome.clone();
        }
    }
    t.metadata_calls = t.requests.get("get_metadata").copied().or(Some(0));
    t
}

fn add_opt<T: std::ops::Add<Output = T>>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// The `error: ...` line of a failed child (else its last line), key-free by construction:
/// host-sim never prints the API key.
fn first_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("peak_rss_kb=") && !l.starts_with("cpu_ms="))
        .collect();
    lines
        .iter()
        .find(|l| l.starts_with("error:"))
        .or(lines.last())
        .map(|l| l.trim().to_owned())
        .unwrap_or_else(|| "exited with an error".into())
}

/// A failure that means "not built yet" rather than "broken".
fn looks_unavailable(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    [
        "unrecognized subcommand",
        "unsupported",
        "not implemented",
        "not available",
        "no analytics",
    ]
    .iter()
    .any(|w| s.contains(w))
}

/// Runs the bench and prints the table (JSON with `json`).
pub fn run(args: &BenchArgs, plugin: Option<&Path>, json_out: bool) -> Result<i32> {
    let phases = args.phase_list().map_err(HostError::Config)?;
    let readers = args.reader_list().map_err(HostError::Config)?;
    if phases.is_empty() && readers.is_empty() {
        return Err(HostError::Config(
            "nothing to run: give --phases or --readers".into(),
        ));
    }
    let machine = Machine::detect();
    let this =
        std::env::current_exe().map_err(|e| HostError::io("cannot locate host-sim-bench", e))?;
    // The product binary is built beside this one (same package, same target folder).
    let exe = this.with_file_name(format!("host-sim{}", std::env::consts::EXE_SUFFIX));
    let plugin = plugin.map(Path::to_path_buf);
    let plugin_file = match &plugin {
        Some(p) => p.clone(),
        None => host_sim::default_plugin_path()?,
    };
    if !plugin_file.is_file() {
        return Err(HostError::PluginLoad {
            path: plugin_file,
            reason: "no such file".into(),
        });
    }
    let tmp = tempfile::Builder::new()
        .prefix("host-sim-bench-")
        .tempdir()
        .map_err(|e| HostError::io("cannot create a temporary directory", e))?;
    let hold_back = if phases.contains(&Phase::Incremental) {
        args.new_plays
    } else {
        0
    };
    eprintln!(
        "bench: generating {} plays (+{hold_back} held back) in a serve-fake process...",
        args.scenario.plays
    );
    let fake = FakeProcess::start(&this, &args.scenario, hold_back, &args.cost_args())?;
    let mut generate_row = PhaseResult::new("generate + serve (fake)");
    generate_row.wall_s = fake.info.ready_s;
    generate_row.note = format!(
        "{} sessions served; separate process, not part of any figure below",
        fake.info.plays
    );
    let mut bench = Bench {
        exe,
        plugin,
        dir: tmp.path().to_path_buf(),
        args,
        fake,
        time_limit: None,
    };
    let mut results = vec![generate_row];
    // Before the phases: `incremental` releases the held-back plays.
    let reader_results = bench.readers(&readers)?;
    let table = bench.table();
    for phase in phases {
        eprintln!("bench: {} ...", phase.name());
        for r in bench.phase(phase)? {
            eprintln!("{}", render_line(&r));
            results.push(r);
        }
    }
    let fake_rss = bench
        .fake
        .ask("stats")?
        .get("peak_rss_kb")
        .and_then(Value::as_u64);
    results[0].peak_rss_kb = fake_rss;
    drop(bench);
    let summary = Summary::new(
        &CostModel::tautulli_2_17(),
        table,
        &reader_results,
        &results[1..],
    );
    let out = BenchResults {
        machine,
        command: reproduce_command(args),
        scenario: scenario_json(&args.scenario),
        per_page: args.per_page,
        phases: results,
        readers: reader_results,
        summary,
    };
    if json_out {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print!("{}", render_table(&out.phases));
        if !out.readers.is_empty() {
            print!(
                "\nReaders (full index, same history):\n{}",
                readers::render_table(&out.readers)
            );
        }
        print!("\n{}", out.summary.render());
    }
    if let Some(path) = &args.out {
        let text = if path.extension().is_some_and(|e| e == "md") {
            render_markdown(&out)
        } else {
            serde_json::to_string_pretty(&out).unwrap_or_default() + "\n"
        };
        std::fs::write(path, text)
            .map_err(|e| HostError::io(format!("cannot write {}", path.display()), e))?;
    }
    if args.keep {
        eprintln!("bench: kept {}", tmp.keep().display());
    }
    Ok(exit_status(&out.phases, &out.readers))
}

/// 1 when a phase or a reader run failed (the table still shows every row), else 0: a
/// script or CI running the bench must not take a failed phase for a result.
fn exit_status(phases: &[PhaseResult], readers: &[ReaderResult]) -> i32 {
    let failed = |o: &Outcome| matches!(o, Outcome::Failed(_));
    let phases = phases.iter().filter(|r| failed(&r.outcome)).count();
    let readers = readers.iter().filter(|r| failed(&r.run.outcome)).count();
    if phases + readers == 0 {
        return 0;
    }
    eprintln!("bench: {phases} phase(s) and {readers} reader run(s) failed (see the table)");
    1
}

fn scenario_json(s: &ScenarioArgs) -> Value {
    let spec = s.spec(0);
    json!({
        "plays": spec.plays, "movies": spec.movies, "shows": spec.shows,
        "episodes_per_show": spec.episodes_per_show, "users": spec.users, "seed": spec.seed,
        "legacy_share": spec.legacy_share, "partial_share": spec.partial_share,
        "grouped_share": spec.grouped_share, "live_share": spec.live_share,
        "metadata_latency_ms": s.metadata_latency_ms,
    })
}

fn reproduce_command(a: &BenchArgs) -> String {
    let mut v = vec!["target/release/host-sim-bench".to_string()];
    v.extend(a.scenario.to_args());
    v.extend(["--per-page".into(), a.per_page.to_string()]);
    if let Some(r) = &a.readers {
        v.extend(["--readers".into(), r.clone()]);
        if a.reader_timeout != 600 {
            v.extend(["--reader-timeout".into(), a.reader_timeout.to_string()]);
        }
    }
    let phases = a.phases.clone().unwrap_or_else(|| {
        if a.readers.is_some() {
            "none"
        } else {
            DEFAULT_PHASES
        }
        .into()
    });
    v.extend(["--phases".into(), phases]);
    if let Some(read) = &a.read {
        v.extend(["--read".into(), read.clone()]);
    }
    if let Some(n) = a.window_rows {
        v.extend(["--window-rows".into(), n.to_string()]);
    }
    if let Some(c) = a.concurrency {
        v.extend(["--concurrency".into(), c.to_string()]);
    }
    if a.new_plays != 1000 {
        v.extend(["--new-plays".into(), a.new_plays.to_string()]);
    }
    if a.chart_days != 365 {
        v.extend(["--chart-days".into(), a.chart_days.to_string()]);
    }
    if a.no_cost_model {
        v.push("--no-cost-model".into());
    }
    if a.sleep_cost {
        v.push("--sleep-cost".into());
    }
    v.join(" ")
}

// ---------------------------------------------------------------------------------------------
// rendering

/// `cmd count` per command, with its modelled Tautulli seconds when known: which requests
/// a phase's Tautulli time went to.
fn fmt_requests(r: &BTreeMap<String, u64>, modelled: &BTreeMap<String, f64>) -> String {
    if r.is_empty() {
        return "-".into();
    }
    r.iter()
        .map(|(k, v)| match modelled.get(k) {
            Some(s) => format!("{k} {v} ({s:.1} s)"),
            None => format!("{k} {v}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The reader column: its mode, and its windows when it read any.
fn fmt_reader(r: &PhaseResult) -> String {
    match (&r.reader, r.windows) {
        (Some(m), Some(w)) if w > 0 => format!("{m}, {w} windows"),
        (Some(m), _) => m.clone(),
        (None, _) => "-".into(),
    }
}

fn fmt_opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |x| x.to_string())
}

/// The cells of one row, in [`HEADERS`] order.
fn cells(r: &PhaseResult) -> [String; HEADERS.len()] {
    let note = match &r.outcome {
        Outcome::Ok => r.note.clone(),
        Outcome::NotAvailable(why) => format!("not available: {why}"),
        Outcome::Failed(why) => format!("FAILED: {why}"),
        Outcome::TimedOut(why) => format!("SKIPPED: {why}"),
    };
    [
        r.phase.clone(),
        format!("{:.2}", r.wall_s),
        fmt_opt(r.rows),
        fmt_opt(r.rows_per_s().map(|x| format!("{x:.0}"))),
        fmt_opt(r.peak_rss_kb.map(|kb| format!("{:.1}", kb as f64 / 1024.0))),
        fmt_opt(r.host_cpu_s.map(|s| format!("{s:.2}"))),
        fmt_opt(r.fake_cpu_s.map(|s| format!("{s:.2}"))),
        fmt_opt(r.tautulli_modelled_s.map(|s| format!("{s:.1}"))),
        fmt_requests(&r.requests, &r.tautulli_modelled_by_command),
        fmt_opt(
            r.history_unfiltered
                .filter(|_| r.requests.contains_key("get_history")),
        ),
        fmt_reader(r),
        match (r.metadata_calls, r.metadata_distinct) {
            (Some(n), Some(d)) if n > 0 => format!("{n} ({d} keys)"),
            (n, _) => fmt_opt(n),
        },
        note,
    ]
}

const HEADERS: [&str; 13] = [
    "phase",
    "wall s",
    "rows",
    "rows/s",
    "peak RSS MB",
    "host CPU s",
    "fake CPU s",
    // What a real Tautulli 2.17.2 would have spent on the requests (the fake's cost model).
    "Tautulli s",
    "HTTP requests by command (Tautulli s)",
    // get_history requests without a day filter: each costs Tautulli the whole history.
    "unfiltered",
    "reader",
    "metadata calls",
    "note",
];

/// Columns holding numbers (right-aligned).
fn is_numeric(col: usize) -> bool {
    matches!(col, 1..=7 | 9 | 11)
}

/// Index of the free-text note column (last, never padded).
const NOTE: usize = HEADERS.len() - 1;

fn render_line(r: &PhaseResult) -> String {
    let c = cells(r);
    format!(
        "  {}: {} s, {} rows, {} rows/s, {} MB, CPU host {} s / fake {} s, Tautulli {} s, [{}], \
         unfiltered {}, reader {}, metadata {}{}",
        c[0],
        c[1],
        c[2],
        c[3],
        c[4],
        c[5],
        c[6],
        c[7],
        c[8],
        c[9],
        c[10],
        c[11],
        if c[NOTE].is_empty() {
            String::new()
        } else {
            format!(" ({})", c[NOTE])
        }
    )
}

/// A plain-text table, columns padded to their widest cell.
pub fn render_table(rows: &[PhaseResult]) -> String {
    let body: Vec<_> = rows.iter().map(cells).collect();
    shape().text(&body)
}

/// The results table as Markdown.
pub fn render_markdown_table(rows: &[PhaseResult]) -> String {
    let body: Vec<_> = rows.iter().map(cells).collect();
    shape().markdown(&body)
}

/// The table's columns.
fn shape() -> Shape<'static> {
    Shape {
        headers: &HEADERS,
        numeric: is_numeric,
        free: NOTE,
    }
}

/// The results as Markdown: machine, command, table.
pub fn render_markdown(r: &BenchResults) -> String {
    let m = &r.machine;
    let mut out = format!(
        "Machine: {} CPU(s), {}, {} MB RAM, Linux {}, load average at start {}\n\nCommand: `{}`\n\n{}",
        m.cpus,
        m.cpu_model,
        m.mem_total_mb,
        m.kernel,
        m.load_avg,
        r.command,
        render_markdown_table(&r.phases)
    );
    if !r.readers.is_empty() {
        out += &format!(
            "\nReaders (full index, same history):\n\n{}",
            readers::render_markdown_table(&r.readers)
        );
    }
    let summary = r.summary.render();
    if !summary.is_empty() {
        out += "\n";
        for line in summary.lines() {
            out += &format!("- {line}\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::readers::least_cost;
    use super::*;

    fn row(phase: &str, wall: f64, rows: Option<u64>, rss: Option<u64>) -> PhaseResult {
        let mut r = PhaseResult::new(phase);
        r.wall_s = wall;
        r.rows = rows;
        r.peak_rss_kb = rss;
        r
    }

    #[test]
    fn peak_rss_and_cpu_time_are_read_from_the_last_lines_of_stderr() {
        let stderr = "  read 10 row(s)\npeak_rss_kb=4096\n";
        assert_eq!(parse_peak_rss(stderr), Some(4096));
        assert_eq!(parse_peak_rss("error: boom\n"), None);
        assert_eq!(parse_peak_rss("peak_rss_kb=12\npeak_rss_kb=34\n"), Some(34));
        assert_eq!(parse_peak_rss("peak_rss_kb=lots\n"), None);
        assert_eq!(
            parse_stderr_value("cpu_ms=120\npeak_rss_kb=9\n", "cpu_ms="),
            Some(120)
        );
    }

    #[test]
    fn the_index_report_is_found_in_the_last_line() {
        let line = r#"},"report":{"rows_seen":7,"metadata_calls":2,"requests":{"get_history":3}}}"#;
        let v = parse_index_report_line(line).unwrap();
        assert_eq!(v["rows_seen"], 7);
        assert_eq!(v["requests"]["get_history"], 3);
        assert_eq!(parse_index_report_line("  \"plex:1\": {}"), None);
        let mut r = PhaseResult::new("index");
        fill_from_report(
            &mut r,
            &json!({"rows_seen": 7, "metadata_calls": 2, "items": 5, "pages": 1,
                    "mode": "collapsed", "complete": false}),
        );
        assert_eq!((r.rows, r.metadata_calls), (Some(7), Some(2)));
        assert_eq!(r.note, "5 items, 1 pages, collapsed, INCOMPLETE");
    }

    #[test]
    fn phases_parse_with_the_analytics_alias_and_reject_unknown_names() {
        assert_eq!(
            Phase::parse_list("index, analytics").unwrap(),
            vec![Phase::Index, Phase::AnalyticsSync, Phase::Charts]
        );
        let all = Phase::parse_list(DEFAULT_PHASES).unwrap();
        assert_eq!(all.first(), Some(&Phase::Index));
        assert!(all.contains(&Phase::Incremental));
        assert!(Phase::parse_list("index,speed")
            .unwrap_err()
            .contains("speed"));
        assert!(Phase::parse_list(" , ").is_err());
    }

    #[test]
    fn table_aligns_columns_and_shows_rates_and_failures() {
        let mut a = row("index", 4.0, Some(1_000_000), Some(200 * 1024));
        a.requests.insert("get_history".into(), 1000);
        a.metadata_calls = Some(0);
        let mut b = row("chart concurrency", 0.5, None, Some(2048));
        b.outcome = Outcome::NotAvailable("error: unrecognized subcommand 'analytics'".into());
        let c = row("sync", 0.0, Some(3), None);
        let text = render_table(&[a, b, c]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("phase "), "{text}");
        assert!(lines[1].contains("250000"), "rows/s = rows / wall: {text}");
        assert!(lines[1].contains("200.0"), "RSS in MB: {text}");
        assert!(lines[1].contains("get_history 1000"), "{text}");
        assert!(
            lines[2].contains("not available: error: unrecognized"),
            "{text}"
        );
        // No rate without a wall time; columns line up.
        assert!(!lines[3].contains("inf"), "{text}");
        let col = lines[0].find("wall s").unwrap() + "wall s".len();
        for l in &lines[1..] {
            assert!(l[..col].ends_with(|c: char| c.is_ascii_digit()), "{text}");
        }
        assert!(text.lines().all(|l| l == l.trim_end()));
    }

    #[test]
    fn a_failed_phase_fails_the_bench_and_a_missing_one_does_not() {
        let ok = row("index", 4.0, Some(10), None);
        let mut missing = row("chart concurrency", 0.5, None, None);
        missing.outcome = Outcome::NotAvailable("not built".into());
        assert_eq!(exit_status(&[ok.clone(), missing.clone()], &[]), 0);
        let mut failed = row("sync", 1.0, None, None);
        failed.outcome = Outcome::Failed("error: boom".into());
        assert_eq!(exit_status(&[ok, missing, failed], &[]), 1);
    }

    #[test]
    fn totals_add_time_and_requests_and_markdown_escapes_pipes() {
        let mut a = row("chart a", 1.5, None, Some(10));
        a.requests.insert("get_history".into(), 2);
        let mut b = row("chart b", 2.0, None, Some(30));
        b.requests.insert("get_history".into(), 1);
        b.outcome = Outcome::Failed("x".into());
        let t = total_row("total", &[a, b]);
        assert_eq!(t.wall_s, 3.5);
        assert_eq!(t.peak_rss_kb, Some(30));
        assert_eq!(t.requests["get_history"], 3);
        assert_eq!(t.outcome, Outcome::Failed("x".into()));
        let mut p = row("index", 1.0, Some(10), None);
        p.note = "a|b".into();
        let md = render_markdown(&BenchResults {
            machine: Machine {
                cpus: 2,
                cpu_model: "Test CPU".into(),
                mem_total_mb: 1024,
                kernel: "6.1".into(),
                load_avg: "0.5 0.4 0.3".into(),
            },
            command: "host-sim-bench".into(),
            scenario: json!({}),
            per_page: 1000,
            phases: vec![p],
            readers: vec![],
            summary: Summary::new(&CostModel::tautulli_2_17(), 0, &[], &[]),
        });
        assert!(md.contains("2 CPU(s), Test CPU, 1024 MB"), "{md}");
        assert!(md.contains("| index | 1.00 | 10 | 10 |"), "{md}");
        assert!(md.contains("a\\|b"), "{md}");
    }

    #[test]
    fn modelled_tautulli_seconds_are_shown_and_totalled() {
        let mut a = row("chart a", 1.0, None, None);
        a.tautulli_modelled_s = Some(1.34);
        let mut b = row("chart b", 1.0, None, None);
        b.tautulli_modelled_s = Some(2.5);
        let c = row("chart c", 1.0, None, None);
        let t = total_row("total", &[a.clone(), b, c.clone()]);
        assert!(t
            .tautulli_modelled_s
            .is_some_and(|x| (x - 3.84).abs() < 1e-9));
        assert_eq!(
            total_row("t", std::slice::from_ref(&c)).tautulli_modelled_s,
            None
        );
        let text = render_table(&[a.clone(), c]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("Tautulli s"), "{text}");
        assert!(lines[1].contains(" 1.3 "), "{text}");
        assert!(
            render_line(&a).contains("Tautulli 1.3 s"),
            "{}",
            render_line(&a)
        );
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["tautulli_modelled_s"], 1.34);
    }

    #[test]
    fn phases_show_modelled_seconds_per_command_and_windows() {
        let mut r = row("index", 2.0, Some(10), None);
        fill_from_report(
            &mut r,
            &json!({"rows_seen": 10, "records_filtered": 10,
                    "reader": {"mode": "windowed", "windows": 48, "history_requests": 49}}),
        );
        assert_eq!(
            (r.reader.as_deref(), r.windows, r.records),
            (Some("windowed"), Some(48), Some(10))
        );
        r.requests.insert("get_history".into(), 49);
        r.requests.insert("get_metadata".into(), 3);
        r.tautulli_modelled_by_command
            .insert("get_history".into(), 310.26);
        r.history_unfiltered = Some(0);
        let text = render_table(std::slice::from_ref(&r));
        assert!(
            text.contains("get_history 49 (310.3 s), get_metadata 3"),
            "{text}"
        );
        assert!(text.contains("windowed, 48 windows"), "{text}");
        let paged = PhaseResult {
            reader: Some("paged".into()),
            windows: Some(0),
            ..r.clone()
        };
        assert_eq!(fmt_reader(&paged), "paged");
        // No unfiltered count where no history was asked for (charts).
        let chart = row("chart a", 1.0, None, None);
        assert_eq!(cells(&chart)[9], "-");
        let t = total_row("t", &[r.clone(), r]);
        assert_eq!(t.history_unfiltered, Some(0));
        assert!((t.tautulli_modelled_by_command["get_history"] - 620.52).abs() < 1e-9);
    }

    /// `bench EXTRA...` parsed as the CLI parses it.
    fn parse_bench(extra: &[&str]) -> std::result::Result<BenchArgs, clap::Error> {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            bench: BenchArgs,
        }
        let mut v = vec!["bench"];
        v.extend_from_slice(extra);
        Cli::try_parse_from(v).map(|c| c.bench)
    }

    #[test]
    fn readers_alone_run_no_phase_unless_asked_and_reproduce_their_command() {
        let args = |extra: &[&str]| parse_bench(extra).unwrap();
        let default = args(&[]);
        assert_eq!(
            default.phase_list().unwrap(),
            Phase::parse_list(DEFAULT_PHASES).unwrap()
        );
        assert!(default.reader_list().unwrap().is_empty());
        assert!(reproduce_command(&default).contains(&format!("--phases {DEFAULT_PHASES}")));

        let compare = args(&["--readers"]);
        assert!(compare.phase_list().unwrap().is_empty());
        assert_eq!(compare.reader_list().unwrap().len(), 4);
        let cmd = reproduce_command(&compare);
        assert!(
            cmd.contains("--readers paged:100,paged:1000,paged:10000,windowed --phases none"),
            "{cmd}"
        );
        assert_eq!(
            args(&["--compare-readers"]).readers,
            compare.readers,
            "an alias"
        );

        let both = args(&[
            "--readers",
            "windowed:5000",
            "--phases",
            "index,incremental",
            "--reader-timeout",
            "60",
            "--read",
            "paged",
        ]);
        assert_eq!(both.phase_list().unwrap().len(), 2);
        let cmd = reproduce_command(&both);
        assert!(
            cmd.contains("--readers windowed:5000 --reader-timeout 60 --phases index,incremental --read paged"),
            "{cmd}"
        );
        assert!(args(&["--phases", "none"]).phase_list().unwrap().is_empty());
    }

    #[test]
    fn the_summary_reads_the_runs_against_the_targets() {
        let model = CostModel::tautulli_2_17();
        let run = |label: &str, reader: &str, history_s: f64, requests: u64| {
            let mut r = row(label, 10.0, Some(900_000), Some(150 * 1024));
            r.records = Some(900_000);
            r.reader = Some(reader.into());
            r.tautulli_modelled_s = Some(history_s + 100.0);
            r.tautulli_modelled_by_command = [
                ("get_history".to_owned(), history_s),
                ("get_metadata".to_owned(), 100.0),
            ]
            .into();
            r.requests = [("get_history".to_owned(), requests)].into();
            r
        };
        let windowed = ReaderResult::new(
            ReaderSpec::Windowed { window_rows: None },
            run("index [windowed]", "windowed", 300.0, 46),
            None,
        );
        let mut stopped = run("index [paged:1000]", "paged", 0.0, 12);
        stopped.outcome = Outcome::TimedOut("stopped after 600 s".into());
        let paged = ReaderResult::new(
            ReaderSpec::Paged { per_page: 1000 },
            stopped,
            Some(paged_cost(&model, 1_000_000, 900_000, 1000)),
        );
        let mut inc = run("incremental (+1000 new)", "windowed", 4.0, 1);
        inc.history_unfiltered = Some(0);
        inc.peak_rss_kb = Some(300 * 1024);
        let s = Summary::new(&model, 1_000_000, &[windowed, paged], &[inc]);
        assert_eq!(s.rows, Some(900_000));
        let least = least_cost(&model, 1_000_000, 900_000, 25_000);
        assert_eq!(s.least, Some(least));
        assert_eq!(s.windowed_s, Some(300.0));
        assert!((s.windowed_vs_least.unwrap() - 300.0 / least.modelled_s).abs() < 1e-9);
        assert!(s.paged_1000_computed);
        assert!(s.paged_1000_vs_windowed.unwrap() > 20.0);
        assert_eq!(s.host_peak_rss_kb, Some(300 * 1024));
        let text = s.render();
        assert!(text.contains("36 requests"), "{text}");
        assert!(text.contains("(computed)"), "{text}");
        assert!(
            text.contains(
                "1 get_history requests (target <= 3: met), unfiltered requests: 0 (target 0: met)"
            ),
            "{text}"
        );
        assert!(
            text.contains("default reader: 300.0 MB (target <= 256 MB: MISSED)\n"),
            "{text}"
        );
        // A paged run is not held to the default reader's target, but shows when larger.
        let mut big = run("index [paged:10000]", "paged", 3.0, 94);
        big.peak_rss_kb = Some(400 * 1024);
        let paged = ReaderResult::new(ReaderSpec::Paged { per_page: 10000 }, big, None);
        let mut index = run("index", "windowed", 4.0, 1);
        index.peak_rss_kb = Some(200 * 1024);
        let s = Summary::new(&model, 1_000_000, std::slice::from_ref(&paged), &[index]);
        assert_eq!(s.host_peak_rss_kb, Some(200 * 1024));
        let text = s.render();
        assert!(
            text.contains(
                "200.0 MB (target <= 256 MB: met); largest of any run: 400.0 MB (index [paged:10000])"
            ),
            "{text}"
        );
        assert_eq!(
            Summary::new(&model, 1, &[paged], &[]).host_peak_rss_kb,
            None
        );
        // Without the cost model there are no seconds, and nothing to compare.
        let bare = Summary::new(&model, 10, &[], &[]);
        assert_eq!((bare.least, bare.windowed_s), (None, None));
        assert!(bare.render().is_empty());
    }

    #[test]
    fn the_cost_model_is_on_by_default_and_sleeps_only_when_asked() {
        let args = parse_bench;
        let default = args(&[]).unwrap();
        assert_eq!(default.cost_args(), ["--cost-model"]);
        assert!(!reproduce_command(&default).contains("cost"));
        let off = args(&["--no-cost-model"]).unwrap();
        assert!(off.cost_args().is_empty());
        assert!(reproduce_command(&off).ends_with("--no-cost-model"));
        let sleep = args(&["--sleep-cost"]).unwrap();
        assert_eq!(sleep.cost_args(), ["--cost-model", "--cost-sleep"]);
        assert!(args(&["--sleep-cost", "--no-cost-model"]).is_err());
    }

    #[test]
    fn scenario_options_round_trip_to_serve_fake_arguments() {
        let s = ScenarioArgs {
            plays: 5,
            seed: Some(9),
            movies: None,
            shows: Some(3),
            episodes_per_show: None,
            users: None,
            legacy_share: Some(1.0),
            partial_share: None,
            grouped_share: None,
            live_share: None,
            metadata_latency_ms: 50,
        };
        let args = s.to_args();
        assert_eq!(
            args,
            [
                "--plays",
                "5",
                "--seed",
                "9",
                "--shows",
                "3",
                "--legacy-share",
                "1",
                "--metadata-latency-ms",
                "50"
            ]
        );
        let spec = s.spec(2);
        assert_eq!((spec.plays, spec.shows, spec.seed), (7, 3, 9));
        assert_eq!(spec.movies, GenSpec::default().movies);
    }
}
