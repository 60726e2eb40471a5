//! The `analytics` block of the engine config, checked key by key like the `tautulli` block:
//! every wrong value is reported with its exact key path, what was found and what is expected.
//!
//! The block is top-level (not inside `tautulli`) because it describes the local store and the
//! user's collections, not a connection; the connection comes from the `tautulli` block.

use std::collections::HashSet;
use std::path::PathBuf;

use jiff::tz::TimeZone;
use serde_json::{Map, Value};

use crate::config::{describe, integer, invalid, is_blank, unknown_keys};
use crate::error::Result;

/// The default snapshot windows: 1, 7 and 30 days and all time (0).
pub const DEFAULT_WINDOWS: [u32; 4] = [1, 7, 30, 0];
/// Longest window (and retention age) accepted: 100 years.
pub const MAX_DAYS: u32 = 36_500;

/// Which library a config collection lives in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LibraryRef {
    /// A Plex section id.
    Id(i64),
    /// A library (section) name, resolved through `get_library_names`.
    Name(String),
}

impl std::fmt::Display for LibraryRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LibraryRef::Id(id) => write!(f, "section {id}"),
            LibraryRef::Name(n) => write!(f, "\"{n}\""),
        }
    }
}

/// One `analytics.collections[i]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionDef {
    pub name: String,
    pub library: LibraryRef,
    /// The collection's own Plex rating key: with the library, its identity.
    pub rating_key: i64,
    /// Member rating keys (movies, shows, seasons or episodes), in config order, no repeats.
    pub members: Vec<i64>,
}

/// `analytics.retention`: how many snapshots are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Snapshots older than this many days are deleted; 0 = no age limit.
    pub max_age_days: u32,
    /// Only the newest this many collection runs are kept per collection; 0 = no limit.
    pub max_per_collection: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_age_days: 365,
            max_per_collection: 1000,
        }
    }
}

/// The checked `analytics` block.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticsConfig {
    /// Folder holding `analytics.sqlite`; required to open the store (the host injects a
    /// default).
    pub data_dir: Option<PathBuf>,
    /// IANA name of the time zone charts use by default.
    pub timezone: String,
    /// `timezone`, loaded.
    pub tz: TimeZone,
    /// Snapshot windows in days (0 = all time), ascending with 0 last, no repeats.
    pub windows: Vec<u32>,
    pub collections: Vec<CollectionDef>,
    /// Discover collections through Tautulli (needs Plex behind it).
    pub discover: bool,
    pub retention: Retention,
    /// A re-sync re-reads this many hours below the newest session it holds, for sessions
    /// written late (long plays) or still being grouped.
    pub sync_overlap_hours: u32,
    /// `analytics.grouping`: count sessions sharing a `reference_id` as one viewing in the
    /// charts and snapshots. `None` (not set): Tautulli's own `group_history_tables`, read
    /// at each sync (on when the server does not tell; see the `grouping` module).
    pub grouping: Option<bool>,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            data_dir: None,
            timezone: "UTC".to_string(),
            tz: TimeZone::UTC,
            windows: DEFAULT_WINDOWS.to_vec(),
            collections: Vec::new(),
            discover: true,
            retention: Retention::default(),
            sync_overlap_hours: 24,
            grouping: None,
        }
    }
}

/// Keys of the `analytics` block, of `analytics.retention` and of a collection.
const BLOCK_KEYS: &[&str] = &[
    "collections",
    "data_dir",
    "discover",
    "retention",
    "sync_overlap_hours",
    "timezone",
    "windows",
];
const RETENTION_KEYS: &[&str] = &["max_age_days", "max_per_collection"];
const COLLECTION_KEYS: &[&str] = &["library", "members", "name", "rating_key"];

/// One warning per unknown key of the `analytics` block (`did you mean windows?`): a
/// misspelled optional key would otherwise leave its setting at the default without a word.
pub fn config_warnings(cfg: &Value) -> Vec<String> {
    let Some(Value::Object(block)) = cfg.get("analytics") else {
        return Vec::new();
    };
    let mut out = unknown_keys(block, "analytics", BLOCK_KEYS);
    if let Some(Value::Object(r)) = block.get("retention") {
        out.extend(unknown_keys(r, "analytics.retention", RETENTION_KEYS));
    }
    if let Some(Value::Array(list)) = block.get("collections") {
        for (i, c) in list.iter().enumerate() {
            if let Value::Object(c) = c {
                let prefix = format!("analytics.collections[{i}]");
                out.extend(unknown_keys(c, &prefix, COLLECTION_KEYS));
            }
        }
    }
    out
}

