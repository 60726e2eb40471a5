//! `host-sim demo`: the whole path on a bundled library, with nothing to set up. A fake
//! Tautulli starts on 127.0.0.1 with the demo scenario, and the real plugin imports it into a
//! fresh Tracker: dry run first, then the import, then a re-run that must change nothing.
//! `demo --serve` keeps the demo library served instead, with a ready config beside it, so
//! every command of the README can be tried against it.

use std::path::{Path, PathBuf};

use crosswatch_contract::payload::{ChartRequest, CollectRequest, QueryRequest, SnapshotRow};
use fake_tautulli::{FakeServer, Scenario};
use serde_json::{json, Value};

use crate::clock::{Clock, SystemClock};
use crate::config::EngineConfig;
use crate::error::{HostError, Result};
use crate::sync;
use crate::tracker::Tracker;

/// What the demo takes from the command line.
#[derive(Debug)]
pub struct Options {
    /// The plugin file to load.
    pub plugin: PathBuf,
    /// The plugin instance (`--instance`).
    pub instance: String,
    /// Print JSON instead of the walk-through.
    pub json: bool,
    /// Draw the progress display.
    pub progress: bool,
}

/// `--out DIR` (created), or a new temporary folder that is kept.
fn demo_root(out: Option<&Path>) -> Result<PathBuf> {
    Ok(match out {
        Some(p) => {
            std::fs::create_dir_all(p)
                .map_err(|e| HostError::io(format!("cannot create {}", p.display()), e))?;
            p.to_path_buf()
        }
        None => tempfile::Builder::new()
            .prefix("host-sim-demo-")
            .tempdir()
            .map_err(|e| HostError::io("cannot create a temporary directory", e))?
            .keep(),
    })
}

