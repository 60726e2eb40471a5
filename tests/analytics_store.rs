//! The analytics store against the fake Tautulli, through the plugin's Rust API: incremental
//! sync (request counts, new plays, regrouped sessions, faults rolling back), collection
//! resolution (config and discovered, Plex down), snapshot statistics checked by hand on the
//! reference scenario and against Tautulli's own `get_item_watch_time_stats` on the demo,
//! properties, and a reviewed insta snapshot of `latest()` on the demo.

use std::path::Path;
use std::time::Duration;

use fake_tautulli::{FakeServer, Fault, FaultRule, Scenario, Session as FakeSession};
use serde_json::{json, Value};
use tautulli_plugin::AnalyticsService;
use tautulli_plugin::Error;
use tautulli_plugin::Store;
use tautulli_plugin::TautulliConfig;
use tautulli_plugin::{Client, Command};

/// 2027-01-01T00:00:00Z: after every demo and reference play.
const NOW: i64 = 1_798_761_600;
/// 2026-11-22T00:00:00Z: the demo's collections were last played from 11-11 to 11-21, so
/// every window has something to count.
const DEMO_NOW: i64 = 1_795_305_600;
const DAY: i64 = 86_400;

/// A fresh folder, removed when dropped.
fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("analytics-it-{tag}-"))
        .tempdir()
        .expect("temp dir")
}

/// Most tests here check `start` paging request by request (`read: paged`);
/// `windowed_syncs_ask_day_windows` checks the default reader.
fn config(server: &FakeServer, dir: &Path, per_page: u32, analytics: Value) -> String {
    config_with(
        server,
        dir,
        json!({"per_page": per_page, "read": "paged"}),
        analytics,
    )
}

fn config_with(server: &FakeServer, dir: &Path, history: Value, analytics: Value) -> String {
    let mut a = analytics;
    a["data_dir"] = json!(dir.display().to_string());
    json!({
        "tautulli": {
            "server_url": server.url(),
            "api_key": server.api_key(),
            "timeout": 5,
            "max_retries": 0,
            "backoff_ms": 1,
            "history": history,
        },
        "analytics": a,
    })
    .to_string()
}

fn open(server: &FakeServer, dir: &Path, per_page: u32, analytics: Value) -> AnalyticsService {
    AnalyticsService::open(&config(server, dir, per_page, analytics), "").expect("opens")
}

fn history_requests(server: &FakeServer) -> Vec<fake_tautulli::RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.cmd.as_deref() == Some("get_history"))
        .collect()
}

/// Every row of the tables a sync writes, for before/after comparisons.
fn dump(dir: &Path) -> Vec<String> {
    let store = Store::open(dir).unwrap();
    let mut out: Vec<String> = store
        .all_sessions()
        .unwrap()
        .into_iter()
        .map(|s| format!("{s:?}"))
        .collect();
    out.push(format!("counts {:?}", {
        let mut c = store.counts().unwrap();
        c.last_sync = None;
        c
    }));
    out
}

fn session(id: i64, user_id: i64, rating_key: i64, started: i64, length: i64) -> FakeSession {
    FakeSession {
        id,
        reference_id: None,
        user_id,
        rating_key,
        started,
        stopped: started + length,
        paused_counter: 0,
        percent: 90.0,
        credits_watched: false,
        live: false,
        transcode_decision: Default::default(),
        client: 0,
    }
}

