//! The plugin's index read against the fake Tautulli, through the plugin's Rust API (the
//! same code the `.so` runs): snapshots of the normalised index and report for each fixture
//! scenario, and the request-level guarantees (pinned parameters, one metadata call per show
//! and movie, only reads, nothing lost while plays are added).

use std::collections::{BTreeMap, BTreeSet};

use fake_tautulli::{FakeServer, Fault, FaultRule, Scenario};
use serde_json::{json, Value};

use crate::testutil::{history_requests, run_index, scenario};

/// A history config that reads by `start` paging: the snapshots below pin what a paged read
/// gives, and `tests/windowed.rs` checks that a windowed read gives the same.
fn paged(history: Value) -> Value {
    let mut h = history;
    h["read"] = json!("paged");
    h
}

/// The report with its `checkpoint` token replaced: the token names the stream by a hash of
/// the fake's URL, whose port changes every run (its readable copy,
/// `incremental.checkpoint_after`, stays in the snapshot).
fn stable(report: &Value) -> Value {
    let mut r = report.clone();
    let token = r["checkpoint"]
        .as_str()
        .unwrap_or_else(|| panic!("{report}"));
    assert!(token.starts_with("tautulli-checkpoint v1;"), "{token}");
    r["checkpoint"] = json!("[token]");
    r
}

/// The time spent waiting for the fake varies run to run.
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::assert_json_snapshot!($name, $value, {
            ".report.reader.waited_s" => "[seconds]",
            ".reader.waited_s" => "[seconds]",
        })
    };
}

#[test]
fn reference_scenario_index_and_report() {
    let server = FakeServer::start(Scenario::reference()).unwrap();
    let run = run_index(&server, paged(json!({})));
    snapshot!(
        "reference",
        json!({"items": run.items, "report": stable(&run.report)})
    );
}

#[test]
fn demo_scenario_index_and_report() {
    let server = FakeServer::start(Scenario::demo()).unwrap();
    let run = run_index(&server, paged(json!({"per_page": 50})));
    snapshot!(
        "demo",
        json!({"items": run.items, "report": stable(&run.report)})
    );
}

#[test]
fn demo_scenario_rewatch_mode_keeps_every_play() {
    let server = FakeServer::start(Scenario::demo()).unwrap();
    let collapsed = run_index(&server, paged(json!({})));
    let rewatch = run_index(&server, paged(json!({"rewatches": true})));
    assert_eq!(rewatch.report["mode"], "rewatch");
    assert!(rewatch.items.len() > collapsed.items.len());
    // Every event key is `<canonical key>@<epoch of watched_at>`, and its base key exists
    // in the collapsed index with the newest of its plays.
    let mut newest: BTreeMap<&str, i64> = BTreeMap::new();
    for (key, item) in &rewatch.items {
        let (base, epoch) = key.rsplit_once('@').expect("event key");
        let epoch: i64 = epoch.parse().unwrap();
        let at = tautulli_plugin::parse_utc(item["watched_at"].as_str().unwrap()).unwrap();
        assert_eq!(at, epoch, "{key}");
        let e = newest.entry(base).or_insert(epoch);
        *e = (*e).max(epoch);
    }
    let bases: BTreeSet<&str> = newest.keys().copied().collect();
    let collapsed_keys: BTreeSet<&str> = collapsed.items.keys().map(String::as_str).collect();
    assert_eq!(bases, collapsed_keys);
    for (base, epoch) in newest {
        let at = collapsed.items[base]["watched_at"].as_str().unwrap();
        assert_eq!(tautulli_plugin::parse_utc(at), Some(epoch), "{base}");
    }
    snapshot!("demo_rewatch_report", stable(&rewatch.report));
}

#[test]
fn edge_scenario_with_digit_strings_and_nulls() {
    let server = FakeServer::start(scenario("edge")).unwrap();
    let run = run_index(&server, paged(json!({})));
    snapshot!(
        "edge",
        json!({"items": run.items, "report": stable(&run.report)})
    );
}

