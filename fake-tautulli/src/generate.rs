//! Deterministic synthetic scenarios: a library and a play history of any size (1M plays for
//! the benchmark) from a seed, with no `rand` dependency. Same spec, same scenario, byte for
//! byte, on every machine.

use std::collections::HashMap;

use crate::scenario::{
    ApiKey, Client, Episode, ItemCommon, Library, Movie, Scenario, Season, ServerSettings, Session,
    Show, TranscodeDecision, User,
};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenSpec {
    /// Finished sessions (history rows) in total; a grouped play counts two.
    pub plays: usize,
    pub movies: usize,
    pub shows: usize,
    pub episodes_per_show: usize,
    pub users: usize,
    pub seed: u64,
    /// Share of movies and shows on legacy agents (guid carries the ID, `guids: []`).
    pub legacy_share: f64,
    /// Share of plays stopped early (below the watched threshold).
    pub partial_share: f64,
    /// Share of plays split into two sessions of one group (paused, resumed later).
    pub grouped_share: f64,
    /// Share of plays that are Live TV.
    pub live_share: f64,
    /// Plays start within `[start_epoch, end_epoch)`.
    pub start_epoch: i64,
    pub end_epoch: i64,
}

/// 2026-01-01T00:00:00Z.
pub const EPOCH_2026: i64 = 1_767_225_600;
/// 2027-01-01T00:00:00Z.
pub const EPOCH_2027: i64 = 1_798_761_600;

impl Default for GenSpec {
    fn default() -> Self {
        GenSpec {
            plays: 1_000_000,
            movies: 4000,
            shows: 800,
            episodes_per_show: 60,
            users: 50,
            seed: 0x7a75_7475_6c6c_6921,
            legacy_share: 0.2,
            partial_share: 0.25,
            grouped_share: 0.05,
            live_share: 0.02,
            start_epoch: EPOCH_2026,
            end_epoch: EPOCH_2027,
        }
    }
}

/// splitmix64: tiny, fast, good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// An index below `n`, favouring small ones (popular items, heavy users).
    pub fn skewed(&mut self, n: usize, power: i32) -> usize {
        ((self.unit().powi(power) * n as f64) as usize).min(n.saturating_sub(1))
    }
    fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        while s.len() < len {
            s.push_str(&format!("{:016x}", self.next_u64()));
        }
        s.truncate(len);
        s
    }
}

const NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yolanda",
];
const ADJ: &[&str] = &[
    "Silent",
    "Crimson",
    "Last",
    "Hidden",
    "Golden",
    "Broken",
    "Distant",
    "Electric",
    "Frozen",
    "Lost",
    "Midnight",
    "Northern",
    "Quiet",
    "Savage",
    "Wandering",
    "Velvet",
];
const NOUN: &[&str] = &[
    "Harbor", "Empire", "Garden", "Signal", "River", "Kingdom", "Machine", "Orchard", "Frontier",
    "Station", "Mirror", "Voyage", "Citadel", "Lantern", "Horizon", "Engine",
];

fn title(rng: &mut Rng, n: usize) -> String {
    format!(
        "The {} {} {}",
        ADJ[rng.range(0, ADJ.len() as i64 - 1) as usize],
        NOUN[rng.range(0, NOUN.len() as i64 - 1) as usize],
        n + 1
    )
}

/// Section ids the generator uses.
pub const SECTION_MOVIES: i64 = 1;
pub const SECTION_SHOWS: i64 = 2;
pub const SECTION_LEGACY_MOVIES: i64 = 3;
pub const SECTION_LEGACY_SHOWS: i64 = 4;
pub const SECTION_LIVE: i64 = 5;

fn libraries() -> Vec<Library> {
    let lib = |id, name: &str, kind: &str, agent: &str| Library {
        section_id: id,
        section_name: name.into(),
        section_type: kind.into(),
        agent: agent.into(),
    };
    vec![
        lib(SECTION_MOVIES, "Movies", "movie", "tv.plex.agents.movie"),
        lib(SECTION_SHOWS, "TV Shows", "show", "tv.plex.agents.series"),
        lib(
            SECTION_LEGACY_MOVIES,
            "Legacy Movies",
            "movie",
            "com.plexapp.agents.imdb",
        ),
        lib(
            SECTION_LEGACY_SHOWS,
            "Legacy TV",
            "show",
            "com.plexapp.agents.thetvdb",
        ),
        lib(SECTION_LIVE, "Live TV", "live", "tv.plex.agents.none"),
    ]
}