/// Reference scenario: newest start is session 9 (1795118400). With 3 rows a page and a
/// 24 h overlap the cutoff is 1795032000 (session 8's start).
#[test]
fn first_sync_reads_all_pages_and_resyncs_read_only_the_top() {
    let server = FakeServer::start(Scenario::reference()).unwrap();
    let dir = temp_dir("counts");
    let svc = open(&server, dir.path(), 3, json!({}));

    let r = svc.sync().unwrap();
    assert!(r.first_sync);
    // 10 sessions: pages of 3, 3, 3 and 1.
    assert_eq!(
        (r.pages, r.requests, r.inserted, r.total_sessions),
        (4, 4, 10, 10)
    );
    let reqs = history_requests(&server);
    assert_eq!(reqs.len(), 4);
    for q in &reqs {
        let p = &q.params;
        assert_eq!(p.get("grouping").map(String::as_str), Some("0"));
        assert_eq!(p.get("include_activity").map(String::as_str), Some("0"));
        assert_eq!(p.get("order_column").map(String::as_str), Some("date"));
        assert_eq!(p.get("order_dir").map(String::as_str), Some("desc"));
        assert!(
            !p.contains_key("media_type") && !p.contains_key("user_id"),
            "{p:?}"
        );
    }
    let starts: Vec<&str> = reqs.iter().map(|q| q.params["start"].as_str()).collect();
    assert_eq!(starts, ["0", "3", "6", "9"]);

    // No new play: page 1 (sessions 9, 8, 7) is all held and session 7 started before the
    // cutoff, so one request, and nothing changes.
    let before = dump(dir.path());
    server.clear_requests();
    let r = svc.sync().unwrap();
    assert!(!r.first_sync);
    assert_eq!(
        (r.requests, r.inserted, r.updated, r.unchanged),
        (1, 0, 0, 3)
    );
    assert_eq!(history_requests(&server).len(), 1);
    assert_eq!(
        dump(dir.path()),
        before,
        "a re-sync with no new plays changes nothing"
    );

    // Four new plays on top: pages 1 (new x3) and 2 (new, 9, 8) hold new or
    // above-cutoff rows; page 3 (7, 6, 5) is all held and below the cutoff.
    let base = 1_795_200_000;
    server.add_sessions(
        (11..=14)
            .map(|id| session(id, 1002, 104, base + id * 10_000, 3000))
            .collect(),
    );
    server.clear_requests();
    let r = svc.sync().unwrap();
    assert_eq!((r.requests, r.inserted, r.total_sessions), (3, 4, 14));
    assert_eq!(history_requests(&server).len(), 3);

    // The demo's 228 plays: the first sync pages through everything, a re-sync does not.
    let demo = FakeServer::start(Scenario::demo()).unwrap();
    let dir = temp_dir("demo-counts");
    let svc = open(&demo, dir.path(), 25, json!({}));
    let first = svc.sync().unwrap();
    assert_eq!(first.total_sessions as usize, demo.session_count());
    assert_eq!(first.requests, (demo.session_count() as u64).div_ceil(25));
    let again = svc.sync().unwrap();
    assert_eq!(again.inserted + again.updated, 0);
    assert!(again.requests <= 2, "{again:?}");
}

/// The default reader: one count request and day windows for the first sync, then one
/// day-filtered request per re-sync; the store ends as a paged sync leaves it.
#[test]
fn windowed_syncs_ask_day_windows_and_store_what_paging_stores() {
    let demo = FakeServer::start(Scenario::demo()).unwrap();
    let paged_dir = temp_dir("paged");
    open(&demo, paged_dir.path(), 25, json!({})).sync().unwrap();

    let dir = temp_dir("windowed");
    let cfg = config_with(&demo, dir.path(), json!({"window_rows": 40}), json!({}));
    let svc = AnalyticsService::open(&cfg, "").unwrap();
    demo.clear_requests();
    let first = svc.sync().unwrap();
    assert_eq!(first.total_sessions as usize, demo.session_count());
    assert_eq!(dump(dir.path()), dump(paged_dir.path()));
    let reqs = demo.requests();
    let counts: Vec<_> = reqs
        .iter()
        .filter(|r| r.cmd.as_deref() == Some("get_plays_by_date"))
        .collect();
    assert_eq!(counts.len(), 1);
    assert_eq!(
        counts[0].params.get("grouping").map(String::as_str),
        Some("0")
    );
    let history = history_requests(&demo);
    assert!(history.len() > 3, "{}", history.len());
    assert!(history
        .iter()
        .all(|r| r.params.contains_key("after") || r.params.contains_key("before")));

    demo.clear_requests();
    let again = svc.sync().unwrap();
    assert_eq!(again.inserted + again.updated, 0);
    let history = history_requests(&demo);
    assert_eq!(history.len(), 1, "{again:?}");
    assert!(history[0].params.contains_key("after"));
}

#[test]
fn sessions_are_stored_as_tautulli_has_them() {
    let server = FakeServer::start(Scenario::reference()).unwrap();
    let dir = temp_dir("fields");
    let svc = open(&server, dir.path(), 1000, json!({}));
    svc.sync().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s1 = store.session(1).unwrap().unwrap();
    assert_eq!((s1.user_id, s1.user.as_str()), (1001, "Alice A."));
    assert_eq!(
        (s1.started, s1.stopped),
        (1_794_340_800, Some(1_794_349_020))
    );
    // play_duration = stopped - started - paused.
    assert_eq!((s1.play_seconds, s1.paused_seconds), (8_100, 120));
    assert_eq!(s1.rating_key, 101);
    let s4 = store.session(4).unwrap().unwrap();
    assert_eq!(s4.reference_id, 3, "ungrouped rows keep their group");
    let s5 = store.session(5).unwrap().unwrap();
    assert_eq!(
        (s5.parent_rating_key, s5.grandparent_rating_key),
        (Some(200), Some(199))
    );
    let counts = store.counts().unwrap();
    assert_eq!((counts.sessions, counts.viewings, counts.users), (10, 9, 2));
}

