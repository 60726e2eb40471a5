//! Paging `get_history` without losing rows and without passing off a partial read as whole.
//!
//! The table is read newest first (`order_column=date`, `order_dir=desc`), page by page. The
//! table can change while we read:
//! - a new play lands at the top and pushes every row down, so the next page repeats rows we
//!   already have: rows are de-duplicated by `reference_id` (the group's first row);
//! - a group that grows (one more partial play) keeps its `reference_id`, gets a higher
//!   `row_id` and jumps to the top: it is yielded again so the consumer replaces the old play;
//! - plays added above our position are caught by a bounded catch-up from the top when the
//!   count does not add up at the end;
//! - a deleted row pulls every row up, so one row can slip past a page boundary unseen: the
//!   read is then reported incomplete (only a new read can be sure).
//!
//! A read that stops early (page cap, a proxy ignoring `start`, counts that do not add up) is
//! reported incomplete with its reason: the engine must never take it for the whole truth
//! (a partial read taken as whole would make the engine drop every play it did not see).
//!
//! An **incremental** read ([`HistoryReader::since`]) reads the same pages from the top but
//! yields only rows whose `row_id` is above the checkpoint's (new plays, and groups that grew,
//! since a grown group shows its newest member's `row_id`), and stops after the page that
//! reaches rows dated before the checkpoint's newest date minus an overlap. Rows that started
//! before the checkpoint and finished after it sit in that overlap. Counts cannot be checked
//! (only the top of the table is read), so such a read is complete once it reached the cutoff.

use std::collections::HashMap;
use std::marker::PhantomData;

use crate::error::Result;
use crate::hash::{FxHashMap, FxHashSet};
use crate::tautulli::reader::source::{guess_after, PageSource, PagedRow, RowsPage};
use crate::tautulli::rows::{HistoryPage, HistoryRow};

/// Catch-up passes from the top at most, after the main pass.
pub const MAX_CATCH_UP_PASSES: u32 = 3;

/// Where an incremental read stops and which rows it skips (from a checkpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Since {
    /// Rows with a `row_id` at or below this were read before, unchanged: skipped.
    pub max_row_id: i64,
    /// The read stops after the page that holds a row dated (`date`) before this.
    pub cutoff_date: i64,
    /// `recordsFiltered` at the checkpoint. Fewer rows now means rows were deleted or the
    /// database was replaced (row ids may restart): the read turns into a full one.
    pub records: u64,
}

/// One fetched page: the rows that are new (or a grown group's newer version) and where the
/// read stands, for a progress display.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRows<R = HistoryRow> {
    /// Rows not yielded before, in page order. A row may repeat a `reference_id` yielded
    /// earlier with a higher `row_id`: that group grew, its new version replaces the old one.
    pub rows: Vec<R>,
    /// Pages fetched so far, this one included (1-based).
    pub page: u64,
    /// `start` this page was fetched with.
    pub start: u64,
    /// True for a page of a catch-up pass from the top.
    pub catch_up: bool,
    /// Rows received so far, repeats included.
    pub rows_seen: u64,
    /// Distinct groups (`reference_id`) received so far.
    pub unique_rows: u64,
    /// Tautulli's latest `recordsFiltered`.
    pub records_filtered: u64,
}

/// How the read went. `complete` is false until the read has ended, and stays false with an
/// `incomplete_reason` when it was cut short.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadOutcome {
    pub pages: u64,
    pub rows_seen: u64,
    pub unique_rows: u64,
    pub records_filtered: u64,
    /// Rows without a `row_id` (in-progress sessions), skipped; counted once, from the main
    /// pass, since they are part of `recordsFiltered`.
    pub null_id_rows: u64,
    pub catch_up_passes: u32,
    pub complete: bool,
    pub incomplete_reason: Option<String>,
    /// The read was incremental to its end (not turned into a full read).
    pub incremental: bool,
    /// Why an incremental read was turned into a full one.
    pub fallback_reason: Option<String>,
    /// Rows received but skipped by an incremental read as unchanged since the checkpoint.
    pub unchanged_rows: u64,
    /// Highest `row_id` received.
    pub max_row_id: Option<i64>,
    /// Highest `row_id` on the first page.
    pub first_page_max_row_id: Option<i64>,
    /// Newest `date` received.
    pub max_date: Option<i64>,
    /// `recordsFiltered` changed between pages: the table changed during the read.
    pub records_changed: bool,
    /// How the rows were asked for: `windowed` (day windows planned from per-day counts),
    /// `walked` (day windows without counts) or `paged` (`start` paging of the whole history).
    pub reader: &'static str,
    /// Day windows read (catch-up re-reads included); 0 for a paged read.
    pub windows: u64,
    /// `get_plays_by_date` requests made to plan the windows.
    pub count_requests: u64,
    /// Why a windowed read planned without counts, or fell back to paging.
    pub reader_fallback: Option<String>,
    /// Parts of viewings split by a window boundary that were merged back into one row.
    pub merged_parts: u64,
    /// Tautulli's latest `recordsTotal` (its whole session table).
    pub records_total: Option<u64>,
}

