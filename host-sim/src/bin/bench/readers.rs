//! `host-sim-bench --readers`: the full index read once per history reader on the same
//! generated history, and what each would cost a real Tautulli next to the least any reader
//! could spend.
//!
//! The fake answers every request in microseconds, so wall times say little about a real
//! server; the cost model's seconds do. A real Tautulli builds a request's whole filtered
//! history before it pages, so `start` paging pays the whole history per page while day
//! windows pay a scan plus their own rows. The floor below prices what no reader can avoid.

use fake_tautulli::{CostModel, Work};
use serde::Serialize;
use serde_json::{json, Value};

use super::table::Shape;
use super::{fmt_opt, Outcome, PhaseResult};

/// The readers `--readers` compares when given no list.
pub const DEFAULT_READERS: &str = "paged:100,paged:1000,paged:10000,windowed";

/// Rows an answer may hold for [`least_cost`]: about what one request of a real Tautulli
/// returns in a few seconds and a few MB.
pub const ANSWER_CAP: usize = 25_000;

/// One reader to compare: how `tautulli.history` is set for its index run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderSpec {
    /// `history.read: paged`, `per_page` rows a page.
    Paged { per_page: u32 },
    /// `history.read: windowed`; no `window_rows`: the plugin's default.
    Windowed { window_rows: Option<u32> },
}

impl ReaderSpec {
    /// Parses `paged:100,paged:1000,windowed,windowed:5000`.
    pub fn parse_list(list: &str) -> Result<Vec<ReaderSpec>, String> {
        let mut out = Vec::new();
        for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let (kind, size) = match word.split_once(':') {
                Some((k, n)) => (k, Some(n)),
                None => (word, None),
            };
            let size = match size.map(|n| n.trim().parse::<u32>()) {
                None => None,
                Some(Ok(n)) if n > 0 => Some(n),
                Some(_) => {
                    return Err(format!(
                        "reader {word:?}: the size must be a positive number"
                    ))
                }
            };
            out.push(match (kind, size) {
                ("paged", Some(per_page)) => ReaderSpec::Paged { per_page },
                ("paged", None) => {
                    return Err(format!(
                        "reader {word:?}: say the page size, e.g. paged:1000"
                    ))
                }
                ("windowed", window_rows) => ReaderSpec::Windowed { window_rows },
                _ => {
                    return Err(format!(
                        "unknown reader {word:?}; expected a comma list like {DEFAULT_READERS} \
                         (windowed:N sets window_rows)"
                    ))
                }
            });
        }
        if out.is_empty() {
            return Err("no reader given".into());
        }
        Ok(out)
    }

    /// How the reader is named in tables and on the command line.
    pub fn label(&self) -> String {
        match *self {
            ReaderSpec::Paged { per_page } => format!("paged:{per_page}"),
            ReaderSpec::Windowed { window_rows: None } => "windowed".into(),
            ReaderSpec::Windowed {
                window_rows: Some(n),
            } => format!("windowed:{n}"),
        }
    }

    /// The `tautulli.history` keys for its run over a table of `plays` sessions. A paged read
    /// may need more pages than the default `max_pages` (5 000): it gets room for them all,
    /// so it is measured whole instead of stopping as incomplete.
    pub fn history(&self, plays: usize) -> Value {
        match *self {
            ReaderSpec::Paged { per_page } => {
                let pages = plays.div_ceil(per_page as usize) + 100;
                json!({"read": "paged", "per_page": per_page, "max_pages": pages.min(1_000_000)})
            }
            ReaderSpec::Windowed { window_rows } => {
                let mut h = json!({"read": "windowed"});
                if let Some(n) = window_rows {
                    h["window_rows"] = json!(n);
                }
                h
            }
        }
    }
}

/// Requests and modelled Tautulli seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cost {
    pub requests: u64,
    pub modelled_s: f64,
}

fn secs(model: &CostModel, work: Work) -> f64 {
    model.cost(&work).as_secs_f64()
}

/// What `start` paging of `rows` rows costs a real Tautulli whose table holds `table`
/// sessions: one request per page (one when empty), each building the whole filtered
/// history, whatever the page's length.
pub fn paged_cost(model: &CostModel, table: usize, rows: usize, per_page: usize) -> Cost {
    let per_page = per_page.max(1);
    let pages = rows.div_ceil(per_page).max(1);
    let modelled_s = (0..pages)
        .map(|i| {
            let returned = rows.saturating_sub(i * per_page).min(per_page);
            secs(
                model,
                Work::History {
                    table,
                    filtered: rows,
                    returned,
                },
            )
        })
        .sum();
    Cost {
        requests: pages as u64,
        modelled_s,
    }
}

