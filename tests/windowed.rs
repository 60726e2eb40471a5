//! A windowed read gives exactly what one paged read of the whole history gives: the same
//! items, keys, `watched_at` and skip counts, on every fixture scenario, in server time
//! zones other than UTC, with plays at local midnight and on DST days, with viewings split
//! by a window boundary, history older than the counts' horizon, an empty history, and
//! servers whose day filters or count command do not work.

use fake_tautulli::{generate, GenSpec};
use fake_tautulli::{FakeServer, Fault, FaultRule, Scenario, Session};
use serde_json::{json, Value};

use crate::testutil::{history_requests, run_index, scenario, Run};

/// The report without what only says how the rows were asked for.
fn what_was_read(report: &Value) -> Value {
    let mut r = report.clone();
    if let Value::Object(m) = &mut r {
        for k in ["pages", "requests", "reader", "catch_up_passes"] {
            m.remove(k);
        }
    }
    r
}

/// Reads `server` paged and windowed (with `history` on top of each) and checks that both
/// give the same index and report; returns the windowed run.
fn same_as_paged(server: &FakeServer, history: Value, what: &str) -> Run {
    let with = |read: &str| {
        let mut h = history.clone();
        h["read"] = json!(read);
        h
    };
    let paged = run_index(server, with("paged"));
    let windowed = run_index(server, with("windowed"));
    assert_eq!(paged.report["complete"], true, "{what}: {}", paged.report);
    assert_eq!(
        windowed.report["complete"], true,
        "{what}: {}",
        windowed.report
    );
    if paged.items != windowed.items {
        let diff: Vec<_> = paged
            .items
            .iter()
            .filter(|(k, v)| windowed.items.get(*k) != Some(v))
            .map(|(k, v)| format!("{k}: paged {v} windowed {:?}", windowed.items.get(k)))
            .chain(
                windowed
                    .items
                    .keys()
                    .filter(|k| !paged.items.contains_key(*k))
                    .map(|k| format!("{k}: only windowed")),
            )
            .collect();
        panic!(
            "{what}: the items differ:\n{}\n{}",
            diff.join("\n"),
            windowed.report["reader"]
        );
    }
    assert_eq!(
        what_was_read(&paged.report),
        what_was_read(&windowed.report),
        "{what}: the reports differ"
    );
    windowed
}

fn in_zone(mut s: Scenario, zone: Option<&str>) -> Scenario {
    s.server.tz_name = zone.map(str::to_owned);
    s
}

const ZONES: [Option<&str>; 4] = [
    None,
    Some("Europe/Berlin"),
    Some("America/New_York"),
    Some("Pacific/Chatham"),
];

#[test]
fn every_fixture_scenario_reads_the_same_windowed_and_paged() {
    let fixtures = [
        ("reference", Scenario::reference()),
        ("demo", Scenario::demo()),
        ("demo-curated", scenario("demo-curated")),
        ("edge", scenario("edge")),
    ];
    for (name, s) in fixtures {
        for zone in ZONES {
            let server = FakeServer::start(in_zone(s.clone(), zone)).unwrap();
            for window_rows in [10, 20_000] {
                for rewatches in [false, true] {
                    let what =
                        format!("{name} in {zone:?}, {window_rows} rows, rewatches {rewatches}");
                    let run = same_as_paged(
                        &server,
                        json!({"window_rows": window_rows, "rewatches": rewatches}),
                        &what,
                    );
                    assert_eq!(run.report["reader"]["mode"], "windowed", "{what}");
                }
            }
        }
    }
}

#[test]
fn small_windows_cost_one_request_each_and_the_default_reads_a_fixture_in_one() {
    let server = FakeServer::start(Scenario::demo()).unwrap();
    let run = run_index(&server, json!({}));
    let reader = &run.report["reader"];
    assert_eq!(reader["windows"], 1, "{reader}");
    assert_eq!(reader["count_requests"], 1);
    assert_eq!(history_requests(&server.requests()).len(), 1);

    server.clear_requests();
    let run = run_index(&server, json!({"window_rows": 10}));
    let reader = &run.report["reader"];
    let windows = reader["windows"].as_u64().unwrap();
    assert!(windows > 5, "{reader}");
    // One request per window plus the recount of the newest window.
    assert_eq!(
        history_requests(&server.requests()).len() as u64,
        windows + 1,
        "{reader}"
    );
}

