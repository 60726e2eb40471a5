//! What a fake Tautulli knows: its settings, users, libraries, items, play history and
//! in-progress sessions, read from a JSON scenario file (format: `fixtures/scenarios/README.md`).
//!
//! The shapes mirror Tautulli's own tables (`users`, `library_sections`, `session_history`,
//! `sessions`) closely enough that the grouped history view can be computed the way Tautulli's
//! SQL does, yet stay small: 1M sessions must fit comfortably in memory, so a session refers to
//! its client (device) by index instead of carrying six strings.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::clock::Zone;

/// A complete fake server: everything `get_history`, `get_metadata` and friends answer from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scenario {
    /// The only key the server accepts (32 characters, like Tautulli's).
    pub api_key: ApiKey,
    #[serde(default)]
    pub server: ServerSettings,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub libraries: Vec<Library>,
    /// Devices sessions play on; a session names one by index. Empty = one built-in client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<Client>,
    #[serde(default)]
    pub movies: Vec<Movie>,
    #[serde(default)]
    pub shows: Vec<Show>,
    /// Rating keys removed from Plex: `get_metadata` answers `{}` (for a show, its seasons and
    /// episodes too) while their history rows stay.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<i64>,
    /// Finished plays (Tautulli's `session_history`).
    #[serde(default)]
    pub sessions: Vec<Session>,
    /// In-progress plays (Tautulli's `sessions` table), mixed in by `include_activity=1`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activity: Vec<ActivitySession>,
    /// Plex collections (`get_collections_table`, `get_children_metadata`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collections: Vec<Collection>,
}

/// The API key, kept out of `Debug` output so it never lands in logs or test failures.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key; its length is checked when the scenario is validated.
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }
    /// The key itself, for the server's comparison and for test clients.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Tautulli's own settings that change answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// `GROUP_HISTORY_TABLES`: the `grouping` used when a request does not send one.
    pub grouping: bool,
    /// `HISTORY_TABLE_ACTIVITY`: the `include_activity` used when a request does not send one.
    pub include_activity: bool,
    /// Watched thresholds in percent per media type (Tautulli default 85 each).
    pub watched_percent: WatchedPercent,
    /// The Tautulli host's UTC offset in minutes: `before`/`after`/`start_date` and the graph
    /// days and hours are local. Ignored when `tz_name` is set.
    pub tz_offset_minutes: i32,
    /// The Tautulli host's IANA time zone (`Europe/Berlin`): local time with its DST rules,
    /// for tests of sessions around a DST change. Wins over `tz_offset_minutes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tz_name: Option<String>,
    /// The server's clock (epoch seconds) for every time-window command (graphs, item watch
    /// stats). `None`: real time. `FakeServer::set_now` changes it at run time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now: Option<i64>,
    /// Plex is reachable behind Tautulli. `false`: commands that need Plex fail the way the
    /// real server does (`get_collections_table` HTTP 500, `get_metadata` and
    /// `get_children_metadata` empty answers).
    #[serde(skip_serializing_if = "is_true")]
    pub plex_online: bool,
    /// `tautulli_version` in `get_tautulli_info`.
    pub tautulli_version: String,
    /// The Plex server identifier shown as `server_id`.
    pub pms_identifier: String,
    pub quirks: Quirks,
}

impl ServerSettings {
    /// The host's time zone (`tz_name` wins over `tz_offset_minutes`; the name is validated
    /// when the scenario loads).
    pub(crate) fn zone(&self) -> Zone {
        self.tz_name
            .as_deref()
            .and_then(|n| Zone::named(n).ok())
            .unwrap_or(Zone::Fixed(i64::from(self.tz_offset_minutes) * 60))
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            grouping: true,
            include_activity: true,
            watched_percent: WatchedPercent::default(),
            tz_offset_minutes: 0,
            tz_name: None,
            now: None,
            plex_online: true,
            tautulli_version: "v2.17.2".into(),
            pms_identifier: "synthetic0pms0identifier00000001".into(),
            quirks: Quirks::default(),
        }
    }
}

/// Thresholds (percent) at which Tautulli counts a play as watched.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchedPercent {
    pub movie: f64,
    pub episode: f64,
}