impl AnalyticsConfig {
    /// Reads the top-level `analytics` block of the engine's whole config; a missing block
    /// gives the defaults (no `data_dir`, so no store).
    pub fn from_engine_config(cfg: &Value) -> Result<AnalyticsConfig> {
        let block = match cfg.get("analytics") {
            None | Some(Value::Null) => return Ok(AnalyticsConfig::default()),
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Err(invalid(
                    "analytics",
                    format!("found {}, expected an object", describe(other)),
                ))
            }
        };
        let d = AnalyticsConfig::default();

        let data_dir = match block.get("data_dir") {
            None => None,
            Some(v) if is_blank(v) => None,
            Some(Value::String(s)) => Some(PathBuf::from(s.trim())),
            Some(other) => {
                return Err(invalid(
                    "analytics.data_dir",
                    format!(
                        "found {}, expected the path of a folder for analytics.sqlite",
                        describe(other)
                    ),
                ))
            }
        };

        let (timezone, tz) = match block.get("timezone") {
            None => (d.timezone, d.tz),
            Some(v) if is_blank(v) => (d.timezone, d.tz),
            Some(Value::String(s)) => {
                let name = s.trim();
                let tz = load_time_zone(name).map_err(|r| invalid("analytics.timezone", r))?;
                (tz.iana_name().unwrap_or(name).to_string(), tz)
            }
            Some(other) => {
                return Err(invalid(
                    "analytics.timezone",
                    format!(
                        "found {}, expected an IANA time zone name such as \"Europe/Paris\"",
                        describe(other)
                    ),
                ))
            }
        };

        let windows = match block.get("windows") {
            None => d.windows,
            Some(v) if is_blank(v) => d.windows,
            Some(Value::Array(items)) => windows(items)?,
            Some(other) => {
                return Err(invalid(
                    "analytics.windows",
                    format!(
                        "found {}, expected a list of days such as [1, 7, 30, 0] (0 = all time)",
                        describe(other)
                    ),
                ))
            }
        };

        let collections = match block.get("collections") {
            None => Vec::new(),
            Some(v) if is_blank(v) => Vec::new(),
            Some(Value::Array(items)) => collections(items)?,
            Some(other) => {
                return Err(invalid(
                    "analytics.collections",
                    format!(
                        "found {}, expected a list of {{name, library, rating_key, members}}",
                        describe(other)
                    ),
                ))
            }
        };

        let discover = boolean(
            block,
            "discover",
            "analytics.discover",
            collections.is_empty(),
        )?;

        let retention = match block.get("retention") {
            None => d.retention,
            Some(v) if is_blank(v) => d.retention,
            Some(Value::Object(m)) => Retention {
                max_age_days: int(
                    m,
                    "max_age_days",
                    "analytics.retention.max_age_days",
                    d.retention.max_age_days.into(),
                    0,
                    MAX_DAYS.into(),
                )? as u32,
                max_per_collection: int(
                    m,
                    "max_per_collection",
                    "analytics.retention.max_per_collection",
                    d.retention.max_per_collection.into(),
                    0,
                    10_000_000,
                )? as u32,
            },
            Some(other) => {
                return Err(invalid(
                    "analytics.retention",
                    format!(
                        "found {}, expected an object {{max_age_days, max_per_collection}}",
                        describe(other)
                    ),
                ))
            }
        };

        let sync_overlap_hours = int(
            block,
            "sync_overlap_hours",
            "analytics.sync_overlap_hours",
            d.sync_overlap_hours.into(),
            0,
            24 * 366,
        )? as u32;

        let grouping = match block.get("grouping") {
            None => None,
            Some(v) if is_blank(v) => None,
            Some(_) => Some(boolean(block, "grouping", "analytics.grouping", true)?),
        };

        Ok(AnalyticsConfig {
            data_dir,
            timezone,
            tz,
            windows,
            collections,
            discover,
            retention,
            sync_overlap_hours,
            grouping,
        })
    }

    /// The store folder, or a config error saying what to set.
    pub fn require_data_dir(&self) -> Result<&std::path::Path> {
        self.data_dir.as_deref().ok_or_else(|| {
            invalid(
                "analytics.data_dir",
                "missing; set it to a folder where the plugin may keep its history copy \
                 (analytics.sqlite)",
            )
        })
    }
}

