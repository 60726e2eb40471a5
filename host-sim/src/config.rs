//! The engine config as host-sim reads it: the `tautulli` block (passed whole to the plugin,
//! which validates it), the `crosswatch` block (the Tracker) and the `pairs` to run.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{HostError, Result};
use crate::tracker::Retention;

/// One sync pair, as the engine writes it: `{"source":"TAUTULLI","target":"CROSSWATCH","feature":"history"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub source: String,
    pub target: String,
    pub feature: String,
}

/// The parsed config file. `raw` is what the plugin receives; the host never prints it
/// (it holds the API key).
#[derive(Clone)]
pub struct EngineConfig {
    pub raw: Value,
    pub root_dir: PathBuf,
    pub retention: Retention,
    pub pairs: Vec<Pair>,
    /// Unknown keys in the `crosswatch` block, one line each (`did you mean root_dir?`): a
    /// misspelled `root_dir` would otherwise put the Tracker elsewhere without a word.
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("raw", &"<redacted>")
            .field("root_dir", &self.root_dir)
            .field("retention", &self.retention)
            .field("pairs", &self.pairs)
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl EngineConfig {
    /// Reads and checks a config file; relative `root_dir` is taken from the file's folder.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| HostError::ConfigFile {
            path: path.to_owned(),
            reason: format!("{e} (pass --config FILE; see README \"Configuration reference\")"),
        })?;
        let raw: Value = serde_json::from_str(&text).map_err(|e| HostError::ConfigFile {
            path: path.to_owned(),
            reason: format!("not valid JSON: {e}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_value(raw, base).map_err(|reason| HostError::ConfigFile {
            path: path.to_owned(),
            reason,
        })
    }

    /// Builds a config from JSON; `base` resolves a relative `crosswatch.root_dir`.
    pub fn from_value(raw: Value, base: &Path) -> Result<Self, String> {
        if !raw.is_object() {
            return Err("the config must be a JSON object".into());
        }
        let cw = match raw.get("crosswatch") {
            None | Some(Value::Null) => Value::Object(Default::default()),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(other) => return Err(format!("`crosswatch` must be an object, found {other}")),
        };
        let root_dir = match cw.get("root_dir") {
            None | Some(Value::Null) => base.join("tracker"),
            Some(Value::String(s)) if !s.trim().is_empty() => {
                let p = PathBuf::from(s.trim());
                if p.is_absolute() {
                    p
                } else {
                    base.join(p)
                }
            }
            Some(other) => {
                return Err(format!(
                    "`crosswatch.root_dir` must be a non-empty path string, found {other}"
                ))
            }
        };
        let snaps = cw.get("snapshots").cloned().unwrap_or(Value::Null);
        let retention = Retention {
            max_age_days: uint(
                &snaps,
                "max_age_days",
                "crosswatch.snapshots.max_age_days",
                30,
            )?,
            max_count: uint(&snaps, "max_count", "crosswatch.snapshots.max_count", 64)?.max(1),
        };
        let pairs = match raw.get("pairs") {
            None | Some(Value::Null) => vec![Pair {
                source: "TAUTULLI".into(),
                target: "CROSSWATCH".into(),
                feature: "history".into(),
            }],
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, p)| parse_pair(i, p))
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("`pairs` must be a list, found {other}")),
        };
        let mut warnings = unknown_keys(&cw, "crosswatch", CROSSWATCH_KEYS);
        warnings.extend(unknown_keys(&snaps, "crosswatch.snapshots", SNAPSHOT_KEYS));
        Ok(Self {
            raw,
            root_dir,
            retention,
            pairs,
            warnings,
        })
    }
}

impl EngineConfig {
    /// The config as the plugin receives it: the plugin's own folders default to places
    /// inside the Tracker folder (`tautulli.state_dir` = `<root_dir>/plugin-state` for the
    /// metadata cache, `analytics.data_dir` = `<root_dir>/analytics`) unless the config sets
    /// them. (The incremental checkpoint is the Tracker's own, see `sync`.)
    pub fn plugin_config(&self) -> Value {
        let mut raw = self.raw.clone();
        let defaults = [
            ("tautulli", "state_dir", self.root_dir.join("plugin-state")),
            ("analytics", "data_dir", self.root_dir.join("analytics")),
        ];
        if let Value::Object(root) = &mut raw {
            for (block, key, path) in defaults {
                let b = root
                    .entry(block)
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Value::Object(b) = b {
                    if b.get(key).is_none_or(Value::is_null) {
                        b.insert(key.into(), Value::String(path.display().to_string()));
                    }
                }
            }
        }
        raw
    }
}

fn uint(obj: &Value, key: &str, path: &str, default: u32) -> Result<u32, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("`{path}` must be a whole number >= 0, found {v}")),
    }
}

/// The keys host-sim reads from the `crosswatch` block and from `crosswatch.snapshots`.
const CROSSWATCH_KEYS: &[&str] = &["root_dir", "snapshots"];
const SNAPSHOT_KEYS: &[&str] = &["max_age_days", "max_count"];