impl Default for WatchedPercent {
    fn default() -> Self {
        WatchedPercent {
            movie: 85.0,
            episode: 85.0,
        }
    }
}

/// Behaviours of older servers or proxies, off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Quirks {
    /// Integer fields of history rows arrive as digit strings (`"rating_key": "201"`).
    pub digit_strings: bool,
    /// `get_settings` is refused (HTTP 400 `Invalid apikey`), as by a proxy that lets only
    /// the history commands through or a key without admin rights.
    #[serde(skip_serializing_if = "is_false")]
    pub settings_refused: bool,
}

/// A Tautulli user (`users` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub user_id: i64,
    pub username: String,
    /// `null` models a user missing from Tautulli's `users` table: history rows then show
    /// `friendly_name: null`. An empty string falls back to the username, as Tautulli does.
    #[serde(default)]
    pub friendly_name: Option<String>,
    #[serde(default)]
    pub thumb: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub is_admin: bool,
}

/// A Plex library section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Library {
    pub section_id: i64,
    pub section_name: String,
    /// `movie` or `show`.
    pub section_type: String,
    pub agent: String,
}

/// A playback device; sessions refer to one by its index in `clients`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub platform: String,
    pub product: String,
    pub player: String,
    pub ip_address: String,
    /// Default `machine-<player>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
    /// `lan` or `wan`; default `lan`.
    #[serde(default = "default_location")]
    pub location: String,
    #[serde(default = "default_true", with = "bool01")]
    pub secure: bool,
    #[serde(default, with = "bool01")]
    pub relayed: bool,
}

impl Default for Client {
    fn default() -> Self {
        Client {
            platform: "Chrome".into(),
            product: "Plex Web".into(),
            player: "Chrome".into(),
            ip_address: "127.0.0.1".into(),
            machine_id: None,
            location: default_location(),
            secure: true,
            relayed: false,
        }
    }
}

impl Client {
    /// `machine_id`, or `machine-<player>` when the scenario leaves it out.
    pub fn machine_id(&self) -> String {
        self.machine_id
            .clone()
            .unwrap_or_else(|| format!("machine-{}", self.player))
    }
}

fn default_location() -> String {
    "lan".into()
}
fn default_true() -> bool {
    true
}

/// Fields every library item level has.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ItemCommon {
    pub rating_key: i64,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<i64>,
    /// The item's own guid as Plex reports it (`plex://movie/..`, legacy agent URIs, `local://`).
    #[serde(default)]
    pub guid: String,
    /// External IDs `get_metadata` reports for this level (`imdb://tt..`, `tmdb://N`, ...).
    /// Ignored (answered as `[]`) when `guid` is not a `plex://` guid, as for legacy agents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guids: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub originally_available_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content_rating: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub original_title: String,
}

/// A movie (or a Live TV programme when `live` is set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Movie {
    #[serde(flatten)]
    pub common: ItemCommon,
    pub section_id: i64,
    /// Runtime in seconds.
    pub duration: i64,
    /// A Live TV recording/programme: every play of it is a Live TV row.
    #[serde(default, skip_serializing_if = "is_false")]
    pub live: bool,
}

/// A show with its seasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Show {
    #[serde(flatten)]
    pub common: ItemCommon,
    pub section_id: i64,
    #[serde(default)]
    pub seasons: Vec<Season>,
}

/// A season; `media_index` (the season number) may be absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Season {
    #[serde(flatten)]
    pub common: ItemCommon,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_index: Option<i64>,
    #[serde(default)]
    pub episodes: Vec<Episode>,
}

/// An episode; `media_index` (the episode number) may be absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    #[serde(flatten)]
    pub common: ItemCommon,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_index: Option<i64>,
    /// Runtime in seconds.
    pub duration: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub live: bool,
}

/// How the stream was delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TranscodeDecision {
    #[default]
    #[serde(rename = "direct play")]
    DirectPlay,
    #[serde(rename = "copy")]
    Copy,
    #[serde(rename = "transcode")]
    Transcode,
}