/// The least any reader could spend reading `rows` rows from a table of `table` sessions
/// when an answer holds at most `cap` rows: ceil(rows / cap) requests, each paying at least
/// the fixed cost and the scan of the whole table, and every row built and returned once.
pub fn least_cost(model: &CostModel, table: usize, rows: usize, cap: usize) -> Cost {
    let requests = rows.div_ceil(cap.max(1)).max(1);
    // The rows once, with one request's fixed cost and scan; then the other requests' own.
    let all_rows = secs(
        model,
        Work::History {
            table,
            filtered: rows,
            returned: rows,
        },
    );
    let scan = secs(model, Work::Scan { table });
    Cost {
        requests: requests as u64,
        modelled_s: all_rows + (requests - 1) as f64 * scan,
    }
}

/// One reader's index run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReaderResult {
    pub reader: String,
    /// `get_history` requests the fake received.
    pub history_requests: u64,
    /// `get_plays_by_date` requests (the windowed reader's plan).
    pub count_requests: u64,
    /// Modelled Tautulli seconds of the history requests (`get_history` and
    /// `get_plays_by_date`); what the readers differ in. Metadata lookups are the same for
    /// all and are in `run.tautulli_modelled_s`.
    pub history_modelled_s: Option<f64>,
    /// The cost model's figure for a paged reader from the rows read: checks the measured
    /// one, and stands in for it when the run was skipped.
    pub computed: Option<Cost>,
    pub run: PhaseResult,
}

/// Modelled seconds of a run's history requests (`get_history`, `get_plays_by_date`);
/// `None` without the cost model.
fn history_s(run: &PhaseResult) -> Option<f64> {
    run.tautulli_modelled_s.map(|_| {
        ["get_history", "get_plays_by_date"]
            .iter()
            .filter_map(|c| run.tautulli_modelled_by_command.get(*c))
            .fold(0.0, |a, b| a + b)
    })
}

impl ReaderResult {
    pub fn new(spec: ReaderSpec, run: PhaseResult, computed: Option<Cost>) -> ReaderResult {
        let count = |cmd: &str| run.requests.get(cmd).copied().unwrap_or(0);
        let history_modelled_s = history_s(&run);
        ReaderResult {
            reader: spec.label(),
            history_requests: count("get_history"),
            count_requests: count("get_plays_by_date"),
            history_modelled_s,
            computed,
            run,
        }
    }

    /// Measured history seconds of a complete run, else the computed ones (`true`).
    pub fn modelled_s(&self) -> Option<(f64, bool)> {
        match (&self.run.outcome, self.history_modelled_s, self.computed) {
            (Outcome::Ok, Some(s), _) => Some((s, false)),
            (_, _, Some(c)) => Some((c.modelled_s, true)),
            _ => None,
        }
    }
}

/// The incremental re-run, against its targets: few `get_history` requests, none without a
/// day filter (each would cost Tautulli the whole history).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncrementalCheck {
    pub phase: String,
    pub history_requests: u64,
    /// `get_history` requests without `after`, `before` or `start_date`.
    pub unfiltered: Option<u64>,
    pub history_modelled_s: Option<f64>,
}

/// What a bench run measured against the targets of the windowed reader.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Sessions in Tautulli's table: what each history request scans.
    pub table: usize,
    /// Rows of a full read (its `records_filtered`).
    pub rows: Option<u64>,
    pub answer_cap: usize,
    /// The least any reader could spend on those rows ([`least_cost`]).
    pub least: Option<Cost>,
    /// The windowed reader's history seconds (its reader run, else the `index` phase).
    pub windowed_s: Option<f64>,
    pub windowed_vs_least: Option<f64>,
    /// paged:1000's history seconds: its run, else the cost model's figure.
    pub paged_1000_s: Option<f64>,
    pub paged_1000_computed: bool,
    pub paged_1000_vs_windowed: Option<f64>,
    pub incremental: Option<IncrementalCheck>,
    /// The largest peak RSS of a host-sim run (plugin included) with the default reader:
    /// the phases and the `windowed` reader run.
    pub host_peak_rss_kb: Option<u64>,
    /// The largest of any run, and which run it was (a large page size may need more).
    pub largest_rss: Option<(String, u64)>,
}

