//! What a chart is computed from: compact session rows and the names they point at.

#[cfg(test)]
use std::collections::HashMap;

use super::series::MediaSeries;
#[cfg(test)]
use crate::analytics::session::Session;
use crate::analytics::session::{self, MediaType, StreamDecision};
use crate::analytics::store::{decision_of_code, media_of_code, Store};
use crate::analytics::window::Window;
use crate::error::Result;
use crate::hash::FxHashMap;

/// One session as the charts read it: numbers only, with the user and platform as indexes
/// into [`ChartData::names`], so a year of a million sessions is tens of megabytes rather
/// than hundreds (no titles, no player names, no per-session strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ChartRow {
    pub(super) id: i64,
    pub(super) reference_id: i64,
    pub(super) started: i64,
    /// [`Session::end`](crate::analytics::Session::end) (meaningful only when `has_end`).
    end: i64,
    /// Tautulli's `stopped` (meaningful only when `has_stop`).
    stopped: i64,
    paused: i64,
    pub(super) user_id: i64,
    /// Index of the user's name (friendly, else user name) in [`ChartData::names`].
    pub(super) user: u32,
    /// Index of the platform in [`ChartData::names`].
    pub(super) platform: u32,
    /// Local day of the start (days since 1970-01-01), set by `Input::new`.
    pub(super) local_day: i32,
    /// Local second of that day of the start, set by `Input::new`.
    pub(super) local_second: u32,
    pub(super) media_type: MediaType,
    pub(super) live: bool,
    pub(super) decision: StreamDecision,
    has_end: bool,
    /// Tautulli has a stop time (not NULL, not 0): a session without one is in no plays
    /// chart, as in Tautulli's graphs (their window is `stopped >= ...`).
    pub(super) has_stop: bool,
    /// Another session of the window shares the `reference_id` (set by `Input::new`).
    pub(super) shared: bool,
}

impl ChartRow {
    /// A row from a session's stored values (`stopped`, played and paused seconds give
    /// the end exactly as [`Session::end`](crate::analytics::Session::end) does).
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: i64,
        reference_id: i64,
        started: i64,
        stopped: Option<i64>,
        play_seconds: i64,
        paused_seconds: i64,
        user_id: i64,
        user: u32,
        platform: u32,
        media_type: MediaType,
        live: bool,
        decision: StreamDecision,
    ) -> ChartRow {
        let end = session::end(started, stopped, play_seconds, paused_seconds);
        ChartRow {
            id,
            reference_id,
            started,
            end: end.unwrap_or(0),
            stopped: stopped.unwrap_or(0),
            paused: paused_seconds,
            user_id,
            user,
            platform,
            local_day: 0,
            local_second: 0,
            media_type,
            live,
            decision,
            has_end: end.is_some(),
            has_stop: stopped.is_some_and(|t| t > 0),
            shared: false,
        }
    }

    /// [`Session::end`](crate::analytics::Session::end).
    pub(super) fn end(&self) -> Option<i64> {
        self.has_end.then_some(self.end)
    }

    /// Seconds the session counts on the duration axis: Tautulli's `CASE WHEN stopped > 0
    /// THEN (stopped - started) - paused_counter ELSE 0 END`.
    pub(super) fn graph_seconds(&self) -> i64 {
        if self.has_stop {
            self.stopped
                .saturating_sub(self.started)
                .saturating_sub(self.paused)
        } else {
            0
        }
    }

    pub(super) fn media_series(&self) -> Option<MediaSeries> {
        MediaSeries::classify(self.live, self.media_type)
    }
}

/// What a chart is computed from: sessions as [`ChartRow`]s (any order, any window: the
/// chart keeps those of its window), the names they point at, and whether the whole data
/// set (not only the window) has music and Live TV plays, which decides those series.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ChartData {
    pub(super) rows: Vec<ChartRow>,
    pub(super) names: Vec<String>,
    pub(super) has_music: bool,
    pub(super) has_live: bool,
}

