//! The Tautulli source provider: the engine's provider surface in the contract's typed
//! payloads ([`crosswatch_contract::payload`]). The [`ffi`](crate::ffi) module puts it
//! behind the contract; every request it gets as JSON is read by [`request`].

use std::sync::Arc;
use std::time::Instant;

use crosswatch_contract::payload::{self, Capabilities, Features, Health, Manifest};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use crate::config::TautulliConfig;
use crate::error::{Error, Result};
use crate::index::cursor::HistoryCursor;
use crate::index::options::IndexOptions;
use crate::tautulli::client::{Client, Command};
use crate::tautulli::rows::TautulliInfo;

/// Upper-case provider id, as the engine names providers.
pub const NAME: &str = "TAUTULLI";
pub const LABEL: &str = "Tautulli";
/// The only feature this source provides.
pub const HISTORY: &str = "history";

pub fn features() -> Features {
    Features {
        history: true,
        ..Features::default()
    }
}

/// Static capabilities. `index_semantics` is what a *complete* read offers; every index
/// report restates the semantics of that particular read (`delta` when it was cut short).
pub fn capabilities() -> Capabilities {
    Capabilities {
        bidirectional: false,
        provides_ids: true,
        index_semantics: "present".into(),
        can_source: true,
        can_target: false,
        read_only: true,
        observed_deletes: false,
        rewatches: true,
    }
}

pub fn manifest() -> Manifest {
    Manifest {
        name: NAME.into(),
        label: LABEL.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        kind: "sync".into(),
        bidirectional: false,
        features: features(),
        requires: Vec::new(),
        capabilities: capabilities(),
        description: "Read-only import of Plex watch history recorded by Tautulli: completed \
                      plays only, external IDs resolved per show, newest play per item or \
                      every rewatch. Writes are refused."
            .into(),
    }
}

/// Reads a host's request (`what`: `index options`, `chart request`, ...) into its contract
/// type. Empty text is an empty object (no options); a field of the wrong type is a
/// `config_invalid` error naming it (`(chart request).days`), never a silent default.
pub(crate) fn request<T: DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    let text = text.trim();
    let decoded = if text.is_empty() {
        payload::from_value(Value::Object(Map::new()))
    } else {
        payload::decode(text)
    };
    decoded.map_err(|e| Error::ConfigInvalid {
        key: match e.field() {
            Some(field) => format!("({what}).{field}"),
            None => format!("({what})"),
        },
        reason: e.reason(),
    })
}

/// An open Tautulli source: a checked config and an HTTP client.
pub struct TautulliSource {
    cfg: TautulliConfig,
    client: Arc<Client>,
}

impl TautulliSource {
    /// Opens the source from the engine's whole config (JSON) and an instance id.
    pub fn open(config_json: &str, instance: &str) -> Result<Self> {
        let cfg: Value = serde_json::from_str(config_json).map_err(|e| Error::ConfigInvalid {
            key: "(config)".into(),
            reason: format!("not valid JSON: {e}"),
        })?;
        let mut tautulli = TautulliConfig::from_engine_config(&cfg, instance)?;
        tautulli
            .warnings
            .extend(crate::analytics::config_warnings(&cfg));
        let cfg = tautulli;
        let client = Arc::new(Client::new(&cfg)?);
        Ok(Self { cfg, client })
    }

    pub fn config(&self) -> &TautulliConfig {
        &self.cfg
    }