/// The targets the summary is read against.
const TARGET_PLAYS: usize = 1_000_000;
const WINDOWED_VS_LEAST_MAX: f64 = 1.25;
const PAGED_VS_WINDOWED_MIN: f64 = 20.0;
const INCREMENTAL_REQUESTS_MAX: u64 = 3;
const HOST_RSS_MAX_MB: f64 = 256.0;

impl Summary {
    /// From the reader runs and the phases (without the fake's own row), for a table of
    /// `table` sessions priced by `model`.
    pub fn new(
        model: &CostModel,
        table: usize,
        readers: &[ReaderResult],
        phases: &[PhaseResult],
    ) -> Summary {
        let ok = |r: &&PhaseResult| r.outcome == Outcome::Ok;
        let index_phase = phases
            .iter()
            .filter(ok)
            .find(|r| r.phase == "index" && r.reader.as_deref() == Some("windowed"));
        let rows = super::history_rows(readers.iter().map(|r| &r.run).chain(index_phase));
        let least = rows.map(|n| least_cost(model, table, n as usize, ANSWER_CAP));
        let windowed = |default_only: bool| {
            readers.iter().find(|r| {
                r.run.outcome == Outcome::Ok
                    && r.run.reader.as_deref() == Some("windowed")
                    && (!default_only || r.reader == "windowed")
            })
        };
        let windowed_s = windowed(true)
            .or_else(|| windowed(false))
            .and_then(|r| r.history_modelled_s)
            .or_else(|| index_phase.and_then(history_s));
        let measured_1000 = readers
            .iter()
            .find(|r| r.reader == "paged:1000")
            .and_then(ReaderResult::modelled_s);
        let (paged_1000_s, paged_1000_computed) = match (measured_1000, rows) {
            (Some((s, computed)), _) => (Some(s), computed),
            (None, Some(n)) => (
                Some(paged_cost(model, table, n as usize, 1000).modelled_s),
                true,
            ),
            (None, None) => (None, false),
        };
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        let incremental = phases
            .iter()
            .find(|r| r.phase.starts_with("incremental (+"))
            .map(|r| IncrementalCheck {
                phase: r.phase.clone(),
                history_requests: r.requests.get("get_history").copied().unwrap_or(0),
                unfiltered: r.history_unfiltered,
                history_modelled_s: history_s(r),
            });
        Summary {
            table,
            rows,
            answer_cap: ANSWER_CAP,
            least,
            windowed_s,
            windowed_vs_least: ratio(windowed_s, least.map(|c| c.modelled_s)),
            paged_1000_s,
            paged_1000_computed,
            paged_1000_vs_windowed: ratio(paged_1000_s, windowed_s),
            incremental,
            host_peak_rss_kb: readers
                .iter()
                .filter(|r| r.reader == "windowed")
                .map(|r| &r.run)
                .chain(phases)
                .filter_map(|r| r.peak_rss_kb)
                .max(),
            largest_rss: readers
                .iter()
                .map(|r| &r.run)
                .chain(phases)
                .filter_map(|r| Some((r.phase.clone(), r.peak_rss_kb?)))
                .max_by_key(|(_, kb)| *kb),
        }
    }