impl TranscodeDecision {
    /// The name Tautulli writes (`direct play`, `copy`, `transcode`).
    pub fn as_str(self) -> &'static str {
        match self {
            TranscodeDecision::DirectPlay => "direct play",
            TranscodeDecision::Copy => "copy",
            TranscodeDecision::Transcode => "transcode",
        }
    }
}

/// One finished play: a `session_history` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: i64,
    /// Sessions sharing a `reference_id` form one group (Tautulli sets it to the group's
    /// first id). Default: the session's own id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<i64>,
    pub user_id: i64,
    pub rating_key: i64,
    pub started: i64,
    /// 0: no stop time, as rows imported from PlexWatch have (Tautulli's graphs and item
    /// stats leave such a session out of every window of days).
    pub stopped: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub paused_counter: i64,
    /// Where playback stopped, in percent of the runtime (Tautulli: view_offset / duration).
    #[serde(alias = "view_offset_percent")]
    pub percent: f64,
    /// Playback reached the credits marker: Tautulli counts it watched whatever the percent.
    #[serde(default, skip_serializing_if = "is_false")]
    pub credits_watched: bool,
    /// A Live TV play (also implied by a `live` item).
    #[serde(default, skip_serializing_if = "is_false", with = "bool01")]
    pub live: bool,
    #[serde(default)]
    pub transcode_decision: TranscodeDecision,
    /// Index into `clients`.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub client: u32,
}

impl Session {
    /// The group this session belongs to: `reference_id`, or its own id.
    pub fn reference_id(&self) -> i64 {
        self.reference_id.unwrap_or(self.id)
    }
    /// Seconds actually played: Tautulli's `stopped - started - paused_counter`.
    pub fn play_duration(&self) -> i64 {
        if self.stopped > 0 {
            self.stopped - self.started - self.paused_counter
        } else {
            -self.paused_counter
        }
    }
}

/// An in-progress play: a row of Tautulli's `sessions` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivitySession {
    pub session_key: i64,
    pub user_id: i64,
    pub rating_key: i64,
    pub started: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub paused_counter: i64,
    #[serde(alias = "view_offset_percent")]
    pub percent: f64,
    /// Seconds played so far. Default: `percent` of the item's runtime (Tautulli uses
    /// now - started, which a deterministic fake cannot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub play_duration: Option<i64>,
    /// `playing`, `paused` or `buffering`.
    #[serde(default = "default_state")]
    pub state: String,
    #[serde(default, skip_serializing_if = "is_false", with = "bool01")]
    pub live: bool,
    #[serde(default)]
    pub transcode_decision: TranscodeDecision,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub client: u32,
}

/// A Plex collection: a named set of movies or shows of one library. Two libraries may hold
/// collections of the same title; the rating key tells them apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    /// In the same key space as items (Plex collections are metadata items).
    pub rating_key: i64,
    pub title: String,
    pub section_id: i64,
    /// Movies (movie library) or shows (show library) of `section_id`, in Plex's order.
    #[serde(default)]
    pub members: Vec<i64>,
    /// A smart collection (filter-defined in Plex); listed the same way.
    #[serde(default, skip_serializing_if = "is_false")]
    pub smart: bool,
    /// `titleSort`; default the title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_sort: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// Epoch seconds; shown as local ISO date-times (`addedAt`, `updatedAt`), `null` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// Plex's `collectionMode` (-1 library default, 0 hide collection, 1 hide items, 2 show both).
    #[serde(
        default = "default_collection_mode",
        skip_serializing_if = "is_minus_one"
    )]
    pub collection_mode: i64,
    /// Plex's `collectionSort` (0 release date, 1 alphabetical, 2 custom).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub collection_sort: i64,
}

fn default_collection_mode() -> i64 {
    -1
}
fn is_minus_one(v: &i64) -> bool {
    *v == -1
}
fn is_true(b: &bool) -> bool {
    *b
}

fn default_state() -> String {
    "playing".into()
}
fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(v: &i64) -> bool {
    *v == 0
}
fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

/// Booleans written as Tautulli's 0/1, read from 0/1 or true/false.
mod bool01 {
    use super::*;

