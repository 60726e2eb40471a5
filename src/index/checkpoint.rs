//! The incremental checkpoint as an opaque token the host keeps.
//!
//! The plugin used to save its checkpoint in its own state file as soon as the last index
//! batch was handed out, before the host had committed anything: a host killed or failing in
//! between lost those plays for good (the next incremental read started after them). Now a
//! complete read only *reports* where it ended (`"checkpoint"` in the index report), the host
//! stores that string in the same transaction as the items, and passes it back as the index
//! option `"checkpoint"`. The checkpoint can then never be ahead of what the host holds.
//!
//! The token is plain text, `tautulli-checkpoint v1;stream=…;settings=…;max_row_id=…;
//! max_date=…;records=…;check=…`, but hosts must treat it as opaque. It names its history
//! stream only by a hash ([`stream_id`]), so it carries no server URL and nothing that could
//! hold credentials. `check` is a hash of the rest, so a token cut short or edited is refused
//! rather than read as a smaller number. Decoding checks the version, the check, the stream
//! and the settings: a token that fails any check is refused with the reason, and the read
//! falls back to a full one.

use serde::Serialize;

use crate::config::{self, HistoryConfig, TautulliConfig};
use crate::index::options::IndexOptions;
use crate::tautulli::reader::{ReadOutcome, Since};

/// Version of the token format this plugin writes and reads.
pub const VERSION: u32 = 1;

/// What every token starts with, followed by the version.
const PREFIX: &str = "tautulli-checkpoint v";
/// What precedes the token's last field, the hash of everything before it.
const CHECK: &str = ";check=";

/// Where the last complete read of one history stream ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// [`stream_id`] of the read. Not shown in the report: it says nothing to a person.
    #[serde(skip)]
    pub stream: String,
    /// [`settings_fingerprint`] of the read: rows skipped under other settings (a partial
    /// play with `watched_only` on) must be read again when they change.
    pub settings: String,
    /// Rows (groups) with a `row_id` at or below this were read: an incremental read skips
    /// them. A group that grows gets a new, higher `row_id`, so it is read again.
    pub max_row_id: i64,
    /// Newest `date` (epoch s) seen; an incremental read pages down to this minus the overlap.
    pub max_date: i64,
    /// Tautulli's `recordsFiltered` then: fewer rows now means rows were deleted or the
    /// database was replaced, and row ids can no longer be trusted.
    pub records: u64,
}

/// Why a token cannot be used for this read. Never an error of the read: it becomes a full
/// one, and the message lands in the report's `incremental.fallback_reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    #[error("the checkpoint given is not one this plugin wrote ({reason})")]
    Malformed { reason: String },
    #[error(
        "the checkpoint given has format version {found}, this plugin reads version \
         {supported}"
    )]
    Version { found: u32, supported: u32 },
    #[error(
        "the checkpoint given belongs to another history stream (another instance, server, \
         user filter or Live TV setting)"
    )]
    OtherStream,
    #[error("the history settings changed since the checkpoint ({found} -> {expected})")]
    OtherSettings { found: String, expected: String },
}

impl Checkpoint {
    /// The token for the index report.
    pub fn encode(&self) -> String {
        let body = format!(
            "{PREFIX}{VERSION};stream={};settings={};max_row_id={};max_date={};records={}",
            self.stream, self.settings, self.max_row_id, self.max_date, self.records
        );
        let check = fnv1a64(body.as_bytes());
        format!("{body}{CHECK}{check:016x}")
    }

