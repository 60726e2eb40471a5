//! `host-sim analytics ...`: the collection-analytics provider through the contract, with
//! human tables, JSON (`--json`) and SVG pictures (`--svg FILE`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use crosswatch_contract::payload::{
    Chart, ChartRequest, CollectReport, CollectRequest, DiffRow, QueryRequest, SnapshotRow,
    SyncReport,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::config::EngineConfig;
use crate::error::{HostError, Result};
use crate::plugin::{Analytics, Plugin};

#[derive(Debug, Args)]
pub struct AnalyticsArgs {
    /// Compute as if it were this moment (epoch seconds): reproducible output.
    #[arg(long, global = true, value_name = "EPOCH", hide = true)]
    pub now: Option<i64>,
    #[command(subcommand)]
    pub command: AnalyticsCommand,
}

#[derive(Debug, Subcommand)]
pub enum AnalyticsCommand {
    /// Update the local history store from Tautulli (only what is new).
    Sync,
    /// Record a snapshot of every collection's statistics (windows 1, 7, 30 days and all time).
    Collect {
        /// Tag these snapshots with a rotation / campaign name.
        #[arg(long, value_name = "NAME")]
        rotation: Option<String>,
    },
    /// The collections by plays, from their latest snapshots.
    Collections {
        #[arg(long, value_name = "N")]
        top: Option<usize>,
        /// Window in days (0 = all time).
        #[arg(long, value_name = "DAYS", default_value_t = 30)]
        window: u32,
    },
    /// One collection's snapshots over time (name, or SECTION:RATING_KEY when names repeat).
    History { collection: String },
    /// Every snapshot row recorded under one rotation / campaign.
    Rotation { name: String },
    /// The change between two collect runs (default: the previous run to the latest).
    Diff {
        /// `previous`, `latest`, epoch seconds or `YYYY-MM-DDTHH:MM:SSZ` (newest run at or before).
        #[arg(long, default_value = "previous")]
        from: String,
        #[arg(long, default_value = "latest")]
        to: String,
        /// Only this collection.
        collection: Option<String>,
    },
    /// A chart from the local store.
    Chart {
        /// plays-by-date, plays-by-hour, plays-by-weekday, stream-types, concurrency, top-users, top-platforms
        kind: String,
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// IANA time zone (default: the config's analytics.timezone, else UTC).
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// Rows of top-users / top-platforms.
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// Also write the chart as an SVG picture.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// plays (default) or duration: time watched, shown as 3h 20m (every chart but concurrency).
        #[arg(long = "y-axis", value_name = "AXIS")]
        y_axis: Option<String>,
    },
    /// One self-contained HTML page: every chart and the collection tables.
    Report {
        #[arg(long, value_name = "FILE.html")]
        out: PathBuf,
        /// Days of history in the charts (0 = all time).
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// IANA time zone (default: the config's analytics.timezone, else UTC).
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// Rows of top-users / top-platforms and of the top collections.
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// Snapshot window of the collection tables, in days (0 = all time).
        #[arg(long, value_name = "DAYS", default_value_t = 30)]
        window: u32,
    },
}

pub fn open(plugin_path: &Path, cfg: &EngineConfig, instance: &str) -> Result<Analytics> {
    let plugin = Plugin::load(plugin_path)?;
    plugin.open_analytics(&cfg.plugin_config(), instance)
}

