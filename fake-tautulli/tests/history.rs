//! `get_history` behaviour: paging, filters, grouping, activity rows, ordering, live changes.

use fake_tautulli::{FakeServer, Scenario, Session, TranscodeDecision};
use serde_json::Value;

use crate::testutil::{api, history, scenario};

fn ids(page: &Value) -> Vec<Value> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row_id"].clone())
        .collect()
}

fn count(page: &Value) -> usize {
    page["data"].as_array().unwrap().len()
}

fn reference() -> FakeServer {
    FakeServer::start(scenario("reference.json")).unwrap()
}

#[test]
fn pages_are_slices_of_one_order() {
    let s = reference();
    let all = ids(&history(&s, &[("grouping", "0"), ("length", "100")]));
    assert_eq!(all.len(), 10);
    let mut paged = Vec::new();
    for start in [0, 3, 6, 9] {
        let p = history(
            &s,
            &[
                ("grouping", "0"),
                ("start", &start.to_string()),
                ("length", "3"),
            ],
        );
        assert_eq!(p["recordsFiltered"], 10);
        paged.extend(ids(&p));
    }
    assert_eq!(paged, all);
    let beyond = history(&s, &[("start", "50"), ("length", "10")]);
    assert_eq!(count(&beyond), 0);
    assert_eq!(beyond["recordsFiltered"], 9);
}

#[test]
fn default_length_is_25() {
    let s = FakeServer::start(Scenario::demo()).unwrap();
    assert_eq!(count(&history(&s, &[])), 25);
}

#[test]
fn length_minus_one_drops_the_last_row() {
    let s = reference();
    let all = ids(&history(&s, &[("grouping", "0"), ("length", "100")]));
    let quirk = history(&s, &[("grouping", "0"), ("length", "-1")]);
    assert_eq!(quirk["recordsFiltered"], 10);
    assert_eq!(ids(&quirk), all[..9].to_vec());
    // Python slicing: start=5, length=-1 is [5:4], empty.
    let empty = history(&s, &[("grouping", "0"), ("start", "5"), ("length", "-1")]);
    assert_eq!(count(&empty), 0);
}

#[test]
fn non_integer_paging_is_a_server_error() {
    let s = reference();
    for (k, v) in [("start", "x"), ("length", "10.5"), ("length", "")] {
        let r = api(&s, "get_history", &[(k, v)]);
        assert_eq!(r.status, 500, "{k}={v}");
        assert_eq!(r.message(), "Check the logs for errors");
        assert_eq!(r.json()["response"]["data"], serde_json::json!({}));
    }
}

#[test]
fn filters_select_rows_before_grouping() {
    let s = reference();
    let h = |p: &[(&str, &str)]| {
        let mut all = vec![("grouping", "0"), ("length", "100")];
        all.extend_from_slice(p);
        history(&s, &all)
    };
    let rows = |v: &Value, field: &str| -> Vec<Value> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[field].clone())
            .collect()
    };
    let bob = h(&[("user_id", "1002")]);
    assert_eq!(bob["recordsFiltered"], 4);
    assert!(rows(&bob, "user").iter().all(|u| u == "bob"));
    assert_eq!(bob["recordsTotal"], 10, "recordsTotal ignores filters");
    assert_eq!(h(&[("user_id", "1001,1002")])["recordsFiltered"], 10);
    assert_eq!(h(&[("user", "alice")])["recordsFiltered"], 6);
    assert_eq!(
        h(&[("user", "alice"), ("user_id", "1002")])["recordsFiltered"],
        4,
        "user_id wins over user"
    );
    assert_eq!(
        h(&[("user", "Alice A.")])["recordsFiltered"],
        0,
        "friendly names do not match"
    );
    assert_eq!(h(&[("media_type", "episode")])["recordsFiltered"], 4);
    assert_eq!(h(&[("media_type", "movie,episode")])["recordsFiltered"], 10);
    assert_eq!(h(&[("rating_key", "101")])["recordsFiltered"], 2);
    assert_eq!(h(&[("rating_key", "101,103")])["recordsFiltered"], 4);
    assert_eq!(h(&[("parent_rating_key", "200")])["recordsFiltered"], 2);
    assert_eq!(
        h(&[("grandparent_rating_key", "399")])["recordsFiltered"],
        1
    );
    assert_eq!(h(&[("section_id", "4")])["recordsFiltered"], 3);
    assert_eq!(h(&[("guid", "plex://")])["recordsFiltered"], 4);
    assert_eq!(
        h(&[("guid", "COM.PLEXAPP.AGENTS.")])["recordsFiltered"],
        5,
        "LIKE ignores case"
    );
    assert_eq!(h(&[("rating_key", "abc")])["recordsFiltered"], 0);
    // Local days (the reference scenario's host runs on UTC).
    let day = h(&[("start_date", "2026-11-16")]);
    assert_eq!(rows(&day, "row_id"), vec![Value::from(6)]);
    let range = h(&[("after", "2026-11-18"), ("before", "2026-11-19")]);
    assert_eq!(rows(&range, "row_id"), vec![Value::from(9), Value::from(8)]);
    // Filtered totals follow the filter.
    assert_eq!(
        bob["total_duration"], "4 hrs 33 mins 20 secs",
        "4260 + 2700 + 1440 + 8000 s"
    );
}