pub fn run(options: &Options, out: Option<&Path>) -> Result<i32> {
    let root = demo_root(out)?;
    let tracker_dir = root.join("tracker");
    let scenario = Scenario::demo();
    // The demo's "now": one day after its last play, so its analytics read the same
    // whenever the demo is run.
    let now = scenario
        .sessions
        .iter()
        .map(|s| s.stopped)
        .max()
        .unwrap_or(0)
        + 86_400;
    let server = FakeServer::start(scenario)
        .map_err(|e| HostError::io("cannot start the built-in fake Tautulli on 127.0.0.1", e))?;
    let raw = json!({
        "tautulli": {
            "server_url": server.url(),
            "api_key": server.api_key(),
            "history": { "per_page": 100 }
        },
        "crosswatch": { "root_dir": tracker_dir.display().to_string() },
        "pairs": [ { "source": "TAUTULLI", "target": "CROSSWATCH", "feature": "history" } ]
    });
    let cfg = EngineConfig::from_value(raw, &root).map_err(HostError::Config)?;
    let instance = options.instance.as_str();
    let mut source = sync::open_source(&options.plugin, &cfg, instance)?;
    let health = source.health()?;
    let progress = options.progress;

    // The imports run at the real time (their snapshot stamps say when the demo ran).
    let clock = SystemClock;
    let plan = sync::run_pairs(&mut source, &cfg, instance, true, progress, &clock)?;
    let first = sync::run_pairs(&mut source, &cfg, instance, false, progress, &clock)?;
    let again = sync::run_pairs(&mut source, &cfg, instance, false, progress, &clock)?;
    let tracker = Tracker::open_existing_read_only(&tracker_dir)?.ok_or_else(|| {
        HostError::Config(format!(
            "the demo Tracker at {} is missing",
            tracker_dir.display()
        ))
    })?;
    let export_dir = root.join("export");
    let export = tracker.export("history", &export_dir, clock.now_epoch())?;
    let sample: Vec<(String, Value)> = tracker
        .state("history")?
        .into_iter()
        .take(8)
        .map(|(k, v)| (k, serde_json::from_str(&v).unwrap_or(Value::Null)))
        .collect();
    let charts_dir = root.join("charts");
    let analytics = demo_analytics(options, &cfg, now, &charts_dir)?;
    let requests = server.requests();
    let writes = requests
        .iter()
        .filter(|r| {
            r.cmd
                .as_deref()
                .is_some_and(|c| !c.starts_with("get_") && c != "status")
        })
        .count();

    if options.json {
        let v = json!({
            "root": root.display().to_string(),
            "health": health,
            "plan": plan,
            "import": first,
            "rerun": again,
            "export": export,
            "analytics": analytics.json,
            "requests": requests.len(),
            "write_requests": writes,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(0);
    }
    println!(
        "host-sim demo: a fake Tautulli with the bundled demo library is serving on {}",
        server.url()
    );
    println!("health: {} ({} ms)\n", health.status, health.latency_ms);
    println!("1. dry run (the recommended first step):");
    plan.iter()
        .for_each(|r| print!("{}", sync::render_human(r)));
    println!("\n2. import:");
    first
        .iter()
        .for_each(|r| print!("{}", sync::render_human(r)));
    println!("\n3. the same import again (must change nothing):");
    again
        .iter()
        .for_each(|r| print!("{}", sync::render_human(r)));
    println!("\nsome items now in the Tracker:");
    for (k, v) in &sample {
        let s = |f: &str| v.get(f).and_then(Value::as_str).unwrap_or("").to_string();
        let title = match v.get("series_title").and_then(Value::as_str) {
            Some(series) => format!("{series} - {}", s("title")),
            None => s("title"),
        };
        println!("  {k:<30} {}  {title}", s("watched_at"));
    }
    println!(
        "\n4. analytics of the demo library (as of {}):",
        analytics.as_of
    );
    print!("{}", analytics.text);
    println!(
        "\n{} request(s) reached the fake Tautulli, {} of them writes.",
        requests.len(),
        writes
    );
    println!("Tracker:  {}", tracker_dir.display());
    println!(
        "Export:   {} ({} items, {} snapshot file(s)): import it in CrossWatch's Editor",
        export_dir.display(),
        export.item_count,
        export.snapshot_files.len()
    );
    println!(
        "Charts:   {} (SVG, open in a browser)",
        charts_dir.display()
    );
    println!(
        "Next:     ./run --tracker {} tracker snapshots",
        shell_path(&tracker_dir)
    );
    println!(
        "          ./run demo --serve    (keeps the demo library served, with a ready config for \
         every README command)"
    );
    Ok(0)
}

/// `demo --serve`: serves the demo library on 127.0.0.1:`port` (0: any free port) until the
/// process is stopped, and writes a ready config for it (`<out>/config.json`, its Tracker in
/// `<out>/tracker`). The config holds the demo's API key, so it is named, never printed.
pub fn serve(options: &Options, out: Option<&Path>, port: u16) -> Result<i32> {
    let root = demo_root(out)?;
    let server = FakeServer::start_on_port(Scenario::demo(), port).map_err(|e| {
        HostError::io(
            format!("cannot serve the demo library on 127.0.0.1:{port}"),
            e,
        )
    })?;
    let config = json!({
        "tautulli": { "server_url": server.url(), "api_key": server.api_key() },
        "crosswatch": { "root_dir": "tracker" },
        "pairs": [ { "source": "TAUTULLI", "target": "CROSSWATCH", "feature": "history" } ]
    });
    let path = root.join("config.json");
    let text = serde_json::to_string_pretty(&config).unwrap_or_default() + "\n";
    std::fs::write(&path, text)
        .map_err(|e| HostError::io(format!("cannot write {}", path.display()), e))?;
    let shown = shell_path(&path);
    if options.json {
        let v = json!({
            "server_url": server.url(),
            "config": path.display().to_string(),
            "tracker": root.join("tracker").display().to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!(
            "host-sim demo --serve: the bundled demo library is served on {} until Ctrl-C",
            server.url()
        );
        println!(
            "Config:   {shown} (its Tracker: {})",
            shell_path(&root.join("tracker"))
        );
        println!("Try, in another terminal:");
        for cmd in [
            "health",
            "sync --dry-run",
            "sync",
            "index",
            "tracker snapshots",
            "analytics sync",
            "analytics chart plays-by-date",
        ] {
            println!("  ./run --config {shown} {cmd}");
        }
        println!(
            "  ./run --config {shown} tracker export --out {}",
            shell_path(&root.join("export"))
        );
    }
    use std::io::Write;
    std::io::stdout()
        .flush()
        .map_err(|e| HostError::io("cannot write to stdout", e))?;
    loop {
        std::thread::park();
    }
}

fn shell_path(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// What the demo's analytics step produced.
struct DemoAnalytics {
    json: Value,
    text: String,
    as_of: String,
}

/// Syncs the analytics store, records collection snapshots, and draws every chart as SVG.
fn demo_analytics(
    options: &Options,
    cfg: &EngineConfig,
    now: i64,
    charts_dir: &Path,
) -> Result<DemoAnalytics> {
    let mut analytics = crate::analytics::open(&options.plugin, cfg, &options.instance)?;
    let synced = analytics.sync()?;
    let collected = analytics.collect(&CollectRequest {
        now: Some(now),
        rotation: Some("demo".into()),
    })?;
    let top = analytics.query(&QueryRequest::new("top").arg("n", 5).arg("window_days", 0))?;
    let top_rows: Vec<SnapshotRow> = top.rows_as().map_err(|e| HostError::Protocol {
        what: "query answer",
        reason: format!("a row: {e}"),
    })?;
    let mut charts = Vec::new();
    let mut text = format!(
        "  store: {} session(s) synced; {} collection(s) snapshotted\n",
        synced.total_sessions, collected.collections,
    );
    text += "  most watched collections (all time):\n";
    // Counts are never negative; a negative one shows as 0, as it always did.
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    for r in &top_rows {
        text += &format!(
            "    {:<26} {:<14} {:>4} plays  {:>9}  {} user(s)\n",
            r.collection,
            r.library,
            n(r.plays),
            crate::analytics::duration(n(r.watch_seconds)),
            n(r.unique_users)
        );
    }
    for (kind, days) in [
        ("plays-by-date", 90),
        ("plays-by-hour", 365),
        ("plays-by-weekday", 365),
        ("stream-types", 30),
        ("concurrency", 30),
        ("top-users", 365),
        ("top-platforms", 365),
    ] {
        let chart = analytics.chart(&ChartRequest {
            kind: kind.into(),
            days: Some(days),
            now: Some(now),
            top: Some(10),
            tz: None,
            y_axis: None,
        })?;
        let path = charts_dir.join(format!("{kind}.svg"));
        crate::analytics::write_svg(chart.json(), &path)?;
        if kind == "concurrency" {
            let peak = chart
                .series_named("Max. Concurrent Streams")
                .and_then(|s| s.data.iter().copied().max())
                .unwrap_or(0);
            text += &format!("  peak concurrent streams in the last 30 days: {peak}\n");
        }
        charts.push(json!({"kind": kind, "days": days, "svg": path.display().to_string()}));
    }
    text += &format!("  {} chart(s) written as SVG\n", charts.len());
    let as_of = crate::tracker::format_watched_at(now);
    Ok(DemoAnalytics {
        json: json!({"sync": synced, "collect": collected, "top": top, "charts": charts, "as_of": as_of}),
        text,
        as_of,
    })
}
