//! `host-sim-bench serve-fake`: the generated fake Tautulli in a process of its own, so its
//! sessions stay out of the memory the bench measures. It talks to the bench over
//! stdin/stdout, one JSON line per answer.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use clap::Args;
use fake_tautulli::{generate, CostModel, FakeServer};
use host_sim::usage::{cpu_ms, peak_rss_kb};
use host_sim::{HostError, Result};
use serde_json::{json, Value};

use crate::ScenarioArgs;

/// `host-sim-bench serve-fake` (hidden): a generated fake Tautulli on 127.0.0.1 for the bench.
#[derive(Debug, Clone, Args)]
pub struct ServeFakeArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Generate this many plays more, newest last, and serve them only after `release`.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub hold_back: usize,
    /// Price every request with the Tautulli 2.17.2 cost model; `stats` reports the
    /// modelled seconds.
    #[arg(long)]
    pub cost_model: bool,
    /// With --cost-model, really sleep each request's modelled cost before answering.
    #[arg(long, requires = "cost_model")]
    pub cost_sleep: bool,
}

/// Runs the fake until stdin closes. Prints one JSON line with `url` and `api_key`, then
/// answers one JSON line per stdin command: `stats` (requests and, with `--cost-model`,
/// modelled Tautulli seconds per command since the last `stats`, and the fake's own peak RSS
/// and CPU time), `release` (serve the held-back plays), `quit`.
pub fn run(args: &ServeFakeArgs) -> Result<i32> {
    let started = Instant::now();
    let spec = args.scenario.spec(args.hold_back);
    let mut scenario = generate(&spec);
    let keep = scenario.sessions.len().saturating_sub(args.hold_back);
    // Sessions are numbered by start time, so the tail is the newest plays.
    let mut held = scenario.sessions.split_off(keep);
    let plays = scenario.sessions.len();
    let generated_s = started.elapsed().as_secs_f64();
    let server = FakeServer::start(scenario)
        .map_err(|e| HostError::io("cannot start the fake Tautulli on 127.0.0.1", e))?;
    // The server's clock at the scenario's end, as the charts' `--now`: per-day counts
    // (`get_plays_by_date`) end at the server's today, so on a machine dated inside the
    // generated span the plays after it would be "future" plays no real Tautulli has, and
    // the results would depend on the date the bench runs.
    server.set_now(spec.end_epoch);
    if args.cost_model {
        server.set_cost_model(Some(CostModel::tautulli_2_17()));
        server.set_cost_sleep(args.cost_sleep);
    }
    if args.scenario.metadata_latency_ms > 0 {
        server.set_latency(
            Some("get_metadata"),
            Duration::from_millis(args.scenario.metadata_latency_ms),
        );
    }
    let mut out = std::io::stdout().lock();
    let mut say = |v: Value| -> Result<()> {
        writeln!(out, "{v}")
            .and_then(|_| out.flush())
            .map_err(|e| HostError::io("cannot write to stdout", e))
    };
    say(json!({
        "url": server.url(),
        "api_key": server.api_key(),
        "plays": plays,
        "held_back": held.len(),
        "start_epoch": spec.start_epoch,
        "end_epoch": spec.end_epoch,
        "generate_s": generated_s,
        "ready_s": started.elapsed().as_secs_f64(),
        "cost_model": args.cost_model,
    }))?;
    // Modelled seconds per command at the last `stats` (the server's totals only grow).
    let mut modelled_before: BTreeMap<String, f64> = BTreeMap::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| HostError::io("cannot read stdin", e))?;
        match line.trim() {
            "stats" => {
                let mut counts: BTreeMap<String, u64> = BTreeMap::new();
                let mut meta_keys = std::collections::HashSet::new();
                let mut unfiltered = 0u64;
                for r in server.requests() {
                    if r.cmd.as_deref() == Some("get_metadata") {
                        meta_keys.insert(r.params.get("rating_key").cloned());
                    }
                    if r.cmd.as_deref() == Some("get_history") && !has_day_filter(&r.params) {
                        unfiltered += 1;
                    }
                    *counts
                        .entry(r.cmd.unwrap_or_else(|| "(none)".into()))
                        .or_default() += 1;
                }
                server.clear_requests();
                let modelled_now = server.modelled_seconds_by_command();
                let modelled: BTreeMap<&String, f64> = modelled_now
                    .iter()
                    .map(|(k, v)| (k, v - modelled_before.get(k).copied().unwrap_or(0.0)))
                    .filter(|(_, v)| *v > 0.0)
                    .collect();
                let modelled = args.cost_model.then(|| json!(modelled));
                say(
                    json!({"requests": counts, "metadata_distinct": meta_keys.len(),
                    "history_unfiltered": unfiltered, "modelled_s": modelled,
                    "peak_rss_kb": peak_rss_kb(), "cpu_ms": cpu_ms()}),
                )?;
                modelled_before = modelled_now;
            }
            "release" => {
                let n = held.len();
                server.add_sessions(std::mem::take(&mut held));
                say(json!({"added": n, "plays": server.session_count()}))?;
            }
            "quit" => break,
            other => say(json!({"error": format!("unknown command {other:?}")}))?,
        }
    }
    Ok(0)
}

/// A `get_history` request narrowed to days (`after`, `before` or `start_date`): without
/// one, a real Tautulli builds the whole history for it, however few rows it returns.
fn has_day_filter(params: &BTreeMap<String, String>) -> bool {
    ["after", "before", "start_date"]
        .iter()
        .any(|k| params.get(*k).is_some_and(|v| !v.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_history_request_narrowed_to_days_counts_as_filtered() {
        let dated = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        assert!(has_day_filter(&dated("after", "2026-03-01")));
        assert!(has_day_filter(&dated("before", "2026-03-01")));
        assert!(has_day_filter(&dated("start_date", "2026-03-01")));
        assert!(!has_day_filter(&dated("after", " ")));
        assert!(!has_day_filter(&dated("start", "1000")));
    }
}
