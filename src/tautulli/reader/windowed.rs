//! Reading the history in day windows, one request per window (see [`super::plan`]).
//!
//! A read first asks `get_plays_by_date` for per-day counts and plans windows of about
//! `target` rows. Each window is one `get_history` request with `after`/`before` and a
//! `length` above its expected rows. Nothing is trusted that does not add up:
//! - a window whose `recordsFiltered` is above what came back (it grew past its plan, or the
//!   server caps pages) is read on with `start` inside the window, and a page that brings
//!   nothing new ends the read as incomplete (a server or proxy ignoring `start`);
//! - a window that came back with more rows than it reports (rows deleted meanwhile) makes
//!   the read incomplete;
//! - rows dated far outside their window mean the server ignores the day filters: on the
//!   first window the read falls back to `start` paging of the whole history, later it is
//!   incomplete;
//! - after the last window, the newest window is counted again (one request of one row):
//!   plays that landed during the read are read there, as a paged read's catch-up would.
//!
//! The oldest window is open at the bottom. When it holds more than one request's worth
//! (history older than the counts' horizon, or no counts at all), it is *walked*: the
//! answer's rows dated after its oldest row's day are kept (each is the whole group over
//! every older session, so later parts of it are dropped), and the next request asks for
//! everything up to the day after that row's UTC day, which covers the server-local day in
//! any time zone. Each walk step checks its count against the previous one.
//!
//! An incremental read is one window from the day before the checkpoint's cutoff, open at
//! the top: one request when little is new.

use std::collections::VecDeque;
use std::marker::PhantomData;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::merge::{Merger, Part};
use super::plan::{self, Window};
use crate::error::{Error, Result};
use crate::hash::{FxHashMap, FxHashSet};
use crate::tautulli::reader::{
    HistoryReader, PageRows, PagedRow, Query, ReadOutcome, RowsPage, Since, WindowSource,
    MAX_CATCH_UP_PASSES,
};

type IntMap<V> = FxHashMap<i64, V>;
type IntSet = FxHashSet<i64>;

/// How windows are sized and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowOptions {
    /// Rows a window is planned to hold (`tautulli.history.window_rows`).
    pub target: u64,
    /// Requests per window at most before the read is cut short (`history.max_pages`).
    pub max_pages: u64,
    /// Days of per-day counts asked for.
    pub horizon_days: u32,
    /// Rows are grouped viewings (`grouping=1`): parts split by a boundary are merged, and
    /// a group is known by its `reference_id`. Ungrouped rows are known by their id.
    pub grouped: bool,
}

impl WindowOptions {
    /// The largest `length` asked for: a window's plan plus room, never unbounded.
    fn cap(&self) -> u64 {
        self.target.saturating_mul(2).max(1)
    }
}

/// Where the read is.
enum Phase<S, P: RowsPage> {
    /// Per-day counts not asked yet.
    Plan,
    /// Reading the planned windows.
    Windows,
    /// The windows are read: release what the merger holds.
    Drain,
    /// Count the newest window again, to catch plays that landed during the read.
    Recount,
    /// The whole history by `start` paging (asked for, or the day filters do not work).
    Paged(Box<HistoryReader<S, P>>),
    Done,
}

/// The window being read.
#[derive(Debug)]
struct Current {
    window: Window,
    /// `start` of the next request inside the window.
    start: u64,
    /// Requests made for it.
    pages: u64,
    /// Groups (or ids) received in it, repeats counted once.
    distinct: IntSet,
    /// Rows without an id received in it: part of its `recordsFiltered`, though no group.
    nulls: u64,
    /// Its `recordsFiltered`, as last reported.
    records: Option<u64>,
    /// A re-read of the newest window after the recount found it changed.
    catch_up: bool,
}

impl Current {
    fn new(window: Window) -> Current {
        Current {
            window,
            start: 0,
            pages: 0,
            distinct: IntSet::default(),
            nulls: 0,
            records: None,
            catch_up: false,
        }
    }
}

/// What the walk steps so far left for the next ones.
#[derive(Debug, Default)]
struct Walk {
    /// The first step's `recordsFiltered`: every group up to its last day. Each is kept by
    /// exactly one step, so the steps' kept groups must add up to it.
    records: u64,
    /// Groups kept by a step; later steps drop them (they were whole where they were kept).
    kept: IntSet,
    /// Rows without an id kept by a step: those dated after its cut (a later step, which
    /// sees them again, cannot tell them apart, so it keeps only those up to that cut).
    nulls: u64,
    /// The last step's cut.
    cut: Option<i64>,
}

/// The windowed reader (see the module docs). Yields one page of rows per request.
pub struct WindowedReader<S, P: RowsPage> {
    source: Option<S>,
    page: PhantomData<fn() -> P>,
    opts: WindowOptions,
    per_page: u32,
    since: Option<Since>,
    phase: Phase<S, P>,
    plan: VecDeque<Window>,
    current: Option<Current>,
    /// The newest window and its count once read, for the recount.
    top: Option<(Window, u64)>,
    walk: Option<Walk>,
    merger: Merger<P::Row>,
    /// Group (or id) -> highest `row_id` and newest `date` (`i64::MIN`: none) released.
    released: IntMap<(i64, i64)>,
    outcome: ReadOutcome,
    /// Rows the plan expects in all, for progress.
    planned: u64,
}

