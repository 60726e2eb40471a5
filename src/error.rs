//! Every way the plugin can fail, as one typed error that maps onto the contract's codes.
//!
//! Each message says what went wrong and what the user can do about it. Messages never carry
//! the API key: the client scrubs every text taken from a response or a transport error before
//! it lands in a variant.
//!
//! Code choices for the server-side failures:
//! - [`Error::TautulliError`] (Tautulli answered `result: error`) is `bad_response`: Tautulli is
//!   up but refused this request, so retrying the run will not help.
//! - [`Error::ServerError`] after retries: 502/503/504 come from a gateway in front of a down
//!   Tautulli, so they are `unreachable` (the engine then skips the pair as "down"); any other
//!   5xx (500 = an exception inside Tautulli) is `bad_response`.
//! - [`Error::RateLimited`] after retries is `unreachable`: the service is not available to us
//!   right now, the same thing the engine does for a down source.
//! - [`Error::StoreBusy`] (another run kept the analytics store locked past the wait) is
//!   `unreachable` for the same reason: nothing is wrong, the store is just not available
//!   right now, and the engine's answer to that (skip, try again on the next run) is the
//!   right one. Never `internal`: it is no bug, and no disk problem.

use crosswatch_contract::{ErrorCode, PluginError};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A config key is missing or has the wrong type or value.
    #[error("config key `{key}` is invalid: {reason}")]
    ConfigInvalid { key: String, reason: String },

    /// Tautulli (or a proxy in front of it) refused our credentials.
    #[error("Tautulli refused access: {reason}")]
    AuthFailed { reason: String },

    /// No answer at all: refused connection, DNS, TLS or timeout, after the retries.
    #[error("Tautulli is unreachable: {reason}")]
    Unreachable { reason: String },

    /// Something answered, but not with Tautulli's JSON API (HTML page, malformed or truncated
    /// JSON, wrong types). `excerpt` is a short, whitespace-collapsed, scrubbed piece of it.
    #[error(
        "unexpected answer to `{cmd}` (HTTP {status}): {reason}; the answer was: \"{excerpt}\""
    )]
    BadResponse {
        cmd: &'static str,
        status: u16,
        reason: String,
        excerpt: String,
    },

    /// Tautulli answered `result: error`.
    #[error("Tautulli could not answer `{cmd}` (HTTP {status}): {message}")]
    TautulliError {
        cmd: &'static str,
        status: u16,
        message: String,
    },

    /// HTTP 429 on every attempt (or a `Retry-After` asking for a wait past the time left).
    #[error(
        "Tautulli (or a proxy in front of it) kept answering `{cmd}` with HTTP 429 Too Many \
         Requests after {}{}: lower tautulli.concurrency or try again later",
        tries(*.attempts, *.elapsed_ms),
        refused_wait(*.wait_refused_secs)
    )]
    RateLimited {
        cmd: &'static str,
        attempts: u32,
        /// Time spent on the command, retries and pauses included.
        elapsed_ms: u64,
        /// The `Retry-After` not waited for, because the command's time would run out.
        wait_refused_secs: Option<u64>,
    },

    /// A 5xx on every attempt.
    #[error(
        "`{cmd}` failed with HTTP {status} after {} ({message}): check that Tautulli (and \
         Plex, for metadata) is running and look at Tautulli's logs",
        tries(*.attempts, *.elapsed_ms)
    )]
    ServerError {
        cmd: &'static str,
        status: u16,
        attempts: u32,
        /// Time spent on the command, retries and pauses included.
        elapsed_ms: u64,
        message: String,
    },

    /// A write was asked of this read-only source; nothing was sent to Tautulli.
    #[error(
        "Tautulli is a read-only source: `{feature}` writes are refused and nothing was sent; \
         use Tautulli only as the source of a pair"
    )]
    ReadOnly { feature: String },

    /// The engine asked for a feature this provider does not offer.
    #[error("the Tautulli provider does not offer `{feature}`; it provides `history` only")]
    UnsupportedFeature { feature: String },

    /// The plugin's own SQLite store (analytics history, metadata cache) failed: a disk,
    /// permission or corruption problem rather than a bug.
    #[error("the plugin's local store {path} failed: {reason}; check free disk space and file permissions")]
    Store { path: String, reason: String },

    /// Another run (a sync or a collect) held the analytics store's write lock for longer
    /// than the store waits for it. The store is fine; nothing of this call was written.
    #[error("another run is writing the analytics store {path}; waited {waited_secs} s; try again when it has finished")]
    StoreBusy { path: String, waited_secs: u64 },

    /// A request argument (collection name, rotation, query, chart kind) cannot be used.
    #[error("invalid `{name}`: {reason}")]
    InvalidArgument { name: String, reason: String },

    /// A bug inside the plugin.
    #[error("internal error in the Tautulli plugin (please report it): {reason}")]
    Internal { reason: String },
}