/// Session 11 plays alice's "Birthday 2019" again right after session 9. Tautulli first
/// writes it alone, then (regrouped) as part of group 9: the stored copy follows.
#[test]
fn group_growth_and_regrouping_update_reference_ids() {
    let dir = temp_dir("groups");
    let mut lone = Scenario::reference();
    let s11 = session(11, 1001, 9001, 1_795_119_600, 300);
    lone.sessions.push(s11.clone());
    let server = FakeServer::start(lone).unwrap();
    let svc = open(&server, dir.path(), 1000, json!({}));
    svc.sync().unwrap();
    let viewings = |d: &Path| Store::open(d).unwrap().counts().unwrap().viewings;
    assert_eq!(viewings(dir.path()), 10);

    // A new play joins group 9 as it is written.
    server.add_sessions(vec![FakeSession {
        reference_id: Some(9),
        ..session(12, 1001, 9001, 1_795_120_000, 200)
    }]);
    let r = svc.sync().unwrap();
    assert_eq!((r.inserted, r.updated), (1, 0));
    assert_eq!(viewings(dir.path()), 10, "12 joined an existing viewing");
    drop(svc);
    drop(server);

    // Regrouped: 11 and 12 now belong to group 9 on the server.
    let mut regrouped = Scenario::reference();
    regrouped.sessions.push(FakeSession {
        reference_id: Some(9),
        ..s11
    });
    regrouped.sessions.push(FakeSession {
        reference_id: Some(9),
        ..session(12, 1001, 9001, 1_795_120_000, 200)
    });
    let server = FakeServer::start(regrouped).unwrap();
    let svc = open(&server, dir.path(), 1000, json!({}));
    let r = svc.sync().unwrap();
    assert_eq!((r.inserted, r.updated, r.total_sessions), (0, 1, 12));
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.session(11).unwrap().unwrap().reference_id, 9);
    assert_eq!(store.counts().unwrap().viewings, 9);
}

/// A fault on the second page of a re-sync: page 1 was upserted inside the transaction,
/// and is rolled back with everything else.
#[test]
fn faults_roll_the_whole_sync_back() {
    let server = FakeServer::start(Scenario::reference()).unwrap();
    let dir = temp_dir("faults");
    let svc = open(&server, dir.path(), 3, json!({}));
    svc.sync().unwrap();
    server.add_sessions(
        (11..=17)
            .map(|id| session(id, 1001, 104, 1_795_200_000 + id * 10_000, 3000))
            .collect(),
    );
    let before = dump(dir.path());
    let last_sync = Store::open(dir.path()).unwrap().counts().unwrap().last_sync;
    let cases: Vec<(Fault, &str)> = vec![
        (Fault::MalformedJson, "bad_response"),
        (Fault::TruncatedJson, "bad_response"),
        (Fault::WrongTypes, "bad_response"),
        (Fault::Html { status: 502 }, "unreachable"),
        (Fault::ServerError500, "bad_response"),
        (Fault::InvalidKey, "auth_failed"),
    ];
    for (fault, code) in cases {
        server.clear_faults();
        // The first get_history answers normally; the second gets the fault.
        server.push_fault(FaultRule::for_cmd(
            "get_history",
            Fault::Slow(Duration::ZERO),
            1,
        ));
        server.push_fault(FaultRule::for_cmd("get_history", fault.clone(), 1));
        let e = svc.sync().unwrap_err();
        assert_eq!(e.code().name(), code, "{fault:?}: {e}");
        assert_eq!(dump(dir.path()), before, "{fault:?}: store untouched");
        assert_eq!(
            Store::open(dir.path()).unwrap().counts().unwrap().last_sync,
            last_sync
        );
        assert!(!e.to_string().contains(&server.api_key()), "{e}");
    }
    server.clear_faults();
    let r = svc.sync().unwrap();
    assert_eq!((r.inserted, r.total_sessions), (7, 17));
}

