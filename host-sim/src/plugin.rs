//! Loading a provider plugin from a file through the contract, and typed wrappers over its
//! JSON-carrying surface: every answer is read by [`call`] into the contract's payload type
//! ([`crosswatch_contract::payload`]). The host never links the plugin's Rust code.

use std::ops::Deref;
use std::path::{Path, PathBuf};

use abi_stable::library::{lib_header_from_path, LibraryError, RootModule};
use abi_stable::std_types::{RResult, RStr, RString};
use crosswatch_contract::payload::{
    self, Capabilities, Chart, ChartRequest, CollectReport, CollectRequest, Features, Health,
    IndexReport, Manifest, QueryAnswer, QueryRequest, SyncReport, SyncRequest, WriteResult,
};
use crosswatch_contract::{
    AnalyticsProviderBox, IndexCursorBox, IndexEntry, PluginMod_Ref, PluginResult, Progress,
    SourceProviderBox, CONTRACT_VERSION,
};
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::error::{HostError, Result};

/// The plugin file name on this platform (`libtautulli_plugin.so` on Linux).
pub fn default_file_name() -> String {
    let dir = Path::new("");
    PluginMod_Ref::get_library_path(dir)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "libtautulli_plugin.so".into())
}

/// Where the host looks when no `--plugin` is given: next to its own executable.
pub fn default_path() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|e| HostError::io("cannot locate host-sim", e))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    Ok(dir.join(default_file_name()))
}

/// A loaded plugin's root module.
pub struct Plugin {
    module: PluginMod_Ref,
    path: PathBuf,
}

impl Plugin {
    /// Loads the plugin at `path`, refusing one built against an incompatible contract.
    ///
    /// Uses `lib_header_from_path` rather than `load_from_file`, which caches one module per
    /// process and would silently hand back the first plugin loaded.
    pub fn load(path: &Path) -> Result<Plugin> {
        if !path.is_file() {
            return Err(HostError::PluginLoad {
                path: path.to_owned(),
                reason: "no such file".into(),
            });
        }
        let header = lib_header_from_path(path).map_err(|e| HostError::PluginLoad {
            path: path.to_owned(),
            reason: summarize_library_error(&e),
        })?;
        let module = header
            .init_root_module::<PluginMod_Ref>()
            .map_err(|e| match e {
                LibraryError::OpenError { .. } | LibraryError::GetSymbolError { .. } => {
                    HostError::PluginLoad {
                        path: path.to_owned(),
                        reason: summarize_library_error(&e),
                    }
                }
                other => HostError::PluginIncompatible {
                    path: path.to_owned(),
                    reason: summarize_library_error(&other),
                },
            })?;
        let plugin_version = (module.contract_version())().to_string();
        if major(&plugin_version) != major(CONTRACT_VERSION) {
            return Err(HostError::PluginIncompatible {
                path: path.to_owned(),
                reason: format!(
                    "plugin speaks contract payload version {plugin_version}, this host {CONTRACT_VERSION}"
                ),
            });
        }
        Ok(Plugin {
            module,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The payload version the plugin was built with.
    pub fn contract_version(&self) -> String {
        (self.module.contract_version())().to_string()
    }

    /// The manifest, available without a config.
    pub fn manifest(&self) -> Result<Answer<Manifest>> {
        call(self.module.manifest()(), "manifest")
    }

    /// Opens the analytics provider. Plugins built before contract 0.1.1 lack it: that is a
    /// clear error, not a crash.
    pub fn open_analytics(&self, config: &Value, instance: &str) -> Result<Analytics> {
        let open = self.module.open_analytics().ok_or_else(|| {
            HostError::UnsupportedFeature(format!(
                "the plugin {} has no analytics provider (built before contract 0.1.1)",
                self.path.display()
            ))
        })?;
        let text = config.to_string();
        let provider = into(open(RStr::from_str(&text), RStr::from_str(instance)))?;
        Ok(Analytics { provider })
    }

    /// Opens the source provider with the whole engine config and an instance id.
    pub fn open_source(&self, config: &Value, instance: &str) -> Result<Source> {
        let text = config.to_string();
        let provider = into((self.module.open_source())(
            RStr::from_str(&text),
            RStr::from_str(instance),
        ))?;
        Ok(Source { provider })
    }
}

fn major(v: &str) -> &str {
    v.split('.').next().unwrap_or(v)
}

/// abi_stable's layout errors print both whole type trees; keep what differs: its own
/// `Error:/Expected:/Found:` verdicts and the root-module fields on each side.
fn summarize_library_error(e: &LibraryError) -> String {
    summarize_abi_text(&e.to_string())
}

fn summarize_abi_text(full: &str) -> String {
    let lines: Vec<&str> = full
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut parts = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some(what) = l.strip_prefix("Error:") {
            let after = |label: &str| {
                lines[i..]
                    .iter()
                    .position(|x| *x == label)
                    .and_then(|p| lines.get(i + p + 1))
                    .copied()
                    .unwrap_or("?")
            };
            parts.push(format!(
                "{} (expected `{}`, found `{}`)",
                what.trim(),
                after("Expected:"),
                after("Found:")
            ));
        }
    }
    let fields_after = |marker: &str| -> Option<String> {
        let start = lines.iter().position(|l| *l == marker)?;
        let rest = &lines[start + 1..];
        let end = rest
            .iter()
            .position(|l| l.starts_with("Layout of ") || l.starts_with("Error:"))
            .unwrap_or(rest.len());
        let names: Vec<&str> = rest[..end]
            .iter()
            .filter_map(|l| l.strip_prefix("field_name:"))
            .filter(|n| n.parse::<u32>().is_err())
            .collect();
        (!names.is_empty()).then(|| names.join(", "))
    };
    if let (Some(exp), Some(found)) = (
        fields_after("Layout of expected type:"),
        fields_after("Layout of found type:"),
    ) {
        if exp != found {
            parts.push(format!(
                "root module fields differ: host expects [{exp}], plugin has [{found}]"
            ));
        }
    }
    if parts.is_empty() {
        full.lines().take(8).collect::<Vec<_>>().join(" / ")
    } else {
        parts.join("; ")
    }
}

fn into<T>(r: PluginResult<T>) -> Result<T> {
    match r {
        RResult::ROk(v) => Ok(v),
        RResult::RErr(e) => Err(e.into()),
    }
}

/// A plugin's answer: the typed payload the host reads (through `Deref`), and the JSON as
/// the plugin sent it, which the host echoes (`--json`, the pair results, the Tracker's
/// files) byte for byte, whichever fields this host knows.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    json: Value,
    typed: T,
}

impl<T> Answer<T> {
    /// The answer as the plugin sent it.
    pub fn json(&self) -> &Value {
        &self.json
    }

