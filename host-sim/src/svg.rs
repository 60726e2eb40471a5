//! SVG rendering of an analytics chart, so a person can open the picture in any browser.
//!
//! host-sim gets the chart as JSON from the plugin (it cannot link the plugin), so this
//! module reads a local mirror of the plugin's `Chart`. Hand-written SVG, no crate: grouped
//! or stacked bars for the type series, the sum series ("Total", or "Max. Concurrent
//! Streams") drawn distinctly as a dark line with markers over them. Type bars are stacked
//! only when the sum series really is their sum (plays); for concurrency, whose maximum is
//! not a sum, they stand side by side, or become lines when there are too many to read.
//! A chart on the duration axis (`y_axis: "duration"`, seconds watched) is labelled in
//! hours and minutes (`3h 20m`), its axis stepped in round durations, never raw seconds.

use std::fmt::Write as _;

use serde::Deserialize;

/// The plugin's `analytics::chart::Chart`, as far as drawing needs it.
#[derive(Debug, Deserialize)]
struct ChartData {
    #[serde(default)]
    kind: String,
    title: String,
    #[serde(default)]
    x_label: String,
    #[serde(default)]
    y_label: String,
    categories: Vec<String>,
    series: Vec<SeriesData>,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    window: Option<WindowData>,
    #[serde(default)]
    notes: Vec<String>,
    /// `plays` (also when absent) or `duration`: seconds watched.
    #[serde(default)]
    y_axis: String,
}

impl ChartData {
    fn is_duration(&self) -> bool {
        self.y_axis == "duration"
    }

    /// A value as people read it: a count, or a duration.
    fn value_label(&self, v: u64) -> String {
        if self.is_duration() {
            duration_label(v)
        } else {
            v.to_string()
        }
    }
}

#[derive(Debug, Deserialize)]
struct SeriesData {
    name: String,
    data: Vec<u64>,
}

#[derive(Debug, Deserialize)]
struct WindowData {
    #[serde(default)]
    days: u32,
}

/// Names of the series that sum up (or, for concurrency, top) the others.
const SUM_SERIES: [&str; 2] = ["Total", "Max. Concurrent Streams"];

/// Colours of the type series (colour-blind friendly "Tableau 10"); the sum series is dark.
const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
];
const SUM_COLOUR: &str = "#222222";

const LEFT: f64 = 80.0;
const TOP: f64 = 75.0;
const PLOT_WIDTH: f64 = 720.0;
const PLOT_HEIGHT: f64 = 320.0;
/// Approximate advance of one character of the 11 px tick-label font.
const CHAR_WIDTH: f64 = 6.3;
/// Approximate advance of one character of the 12 px bold legend font.
const LEGEND_CHAR_WIDTH: f64 = 7.4;
/// Horizontal distance needed between turned category labels.
const MIN_TURNED_SLOT: f64 = 20.0;
/// Tick labels longer than this are shortened with an ellipsis.
const MAX_LABEL_CHARS: usize = 18;
/// Legend names longer than this are shortened with an ellipsis.
const MAX_LEGEND_CHARS: usize = 32;
/// Above this many bars in a grouped layout, the type series are drawn as lines.
const MAX_GROUPED_BARS: usize = 160;
/// Above this many days, a stacked per-day chart shows weeks instead.
const MAX_DAILY_BARS: usize = 120;
/// Side-by-side bars of a long per-day chart (concurrency) once drawn as periods: fewer
/// than [`MAX_GROUPED_BARS`], so each bar is wide enough to show its colour.
const MAX_PERIOD_GROUPED_BARS: usize = 90;
/// Horizontal distance between turned category labels once not every one is shown: room
/// to breathe, so a long chart's dates read as a calendar, not a fringe.
const MIN_THINNED_SLOT: f64 = 36.0;

/// Renders a chart (the plugin's chart JSON) as a standalone SVG document.
pub fn render(chart: &serde_json::Value) -> Result<String, String> {
    let chart = ChartData::deserialize(chart).map_err(|e| {
        format!("not an analytics chart: {e}: expected the JSON of `analytics chart --json`")
    })?;
    for s in &chart.series {
        if s.data.len() != chart.categories.len() {
            return Err(format!(
                "series {:?} has {} values for {} categories: the chart JSON is inconsistent",
                s.name,
                s.data.len(),
                chart.categories.len()
            ));
        }
    }
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
        draw(&periods(chart))
    ))
}

/// The same picture as [`render`] without the XML declaration, to sit inline in an HTML page.
pub fn render_inline(chart: &serde_json::Value) -> Result<String, String> {
    let doc = render(chart)?;
    Ok(doc
        .split_once('\n')
        .map_or(doc.clone(), |(_, svg)| svg.to_string()))
}

/// How the type series are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Stacked,
    Grouped,
    Lines,
}

/// Splits the series into the type series and the sum series (the last one named in
/// [`SUM_SERIES`]).
fn split_sum(chart: &ChartData) -> (Vec<(usize, &SeriesData)>, Option<&SeriesData>) {
    let sum_index = chart
        .series
        .iter()
        .rposition(|s| SUM_SERIES.contains(&s.name.as_str()));
    let parts = chart
        .series
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != sum_index)
        .collect();
    (parts, sum_index.map(|i| &chart.series[i]))
}

/// Whether the sum series really is the sum of the others on every category (plays), rather
/// than something else such as a peak (concurrency).
fn sum_is_total(chart: &ChartData) -> bool {
    let (parts, sum) = split_sum(chart);
    sum.is_some_and(|total| {
        (0..chart.categories.len())
            .all(|c| total.data[c] == parts.iter().map(|(_, s)| s.data[c]).sum::<u64>())
    })
}