impl<S, P> WindowedReader<S, P>
where
    S: WindowSource<P>,
    P: RowsPage,
    P::Row: Part,
{
    /// A windowed read; `per_page` and `opts.max_pages` also drive the paged fallback.
    pub fn new(source: S, opts: WindowOptions, per_page: u32) -> Self {
        Self {
            source: Some(source),
            page: PhantomData,
            opts,
            per_page,
            since: None,
            phase: Phase::Plan,
            plan: VecDeque::new(),
            current: None,
            top: None,
            walk: None,
            merger: Merger::default(),
            released: IntMap::default(),
            outcome: ReadOutcome {
                reader: "windowed",
                ..ReadOutcome::default()
            },
            planned: 0,
        }
    }

    /// Makes this an incremental read from a checkpoint: one window from the day before the
    /// cutoff's UTC day (so the server-local day is covered in any zone), open at the top.
    pub fn since(mut self, since: Since) -> Self {
        self.since = Some(since);
        self.outcome.incremental = true;
        self
    }

    /// True while (and after) the read runs incrementally from a checkpoint.
    pub fn is_incremental(&self) -> bool {
        match &self.phase {
            Phase::Paged(r) => r.is_incremental(),
            _ => self.since.is_some(),
        }
    }

    /// Where the read stands (final once [`Self::next_page`] returned `Ok(None)`).
    pub fn outcome(&self) -> ReadOutcome {
        match &self.phase {
            Phase::Paged(r) => r.outcome(),
            _ => self.outcome.clone(),
        }
    }

    /// The next page of rows; `Ok(None)` once the read has ended (see [`Self::outcome`]).
    /// After an error the read is over and incomplete.
    pub fn next_page(&mut self) -> Result<Option<PageRows<P::Row>>> {
        let result = self.advance();
        if let Err(e) = &result {
            if !matches!(self.phase, Phase::Paged(_) | Phase::Done) {
                self.finish(Some(format!("the read stopped on an error: {e}")));
            }
        }
        result
    }

    fn advance(&mut self) -> Result<Option<PageRows<P::Row>>> {
        loop {
            match &mut self.phase {
                Phase::Done => return Ok(None),
                Phase::Paged(reader) => return reader.next_page(),
                Phase::Plan => {
                    self.make_plan()?;
                    if matches!(self.phase, Phase::Plan) {
                        self.phase = Phase::Windows;
                    }
                    if self.outcome.count_requests > 0 {
                        return Ok(Some(self.progress(Vec::new(), 0, false)));
                    }
                }
                Phase::Windows => {
                    if self.current.is_none() {
                        match self.plan.pop_front() {
                            Some(w) => self.current = Some(Current::new(w)),
                            None => {
                                self.phase = Phase::Drain;
                                continue;
                            }
                        }
                    }
                    return self.read_window().map(Some);
                }
                Phase::Drain => {
                    let rows: Vec<P::Row> = self.merger.drain();
                    let rows = self.release_all(rows, true);
                    self.phase = match self.top {
                        Some(_) if self.outcome.windows > 1 && self.since.is_none() => {
                            Phase::Recount
                        }
                        _ => {
                            self.finish(None);
                            Phase::Done
                        }
                    };
                    if !rows.is_empty() {
                        return Ok(Some(self.progress(rows, 0, false)));
                    }
                }
                Phase::Recount => return self.recount().map(Some),
            }
        }
    }

    fn source(&mut self) -> &mut S {
        self.source
            .as_mut()
            .expect("the source is only given away to the paged fallback")
    }

    /// Asks for per-day counts and plans the windows (or one window for an incremental
    /// read, or a walk when the counts cannot be had).
    fn make_plan(&mut self) -> Result<()> {
        if let Some(since) = self.since {
            let day = utc_day(since.cutoff_date)
                .and_then(|d| d.checked_sub(1.day()).ok())
                .unwrap_or(Date::MIN);
            self.plan.push_back(Window::since(day));
            return Ok(());
        }
        self.outcome.count_requests += 1;
        let horizon = self.opts.horizon_days;
        match self.source().day_counts(horizon) {
            Ok(Some(days)) => {
                self.planned = days.iter().map(|d| d.1).sum();
                self.plan.extend(plan::plan(&days, self.opts.target));
            }
            Ok(None) => {
                self.outcome.count_requests -= 1;
                self.walk_without_counts("this source gives no per-day counts".into());
            }
            Err(e) if gives_up(&e) => return Err(e),
            Err(e) => self.walk_without_counts(format!(
                "get_plays_by_date failed ({e}), so the windows were found by walking the \
                 history"
            )),
        }
        Ok(())
    }

    fn walk_without_counts(&mut self, why: String) {
        self.outcome.reader = "walked";
        self.outcome.reader_fallback = Some(why);
        self.plan.push_back(Window::ALL);
    }

    /// One request for the current window, and what follows from its answer.
    fn read_window(&mut self) -> Result<PageRows<P::Row>> {
        let opts = self.opts;
        let cur = self.current.as_ref().expect("a window is being read");
        let length = if cur.pages == 0 {
            cur.window.length(opts.target, opts.cap())
        } else {
            let left = cur
                .records
                .unwrap_or(0)
                .saturating_sub(cur.distinct.len() as u64 + cur.nulls);
            (left + (left / 8).max(64)).clamp(1, opts.cap())
        };
        let q = query(&cur.window, cur.start, length);
        let first_request = self.outcome.pages == 0;
        let page = match self.source().fetch_query(&q) {
            Ok(p) => p,
            Err(e) if first_request && rejects_days(&e) && q.after.or(q.before).is_some() => {
                return self.fall_back_to_paging(format!(
                    "Tautulli refused the day filters of get_history ({e}), so the history \
                     was read by start paging"
                ));
            }
            Err(e) => return Err(e),
        };
        self.outcome.pages += 1;
        let records = u64::try_from(page.records_filtered()).unwrap_or(0);
        if let Some(t) = page.records_total().and_then(|t| u64::try_from(t).ok()) {
            self.outcome.records_total = Some(t);
        }
        let rows = page.into_rows();
        let n = rows.len() as u64;
        self.outcome.rows_seen += n;

        let cur = self.current.as_mut().expect("a window is being read");
        let window = cur.window;
        if cur.pages == 0 {
            self.outcome.windows += 1;
        }
        cur.pages += 1;
        if outside(&window, &rows) {
            if first_request {
                self.outcome.rows_seen = 0;
                return self.fall_back_to_paging(format!(
                    "Tautulli answered a request for the days {} with rows from other days: \
                     it ignores the day filters, so the history was read by start paging",
                    describe(&window)
                ));
            }
            self.finish(Some(format!(
                "Tautulli answered a request for the days {} with rows from other days: it \
                 ignores the day filters now; run the read again (or set \
                 tautulli.history.read to \"paged\")",
                describe(&window)
            )));
            return Ok(self.progress(Vec::new(), q.start, false));
        }
        if let Some(before) = cur.records {
            if records < before {
                let reason = format!(
                    "Tautulli's row count for the days {} shrank from {before} to {records} \
                     during the read: rows deleted meanwhile shift later rows past a page \
                     boundary; run the read again",
                    describe(&window)
                );
                self.finish(Some(reason));
                return Ok(self.progress(Vec::new(), q.start, false));
            }
        }
        cur.records = Some(records);

        // An open-bottom window holding more than one request's worth is walked.
        let walk_cut = if window.after.is_none() && cur.pages == 1 && records > n && n >= length {
            rows.iter()
                .filter_map(|r| r.date())
                .min()
                .and_then(|cut| utc_day(cut).map(|d| (cut, d)))
                .and_then(|(cut, d)| d.checked_add(1.day()).ok().map(|next| (cut, next)))
                .filter(|(_, next)| window.before.is_none_or(|b| *next < b))
        } else {
            None
        };

        let catch_up = cur.catch_up;
        let before_distinct = cur.distinct.len();
        let nulls_before = cur.nulls;
        let grouped = opts.grouped;
        let mut kept = IntSet::default();
        let mut offered: Vec<P::Row> = Vec::with_capacity(rows.len());
        let mut kept_nulls = 0u64;
        let last_cut = self.walk.as_ref().and_then(|w| w.cut);
        for row in rows {
            let Some(row_id) = row.row_id() else {
                cur.nulls += 1;
                let date = row.date();
                let past_cut = walk_cut.is_none_or(|(cut, _)| date.is_some_and(|d| d > cut));
                let seen = last_cut.is_some_and(|c| date.is_some_and(|d| d > c));
                if past_cut && !seen {
                    self.outcome.null_id_rows += 1;
                    kept_nulls += 1;
                }
                continue;
            };
            let key = if grouped {
                row.reference_id().unwrap_or(row_id)
            } else {
                row_id
            };
            if let Some((cut, _)) = walk_cut {
                if row.date().is_none_or(|d| d <= cut) {
                    continue;
                }
            }
            if !cur.distinct.insert(key) {
                continue;
            }
            // Kept whole by an earlier walk step: a later step's copy is part of it.
            if self.walk.as_ref().is_some_and(|w| w.kept.contains(&key)) {
                continue;
            }
            if walk_cut.is_some() || self.walk.is_some() {
                kept.insert(key);
            }
            self.outcome.max_row_id = self.outcome.max_row_id.max(Some(row_id));
            self.outcome.max_date = self.outcome.max_date.max(row.date());
            if self.since.is_some_and(|s| row_id <= s.max_row_id) {
                self.outcome.unchanged_rows += 1;
                continue;
            }
            offered.push(row);
        }
        let nulls_here = cur.nulls - nulls_before;
        let added = (cur.distinct.len() - before_distinct) as u64 + nulls_here;
        // What the window's count covers: its groups and its rows without ids.
        let distinct = cur.distinct.len() as u64 + cur.nulls;
        let pages_here = cur.pages;
        let start_here = q.start;

        let walking = walk_cut.is_some() || self.walk.is_some();
        let walk_done = self.walk.is_some() && walk_cut.is_none() && distinct >= records;
        if walking {
            let walk = self.walk.get_or_insert_with(|| Walk {
                records,
                ..Walk::default()
            });
            walk.kept.extend(kept);
            walk.nulls += kept_nulls;
            walk.cut = walk_cut.map(|(cut, _)| cut);
            if walk_done {
                let kept_all = walk.kept.len() as u64 + walk.nulls;
                let want = walk.records;
                self.walk = None;
                if kept_all != want {
                    self.finish(Some(format!(
                        "the counts do not add up while walking the history: {kept_all} \
                         distinct rows were read where Tautulli reported {want}; the history \
                         changed during the read, run it again"
                    )));
                    return Ok(self.progress(Vec::new(), start_here, catch_up));
                }
            }
        }

        let rows = self.release(offered, grouped);
        let cur = self.current.as_mut().expect("a window is being read");
        if let Some((_, next)) = walk_cut {
            // Keep what is whole; everything older is asked for next.
            self.current = None;
            self.plan.push_front(Window::until(next));
            self.prefetch_next();
            return Ok(self.progress(rows, start_here, catch_up));
        }
        if distinct >= records {
            if distinct > records {
                self.finish(Some(format!(
                    "the counts do not add up: the days {} gave {distinct} distinct rows but \
                     Tautulli reports {records}; the history changed during the read, run it \
                     again",
                    describe(&window)
                )));
                return Ok(self.progress(rows, start_here, catch_up));
            }
            if self.top.is_none() || catch_up {
                self.top = Some((window, records));
            }
            self.current = None;
            self.prefetch_next();
            return Ok(self.progress(rows, start_here, catch_up));
        }
        // More is reported than came: read on inside the window.
        if n == 0 || added == 0 {
            let reason = if n == 0 {
                format!(
                    "Tautulli reports {records} rows for the days {} but answered start={} \
                     with none; run the read again",
                    describe(&window),
                    start_here
                )
            } else {
                format!(
                    "Tautulli answered start={start_here} for the days {} with rows it had \
                     already sent: the server or a reverse proxy ignores `start`, so the \
                     window cannot be read to its end; lower tautulli.history.window_rows or \
                     read without the proxy",
                    describe(&window)
                )
            };
            self.finish(Some(reason));
            return Ok(self.progress(rows, start_here, catch_up));
        }
        if pages_here >= opts.max_pages.max(1) {
            self.finish(Some(format!(
                "max_pages ({}) requests for the days {} did not reach its {records} rows: \
                 raise tautulli.history.max_pages",
                opts.max_pages,
                describe(&window)
            )));
            return Ok(self.progress(rows, start_here, catch_up));
        }
        cur.start = start_here + n;
        Ok(self.progress(rows, start_here, catch_up))
    }

    /// Asks for the next planned window now, so Tautulli builds it while this one is
    /// handled. Nothing further is guessed: a window's answer is large, and a real server
    /// spends seconds on each, so a third answer in memory would buy little.
    fn prefetch_next(&mut self) {
        let opts = self.opts;
        if let Some(w) = self.plan.front().copied() {
            let q = query(&w, 0, w.length(opts.target, opts.cap()));
            self.source().prefetch_query(&q, None);
        }
    }

    /// After the last window: the newest window counted again (one row). A changed count
    /// means plays landed during the read: that window is read again.
    fn recount(&mut self) -> Result<PageRows<P::Row>> {
        let (window, count) = self.top.expect("the recount follows a read window");
        let page = self.source().fetch_query(&query(&window, 0, 1))?;
        self.outcome.pages += 1;
        let records = u64::try_from(page.records_filtered()).unwrap_or(0);
        self.outcome.rows_seen += page.into_rows().len() as u64;
        if records == count {
            self.finish(None);
        } else if self.outcome.catch_up_passes >= MAX_CATCH_UP_PASSES {
            self.finish(Some(format!(
                "the newest days ({}) kept changing during the read ({} catch-up reads); \
                 run the read again",
                describe(&window),
                self.outcome.catch_up_passes
            )));
        } else {
            self.outcome.catch_up_passes += 1;
            self.outcome.records_changed = true;
            let mut cur = Current::new(Window {
                expected: Some(records),
                ..window
            });
            cur.catch_up = true;
            self.current = Some(cur);
            self.phase = Phase::Windows;
        }
        Ok(self.progress(Vec::new(), 0, true))
    }

    /// Releases rows through the merger (grouped reads) and the released map.
    fn release(&mut self, rows: Vec<P::Row>, grouped: bool) -> Vec<P::Row> {
        let whole: Vec<P::Row> = if grouped {
            rows.into_iter()
                .filter_map(|r| self.merger.offer(r))
                .collect()
        } else {
            rows
        };
        self.release_all(whole, false)
    }

    /// Keeps each row not released before, or released before with a lower `row_id` (a
    /// group that grew: it replaces the old one downstream). A `drained` part, whose chain's
    /// first session never came, replaces a released row of its chain only when it is newer:
    /// an older part would only take the newer one's place.
    fn release_all(&mut self, rows: Vec<P::Row>, drained: bool) -> Vec<P::Row> {
        let grouped = self.opts.grouped;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(row_id) = row.row_id() else { continue };
            let key = if grouped {
                row.reference_id().unwrap_or(row_id)
            } else {
                row_id
            };
            let date = row.date().unwrap_or(i64::MIN);
            match self.released.get(&key) {
                Some(&(had, _)) if had >= row_id => {}
                Some(&(_, newest)) if drained && date <= newest => {}
                Some(_) => {
                    self.released.insert(key, (row_id, date));
                    out.push(row);
                }
                None => {
                    self.released.insert(key, (row_id, date));
                    self.outcome.unique_rows += 1;
                    out.push(row);
                }
            }
        }
        out
    }

    fn progress(&self, rows: Vec<P::Row>, start: u64, catch_up: bool) -> PageRows<P::Row> {
        PageRows {
            rows,
            page: self.outcome.pages,
            start,
            catch_up,
            rows_seen: self.outcome.rows_seen,
            unique_rows: self.outcome.unique_rows,
            records_filtered: self.planned.max(self.outcome.unique_rows),
        }
    }

    /// Hands the source to a paged reader of the whole history.
    fn fall_back_to_paging(&mut self, why: String) -> Result<PageRows<P::Row>> {
        let source = self.source.take().expect("the source is still here");
        let mut reader = HistoryReader::new(source, self.per_page, self.opts.max_pages as u32)
            .noted(Some(why), self.outcome.count_requests);
        if let Some(since) = self.since {
            reader = reader.since(since);
        }
        self.phase = Phase::Paged(Box::new(reader));
        match &mut self.phase {
            Phase::Paged(r) => Ok(r.next_page()?.unwrap_or_else(|| PageRows {
                rows: Vec::new(),
                page: 0,
                start: 0,
                catch_up: false,
                rows_seen: 0,
                unique_rows: 0,
                records_filtered: 0,
            })),
            _ => unreachable!("just set"),
        }
    }

    fn finish(&mut self, incomplete: Option<String>) {
        self.outcome.complete = incomplete.is_none();
        self.outcome.incomplete_reason = incomplete;
        self.outcome.records_filtered = self.outcome.unique_rows + self.outcome.null_id_rows;
        self.outcome.merged_parts = self.merger.folded();
        self.phase = Phase::Done;
        self.current = None;
        self.plan.clear();
        if let Some(s) = self.source.as_mut() {
            s.settle();
        }
    }
}

