//! `host-sim analytics report --out FILE.html`: every chart and the collection tables in one
//! HTML page that a person opens in a browser, mails or archives.
//!
//! The page is self-contained on purpose: charts are inline SVG (from [`crate::svg`]), the
//! style sheet is inline, and there are no scripts, fonts, images or links to anything
//! outside the file, so it looks the same offline, years later, and leaks nothing when
//! opened. Data flows one way: [`gather`] asks the plugin (charts and stored-snapshot
//! queries, nothing else), [`render`] turns that into HTML without any I/O.

use std::fmt::Write as _;
use std::path::Path;

use crosswatch_contract::payload::{ChartRequest, DiffRow, QueryRequest, SnapshotRow};

use crate::svg::esc;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::analytics::duration;
use crate::error::{HostError, Result};
use crate::plugin::Analytics;

/// The charts of a report, in reading order: when, then how, then who. Each counts plays,
/// and each but concurrency comes a second time counting watch time (see [`has_duration`]).
pub const CHART_KINDS: [&str; 7] = [
    "plays-by-date",
    "plays-by-weekday",
    "plays-by-hour",
    "stream-types",
    "concurrency",
    "top-users",
    "top-platforms",
];

/// Whether a chart kind also comes on the duration axis: Tautulli offers `y_axis=duration`
/// for every chart but concurrency, which counts streams.
pub fn has_duration(kind: &str) -> bool {
    kind != "concurrency"
}

/// What a report covers.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Days of history in the charts (0 = all time).
    pub days: u32,
    /// IANA time zone of the charts (default: the provider's configured one).
    pub tz: Option<String>,
    /// Rows of the top-N chart and table.
    pub top: usize,
    /// Snapshot window of the collection tables, in days (0 = all time).
    pub window: u32,
    /// Compute as if it were this moment (epoch seconds); default: now.
    pub now: Option<i64>,
}

/// One collection's snapshots of the report's window, oldest first.
#[derive(Debug, Clone)]
pub struct Trend {
    pub collection: String,
    pub library: String,
    pub rows: Vec<SnapshotRow>,
}

/// A rotation's latest numbers, compared with the last collect before it began.
#[derive(Debug, Clone)]
pub struct RotationView {
    pub name: String,
    /// When the rotation's first and latest snapshots were taken (UTC).
    pub first: String,
    pub latest: String,
    /// Before/after per collection, or why there is nothing to compare.
    pub comparison: std::result::Result<Vec<DiffRow>, String>,
}

/// Everything a report shows, as the plugin answered it.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// The moment the report is computed for, epoch seconds.
    pub now: i64,
    pub days: u32,
    pub window: u32,
    /// The charts' JSON (the plugin's `Chart`): each kind's plays chart, followed by its
    /// duration chart when it has one.
    pub charts: Vec<Value>,
    pub latest: Vec<SnapshotRow>,
    pub top: Vec<SnapshotRow>,
    pub trends: Vec<Trend>,
    pub rotations: Vec<RotationView>,
}

impl ReportData {
    /// The charts' time zone (they are all asked in the same one).
    pub fn timezone(&self) -> String {
        self.charts
            .iter()
            .find_map(|c| c["timezone"].as_str().filter(|t| !t.is_empty()))
            .unwrap_or("UTC")
            .to_string()
    }
}