    /// Reads a token and checks that it belongs to `stream` read with `settings`.
    pub fn decode(
        token: &str,
        stream: &str,
        settings: &str,
    ) -> Result<Checkpoint, CheckpointError> {
        let malformed = |reason: &str| CheckpointError::Malformed {
            reason: reason.to_string(),
        };
        let rest = token
            .strip_prefix(PREFIX)
            .ok_or_else(|| malformed("it does not start with the checkpoint marker"))?;
        let version = rest.split(';').next().unwrap_or("");
        let found: u32 = version
            .parse()
            .map_err(|_| malformed("its version is not a number"))?;
        if found != VERSION {
            return Err(CheckpointError::Version {
                found,
                supported: VERSION,
            });
        }
        let (body, check) = token
            .rsplit_once(CHECK)
            .ok_or_else(|| malformed("it has no check field"))?;
        if check != format!("{:016x}", fnv1a64(body.as_bytes())) {
            return Err(malformed(
                "its check does not match: it was cut short or edited",
            ));
        }
        let parts = body[PREFIX.len()..].split(';').skip(1);
        let mut fields: [Option<&str>; 5] = [None; 5];
        const NAMES: [&str; 5] = ["stream", "settings", "max_row_id", "max_date", "records"];
        for part in parts {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| malformed("a field has no `=`"))?;
            let i = NAMES
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| malformed("it has an unknown field"))?;
            if fields[i].replace(value).is_some() {
                return Err(malformed("a field appears twice"));
            }
        }
        let [Some(got_stream), Some(got_settings), Some(row), Some(date), Some(records)] = fields
        else {
            return Err(malformed("a field is missing"));
        };
        let number = |text: &str, what: &str| {
            text.parse::<i64>()
                .map_err(|_| malformed(&format!("{what} is not a whole number")))
        };
        let cp = Checkpoint {
            stream: got_stream.to_string(),
            settings: got_settings.to_string(),
            max_row_id: number(row, "max_row_id")?,
            max_date: number(date, "max_date")?,
            records: records
                .parse()
                .map_err(|_| malformed("records is not a whole number"))?,
        };
        if cp.stream != stream {
            return Err(CheckpointError::OtherStream);
        }
        if cp.settings != settings {
            return Err(CheckpointError::OtherSettings {
                found: cp.settings,
                expected: settings.to_string(),
            });
        }
        Ok(cp)
    }
}

/// One history stream: a checkpoint is only valid for the same rows. The instance is part of
/// it, so two instances (two pairs) reading one server each keep their own place. The URL
/// enters without `user:password@` (a changed password is still the same history), and the
/// whole is hashed so the token never shows which server it is.
pub fn stream_id(cfg: &TautulliConfig) -> String {
    let user = cfg
        .history
        .user_id
        .map_or_else(|| "*".to_string(), |u| u.to_string());
    let scope = format!(
        "instance={}|server={}|user={}|live={}",
        cfg.instance,
        config::redact_url(&cfg.server_url),
        user,
        cfg.history.include_live as u8
    );
    format!("{:016x}", fnv1a64(scope.as_bytes()))
}

/// The settings that decide which rows become which plays. An incremental read skips rows
/// read before, so a change here needs a full read. Never contains `;` (the token's
/// separator).
pub fn settings_fingerprint(h: &HistoryConfig) -> String {
    format!(
        "watched_only={}|min_percent={}|watched_at={}|rewatches={}",
        h.watched_only as u8,
        h.min_percent,
        h.watched_at.as_str(),
        h.rewatches as u8
    )
}

/// FNV-1a, 64 bits: stable across Rust versions and platforms (std's hasher is not), which a
/// token stored for years needs. Not a secret-keeping hash; it only keeps the URL out of sight.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The checkpoint the host gave for this stream and settings, or why there is none to
/// start from. A token that does not fit is never an error: the read is a full one.
pub fn given(
    options: &IndexOptions,
    stream: &str,
    settings: &str,
) -> std::result::Result<Checkpoint, String> {
    if options.reset_checkpoint {
        return Err(
            "the index options asked for reset_checkpoint: the whole history is read, and \
             its report carries a new checkpoint"
                .into(),
        );
    }
    let Some(token) = options.checkpoint.as_deref() else {
        return Err(
            "no checkpoint yet (the index options gave none): the whole history is read; \
             once the host has stored this read's checkpoint, the next read is incremental"
                .into(),
        );
    };
    Checkpoint::decode(token, stream, settings)
        .map_err(|e| format!("{e}: the whole history is read"))
}

/// Where an incremental read starts from, or why it cannot be one.
pub fn since(
    checkpoint: std::result::Result<&Checkpoint, &String>,
    overlap_hours: u32,
) -> std::result::Result<Since, String> {
    let cp = checkpoint.map_err(String::clone)?;
    Ok(Since {
        max_row_id: cp.max_row_id,
        cutoff_date: cp.max_date.saturating_sub(i64::from(overlap_hours) * 3600),
        records: cp.records,
    })
}

