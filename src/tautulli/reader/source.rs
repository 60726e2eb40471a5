//! Where the reader's pages come from, and what it needs of a page and a row: the
//! [`PageSource`] and [`WindowSource`] traits (Tautulli through [`super::ahead`], or a
//! simulated table in tests), the [`Query`] of one request, and the pinned `get_history`
//! parameters.

use jiff::civil::Date;

use crate::error::Result;
use crate::tautulli::reader::merge;
use crate::tautulli::rows::{HistoryPage, HistoryRow};
use crate::timefmt::valid_time;

/// Where history pages come from (Tautulli, or a simulated table in tests). `P` is the
/// page type: [`HistoryPage`] of the index's rows, or of a view of them (the analytics sync's).
pub trait PageSource<P = HistoryPage> {
    /// Rows `start..start+length` of the filtered, date-descending history.
    fn fetch(&mut self, start: u64, length: u64) -> Result<P>;

    /// The reader's next call will be `fetch(start, length)`: a source may send that request
    /// now, so it travels (and the server works on it) while the caller works on the page
    /// at hand. The reader only says so once its next request is decided.
    ///
    /// `then` is a guess: the start of the page the reader expects to ask for after that
    /// one, if it proves full. A source may request it as soon as the first answer arrives.
    /// The guess is wrong only when the history changed or the server misbehaves (a short,
    /// repeated or malformed page), and then costs one read-only request.
    fn prefetch(&mut self, start: u64, length: u64, then: Option<u64>) {
        let _ = (start, length, then);
    }

    /// The read is over: wait for (and drop) anything still sent ahead, so nothing is left
    /// running and request counts are final.
    fn settle(&mut self) {}
}

/// One `get_history` request's slice: rows `start..start+length` of the rows whose sessions
/// started on the server-local days `after..=before` (no day filter where `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Query {
    pub after: Option<Date>,
    pub before: Option<Date>,
    pub start: u64,
    pub length: u64,
}

impl Query {
    /// A page of the unfiltered history.
    pub fn page(start: u64, length: u64) -> Query {
        Query {
            after: None,
            before: None,
            start,
            length,
        }
    }

    /// The day filters as `get_history` parameters (`YYYY-MM-DD`).
    pub fn day_params(&self) -> impl Iterator<Item = (&'static str, String)> {
        let after = self.after.map(|d| ("after", d.to_string()));
        let before = self.before.map(|d| ("before", d.to_string()));
        after.into_iter().chain(before)
    }
}

/// Per-day play counts: `(server-local day, plays)`.
pub type DayCounts = Vec<(Date, u64)>;

/// Where windowed history comes from: [`PageSource`] with day filters, and the per-day
/// counts windows are planned from.
pub trait WindowSource<P = HistoryPage>: PageSource<P> {
    /// The slice `q` of the day-filtered, date-descending history.
    fn fetch_query(&mut self, q: &Query) -> Result<P>;

    /// The reader's next call will be `fetch_query(q)`; `then` guesses the one after it
    /// (see [`PageSource::prefetch`]).
    fn prefetch_query(&mut self, q: &Query, then: Option<Query>) {
        let _ = (q, then);
    }

    /// Plays per server-local day over the last `days` days; `Ok(None)` when this source
    /// cannot count (the reader then walks the history without a plan).
    fn day_counts(&mut self, days: u32) -> Result<Option<DayCounts>> {
        let _ = days;
        Ok(None)
    }
}

impl<P, S: PageSource<P> + ?Sized> PageSource<P> for &mut S {
    fn fetch(&mut self, start: u64, length: u64) -> Result<P> {
        (**self).fetch(start, length)
    }
    fn prefetch(&mut self, start: u64, length: u64, then: Option<u64>) {
        (**self).prefetch(start, length, then)
    }
    fn settle(&mut self) {
        (**self).settle()
    }
}

impl<P, S: WindowSource<P> + ?Sized> WindowSource<P> for &mut S {
    fn fetch_query(&mut self, q: &Query) -> Result<P> {
        (**self).fetch_query(q)
    }
    fn prefetch_query(&mut self, q: &Query, then: Option<Query>) {
        (**self).prefetch_query(q, then)
    }
    fn day_counts(&mut self, days: u32) -> Result<Option<DayCounts>> {
        (**self).day_counts(days)
    }
}