    pub fn into_json(self) -> Value {
        self.json
    }
}

impl<T> Deref for Answer<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.typed
    }
}

/// Serialises as sent.
impl<T> Serialize for Answer<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

/// The one typed call: the plugin's JSON answer (`what`, for errors) read into its contract
/// payload. A field of the wrong type is a protocol error naming it, never a default.
fn call<T: DeserializeOwned>(
    answer: PluginResult<RString>,
    what: &'static str,
) -> Result<Answer<T>> {
    let text = into(answer)?;
    let protocol = |reason: String| HostError::Protocol { what, reason };
    let json: Value = serde_json::from_str(&text).map_err(|e| protocol(e.to_string()))?;
    let typed = payload::from_value(json.clone()).map_err(|e| protocol(e.to_string()))?;
    Ok(Answer { json, typed })
}

/// A request as JSON, keys sorted (as hosts have always sent them).
fn request(v: &impl Serialize) -> String {
    serde_json::to_value(v)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| "{}".into())
}

/// An open source provider.
pub struct Source {
    provider: SourceProviderBox,
}

impl Source {
    pub fn name(&self) -> Result<String> {
        Ok(into(self.provider.name())?.into())
    }
    pub fn label(&self) -> Result<String> {
        Ok(into(self.provider.label())?.into())
    }
    pub fn features(&self) -> Result<Answer<Features>> {
        call(self.provider.features(), "features")
    }
    pub fn capabilities(&self) -> Result<Answer<Capabilities>> {
        call(self.provider.capabilities(), "capabilities")
    }
    pub fn manifest(&self) -> Result<Answer<Manifest>> {
        call(self.provider.manifest(), "manifest")
    }
    pub fn health(&mut self) -> Result<Answer<Health>> {
        call(self.provider.health(), "health")
    }
    /// Starts an index read with [`payload::IndexOptions`] (or any JSON object); drive it
    /// with [`Cursor::step`].
    pub fn index(&mut self, feature: &str, options: &impl Serialize) -> Result<Cursor> {
        let opts = request(options);
        let cursor = into(
            self.provider
                .index(RStr::from_str(feature), RStr::from_str(&opts)),
        )?;
        Ok(Cursor { cursor })
    }
    pub fn add(
        &mut self,
        feature: &str,
        items: &Value,
        dry_run: bool,
    ) -> Result<Answer<WriteResult>> {
        let text = items.to_string();
        call(
            self.provider
                .add(RStr::from_str(feature), RStr::from_str(&text), dry_run),
            "add result",
        )
    }
    pub fn remove(
        &mut self,
        feature: &str,
        items: &Value,
        dry_run: bool,
    ) -> Result<Answer<WriteResult>> {
        let text = items.to_string();
        call(
            self.provider
                .remove(RStr::from_str(feature), RStr::from_str(&text), dry_run),
            "remove result",
        )
    }
}

/// One step of an index read, in host types.
pub struct Step {
    pub progress: Progress,
    pub entries: Vec<IndexEntry>,
    pub done: bool,
}

/// A running index read.
pub struct Cursor {
    cursor: IndexCursorBox,
}

impl Cursor {
    pub fn step(&mut self) -> Result<Step> {
        let step = into(self.cursor.next())?;
        Ok(Step {
            progress: step.progress,
            entries: step.entries.into_vec(),
            done: step.done,
        })
    }
    pub fn report(&self) -> Result<Answer<IndexReport>> {
        call(self.cursor.report(), "index report")
    }
}

/// An open analytics provider: typed requests, typed answers.
pub struct Analytics {
    provider: AnalyticsProviderBox,
}

impl Analytics {
    pub fn sync(&mut self) -> Result<Answer<SyncReport>> {
        let text = request(&SyncRequest {});
        call(self.provider.sync(RStr::from_str(&text)), "sync report")
    }
    pub fn collect(&mut self, req: &CollectRequest) -> Result<Answer<CollectReport>> {
        let text = request(req);
        call(
            self.provider.collect(RStr::from_str(&text)),
            "collect report",
        )
    }
    pub fn query(&mut self, req: &QueryRequest) -> Result<Answer<QueryAnswer>> {
        let text = request(req);
        call(self.provider.query(RStr::from_str(&text)), "query answer")
    }
    pub fn chart(&mut self, req: &ChartRequest) -> Result<Answer<Chart>> {
        let text = request(req);
        call(self.provider.chart(RStr::from_str(&text)), "chart")
    }
}
