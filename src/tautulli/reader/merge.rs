//! A viewing cut in two by a window boundary, made one viewing again.
//!
//! Tautulli filters sessions by their start day *before* grouping them, so a grouped viewing
//! (consecutive partial plays of one item by one user, chained by `reference_id`) whose
//! sessions fall in two windows comes back as two rows, each grouped over its own sessions.
//! Both rows carry the chain's `reference_id`; only the part holding the chain's first
//! session lists that id among its `group_ids`. Windows are read newest first, so a part
//! that lacks the first session is held until the older part arrives, and the two are folded
//! together the way Tautulli folds a group (latest start, earliest start, latest stop, highest
//! progress): the result equals the row an unwindowed read gives. Parts whose first session
//! never arrives (deleted, or older than an incremental read) are released at the end.

use std::collections::HashMap;

use crate::hash::FxHashMap;

/// A grouped history row as the merger sees it.
pub trait Part: Sized {
    /// The chain's `reference_id` (`None`: not groupable, passed through).
    fn chain(&self) -> Option<i64>;
    /// The part holds the chain's first session.
    fn starts_chain(&self) -> bool;
    /// Folds `older`, another part of the same chain, into this one.
    fn absorb(&mut self, older: Self);
}

/// Holds parts of chains until their first session has been read.
#[derive(Debug)]
pub struct Merger<R> {
    held: FxHashMap<i64, R>,
    /// Parts folded into another part so far.
    folded: u64,
}

impl<R> Default for Merger<R> {
    fn default() -> Self {
        Self {
            held: HashMap::default(),
            folded: 0,
        }
    }
}

impl<R: Part> Merger<R> {
    /// Takes the next row in read order (newest window first); returns it, merged with the
    /// newer parts held for its chain, once it is whole, or `None` while it waits.
    pub fn offer(&mut self, row: R) -> Option<R> {
        let Some(chain) = row.chain() else {
            return Some(row);
        };
        let merged = match self.held.remove(&chain) {
            Some(mut newer) => {
                self.folded += 1;
                newer.absorb(row);
                newer
            }
            None => row,
        };
        if merged.starts_chain() {
            Some(merged)
        } else {
            self.held.insert(chain, merged);
            None
        }
    }

    /// Parts folded into another part so far: viewings a window boundary had split.
    pub fn folded(&self) -> u64 {
        self.folded
    }

    /// Every part still waiting, as it stands (the read is over).
    pub fn drain(&mut self) -> Vec<R> {
        let mut rest: Vec<(i64, R)> = self.held.drain().collect();
        rest.sort_by_key(|(chain, _)| std::cmp::Reverse(*chain));
        rest.into_iter().map(|(_, r)| r).collect()
    }
}

/// Whether a part with `reference_id` and the smallest of its `group_ids` holds the chain's
/// first session. Unknown means yes: a row is never held on a guess.
pub fn starts_chain(reference_id: Option<i64>, first: Option<i64>) -> bool {
    match (reference_id, first) {
        (Some(r), Some(f)) => f <= r,
        _ => true,
    }
}

/// Tautulli's fold of two parts of one group: the later start, earlier start and later stop,
/// and the larger progress.
pub fn later(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    a.max(b)
}

pub fn earlier(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

pub fn larger_f(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tautulli::rows::first_id;

    /// (reference_id, first id, started, stopped)
    #[derive(Debug, Clone, PartialEq)]
    struct P {
        chain: Option<i64>,
        first: Option<i64>,
        started: Option<i64>,
        stopped: Option<i64>,
    }

    impl Part for P {
        fn chain(&self) -> Option<i64> {
            self.chain
        }
        fn starts_chain(&self) -> bool {
            starts_chain(self.chain, self.first)
        }
        fn absorb(&mut self, older: P) {
            self.first = earlier(self.first, older.first);
            self.started = earlier(self.started, older.started);
            self.stopped = later(self.stopped, older.stopped);
        }
    }

    fn p(chain: i64, first: i64, started: i64, stopped: i64) -> P {
        P {
            chain: Some(chain),
            first: Some(first),
            started: Some(started),
            stopped: Some(stopped),
        }
    }

    #[test]
    fn a_whole_row_passes_straight_through() {
        let mut m = Merger::default();
        assert_eq!(m.offer(p(5, 5, 10, 20)), Some(p(5, 5, 10, 20)));
        assert_eq!(m.held.len(), 0);
    }

    #[test]
    fn a_newer_part_waits_for_the_older_one_and_they_fold_into_one_row() {
        let mut m = Merger::default();
        // Window 1 (newer days): sessions 7 and 9 of chain 5.
        assert_eq!(m.offer(p(5, 7, 100, 190)), None);
        // Window 2: a middle part, still without the first session.
        assert_eq!(m.offer(p(5, 6, 50, 60)), None);
        assert_eq!(m.held.len(), 1);
        // Window 3: the first session.
        assert_eq!(m.offer(p(5, 5, 10, 20)), Some(p(5, 5, 10, 190)));
        assert_eq!(m.held.len(), 0);
        assert_eq!(m.folded(), 2);
    }

    #[test]
    fn parts_whose_first_session_never_comes_are_released_at_the_end() {
        let mut m = Merger::default();
        assert_eq!(m.offer(p(3, 8, 100, 120)), None);
        assert_eq!(m.offer(p(4, 9, 100, 120)), None);
        assert_eq!(m.offer(p(3, 6, 40, 50)), None);
        assert_eq!(m.drain(), vec![p(4, 9, 100, 120), p(3, 6, 40, 120)]);
        assert_eq!(m.held.len(), 0);
    }

    #[test]
    fn rows_without_a_chain_or_group_ids_are_never_held() {
        let mut m = Merger::default();
        let loose = P {
            chain: None,
            first: Some(9),
            started: None,
            stopped: None,
        };
        assert_eq!(m.offer(loose.clone()), Some(loose));
        let unknown = P {
            first: None,
            ..p(4, 0, 1, 2)
        };
        assert_eq!(m.offer(unknown.clone()), Some(unknown));
    }

    #[test]
    fn group_id_lists_are_read_leniently() {
        assert_eq!(first_id("3,4"), Some(3));
        assert_eq!(first_id(" 9 , 2,x"), Some(2));
        assert_eq!(first_id(""), None);
        assert!(starts_chain(Some(3), Some(3)));
        assert!(!starts_chain(Some(3), Some(4)));
        assert!(starts_chain(None, Some(4)));
    }

    #[test]
    fn folds_keep_tautulli_semantics() {
        assert_eq!(later(Some(1), None), Some(1));
        assert_eq!(later(Some(1), Some(3)), Some(3));
        assert_eq!(earlier(None, Some(2)), Some(2));
        assert_eq!(earlier(Some(5), Some(2)), Some(2));
        assert_eq!(larger_f(Some(0.5), Some(1.0)), Some(1.0));
        assert_eq!(larger_f(None, Some(0.25)), Some(0.25));
    }
}