#[test]
fn grouping_merges_sessions_of_one_reference() {
    let s = reference();
    let grouped = history(&s, &[("grouping", "1"), ("rating_key", "103")]);
    assert_eq!(grouped["recordsFiltered"], 1);
    let row = &grouped["data"][0];
    assert_eq!(row["group_ids"], "3,4");
    assert_eq!(row["group_count"], 2);
    assert_eq!(
        (row["row_id"].clone(), row["reference_id"].clone()),
        (4.into(), 3.into())
    );
    let flat = history(&s, &[("grouping", "0"), ("rating_key", "103")]);
    assert_eq!(flat["recordsFiltered"], 2);
    // The server setting decides when the client does not say.
    let edge = FakeServer::start(scenario("edge.json")).unwrap();
    let mut sc = scenario("reference.json");
    sc.server.grouping = false;
    let ungrouped_server = FakeServer::start(sc).unwrap();
    assert_eq!(
        history(&ungrouped_server, &[("length", "100")])["recordsFiltered"],
        10
    );
    assert_eq!(
        history(&ungrouped_server, &[("grouping", "1")])["recordsFiltered"],
        9
    );
    drop(edge);
}

#[test]
fn group_percent_is_the_maximum_and_watched_follows_the_latest_session() {
    let mut sc = scenario("reference.json");
    // Session 4 (the group's latest) now stops at 30 %, after session 3 reached 36 %.
    sc.sessions[3].percent = 30.0;
    let s = FakeServer::start(sc).unwrap();
    let row = history(&s, &[("grouping", "1"), ("rating_key", "103")])["data"][0].clone();
    assert_eq!(row["percent_complete"], 36);
    assert_eq!(row["watched_status"], 0.25);
}

#[test]
fn credits_and_live_rows_count_as_watched() {
    let s = FakeServer::start(Scenario::demo()).unwrap();
    let all = history(
        &s,
        &[
            ("grouping", "0"),
            ("length", "100000"),
            ("include_activity", "0"),
        ],
    );
    let rows = all["data"].as_array().unwrap();
    let credits = rows
        .iter()
        .find(|r| r["rating_key"] == 133)
        .expect("the credits-watched Friends episode");
    assert_eq!(credits["percent_complete"], 80);
    assert_eq!(credits["watched_status"], 1);
    let live: Vec<&Value> = rows.iter().filter(|r| r["live"] == 1).collect();
    assert_eq!(live.len(), 2);
    for r in &live {
        assert_eq!(r["percent_complete"], 100);
        assert_eq!(r["watched_status"], 1);
        assert!(r["media_type"] == "movie" || r["media_type"] == "episode");
    }
    // media_type filters compare "live" for Live TV rows.
    let only_live = history(
        &s,
        &[
            ("grouping", "0"),
            ("media_type", "live"),
            ("include_activity", "0"),
        ],
    );
    assert_eq!(only_live["recordsFiltered"], 2);
    let no_live = history(
        &s,
        &[
            ("grouping", "0"),
            ("media_type", "movie,episode"),
            ("include_activity", "0"),
        ],
    );
    assert_eq!(
        no_live["recordsFiltered"].as_u64().unwrap() + 2,
        all["recordsFiltered"].as_u64().unwrap()
    );
}

