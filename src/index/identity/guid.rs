//! Parsing of Plex/Tautulli guids into IDs, with the level each ID belongs to made explicit.
//!
//! Why the level matters: a legacy episode guid (`thetvdb://121361/6/1`) names the **show**,
//! not the episode, and mixing show, season and episode IDs gives wrong keys (two
//! episodes of one show would share the show's key).
//! So a parsed guid says whether its ID names the row's item itself or the show the episode
//! belongs to, and carries the season/episode found in its path.

use crate::index::identity::ids::{normalise_value, IdKind, Ids};

/// The level of a `plex://<level>/<id>` guid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PlexLevel {
    Movie,
    Show,
    Season,
    Episode,
}

impl PlexLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            PlexLevel::Movie => "movie",
            PlexLevel::Show => "show",
            PlexLevel::Season => "season",
            PlexLevel::Episode => "episode",
        }
    }

    fn parse(s: &str) -> Option<PlexLevel> {
        Some(match s.to_ascii_lowercase().as_str() {
            "movie" => PlexLevel::Movie,
            "show" => PlexLevel::Show,
            "season" => PlexLevel::Season,
            "episode" => PlexLevel::Episode,
            _ => return None,
        })
    }
}

/// Which item an ID taken from a guid names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdLevel {
    /// The row's item itself (a movie, or whatever the row is when no path says otherwise).
    Item,
    /// The show an episode belongs to (legacy TV agents and HAMA put the show ID in
    /// episode guids, followed by `/season/episode`).
    Show,
}

/// The legacy (pre-2020) Plex agent a guid came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Agent {
    /// `com.plexapp.agents.imdb`
    Imdb,
    /// `com.plexapp.agents.themoviedb` (movies and, with a path, TV)
    TheMovieDb,
    /// `com.plexapp.agents.thetvdb` and `thetvdbdvd`
    TheTvdb,
    /// `com.plexapp.agents.hama`, the anime agent
    Hama,
}

/// One ID found in a legacy or HAMA guid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LegacyGuid {
    pub agent: Agent,
    pub kind: IdKind,
    /// Normalised (see [`normalise_value`]).
    pub value: String,
    pub level: IdLevel,
    /// Season from the guid path (`.../6/1` -> 6).
    pub season: Option<u32>,
    /// Episode from the guid path (`.../6/1` -> 1).
    pub episode: Option<u32>,
    /// HAMA's ordering variant: `tvdb3-N` -> 3, `anidb2-N` -> 2; `None` for the plain form.
    /// Informative only: the ID is the same title either way.
    pub ordering: Option<u8>,
}

/// A parsed guid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Guid {
    /// New Plex agent (`plex://movie/<hex>`): no external ID inside, `get_metadata` needed.
    Plex { level: PlexLevel, id: String },
    /// Legacy agent or HAMA guid carrying one ID at an explicit level.
    Legacy(LegacyGuid),
    /// `imdb://tt..`, `tmdb://N`, ... (the entries of `get_metadata` guid lists): an ID of the
    /// item the list belongs to.
    External(IdKind, String),
    /// Unmatched media (`local://`, `com.plexapp.agents.none://`, ...): no external ID exists.
    Unmatched,
    /// Anything else, kept trimmed as given (goes into `ids.guid`).
    Unknown(String),
}

impl Guid {
    /// The `plex://<level>/<id>` form of a new-agent guid (scheme and level lower-case).
    pub fn plex_guid(&self) -> Option<String> {
        match self {
            Guid::Plex { level, id } => Some(format!("plex://{}/{id}", level.as_str())),
            _ => None,
        }
    }
}

/// Legacy agents whose guids carry no external ID at all.
const UNMATCHED_AGENTS: [&str; 3] = ["none", "localmedia", "local"];

