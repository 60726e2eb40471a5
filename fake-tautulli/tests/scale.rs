//! The benchmark's size: 1M plays (paging, and the per-day map over ten years). Ignored by
//! default (slow in debug builds); run with
//! `cargo test -p fake-tautulli --release --test tests scale -- --ignored --nocapture`.

use std::time::Instant;

use fake_tautulli::{generate, FakeServer, GenSpec};

use crate::testutil::{self, history};

#[test]
#[ignore = "1M plays: run explicitly, preferably with --release"]
fn a_million_plays_page_quickly() {
    let t = Instant::now();
    let scenario = generate(&GenSpec::default());
    eprintln!("generate: {:?}", t.elapsed());
    assert_eq!(scenario.sessions.len(), 1_000_000);
    let t = Instant::now();
    let s = FakeServer::start(scenario).unwrap();
    eprintln!("start: {:?}", t.elapsed());
    let mut seen = 0;
    for page in 0..5 {
        let t = Instant::now();
        let start = (page * 10_000).to_string();
        let p = history(
            &s,
            &[
                ("grouping", "1"),
                ("include_activity", "0"),
                ("start", &start),
                ("length", "10000"),
            ],
        );
        eprintln!("page {page}: {:?}", t.elapsed());
        assert_eq!(p["recordsTotal"], 1_000_000);
        seen += p["data"].as_array().unwrap().len();
    }
    assert_eq!(seen, 50_000);
    // Server side only (no JSON parsing in the client), another grouping.
    for page in 0..3 {
        let t = Instant::now();
        let start = (page * 10_000).to_string();
        let r = testutil::api(
            &s,
            "get_history",
            &[("grouping", "0"), ("start", &start), ("length", "10000")],
        );
        eprintln!("raw page {page}: {:?}, {} bytes", t.elapsed(), r.body.len());
    }
}

#[test]
#[ignore = "1M plays: run explicitly, preferably with --release"]
fn a_million_plays_map_by_day_quickly() {
    let mut scenario = generate(&GenSpec::default());
    // A zone with DST rules: every session's local day is looked up.
    scenario.server.tz_name = Some("Europe/Berlin".into());
    let s = FakeServer::start(scenario).unwrap();
    s.set_now(fake_tautulli::EPOCH_2027);
    for grouping in ["0", "1"] {
        let t = Instant::now();
        let g = testutil::api(
            &s,
            "get_plays_by_date",
            &[("time_range", "3650"), ("grouping", grouping)],
        )
        .data();
        eprintln!(
            "get_plays_by_date 3650 days, grouping {grouping}: {:?}",
            t.elapsed()
        );
        assert_eq!(g["categories"].as_array().unwrap().len(), 3650);
    }
}