/// `YYYY-MM-DD`: the categories of the per-day charts.
fn is_date(label: &str) -> bool {
    let b = label.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// A per-day chart with more days than bars can show side by side becomes one of weeks (or
/// of several weeks): 365 thin bars, or three tangled lines per day, read as noise. Totals
/// add up over a period; anything else (the peak of concurrent streams) takes the period's
/// highest day. Periods end on the last day, so the newest bar is a whole week; each is
/// labelled with its first day.
fn periods(chart: ChartData) -> ChartData {
    let n = chart.categories.len();
    if n == 0 || !chart.categories.iter().all(|c| is_date(c)) {
        return chart;
    }
    let adds_up = sum_is_total(&chart);
    let parts = split_sum(&chart).0.len().max(1);
    let bars = |days: usize| {
        let periods = n.div_ceil(days);
        if adds_up {
            periods
        } else {
            periods * parts
        }
    };
    let (daily_limit, period_limit) = if adds_up {
        (MAX_DAILY_BARS, MAX_DAILY_BARS)
    } else {
        (MAX_GROUPED_BARS, MAX_PERIOD_GROUPED_BARS)
    };
    if bars(1) <= daily_limit {
        return chart;
    }
    let mut days = 7;
    while bars(days) > period_limit {
        days += 7;
    }
    // Period k covers days [start_k, end_k); the first one takes the remainder.
    let first = n - (n.div_ceil(days) - 1) * days;
    let bounds: Vec<(usize, usize)> = std::iter::once((0, first))
        .chain((first..n).step_by(days).map(|s| (s, s + days)))
        .collect();
    let fold = |data: &[u64]| -> Vec<u64> {
        bounds
            .iter()
            .map(|&(a, b)| {
                let days = data[a..b].iter().copied();
                if adds_up {
                    days.sum()
                } else {
                    days.max().unwrap_or(0)
                }
            })
            .collect()
    };
    let (what, plural) = if days == 7 {
        ("one week".to_string(), "weeks".to_string())
    } else {
        let w = days / 7;
        (format!("{w} weeks"), format!("periods of {w} weeks"))
    };
    let mut notes = vec![format!(
        "each bar is {what} (labelled with its first day; the oldest may be shorter){}",
        if adds_up && chart.is_duration() {
            ": the watch time of its days added up"
        } else if adds_up {
            ": the plays of its days added up"
        } else {
            ": the highest of its days"
        }
    )];
    notes.extend(chart.notes);
    ChartData {
        x_label: format!(
            "{} ({plural})",
            if chart.x_label.is_empty() {
                "Date"
            } else {
                &chart.x_label
            }
        ),
        categories: bounds
            .iter()
            .map(|&(a, _)| chart.categories[a].clone())
            .collect(),
        series: chart
            .series
            .into_iter()
            .map(|s| SeriesData {
                data: fold(&s.data),
                name: s.name,
            })
            .collect(),
        notes,
        ..chart
    }
}

fn draw(chart: &ChartData) -> String {
    let n = chart.categories.len();
    let (parts, sum) = split_sum(chart);
    let is_sum = sum_is_total(chart);
    let layout = if is_sum && !parts.is_empty() {
        Layout::Stacked
    } else if n * parts.len().max(1) <= MAX_GROUPED_BARS {
        Layout::Grouped
    } else {
        Layout::Lines
    };
    let max_value = chart
        .series
        .iter()
        .flat_map(|s| s.data.iter().copied())
        .max()
        .unwrap_or(0);
    let (y_top, y_step) = if chart.is_duration() {
        nice_duration_scale(max_value)
    } else {
        nice_scale(max_value)
    };

    let labels = XLabels::new(&chart.categories);
    // The legend column is as wide as its longest name, so no name is cut off.
    let legend_chars = chart
        .series
        .iter()
        .map(|s| shorten_to(&s.name, MAX_LEGEND_CHARS).chars().count())
        .max()
        .unwrap_or(0);
    let width = (LEFT + PLOT_WIDTH + 60.0 + legend_chars as f64 * LEGEND_CHAR_WIDTH).max(1000.0);
    // Top users/platforms have no order between categories: no line joins their totals.
    let ordered = !matches!(chart.kind.as_str(), "top-users" | "top-platforms");
    let plot_bottom = TOP + PLOT_HEIGHT;
    let x_label_y = plot_bottom + labels.height + 22.0;
    let notes_y = x_label_y + 26.0;
    let height = notes_y + 16.0 * chart.notes.len() as f64 + 10.0;

    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" \
         font-family=\"Helvetica, Arial, sans-serif\">\n\
         <title>{title}</title>\n\
         <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n",
        w = fmt(width),
        h = fmt(height),
        title = esc(&chart.title),
    );

    // Title and what the numbers are relative to.
    let _ = writeln!(
        out,
        "<text x=\"{LEFT}\" y=\"32\" font-size=\"20\" font-weight=\"bold\" fill=\"#111111\">{}</text>",
        esc(&chart.title)
    );
    let mut subtitle = Vec::new();
    if !chart.timezone.is_empty() {
        subtitle.push(format!("Time zone: {}", chart.timezone));
    }
    if let Some(w) = &chart.window {
        subtitle.push(match w.days {
            0 => "all time".to_string(),
            1 => "last day".to_string(),
            d => format!("last {d} days"),
        });
    }
    if !subtitle.is_empty() {
        let _ = writeln!(
            out,
            "<text x=\"{LEFT}\" y=\"54\" font-size=\"13\" fill=\"#555555\">{}</text>",
            esc(&subtitle.join(" · "))
        );
    }

    // Value axis: grid lines and tick labels.
    let y_of = |v: u64| plot_bottom - PLOT_HEIGHT * v as f64 / y_top as f64;
    out.push_str("<g class=\"y-axis\" font-size=\"11\" fill=\"#444444\">\n");
    let mut tick = 0;
    while tick <= y_top {
        let y = fmt(y_of(tick));
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{}\" stroke-width=\"1\"/>\
             <text x=\"{}\" y=\"{y}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>",
            LEFT + PLOT_WIDTH,
            if tick == 0 { "#888888" } else { "#e4e4e4" },
            LEFT - 8.0,
            chart.value_label(tick),
        );
        tick += y_step;
    }
    out.push_str("</g>\n");
    let _ = writeln!(
        out,
        "<text x=\"22\" y=\"{cy}\" font-size=\"13\" fill=\"#333333\" text-anchor=\"middle\" \
         transform=\"rotate(-90 22 {cy})\">{}</text>",
        // The data are seconds, but the axis reads in hours and minutes.
        esc(if chart.is_duration() {
            "Time watched"
        } else {
            &chart.y_label
        }),
        cy = fmt(TOP + PLOT_HEIGHT / 2.0),
    );

    // Categories: labels, then the data.
    let slot = if n == 0 {
        PLOT_WIDTH
    } else {
        PLOT_WIDTH / n as f64
    };
    let x_mid = |c: usize| LEFT + slot * (c as f64 + 0.5);
    out.push_str("<g class=\"x-axis\" font-size=\"11\" fill=\"#444444\">\n");
    for (c, label) in chart.categories.iter().enumerate() {
        // Counted back from the newest category, so the last day is always labelled.
        if !(n - 1 - c).is_multiple_of(labels.step) {
            continue;
        }
        let x = fmt(x_mid(c));
        let y = fmt(plot_bottom + 16.0);
        if labels.rotated {
            let _ = writeln!(
                out,
                "<text class=\"category\" x=\"{x}\" y=\"{y}\" text-anchor=\"end\" \
                 transform=\"rotate(-45 {x} {y})\">{}</text>",
                esc(&shorten(label))
            );
        } else {
            let _ = writeln!(
                out,
                "<text class=\"category\" x=\"{x}\" y=\"{y}\" text-anchor=\"middle\">{}</text>",
                esc(&shorten(label))
            );
        }
    }
    out.push_str("</g>\n");
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" font-size=\"13\" fill=\"#333333\" text-anchor=\"middle\">{}</text>",
        fmt(LEFT + PLOT_WIDTH / 2.0),
        fmt(x_label_y),
        esc(&chart.x_label)
    );

    if max_value == 0 {
        let _ = writeln!(
            out,
            "<text class=\"empty\" x=\"{}\" y=\"{}\" font-size=\"15\" fill=\"#777777\" text-anchor=\"middle\">No plays in this window</text>",
            fmt(LEFT + PLOT_WIDTH / 2.0),
            fmt(TOP + PLOT_HEIGHT / 2.0)
        );
    }

    let colour = |part: usize| PALETTE[part % PALETTE.len()];
    match layout {
        Layout::Stacked => {
            out.push_str("<g class=\"bars stacked\">\n");
            let width = (slot * 0.7).max(0.5);
            for c in 0..n {
                let mut base = 0u64;
                for (p, (_, s)) in parts.iter().enumerate() {
                    let v = s.data[c];
                    if v == 0 {
                        continue;
                    }
                    let (y0, y1) = (y_of(base + v), y_of(base));
                    bar(
                        &mut out,
                        x_mid(c) - width / 2.0,
                        y0,
                        width,
                        y1 - y0,
                        colour(p),
                        &format!(
                            "{}: {} {}",
                            chart.categories[c],
                            s.name,
                            chart.value_label(v)
                        ),
                    );
                    base += v;
                }
            }
            out.push_str("</g>\n");
        }
        Layout::Grouped => {
            out.push_str("<g class=\"bars grouped\">\n");
            let group = slot * 0.8;
            let width = (group / parts.len().max(1) as f64).max(0.5);
            for c in 0..n {
                for (p, (_, s)) in parts.iter().enumerate() {
                    let v = s.data[c];
                    if v == 0 {
                        continue;
                    }
                    let x = x_mid(c) - group / 2.0 + width * p as f64;
                    bar(
                        &mut out,
                        x,
                        y_of(v),
                        width,
                        y_of(0) - y_of(v),
                        colour(p),
                        &format!(
                            "{}: {} {}",
                            chart.categories[c],
                            s.name,
                            chart.value_label(v)
                        ),
                    );
                }
            }
            out.push_str("</g>\n");
        }
        Layout::Lines => {
            out.push_str("<g class=\"lines\">\n");
            for (p, (_, s)) in parts.iter().enumerate() {
                polyline(&mut out, &s.data, &x_mid, &y_of, colour(p), 1.5);
            }
            out.push_str("</g>\n");
        }
    }
    if let Some(total) = sum.filter(|_| max_value > 0) {
        out.push_str("<g class=\"sum\">\n");
        let markers = (n <= 62).then_some(chart.categories.as_slice());
        if ordered || markers.is_none() {
            polyline(&mut out, &total.data, &x_mid, &y_of, SUM_COLOUR, 2.5);
        }
        if let Some(categories) = markers {
            for (c, &v) in total.data.iter().enumerate() {
                let (x, y) = (fmt(x_mid(c)), fmt(y_of(v)));
                let _ = writeln!(
                    out,
                    "<circle cx=\"{x}\" cy=\"{y}\" r=\"3.5\" fill=\"#ffffff\" stroke=\"{SUM_COLOUR}\" \
                     stroke-width=\"1.5\"><title>{}</title></circle>",
                    esc(&format!(
                        "{}: {} {}",
                        categories[c],
                        total.name,
                        chart.value_label(v)
                    ))
                );
                if !ordered {
                    let _ = writeln!(
                        out,
                        "<text x=\"{x}\" y=\"{}\" font-size=\"12\" font-weight=\"bold\" \
                         fill=\"{SUM_COLOUR}\" text-anchor=\"middle\">{}</text>",
                        fmt(y_of(v) - 9.0),
                        chart.value_label(v)
                    );
                }
            }
        }
        out.push_str("</g>\n");
    }
    // Plot frame's left edge over the bars.
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{}\" stroke=\"#888888\" stroke-width=\"1\"/>",
        fmt(plot_bottom)
    );

    // Legend: type series as swatches, the sum series as a line with a marker.
    let legend_x = LEFT + PLOT_WIDTH + 24.0;
    out.push_str("<g class=\"legend\" font-size=\"12\" fill=\"#222222\">\n");
    let mut y = TOP + 6.0;
    for (p, (_, s)) in parts.iter().enumerate() {
        if layout == Layout::Lines {
            let _ = write!(
                out,
                "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"/>",
                fmt(legend_x),
                fmt(y + 6.0),
                fmt(legend_x + 14.0),
                fmt(y + 6.0),
                colour(p)
            );
        } else {
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/>",
                fmt(legend_x),
                fmt(y),
                colour(p)
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" dominant-baseline=\"middle\">{}</text>",
            fmt(legend_x + 20.0),
            fmt(y + 6.0),
            esc(&shorten_to(&s.name, MAX_LEGEND_CHARS))
        );
        y += 20.0;
    }
    if let Some(total) = sum {
        let _ = writeln!(
            out,
            "<line x1=\"{x0}\" y1=\"{ly}\" x2=\"{x1}\" y2=\"{ly}\" stroke=\"{SUM_COLOUR}\" stroke-width=\"2.5\"/>\
             <circle cx=\"{cx}\" cy=\"{ly}\" r=\"3\" fill=\"#ffffff\" stroke=\"{SUM_COLOUR}\" stroke-width=\"1.5\"/>\
             <text x=\"{tx}\" y=\"{ly}\" dominant-baseline=\"middle\" font-weight=\"bold\">{}</text>",
            esc(&shorten_to(&total.name, MAX_LEGEND_CHARS)),
            x0 = fmt(legend_x - 2.0),
            x1 = fmt(legend_x + 14.0),
            cx = fmt(legend_x + 6.0),
            ly = fmt(y + 6.0),
            tx = fmt(legend_x + 20.0),
        );
    }
    out.push_str("</g>\n");

    if !chart.notes.is_empty() {
        out.push_str("<g class=\"notes\" font-size=\"11\" fill=\"#666666\">\n");
        for (i, note) in chart.notes.iter().enumerate() {
            let _ = writeln!(
                out,
                "<text x=\"{LEFT}\" y=\"{}\">Note: {}</text>",
                fmt(notes_y + 16.0 * i as f64),
                esc(note)
            );
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
    out
}

fn bar(out: &mut String, x: f64, y: f64, w: f64, h: f64, fill: &str, tip: &str) {
    let _ = writeln!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\"><title>{}</title></rect>",
        fmt(x),
        fmt(y),
        fmt(w),
        fmt(h),
        esc(tip)
    );
}