/// Loads an IANA time zone by name; the error says what was wrong, for the caller's key.
pub fn load_time_zone(name: &str) -> std::result::Result<TimeZone, String> {
    if name.is_empty() {
        return Err("empty; expected an IANA time zone name such as \"Europe/Paris\"".into());
    }
    TimeZone::get(name).map_err(|_| {
        format!(
            "\"{name}\" is not a known IANA time zone; use a name such as \"Europe/Paris\", \
             \"America/New_York\" or \"UTC\""
        )
    })
}

fn windows(items: &[Value]) -> Result<Vec<u32>> {
    if items.is_empty() {
        return Err(invalid(
            "analytics.windows",
            "empty; list at least one window in days (0 = all time), e.g. [1, 7, 30, 0]",
        ));
    }
    let mut out: Vec<u32> = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        match integer(v) {
            Some(n) if (0..=i64::from(MAX_DAYS)).contains(&n) => {
                let n = n as u32;
                if !out.contains(&n) {
                    out.push(n);
                }
            }
            _ => {
                return Err(invalid(
                    &format!("analytics.windows[{i}]"),
                    format!(
                        "found {}, expected a whole number of days from 0 (all time) to {MAX_DAYS}",
                        describe(v)
                    ),
                ))
            }
        }
    }
    // Ascending, all time last: the order every report shows.
    out.sort_by_key(|&d| if d == 0 { u32::MAX } else { d });
    Ok(out)
}

fn collections(items: &[Value]) -> Result<Vec<CollectionDef>> {
    let mut out: Vec<CollectionDef> = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        let key = format!("analytics.collections[{i}]");
        let Value::Object(m) = v else {
            return Err(invalid(
                &key,
                format!(
                    "found {}, expected an object {{name, library, rating_key, members}}",
                    describe(v)
                ),
            ));
        };
        let name = match m.get("name") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            None | Some(Value::Null) | Some(Value::String(_)) => {
                return Err(invalid(
                    &format!("{key}.name"),
                    "missing; give the collection's name",
                ))
            }
            Some(other) => {
                return Err(invalid(
                    &format!("{key}.name"),
                    format!("found {}, expected a string", describe(other)),
                ))
            }
        };
        let library = match m.get("library") {
            Some(Value::String(s)) if !s.trim().is_empty() => LibraryRef::Name(s.trim().into()),
            Some(v @ Value::Number(_)) => match integer(v) {
                Some(n) if n >= 0 => LibraryRef::Id(n),
                _ => {
                    return Err(invalid(
                        &format!("{key}.library"),
                        format!(
                            "found {}, expected a section id (a whole number)",
                            describe(v)
                        ),
                    ))
                }
            },
            None | Some(Value::Null) | Some(Value::String(_)) => {
                return Err(invalid(
                    &format!("{key}.library"),
                    "missing; give the library's name (e.g. \"Movies\") or its section id \
                     (e.g. 1): two libraries may hold collections of the same name",
                ))
            }
            Some(other) => {
                return Err(invalid(
                    &format!("{key}.library"),
                    format!(
                        "found {}, expected a library name or a section id",
                        describe(other)
                    ),
                ))
            }
        };
        let rating_key = match m.get("rating_key").map(|v| (v, integer(v))) {
            Some((_, Some(n))) if n > 0 => n,
            None | Some((Value::Null, _)) => {
                return Err(invalid(
                    &format!("{key}.rating_key"),
                    "missing; give the collection's Plex rating key (the number in its Plex \
                     URL, `.../metadata/<rating key>`)",
                ))
            }
            Some((v, _)) => {
                return Err(invalid(
                    &format!("{key}.rating_key"),
                    format!("found {}, expected a positive whole number", describe(v)),
                ))
            }
        };
        let members = match m.get("members") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => {
                let mut members: Vec<i64> = Vec::with_capacity(list.len());
                for (j, mv) in list.iter().enumerate() {
                    match integer(mv) {
                        Some(n) if n > 0 => {
                            if !members.contains(&n) {
                                members.push(n);
                            }
                        }
                        _ => {
                            return Err(invalid(
                                &format!("{key}.members[{j}]"),
                                format!(
                                    "found {}, expected a rating key (a positive whole number)",
                                    describe(mv)
                                ),
                            ))
                        }
                    }
                }
                members
            }
            Some(other) => {
                return Err(invalid(
                    &format!("{key}.members"),
                    format!(
                        "found {}, expected a list of member rating keys",
                        describe(other)
                    ),
                ))
            }
        };
        if let Some(j) = out
            .iter()
            .position(|c| c.library == library && c.rating_key == rating_key)
        {
            return Err(invalid(
                &key,
                format!(
                    "the same collection (library {library}, rating key {rating_key}) is \
                     already defined at analytics.collections[{j}]"
                ),
            ));
        }
        out.push(CollectionDef {
            name,
            library,
            rating_key,
            members,
        });
    }
    // Names may repeat across libraries, never within one library ref.
    let mut seen = HashSet::new();
    for (i, c) in out.iter().enumerate() {
        if !seen.insert((c.library.clone(), c.name.to_lowercase())) {
            return Err(invalid(
                &format!("analytics.collections[{i}].name"),
                format!(
                    "\"{}\" is defined twice in library {}: give each collection of a \
                     library its own name",
                    c.name, c.library
                ),
            ));
        }
    }
    Ok(out)
}