/// Sessions whose times a broken database holds as garbage (past year 9999, `i64::MAX`,
/// negative, a digit string too large for any integer) are never stored: a re-sync leaves
/// the good copies held as they were (before, it overwrote them: "4 updated"), a first sync
/// leaves them out and still adds up, and both say how many.
#[test]
fn sessions_with_absurd_times_are_skipped_and_never_overwrite_good_ones() {
    // The three newest sessions of the reference scenario, and its oldest (far below any
    // re-sync's overlap).
    let absurd = vec![9, 8, 7, 10];
    for read in ["paged", "windowed"] {
        let history = json!({"per_page": 3, "window_rows": 10, "read": read});
        let server = FakeServer::start(Scenario::reference()).unwrap();
        let dir = temp_dir("absurd");
        let svc = AnalyticsService::open(
            &config_with(&server, dir.path(), history.clone(), json!({})),
            "",
        )
        .unwrap();
        assert_eq!(svc.sync().unwrap().total_sessions, 10, "{read}");
        let before = dump(dir.path());

        server.push_fault(FaultRule::always(Fault::AbsurdRows(absurd.clone())));
        let r = svc.sync().unwrap();
        // A re-sync reads only the newest sessions: those it read were left out.
        assert_eq!((r.inserted, r.updated), (0, 0), "{read}: {r:?}");
        assert!((1..=4).contains(&r.bad_time), "{read}: {r:?}");
        assert_eq!(
            dump(dir.path()),
            before,
            "{read}: the held sessions are untouched"
        );

        // Into an empty store: left out, and the counts still add up.
        let fresh = temp_dir("absurd-first");
        let svc =
            AnalyticsService::open(&config_with(&server, fresh.path(), history, json!({})), "")
                .unwrap();
        let first = svc.sync().unwrap();
        assert_eq!(
            (first.inserted, first.bad_time, first.total_sessions),
            (6, 4, 6),
            "{read}: {first:?}"
        );
        let store = Store::open(fresh.path()).unwrap();
        let held: Vec<i64> = store.all_sessions().unwrap().iter().map(|s| s.id).collect();
        assert_eq!(held, [1, 2, 3, 4, 5, 6], "{read}");
        for s in store.all_sessions().unwrap() {
            assert!(tautulli_plugin::TIME_RANGE.contains(&s.started), "{s:?}");
            assert!(s
                .stopped
                .is_none_or(|t| tautulli_plugin::TIME_RANGE.contains(&t)));
        }
        // A re-sync of that store changes nothing either.
        let r = svc.sync().unwrap();
        assert_eq!((r.inserted, r.updated), (0, 0), "{read}: {r:?}");
        assert!((1..=4).contains(&r.bad_time), "{read}: {r:?}");
        assert_eq!(r.total_sessions, 6);
        // The sessions left out still count, the oldest too, though not read again: no
        // reading everything for it.
        assert!(
            r.rows_seen < first.rows_seen,
            "{read}: {r:?} after {first:?}"
        );
    }
}

/// User names and titles Tautulli hands over are stored without terminal escapes or
/// control characters: the same store as from clean names.
#[test]
fn names_and_titles_are_stored_without_escape_sequences() {
    let mut scenario = Scenario::reference();
    for u in &mut scenario.users {
        u.username = format!("\u{1b}[2J{}\u{7}", u.username);
        u.friendly_name = u
            .friendly_name
            .as_ref()
            .map(|f| format!("{f}\u{1b}]0;owned\u{7}\r\n"));
    }
    for m in &mut scenario.movies {
        m.common.title = format!("\u{9b}31m{}\u{0}", m.common.title);
    }
    let users = |dir: &Path| -> Vec<(Option<String>, Option<String>)> {
        let conn = rusqlite::Connection::open(dir.join("analytics.sqlite")).unwrap();
        let mut stmt = conn
            .prepare("SELECT username, friendly_name FROM users ORDER BY user_id")
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        rows
    };
    let clean_server = FakeServer::start(Scenario::reference()).unwrap();
    let clean = temp_dir("clean-names");
    open(&clean_server, clean.path(), 100, json!({}))
        .sync()
        .unwrap();
    let server = FakeServer::start(scenario).unwrap();
    let dir = temp_dir("dirty-names");
    open(&server, dir.path(), 100, json!({})).sync().unwrap();
    assert_eq!(dump(dir.path()), dump(clean.path()));
    assert_eq!(users(dir.path()), users(clean.path()));
    for s in Store::open(dir.path()).unwrap().all_sessions().unwrap() {
        for text in [&s.user, &s.title, &s.platform, &s.player] {
            assert!(!text.chars().any(char::is_control), "{s:?}");
        }
    }
}