/// Runs one analytics command; prints JSON (the answer as the plugin sent it) when `json`
/// is set, else a table.
pub fn run(analytics: &mut Analytics, args: &AnalyticsArgs, json_out: bool) -> Result<i32> {
    let now = args.now;
    let human = !json_out;
    let (answer, text) = match &args.command {
        AnalyticsCommand::Sync => {
            let r = analytics.sync()?;
            let text = human.then(|| render_sync(&r));
            (r.into_json(), text)
        }
        AnalyticsCommand::Collect { rotation } => {
            let r = analytics.collect(&CollectRequest {
                rotation: rotation.clone(),
                now,
            })?;
            let text = human.then(|| render_collect(&r));
            (r.into_json(), text)
        }
        AnalyticsCommand::Collections { top, window } => {
            let req = QueryRequest::new("top")
                .arg("n", top.unwrap_or(usize::MAX >> 1))
                .arg("window_days", window);
            rows_answer(analytics, &req, human, render_rows)?
        }
        AnalyticsCommand::History { collection } => {
            let req = QueryRequest::new("history").arg("collection", collection);
            rows_answer(analytics, &req, human, render_rows)?
        }
        AnalyticsCommand::Rotation { name } => {
            let req = QueryRequest::new("rotation").arg("name", name);
            rows_answer(analytics, &req, human, render_rows)?
        }
        AnalyticsCommand::Diff {
            from,
            to,
            collection,
        } => {
            let req = QueryRequest::new("diff")
                .arg("from", run_ref(from))
                .arg("to", run_ref(to))
                .arg("collection", collection);
            rows_answer(analytics, &req, human, render_diff)?
        }
        AnalyticsCommand::Chart {
            kind,
            days,
            tz,
            top,
            svg,
            y_axis,
        } => {
            let chart = analytics.chart(&ChartRequest {
                kind: kind.clone(),
                days: Some(*days),
                tz: tz.clone(),
                now,
                top: Some(u32::try_from(*top).unwrap_or(u32::MAX)),
                y_axis: y_axis.clone(),
            })?;
            if let Some(path) = svg {
                write_svg(chart.json(), path)?;
                if !json_out {
                    eprintln!("wrote {}", path.display());
                }
            }
            let duration_axis = chart.json()["y_axis"] == "duration";
            let text = human.then(|| render_chart(&chart, duration_axis));
            (chart.into_json(), text)
        }
        AnalyticsCommand::Report {
            out,
            days,
            tz,
            top,
            window,
        } => {
            let opts = crate::html_report::ReportOptions {
                days: *days,
                tz: tz.clone(),
                top: *top,
                window: *window,
                now,
            };
            let summary = crate::html_report::write(analytics, &opts, out)?;
            (summary, human.then(|| format!("wrote {}\n", out.display())))
        }
    };
    match text {
        Some(text) => print!("{text}"),
        None => println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        ),
    }
    Ok(0)
}

/// Asks a query whose rows are `Row`s; renders them when a person reads.
fn rows_answer<Row: DeserializeOwned>(
    analytics: &mut Analytics,
    req: &QueryRequest,
    human: bool,
    render: fn(&[Row]) -> String,
) -> Result<(Value, Option<String>)> {
    let answer = analytics.query(req)?;
    let text = if human {
        let rows = answer.rows_as::<Row>().map_err(|e| HostError::Protocol {
            what: "query answer",
            reason: format!("a row: {e}"),
        })?;
        Some(render(&rows))
    } else {
        None
    };
    Ok((answer.into_json(), text))
}

pub fn write_svg(chart: &Value, path: &Path) -> Result<()> {
    let svg = crate::svg::render(chart).map_err(|reason| HostError::Protocol {
        what: "chart",
        reason,
    })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| HostError::io(format!("cannot create {}", dir.display()), e))?;
    }
    std::fs::write(path, svg)
        .map_err(|e| HostError::io(format!("cannot write {}", path.display()), e))
}

fn render_sync(r: &SyncReport) -> String {
    let bad = r.bad_time;
    format!(
        "analytics store synced{}: {} page(s), {} row(s) read; {} new, {} updated, {} unchanged{}; {} session(s) stored\n",
        if r.first_sync { " (first sync: whole history)" } else { "" },
        r.pages,
        r.rows_seen,
        r.inserted,
        r.updated,
        r.unchanged,
        if bad > 0 { format!(", {bad} left out (times out of range)") } else { String::new() },
        r.total_sessions,
    ) + &r
        .warnings
        .iter()
        .map(|w| format!("  warning: {w}\n"))
        .collect::<String>()
}

