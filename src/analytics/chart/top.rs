//! The top users and top platforms by viewings, by media series.

use std::collections::{BTreeMap, HashMap};

use super::data::ChartRow;
use super::input::{count, Input};
use super::series::{with_total, Series};
use crate::hash::FxHashMap;

#[derive(Clone, Copy)]
pub(super) enum TopBy {
    User,
    Platform,
}

/// Users or platforms by viewings (descending, ties by name), top `top_n` (0 = all),
/// with the media series and Total.
pub(super) fn top(input: &mut Input, top_n: usize, by: TopBy) -> (Vec<String>, Vec<Series>) {
    // Every row's category as an index into `shown` (distinct display names).
    let (shown, key_of_row) = display_keys(input, by);
    let mut per_key: Vec<Option<Vec<u64>>> = vec![None; shown.len()];
    let mut other = 0;
    let media_len = input.media.len();
    input.viewings(
        |r| key_of_row.of(r),
        |key, r| match input.media_index(r) {
            Some(i) => per_key[key as usize].get_or_insert_with(|| vec![0; media_len])[i] += 1,
            None => other += 1,
        },
    );
    let mut ranked: Vec<(String, Vec<u64>)> = per_key
        .into_iter()
        .zip(shown)
        .filter_map(|(counts, name)| counts.map(|c| (name, c)))
        .collect();
    ranked.sort_by(|a, b| {
        let (ta, tb) = (a.1.iter().sum::<u64>(), b.1.iter().sum::<u64>());
        tb.cmp(&ta).then_with(|| a.0.cmp(&b.0))
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
    input.note_other_media(other);
    let data: Vec<Vec<u64>> = (0..input.media.len())
        .map(|i| ranked.iter().map(|(_, counts)| counts[i]).collect())
        .collect();
    let categories = ranked.into_iter().map(|(name, _)| name).collect();
    (categories, with_total(input.media_labels(), data))
}

/// Which of the shown names a row counts under.
enum DisplayKeys {
    /// By user id.
    Users(FxHashMap<i64, u32>),
    /// By index into [`ChartData::names`](super::data::ChartData::names).
    Platforms(Vec<u32>),
}

impl DisplayKeys {
    fn of(&self, r: &ChartRow) -> u32 {
        match self {
            DisplayKeys::Users(keys) => keys[&r.user_id],
            DisplayKeys::Platforms(keys) => keys[r.platform as usize],
        }
    }
}

/// The distinct names a top chart shows, and which of them each row counts under.
///
/// Users: the name of their latest session, with " (#id)" added when two users would
/// otherwise share a name. Platforms: the platform, trimmed, "Unknown" when empty.
fn display_keys(input: &Input, by: TopBy) -> (Vec<String>, DisplayKeys) {
    let mut shown: Vec<String> = Vec::new();
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut intern = |name: String| -> u32 {
        if let Some(&i) = index.get(&name) {
            return i;
        }
        shown.push(name.clone());
        let i = (shown.len() - 1) as u32;
        index.insert(name, i);
        i
    };
    match by {
        TopBy::User => {
            // Rows are in start order: the last one seen wins.
            let mut latest: BTreeMap<i64, u32> = BTreeMap::new();
            for r in &input.rows {
                latest.insert(r.user_id, r.user);
            }
            let latest: BTreeMap<i64, String> = latest
                .into_iter()
                .map(|(id, name)| {
                    let name = input.names[name as usize].trim();
                    let name = if name.is_empty() {
                        format!("User {id}")
                    } else {
                        name.to_string()
                    };
                    (id, name)
                })
                .collect();
            let mut uses: HashMap<&str, usize> = HashMap::new();
            for name in latest.values() {
                *uses.entry(name.as_str()).or_default() += 1;
            }
            let keys: FxHashMap<i64, u32> = latest
                .iter()
                .map(|(id, name)| {
                    let show = if uses[name.as_str()] > 1 {
                        format!("{name} (#{id})")
                    } else {
                        name.clone()
                    };
                    (*id, intern(show))
                })
                .collect();
            (shown, DisplayKeys::Users(keys))
        }
        TopBy::Platform => {
            let keys: Vec<u32> = input
                .names
                .iter()
                .map(|p| {
                    let p = p.trim();
                    intern(if p.is_empty() {
                        "Unknown".to_string()
                    } else {
                        p.to_string()
                    })
                })
                .collect();
            (shown, DisplayKeys::Platforms(keys))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analytics::chart::testutil::*;

    #[test]
    fn top_users_by_viewings_with_ties_by_name_and_a_limit() {
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
        assert_eq!(c.categories, ["bob", "dave", "anna", "carol"]);
        assert_eq!(data(&c, "TV"), [1, 2, 1, 0]);
        assert_eq!(data(&c, "Movies"), [1, 0, 0, 1]);
        assert_eq!(data(&c, "Total"), [2, 2, 1, 1]);
        assert!(c.notes.is_empty());
        let c = compute_sessions(ChartKind::TopUsers, &sessions, &tz("UTC"), "UTC", w, 3);
        assert_eq!(c.categories, ["bob", "dave", "anna"]);
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
}
