//! What a request would cost a real Tautulli 2.17.2, so tests and the benchmark can tell a
//! cheap read from an expensive one although the fake answers both in microseconds.
//!
//! The server reports what it did for a request as [`Work`] (rows of the history table, of
//! the filtered view, of the returned page); a [`CostModel`] prices it. The parameters come
//! from a real 2.17.2 on a 2-core machine:
//! - `get_history` (a DataTables command) runs its whole SQL query, builds every matching
//!   row as a Python dict, then slices `start`/`length` in Python: a page costs the whole
//!   filtered history, whatever its length (7-9 s at 200 000 plays). Filters (the date
//!   filters included) are SQL, so a filtered request costs the scan plus its rows (an empty
//!   date window 0.67 s at 200 000 plays, 11 540 rows 2.5 s).
//! - graph commands aggregate in SQL: the scan plus a little per session in the window
//!   (`get_plays_by_date` over 3 650 days at 200 000 plays: 1.4 s).
//! - commands that ask Plex cost tens of milliseconds whatever the history holds.
//!
//! Tautulli has no result cache, so the cost is charged on every request, even when the fake
//! answered from its own view cache.

use std::time::Duration;

/// Per-request and per-row prices of Tautulli's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostModel {
    /// Every API request: routing, authentication, the JSON envelope.
    pub fixed: Duration,
    /// Per row of the whole `session_history` table: the SQL scan behind every history query
    /// and graph, whatever its filters select.
    pub scan_per_row: Duration,
    /// Per row of a history query's filtered (grouped) result: built as a Python dict before
    /// the page is sliced out of it.
    pub filtered_per_row: Duration,
    /// Per row a history answer returns: rendering and JSON encoding.
    pub returned_per_row: Duration,
    /// Per session a graph aggregates (those in its window).
    pub aggregated_per_row: Duration,
    /// A command that asks Plex (`get_metadata` and friends): one to three Plex requests.
    pub plex: Duration,
}

impl CostModel {
    /// Fitted to Tautulli 2.17.2 on a 2-core machine: at 200 000 plays an unfiltered page
    /// costs 0.67 s of scan + 7 s of row building + 0.125 ms per returned row (7.8 s for
    /// 1 000 rows), a date-filtered request 0.67 s + 0.16 ms per row, `get_plays_by_date`
    /// over 3 650 days 1.4 s, `get_metadata` 30 ms.
    pub fn tautulli_2_17() -> CostModel {
        CostModel {
            fixed: Duration::from_millis(5),
            scan_per_row: Duration::from_nanos(3_350),
            filtered_per_row: Duration::from_micros(35),
            returned_per_row: Duration::from_micros(125),
            aggregated_per_row: Duration::from_nanos(3_700),
            plex: Duration::from_millis(30),
        }
    }

    /// The modelled time Tautulli spends on `work`.
    pub fn cost(&self, work: &Work) -> Duration {
        let rows =
            |price: Duration, n: usize| price.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
        let variable = match *work {
            Work::Light => Duration::ZERO,
            Work::Plex => self.plex,
            Work::Scan { table } => rows(self.scan_per_row, table),
            Work::History {
                table,
                filtered,
                returned,
            } => rows(self.scan_per_row, table)
                .saturating_add(rows(self.filtered_per_row, filtered))
                .saturating_add(rows(self.returned_per_row, returned)),
            Work::Aggregate { table, rows: n } => {
                rows(self.scan_per_row, table).saturating_add(rows(self.aggregated_per_row, n))
            }
        };
        self.fixed.saturating_add(variable)
    }
}

impl Default for CostModel {
    fn default() -> CostModel {
        CostModel::tautulli_2_17()
    }
}

/// What answering one request made Tautulli do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Work {
    /// No history rows touched: settings, lists, errors, injected faults.
    Light,
    /// Asked Plex (metadata, children, collections).
    Plex,
    /// A SQL pass over the history table without per-row Python work.
    Scan { table: usize },
    /// A DataTables history query: the scan of `table` rows, `filtered` rows built (the
    /// grouped, filtered result before paging), `returned` rows sent.
    History {
        table: usize,
        filtered: usize,
        returned: usize,
    },
    /// A SQL aggregate (graphs): the scan of `table` rows and `rows` sessions aggregated.
    Aggregate { table: usize, rows: usize },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn defaults_reproduce_the_measurements() {
        let m = CostModel::default();
        let page = |returned| {
            secs(m.cost(&Work::History {
                table: 200_000,
                filtered: 200_000,
                returned,
            }))
        };
        // Unfiltered pages at 200 000 plays: 7-9 s whatever the length.
        assert!((7.5..9.0).contains(&page(1_000)), "{}", page(1_000));
        assert!((7.5..9.0).contains(&page(10_000)), "{}", page(10_000));
        // Date windows: 0.67 s empty, ~2.5 s for 11 540 rows, ~4.3 s for 21 415.
        let window = |n| {
            secs(m.cost(&Work::History {
                table: 200_000,
                filtered: n,
                returned: n,
            }))
        };
        assert!((0.6..0.8).contains(&window(0)), "{}", window(0));
        assert!((2.3..2.8).contains(&window(11_540)), "{}", window(11_540));
        assert!((3.9..4.6).contains(&window(21_415)), "{}", window(21_415));
        let graph = secs(m.cost(&Work::Aggregate {
            table: 200_000,
            rows: 200_000,
        }));
        assert!((1.3..1.5).contains(&graph), "{graph}");
        assert_eq!(m.cost(&Work::Plex), Duration::from_millis(35));
        assert_eq!(m.cost(&Work::Light), m.fixed);
    }

    #[test]
    fn huge_counts_saturate_instead_of_panicking() {
        let m = CostModel {
            scan_per_row: Duration::MAX,
            ..CostModel::default()
        };
        assert_eq!(m.cost(&Work::Scan { table: usize::MAX }), Duration::MAX);
    }
}