#[test]
fn every_history_request_pins_grouping_activity_and_media_type() {
    for read in ["paged", "windowed"] {
        pins_every_parameter(read);
    }
}

fn pins_every_parameter(read: &str) {
    let server = FakeServer::start(Scenario::demo()).unwrap();
    let run = run_index(
        &server,
        json!({"per_page": 40, "window_rows": 20, "user_id": 1002, "read": read}),
    );
    let reqs = server.requests();
    let pages = history_requests(&reqs);
    assert!(
        pages.len() >= 2,
        "expected several pages, got {}",
        pages.len()
    );
    for r in &pages {
        let p = &r.params;
        assert_eq!(p.get("grouping").map(String::as_str), Some("1"), "{p:?}");
        assert_eq!(
            p.get("include_activity").map(String::as_str),
            Some("0"),
            "{p:?}"
        );
        assert_eq!(
            p.get("media_type").map(String::as_str),
            Some("movie,episode"),
            "{p:?}"
        );
        assert_eq!(p.get("user_id").map(String::as_str), Some("1002"), "{p:?}");
        if read == "paged" {
            assert_eq!(p.get("length").map(String::as_str), Some("40"), "{p:?}");
            assert!(
                !p.contains_key("after") && !p.contains_key("before"),
                "{p:?}"
            );
        } else {
            assert!(p.contains_key("after") || p.contains_key("before"), "{p:?}");
        }
        assert_eq!(
            r.method, "POST",
            "the key travels in the body, never in a URL"
        );
        assert!(r.apikey_valid);
    }
    // The per-day counts are asked for the same plays: grouped, the same user.
    let counts: Vec<_> = reqs
        .iter()
        .filter(|r| r.cmd.as_deref() == Some("get_plays_by_date"))
        .collect();
    assert_eq!(counts.len(), usize::from(read == "windowed"));
    for r in counts {
        assert_eq!(r.params.get("grouping").map(String::as_str), Some("1"));
        assert_eq!(r.params.get("user_id").map(String::as_str), Some("1002"));
    }
    // Only bob's plays: fewer items than everyone's.
    let everyone = run_index(&server, json!({"read": read}));
    assert!(run.items.len() < everyone.items.len());
    assert!(!run.items.is_empty());
}

#[test]
fn include_live_asks_for_live_rows_and_keeps_them() {
    let server = FakeServer::start(Scenario::demo()).unwrap();
    let without = run_index(&server, json!({}));
    server.clear_requests();
    let with = run_index(&server, json!({"include_live": true}));
    for r in history_requests(&server.requests()) {
        assert_eq!(
            r.params.get("media_type").map(String::as_str),
            Some("movie,episode,live")
        );
    }
    assert!(
        with.items.len() > without.items.len(),
        "the demo has Live TV plays: {} vs {}",
        with.items.len(),
        without.items.len()
    );
}

#[test]
fn only_read_commands_reach_tautulli_and_metadata_is_asked_once_per_show_or_movie() {
    let scenario = Scenario::demo();
    let episode_keys: BTreeSet<i64> = scenario
        .shows
        .iter()
        .flat_map(|s| s.seasons.iter())
        .flat_map(|s| s.episodes.iter())
        .map(|e| e.common.rating_key)
        .collect();
    let season_keys: BTreeSet<i64> = scenario
        .shows
        .iter()
        .flat_map(|s| s.seasons.iter())
        .map(|s| s.common.rating_key)
        .collect();
    let server = FakeServer::start(scenario).unwrap();
    let run = run_index(&server, json!({"per_page": 25}));
    let reqs = server.requests();
    for r in &reqs {
        let cmd = r.cmd.as_deref().unwrap_or("");
        assert!(
            cmd.starts_with("get_"),
            "a non-read command reached Tautulli: {cmd}"
        );
    }
    let asked: Vec<i64> = reqs
        .iter()
        .filter(|r| r.cmd.as_deref() == Some("get_metadata"))
        .map(|r| r.params["rating_key"].parse().unwrap())
        .collect();
    let distinct: BTreeSet<i64> = asked.iter().copied().collect();
    assert_eq!(
        asked.len(),
        distinct.len(),
        "a rating key was asked twice: {asked:?}"
    );
    assert!(!asked.is_empty());
    for rk in &asked {
        assert!(!episode_keys.contains(rk), "asked metadata of episode {rk}");
        assert!(!season_keys.contains(rk), "asked metadata of season {rk}");
    }
    assert_eq!(run.report["metadata_calls"], asked.len() as u64);
    assert_eq!(run.report["requests"]["get_metadata"], asked.len() as u64);
}