/// One warning per key of the object `obj` (at `prefix`) that is not in `known`, naming the
/// closest known key when one is near. Host-private keys (`_cw_*`) are left alone.
fn unknown_keys(obj: &Value, prefix: &str, known: &[&str]) -> Vec<String> {
    let Value::Object(map) = obj else {
        return Vec::new();
    };
    map.keys()
        .filter(|k| !k.starts_with("_cw_") && !known.contains(&k.as_str()))
        .map(|k| match closest(k, known) {
            Some(near) => {
                format!("unknown config key `{prefix}.{k}` (ignored): did you mean {near}?")
            }
            None => format!(
                "unknown config key `{prefix}.{k}` (ignored); host-sim reads {}",
                known.join(", ")
            ),
        })
        .collect()
}

/// The known key nearest to `key` in edits, if near enough to be a typo of it.
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let key = key.to_ascii_lowercase();
    known
        .iter()
        // Optimal string alignment: a swap of neighbours (`root_dri`) is one edit.
        .map(|k| (strsim::osa_distance(&key, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn parse_pair(i: usize, p: &Value) -> Result<Pair, String> {
    let field = |k: &str| -> Result<String, String> {
        match p.get(k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Some(other) => Err(format!(
                "`pairs[{i}].{k}` must be a non-empty string, found {other}"
            )),
            None => Err(format!("`pairs[{i}].{k}` is missing")),
        }
    };
    Ok(Pair {
        source: field("source")?.to_ascii_uppercase(),
        target: field("target")?.to_ascii_uppercase(),
        feature: match p.get("feature") {
            None | Some(Value::Null) => "history".into(),
            _ => field("feature")?.to_ascii_lowercase(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_fill_a_minimal_config() {
        let c = EngineConfig::from_value(json!({"tautulli": {}}), Path::new("/etc/cw")).unwrap();
        assert_eq!(c.root_dir, PathBuf::from("/etc/cw/tracker"));
        assert_eq!((c.retention.max_age_days, c.retention.max_count), (30, 64));
        assert_eq!(c.pairs.len(), 1);
        assert_eq!(c.pairs[0].source, "TAUTULLI");
    }

    #[test]
    fn relative_root_dir_is_taken_from_the_config_folder() {
        let c = EngineConfig::from_value(
            json!({"crosswatch": {"root_dir": "state"}, "pairs": [{"source":"tautulli","target":"crosswatch","feature":"History"}]}),
            Path::new("/srv"),
        )
        .unwrap();
        assert_eq!(c.root_dir, PathBuf::from("/srv/state"));
        assert_eq!(
            c.pairs[0],
            Pair {
                source: "TAUTULLI".into(),
                target: "CROSSWATCH".into(),
                feature: "history".into()
            }
        );
    }

    #[test]
    fn wrong_shapes_name_the_key() {
        let cases = [
            (json!([]), "JSON object"),
            (json!({"crosswatch": 3}), "`crosswatch`"),
            (
                json!({"crosswatch": {"root_dir": ""}}),
                "crosswatch.root_dir",
            ),
            (
                json!({"crosswatch": {"snapshots": {"max_count": -1}}}),
                "max_count",
            ),
            (json!({"pairs": {}}), "`pairs`"),
            (
                json!({"pairs": [{"source": "TAUTULLI"}]}),
                "pairs[0].target",
            ),
        ];
        for (v, want) in cases {
            let e = EngineConfig::from_value(v.clone(), Path::new(".")).unwrap_err();
            assert!(e.contains(want), "{v}: {e}");
        }
    }

    #[test]
    fn plugin_folders_default_inside_the_tracker_folder() {
        let c = EngineConfig::from_value(
            json!({"crosswatch": {"root_dir": "/t"}, "tautulli": {"api_key": "k"}}),
            Path::new("/"),
        )
        .unwrap();
        let p = c.plugin_config();
        assert_eq!(p["tautulli"]["state_dir"], "/t/plugin-state");
        assert_eq!(p["tautulli"]["api_key"], "k");
        assert_eq!(p["analytics"]["data_dir"], "/t/analytics");
        let c = EngineConfig::from_value(
            json!({"tautulli": {"state_dir": "/s"}, "analytics": {"data_dir": "/a"}}),
            Path::new("/"),
        )
        .unwrap();
        let p = c.plugin_config();
        assert_eq!(
            (
                p["tautulli"]["state_dir"].as_str(),
                p["analytics"]["data_dir"].as_str()
            ),
            (Some("/s"), Some("/a"))
        );
    }

    #[test]
    fn debug_never_shows_the_raw_config() {
        let c = EngineConfig::from_value(
            json!({"tautulli": {"api_key": "0123456789abcdef0123456789abcdef"}}),
            Path::new("."),
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn unknown_crosswatch_keys_are_warned() {
        let c = EngineConfig::from_value(
            json!({"crosswatch": {"root_dri": "x", "_cw_private": 1,
                "snapshots": {"max_cont": 3}}, "plex": {"whatever": 1}}),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(
            c.warnings,
            [
                "unknown config key `crosswatch.root_dri` (ignored): did you mean root_dir?",
                "unknown config key `crosswatch.snapshots.max_cont` (ignored): did you mean \
                 max_count?"
            ]
        );
        let c = EngineConfig::from_value(json!({"crosswatch": {"root_dir": "x"}}), Path::new("/"))
            .unwrap();
        assert!(c.warnings.is_empty());
    }
}
