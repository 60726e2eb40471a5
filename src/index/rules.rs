//! Which history rows are plays: the first of three pure steps from a Tautulli history row
//! to the engine's item (pure, so the caller can batch and cache `get_metadata` calls between
//! them):
//!
//! 1. [`precheck`] and [`complete`]: is this row a completed movie/episode play we import?
//!    (else a counted [`SkipReason`]: activity rows, other media, Live TV, partial plays and
//!    rows without a usable time are not plays);
//! 2. [`metadata_need`]: which `get_metadata` call, if any, its IDs depend on (one per movie,
//!    one per **show**, never one per episode: episodes of a show share its IDs);
//! 3. [`build_item`]: the item, with each ID at its own level (an episode's guid is never its
//!    show's, a show's IDs never an episode's); items that cannot be resolved to an external
//!    ID still come out, keyed by their Plex ID, together with an [`UnresolvedReason`].
//!
//! [`metadata_need`]: crate::index::metadata::metadata_need
//! [`build_item`]: crate::index::item::build_item
//! [`UnresolvedReason`]: crate::index::item::UnresolvedReason

use std::sync::Arc;

use crate::config::HistoryConfig;
use crate::index::identity::guid::{self, Guid};
use crate::sanitize::clean_text;
use crate::tautulli::rows::HistoryRow;
use crate::tautulli::rows::MediaKind;
use crate::timefmt::{row_time, RowTime};

/// Which row time becomes `watched_at` (the config's `history.watched_at`).
pub use crate::config::TimeField;

/// What to import and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Keep only completed plays.
    pub watched_only: bool,
    /// Completion threshold used only when a row has no `watched_status`.
    pub min_percent: u8,
    /// Import Live TV rows.
    pub include_live: bool,
    /// Which time is `watched_at` (falls back stopped -> date -> started when missing).
    pub watched_at: TimeField,
    /// Event mode: every play is its own entry instead of the newest per title.
    pub rewatches: bool,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            watched_only: true,
            min_percent: 85,
            include_live: false,
            watched_at: TimeField::Stopped,
            rewatches: false,
        }
    }
}

/// Why a history row was not imported. Every skipped row is counted under one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SkipReason {
    /// Not watched to completion (by `watched_status`, else `percent_complete`).
    Partial,
    /// A Live TV play (import them with `include_live`).
    Live,
    /// Not a movie or an episode (track, clip, photo, ...).
    OtherMediaType,
    /// An episode with no season/episode number in the row or in its guid.
    NoSeasonEpisode,
    /// No `stopped`, `date` or `started` time.
    NoTime,
    /// An in-progress session (activity row).
    InProgress,
    /// No `rating_key`: the row names no Plex item.
    NoRatingKey,
    /// A time is there but none is usable: negative, or past year 9999 (see
    /// [`crate::timefmt::TIME_RANGE`]). Such a `watched_at` would make the Tracker refuse
    /// the whole import.
    BadTime,
}

