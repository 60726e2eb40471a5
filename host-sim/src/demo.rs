//! `host-sim demo`: the whole path on a bundled library, with nothing to set up. A fake
//! Tautulli starts on 127.0.0.1 with the demo scenario, and the real plugin imports it into a
//! fresh Tracker: dry run first, then the import, then a re-run that must change nothing.

use std::path::Path;

use fake_tautulli::{FakeServer, Scenario};
use serde_json::{json, Value};

use crate::cli::{open_source, Cli};
use crate::config::EngineConfig;
use crate::error::{HostError, Result};
use crate::sync;
use crate::tracker::Tracker;

pub fn run(cli: &Cli, out: Option<&Path>) -> Result<i32> {
    let root = match out {
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
    };
    let tracker_dir = root.join("tracker");
    let server = FakeServer::start(Scenario::demo())
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
    let cfg = EngineConfig::from_value(raw, &root).map_err(HostError::ConfigInvalid)?;
    let mut source = open_source(cli, &cfg)?;
    let health = source.health()?;
    let progress = !cli.no_progress;

    let plan = sync::run_pairs(&mut source, &cfg, true, progress)?;
    let first = sync::run_pairs(&mut source, &cfg, false, progress)?;
    let again = sync::run_pairs(&mut source, &cfg, false, progress)?;
    let tracker = Tracker::open_existing_read_only(&tracker_dir)?.ok_or_else(|| {
        HostError::ConfigInvalid(format!(
            "the demo Tracker at {} is missing",
            tracker_dir.display()
        ))
    })?;
    let export_dir = root.join("export");
    let export = tracker.export("history", &export_dir)?;
    let sample: Vec<(String, Value)> = tracker
        .state("history")?
        .into_iter()
        .take(8)
        .map(|(k, v)| (k, serde_json::from_str(&v).unwrap_or(Value::Null)))
        .collect();
    let requests = server.requests();
    let writes = requests
        .iter()
        .filter(|r| {
            r.cmd
                .as_deref()
                .is_some_and(|c| !c.starts_with("get_") && c != "status")
        })
        .count();

    if cli.json {
        let v = json!({
            "root": root.display().to_string(),
            "health": health,
            "plan": plan,
            "import": first,
            "rerun": again,
            "export": export,
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
    println!(
        "health: {} ({} ms)\n",
        health.get("status").and_then(Value::as_str).unwrap_or("?"),
        health
            .get("latency_ms")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    );
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
        "Next:     host-sim --tracker {} tracker snapshots",
        shell_path(&tracker_dir)
    );
    Ok(0)
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
