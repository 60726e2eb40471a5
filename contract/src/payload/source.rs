//! What a source provider says about itself (manifest, features, capabilities, health) and
//! what its writes answer. Fields are declared in sorted order: see the module root.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Which of the engine's features a provider offers (`features()`, and inside the manifest
/// and the health answer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Features {
    pub history: bool,
    pub playlists: bool,
    pub ratings: bool,
    pub watchlist: bool,
}

/// What the engine may expect of a provider (`capabilities()`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    pub bidirectional: bool,
    pub can_source: bool,
    pub can_target: bool,
    /// What a *complete* read offers (`present` or `delta`); every index report restates it
    /// for its own read.
    pub index_semantics: String,
    /// Whether a key missing from an index means the item was deleted.
    pub observed_deletes: bool,
    pub provides_ids: bool,
    pub read_only: bool,
    /// Every play is its own entry (rewatch mode) when the config asks for it.
    pub rewatches: bool,
}

/// The plugin manifest (root module `manifest` and `SourceProvider::manifest`), available
/// without a config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    pub bidirectional: bool,
    pub capabilities: Capabilities,
    pub description: String,
    pub features: Features,
    pub label: String,
    /// The upper-case provider id (`TAUTULLI`).
    pub name: String,
    /// Config keys the provider needs before it can open.
    pub requires: Vec<String>,
    /// The engine's module type (`sync`).
    #[serde(rename = "type")]
    pub kind: String,
    pub version: String,
}

/// `SourceProvider::health`: whether the service answers, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Health {
    /// Free-form facts for people (server URL, service version, the error and its code):
    /// provider-specific, so shown as `key: value` lines rather than read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<Features>,
    pub latency_ms: u64,
    pub ok: bool,
    /// `ok`, `auth_failed` (the engine skips the pair), `down` (unreachable: the engine
    /// skips writes to it), `config` (something answers at the configured address, but not
    /// the service's API: fix the config) or `degraded` (it answers, but not as it should).
    pub status: String,
    /// Problems with the config that did not stop it (an unknown key, with the known one it
    /// probably meant), one line each, for people. Absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The engine's write result map (`add`/`remove`). A read-only source never answers one:
/// it refuses with a `read_only` error instead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WriteResult {
    /// Keys the service confirmed written.
    pub confirmed_keys: Vec<String>,
    pub count: u64,
    pub ok: bool,
    /// Items the service could not place; the engine blocks a key unresolved three runs in a row.
    pub unresolved: Vec<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{decode, PayloadError};
    use serde_json::json;

    /// The declared order is the sorted order, so typed payloads encode as the `Value`s
    /// plugins used to build (`serde_json` sorts object keys).
    fn encodes_sorted<T: Serialize>(v: &T) {
        let direct = serde_json::to_string(v).unwrap();
        let sorted = serde_json::to_value(v).unwrap().to_string();
        assert_eq!(direct, sorted);
    }

    #[test]
    fn source_payloads_encode_with_sorted_keys() {
        let features = Features {
            history: true,
            ..Features::default()
        };
        let manifest = Manifest {
            features,
            capabilities: Capabilities::default(),
            requires: vec!["x".into()],
            ..Manifest::default()
        };
        encodes_sorted(&manifest);
        encodes_sorted(&Health {
            details: Some(Map::from_iter([
                ("b".into(), json!(1)),
                ("a".into(), json!(2)),
            ])),
            features: Some(features),
            ..Health::default()
        });
        encodes_sorted(&WriteResult::default());
    }

    #[test]
    fn the_manifest_type_field_is_kind() {
        let m: Manifest = decode(r#"{"type": "sync", "name": "X", "future": {}}"#).unwrap();
        assert_eq!((m.kind.as_str(), m.name.as_str()), ("sync", "X"));
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains(r#""type":"sync""#), "{text}");
    }

    #[test]
    fn a_health_answer_with_a_wrong_type_is_refused() {
        let e = decode::<Health>(r#"{"ok": "yes", "status": "ok"}"#).unwrap_err();
        assert!(
            matches!(e, PayloadError::Field { ref field, .. } if field == "ok"),
            "{e}"
        );
    }
}
