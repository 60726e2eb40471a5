//! The JSON payloads that travel through the contract's string parameters, as serde types.
//!
//! They sit beside the frozen shell, not inside it (the model is `abi_stable`'s own
//! `1_trait_objects` example): they are not `StableAbi`, only an agreement on JSON shapes, so
//! either side can grow a payload (a new field with a default) without a new contract
//! version. Readers are tolerant where growth happens (a missing field takes its default, an
//! unknown one is ignored) and strict where a mistake would otherwise hide: a field of the
//! wrong type is a [`PayloadError`] naming it, never a silent default.
//!
//! Fields of the payloads that plugins have always written with sorted keys (manifest,
//! features, capabilities, health) are declared in that order, so `serde_json::to_string`
//! of the typed value gives the same bytes hosts saw before the payloads were typed.

mod analytics;
mod index;
mod source;

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

pub use analytics::{
    Chart, ChartRequest, ChartWindow, CollectReport, CollectRequest, DiffRow, QueryAnswer,
    QueryRequest, Series, SnapshotRow, SyncReport, SyncRequest,
};
pub use index::{
    CacheReport, CheckpointView, IncrementalReport, IndexOptions, IndexReport, ReaderReport,
    StateReport, Unresolved,
};
pub use source::{Capabilities, Features, Health, Manifest, WriteResult};

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadError {
    /// The text is not JSON.
    NotJson { reason: String },
    /// JSON, but not an object (every payload is one).
    NotAnObject { found: String },
    /// One field has the wrong type (or is missing where it is required).
    Field { field: String, reason: String },
    /// The object does not fit, and no single field could be blamed.
    Shape { reason: String },
}

impl PayloadError {
    /// The field to blame, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Field { field, .. } => Some(field),
            _ => None,
        }
    }

    /// What is wrong, without the field's name.
    pub fn reason(&self) -> String {
        match self {
            Self::NotJson { reason } => format!("not valid JSON: {reason}"),
            Self::NotAnObject { found } => format!("expected a JSON object, found {found}"),
            Self::Field { reason, .. } | Self::Shape { reason } => reason.clone(),
        }
    }
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field() {
            Some(field) => write!(f, "`{field}`: {}", self.reason()),
            None => f.write_str(&self.reason()),
        }
    }
}

impl std::error::Error for PayloadError {}

/// Reads a payload from its JSON text.
pub fn decode<T: DeserializeOwned>(text: &str) -> Result<T, PayloadError> {
    let value: Value = serde_json::from_str(text).map_err(|e| PayloadError::NotJson {
        reason: e.to_string(),
    })?;
    from_value(value)
}

/// Reads a payload from a JSON value that must be an object. On failure, names the field
/// at fault: the first one that does not fit even alone (every other field defaulted).
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, PayloadError> {
    let Value::Object(map) = value else {
        return Err(PayloadError::NotAnObject {
            found: value.to_string(),
        });
    };
    let whole = Value::Object(map);
    let e = match T::deserialize(&whole) {
        Ok(v) => return Ok(v),
        Err(e) => e.to_string(),
    };
    let Value::Object(map) = whole else {
        unreachable!("built as an object above")
    };
    for (field, v) in map {
        let alone = Value::Object(Map::from_iter([(field.clone(), v)]));
        if let Err(e) = T::deserialize(&alone) {
            let reason = e.to_string();
            if !reason.starts_with("missing field") {
                return Err(PayloadError::Field { field, reason });
            }
        }
    }
    match missing_field(&e) {
        Some(field) => Err(PayloadError::Field {
            field: field.to_string(),
            reason: "missing".into(),
        }),
        None => Err(PayloadError::Shape { reason: e }),
    }
}

/// The field of serde's "missing field `name`" message.
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")?
        .split('`')
        .next()
        .filter(|f| !f.is_empty())
}

/// `null` reads as the default: hosts write `"flag": null` for "not set".
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default)]
    struct Sample {
        days: Option<u32>,
        name: String,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Required {
        kind: String,
    }

    #[test]
    fn a_wrong_type_names_its_field() {
        let e = decode::<Sample>(r#"{"name": "x", "days": "thirty"}"#).unwrap_err();
        assert_eq!(e.field(), Some("days"));
        assert!(e.reason().contains("invalid type"), "{e}");
        assert!(e.to_string().starts_with("`days`: "), "{e}");
    }

    #[test]
    fn unknown_fields_are_ignored_and_missing_ones_default() {
        let s: Sample = decode(r#"{"later": [1, 2], "days": 7}"#).unwrap();
        assert_eq!(
            s,
            Sample {
                days: Some(7),
                name: String::new()
            }
        );
    }

    #[test]
    fn not_json_and_not_an_object_say_so() {
        assert!(matches!(
            decode::<Sample>("{oops"),
            Err(PayloadError::NotJson { .. })
        ));
        let e = decode::<Sample>("[1]").unwrap_err();
        assert_eq!(e.reason(), "expected a JSON object, found [1]");
    }

    #[test]
    fn a_missing_required_field_is_named() {
        let e = from_value::<Required>(json!({"other": 1})).unwrap_err();
        assert_eq!(e.field(), Some("kind"));
        assert_eq!(e.reason(), "missing");
        let e = from_value::<Required>(json!({"kind": 5})).unwrap_err();
        assert_eq!(e.field(), Some("kind"));
    }
}
