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
//! (crosswatch-host.md, faults 5 and 6).

use std::collections::HashMap;

use std::sync::Arc;

use crate::client::{Client, Command};
use crate::config::HistoryConfig;
use crate::error::Result;
use crate::rows::{HistoryPage, HistoryRow};

/// Catch-up passes from the top at most, after the main pass.
pub const MAX_CATCH_UP_PASSES: u32 = 3;

/// Where history pages come from (Tautulli, or a simulated table in tests).
pub trait PageSource {
    /// Rows `start..start+length` of the filtered, date-descending history.
    fn fetch(&mut self, start: u64, length: u64) -> Result<HistoryPage>;
}

/// The pinned `get_history` parameters, so the result never depends on a server's own
/// grouping or activity settings and never uses `length=-1` (which drops the last row).
/// Tautulli filters Live TV rows as media type `live`, so they are asked for only when
/// `include_live` is on.
pub fn history_params(
    user_id: Option<i64>,
    include_live: bool,
    start: u64,
    length: u64,
) -> Vec<(&'static str, String)> {
    let media_type = if include_live {
        "movie,episode,live"
    } else {
        "movie,episode"
    };
    let mut p = vec![
        ("grouping", "1".to_string()),
        ("include_activity", "0".to_string()),
        ("media_type", media_type.to_string()),
        ("order_column", "date".to_string()),
        ("order_dir", "desc".to_string()),
        ("start", start.to_string()),
        ("length", length.max(1).to_string()),
    ];
    if let Some(id) = user_id {
        p.push(("user_id", id.to_string()));
    }
    p
}

/// [`PageSource`] reading Tautulli through a shared [`Client`].
#[derive(Debug)]
pub struct ClientPages {
    client: Arc<Client>,
    user_id: Option<i64>,
    include_live: bool,
}

impl ClientPages {
    pub fn new(client: Arc<Client>, history: &HistoryConfig) -> Self {
        Self {
            client,
            user_id: history.user_id,
            include_live: history.include_live,
        }
    }
}

impl PageSource for ClientPages {
    fn fetch(&mut self, start: u64, length: u64) -> Result<HistoryPage> {
        self.client.call(
            Command::GetHistory,
            &history_params(self.user_id, self.include_live, start, length),
        )
    }
}

/// One fetched page: the rows that are new (or a grown group's newer version) and where the
/// read stands, for a progress display.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRows {
    /// Rows not yielded before, in page order. A row may repeat a `reference_id` yielded
    /// earlier with a higher `row_id`: that group grew, its new version replaces the old one.
    pub rows: Vec<HistoryRow>,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Main { start: u64, pages: u64 },
    CatchUp { start: u64, pages: u64, found: u64 },
    Done,
}

/// Reads the whole filtered history one page per [`HistoryReader::next_page`] call.
#[derive(Debug)]
pub struct HistoryReader<S> {
    source: S,
    per_page: u64,
    max_pages: u64,
    phase: Phase,
    /// `reference_id` (or `row_id`) -> highest `row_id` yielded.
    seen: HashMap<i64, i64>,
    /// Row ids of the previous main-pass page, to spot a server that ignores `start`.
    previous: Vec<(Option<i64>, Option<i64>)>,
    previous_start: u64,
    /// `recordsFiltered` shrank from .0 to .1 during the read.
    shrank: Option<(u64, u64)>,
    /// The main pass ended on a short page at .0 with .1 rows while more were reported.
    short_early: Option<(u64, u64)>,
    outcome: ReadOutcome,
    records_known: bool,
}

impl<S: PageSource> HistoryReader<S> {
    /// `per_page` rows per request (at least 1), at most `max_pages` pages per pass.
    pub fn new(source: S, per_page: u32, max_pages: u32) -> Self {
        Self {
            source,
            per_page: u64::from(per_page.max(1)),
            max_pages: u64::from(max_pages.max(1)),
            phase: Phase::Main { start: 0, pages: 0 },
            seen: HashMap::new(),
            previous: Vec::new(),
            previous_start: 0,
            shrank: None,
            short_early: None,
            outcome: ReadOutcome::default(),
            records_known: false,
        }
    }

    /// Fetches the next page; `Ok(None)` once the read has ended (see [`Self::outcome`]).
    /// After an error the read is over and incomplete.
    pub fn next_page(&mut self) -> Result<Option<PageRows>> {
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
        let records = u64::try_from(page.records_filtered).unwrap_or(0);
        let grew = if self.records_known {
            let before = self.outcome.records_filtered;
            if records < before && self.shrank.is_none() {
                self.shrank = Some((before, records));
            }
            records.saturating_sub(before)
        } else {
            0
        };
        self.outcome.records_filtered = records;
        self.records_known = true;

        let n = page.data.len() as u64;
        self.outcome.rows_seen += n;
        let ids: Vec<_> = page
            .data
            .iter()
            .map(|r| (r.reference_id, r.row_id))
            .collect();
        let mut rows = Vec::new();
        for row in page.data {
            let Some(row_id) = row.row_id else {
                if !catch_up {
                    self.outcome.null_id_rows += 1;
                }
                continue;
            };
            let group = row.reference_id.unwrap_or(row_id);
            match self.seen.get(&group) {
                Some(&had) if had >= row_id => {}
                Some(_) => {
                    self.seen.insert(group, row_id);
                    rows.push(row);
                }
                None => {
                    self.seen.insert(group, row_id);
                    self.outcome.unique_rows += 1;
                    rows.push(row);
                }
            }
        }
        let next = start + n;
        let full = n >= self.per_page;

        match self.phase {
            Phase::Main { pages, .. } => {
                let pages = pages + 1;
                let repeated = n > 0 && pages > 1 && ids == self.previous && grew < n;
                if repeated {
                    self.finish(Some(format!(
                        "Tautulli answered start={start} with the same {n} rows as \
                         start={}: the server or a reverse proxy ignores `start`, so paging \
                         cannot reach the rest; read without the proxy or update Tautulli",
                        self.previous_start
                    )));
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

    /// Where the read stands (final once [`Self::next_page`] returned `Ok(None)`).
    pub fn outcome(&self) -> ReadOutcome {
        self.outcome.clone()
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
    fn pins_every_parameter() {
        let p = history_params(Some(7), false, 2000, 1000);
        let get = |k: &str| p.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("grouping"), Some("1"));
        assert_eq!(get("include_activity"), Some("0"));
        assert_eq!(get("media_type"), Some("movie,episode"));
        assert_eq!(get("order_column"), Some("date"));
        assert_eq!(get("order_dir"), Some("desc"));
        assert_eq!(get("start"), Some("2000"));
        assert_eq!(get("length"), Some("1000"));
        assert_eq!(get("user_id"), Some("7"));
        assert_eq!(
            history_params(None, false, 0, 0)
                .iter()
                .find(|(n, _)| *n == "user_id"),
            None
        );
        assert_eq!(
            history_params(None, false, 0, 0)
                .iter()
                .find(|(n, _)| *n == "length")
                .unwrap()
                .1,
            "1",
            "never 0 or -1"
        );
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
