//! Which sessions a chart or a collection snapshot counts, by time: Tautulli's own window
//! rule, so both agree with Tautulli and with each other.

use serde::{Deserialize, Serialize};

use crate::analytics::session::Session;

/// Seconds in the days of a window (Tautulli's `time_range` is counted in 86 400 s steps).
pub(crate) const SECONDS_PER_DAY: i64 = 86_400;

/// Which sessions a chart looks at: those that ended (else started) at or after
/// `now - days * 86400` and started at or before `now`. `days == 0` means all time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Epoch seconds: the end of the window (and "today" for per-day charts).
    pub now: i64,
    /// Length in days; 0 = all time (per-day charts then span the first..last day played).
    pub days: u32,
}

impl Window {
    #[cfg(test)]
    pub(crate) fn last_days(now: i64, days: u32) -> Window {
        Window { now, days }
    }

    #[cfg(test)]
    pub(crate) fn all_time(now: i64) -> Window {
        Window { now, days: 0 }
    }

    /// The earliest end time a session may have to be in the window; `None` for all time.
    pub(crate) fn start(&self) -> Option<i64> {
        (self.days > 0).then(|| {
            self.now
                .saturating_sub(i64::from(self.days) * SECONDS_PER_DAY)
        })
    }

    pub(crate) fn contains(&self, session: &Session) -> bool {
        self.contains_span(session.started, session.end())
    }

    /// [`Self::contains`] of a session that started at `started` and ended at `end`.
    pub(crate) fn contains_span(&self, started: i64, end: Option<i64>) -> bool {
        let end = end.unwrap_or(started);
        started <= self.now && self.start().is_none_or(|start| end >= start)
    }

    pub(crate) fn describe(&self) -> String {
        match self.days {
            0 => "all time".to_string(),
            1 => "last day".to_string(),
            n => format!("last {n} days"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::chart::testutil::{s, utc, H};

    #[test]
    fn window_bounds_are_inclusive_and_use_the_end() {
        let now = utc(2026, 11, 21, 12, 0);
        let w = Window::last_days(now, 7);
        let start = now - 7 * 86_400;
        assert_eq!(w.start(), Some(start));
        // Ended exactly at the window start: in. One second earlier: out.
        assert!(w.contains(&s(1, start - 100, start)));
        assert!(!w.contains(&s(2, start - 100, start - 1)));
        // Started before the window but ended inside: in (Tautulli's stopped >= ...).
        assert!(w.contains(&s(3, start - 5 * H, start + H)));
        // No stop, no play time: its start decides.
        let open = Session {
            stopped: None,
            play_seconds: 0,
            ..s(4, start + 10, start + 10)
        };
        assert!(w.contains(&open));
        assert!(!w.contains(&Session {
            started: start - 1,
            ..open.clone()
        }));
        // Started after now: out, also for all time.
        assert!(!w.contains(&s(5, now + 1, now + 100)));
        assert!(!Window::all_time(now).contains(&s(5, now + 1, now + 100)));
        assert!(Window::all_time(now).contains(&s(6, 0, 10)));
        assert_eq!(Window::all_time(now).start(), None);
    }
}