#[test]
fn index_crosses_in_bounded_batches() {
    let server = FakeServer::start(Scenario::demo()).unwrap();
    let run = run_index(&server, json!({"rewatches": true}));
    assert!(run.max_batch <= tautulli_plugin::BATCH);
    assert!(run.steps >= 2);
}

#[test]
fn plays_added_during_the_read_lose_nothing() {
    plays_added_during_a_read(json!({"per_page": 20, "read": "paged"}));
    plays_added_during_a_read(json!({"window_rows": 20}));
}

fn plays_added_during_a_read(history: Value) {
    let scenario = Scenario::demo();
    let server = FakeServer::start(scenario.clone()).unwrap();
    let before = run_index(&server, history.clone());

    // New plays of items already in the library, stamped after everything else, land at
    // the top of the date-descending history while the reader is on its third page.
    let last = scenario.sessions.iter().map(|s| s.stopped).max().unwrap();
    let next_id = scenario.sessions.iter().map(|s| s.id).max().unwrap() + 1;
    let mut added = Vec::new();
    for (i, s) in scenario
        .sessions
        .iter()
        .filter(|s| s.percent >= 95.0 && !s.live)
        .take(7)
        .enumerate()
    {
        let mut n = s.clone();
        n.id = next_id + i as i64;
        n.reference_id = None;
        n.started = last + 1000 + i as i64 * 10_000;
        n.stopped = n.started + 3000;
        added.push(n);
    }
    server.insert_sessions_after_history_requests(2, added);
    let during = run_index(&server, history.clone());
    assert_eq!(during.report["complete"], true, "{}", during.report);
    assert_eq!(during.report["semantics"], "present");
    for key in before.items.keys() {
        assert!(during.items.contains_key(key), "{key} was lost");
    }
    // And a later read sees the same index: the new plays were caught up.
    let after = run_index(&server, history);
    assert_eq!(during.items, after.items);
}

#[test]
fn a_read_cut_short_by_max_pages_is_incomplete_and_delta() {
    let server = FakeServer::start(Scenario::demo()).unwrap();
    let run = run_index(&server, paged(json!({"per_page": 10, "max_pages": 2})));
    assert_eq!(run.report["complete"], false);
    assert_eq!(run.report["semantics"], "delta");
    let why = run.report["incomplete_reason"].as_str().unwrap();
    assert!(why.contains("max_pages"), "{why}");
    assert_eq!(history_requests(&server.requests()).len(), 2);
}

#[test]
fn watched_at_follows_the_configured_time_field() {
    let server = FakeServer::start(Scenario::reference()).unwrap();
    // Fight Club is a grouped play: started 1794513600 (first session), date 1794520800
    // (latest start), stopped 1794525860 (latest stop).
    for (field, epoch) in [
        ("stopped", 1794525860),
        ("date", 1794520800),
        ("started", 1794513600),
    ] {
        let run = run_index(&server, json!({"watched_at": field}));
        let at = run.items["tmdb:550"]["watched_at"].as_str().unwrap();
        assert_eq!(tautulli_plugin::parse_utc(at), Some(epoch), "{field}");
    }
}

#[test]
fn without_watched_only_partial_plays_count() {
    let server = FakeServer::start(Scenario::reference()).unwrap();
    let strict = run_index(&server, json!({}));
    let loose = run_index(&server, json!({"watched_only": false}));
    assert!(loose.items.len() > strict.items.len());
    assert_eq!(loose.report["skipped"]["partial"], 0);
    assert!(strict.report["skipped"]["partial"].as_u64().unwrap() > 0);
}

