//! What the plugin's integration tests share: fixture scenarios and one index read through
//! the plugin's Rust API (the same code the `.so` runs).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use fake_tautulli::{FakeServer, RecordedRequest, Scenario};
use serde_json::{json, Value};
use tautulli_plugin::TautulliSource;

pub fn scenario(name: &str) -> Scenario {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/scenarios/{name}.json"));
    Scenario::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn config(server: &FakeServer, history: Value) -> String {
    json!({
        "tautulli": {
            "server_url": server.url(),
            "api_key": server.api_key(),
            "timeout": 5,
            "backoff_ms": 5,
            "history": history,
        }
    })
    .to_string()
}

pub struct Run {
    pub items: BTreeMap<String, Value>,
    pub report: Value,
    pub steps: usize,
    pub max_batch: usize,
}

pub fn run_index(server: &FakeServer, history: Value) -> Run {
    let source = TautulliSource::open(&config(server, history), "").expect("config is valid");
    let mut cursor = source.index("history", "{}").expect("index starts");
    let mut items = BTreeMap::new();
    let (mut steps, mut max_batch) = (0, 0);
    loop {
        let step = cursor.step().expect("index step");
        steps += 1;
        max_batch = max_batch.max(step.entries.len());
        for (key, item) in step.entries {
            let v: Value = serde_json::from_str(&item).expect("item is JSON");
            assert!(
                items.insert(key.clone(), v).is_none(),
                "key {key} emitted twice"
            );
        }
        if step.done {
            break;
        }
        assert!(steps < 100_000, "the cursor never finished");
    }
    let report: Value = serde_json::from_str(&cursor.report_json()).unwrap();
    Run {
        items,
        report,
        steps,
        max_batch,
    }
}

pub fn history_requests(reqs: &[RecordedRequest]) -> Vec<&RecordedRequest> {
    reqs.iter()
        .filter(|r| r.cmd.as_deref() == Some("get_history"))
        .collect()
}