/// The checkpoint a complete read leaves. An incremental read only moves the previous
/// one forward; a full read replaces it (its ids may have gone down after a restore).
pub fn next(
    before: Option<&Checkpoint>,
    outcome: &ReadOutcome,
    stream: &str,
    settings: &str,
) -> Checkpoint {
    let row_id = outcome.checkpoint_row_id().unwrap_or(0);
    let date = outcome.max_date.unwrap_or(0);
    let (max_row_id, max_date) = match (before, outcome.incremental) {
        (Some(before), true) => (before.max_row_id.max(row_id), before.max_date.max(date)),
        _ => (row_id, date),
    };
    Checkpoint {
        stream: stream.to_string(),
        settings: settings.to_string(),
        max_row_id,
        max_date,
        records: outcome.records_filtered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn load(extra: Value, instance: &str) -> TautulliConfig {
        let mut t = json!({"server_url": "http://h:8181", "api_key": "k",
            "instances": {"two": {}}});
        if let (Value::Object(t), Value::Object(e)) = (&mut t, extra) {
            t.extend(e);
        }
        TautulliConfig::from_engine_config(&json!({ "tautulli": t }), instance).unwrap()
    }

    fn sample() -> Checkpoint {
        let cfg = load(json!({}), "");
        Checkpoint {
            stream: stream_id(&cfg),
            settings: settings_fingerprint(&cfg.history),
            max_row_id: 42,
            max_date: 1_800_000_000,
            records: 40,
        }
    }

    #[test]
    fn a_token_round_trips() {
        let cp = sample();
        let token = cp.encode();
        assert!(token.starts_with("tautulli-checkpoint v1;"), "{token}");
        assert_eq!(Checkpoint::decode(&token, &cp.stream, &cp.settings), Ok(cp));
        let odd = Checkpoint {
            max_row_id: -1,
            max_date: i64::MIN,
            records: u64::MAX,
            ..sample()
        };
        assert_eq!(
            Checkpoint::decode(&odd.encode(), &odd.stream, &odd.settings),
            Ok(odd)
        );
    }

    /// `body` with the check it needs, to test what lies behind the check.
    fn signed(body: &str) -> String {
        format!("{body}{CHECK}{:016x}", fnv1a64(body.as_bytes()))
    }

    #[test]
    fn garbage_is_malformed_never_a_panic() {
        let cp = sample();
        let good = cp.encode();
        let body = good.rsplit_once(CHECK).unwrap().0.to_string();
        assert_eq!(signed(&body), good);
        let unsigned = [
            String::new(),
            "null".into(),
            "{\"max_row_id\": 1}".into(),
            "tautulli-checkpoint v".into(),
            "tautulli-checkpoint vX;stream=a".into(),
            "tautulli-checkpoint v1".into(),
            body.clone(),
            good.replace("max_row_id=42", "max_row_id=43"),
            good.replace(';', ","),
            format!("{good}0"),
            "tautulli-checkpoint v1;stream=\u{fc};check=\u{0}".into(),
        ];
        let fields = [
            body.replace(";records=40", ""),
            body.replace("max_row_id=42", "max_row_id=4x2"),
            body.replace("records=40", "records=-4"),
            body.replace("max_date=", "max_date"),
            format!("{body};records=40"),
            format!("{body};extra=1"),
            format!("{body};"),
            "tautulli-checkpoint v1;;;;".into(),
        ];
        let signed_fields: Vec<String> = fields.iter().map(|b| signed(b)).collect();
        for token in unsigned.iter().chain(&signed_fields) {
            match Checkpoint::decode(token, &cp.stream, &cp.settings) {
                Err(CheckpointError::Malformed { reason }) => assert!(!reason.is_empty()),
                other => panic!("{token:?}: {other:?}"),
            }
        }
        // Cut short anywhere: refused, never read as a smaller number.
        for cut in 0..good.len() {
            assert!(
                Checkpoint::decode(&good[..cut], &cp.stream, &cp.settings).is_err(),
                "{}",
                &good[..cut]
            );
        }
    }

    #[test]
    fn another_version_is_named() {
        let cp = sample();
        let token = cp.encode().replacen("v1;", "v2;", 1);
        let e = Checkpoint::decode(&token, &cp.stream, &cp.settings).unwrap_err();
        assert_eq!(
            e,
            CheckpointError::Version {
                found: 2,
                supported: 1
            }
        );
        assert!(e.to_string().contains("version 2"), "{e}");
    }

    #[test]
    fn another_stream_or_other_settings_are_refused() {
        let cp = sample();
        let token = cp.encode();
        let other = stream_id(&load(json!({}), "two"));
        assert_eq!(
            Checkpoint::decode(&token, &other, &cp.settings),
            Err(CheckpointError::OtherStream)
        );
        let loose =
            settings_fingerprint(&load(json!({"history": {"watched_only": false}}), "").history);
        let e = Checkpoint::decode(&token, &cp.stream, &loose).unwrap_err();
        assert_eq!(
            e,
            CheckpointError::OtherSettings {
                found: cp.settings.clone(),
                expected: loose.clone()
            }
        );
        assert!(e.to_string().contains("settings changed"), "{e}");
    }

    #[test]
    fn streams_separate_instances_users_live_and_servers_but_not_passwords() {
        let base = load(json!({}), "");
        let ids = [
            stream_id(&base),
            stream_id(&load(json!({"history": {"user_id": 3}}), "")),
            stream_id(&load(json!({"history": {"include_live": true}}), "")),
            stream_id(&load(json!({}), "two")),
            stream_id(&load(json!({"server_url": "http://other:8181"}), "")),
        ];
        for (i, a) in ids.iter().enumerate() {
            assert_eq!(a.len(), 16, "{a}");
            assert!(a.bytes().all(|b| b.is_ascii_hexdigit()), "{a}");
            for b in &ids[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let with_password = load(json!({"server_url": "http://admin:S3cret@h:8181"}), "");
        assert_eq!(stream_id(&with_password), ids[0]);
        // Settings that pick plays are not the stream; the stream is not the settings.
        let loose = load(json!({"history": {"watched_only": false}}), "");
        assert_eq!(stream_id(&loose), ids[0]);
        assert_ne!(
            settings_fingerprint(&base.history),
            settings_fingerprint(&loose.history)
        );
        assert!(!settings_fingerprint(&base.history).contains(';'));
    }

    #[test]
    fn the_token_never_shows_the_server() {
        let cfg = load(
            json!({"server_url": "https://admin:S3cret@tautulli.example.org/tt"}),
            "",
        );
        let token = Checkpoint {
            stream: stream_id(&cfg),
            settings: settings_fingerprint(&cfg.history),
            max_row_id: 1,
            max_date: 2,
            records: 3,
        }
        .encode();
        for secret in ["admin", "S3cret", "example", "tautulli.", "/tt", "http"] {
            assert!(!token.contains(secret), "{secret} in {token}");
        }
    }

    #[test]
    fn fnv1a_matches_the_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    /// The engine config with this `history` block.
    fn history(history: Value) -> TautulliConfig {
        TautulliConfig::from_engine_config(
            &json!({"tautulli": {"server_url": "http://h:8181", "api_key": "k",
                "history": history}}),
            "",
        )
        .unwrap()
    }

    fn token(c: &TautulliConfig) -> String {
        Checkpoint {
            stream: stream_id(c),
            settings: settings_fingerprint(&c.history),
            max_row_id: 42,
            max_date: 1_800_000_000,
            records: 40,
        }
        .encode()
    }

    #[test]
    fn a_checkpoint_at_the_edge_of_time_gives_a_cutoff_without_overflow() {
        let c = history(json!({}));
        let cp = Checkpoint {
            stream: stream_id(&c),
            settings: settings_fingerprint(&c.history),
            max_row_id: 1,
            max_date: i64::MIN,
            records: 1,
        };
        let since = since(Ok(&cp), 720).unwrap();
        assert_eq!(since.cutoff_date, i64::MIN);
    }

    #[test]
    fn a_checkpoint_that_does_not_fit_becomes_a_full_read_with_the_reason() {
        let c = history(json!({"mode": "incremental"}));
        let (stream, settings) = (stream_id(&c), settings_fingerprint(&c.history));
        let given = |checkpoint: Option<String>, reset: bool| {
            let o = IndexOptions {
                checkpoint,
                reset_checkpoint: reset,
                ..IndexOptions::default()
            };
            given(&o, &stream, &settings)
        };
        let good = given(Some(token(&c)), false).unwrap();
        assert_eq!(good.max_row_id, 42);
        let s = since(Ok(&good), 6).unwrap();
        assert_eq!(
            (s.max_row_id, s.cutoff_date, s.records),
            (42, 1_800_000_000 - 6 * 3600, 40)
        );
        let cases = [
            (given(None, false), "no checkpoint yet"),
            (given(Some(token(&c)), true), "reset_checkpoint"),
            (
                given(Some("garbage".into()), false),
                "not one this plugin wrote",
            ),
            (
                given(Some(token(&c).replacen("v1;", "v7;", 1)), false),
                "version 7",
            ),
            (
                given(
                    Some(token(&history(
                        json!({"user_id": 5, "mode": "incremental"}),
                    ))),
                    false,
                ),
                "another history stream",
            ),
            (
                given(Some(token(&history(json!({"rewatches": true})))), false),
                "settings changed",
            ),
        ];
        for (got, want) in cases {
            let why = got.unwrap_err();
            assert!(why.contains(want), "{why}");
            assert!(why.contains("history is read"), "{why}");
            assert!(!why.contains("h:8181"), "{why}");
        }
    }
}
