//! The counts of one collection over one window, from its sessions.

use std::collections::HashSet;

use serde::Serialize;

use crate::analytics::session::Session;
use crate::analytics::window::Window;

/// The counts of one collection over one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub plays: i64,
    pub watch_seconds: i64,
    pub unique_users: i64,
    pub items_with_plays: i64,
    pub total_items: i64,
}

/// Counts `sessions` for a collection of `members` over `days` (0 = all time) ending at `now`.
/// `sessions` may hold anything: those outside the window or the collection are ignored.
///
/// A session without a stop time (`stopped` NULL or 0, as imports write) is in no window of
/// days, only in all time: Tautulli's item stats select `stopped >= now - days` for a
/// window and every session for all time. `grouping`: plays are distinct `reference_id`s
/// (viewings), else distinct sessions (Tautulli's `COUNT(DISTINCT id)` with grouping off).
pub fn stats(sessions: &[Session], members: &[i64], now: i64, days: u32, grouping: bool) -> Stats {
    let members: HashSet<i64> = members.iter().copied().collect();
    let window = Window { now, days };
    let mut viewings = HashSet::new();
    let mut users = HashSet::new();
    let mut items = HashSet::new();
    let mut watch_seconds = 0i64;
    for s in sessions {
        if !window.contains(s) || (days > 0 && s.stopped.is_none_or(|t| t <= 0)) {
            continue;
        }
        let keys = [
            Some(s.rating_key),
            s.parent_rating_key,
            s.grandparent_rating_key,
        ];
        let mut matched = false;
        for k in keys.into_iter().flatten() {
            if members.contains(&k) {
                items.insert(k);
                matched = true;
            }
        }
        if matched {
            viewings.insert(if grouping { s.reference_id } else { s.id });
            users.insert(s.user_id);
            watch_seconds += s.play_seconds.max(0);
        }
    }
    Stats {
        plays: viewings.len() as i64,
        watch_seconds,
        unique_users: users.len() as i64,
        items_with_plays: items.len() as i64,
        total_items: members.len() as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::snapshots::testutil::{sessions, NOW};

    #[test]
    fn stats_count_viewings_users_seconds_and_items() {
        let s = sessions();
        let all = stats(&s, &[101, 199, 104], NOW, 0, true);
        assert_eq!(
            all,
            Stats {
                plays: 4,
                watch_seconds: 600 + 600 + 1234 + 600 + 600,
                unique_users: 3,
                items_with_plays: 2,
                total_items: 3
            }
        );
        let week = stats(&s, &[101, 199, 104], NOW, 7, true);
        assert_eq!(
            (week.plays, week.unique_users, week.items_with_plays),
            (3, 2, 2)
        );
        let day = stats(&s, &[101, 199, 104], NOW, 1, true);
        assert_eq!(
            (day.plays, day.unique_users, day.items_with_plays),
            (2, 1, 1)
        );
        // A season member and an episode member.
        let season = stats(&s, &[200], NOW, 0, true);
        assert_eq!((season.plays, season.items_with_plays), (2, 1));
        let ep = stats(&s, &[202], NOW, 0, true);
        assert_eq!((ep.plays, ep.items_with_plays), (1, 1));
    }

    #[test]
    fn a_session_without_a_stop_counts_for_all_time_only() {
        let mut s = sessions();
        // Carol's second episode (30 min before NOW) lost its stop, as an import writes it.
        s[4].stopped = None;
        let day = stats(&s, &[199], NOW, 1, true);
        assert_eq!((day.plays, day.items_with_plays), (1, 1));
        s[4].stopped = Some(0);
        assert_eq!(stats(&s, &[199], NOW, 1, true).plays, 1);
        assert_eq!(stats(&s, &[199], NOW, 0, true).plays, 2);
    }

    #[test]
    fn grouping_off_counts_every_session() {
        let s = sessions();
        // Alice's two sessions of movie 101 are one viewing (group 1).
        assert_eq!(stats(&s, &[101], NOW, 0, true).plays, 2);
        assert_eq!(stats(&s, &[101], NOW, 0, false).plays, 3);
    }

    #[test]
    fn windows_never_exceed_all_time() {
        let s = sessions();
        let members = [101, 199, 555];
        let all = stats(&s, &members, NOW, 0, true);
        for days in [1, 2, 3, 7, 30, 39, 40, 41, 365] {
            let w = stats(&s, &members, NOW, days, true);
            assert!(
                w.plays <= all.plays && w.unique_users <= all.unique_users,
                "{days}"
            );
            assert!(
                w.watch_seconds <= all.watch_seconds && w.items_with_plays <= all.items_with_plays
            );
        }
    }
}