/// The pinned `get_history` parameters, so the result never depends on a server's own
/// grouping or activity settings and never uses `length=-1` (which drops the last row).
/// Tautulli filters Live TV rows as media type `live`, so they are asked for only when
/// `include_live` is on.
pub fn history_params(
    user_id: Option<i64>,
    include_live: bool,
    q: &Query,
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
        ("start", q.start.to_string()),
        ("length", q.length.max(1).to_string()),
    ];
    if let Some(id) = user_id {
        p.push(("user_id", id.to_string()));
    }
    p.extend(q.day_params());
    p
}

/// The `then` of [`PageSource::prefetch`]: the start of the page after the one at `next`,
/// for a pass that has read `pages` pages and will read `next` if the page at hand is full;
/// only while it is short of the reported `records` and of `max_pages`. Only for a pass
/// that reads to the end (no checkpoint or cutoff can stop it at `next`).
pub fn guess_after(
    next: u64,
    per_page: u64,
    records: u64,
    pages: u64,
    max_pages: u64,
) -> Option<u64> {
    let then = next + per_page;
    (then < records && pages + 1 < max_pages).then_some(then)
}

/// A page of history rows, as the reader needs it.
pub trait RowsPage {
    type Row: PagedRow;
    /// Tautulli's `recordsFiltered`.
    fn records_filtered(&self) -> i64;
    /// Tautulli's `recordsTotal`: every session in its table, whatever the filters.
    fn records_total(&self) -> Option<i64> {
        None
    }
    fn into_rows(self) -> Vec<Self::Row>;
}

/// What the reader reads of a row.
pub trait PagedRow {
    fn row_id(&self) -> Option<i64>;
    fn reference_id(&self) -> Option<i64>;
    /// The row's date when it is a usable time ([`valid_time`]): an absurd one must not
    /// move a checkpoint or a cutoff, nor make a window look unfiltered.
    fn date(&self) -> Option<i64>;
}

/// Any page of rows the reader can read.
impl<R: PagedRow> RowsPage for HistoryPage<R> {
    type Row = R;
    fn records_filtered(&self) -> i64 {
        self.records_filtered
    }
    fn records_total(&self) -> Option<i64> {
        self.records_total
    }
    fn into_rows(self) -> Vec<R> {
        self.data
    }
}

/// A row as the index reads it: part of a group (`grouping=1`), known by the group's first
/// row.
impl PagedRow for HistoryRow {
    fn row_id(&self) -> Option<i64> {
        self.row_id
    }
    fn reference_id(&self) -> Option<i64> {
        self.reference_id
    }
    fn date(&self) -> Option<i64> {
        valid_time(self.date)
    }
}

/// The parts of a play a day window cut in two are one play again: the later part's ids and
/// times win, the chain's first start is kept.
impl merge::Part for HistoryRow {
    fn chain(&self) -> Option<i64> {
        self.reference_id
    }
    fn starts_chain(&self) -> bool {
        merge::starts_chain(self.reference_id, self.group_first)
    }
    fn absorb(&mut self, older: HistoryRow) {
        self.row_id = merge::later(self.row_id, older.row_id);
        self.date = merge::later(self.date, older.date);
        self.started = merge::earlier(self.started, older.started);
        self.stopped = merge::later(self.stopped, older.stopped);
        self.percent_complete = merge::later(self.percent_complete, older.percent_complete);
        self.watched_status = merge::larger_f(self.watched_status, older.watched_status);
        self.group_first = merge::earlier(self.group_first, older.group_first);
        self.has_state |= older.has_state;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_every_parameter() {
        let p = history_params(Some(7), false, &Query::page(2000, 1000));
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
            history_params(None, false, &Query::page(0, 0))
                .iter()
                .find(|(n, _)| *n == "user_id"),
            None
        );
        assert_eq!(
            history_params(None, false, &Query::page(0, 0))
                .iter()
                .find(|(n, _)| *n == "length")
                .unwrap()
                .1,
            "1",
            "never 0 or -1"
        );
    }
}
