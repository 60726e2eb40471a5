//! The stable FFI contract between a CrossWatch-style host and its provider plugins.
//!
//! The contract is deliberately a thin, frozen *typed shell* around extensible JSON payloads:
//! the shell (root module, provider traits, error and batch types) is checked by `abi_stable`
//! at load time, while manifests, capabilities, configs, items and reports travel as JSON so
//! they can grow without breaking either side. Their shapes are typed in [`payload`] (serde
//! types, not part of the ABI), which both sides read and write them through.
//!
//! Growth rules:
//! - New root-module entry points are appended *below* the `#[sabi(last_prefix_field)]` marker
//!   of [`PluginMod`]; hosts read them through the generated `Option`-returning accessors, so
//!   an older host keeps loading a newer plugin.
//! - The `#[sabi_trait]` provider traits are frozen: new behaviour goes into JSON payloads or
//!   into a new trait opened from a new root-module field.
//!
//! Every entry point of a plugin must run inside [`guard`]: `abi_stable` aborts the whole host
//! process on a panic that unwinds out of an `extern "C"` function or a `#[sabi_trait]` method.
#![allow(non_camel_case_types, non_local_definitions)]

pub mod payload;

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RBox, RResult, RStr, RString, RVec},
    StableAbi,
};

/// Semantic version of the JSON payload conventions carried by this contract (manifest,
/// config, items, reports). The typed shell itself is versioned by this crate's package
/// version, which `abi_stable` checks at load time.
pub const CONTRACT_VERSION: &str = "1.0";

/// Why a call failed, as a stable numeric code.
///
/// A plain integer rather than an enum: an enum discriminant the host does not know would be
/// undefined behaviour, an unknown number is just [`ErrorCode::name`] `"unknown"`.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// The provider is a read-only source: writes are refused and never reach the service.
    pub const READ_ONLY: Self = Self(1);
    /// The configuration is missing a required value or has one of the wrong shape.
    pub const CONFIG_INVALID: Self = Self(2);
    /// The service rejected the credentials (for Tautulli: a wrong API key).
    pub const AUTH_FAILED: Self = Self(3);
    /// The service could not be reached: refused connection, DNS, TLS or timeout.
    pub const UNREACHABLE: Self = Self(4);
    /// The service answered something that is not what its API promises.
    pub const BAD_RESPONSE: Self = Self(5);
    /// The provider does not offer the requested feature.
    pub const UNSUPPORTED_FEATURE: Self = Self(6);
    /// A bug inside the plugin (including a caught panic).
    pub const INTERNAL: Self = Self(7);

    /// Every code this version of the contract defines.
    pub const ALL: [Self; 7] = [
        Self::READ_ONLY,
        Self::CONFIG_INVALID,
        Self::AUTH_FAILED,
        Self::UNREACHABLE,
        Self::BAD_RESPONSE,
        Self::UNSUPPORTED_FEATURE,
        Self::INTERNAL,
    ];

    /// The snake_case name the engine uses for this code (`read_only`, `auth_failed`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::READ_ONLY => "read_only",
            Self::CONFIG_INVALID => "config_invalid",
            Self::AUTH_FAILED => "auth_failed",
            Self::UNREACHABLE => "unreachable",
            Self::BAD_RESPONSE => "bad_response",
            Self::UNSUPPORTED_FEATURE => "unsupported_feature",
            Self::INTERNAL => "internal",
            _ => "unknown",
        }
    }

    /// The inverse of [`ErrorCode::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error as it crosses the boundary: a code and a human message.
///
/// The message must never contain secrets (API keys); plugins redact before building it.
#[repr(C)]
#[derive(StableAbi, Clone, PartialEq, Eq)]
pub struct PluginError {
    pub code: ErrorCode,
    pub message: RString,
}

impl PluginError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: RString::from(message.into()),
        }
    }
}

impl fmt::Debug for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PluginError({}: {})", self.code, self.message)
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for PluginError {}

/// The result type of every fallible contract call.
pub type PluginResult<T> = RResult<T, PluginError>;

/// Runs `f`, turning a panic into an [`ErrorCode::INTERNAL`] error instead of letting it
/// unwind across the FFI boundary (where `abi_stable` would end the host process).
pub fn guard<T>(f: impl FnOnce() -> Result<T, PluginError>) -> PluginResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => RResult::ROk(v),
        Ok(Err(e)) => RResult::RErr(e),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_string());
            RResult::RErr(PluginError::new(
                ErrorCode::INTERNAL,
                format!("plugin panicked: {what}"),
            ))
        }
    }
}

/// One canonical key and its item (a JSON object in the engine's item shape).
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub key: RString,
    pub item_json: RString,
}

/// How far an index read has come, for a progress display.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq, Default)]
pub struct Progress {
    /// What is being done now: `history`, `metadata` or `emit`.
    pub phase: RString,
    /// Units done in this phase (rows read, lookups made, items emitted).
    pub done: u64,
    /// Units expected in this phase; 0 when not known yet.
    pub total: u64,
}

/// One step of an index read: some progress and, once reading is over, a bounded batch of
/// entries. `done` is set on the last step; the report is then available.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq, Default)]
pub struct IndexStep {
    pub progress: Progress,
    pub entries: RVec<IndexEntry>,
    pub done: bool,
}

/// A running index read. The host calls `next` until a step says `done`, then asks `report`
/// (JSON, [`payload::IndexReport`]: pages, rows, items, skipped by reason, unresolved,
/// metadata calls, `complete`, `semantics` of `present` or `delta`). Dropping the cursor
/// cancels the read.
#[sabi_trait]
pub trait IndexCursor: Send {
    fn next(&mut self) -> PluginResult<IndexStep>;

