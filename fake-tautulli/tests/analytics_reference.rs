//! The graph and item-stats commands must reproduce the real Tautulli 2.17.2 answers in
//! `fixtures/reference/` from `fixtures/scenarios/reference.json`, with the server's clock
//! at the moment the reference answers were taken.

use fake_tautulli::FakeServer;

use crate::testutil::{api, reference, scenario};

/// 2026-11-21T12:00:00Z: the reference server's "now" (its latest play is 2026-11-19 and the
/// 14-day date list ends 2026-11-21).
const REFERENCE_NOW: i64 = 1_795_262_400;

fn server() -> FakeServer {
    let s = FakeServer::start(scenario("reference.json")).unwrap();
    s.set_now(REFERENCE_NOW);
    s
}

fn check(s: &FakeServer, cmd: &str, params: &[(&str, &str)], file: &str) {
    let ours = api(s, cmd, params).data();
    let theirs = reference(file)["response"]["data"].clone();
    assert_eq!(ours, theirs, "{cmd} {params:?} vs {file}");
}

#[test]
fn plays_by_date_matches_over_14_days() {
    check(
        &server(),
        "get_plays_by_date",
        &[("time_range", "14")],
        "get_plays_by_date.json",
    );
}

#[test]
fn plays_by_hourofday_matches_with_the_default_30_days() {
    let s = server();
    // Any range from 11 days (the 2026-11-10 movie) to 60 (not the 2026-09-21 one) gives it.
    check(
        &s,
        "get_plays_by_hourofday",
        &[],
        "get_plays_by_hourofday.json",
    );
    for days in ["11", "60"] {
        check(
            &s,
            "get_plays_by_hourofday",
            &[("time_range", days)],
            "get_plays_by_hourofday.json",
        );
    }
    let wider = api(&s, "get_plays_by_hourofday", &[("time_range", "61")]).data();
    assert_ne!(
        wider,
        reference("get_plays_by_hourofday.json")["response"]["data"]
    );
}

#[test]
fn stream_types_and_concurrency_match_over_7_days() {
    let s = server();
    check(
        &s,
        "get_plays_by_stream_type",
        &[("time_range", "7")],
        "get_plays_by_stream_type.json",
    );
    check(
        &s,
        "get_concurrent_streams_by_stream_type",
        &[("time_range", "7")],
        "get_concurrent_streams_by_stream_type.json",
    );
}

#[test]
fn stream_type_by_top_10_platforms_matches_with_the_default_30_days() {
    check(
        &server(),
        "get_stream_type_by_top_10_platforms",
        &[],
        "get_stream_type_by_top_10_platforms.json",
    );
}

#[test]
fn item_watch_time_stats_match_for_the_show() {
    let s = server();
    // Breaking Bad (199): episodes 201 (3400 s) and 202 (300 s) on 2026-11-15 and -16.
    check(
        &s,
        "get_item_watch_time_stats",
        &[("rating_key", "199")],
        "get_item_watch_time_stats.json",
    );
    // Its season answers the same; a single episode does not.
    check(
        &s,
        "get_item_watch_time_stats",
        &[("rating_key", "200"), ("query_days", "1,7,30,0")],
        "get_item_watch_time_stats.json",
    );
    let episode = api(&s, "get_item_watch_time_stats", &[("rating_key", "201")]).data();
    assert_eq!(episode[3]["total_time"], 3400);
}

#[test]
fn item_user_stats_match_for_the_matrix() {
    // The Matrix (101): alice 8220 - 120 paused = 8100 s, bob 8000 s (2026-09-21).
    check(
        &server(),
        "get_item_user_stats",
        &[("rating_key", "101")],
        "get_item_user_stats.json",
    );
}