    /// One line per figure, each with its target and verdict; empty when nothing was
    /// measured.
    pub fn render(&self) -> String {
        let verdict = |met: bool| if met { "met" } else { "MISSED" };
        // The reader targets are set for a history of 1M plays; smaller ones show the ratio.
        let at_1m = |met: bool| {
            if self.table >= TARGET_PLAYS {
                verdict(met)
            } else {
                "set for 1M plays"
            }
        };
        let mut out = String::new();
        if let (Some(least), Some(rows)) = (self.least, self.rows) {
            out += &format!(
                "least any reader could spend, answers capped at {} rows: {} requests, {:.1} \
                 Tautulli s ({rows} rows; every request scans {} sessions)\n",
                self.answer_cap, least.requests, least.modelled_s, self.table
            );
        }
        if let (Some(w), Some(x)) = (self.windowed_s, self.windowed_vs_least) {
            out += &format!(
                "windowed: {w:.1} Tautulli s = {x:.2}x the least (target <= {WINDOWED_VS_LEAST_MAX}x \
                 at 1M plays: {})\n",
                at_1m(x <= WINDOWED_VS_LEAST_MAX)
            );
        }
        if let (Some(p), Some(x)) = (self.paged_1000_s, self.paged_1000_vs_windowed) {
            out += &format!(
                "paged:1000: {p:.1} Tautulli s{} = {x:.1}x windowed (target >= {PAGED_VS_WINDOWED_MIN}x \
                 at 1M plays: {})\n",
                if self.paged_1000_computed {
                    " (computed)"
                } else {
                    ""
                },
                at_1m(x >= PAGED_VS_WINDOWED_MIN)
            );
        }
        if let Some(i) = &self.incremental {
            out += &format!(
                "{}: {} get_history requests (target <= {INCREMENTAL_REQUESTS_MAX}: {}), \
                 unfiltered requests: {} (target 0: {}), {} Tautulli s\n",
                i.phase,
                i.history_requests,
                verdict(i.history_requests <= INCREMENTAL_REQUESTS_MAX),
                fmt_opt(i.unfiltered),
                verdict(i.unfiltered == Some(0)),
                fmt_opt(i.history_modelled_s.map(|s| format!("{s:.1}"))),
            );
        }
        let mb = |kb: u64| kb as f64 / 1024.0;
        if let Some(kb) = self.host_peak_rss_kb {
            out += &format!(
                "peak RSS of host-sim with the default reader: {:.1} MB (target <= {HOST_RSS_MAX_MB} \
                 MB: {})",
                mb(kb),
                verdict(mb(kb) <= HOST_RSS_MAX_MB)
            );
            match &self.largest_rss {
                Some((run, largest)) if *largest > kb => {
                    out += &format!("; largest of any run: {:.1} MB ({run})", mb(*largest));
                }
                _ => {}
            }
            out += "\n";
        }
        out
    }
}

const HEADERS: [&str; 12] = [
    "reader",
    "get_history",
    "get_plays_by_date",
    "windows",
    // Modelled seconds of the history requests only (metadata is the same for every reader).
    "Tautulli s (history)",
    "computed s",
    "Tautulli s (all)",
    "wall s",
    "peak RSS MB",
    "rows",
    "rows/s",
    "note",
];

fn cells(r: &ReaderResult) -> [String; HEADERS.len()] {
    let run = &r.run;
    let ok = run.outcome == Outcome::Ok;
    let history = match r.modelled_s() {
        Some((s, false)) => format!("{s:.1}"),
        Some((s, true)) => format!("{s:.1} (computed)"),
        None => "-".into(),
    };
    let note = match &run.outcome {
        Outcome::Ok => run.note.clone(),
        Outcome::NotAvailable(why) => format!("not available: {why}"),
        Outcome::Failed(why) => format!("FAILED: {why}"),
        Outcome::TimedOut(why) => format!("SKIPPED: {why}"),
    };
    [
        r.reader.clone(),
        r.history_requests.to_string(),
        r.count_requests.to_string(),
        fmt_opt(run.windows.filter(|w| *w > 0)),
        history,
        fmt_opt(r.computed.map(|c| format!("{:.1}", c.modelled_s))),
        fmt_opt(
            run.tautulli_modelled_s
                .filter(|_| ok)
                .map(|s| format!("{s:.1}")),
        ),
        if ok {
            format!("{:.2}", run.wall_s)
        } else {
            format!("> {:.0}", run.wall_s)
        },
        fmt_opt(
            run.peak_rss_kb
                .map(|kb| format!("{:.1}", kb as f64 / 1024.0)),
        ),
        fmt_opt(run.rows),
        fmt_opt(run.rows_per_s().map(|x| format!("{x:.0}"))),
        note,
    ]
}

fn is_numeric(col: usize) -> bool {
    (1..HEADERS.len() - 1).contains(&col)
}

/// The readers as a plain-text table.
pub fn render_table(rows: &[ReaderResult]) -> String {
    let body: Vec<_> = rows.iter().map(cells).collect();
    shape().text(&body)
}

/// The readers as a Markdown table.
pub fn render_markdown_table(rows: &[ReaderResult]) -> String {
    let body: Vec<_> = rows.iter().map(cells).collect();
    shape().markdown(&body)
}