/// One provider shared between threads: while its sync waits for a history page (held by
/// the fake), the other threads chart, query and collect on the store as last committed,
/// without waiting for the read; the sync then stores the new plays.
#[test]
fn a_held_sync_does_not_hold_up_the_providers_other_calls() {
    let server = FakeServer::start(Scenario::reference()).unwrap();
    let dir = temp_dir("held");
    let mut cfg: Value = serde_json::from_str(&config(&server, dir.path(), 3, json!({}))).unwrap();
    cfg["tautulli"]["timeout"] = json!(120);
    let svc = AnalyticsService::open(&cfg.to_string(), "").unwrap();
    svc.sync().unwrap();
    let before = dump(dir.path());
    let chart = svc.chart("plays-by-date", 0, None, Some(NOW), 10).unwrap();
    server.add_sessions(
        (11..=13)
            .map(|id| session(id, 1001, 104, 1_795_200_000 + id * 10_000, 3000))
            .collect(),
    );
    let hold = fake_tautulli::Hold::new();
    server.push_fault(FaultRule::for_cmd(
        "get_history",
        Fault::Hold(hold.clone()),
        1,
    ));
    let svc = &svc;
    std::thread::scope(|scope| {
        let syncing = scope.spawn(|| svc.sync());
        assert!(hold.wait_for_arrivals(1, Duration::from_secs(60)));
        let (done, answers) = std::sync::mpsc::channel();
        scope.spawn(move || {
            let chart = svc.chart("plays-by-date", 0, None, Some(NOW), 10).unwrap();
            let status = svc.query(&json!({"query": "status"})).unwrap();
            svc.collect(None, Some(NOW)).unwrap();
            let _ = done.send((chart, status));
        });
        // (A safety bound, not a timing: they must not wait for the held read at all.)
        let Ok((during, status)) = answers.recv_timeout(Duration::from_secs(60)) else {
            hold.release();
            panic!("the provider's other calls waited for the sync's read");
        };
        assert_eq!(during, chart, "the committed store");
        assert_eq!(status["status"]["sessions"], 10, "{status}");
        assert_eq!(hold.waiting(), 1, "the sync is still held");
        hold.release();
        let r = syncing.join().unwrap().unwrap();
        assert_eq!((r.inserted, r.total_sessions), (3, 13));
    });
    assert_ne!(dump(dir.path()), before);
    assert_ne!(
        svc.chart("plays-by-date", 0, None, Some(NOW), 10).unwrap(),
        chart
    );
}

fn reference_collections() -> Value {
    json!({
        "collections": [
            {"name": "Matrix", "library": "Movies", "rating_key": 5001, "members": [101]},
            {"name": "Breaking Bad", "library": 2, "rating_key": 6001, "members": [199]},
            {"name": "Pilot only", "library": 2, "rating_key": 6002, "members": [201, 777]}
        ]
    })
}

fn row<'a>(rows: &'a [Value], name: &str, window: u64) -> &'a Value {
    rows.iter()
        .find(|r| r["collection"] == name && r["window_days"] == window)
        .unwrap_or_else(|| panic!("no row {name}/{window} in {rows:#?}"))
}

fn counts(r: &Value) -> [i64; 5] {
    [
        "plays",
        "watch_seconds",
        "unique_users",
        "items_with_plays",
        "total_items",
    ]
    .map(|k| r[k].as_i64().unwrap())
}