    pub fn serialize<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(u8::from(*v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum B {
            Bool(bool),
            Int(i64),
        }
        match B::deserialize(d)? {
            B::Bool(b) => Ok(b),
            B::Int(0) => Ok(false),
            B::Int(1) => Ok(true),
            B::Int(n) => Err(de::Error::custom(format!("expected 0 or 1, found {n}"))),
        }
    }
}

/// Why a scenario cannot be used, and what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("scenario is not valid JSON for the scenario format (see fixtures/scenarios/README.md): {0}")]
    Json(#[from] serde_json::Error),
    #[error("api_key must be 32 characters like Tautulli's, found {len}")]
    ApiKeyLength { len: usize },
    #[error("rating_key {rating_key} is used by two items: give each item its own key")]
    DuplicateRatingKey { rating_key: i64 },
    #[error("user_id {user_id} is listed twice in users")]
    DuplicateUser { user_id: i64 },
    #[error("section_id {section_id} is listed twice in libraries")]
    DuplicateSection { section_id: i64 },
    #[error("item {rating_key} names section_id {section_id}, which is not in libraries")]
    UnknownSection { rating_key: i64, section_id: i64 },
    #[error("session id {id} is used twice: session ids must be unique")]
    DuplicateSession { id: i64 },
    #[error(
        "session {id} plays rating_key {rating_key}, which is no movie or episode in the scenario"
    )]
    UnknownItem { id: i64, rating_key: i64 },
    #[error("session {id} names user_id {user_id}, which is not in users")]
    UnknownUser { id: i64, user_id: i64 },
    #[error("session {id} names client {client}, but clients has {count} entries")]
    UnknownClient { id: i64, client: u32, count: usize },
    #[error("session {id} ends before it starts (started {started}, stopped {stopped})")]
    NegativeDuration { id: i64, started: i64, stopped: i64 },
    #[error("group {reference_id} mixes users or items (session {id}): Tautulli only groups consecutive plays of one item by one user")]
    MixedGroup { reference_id: i64, id: i64 },
    #[error("reference_id {reference_id} is not the smallest session id of its group (smallest is {smallest}): Tautulli sets it to the group's first row")]
    BadReferenceId { reference_id: i64, smallest: i64 },
    #[error("activity session_key {session_key} is used twice")]
    DuplicateActivity { session_key: i64 },
    #[error("collection {rating_key} names section_id {section_id}, which is no movie, show or artist library of the scenario: Plex keeps collections only there")]
    CollectionSection { rating_key: i64, section_id: i64 },
    #[error("collection {rating_key} lists member {member}, which is no movie or show of its library {section_id}: list movies or shows of the collection's own library, once each")]
    CollectionMember {
        rating_key: i64,
        member: i64,
        section_id: i64,
    },
    #[error("server.tz_name {name:?} is not an IANA time zone (e.g. \"Europe/Berlin\"): {reason}")]
    TimeZone { name: String, reason: String },
}

impl Scenario {
    /// Parses and validates a scenario (references between sessions, items, users, clients).
    pub fn from_json(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = serde_json::from_str(text)?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Reads and validates a scenario file.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Scenario::from_json(&text)
    }

    /// The demo library shipped with the crate (`fixtures/scenarios/demo.json`).
    pub fn demo() -> Scenario {
        Scenario::from_json(include_str!("../../fixtures/scenarios/demo.json"))
            .expect("the embedded demo scenario is valid")
    }

    /// The scenario reproducing the real Tautulli 2.17.2 reference answers.
    pub fn reference() -> Scenario {
        Scenario::from_json(include_str!("../../fixtures/scenarios/reference.json"))
            .expect("the embedded reference scenario is valid")
    }

