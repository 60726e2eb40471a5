//! Windows of whole server-local days, planned from per-day play counts.
//!
//! Tautulli's `get_history` builds its whole filtered result on every request, so a page
//! costs the size of what the filter selects, not the size of the page. Its day filters
//! (`after`/`before`, inclusive, server-local days) are SQL and cheap. So the history is
//! read in windows of consecutive days, each holding about `target` rows, one request per
//! window. The plan only needs day strings, which `get_plays_by_date` hands out in the
//! server's own time zone: the plugin never needs to know that zone.
//!
//! Every day is in exactly one window. The newest window is open at the top (plays that
//! land while the read runs, or on days after the counts were taken) and the oldest is open
//! at the bottom (history older than the counts' horizon).

use jiff::civil::Date;

/// One request's worth of history: every row whose sessions started on `after..=before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    /// First day, inclusive; `None`: open at the bottom (everything older too).
    pub after: Option<Date>,
    /// Last day, inclusive; `None`: open at the top.
    pub before: Option<Date>,
    /// Rows the counts expect in it; `None` when nothing is known.
    pub expected: Option<u64>,
}

impl Window {
    /// The whole history, no day filter at all.
    pub const ALL: Window = Window {
        after: None,
        before: None,
        expected: None,
    };

    /// Everything from `day` on (an incremental read).
    pub fn since(day: Date) -> Window {
        Window {
            after: Some(day),
            before: None,
            expected: None,
        }
    }

    /// Everything up to `day` (history the counts did not cover).
    pub fn until(day: Date) -> Window {
        Window {
            after: None,
            before: Some(day),
            expected: None,
        }
    }

    /// The `length` to ask for: the expected rows plus room for plays counted late, and at
    /// least `floor` when nothing is expected (an open or unknown window).
    pub fn length(&self, floor: u64, cap: u64) -> u64 {
        let want = match self.expected {
            Some(e) => e + (e / 8).max(64),
            None => floor,
        };
        want.clamp(1, cap.max(1))
    }
}