/// A generated history with many viewings resumed days later, in Berlin, over both DST
/// changes of 2026.
fn split_viewings(plays: usize, start: i64, end: i64) -> Scenario {
    let mut s = generate(&GenSpec {
        plays,
        movies: 60,
        shows: 12,
        episodes_per_show: 10,
        users: 4,
        grouped_share: 0.4,
        start_epoch: start,
        end_epoch: end,
        ..GenSpec::default()
    });
    s.server.tz_name = Some("Europe/Berlin".into());
    s
}

#[test]
fn viewings_split_by_a_window_boundary_are_one_viewing_again_across_dst() {
    // 2026-03-15 .. 2026-11-15: both of Berlin's DST changes.
    let server = FakeServer::start(split_viewings(3000, 1_773_532_800, 1_794_700_800)).unwrap();
    for rewatches in [false, true] {
        let run = same_as_paged(
            &server,
            json!({"window_rows": 40, "rewatches": rewatches}),
            "split viewings",
        );
        let merged = run.report["reader"]["merged_parts"].as_u64().unwrap();
        assert!(
            merged > 0,
            "no viewing crossed a boundary: {}",
            run.report["reader"]
        );
    }
}

/// Sessions at local midnight (on the DST days too), and one viewing paused just before
/// midnight and finished just after.
#[test]
fn plays_at_local_midnight_and_on_dst_days_fall_in_one_window() {
    let zone: jiff::tz::TimeZone = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
    let mut s = Scenario::demo();
    s.server.tz_name = Some("Europe/Berlin".into());
    let days = [
        jiff::civil::date(2026, 3, 28),
        jiff::civil::date(2026, 3, 29),
        jiff::civil::date(2026, 3, 30),
        jiff::civil::date(2026, 10, 25),
        jiff::civil::date(2026, 10, 26),
    ];
    let midnight = |d: jiff::civil::Date| d.to_zoned(zone.clone()).unwrap().timestamp().as_second();
    let template: Session = s
        .sessions
        .iter()
        .find(|x| x.percent >= 95.0 && !x.live)
        .cloned()
        .unwrap();
    let mut id = s.sessions.iter().map(|x| x.id).max().unwrap() + 1;
    for d in days {
        for offset in [-1, 0, 1] {
            let mut n = template.clone();
            n.id = id;
            n.reference_id = None;
            n.started = midnight(d) + offset;
            n.stopped = n.started + 1800;
            s.sessions.push(n);
            id += 1;
        }
    }
    // Paused at 23:40, finished at 00:10 the next (local) day.
    let mut first = template.clone();
    first.id = id;
    first.reference_id = None;
    first.started = midnight(days[4]) - 1200;
    first.stopped = midnight(days[4]) - 60;
    first.percent = 40.0;
    let mut second = template.clone();
    second.id = id + 1;
    second.reference_id = Some(id);
    second.started = midnight(days[4]) + 30;
    second.stopped = midnight(days[4]) + 1800;
    s.sessions.extend([first, second]);
    let server = FakeServer::start(s).unwrap();
    let run = same_as_paged(&server, json!({"window_rows": 10}), "midnight plays");
    assert!(run.report["reader"]["windows"].as_u64().unwrap() > 5);
}

#[test]
fn an_empty_history_reads_the_same() {
    let mut s = Scenario::demo();
    s.sessions.clear();
    let server = FakeServer::start(s).unwrap();
    let run = same_as_paged(&server, json!({}), "empty");
    assert!(run.items.is_empty());
    assert_eq!(history_requests(&server.requests()).len(), 2);
}

#[test]
fn history_older_than_the_counts_horizon_is_walked() {
    // Most of the demo moved back eleven years: older than get_plays_by_date's ten.
    // Whole viewings move: a viewing's sessions keep their order in time.
    let mut s = Scenario::demo();
    let eleven_years = 11 * 365 * 86_400;
    for x in s.sessions.iter_mut() {
        if x.reference_id() % 3 != 0 {
            x.started -= eleven_years;
            x.stopped -= eleven_years;
        }
    }
    let server = FakeServer::start(s).unwrap();
    let run = same_as_paged(&server, json!({"window_rows": 10}), "old history");
    let reader = &run.report["reader"];
    assert_eq!(reader["mode"], "windowed", "{reader}");
    // The walk asks for everything up to a day, step by step.
    let walked = history_requests(&server.requests())
        .iter()
        .filter(|r| !r.params.contains_key("after") && r.params.contains_key("before"))
        .count();
    assert!(walked > 3, "{walked} walk steps");
}

