//! The plugin's persistent state against the fake Tautulli: the metadata cache (cold run asks
//! once per show and new-agent movie, warm run asks nothing, expiry, clearing), bounded
//! metadata concurrency, and incremental reads from a checkpoint (few requests, only new or
//! grown rows, `delta` semantics, fallbacks to a full read). The checkpoint is the report's
//! `checkpoint` token, passed back as index option `checkpoint` the way a host that committed
//! the import would; the plugin itself keeps none.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fake_tautulli::{generate, GenSpec};
use fake_tautulli::{FakeServer, RecordedRequest, Scenario, Session};
use serde_json::{json, Value};
use tautulli_plugin::TautulliSource;

/// The engine config: `extra` keys go into the `tautulli` block, `history` into its history.
/// A fresh folder, removed when dropped.
fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("tautulli-plugin-state-")
        .tempdir()
        .expect("temp dir")
}

/// The plugin's state file inside `dir`.
fn db(dir: &Path) -> PathBuf {
    dir.join(tautulli_plugin::STATE_FILE_NAME)
}

fn config(server: &FakeServer, state: Option<&Path>, extra: Value, history: Value) -> String {
    let mut t = json!({
        "server_url": server.url(),
        "api_key": server.api_key(),
        "timeout": 5,
        "backoff_ms": 5,
        "history": history,
    });
    if let Some(dir) = state {
        t["state_dir"] = json!(dir.display().to_string());
    }
    if let (Value::Object(t), Value::Object(e)) = (&mut t, extra) {
        t.extend(e);
    }
    json!({ "tautulli": t }).to_string()
}

struct Run {
    items: BTreeMap<String, Value>,
    report: Value,
    max_in_flight: usize,
}

fn run(config: &str, options: &str) -> Run {
    let source = TautulliSource::open(config, "").expect("config is valid");
    let mut cursor = source.index("history", options).expect("index starts");
    let mut items = BTreeMap::new();
    loop {
        let step = cursor.step().expect("index step");
        for (key, item) in step.entries {
            let v: Value = serde_json::from_str(&item).expect("item is JSON");
            assert!(items.insert(key.clone(), v).is_none(), "{key} twice");
        }
        if step.done {
            break;
        }
    }
    let report: Value = serde_json::from_str(&cursor.report_json()).unwrap();
    Run {
        items,
        report,
        max_in_flight: cursor.metadata_max_in_flight(),
    }
}

/// Index options that start from `token` (a report's `checkpoint`) as a host passes it back.
fn from(token: &Value) -> String {
    assert!(token.is_string(), "not a checkpoint token: {token}");
    json!({ "checkpoint": token }).to_string()
}

/// The tables of the plugin's state file.
fn state_tables(dir: &Path) -> Vec<String> {
    let db = rusqlite::Connection::open(db(dir)).unwrap();
    let mut stmt = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    let names = stmt.query_map([], |r| r.get(0)).unwrap();
    names.map(Result::unwrap).collect()
}

fn cmd_count(reqs: &[RecordedRequest], cmd: &str) -> usize {
    reqs.iter()
        .filter(|r| r.cmd.as_deref() == Some(cmd))
        .count()
}

fn metadata_keys(reqs: &[RecordedRequest]) -> Vec<i64> {
    reqs.iter()
        .filter(|r| r.cmd.as_deref() == Some("get_metadata"))
        .map(|r| r.params["rating_key"].parse().unwrap())
        .collect()
}