/// A line through the category centres.
fn polyline(
    out: &mut String,
    data: &[u64],
    x_mid: &dyn Fn(usize) -> f64,
    y_of: &dyn Fn(u64) -> f64,
    colour: &str,
    width: f64,
) {
    if data.is_empty() {
        return;
    }
    let points: Vec<String> = data
        .iter()
        .enumerate()
        .map(|(c, &v)| format!("{},{}", fmt(x_mid(c)), fmt(y_of(v))))
        .collect();
    let _ = writeln!(
        out,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\" \
         stroke-linejoin=\"round\"/>",
        points.join(" ")
    );
}

/// Where and how the category labels go: horizontal when they fit their slot, else turned
/// 45 degrees, and only every `step`-th one when even that would overlap.
struct XLabels {
    rotated: bool,
    step: usize,
    /// Vertical room the labels take below the plot.
    height: f64,
}

impl XLabels {
    fn new(categories: &[String]) -> XLabels {
        let n = categories.len().max(1);
        let slot = PLOT_WIDTH / n as f64;
        let longest = categories
            .iter()
            .map(|c| shorten(c).chars().count())
            .max()
            .unwrap_or(0) as f64;
        let text_width = longest * CHAR_WIDTH;
        if text_width + 8.0 <= slot {
            return XLabels {
                rotated: false,
                step: 1,
                height: 18.0,
            };
        }
        // Turned 45 degrees, labels `slot` apart are `slot / sqrt 2` apart across their
        // baselines: keep that above the 11 px font plus a gap (a slot of 20 px).
        let mut step = (MIN_TURNED_SLOT / slot).ceil().max(1.0) as usize;
        if step > 1 {
            step = (MIN_THINNED_SLOT / slot).ceil() as usize;
            // Days: every week (or every few weeks), so the labels fall on one weekday.
            if consecutive_days(categories) {
                step = step.div_ceil(7) * 7;
            }
        }
        XLabels {
            rotated: true,
            step,
            height: 14.0 + text_width * std::f64::consts::FRAC_1_SQRT_2,
        }
    }
}

