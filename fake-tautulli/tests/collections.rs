//! Collections (`get_collections_table`, `get_children_metadata`) and the item statistics
//! (`get_item_watch_time_stats`, `get_item_user_stats`) on the demo library.

use fake_tautulli::{FakeServer, Scenario, Session};
use serde_json::{json, Value};

use crate::testutil::api;

/// 2026-11-21T12:00:00Z.
const NOW: i64 = 1_795_262_400;

fn demo() -> FakeServer {
    let s = FakeServer::start(Scenario::demo()).unwrap();
    s.set_now(NOW);
    s
}

fn table(s: &FakeServer, params: &[(&str, &str)]) -> Value {
    api(s, "get_collections_table", params).data()
}

fn column(rows: &Value, key: &str) -> Vec<Value> {
    rows["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[key].clone())
        .collect()
}

#[test]
fn the_table_lists_a_librarys_collections_like_plexapi() {
    let s = demo();
    let movies = table(&s, &[("section_id", "1")]);
    assert_eq!(movies["recordsTotal"], 2);
    assert_eq!(movies["recordsFiltered"], 2);
    assert_eq!(movies["draw"], 1);
    // Default order: titleSort descending.
    assert_eq!(
        column(&movies, "title"),
        [json!("Staff Picks"), json!("Sci-Fi Classics")]
    );
    let scifi = &movies["data"][1];
    let keys: Vec<&String> = scifi.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "addedAt",
            "art",
            "childCount",
            "collectionMode",
            "collectionPublished",
            "collectionSort",
            "contentRating",
            "guid",
            "librarySectionID",
            "librarySectionTitle",
            "maxYear",
            "minYear",
            "ratingKey",
            "smart",
            "subtype",
            "summary",
            "thumb",
            "title",
            "titleSort",
            "type",
            "updatedAt"
        ]
    );
    assert_eq!(scifi["ratingKey"], 500);
    assert_eq!(scifi["librarySectionID"], 1);
    assert_eq!(scifi["librarySectionTitle"], "Movies");
    // Blade Runner is deleted from Plex: The Matrix (1999) and Inception (2010) remain.
    assert_eq!(scifi["childCount"], 2);
    assert_eq!(
        (scifi["minYear"].clone(), scifi["maxYear"].clone()),
        (json!(1999), json!(2010))
    );
    assert_eq!(scifi["smart"], false);
    assert_eq!(scifi["subtype"], "movie");
    assert_eq!(scifi["type"], "collection");
    assert_eq!(scifi["collectionMode"], -1);
    assert_eq!(scifi["collectionSort"], 1);
    assert_eq!(scifi["addedAt"], "2026-01-02T10:00:00");
    assert_eq!(
        scifi["thumb"],
        "/library/collections/500/composite/1793523600"
    );
    // The same title in another library is another collection.
    let legacy = table(&s, &[("section_id", "3")]);
    assert_eq!(column(&legacy, "title"), [json!("Staff Picks")]);
    assert_eq!(column(&legacy, "ratingKey"), [json!(503)]);
    assert_eq!(column(&movies, "ratingKey")[0], 502);
    // Show library: a smart collection sorted by its titleSort, and an empty one.
    let tv = table(&s, &[("section_id", "2")]);
    assert_eq!(
        column(&tv, "title"),
        [json!("Prestige Drama"), json!("Coming Soon")]
    );
    assert_eq!(column(&tv, "smart"), [json!(true), json!(false)]);
    assert_eq!(column(&tv, "subtype")[0], "show");
    let empty = &tv["data"][1];
    assert_eq!(empty["childCount"], 0);
    assert_eq!(empty["minYear"], Value::Null);
    assert_eq!(empty["addedAt"], Value::Null);
    assert_eq!(empty["collectionMode"], 0);
}