/// Asks the plugin for everything the report shows.
pub fn gather(analytics: &mut Analytics, opts: &ReportOptions) -> Result<ReportData> {
    let now = opts
        .now
        .unwrap_or_else(|| jiff::Timestamp::now().as_second());
    let mut charts = Vec::with_capacity(2 * CHART_KINDS.len());
    for kind in CHART_KINDS {
        let axes: &[Option<&str>] = if has_duration(kind) {
            &[None, Some("duration")]
        } else {
            &[None]
        };
        for y_axis in axes {
            let chart = analytics.chart(&ChartRequest {
                kind: kind.to_string(),
                days: Some(opts.days),
                tz: opts.tz.clone(),
                now: Some(now),
                top: Some(u32::try_from(opts.top).unwrap_or(u32::MAX)),
                y_axis: y_axis.map(str::to_string),
            })?;
            charts.push(chart.into_json());
        }
    }
    let latest: Vec<SnapshotRow> = rows(analytics, &QueryRequest::new("latest"))?;
    let top: Vec<SnapshotRow> = rows(
        analytics,
        &QueryRequest::new("top")
            .arg("n", opts.top)
            .arg("window_days", opts.window),
    )?;

    let mut trends = Vec::new();
    for r in latest.iter().filter(|r| r.window_days == opts.window) {
        let id = format!("{}:{}", r.section_id, r.rating_key);
        let mut history: Vec<SnapshotRow> = rows(
            analytics,
            &QueryRequest::new("history").arg("collection", id),
        )?;
        history.retain(|h| h.window_days == opts.window);
        history.reverse();
        trends.push(Trend {
            collection: r.collection.clone(),
            library: r.library.clone(),
            rows: history,
        });
    }

    let mut rotations = Vec::new();
    // Rotation names come as bare strings, not row objects.
    let names: Vec<String> = analytics
        .query(&QueryRequest::new("rotations"))?
        .rows
        .iter()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect();
    for name in names {
        let snapshots: Vec<SnapshotRow> =
            rows(analytics, &QueryRequest::new("rotation").arg("name", &name))?;
        let (Some(first), Some(latest)) = (
            snapshots.iter().map(|r| &r.collected_at).min().cloned(),
            snapshots.iter().map(|r| &r.collected_at).max().cloned(),
        ) else {
            continue;
        };
        rotations.push(RotationView {
            comparison: before_and_after(analytics, &first, &latest, opts.window),
            name,
            first,
            latest,
        });
    }
    Ok(ReportData {
        now,
        days: opts.days,
        window: opts.window,
        charts,
        latest,
        top,
        trends,
        rotations,
    })
}

/// The change from the last collect before a rotation's first snapshot to its latest one.
fn before_and_after(
    analytics: &mut Analytics,
    first: &str,
    latest: &str,
    window: u32,
) -> std::result::Result<Vec<DiffRow>, String> {
    let started: jiff::Timestamp = first
        .parse()
        .map_err(|e| format!("unreadable snapshot time {first:?}: {e}"))?;
    let req = QueryRequest::new("diff")
        .arg("from", started.as_second() - 1)
        .arg("to", latest);
    match rows::<DiffRow>(analytics, &req) {
        Ok(mut rows) => {
            rows.retain(|r| r.window_days == window);
            Ok(rows)
        }
        Err(_) => Err(
            "no collect before this rotation began: nothing to compare it with \
             (run `host-sim analytics collect` before starting the next one)"
                .to_string(),
        ),
    }
}

/// A query's rows as `Row`s.
fn rows<Row: DeserializeOwned>(analytics: &mut Analytics, req: &QueryRequest) -> Result<Vec<Row>> {
    analytics
        .query(req)?
        .rows_as::<Row>()
        .map_err(|e| HostError::Protocol {
            what: "query answer",
            reason: format!("a row: {e}"),
        })
}

/// Gathers, renders and writes a report; answers a summary for `--json`.
pub fn write(analytics: &mut Analytics, opts: &ReportOptions, path: &Path) -> Result<Value> {
    let data = gather(analytics, opts)?;
    let html = render(&data)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| HostError::io(format!("cannot create {}", dir.display()), e))?;
    }
    std::fs::write(path, &html)
        .map_err(|e| HostError::io(format!("cannot write {}", path.display()), e))?;
    Ok(json!({
        "report": path.display().to_string(),
        "bytes": html.len(),
        "charts": data.charts.len(),
        "collections": data.trends.len(),
        "rotations": data.rotations.len(),
        "timezone": data.timezone(),
        "days": data.days,
        "window_days": data.window,
    }))
}

