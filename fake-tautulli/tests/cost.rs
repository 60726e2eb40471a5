//! The cost model: what each request would cost the real Tautulli, charged from what the
//! fake computed (table, filtered view, returned page), on every request, cache or not.
//! Only modelled durations are compared; nothing here is timed.

use std::time::Duration;

use fake_tautulli::{generate, CostModel, FakeServer, GenSpec, RecordedRequest, EPOCH_2027};
use serde_json::Value;

use crate::testutil::api;

fn server(plays: usize) -> FakeServer {
    let s = FakeServer::start(generate(&GenSpec {
        plays,
        movies: 400,
        shows: 80,
        episodes_per_show: 20,
        users: 12,
        ..GenSpec::default()
    }))
    .unwrap();
    s.set_now(EPOCH_2027);
    s.set_cost_model(Some(CostModel::tautulli_2_17()));
    s
}

/// The last recorded request (the one just answered).
fn last(s: &FakeServer) -> RecordedRequest {
    s.requests().pop().expect("a request was made")
}

/// A `get_history` answer's data and its modelled cost.
fn history(s: &FakeServer, params: &[(&str, &str)]) -> (Value, Duration) {
    let data = api(s, "get_history", params).data();
    (data, last(s).modelled)
}

fn n(v: &Value) -> u32 {
    u32::try_from(v.as_u64().unwrap()).unwrap()
}

/// The model's price of a history answer, from what the answer itself says.
fn expected(m: &CostModel, data: &Value) -> Duration {
    m.fixed
        + m.scan_per_row * n(&data["recordsTotal"])
        + m.filtered_per_row * n(&data["recordsFiltered"])
        + m.returned_per_row * data["data"].as_array().unwrap().len() as u32
}

const PAGE: [(&str, &str); 2] = [("grouping", "1"), ("include_activity", "0")];

fn page(start: &str, length: &str) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&str, String)> = PAGE.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    v.push(("start", start.to_owned()));
    v.push(("length", length.to_owned()));
    v
}

fn borrowed<'a>(v: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    v.iter().map(|(k, x)| (*k, x.as_str())).collect()
}

#[test]
fn the_model_is_off_unless_asked() {
    let s = FakeServer::start(generate(&GenSpec {
        plays: 200,
        ..GenSpec::default()
    }))
    .unwrap();
    assert_eq!(s.cost_model(), None);
    api(&s, "get_history", &[("length", "50")]).data();
    api(&s, "get_metadata", &[("rating_key", "100000")]);
    assert!(s.requests().iter().all(|r| r.modelled.is_zero()));
    assert_eq!(s.modelled_seconds(), 0.0);
    assert!(s.modelled_seconds_by_command().is_empty());
}

#[test]
fn an_unfiltered_page_costs_the_whole_history_whatever_its_length() {
    let s = server(20_000);
    let m = s.cost_model().unwrap();
    let (first, c_first) = history(&s, &borrowed(&page("0", "1000")));
    let (later, c_later) = history(&s, &borrowed(&page("10000", "1000")));
    let (tiny, c_tiny) = history(&s, &borrowed(&page("0", "10")));
    assert_eq!(first["recordsTotal"], 20_000);
    assert!(n(&first["recordsFiltered"]) > 15_000, "grouped rows");
    for (data, cost) in [(&first, c_first), (&later, c_later), (&tiny, c_tiny)] {
        assert_eq!(cost, expected(&m, data));
    }
    assert_eq!(
        c_first, c_later,
        "same length, same cost, wherever the page is"
    );
    // The filtered rows dominate: 100 times fewer rows returned is not 100 times cheaper.
    assert!(c_tiny * 10 > c_first * 8, "{c_tiny:?} vs {c_first:?}");
    let floor = m.scan_per_row * 20_000 + m.filtered_per_row * n(&first["recordsFiltered"]);
    assert!(c_tiny > floor);
}