/// Parses one guid. Scheme, agent and prefix are matched in any case; whitespace, `?lang=..`
/// and `#...` suffixes are ignored. Never fails: unknown forms become [`Guid::Unknown`].
pub fn parse(raw: &str) -> Guid {
    let trimmed = raw.trim();
    let body = trimmed.split(['?', '#']).next().unwrap_or("").trim();
    let unknown = || Guid::Unknown(trimmed.to_owned());
    let Some((scheme, rest)) = body.split_once("://") else {
        return unknown();
    };
    let scheme = scheme.to_ascii_lowercase();
    let rest = rest.trim_matches('/');

    if scheme == "plex" {
        let Some((level, id)) = rest.split_once('/') else {
            return unknown();
        };
        return match PlexLevel::parse(level) {
            Some(level) if !id.is_empty() && !id.contains('/') => Guid::Plex {
                level,
                id: id.to_owned(),
            },
            _ => unknown(),
        };
    }
    if scheme == "local" || scheme == "tv.plex.agents.none" {
        return Guid::Unmatched;
    }
    if let Some(agent) = scheme.strip_prefix("com.plexapp.agents.") {
        if UNMATCHED_AGENTS.contains(&agent) {
            return Guid::Unmatched;
        }
        return parse_agent(agent, rest).unwrap_or_else(unknown);
    }
    if let Some(kind) = IdKind::parse(&scheme).filter(|k| k.is_external()) {
        // `tmdb://movie/603` and `tvdb://series/81189` appear in some tools; take the last
        // path segment.
        let value = rest.rsplit('/').next().unwrap_or("");
        return match normalise_value(kind, value) {
            Some(v) if value_is_clean(kind, value) => Guid::External(kind, v),
            _ => unknown(),
        };
    }
    unknown()
}

/// True when a raw value is exactly an ID of `kind` (not digits fished out of junk), so a
/// malformed guid stays [`Guid::Unknown`] instead of yielding a wrong ID.
fn value_is_clean(kind: IdKind, raw: &str) -> bool {
    let v = raw.trim();
    match kind {
        IdKind::Imdb => {
            let d = v
                .strip_prefix("tt")
                .or_else(|| v.strip_prefix("TT"))
                .or_else(|| v.strip_prefix("Tt"))
                .or_else(|| v.strip_prefix("tT"))
                .unwrap_or(v);
            !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
        }
        k if k.is_numeric() => !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()),
        _ => true,
    }
}

/// Parses `<id>[/<season>[/<episode>]]` of a legacy agent.
fn parse_agent(agent: &str, rest: &str) -> Option<Guid> {
    let mut parts = rest.split('/');
    let first = parts.next()?;
    let season = parts.next().and_then(parse_num);
    let episode = parts.next().and_then(parse_num);
    let has_path = rest.contains('/');

    let (agent, kind, raw_value, ordering, level) = match agent {
        "imdb" => (Agent::Imdb, IdKind::Imdb, first, None, IdLevel::Item),
        "themoviedb" => {
            let level = if has_path {
                IdLevel::Show
            } else {
                IdLevel::Item
            };
            (Agent::TheMovieDb, IdKind::Tmdb, first, None, level)
        }
        // A thetvdb guid always names a show, with or without a season/episode path.
        "thetvdb" | "thetvdbdvd" => (Agent::TheTvdb, IdKind::Tvdb, first, None, IdLevel::Show),
        "hama" => {
            let (prefix, value) = first.split_once('-')?;
            let prefix = prefix.to_ascii_lowercase();
            let name = prefix.trim_end_matches(|c: char| c.is_ascii_digit());
            let ordering = match &prefix[name.len()..] {
                "" => None,
                digits => Some(digits.parse::<u8>().ok()?),
            };
            let kind = match name {
                "anidb" => IdKind::Anidb,
                "tvdb" => IdKind::Tvdb,
                "tmdb" | "tsdb" => IdKind::Tmdb,
                "imdb" => IdKind::Imdb,
                _ => return None,
            };
            let level = if has_path {
                IdLevel::Show
            } else {
                IdLevel::Item
            };
            (Agent::Hama, kind, value, ordering, level)
        }
        _ => return None,
    };
    if !value_is_clean(kind, raw_value) {
        return None;
    }
    let value = normalise_value(kind, raw_value)?;
    Some(Guid::Legacy(LegacyGuid {
        agent,
        kind,
        value,
        level,
        season,
        episode,
        ordering,
    }))
}