/// Whether the categories are one per day, day after day.
fn consecutive_days(categories: &[String]) -> bool {
    let days: Option<Vec<jiff::civil::Date>> = categories
        .iter()
        .map(|c| c.parse().ok().filter(|_| is_date(c)))
        .collect();
    days.is_some_and(|d| {
        d.len() > 1
            && d.windows(2)
                .all(|w| w[0].tomorrow().is_ok_and(|next| next == w[1]))
    })
}

/// A y axis from 0 to a round number at or above `max`, with about five integer steps
/// (counts have no fractions): returns (top, step).
fn nice_scale(max: u64) -> (u64, u64) {
    if max == 0 {
        return (1, 1);
    }
    let raw = max as f64 / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * magnitude);
    let step = (step.round() as u64).max(1);
    (max.div_ceil(step) * step, step)
}

/// Round durations a watch-time axis steps by, in seconds: minutes, hours, days.
const DURATION_STEPS: [u64; 14] = [
    60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 432_000, 864_000,
];

/// [`nice_scale`] for seconds watched: about five steps of a round duration (see
/// [`DURATION_STEPS`]; past ten days, a round number of ten-day steps).
fn nice_duration_scale(max: u64) -> (u64, u64) {
    if max == 0 {
        return (3600, 3600);
    }
    let raw = max.div_ceil(5);
    let step = DURATION_STEPS
        .iter()
        .copied()
        .find(|&s| s >= raw)
        .unwrap_or_else(|| {
            // 10, 20, 50, 100, 200, ... days.
            let units = raw.div_ceil(864_000);
            let mut magnitude = 1;
            loop {
                if let Some(f) = [1, 2, 5].into_iter().find(|f| f * magnitude >= units) {
                    break f * magnitude * 864_000;
                }
                magnitude *= 10;
            }
        });
    (max.div_ceil(step) * step, step)
}

