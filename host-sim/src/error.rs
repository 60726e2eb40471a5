//! The host's error type: everything a command can fail with, each saying what to do.

use std::path::PathBuf;

use crosswatch_contract::{ErrorCode, PluginError};

/// Errors of the simulated host. Plugin errors keep the plugin's code as a variant, so the
/// CLI (and tests) can tell `auth_failed` from `unreachable` without parsing text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    #[error("cannot load plugin {path}: {reason}\n  hint: build it with `cargo build --release -p tautulli-plugin`, or pass --plugin PATH")]
    PluginLoad { path: PathBuf, reason: String },

    #[error("plugin {path} is incompatible with this host's contract: {reason}\n  hint: rebuild the plugin and host-sim from the same checkout")]
    PluginIncompatible { path: PathBuf, reason: String },

    // Plugin errors: the plugin's message already says what failed and what to do; the
    // CLI adds the contract code.
    #[error("{0}")]
    ReadOnly(String),
    #[error("{0}")]
    ConfigInvalid(String),
    #[error("{0}")]
    AuthFailed(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    BadResponse(String),
    #[error("{0}")]
    UnsupportedFeature(String),
    #[error("{0}")]
    PluginInternal(String),
    #[error("plugin error with unknown code {code}: {message}")]
    PluginUnknown { code: u32, message: String },

    /// A config or request problem host-sim found itself (the plugin never saw it); it is
    /// labelled as host-sim's, not as the plugin's.
    #[error("{0}")]
    Config(String),

    #[error("the plugin sent malformed {what}: {reason}")]
    Protocol { what: &'static str, reason: String },

    #[error("cannot read config {path}: {reason}")]
    ConfigFile { path: PathBuf, reason: String },

    #[error(transparent)]
    Tracker(#[from] crate::tracker::TrackerError),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl HostError {
    /// The contract code behind this error, when it came from the plugin.
    pub fn plugin_code(&self) -> Option<ErrorCode> {
        Some(match self {
            Self::ReadOnly(_) => ErrorCode::READ_ONLY,
            Self::ConfigInvalid(_) => ErrorCode::CONFIG_INVALID,
            Self::AuthFailed(_) => ErrorCode::AUTH_FAILED,
            Self::Unreachable(_) => ErrorCode::UNREACHABLE,
            Self::BadResponse(_) => ErrorCode::BAD_RESPONSE,
            Self::UnsupportedFeature(_) => ErrorCode::UNSUPPORTED_FEATURE,
            Self::PluginInternal(_) => ErrorCode::INTERNAL,
            Self::PluginUnknown { code, .. } => ErrorCode(*code),
            _ => return None,
        })
    }

    /// The contract code of an error host-sim raised itself, for the same label.
    pub fn host_code(&self) -> Option<ErrorCode> {
        match self {
            Self::Config(_) | Self::ConfigFile { .. } => Some(ErrorCode::CONFIG_INVALID),
            _ => None,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<PluginError> for HostError {
    fn from(e: PluginError) -> Self {
        let m = e.message.to_string();
        match e.code {
            ErrorCode::READ_ONLY => Self::ReadOnly(m),
            ErrorCode::CONFIG_INVALID => Self::ConfigInvalid(m),
            ErrorCode::AUTH_FAILED => Self::AuthFailed(m),
            ErrorCode::UNREACHABLE => Self::Unreachable(m),
            ErrorCode::BAD_RESPONSE => Self::BadResponse(m),
            ErrorCode::UNSUPPORTED_FEATURE => Self::UnsupportedFeature(m),
            ErrorCode::INTERNAL => Self::PluginInternal(m),
            ErrorCode(code) => Self::PluginUnknown { code, message: m },
        }
    }
}

pub type Result<T, E = HostError> = std::result::Result<T, E>;

/// Ends a command-line run: an error is printed to stderr with each cause on its own line
/// and the plugin's code when it has one, and the outcome becomes the exit code (an error
/// is 1). Both binaries end through here so they report failures alike.
pub fn exit_code(result: Result<i32>) -> std::process::ExitCode {
    match result {
        Ok(code) => std::process::ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            // Labelled by where the error came from: a user fixing it looks there.
            if let Some(code) = e.plugin_code() {
                eprintln!("  (plugin error code: {code})");
            } else if let Some(code) = e.host_code() {
                eprintln!("  (host-sim error code: {code})");
            }
            std::process::ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contract_code_maps_to_its_own_variant_and_back() {
        for code in ErrorCode::ALL {
            let e = HostError::from(PluginError::new(code, "m"));
            assert_eq!(e.plugin_code(), Some(code), "{e}");
        }
        let e = HostError::from(PluginError::new(ErrorCode(77), "later"));
        assert!(
            matches!(e, HostError::PluginUnknown { code: 77, .. }),
            "{e}"
        );
    }
}