fn parse_num(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The IDs of a `get_metadata` guid list (`guids`, `parent_guids` or `grandparent_guids`: pass
/// one level at a time). External entries are collected (the first value of a kind wins);
/// a `plex://` entry lands in `guid`; unmatched and unknown entries are ignored.
pub fn ids_from_list(list: &[String]) -> Ids {
    let mut ids = Ids::new();
    for raw in list {
        match parse(raw) {
            Guid::External(kind, value) => {
                ids.insert_missing(kind, &value);
            }
            Guid::Legacy(g) => {
                ids.insert_missing(g.kind, &g.value);
            }
            g @ Guid::Plex { .. } => {
                if let Some(p) = g.plex_guid() {
                    ids.insert_missing(IdKind::Guid, &p);
                }
            }
            Guid::Unmatched | Guid::Unknown(_) => {}
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy(raw: &str) -> LegacyGuid {
        match parse(raw) {
            Guid::Legacy(g) => g,
            other => panic!("{raw}: {other:?}"),
        }
    }

    #[test]
    fn new_agent_guids_need_metadata() {
        assert_eq!(
            parse("plex://movie/5d7768ba96b655001fdc0408"),
            Guid::Plex {
                level: PlexLevel::Movie,
                id: "5d7768ba96b655001fdc0408".into()
            }
        );
        for (raw, level) in [
            (
                "plex://episode/5d9c0873ffd9ef001e99b9dc",
                PlexLevel::Episode,
            ),
            ("PLEX://Show/abc?lang=en", PlexLevel::Show),
            ("  plex://season/602e67e6#frag ", PlexLevel::Season),
        ] {
            match parse(raw) {
                Guid::Plex { level: l, .. } => assert_eq!(l, level, "{raw}"),
                other => panic!("{raw}: {other:?}"),
            }
        }
        assert_eq!(
            parse("PLEX://Show/abc?lang=en").plex_guid().as_deref(),
            Some("plex://show/abc")
        );
        assert!(matches!(parse("plex://artist/abc"), Guid::Unknown(_)));
        assert!(matches!(parse("plex://movie/"), Guid::Unknown(_)));
        assert!(matches!(parse("plex://movie"), Guid::Unknown(_)));
    }

    #[test]
    fn legacy_imdb_movie() {
        let g = legacy("com.plexapp.agents.imdb://tt0111161?lang=en");
        assert_eq!(
            g,
            LegacyGuid {
                agent: Agent::Imdb,
                kind: IdKind::Imdb,
                value: "tt0111161".into(),
                level: IdLevel::Item,
                season: None,
                episode: None,
                ordering: None,
            }
        );
        let g = legacy("COM.PLEXAPP.AGENTS.IMDB://TT0111161");
        assert_eq!(g.value, "tt0111161");
    }

    #[test]
    fn legacy_tmdb_movie_and_tv() {
        let g = legacy("com.plexapp.agents.themoviedb://550?lang=en");
        assert_eq!(
            (g.kind, g.value.as_str(), g.level),
            (IdKind::Tmdb, "550", IdLevel::Item)
        );
        assert_eq!((g.season, g.episode), (None, None));

        let g = legacy("com.plexapp.agents.themoviedb://1399/1/1?lang=en");
        assert_eq!(
            (g.kind, g.value.as_str(), g.level),
            (IdKind::Tmdb, "1399", IdLevel::Show)
        );
        assert_eq!((g.season, g.episode), (Some(1), Some(1)));
    }

    #[test]
    fn legacy_tvdb_is_always_the_show() {
        let g = legacy("com.plexapp.agents.thetvdb://121361/6/1?lang=en");
        assert_eq!(g.agent, Agent::TheTvdb);
        assert_eq!(
            (g.kind, g.value.as_str(), g.level),
            (IdKind::Tvdb, "121361", IdLevel::Show)
        );
        assert_eq!((g.season, g.episode), (Some(6), Some(1)));

        let g = legacy("com.plexapp.agents.thetvdb://121361");
        assert_eq!((g.level, g.season, g.episode), (IdLevel::Show, None, None));

        let g = legacy("com.plexapp.agents.thetvdb://121361/6");
        assert_eq!((g.season, g.episode), (Some(6), None));

        let g = legacy("com.plexapp.agents.thetvdbdvd://121361/6/10");
        assert_eq!(
            (g.kind, g.season, g.episode),
            (IdKind::Tvdb, Some(6), Some(10))
        );
    }

    #[test]
    fn hama_forms() {
        let g = legacy("com.plexapp.agents.hama://anidb-23/1/1?lang=en");
        assert_eq!(g.agent, Agent::Hama);
        assert_eq!(
            (g.kind, g.value.as_str(), g.level),
            (IdKind::Anidb, "23", IdLevel::Show)
        );
        assert_eq!((g.season, g.episode, g.ordering), (Some(1), Some(1), None));

        let g = legacy("com.plexapp.agents.hama://tvdb-81189/2/3");
        assert_eq!(
            (g.kind, g.value.as_str(), g.ordering),
            (IdKind::Tvdb, "81189", None)
        );
        for n in 2..=6u8 {
            let g = legacy(&format!("com.plexapp.agents.hama://TVDB{n}-81189/1/5"));
            assert_eq!((g.kind, g.value.as_str()), (IdKind::Tvdb, "81189"));
            assert_eq!(g.ordering, Some(n));
            assert_eq!((g.season, g.episode), (Some(1), Some(5)));
        }
        let g = legacy("com.plexapp.agents.hama://tmdb-129");
        assert_eq!(
            (g.kind, g.value.as_str(), g.level),
            (IdKind::Tmdb, "129", IdLevel::Item)
        );
        let g = legacy("com.plexapp.agents.hama://imdb-tt0245429?lang=ja");
        assert_eq!(
            (g.kind, g.value.as_str(), g.level),
            (IdKind::Imdb, "tt0245429", IdLevel::Item)
        );
        let g = legacy("com.plexapp.agents.hama://anidb2-23/1/1");
        assert_eq!((g.kind, g.ordering), (IdKind::Anidb, Some(2)));

        assert!(matches!(
            parse("com.plexapp.agents.hama://foo-23/1/1"),
            Guid::Unknown(_)
        ));
        assert!(matches!(
            parse("com.plexapp.agents.hama://anidb23"),
            Guid::Unknown(_)
        ));
        assert!(matches!(
            parse("com.plexapp.agents.hama://anidb-0/1/1"),
            Guid::Unknown(_)
        ));
    }

    #[test]
    fn metadata_list_entries_are_external() {
        assert_eq!(
            parse("imdb://tt0133093"),
            Guid::External(IdKind::Imdb, "tt0133093".into())
        );
        assert_eq!(
            parse("IMDB://TT0133093"),
            Guid::External(IdKind::Imdb, "tt0133093".into())
        );
        assert_eq!(
            parse("tmdb://603"),
            Guid::External(IdKind::Tmdb, "603".into())
        );
        assert_eq!(
            parse("tvdb://169?x=1"),
            Guid::External(IdKind::Tvdb, "169".into())
        );
        assert_eq!(
            parse("trakt://481"),
            Guid::External(IdKind::Trakt, "481".into())
        );
        assert_eq!(
            parse("anidb://23"),
            Guid::External(IdKind::Anidb, "23".into())
        );
        assert_eq!(
            parse("tmdb://movie/603"),
            Guid::External(IdKind::Tmdb, "603".into())
        );
        assert!(matches!(parse("tmdb://abc"), Guid::Unknown(_)));
        assert!(matches!(parse("tmdb://0"), Guid::Unknown(_)));
        assert!(matches!(parse("imdb://nm0000206"), Guid::Unknown(_)));
        // plex/guid/slug are not external schemes.
        assert!(matches!(parse("slug://the-matrix"), Guid::Unknown(_)));
    }

    #[test]
    fn unmatched_and_unknown() {
        assert_eq!(parse("local://9001"), Guid::Unmatched);
        assert_eq!(parse("LOCAL://9001"), Guid::Unmatched);
        assert_eq!(
            parse("com.plexapp.agents.none://abc?lang=xn"),
            Guid::Unmatched
        );
        assert_eq!(parse("com.plexapp.agents.localmedia://1"), Guid::Unmatched);
        assert_eq!(
            parse(" com.plexapp.agents.youtube://xyz?lang=en "),
            Guid::Unknown("com.plexapp.agents.youtube://xyz?lang=en".into())
        );
        assert_eq!(parse("garbage"), Guid::Unknown("garbage".into()));
        assert_eq!(parse(""), Guid::Unknown(String::new()));
        assert!(matches!(
            parse("com.plexapp.agents.imdb://nope"),
            Guid::Unknown(_)
        ));
        assert!(matches!(
            parse("com.plexapp.agents.themoviedb://12ab/1/1"),
            Guid::Unknown(_)
        ));
    }

    #[test]
    fn fragment_without_query_is_ignored() {
        let g = legacy("com.plexapp.agents.thetvdb://121361/6/1#x?y");
        assert_eq!(
            (g.value.as_str(), g.season, g.episode),
            ("121361", Some(6), Some(1))
        );
        let g = legacy("com.plexapp.agents.thetvdb://121361/6/2?lang=en#x");
        assert_eq!(g.episode, Some(2));
    }

    #[test]
    fn lists_keep_one_level() {
        let list: Vec<String> = [
            "imdb://tt0903747",
            "tmdb://1396",
            "tvdb://81189",
            "tmdb://9",
            "junk",
            "plex://show/abc",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let ids = ids_from_list(&list);
        assert_eq!(
            serde_json::to_string(&ids).unwrap(),
            r#"{"tmdb":"1396","imdb":"tt0903747","tvdb":"81189","guid":"plex://show/abc"}"#
        );
        assert_eq!(ids_from_list(&[]).best(), None);
    }

    mod props {
        use proptest::prelude::*;

        use super::*;
        use crate::testutil::gen::guid_text;

        /// A guid's shape: what it is and the ID it names, not the raw text it kept.
        fn shape(g: &Guid) -> String {
            match g {
                Guid::Plex { level, .. } => format!("plex {}", level.as_str()),
                Guid::Legacy(l) => format!(
                    "legacy {:?} {} {} {:?} {:?} {:?}",
                    l.agent, l.kind, l.value, l.level, l.season, l.episode
                ),
                Guid::External(k, v) => format!("external {k} {v}"),
                Guid::Unmatched => "unmatched".into(),
                Guid::Unknown(_) => "unknown".into(),
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(768))]

            #[test]
            fn parsing_never_panics_and_rejects_or_round_trips(raw in prop_oneof![guid_text(), "\\PC{0,40}"]) {
                let g = parse(&raw);
                match &g {
                    // The canonical form reads back as the same guid.
                    Guid::Plex { .. } => {
                        let canonical = g.plex_guid().unwrap();
                        prop_assert_eq!(parse(&canonical), g.clone(), "{}", canonical);
                    }
                    Guid::External(kind, value) => {
                        prop_assert_eq!(parse(&format!("{kind}://{value}")), g.clone());
                        prop_assert_eq!(normalise_value(*kind, value), Some(value.clone()));
                    }
                    Guid::Legacy(l) => {
                        prop_assert_eq!(normalise_value(l.kind, &l.value), Some(l.value.clone()));
                        prop_assert!(l.kind.is_external());
                    }
                    // Refused forms keep the text, trimmed, and stay refused.
                    Guid::Unknown(kept) => {
                        prop_assert_eq!(kept.as_str(), raw.trim());
                        prop_assert_eq!(parse(kept), g.clone());
                    }
                    Guid::Unmatched => {}
                }
            }

            #[test]
            fn scheme_case_and_suffixes_do_not_matter(
                raw in guid_text().prop_filter("no suffix yet", |g| !g.contains(['?', '#'])),
                suffix in prop::sample::select(vec!["?lang=en", "?lang=de&x=1", "#frag", "?lang=en#x", "  "]),
                upper in any::<bool>(),
            ) {
                let base = shape(&parse(&raw));
                let recased = match raw.split_once("://") {
                    Some((scheme, rest)) if upper => format!("{}://{rest}", scheme.to_uppercase()),
                    Some((scheme, rest)) => format!("{}://{rest}", scheme.to_lowercase()),
                    None => raw.clone(),
                };
                prop_assert_eq!(shape(&parse(&recased)), base.clone(), "{}", recased);
                prop_assert_eq!(shape(&parse(&format!("{raw}{suffix}"))), base, "{}{}", raw, suffix);
            }

            #[test]
            fn id_lists_hold_only_normalised_ids(list in prop::collection::vec(guid_text(), 0..6)) {
                let ids = ids_from_list(&list);
                for (kind, value) in ids.iter() {
                    prop_assert_eq!(normalise_value(kind, value), Some(value.to_owned()));
                    prop_assert!(kind.is_external() || kind == IdKind::Guid, "{}", kind);
                }
            }
        }
    }
}
