//! Loading plugins through the contract: incompatible plugins are refused with a clear error,
//! and a plugin that panics cannot take the host down.

mod common;

use crosswatch_contract::ErrorCode;
use host_sim::HostError;
use host_sim::Plugin;

#[test]
fn incompatible_plugin_is_refused_naming_what_differs() {
    let path = common::cdylib("test-plugin-incompatible");
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

#[test]
fn panicking_plugin_reports_internal_and_the_host_survives() {
    let path = common::cdylib("test-plugin-panicking");
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

#[test]
fn missing_plugin_file_is_a_load_error() {
    let err = Plugin::load(std::path::Path::new("/nonexistent/libtautulli_plugin.so"))
        .err()
        .unwrap();
    assert!(matches!(err, HostError::PluginLoad { .. }), "{err}");
    assert!(err.to_string().contains("--plugin"), "{err}");
}