fn clients() -> Vec<Client> {
    let c = |platform: &str, product: &str, player: &str, ip: &str, location: &str| Client {
        platform: platform.into(),
        product: product.into(),
        player: player.into(),
        ip_address: ip.into(),
        machine_id: None,
        location: location.into(),
        secure: true,
        relayed: false,
    };
    vec![
        c("Chrome", "Plex Web", "Chrome", "192.168.1.10", "lan"),
        c(
            "Roku",
            "Plex for Roku",
            "Living Room",
            "192.168.1.11",
            "lan",
        ),
        c(
            "Android",
            "Plex for Android (TV)",
            "SHIELD",
            "192.168.1.12",
            "lan",
        ),
        c("iOS", "Plex for iOS", "iPhone", "10.0.0.6", "wan"),
        c(
            "Android",
            "Plex for Android (Mobile)",
            "Pixel",
            "10.0.0.7",
            "wan",
        ),
        c(
            "tvOS",
            "Plex for Apple TV",
            "Apple TV",
            "192.168.1.13",
            "lan",
        ),
        c(
            "Windows",
            "Plex for Windows",
            "DESKTOP-1",
            "192.168.1.14",
            "lan",
        ),
        c(
            "Samsung",
            "Plex for Samsung",
            "Samsung TV",
            "192.168.1.15",
            "lan",
        ),
    ]
}

fn users(n: usize) -> Vec<User> {
    let mut v = vec![User {
        user_id: 0,
        username: "Local".into(),
        friendly_name: Some("Local".into()),
        thumb: None,
        email: None,
        is_admin: false,
    }];
    for i in 0..n {
        let username = NAMES
            .get(i)
            .map(|s| (*s).to_owned())
            .unwrap_or_else(|| format!("user{:04}", i + 1));
        let mut friendly = username.clone();
        friendly[..1].make_ascii_uppercase();
        v.push(User {
            user_id: 1001 + i as i64,
            friendly_name: Some(friendly),
            thumb: Some(format!("https://plex.tv/users/{:08x}/avatar", 0xa000 + i)),
            email: Some(format!("{username}@example.invalid")),
            is_admin: i == 0,
            username,
        });
    }
    v
}

fn plex_movie(rng: &mut Rng, rk: i64, n: usize) -> ItemCommon {
    ItemCommon {
        rating_key: rk,
        title: title(rng, n),
        year: Some(rng.range(1950, 2025)),
        guid: format!("plex://movie/{}", rng.hex(24)),
        guids: vec![
            format!("imdb://tt{:07}", rng.range(100_000, 9_999_999)),
            format!("tmdb://{}", rng.range(10, 999_999)),
            format!("tvdb://{}", rng.range(1, 399_999)),
        ],
        content_rating: "PG-13".into(),
        ..ItemCommon::default()
    }
}

fn legacy_movie(rng: &mut Rng, rk: i64, n: usize) -> ItemCommon {
    let guid = if n.is_multiple_of(2) {
        format!(
            "com.plexapp.agents.imdb://tt{:07}?lang=en",
            rng.range(100_000, 9_999_999)
        )
    } else {
        format!(
            "com.plexapp.agents.themoviedb://{}?lang=en",
            rng.range(10, 999_999)
        )
    };
    ItemCommon {
        rating_key: rk,
        title: title(rng, n),
        year: Some(rng.range(1950, 2025)),
        guid,
        content_rating: "R".into(),
        ..ItemCommon::default()
    }
}

