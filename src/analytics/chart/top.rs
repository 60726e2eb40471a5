//! The top users and top platforms by viewings (or watch time), by media series, ranked
//! and tied the way Tautulli's `get_plays_by_top_10_users` / `_platforms` return them.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use super::data::ChartRow;
use super::input::{count, non_negative, Input};
use super::series::{with_total, Series};
use crate::hash::FxHashMap;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum TopBy {
    User,
    Platform,
}

/// Tautulli's `PLATFORM_NAME_OVERRIDES`: the labels its top-platforms charts show for
/// these raw platform names.
const PLATFORM_NAME_OVERRIDES: &[(&str, &str)] = &[
    ("Konvergo", "Plex Media Player"),
    ("Mystery 3", "Playstation 3"),
    ("Mystery 4", "Playstation 4"),
    ("Mystery 5", "Xbox 360"),
    ("WebMAF", "Playstation 4"),
    ("windows", "Windows"),
    ("osx", "macOS"),
    ("macos", "macOS"),
];

/// Users or platforms by viewings (or seconds watched), descending, top `top_n` (0 = all),
/// with the media series and Total.
///
/// As in Tautulli: a viewing counts once, for the user and on the platform of its first
/// session (a viewing resumed on another device stays on the first one); platforms are
/// told apart by their raw name and labelled with Tautulli's overrides; plays of a user
/// Tautulli no longer lists (a blank name: its users table has no row for them) are left
/// out, and noted. Ties: platforms by raw name (ascending on the plays axis, descending on
/// the duration axis, as Tautulli's SQL sorts them), users by user id descending.
pub(super) fn top(input: &mut Input, top_n: usize, by: TopBy) -> (Vec<String>, Vec<Series>) {
    let keys = display_keys(input, by);
    let mut per_key: Vec<Option<Vec<i64>>> = vec![None; keys.shown.len()];
    let (mut other, mut missing) = (0, 0);
    let media_len = input.media.len();
    input.viewings(
        |_| (),
        |(), r, value| {
            let Some(key) = keys.of(r) else {
                missing += 1;
                return;
            };
            match input.media_index(r) {
                Some(i) => {
                    per_key[key as usize].get_or_insert_with(|| vec![0; media_len])[i] += value
                }
                None => other += 1,
            }
        },
    );
    let mut ranked: Vec<(Shown, Vec<i64>)> = per_key
        .into_iter()
        .zip(keys.shown)
        .filter_map(|(counts, shown)| counts.map(|c| (shown, c)))
        .collect();
    let descending_names = input.duration;
    ranked.sort_by(|a, b| {
        let (ta, tb) = (a.1.iter().sum::<i64>(), b.1.iter().sum::<i64>());
        tb.cmp(&ta).then_with(|| a.0.tie(&b.0, descending_names))
    });
    if top_n > 0 && ranked.len() > top_n {
        let (one, many) = match by {
            TopBy::User => ("user", "users"),
            TopBy::Platform => ("platform", "platforms"),
        };
        input.notes.push(format!(
            "{} beyond the top {top_n} not shown",
            count(ranked.len() - top_n, one, many)
        ));
        ranked.truncate(top_n);
    }
    if missing > 0 {
        input.notes.push(format!(
            "{} by users Tautulli no longer lists (no name) left out, as Tautulli does",
            count(missing, "viewing", "viewings")
        ));
    }
    input.note_other_media(other);
    let data: Vec<Vec<i64>> = (0..input.media.len())
        .map(|i| ranked.iter().map(|(_, counts)| counts[i]).collect())
        .collect();
    let categories = ranked.into_iter().map(|(shown, _)| shown.label).collect();
    (
        categories,
        with_total(input.media_labels(), non_negative(data)),
    )
}

/// One category of a top chart: its label and what orders it among equals.
struct Shown {
    label: String,
    tie: Tie,
}

enum Tie {
    /// Tautulli's user id: ties descending.
    User(i64),
    /// The raw platform name: ties ascending by bytes (descending on the duration axis).
    Platform(String),
}

impl Shown {
    fn tie(&self, other: &Shown, descending_names: bool) -> Ordering {
        match (&self.tie, &other.tie) {
            (Tie::User(a), Tie::User(b)) => b.cmp(a),
            (Tie::Platform(a), Tie::Platform(b)) if descending_names => b.cmp(a),
            (Tie::Platform(a), Tie::Platform(b)) => a.cmp(b),
            _ => Ordering::Equal,
        }
    }
}

