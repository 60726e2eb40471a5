//! A plugin whose every entry point panics, to prove that panics are caught at the boundary
//! (by `crosswatch_contract::guard`) and reach the host as `internal` errors instead of
//! ending the host process.
//!
//! Its panics are deliberate and must print nothing in a passing test run; an unexpected panic
//! in this file (a bug in the test plugin itself) still prints as usual.
#![allow(non_local_definitions)]
#![forbid(unsafe_code)]

use abi_stable::{
    export_root_module,
    prefix_type::PrefixTypeTrait,
    sabi_extern_fn,
    std_types::{RStr, RString},
};
use crosswatch_contract::{
    guard, AnalyticsProviderBox, IndexCursorBox, PluginError, PluginMod, PluginMod_Ref,
    PluginResult, SourceProvider, SourceProviderBox, SourceProvider_TO, CONTRACT_VERSION,
};

/// Public so tests can also take the module in-process (`RootModule::load_module_with`)
/// where the real file is not the point.
#[export_root_module]
pub fn get_library() -> PluginMod_Ref {
    PluginMod {
        contract_version,
        manifest,
        open_source,
        open_analytics,
    }
    .leak_into_prefix()
}

#[sabi_extern_fn]
fn contract_version() -> RString {
    CONTRACT_VERSION.into()
}

#[sabi_extern_fn]
fn manifest() -> PluginResult<RString> {
    guard(|| boom("manifest"))
}

#[sabi_extern_fn]
fn open_source(_config: RStr<'_>, _instance: RStr<'_>) -> PluginResult<SourceProviderBox> {
    guard(|| {
        Ok(SourceProvider_TO::from_value(
            Panicker,
            abi_stable::sabi_trait::TD_Opaque,
        ))
    })
}

#[sabi_extern_fn]
fn open_analytics(_config: RStr<'_>, _instance: RStr<'_>) -> PluginResult<AnalyticsProviderBox> {
    guard(|| boom("open_analytics"))
}

struct Panicker;

/// The deliberate panic of every entry point. `resume_unwind` unwinds like `panic!` (the
/// contract's `guard` catches both alike) but skips the panic hook, which in this `.so` is its
/// own std's default hook writing straight to stderr, past the test harness's capture.
fn boom<T>(what: &str) -> Result<T, PluginError> {
    std::panic::resume_unwind(Box::new(format!("{what} exploded")))
}

impl SourceProvider for Panicker {
    fn name(&self) -> PluginResult<RString> {
        guard(|| boom("name"))
    }
    fn label(&self) -> PluginResult<RString> {
        guard(|| boom("label"))
    }
    fn features(&self) -> PluginResult<RString> {
        guard(|| boom("features"))
    }
    fn capabilities(&self) -> PluginResult<RString> {
        guard(|| boom("capabilities"))
    }
    fn manifest(&self) -> PluginResult<RString> {
        guard(|| boom("manifest"))
    }
    fn health(&mut self) -> PluginResult<RString> {
        guard(|| boom("health"))
    }
    fn index(&mut self, _: RStr<'_>, _: RStr<'_>) -> PluginResult<IndexCursorBox> {
        guard(|| boom("index"))
    }
    fn add(&mut self, _: RStr<'_>, _: RStr<'_>, _: bool) -> PluginResult<RString> {
        guard(|| boom("add"))
    }
    fn remove(&mut self, _: RStr<'_>, _: RStr<'_>, _: bool) -> PluginResult<RString> {
        guard(|| boom("remove"))
    }
}