#[test]
fn a_date_window_costs_the_scan_plus_its_rows() {
    let s = server(20_000);
    let m = s.cost_model().unwrap();
    let (_, c_full) = history(&s, &borrowed(&page("0", "1000")));
    let scan = m.fixed + m.scan_per_row * 20_000;
    // One day in the middle of the generated year.
    let day = [
        ("grouping", "1"),
        ("include_activity", "0"),
        ("after", "2026-06-10"),
        ("before", "2026-06-10"),
        ("length", "100000"),
    ];
    let (one_day, c_day) = history(&s, &day);
    let rows = n(&one_day["recordsFiltered"]);
    assert!(rows > 0 && rows < 1000, "{rows}");
    assert_eq!(rows as usize, one_day["data"].as_array().unwrap().len());
    assert_eq!(
        c_day,
        scan + (m.filtered_per_row + m.returned_per_row) * rows
    );
    assert!(c_day * 4 < c_full, "{c_day:?} vs {c_full:?}");
    // An empty window (before the history starts) costs the scan alone.
    let empty = [
        ("grouping", "1"),
        ("include_activity", "0"),
        ("after", "2020-01-01"),
        ("before", "2020-01-31"),
    ];
    let (none, c_none) = history(&s, &empty);
    assert_eq!(none["recordsFiltered"], 0);
    assert_eq!(c_none, scan);
    assert!(c_none < c_day);
}

#[test]
fn cached_views_are_charged_anyway() {
    let s = server(5_000);
    let req = page("0", "500");
    let (_, a) = history(&s, &borrowed(&req));
    let (_, b) = history(&s, &borrowed(&req));
    let (_, c) = history(&s, &borrowed(&req));
    assert!(!a.is_zero());
    assert_eq!((a, a), (b, c), "the real server has no cache");
    let total = s.modelled_seconds_by_command()["get_history"];
    assert!((total - 3.0 * a.as_secs_f64()).abs() < 1e-9, "{total}");
}

#[test]
fn plays_by_date_costs_the_scan_plus_a_little_per_session_in_the_window() {
    let s = server(20_000);
    let m = s.cost_model().unwrap();
    api(&s, "get_plays_by_date", &[("time_range", "3650")]).data();
    let all = last(&s).modelled;
    assert_eq!(
        all,
        m.fixed + m.scan_per_row * 20_000 + m.aggregated_per_row * 20_000
    );
    api(&s, "get_plays_by_date", &[("time_range", "30")]).data();
    let month = last(&s).modelled;
    assert!(month < all && month > m.fixed + m.scan_per_row * 20_000);
    // A map of the whole history costs far less than one page of it.
    let (_, c_page) = history(&s, &borrowed(&page("0", "1000")));
    assert!(all * 4 < c_page, "{all:?} vs {c_page:?}");
}

#[test]
fn other_commands_cost_a_fixed_amount_and_totals_add_up() {
    let s = server(2_000);
    let m = s.cost_model().unwrap();
    s.clear_requests();
    api(&s, "get_metadata", &[("rating_key", "100000")]);
    assert_eq!(last(&s).modelled, m.fixed + m.plex);
    api(&s, "get_users", &[]);
    assert_eq!(last(&s).modelled, m.fixed);
    api(&s, "get_history", &[("apikey", "wrong")]);
    let by_cmd = s.modelled_seconds_by_command();
    let listed: f64 = s.requests().iter().map(|r| r.modelled.as_secs_f64()).sum();
    assert!((s.modelled_seconds() - listed).abs() < 1e-9);
    assert!((by_cmd["get_metadata"] - (m.fixed + m.plex).as_secs_f64()).abs() < 1e-9);
    // Clearing the log keeps the totals (readers compare two readings).
    s.clear_requests();
    assert!((s.modelled_seconds() - listed).abs() < 1e-9);
    s.set_cost_model(None);
    api(&s, "get_users", &[]);
    assert!(last(&s).modelled.is_zero());
}
