//! Graph commands on small hand-made histories: windows, local days and hours, grouping,
//! the concurrency tie rule, series presence, and the demo's invariants.

use fake_tautulli::{FakeServer, Scenario};
use serde_json::{json, Value};

use crate::testutil::api;

/// 2026-11-21T12:00:00Z.
const NOW: i64 = 1_795_262_400;
/// 2026-11-21T00:00:00Z.
const TODAY: i64 = 1_795_219_200;
const H: i64 = 3600;

/// A movie library, a show library, two users and two devices; `sessions` as given.
fn scenario(sessions: Value, server: Value) -> Scenario {
    let text = json!({
        "api_key": "graphs0graphs0graphs0graphs00001",
        "server": server,
        "users": [
            {"user_id": 1, "username": "ann", "friendly_name": "Ann"},
            {"user_id": 2, "username": "ben", "friendly_name": null},
            {"user_id": 3, "username": "cy", "friendly_name": "  "}
        ],
        "libraries": [
            {"section_id": 1, "section_name": "Movies", "section_type": "movie", "agent": "tv.plex.agents.movie"},
            {"section_id": 2, "section_name": "TV", "section_type": "show", "agent": "tv.plex.agents.series"}
        ],
        "clients": [
            {"platform": "Chrome", "product": "Plex Web", "player": "Chrome", "ip_address": "10.0.0.1"},
            {"platform": "Roku", "product": "Plex for Roku", "player": "TV", "ip_address": "10.0.0.2"},
            {"platform": "Konvergo", "product": "Plex Media Player", "player": "HTPC", "ip_address": "10.0.0.3"}
        ],
        "movies": [
            {"rating_key": 10, "title": "M", "guid": "plex://movie/10", "section_id": 1, "duration": 7200},
            {"rating_key": 11, "title": "News", "guid": "plex://movie/11", "section_id": 1, "duration": 1800, "live": true}
        ],
        "shows": [{"rating_key": 20, "title": "S", "guid": "plex://show/20", "section_id": 2, "seasons": [
            {"rating_key": 21, "title": "Season 1", "media_index": 1, "guid": "plex://season/21", "episodes": [
                {"rating_key": 22, "title": "E1", "media_index": 1, "guid": "plex://episode/22", "duration": 1800},
                {"rating_key": 23, "title": "E2", "media_index": 2, "guid": "plex://episode/23", "duration": 1800}
            ]}
        ]}],
        "sessions": sessions,
    });
    Scenario::from_json(&text.to_string()).unwrap()
}

fn session(id: i64, user: i64, rk: i64, started: i64, stopped: i64) -> Value {
    json!({"id": id, "user_id": user, "rating_key": rk, "started": started, "stopped": stopped, "percent": 100})
}

fn start(sessions: Value, server: Value) -> FakeServer {
    let s = FakeServer::start(scenario(sessions, server)).unwrap();
    s.set_now(NOW);
    s
}

fn graph(s: &FakeServer, cmd: &str, params: &[(&str, &str)]) -> Value {
    api(s, cmd, params).data()
}