fn show(rng: &mut Rng, next_rk: &mut i64, n: usize, episodes: usize, legacy: bool) -> Show {
    let mut take = || {
        let k = *next_rk;
        *next_rk += 1;
        k
    };
    let tvdb = rng.range(70_000, 450_000);
    let show_rk = take();
    let show_title = title(rng, n);
    let year = rng.range(1990, 2025);
    let common = if legacy {
        ItemCommon {
            rating_key: show_rk,
            title: show_title,
            year: Some(year),
            guid: format!("com.plexapp.agents.thetvdb://{tvdb}?lang=en"),
            content_rating: "TV-14".into(),
            ..ItemCommon::default()
        }
    } else {
        ItemCommon {
            rating_key: show_rk,
            title: show_title,
            year: Some(year),
            guid: format!("plex://show/{}", rng.hex(24)),
            guids: vec![
                format!("imdb://tt{:07}", rng.range(100_000, 9_999_999)),
                format!("tmdb://{}", rng.range(1000, 250_000)),
                format!("tvdb://{tvdb}"),
            ],
            content_rating: "TV-14".into(),
            ..ItemCommon::default()
        }
    };
    let mut seasons = Vec::new();
    let per_season = 10;
    let season_count = episodes.div_ceil(per_season);
    for s in 0..season_count {
        let idx = s as i64 + 1;
        let season_rk = take();
        let guid = if legacy {
            format!("com.plexapp.agents.thetvdb://{tvdb}/{idx}?lang=en")
        } else {
            format!("plex://season/{}", rng.hex(24))
        };
        let guids = if legacy {
            Vec::new()
        } else {
            vec![format!("tvdb://{}", rng.range(1000, 999_999))]
        };
        let count = per_season.min(episodes - s * per_season);
        let mut eps = Vec::with_capacity(count);
        for e in 0..count {
            let eidx = e as i64 + 1;
            let rk = take();
            let (guid, guids) = if legacy {
                (
                    format!("com.plexapp.agents.thetvdb://{tvdb}/{idx}/{eidx}?lang=en"),
                    Vec::new(),
                )
            } else {
                (
                    format!("plex://episode/{}", rng.hex(24)),
                    vec![
                        format!("imdb://tt{:07}", rng.range(100_000, 9_999_999)),
                        format!("tmdb://{}", rng.range(10_000, 5_000_000)),
                        format!("tvdb://{}", rng.range(100_000, 9_999_999)),
                    ],
                )
            };
            eps.push(Episode {
                common: ItemCommon {
                    rating_key: rk,
                    title: format!("Episode {eidx}"),
                    year: Some(year + s as i64),
                    guid,
                    guids,
                    ..ItemCommon::default()
                },
                media_index: Some(eidx),
                duration: rng.range(20, 60) * 60,
                live: false,
            });
        }
        seasons.push(Season {
            common: ItemCommon {
                rating_key: season_rk,
                title: format!("Season {idx}"),
                guid,
                guids,
                ..ItemCommon::default()
            },
            media_index: Some(idx),
            episodes: eps,
        });
    }
    Show {
        common,
        section_id: if legacy {
            SECTION_LEGACY_SHOWS
        } else {
            SECTION_SHOWS
        },
        seasons,
    }
}

/// A play before ids are assigned: one or two sessions.
struct Draft {
    user_id: i64,
    rating_key: i64,
    started: i64,
    stopped: i64,
    paused: i64,
    percent: f64,
    credits: bool,
    live: bool,
    transcode: TranscodeDecision,
    client: u32,
    /// Index of the draft this one continues (same group).
    continues: Option<usize>,
}

