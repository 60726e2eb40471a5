//! Which grouping the charts and snapshots use, and where it came from.
//!
//! Tautulli counts sessions sharing a `reference_id` as one viewing when its own setting
//! `group_history_tables` is on (the default), and every session when it is off; its graphs
//! and item stats follow that setting when a request sends no `grouping`. The analytics
//! follow it too, so their numbers equal the ones its users see:
//! - `analytics.grouping` set in the config wins, and nothing is asked;
//! - else each sync reads the setting once (`get_settings` with `key=General`, an admin
//!   command; Tautulli 2.17 answers `group_history_tables` as 0 or 1) and records it in the
//!   store, so charts and collects stay offline and agree with the history they count;
//! - a server that does not answer it (an error, an unknown command, a key or proxy that
//!   refuses it, a value that is neither) leaves grouping on, Tautulli's default, and the
//!   sync says so.
//!
//! Every chart note states which one was used.

use serde::Deserialize;
use serde_json::Value;

use crate::analytics::store::{db_error, set_sync_state, Store};
use crate::error::{Error, Result};
use crate::tautulli::client::{Client, Command};

/// `sync_state` key: Tautulli's `group_history_tables` at the last sync that read it: 1 on,
/// 0 off, [`UNREAD`] when the server did not tell.
pub(crate) const STATE_SERVER_GROUPING: &str = "server_grouping";
const UNREAD: i64 = -1;
/// A reason shown from a server's answer is cut to this many characters.
const REASON_CHARS: usize = 120;

/// What a sync learned of Tautulli's own setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServerGrouping {
    On,
    Off,
    /// Not answered; `reason` says why, for people.
    Unread {
        reason: String,
    },
}

impl ServerGrouping {
    /// Asks Tautulli once (`get_settings`, `key=General`). Only `group_history_tables` is
    /// kept: the section also holds secrets (the API key among them), so no other field is
    /// parsed and no piece of the answer is quoted. A server that does not answer at all is
    /// the sync's error: its history read would only wait for it a second time.
    pub(crate) fn read(client: &Client) -> Result<ServerGrouping> {
        #[derive(Deserialize)]
        struct General {
            #[serde(default)]
            group_history_tables: Option<Value>,
        }
        match client.call::<General>(Command::GetSettings, &[("key", "General".to_string())]) {
            Ok(g) => Ok(ServerGrouping::from_value(g.group_history_tables.as_ref())),
            Err(e @ Error::Unreachable { .. }) => Err(e),
            Err(e) => Ok(ServerGrouping::Unread { reason: brief(&e) }),
        }
    }

    /// The setting's value as Tautulli writes it: 0/1 (an int setting), or `true`/`false`
    /// and "0"/"1" as some versions truthify or keep them.
    pub(crate) fn from_value(v: Option<&Value>) -> ServerGrouping {
        let on = match v {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(0) => Some(false),
                Some(1) => Some(true),
                _ => None,
            },
            Some(Value::String(s)) => match s.trim() {
                "0" => Some(false),
                "1" => Some(true),
                _ => None,
            },
            _ => None,
        };
        match (on, v) {
            (Some(true), _) => ServerGrouping::On,
            (Some(false), _) => ServerGrouping::Off,
            (None, None | Some(Value::Null)) => ServerGrouping::Unread {
                reason: "its General settings have no group_history_tables".into(),
            },
            (None, Some(_)) => ServerGrouping::Unread {
                reason: "its group_history_tables is neither 0 nor 1".into(),
            },
        }
    }

    /// Records the setting in the store (after a successful sync).
    pub(crate) fn save(&self, store: &Store) -> Result<()> {
        let v = match self {
            ServerGrouping::On => 1,
            ServerGrouping::Off => 0,
            ServerGrouping::Unread { .. } => UNREAD,
        };
        set_sync_state(store.conn(), STATE_SERVER_GROUPING, v)
            .map_err(|e| db_error(store.path(), e))
    }

    /// The sync report's warning when the setting could not be read.
    pub(crate) fn warning(&self) -> Option<String> {
        match self {
            ServerGrouping::Unread { reason } => Some(format!(
                "Tautulli's group_history_tables could not be read ({reason}): charts and \
                 snapshots group viewings, Tautulli's default; set analytics.grouping to choose"
            )),
            _ => None,
        }
    }
}

/// Where the grouping in use comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `analytics.grouping`.
    Config,
    /// Tautulli's `group_history_tables`, read at the last sync.
    Server,
    /// Neither: the last sync could not read the server's setting (or no sync read it yet).
    Default,
}

/// The grouping charts and snapshots use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grouping {
    pub(crate) on: bool,
    pub(crate) source: Source,
}

