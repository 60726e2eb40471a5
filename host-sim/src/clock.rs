//! The host's one clock. What needs "now" (an import's snapshot stamp and checkpoint time,
//! retention's cutoff, an export's `ts`) is handed a [`Clock`] or the time read from one,
//! never reading the system time itself, so a caller can fix the time it runs at.

use std::time::{SystemTime, UNIX_EPOCH};

/// Where "now" comes from.
pub trait Clock {
    /// Seconds since the Unix epoch.
    fn now_epoch(&self) -> i64;
}

/// The system's real time; a clock set before 1970 reads as the epoch itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_epoch(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_reads_the_system_time() {
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let now = SystemClock.now_epoch();
        let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        assert!((before.as_secs() as i64..=after.as_secs() as i64).contains(&now));
    }
}