impl ReadOutcome {
    /// The `row_id` a checkpoint of this (complete) read may record: every row at or below it
    /// was seen. A complete full read checked its counts, so that is the highest row seen. An
    /// incremental read cannot check counts: when the table changed during it, a play may
    /// have landed above rows already read, so only the first page's highest id is certain
    /// (later rows above it are read again next time, which a delta merge absorbs).
    pub fn checkpoint_row_id(&self) -> Option<i64> {
        if self.incremental && self.records_changed {
            self.first_page_max_row_id
        } else {
            self.max_row_id
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Main { start: u64, pages: u64 },
    CatchUp { start: u64, pages: u64, found: u64 },
    Done,
}

/// Reads the whole filtered history one page per [`HistoryReader::next_page`] call.
#[derive(Debug)]
pub struct HistoryReader<S, P = HistoryPage> {
    source: S,
    page: PhantomData<fn() -> P>,
    per_page: u64,
    max_pages: u64,
    phase: Phase,
    /// `reference_id` (or `row_id`) -> highest `row_id` yielded.
    seen: FxHashMap<i64, i64>,
    /// Groups an incremental read skipped as unchanged.
    unchanged: FxHashSet<i64>,
    /// Ids of the previous main-pass page's rows that have any, to spot a server that
    /// ignores `start`.
    previous: Vec<(Option<i64>, Option<i64>)>,
    previous_start: u64,
    /// `recordsFiltered` shrank from .0 to .1 during the read.
    shrank: Option<(u64, u64)>,
    /// The main pass ended on a short page at .0 with .1 rows while more were reported.
    short_early: Option<(u64, u64)>,
    outcome: ReadOutcome,
    records_known: bool,
    since: Option<Since>,
}

impl<P: RowsPage, S: PageSource<P>> HistoryReader<S, P> {
    /// `per_page` rows per request (at least 1), at most `max_pages` pages per pass.
    pub fn new(source: S, per_page: u32, max_pages: u32) -> Self {
        Self {
            source,
            per_page: u64::from(per_page.max(1)),
            max_pages: u64::from(max_pages.max(1)),
            phase: Phase::Main { start: 0, pages: 0 },
            page: PhantomData,
            seen: HashMap::default(),
            unchanged: Default::default(),
            previous: Vec::new(),
            previous_start: 0,
            shrank: None,
            short_early: None,
            outcome: ReadOutcome {
                reader: "paged",
                ..ReadOutcome::default()
            },
            records_known: false,
            since: None,
        }
    }

    /// Carries what a windowed read found before it handed over to paging.
    pub fn noted(mut self, reader_fallback: Option<String>, count_requests: u64) -> Self {
        self.outcome.reader_fallback = reader_fallback;
        self.outcome.count_requests = count_requests;
        self
    }

    /// Makes this an incremental read from a checkpoint (see the module docs).
    pub fn since(mut self, since: Since) -> Self {
        self.since = Some(since);
        self.outcome.incremental = true;
        self
    }

    /// Fetches the next page; `Ok(None)` once the read has ended (see [`Self::outcome`]).
    /// After an error the read is over and incomplete.
    pub fn next_page(&mut self) -> Result<Option<PageRows<P::Row>>> {
        let (start, catch_up) = match self.phase {
            Phase::Done => return Ok(None),
            Phase::Main { start, .. } => (start, false),
            Phase::CatchUp { start, .. } => (start, true),
        };
        let page = match self.source.fetch(start, self.per_page) {
            Ok(p) => p,
            Err(e) => {
                self.finish(Some(format!(
                    "the read stopped at row {start} on an error: {e}"
                )));
                return Err(e);
            }
        };
        self.outcome.pages += 1;
        let records = u64::try_from(page.records_filtered()).unwrap_or(0);
        if let Some(t) = page.records_total().and_then(|t| u64::try_from(t).ok()) {
            self.outcome.records_total = Some(t);
        }
        let data = page.into_rows();
        let grew = if self.records_known {
            let before = self.outcome.records_filtered;
            if records < before && self.shrank.is_none() {
                self.shrank = Some((before, records));
            }
            records.saturating_sub(before)
        } else {
            0
        };
        if self.records_known && records != self.outcome.records_filtered {
            self.outcome.records_changed = true;
        }
        self.outcome.records_filtered = records;
        self.records_known = true;
        if let Some(since) = self.since {
            if self.outcome.pages == 1 && records < since.records {
                self.since = None;
                self.outcome.incremental = false;
                self.outcome.fallback_reason = Some(format!(
                    "Tautulli now reports {records} rows, fewer than the {} of the checkpoint: \
                     rows were deleted or the database was replaced, so the whole history is \
                     read",
                    since.records
                ));
            }
        }

        let n = data.len() as u64;
        self.outcome.rows_seen += n;
        // Only rows with an id tell pages apart: rows without one all look alike, and are
        // counted as what they are below.
        let ids: Vec<_> = data
            .iter()
            .map(|r| (r.reference_id(), r.row_id()))
            .filter(|ids| *ids != (None, None))
            .collect();
        let oldest = data.iter().filter_map(|r| r.date()).min();
        let newest = data.iter().filter_map(|r| r.date()).max();
        let top_id = data.iter().filter_map(|r| r.row_id()).max();
        self.outcome.max_date = self.outcome.max_date.max(newest);
        self.outcome.max_row_id = self.outcome.max_row_id.max(top_id);
        if self.outcome.pages == 1 {
            self.outcome.first_page_max_row_id = top_id;
        }
        let mut rows = Vec::with_capacity(data.len());
        // Rows this page brought that no page before had: none on a full page means the
        // server answers pages that repeat or alternate.
        let mut fresh = 0u64;
        for row in data {
            let Some(row_id) = row.row_id() else {
                if !catch_up {
                    self.outcome.null_id_rows += 1;
                }
                continue;
            };
            let group = row.reference_id().unwrap_or(row_id);
            if self.since.is_some_and(|s| row_id <= s.max_row_id) {
                self.outcome.unchanged_rows += 1;
                if self.unchanged.insert(group) {
                    fresh += 1;
                }
                continue;
            }
            match self.seen.get(&group) {
                Some(&had) if had >= row_id => {}
                Some(_) => {
                    self.seen.insert(group, row_id);
                    fresh += 1;
                    rows.push(row);
                }
                None => {
                    self.seen.insert(group, row_id);
                    self.outcome.unique_rows += 1;
                    fresh += 1;
                    rows.push(row);
                }
            }
        }
        let next = start + n;
        let full = n >= self.per_page;

        match self.phase {
            Phase::Main { pages, .. } => {
                let pages = pages + 1;
                let repeated = !ids.is_empty() && pages > 1 && ids == self.previous && grew < n;
                let stale = full
                    && pages > 1
                    && fresh == 0
                    && grew < n
                    && ids.iter().any(|i| i.1.is_some());
                if stale && !repeated {
                    self.finish(Some(format!(
                        "Tautulli answered start={start} with {n} rows that earlier pages had \
                         already brought: the server or a reverse proxy does not honour \
                         `start` (pages repeat or alternate), so paging cannot reach the rest; \
                         read without the proxy or update Tautulli"
                    )));
                } else if repeated {
                    self.finish(Some(format!(
                        "Tautulli answered start={start} with the same {n} rows as \
                         start={}: the server or a reverse proxy ignores `start`, so paging \
                         cannot reach the rest; read without the proxy or update Tautulli",
                        self.previous_start
                    )));
                } else if let Some(since) = self.since {
                    let reached = oldest.is_some_and(|d| d < since.cutoff_date);
                    if n == 0 || !full || next >= records || reached {
                        self.end_incremental();
                    } else if pages >= self.max_pages {
                        self.finish(Some(format!(
                            "max_pages ({}) reached after {} rows before the incremental read \
                             reached its checkpoint: raise tautulli.history.max_pages (or \
                             per_page)",
                            self.max_pages, self.outcome.rows_seen
                        )));
                    } else {
                        self.phase = Phase::Main { start: next, pages };
                    }
                } else if n == 0 || !full || next >= records {
                    if n > 0 && !full && next < records {
                        self.short_early = Some((start, n));
                    }
                    self.end_of_pass(true);
                } else if pages >= self.max_pages {
                    self.finish(Some(format!(
                        "max_pages ({}) reached after {} rows while Tautulli reports {records}: \
                         raise tautulli.history.max_pages (or per_page)",
                        self.max_pages, self.outcome.rows_seen
                    )));
                } else {
                    self.phase = Phase::Main { start: next, pages };
                }
                self.previous = ids;
                self.previous_start = start;
            }
            Phase::CatchUp { pages, found, .. } => {
                let pages = pages + 1;
                let found = found + rows.len() as u64;
                if rows.is_empty() || !full || next >= records || pages >= self.max_pages {
                    self.end_of_pass(found > 0);
                } else {
                    self.phase = Phase::CatchUp {
                        start: next,
                        pages,
                        found,
                    };
                }
            }
            Phase::Done => unreachable!("a finished read fetches nothing"),
        }
        match self.phase {
            Phase::Main { start, pages } => {
                // Incremental reads may stop at any page: never guessed.
                let then = if self.since.is_none() {
                    let records = self.outcome.records_filtered;
                    guess_after(start, self.per_page, records, pages, self.max_pages)
                } else {
                    None
                };
                self.source.prefetch(start, self.per_page, then)
            }
            Phase::CatchUp { start, .. } => self.source.prefetch(start, self.per_page, None),
            Phase::Done => {}
        }

        Ok(Some(PageRows {
            rows,
            page: self.outcome.pages,
            start,
            catch_up,
            rows_seen: self.outcome.rows_seen,
            unique_rows: self.outcome.unique_rows,
            records_filtered: self.outcome.records_filtered,
        }))
    }

    /// True while (and after) the read runs incrementally from a checkpoint.
    pub fn is_incremental(&self) -> bool {
        self.since.is_some()
    }

    /// The page source, once the read is over (tests inspect what it was asked).
    #[cfg(test)]
    pub fn into_source(self) -> S {
        self.source
    }

    /// Where the read stands (final once [`Self::next_page`] returned `Ok(None)`).
    pub fn outcome(&self) -> ReadOutcome {
        self.outcome.clone()
    }

    /// An incremental read reached its cutoff (or the end of the table). Its counts cannot
    /// be checked, but rows deleted meanwhile can still shift one past a page boundary.
    fn end_incremental(&mut self) {
        match self.shrank {
            Some((before, after)) => self.finish(Some(format!(
                "Tautulli's row count shrank from {before} to {after} during the read: rows \
                 deleted meanwhile shift later rows past a page boundary, so some may have been \
                 missed; run the read again"
            ))),
            None => self.finish(None),
        }
    }

    /// Decides after a pass: complete, another catch-up pass, or incomplete.
    /// `progress`: the pass found something (a catch-up pass that found nothing will not
    /// find anything on a second try).
    fn end_of_pass(&mut self, progress: bool) {
        if let Some((before, after)) = self.shrank {
            self.finish(Some(format!(
                "Tautulli's row count shrank from {before} to {after} during the read: rows \
                 deleted meanwhile shift later rows past a page boundary, so some may have been \
                 missed; run the read again"
            )));
            return;
        }
        let have = self.outcome.unique_rows + self.outcome.null_id_rows;
        let want = self.outcome.records_filtered;
        if have == want {
            self.finish(None);
            return;
        }
        if have < want && progress && self.outcome.catch_up_passes < MAX_CATCH_UP_PASSES {
            self.outcome.catch_up_passes += 1;
            self.phase = Phase::CatchUp {
                start: 0,
                pages: 0,
                found: 0,
            };
            return;
        }
        let mut reason = format!(
            "the counts do not add up: read {have} distinct rows but Tautulli reports {want} \
             (after {} catch-up passes); the history changed during the read, run it again",
            self.outcome.catch_up_passes
        );
        if let Some((start, n)) = self.short_early {
            reason.push_str(&format!(
                "; the page at start={start} had only {n} of {} rows while more were \
                 reported: the server may cap the page size, lower tautulli.history.per_page",
                self.per_page
            ));
        }
        self.finish(Some(reason));
    }

    fn finish(&mut self, incomplete: Option<String>) {
        self.outcome.complete = incomplete.is_none();
        self.outcome.incomplete_reason = incomplete;
        self.phase = Phase::Done;
        self.source.settle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    /// One row of the simulated table: (reference_id, row_id, date).
    type Sim = (Option<i64>, Option<i64>, i64);

    fn row((reference_id, row_id, date): Sim) -> HistoryRow {
        HistoryRow {
            reference_id,
            row_id,
            date: Some(date),
            ..HistoryRow::default()
        }
    }

    type Mutation = Box<dyn FnMut(&mut Vec<Sim>)>;

    /// A date-descending history table that can change before given fetches.
    struct Table {
        rows: Vec<Sim>,
        fetches: usize,
        /// (fetch index, change applied just before that fetch)
        changes: Vec<(usize, Mutation)>,
        requests: Vec<(u64, u64)>,
        /// Every `prefetch(start, _, then)` as `(start, then)`.
        prefetched: Vec<(u64, Option<u64>)>,
        settled: usize,
    }

    impl Table {
        /// Rows 1..=n, one play each, row n newest.
        fn new(n: i64) -> Self {
            Self {
                rows: (1..=n)
                    .rev()
                    .map(|i| (Some(i), Some(i), 1000 + i))
                    .collect(),
                fetches: 0,
                changes: Vec::new(),
                requests: Vec::new(),
                prefetched: Vec::new(),
                settled: 0,
            }
        }

        fn before_fetch(mut self, index: usize, f: impl FnMut(&mut Vec<Sim>) + 'static) -> Self {
            self.changes.push((index, Box::new(f)));
            self
        }
    }

    impl PageSource for Table {
        fn fetch(&mut self, start: u64, length: u64) -> Result<HistoryPage> {
            for (i, f) in &mut self.changes {
                if *i == self.fetches {
                    f(&mut self.rows);
                }
            }
            self.rows.sort_by_key(|r| std::cmp::Reverse(r.2));
            self.fetches += 1;
            self.requests.push((start, length));
            let data = self
                .rows
                .iter()
                .skip(start as usize)
                .take(length as usize)
                .copied()
                .map(row)
                .collect();
            Ok(HistoryPage {
                records_filtered: self.rows.len() as i64,
                records_total: Some(self.rows.len() as i64),
                data,
            })
        }

        fn prefetch(&mut self, start: u64, _length: u64, then: Option<u64>) {
            self.prefetched.push((start, then));
        }

        fn settle(&mut self) {
            self.settled += 1;
        }
    }

    /// Reads to the end; returns every yielded (reference_id, row_id) and the outcome.
    fn read_all<S: PageSource>(reader: &mut HistoryReader<S>) -> Vec<(i64, i64)> {
        let mut got = Vec::new();
        let mut last_page = 0;
        while let Some(p) = reader.next_page().unwrap() {
            assert_eq!(p.page, last_page + 1);
            last_page = p.page;
            got.extend(
                p.rows
                    .iter()
                    .map(|r| (r.reference_id.unwrap(), r.row_id.unwrap())),
            );
        }
        assert!(reader.next_page().unwrap().is_none(), "stays finished");
        got
    }

    fn sorted_refs(got: &[(i64, i64)]) -> Vec<i64> {
        let mut refs: Vec<i64> = got.iter().map(|g| g.0).collect();
        refs.sort();
        refs
    }

    #[test]
    fn exact_multiple_of_the_page_size() {
        let mut r = HistoryReader::new(Table::new(12), 4, 100);
        let got = read_all(&mut r);
        assert_eq!(sorted_refs(&got), (1..=12).collect::<Vec<_>>());
        let o = r.outcome();
        assert!(o.complete, "{o:?}");
        assert_eq!(
            (o.pages, o.rows_seen, o.unique_rows, o.records_filtered),
            (3, 12, 12, 12)
        );
        assert_eq!(r.source.requests, [(0, 4), (4, 4), (8, 4)]);
    }

    #[test]
    fn short_last_page_ends_the_read() {
        let mut r = HistoryReader::new(Table::new(10), 4, 100);
        assert_eq!(read_all(&mut r).len(), 10);
        let o = r.outcome();
        assert!(o.complete && o.incomplete_reason.is_none(), "{o:?}");
        assert_eq!(o.pages, 3);
    }

    #[test]
    fn empty_table() {
        let mut r = HistoryReader::new(Table::new(0), 4, 100);
        assert!(read_all(&mut r).is_empty());
        let o = r.outcome();
        assert!(o.complete);
        assert_eq!((o.pages, o.unique_rows, o.records_filtered), (1, 0, 0));
    }

    #[test]
    fn progress_is_reported_per_page_and_outcome_is_open_until_the_end() {
        let mut r = HistoryReader::new(Table::new(10), 4, 100);
        let p = r.next_page().unwrap().unwrap();
        assert_eq!(
            (
                p.page,
                p.start,
                p.rows_seen,
                p.unique_rows,
                p.records_filtered
            ),
            (1, 0, 4, 4, 10)
        );
        assert!(!p.catch_up);
        assert!(!r.outcome().complete);
        assert_eq!(r.outcome().incomplete_reason, None);
    }

    #[test]
    fn plays_added_at_the_top_mid_read_are_all_read() {
        // Two plays arrive after the first page: every row shifts down by two.
        let table = Table::new(10).before_fetch(1, |rows| {
            rows.push((Some(11), Some(11), 5000));
            rows.push((Some(12), Some(12), 5001));
        });
        let mut r = HistoryReader::new(table, 4, 100);
        let got = read_all(&mut r);
        assert_eq!(
            sorted_refs(&got),
            (1..=12).collect::<Vec<_>>(),
            "no row lost or repeated"
        );
        let o = r.outcome();
        assert!(o.complete, "{o:?}");
        assert_eq!(o.catch_up_passes, 1);
        assert_eq!((o.unique_rows, o.records_filtered), (12, 12));
        assert!(o.rows_seen > 12, "repeats were received and skipped: {o:?}");
    }

    #[test]
    fn plays_added_before_every_page_are_caught_up() {
        let mut table = Table::new(20);
        for (fetch, id) in (1..5).zip(100..) {
            table = table.before_fetch(fetch, move |rows| {
                rows.push((Some(id), Some(id), 9000 + id));
            });
        }
        let mut r = HistoryReader::new(table, 5, 100);
        let got = read_all(&mut r);
        let mut want: Vec<i64> = (1..=20).collect();
        want.extend(100..104);
        assert_eq!(sorted_refs(&got), want);
        assert!(r.outcome().complete, "{:?}", r.outcome());
    }

    #[test]
    fn a_grown_group_is_yielded_again_with_its_higher_row_id() {
        // Group 9 is read on the first page; then it grows (row 30, now the newest play) and
        // a new play 31 arrives, so the count comes up short and a catch-up runs.
        let table = Table::new(10).before_fetch(1, |rows| {
            let g = rows.iter_mut().find(|r| r.0 == Some(9)).unwrap();
            *g = (Some(9), Some(30), 6000);
            rows.push((Some(31), Some(31), 6001));
        });
        let mut r = HistoryReader::new(table, 4, 100);
        let got = read_all(&mut r);
        let nine: Vec<_> = got.iter().filter(|g| g.0 == 9).collect();
        assert_eq!(
            nine,
            [&(9, 9), &(9, 30)],
            "yielded again, newer version last"
        );
        assert!(got.contains(&(31, 31)));
        let o = r.outcome();
        assert!(o.complete, "{o:?}");
        assert_eq!(o.unique_rows, 11, "a grown group is still one row");
    }

    #[test]
    fn a_group_that_jumps_above_us_is_caught_up() {
        // Group 2 (near the bottom) grows before page 2 and moves to the top, above us.
        let table = Table::new(10).before_fetch(1, |rows| {
            let g = rows.iter_mut().find(|r| r.0 == Some(2)).unwrap();
            *g = (Some(2), Some(40), 7000);
        });
        let mut r = HistoryReader::new(table, 4, 100);
        let got = read_all(&mut r);
        assert!(got.contains(&(2, 40)), "{got:?}");
        assert!(
            !got.contains(&(2, 2)),
            "the old version was never on a page we read"
        );
        assert_eq!(sorted_refs(&got), (1..=10).collect::<Vec<_>>());
        assert!(r.outcome().complete, "{:?}", r.outcome());
    }

    #[test]
    fn older_versions_of_a_group_are_skipped() {
        // A stale proxy cache serves the group's old version after its new one.
        struct Stale(u32);
        impl PageSource for Stale {
            fn fetch(&mut self, _start: u64, _length: u64) -> Result<HistoryPage> {
                self.0 += 1;
                let data = if self.0 == 1 {
                    vec![row((Some(1), Some(5), 10)), row((Some(2), Some(2), 9))]
                } else {
                    vec![row((Some(1), Some(3), 8))]
                };
                Ok(HistoryPage {
                    records_filtered: 3,
                    records_total: None,
                    data,
                })
            }
        }
        let mut r = HistoryReader::new(Stale(0), 2, 100);
        let got = read_all(&mut r);
        assert_eq!(got, [(1, 5), (2, 2)]);
        let o = r.outcome();
        assert!(!o.complete);
        assert!(o.incomplete_reason.unwrap().contains("do not add up"));
    }

    #[test]
    fn rows_deleted_mid_read_make_it_incomplete() {
        let table = Table::new(10).before_fetch(1, |rows| {
            rows.retain(|r| r.0 != Some(10));
        });
        let mut r = HistoryReader::new(table, 4, 100);
        read_all(&mut r);
        let o = r.outcome();
        assert!(!o.complete, "{o:?}");
        let reason = o.incomplete_reason.unwrap();
        assert!(reason.contains("shrank from 10 to 9"), "{reason}");
    }

    #[test]
    fn max_pages_makes_it_incomplete() {
        let mut r = HistoryReader::new(Table::new(10), 4, 2);
        assert_eq!(read_all(&mut r).len(), 8);
        let o = r.outcome();
        assert!(!o.complete);
        assert_eq!(o.pages, 2);
        let reason = o.incomplete_reason.unwrap();
        assert!(reason.contains("max_pages (2)"), "{reason}");
    }

    #[test]
    fn max_pages_exactly_enough_is_complete() {
        let mut r = HistoryReader::new(Table::new(8), 4, 2);
        read_all(&mut r);
        assert!(r.outcome().complete, "{:?}", r.outcome());
    }

    #[test]
    fn a_server_ignoring_start_makes_it_incomplete() {
        struct IgnoresStart(Table);
        impl PageSource for IgnoresStart {
            fn fetch(&mut self, _start: u64, length: u64) -> Result<HistoryPage> {
                self.0.fetch(0, length)
            }
        }
        let mut r = HistoryReader::new(IgnoresStart(Table::new(10)), 4, 100);
        assert_eq!(read_all(&mut r).len(), 4);
        let o = r.outcome();
        assert!(!o.complete);
        assert_eq!(o.pages, 2);
        let reason = o.incomplete_reason.unwrap();
        assert!(reason.contains("ignores `start`"), "{reason}");
    }

    #[test]
    fn rows_without_row_id_are_skipped_and_counted() {
        let mut table = Table::new(6);
        table.rows.insert(0, (None, None, 9999));
        let mut r = HistoryReader::new(table, 4, 100);
        let got = read_all(&mut r);
        assert_eq!(sorted_refs(&got), (1..=6).collect::<Vec<_>>());
        let o = r.outcome();
        assert_eq!(
            (o.null_id_rows, o.unique_rows, o.records_filtered),
            (1, 6, 7)
        );
        assert!(o.complete, "{o:?}");
    }

    #[test]
    fn pages_of_rows_without_ids_are_not_a_server_ignoring_start() {
        // Two whole pages of rows with neither id look alike, but they are rows without
        // ids (counted as such), not the same rows again.
        let mut table = Table::new(3);
        for i in 0..8 {
            table.rows.push((None, None, 9_000 + i));
        }
        let mut r = HistoryReader::new(table, 4, 100);
        let got = read_all(&mut r);
        assert_eq!(sorted_refs(&got), [1, 2, 3]);
        let o = r.outcome();
        assert!(o.complete, "{o:?}");
        assert_eq!(o.incomplete_reason, None);
        assert_eq!(
            (o.null_id_rows, o.unique_rows, o.records_filtered, o.pages),
            (8, 3, 11, 3)
        );
        // A page repeating the rows that have ids still gives such a server away, nulls
        // or not.
        struct IgnoresStart(Table);
        impl PageSource for IgnoresStart {
            fn fetch(&mut self, _start: u64, length: u64) -> Result<HistoryPage> {
                self.0.fetch(0, length)
            }
        }
        let mut table = Table::new(10);
        table.rows.push((None, None, 1_000_000));
        let mut r = HistoryReader::new(IgnoresStart(table), 4, 100);
        read_all(&mut r);
        let why = r.outcome().incomplete_reason.unwrap_or_default();
        assert!(why.contains("ignores `start`"), "{why}");
    }

    #[test]
    fn rows_without_reference_id_fall_back_to_row_id() {
        let mut table = Table::new(0);
        table.rows = vec![
            (None, Some(3), 30),
            (None, Some(2), 20),
            (None, Some(1), 10),
        ];
        let mut r = HistoryReader::new(table, 2, 100);
        let mut n = 0;
        while let Some(p) = r.next_page().unwrap() {
            n += p.rows.len();
        }
        assert_eq!(n, 3);
        assert!(r.outcome().complete);
    }

    #[test]
    fn a_short_page_before_the_end_is_reported() {
        // A server that caps pages at 3 rows while we ask for 4.
        struct Capped(Table);
        impl PageSource for Capped {
            fn fetch(&mut self, start: u64, length: u64) -> Result<HistoryPage> {
                self.0.fetch(start, length.min(3))
            }
        }
        let mut r = HistoryReader::new(Capped(Table::new(10)), 4, 100);
        read_all(&mut r);
        let o = r.outcome();
        assert!(!o.complete);
        let reason = o.incomplete_reason.unwrap();
        assert!(reason.contains("only 3 of 4 rows"), "{reason}");
    }

    #[test]
    fn a_full_read_guesses_each_next_page_but_never_past_the_end() {
        let mut r = HistoryReader::new(Table::new(10), 3, 100);
        read_all(&mut r);
        assert!(r.outcome().complete);
        assert_eq!(
            r.source.prefetched,
            [(3, Some(6)), (6, Some(9)), (9, None)],
            "no guess at 12: the table has 10 rows"
        );
        assert_eq!(r.source.settled, 1, "settled once, when the read ended");
    }

    #[test]
    fn the_guess_stays_short_of_the_end_and_of_max_pages() {
        // After 1 page of 10, the next at 10: the guess is 20 while rows and pages remain.
        assert_eq!(guess_after(10, 10, 21, 1, 3), Some(20));
        assert_eq!(guess_after(10, 10, 20, 1, 3), None, "20 is the end");
        assert_eq!(
            guess_after(10, 10, 21, 2, 3),
            None,
            "page 4 would pass max_pages 3"
        );
        assert_eq!(guess_after(0, 1, 2, 0, 2), Some(1));
    }

    #[test]
    fn no_guess_past_max_pages() {
        let mut r = HistoryReader::new(Table::new(10), 3, 3);
        read_all(&mut r);
        assert!(!r.outcome().complete);
        assert_eq!(r.source.prefetched, [(3, Some(6)), (6, None)]);
        assert_eq!(r.source.settled, 1);
    }

    #[test]
    fn catch_up_and_incremental_pages_are_never_guessed() {
        let table = Table::new(10).before_fetch(1, |rows| {
            rows.push((Some(11), Some(11), 5000));
            rows.push((Some(12), Some(12), 5001));
        });
        let mut r = HistoryReader::new(table, 4, 100);
        read_all(&mut r);
        assert!(r.outcome().catch_up_passes > 0, "{:?}", r.outcome());
        let catch_up: Vec<_> = r
            .source
            .prefetched
            .iter()
            .skip_while(|p| p.0 != 0)
            .collect();
        assert!(!catch_up.is_empty(), "{:?}", r.source.prefetched);
        assert!(catch_up.iter().all(|p| p.1.is_none()), "{catch_up:?}");

        let mut r = HistoryReader::new(Table::new(100), 4, 100).since(since(90, 1050, 90));
        read_all(&mut r);
        assert!(r.outcome().incremental);
        assert!(r.source.prefetched.len() > 2, "{:?}", r.source.prefetched);
        assert!(r.source.prefetched.iter().all(|p| p.1.is_none()));
    }

    fn since(max_row_id: i64, cutoff_date: i64, records: u64) -> Since {
        Since {
            max_row_id,
            cutoff_date,
            records,
        }
    }

    #[test]
    fn a_full_read_reports_what_a_checkpoint_needs() {
        let mut r = HistoryReader::new(Table::new(10), 4, 100);
        read_all(&mut r);
        let o = r.outcome();
        assert!(o.complete && !o.incremental, "{o:?}");
        assert_eq!((o.max_row_id, o.max_date), (Some(10), Some(1010)));
        assert_eq!(o.checkpoint_row_id(), Some(10));
        assert_eq!(o.unchanged_rows, 0);
    }

    #[test]
    fn incremental_yields_new_and_grown_rows_and_stops_at_the_cutoff() {
        // Checkpoint after rows 1..=100 (dates 1001..=1100), overlap 20 s: cutoff 1080.
        let mut table = Table::new(100);
        for i in 101..=110 {
            table.rows.push((Some(i), Some(i), 1000 + i));
        }
        // Group 95 grew: its newest member is row 111, started last.
        let g = table.rows.iter_mut().find(|r| r.0 == Some(95)).unwrap();
        *g = (Some(95), Some(111), 1111);
        // A play that started before the checkpoint's newest row and finished after it.
        table.rows.push((Some(112), Some(112), 1090));
        let mut r = HistoryReader::new(table, 4, 100).since(since(100, 1080, 100));
        let got = read_all(&mut r);
        let mut want: Vec<(i64, i64)> = (101..=110).map(|i| (i, i)).collect();
        want.push((95, 111));
        want.push((112, 112));
        let mut got_sorted = got.clone();
        got_sorted.sort();
        want.sort();
        assert_eq!(got_sorted, want);
        let o = r.outcome();
        assert!(o.complete && o.incremental, "{o:?}");
        // 32 rows are dated 1080 or later: 8 full pages, and the 9th reaches 1079.
        assert_eq!(o.pages, 9);
        assert_eq!(r.source.requests.len(), 9);
        assert_eq!(o.unchanged_rows, 36 - 12);
        assert_eq!(o.checkpoint_row_id(), Some(112));
        assert_eq!(o.max_date, Some(1111));
        assert_eq!(o.fallback_reason, None);
    }

    #[test]
    fn incremental_with_nothing_new_reads_only_the_overlap() {
        let mut r = HistoryReader::new(Table::new(1000), 100, 100).since(since(1000, 1990, 1000));
        assert!(read_all(&mut r).is_empty());
        let o = r.outcome();
        assert!(o.complete, "{o:?}");
        assert_eq!(o.pages, 1);
        assert_eq!(o.unchanged_rows, 100);
    }

    #[test]
    fn incremental_turns_full_when_rows_disappeared() {
        let mut r = HistoryReader::new(Table::new(10), 4, 100).since(since(10, 1005, 12));
        let got = read_all(&mut r);
        assert_eq!(sorted_refs(&got), (1..=10).collect::<Vec<_>>());
        let o = r.outcome();
        assert!(o.complete && !o.incremental, "{o:?}");
        assert!(o.fallback_reason.unwrap().contains("fewer than the 12"));
    }

    #[test]
    fn incremental_checkpoint_is_conservative_when_the_table_changed() {
        // A play lands at the top after the first page: it is not read now, and a row read
        // later carries a higher id than the first page's, so only the first page's highest
        // id is certain.
        let mut table = Table::new(20);
        table.rows.push((Some(21), Some(21), 1012));
        let table = table.before_fetch(1, |rows| rows.push((Some(22), Some(22), 5000)));
        let mut r = HistoryReader::new(table, 4, 100).since(since(20, 1005, 20));
        let got = read_all(&mut r);
        assert_eq!(got, [(21, 21)]);
        let o = r.outcome();
        assert!(o.complete && o.records_changed, "{o:?}");
        assert_eq!(o.max_row_id, Some(21));
        assert_eq!(o.first_page_max_row_id, Some(20));
        assert_eq!(o.checkpoint_row_id(), Some(20));
    }

    #[test]
    fn incremental_cut_by_max_pages_is_incomplete() {
        let mut r = HistoryReader::new(Table::new(100), 4, 2).since(since(0, 0, 0));
        read_all(&mut r);
        let o = r.outcome();
        assert!(!o.complete);
        assert!(o.incomplete_reason.unwrap().contains("max_pages (2)"));
    }

    #[test]
    fn an_error_ends_the_read_incomplete() {
        struct Failing(u32);
        impl PageSource for Failing {
            fn fetch(&mut self, start: u64, length: u64) -> Result<HistoryPage> {
                self.0 += 1;
                if self.0 == 2 {
                    return Err(Error::Unreachable {
                        reason: "gone".into(),
                    });
                }
                Table::new(10).fetch(start, length)
            }
        }
        let mut r = HistoryReader::new(Failing(0), 4, 100);
        assert!(r.next_page().unwrap().is_some());
        assert!(matches!(r.next_page(), Err(Error::Unreachable { .. })));
        assert!(r.next_page().unwrap().is_none());
        let o = r.outcome();
        assert!(!o.complete);
        assert!(o.incomplete_reason.unwrap().contains("row 4"));
    }
}
