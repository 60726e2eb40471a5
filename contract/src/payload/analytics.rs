//! The analytics provider's requests and answers (`AnalyticsProvider`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{from_value, null_default, PayloadError};

/// `sync`: no options yet (an object, reserved so it can grow).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {}

/// `collect`: record a snapshot of every collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CollectRequest {
    /// Compute as of this moment (epoch s) instead of now.
    pub now: Option<i64>,
    /// Tag the snapshots with a rotation (campaign) name.
    pub rotation: Option<String>,
}

/// `query`: one of the provider's stored-data queries by name, with that query's own
/// arguments (e.g. `top` takes `n` and `window_days`), which the provider checks, each
/// error naming its argument.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueryRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(flatten)]
    pub args: Map<String, Value>,
}

impl QueryRequest {
    pub fn new(query: impl Into<String>) -> Self {
        Self {
            query: Some(query.into()),
            args: Map::new(),
        }
    }

    /// Adds an argument (`None` is sent as `null`: "not given").
    pub fn arg(mut self, name: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.args.insert(name.to_owned(), value);
        self
    }

    /// The request as one JSON object, `query` beside its arguments.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// `chart`: a chart computed from the provider's store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChartRequest {
    /// Days ending at `now` (0 = all time); [`ChartRequest::DEFAULT_DAYS`] when not given.
    pub days: Option<u32>,
    /// Which chart (e.g. `plays-by-date`).
    #[serde(deserialize_with = "null_default")]
    pub kind: String,
    /// Compute as of this moment (epoch s) instead of now.
    pub now: Option<i64>,
    /// Rows of the top-N charts; [`ChartRequest::DEFAULT_TOP`] when not given.
    pub top: Option<u32>,
    /// IANA time zone; the provider's configured one when not given.
    pub tz: Option<String>,
    /// What the values measure: `plays` (when not given) or `duration` (seconds watched;
    /// every chart but concurrency).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y_axis: Option<String>,
}

impl ChartRequest {
    pub const DEFAULT_DAYS: u32 = 30;
    pub const DEFAULT_TOP: u32 = 10;

    pub fn days(&self) -> u32 {
        self.days.unwrap_or(Self::DEFAULT_DAYS)
    }

    pub fn top(&self) -> u32 {
        self.top.unwrap_or(Self::DEFAULT_TOP)
    }
}

/// What a `sync` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncReport {
    /// The store had never been synced: the whole history was read.
    pub first_sync: bool,
    /// Pages read (catch-up passes included).
    pub pages: u64,
    /// `get_history` HTTP requests sent (retries included); equals `pages` when the source
    /// does not count requests.
    pub requests: u64,
    /// Rows received, repeats included.
    pub rows_seen: u64,
    pub inserted: u64,
    /// Held sessions whose Tautulli copy changed (e.g. a new `reference_id`).
    pub updated: u64,
    pub unchanged: u64,
    /// Rows without a session id or a start time, left out.
    pub skipped: u64,
    /// Sessions left out because a time they carry is out of range; a copy held from an
    /// earlier sync is kept as it was. Counted once per session.
    pub bad_time: u64,
    /// Passes from the top after the main pass.
    pub catch_up_passes: u32,
    /// Tautulli's `recordsFiltered` at the end of the read.
    pub records_filtered: u64,
    /// Sessions held after the sync.
    pub total_sessions: u64,
    /// Things the user should know (e.g. sessions deleted in Tautulli but kept here, keys
    /// in the config that mean nothing).
    pub warnings: Vec<String>,
}

/// What a `collect` did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CollectReport {
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub collected_at: String,
    pub collected_at_epoch: i64,
    pub rotation: Option<String>,
    pub collections: u64,
    pub windows: Vec<u32>,
    pub snapshots_written: u64,
    /// Snapshots removed by the retention policy.
    pub retention_deleted: u64,
    /// The snapshots written.
    pub rows: Vec<SnapshotRow>,
    /// How the collections were resolved (provider-specific, for people).
    pub resolve: Option<Value>,
    pub warnings: Vec<String>,
}

/// One stored snapshot of a collection over a window (rows of `latest`, `history`, `top`,
/// `rotation`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SnapshotRow {
    pub id: i64,
    pub collection: String,
    pub library: String,
    pub section_id: i64,
    pub rating_key: i64,
    /// 0 = all time.
    pub window_days: u32,
    pub plays: i64,
    pub watch_seconds: i64,
    pub unique_users: i64,
    pub items_with_plays: i64,
    pub total_items: i64,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub collected_at: String,
    pub rotation: Option<String>,
}

/// The change of one collection and window between two collect runs (rows of `diff`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiffRow {
    pub collection: String,
    pub library: String,
    pub section_id: i64,
    pub rating_key: i64,
    pub window_days: u32,
    /// The two runs, UTC.
    pub from: String,
    pub to: String,
    pub plays_from: i64,
    pub plays_to: i64,
    pub plays_change: i64,
    pub watch_seconds_from: i64,
    pub watch_seconds_to: i64,
    pub watch_seconds_change: i64,
    pub unique_users_from: i64,
    pub unique_users_to: i64,
    pub unique_users_change: i64,
    pub items_with_plays_change: i64,
    pub total_items_change: i64,
}