/// Plans windows, newest first, from `days` (server-local days with their play counts, in
/// any order; days missing from the list count as empty). Consecutive days are packed
/// while their sum stays within `target`; a single day above `target` gets a window of its
/// own. With no days at all the plan is one unfiltered window.
pub fn plan(days: &[(Date, u64)], target: u64) -> Vec<Window> {
    let mut days: Vec<(Date, u64)> = days.to_vec();
    days.sort_by_key(|d| std::cmp::Reverse(d.0));
    days.dedup_by_key(|d| d.0);
    let target = target.max(1);
    let mut windows: Vec<Window> = Vec::new();
    // The window being packed: (newest day, oldest day, rows).
    let mut open: Option<(Date, Date, u64)> = None;
    for &(day, count) in &days {
        open = match open {
            Some((hi, lo, sum)) if sum > 0 && sum + count > target => {
                windows.push(Window {
                    after: Some(lo),
                    before: Some(hi),
                    expected: Some(sum),
                });
                Some((day, day, count))
            }
            Some((hi, _, sum)) => Some((hi, day, sum + count)),
            None => Some((day, day, count)),
        };
    }
    if let Some((hi, lo, sum)) = open {
        windows.push(Window {
            after: Some(lo),
            before: Some(hi),
            expected: Some(sum),
        });
    }
    // Days missing from the list belong to the window above them: no day falls between.
    for i in 1..windows.len() {
        let below = windows[i].before;
        if let Some(next) = below.and_then(|d| d.tomorrow().ok()) {
            windows[i - 1].after = Some(next);
        }
    }
    let Some(first) = windows.first_mut() else {
        return vec![Window::ALL];
    };
    first.before = None;
    if let Some(last) = windows.last_mut() {
        last.after = None;
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn d(day: i8) -> Date {
        date(2026, 3, day)
    }

    #[test]
    fn packs_consecutive_days_up_to_the_target_newest_first() {
        let days: Vec<_> = (1..=10).map(|i| (d(i), 10)).collect();
        let w = plan(&days, 30);
        assert_eq!(
            w,
            vec![
                Window {
                    after: Some(d(8)),
                    before: None,
                    expected: Some(30)
                },
                Window {
                    after: Some(d(5)),
                    before: Some(d(7)),
                    expected: Some(30)
                },
                Window {
                    after: Some(d(2)),
                    before: Some(d(4)),
                    expected: Some(30)
                },
                Window {
                    after: None,
                    before: Some(d(1)),
                    expected: Some(10)
                },
            ]
        );
    }

    #[test]
    fn every_day_is_in_exactly_one_window() {
        // Irregular counts with empty runs and one day above the target.
        let counts = [0, 5, 0, 0, 90, 3, 3, 0, 40, 1, 1, 1, 0, 0, 25, 7];
        let days: Vec<_> = counts
            .iter()
            .enumerate()
            .map(|(i, &c)| (d(i as i8 + 1), c))
            .collect();
        for target in [1, 7, 30, 50, 1000] {
            let w = plan(&days, target);
            let covered = |day: Date| {
                w.iter()
                    .filter(|w| {
                        w.after.is_none_or(|a| a <= day) && w.before.is_none_or(|b| day <= b)
                    })
                    .count()
            };
            for &(day, _) in &days {
                assert_eq!(covered(day), 1, "target {target}, day {day}: {w:?}");
            }
            // Days outside the counts fall in the open ends, once.
            assert_eq!(covered(date(2026, 2, 1)), 1);
            assert_eq!(covered(date(2026, 5, 1)), 1);
            let total: u64 = w.iter().filter_map(|w| w.expected).sum();
            assert_eq!(total, counts.iter().sum::<u64>());
            for win in &w {
                let e = win.expected.unwrap();
                assert!(
                    e <= target || win.after == win.before || win.after.is_none() || {
                        // A window above the target holds one non-empty day (plus empty ones).
                        let inside: Vec<_> = days
                            .iter()
                            .filter(|(day, c)| {
                                *c > 0
                                    && win.after.is_none_or(|a| a <= *day)
                                    && win.before.is_none_or(|b| *day <= b)
                            })
                            .collect();
                        inside.len() == 1
                    }
                );
            }
        }
    }

    #[test]
    fn days_missing_from_the_counts_fall_in_the_window_above_them() {
        let w = plan(&[(d(1), 5), (d(5), 5), (d(9), 5)], 5);
        assert_eq!(w.len(), 3);
        assert_eq!((w[0].after, w[0].before), (Some(d(6)), None));
        assert_eq!((w[1].after, w[1].before), (Some(d(2)), Some(d(5))));
        assert_eq!((w[2].after, w[2].before), (None, Some(d(1))));
    }

    #[test]
    fn a_day_above_the_target_stands_alone() {
        let days = [(d(1), 5), (d(2), 500), (d(3), 5)];
        let w = plan(&days, 100);
        let expected: Vec<_> = w.iter().map(|w| w.expected.unwrap()).collect();
        assert_eq!(expected, [5, 500, 5]);
    }

    #[test]
    fn no_counts_means_one_unfiltered_window_and_order_does_not_matter() {
        assert_eq!(plan(&[], 100), vec![Window::ALL]);
        let a = plan(&[(d(1), 3), (d(2), 4)], 5);
        let b = plan(&[(d(2), 4), (d(1), 3), (d(2), 4)], 5);
        assert_eq!(a, b);
    }

    #[test]
    fn lengths_leave_room_and_respect_the_cap() {
        let w = Window {
            expected: Some(800),
            ..Window::ALL
        };
        assert_eq!(w.length(10, 100_000), 900);
        assert_eq!(w.length(10, 850), 850);
        assert_eq!(Window::ALL.length(5000, 100_000), 5000);
        let empty = Window {
            expected: Some(0),
            ..Window::ALL
        };
        assert_eq!(empty.length(10, 100), 64);
    }
}
