//! The command line: argument parsing and one function per subcommand. Commands print their
//! result (human text, or JSON with `--json`) on stdout and diagnostics on stderr.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

use crate::clock::{Clock, SystemClock};
use crate::config::EngineConfig;
use crate::demo;
use crate::error::{HostError, Result};
use crate::plugin::Source;
use crate::progress::ProgressDisplay;
use crate::sync;
use crate::tracker::Tracker;

#[derive(Debug, Parser)]
#[command(
    name = "host-sim",
    version,
    about = "A simulated CrossWatch host: import Tautulli watch history into a Tracker through the plugin contract",
    after_help = "Start with `host-sim demo`: it needs no Tautulli and no setup."
)]
pub struct Cli {
    /// Engine config file (JSON with `tautulli`, `crosswatch` and `pairs` blocks).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        default_value = "config.json"
    )]
    pub config: PathBuf,
    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// The plugin file (default: libtautulli_plugin.so next to this executable).
    #[arg(long, global = true, value_name = "PATH")]
    pub plugin: Option<PathBuf>,
    /// Named Tautulli instance (`tautulli.instances.<ID>`, merged over the base block).
    #[arg(long, global = true, value_name = "ID", default_value = "")]
    pub instance: String,
    /// Tracker folder (overrides the config's `crosswatch.root_dir`).
    #[arg(long, global = true, value_name = "DIR")]
    pub tracker: Option<PathBuf>,
    /// Never draw the progress display.
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Print `peak_rss_kb=<VmHWM>` to stderr before exiting (used by `host-sim-bench`).
    #[arg(long, global = true, hide = true)]
    pub report_rss: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import a bundled demo library from a built-in fake Tautulli on 127.0.0.1 (no setup).
    Demo {
        /// Where to put the demo Tracker (default: a new temporary directory, kept).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Keep the demo library served on 127.0.0.1 (until Ctrl-C) and write a ready config
        /// for it (DIR/config.json) instead of the walk-through.
        #[arg(long)]
        serve: bool,
        /// The port to serve on (default: any free one).
        #[arg(long, value_name = "N", requires = "serve")]
        port: Option<u16>,
    },
    /// Check that Tautulli answers and accepts the API key.
    Health,
    /// Print the normalised index: canonical key -> item.
    Index {
        #[arg(long, default_value = "history")]
        feature: String,
        /// With --json, put the report inside the JSON (`{"items":..,"report":..}`).
        #[arg(long)]
        report: bool,
        #[command(flatten)]
        read: ReadFlags,
    },
    /// Run the config's pairs (Tautulli -> Tracker imports).
    Sync {
        /// Print the plan and write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        read: ReadFlags,
    },
    /// Inspect or export the Tracker.
    Tracker(TrackerArgs),
    /// Collection analytics and charts from a local copy of Tautulli history.
    Analytics(crate::analytics::AnalyticsArgs),
}

/// Options for the plugin's own state during a read.
#[derive(Debug, Clone, Copy, Args)]
pub struct ReadFlags {
    /// Forget cached metadata answers first (after fixing matches in Plex).
    #[arg(long)]
    pub clear_metadata_cache: bool,
    /// Ignore the incremental checkpoint stored in the Tracker: read the whole history again
    /// (a sync then stores the new checkpoint with its import).
    #[arg(long)]
    pub reset_checkpoint: bool,
}

impl From<ReadFlags> for sync::ReadOptions {
    fn from(f: ReadFlags) -> Self {
        sync::ReadOptions {
            clear_metadata_cache: f.clear_metadata_cache,
            reset_checkpoint: f.reset_checkpoint,
        }
    }
}

#[derive(Debug, Args)]
pub struct TrackerArgs {
    #[command(subcommand)]
    pub command: TrackerCommand,
}

#[derive(Debug, Subcommand)]
pub enum TrackerCommand {
    /// Write history.json and snapshots/<stamp>-history.json, the files CrossWatch's Editor
    /// imports, and the ZIP its "Import tracker archive" takes.
    Export {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[arg(long, default_value = "history")]
        feature: String,
        /// Where to write the ZIP [default: <DIR>/crosswatch-tracker.zip].
        #[arg(long, value_name = "FILE")]
        zip: Option<PathBuf>,
        /// Merge onto this copy of CrossWatch's own history.json (newer watched_at per key),
        /// so importing loses nothing CrossWatch already had.
        #[arg(long, value_name = "FILE")]
        base: Option<PathBuf>,
    },
    /// List snapshots, newest first, with counts.
    Snapshots {
        #[arg(long, default_value = "history")]
        feature: String,
    },
}