/// "1 attempt in 0.2 s", "3 attempts in 41 s": how hard the client tried.
pub(crate) fn tries(attempts: u32, elapsed_ms: u64) -> String {
    let noun = if attempts == 1 { "attempt" } else { "attempts" };
    let secs = elapsed_ms as f64 / 1000.0;
    if secs < 10.0 {
        format!("{attempts} {noun} in {secs:.1} s")
    } else {
        format!("{attempts} {noun} in {secs:.0} s")
    }
}

fn refused_wait(secs: Option<u64>) -> String {
    secs.map_or_else(String::new, |s| {
        format!(
            ", the last asking to wait {s} s before the next one, more than is left of the time \
             a command may take (12 × tautulli.timeout)"
        )
    })
}

impl Error {
    /// The contract's error code for this failure (see the module docs for the choices).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::ConfigInvalid { .. } => ErrorCode::CONFIG_INVALID,
            Self::AuthFailed { .. } => ErrorCode::AUTH_FAILED,
            Self::Unreachable { .. } | Self::RateLimited { .. } | Self::StoreBusy { .. } => {
                ErrorCode::UNREACHABLE
            }
            Self::ServerError {
                status: 502..=504, ..
            } => ErrorCode::UNREACHABLE,
            Self::BadResponse { .. } | Self::TautulliError { .. } | Self::ServerError { .. } => {
                ErrorCode::BAD_RESPONSE
            }
            Self::ReadOnly { .. } => ErrorCode::READ_ONLY,
            Self::UnsupportedFeature { .. } => ErrorCode::UNSUPPORTED_FEATURE,
            Self::Internal { .. } | Self::Store { .. } => ErrorCode::INTERNAL,
            Self::InvalidArgument { .. } => ErrorCode::CONFIG_INVALID,
        }
    }
}

impl From<Error> for PluginError {
    fn from(e: Error) -> Self {
        PluginError::new(e.code(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_documented_mapping() {
        let server = |status| Error::ServerError {
            cmd: "get_history",
            status,
            attempts: 4,
            elapsed_ms: 1500,
            message: "x".into(),
        };
        let cases = [
            (
                Error::ConfigInvalid {
                    key: "k".into(),
                    reason: "r".into(),
                },
                "config_invalid",
            ),
            (Error::AuthFailed { reason: "r".into() }, "auth_failed"),
            (Error::Unreachable { reason: "r".into() }, "unreachable"),
            (
                Error::RateLimited {
                    cmd: "status",
                    attempts: 4,
                    elapsed_ms: 1500,
                    wait_refused_secs: None,
                },
                "unreachable",
            ),
            (server(502), "unreachable"),
            (server(504), "unreachable"),
            (server(500), "bad_response"),
            (
                Error::TautulliError {
                    cmd: "get_history",
                    status: 400,
                    message: "m".into(),
                },
                "bad_response",
            ),
            (
                Error::BadResponse {
                    cmd: "get_history",
                    status: 200,
                    reason: "r".into(),
                    excerpt: "e".into(),
                },
                "bad_response",
            ),
            (
                Error::ReadOnly {
                    feature: "history".into(),
                },
                "read_only",
            ),
            (
                Error::UnsupportedFeature {
                    feature: "ratings".into(),
                },
                "unsupported_feature",
            ),
            (Error::Internal { reason: "r".into() }, "internal"),
            (
                Error::StoreBusy {
                    path: "/a/analytics.sqlite".into(),
                    waited_secs: 15,
                },
                "unreachable",
            ),
        ];
        for (e, name) in cases {
            assert_eq!(e.code().name(), name, "{e}");
            let p = PluginError::from(e.clone());
            assert_eq!(p.code, e.code());
            assert_eq!(p.message.as_str(), e.to_string());
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = Error::ReadOnly {
            feature: "history".into(),
        };
        assert!(e.to_string().contains("nothing was sent"), "{e}");
        let e = Error::RateLimited {
            cmd: "get_metadata",
            attempts: 4,
            elapsed_ms: 41_400,
            wait_refused_secs: None,
        };
        assert!(e.to_string().contains("after 4 attempts in 41 s:"), "{e}");
        assert!(e.to_string().contains("concurrency"), "{e}");
        let e = Error::RateLimited {
            cmd: "get_metadata",
            attempts: 1,
            elapsed_ms: 120,
            wait_refused_secs: Some(3600),
        };
        assert!(
            e.to_string()
                .contains("after 1 attempt in 0.1 s, the last asking to wait 3600 s"),
            "{e}"
        );
    }
}