/// The data of the series called `name`.
fn series(g: &Value, name: &str) -> Vec<i64> {
    g["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no series {name} in {g}"))["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

fn names(g: &Value) -> Vec<String> {
    g["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_empty_window_still_lists_every_day_with_zeros() {
    // One play 40 days ago: outside a 30-day window.
    let s = start(
        json!([session(
            1,
            1,
            10,
            TODAY - 40 * 24 * H,
            TODAY - 40 * 24 * H + H
        )]),
        json!({}),
    );
    let g = graph(&s, "get_plays_by_date", &[]);
    let cats = g["categories"].as_array().unwrap();
    assert_eq!(cats.len(), 30);
    assert_eq!(cats[0], "2026-10-23");
    assert_eq!(cats[29], "2026-11-21", "today is the last day");
    assert_eq!(names(&g), ["TV", "Movies", "Live TV", "Total"]);
    for name in ["TV", "Movies", "Live TV", "Total"] {
        assert!(series(&g, name).iter().all(|&v| v == 0), "{name}");
    }
    let wide = graph(&s, "get_plays_by_date", &[("time_range", "41")]);
    assert_eq!(series(&wide, "Total").iter().sum::<i64>(), 1);
    for cmd in [
        "get_plays_by_stream_type",
        "get_concurrent_streams_by_stream_type",
    ] {
        let g = graph(&s, cmd, &[("time_range", "7")]);
        assert_eq!(g["categories"].as_array().unwrap().len(), 7, "{cmd}");
        assert!(g["series"].as_array().unwrap().iter().all(|s| s["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v == 0)));
    }
    let top = graph(&s, "get_plays_by_top_10_users", &[]);
    assert_eq!(top["categories"], json!([]));
    assert_eq!(series(&top, "Movies"), Vec::<i64>::new());
    let hours = graph(&s, "get_plays_by_hourofday", &[]);
    assert_eq!(hours["categories"].as_array().unwrap().len(), 24);
    assert_eq!(hours["categories"][0], "00");
}

#[test]
fn the_window_is_by_stop_time_and_the_day_by_start_time() {
    // Started 7 days and 1 hour ago, stopped inside a 7-day window: counted, on its start day
    // (outside the 7-day date list, so on no category).
    let started = NOW - 7 * 24 * H - H;
    let s = start(
        json!([session(1, 1, 10, started, NOW - 7 * 24 * H + H)]),
        json!({}),
    );
    let g = graph(&s, "get_plays_by_date", &[("time_range", "7")]);
    assert_eq!(series(&g, "Total").iter().sum::<i64>(), 0);
    let g = graph(&s, "get_plays_by_hourofday", &[("time_range", "7")]);
    assert_eq!(series(&g, "Movies")[11], 1, "hour of the start, 11:00");
    let g = graph(&s, "get_plays_by_top_10_platforms", &[("time_range", "7")]);
    assert_eq!(g["categories"], json!(["Chrome"]));
}

#[test]
fn the_time_zone_moves_a_play_across_midnight() {
    // 2026-11-20T23:30Z: the 20th in UTC, 00:30 on the 21st at UTC+1.
    let sessions = json!([session(1, 1, 10, TODAY - H / 2, TODAY + H)]);
    let utc = start(sessions.clone(), json!({}));
    let cet = start(sessions, json!({"tz_offset_minutes": 60}));
    let d_utc = graph(&utc, "get_plays_by_date", &[("time_range", "2")]);
    let d_cet = graph(&cet, "get_plays_by_date", &[("time_range", "2")]);
    assert_eq!(d_utc["categories"], json!(["2026-11-20", "2026-11-21"]));
    assert_eq!(d_cet["categories"], json!(["2026-11-20", "2026-11-21"]));
    assert_eq!(series(&d_utc, "Movies"), [1, 0]);
    assert_eq!(series(&d_cet, "Movies"), [0, 1]);
    let h_utc = series(&graph(&utc, "get_plays_by_hourofday", &[]), "Movies");
    let h_cet = series(&graph(&cet, "get_plays_by_hourofday", &[]), "Movies");
    assert_eq!((h_utc[23], h_utc[0]), (1, 0));
    assert_eq!((h_cet[23], h_cet[0]), (0, 1));
    // Friday the 20th vs Saturday the 21st.
    let w_utc = series(&graph(&utc, "get_plays_by_dayofweek", &[]), "Movies");
    let w_cet = series(&graph(&cet, "get_plays_by_dayofweek", &[]), "Movies");
    assert_eq!((w_utc[5], w_utc[6]), (1, 0));
    assert_eq!((w_cet[5], w_cet[6]), (0, 1));
    let week = graph(&utc, "get_plays_by_dayofweek", &[]);
    assert_eq!(week["categories"][0], "Sunday");
    // A zone west of UTC sees "today" as the 21st only from 05:00Z on.
    let ny = start(json!([]), json!({"tz_offset_minutes": -300}));
    ny.set_now(TODAY + 4 * H);
    let g = graph(&ny, "get_plays_by_date", &[("time_range", "1")]);
    assert_eq!(g["categories"], json!(["2026-11-20"]));
}

#[test]
fn dst_zones_bucket_by_the_local_hour_in_force() {
    // Europe/Berlin falls back on 2026-10-25 at 01:00Z: 00:30Z and 01:30Z are both 02:30.
    let fall = 1_792_888_200;
    let sessions = json!([
        session(1, 1, 22, fall, fall + 1800),
        session(2, 2, 23, fall + H, fall + H + 1800),
    ]);
    let s = FakeServer::start(scenario(sessions, json!({"tz_name": "Europe/Berlin"}))).unwrap();
    s.set_now(fall + 12 * H);
    let tv = series(&graph(&s, "get_plays_by_hourofday", &[]), "TV");
    assert_eq!(tv[2], 2);
    assert_eq!(tv.iter().sum::<i64>(), 2);
    let dates = graph(&s, "get_plays_by_date", &[("time_range", "1")]);
    assert_eq!(dates["categories"], json!(["2026-10-25"]));
    assert_eq!(series(&dates, "TV"), [2]);
}

#[test]
fn a_grouped_viewing_counts_once_per_day() {
    // One viewing in two sessions on the same day, and one whose resume starts after midnight.
    let sessions = json!([
        session(1, 1, 10, TODAY - 30 * H, TODAY - 29 * H),
        {"id": 2, "reference_id": 1, "user_id": 1, "rating_key": 10, "started": TODAY - 28 * H,
         "stopped": TODAY - 27 * H, "percent": 100, "transcode_decision": "transcode"},
        session(3, 2, 22, TODAY - H, TODAY - H / 2),
        {"id": 4, "reference_id": 3, "user_id": 2, "rating_key": 22, "started": TODAY + H,
         "stopped": TODAY + 2 * H, "percent": 100},
    ]);
    let s = start(sessions, json!({}));
    let p = [("time_range", "3")];
    let grouped = graph(&s, "get_plays_by_date", &p);
    assert_eq!(
        grouped["categories"],
        json!(["2026-11-19", "2026-11-20", "2026-11-21"])
    );
    assert_eq!(series(&grouped, "Movies"), [1, 0, 0]);
    assert_eq!(
        series(&grouped, "TV"),
        [0, 1, 1],
        "once on each day it was played"
    );
    let ungrouped = graph(
        &s,
        "get_plays_by_date",
        &[("time_range", "3"), ("grouping", "0")],
    );
    assert_eq!(series(&ungrouped, "Movies"), [2, 0, 0]);
    // The server setting is the default.
    let off = start(
        json!([
            session(1, 1, 10, TODAY - 30 * H, TODAY - 29 * H),
            {"id": 2, "reference_id": 1, "user_id": 1, "rating_key": 10, "started": TODAY - 28 * H,
             "stopped": TODAY - 27 * H, "percent": 100}
        ]),
        json!({"grouping": false}),
    );
    assert_eq!(
        series(&graph(&off, "get_plays_by_date", &p), "Movies"),
        [2, 0, 0]
    );
    // Duration sums every session of the viewing.
    let d = graph(
        &s,
        "get_plays_by_date",
        &[("time_range", "3"), ("y_axis", "duration")],
    );
    assert_eq!(series(&d, "Movies"), [2 * H, 0, 0]);
    // A viewing's stream type is its first session's.
    let st = graph(&s, "get_plays_by_stream_type", &p);
    assert_eq!(series(&st, "Direct Play"), [1, 1, 1]);
    assert_eq!(series(&st, "Transcode"), [0, 0, 0]);
    // Top users count viewings over the whole window (not per day); tied, so by user id
    // descending.
    let users = graph(&s, "get_plays_by_top_10_users", &p);
    assert_eq!(users["categories"], json!(["ben", "Ann"]));
    assert_eq!(series(&users, "Movies"), [0, 1]);
    assert_eq!(series(&users, "TV"), [1, 0]);
}

#[test]
fn concurrency_counts_overlap_but_not_back_to_back() {
    let d = TODAY - 24 * H; // the 20th
    let sessions = json!([
        // Back to back, same user then another user at the same second.
        session(1, 1, 22, d + 10 * H, d + 11 * H),
        session(2, 1, 23, d + 11 * H, d + 12 * H),
        {"id": 3, "user_id": 2, "rating_key": 10, "started": d + 12 * H, "stopped": d + 14 * H,
         "percent": 100, "transcode_decision": "transcode"},
        // Nested on the 19th: a movie with two episodes inside it.
        session(4, 1, 10, d - 24 * H + 18 * H, d - 24 * H + 21 * H),
        session(5, 2, 22, d - 24 * H + 19 * H, d - 24 * H + 19 * H + 1800),
        session(6, 3, 23, d - 24 * H + 19 * H + 600, d - 24 * H + 20 * H),
        // Overlapping across midnight into the 21st: each day only sees its own starts.
        session(7, 1, 10, d + 23 * H, d + 25 * H),
        session(8, 2, 22, d + 24 * H + 600, d + 24 * H + 1200),
    ]);
    let s = start(sessions, json!({}));
    let g = graph(
        &s,
        "get_concurrent_streams_by_stream_type",
        &[("time_range", "3")],
    );
    assert_eq!(
        g["categories"],
        json!(["2026-11-19", "2026-11-20", "2026-11-21"])
    );
    assert_eq!(series(&g, "Max. Concurrent Streams"), [3, 1, 1]);
    assert_eq!(series(&g, "Direct Play"), [3, 1, 1]);
    assert_eq!(series(&g, "Transcode"), [0, 1, 0]);
    assert_eq!(series(&g, "Direct Stream"), [0, 0, 0]);
    // Per user: ann alone never overlaps herself.
    let ann = graph(
        &s,
        "get_concurrent_streams_by_stream_type",
        &[("time_range", "3"), ("user_id", "1")],
    );
    assert_eq!(series(&ann, "Max. Concurrent Streams"), [1, 1, 0]);
}

#[test]
fn per_type_series_add_up_to_total_on_the_demo() {
    let s = FakeServer::start(Scenario::demo()).unwrap();
    s.set_now(1_798_761_600); // 2027-01-01
    let sessions = Scenario::demo().sessions;
    for grouping in ["0", "1"] {
        let g = graph(
            &s,
            "get_plays_by_date",
            &[("time_range", "400"), ("grouping", grouping)],
        );
        let total = series(&g, "Total");
        assert_eq!(names(&g), ["TV", "Movies", "Live TV", "Total"]);
        for c in 0..total.len() {
            let parts: i64 = ["TV", "Movies", "Live TV"]
                .iter()
                .map(|n| series(&g, n)[c])
                .sum();
            assert_eq!(parts, total[c], "day {}", g["categories"][c]);
        }
        let all: i64 = total.iter().sum();
        if grouping == "0" {
            assert_eq!(all, sessions.len() as i64, "every session once");
        } else {
            assert!(
                all < sessions.len() as i64,
                "grouped viewings count once a day"
            );
        }
        // Hours: every session once without grouping, never more with it.
        let hours = graph(
            &s,
            "get_plays_by_hourofday",
            &[("time_range", "400"), ("grouping", grouping)],
        );
        let in_hours: i64 = ["TV", "Movies", "Live TV"]
            .iter()
            .map(|n| series(&hours, n).iter().sum::<i64>())
            .sum();
        assert!(in_hours <= sessions.len() as i64);
        if grouping == "0" {
            assert_eq!(in_hours, sessions.len() as i64);
        }
    }
    // Duration: the total of every session's played seconds.
    let d = graph(
        &s,
        "get_plays_by_date",
        &[("time_range", "400"), ("y_axis", "duration")],
    );
    let seconds: i64 = sessions
        .iter()
        .map(|x| x.stopped - x.started - x.paused_counter)
        .sum();
    assert_eq!(series(&d, "Total").iter().sum::<i64>(), seconds);
}

#[test]
fn series_follow_the_library_types() {
    // No Live TV item and no live play: no Live TV series; an artist library adds Music.
    let text = json!({
        "api_key": "graphs0graphs0graphs0graphs00001",
        "users": [{"user_id": 1, "username": "ann", "friendly_name": "Ann"}],
        "libraries": [
            {"section_id": 1, "section_name": "Movies", "section_type": "movie", "agent": "a"},
            {"section_id": 3, "section_name": "Music", "section_type": "artist", "agent": "b"}
        ],
        "movies": [{"rating_key": 10, "title": "M", "guid": "plex://movie/10", "section_id": 1, "duration": 100}],
        "sessions": [session(1, 1, 10, TODAY, TODAY + 50)]
    });
    let s = FakeServer::start(Scenario::from_json(&text.to_string()).unwrap()).unwrap();
    s.set_now(NOW);
    let g = graph(&s, "get_plays_by_date", &[("time_range", "1")]);
    assert_eq!(names(&g), ["Movies", "Music", "Total"]);
    assert_eq!(series(&g, "Music"), [0]);
    let g = graph(&s, "get_plays_by_hourofday", &[]);
    assert_eq!(
        names(&g),
        ["Movies", "Music"],
        "Total only on plays by date"
    );
    // A live play counts as Live TV, not as a movie.
    let live = start(json!([session(1, 1, 11, TODAY, TODAY + 60)]), json!({}));
    let g = graph(&live, "get_plays_by_date", &[("time_range", "1")]);
    assert_eq!(series(&g, "Live TV"), [1]);
    assert_eq!(series(&g, "Movies"), [0]);
    assert_eq!(series(&g, "Total"), [1]);
}

#[test]
fn top_lists_rank_and_label_like_tautulli() {
    let mut sessions = Vec::new();
    let mut id = 0;
    let mut play = |user: i64, rk: i64, client: u32| {
        id += 1;
        let t = TODAY - id * H;
        let mut v = session(id, user, rk, t, t + 600);
        v["client"] = client.into();
        sessions.push(v);
    };
    play(1, 10, 0);
    play(1, 22, 0);
    play(2, 10, 1);
    play(3, 23, 2);
    let s = start(Value::Array(sessions), json!({}));
    let platforms = graph(&s, "get_plays_by_top_10_platforms", &[]);
    // Chrome 2; Roku and Konvergo 1 each: ties by name ascending; Konvergo is relabelled.
    assert_eq!(
        platforms["categories"],
        json!(["Chrome", "Plex Media Player", "Roku"])
    );
    assert_eq!(series(&platforms, "TV"), [1, 1, 0]);
    let by_stream = graph(&s, "get_stream_type_by_top_10_platforms", &[]);
    // Ties in the other top lists come back in descending name order.
    assert_eq!(
        by_stream["categories"],
        json!(["Chrome", "Roku", "Plex Media Player"])
    );
    assert_eq!(series(&by_stream, "Direct Play"), [2, 1, 1]);
    let users = graph(&s, "get_plays_by_top_10_users", &[]);
    // Friendly names; null or blank ones fall back to the username.
    assert_eq!(users["categories"], json!(["Ann", "cy", "ben"]));
    let users = graph(&s, "get_stream_type_by_top_10_users", &[("user_id", "2,3")]);
    assert_eq!(users["categories"], json!(["cy", "ben"]));
    let months = graph(&s, "get_plays_per_month", &[("time_range", "2")]);
    assert_eq!(months["categories"], json!(["Oct 2026", "Nov 2026"]));
    assert_eq!(series(&months, "Movies"), [0, 2]);
    assert_eq!(series(&months, "TV"), [0, 2]);
    let months = graph(&s, "get_plays_per_month", &[]);
    assert_eq!(months["categories"].as_array().unwrap().len(), 12);
    assert_eq!(months["categories"][0], "Dec 2025");
}

#[test]
fn the_clock_comes_from_the_scenario_or_set_now() {
    let sessions = json!([session(
        1,
        1,
        10,
        TODAY - 10 * 24 * H,
        TODAY - 10 * 24 * H + H
    )]);
    let fixed = FakeServer::start(scenario(sessions.clone(), json!({"now": NOW}))).unwrap();
    assert_eq!(fixed.now(), NOW);
    let g = graph(&fixed, "get_plays_by_date", &[("time_range", "14")]);
    assert_eq!(g["categories"][13], "2026-11-21");
    assert_eq!(series(&g, "Movies").iter().sum::<i64>(), 1);
    fixed.set_now(NOW + 30 * 24 * H);
    let g = graph(&fixed, "get_plays_by_date", &[("time_range", "14")]);
    assert_eq!(g["categories"][13], "2026-12-21");
    assert_eq!(series(&g, "Movies").iter().sum::<i64>(), 0);
    fixed.use_real_time();
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((fixed.now() - wall).abs() < 300, "follows the wall clock");
}

/// What a windowed reader relies on: per local day, `get_plays_by_date` counts exactly the
/// rows a one-day `get_history` window holds, in a zone with DST (Berlin), grouped or not,
/// for every user or one.
#[test]
fn plays_by_date_agrees_with_one_day_history_windows_in_a_dst_zone() {
    use fake_tautulli::{generate, GenSpec, EPOCH_2027};
    let mut sc = generate(&GenSpec {
        plays: 4_000,
        movies: 200,
        shows: 40,
        episodes_per_show: 10,
        users: 6,
        // More split viewings than usual, so some cross midnight.
        grouped_share: 0.2,
        ..GenSpec::default()
    });
    sc.server.tz_name = Some("Europe/Berlin".into());
    let s = FakeServer::start(sc).unwrap();
    // 2027-01-01T00:00Z is 01:00 on 1 January in Berlin: the window ends that local day.
    s.set_now(EPOCH_2027);
    for (grouping, user) in [("0", None), ("1", None), ("0", Some("1002"))] {
        let mut q = vec![("time_range", "3650"), ("grouping", grouping)];
        q.extend(user.map(|u| ("user_id", u)));
        let g = graph(&s, "get_plays_by_date", &q);
        let days: Vec<String> = g["categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(days.len(), 3650);
        assert_eq!(days.last().unwrap(), "2027-01-01", "server-local today");
        assert_eq!(days[days.len() - 2], "2026-12-31");
        let total = series(&g, "Total");
        assert_eq!(names(&g), ["TV", "Movies", "Live TV", "Total"]);
        let mut seen = 0;
        for (c, day) in days.iter().enumerate() {
            // Only 2026 holds plays; check it whole plus a few empty days around it.
            if day.as_str() < "2025-12-30" {
                assert_eq!(total[c], 0, "{day}");
                continue;
            }
            let mut h = vec![
                ("grouping", grouping),
                ("include_activity", "0"),
                ("after", day.as_str()),
                ("before", day.as_str()),
                ("length", "0"),
            ];
            h.extend(user.map(|u| ("user_id", u)));
            let rows = api(&s, "get_history", &h).data()["recordsFiltered"]
                .as_i64()
                .unwrap();
            assert_eq!(total[c], rows, "{day}, grouping {grouping}, user {user:?}");
            seen += rows;
        }
        assert!(seen > 0);
        if user.is_none() {
            // Both DST change days have plays, and all plays are in the window.
            for dst in ["2026-03-29", "2026-10-25"] {
                let c = days.iter().position(|d| d == dst).unwrap();
                assert!(total[c] > 0, "{dst}");
            }
            if grouping == "0" {
                assert_eq!(seen, 4_000);
            }
        }
    }
}