    /// Checks every cross-reference so a broken scenario fails at load, not mid-test.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let len = self.api_key.expose().chars().count();
        if len != 32 {
            return Err(ScenarioError::ApiKeyLength { len });
        }
        let mut users = HashSet::new();
        for u in &self.users {
            if !users.insert(u.user_id) {
                return Err(ScenarioError::DuplicateUser { user_id: u.user_id });
            }
        }
        let mut sections = HashSet::new();
        for l in &self.libraries {
            if !sections.insert(l.section_id) {
                return Err(ScenarioError::DuplicateSection {
                    section_id: l.section_id,
                });
            }
        }
        let mut keys = HashSet::new();
        let mut playable = HashSet::new();
        let mut add_key = |rk: i64| {
            if keys.insert(rk) {
                Ok(())
            } else {
                Err(ScenarioError::DuplicateRatingKey { rating_key: rk })
            }
        };
        for m in &self.movies {
            add_key(m.common.rating_key)?;
            playable.insert(m.common.rating_key);
            check_section(&sections, m.common.rating_key, m.section_id)?;
        }
        for s in &self.shows {
            add_key(s.common.rating_key)?;
            check_section(&sections, s.common.rating_key, s.section_id)?;
            for season in &s.seasons {
                add_key(season.common.rating_key)?;
                for e in &season.episodes {
                    add_key(e.common.rating_key)?;
                    playable.insert(e.common.rating_key);
                }
            }
        }
        let client_count = self.clients.len().max(1);
        let check_play = |id: i64, user_id: i64, rating_key: i64, client: u32| {
            if !users.contains(&user_id) {
                return Err(ScenarioError::UnknownUser { id, user_id });
            }
            if !playable.contains(&rating_key) {
                return Err(ScenarioError::UnknownItem { id, rating_key });
            }
            if client as usize >= client_count {
                return Err(ScenarioError::UnknownClient {
                    id,
                    client,
                    count: self.clients.len(),
                });
            }
            Ok(())
        };
        let mut ids = HashSet::new();
        // reference_id -> (user, item, smallest id)
        let mut groups: HashMap<i64, (i64, i64, i64)> = HashMap::new();
        for s in &self.sessions {
            if !ids.insert(s.id) {
                return Err(ScenarioError::DuplicateSession { id: s.id });
            }
            check_play(s.id, s.user_id, s.rating_key, s.client)?;
            if s.stopped != 0 && s.stopped < s.started {
                return Err(ScenarioError::NegativeDuration {
                    id: s.id,
                    started: s.started,
                    stopped: s.stopped,
                });
            }
            let g = groups
                .entry(s.reference_id())
                .or_insert((s.user_id, s.rating_key, s.id));
            if (g.0, g.1) != (s.user_id, s.rating_key) {
                return Err(ScenarioError::MixedGroup {
                    reference_id: s.reference_id(),
                    id: s.id,
                });
            }
            g.2 = g.2.min(s.id);
        }
        for (reference_id, (_, _, smallest)) in groups {
            if reference_id != smallest {
                return Err(ScenarioError::BadReferenceId {
                    reference_id,
                    smallest,
                });
            }
        }
        self.validate_collections(&mut keys)?;
        if let Some(name) = &self.server.tz_name {
            Zone::named(name).map_err(|reason| ScenarioError::TimeZone {
                name: name.clone(),
                reason,
            })?;
        }
        let mut keys = HashSet::new();
        for a in &self.activity {
            if !keys.insert(a.session_key) {
                return Err(ScenarioError::DuplicateActivity {
                    session_key: a.session_key,
                });
            }
            check_play(a.session_key, a.user_id, a.rating_key, a.client)?;
        }
        Ok(())
    }

    /// Collections: keys unique among all rating keys, in a movie/show/artist library, members
    /// movies or shows (not Live TV) of that library, each once.
    fn validate_collections(&self, keys: &mut HashSet<i64>) -> Result<(), ScenarioError> {
        let mut member_section: HashMap<i64, i64> = HashMap::new();
        for m in self.movies.iter().filter(|m| !m.live) {
            member_section.insert(m.common.rating_key, m.section_id);
        }
        for s in &self.shows {
            member_section.insert(s.common.rating_key, s.section_id);
        }
        for c in &self.collections {
            if !keys.insert(c.rating_key) {
                return Err(ScenarioError::DuplicateRatingKey {
                    rating_key: c.rating_key,
                });
            }
            let library_ok = self.libraries.iter().any(|l| {
                l.section_id == c.section_id
                    && matches!(l.section_type.as_str(), "movie" | "show" | "artist")
            });
            if !library_ok {
                return Err(ScenarioError::CollectionSection {
                    rating_key: c.rating_key,
                    section_id: c.section_id,
                });
            }
            let mut seen = HashSet::new();
            for &member in &c.members {
                if member_section.get(&member) != Some(&c.section_id) || !seen.insert(member) {
                    return Err(ScenarioError::CollectionMember {
                        rating_key: c.rating_key,
                        member,
                        section_id: c.section_id,
                    });
                }
            }
        }
        Ok(())
    }

    /// Pretty JSON in the scenario file format.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a scenario always serialises")
    }
}