/// The categories a top chart may show, and which of them each row counts under.
struct DisplayKeys {
    shown: Vec<Shown>,
    /// By user id (`None`: a user Tautulli no longer lists), or by index into
    /// [`ChartData::names`](super::data::ChartData::names) for platforms.
    users: FxHashMap<i64, Option<u32>>,
    platforms: Vec<u32>,
    by: TopBy,
}

impl DisplayKeys {
    fn of(&self, r: &ChartRow) -> Option<u32> {
        match self.by {
            TopBy::User => self.users.get(&r.user_id).copied().flatten(),
            TopBy::Platform => self.platforms.get(r.platform as usize).copied(),
        }
    }
}

/// The categories of a top chart.
///
/// Users: the name of their latest session, with " (#id)" added when two users would
/// otherwise share a name; a user whose latest name is blank is not shown. Platforms: one
/// per raw name, labelled with Tautulli's override, "Unknown" when blank.
fn display_keys(input: &Input, by: TopBy) -> DisplayKeys {
    let mut shown: Vec<Shown> = Vec::new();
    let mut users: FxHashMap<i64, Option<u32>> = FxHashMap::default();
    let mut platforms: Vec<u32> = Vec::new();
    match by {
        TopBy::User => {
            // Rows are in start order: the last one seen wins.
            let mut latest: BTreeMap<i64, u32> = BTreeMap::new();
            for r in &input.rows {
                latest.insert(r.user_id, r.user);
            }
            let latest: BTreeMap<i64, &str> = latest
                .into_iter()
                .map(|(id, name)| (id, input.names[name as usize].trim()))
                .collect();
            let mut uses: HashMap<&str, usize> = HashMap::new();
            for name in latest.values() {
                *uses.entry(name).or_default() += 1;
            }
            for (&id, &name) in &latest {
                if name.is_empty() {
                    users.insert(id, None);
                    continue;
                }
                let label = if uses[name] > 1 {
                    format!("{name} (#{id})")
                } else {
                    name.to_string()
                };
                shown.push(Shown {
                    label,
                    tie: Tie::User(id),
                });
                users.insert(id, Some((shown.len() - 1) as u32));
            }
        }
        TopBy::Platform => {
            // Every name is a candidate (users' names too): only those rows point at count.
            for raw in &input.names {
                let label = PLATFORM_NAME_OVERRIDES
                    .iter()
                    .find(|(from, _)| from == raw)
                    .map_or(raw.as_str(), |(_, to)| to);
                let label = if label.trim().is_empty() {
                    "Unknown"
                } else {
                    label
                };
                shown.push(Shown {
                    label: label.to_string(),
                    tie: Tie::Platform(raw.clone()),
                });
                platforms.push((shown.len() - 1) as u32);
            }
        }
    }
    DisplayKeys {
        shown,
        users,
        platforms,
        by,
    }
}

#[cfg(test)]
mod tests {
    use crate::analytics::chart::testutil::*;

    #[test]
    fn top_users_by_viewings_with_ties_by_id_and_a_limit() {
        let now = utc(2026, 11, 21, 12, 0);
        let t = utc(2026, 11, 20, 10, 0);
        let by = |id, user_id: i64, user: &str, episode: bool| {
            let base = Session {
                user_id,
                user: user.to_string(),
                ..s(id, t + id * H, t + id * H + 600)
            };
            if episode {
                Session {
                    media_type: MediaType::Episode,
                    ..base
                }
            } else {
                base
            }
        };
        let sessions = vec![
            by(1, 1, "carol", false),
            by(2, 2, "bob", true),
            by(3, 2, "bob", false),
            by(4, 3, "dave", true),
            by(5, 3, "dave", true),
            // Part of dave's viewing 5: counts once.
            Session {
                reference_id: 5,
                ..by(6, 3, "dave", true)
            },
            by(7, 4, "anna", true),
        ];
        let w = Window::last_days(now, 7);
        let c = compute_sessions(ChartKind::TopUsers, &sessions, &tz("UTC"), "UTC", w, 0);
        // Ties as Tautulli returns them: by user id, descending.
        assert_eq!(c.categories, ["dave", "bob", "anna", "carol"]);
        assert_eq!(data(&c, "TV"), [2, 1, 1, 0]);
        assert_eq!(data(&c, "Movies"), [0, 1, 0, 1]);
        assert_eq!(data(&c, "Total"), [2, 2, 1, 1]);
        assert!(c.notes.is_empty());
        let c = compute_sessions(ChartKind::TopUsers, &sessions, &tz("UTC"), "UTC", w, 3);
        assert_eq!(c.categories, ["dave", "bob", "anna"]);
        assert_eq!(data(&c, "Total"), [2, 2, 1]);
        assert_eq!(c.notes, ["1 user beyond the top 3 not shown"]);
        assert_total_is_sum(&c);
    }

