//! What the chart tests share: a UTC clock independent of jiff, session builders, a
//! deterministic generator and checks on charts.

pub(super) use jiff::tz::TimeZone;

use super::data::ChartData;
pub(super) use super::series::{MAX_CONCURRENT, TOTAL};
pub(super) use super::{Chart, ChartKind, ChartOptions, Window, YAxis};
pub(super) use crate::analytics::session::{MediaType, Session, StreamDecision};

/// [`super::compute`] of ungrouped sessions. `tz_name` is only recorded in the chart.
/// `top_n` limits the top-users/top-platforms categories (0 = no limit).
pub(super) fn compute_sessions(
    kind: ChartKind,
    sessions: &[Session],
    tz: &TimeZone,
    tz_name: &str,
    window: Window,
    top_n: usize,
) -> Chart {
    super::compute(
        kind,
        ChartData::from_sessions(sessions),
        tz,
        tz_name,
        window,
        ChartOptions::plays(top_n),
    )
}

/// [`compute_sessions`] with every option given.
pub(super) fn compute_with(
    kind: ChartKind,
    sessions: &[Session],
    zone: &str,
    window: Window,
    options: ChartOptions,
) -> Chart {
    super::compute(
        kind,
        ChartData::from_sessions(sessions),
        &tz(zone),
        zone,
        window,
        options,
    )
}

/// Epoch seconds of a UTC wall-clock time, computed without jiff (days from civil,
/// H. Hinnant), so test inputs do not depend on the code under test.
pub(crate) fn utc(y: i64, m: i64, d: i64, h: i64, mi: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + h * 3600 + mi * 60
}

pub(crate) const H: i64 = 3600;

pub(super) fn tz(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

/// A lone direct-play movie session by alice on Chrome.
pub(crate) fn s(id: i64, started: i64, stopped: i64) -> Session {
    Session {
        id,
        reference_id: id,
        user_id: 1,
        user: "alice".to_string(),
        started,
        stopped: Some(stopped),
        paused_seconds: 0,
        play_seconds: stopped - started,
        media_type: MediaType::Movie,
        live: false,
        rating_key: 100 + id,
        parent_rating_key: None,
        grandparent_rating_key: None,
        section_id: Some(1),
        decision: StreamDecision::DirectPlay,
        platform: "Chrome".to_string(),
        player: "Chrome".to_string(),
        title: format!("Movie {id}"),
    }
}

pub(super) fn ep(id: i64, started: i64, stopped: i64) -> Session {
    Session {
        media_type: MediaType::Episode,
        ..s(id, started, stopped)
    }
}

pub(super) fn chart(kind: ChartKind, sessions: &[Session], zone: &str, window: Window) -> Chart {
    compute_sessions(kind, sessions, &tz(zone), zone, window, 10)
}

/// [`chart`] in UTC over the last `days` days before `now`, as most tests want it.
pub(super) fn utc_chart(kind: ChartKind, sessions: &[Session], now: i64, days: u32) -> Chart {
    chart(kind, sessions, "UTC", Window::last_days(now, days))
}

pub(super) fn data<'c>(c: &'c Chart, name: &str) -> &'c [u64] {
    &c.series_named(name)
        .unwrap_or_else(|| panic!("no series {name} in {:?}", c.series))
        .data
}

pub(super) fn names(c: &Chart) -> Vec<&str> {
    c.series.iter().map(|s| s.name.as_str()).collect()
}

pub(super) fn assert_total_is_sum(c: &Chart) {
    let total = data(c, TOTAL);
    for (i, t) in total.iter().enumerate() {
        let sum: u64 = c
            .series
            .iter()
            .filter(|s| s.name != TOTAL)
            .map(|s| s.data[i])
            .sum();
        assert_eq!(*t, sum, "category {} of {}", c.categories[i], c.kind);
    }
    for s in &c.series {
        assert_eq!(s.data.len(), c.categories.len(), "series {}", s.name);
    }
}

/// A small deterministic generator (xorshift64*), so no extra dependency is needed.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(super) fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_helper_matches_known_epochs() {
        assert_eq!(utc(1970, 1, 1, 0, 0), 0);
        assert_eq!(utc(2026, 3, 29, 1, 30), 1_774_747_800);
        assert_eq!(utc(2026, 10, 25, 0, 30), 1_792_888_200);
        assert_eq!(utc(2026, 11, 1, 6, 30), 1_793_514_600);
        assert_eq!(utc(2000, 2, 29, 12, 0), 951_825_600);
    }
}