#[test]
fn the_table_orders_searches_and_pages() {
    let s = demo();
    let asc = table(&s, &[("section_id", "1"), ("order_dir", "asc")]);
    assert_eq!(
        column(&asc, "title"),
        [json!("Sci-Fi Classics"), json!("Staff Picks")]
    );
    let tv = table(
        &s,
        &[
            ("section_id", "2"),
            ("order_column", "childCount"),
            ("order_dir", "asc"),
        ],
    );
    assert_eq!(column(&tv, "childCount"), [json!(0), json!(2)]);
    let found = table(&s, &[("section_id", "1"), ("search", "STAFF")]);
    assert_eq!(
        (
            found["recordsFiltered"].clone(),
            found["recordsTotal"].clone()
        ),
        (json!(1), json!(2))
    );
    assert_eq!(column(&found, "title"), [json!("Staff Picks")]);
    let page = table(&s, &[("section_id", "1"), ("start", "1"), ("length", "1")]);
    assert_eq!(column(&page, "title"), [json!("Sci-Fi Classics")]);
    assert_eq!(page["recordsFiltered"], 2);
}

#[test]
fn the_table_fails_like_tautulli_without_plex_or_arguments() {
    let s = demo();
    // No section: Tautulli's empty default, not an error.
    assert_eq!(
        table(&s, &[]),
        json!({"recordsFiltered": 0, "recordsTotal": 0, "draw": 0, "data": []})
    );
    // A library without collections support (Live TV) has no rows.
    let live = table(&s, &[("section_id", "5")]);
    assert_eq!(
        (live["recordsTotal"].clone(), live["data"].clone()),
        (json!(0), json!([]))
    );
    for params in [
        vec![("section_id", "99")],
        vec![("section_id", "x")],
        vec![("section_id", "1"), ("start", "one")],
    ] {
        let r = api(&s, "get_collections_table", &params);
        assert_eq!(r.status, 500, "{params:?}");
        assert_eq!(r.message(), "Check the logs for errors");
    }
    s.set_plex_online(false);
    let r = api(&s, "get_collections_table", &[("section_id", "1")]);
    assert_eq!(
        (r.status, r.message()),
        (500, json!("Check the logs for errors"))
    );
    // The scenario flag does the same from the start.
    let mut offline = Scenario::demo();
    offline.server.plex_online = false;
    let o = FakeServer::start(offline).unwrap();
    assert_eq!(
        api(&o, "get_collections_table", &[("section_id", "1")]).status,
        500
    );
    assert_eq!(
        api(&o, "get_metadata", &[("rating_key", "10")]).data(),
        json!({})
    );
}

fn children(s: &FakeServer, rk: &str) -> Value {
    api(s, "get_children_metadata", &[("rating_key", rk)]).data()
}