impl SkipReason {
    /// Every reason, in report order.
    pub const ALL: [SkipReason; 8] = [
        SkipReason::Partial,
        SkipReason::Live,
        SkipReason::OtherMediaType,
        SkipReason::NoSeasonEpisode,
        SkipReason::NoTime,
        SkipReason::InProgress,
        SkipReason::NoRatingKey,
        SkipReason::BadTime,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Partial => "partial",
            SkipReason::Live => "live",
            SkipReason::OtherMediaType => "other_media_type",
            SkipReason::NoSeasonEpisode => "no_season_episode",
            SkipReason::NoTime => "no_time",
            SkipReason::InProgress => "in_progress",
            SkipReason::NoRatingKey => "no_rating_key",
            SkipReason::BadTime => "bad_time",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A history row accepted for import: everything [`build_item`](crate::index::item::build_item) needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Play {
    pub kind: MediaKind,
    /// The movie's or episode's rating key.
    pub rating_key: i64,
    /// The season's rating key (episodes).
    pub parent_rating_key: Option<i64>,
    /// The show's rating key (episodes).
    pub grandparent_rating_key: Option<i64>,
    /// Movie title, or the episode's own title; cleaned ([`clean_text`]) like the show's.
    pub title: Box<str>,
    /// The show's title (`grandparent_title`); an `Arc` so the caller may intern it.
    pub series_title: Option<Arc<str>>,
    pub year: Option<i32>,
    /// Season: the row's `parent_media_index`, else the legacy guid's path. Always set for
    /// episodes.
    pub season: Option<u32>,
    /// Episode: the row's `media_index`, else the legacy guid's path. Always set for episodes.
    pub episode: Option<u32>,
    /// The item's own guid, parsed; `None` when the row has none.
    pub guid: Option<Guid>,
    /// Epoch seconds of the chosen time, always in [`crate::timefmt::TIME_RANGE`].
    pub watched_at: i64,
    /// The Tautulli group this play came from (`reference_id`, else `row_id`).
    pub group: GroupRef,
    /// `row_id` (the group's newest row).
    pub row_id: i64,
}

/// Identifies the Tautulli history row (group) a play came from: its `reference_id` (the
/// group's first row id), else its `row_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupRef(pub i64);

/// The policy of the config's `history` block.
impl Policy {
    pub fn from_config(cfg: &HistoryConfig) -> Policy {
        Policy {
            watched_only: cfg.watched_only,
            min_percent: cfg.min_percent,
            include_live: cfg.include_live,
            watched_at: cfg.watched_at,
            rewatches: cfg.rewatches,
        }
    }
}

/// What the cheap checks of [`precheck`] learnt about a row that passed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub kind: MediaKind,
    pub rating_key: i64,
    /// Epoch seconds of the chosen time.
    pub watched_at: i64,
    /// `reference_id`, else `row_id`.
    pub group: GroupRef,
    pub row_id: i64,
}

/// Decides whether a row is imported, first with the checks that do not depend on which item
/// the row is (no allocation); [`complete`] does the rest.
///
/// Order of checks (the first failing one is the reason): activity row, media type, live,
/// rating key, completion, time, season/episode. The first six are here; the last one
/// depends only on the row's [`Identity`](crate::index::identity::row::Identity).
pub fn precheck(row: &HistoryRow, policy: &Policy) -> Result<Accepted, SkipReason> {
    if row.is_activity() {
        return Err(SkipReason::InProgress);
    }
    let kind = row.kind().ok_or(SkipReason::OtherMediaType)?;
    if row.is_live() && !policy.include_live {
        return Err(SkipReason::Live);
    }
    let rating_key = row
        .rating_key
        .filter(|rk| *rk > 0)
        .ok_or(SkipReason::NoRatingKey)?;
    if !is_watched(row, policy) {
        return Err(SkipReason::Partial);
    }
    let watched_at = watched_at(row, policy.watched_at)?;
    let row_id = row.row_id.unwrap_or_default();
    Ok(Accepted {
        kind,
        rating_key,
        watched_at,
        group: GroupRef(row.reference_id.unwrap_or(row_id)),
        row_id,
    })
}

/// The rest of the checks for a row that passed [`precheck`]. Its outcome, but for the
/// time and group, depends only on the row's [`Identity`](crate::index::identity::row::Identity).
pub fn complete(row: &HistoryRow, accepted: Accepted) -> Result<Play, SkipReason> {
    let Accepted {
        kind,
        rating_key,
        watched_at,
        group,
        row_id,
    } = accepted;
    let guid = row.guid.as_deref().map(guid::parse);
    let (guid_season, guid_episode) = match &guid {
        Some(Guid::Legacy(g)) => (g.season, g.episode),
        _ => (None, None),
    };
    let to_u32 = |v: Option<i64>| v.and_then(|n| u32::try_from(n).ok());
    let (season, episode) = match kind {
        MediaKind::Movie => (None, None),
        MediaKind::Episode => {
            let s = to_u32(row.parent_media_index).or(guid_season);
            let e = to_u32(row.media_index).or(guid_episode);
            if s.is_none() || e.is_none() {
                return Err(SkipReason::NoSeasonEpisode);
            }
            (s, e)
        }
    };
    Ok(Play {
        kind,
        rating_key,
        parent_rating_key: row.parent_rating_key.filter(|k| *k > 0),
        grandparent_rating_key: row.grandparent_rating_key.filter(|k| *k > 0),
        title: item_title(row, kind)
            .map(|t| clean_text(t).trim().into())
            .unwrap_or_default(),
        series_title: series_title(row, kind)
            .map(clean_text)
            .filter(|t| !t.trim().is_empty())
            .map(|t| Arc::from(t.trim())),
        year: row
            .year
            .and_then(|y| i32::try_from(y).ok())
            .filter(|y| *y > 0),
        season,
        episode,
        guid,
        watched_at,
        group,
        row_id,
    })
}

pub(crate) fn item_title(row: &HistoryRow, kind: MediaKind) -> Option<&str> {
    match kind {
        MediaKind::Movie => text(&row.title).or(text(&row.full_title)),
        MediaKind::Episode => text(&row.title),
    }
}

pub(crate) fn series_title(row: &HistoryRow, kind: MediaKind) -> Option<&str> {
    match kind {
        MediaKind::Episode => text(&row.grandparent_title),
        MediaKind::Movie => None,
    }
}

/// A trimmed, non-empty text field.
pub(crate) fn text(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// Completion rule: `watched_status == 1` is Tautulli's own verdict (its
/// threshold or the credits marker); only without it does `percent_complete` decide.
fn is_watched(row: &HistoryRow, policy: &Policy) -> bool {
    if !policy.watched_only {
        return true;
    }
    match row.watched_status {
        Some(ws) => ws >= 1.0,
        None => row
            .percent_complete
            .is_some_and(|p| p >= i64::from(policy.min_percent)),
    }
}

/// The chosen time, falling back stopped -> date -> started past a missing or bad one
/// ([`row_time`]: 0 is SQLite's "no value"; negative or past year 9999 is bad). No usable
/// time is [`SkipReason::BadTime`] when a field held a bad one, else [`SkipReason::NoTime`].
fn watched_at(row: &HistoryRow, field: TimeField) -> Result<i64, SkipReason> {
    let chosen = match field {
        TimeField::Stopped => row.stopped,
        TimeField::Date => row.date,
        TimeField::Started => row.started,
    };
    let mut bad = false;
    for t in [chosen, row.stopped, row.date, row.started] {
        match row_time(t) {
            RowTime::At(t) => return Ok(t),
            RowTime::Bad => bad = true,
            RowTime::Missing => {}
        }
    }
    Err(if bad {
        SkipReason::BadTime
    } else {
        SkipReason::NoTime
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::index::identity::ids::{IdKind, Ids};
    use std::borrow::Cow;

    use crate::index::identity::row::identity;
    use crate::index::item::build_item;
    use crate::index::metadata::MetaAnswer;

    use crate::sanitize::{clean_owned, clean_text};
    use crate::tautulli::rows::HistoryRow;

    pub(crate) fn row(json: serde_json::Value) -> HistoryRow {
        serde_json::from_value(json).unwrap()
    }

    pub(crate) fn movie_row() -> serde_json::Value {
        serde_json::json!({
            "row_id": 1, "reference_id": 1, "date": 1000, "started": 900, "stopped": 2000,
            "media_type": "movie", "rating_key": 101, "parent_rating_key": "",
            "grandparent_rating_key": "", "media_index": "", "parent_media_index": "",
            "year": 1999, "title": "The Matrix", "grandparent_title": "",
            "guid": "plex://movie/5d7768ba96b655001fdc0408", "live": 0,
            "percent_complete": 99, "watched_status": 1, "state": null
        })
    }

    pub(crate) fn episode_row() -> serde_json::Value {
        serde_json::json!({
            "row_id": 5, "reference_id": 5, "date": 1000, "started": 1000, "stopped": 4400,
            "media_type": "episode", "rating_key": 201, "parent_rating_key": 200,
            "grandparent_rating_key": 199, "media_index": 1, "parent_media_index": 1,
            "year": 2008, "title": "Pilot", "grandparent_title": "Breaking Bad",
            "guid": "plex://episode/5d9c0873ffd9ef001e99b9dc", "live": 0,
            "percent_complete": 98, "watched_status": 1, "state": null
        })
    }

    pub(crate) fn with(mut v: serde_json::Value, patch: serde_json::Value) -> serde_json::Value {
        for (k, x) in patch.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    /// What the cursor does with a row, [`precheck`] then [`complete`].
    pub(crate) fn classify(row: &HistoryRow, policy: &Policy) -> Result<Play, SkipReason> {
        complete(row, precheck(row, policy)?)
    }

    pub(crate) fn classify_json(v: serde_json::Value, policy: &Policy) -> Result<Play, SkipReason> {
        classify(&row(v), policy)
    }

    pub(crate) fn found(pairs: &[(IdKind, &str)]) -> MetaAnswer {
        let mut ids = Ids::new();
        for (k, v) in pairs {
            ids.insert(*k, v);
        }
        MetaAnswer::Found(ids)
    }

    #[test]
    fn skip_reason_names() {
        let names: Vec<&str> = SkipReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            names,
            [
                "partial",
                "live",
                "other_media_type",
                "no_season_episode",
                "no_time",
                "in_progress",
                "no_rating_key",
                "bad_time"
            ]
        );
        assert_eq!(SkipReason::NoTime.to_string(), "no_time");
    }

    #[test]
    fn policy_defaults() {
        let p = Policy::default();
        assert!(p.watched_only && !p.include_live && !p.rewatches);
        assert_eq!((p.min_percent, p.watched_at), (85, TimeField::Stopped));
    }

    #[test]
    fn activity_rows_are_in_progress() {
        let p = Policy::default();
        let v = with(
            movie_row(),
            serde_json::json!({"row_id": null, "stopped": null, "state": "playing"}),
        );
        assert_eq!(classify_json(v, &p), Err(SkipReason::InProgress));
        let v = with(movie_row(), serde_json::json!({"state": "paused"}));
        assert_eq!(classify_json(v, &p), Err(SkipReason::InProgress));
    }

    #[test]
    fn other_media_types_are_skipped() {
        let p = Policy::default();
        for mt in ["track", "clip", "photo", "show", ""] {
            let v = with(movie_row(), serde_json::json!({"media_type": mt}));
            assert_eq!(
                classify_json(v, &p),
                Err(SkipReason::OtherMediaType),
                "{mt}"
            );
        }
        let v = with(movie_row(), serde_json::json!({"media_type": "Movie"}));
        assert_eq!(classify_json(v, &p).unwrap().kind, MediaKind::Movie);
    }

    #[test]
    fn live_rows_need_include_live() {
        let v = with(
            movie_row(),
            serde_json::json!({"live": 1, "percent_complete": 100}),
        );
        assert_eq!(
            classify_json(v.clone(), &Policy::default()),
            Err(SkipReason::Live)
        );
        let p = Policy {
            include_live: true,
            ..Policy::default()
        };
        assert!(classify_json(v, &p).is_ok());
    }

    #[test]
    fn rows_without_rating_key_are_counted() {
        let v = with(movie_row(), serde_json::json!({"rating_key": ""}));
        assert_eq!(
            classify_json(v, &Policy::default()),
            Err(SkipReason::NoRatingKey)
        );
    }

    #[test]
    fn watched_status_decides_first() {
        let p = Policy::default();
        // 1 at 10 % (credits marker) counts; 0.75 at 99 % does not.
        let v = with(
            movie_row(),
            serde_json::json!({"watched_status": 1, "percent_complete": 10}),
        );
        assert!(classify_json(v, &p).is_ok());
        for ws in [0.75, 0.5, 0.25, 0.0] {
            let v = with(
                movie_row(),
                serde_json::json!({"watched_status": ws, "percent_complete": 99}),
            );
            assert_eq!(classify_json(v, &p), Err(SkipReason::Partial), "{ws}");
        }
    }

    #[test]
    fn percent_decides_without_watched_status() {
        let p = Policy {
            min_percent: 90,
            ..Policy::default()
        };
        let at = |pc: serde_json::Value| {
            classify_json(
                with(
                    movie_row(),
                    serde_json::json!({"watched_status": "", "percent_complete": pc}),
                ),
                &p,
            )
        };
        assert!(at(serde_json::json!(90)).is_ok());
        assert!(at(serde_json::json!("95")).is_ok());
        assert_eq!(at(serde_json::json!(89)), Err(SkipReason::Partial));
        assert_eq!(at(serde_json::json!(null)), Err(SkipReason::Partial));
    }

    #[test]
    fn without_watched_only_everything_counts() {
        let p = Policy {
            watched_only: false,
            ..Policy::default()
        };
        let v = with(
            movie_row(),
            serde_json::json!({"watched_status": 0, "percent_complete": 2}),
        );
        assert!(classify_json(v, &p).is_ok());
    }

    #[test]
    fn watched_at_prefers_the_chosen_field_then_falls_back() {
        let pol = |f| Policy {
            watched_at: f,
            ..Policy::default()
        };
        let v = movie_row();
        assert_eq!(
            classify_json(v.clone(), &pol(TimeField::Stopped))
                .unwrap()
                .watched_at,
            2000
        );
        assert_eq!(
            classify_json(v.clone(), &pol(TimeField::Date))
                .unwrap()
                .watched_at,
            1000
        );
        assert_eq!(
            classify_json(v.clone(), &pol(TimeField::Started))
                .unwrap()
                .watched_at,
            900
        );
        // Chosen field missing: stopped -> date -> started.
        let no_started = with(v.clone(), serde_json::json!({"started": null}));
        assert_eq!(
            classify_json(no_started, &pol(TimeField::Started))
                .unwrap()
                .watched_at,
            2000
        );
        let no_stopped = with(v.clone(), serde_json::json!({"stopped": null}));
        assert_eq!(
            classify_json(no_stopped, &pol(TimeField::Stopped))
                .unwrap()
                .watched_at,
            1000
        );
        let only_started = with(v.clone(), serde_json::json!({"stopped": 0, "date": ""}));
        assert_eq!(
            classify_json(only_started, &pol(TimeField::Date))
                .unwrap()
                .watched_at,
            900
        );
        let none = with(
            v,
            serde_json::json!({"stopped": null, "date": null, "started": 0}),
        );
        assert_eq!(
            classify_json(none, &pol(TimeField::Stopped)),
            Err(SkipReason::NoTime)
        );
    }

    #[test]
    fn absurd_times_are_bad_time_and_never_reach_an_item() {
        let p = Policy::default();
        // Past year 9999 (the Tracker refuses such a watched_at and rolls the import back),
        // negative, and too large for any integer (read as out of range, not a bad page).
        for bad in [
            serde_json::json!(253_402_300_800i64),
            serde_json::json!(10_000_000_000_000i64),
            serde_json::json!(i64::MAX),
            serde_json::json!(u64::MAX),
            serde_json::json!(-5),
            serde_json::json!(i64::MIN),
            serde_json::json!("99999999999999999999"),
            serde_json::json!("-99999999999999999999"),
            serde_json::json!(1e20),
        ] {
            let all = with(
                movie_row(),
                serde_json::json!({"stopped": bad, "date": bad, "started": bad}),
            );
            assert_eq!(classify_json(all, &p), Err(SkipReason::BadTime), "{bad}");
            // Missing and bad together: still bad (something was there).
            let some = with(
                movie_row(),
                serde_json::json!({"stopped": bad, "date": null, "started": 0}),
            );
            assert_eq!(classify_json(some, &p), Err(SkipReason::BadTime), "{bad}");
            // A usable time elsewhere in the row is taken, as for a missing one.
            let one = with(movie_row(), serde_json::json!({"stopped": bad}));
            assert_eq!(classify_json(one, &p).unwrap().watched_at, 1000, "{bad}");
        }
        // The edges of the range are times.
        for (t, text) in [
            (1i64, "1970-01-01T00:00:01Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
        ] {
            let v = with(movie_row(), serde_json::json!({"stopped": t}));
            let play = classify_json(v, &p).unwrap();
            let item = build_item(&play, Some(&found(&[(IdKind::Tmdb, "603")]))).unwrap();
            assert_eq!(item.watched_at_utc(), text);
        }
        // Text that is no number still fails the page, as for any int field.
        assert!(
            serde_json::from_value::<HistoryRow>(serde_json::json!({"stopped": "soon"})).is_err()
        );
        assert!(serde_json::from_value::<HistoryRow>(serde_json::json!({"date": 1.5})).is_err());
    }

    #[test]
    fn stored_text_carries_no_control_characters_or_escape_sequences() {
        for (dirty, clean) in [
            ("The Matrix", "The Matrix"),
            ("Amélie 漢字 🎬", "Amélie 漢字 🎬"),
            ("\u{1b}[31mRed\u{1b}[0m Dawn", "Red Dawn"),
            ("\u{1b}[2J\u{1b}[HClear", "Clear"),
            ("\u{1b}[1;31;40mx", "x"),
            ("Title\u{1b}]0;pwned\u{7}", "Title"),
            (
                "A\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\B",
                "AlinkB",
            ),
            ("\u{1b}cReset", "Reset"),
            ("\u{1b}(BCharset", "Charset"),
            ("trailing\u{1b}", "trailing"),
            ("unterminated\u{1b}]0;rest", "unterminated"),
            ("\u{9b}31mC1\u{9b}0m", "C1"),
            ("\u{9d}osc\u{9c}ok", "ok"),
            ("Two\nLines\tand\r\ntabs", "Two Lines and tabs"),
            ("\r\n  Padded\t", "Padded"),
            ("a\n\u{1b}[0m\nb", "a b"),
            ("bell\u{7}null\u{0}del\u{7f}nel\u{85}x", "bellnulldelnel x"),
            ("\u{1b}[31\u{1b}[0mnested", "nested"),
        ] {
            assert_eq!(clean_text(dirty), clean, "{dirty:?}");
            assert_eq!(clean_owned(dirty.to_owned()), clean, "{dirty:?}");
        }
        assert!(matches!(clean_text("plain"), Cow::Borrowed("plain")));

        let p = Policy::default();
        let ep = classify_json(
            with(
                episode_row(),
                serde_json::json!({"title": "\u{1b}[5mPilot\n", "grandparent_title": "\u{1b}]0;x\u{7}"}),
            ),
            &p,
        )
        .unwrap();
        assert_eq!((&*ep.title, ep.series_title), ("Pilot", None));
        let m = classify_json(
            with(
                movie_row(),
                serde_json::json!({"title": "The\tMatrix\u{1b}[0m"}),
            ),
            &p,
        )
        .unwrap();
        assert_eq!(&*m.title, "The Matrix");
    }

    #[test]
    fn episodes_take_season_episode_from_row_then_guid() {
        let p = Policy::default();
        let play = classify_json(episode_row(), &p).unwrap();
        assert_eq!((play.season, play.episode), (Some(1), Some(1)));

        let legacy = with(
            episode_row(),
            serde_json::json!({"media_index": "", "parent_media_index": null,
                "guid": "com.plexapp.agents.thetvdb://121361/8/3?lang=en"}),
        );
        let play = classify_json(legacy, &p).unwrap();
        assert_eq!((play.season, play.episode), (Some(8), Some(3)));

        // Row values win over the guid path (HAMA tvdb2 ordering may differ).
        let both = with(
            episode_row(),
            serde_json::json!({"media_index": 4, "parent_media_index": 2,
                "guid": "com.plexapp.agents.hama://tvdb2-81189/1/16"}),
        );
        let play = classify_json(both, &p).unwrap();
        assert_eq!((play.season, play.episode), (Some(2), Some(4)));

        let none = with(
            episode_row(),
            serde_json::json!({"media_index": "", "parent_media_index": ""}),
        );
        assert_eq!(classify_json(none, &p), Err(SkipReason::NoSeasonEpisode));
        let half = with(episode_row(), serde_json::json!({"media_index": ""}));
        assert_eq!(classify_json(half, &p), Err(SkipReason::NoSeasonEpisode));
    }

    #[test]
    fn play_fields() {
        let play = classify_json(
            with(
                episode_row(),
                serde_json::json!({"row_id": 9, "reference_id": 7}),
            ),
            &Policy::default(),
        )
        .unwrap();
        assert_eq!(play.kind, MediaKind::Episode);
        assert_eq!(
            (
                play.rating_key,
                play.parent_rating_key,
                play.grandparent_rating_key
            ),
            (201, Some(200), Some(199))
        );
        assert_eq!(&*play.title, "Pilot");
        assert_eq!(play.series_title.as_deref(), Some("Breaking Bad"));
        assert_eq!(play.year, Some(2008));
        assert_eq!((play.group, play.row_id), (GroupRef(7), 9));
        assert!(matches!(play.guid, Some(Guid::Plex { .. })));

        let m = classify_json(
            with(movie_row(), serde_json::json!({"reference_id": null, "year": "", "title": "", "full_title": "Full"})),
            &Policy::default(),
        )
        .unwrap();
        assert_eq!((m.group, m.year, &*m.title), (GroupRef(1), None, "Full"));
        assert_eq!((m.season, m.episode, m.series_title), (None, None, None));
    }

    #[test]
    fn classify_is_precheck_then_complete_and_identity_decides_the_rest() {
        let policy = Policy::default();
        let a = row(episode_row());
        let mut b = row(episode_row());
        b.row_id = Some(99);
        b.reference_id = Some(98);
        b.stopped = Some(9999);
        let (ra, rb) = (&a, &b);
        let (pa, pb) = (
            precheck(ra, &policy).unwrap(),
            precheck(rb, &policy).unwrap(),
        );
        assert_eq!(identity(ra, &pa), identity(rb, &pb));
        let (ca, cb) = (complete(ra, pa).unwrap(), complete(rb, pb).unwrap());
        assert_eq!(ca, classify(&a, &policy).unwrap());
        assert_eq!(
            Play {
                watched_at: 0,
                group: GroupRef(0),
                row_id: 0,
                ..ca
            },
            Play {
                watched_at: 0,
                group: GroupRef(0),
                row_id: 0,
                ..cb
            }
        );
        assert_eq!(
            (cb.watched_at, cb.group, cb.row_id),
            (9999, GroupRef(98), 99)
        );
    }

    mod props {
        use proptest::prelude::*;

        use super::*;
        use crate::testutil::gen::{dirty_text, history_row};
        use crate::timefmt::TIME_RANGE;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_row_classifies_without_panic_and_accepted_rows_make_keyed_items(
                row in history_row(),
                watched_only in any::<bool>(),
                include_live in any::<bool>(),
                rewatches in any::<bool>(),
            ) {
                let policy = Policy { watched_only, include_live, rewatches, ..Policy::default() };
                let Ok(row) = serde_json::from_value::<HistoryRow>(row) else {
                    return Ok(());
                };
                let Ok(play) = classify(&row, &policy) else { return Ok(()) };
                prop_assert!(TIME_RANGE.contains(&play.watched_at));
                prop_assert!(play.rating_key > 0);
                prop_assert!(!play.title.chars().any(char::is_control));
                if play.kind == MediaKind::Episode {
                    prop_assert!(play.season.is_some() && play.episode.is_some());
                }
                for meta in [None, Some(MetaAnswer::Deleted)] {
                    let item = match build_item(&play, meta.as_ref()) {
                        Ok(i) | Err((i, _)) => i,
                    };
                    let key = crate::index::identity::keys::canonical_key(&item);
                    prop_assert!(!key.is_empty() && key == key.to_lowercase(), "{}", key);
                    prop_assert_eq!(item.watched_at, play.watched_at);
                }
            }

            #[test]
            fn any_json_value_is_a_row_or_a_precise_error(v in prop_oneof![
                history_row(),
                any::<i64>().prop_map(serde_json::Value::from),
                dirty_text().prop_map(serde_json::Value::from),
                Just(serde_json::Value::Null),
                prop::collection::vec(history_row(), 0..3).prop_map(serde_json::Value::from),
            ]) {
                let full = serde_json::from_value::<HistoryRow>(v.clone());
                let lean = serde_json::from_value::<HistoryRow>(v);
                prop_assert_eq!(full.is_ok(), lean.is_ok());
                if let Err(e) = full {
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }
    }
}
