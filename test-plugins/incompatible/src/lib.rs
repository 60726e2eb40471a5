//! A plugin built against an incompatible contract: its root module has the contract's name
//! but a different layout (`open_source` takes one argument, and a field was inserted before
//! the prefix marker), as a plugin compiled against a diverged copy of the contract would.
//! Hosts must refuse it at load time with an error naming what differs.
#![allow(non_camel_case_types, non_local_definitions)]
#![forbid(unsafe_code)]

use abi_stable::{
    declare_root_module_statics, export_root_module,
    library::RootModule,
    package_version_strings,
    prefix_type::PrefixTypeTrait,
    sabi_extern_fn,
    sabi_types::VersionStrings,
    std_types::{RStr, RString},
    StableAbi,
};

/// The diverged root module (compare `crosswatch_contract::PluginMod`).
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginMod_Ref)))]
#[sabi(missing_field(option))]
pub struct PluginMod {
    pub contract_version: extern "C" fn() -> RString,
    pub manifest: extern "C" fn() -> RString,
    pub api_level: u64,
    #[sabi(last_prefix_field)]
    pub open_source: extern "C" fn(config_json: RStr<'_>) -> RString,
}

impl RootModule for PluginMod_Ref {
    declare_root_module_statics! {PluginMod_Ref}
    const BASE_NAME: &'static str = "tautulli_plugin";
    const NAME: &'static str = "crosswatch provider plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

#[export_root_module]
fn get_library() -> PluginMod_Ref {
    PluginMod {
        contract_version,
        manifest,
        api_level: 2,
        open_source,
    }
    .leak_into_prefix()
}

#[sabi_extern_fn]
fn contract_version() -> RString {
    "2.0".into()
}

#[sabi_extern_fn]
fn manifest() -> RString {
    "{}".into()
}

#[sabi_extern_fn]
fn open_source(_config: RStr<'_>) -> RString {
    RString::new()
}