/// Runs a parsed command line; the caller turns the error into an exit code.
pub fn run(cli: Cli) -> Result<i32> {
    match &cli.command {
        Command::Demo { out, serve, port } => {
            let options = demo::Options {
                plugin: plugin_path(&cli)?,
                instance: cli.instance.clone(),
                json: cli.json,
                progress: progress_enabled(&cli),
            };
            if *serve {
                demo::serve(&options, out.as_deref(), port.unwrap_or(0))
            } else {
                demo::run(&options, out.as_deref())
            }
        }
        Command::Health => health(&cli),
        Command::Index {
            feature,
            report,
            read,
        } => index(&cli, feature, *report, (*read).into()),
        Command::Sync { dry_run, read } => sync_cmd(&cli, *dry_run, (*read).into()),
        Command::Tracker(t) => match &t.command {
            TrackerCommand::Export {
                out,
                feature,
                zip,
                base,
            } => {
                let zip = zip
                    .clone()
                    .unwrap_or_else(|| out.join("crosswatch-tracker.zip"));
                let options = crate::tracker::ExportOptions::new(Some(zip), base.clone());
                export(&cli, out, feature, &options)
            }
            TrackerCommand::Snapshots { feature } => snapshots(&cli, feature),
        },
        Command::Analytics(args) => {
            let cfg = load_config(&cli)?;
            let mut analytics = crate::analytics::open(&plugin_path(&cli)?, &cfg, &cli.instance)?;
            crate::analytics::run(&mut analytics, args, cli.json)
        }
    }
}

fn load_config(cli: &Cli) -> Result<EngineConfig> {
    let mut cfg = EngineConfig::load(&cli.config)?;
    crate::report::print_warnings(&cfg.warnings);
    if let Some(dir) = &cli.tracker {
        cfg.root_dir = dir.clone();
    }
    Ok(cfg)
}

/// The plugin file: `--plugin`, else next to this executable.
fn plugin_path(cli: &Cli) -> Result<PathBuf> {
    match &cli.plugin {
        Some(p) => Ok(p.clone()),
        None => crate::plugin::default_path(),
    }
}

/// Loads the plugin and opens its source provider for `--instance`.
fn open_source(cli: &Cli, cfg: &EngineConfig) -> Result<Source> {
    sync::open_source(&plugin_path(cli)?, cfg, &cli.instance)
}

fn progress_enabled(cli: &Cli) -> bool {
    !cli.no_progress
}

fn stdout_json(v: &Value) -> Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)
        .map_err(|e| HostError::io("cannot write to stdout", e.into()))?;
    writeln!(out).map_err(|e| HostError::io("cannot write to stdout", e))
}

fn health(cli: &Cli) -> Result<i32> {
    let cfg = load_config(cli)?;
    let mut source = open_source(cli, &cfg)?;
    let h = source.health()?;
    crate::report::print_warnings(&h.warnings);
    if cli.json {
        stdout_json(h.json())?;
    } else {
        println!("{} ({} ms)", h.status, h.latency_ms);
        if let Some(d) = &h.details {
            for (k, v) in d {
                println!(
                    "  {k}: {}",
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string())
                );
            }
        }
    }
    Ok(if h.ok { 0 } else { 1 })
}