    #[test]
    fn top_users_keep_two_people_with_one_name_apart() {
        let now = utc(2026, 11, 21, 12, 0);
        let t = utc(2026, 11, 20, 10, 0);
        let sessions = vec![
            Session {
                user_id: 7,
                user: "sam".to_string(),
                ..s(1, t, t + 60)
            },
            Session {
                user_id: 8,
                user: "sam".to_string(),
                ..s(2, t + H, t + H + 60)
            },
            Session {
                user_id: 8,
                user: "sam".to_string(),
                ..s(3, t + 2 * H, t + 2 * H + 60)
            },
        ];
        let c = utc_chart(ChartKind::TopUsers, &sessions, now, 7);
        assert_eq!(c.categories, ["sam (#8)", "sam (#7)"]);
        assert_eq!(data(&c, TOTAL), [2, 1]);
    }

    #[test]
    fn top_platforms() {
        let now = utc(2026, 11, 21, 12, 0);
        let t = utc(2026, 11, 20, 10, 0);
        let on = |id, platform: &str| Session {
            platform: platform.to_string(),
            ..ep(id, t + id * H, t + id * H + 60)
        };
        let sessions = vec![
            on(1, "Roku"),
            on(2, "Android"),
            on(3, "Roku"),
            on(4, ""),
            on(5, "Android"),
            on(6, "Roku"),
        ];
        let c = utc_chart(ChartKind::TopPlatforms, &sessions, now, 7);
        assert_eq!(c.categories, ["Roku", "Android", "Unknown"]);
        assert_eq!(data(&c, "TV"), [3, 2, 1]);
        assert_eq!(data(&c, "Movies"), [0, 0, 0]);
        assert_eq!(c.x_label, "Platform");
    }

    #[test]
    fn a_viewing_resumed_on_another_platform_counts_once_on_the_first() {
        let now = utc(2026, 11, 21, 12, 0);
        let t = utc(2026, 11, 20, 10, 0);
        let sessions = vec![
            Session {
                platform: "Roku".to_string(),
                ..ep(1, t, t + H)
            },
            Session {
                reference_id: 1,
                platform: "Chrome".to_string(),
                ..ep(2, t + 2 * H, t + 3 * H)
            },
        ];
        let c = utc_chart(ChartKind::TopPlatforms, &sessions, now, 7);
        assert_eq!(c.categories, ["Roku"]);
        assert_eq!(data(&c, TOTAL), [1]);
    }

    #[test]
    fn users_tautulli_no_longer_lists_are_left_out_and_noted() {
        let now = utc(2026, 11, 21, 12, 0);
        let t = utc(2026, 11, 20, 10, 0);
        let sessions = vec![
            s(1, t, t + 60),
            Session {
                user_id: 9,
                user: String::new(),
                ..s(2, t + H, t + H + 60)
            },
        ];
        let c = utc_chart(ChartKind::TopUsers, &sessions, now, 7);
        assert_eq!(c.categories, ["alice"]);
        assert_eq!(
            c.notes,
            ["1 viewing by users Tautulli no longer lists (no name) left out, as Tautulli does"]
        );
        // The plays charts still count them, as Tautulli's do.
        let c = utc_chart(ChartKind::PlaysByDate, &sessions, now, 2);
        assert_eq!(data(&c, TOTAL), [2, 0]);
    }

    #[test]
    fn platform_ties_go_by_raw_name_with_tautullis_labels() {
        let now = utc(2026, 11, 21, 12, 0);
        let t = utc(2026, 11, 20, 10, 0);
        let on = |id, platform: &str| Session {
            platform: platform.to_string(),
            ..ep(id, t + id * H, t + id * H + 60)
        };
        let sessions = vec![on(1, "windows"), on(2, "Xbox"), on(3, "Roku")];
        let c = utc_chart(ChartKind::TopPlatforms, &sessions, now, 7);
        // Byte order of the raw names: "Roku" < "Xbox" < "windows" (shown as "Windows").
        assert_eq!(c.categories, ["Roku", "Xbox", "Windows"]);
        // On the duration axis Tautulli's SQL orders the tied names descending.
        let c = compute_with(
            ChartKind::TopPlatforms,
            &sessions,
            "UTC",
            Window::last_days(now, 7),
            ChartOptions {
                y_axis: YAxis::Duration,
                ..ChartOptions::plays(10)
            },
        );
        assert_eq!(c.categories, ["Windows", "Xbox", "Roku"]);
        assert_eq!(data(&c, TOTAL), [60, 60, 60]);
    }
}
