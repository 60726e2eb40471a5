//! Contract evolution: a host built against contract 0.1.0 (before `open_analytics` was
//! appended to the root module) still loads today's plugin and uses its source provider.
//!
//! The old host is this test binary itself: it links the frozen copy of contract 0.1.0
//! (`test-hosts/contract-v1`) and loads the real plugin file through it, as a host compiled
//! against 0.1.0 would. abi_stable checks the layouts the same way in either process.

use abi_stable::library::lib_header_from_path;
use abi_stable::std_types::RStr;
use contract_0_1_0::PluginMod_Ref as PluginModV0_1_0;

use crate::testutil;

#[test]
fn a_host_built_on_contract_0_1_0_loads_todays_plugin() {
    let plugin = testutil::cdylib("tautulli_plugin");
    let module = lib_header_from_path(&plugin)
        .and_then(|h| h.init_root_module::<PluginModV0_1_0>())
        .unwrap_or_else(|e| panic!("a 0.1.0 host refused the plugin: {e}"));
    assert_eq!(module.contract_version()().as_str(), "1.0");
    let manifest = module.manifest()().into_result();
    assert!(manifest.is_ok(), "{manifest:?}");
    let config = r#"{"tautulli":{"server_url":"http://127.0.0.1:9","api_key":"0123456789abcdef0123456789abcdef"}}"#;
    let source = module.open_source()(RStr::from_str(config), RStr::from_str(""))
        .into_result()
        .unwrap_or_else(|e| panic!("open_source through contract 0.1.0: {e}"));
    let name = source.name().into_result().map(|n| n.to_string());
    assert_eq!(name.as_deref(), Ok("TAUTULLI"), "{name:?}");
}

#[test]
fn todays_host_sees_the_analytics_provider() {
    let plugin = host_sim::Plugin::load(&testutil::cdylib("tautulli_plugin")).unwrap();
    // Opening needs a valid config; a bad one must come back as a typed error, which
    // proves the field is present and callable.
    let err = plugin
        .open_analytics(&serde_json::json!({"tautulli": {}}), "")
        .err()
        .expect("an empty tautulli block is invalid");
    assert_eq!(
        err.plugin_code(),
        Some(crosswatch_contract::ErrorCode::CONFIG_INVALID),
        "{err}"
    );
}
