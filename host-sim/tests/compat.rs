//! Contract evolution: a host built against contract 0.1.0 (before `open_analytics` was
//! appended to the root module) still loads today's plugin and uses its source provider.

mod common;

use std::path::Path;
use std::process::Command;

/// Builds `test-hosts/v1-host` (its own workspace, holding a frozen copy of contract 0.1.0)
/// and returns its executable, as cargo reports it.
fn v1_host() -> std::path::PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-hosts/v1-host/Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--locked",
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building v1-host failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .find_map(|m| m["executable"].as_str().map(Into::into))
        .expect("v1-host executable")
}

#[test]
fn a_host_built_on_contract_0_1_0_loads_todays_plugin() {
    let plugin = common::cdylib("tautulli-plugin");
    let host = v1_host();
    let config = r#"{"tautulli":{"server_url":"http://127.0.0.1:9","api_key":"0123456789abcdef0123456789abcdef"}}"#;
    let out = Command::new(&host)
        .arg(&plugin)
        .arg(config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "v1 host refused the plugin:\n{stderr}"
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect(&stdout);
    assert_eq!(v["contract_version"], "1.0");
    assert_eq!(v["manifest_ok"], true);
    assert_eq!(v["source_name"], "TAUTULLI");
}

#[test]
fn todays_host_sees_the_analytics_provider() {
    let plugin = host_sim::Plugin::load(&common::cdylib("tautulli-plugin")).unwrap();
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
