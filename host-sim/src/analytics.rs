//! `host-sim analytics ...`: the collection-analytics provider through the contract, with
//! human tables, JSON (`--json`) and SVG pictures (`--svg FILE`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
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
    },
}

pub fn open(plugin_path: &Path, cfg: &EngineConfig, instance: &str) -> Result<Analytics> {
    let plugin = Plugin::load(plugin_path)?;
    plugin.open_analytics(&cfg.plugin_config(), instance)
}

/// Runs one analytics command; prints JSON when `json` is set.
pub fn run(analytics: &mut Analytics, args: &AnalyticsArgs, json_out: bool) -> Result<i32> {
    let now = args.now;
    let answer = match &args.command {
        AnalyticsCommand::Sync => analytics.sync()?,
        AnalyticsCommand::Collect { rotation } => {
            analytics.collect(&json!({"rotation": rotation, "now": now}))?
        }
        AnalyticsCommand::Collections { top, window } => analytics.query(&json!({
            "query": "top", "n": top.unwrap_or(usize::MAX >> 1), "window_days": window
        }))?,
        AnalyticsCommand::History { collection } => {
            analytics.query(&json!({"query": "history", "collection": collection}))?
        }
        AnalyticsCommand::Rotation { name } => {
            analytics.query(&json!({"query": "rotation", "name": name}))?
        }
        AnalyticsCommand::Diff {
            from,
            to,
            collection,
        } => analytics.query(&json!({
            "query": "diff", "from": run_ref(from), "to": run_ref(to), "collection": collection
        }))?,
        AnalyticsCommand::Chart {
            kind,
            days,
            tz,
            top,
            svg,
        } => {
            let chart = analytics.chart(&json!({
                "kind": kind, "days": days, "tz": tz, "now": now, "top": top
            }))?;
            if let Some(path) = svg {
                write_svg(&chart, path)?;
                if !json_out {
                    eprintln!("wrote {}", path.display());
                }
            }
            chart
        }
    };
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
        return Ok(0);
    }
    let text = match &args.command {
        AnalyticsCommand::Sync => render_sync(&answer),
        AnalyticsCommand::Collect { .. } => render_collect(&answer),
        AnalyticsCommand::Collections { .. }
        | AnalyticsCommand::History { .. }
        | AnalyticsCommand::Rotation { .. } => render_rows(&answer),
        AnalyticsCommand::Diff { .. } => render_diff(&answer),
        AnalyticsCommand::Chart { .. } => render_chart(&answer),
    };
    print!("{text}");
    Ok(0)
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

