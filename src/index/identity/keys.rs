//! Canonical keys: the engine re-keys every index with these rules, so ours must be identical
//! or the engine would see our items as different titles.
//!
//! - movie: `<first id by priority>:<value>` (`tmdb:603`);
//! - episode: `<show's first id>#s<season>e<episode>`, both at least two digits
//!   (`tmdb:1396#s01e01`, `tvdb:121361#s10e100`); only with no show ID at all the episode's
//!   own best ID takes the show's place. Show IDs are never mixed with season or episode IDs
//!   (a season's ID would key every episode of the season alike): whatever
//!   [`Item::show_ids`] holds is the show's.
//! - no ID at all: `movie|title:<title>|year:<year>` (year empty when unknown). For an
//!   episode with no ID at all (never produced by this plugin: every Tautulli item has a Plex
//!   rating key) we write `episode|title:<series title>|year:<year>#sXXeYY`, so two shows'
//!   "Pilot" episodes do not collapse into one key.
//! - an episode lacking season or episode number (also never produced here) is keyed like
//!   the engine does: its own best ID without a suffix, else the title form.
//! - everything lower-case.

use crate::index::identity::ids::Ids;
use crate::index::item::Item;
use crate::tautulli::rows::MediaKind;

/// The canonical key of an item.
pub fn canonical_key(item: &Item) -> String {
    let key = match item.kind {
        MediaKind::Movie => id_key(&item.ids).unwrap_or_else(|| title_key(item)),
        MediaKind::Episode => match (item.season, item.episode) {
            (Some(s), Some(e)) => {
                let base = id_key(&item.show_ids)
                    .or_else(|| id_key(&item.ids))
                    .unwrap_or_else(|| title_key(item));
                format!("{base}#{}", se_suffix(s, e))
            }
            _ => id_key(&item.ids).unwrap_or_else(|| title_key(item)),
        },
    };
    key.to_lowercase()
}

/// `s01e01`: season and episode padded to two digits, longer numbers kept whole.
pub fn se_suffix(season: u32, episode: u32) -> String {
    format!("s{season:02}e{episode:02}")
}

/// The key of one play in event (rewatch) mode: `<canonical key>@<epoch seconds>`. Written
/// by hand, not with `format!`: a rewatch index makes one per play.
pub fn event_key(key: &str, watched_at: i64) -> String {
    let mut out = String::with_capacity(key.len() + 21);
    out.push_str(key);
    out.push('@');
    push_int(&mut out, watched_at);
    out
}

/// Writes `i64`s in decimal, as `Display` does.
fn push_int(out: &mut String, v: i64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&buf[at..]).expect("ASCII digits"));
}

fn id_key(ids: &Ids) -> Option<String> {
    ids.best().map(|(k, v)| format!("{}:{v}", k.as_str()))
}

