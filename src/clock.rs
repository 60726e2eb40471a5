//! The one clock of the crate: where time is read and waited for. The system's, or in tests
//! a clock whose waits return at once and move it forward instead (ureq's `CurrentTime` is
//! the model), so a retry after `Retry-After: 1` costs a test nothing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Reads the time and waits. Cheap to clone; clones share one time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None`: the system clock. Else how far waiting moved a test clock past the system's.
    skipped: Option<Arc<Mutex<Duration>>>,
}

impl Clock {
    /// The system clock: waits really wait.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A test clock: the system's, moved forward by every wait instead of waiting.
    #[cfg(test)]
    pub fn skipping() -> Clock {
        Clock {
            skipped: Some(Arc::default()),
        }
    }

    fn skipped(&self) -> Duration {
        self.skipped.as_ref().map_or(Duration::ZERO, |s| {
            *s.lock().unwrap_or_else(|e| e.into_inner())
        })
    }

    /// Now, for measuring how long something took.
    pub fn now(&self) -> Instant {
        Instant::now() + self.skipped()
    }

    /// Time gone since `then` (a [`Clock::now`] of this clock).
    pub fn since(&self, then: Instant) -> Duration {
        self.now().saturating_duration_since(then)
    }

    /// Seconds since the Unix epoch.
    pub fn epoch(&self) -> i64 {
        (SystemTime::now() + self.skipped())
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    /// Waits `d`: sleeps on the system clock, moves a test clock forward.
    pub fn sleep(&self, d: Duration) {
        match &self.skipped {
            None => std::thread::sleep(d),
            Some(s) => *s.lock().unwrap_or_else(|e| e.into_inner()) += d,
        }
    }
}

/// The hidden environment variable that shortens [`lock_wait`]. Not a product setting (no
/// document names it): host-sim's end-to-end tests run the plugin inside another process,
/// where no test clock reaches, and set it so a test that holds a lock on purpose proves
/// the wait and its error in a second instead of waiting out the production wait.
pub(crate) const LOCK_WAIT_ENV: &str = "TAUTULLI_PLUGIN_LOCK_WAIT_SECS";

/// How long one of the plugin's SQLite files waits for another run's lock: `production`,
/// unless [`LOCK_WAIT_ENV`] holds a whole number of seconds.
pub(crate) fn lock_wait(production: Duration) -> Duration {
    lock_wait_from(std::env::var(LOCK_WAIT_ENV).ok().as_deref(), production)
}

fn lock_wait_from(setting: Option<&str>, production: Duration) -> Duration {
    setting
        .and_then(|s| s.trim().parse().ok())
        .map_or(production, Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skipping_clock_moves_instead_of_waiting() {
        let clock = Clock::skipping();
        let (wall, start, epoch) = (Instant::now(), clock.now(), clock.epoch());
        clock.clone().sleep(Duration::from_secs(3600));
        assert!(clock.since(start) >= Duration::from_secs(3600));
        assert!(clock.epoch() >= epoch + 3600);
        assert!(wall.elapsed() < Duration::from_secs(60), "it did not wait");
    }

    #[test]
    fn the_system_clock_waits() {
        let clock = Clock::system();
        let start = clock.now();
        clock.sleep(Duration::from_millis(20));
        assert!(clock.since(start) >= Duration::from_millis(20));
    }

    #[test]
    fn the_lock_wait_is_the_production_one_unless_the_hidden_knob_says_otherwise() {
        let production = Duration::from_secs(15);
        assert_eq!(lock_wait_from(None, production), production);
        assert_eq!(
            lock_wait_from(Some("1"), production),
            Duration::from_secs(1)
        );
        assert_eq!(lock_wait_from(Some("soon"), production), production);
    }
}