#[test]
fn cold_run_asks_once_per_title_and_a_warm_run_asks_nothing() {
    let scenario = Scenario::demo();
    let episodes: BTreeSet<i64> = scenario
        .shows
        .iter()
        .flat_map(|s| &s.seasons)
        .flat_map(|s| &s.episodes)
        .map(|e| e.common.rating_key)
        .collect();
    let server = FakeServer::start(scenario).unwrap();
    let dir = temp_dir();
    let cfg = config(
        &server,
        Some(dir.path()),
        json!({}),
        json!({"per_page": 25}),
    );

    let cold = run(&cfg, "{}");
    let asked = metadata_keys(&server.requests());
    let distinct: BTreeSet<i64> = asked.iter().copied().collect();
    assert_eq!(asked.len(), distinct.len(), "asked twice: {asked:?}");
    assert!(!asked.is_empty());
    assert!(asked.iter().all(|rk| !episodes.contains(rk)));
    assert_eq!(cold.report["metadata_calls"], asked.len());
    let cache = &cold.report["metadata_cache"];
    assert_eq!(cache["enabled"], true);
    assert_eq!(cache["hits"], 0);
    // Every answer is cached: IDs, and (Plex answered other lookups) the empty ones too.
    assert_eq!(cache["stored"], asked.len(), "{cache}");
    assert_eq!(cold.report["state"]["persistent"], true);
    assert!(db(dir.path()).exists());

    server.clear_requests();
    let warm = run(&cfg, "{}");
    assert_eq!(cmd_count(&server.requests(), "get_metadata"), 0);
    assert_eq!(warm.report["metadata_calls"], 0);
    assert_eq!(warm.report["metadata_cache"]["hits"], asked.len());
    assert_eq!(
        warm.items, cold.items,
        "the cache changes nothing in the index"
    );
    assert_eq!(warm.report["unresolved"], cold.report["unresolved"]);
}