/// Generates a scenario from `spec`; equal specs give equal scenarios.
pub fn generate(spec: &GenSpec) -> Scenario {
    let mut rng = Rng::new(spec.seed);
    let mut next_rk: i64 = 100_000;
    let mut movies = Vec::with_capacity(spec.movies);
    for n in 0..spec.movies {
        let rk = next_rk;
        next_rk += 1;
        let legacy = rng.chance(spec.legacy_share);
        let common = if legacy {
            legacy_movie(&mut rng, rk, n)
        } else {
            plex_movie(&mut rng, rk, n)
        };
        movies.push(Movie {
            common,
            section_id: if legacy {
                SECTION_LEGACY_MOVIES
            } else {
                SECTION_MOVIES
            },
            duration: rng.range(80, 180) * 60,
            live: false,
        });
    }
    let live_count = if spec.live_share > 0.0 {
        (spec.movies / 50).clamp(1, 40)
    } else {
        0
    };
    let mut live_keys = Vec::new();
    for n in 0..live_count {
        let rk = next_rk;
        next_rk += 1;
        live_keys.push(rk);
        movies.push(Movie {
            common: ItemCommon {
                rating_key: rk,
                title: format!("Live: {}", title(&mut rng, n)),
                guid: format!("plex://episode/{}", rng.hex(24)),
                ..ItemCommon::default()
            },
            section_id: SECTION_LIVE,
            duration: rng.range(1, 4) * 1800,
            live: true,
        });
    }
    let mut shows = Vec::with_capacity(spec.shows);
    for n in 0..spec.shows {
        let legacy = rng.chance(spec.legacy_share);
        shows.push(show(
            &mut rng,
            &mut next_rk,
            n,
            spec.episodes_per_show,
            legacy,
        ));
    }
    let movie_keys: Vec<(i64, i64)> = movies
        .iter()
        .filter(|m| !m.live)
        .map(|m| (m.common.rating_key, m.duration))
        .collect();
    let live_items: Vec<(i64, i64)> = movies
        .iter()
        .filter(|m| m.live)
        .map(|m| (m.common.rating_key, m.duration))
        .collect();
    let episode_keys: Vec<Vec<(i64, i64)>> = shows
        .iter()
        .map(|s| {
            s.seasons
                .iter()
                .flat_map(|se| &se.episodes)
                .map(|e| (e.common.rating_key, e.duration))
                .collect()
        })
        .collect();
    let users = users(spec.users);
    let clients = clients();

    let mut drafts: Vec<Draft> = Vec::with_capacity(spec.plays);
    let span_end = (spec.end_epoch - 6 * 3600).max(spec.start_epoch);
    while drafts.len() < spec.plays && spec.users > 0 {
        let live = !live_items.is_empty() && rng.chance(spec.live_share);
        let episode =
            !live && !episode_keys.is_empty() && (movie_keys.is_empty() || rng.chance(0.6));
        let (rating_key, duration) = if live {
            live_items[rng.skewed(live_items.len(), 1)]
        } else if episode {
            let eps = &episode_keys[rng.skewed(episode_keys.len(), 2)];
            if eps.is_empty() {
                continue;
            }
            eps[rng.range(0, eps.len() as i64 - 1) as usize]
        } else if !movie_keys.is_empty() {
            movie_keys[rng.skewed(movie_keys.len(), 3)]
        } else {
            break;
        };
        let user_id = 1001 + rng.skewed(spec.users, 2) as i64;
        let client = rng.range(0, clients.len() as i64 - 1) as u32;
        let transcode = match rng.range(0, 9) {
            0..=5 => TranscodeDecision::DirectPlay,
            6 | 7 => TranscodeDecision::Copy,
            _ => TranscodeDecision::Transcode,
        };
        let started = rng.range(spec.start_epoch, span_end);
        let partial = !live && rng.chance(spec.partial_share);
        let mut credits = false;
        let percent = if live {
            100.0
        } else if partial {
            rng.range(2, 80) as f64
        } else if episode && rng.chance(0.05) {
            // Stopped at the credits marker, below the threshold: still watched.
            credits = true;
            rng.range(76, 84) as f64
        } else {
            rng.range(86, 100) as f64
        };
        let paused = if rng.chance(0.3) {
            rng.range(5, 600)
        } else {
            0
        };
        let grouped = !live && spec.plays - drafts.len() >= 2 && rng.chance(spec.grouped_share);
        let secs = |p: f64| (p / 100.0 * duration as f64).round() as i64;
        let play = Draft {
            user_id,
            rating_key,
            started,
            stopped: started + secs(percent) + paused,
            paused,
            percent,
            credits,
            live,
            transcode,
            client,
            continues: None,
        };
        if grouped {
            // Watched in two sittings: the first stops early, the second resumes later.
            let first = (percent * rng.range(30, 60) as f64 / 100.0).round();
            let stop1 = started + secs(first);
            let resume = stop1 + rng.range(60, 3 * 3600);
            drafts.push(Draft {
                stopped: stop1,
                paused: 0,
                percent: first,
                credits: false,
                ..play
            });
            let parent = drafts.len() - 1;
            drafts.push(Draft {
                started: resume,
                stopped: resume + secs(percent - first) + paused,
                continues: Some(parent),
                ..play
            });
        } else {
            drafts.push(play);
        }
    }
    let sessions = number_sessions(drafts);
    Scenario {
        api_key: ApiKey::new(format!("{:016x}{:016x}", spec.seed, !spec.seed)),
        server: ServerSettings::default(),
        users,
        libraries: libraries(),
        clients,
        movies,
        shows,
        deleted: Vec::new(),
        sessions,
        activity: Vec::new(),
        collections: Vec::new(),
    }
}