/// Hand-checked on the reference scenario, at 1795200000 (2026-11-20T18:40:00Z):
/// - The Matrix (101): alice (session 1, 8220 s - 120 s paused = 8100 s, stopped
///   2026-11-10) and bob (session 10, 8000 s, stopped 2026-09-21).
/// - Breaking Bad (show 199): alice's episodes 201 (session 5, 3400 s, stopped 2026-11-15)
///   and 202 (session 6, 300 s, stopped 2026-11-16): two viewings, one item (the show).
/// - "Pilot only" (episode 201 and 777, never played): one viewing, 1 of 2 items.
#[test]
fn collection_stats_on_the_reference_scenario_are_right() {
    let server = FakeServer::start(Scenario::reference()).unwrap();
    let dir = temp_dir("stats");
    let svc = open(&server, dir.path(), 1000, reference_collections());
    svc.sync().unwrap();
    let now = 1_795_200_000;
    let report = svc.collect(Some("launch".into()), Some(now)).unwrap();
    assert_eq!(report.collections, 3);
    assert_eq!(report.snapshots_written, 12);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let rows = svc.query(&json!({"query": "latest"})).unwrap()["rows"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 12);
    assert_eq!(counts(row(&rows, "Matrix", 0)), [2, 16_100, 2, 1, 1]);
    // 30 days back is 2026-10-21: bob's play is older.
    assert_eq!(counts(row(&rows, "Matrix", 30)), [1, 8_100, 1, 1, 1]);
    // 7 days back is 2026-11-13T18:40Z: session 1 stopped on 2026-11-10.
    assert_eq!(counts(row(&rows, "Matrix", 7)), [0, 0, 0, 0, 1]);
    assert_eq!(counts(row(&rows, "Breaking Bad", 0)), [2, 3_700, 1, 1, 1]);
    assert_eq!(counts(row(&rows, "Breaking Bad", 7)), [2, 3_700, 1, 1, 1]);
    assert_eq!(counts(row(&rows, "Breaking Bad", 1)), [0, 0, 0, 0, 1]);
    assert_eq!(counts(row(&rows, "Pilot only", 0)), [1, 3_400, 1, 1, 2]);
    let matrix = row(&rows, "Matrix", 0);
    assert_eq!(
        matrix["library"], "Movies",
        "resolved through get_library_names"
    );
    assert_eq!(matrix["section_id"], 1);
    assert_eq!(matrix["rotation"], "launch");
    assert_eq!(matrix["collected_at"], "2026-11-20T18:40:00Z");

    // Tautulli's own numbers for the same keys and windows.
    let client = client(&server);
    server.set_now(now);
    for (name, key) in [("Matrix", 101), ("Breaking Bad", 199)] {
        for w in watch_time(&client, &key.to_string(), None) {
            let ours = row(&rows, name, w.0 as u64);
            assert_eq!(
                (
                    ours["plays"].as_i64().unwrap(),
                    ours["watch_seconds"].as_i64().unwrap()
                ),
                (w.2, w.1),
                "{name} over {} days",
                w.0
            );
        }
    }
}

/// A play of The Matrix without a stop time (an imported row) a day before `now`: Tautulli's
/// item stats count it for all time only (a window selects `stopped >= now - days`), and
/// so do the snapshots.
#[test]
fn a_play_without_a_stop_counts_for_all_time_only_as_tautulli_does() {
    let now = 1_795_200_000;
    let mut scenario = Scenario::reference();
    scenario.sessions.push(FakeSession {
        stopped: 0,
        ..session(11, 1002, 101, now - 86_400, 0)
    });
    let server = FakeServer::start(scenario).unwrap();
    let dir = temp_dir("no-stop");
    let svc = open(&server, dir.path(), 1000, reference_collections());
    svc.sync().unwrap();
    svc.collect(None, Some(now)).unwrap();
    let rows = svc.query(&json!({"query": "latest"})).unwrap()["rows"]
        .as_array()
        .unwrap()
        .clone();
    let plays = |w: u64| row(&rows, "Matrix", w)["plays"].as_i64().unwrap();
    assert_eq!([plays(1), plays(7), plays(30), plays(0)], [0, 0, 1, 3]);
    let client = client(&server);
    server.set_now(now);
    for (days, _, total_plays) in watch_time(&client, "101", None) {
        assert_eq!(plays(days as u64), total_plays, "{days} days");
    }
}

/// With `analytics.grouping` off a collection's plays are its sessions, as Tautulli's item
/// stats count them with grouping off: Fight Club's resumed viewing (sessions 3 and 4) is two.
#[test]
fn grouping_off_counts_every_session_as_tautulli_does() {
    let now = 1_795_200_000;
    let collections = json!([
        {"name": "Fight Club", "library": "Legacy Movies", "rating_key": 5009, "members": [103]}
    ]);
    for grouping in [true, false] {
        let server = FakeServer::start(Scenario::reference()).unwrap();
        let dir = temp_dir("grouping");
        let cfg = json!({"grouping": grouping, "collections": collections});
        let svc = open(&server, dir.path(), 1000, cfg);
        svc.sync().unwrap();
        svc.collect(None, Some(now)).unwrap();
        let rows = svc.query(&json!({"query": "latest"})).unwrap()["rows"]
            .as_array()
            .unwrap()
            .clone();
        let plays = |w: u64| row(&rows, "Fight Club", w)["plays"].as_i64().unwrap();
        assert_eq!(plays(0), if grouping { 1 } else { 2 });
        let client = client(&server);
        server.set_now(now);
        for (days, _, total_plays) in watch_time_grouped(&client, "103", None, grouping) {
            assert_eq!(
                plays(days as u64),
                total_plays,
                "{days} days, grouping {grouping}"
            );
        }
    }
}