#[test]
fn activity_rows_are_mixed_in_by_default() {
    let s = FakeServer::start(Scenario::demo()).unwrap();
    let with = history(&s, &[("length", "100000")]);
    let without = history(&s, &[("length", "100000"), ("include_activity", "0")]);
    assert_eq!(
        with["recordsFiltered"].as_u64().unwrap(),
        without["recordsFiltered"].as_u64().unwrap() + 1
    );
    let act: Vec<&Value> = with["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["row_id"].is_null())
        .collect();
    assert_eq!(act.len(), 1);
    let a = act[0];
    assert!(a["id"].is_null() && a["reference_id"].is_null() && a["stopped"].is_null());
    assert_eq!(a["state"], "playing");
    assert_eq!(a["session_key"], 1);
    assert!(a["group_count"].is_null());
    assert_eq!(a["rating_key"], 104);
    // It sorts among the history rows by its start (date = started).
    assert_eq!(a["date"], a["started"]);
    let dates: Vec<i64> = with["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["date"].as_i64().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]));
    assert!(without["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| !r["row_id"].is_null() && r["state"].is_null()));
}

#[test]
fn ordering_follows_order_column_and_dir() {
    let s = reference();
    let col = |p: &[(&str, &str)], field: &str| -> Vec<Value> {
        let mut all = vec![("grouping", "0"), ("length", "100")];
        all.extend_from_slice(p);
        history(&s, &all)["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[field].clone())
            .collect()
    };
    let started_asc = col(
        &[("order_column", "started"), ("order_dir", "asc")],
        "started",
    );
    let mut sorted = started_asc.clone();
    sorted.sort_by_key(|v| v.as_i64());
    assert_eq!(started_asc, sorted);
    let titles = col(
        &[("order_column", "full_title"), ("order_dir", "asc")],
        "full_title",
    );
    assert_eq!(titles[0], "Birthday 2019");
    assert_eq!(titles[9], "The Shawshank Redemption");
    // Ties (The Matrix twice) break by row_id descending.
    let ids = col(
        &[("order_column", "full_title"), ("order_dir", "asc")],
        "row_id",
    );
    let m = titles.iter().position(|t| t == "The Matrix").unwrap();
    assert_eq!((ids[m].clone(), ids[m + 1].clone()), (10.into(), 1.into()));
    // duration sorts by the item's runtime, not by the play's duration.
    let by_runtime = col(
        &[("order_column", "duration"), ("order_dir", "desc")],
        "rating_key",
    );
    assert_eq!(by_runtime[0], 102, "Shawshank has the longest runtime");
    // Unknown columns are ignored: the default order (date desc) applies.
    assert_eq!(
        col(&[("order_column", "nonsense")], "row_id"),
        col(&[], "row_id")
    );
    let dates = col(&[], "date");
    assert!(dates.windows(2).all(|w| w[0].as_i64() >= w[1].as_i64()));
}

#[test]
fn sessions_arrive_between_pages() {
    let s = reference();
    let new = Session {
        id: 11,
        reference_id: None,
        user_id: 1001,
        rating_key: 104,
        started: 1_795_200_000,
        stopped: 1_795_208_000,
        paused_counter: 0,
        percent: 95.0,
        credits_watched: false,
        live: false,
        transcode_decision: TranscodeDecision::DirectPlay,
        client: 0,
    };
    s.insert_sessions_after_history_requests(2, vec![new.clone()]);
    let p = |start: &str| history(&s, &[("grouping", "0"), ("start", start), ("length", "4")]);
    assert_eq!(p("0")["recordsFiltered"], 10);
    assert_eq!(p("4")["recordsFiltered"], 10, "applied after this answer");
    let third = p("8");
    assert_eq!(third["recordsFiltered"], 11);
    assert_eq!(third["recordsTotal"], 11);
    assert_eq!(history(&s, &[("length", "1")])["data"][0]["row_id"], 11);
    // Added at once, too.
    s.add_sessions(vec![Session { id: 12, ..new }]);
    assert_eq!(history(&s, &[("grouping", "0")])["recordsTotal"], 12);
    assert_eq!(s.session_count(), 12);
}

#[test]
fn edge_rows_have_the_old_server_types() {
    let s = FakeServer::start(scenario("edge.json")).unwrap();
    let page = history(&s, &[("order_dir", "asc")]);
    assert_eq!(
        page["recordsFiltered"],
        "2".parse::<Value>().unwrap(),
        "counts stay ints"
    );
    let movie = &page["data"][0];
    assert_eq!(movie["rating_key"], "500");
    assert_eq!(movie["row_id"], "1");
    assert_eq!(movie["year"], "");
    assert_eq!(movie["parent_rating_key"], "");
    assert!(movie["friendly_name"].is_null());
    assert_eq!(movie["user"], "ghost");
    assert_eq!(movie["percent_complete"], "89");
    assert_eq!(
        movie["watched_status"], 0.75,
        "89 % is under this server's 90 % movie threshold"
    );
    let episode = &page["data"][1];
    assert_eq!(
        episode["friendly_name"], "blank",
        "blank friendly names fall back to the username"
    );
    assert_eq!(episode["media_index"], "1");
    assert_eq!(
        episode["watched_status"], 1,
        "80 % meets the 80 % episode threshold"
    );
}

#[test]
fn demo_history_is_consistent() {
    let demo = Scenario::demo();
    assert!(demo.sessions.len() >= 200);
    let jan_2026 = 1_767_225_600;
    let jan_2027 = 1_798_761_600;
    assert!(demo
        .sessions
        .iter()
        .all(|s| s.started >= jan_2026 && s.stopped < jan_2027));
    let n = demo.sessions.len();
    let s = FakeServer::start(demo).unwrap();
    let flat = history(
        &s,
        &[
            ("grouping", "0"),
            ("include_activity", "0"),
            ("length", "100000"),
        ],
    );
    assert_eq!(flat["recordsFiltered"].as_u64().unwrap() as usize, n);
    let grouped = history(
        &s,
        &[
            ("grouping", "1"),
            ("include_activity", "0"),
            ("length", "100000"),
        ],
    );
    let rows = grouped["data"].as_array().unwrap();
    let members: u64 = rows
        .iter()
        .map(|r| r["group_count"].as_u64().unwrap())
        .sum();
    assert_eq!(members as usize, n, "every session is in exactly one group");
    assert!(rows.iter().any(|r| r["group_count"] == 2));
    let guids: Vec<&str> = rows.iter().map(|r| r["guid"].as_str().unwrap()).collect();
    for needle in [
        "COM.PLEXAPP.AGENTS.IMDB://TT0111161?lang=en",
        "local://",
        "com.plexapp.agents.hama://anidb-",
        "com.plexapp.agents.hama://tvdb-",
        "com.plexapp.agents.hama://tvdb2-",
        "com.plexapp.agents.themoviedb://550",
        "com.plexapp.agents.themoviedb://2316/2/1",
        "com.plexapp.agents.thetvdb://",
        "plex://movie/",
        "plex://episode/",
    ] {
        assert!(guids.iter().any(|g| g.starts_with(needle)), "{needle}");
    }
    assert!(rows.iter().any(|r| r["media_type"] == "episode"
        && r["media_index"] == ""
        && r["parent_media_index"] == ""));
    let users: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r["user"].as_str().unwrap()).collect();
    assert_eq!(users.into_iter().collect::<Vec<_>>(), vec!["alice", "bob"]);
}

#[test]
fn concurrent_clients_get_consistent_pages() {
    let s = FakeServer::start(Scenario::demo()).unwrap();
    let expected = ids(&history(
        &s,
        &[("include_activity", "0"), ("length", "100000")],
    ));
    let pages: Vec<Vec<Value>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let s = &s;
                scope.spawn(move || {
                    let start = (i * 50).to_string();
                    ids(&history(
                        s,
                        &[
                            ("include_activity", "0"),
                            ("start", &start),
                            ("length", "50"),
                        ],
                    ))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let joined: Vec<Value> = pages.into_iter().flatten().collect();
    assert_eq!(joined, expected[..joined.len()].to_vec());
}
