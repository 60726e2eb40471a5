//! The host's options for one index read.

use serde_json::Value;

use crate::config;
use crate::error::{Error, Result};

/// The host's `index` options (a JSON object; unknown keys are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexOptions {
    /// `clear_metadata_cache`: forget every cached metadata answer of this server first, so
    /// every show and new-agent movie is asked again (after fixing a match in Plex).
    pub clear_metadata_cache: bool,
    /// `reset_checkpoint`: ignore `checkpoint`, so the read is a full one (whose report then
    /// carries a new checkpoint).
    pub reset_checkpoint: bool,
    /// `dry_run`: the host only plans; the plugin's state (metadata cache) is neither read
    /// nor written, so a dry run changes no file at all. The checkpoint given is used as in
    /// a real run, so the plan is exactly what that run would import.
    pub dry_run: bool,
    /// `checkpoint`: the token of the last committed import's report (`null`/absent: none),
    /// where `history.mode: incremental` starts.
    pub checkpoint: Option<String>,
}

impl IndexOptions {
    pub fn from_json(options: &Value) -> Result<Self> {
        let Value::Object(m) = options else {
            return Err(Error::ConfigInvalid {
                key: "(index options)".into(),
                reason: format!("expected a JSON object, found {options}"),
            });
        };
        let flag = |name: &str| match m.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(Error::ConfigInvalid {
                key: format!("(index options).{name}"),
                reason: format!("found {other}, expected true or false"),
            }),
        };
        let checkpoint = match m.get("checkpoint") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(Error::ConfigInvalid {
                    key: "(index options).checkpoint".into(),
                    reason: format!(
                        "found {}, expected the checkpoint string of an index report, or null",
                        config::describe(other)
                    ),
                })
            }
        };
        Ok(Self {
            clear_metadata_cache: flag("clear_metadata_cache")?,
            reset_checkpoint: flag("reset_checkpoint")?,
            dry_run: flag("dry_run")?,
            checkpoint,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_checkpoint_option_is_a_string_or_null() {
        let o = IndexOptions::from_json(&json!({"checkpoint": "abc", "dry_run": true})).unwrap();
        assert_eq!(o.checkpoint.as_deref(), Some("abc"));
        assert!(o.dry_run);
        for none in [json!({}), json!({"checkpoint": null})] {
            assert_eq!(IndexOptions::from_json(&none).unwrap().checkpoint, None);
        }
        for bad in [
            json!(5),
            json!({"max_row_id": 1}),
            json!(["x"]),
            json!(true),
        ] {
            match IndexOptions::from_json(&json!({ "checkpoint": bad })) {
                Err(Error::ConfigInvalid { key, reason }) => {
                    assert_eq!(key, "(index options).checkpoint");
                    assert!(reason.contains("checkpoint string"), "{reason}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