/// The request for rows `start..start+length` of `w`.
fn query(w: &Window, start: u64, length: u64) -> Query {
    Query {
        after: w.after,
        before: w.before,
        start,
        length,
    }
}

/// The UTC day of an epoch second.
fn utc_day(t: i64) -> Option<Date> {
    Timestamp::from_second(t)
        .ok()
        .map(|ts| ts.to_zoned(TimeZone::UTC).date())
}

/// The first second of a UTC day.
fn utc_midnight(d: Date) -> Option<i64> {
    d.to_zoned(TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_second())
}

/// True when a row's `date` lies more than a day outside the window's UTC days: no server
/// time zone puts it there, so the day filters were not applied.
fn outside<R: PagedRow>(w: &Window, rows: &[R]) -> bool {
    const DAY: i64 = 86_400;
    let low = w.after.and_then(utc_midnight).map(|t| t - DAY);
    let high = w.before.and_then(utc_midnight).map(|t| t + 2 * DAY);
    rows.iter()
        .filter_map(|r| r.date())
        .any(|d| low.is_some_and(|l| d < l) || high.is_some_and(|h| d >= h))
}

/// The days of a window, for messages.
fn describe(w: &Window) -> String {
    match (w.after, w.before) {
        (Some(a), Some(b)) if a == b => format!("{a}"),
        (Some(a), Some(b)) => format!("{a}..{b}"),
        (Some(a), None) => format!("from {a}"),
        (None, Some(b)) => format!("up to {b}"),
        (None, None) => "of the whole history".into(),
    }
}