/// A `query` answer: `{"query": NAME, "rows": [...]}`, whose rows depend on the query
/// (read them with [`QueryAnswer::rows_as`]); `status` answers other fields instead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueryAnswer {
    pub query: String,
    pub rows: Vec<Value>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl QueryAnswer {
    /// The rows as the query's row type ([`SnapshotRow`], [`DiffRow`]); a row that does not
    /// fit is an error naming its field.
    pub fn rows_as<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, PayloadError> {
        self.rows.iter().cloned().map(from_value).collect()
    }
}

/// A computed chart (`chart`): one value per category and series.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Chart {
    pub kind: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub categories: Vec<String>,
    /// Type series first, then the sum (or, for concurrency, the maximum) series.
    pub series: Vec<Series>,
    /// The IANA name the days and hours are local to.
    pub timezone: String,
    pub window: ChartWindow,
    /// What was left out and why.
    pub notes: Vec<String>,
}

impl Chart {
    pub fn series_named(&self, name: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.name == name)
    }
}

/// One series of a [`Chart`], aligned with its categories.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Series {
    pub name: String,
    pub data: Vec<u64>,
}

/// The sessions a chart looks at: those of the `days` (0 = all time) ending at `now`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChartWindow {
    pub now: i64,
    pub days: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::decode;
    use serde_json::json;

    #[test]
    fn a_chart_request_of_the_wrong_type_names_the_field() {
        let e = decode::<ChartRequest>(r#"{"kind": "concurrency", "days": "7"}"#).unwrap_err();
        assert_eq!(e.field(), Some("days"));
        let e = decode::<ChartRequest>(r#"{"kind": "concurrency", "top": -1}"#).unwrap_err();
        assert_eq!(e.field(), Some("top"));
    }

    #[test]
    fn a_chart_request_defaults_what_is_missing_or_null() {
        let r: ChartRequest = decode(r#"{"kind": null, "days": null, "tz": null}"#).unwrap();
        assert_eq!((r.kind.as_str(), r.days(), r.top()), ("", 30, 10));
        let r: ChartRequest = decode(r#"{"kind": "concurrency", "days": 0, "top": 3}"#).unwrap();
        assert_eq!((r.days(), r.top()), (0, 3));
        assert_eq!(r.y_axis, None, "plays unless asked");
        let r: ChartRequest = decode(r#"{"kind": "top-users", "y_axis": "duration"}"#).unwrap();
        assert_eq!(r.y_axis.as_deref(), Some("duration"));
    }

    #[test]
    fn requests_encode_as_hosts_sent_them() {
        let r = ChartRequest {
            kind: "concurrency".into(),
            days: Some(7),
            top: Some(10),
            ..ChartRequest::default()
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"kind": "concurrency", "days": 7, "tz": null, "now": null, "top": 10})
        );
        let c = CollectRequest {
            rotation: Some("r".into()),
            now: None,
        };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"rotation": "r", "now": null})
        );
        let q = QueryRequest::new("diff")
            .arg("from", "previous")
            .arg("collection", None::<String>);
        assert_eq!(
            q.to_value(),
            json!({"query": "diff", "from": "previous", "collection": null})
        );
        assert_eq!(serde_json::to_string(&SyncRequest {}).unwrap(), "{}");
    }

    #[test]
    fn a_collect_request_of_the_wrong_type_is_refused() {
        let e = decode::<CollectRequest>(r#"{"rotation": 5}"#).unwrap_err();
        assert_eq!(e.field(), Some("rotation"));
        let q: QueryRequest = decode(r#"{"query": "top", "n": "5"}"#).unwrap();
        assert_eq!(q.query.as_deref(), Some("top"));
        assert_eq!(q.args["n"], "5");
        assert_eq!(
            decode::<QueryRequest>(r#"{"query": 5}"#)
                .unwrap_err()
                .field(),
            Some("query")
        );
    }

    #[test]
    fn answers_read_their_rows_typed() {
        let a: QueryAnswer = decode(
            &json!({"query": "top", "rows": [{"collection": "C", "plays": 4, "window_days": 0,
                "rotation": null, "later": true}]})
            .to_string(),
        )
        .unwrap();
        let rows: Vec<SnapshotRow> = a.rows_as().unwrap();
        assert_eq!((rows[0].collection.as_str(), rows[0].plays), ("C", 4));
        let bad: QueryAnswer = decode(r#"{"query": "diff", "rows": [{"plays_to": "x"}]}"#).unwrap();
        let e = bad.rows_as::<DiffRow>().unwrap_err();
        assert_eq!(e.field(), Some("plays_to"));
        let s: QueryAnswer = decode(r#"{"query": "status", "status": {"sessions": 1}}"#).unwrap();
        assert!(s.rows.is_empty());
        assert_eq!(s.other["status"]["sessions"], 1);
    }

    #[test]
    fn a_chart_answer_reads_its_series() {
        let c: Chart = decode(
            &json!({"kind": "concurrency", "title": "T", "categories": ["a"],
                "series": [{"name": "Max. Concurrent Streams", "data": [3]}],
                "window": {"now": 5, "days": 30}})
            .to_string(),
        )
        .unwrap();
        assert_eq!(c.series_named("Max. Concurrent Streams").unwrap().data, [3]);
        assert_eq!(c.window.days, 30);
    }
}