    /// `status`: `ok`, `auth_failed` (the engine then skips the pair), `down` (no answer:
    /// refused, unknown host, timed out, or a gateway in front saying so), `config` (an
    /// answer that is not Tautulli's API: a wrong address or path root) or `degraded`
    /// (Tautulli answers, but with an error).
    ///
    /// One attempt, no retries: a host that accepts but never answers gets `down` after
    /// one `timeout`, not after every retry's.
    pub fn health(&self) -> Health {
        let once = TautulliConfig {
            max_retries: 0,
            ..self.cfg.clone()
        };
        let client = Client::new(&once).map_or_else(|_| self.client.clone(), Arc::new);
        let started = Instant::now();
        let answer: Result<TautulliInfo> = client.call(Command::GetTautulliInfo, &[]);
        let latency_ms = started.elapsed().as_millis() as u64;
        let (ok, status, details) = match answer {
            Ok(info) => (
                true,
                "ok",
                json!({"tautulli_version": info.tautulli_version, "server_url": self.client.server_url()}),
            ),
            Err(e) => {
                let status = match &e {
                    Error::AuthFailed { .. } => "auth_failed",
                    Error::Unreachable { .. } | Error::RateLimited { .. } => "down",
                    Error::ServerError {
                        status: 502..=504, ..
                    } => "down",
                    Error::ConfigInvalid { .. } | Error::BadResponse { .. } => "config",
                    _ => "degraded",
                };
                (
                    false,
                    status,
                    json!({"error": e.to_string(), "code": e.code().name(), "server_url": self.client.server_url()}),
                )
            }
        };
        Health {
            ok,
            status: status.into(),
            latency_ms,
            details: details.as_object().cloned(),
            features: Some(features()),
            warnings: self.cfg.warnings.clone(),
        }
    }

    /// Starts an index read of `feature` (only `history`). Options (JSON object, unknown keys
    /// ignored): [`payload::IndexOptions`].
    pub fn index(&self, feature: &str, options_json: &str) -> Result<HistoryCursor> {
        check_feature(feature)?;
        let options: IndexOptions = request("index options", options_json)?;
        self.check_user()?;
        Ok(HistoryCursor::with_options(
            self.client.clone(),
            self.cfg.clone(),
            options,
        ))
    }

    /// A `history.user_id` that matches nobody reads an empty history and would report it
    /// complete: checked against `get_users`, so the error can say which users exist.
    fn check_user(&self) -> Result<()> {
        let Some(id) = self.cfg.history.user_id else {
            return Ok(());
        };
        let users: Vec<Value> = self.client.call(Command::GetUsers, &[])?;
        let id_of = |u: &Value| crate::config::integer(&u["user_id"]);
        if users.iter().any(|u| id_of(u) == Some(id)) {
            return Ok(());
        }
        const SHOWN: usize = 20;
        let mut known: Vec<String> = users
            .iter()
            .take(SHOWN)
            .map(|u| {
                let name = ["friendly_name", "username"]
                    .iter()
                    .find_map(|k| u[*k].as_str().filter(|s| !s.trim().is_empty()))
                    .unwrap_or("?");
                match id_of(u) {
                    Some(n) => format!("{name} ({n})"),
                    None => name.to_string(),
                }
            })
            .collect();
        if users.len() > SHOWN {
            known.push(format!("and {} more", users.len() - SHOWN));
        }
        let known = if known.is_empty() {
            "Tautulli lists no users".to_string()
        } else {
            format!("Tautulli's users are: {}", known.join(", "))
        };
        Err(Error::ConfigInvalid {
            key: self.cfg.user_id_key.clone(),
            reason: self.cfg.api_key.scrub(&format!(
                "no Tautulli user has id {id}; {known} (or set \"\" for every user)"
            )),
        })
    }

    /// `add` and `remove`: always refused, for every feature, before anything is parsed or
    /// sent. A typed `read_only` error, never a silent `ok:true, count:0`.
    pub fn write(&self, feature: &str) -> Result<String> {
        Err(Error::ReadOnly {
            feature: feature.to_string(),
        })
    }
}