fn keys(c: &Value) -> Vec<String> {
    c["children_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rating_key"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn children_of_collections_shows_and_seasons() {
    let s = demo();
    let scifi = children(&s, "500");
    assert_eq!(scifi["children_count"], 2);
    assert_eq!(scifi["children_type"], "movie");
    assert_eq!(scifi["title"], "Sci-Fi Classics");
    assert_eq!(keys(&scifi), ["10", "11"], "Blade Runner is gone from Plex");
    let matrix = &scifi["children_list"][0];
    assert_eq!(matrix["media_type"], "movie");
    assert_eq!(matrix["section_id"], "1");
    assert_eq!(matrix["library_name"], "Movies");
    assert_eq!(matrix["title"], "The Matrix");
    assert_eq!(matrix["year"], "1999");
    assert_eq!(matrix["duration"], "8160000");
    assert_eq!(matrix["parent_rating_key"], "");
    assert_eq!(matrix["collections"], json!(["Sci-Fi Classics"]));
    assert_eq!(matrix["full_title"], "The Matrix");
    let anime = children(&s, "501");
    assert_eq!(keys(&anime), ["140", "150"]);
    assert_eq!(anime["children_type"], "show");
    assert_eq!(anime["children_list"][0]["title"], "Cowboy Bebop");
    let seasons = children(&s, "140");
    assert_eq!(keys(&seasons), ["141"]);
    let season = &seasons["children_list"][0];
    assert_eq!(
        (
            season["media_type"].clone(),
            season["parent_rating_key"].clone(),
            season["media_index"].clone()
        ),
        (json!("season"), json!("140"), json!("1"))
    );
    let episodes = children(&s, "141");
    assert_eq!(episodes["title"], "Season 1");
    let e = &episodes["children_list"][0];
    assert_eq!(keys(&episodes), ["142"]);
    assert_eq!(e["media_type"], "episode");
    assert_eq!(e["parent_rating_key"], "141");
    assert_eq!(e["grandparent_rating_key"], "140");
    assert_eq!(e["grandparent_title"], "Cowboy Bebop");
    assert_eq!(e["parent_media_index"], "1");
    assert_eq!(e["media_index"], "1");
}

#[test]
fn childless_unknown_and_offline_keys_answer_the_empty_default() {
    let s = demo();
    let empty = json!({"children_count": 0, "children_list": []});
    // An empty collection, a movie, an episode, the deleted movie, an unknown key, no key.
    for rk in ["504", "10", "142", "15", "987654", "x"] {
        assert_eq!(children(&s, rk), empty, "{rk}");
    }
    assert_eq!(api(&s, "get_children_metadata", &[]).data(), empty);
    s.set_plex_online(false);
    assert_eq!(children(&s, "500"), empty);
    assert_eq!(
        api(&s, "get_metadata", &[("rating_key", "10")]).data(),
        json!({})
    );
    s.set_plex_online(true);
    assert_eq!(children(&s, "500")["children_count"], 2);
}

fn watch(s: &FakeServer, params: &[(&str, &str)]) -> Value {
    api(s, "get_item_watch_time_stats", params).data()
}

fn played(sessions: &[Session], keys: &[i64], since: i64) -> i64 {
    sessions
        .iter()
        .filter(|x| keys.contains(&x.rating_key) && x.stopped >= since)
        .map(|x| x.stopped - x.started - x.paused_counter)
        .sum()
}

#[test]
fn watch_time_groups_viewings_and_windows_by_stop_time() {
    let s = demo();
    let sessions = Scenario::demo().sessions;
    // Parasite (14): bob in June, alice's two-session viewing on the 18th/19th.
    let all = watch(&s, &[("rating_key", "14")]);
    assert_eq!(
        all,
        json!([
            {"query_days": 1, "total_time": 0, "total_plays": 0},
            {"query_days": 7, "total_time": 7920, "total_plays": 1},
            {"query_days": 30, "total_time": 7920, "total_plays": 1},
            {"query_days": 0, "total_time": played(&sessions, &[14], 0), "total_plays": 2}
        ])
    );
    let ungrouped = watch(
        &s,
        &[("rating_key", "14"), ("grouping", "0"), ("query_days", "0")],
    );
    assert_eq!(ungrouped[0]["total_plays"], 3);
    let custom = watch(&s, &[("rating_key", "14"), ("query_days", "3, x")]);
    assert_eq!(custom[0]["query_days"], 3);
    assert_eq!(custom[1]["query_days"], 0, "a non-number is 0: all time");
    // A show covers its episodes: Cowboy Bebop's only episode is 142.
    let show = watch(&s, &[("rating_key", "140"), ("query_days", "0")]);
    let episode = watch(&s, &[("rating_key", "142"), ("query_days", "0")]);
    assert_eq!(show, episode);
    assert_eq!(show[0]["total_time"], played(&sessions, &[142], 0));
}

#[test]
fn collections_count_through_their_members() {
    let s = demo();
    let sum = |a: &Value, b: &Value, i: usize, k: &str| {
        a[i][k].as_i64().unwrap() + b[i][k].as_i64().unwrap()
    };
    let bebop = watch(&s, &[("rating_key", "140")]);
    let titan = watch(&s, &[("rating_key", "150")]);
    let anime = watch(&s, &[("rating_key", "501"), ("media_type", "collection")]);
    for i in 0..4 {
        assert_eq!(anime[i]["total_time"], sum(&bebop, &titan, i, "total_time"));
        assert_eq!(
            anime[i]["total_plays"],
            sum(&bebop, &titan, i, "total_plays")
        );
    }
    assert!(anime[3]["total_plays"].as_i64().unwrap() >= 3);
    // Without media_type the collection key matches no play; without Plex no members.
    let bare = watch(&s, &[("rating_key", "501"), ("query_days", "0")]);
    assert_eq!(
        bare,
        json!([{"query_days": 0, "total_time": 0, "total_plays": 0}])
    );
    // The deleted Blade Runner is not counted for Sci-Fi Classics.
    let scifi = watch(
        &s,
        &[
            ("rating_key", "500"),
            ("media_type", "collection"),
            ("query_days", "0"),
        ],
    );
    let sessions = Scenario::demo().sessions;
    assert_eq!(scifi[0]["total_time"], played(&sessions, &[10, 11], 0));
    s.set_plex_online(false);
    let offline = watch(
        &s,
        &[
            ("rating_key", "501"),
            ("media_type", "collection"),
            ("query_days", "0"),
        ],
    );
    assert_eq!(offline, bare);
    let users = api(
        &s,
        "get_item_user_stats",
        &[("rating_key", "501"), ("media_type", "collection")],
    )
    .data();
    assert_eq!(users, json!([]));
}

#[test]
fn user_stats_rank_users_of_an_item() {
    let s = demo();
    let rows = api(&s, "get_item_user_stats", &[("rating_key", "14")]).data();
    assert_eq!(
        rows,
        json!([
            {"friendly_name": "Alice A.", "user_id": 1001, "user_thumb": "https://plex.tv/users/aaaa/avatar",
             "username": "alice", "total_plays": 1, "total_time": 7920},
            {"friendly_name": "Bob B.", "user_id": 1002,
             "user_thumb": "interfaces/default/images/gravatar-default-80x80.png",
             "username": "bob", "total_plays": 1, "total_time": 7762}
        ])
    );
    let anime = api(
        &s,
        "get_item_user_stats",
        &[("rating_key", "501"), ("media_type", "collection")],
    )
    .data();
    let rows = anime.as_array().unwrap();
    assert!(!rows.is_empty());
    for w in rows.windows(2) {
        let key = |r: &Value| (r["total_plays"].as_i64(), r["total_time"].as_i64());
        assert!(key(&w[0]) >= key(&w[1]), "{anime}");
    }
}

#[test]
fn item_stats_need_a_key_or_guid() {
    let s = demo();
    for cmd in ["get_item_watch_time_stats", "get_item_user_stats"] {
        let r = api(&s, cmd, &[]);
        assert_eq!((r.status, r.message()), (400, Value::Null), "{cmd}");
        let r = api(&s, cmd, &[("rating_key", "")]);
        assert_eq!(r.status, 400, "{cmd}");
        assert_eq!(
            api(&s, cmd, &[("rating_key", "abc")]).data(),
            json!([]),
            "{cmd}"
        );
    }
    // By guid: The Matrix's own guid.
    let guid = Scenario::demo().movies[0].common.guid.clone();
    let by_guid = watch(&s, &[("guid", guid.as_str()), ("query_days", "0")]);
    let by_key = watch(&s, &[("rating_key", "10"), ("query_days", "0")]);
    assert_eq!(by_guid, by_key);
}

#[test]
fn the_demo_has_the_analytics_edge_cases() {
    let demo = Scenario::demo();
    let s = &demo.sessions;
    let day = |t: i64| t.div_euclid(86_400);
    assert!(
        s.iter().any(|x| day(x.started) != day(x.stopped)),
        "crossing midnight"
    );
    let b2b = |same: bool| {
        s.iter().any(|a| {
            s.iter()
                .any(|b| a.id != b.id && a.stopped == b.started && (a.user_id == b.user_id) == same)
        })
    };
    assert!(b2b(true), "back to back, same user");
    assert!(b2b(false), "back to back, another user");
    assert!(
        s.iter().any(|a| s
            .iter()
            .any(|b| a.id != b.id && a.started < b.started && b.stopped < a.stopped)),
        "nested"
    );
    assert!(
        s.iter().any(|b| b.reference_id.is_some_and(|r| {
            let a = s.iter().find(|a| a.id == r).unwrap();
            day(a.started) != day(b.started)
        })),
        "a grouped viewing over two days"
    );
    // Around DST changes: Europe 2026-03-29 and 2026-10-25 01:00Z, New York 2026-11-01 06:00Z.
    for change in [1_774_746_000_i64, 1_792_890_000, 1_793_512_800] {
        assert!(
            s.iter().any(|x| (x.started - change).abs() <= 3600),
            "a play near {change}"
        );
    }
    let c = &demo.collections;
    let staff: Vec<_> = c.iter().filter(|x| x.title == "Staff Picks").collect();
    assert_eq!(staff.len(), 2);
    assert_ne!(staff[0].section_id, staff[1].section_id);
    assert!(c.iter().any(|x| x.members.is_empty()));
    assert!(c
        .iter()
        .any(|x| x.title == "Sci-Fi Classics" && x.members.contains(&10)));
    assert!(c
        .iter()
        .any(|x| x.title == "Anime Nights" && x.members == [140, 150]));
}

#[test]
fn scenarios_with_bad_collections_or_zones_do_not_load() {
    let base = || -> Value {
        json!({
            "api_key": "0123456789abcdef0123456789abcdef",
            "users": [{"user_id": 1, "username": "a"}],
            "libraries": [
                {"section_id": 1, "section_name": "Movies", "section_type": "movie", "agent": "x"},
                {"section_id": 2, "section_name": "More", "section_type": "movie", "agent": "x"},
                {"section_id": 5, "section_name": "Live", "section_type": "live", "agent": "x"}
            ],
            "movies": [
                {"rating_key": 10, "title": "M", "guid": "plex://movie/10", "section_id": 1, "duration": 100},
                {"rating_key": 11, "title": "N", "guid": "plex://movie/11", "section_id": 2, "duration": 100}
            ],
            "collections": [{"rating_key": 50, "title": "C", "section_id": 1, "members": [10]}]
        })
    };
    let load = |v: &Value| Scenario::from_json(&v.to_string());
    let ok = load(&base()).unwrap();
    assert_eq!(ok.collections[0].collection_mode, -1);
    let err = |f: &dyn Fn(&mut Value)| {
        let mut v = base();
        f(&mut v);
        load(&v).unwrap_err().to_string()
    };
    assert!(err(&|v| v["collections"][0]["members"] = json!([11])).contains("member 11"));
    assert!(err(&|v| v["collections"][0]["members"] = json!([10, 10])).contains("member 10"));
    assert!(err(&|v| v["collections"][0]["members"] = json!([99])).contains("member 99"));
    assert!(err(&|v| v["collections"][0]["section_id"] = json!(5)).contains("section_id 5"));
    assert!(err(&|v| v["collections"][0]["rating_key"] = json!(10)).contains("rating_key 10"));
    assert!(err(&|v| v["server"] = json!({"tz_name": "Mars/Base"})).contains("Mars/Base"));
    let mut named = base();
    named["server"] =
        json!({"tz_name": "Europe/Berlin", "now": 1_795_262_400, "plex_online": false});
    let s = load(&named).unwrap();
    assert_eq!(s.server.now, Some(1_795_262_400));
    assert!(!s.server.plex_online);
    // Round trip keeps the new fields and omits defaults.
    let again = Scenario::from_json(&s.to_json_pretty()).unwrap();
    assert_eq!(again.collections, s.collections);
    assert_eq!(again.server, s.server);
    assert!(!ok.to_json_pretty().contains("plex_online"));
}