fn num(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

fn render_sync(r: &Value) -> String {
    let bad = num(r, "bad_time");
    format!(
        "analytics store synced{}: {} page(s), {} row(s) read; {} new, {} updated, {} unchanged{}; {} session(s) stored\n",
        if r.get("first_sync").and_then(Value::as_bool).unwrap_or(false) { " (first sync: whole history)" } else { "" },
        num(r, "pages"),
        num(r, "rows_seen"),
        num(r, "inserted"),
        num(r, "updated"),
        num(r, "unchanged"),
        if bad > 0 { format!(", {bad} left out (times out of range)") } else { String::new() },
        num(r, "total_sessions"),
    )
}

fn render_collect(r: &Value) -> String {
    let mut out = format!(
        "recorded {} snapshot row(s) for {} collection(s)",
        num(r, "snapshots_written"),
        num(r, "collections")
    );
    if let Some(rot) = r.get("rotation").and_then(Value::as_str) {
        out += &format!(" (rotation {rot})");
    }
    out += "\n";
    for w in r
        .get("warnings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out += &format!("  warning: {}\n", w.as_str().unwrap_or(""));
    }
    if let Some(p) = r
        .get("retention_deleted")
        .and_then(Value::as_u64)
        .filter(|p| *p > 0)
    {
        out += &format!("  retention removed {p} old snapshot row(s)\n");
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
fn render_diff(v: &Value) -> String {
    let rows = rows_of(v);
    if rows.is_empty() {
        return "nothing to compare: run `host-sim analytics collect` at least twice\n".into();
    }
    let s = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let i = |r: &Value, k: &str| r.get(k).and_then(Value::as_i64).unwrap_or(0);
    let mut out = format!(
        "from {} to {}\n{:<28} {:<14} {:>6} {:>14} {:>16} {:>12}\n",
        s(&rows[0], "from"),
        s(&rows[0], "to"),
        "collection",
        "library",
        "window",
        "plays",
        "watched",
        "users"
    );
    for r in &rows {
        let window = window_label(num(r, "window_days"));
        let signed = |n: i64| {
            if n > 0 {
                format!("+{n}")
            } else {
                n.to_string()
            }
        };
        out += &format!(
            "{:<28} {:<14} {:>6} {:>14} {:>16} {:>12}\n",
            truncate(&s(r, "collection"), 28),
            truncate(&s(r, "library"), 14),
            window,
            format!("{} ({})", i(r, "plays_to"), signed(i(r, "plays_change"))),
            format!(
                "{} ({}{})",
                duration(i(r, "watch_seconds_to").max(0) as u64),
                if i(r, "watch_seconds_change") < 0 {
                    "-"
                } else {
                    "+"
                },
                duration(i(r, "watch_seconds_change").unsigned_abs())
            ),
            format!(
                "{} ({})",
                i(r, "unique_users_to"),
                signed(i(r, "unique_users_change"))
            ),
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

fn rows_of(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Object(o) => o
            .get("rows")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Snapshot rows as a table.
fn render_rows(v: &Value) -> String {
    let rows = rows_of(v);
    if rows.is_empty() {
        return "no snapshots yet: run `host-sim analytics collect`\n".into();
    }
    let s = |r: &Value, k: &str| -> String {
        match r.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    };
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
    for r in &rows {
        let window = window_label(num(r, "window_days"));
        out += &format!(
            "{:<28} {:<14} {:>6} {:>6} {:>10} {:>6} {:>9}  {:<20} {}\n",
            truncate(&s(r, "collection"), 28),
            truncate(&s(r, "library"), 14),
            window,
            num(r, "plays"),
            duration(num(r, "watch_seconds")),
            num(r, "unique_users"),
            format!("{}/{}", num(r, "items_with_plays"), num(r, "total_items")),
            s(r, "collected_at"),
            s(r, "rotation"),
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

/// A chart as a table: one row per category, one column per series.
pub fn render_chart(c: &Value) -> String {
    let title = c.get("title").and_then(Value::as_str).unwrap_or("chart");
    let tz = c.get("timezone").and_then(Value::as_str).unwrap_or("UTC");
    let cats: Vec<String> = c
        .get("categories")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    let series: Vec<(String, Vec<u64>)> = c
        .get("series")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s.get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        s.get("data")
                            .and_then(Value::as_array)
                            .map(|d| d.iter().map(|x| x.as_u64().unwrap_or(0)).collect())
                            .unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let width = cats
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(4)
        .max(8);
    let mut out = format!("{title} ({tz})\n{:<width$}", "");
    for (name, _) in &series {
        out += &format!(" {:>w$}", name, w = name.chars().count().max(6));
    }
    out += "\n";
    for (i, cat) in cats.iter().enumerate() {
        out += &format!("{:<width$}", truncate(cat, width));
        for (name, data) in &series {
            out += &format!(
                " {:>w$}",
                data.get(i).copied().unwrap_or(0),
                w = name.chars().count().max(6)
            );
        }
        out += "\n";
    }
    for n in c
        .get("notes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out += &format!("note: {}\n", n.as_str().unwrap_or(""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_says_how_many_sessions_had_bad_times() {
        let r = json!({"pages": 2, "rows_seen": 9, "inserted": 5, "updated": 0,
            "unchanged": 0, "total_sessions": 5});
        let clean = render_sync(&r);
        assert!(!clean.contains("left out"), "{clean}");
        let mut bad = r.clone();
        bad["bad_time"] = json!(4);
        let text = render_sync(&bad);
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
        let t = render_chart(&c);
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
    fn durations_read_naturally() {
        assert_eq!(duration(59), "0m");
        assert_eq!(duration(3600 * 12 + 300), "12h 05m");
    }
}