fn check_feature(feature: &str) -> Result<()> {
    if feature == HISTORY {
        Ok(())
    } else {
        Err(Error::UnsupportedFeature {
            feature: feature.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> TautulliSource {
        // Port 9 (discard) on loopback: nothing is sent in these tests.
        TautulliSource::open(
            r#"{"tautulli":{"server_url":"127.0.0.1:9","api_key":"0123456789abcdef0123456789abcdef"}}"#,
            "",
        )
        .unwrap()
    }

    #[test]
    fn manifest_says_read_only_history_source() {
        let m = serde_json::to_value(manifest()).unwrap();
        assert_eq!(m["name"], "TAUTULLI");
        assert_eq!(m["type"], "sync");
        assert_eq!(m["features"]["history"], true);
        assert_eq!(m["features"]["watchlist"], false);
        assert_eq!(m["capabilities"]["read_only"], true);
        assert_eq!(m["capabilities"]["can_target"], false);
    }

    #[test]
    fn the_manifest_is_byte_for_byte_what_hosts_always_got() {
        // The sorted-key JSON the plugin sent before its payloads were typed.
        let before = json!({
            "name": NAME, "label": LABEL, "version": env!("CARGO_PKG_VERSION"),
            "type": "sync", "bidirectional": false, "requires": [],
            "features": {"watchlist": false, "ratings": false, "history": true,
                "playlists": false},
            "capabilities": {"bidirectional": false, "provides_ids": true,
                "index_semantics": "present", "can_source": true, "can_target": false,
                "read_only": true, "observed_deletes": false, "rewatches": true},
            "description": manifest().description,
        });
        assert_eq!(
            serde_json::to_string(&manifest()).unwrap(),
            before.to_string()
        );
    }

    #[test]
    fn requests_name_the_field_of_the_wrong_type() {
        let o: payload::IndexOptions = request("index options", "  ").unwrap();
        assert_eq!(o, payload::IndexOptions::default());
        match request::<payload::ChartRequest>("chart request", r#"{"days": "7"}"#) {
            Err(Error::ConfigInvalid { key, reason }) => {
                assert_eq!(key, "(chart request).days");
                assert!(reason.contains("invalid type"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        match request::<payload::ChartRequest>("chart request", "[]") {
            Err(Error::ConfigInvalid { key, .. }) => assert_eq!(key, "(chart request)"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_checkpoint_option_is_a_string_or_null() {
        let o: IndexOptions =
            request("index options", r#"{"checkpoint": "abc", "dry_run": true}"#).unwrap();
        assert_eq!(o.checkpoint.as_deref(), Some("abc"));
        assert!(o.dry_run);
        for none in [json!({}), json!({"checkpoint": null})] {
            let o: IndexOptions = request("index options", &none.to_string()).unwrap();
            assert_eq!(o.checkpoint, None);
        }
        for bad in [
            json!(5),
            json!({"max_row_id": 1}),
            json!(["x"]),
            json!(true),
        ] {
            let text = json!({ "checkpoint": bad }).to_string();
            match request::<IndexOptions>("index options", &text) {
                Err(Error::ConfigInvalid { key, reason }) => {
                    assert_eq!(key, "(index options).checkpoint");
                    assert!(reason.contains("checkpoint string"), "{reason}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn writes_are_refused_for_every_feature() {
        let s = source();
        for f in ["history", "watchlist", "ratings", "nonsense", ""] {
            let e = s.write(f).unwrap_err();
            assert_eq!(e.code(), crosswatch_contract::ErrorCode::READ_ONLY, "{f}");
        }
    }

    #[test]
    fn index_accepts_only_history_and_object_options() {
        let s = source();
        assert!(matches!(
            s.index("watchlist", "{}").err().unwrap(),
            Error::UnsupportedFeature { .. }
        ));
        assert!(matches!(
            s.index("history", "[1]").err().unwrap(),
            Error::ConfigInvalid { .. }
        ));
        assert!(matches!(
            s.index("history", "{oops").err().unwrap(),
            Error::ConfigInvalid { .. }
        ));
        match s.index("history", r#"{"clear_metadata_cache": "yes"}"#) {
            Err(Error::ConfigInvalid { key, .. }) => {
                assert_eq!(key, "(index options).clear_metadata_cache")
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("a non-boolean flag was accepted"),
        }
        assert!(s
            .index(
                "history",
                r#"{"clear_metadata_cache": true, "reset_checkpoint": false, "other": 1}"#
            )
            .is_ok());
        match s.index("history", r#"{"checkpoint": 7}"#) {
            Err(Error::ConfigInvalid { key, .. }) => assert_eq!(key, "(index options).checkpoint"),
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("a numeric checkpoint was accepted"),
        }
        // A token that does not fit is no error: the read is a full one and says why.
        assert!(s
            .index("history", r#"{"checkpoint": "garbage", "dry_run": true}"#)
            .is_ok());
    }

    #[test]
    fn bad_config_json_is_config_invalid() {
        let e = TautulliSource::open("{not json", "").err().unwrap();
        assert_eq!(e.code(), crosswatch_contract::ErrorCode::CONFIG_INVALID);
    }
}