fn client(server: &FakeServer) -> Client {
    let cfg = json!({"tautulli": {"server_url": server.url(), "api_key": server.api_key(),
        "max_retries": 0}});
    Client::new(&TautulliConfig::from_engine_config(&cfg, "").unwrap()).unwrap()
}

/// `get_item_watch_time_stats` rows as (query_days, total_time, total_plays).
fn watch_time(client: &Client, key: &str, media_type: Option<&str>) -> Vec<(i64, i64, i64)> {
    watch_time_grouped(client, key, media_type, true)
}

/// [`watch_time`] with grouping on or off.
fn watch_time_grouped(
    client: &Client,
    key: &str,
    media_type: Option<&str>,
    grouping: bool,
) -> Vec<(i64, i64, i64)> {
    let mut params = vec![
        ("rating_key", key.to_string()),
        ("query_days", "1,7,30,0".to_string()),
        ("grouping", u8::from(grouping).to_string()),
    ];
    if let Some(m) = media_type {
        params.push(("media_type", m.to_string()));
    }
    let v: Value = client
        .call(Command::GetItemWatchTimeStats, &params)
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["query_days"].as_i64().unwrap(),
                r["total_time"].as_i64().unwrap(),
                r["total_plays"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Discovery on the demo (six collections, "Staff Picks" in two libraries), checked
/// against Tautulli's per-collection `get_item_watch_time_stats` and against a brute-force
/// count over the stored sessions; then a reviewed snapshot of `latest()`.
#[test]
fn discovered_collections_on_the_demo() {
    let server = FakeServer::start(Scenario::demo()).unwrap();
    server.set_now(DEMO_NOW);
    let dir = temp_dir("demo");
    let svc = open(&server, dir.path(), 100, json!({}));
    svc.sync().unwrap();
    let report = svc.collect(None, Some(DEMO_NOW)).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let resolve = report.resolve.as_ref().unwrap();
    assert_eq!((resolve.config, resolve.discovered), (0, 6));
    assert_eq!(report.snapshots_written, 24);

    let latest = svc.query(&json!({"query": "latest"})).unwrap()["rows"]
        .as_array()
        .unwrap()
        .clone();
    let client = client(&server);
    for r in latest.iter().filter(|r| r["window_days"] == 0) {
        let key = r["rating_key"].as_i64().unwrap();
        for (days, time, plays) in watch_time(&client, &key.to_string(), Some("collection")) {
            let ours = latest
                .iter()
                .find(|x| x["rating_key"] == key && x["window_days"] == days)
                .unwrap();
            assert_eq!(
                (
                    ours["plays"].as_i64().unwrap(),
                    ours["watch_seconds"].as_i64().unwrap()
                ),
                (plays, time),
                "{} over {days} days",
                r["collection"]
            );
        }
    }

    // Brute force over every stored session, and the properties.
    let store = Store::open(dir.path()).unwrap();
    let sessions = store.all_sessions().unwrap();
    let users_total = sessions
        .iter()
        .map(|s| s.user_id)
        .collect::<std::collections::HashSet<_>>()
        .len() as i64;
    let listing = svc.query(&json!({"query": "collections"})).unwrap();
    for c in listing["rows"].as_array().unwrap() {
        let members: Vec<i64> = c["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["rating_key"].as_i64().unwrap())
            .collect();
        let all_time = counts(
            latest
                .iter()
                .find(|x| x["rating_key"] == c["rating_key"] && x["window_days"] == 0)
                .unwrap(),
        );
        for days in [1, 7, 30, 0] {
            let from = if days == 0 {
                i64::MIN
            } else {
                DEMO_NOW - days * DAY
            };
            let hit: Vec<_> = sessions
                .iter()
                .filter(|s| s.started <= DEMO_NOW && s.end().unwrap_or(s.started) >= from)
                .filter(|s| {
                    members.iter().any(|m| {
                        s.rating_key == *m
                            || s.parent_rating_key == Some(*m)
                            || s.grandparent_rating_key == Some(*m)
                    })
                })
                .collect();
            let set = |f: &dyn Fn(&&tautulli_plugin::Session) -> i64| {
                hit.iter()
                    .map(f)
                    .collect::<std::collections::HashSet<_>>()
                    .len() as i64
            };
            let items = members
                .iter()
                .filter(|m| {
                    hit.iter().any(|s| {
                        s.rating_key == **m
                            || s.parent_rating_key == Some(**m)
                            || s.grandparent_rating_key == Some(**m)
                    })
                })
                .count() as i64;
            let want = [
                set(&|s| s.reference_id),
                hit.iter().map(|s| s.play_seconds.max(0)).sum(),
                set(&|s| s.user_id),
                items,
                members.len() as i64,
            ];
            let ours = latest
                .iter()
                .find(|x| x["rating_key"] == c["rating_key"] && x["window_days"] == days)
                .unwrap();
            assert_eq!(counts(ours), want, "{} over {days} days", c["name"]);
            assert!(
                want[0] <= all_time[0],
                "window plays never exceed all-time plays"
            );
            assert!(want[2] <= all_time[2] && all_time[2] <= users_total);
            assert!(want[3] <= want[4]);
        }
    }

    // The same name in two libraries: a precise error, and SECTION:RATING_KEY works.
    let e = svc
        .query(&json!({"query": "history", "collection": "Staff Picks"}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("1:502") && e.contains("3:503"), "{e}");
    let h = svc
        .query(&json!({"query": "history", "collection": "3:503"}))
        .unwrap();
    assert_eq!(h["rows"].as_array().unwrap().len(), 4);

    let top = svc
        .query(&json!({"query": "top", "n": 2, "window": 0}))
        .unwrap();
    let top = top["rows"].as_array().unwrap();
    assert_eq!(top.len(), 2);
    assert!(top[0]["plays"].as_i64() >= top[1]["plays"].as_i64());

    insta::assert_json_snapshot!("demo_latest", latest);
}

#[test]
fn plex_down_keeps_config_and_earlier_discoveries() {
    let server = FakeServer::start(Scenario::demo()).unwrap();
    let dir = temp_dir("plexdown");
    let analytics = json!({"discover": true, "collections": [
        {"name": "Mine", "library": "Movies", "rating_key": 9000, "members": [10, 11]}]});
    let svc = open(&server, dir.path(), 100, analytics.clone());
    svc.sync().unwrap();

    server.set_plex_online(false);
    let r = svc.collect(None, Some(NOW)).unwrap();
    assert_eq!(r.collections, 1, "only the config collection");
    let w = r.warnings.join("\n");
    assert!(
        w.contains("discovery skipped") && w.contains("HTTP 500") && w.contains("Plex"),
        "{w}"
    );

    server.set_plex_online(true);
    let r = svc.collect(None, Some(NOW + 60)).unwrap();
    assert_eq!(r.collections, 7);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);

    server.set_plex_online(false);
    let r = svc.collect(None, Some(NOW + 120)).unwrap();
    assert_eq!(r.collections, 7, "discovered earlier: kept");
    assert_eq!(r.resolve.as_ref().unwrap().kept, 6);
    assert!(!r.warnings.is_empty());

    // The change between the last two runs: nothing was played in between.
    let d = svc.query(&json!({"query": "diff"})).unwrap();
    let d = d["rows"].as_array().unwrap();
    assert_eq!(d.len(), 28);
    assert!(d.iter().all(|x| x["plays_change"] == 0), "{d:#?}");
}

#[test]
fn charts_and_bad_requests_through_the_service() {
    let server = FakeServer::start(Scenario::reference()).unwrap();
    let dir = temp_dir("chart");
    let svc = open(
        &server,
        dir.path(),
        1000,
        json!({"timezone": "Europe/Paris"}),
    );
    svc.sync().unwrap();
    let c = svc
        .chart("plays-by-date", 7, None, Some(1_795_200_000), 10)
        .unwrap();
    assert_eq!(c["categories"].as_array().unwrap().len(), 7);
    assert_eq!(c["timezone"], "Europe/Paris");
    let total: u64 = c["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Total")
        .unwrap()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    // Sessions that ended in the last 7 days: 5, 6, 7, 8, 9.
    assert_eq!(total, 5);
    let c = svc
        .chart("top-users", 0, Some("UTC"), Some(1_795_200_000), 1)
        .unwrap();
    assert_eq!(c["categories"].as_array().unwrap().len(), 1);

    let bad = [
        svc.chart("pie", 7, None, None, 10).unwrap_err(),
        svc.chart("concurrency", 7, Some("Nowhere/Land"), None, 10)
            .unwrap_err(),
        svc.query(&json!({"query": "everything"})).unwrap_err(),
        svc.query(&json!({"query": "rotation", "name": "x"}))
            .unwrap_err(),
        svc.query(&json!({"query": "history"})).unwrap_err(),
    ];
    for e in bad {
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
        assert_eq!(e.code(), crosswatch_contract::ErrorCode::CONFIG_INVALID);
    }
    let status = svc.query(&json!({"query": "status"})).unwrap();
    assert_eq!(status["status"]["sessions"], 10);
}