/// The inline style sheet: calm, readable, printable.
const STYLE: &str = "\
:root{color-scheme:light}\
*{box-sizing:border-box}\
body{margin:0;background:#f3f4f6;color:#1f2328;font:15px/1.5 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif}\
header{background:#1f2937;color:#f9fafb;padding:28px 32px 22px}\
header h1{margin:0 0 6px;font-size:26px;font-weight:600}\
header p{margin:2px 0;color:#d1d5db}\
header strong{color:#fff}\
nav{background:#fff;border-bottom:1px solid #e5e7eb;padding:10px 32px;position:sticky;top:0}\
nav a{color:#2563eb;text-decoration:none;margin-right:18px;font-size:14px}\
main{max-width:1120px;margin:0 auto;padding:8px 24px 48px}\
h2{font-size:20px;margin:34px 0 12px;padding-bottom:6px;border-bottom:2px solid #e5e7eb}\
h3{font-size:16px;margin:0 0 10px}\
section.card,figure.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;margin:0 0 18px;padding:18px 20px}\
figure.card{padding:10px 12px}\
figure svg{display:block;width:100%;height:auto}\
p.hint{color:#6b7280;margin:4px 0 12px;font-size:14px}\
p.empty{color:#6b7280;font-style:italic}\
table{border-collapse:collapse;width:100%;font-size:14px}\
th,td{padding:6px 10px;border-bottom:1px solid #eef0f2;text-align:left;vertical-align:middle;white-space:nowrap}\
div.scroll{overflow-x:auto}\
th{background:#f9fafb;font-weight:600;color:#374151;white-space:nowrap}\
th.group{text-align:center;border-bottom:1px solid #d1d5db}\
tbody tr:nth-child(even){background:#fafbfc}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
td.up{color:#15803d}td.down{color:#b91c1c}\
.bar{display:inline-block;height:10px;background:#4e79a7;border-radius:2px;vertical-align:middle}\
.muted{color:#6b7280}\
footer{color:#6b7280;font-size:13px;text-align:center;padding:20px}\
@media print{nav{display:none}body{background:#fff}section.card,figure.card{break-inside:avoid}}";

/// Renders a report as one HTML document. Fails only when the plugin sent a chart the
/// drawing cannot read.
pub fn render(data: &ReportData) -> Result<String> {
    let tz = data.timezone();
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <meta name=\"generator\" content=\"host-sim {}\"/>\n\
         <title>Tautulli analytics report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION")
    );
    let _ = write!(
        out,
        "<header>\n<h1>Tautulli analytics report</h1>\n\
         <p>Time zone: <strong id=\"timezone\">{}</strong> · Charts: <strong id=\"window\">{}</strong>, up to {}</p>\n\
         <p>Collection tables: the {} snapshot window · Computed {}</p>\n</header>\n",
        esc(&tz),
        esc(&days_label(data.days)),
        esc(&local_time(data.now, &tz)),
        esc(&window_label(data.window)),
        esc(&utc_time(data.now)),
    );
    out.push_str(
        "<nav><a href=\"#charts\">Charts</a><a href=\"#latest\">Collections</a>\
         <a href=\"#top\">Top collections</a><a href=\"#trends\">Trends</a>\
         <a href=\"#rotations\">Rotations</a></nav>\n<main>\n",
    );

    out.push_str(
        "<h2 id=\"charts\">Charts</h2>\n<p class=\"hint\">Each chart counts plays; the one \
         after it shows the time watched (every chart but concurrency, which counts \
         streams).</p>\n",
    );
    for chart in &data.charts {
        let svg = crate::svg::render_inline(chart).map_err(|reason| HostError::Protocol {
            what: "chart",
            reason,
        })?;
        let kind = chart["kind"].as_str().unwrap_or("chart");
        let axis = if chart["y_axis"] == "duration" {
            "-duration"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<figure class=\"card chart\" id=\"chart-{}{axis}\">\n{svg}</figure>\n",
            esc(kind)
        );
    }

    latest_table(&mut out, data);
    top_table(&mut out, data);
    trends_table(&mut out, data);
    rotations_tables(&mut out, data);

    let _ = write!(
        out,
        "</main>\n<footer>Made by host-sim from the plugin's local analytics store. \
         Self-contained: no scripts, fonts or network.</footer>\n</body>\n</html>\n"
    );
    Ok(out)
}

fn latest_table(out: &mut String, data: &ReportData) {
    out.push_str(
        "<h2 id=\"latest\">Collections</h2>\n<section class=\"card\">\n\
         <p class=\"hint\">Each collection's latest snapshot: plays per window, and the \
         report's window in detail.</p>\n",
    );
    if data.latest.is_empty() {
        out.push_str(
            "<p class=\"empty\">No snapshots yet: run <code>host-sim analytics collect</code>.</p>\n</section>\n",
        );
        return;
    }
    // Windows as columns: days ascending, all time last.
    let mut windows: Vec<u32> = data.latest.iter().map(|r| r.window_days).collect();
    windows.sort_by_key(|&w| if w == 0 { u32::MAX } else { w });
    windows.dedup();
    let mut collections: Vec<(i64, i64)> = Vec::new();
    for r in &data.latest {
        if !collections.contains(&(r.section_id, r.rating_key)) {
            collections.push((r.section_id, r.rating_key));
        }
    }
    // Two header rows: plays per window, then the report's window in detail.
    let _ = write!(
        out,
        "<div class=\"scroll\"><table id=\"latest-table\">\n<thead><tr>\
         <th rowspan=\"2\">Collection</th><th rowspan=\"2\">Library</th>\
         <th class=\"group\" colspan=\"{}\">Plays</th>\
         <th class=\"group\" colspan=\"3\">{}</th><th rowspan=\"2\">Collected</th></tr>\n<tr>",
        windows.len(),
        esc(&capitalised(&days_label(data.window)))
    );
    for w in &windows {
        let _ = write!(out, "<th class=\"n\">{}</th>", esc(&short_window(*w)));
    }
    out.push_str(
        "<th class=\"n\">Watched</th><th class=\"n\">Users</th>\
         <th class=\"n\">Items played</th></tr></thead>\n<tbody>\n",
    );
    for id in &collections {
        let of = |w: u32| {
            data.latest
                .iter()
                .find(|r| (r.section_id, r.rating_key) == *id && r.window_days == w)
        };
        let Some(any) = data
            .latest
            .iter()
            .find(|r| (r.section_id, r.rating_key) == *id)
        else {
            continue;
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td>",
            esc(&any.collection),
            esc(&any.library)
        );
        for w in &windows {
            let cell = of(*w).map_or("–".to_string(), |r| count(r.plays).to_string());
            let _ = write!(out, "<td class=\"n\">{cell}</td>");
        }
        match of(data.window) {
            Some(r) => {
                let _ = writeln!(
                    out,
                    "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{} / {}</td><td>{}</td></tr>",
                    duration(count(r.watch_seconds)),
                    count(r.unique_users),
                    count(r.items_with_plays),
                    count(r.total_items),
                    esc(&short_time(&r.collected_at)),
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "<td class=\"n\">–</td><td class=\"n\">–</td><td class=\"n\">–</td><td>{}</td></tr>",
                    esc(&short_time(&any.collected_at))
                );
            }
        }
    }
    out.push_str("</tbody>\n</table></div>\n</section>\n");
}

fn top_table(out: &mut String, data: &ReportData) {
    let _ = write!(
        out,
        "<h2 id=\"top\">Top collections</h2>\n<section class=\"card\">\n\
         <p class=\"hint\">By plays in the {} window of their latest snapshot.</p>\n",
        esc(&window_label(data.window))
    );
    if data.top.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"empty\">No snapshots of the {} window yet.</p>\n</section>",
            esc(&window_label(data.window))
        );
        return;
    }
    let most = data
        .top
        .iter()
        .map(|r| count(r.plays))
        .max()
        .unwrap_or(0)
        .max(1);
    out.push_str(
        "<div class=\"scroll\"><table id=\"top-table\">\n<thead><tr><th class=\"n\">#</th><th>Collection</th>\
         <th>Library</th><th class=\"n\">Plays</th><th></th><th class=\"n\">Watched</th>\
         <th class=\"n\">Users</th></tr></thead>\n<tbody>\n",
    );
    for (i, r) in data.top.iter().enumerate() {
        let plays = count(r.plays);
        let _ = writeln!(
            out,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"n\">{plays}</td>\
             <td style=\"width:30%\"><span class=\"bar\" style=\"width:{:.1}%\"></span></td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            i + 1,
            esc(&r.collection),
            esc(&r.library),
            100.0 * plays as f64 / most as f64,
            duration(count(r.watch_seconds)),
            count(r.unique_users),
        );
    }
    out.push_str("</tbody>\n</table></div>\n</section>\n");
}

fn trends_table(out: &mut String, data: &ReportData) {
    let _ = write!(
        out,
        "<h2 id=\"trends\">Trends</h2>\n<section class=\"card\">\n\
         <p class=\"hint\">Plays in the {} window at each snapshot, oldest to newest.</p>\n",
        esc(&window_label(data.window))
    );
    if data.trends.iter().all(|t| t.rows.is_empty()) {
        out.push_str("<p class=\"empty\">No snapshots yet.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<div class=\"scroll\"><table id=\"trend-table\">\n<thead><tr><th>Collection</th><th>Library</th>\
         <th class=\"n\">Snapshots</th><th>Since</th><th class=\"n\">First</th><th>Trend</th>\
         <th class=\"n\">Latest</th><th class=\"n\">Change</th></tr></thead>\n<tbody>\n",
    );
    for t in &data.trends {
        let (Some(first), Some(last)) = (t.rows.first(), t.rows.last()) else {
            continue;
        };
        let plays: Vec<u64> = t.rows.iter().map(|r| count(r.plays)).collect();
        let change = last.plays - first.plays;
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td>\
             <td>{}</td><td class=\"n\">{}</td>{}</tr>",
            esc(&t.collection),
            esc(&t.library),
            t.rows.len(),
            esc(first.collected_at.get(..10).unwrap_or(&first.collected_at)),
            count(first.plays),
            sparkline(&plays),
            count(last.plays),
            change_cell(change),
        );
    }
    out.push_str("</tbody>\n</table></div>\n</section>\n");
}

fn rotations_tables(out: &mut String, data: &ReportData) {
    let _ = write!(
        out,
        "<h2 id=\"rotations\">Rotations</h2>\n\
         <p class=\"hint\">Each rotation's latest snapshot against the last collect before it \
         began ({} window).</p>\n",
        esc(&window_label(data.window))
    );
    if data.rotations.is_empty() {
        out.push_str(
            "<section class=\"card\"><p class=\"empty\">No rotations recorded: collect with \
             <code>--rotation NAME</code>.</p></section>\n",
        );
        return;
    }
    for r in &data.rotations {
        let _ = write!(
            out,
            "<section class=\"card rotation\">\n<h3>{}</h3>\n\
             <p class=\"hint\">First snapshot {} · latest {}</p>\n",
            esc(&r.name),
            esc(&short_time(&r.first)),
            esc(&short_time(&r.latest))
        );
        match &r.comparison {
            Err(why) => {
                let _ = writeln!(out, "<p class=\"empty\">{}</p>", esc(why));
            }
            Ok(rows) if rows.is_empty() => {
                out.push_str("<p class=\"empty\">No collection in both runs.</p>\n");
            }
            Ok(rows) => {
                let _ = writeln!(
                    out,
                    "<p class=\"hint\">Before: the collect of {} · after: {}</p>",
                    esc(&short_time(&rows[0].from)),
                    esc(&short_time(&rows[0].to))
                );
                out.push_str(
                    "<div class=\"scroll\"><table class=\"rotation-table\">\n<thead><tr><th>Collection</th><th>Library</th>\
                     <th class=\"n\">Plays before</th><th class=\"n\">Plays after</th><th class=\"n\">Change</th>\
                     <th class=\"n\">Watched before</th><th class=\"n\">Watched after</th>\
                     <th class=\"n\">Users before</th><th class=\"n\">Users after</th></tr></thead>\n<tbody>\n",
                );
                for d in rows {
                    let _ = writeln!(
                        out,
                        "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>{}\
                         <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                         <td class=\"n\">{}</td></tr>",
                        esc(&d.collection),
                        esc(&d.library),
                        count(d.plays_from),
                        count(d.plays_to),
                        change_cell(d.plays_change),
                        duration(count(d.watch_seconds_from)),
                        duration(count(d.watch_seconds_to)),
                        count(d.unique_users_from),
                        count(d.unique_users_to),
                    );
                }
                out.push_str("</tbody>\n</table></div>\n");
            }
        }
        out.push_str("</section>\n");
    }
}

/// A small inline line of values, for a table cell.
fn sparkline(values: &[u64]) -> String {
    const W: f64 = 120.0;
    const H: f64 = 26.0;
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let x = |i: usize| {
        if values.len() < 2 {
            W / 2.0
        } else {
            2.0 + (W - 4.0) * i as f64 / (values.len() - 1) as f64
        }
    };
    let y = |v: u64| H - 3.0 - (H - 6.0) * v as f64 / max;
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| format!("{:.1},{:.1}", x(i), y(v)))
        .collect();
    let last = values.len().saturating_sub(1);
    format!(
        "<svg class=\"spark\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
         viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"plays per snapshot\">\
         <polyline points=\"{}\" fill=\"none\" stroke=\"#4e79a7\" stroke-width=\"1.8\"/>\
         <circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#4e79a7\"/></svg>",
        points.join(" "),
        x(last),
        y(values.get(last).copied().unwrap_or(0)),
    )
}

fn change_cell(change: i64) -> String {
    match change {
        0 => "<td class=\"n muted\">±0</td>".to_string(),
        c if c > 0 => format!("<td class=\"n up\">+{c}</td>"),
        c => format!("<td class=\"n down\">−{}</td>", c.unsigned_abs()),
    }
}

/// Counts are never negative; a negative one shows as 0, as in the text tables.
fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn days_label(days: u32) -> String {
    match days {
        0 => "all time".to_string(),
        1 => "the last day".to_string(),
        d => format!("the last {d} days"),
    }
}

/// A window as a column heading: `1 day`, `30 days`, `All time`.
fn short_window(days: u32) -> String {
    match days {
        0 => "All time".to_string(),
        1 => "1 day".to_string(),
        d => format!("{d} days"),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn window_label(days: u32) -> String {
    match days {
        0 => "all-time".to_string(),
        d => format!("{d}-day"),
    }
}

/// A stored `YYYY-MM-DDTHH:MM:SSZ` as `YYYY-MM-DD HH:MM UTC`, short enough for a cell.
fn short_time(utc: &str) -> String {
    match utc.parse::<jiff::Timestamp>() {
        Ok(t) => utc_time(t.as_second()),
        Err(_) => utc.to_string(),
    }
}

fn utc_time(epoch: i64) -> String {
    jiff::Timestamp::from_second(epoch)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| epoch.to_string())
}

/// The moment in the charts' zone, as the charts count days in it.
fn local_time(epoch: i64, tz: &str) -> String {
    let (Ok(t), Ok(zone)) = (
        jiff::Timestamp::from_second(epoch),
        jiff::tz::TimeZone::get(tz),
    ) else {
        return utc_time(epoch);
    };
    t.to_zoned(zone).strftime("%Y-%m-%d %H:%M %Z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crosswatch_contract::payload;

    fn row(
        collection: &str,
        window: u32,
        plays: i64,
        at: &str,
        rotation: Option<&str>,
    ) -> SnapshotRow {
        payload::from_value(json!({
            "id": 1, "collection": collection, "library": "Movies", "section_id": 1,
            "rating_key": collection.len(), "window_days": window, "plays": plays,
            "watch_seconds": plays * 3600, "unique_users": 2, "items_with_plays": 1,
            "total_items": 4, "collected_at": at, "rotation": rotation,
        }))
        .unwrap()
    }

    fn chart(kind: &str, data: Vec<u64>) -> Value {
        let categories: Vec<String> = (0..data.len())
            .map(|i| format!("2026-11-{:02}", i + 1))
            .collect();
        json!({"kind": kind, "title": format!("{kind} title"), "x_label": "Date", "y_label": "Plays",
            "categories": categories,
            "series": [{"name": "TV", "data": data.clone()}, {"name": "Total", "data": data}],
            "timezone": "Europe/Berlin", "window": {"now": 1_795_305_600, "days": 30}, "notes": []})
    }

    fn data() -> ReportData {
        let old = "2026-11-20T00:00:00Z";
        let new = "2026-11-22T00:00:00Z";
        let diff: DiffRow = payload::from_value(json!({
            "collection": "Tom & Jerry <3", "library": "Movies", "section_id": 1, "rating_key": 14,
            "window_days": 30, "from": old, "to": new, "plays_from": 3, "plays_to": 5,
            "plays_change": 2, "watch_seconds_from": 0, "watch_seconds_to": 7200,
            "watch_seconds_change": 7200, "unique_users_from": 1, "unique_users_to": 2,
            "unique_users_change": 1, "items_with_plays_change": 0, "total_items_change": 0,
        }))
        .unwrap();
        ReportData {
            now: 1_795_305_600,
            days: 30,
            window: 30,
            charts: vec![
                chart("plays-by-date", vec![1, 0, 2]),
                chart("top-users", vec![]),
            ],
            latest: vec![
                row("Tom & Jerry <3", 30, 5, new, None),
                row("Tom & Jerry <3", 0, 9, new, None),
            ],
            top: vec![row("Tom & Jerry <3", 30, 5, new, None)],
            trends: vec![Trend {
                collection: "Tom & Jerry <3".into(),
                library: "Movies".into(),
                rows: vec![
                    row("Tom & Jerry <3", 30, 3, old, None),
                    row("Tom & Jerry <3", 30, 5, new, None),
                ],
            }],
            rotations: vec![
                RotationView {
                    name: "spring".into(),
                    first: new.into(),
                    latest: new.into(),
                    comparison: Ok(vec![diff]),
                },
                RotationView {
                    name: "first".into(),
                    first: old.into(),
                    latest: old.into(),
                    comparison: Err("no collect before".into()),
                },
            ],
        }
    }

    #[test]
    fn a_report_has_every_part_and_escapes_names() {
        let html = render(&data()).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<strong id=\"timezone\">Europe/Berlin</strong>"));
        assert!(
            html.contains("the last 30 days</strong>, up to 2026-11-22 01:00 CET"),
            "{html}"
        );
        assert_eq!(html.matches("<figure class=\"card chart\"").count(), 2);
        assert!(
            !html.contains("<?xml"),
            "inline SVG carries no XML declaration"
        );
        assert!(html.contains("Tom &amp; Jerry &lt;3"));
        assert!(!html.contains("Jerry <3"));
        for id in ["latest-table", "top-table", "trend-table"] {
            assert!(html.contains(&format!("<table id=\"{id}\">")), "{id}");
        }
        assert!(html.contains("<th class=\"n\">30 days</th><th class=\"n\">All time</th>"));
        assert!(html.contains("<td class=\"n up\">+2</td>"));
        assert!(html.contains("<h3>spring</h3>"));
        assert!(html.contains("no collect before"));
        assert!(html.contains("class=\"spark\""));
        // The empty top-users chart says so.
        assert!(html.contains("No plays in this window"));
        // Self-contained: nothing fetched, nothing run.
        for banned in [
            "<script", "<link", "<img", "src=", "url(", "@import", "https:",
        ] {
            assert!(!html.contains(banned), "{banned}");
        }
    }

    #[test]
    fn a_duration_chart_has_its_own_figure_in_hours_and_minutes() {
        let mut d = data();
        let mut watch = chart("plays-by-date", vec![3600, 0, 12_000]);
        watch["y_axis"] = json!("duration");
        watch["title"] = json!("Watch time by date");
        d.charts.insert(1, watch);
        let html = render(&d).unwrap();
        assert_eq!(html.matches("<figure class=\"card chart\"").count(), 3);
        let plays = html.split("id=\"chart-plays-by-date\">").nth(1).unwrap();
        let watch = html
            .split("id=\"chart-plays-by-date-duration\">")
            .nth(1)
            .unwrap();
        let watch = &watch[..watch.find("</figure>").unwrap()];
        assert!(plays.find("</figure>") < plays.find("Watch time by date"));
        assert!(watch.contains("Total 3h 20m</title>"), "{watch}");
        assert!(!watch.contains("12000"), "{watch}");
        assert!(has_duration("top-users") && !has_duration("concurrency"));
    }

    #[test]
    fn empty_stores_say_what_to_run() {
        let html = render(&ReportData {
            latest: vec![],
            top: vec![],
            trends: vec![],
            rotations: vec![],
            ..data()
        })
        .unwrap();
        assert!(html.contains("No snapshots yet: run <code>host-sim analytics collect</code>"));
        assert!(html.contains("No rotations recorded"));
    }

    #[test]
    fn a_bad_chart_is_an_error_not_a_broken_page() {
        let mut d = data();
        d.charts.push(json!({"title": "x"}));
        assert!(render(&d).is_err());
    }
}