#[test]
fn without_the_count_command_the_history_is_walked() {
    let server = FakeServer::start(in_zone(Scenario::demo(), Some("America/New_York"))).unwrap();
    server.push_fault(FaultRule {
        cmd: Some("get_plays_by_date".into()),
        fault: Fault::ServerError500,
        times: None,
    });
    let run = same_as_paged(&server, json!({"window_rows": 25}), "no counts");
    let reader = &run.report["reader"];
    assert_eq!(reader["mode"], "walked", "{reader}");
    assert!(reader["fallback"]
        .as_str()
        .unwrap()
        .contains("get_plays_by_date"));
}

#[test]
fn a_server_that_rejects_or_ignores_day_filters_is_read_by_paging() {
    for fault in [Fault::RejectDateFilters, Fault::IgnoreDateFilters] {
        let server = FakeServer::start(Scenario::demo()).unwrap();
        server.push_fault(FaultRule::always(fault.clone()));
        let run = same_as_paged(&server, json!({"window_rows": 10}), &format!("{fault:?}"));
        let reader = &run.report["reader"];
        assert_eq!(reader["mode"], "paged", "{reader}");
        assert!(
            reader["fallback"].as_str().unwrap().contains("day filters"),
            "{reader}"
        );
        // Only the first window was asked with day filters.
        let dated = history_requests(&server.requests())
            .iter()
            .filter(|r| r.params.contains_key("after") || r.params.contains_key("before"))
            .count();
        assert_eq!(dated, 1, "{fault:?}");
    }
}

#[test]
fn an_incremental_re_run_asks_one_day_filtered_request() {
    let dir = tempfile::tempdir().unwrap();
    let s = Scenario::demo();
    let server = FakeServer::start(s.clone()).unwrap();
    let cfg = |server: &FakeServer| {
        json!({
            "tautulli": {
                "server_url": server.url(), "api_key": server.api_key(),
                "timeout": 5, "backoff_ms": 5, "state_dir": dir.path(),
                "history": {"mode": "incremental"},
            }
        })
        .to_string()
    };
    let read = |options: &str| {
        let source = tautulli_plugin::TautulliSource::open(&cfg(&server), "").unwrap();
        let mut cursor = source.index("history", options).unwrap();
        while !cursor.step().unwrap().done {}
        serde_json::from_str::<Value>(&cursor.report_json()).unwrap()
    };
    let first = read("{}");
    assert_eq!(first["complete"], true);
    server.clear_requests();
    let checkpoint = first.get("checkpoint").cloned().unwrap_or(Value::Null);
    let options = json!({"checkpoint": checkpoint}).to_string();
    let second = read(&options);
    assert_eq!(second["read"], "incremental", "{second}");
    let reqs = server.requests();
    let history = history_requests(&reqs);
    assert_eq!(history.len(), 1, "{:?}", history);
    assert!(history[0].params.contains_key("after"));
    assert!(
        !reqs
            .iter()
            .any(|r| r.cmd.as_deref() == Some("get_plays_by_date")),
        "an incremental read needs no counts"
    );
}

/// A proxy that caps pages and repeats or alternates them: both readers end the read as
/// incomplete within a few requests (never max_pages of them), and say why.
#[test]
fn pages_that_repeat_or_alternate_end_the_read_incomplete_at_once() {
    use fake_tautulli::Paging;
    for paging in [Paging::IgnoreStart, Paging::Alternate] {
        for history in [
            json!({"read": "paged", "per_page": 5}),
            json!({"read": "paged", "per_page": 50}),
            json!({"window_rows": 20_000}),
        ] {
            let server = FakeServer::start(Scenario::demo()).unwrap();
            server.push_fault(FaultRule::always(Fault::BadPaging { cap: 5, paging }));
            let run = run_index(&server, history.clone());
            let what = format!("{paging:?} {history}");
            assert_eq!(run.report["complete"], false, "{what}: {}", run.report);
            assert_eq!(run.report["semantics"], "delta", "{what}");
            let why = run.report["incomplete_reason"].as_str().unwrap();
            assert!(
                why.contains("`start`") || why.contains("page size"),
                "{what}: {why}"
            );
            let requests = history_requests(&server.requests()).len();
            assert!(requests <= 8, "{what}: {requests} requests");
        }
    }
}