/// Ids in order of start time (as Tautulli writes rows as plays happen); a continuation's
/// `reference_id` is its group's first id.
fn number_sessions(drafts: Vec<Draft>) -> Vec<Session> {
    let mut order: Vec<usize> = (0..drafts.len()).collect();
    order.sort_by_key(|&i| (drafts[i].started, i));
    let mut id_of = vec![0i64; drafts.len()];
    for (n, &i) in order.iter().enumerate() {
        id_of[i] = n as i64 + 1;
    }
    order
        .iter()
        .map(|&i| {
            let d = &drafts[i];
            let id = id_of[i];
            // Chained continuations share the first draft's reference.
            let mut root = i;
            while let Some(p) = drafts[root].continues {
                root = p;
            }
            Session {
                id,
                reference_id: (root != i).then(|| id_of[root]),
                user_id: d.user_id,
                rating_key: d.rating_key,
                started: d.started,
                stopped: d.stopped,
                paused_counter: d.paused,
                percent: d.percent,
                credits_watched: d.credits,
                live: d.live,
                transcode_decision: d.transcode,
                client: d.client,
            }
        })
        .collect()
}

/// Adds `extra`'s library to `base` and renumbers every session by start time, so ids stay
/// chronological. Users and libraries already in `base` (by id) are kept; `extra`'s clients
/// are appended. Rating keys must not collide.
pub fn merge(mut base: Scenario, extra: Scenario) -> Scenario {
    let client_offset = base.clients.len().max(1) as u32;
    if base.clients.is_empty() {
        base.clients.push(Client::default());
    }
    base.clients.extend(extra.clients);
    for u in extra.users {
        if !base.users.iter().any(|b| b.user_id == u.user_id) {
            base.users.push(u);
        }
    }
    for l in extra.libraries {
        if !base.libraries.iter().any(|b| b.section_id == l.section_id) {
            base.libraries.push(l);
        }
    }
    base.movies.extend(extra.movies);
    base.shows.extend(extra.shows);
    base.deleted.extend(extra.deleted);
    base.activity.extend(extra.activity);
    base.collections.extend(extra.collections);
    // Tag ids by origin, then renumber chronologically.
    let mut all: Vec<(Session, bool)> = base.sessions.drain(..).map(|s| (s, false)).collect();
    all.extend(extra.sessions.into_iter().map(|mut s| {
        s.client += client_offset;
        (s, true)
    }));
    all.sort_by_key(|(s, from_extra)| (s.started, *from_extra, s.id));
    let new_id: HashMap<(bool, i64), i64> = all
        .iter()
        .enumerate()
        .map(|(n, (s, e))| ((*e, s.id), n as i64 + 1))
        .collect();
    base.sessions = all
        .into_iter()
        .map(|(mut s, e)| {
            let reference = s.reference_id();
            s.id = new_id[&(e, s.id)];
            let r = new_id[&(e, reference)];
            s.reference_id = (r != s.id).then_some(r);
            s
        })
        .collect();
    base
}