fn index(cli: &Cli, feature: &str, with_report: bool, read: sync::ReadOptions) -> Result<i32> {
    let cfg = load_config(cli)?;
    let mut source = open_source(cli, &cfg)?;
    // The read starts where the last committed import left off, like a sync; it never
    // stores a checkpoint (nothing is imported).
    let stored = sync::stored_checkpoint(&cfg, feature, &cli.instance)?;
    let mut cursor = source.index(feature, &read.options(false, stored.as_deref()))?;
    let mut display = ProgressDisplay::new(progress_enabled(cli));
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let w = |e: io::Error| HostError::io("cannot write to stdout", e);
    let mut first = true;
    if cli.json {
        out.write_all(if with_report { b"{\"items\":{" } else { b"{" })
            .map_err(w)?;
    }
    loop {
        let step = cursor.step()?;
        display.update(&step.progress);
        for e in &step.entries {
            if cli.json {
                if !first {
                    out.write_all(b",").map_err(w)?;
                }
                let key = serde_json::to_string(e.key.as_str()).unwrap_or_default();
                write!(out, "\n  {key}: {}", e.item_json).map_err(w)?;
            } else {
                let item: Value = serde_json::from_str(&e.item_json).unwrap_or(Value::Null);
                let s = |k: &str| {
                    item.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                let title = match item.get("series_title").and_then(Value::as_str) {
                    Some(series) => format!("{series} - {}", s("title")),
                    None => s("title"),
                };
                writeln!(out, "{:<34} {}  {}", e.key, s("watched_at"), title).map_err(w)?;
            }
            first = false;
        }
        if step.done {
            break;
        }
    }
    display.finish();
    let report = cursor.report()?;
    crate::report::print_warnings(&report.warnings);
    if cli.json {
        out.write_all(b"\n}").map_err(w)?;
        if with_report {
            out.write_all(b",\"report\":").map_err(w)?;
            serde_json::to_writer(&mut out, report.json()).map_err(|e| w(e.into()))?;
            out.write_all(b"}").map_err(w)?;
        }
        out.write_all(b"\n").map_err(w)?;
    }
    out.flush().map_err(w)?;
    if !(cli.json && with_report) {
        eprint!("{}", crate::report::render_report(&report));
    }
    Ok(0)
}

fn sync_cmd(cli: &Cli, dry_run: bool, read: sync::ReadOptions) -> Result<i32> {
    let cfg = load_config(cli)?;
    if cfg.pairs.is_empty() {
        // Running nothing and exiting 0 would look like a sync that found nothing new.
        return Err(HostError::Config(format!(
            "{}: `pairs` is empty, so sync has nothing to run; add {{\"source\": \"TAUTULLI\", \
             \"target\": \"CROSSWATCH\", \"feature\": \"history\"}} (or leave `pairs` out for \
             that import)",
            cli.config.display()
        )));
    }
    let mut source = open_source(cli, &cfg)?;
    let results = sync::run_pairs_with(
        &mut source,
        &cfg,
        &cli.instance,
        dry_run,
        progress_enabled(cli),
        read,
        &SystemClock,
    )?;
    if cli.json {
        stdout_json(&json!({ "dry_run": dry_run, "pairs": results }))?;
    } else {
        for r in &results {
            print!("{}", sync::render_human(r));
        }
    }
    Ok(0)
}

fn tracker_dir(cli: &Cli) -> Result<PathBuf> {
    match &cli.tracker {
        Some(d) => Ok(d.clone()),
        None => Ok(load_config(cli)?.root_dir),
    }
}

fn open_tracker(dir: &Path) -> Result<Tracker> {
    Tracker::open_existing_read_only(dir)?.ok_or_else(|| {
        HostError::Config(format!(
            "no Tracker at {}: run `host-sim sync` first (or pass --tracker DIR)",
            dir.display()
        ))
    })
}

fn export(
    cli: &Cli,
    out: &Path,
    feature: &str,
    options: &crate::tracker::ExportOptions,
) -> Result<i32> {
    let tracker = open_tracker(&tracker_dir(cli)?)?;
    let summary = tracker.export_with(feature, out, SystemClock.now_epoch(), options)?;
    if cli.json {
        stdout_json(&serde_json::to_value(&summary).unwrap_or(Value::Null))?;
    } else {
        println!(
            "exported {} item(s) and {} snapshot(s) to {}",
            summary.item_count,
            summary.snapshot_files.len(),
            out.display()
        );
        if let Some(base) = &summary.base {
            println!(
                "merged onto {}: kept {} item(s) only it had, {} newer there, {} replaced",
                base.file.display(),
                base.kept_from_base,
                base.base_newer,
                base.replaced
            );
        }
        if let Some(zip) = &summary.archive_file {
            println!(
                "archive for CrossWatch's \"Import tracker archive\": {}",
                zip.display()
            );
        }
    }
    Ok(0)
}

fn snapshots(cli: &Cli, feature: &str) -> Result<i32> {
    let tracker = open_tracker(&tracker_dir(cli)?)?;
    let list = tracker.snapshots(feature)?;
    if cli.json {
        stdout_json(&serde_json::to_value(&list).unwrap_or(Value::Null))?;
    } else if list.is_empty() {
        println!("no snapshots yet");
    } else {
        println!(
            "{:<18} {:>8} {:>8} {:>8}",
            "snapshot", "items", "added", "updated"
        );
        for s in &list {
            println!(
                "{:<18} {:>8} {:>8} {:>8}",
                s.stamp, s.item_count, s.added, s.updated
            );
        }
    }
    Ok(0)
}