/// Seconds as people read a watch time: `0`, `45s`, `12m`, `3h`, `3h 20m`; whole hours past
/// a hundred (`250h`), where the minutes no longer matter.
pub fn duration_label(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) if s == 0 => "0".to_string(),
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m"),
        (h, _) if h >= 100 => format!("{h}h"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    }
}

fn shorten(label: &str) -> String {
    shorten_to(label, MAX_LABEL_CHARS)
}

fn shorten_to(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

/// Coordinates with one decimal, without a trailing ".0".
fn fmt(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// Escapes text and attribute values for XML and HTML alike (the SVG files and the HTML
/// report share it); control characters and the non-characters XML 1.0 forbids become
/// U+FFFD, so server text can never break the markup.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A small well-formedness check: one root element, balanced and properly nested tags,
    /// quoted attributes, and no raw `<` or stray `&` in text or attribute values.
    fn check_xml(doc: &str) -> Result<(), String> {
        let mut stack: Vec<String> = Vec::new();
        let mut roots = 0;
        let mut rest = doc;
        let check_text = |t: &str| -> Result<(), String> {
            let mut parts = t.split('&');
            parts.next();
            for p in parts {
                let entity = p.split(';').next().unwrap_or("");
                let ok = p.contains(';')
                    && (matches!(entity, "amp" | "lt" | "gt" | "quot" | "apos")
                        || entity.starts_with('#'));
                if !ok {
                    return Err(format!("bad entity in {t:?}"));
                }
            }
            Ok(())
        };
        while let Some(open) = rest.find('<') {
            let text = &rest[..open];
            if !stack.is_empty() {
                check_text(text)?;
            } else if !text.trim().is_empty() {
                return Err(format!("text outside the root: {text:?}"));
            }
            rest = &rest[open..];
            if let Some(after) = rest.strip_prefix("<?") {
                let end = after.find("?>").ok_or("unclosed <?")?;
                rest = &after[end + 2..];
                continue;
            }
            if let Some(after) = rest.strip_prefix("<!--") {
                let end = after.find("-->").ok_or("unclosed comment")?;
                rest = &after[end + 3..];
                continue;
            }
            // Find the tag's end, skipping quoted attribute values.
            let mut quote = None;
            let mut end = None;
            for (i, ch) in rest.char_indices().skip(1) {
                match (quote, ch) {
                    (None, '"' | '\'') => quote = Some(ch),
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), '<') => return Err("raw < in an attribute".to_string()),
                    (None, '<') => return Err("< inside a tag".to_string()),
                    (None, '>') => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.ok_or("unclosed tag")?;
            let tag = &rest[1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let open = stack
                    .pop()
                    .ok_or(format!("</{name}> without an open tag"))?;
                if open != name.trim() {
                    return Err(format!("</{name}> closes <{open}>"));
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name = tag
                .split_whitespace()
                .next()
                .ok_or("empty tag")?
                .to_string();
            // Attributes: name="value" pairs, values checked like text.
            let mut attrs = tag[name.len()..].trim();
            while !attrs.is_empty() {
                let eq = attrs
                    .find('=')
                    .ok_or(format!("attribute without value in <{name}>"))?;
                let q = attrs[eq + 1..].chars().next().ok_or("no quote")?;
                if q != '"' && q != '\'' {
                    return Err(format!("unquoted attribute in <{name}>"));
                }
                let value_end = attrs[eq + 2..].find(q).ok_or("unclosed attribute")? + eq + 2;
                check_text(&attrs[eq + 2..value_end])?;
                attrs = attrs[value_end + 1..].trim_start();
            }
            if stack.is_empty() {
                roots += 1;
            }
            if !self_closing {
                stack.push(name);
            }
        }
        if !rest.trim().is_empty() {
            return Err(format!("trailing text {rest:?}"));
        }
        if !stack.is_empty() {
            return Err(format!("unclosed elements {stack:?}"));
        }
        if roots != 1 {
            return Err(format!("{roots} root elements"));
        }
        Ok(())
    }

    #[test]
    fn the_checker_rejects_broken_xml() {
        assert!(check_xml("<svg><g></g></svg>").is_ok());
        assert!(check_xml("<?xml version=\"1.0\"?>\n<svg a=\"1\"><t>x &amp; y</t></svg>").is_ok());
        assert!(check_xml("<svg><g></svg>").is_err());
        assert!(check_xml("<svg></svg><svg></svg>").is_err());
        assert!(check_xml("<svg><t>a & b</t></svg>").is_err());
        assert!(check_xml("<svg a=1></svg>").is_err());
        assert!(check_xml("<svg a=\"<\"></svg>").is_err());
        assert!(check_xml("<svg>").is_err());
    }

    fn days(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("2026-{:02}-{:02}", 1 + i / 28, 1 + i % 28))
            .collect()
    }

    fn plays_chart(categories: Vec<String>) -> serde_json::Value {
        let n = categories.len();
        let tv: Vec<u64> = (0..n as u64).map(|i| (i * 7) % 5).collect();
        let movies: Vec<u64> = (0..n as u64).map(|i| (i * 3) % 4).collect();
        let total: Vec<u64> = tv.iter().zip(&movies).map(|(a, b)| a + b).collect();
        json!({
            "kind": "plays-by-date",
            "title": "Plays by date (last 30 days)",
            "x_label": "Date",
            "y_label": "Plays",
            "categories": categories,
            "series": [
                {"name": "TV", "data": tv},
                {"name": "Movies", "data": movies},
                {"name": "Total", "data": total},
            ],
            "timezone": "Europe/Berlin",
            "window": {"now": 1795262400, "days": n},
            "notes": ["2 viewings of other media types left out"],
        })
    }

    fn category_labels(svg: &str) -> usize {
        svg.matches("<text class=\"category\"").count()
    }

    #[test]
    fn plays_chart_is_well_formed_with_title_legend_labels_and_stacked_bars() {
        let svg = render(&plays_chart(days(30))).unwrap();
        check_xml(&svg).unwrap();
        assert!(svg.starts_with("<?xml"));
        assert!(
            svg.contains("viewBox=\"0 0 1000 "),
            "a short legend keeps the default width"
        );
        assert!(svg.contains("fill=\"#ffffff\""));
        assert!(svg.contains(">Plays by date (last 30 days)</text>"));
        assert!(svg.contains("Time zone: Europe/Berlin · last 30 days"));
        for legend in [">TV</text>", ">Movies</text>", ">Total</text>"] {
            assert!(svg.contains(legend), "{legend}");
        }
        assert!(svg.contains(">Date</text>"));
        assert!(svg.contains(">Plays</text>"));
        assert!(svg.contains(">2026-01-01</text>"));
        assert!(svg.contains("class=\"bars stacked\""));
        assert!(svg.contains("<g class=\"sum\">"));
        assert!(svg.contains("Note: 2 viewings of other media types left out"));
        // 30 dates do not fit side by side: turned, all labelled.
        assert!(svg.contains("rotate(-45"));
        assert_eq!(category_labels(&svg), 30);
    }

    #[test]
    fn ninety_days_are_labelled_once_a_week_up_to_the_newest() {
        let categories = year(90);
        let newest = categories[89].clone();
        let svg = render(&plays_chart(categories.clone())).unwrap();
        check_xml(&svg).unwrap();
        // 90 days still fit as daily bars.
        assert!(svg.contains("class=\"bars stacked\""));
        assert!(
            svg.contains(&format!(">{newest}</text>")),
            "newest day labelled"
        );
        assert!(
            svg.contains(&format!(">{}</text>", categories[82])),
            "a week before"
        );
        assert!(!svg.contains(&format!(">{}</text>", categories[88])));
        assert_eq!(category_labels(&svg), 13);
    }

    /// Consecutive dates from 2025-11-23 (a year up to 2026-11-22).
    fn year(n: usize) -> Vec<String> {
        let start: jiff::civil::Date = "2025-11-23".parse().unwrap();
        (0..n)
            .map(|i| {
                start
                    .saturating_add(jiff::Span::new().days(i as i64))
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn a_year_of_days_is_drawn_as_weeks_that_add_up() {
        let chart = plays_chart(year(365));
        let total: u64 = chart["series"][2]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum();
        let svg = render(&chart).unwrap();
        check_xml(&svg).unwrap();
        assert!(svg.contains("class=\"bars stacked\""));
        assert!(svg.contains(">Date (weeks)</text>"));
        assert!(svg.contains("Note: each bar is one week (labelled with its first day; the oldest may be shorter): the plays of its days added up"));
        // 365 = 1 + 52 weeks: the first period is the odd day, the last a whole week.
        let markers: Vec<&str> = svg.split("<title>").skip(2).collect();
        assert!(
            svg.contains("<title>2025-11-23: Total "),
            "{}",
            markers.len()
        );
        assert!(svg.contains("<title>2026-11-16: Total "));
        let sum_of_weeks: u64 = svg
            .split("<title>")
            .filter_map(|t| t.split("</title>").next())
            .filter_map(|t| {
                t.split_once(": Total ")
                    .map(|(_, v)| v.parse::<u64>().unwrap())
            })
            .sum();
        assert_eq!(sum_of_weeks, total);
        let labelled = category_labels(&svg);
        assert!((10..=20).contains(&labelled), "{labelled} labels");
        assert!(
            svg.contains(">2026-11-16</text>"),
            "the newest week is labelled"
        );
    }

    #[test]
    fn concurrency_is_grouped_since_its_maximum_is_not_a_sum() {
        let chart = json!({
            "kind": "concurrency",
            "title": "Peak concurrent streams per day (last 3 days)",
            "x_label": "Date", "y_label": "Concurrent streams",
            "categories": ["2026-11-19", "2026-11-20", "2026-11-21"],
            "series": [
                {"name": "Direct Play", "data": [1, 2, 0]},
                {"name": "Direct Stream", "data": [0, 1, 0]},
                {"name": "Transcode", "data": [1, 1, 0]},
                {"name": "Max. Concurrent Streams", "data": [1, 3, 0]},
            ],
            "timezone": "UTC", "window": {"now": 0, "days": 3}, "notes": [],
        });
        let svg = render(&chart).unwrap();
        check_xml(&svg).unwrap();
        assert!(svg.contains("class=\"bars grouped\""));
        assert!(svg.contains(">Max. Concurrent Streams</text>"));
        assert!(svg.contains("2026-11-20: Max. Concurrent Streams 3"));
        assert_eq!(category_labels(&svg), 3);
        // Three short dates fit horizontally.
        assert!(!svg.contains("rotate(-45"));
        // Ticks 0..3 in steps of 1.
        assert!(svg.contains(">3</text>"));
        // The picture is wide enough for the longest legend name.
        let width: f64 = svg
            .split("viewBox=\"0 0 ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|w| w.parse().ok())
            .unwrap();
        let legend_text_x = LEFT + PLOT_WIDTH + 24.0 + 20.0;
        assert!(width >= legend_text_x + 23.0 * LEGEND_CHAR_WIDTH, "{width}");
    }

    #[test]
    fn top_charts_mark_totals_without_joining_them() {
        let chart = json!({
            "kind": "top-users", "title": "Top users", "x_label": "User", "y_label": "Plays",
            "categories": ["bob", "alice"],
            "series": [
                {"name": "TV", "data": [3, 1]},
                {"name": "Movies", "data": [2, 1]},
                {"name": "Total", "data": [5, 2]},
            ],
        });
        let svg = render(&chart).unwrap();
        check_xml(&svg).unwrap();
        let sum = svg.split("<g class=\"sum\">").nth(1).unwrap();
        let sum = &sum[..sum.find("</g>").unwrap()];
        assert!(!sum.contains("<polyline"));
        assert_eq!(sum.matches("<circle").count(), 2);
        assert!(sum.contains(">5</text>") && sum.contains(">2</text>"));
        // Plays by date joins them.
        let svg = render(&plays_chart(days(3))).unwrap();
        let sum = svg.split("<g class=\"sum\">").nth(1).unwrap();
        assert!(sum[..sum.find("</g>").unwrap()].contains("<polyline"));
    }

    #[test]
    fn long_concurrency_shows_each_weeks_peak_as_bars() {
        let n = 90;
        let mut direct = vec![1u64; n];
        direct[89] = 4;
        let chart = json!({
            "kind": "concurrency", "title": "t", "x_label": "Date", "categories": year(n),
            "series": [
                {"name": "Direct Play", "data": direct},
                {"name": "Transcode", "data": vec![2; n]},
                {"name": "Max. Concurrent Streams", "data": vec![3; n]},
            ],
        });
        let svg = render(&chart).unwrap();
        check_xml(&svg).unwrap();
        assert!(svg.contains("class=\"bars grouped\""), "no tangle of lines");
        assert!(svg.contains(
            "each bar is one week (labelled with its first day; the oldest may be shorter): the highest of its days"
        ));
        // 90 days = 6 + 12 weeks; the newest week's peak is its highest day.
        assert!(svg.contains(": Direct Play 4</title>"));
        assert_eq!(svg.matches("Max. Concurrent Streams 3</title>").count(), 13);
    }

    #[test]
    fn many_categories_that_are_not_days_become_lines() {
        let n = 90;
        let chart = json!({
            "title": "t", "categories": (0..n).map(|i| format!("c{i}")).collect::<Vec<_>>(),
            "series": [
                {"name": "Direct Play", "data": vec![1; n]},
                {"name": "Transcode", "data": vec![2; n]},
                {"name": "Max. Concurrent Streams", "data": vec![2; n]},
            ],
        });
        let svg = render(&chart).unwrap();
        check_xml(&svg).unwrap();
        assert!(svg.contains("<g class=\"lines\">"));
        assert_eq!(svg.matches("<polyline").count(), 3);
    }

    #[test]
    fn text_is_escaped() {
        let chart = json!({
            "title": "Top <users> & \"friends\" 'n' co",
            "x_label": "User", "y_label": "Plays",
            "categories": ["<script>", "Tom & Jerry", "\"quoted\"", "bell\u{7}"],
            "series": [
                {"name": "A<&>\"B", "data": [1, 2, 3, 4]},
                {"name": "Total", "data": [1, 2, 3, 4]},
            ],
            "notes": ["x < y & z > w"],
        });
        let svg = render(&chart).unwrap();
        check_xml(&svg).unwrap();
        assert!(svg.contains("Top &lt;users&gt; &amp; &quot;friends&quot; &#39;n&#39; co"));
        assert!(svg.contains(">A&lt;&amp;&gt;&quot;B</text>"));
        assert!(svg.contains(">&lt;script&gt;</text>"));
        assert!(svg.contains(">Tom &amp; Jerry</text>"));
        assert!(svg.contains("bell\u{FFFD}"));
        assert!(svg.contains("x &lt; y &amp; z &gt; w"));
        assert!(!svg.contains("<script>"));
        assert!(!svg.contains("A<&>"));
    }

    #[test]
    fn long_category_names_are_shortened() {
        let long = "A very long platform name that goes on";
        let chart = json!({
            "title": "Top platforms", "categories": [long, "Roku"],
            "series": [{"name": "TV", "data": [3, 1]}, {"name": "Total", "data": [3, 1]}],
        });
        let svg = render(&chart).unwrap();
        check_xml(&svg).unwrap();
        assert!(svg.contains(">A very long platf…</text>"));
        assert!(svg.contains("A very long platform name that goes on: TV 3"));
    }

    #[test]
    fn an_empty_chart_still_draws() {
        let chart = json!({
            "title": "Plays by date (all time)", "x_label": "Date", "y_label": "Plays",
            "categories": [],
            "series": [{"name": "TV", "data": []}, {"name": "Movies", "data": []}, {"name": "Total", "data": []}],
            "timezone": "UTC", "window": {"now": 0, "days": 0}, "notes": [],
        });
        let svg = render(&chart).unwrap();
        check_xml(&svg).unwrap();
        assert!(svg.contains("No plays in this window"));
        assert!(svg.contains("Time zone: UTC · all time"));
        assert!(svg.contains(">Movies</text>"));
    }

    #[test]
    fn a_chart_of_zeros_says_there_were_no_plays() {
        let chart = json!({
            "kind": "plays-by-hour", "title": "Plays by hour", "categories": ["00", "01", "02"],
            "series": [{"name": "TV", "data": [0, 0, 0]}, {"name": "Total", "data": [0, 0, 0]}],
        });
        let svg = render(&chart).unwrap();
        check_xml(&svg).unwrap();
        assert!(svg.contains("No plays in this window"));
        assert!(!svg.contains("<g class=\"sum\">"), "no line along the axis");
        let svg = render(&plays_chart(days(3))).unwrap();
        assert!(!svg.contains("No plays in this window"));
    }

    #[test]
    fn inline_pictures_have_no_xml_declaration() {
        let svg = render_inline(&plays_chart(days(3))).unwrap();
        assert!(svg.starts_with("<svg xmlns="));
        check_xml(&svg).unwrap();
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let err = render(&json!({"title": "x"})).unwrap_err();
        assert!(err.contains("not an analytics chart"), "{err}");
        let err = render(&json!({
            "title": "x", "categories": ["a", "b"],
            "series": [{"name": "TV", "data": [1]}],
        }))
        .unwrap_err();
        assert!(
            err.contains("\"TV\" has 1 values for 2 categories"),
            "{err}"
        );
    }

    #[test]
    fn watch_time_reads_as_hours_and_minutes() {
        assert_eq!(duration_label(0), "0");
        assert_eq!(duration_label(45), "45s");
        assert_eq!(duration_label(12 * 60 + 5), "12m");
        assert_eq!(duration_label(3 * 3600), "3h");
        assert_eq!(duration_label(3 * 3600 + 20 * 60 + 59), "3h 20m");
        assert_eq!(duration_label(250 * 3600 + 60), "250h");
        assert_eq!(nice_duration_scale(0), (3600, 3600));
        assert_eq!(nice_duration_scale(200), (240, 60));
        assert_eq!(nice_duration_scale(3 * 3600 + 1), (4 * 3600, 3600));
        assert_eq!(nice_duration_scale(50 * 3600), (60 * 3600, 43_200));
        let (top, step) = nice_duration_scale(200 * 86_400);
        assert!(top >= 200 * 86_400 && step % 864_000 == 0, "{top} {step}");
        assert!(top / step <= 10);
    }

    #[test]
    fn a_duration_chart_labels_its_axis_and_values_in_hours_and_minutes() {
        let mut chart = plays_chart(days(3));
        chart["y_axis"] = json!("duration");
        chart["title"] = json!("Watch time by date");
        chart["y_label"] = json!("Seconds watched");
        chart["series"] = json!([
            {"name": "Movies", "data": [7200, 0, 12_000]},
            {"name": "TV", "data": [0, 1800, 0]},
            {"name": "Total", "data": [7200, 1800, 12_000]},
        ]);
        let svg = render(&chart).unwrap();
        check_xml(&svg).unwrap();
        let ticks: Vec<&str> = svg
            .split("dominant-baseline=\"middle\">")
            .skip(1)
            .map(|t| &t[..t.find('<').unwrap()])
            .take_while(|t| !t.is_empty() && t.chars().next().unwrap().is_ascii_digit())
            .collect();
        assert_eq!(ticks, ["0", "1h", "2h", "3h", "4h"], "{svg}");
        assert!(
            svg.contains("<title>2026-01-03: Movies 3h 20m</title>"),
            "{svg}"
        );
        assert!(svg.contains("Total 30m</title>"), "{svg}");
        assert!(!svg.contains("12000"), "no raw seconds: {svg}");
        // The axis says what it shows: time, not the seconds the data carry.
        assert!(svg.contains(">Time watched</text>"), "{svg}");
        assert!(!svg.contains("Seconds watched"), "{svg}");
    }

    #[test]
    fn nice_scales() {
        assert_eq!(nice_scale(0), (1, 1));
        assert_eq!(nice_scale(1), (1, 1));
        assert_eq!(nice_scale(3), (3, 1));
        assert_eq!(nice_scale(7), (8, 2));
        assert_eq!(nice_scale(10), (10, 2));
        assert_eq!(nice_scale(23), (25, 5));
        assert_eq!(nice_scale(99), (100, 20));
        assert_eq!(nice_scale(1234), (1500, 500));
    }

    #[test]
    fn bars_stand_on_the_axis_and_scale_with_their_value() {
        let chart = json!({
            "title": "t", "categories": ["a", "b"],
            "series": [{"name": "TV", "data": [2, 4]}, {"name": "Total", "data": [2, 4]}],
        });
        let svg = render(&chart).unwrap();
        // Scale 0..4 (step 1) over 320 px: 2 -> 160 px tall from y=395, 4 -> 320 px.
        assert!(
            svg.contains("y=\"235\" width=\"252\" height=\"160\""),
            "{svg}"
        );
        assert!(
            svg.contains("y=\"75\" width=\"252\" height=\"320\""),
            "{svg}"
        );
    }
}