fn boolean(m: &Map<String, Value>, name: &str, key: &str, default: bool) -> Result<bool> {
    match m.get(name) {
        None => Ok(default),
        Some(v) if is_blank(v) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(invalid(
            key,
            format!("found {}, expected true or false", describe(other)),
        )),
    }
}

fn int(
    m: &Map<String, Value>,
    name: &str,
    key: &str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64> {
    match m.get(name) {
        None => Ok(default),
        Some(v) if is_blank(v) => Ok(default),
        Some(v) => match integer(v) {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(invalid(
                key,
                format!(
                    "found {}, expected a whole number from {min} to {max}",
                    describe(v)
                ),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use serde_json::json;

    fn parse(block: Value) -> Result<AnalyticsConfig> {
        AnalyticsConfig::from_engine_config(&json!({ "analytics": block }))
    }

    fn key_of(e: Error) -> String {
        match e {
            Error::ConfigInvalid { key, .. } => key,
            other => panic!("expected ConfigInvalid, got {other:?}"),
        }
    }

    #[test]
    fn a_missing_block_gives_the_defaults() {
        let c = AnalyticsConfig::from_engine_config(&json!({"tautulli": {}})).unwrap();
        assert_eq!(c, AnalyticsConfig::default());
        assert_eq!(c.windows, [1, 7, 30, 0]);
        assert!(c.discover, "nothing configured: discover");
        assert_eq!(c.retention.max_age_days, 365);
        assert_eq!(c.retention.max_per_collection, 1000);
        assert_eq!(c.sync_overlap_hours, 24);
        assert_eq!(c.timezone, "UTC");
        assert_eq!(
            key_of(c.require_data_dir().unwrap_err()),
            "analytics.data_dir"
        );
    }

    #[test]
    fn a_full_block_is_read() {
        let c = parse(json!({
            "data_dir": " /tmp/x ",
            "timezone": "europe/paris",
            "windows": [30, "7", 0, 7],
            "collections": [
                {"name": "Favourites", "library": "Movies", "rating_key": "5001", "members": [101, "104", 101]},
                {"name": "Favourites", "library": 2, "rating_key": 6001, "members": [199]}
            ],
            "retention": {"max_age_days": 90, "max_per_collection": ""},
            "sync_overlap_hours": 6
        }))
        .unwrap();
        assert_eq!(c.data_dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(c.timezone, "Europe/Paris", "the canonical name");
        assert_eq!(c.tz, TimeZone::get("Europe/Paris").unwrap());
        assert_eq!(
            c.windows,
            [7, 30, 0],
            "deduplicated, ascending, all time last"
        );
        assert_eq!(c.collections.len(), 2);
        assert_eq!(c.collections[0].library, LibraryRef::Name("Movies".into()));
        assert_eq!(c.collections[0].rating_key, 5001);
        assert_eq!(c.collections[0].members, [101, 104]);
        assert_eq!(c.collections[1].library, LibraryRef::Id(2));
        assert!(
            !c.discover,
            "collections configured: no discovery unless asked"
        );
        assert_eq!(c.retention.max_age_days, 90);
        assert_eq!(c.retention.max_per_collection, 1000);
        assert_eq!(c.sync_overlap_hours, 6);
    }

    #[test]
    fn discover_can_be_forced_either_way() {
        assert!(!parse(json!({"discover": false})).unwrap().discover);
        let c = parse(json!({"discover": "true", "collections": [
            {"name": "A", "library": 1, "rating_key": 1, "members": []}]}))
        .unwrap();
        assert!(c.discover);
    }

    #[test]
    fn grouping_is_the_servers_unless_set() {
        assert_eq!(parse(json!({})).unwrap().grouping, None);
        assert_eq!(
            parse(json!({"grouping": false})).unwrap().grouping,
            Some(false)
        );
        assert_eq!(
            parse(json!({"grouping": "TRUE"})).unwrap().grouping,
            Some(true)
        );
        assert_eq!(
            key_of(parse(json!({"grouping": 2})).unwrap_err()),
            "analytics.grouping"
        );
    }

    #[test]
    fn errors_name_the_exact_key() {
        let cases = [
            (json!({"timezone": "Mars/Olympus"}), "analytics.timezone"),
            (json!({"timezone": 3}), "analytics.timezone"),
            (json!({"windows": []}), "analytics.windows"),
            (json!({"windows": [1, -7]}), "analytics.windows[1]"),
            (json!({"windows": [1.5]}), "analytics.windows[0]"),
            (json!({"windows": "7"}), "analytics.windows"),
            (json!({"collections": {}}), "analytics.collections"),
            (json!({"collections": [3]}), "analytics.collections[0]"),
            (
                json!({"collections": [{"library": 1, "rating_key": 1}]}),
                "analytics.collections[0].name",
            ),
            (
                json!({"collections": [{"name": "A", "rating_key": 1}]}),
                "analytics.collections[0].library",
            ),
            (
                json!({"collections": [{"name": "A", "library": true, "rating_key": 1}]}),
                "analytics.collections[0].library",
            ),
            (
                json!({"collections": [{"name": "A", "library": 1}]}),
                "analytics.collections[0].rating_key",
            ),
            (
                json!({"collections": [{"name": "A", "library": 1, "rating_key": "x"}]}),
                "analytics.collections[0].rating_key",
            ),
            (
                json!({"collections": [{"name": "A", "library": 1, "rating_key": 2, "members": [1, "abc"]}]}),
                "analytics.collections[0].members[1]",
            ),
            (
                json!({"collections": [
                    {"name": "A", "library": 1, "rating_key": 2},
                    {"name": "B", "library": 1, "rating_key": 2}]}),
                "analytics.collections[1]",
            ),
            (
                json!({"collections": [
                    {"name": "A", "library": 1, "rating_key": 2},
                    {"name": "a", "library": 1, "rating_key": 3}]}),
                "analytics.collections[1].name",
            ),
            (json!({"discover": "yes"}), "analytics.discover"),
            (json!({"retention": 5}), "analytics.retention"),
            (
                json!({"retention": {"max_age_days": -1}}),
                "analytics.retention.max_age_days",
            ),
            (
                json!({"sync_overlap_hours": "a day"}),
                "analytics.sync_overlap_hours",
            ),
            (json!({"data_dir": 5}), "analytics.data_dir"),
        ];
        for (block, key) in cases {
            let e = parse(block.clone()).unwrap_err();
            let text = e.to_string();
            assert_eq!(key_of(e), key, "{block}: {text}");
        }
        let e = AnalyticsConfig::from_engine_config(&json!({"analytics": []})).unwrap_err();
        assert_eq!(key_of(e), "analytics");
    }

    #[test]
    fn messages_say_what_was_found_and_what_is_expected() {
        let e = parse(json!({"timezone": "Europe/Pariss"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("Europe/Pariss") && e.contains("IANA"), "{e}");
        let e = parse(json!({"windows": [1, 99999]}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("99999") && e.contains("36500"), "{e}");
    }

    #[test]
    fn unknown_keys_are_warned() {
        let cfg = json!({"analytics": {"windws": [7], "retention": {"max_age_day": 3},
            "collections": [{"name": "a", "library": 1, "rating_key": 2, "member": []}]}});
        let w = config_warnings(&cfg).join("\n");
        assert!(
            w.contains("`analytics.windws` (ignored): did you mean windows?"),
            "{w}"
        );
        assert!(
            w.contains("`analytics.retention.max_age_day` (ignored): did you mean max_age_days?"),
            "{w}"
        );
        assert!(
            w.contains("`analytics.collections[0].member` (ignored): did you mean members?"),
            "{w}"
        );
        assert!(config_warnings(&json!({"analytics": {"windows": [1]}})).is_empty());
        assert!(config_warnings(&json!({"tautulli": {"x": 1}})).is_empty());
    }
}