/// The table's columns.
fn shape() -> Shape<'static> {
    Shape {
        headers: &HEADERS,
        numeric: is_numeric,
        free: HEADERS.len() - 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_lists_parse_and_reject_what_they_cannot_run() {
        assert_eq!(
            ReaderSpec::parse_list(DEFAULT_READERS).unwrap(),
            [
                ReaderSpec::Paged { per_page: 100 },
                ReaderSpec::Paged { per_page: 1000 },
                ReaderSpec::Paged { per_page: 10000 },
                ReaderSpec::Windowed { window_rows: None },
            ]
        );
        let w = ReaderSpec::parse_list(" windowed:5000 ,").unwrap();
        assert_eq!(
            w,
            [ReaderSpec::Windowed {
                window_rows: Some(5000)
            }]
        );
        assert_eq!(w[0].label(), "windowed:5000");
        for bad in ["paged", "paged:0", "paged:x", "fast", "", " , "] {
            assert!(ReaderSpec::parse_list(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paged_readers_get_room_for_every_page() {
        let h = ReaderSpec::Paged { per_page: 100 }.history(1_000_000);
        assert_eq!(h["read"], "paged");
        assert_eq!(h["per_page"], 100);
        assert_eq!(h["max_pages"], 10_100);
        let w = ReaderSpec::Windowed { window_rows: None }.history(10);
        assert_eq!(w, json!({"read": "windowed"}));
    }

    #[test]
    fn the_floor_is_a_scan_per_capped_answer_plus_every_row_once() {
        let m = CostModel::tautulli_2_17();
        // 1M sessions, 934 032 rows: 38 requests of 3.355 s, rows at 160 µs.
        let least = least_cost(&m, 1_000_000, 934_032, ANSWER_CAP);
        assert_eq!(least.requests, 38);
        let expect = 38.0 * (0.005 + 3.35) + 934_032.0 * 160e-6;
        assert!((least.modelled_s - expect).abs() < 1e-6, "{least:?}");
        // Nothing to read still takes one request.
        let empty = least_cost(&m, 10, 0, ANSWER_CAP);
        assert_eq!(empty.requests, 1);
        assert!((empty.modelled_s - (0.005 + 10.0 * 3.35e-6)).abs() < 1e-9);
    }

    #[test]
    fn a_page_costs_the_whole_filtered_history() {
        let m = CostModel::tautulli_2_17();
        let c = paged_cost(&m, 200_000, 200_000, 1000);
        assert_eq!(c.requests, 200);
        // Each page: 0.67 s of scan + 7 s of rows built + 0.125 s of rows returned.
        let page = 0.005 + 0.67 + 7.0 + 0.125;
        assert!((c.modelled_s - 200.0 * page).abs() < 1e-6, "{c:?}");
        // A short last page returns fewer rows but builds as many.
        let c = paged_cost(&m, 1500, 1500, 1000);
        assert_eq!(c.requests, 2);
        let base = 0.005 + 1500.0 * (3.35e-6 + 35e-6);
        assert!((c.modelled_s - (2.0 * base + 1500.0 * 125e-6)).abs() < 1e-9);
        assert_eq!(paged_cost(&m, 0, 0, 1000).requests, 1);
    }

    #[test]
    fn skipped_runs_show_their_computed_cost_and_the_table_lines_up() {
        let mut run = PhaseResult::new("index paged:100");
        run.wall_s = 2.0;
        run.rows = Some(1000);
        run.tautulli_modelled_s = Some(50.0);
        run.tautulli_modelled_by_command = [
            ("get_history".to_owned(), 40.0),
            ("get_metadata".to_owned(), 10.0),
        ]
        .into();
        run.requests = [("get_history".to_owned(), 10)].into();
        let computed = Some(Cost {
            requests: 10,
            modelled_s: 40.0,
        });
        let ok = ReaderResult::new(ReaderSpec::Paged { per_page: 100 }, run.clone(), computed);
        assert_eq!(ok.history_modelled_s, Some(40.0));
        assert_eq!(ok.modelled_s(), Some((40.0, false)));
        run.outcome = Outcome::TimedOut("stopped after 600 s".into());
        run.wall_s = 600.0;
        let skipped = ReaderResult::new(ReaderSpec::Paged { per_page: 100 }, run, computed);
        assert_eq!(skipped.modelled_s(), Some((40.0, true)));
        let text = render_table(&[ok, skipped]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[1].ends_with(" 500"), "rows/s: {text}");
        assert!(lines[2].contains("40.0 (computed)"), "{text}");
        assert!(lines[2].contains("SKIPPED: stopped after 600 s"), "{text}");
        assert!(lines[2].contains("> 600"), "{text}");
        let col = lines[0].find("get_history").unwrap() + "get_history".len();
        assert!(
            lines[1..].iter().all(|l| l[..col].ends_with("10")),
            "{text}"
        );
    }
}
