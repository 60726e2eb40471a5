//! The plugin's side of the contract: the exported root module and the `#[sabi_trait]`
//! implementations. Every entry point runs inside [`guard`], so a panic becomes an
//! `internal` error instead of ending the host process. Requests are read into the
//! contract's typed payloads by [`provider::request`], answers written by [`answer`].

use abi_stable::{
    export_root_module,
    prefix_type::PrefixTypeTrait,
    sabi_extern_fn,
    sabi_trait::TD_Opaque,
    std_types::{RStr, RString, RVec},
};
use crosswatch_contract::payload::{ChartRequest, CollectRequest, QueryRequest, SyncRequest};
use crosswatch_contract::{
    guard, AnalyticsProvider, AnalyticsProviderBox, AnalyticsProvider_TO, IndexCursor,
    IndexCursorBox, IndexCursor_TO, IndexEntry, IndexStep, PluginError, PluginMod, PluginMod_Ref,
    PluginResult, Progress, SourceProvider, SourceProviderBox, SourceProvider_TO, CONTRACT_VERSION,
};

use crate::analytics::AnalyticsService;
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
    guard(|| answer(&provider::manifest()))
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

/// Writes an answer as JSON: a contract payload (declared in the order its bytes always
/// had), or a provider type of the same shape.
fn answer<T: serde::Serialize>(v: &T) -> Result<RString, PluginError> {
    serde_json::to_string(v).map(RString::from).map_err(|e| {
        Error::Internal {
            reason: format!("cannot encode answer: {e}"),
        }
        .into()
    })
}

impl SourceProvider for Source {
    fn name(&self) -> PluginResult<RString> {
        guard(|| Ok(provider::NAME.into()))
    }
    fn label(&self) -> PluginResult<RString> {
        guard(|| Ok(provider::LABEL.into()))
    }
    fn features(&self) -> PluginResult<RString> {
        guard(|| answer(&provider::features()))
    }
    fn capabilities(&self) -> PluginResult<RString> {
        guard(|| answer(&provider::capabilities()))
    }
    fn manifest(&self) -> PluginResult<RString> {
        guard(|| answer(&provider::manifest()))
    }
    fn health(&mut self) -> PluginResult<RString> {
        guard(|| answer(&self.0.health()))
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
    /// The cursor writes its report itself, in the shape of [`payload::IndexReport`].
    ///
    /// [`payload::IndexReport`]: crosswatch_contract::payload::IndexReport
    fn report(&self) -> PluginResult<RString> {
        guard(|| Ok(self.0.report_json().into()))
    }
}

/// The analytics provider behind the contract: typed requests in, JSON answers out.
struct Analytics(AnalyticsService);

impl AnalyticsProvider for Analytics {
    fn sync(&mut self, options_json: RStr<'_>) -> PluginResult<RString> {
        guard(|| {
            let SyncRequest {} = provider::request("sync request", options_json.as_str())?;
            answer(&self.0.sync()?)
        })
    }
    fn collect(&mut self, options_json: RStr<'_>) -> PluginResult<RString> {
        guard(|| {
            let req: CollectRequest = provider::request("collect request", options_json.as_str())?;
            answer(&self.0.collect(req.rotation, req.now)?)
        })
    }
    fn query(&mut self, request_json: RStr<'_>) -> PluginResult<RString> {
        guard(|| {
            let req: QueryRequest = provider::request("query request", request_json.as_str())?;
            answer(&self.0.query(&req.to_value())?)
        })
    }
    fn chart(&mut self, request_json: RStr<'_>) -> PluginResult<RString> {
        guard(|| {
            let req: ChartRequest = provider::request("chart request", request_json.as_str())?;
            let top = req.top() as usize;
            answer(&self.0.chart_on(
                &req.kind,
                req.days(),
                req.tz.as_deref(),
                req.now,
                top,
                req.y_axis.as_deref(),
            )?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crosswatch_contract::payload::{self, SnapshotRow};
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    /// The provider's own answer type reads as the contract's payload without losing or
    /// changing a field.
    fn conforms<Contract: DeserializeOwned + Serialize>(answer: &impl Serialize) {
        let sent = serde_json::to_value(answer).unwrap();
        let read: Contract = payload::from_value(sent.clone()).unwrap();
        assert_eq!(serde_json::to_value(read).unwrap(), sent);
    }

    #[test]
    fn analytics_answers_have_the_contract_shape() {
        // Snapshot rows are the contract's own type; the report that carries them is not.
        let row = SnapshotRow {
            id: 1,
            collection: "C".into(),
            library: "Movies".into(),
            section_id: 2,
            rating_key: 3,
            window_days: 30,
            plays: 4,
            watch_seconds: 5,
            unique_users: 6,
            items_with_plays: 7,
            total_items: 8,
            collected_at: "2026-01-01T00:00:00Z".into(),
            rotation: Some("r".into()),
        };
        conforms::<payload::CollectReport>(&crate::analytics::CollectReport {
            rows: vec![row],
            resolve: Some(Default::default()),
            windows: vec![1, 30],
            ..Default::default()
        });
    }

    #[test]
    fn an_analytics_request_of_the_wrong_type_is_refused_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        // Port 9 (discard) on loopback: a refused request never reaches it.
        let cfg = serde_json::json!({
            "tautulli": {"server_url": "127.0.0.1:9", "api_key": "0123456789abcdef0123456789abcdef"},
            "analytics": {"data_dir": dir.path()}
        });
        let mut a = Analytics(AnalyticsService::open(&cfg.to_string(), "").unwrap());
        let refused = [
            (
                a.chart(RStr::from_str(r#"{"kind": "concurrency", "days": "7"}"#)),
                "days",
            ),
            (
                a.chart(RStr::from_str(r#"{"kind": "concurrency", "top": true}"#)),
                "top",
            ),
            (a.collect(RStr::from_str(r#"{"rotation": 5}"#)), "rotation"),
            (a.query(RStr::from_str(r#"{"query": ["top"]}"#)), "query"),
        ];
        for (answer, field) in refused {
            let e = answer.unwrap_err();
            assert_eq!(
                e.code,
                crosswatch_contract::ErrorCode::CONFIG_INVALID,
                "{e}"
            );
            assert!(e.message.contains(&format!("request).{field}")), "{e}");
        }
        let e = a.sync(RStr::from_str("[]")).unwrap_err();
        assert!(e.message.contains("(sync request)"), "{e}");
        // A chart with the days as a number gets past the request check, to the store,
        // which was never synced: it says so instead of drawing zeros.
        let e = a
            .chart(RStr::from_str(
                r#"{"kind": "concurrency", "days": 7, "now": 0}"#,
            ))
            .unwrap_err();
        assert!(e.message.contains("run `analytics sync` first"), "{e}");
    }

    #[test]
    fn the_manifest_answer_is_the_typed_manifest() {
        let text = answer(&provider::manifest()).unwrap();
        let m: payload::Manifest = payload::decode(&text).unwrap();
        assert_eq!(m, provider::manifest());
    }
}