fn check_section(
    sections: &HashSet<i64>,
    rating_key: i64,
    section_id: i64,
) -> Result<(), ScenarioError> {
    if sections.contains(&section_id) {
        Ok(())
    } else {
        Err(ScenarioError::UnknownSection {
            rating_key,
            section_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "api_key": "0123456789abcdef0123456789abcdef",
            "users": [{"user_id": 1, "username": "a", "friendly_name": "A"}],
            "libraries": [{"section_id": 1, "section_name": "Movies", "section_type": "movie", "agent": "tv.plex.agents.movie"}],
            "movies": [{"rating_key": 10, "title": "M", "guid": "plex://movie/1", "section_id": 1, "duration": 100}],
            "sessions": [
                {"id": 1, "user_id": 1, "rating_key": 10, "started": 100, "stopped": 150, "percent": 50},
                {"id": 2, "reference_id": 1, "user_id": 1, "rating_key": 10, "started": 200, "stopped": 260, "percent": 100}
            ]
        })
    }

    fn parse(v: &serde_json::Value) -> Result<Scenario, ScenarioError> {
        Scenario::from_json(&v.to_string())
    }

    #[test]
    fn minimal_scenario_loads_with_defaults() {
        let s = parse(&minimal()).unwrap();
        assert!(s.server.grouping);
        assert_eq!(s.server.watched_percent.movie, 85.0);
        assert_eq!(s.sessions[1].reference_id(), 1);
        assert_eq!(
            s.sessions[0].transcode_decision,
            TranscodeDecision::DirectPlay
        );
    }

    #[test]
    fn broken_references_are_rejected() {
        let mut v = minimal();
        v["sessions"][0]["rating_key"] = 99.into();
        assert!(matches!(
            parse(&v),
            Err(ScenarioError::UnknownItem {
                id: 1,
                rating_key: 99
            })
        ));
        let mut v = minimal();
        v["sessions"][0]["user_id"] = 7.into();
        assert!(matches!(parse(&v), Err(ScenarioError::UnknownUser { .. })));
        let mut v = minimal();
        v["sessions"][1]["reference_id"] = 2.into();
        v["sessions"][0]["reference_id"] = 2.into();
        assert!(matches!(
            parse(&v),
            Err(ScenarioError::BadReferenceId {
                reference_id: 2,
                smallest: 1
            })
        ));
        let mut v = minimal();
        v["sessions"][1]["client"] = 3.into();
        assert!(matches!(
            parse(&v),
            Err(ScenarioError::UnknownClient { .. })
        ));
        let mut v = minimal();
        v["sessions"][0]["stopped"] = 5.into();
        assert!(matches!(
            parse(&v),
            Err(ScenarioError::NegativeDuration { id: 1, .. })
        ));
        // No stop time at all (0), as an import writes it: a valid row.
        let mut v = minimal();
        v["sessions"][0]["stopped"] = 0.into();
        assert_eq!(parse(&v).unwrap().sessions[0].stopped, 0);
        let mut v = minimal();
        v["api_key"] = "short".into();
        assert!(matches!(
            parse(&v),
            Err(ScenarioError::ApiKeyLength { len: 5 })
        ));
    }

    #[test]
    fn api_key_is_redacted_in_debug() {
        let s = parse(&minimal()).unwrap();
        let text = format!("{s:?}");
        assert!(!text.contains("0123456789abcdef"), "{text}");
    }

    #[test]
    fn round_trips_through_json() {
        let s = parse(&minimal()).unwrap();
        let again = Scenario::from_json(&s.to_json_pretty()).unwrap();
        assert_eq!(again.sessions, s.sessions);
        assert_eq!(again.movies, s.movies);
    }

    #[test]
    fn embedded_scenarios_load() {
        assert!(Scenario::demo().sessions.len() >= 200);
        assert_eq!(Scenario::reference().sessions.len(), 10);
    }
}