fn title_key(item: &Item) -> String {
    let year = item.year.map(|y| y.to_string()).unwrap_or_default();
    match item.kind {
        MediaKind::Movie => format!("movie|title:{}|year:{year}", item.title.trim()),
        MediaKind::Episode => {
            let title = item.series_title.as_deref().unwrap_or(&item.title);
            format!("episode|title:{}|year:{year}", title.trim())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::index::identity::ids::IdKind;

    fn movie(ids: &[(IdKind, &str)]) -> Item {
        let mut m = Item::movie("The Matrix", Some(1999), 0);
        for (k, v) in ids {
            m.ids.insert(*k, v);
        }
        m
    }

    fn episode(season: u32, ep: u32, show: &[(IdKind, &str)], own: &[(IdKind, &str)]) -> Item {
        let mut e = Item::episode(
            Some(Arc::from("Game of Thrones")),
            "The Red Woman",
            Some(2016),
            season,
            ep,
            0,
        );
        for (k, v) in show {
            e.show_ids.insert(*k, v);
        }
        for (k, v) in own {
            e.ids.insert(*k, v);
        }
        e
    }

    #[test]
    fn movie_takes_the_first_id_by_priority() {
        use IdKind::*;
        let full = [
            (Slug, "the-matrix"),
            (Guid, "plex://movie/5d77"),
            (Plex, "101"),
            (Simkl, "53536"),
            (Anidb, "1"),
            (Kitsu, "2"),
            (Anilist, "3"),
            (Mal, "4"),
            (Trakt, "481"),
            (Tvdb, "169"),
            (Imdb, "tt0133093"),
            (Tmdb, "603"),
        ];
        let expected = [
            "slug:the-matrix",
            "guid:plex://movie/5d77",
            "plex:101",
            "simkl:53536",
            "anidb:1",
            "kitsu:2",
            "anilist:3",
            "mal:4",
            "trakt:481",
            "tvdb:169",
            "imdb:tt0133093",
            "tmdb:603",
        ];
        // Adding kinds from lowest to highest priority: each addition takes over the key.
        for n in 1..=full.len() {
            assert_eq!(canonical_key(&movie(&full[..n])), expected[n - 1], "{n}");
        }
    }

    #[test]
    fn keys_are_lower_case() {
        let m = movie(&[(IdKind::Guid, "com.plexapp.agents.Foo://ABC")]);
        assert_eq!(canonical_key(&m), "guid:com.plexapp.agents.foo://abc");
        // The item keeps its IDs as given; only the key is lowered.
        assert_eq!(
            m.ids.get(IdKind::Guid),
            Some("com.plexapp.agents.Foo://ABC")
        );
        let mut t = Item::movie("  Amélie ÉTÉ ", None, 0);
        t.year = Some(2001);
        assert_eq!(canonical_key(&t), "movie|title:amélie été|year:2001");
    }

    #[test]
    fn placeholders_never_reach_a_key() {
        let m = movie(&[
            (IdKind::Tmdb, "0"),
            (IdKind::Imdb, "none"),
            (IdKind::Tvdb, "169"),
        ]);
        assert_eq!(canonical_key(&m), "tvdb:169");
        let e = episode(
            1,
            2,
            &[(IdKind::Tmdb, "null"), (IdKind::Tvdb, "unknown")],
            &[(IdKind::Plex, "301")],
        );
        assert_eq!(canonical_key(&e), "plex:301#s01e02");
    }

    #[test]
    fn no_id_falls_back_to_title_and_year() {
        let m = Item::movie("The Matrix", Some(1999), 0);
        assert_eq!(canonical_key(&m), "movie|title:the matrix|year:1999");
        let m = Item::movie("Birthday 2019", None, 0);
        assert_eq!(canonical_key(&m), "movie|title:birthday 2019|year:");
        let e = episode(2, 3, &[], &[]);
        assert_eq!(
            canonical_key(&e),
            "episode|title:game of thrones|year:2016#s02e03"
        );
    }

    #[test]
    fn episode_uses_the_show_id_with_padded_suffix() {
        let show = [(IdKind::Tmdb, "1396"), (IdKind::Plex, "199")];
        let own = [(IdKind::Tmdb, "62085"), (IdKind::Plex, "201")];
        assert_eq!(
            canonical_key(&episode(1, 1, &show, &own)),
            "tmdb:1396#s01e01"
        );
        assert_eq!(
            canonical_key(&episode(10, 100, &show, &own)),
            "tmdb:1396#s10e100"
        );
        assert_eq!(
            canonical_key(&episode(0, 5, &show, &own)),
            "tmdb:1396#s00e05"
        );
        assert_eq!(
            canonical_key(&episode(123, 4567, &show, &own)),
            "tmdb:1396#s123e4567"
        );
    }

    #[test]
    fn show_plex_id_beats_the_episodes_external_ids() {
        // Any show ID, even only Plex's, names the show; the episode's own IDs must not.
        let e = episode(1, 1, &[(IdKind::Plex, "199")], &[(IdKind::Tmdb, "62085")]);
        assert_eq!(canonical_key(&e), "plex:199#s01e01");
    }

    #[test]
    fn episode_without_show_ids_uses_its_own_best_id() {
        let e = episode(
            3,
            7,
            &[],
            &[(IdKind::Guid, "plex://episode/x"), (IdKind::Plex, "301")],
        );
        assert_eq!(canonical_key(&e), "plex:301#s03e07");
    }

    #[test]
    fn a_seasons_tmdb_id_is_never_the_show_key() {
        // A show lacking TMDb whose season has TMDb 66001: the season ID is simply not a
        // show ID, so the key is the show's TVDB ID.
        let e = episode(
            8,
            1,
            &[(IdKind::Tvdb, "121361"), (IdKind::Plex, "299")],
            &[(IdKind::Plex, "801")],
        );
        assert_eq!(canonical_key(&e), "tvdb:121361#s08e01");
        assert_ne!(canonical_key(&e), "tmdb:66001#s08e01");
    }

    #[test]
    fn episode_missing_numbers_keys_like_the_engine() {
        let mut e = episode(1, 1, &[(IdKind::Tmdb, "1396")], &[(IdKind::Plex, "201")]);
        e.episode = None;
        assert_eq!(canonical_key(&e), "plex:201");
    }

    #[test]
    fn event_keys_append_the_epoch() {
        assert_eq!(event_key("tmdb:603", 1_794_349_020), "tmdb:603@1794349020");
        assert_eq!(event_key("tmdb:1396#s01e01", -5), "tmdb:1396#s01e01@-5");
        for v in [0, -1, 59, 86_400, 1_794_349_020, i64::MAX, i64::MIN] {
            assert_eq!(event_key("k", v), format!("k@{v}"));
        }
    }
}