/// What the Tracker checks of every item it is given (the plugin does not link the host, so
/// its rules are restated here): a non-empty key, and a `watched_at` of the engine's
/// `YYYY-MM-DDTHH:MM:SSZ` form. The plugin promises more: the time is within
/// [`tautulli_plugin::TIME_RANGE`], and keys are lower-case.
fn assert_tracker_accepts(items: &BTreeMap<String, Value>) {
    for (key, item) in items {
        assert!(!key.is_empty() && *key == key.to_lowercase(), "{key}");
        let at = item["watched_at"]
            .as_str()
            .unwrap_or_else(|| panic!("{item}"));
        let t = tautulli_plugin::parse_utc(at).unwrap_or_else(|| panic!("{key}: {at}"));
        assert!(tautulli_plugin::TIME_RANGE.contains(&t), "{key}: {at}");
    }
}

#[test]
fn rows_with_absurd_times_are_skipped_as_bad_time_and_the_rest_is_read() {
    for read in ["paged", "windowed"] {
        let scenario = Scenario::demo();
        // A third of the history's rows get times past year 9999, negative or too large
        // for any integer (a grouped row is named by its newest session's id).
        let absurd: Vec<i64> = scenario
            .sessions
            .iter()
            .map(|s| s.id)
            .filter(|id| id % 3 == 0)
            .collect();
        let server = FakeServer::start(scenario).unwrap();
        let history = json!({"read": read, "per_page": 50, "window_rows": 50});
        let clean = run_index(&server, history.clone());
        server.push_fault(FaultRule::always(Fault::AbsurdRows(absurd)));
        let run = run_index(&server, history);
        let (r, c) = (&run.report, &clean.report);
        assert_eq!(r["complete"], true, "{read}: {r}");
        let bad = u64_of(&r["skipped"]["bad_time"]);
        assert!(bad > 0, "{read}: {r}");
        assert_eq!(u64_of(&c["skipped"]["bad_time"]), 0);
        // Each absurd row was either skipped for a reason checked before the time, as
        // before, or is now bad_time: a play, or a row skipped for the one reason checked
        // after the time (no season/episode).
        let after = "no_season_episode";
        assert_eq!(
            u64_of(&c["plays_kept"]) - u64_of(&r["plays_kept"])
                + (u64_of(&c["skipped"][after]) - u64_of(&r["skipped"][after])),
            bad,
            "{read}: {r}"
        );
        for (reason, n) in c["skipped"].as_object().unwrap() {
            if reason != "bad_time" && reason != after {
                assert_eq!(&r["skipped"][reason], n, "{read}: {reason}");
            }
        }
        assert_eq!(r["rows_seen"], c["rows_seen"], "{read}");
        assert!(!run.items.is_empty() && run.items.len() < clean.items.len());
        for key in run.items.keys() {
            assert!(clean.items.contains_key(key), "{read}: {key}");
        }
        assert_tracker_accepts(&run.items);
        assert_tracker_accepts(&clean.items);
    }
}

fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Titles Plex hands over are stored without terminal escapes or control characters.
#[test]
fn titles_reach_items_without_escape_sequences_or_control_characters() {
    let mut scenario = Scenario::reference();
    for m in &mut scenario.movies {
        m.common.title = format!("\u{1b}[31m{}\u{1b}[0m\u{7}\n", m.common.title);
    }
    for s in &mut scenario.shows {
        s.common.title = format!("\u{1b}]0;owned\u{7}{}\t", s.common.title);
    }
    let clean = run_index(
        &FakeServer::start(Scenario::reference()).unwrap(),
        json!({}),
    );
    let server = FakeServer::start(scenario).unwrap();
    let run = run_index(&server, json!({}));
    assert_eq!(run.items, clean.items);
    assert_eq!(run.items["tmdb:603"]["title"], "The Matrix");
    assert_eq!(
        run.items["tmdb:1396#s01e01"]["series_title"],
        "Breaking Bad"
    );
}