/// The demo library: the curated part (`fixtures/scenarios/demo-curated.json`, every guid and
/// row quirk the plugin must handle) plus a generated filler for volume.
/// `fixtures/scenarios/demo.json` is this, written out by `gen-scenario demo`.
pub fn generated_demo() -> Scenario {
    let curated = Scenario::from_json(include_str!("../../fixtures/scenarios/demo-curated.json"))
        .expect("the curated demo part is valid");
    let filler = generate(&GenSpec {
        plays: 200,
        movies: 24,
        shows: 4,
        episodes_per_show: 12,
        users: 2,
        seed: 2026,
        legacy_share: 0.25,
        partial_share: 0.2,
        grouped_share: 0.04,
        live_share: 0.0,
        start_epoch: EPOCH_2026,
        // 2026-11-20T00:00:00Z: no demo play lies in the future of the demo's release.
        end_epoch: 1_795_132_800,
    });
    merge(curated, filler)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> GenSpec {
        GenSpec {
            plays: 3000,
            movies: 50,
            shows: 10,
            episodes_per_show: 25,
            users: 5,
            seed: 7,
            ..GenSpec::default()
        }
    }

    #[test]
    fn is_deterministic_and_valid() {
        let a = generate(&small());
        let b = generate(&small());
        assert_eq!(a.to_json_pretty(), b.to_json_pretty());
        a.validate().unwrap();
        assert_eq!(a.sessions.len(), 3000);
        let other = generate(&GenSpec { seed: 8, ..small() });
        assert_ne!(a.sessions, other.sessions);
    }

    #[test]
    fn mixes_the_requested_kinds() {
        let s = generate(&small());
        let grouped = s
            .sessions
            .iter()
            .filter(|x| x.reference_id.is_some())
            .count();
        let live = s.sessions.iter().filter(|x| x.live).count();
        let partial = s.sessions.iter().filter(|x| x.percent < 80.0).count();
        assert!(grouped > 30, "{grouped}");
        assert!(live > 10, "{live}");
        assert!(partial > 300, "{partial}");
        assert!(s.sessions.windows(2).all(|w| w[0].started <= w[1].started));
        assert!(s
            .sessions
            .iter()
            .all(|x| x.started >= EPOCH_2026 && x.stopped < EPOCH_2027));
        let legacy = s
            .movies
            .iter()
            .filter(|m| m.section_id == SECTION_LEGACY_MOVIES)
            .count();
        assert!(legacy > 0 && legacy < 50);
        assert_eq!(s.shows[0].seasons.len(), 3);
    }

    #[test]
    fn merge_renumbers_chronologically_and_keeps_groups() {
        let base = generate(&GenSpec {
            plays: 300,
            seed: 1,
            ..small()
        });
        let mut extra = generate(&GenSpec {
            plays: 300,
            seed: 2,
            ..small()
        });
        // Keep the extra library's keys apart from the base's.
        for m in &mut extra.movies {
            m.common.rating_key += 1_000_000;
        }
        for s in &mut extra.shows {
            s.common.rating_key += 1_000_000;
            for se in &mut s.seasons {
                se.common.rating_key += 1_000_000;
                for e in &mut se.episodes {
                    e.common.rating_key += 1_000_000;
                }
            }
        }
        for s in &mut extra.sessions {
            s.rating_key += 1_000_000;
        }
        let groups = base
            .sessions
            .iter()
            .filter(|s| s.reference_id.is_some())
            .count()
            + extra
                .sessions
                .iter()
                .filter(|s| s.reference_id.is_some())
                .count();
        let m = merge(base, extra);
        m.validate().unwrap();
        assert_eq!(m.sessions.len(), 600);
        assert_eq!(
            m.sessions
                .iter()
                .filter(|s| s.reference_id.is_some())
                .count(),
            groups
        );
        assert!(m
            .sessions
            .iter()
            .enumerate()
            .all(|(i, s)| s.id == i as i64 + 1));
    }

    #[test]
    fn demo_json_is_the_generated_demo() {
        assert_eq!(
            Scenario::demo().to_json_pretty(),
            generated_demo().to_json_pretty(),
            "regenerate with: cargo run -p fake-tautulli --bin gen-scenario -- demo > fixtures/scenarios/demo.json"
        );
    }
}
