//! The plugin's side of the contract: the exported root module and the `#[sabi_trait]`
//! implementations. Every entry point runs inside [`guard`], so a panic becomes an
//! `internal` error instead of ending the host process.

use abi_stable::{
    export_root_module,
    prefix_type::PrefixTypeTrait,
    sabi_extern_fn,
    sabi_trait::TD_Opaque,
    std_types::{RStr, RString, RVec},
};
use crosswatch_contract::{
    guard, AnalyticsProvider, AnalyticsProviderBox, AnalyticsProvider_TO, IndexCursor,
    IndexCursorBox, IndexCursor_TO, IndexEntry, IndexStep, PluginError, PluginMod, PluginMod_Ref,
    PluginResult, Progress, SourceProvider, SourceProviderBox, SourceProvider_TO, CONTRACT_VERSION,
};

use crate::analytics::service::AnalyticsService;
use crate::error::Error;
use crate::index::cursor::{HistoryCursor, Step};
use crate::provider::{self, TautulliSource};

#[export_root_module]
fn get_library() -> PluginMod_Ref {
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
    guard(|| Ok(provider::manifest().to_string().into()))
}

#[sabi_extern_fn]
fn open_source(config_json: RStr<'_>, instance: RStr<'_>) -> PluginResult<SourceProviderBox> {
    guard(|| {
        let source = TautulliSource::open(config_json.as_str(), instance.as_str())?;
        Ok(SourceProvider_TO::from_value(Source(source), TD_Opaque))
    })
}

#[sabi_extern_fn]
fn open_analytics(config_json: RStr<'_>, instance: RStr<'_>) -> PluginResult<AnalyticsProviderBox> {
    guard(|| {
        let service = AnalyticsService::open(config_json.as_str(), instance.as_str())?;
        Ok(AnalyticsProvider_TO::from_value(
            Analytics(service),
            TD_Opaque,
        ))
    })
}

/// The provider behind the contract.
struct Source(TautulliSource);

fn text(v: serde_json::Value) -> Result<RString, PluginError> {
    Ok(v.to_string().into())
}

impl SourceProvider for Source {
    fn name(&self) -> PluginResult<RString> {
        guard(|| Ok(provider::NAME.into()))
    }
    fn label(&self) -> PluginResult<RString> {
        guard(|| Ok(provider::LABEL.into()))
    }
    fn features(&self) -> PluginResult<RString> {
        guard(|| text(provider::features()))
    }
    fn capabilities(&self) -> PluginResult<RString> {
        guard(|| text(provider::capabilities()))
    }
    fn manifest(&self) -> PluginResult<RString> {
        guard(|| text(provider::manifest()))
    }
    fn health(&mut self) -> PluginResult<RString> {
        guard(|| text(self.0.health()))
    }
    fn index(&mut self, feature: RStr<'_>, options_json: RStr<'_>) -> PluginResult<IndexCursorBox> {
        guard(|| {
            let cursor = self.0.index(feature.as_str(), options_json.as_str())?;
            Ok(IndexCursor_TO::from_value(Cursor(cursor), TD_Opaque))
        })
    }
    fn add(
        &mut self,
        feature: RStr<'_>,
        _items: RStr<'_>,
        _dry_run: bool,
    ) -> PluginResult<RString> {
        guard(|| Ok(self.0.write(feature.as_str())?.into()))
    }
    fn remove(
        &mut self,
        feature: RStr<'_>,
        _items: RStr<'_>,
        _dry_run: bool,
    ) -> PluginResult<RString> {
        guard(|| Ok(self.0.write(feature.as_str())?.into()))
    }
}

/// A running index read behind the contract.
struct Cursor(HistoryCursor);

impl IndexCursor for Cursor {
    fn next(&mut self) -> PluginResult<IndexStep> {
        guard(|| {
            let Step {
                phase,
                done_units,
                total_units,
                entries,
                done,
            } = self.0.step()?;
            Ok(IndexStep {
                progress: Progress {
                    phase: phase.into(),
                    done: done_units,
                    total: total_units,
                },
                entries: entries
                    .into_iter()
                    .map(|(key, item_json)| IndexEntry {
                        key: key.into(),
                        item_json: item_json.into(),
                    })
                    .collect::<RVec<_>>(),
                done,
            })
        })
    }
    fn report(&self) -> PluginResult<RString> {
        guard(|| Ok(self.0.report_json().into()))
    }
}

/// The analytics provider behind the contract: JSON in, JSON out.
struct Analytics(AnalyticsService);

fn parse_request(what: &str, text: RStr<'_>) -> Result<serde_json::Value, PluginError> {
    let t = text.as_str().trim();
    let v: serde_json::Value = if t.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_str(t).map_err(|e| Error::ConfigInvalid {
            key: format!("({what} request)"),
            reason: format!("not valid JSON: {e}"),
        })?
    };
    if v.is_object() {
        Ok(v)
    } else {
        Err(Error::ConfigInvalid {
            key: format!("({what} request)"),
            reason: format!("expected a JSON object, found {v}"),
        }
        .into())
    }
}

fn to_text<T: serde::Serialize>(v: &T) -> Result<RString, PluginError> {
    serde_json::to_string(v).map(RString::from).map_err(|e| {
        Error::Internal {
            reason: format!("cannot encode answer: {e}"),
        }
        .into()
    })
}

impl AnalyticsProvider for Analytics {
    fn sync(&mut self, options_json: RStr<'_>) -> PluginResult<RString> {
        guard(|| {
            parse_request("sync", options_json)?;
            to_text(&self.0.sync()?)
        })
    }
    fn collect(&mut self, options_json: RStr<'_>) -> PluginResult<RString> {
        guard(|| {
            let req = parse_request("collect", options_json)?;
            let rotation = req
                .get("rotation")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            let now = req.get("now").and_then(|v| v.as_i64());
            to_text(&self.0.collect(rotation, now)?)
        })
    }
    fn query(&mut self, request_json: RStr<'_>) -> PluginResult<RString> {
        guard(|| {
            let req = parse_request("query", request_json)?;
            to_text(&self.0.query(&req)?)
        })
    }
    fn chart(&mut self, request_json: RStr<'_>) -> PluginResult<RString> {
        guard(|| {
            let req = parse_request("chart", request_json)?;
            let kind = req.get("kind").and_then(|v| v.as_str()).unwrap_or("");
            let days = req.get("days").and_then(|v| v.as_u64()).unwrap_or(30) as u32;
            let tz = req.get("tz").and_then(|v| v.as_str());
            let now = req.get("now").and_then(|v| v.as_i64());
            let top = req.get("top").and_then(|v| v.as_u64()).unwrap_or(10) as usize;
            to_text(&self.0.chart(kind, days, tz, now, top)?)
        })
    }
}