fn render_collect(r: &CollectReport) -> String {
    let mut out = format!(
        "recorded {} snapshot row(s) for {} collection(s)",
        r.snapshots_written, r.collections
    );
    if let Some(rot) = &r.rotation {
        out += &format!(" (rotation {rot})");
    }
    out += "\n";
    for w in &r.warnings {
        out += &format!("  warning: {w}\n");
    }
    if r.retention_deleted > 0 {
        out += &format!(
            "  retention removed {} old snapshot row(s)\n",
            r.retention_deleted
        );
    }
    out
}

/// A run reference as the provider wants it: epoch seconds as a number, words and UTC
/// times as strings.
fn run_ref(s: &str) -> Value {
    match s.trim().parse::<i64>() {
        Ok(n) => json!(n),
        Err(_) => json!(s.trim()),
    }
}

/// Deltas between two runs as a table.
fn render_diff(rows: &[DiffRow]) -> String {
    let Some(first) = rows.first() else {
        return "nothing to compare: run `host-sim analytics collect` at least twice\n".into();
    };
    let mut out = format!(
        "from {} to {}\n{:<28} {:<14} {:>6} {:>14} {:>16} {:>12}\n",
        first.from, first.to, "collection", "library", "window", "plays", "watched", "users"
    );
    for r in rows {
        let window = window_label(u64::from(r.window_days));
        let signed = |n: i64| {
            if n > 0 {
                format!("+{n}")
            } else {
                n.to_string()
            }
        };
        out += &format!(
            "{:<28} {:<14} {:>6} {:>14} {:>16} {:>12}\n",
            truncate(&r.collection, 28),
            truncate(&r.library, 14),
            window,
            format!("{} ({})", r.plays_to, signed(r.plays_change)),
            format!(
                "{} ({}{})",
                duration(r.watch_seconds_to.max(0) as u64),
                if r.watch_seconds_change < 0 { "-" } else { "+" },
                duration(r.watch_seconds_change.unsigned_abs())
            ),
            format!("{} ({})", r.unique_users_to, signed(r.unique_users_change)),
        );
    }
    out
}

/// A snapshot window for people: `all`, or `30d`.
fn window_label(days: u64) -> String {
    match days {
        0 => "all".to_string(),
        d => format!("{d}d"),
    }
}

/// Seconds as `12h 05m`.
pub fn duration(secs: u64) -> String {
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    if h > 0 {
        format!("{h}h {m:02}m")
    } else {
        format!("{m}m")
    }
}

