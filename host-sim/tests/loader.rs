//! Loading plugins through the contract: incompatible plugins are refused with a clear error,
//! and a plugin that panics cannot take the host down.

use crate::testutil;
use abi_stable::library::RootModule;
use abi_stable::std_types::RStr;
use crosswatch_contract::{ErrorCode, PluginMod_Ref, PluginResult};
use host_sim::HostError;
use host_sim::Plugin;

#[test]
fn incompatible_plugin_is_refused_naming_what_differs() {
    let path = testutil::cdylib("test_plugin_incompatible");
    let err = Plugin::load(&path).err().expect("must be refused");
    let text = err.to_string();
    assert!(
        matches!(err, HostError::PluginIncompatible { .. }),
        "{text}"
    );
    // It names what differs, briefly, instead of dumping both type trees.
    assert!(text.contains("mismatched package"), "{text}");
    assert!(text.contains("test-plugin-incompatible"), "{text}");
    assert!(text.contains("api_level"), "{text}");
    assert!(
        text.len() < 600,
        "error should be short, got {} bytes",
        text.len()
    );
}

/// The real file: the panics unwind inside the `.so` (its own std) and are caught there, so
/// the host gets `internal` errors and lives on.
#[test]
fn panicking_plugin_reports_internal_and_the_host_survives() {
    let path = testutil::cdylib("test_plugin_panicking");
    let plugin = Plugin::load(&path).expect("loads: its layout is the real contract");
    let err = plugin.manifest().unwrap_err();
    assert_eq!(err.plugin_code(), Some(ErrorCode::INTERNAL), "{err}");
    assert!(err.to_string().contains("manifest exploded"), "{err}");

    let mut source = plugin
        .open_source(&serde_json::json!({}), "")
        .expect("open_source itself does not panic");
    let checks: Vec<(&str, HostError)> = vec![
        ("name", source.name().unwrap_err()),
        ("label", source.label().unwrap_err()),
        ("features", source.features().unwrap_err()),
        ("capabilities", source.capabilities().unwrap_err()),
        ("health", source.health().unwrap_err()),
        (
            "index",
            source
                .index("history", &serde_json::json!({}))
                .err()
                .unwrap(),
        ),
        (
            "add",
            source
                .add("history", &serde_json::json!([]), false)
                .unwrap_err(),
        ),
        (
            "remove",
            source
                .remove("history", &serde_json::json!([]), true)
                .unwrap_err(),
        ),
    ];
    for (what, err) in checks {
        assert_eq!(
            err.plugin_code(),
            Some(ErrorCode::INTERNAL),
            "{what}: {err}"
        );
        assert!(
            err.to_string().contains(&format!("{what} exploded")),
            "{what}: {err}"
        );
    }
    // Still alive, and still answering.
    assert!(source.name().is_err());
}

/// In-process, where the file is not the point: every entry point of the panicking plugin's
/// root module, linked into this test binary and handed to abi_stable with
/// `load_module_with`, returns the `guard`ed panic as an `internal` error, the ones host-sim
/// does not call (`open_analytics`, the provider's own `manifest`) included.
#[test]
fn every_panicking_entry_point_returns_internal_in_process() {
    let module = PluginMod_Ref::load_module_with(|| {
        Ok::<_, std::convert::Infallible>(test_plugin_panicking::get_library())
    })
    .unwrap();
    fn internal<T>(what: &str, result: PluginResult<T>) {
        let err = result.into_result().err().expect(what);
        assert_eq!(err.code, ErrorCode::INTERNAL, "{what}: {err}");
        assert_eq!(
            err.message.as_str(),
            format!("plugin panicked: {what} exploded"),
            "{what}"
        );
    }
    internal("manifest", module.manifest()());
    let open_analytics = module.open_analytics().expect("0.1.1 root module");
    internal(
        "open_analytics",
        open_analytics(RStr::from_str("{}"), RStr::from_str("")),
    );

    let mut source = module.open_source()(RStr::from_str("{}"), RStr::from_str(""))
        .into_result()
        .expect("open_source itself does not panic");
    internal("name", source.name());
    internal("label", source.label());
    internal("features", source.features());
    internal("capabilities", source.capabilities());
    internal("manifest", source.manifest());
    internal("health", source.health());
    let history = RStr::from_str("history");
    internal("index", source.index(history, RStr::from_str("{}")));
    internal("add", source.add(history, RStr::from_str("[]"), false));
    internal("remove", source.remove(history, RStr::from_str("[]"), true));
}

#[test]
fn missing_plugin_file_is_a_load_error() {
    let err = Plugin::load(std::path::Path::new("/nonexistent/libtautulli_plugin.so"))
        .err()
        .unwrap();
    assert!(matches!(err, HostError::PluginLoad { .. }), "{err}");
    assert!(err.to_string().contains("--plugin"), "{err}");
}