impl Grouping {
    /// The config's choice, else the server's as the last sync recorded it, else on.
    pub(crate) fn resolve(config: Option<bool>, store: &Store) -> Result<Grouping> {
        if let Some(on) = config {
            return Ok(Grouping {
                on,
                source: Source::Config,
            });
        }
        Ok(match store.sync_state(STATE_SERVER_GROUPING)? {
            Some(v @ (0 | 1)) => Grouping {
                on: v == 1,
                source: Source::Server,
            },
            _ => Grouping {
                on: true,
                source: Source::Default,
            },
        })
    }

    /// A chart note saying how viewings were counted and why.
    pub(crate) fn note(&self) -> String {
        let how = if self.on {
            "viewings grouped"
        } else {
            "grouping off: every session counts"
        };
        let why = match (self.source, self.on) {
            (Source::Config, on) => format!("analytics.grouping is {on}"),
            (Source::Server, true) => "Tautulli's group_history_tables is on".into(),
            (Source::Server, false) => "Tautulli's group_history_tables is off".into(),
            (Source::Default, _) => {
                "Tautulli's default; its group_history_tables was not read at the last sync".into()
            }
        };
        format!("{how} ({why})")
    }
}

/// A failed `get_settings` in a few words: never the answer's excerpt (the settings hold
/// secrets), a server's message cut short.
fn brief(e: &Error) -> String {
    let text = match e {
        Error::BadResponse { status, reason, .. } => format!("HTTP {status}: {reason}"),
        Error::TautulliError {
            status, message, ..
        } => format!("get_settings answered HTTP {status}: {message}"),
        // The key reads the history, so the advice to fix it would mislead.
        Error::AuthFailed { .. } => "get_settings was refused (by Tautulli or a proxy)".into(),
        other => other.to_string(),
    };
    if text.chars().count() <= REASON_CHARS {
        text
    } else {
        let mut t: String = text.chars().take(REASON_CHARS - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_servers_value_is_read_as_tautulli_writes_it() {
        let read = |v: Value| ServerGrouping::from_value(Some(&v));
        assert_eq!(read(json!(1)), ServerGrouping::On);
        assert_eq!(read(json!(0)), ServerGrouping::Off);
        assert_eq!(read(json!(true)), ServerGrouping::On);
        assert_eq!(read(json!(false)), ServerGrouping::Off);
        assert_eq!(read(json!("0")), ServerGrouping::Off);
        assert_eq!(read(json!(" 1")), ServerGrouping::On);
        for odd in [json!(2), json!("yes"), json!([1]), json!(null)] {
            assert!(
                matches!(read(odd.clone()), ServerGrouping::Unread { .. }),
                "{odd}"
            );
        }
        assert!(matches!(
            ServerGrouping::from_value(None),
            ServerGrouping::Unread { reason } if reason.contains("no group_history_tables")
        ));
    }

    #[test]
    fn the_config_wins_then_the_last_sync_then_on() {
        let store = Store::open_in_memory().unwrap();
        let g = |c| Grouping::resolve(c, &store).unwrap();
        assert_eq!(
            g(None),
            Grouping {
                on: true,
                source: Source::Default
            }
        );
        ServerGrouping::Off.save(&store).unwrap();
        assert_eq!(
            g(None),
            Grouping {
                on: false,
                source: Source::Server
            }
        );
        assert_eq!(
            g(Some(true)),
            Grouping {
                on: true,
                source: Source::Config
            }
        );
        ServerGrouping::Unread { reason: "x".into() }
            .save(&store)
            .unwrap();
        assert_eq!(g(None).source, Source::Default);
        assert!(g(None).on);
    }

    #[test]
    fn notes_and_warnings_say_which_was_used() {
        let note = |on, source| Grouping { on, source }.note();
        assert_eq!(
            note(false, Source::Server),
            "grouping off: every session counts (Tautulli's group_history_tables is off)"
        );
        assert_eq!(
            note(true, Source::Config),
            "viewings grouped (analytics.grouping is true)"
        );
        assert!(note(true, Source::Default).contains("was not read"));
        assert_eq!(ServerGrouping::On.warning(), None);
        let w = ServerGrouping::Unread {
            reason: "HTTP 400".into(),
        }
        .warning()
        .unwrap();
        assert!(
            w.contains("(HTTP 400)") && w.contains("analytics.grouping"),
            "{w}"
        );
    }

    #[test]
    fn a_long_server_message_is_cut_short() {
        let e = Error::TautulliError {
            cmd: "get_settings",
            status: 400,
            message: format!("Unknown command: get_settings. {}", "x, ".repeat(200)),
        };
        let b = brief(&e);
        assert_eq!(b.chars().count(), REASON_CHARS);
        assert!(b.starts_with("get_settings answered HTTP 400: Unknown command"));
        let bad = Error::BadResponse {
            cmd: "get_settings",
            status: 200,
            reason: "not JSON".into(),
            excerpt: "secret".into(),
        };
        assert!(!brief(&bad).contains("secret"));
    }
}