impl ChartData {
    /// What a chart over `window` reads from the store: the sessions of the window (see
    /// [`Window::contains`]) as compact rows,
    /// the user and platform names they point at, and whether the whole store has music and
    /// Live TV plays (the chart shows those series whenever the data set has such plays).
    ///
    /// One pass over `session_rows` reading only the columns charts use: no titles, no
    /// per-session strings, no sort (the chart sorts what it keeps).
    pub(crate) fn load(store: &Store, window: &Window) -> Result<ChartData> {
        let mut stmt = store
            .conn()
            .prepare_cached(
                "SELECT id, reference_id, started, stopped, play_seconds, paused_seconds, media, \
                 live, decision, user_id, user_sid, platform_sid FROM session_rows",
            )
            .map_err(|e| store.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| store.err(e))?;
        let mut data = ChartData::default();
        // String id -> index into `data.names`.
        let mut names: FxHashMap<i64, u32> = FxHashMap::default();
        let mut sids: Vec<i64> = Vec::new();
        let mut name = |sid: i64| -> u32 {
            *names.entry(sid).or_insert_with(|| {
                sids.push(sid);
                (sids.len() - 1) as u32
            })
        };
        while let Some(r) = rows.next().map_err(|e| store.err(e))? {
            let read = || -> rusqlite::Result<_> {
                Ok((
                    (
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ),
                    (
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                    ),
                    (
                        r.get::<_, i64>(6)?,
                        r.get::<_, i64>(7)? != 0,
                        r.get::<_, i64>(8)?,
                    ),
                    (
                        r.get::<_, i64>(9)?,
                        r.get::<_, i64>(10)?,
                        r.get::<_, i64>(11)?,
                    ),
                ))
            };
            let (
                (id, reference_id, started),
                (stopped, play, paused),
                (media, live, decision),
                (user_id, user_sid, platform_sid),
            ) = read().map_err(|e| store.err(e))?;
            let media = media_of_code(media);
            data.has_live |= live;
            data.has_music |= !live && media == MediaType::Track;
            let mut row = ChartRow::new(
                id,
                reference_id,
                started,
                stopped,
                play,
                paused,
                user_id,
                0,
                0,
                media,
                live,
                decision_of_code(decision),
            );
            if window.contains_span(row.started, row.end()) {
                row.user = name(user_sid);
                row.platform = name(platform_sid);
                data.rows.push(row);
            }
        }
        drop(rows);
        let mut value = store
            .conn()
            .prepare_cached("SELECT value FROM strings WHERE id = ?1")
            .map_err(|e| store.err(e))?;
        data.names = sids
            .iter()
            .map(|&sid| value.query_row([sid], |r| r.get::<_, String>(0)))
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| store.err(e))?;
        Ok(data)
    }

    /// The data of sessions held in memory; every session also decides the series shown.
    #[cfg(test)]
    pub(super) fn from_sessions(sessions: &[Session]) -> ChartData {
        fn name<'s>(index: &mut HashMap<&'s str, u32>, names: &mut Vec<String>, s: &'s str) -> u32 {
            *index.entry(s).or_insert_with(|| {
                names.push(s.to_string());
                (names.len() - 1) as u32
            })
        }
        let mut index: HashMap<&str, u32> = HashMap::new();
        let mut names: Vec<String> = Vec::new();
        let rows = sessions
            .iter()
            .map(|s| {
                ChartRow::new(
                    s.id,
                    s.reference_id,
                    s.started,
                    s.stopped,
                    s.play_seconds,
                    s.paused_seconds,
                    s.user_id,
                    name(&mut index, &mut names, &s.user),
                    name(&mut index, &mut names, &s.platform),
                    s.media_type,
                    s.live,
                    s.decision,
                )
            })
            .collect();
        ChartData {
            rows,
            names,
            has_music: sessions
                .iter()
                .any(|s| MediaSeries::of(s) == Some(MediaSeries::Music)),
            has_live: sessions
                .iter()
                .any(|s| MediaSeries::of(s) == Some(MediaSeries::LiveTv)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::chart::testutil::compute_sessions;
    use crate::analytics::chart::ChartKind;
    use crate::analytics::store::tests::session;
    use crate::analytics::store::upsert_session;

    #[test]
    fn chart_data_is_the_window_of_the_sessions() {
        let s = Store::open_in_memory().unwrap();
        let mut all = Vec::new();
        for id in 1..=300i64 {
            let mut x = session(id, id % 4, 100 + id % 9, 1_000_000 + id * 3_000);
            x.reference_id = if id % 5 == 0 { id - 1 } else { id };
            x.user = ["ann", "bob", "", "ann "][(id % 4) as usize].to_string();
            x.platform = ["Roku", "", " Roku", "iOS"][(id % 3) as usize].to_string();
            x.media_type =
                [MediaType::Movie, MediaType::Episode, MediaType::Track][(id % 3) as usize];
            x.live = id % 11 == 0;
            x.decision = [
                StreamDecision::DirectPlay,
                StreamDecision::DirectStream,
                StreamDecision::Transcode,
                StreamDecision::Unknown,
            ][(id % 4) as usize];
            match id % 7 {
                0 => x.stopped = None,
                1 => {
                    x.stopped = None;
                    x.play_seconds = 0;
                }
                2 => x.stopped = Some(x.started - 10),
                _ => {}
            }
            upsert_session(s.conn(), &x).unwrap();
            all.push(x);
        }
        let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let now = 1_000_000 + 250 * 3_000;
        for days in [0, 1, 3, 30] {
            let w = Window::last_days(now, days);
            let data = ChartData::load(&s, &w).unwrap();
            assert!(data
                .rows
                .iter()
                .all(|r| w.contains_span(r.started, r.end())));
            let inside = all.iter().filter(|x| w.contains(x)).count();
            assert_eq!(data.rows.len(), inside, "{days}");
            for kind in ChartKind::ALL {
                let a = super::super::compute(
                    kind,
                    ChartData::load(&s, &w).unwrap(),
                    &tz,
                    "Europe/Berlin",
                    w,
                    crate::analytics::chart::ChartOptions::plays(3),
                );
                let b = compute_sessions(kind, &all, &tz, "Europe/Berlin", w, 3);
                assert_eq!(a, b, "{kind} {days}");
            }
        }
    }
}