    #[sabi(last_prefix_field)]
    fn report(&self) -> PluginResult<RString>;
}

/// An owned, type-erased [`IndexCursor`].
pub type IndexCursorBox = IndexCursor_TO<'static, RBox<()>>;

/// The provider surface of a sync source or target (the engine's module interface).
///
/// JSON payloads: `features` `{"history":true,...}`; `capabilities` as in the engine;
/// `manifest` `{name,label,version,type,bidirectional,features,requires,capabilities,
/// description}`; `health` `{ok,status,latency_ms,details?}`; `index` options
/// `{checkpoint,clear_metadata_cache,dry_run,reset_checkpoint}`; `add`/`remove` take a JSON array of items and answer the engine's write
/// result map (`ok`, `count`, `confirmed_keys`, ...). Each is typed in [`payload`].
#[sabi_trait]
pub trait SourceProvider: Send {
    fn name(&self) -> PluginResult<RString>;
    fn label(&self) -> PluginResult<RString>;
    fn features(&self) -> PluginResult<RString>;
    fn capabilities(&self) -> PluginResult<RString>;
    fn manifest(&self) -> PluginResult<RString>;
    fn health(&mut self) -> PluginResult<RString>;
    fn index(&mut self, feature: RStr<'_>, options_json: RStr<'_>) -> PluginResult<IndexCursorBox>;
    fn add(
        &mut self,
        feature: RStr<'_>,
        items_json: RStr<'_>,
        dry_run: bool,
    ) -> PluginResult<RString>;

    #[sabi(last_prefix_field)]
    fn remove(
        &mut self,
        feature: RStr<'_>,
        items_json: RStr<'_>,
        dry_run: bool,
    ) -> PluginResult<RString>;
}

/// An owned, type-erased [`SourceProvider`].
pub type SourceProviderBox = SourceProvider_TO<'static, RBox<()>>;

/// The collection-analytics provider (added in contract 0.1.1): a local copy of the
/// source's history, per-collection statistics with snapshots, and charts.
///
/// Every call takes and answers JSON: `sync` `{}` -> sync report; `collect`
/// `{"rotation": name?, "now": epoch?}` -> collect report; `query`
/// `{"query": "latest"|"history"|"top"|"rotation"|"diff"|"collections", ...}` -> rows;
/// `chart` `{"kind", "days", "tz"?, "now"?, "top"?}` -> `{kind, title, x_label, y_label,
/// categories, series: [{name, data}], timezone, window, notes}`. Each is typed in
/// [`payload`].
#[sabi_trait]
pub trait AnalyticsProvider: Send {
    fn sync(&mut self, options_json: RStr<'_>) -> PluginResult<RString>;
    fn collect(&mut self, options_json: RStr<'_>) -> PluginResult<RString>;
    fn query(&mut self, request_json: RStr<'_>) -> PluginResult<RString>;

    #[sabi(last_prefix_field)]
    fn chart(&mut self, request_json: RStr<'_>) -> PluginResult<RString>;
}

/// An owned, type-erased [`AnalyticsProvider`].
pub type AnalyticsProviderBox = AnalyticsProvider_TO<'static, RBox<()>>;

/// The root module a plugin exports with `#[export_root_module]`.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginMod_Ref)))]
#[sabi(missing_field(option))]
pub struct PluginMod {
    /// [`CONTRACT_VERSION`] as the plugin was built.
    pub contract_version: extern "C" fn() -> RString,
    /// The plugin manifest (JSON), available without a config.
    pub manifest: extern "C" fn() -> PluginResult<RString>,
    /// Opens the source provider from the engine's config (JSON, the whole config: the
    /// plugin reads its own block) and an instance id (`""` for the base block).
    #[sabi(last_prefix_field)]
    pub open_source:
        extern "C" fn(config_json: RStr<'_>, instance: RStr<'_>) -> PluginResult<SourceProviderBox>,
    /// Added in 0.1.1, below the prefix marker: hosts read it as an `Option` (absent in
    /// plugins built on 0.1.0), and hosts built on 0.1.0 ignore it.
    pub open_analytics: extern "C" fn(
        config_json: RStr<'_>,
        instance: RStr<'_>,
    ) -> PluginResult<AnalyticsProviderBox>,
}

impl RootModule for PluginMod_Ref {
    declare_root_module_statics! {PluginMod_Ref}
    const BASE_NAME: &'static str = "tautulli_plugin";
    const NAME: &'static str = "crosswatch provider plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_names_round_trip() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_name(code.name()), Some(code));
        }
        assert_eq!(ErrorCode(999).name(), "unknown");
        assert_eq!(ErrorCode::from_name("unknown"), None);
    }

    #[test]
    fn guard_turns_a_panic_into_internal() {
        let r: PluginResult<u8> = guard(|| panic!("boom {}", 42));
        match r {
            RResult::RErr(e) => {
                assert_eq!(e.code, ErrorCode::INTERNAL);
                assert!(e.message.contains("boom 42"), "{e}");
            }
            RResult::ROk(_) => panic!("expected an error"),
        }
    }

    #[test]
    fn guard_passes_values_and_errors_through() {
        assert_eq!(guard(|| Ok(7)).unwrap(), 7);
        let e = guard::<u8>(|| Err(PluginError::new(ErrorCode::READ_ONLY, "no"))).unwrap_err();
        assert_eq!(e.code, ErrorCode::READ_ONLY);
    }
}