#[test]
fn expired_answers_are_asked_again_and_clearing_empties_the_cache() {
    let server = FakeServer::start(Scenario::demo()).unwrap();
    let dir = temp_dir();
    let cfg = config(&server, Some(dir.path()), json!({}), json!({}));
    let cold = run(&cfg, "{}");
    let calls = cold.report["metadata_calls"].as_u64().unwrap();
    assert!(calls >= 3);

    // Age three IDs past the 30 days, and every empty answer past its one day.
    let db = rusqlite::Connection::open(db(dir.path())).unwrap();
    let aged = db
        .execute(
            "UPDATE metadata_cache SET fetched_at = fetched_at - 31 * 86400 WHERE rowid IN \
             (SELECT rowid FROM metadata_cache WHERE found = 1 ORDER BY rating_key LIMIT 3)",
            [],
        )
        .unwrap();
    let deleted = db
        .execute(
            "UPDATE metadata_cache SET fetched_at = fetched_at - 2 * 86400 WHERE found = 0",
            [],
        )
        .unwrap();
    assert_eq!(aged, 3);
    assert!(deleted >= 1, "the demo has items deleted from Plex");
    drop(db);

    server.clear_requests();
    let again = run(&cfg, "{}");
    let asked = metadata_keys(&server.requests());
    assert_eq!(asked.len(), aged + deleted, "{asked:?}");
    assert_eq!(
        again.report["metadata_cache"]["expired_removed"],
        aged + deleted
    );
    assert_eq!(again.items, cold.items);

    // A longer life makes nothing stale: nothing asked.
    server.clear_requests();
    let long = config(
        &server,
        Some(dir.path()),
        json!({"metadata_cache_days": 365}),
        json!({}),
    );
    run(&long, "{}");
    assert_eq!(cmd_count(&server.requests(), "get_metadata"), 0);

    // `metadata_cache_days: 0` turns the cache off: everything is asked, nothing stored.
    server.clear_requests();
    let off = config(
        &server,
        Some(dir.path()),
        json!({"metadata_cache_days": 0}),
        json!({}),
    );
    let r = run(&off, "{}");
    assert_eq!(cmd_count(&server.requests(), "get_metadata") as u64, calls);
    assert_eq!(r.report["metadata_cache"]["enabled"], false);
    assert_eq!(r.report["metadata_cache"]["stored"], 0);

    // Clearing: everything of this server is forgotten, then asked and stored again.
    server.clear_requests();
    let cleared = run(&cfg, r#"{"clear_metadata_cache": true}"#);
    assert_eq!(cleared.report["metadata_cache"]["cleared"], calls);
    assert_eq!(cmd_count(&server.requests(), "get_metadata") as u64, calls);
    assert_eq!(cleared.report["metadata_cache"]["stored"], calls);
    assert_eq!(cleared.items, cold.items);
}

#[test]
fn without_state_dir_nothing_persists_and_the_report_says_so() {
    let server = FakeServer::start(Scenario::demo()).unwrap();
    let cfg = config(&server, None, json!({}), json!({"mode": "incremental"}));
    let first = run(&cfg, "{}");
    let calls = cmd_count(&server.requests(), "get_metadata");
    assert!(calls > 0);
    server.clear_requests();
    let second = run(&cfg, "{}");
    assert_eq!(cmd_count(&server.requests(), "get_metadata"), calls);
    assert_eq!(first.report["checkpoint"], second.report["checkpoint"]);
    // The checkpoint needs no plugin state: the host passes it back.
    let delta = run(&cfg, &from(&first.report["checkpoint"]));
    assert_eq!(delta.report["read"], "incremental", "{}", delta.report);
    assert_eq!(delta.report["state"]["persistent"], false);
    for r in [&first, &second] {
        assert_eq!(r.report["state"]["persistent"], false);
        assert!(r.report["state"]["note"]
            .as_str()
            .unwrap()
            .contains("state_dir is not set"));
        assert_eq!(r.report["metadata_cache"]["enabled"], false);
        assert_eq!(r.report["read"], "full");
        assert_eq!(r.report["semantics"], "present");
        assert!(r.report["incremental"]["fallback_reason"]
            .as_str()
            .unwrap()
            .contains("no checkpoint"));
    }
}

#[test]
fn an_unusable_state_dir_is_reported_and_the_read_goes_on() {
    let server = FakeServer::start(Scenario::reference()).unwrap();
    let dir = temp_dir();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let r = run(&config(&server, Some(&file), json!({}), json!({})), "{}");
    assert_eq!(r.report["complete"], true);
    assert_eq!(r.report["state"]["persistent"], false);
    let note = r.report["state"]["note"].as_str().unwrap();
    assert!(note.contains("cannot create the state folder"), "{note}");
    assert!(!r.items.is_empty());
}

/// A generated history of legacy-agent items (no metadata lookups).
fn big_history(plays: usize) -> Scenario {
    generate(&GenSpec {
        plays,
        movies: 400,
        shows: 60,
        episodes_per_show: 20,
        users: 8,
        legacy_share: 1.0,
        live_share: 0.0,
        ..GenSpec::default()
    })
}

/// The incremental tests' start: a fake serving [`big_history`] of `plays`, a state folder,
/// and the config that reads them with `history`.
fn incremental_setup(
    plays: usize,
    history: Value,
) -> (Scenario, FakeServer, tempfile::TempDir, String) {
    let scenario = big_history(plays);
    let server = FakeServer::start(scenario.clone()).unwrap();
    let dir = temp_dir();
    let cfg = config(&server, Some(dir.path()), json!({}), history);
    (scenario, server, dir, cfg)
}

/// `n` new watched single-session plays after everything in `scenario`, one every 10 min,
/// copying the items and users of the newest watched sessions.
fn new_plays(scenario: &Scenario, n: usize) -> Vec<Session> {
    let last = scenario.sessions.iter().map(|s| s.stopped).max().unwrap();
    let next_id = scenario.sessions.iter().map(|s| s.id).max().unwrap() + 1;
    let templates: Vec<&Session> = scenario
        .sessions
        .iter()
        .rev()
        .filter(|s| s.percent >= 95.0 && !s.live)
        .take(n)
        .collect();
    (0..n)
        .map(|i| {
            let mut s = templates[i % templates.len()].clone();
            s.id = next_id + i as i64;
            s.reference_id = None;
            s.started = last + 600 + i as i64 * 600;
            s.stopped = s.started + 1800;
            s.percent = 100.0;
            s
        })
        .collect()
}

#[test]
fn incremental_reads_only_the_new_plays_with_few_requests() {
    let (scenario, server, dir, cfg) =
        incremental_setup(20_000, json!({"per_page": 1000, "mode": "incremental"}));

    // No checkpoint yet: a full read, complete and `present`, whose report carries one.
    let full = run(&cfg, "{}");
    assert_eq!(full.report["read"], "full");
    assert_eq!(full.report["semantics"], "present");
    assert_eq!(full.report["history_mode"], "incremental");
    let inc = &full.report["incremental"];
    assert!(inc["fallback_reason"]
        .as_str()
        .unwrap()
        .contains("no checkpoint yet"));
    let token = full.report["checkpoint"].clone();
    assert!(token.is_string(), "{}", full.report);
    let max_id = scenario.sessions.iter().map(|s| s.id).max().unwrap();
    assert_eq!(inc["checkpoint_after"]["max_row_id"], max_id);
    assert_eq!(
        inc["checkpoint_after"]["records"],
        full.report["records_filtered"]
    );
    // The plugin keeps nothing of it: a read without the token is a full one again.
    assert_eq!(state_tables(dir.path()), ["metadata_cache"]);
    assert_eq!(run(&cfg, "{}").report["read"], "full");

    let added = new_plays(&scenario, 1000);
    let newest_added = added.last().unwrap().id;
    server.add_sessions(added.clone());
    server.clear_requests();
    let delta = run(&cfg, &from(&token));
    let pages = cmd_count(&server.requests(), "get_history");
    assert!(
        pages <= 1000usize.div_ceil(1000) + 2,
        "{pages} history requests"
    );
    assert_eq!(cmd_count(&server.requests(), "get_metadata"), 0);
    let r = &delta.report;
    assert_eq!(r["read"], "incremental", "{r}");
    assert_eq!(r["semantics"], "delta");
    assert_eq!(r["complete"], true, "{r}");
    assert_eq!(r["incremental"]["fallback_reason"], Value::Null);
    assert_eq!(r["incremental"]["checkpoint_before"]["max_row_id"], max_id);
    assert_eq!(
        r["incremental"]["checkpoint_after"]["max_row_id"],
        newest_added
    );
    assert!(
        r["checkpoint"].is_string() && r["checkpoint"] != token,
        "{r}"
    );
    assert!(r["incremental"]["unchanged_rows"].as_u64().unwrap() > 0);

    // A host that did not commit that import still holds the old token: the same plays
    // come again, nothing is lost.
    let again = run(&cfg, &from(&token));
    assert_eq!(again.items, delta.items);
    assert_eq!(again.report["checkpoint"], r["checkpoint"]);

    // Exactly what a full read of the new plays alone gives.
    let mut only_new = scenario.clone();
    only_new.sessions = added;
    let alone = FakeServer::start(only_new).unwrap();
    let want = run(&config(&alone, None, json!({}), json!({})), "{}");
    assert_eq!(want.items.len(), delta.items.len());
    assert_eq!(delta.items, want.items);

    // Nothing new: one page, nothing yielded.
    server.clear_requests();
    let idle = run(&cfg, &from(&delta.report["checkpoint"]));
    assert!(idle.items.is_empty(), "{:?}", idle.items.keys().take(5));
    assert_eq!(cmd_count(&server.requests(), "get_history"), 1);
    assert_eq!(idle.report["semantics"], "delta");
}

#[test]
fn incremental_picks_up_grown_groups_and_plays_that_finished_late() {
    let history = json!({"per_page": 100, "mode": "incremental", "overlap_hours": 6});
    let (scenario, server, _dir, cfg) = incremental_setup(2_000, history.clone());
    let full = run(&cfg, "{}");
    let token = full.report["checkpoint"].clone();
    let max_date = full.report["incremental"]["checkpoint_after"]["max_date"]
        .as_i64()
        .unwrap();
    let mut next_id = scenario.sessions.iter().map(|s| s.id).max().unwrap() + 1;
    let watched: Vec<&Session> = scenario
        .sessions
        .iter()
        .rev()
        .filter(|s| s.percent >= 95.0)
        .collect();

    // The newest watched play gets a second session in its group (resumed later).
    let grown = watched[0];
    let mut more = grown.clone();
    more.id = next_id;
    more.reference_id = Some(grown.reference_id());
    more.started = grown.stopped + 3600;
    more.stopped = more.started + 600;
    next_id += 1;
    // A play that started 2 h before the checkpoint's newest play and finished after it.
    let mut late = watched
        .iter()
        .find(|s| s.rating_key != grown.rating_key)
        .map(|s| (*s).clone())
        .unwrap();
    late.id = next_id;
    late.reference_id = None;
    late.started = max_date - 2 * 3600;
    late.stopped = max_date + 3 * 3600;
    server.add_sessions(vec![more.clone(), late.clone()]);

    server.clear_requests();
    let delta = run(&cfg, &from(&token));
    assert_eq!(delta.report["complete"], true, "{}", delta.report);
    assert_eq!(delta.report["semantics"], "delta");
    let stamps: BTreeSet<i64> = delta
        .items
        .values()
        .map(|i| tautulli_plugin::parse_utc(i["watched_at"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(stamps, BTreeSet::from([more.stopped, late.stopped]));
    assert_eq!(delta.items.len(), 2, "{:?}", delta.items.keys());

    // The same keys and times as a full read now shows for them.
    let now_full = run(&config(&server, None, json!({}), json!({})), "{}");
    for (key, item) in &delta.items {
        assert_eq!(now_full.items.get(key), Some(item), "{key}");
    }
    let pages = cmd_count(&server.requests(), "get_history");
    assert!(pages < 20, "{pages}");
}

#[test]
fn settings_changes_and_reset_checkpoint_force_a_full_read() {
    let scenario = big_history(500);
    // A user filter must name a user Tautulli has (else the read fails `config_invalid`).
    let a_user = scenario.users[0].user_id;
    let server = FakeServer::start(scenario).unwrap();
    let dir = temp_dir();
    let strict = config(
        &server,
        Some(dir.path()),
        json!({}),
        json!({"mode": "incremental"}),
    );
    let first = run(&strict, "{}");
    let strict_token = first.report["checkpoint"].clone();
    let inc = run(&strict, &from(&strict_token));
    assert_eq!(inc.report["read"], "incremental");

    // The strict read's checkpoint does not fit looser settings.
    let loose = config(
        &server,
        Some(dir.path()),
        json!({}),
        json!({"mode": "incremental", "watched_only": false}),
    );
    let r = run(&loose, &from(&strict_token));
    assert_eq!(r.report["read"], "full");
    assert_eq!(r.report["semantics"], "present");
    let why = r.report["incremental"]["fallback_reason"].as_str().unwrap();
    assert!(why.contains("settings changed"), "{why}");
    assert_eq!(r.report["incremental"]["checkpoint_before"], Value::Null);
    let loose_token = r.report["checkpoint"].clone();
    assert_ne!(loose_token, strict_token);
    assert_eq!(
        run(&loose, &from(&loose_token)).report["read"],
        "incremental"
    );

    // Garbage, or another instance's token: a full read that says why, never an error.
    let garbage = run(&loose, &from(&json!("not a checkpoint")));
    assert_eq!(garbage.report["read"], "full");
    assert!(garbage.report["incremental"]["fallback_reason"]
        .as_str()
        .unwrap()
        .contains("not one this plugin wrote"));
    assert!(garbage.report["checkpoint"].is_string());
    let other_user = config(
        &server,
        Some(dir.path()),
        json!({}),
        json!({"mode": "incremental", "watched_only": false, "user_id": a_user}),
    );
    let r = run(&other_user, &from(&loose_token));
    assert_eq!(r.report["read"], "full");
    assert!(r.report["incremental"]["fallback_reason"]
        .as_str()
        .unwrap()
        .contains("another history stream"));

    // reset_checkpoint ignores the token given, and its report carries a new one.
    let reset = run(
        &loose,
        &json!({"checkpoint": loose_token, "reset_checkpoint": true}).to_string(),
    );
    assert_eq!(reset.report["read"], "full");
    assert_eq!(reset.report["semantics"], "present");
    assert_eq!(
        reset.report["incremental"]["checkpoint_before"],
        Value::Null
    );
    assert!(reset.report["incremental"]["fallback_reason"]
        .as_str()
        .unwrap()
        .contains("reset_checkpoint"));
    assert_eq!(
        reset.report["checkpoint"], loose_token,
        "same data, same token"
    );

    // A full-mode read gives a checkpoint too, and never reads incrementally.
    let full_mode = config(
        &server,
        Some(dir.path()),
        json!({}),
        json!({"watched_only": false}),
    );
    let r = run(&full_mode, &from(&loose_token));
    assert_eq!(r.report["read"], "full");
    assert_eq!(r.report["incremental"]["fallback_reason"], Value::Null);
    assert_eq!(r.report["checkpoint"], loose_token);
}

/// A dry run may start from the checkpoint (so its plan is what a real run imports) and
/// reports the same checkpoint; an incomplete read reports none.
#[test]
fn a_dry_run_reads_from_the_checkpoint_and_an_incomplete_read_gives_none() {
    let (scenario, server, dir, cfg) =
        incremental_setup(1_000, json!({"mode": "incremental", "per_page": 100}));
    let token = run(&cfg, "{}").report["checkpoint"].clone();
    server.add_sessions(new_plays(&scenario, 30));
    let real = run(&cfg, &from(&token));
    let dry = run(
        &cfg,
        &json!({"checkpoint": token, "dry_run": true}).to_string(),
    );
    assert_eq!(dry.report["read"], "incremental", "{}", dry.report);
    assert_eq!(dry.items, real.items);
    assert_eq!(dry.report["checkpoint"], real.report["checkpoint"]);
    assert!(dry.report["checkpoint"].is_string());

    // Cut short by the page cap: incomplete, so no checkpoint to store. Paged, as pages are
    // what is capped (a windowed read asks the whole history in one window).
    let capped = config(
        &server,
        Some(dir.path()),
        json!({}),
        json!({"mode": "incremental", "per_page": 100, "max_pages": 2, "read": "paged"}),
    );
    let r = run(&capped, "{}");
    assert_eq!(r.report["complete"], false, "{}", r.report);
    assert_eq!(r.report["checkpoint"], Value::Null);
    assert_eq!(r.report["incremental"]["checkpoint_after"], Value::Null);
}

#[test]
fn metadata_lookups_run_with_bounded_concurrency() {
    let scenario = generate(&GenSpec {
        plays: 3000,
        movies: 10,
        shows: 200,
        episodes_per_show: 3,
        users: 4,
        legacy_share: 0.0,
        live_share: 0.0,
        partial_share: 0.0,
        ..GenSpec::default()
    });
    let server = FakeServer::start(scenario).unwrap();
    // Enough latency that four workers overlap, little enough that one worker's ~200
    // lookups in a row take two seconds.
    server.set_latency(Some("get_metadata"), Duration::from_millis(10));
    let mut elapsed = Vec::new();
    for concurrency in [4, 1] {
        server.clear_requests();
        let cfg = config(
            &server,
            None,
            json!({"concurrency": concurrency}),
            json!({"per_page": 1000}),
        );
        let started = Instant::now();
        let r = run(&cfg, "{}");
        let calls = cmd_count(&server.requests(), "get_metadata");
        elapsed.push((concurrency, calls, started.elapsed()));
        assert!(calls >= 150, "{calls} lookups");
        assert!(r.max_in_flight <= concurrency, "{}", r.max_in_flight);
        if concurrency > 1 {
            assert!(r.max_in_flight > 1, "lookups never overlapped");
        } else {
            assert_eq!(r.max_in_flight, 1);
        }
    }
    eprintln!("(concurrency, lookups, time) at 10 ms per lookup: {elapsed:?}");
}