/// Snapshot rows as a table.
fn render_rows(rows: &[SnapshotRow]) -> String {
    if rows.is_empty() {
        return "no snapshots yet: run `host-sim analytics collect`\n".into();
    }
    // Counts are never negative; a negative one shows as 0, as it always did.
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    let mut out = format!(
        "{:<28} {:<14} {:>6} {:>6} {:>10} {:>6} {:>9}  {:<20} {}\n",
        "collection",
        "library",
        "window",
        "plays",
        "watched",
        "users",
        "items",
        "collected",
        "rotation"
    );
    for r in rows {
        let window = window_label(u64::from(r.window_days));
        out += &format!(
            "{:<28} {:<14} {:>6} {:>6} {:>10} {:>6} {:>9}  {:<20} {}\n",
            truncate(&r.collection, 28),
            truncate(&r.library, 14),
            window,
            n(r.plays),
            duration(n(r.watch_seconds)),
            n(r.unique_users),
            format!("{}/{}", n(r.items_with_plays), n(r.total_items)),
            r.collected_at,
            r.rotation.as_deref().unwrap_or(""),
        );
    }
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A chart as a table: one row per category, one column per series; on the duration axis
/// (`duration_axis`: seconds watched) every value reads as `3h 20m`, not seconds.
pub fn render_chart(c: &Chart, duration_axis: bool) -> String {
    let title = if c.title.is_empty() {
        "chart"
    } else {
        &c.title
    };
    let tz = if c.timezone.is_empty() {
        "UTC"
    } else {
        &c.timezone
    };
    let width = c
        .categories
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(4)
        .max(8);
    let value = |v: u64| {
        if duration_axis {
            crate::svg::duration_label(v)
        } else {
            v.to_string()
        }
    };
    // Each series' cells, and its column as wide as its name or its widest cell.
    let columns: Vec<(Vec<String>, usize)> = c
        .series
        .iter()
        .map(|s| {
            let cells: Vec<String> = (0..c.categories.len())
                .map(|i| value(s.data.get(i).copied().unwrap_or(0)))
                .collect();
            let w = cells
                .iter()
                .map(|v| v.chars().count())
                .chain([s.name.chars().count(), 6])
                .max()
                .unwrap_or(6);
            (cells, w)
        })
        .collect();
    let mut out = format!("{title} ({tz})\n{:<width$}", "");
    for (s, (_, w)) in c.series.iter().zip(&columns) {
        out += &format!(" {:>w$}", s.name);
    }
    out += "\n";
    for (i, cat) in c.categories.iter().enumerate() {
        out += &format!("{:<width$}", truncate(cat, width));
        for (cells, w) in &columns {
            out += &format!(" {:>w$}", cells[i]);
        }
        out += "\n";
    }
    for n in &c.notes {
        out += &format!("note: {n}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crosswatch_contract::payload;

    #[test]
    fn a_sync_says_how_many_sessions_had_bad_times() {
        let r = json!({"pages": 2, "rows_seen": 9, "inserted": 5, "updated": 0,
            "unchanged": 0, "total_sessions": 5});
        let clean = render_sync(&payload::from_value(r.clone()).unwrap());
        assert!(!clean.contains("left out"), "{clean}");
        let mut bad = r.clone();
        bad["bad_time"] = json!(4);
        let text = render_sync(&payload::from_value(bad).unwrap());
        assert!(
            text.contains("0 unchanged, 4 left out (times out of range); 5 session(s) stored"),
            "{text}"
        );
    }

    #[test]
    fn chart_table_has_a_row_per_category_and_a_column_per_series() {
        let c = json!({"title": "Plays by date", "timezone": "Europe/Berlin",
            "categories": ["2026-11-20", "2026-11-21"],
            "series": [{"name": "Movies", "data": [1, 0]}, {"name": "Total", "data": [1, 2]}],
            "notes": ["1 session without a stop time left out"]});
        let t = render_chart(&payload::from_value(c).unwrap(), false);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "Plays by date (Europe/Berlin)");
        assert!(lines[1].contains("Movies") && lines[1].contains("Total"));
        assert!(
            lines[2].starts_with("2026-11-20") && lines[2].ends_with(" 1"),
            "{t}"
        );
        assert!(lines[3].ends_with(" 2"), "{t}");
        assert!(t.contains("note: 1 session"));
    }

    #[test]
    fn a_duration_chart_table_reads_in_hours_and_minutes() {
        let c = json!({"title": "Watch time by date", "y_axis": "duration",
            "categories": ["2026-11-20", "2026-11-21"],
            "series": [{"name": "Movies", "data": [12_000, 0]},
                       {"name": "Total", "data": [1_234_567, 45]}]});
        let t = render_chart(&payload::from_value(c).unwrap(), true);
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[2].contains(" 3h 20m ") && lines[2].ends_with(" 342h"),
            "{t}"
        );
        assert!(
            lines[3].contains(" 0 ") && lines[3].ends_with(" 45s"),
            "{t}"
        );
        assert!(!t.contains("12000") && !t.contains("1234567"), "{t}");
        // Columns line up: every row as wide as the header.
        assert!(lines[1..].iter().all(|l| l.len() == lines[1].len()), "{t}");
    }

    #[test]
    fn a_sync_report_shows_its_warnings() {
        let r = json!({"pages": 1, "rows_seen": 1, "inserted": 1, "total_sessions": 1,
            "warnings": ["Tautulli's group_history_tables could not be read"]});
        let text = render_sync(&payload::from_value(r).unwrap());
        assert!(
            text.ends_with("\n  warning: Tautulli's group_history_tables could not be read\n"),
            "{text}"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(59), "0m");
        assert_eq!(duration(3600 * 12 + 300), "12h 05m");
    }
}
