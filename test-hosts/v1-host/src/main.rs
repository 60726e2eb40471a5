//! `v1-host PLUGIN CONFIG_JSON`: loads a plugin the way a host built against contract v0.1.0
//! does, opens its source and prints what it saw as one JSON line. Exit 0 on success.

use abi_stable::library::lib_header_from_path;
use abi_stable::std_types::RStr;
use crosswatch_contract::PluginMod_Ref;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(config)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: v1-host PLUGIN CONFIG_JSON");
        std::process::exit(2);
    };
    let module = match lib_header_from_path(path.as_ref())
        .and_then(|h| h.init_root_module::<PluginMod_Ref>())
    {
        Ok(m) => m,
        Err(e) => {
            eprintln!("refused: {e}");
            std::process::exit(1);
        }
    };
    let version = module.contract_version()();
    let manifest = module.manifest()().into_result();
    let source = module.open_source()(RStr::from_str(config), RStr::from_str(""))
        .into_result()
        .map_err(|e| e.to_string());
    let name = match &source {
        Ok(s) => s.name().into_result().map(|n| n.to_string()).map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    println!(
        "{{\"contract_version\":{:?},\"manifest_ok\":{},\"source_name\":{:?}}}",
        version.as_str(),
        manifest.is_ok(),
        name.unwrap_or_else(|e| format!("error: {e}"))
    );
}