/// Errors no fallback can help with: the key is wrong or Tautulli cannot be reached.
fn gives_up(e: &Error) -> bool {
    matches!(e, Error::AuthFailed { .. } | Error::Unreachable { .. })
}

/// An answer that says the day filters themselves were refused (a 400 with no message, as
/// Tautulli gives for a command that returned nothing, or a 500 from an exception).
fn rejects_days(e: &Error) -> bool {
    matches!(
        e,
        Error::BadResponse {
            status: 400 | 500,
            ..
        } | Error::TautulliError {
            status: 400 | 500,
            ..
        } | Error::ServerError { status: 500, .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tautulli::reader::PageSource;
    use crate::tautulli::rows::{HistoryPage, HistoryRow};
    use std::collections::BTreeMap;

    const DAY: i64 = 86_400;

    /// A session of the simulated table: (id, reference_id, started).
    type Sess = (i64, i64, i64);

    /// A Tautulli-like table: sessions filtered by their server-local start day, then
    /// grouped by `reference_id`, newest first, then sliced; counts per local day.
    struct Sim {
        sessions: Vec<Sess>,
        /// Seconds east of UTC of the server's clock.
        offset: i64,
        grouped: bool,
        /// Per-day counts cover local days from this one on (`None`: no count command).
        counted_from: Option<i64>,
        ignore_start: bool,
        /// Answers at most this many rows whatever `length` says.
        page_cap: Option<usize>,
        reject_days: bool,
        ignore_days: bool,
        /// Sessions added just before the n-th fetch (0-based).
        add_before: Vec<(usize, Vec<Sess>)>,
        /// Starts of rows without any id (in-progress sessions, a server that mixes them
        /// in anyway): answered in their days' windows, never counted per day.
        nulls: Vec<i64>,
        queries: Vec<Query>,
        count_calls: u32,
    }

    impl Sim {
        fn new(sessions: Vec<Sess>) -> Sim {
            Sim {
                sessions,
                offset: 3600,
                grouped: true,
                counted_from: Some(i64::MIN),
                ignore_start: false,
                page_cap: None,
                reject_days: false,
                ignore_days: false,
                add_before: Vec::new(),
                nulls: Vec::new(),
                queries: Vec::new(),
                count_calls: 0,
            }
        }

        fn local_day(&self, t: i64) -> i64 {
            (t + self.offset).div_euclid(DAY)
        }

        fn day_number(d: Date) -> i64 {
            utc_midnight(d).unwrap().div_euclid(DAY)
        }

        /// The grouped rows whose sessions start on local days `lo..=hi`, newest first.
        fn rows(&self, lo: Option<i64>, hi: Option<i64>) -> Vec<HistoryRow> {
            let mut groups: BTreeMap<i64, Vec<Sess>> = BTreeMap::new();
            for &s in &self.sessions {
                let day = self.local_day(s.2);
                if lo.is_some_and(|l| day < l) || hi.is_some_and(|h| day > h) {
                    continue;
                }
                let key = if self.grouped { s.1 } else { s.0 };
                groups.entry(key).or_default().push(s);
            }
            let mut rows: Vec<HistoryRow> = groups
                .into_values()
                .map(|g| HistoryRow {
                    row_id: g.iter().map(|s| s.0).max(),
                    reference_id: Some(g[0].1),
                    date: g.iter().map(|s| s.2).max(),
                    started: g.iter().map(|s| s.2).min(),
                    stopped: g.iter().map(|s| s.2 + 600).max(),
                    group_first: g.iter().map(|s| s.0).min(),
                    ..HistoryRow::default()
                })
                .collect();
            for &t in &self.nulls {
                let day = self.local_day(t);
                if lo.is_none_or(|l| day >= l) && hi.is_none_or(|h| day <= h) {
                    rows.push(HistoryRow {
                        date: Some(t),
                        started: Some(t),
                        ..HistoryRow::default()
                    });
                }
            }
            rows.sort_by_key(|r| std::cmp::Reverse((r.date, r.row_id)));
            rows
        }
    }

    impl PageSource<HistoryPage> for Sim {
        fn fetch(&mut self, start: u64, length: u64) -> Result<HistoryPage> {
            self.fetch_query(&Query::page(start, length))
        }
    }

    impl WindowSource<HistoryPage> for Sim {
        fn fetch_query(&mut self, q: &Query) -> Result<HistoryPage> {
            let n = self.queries.len();
            for (at, add) in &self.add_before {
                if *at == n {
                    self.sessions.extend(add.iter().copied());
                }
            }
            self.queries.push(*q);
            let dated = q.after.is_some() || q.before.is_some();
            if dated && self.reject_days {
                return Err(Error::BadResponse {
                    cmd: "get_history",
                    status: 400,
                    reason: "Tautulli answered an error with no message".into(),
                    excerpt: String::new(),
                });
            }
            let (lo, hi) = if self.ignore_days {
                (None, None)
            } else {
                (
                    q.after.map(Self::day_number),
                    q.before.map(Self::day_number),
                )
            };
            let rows = self.rows(lo, hi);
            let start = if self.ignore_start {
                0
            } else {
                q.start as usize
            };
            let take = self
                .page_cap
                .map_or(q.length as usize, |c| c.min(q.length as usize));
            Ok(HistoryPage {
                records_filtered: rows.len() as i64,
                records_total: None,
                data: rows.into_iter().skip(start).take(take).collect(),
            })
        }

        fn day_counts(
            &mut self,
            _days: u32,
        ) -> Result<Option<crate::tautulli::reader::source::DayCounts>> {
            self.count_calls += 1;
            let Some(from) = self.counted_from else {
                return Err(Error::BadResponse {
                    cmd: "get_plays_by_date",
                    status: 500,
                    reason: "Check the logs for errors".into(),
                    excerpt: String::new(),
                });
            };
            let mut per_day: BTreeMap<i64, u64> = BTreeMap::new();
            for r in self
                .rows(None, None)
                .into_iter()
                .filter(|r| r.row_id.is_some())
            {
                let day = self.local_day(r.date.unwrap());
                if day >= from {
                    *per_day.entry(day).or_default() += 1;
                }
            }
            let epoch = jiff::civil::date(1970, 1, 1);
            Ok(Some(
                per_day
                    .into_iter()
                    .map(|(d, n)| (epoch.checked_add(d.days()).unwrap(), n))
                    .collect(),
            ))
        }
    }

    fn opts(target: u64) -> WindowOptions {
        WindowOptions {
            target,
            max_pages: 50,
            horizon_days: 3650,
            grouped: true,
        }
    }

    /// Everything a read yields, keyed by group: (row_id, date, started, stopped).
    type Got = BTreeMap<i64, (Option<i64>, Option<i64>, Option<i64>, Option<i64>)>;

    /// Every row the reader yields, to the end of the read.
    fn drain(r: &mut WindowedReader<Sim, HistoryPage>) -> Got {
        let mut got = Got::new();
        while let Some(p) = r.next_page().unwrap() {
            for row in p.rows {
                got.insert(
                    row.reference_id.unwrap(),
                    (row.row_id, row.date, row.started, row.stopped),
                );
            }
        }
        got
    }

    fn read(sim: Sim, opts: WindowOptions) -> (Got, ReadOutcome, Sim) {
        let mut r = WindowedReader::new(sim, opts, 7);
        let got = drain(&mut r);
        let outcome = r.outcome();
        let sim = match r.source.take() {
            Some(s) => s,
            None => match std::mem::replace(&mut r.phase, Phase::Done) {
                Phase::Paged(p) => p.into_source(),
                _ => unreachable!(),
            },
        };
        (got, outcome, sim)
    }

    /// What one unwindowed grouped read gives (rows without ids are no viewing).
    fn truth(sim: &Sim) -> Got {
        sim.rows(None, None)
            .into_iter()
            .filter(|r| r.row_id.is_some())
            .map(|r| {
                (
                    r.reference_id.unwrap(),
                    (r.row_id, r.date, r.started, r.stopped),
                )
            })
            .collect()
    }

    /// `n` sessions over ~`days` days, every fifth resumed on a later day (a split viewing).
    fn history(n: i64, days: i64) -> Vec<Sess> {
        let base = 1_767_225_600; // 2026-01-01
        let mut s = Vec::new();
        let step = days * DAY / n.max(1);
        for i in 1..=n {
            let started = base + i * step;
            if i % 5 == 0 && i > 5 {
                // Resumes the viewing begun by session i-4, a day or two later.
                s.push((i, i - 4, started + DAY + 3600));
            } else {
                s.push((i, i, started));
            }
        }
        s
    }

    #[test]
    fn a_windowed_read_equals_one_unwindowed_read() {
        for target in [3, 10, 40, 1000] {
            let sim = Sim::new(history(200, 60));
            let want = truth(&sim);
            let (got, o, sim) = read(sim, opts(target));
            assert_eq!(got, want, "target {target}");
            assert!(o.complete, "{o:?}");
            assert_eq!(o.reader, "windowed");
            assert_eq!(o.unique_rows, want.len() as u64);
            assert_eq!(sim.count_calls, 1);
            // One request per window (plus the recount when there are several).
            let windows = o.windows;
            let expected = if windows > 1 { windows + 1 } else { windows };
            assert_eq!(sim.queries.len() as u64, expected, "target {target}: {o:?}");
            if target <= 10 {
                assert!(windows > 5);
            }
        }
    }

    #[test]
    fn split_viewings_become_one_row_with_the_whole_groups_times() {
        // Chain 1: sessions on three different days, each in its own window.
        let sessions = vec![
            (1, 1, 1_767_225_600),
            (2, 1, 1_767_225_600 + 3 * DAY),
            (3, 1, 1_767_225_600 + 6 * DAY),
            (4, 4, 1_767_225_600 + 2 * DAY),
            (5, 5, 1_767_225_600 + 5 * DAY),
        ];
        let sim = Sim::new(sessions);
        let want = truth(&sim);
        let (got, o, sim) = read(sim, opts(1));
        assert_eq!(got, want);
        assert_eq!(got[&1].0, Some(3));
        assert_eq!(got[&1].2, Some(1_767_225_600));
        assert!(o.complete);
        // Chain 1 has a session in each of the three windows.
        assert_eq!(o.windows, 3, "{:?}", sim.queries);
    }

    #[test]
    fn history_older_than_the_counts_is_walked() {
        let mut sim = Sim::new(history(300, 100));
        // The counts only know the last 20 days.
        let last = sim.sessions.iter().map(|s| s.2).max().unwrap();
        sim.counted_from = Some(sim.local_day(last) - 20);
        let want = truth(&sim);
        let (got, o, sim) = read(sim, opts(25));
        assert_eq!(got, want);
        assert!(o.complete, "{o:?}");
        // Walk steps ask for everything up to a day.
        let open_bottom = sim
            .queries
            .iter()
            .filter(|q| q.after.is_none() && q.before.is_some())
            .count();
        assert!(open_bottom > 3, "{:?}", sim.queries);
    }

    #[test]
    fn without_the_count_command_the_whole_history_is_walked() {
        let mut sim = Sim::new(history(150, 40));
        sim.counted_from = None;
        let want = truth(&sim);
        let (got, o, _) = read(sim, opts(20));
        assert_eq!(got, want);
        assert!(o.complete, "{o:?}");
        assert_eq!(o.reader, "walked");
        assert!(o.reader_fallback.unwrap().contains("get_plays_by_date"));
    }

    #[test]
    fn a_server_that_rejects_or_ignores_day_filters_is_read_by_paging() {
        for ignore in [false, true] {
            let mut sim = Sim::new(history(80, 30));
            if ignore {
                sim.ignore_days = true;
            } else {
                sim.reject_days = true;
            }
            let want = truth(&sim);
            let (got, o, sim) = read(sim, opts(10));
            assert_eq!(got, want, "ignore {ignore}");
            assert!(o.complete, "{o:?}");
            assert_eq!(o.reader, "paged");
            let why = o.reader_fallback.unwrap();
            assert!(why.contains("day filters"), "{why}");
            // After the failed window, every request pages the unfiltered history.
            assert!(sim.queries[1..]
                .iter()
                .all(|q| q.after.is_none() && q.before.is_none()));
        }
    }

    #[test]
    fn a_window_that_grew_past_its_plan_is_read_on_inside() {
        let mut sim = Sim::new(history(100, 10));
        // 40 new plays on the newest day land after the counts were taken.
        let last = sim.sessions.iter().map(|s| s.2).max().unwrap();
        let extra: Vec<Sess> = (0..200)
            .map(|i| (1000 + i, 1000 + i, last + 10 + i))
            .collect();
        sim.add_before = vec![(0, extra)];
        let (got, o, sim) = read(sim, opts(10));
        assert!(o.complete, "{o:?}");
        assert_eq!(got, truth(&sim));
        assert!(sim.queries.iter().any(|q| q.start > 0), "{:?}", sim.queries);
    }

    #[test]
    fn a_server_that_ignores_start_or_repeats_pages_ends_incomplete() {
        let mut sim = Sim::new(history(60, 3));
        sim.ignore_start = true;
        sim.page_cap = Some(5);
        let (_, o, sim) = read(sim, opts(1000));
        assert!(!o.complete);
        let why = o.incomplete_reason.unwrap();
        assert!(why.contains("ignores `start`"), "{why}");
        // It gives up at once, not after max_pages requests.
        assert!(sim.queries.len() <= 3, "{}", sim.queries.len());
    }

    #[test]
    fn rows_without_ids_are_counted_as_such_not_as_a_broken_server() {
        // Planned from counts, in one window, and walked (no count command).
        for (target, counted_from) in [(5, Some(i64::MIN)), (1000, Some(i64::MIN)), (5, None)] {
            let mut sim = Sim::new(history(40, 4));
            sim.counted_from = counted_from;
            let first = sim.sessions.iter().map(|s| s.2).min().unwrap();
            sim.nulls = (0..12).map(|i| first + i * 7_200).collect();
            let want = truth(&sim);
            let (got, o, _) = read(sim, opts(target));
            assert!(o.complete, "target {target}: {o:?}");
            assert_eq!(o.null_id_rows, 12, "target {target}: {o:?}");
            assert_eq!(got, want, "target {target}");
        }
    }

    #[test]
    fn a_server_capping_pages_is_read_to_the_end() {
        let mut sim = Sim::new(history(60, 3));
        sim.page_cap = Some(7);
        let want = truth(&sim);
        let (got, o, _) = read(sim, opts(1000));
        assert!(o.complete, "{o:?}");
        assert_eq!(got, want);
    }

    #[test]
    fn plays_landing_during_the_read_are_caught_up_by_the_recount() {
        let mut sim = Sim::new(history(100, 30));
        let last = sim.sessions.iter().map(|s| s.2).max().unwrap();
        // After the newest window was read (fetch 0), three plays land on the newest day.
        sim.add_before = vec![(
            2,
            vec![
                (900, 900, last + 5),
                (901, 901, last + 6),
                (902, 902, last + 7),
            ],
        )];
        let (got, o, sim) = read(sim, opts(20));
        assert!(o.complete, "{o:?}");
        assert_eq!(got, truth(&sim));
        assert!(got.contains_key(&901));
        assert_eq!(o.catch_up_passes, 1);
    }

    #[test]
    fn an_incremental_read_is_one_request_from_the_cutoff() {
        let sim = Sim::new(history(200, 60));
        let all = truth(&sim);
        let last = sim.sessions.iter().map(|s| s.2).max().unwrap();
        let since = Since {
            max_row_id: 190,
            cutoff_date: last - 3 * DAY,
            records: 0,
        };
        let mut r = WindowedReader::new(sim, opts(1000), 7).since(since);
        let mut got = Got::new();
        while let Some(p) = r.next_page().unwrap() {
            for row in p.rows {
                got.insert(
                    row.reference_id.unwrap(),
                    (row.row_id, row.date, row.started, row.stopped),
                );
            }
        }
        let o = r.outcome();
        assert!(o.complete && o.incremental, "{o:?}");
        let sim = r.source.take().unwrap();
        assert_eq!(sim.queries.len(), 1);
        assert_eq!(sim.count_calls, 0);
        assert!(sim.queries[0].after.is_some() && sim.queries[0].before.is_none());
        // Every row above the checkpoint came, and nothing older than the cutoff's window.
        for (refid, row) in &all {
            if row.0.unwrap() > 190 {
                assert!(got.contains_key(refid), "{refid}");
            }
        }
        assert!(got.values().all(|r| r.0.unwrap() > 190));
    }

    #[test]
    fn an_empty_history_is_complete_and_cheap() {
        let (got, o, sim) = read(Sim::new(Vec::new()), opts(100));
        assert!(got.is_empty());
        assert!(o.complete);
        assert_eq!(sim.queries.len(), 1);
    }
}
