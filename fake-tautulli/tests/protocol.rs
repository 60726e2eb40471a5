//! Transport, envelope, authentication order, write commands, faults, HTTP root, metadata.

use std::time::{Duration, Instant};

use fake_tautulli::{FakeServer, Fault, FaultRule, Scenario};
use serde_json::json;

use crate::testutil::{self, api, enc, query, request, scenario};

fn server() -> FakeServer {
    FakeServer::start(scenario("reference.json")).unwrap()
}

fn get(url: &str) -> testutil::Resp {
    request("GET", url, None, b"")
}

#[test]
fn authentication_is_checked_in_tautullis_order() {
    let s = server();
    let base = format!("{}/api/v2", s.url());
    let r = get(&format!("{base}?cmd=get_history"));
    assert_eq!(
        (r.status, r.message()),
        (400, json!("Parameter apikey is required"))
    );
    assert_eq!(r.json()["response"]["data"], json!({}));
    let r = get(&format!("{base}?apikey=wrong"));
    assert_eq!(r.status, 400);
    assert!(r
        .message()
        .as_str()
        .unwrap()
        .starts_with("Parameter cmd is required"));
    // An unknown command is reported before the key is compared.
    let r = get(&format!("{base}?apikey=wrong&cmd=get_everything"));
    assert_eq!(r.status, 400);
    let msg = r.message().as_str().unwrap().to_owned();
    assert!(
        msg.starts_with("Unknown command: get_everything. "),
        "{msg}"
    );
    let r = get(&format!("{base}?apikey=wrong&cmd=get_history"));
    assert_eq!((r.status, r.message()), (400, json!("Invalid apikey")));
    let recorded = s.requests();
    assert_eq!(recorded.len(), 4);
    assert!(recorded.iter().all(|r| !r.apikey_valid));
    assert!(recorded.iter().all(|r| !r.params.contains_key("apikey")));
    assert_eq!(recorded[3].cmd.as_deref(), Some("get_history"));
    assert_eq!(recorded[3].method, "GET");
    assert_eq!(recorded[3].path, "/api/v2");
}

#[test]
fn the_old_api_path_asks_for_v2_and_other_paths_are_404() {
    let s = server();
    let r = get(&format!(
        "{}/api?apikey={}&cmd=get_history",
        s.url(),
        s.api_key()
    ));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["response"]["result"], "error");
    assert_eq!(r.message(), "Please use the /api/v2 endpoint.");
    assert_eq!(get(&format!("{}/nothing", s.url())).status, 404);
}

#[test]
fn post_forms_keep_the_key_out_of_the_url() {
    let s = server();
    let body = query(&[
        ("apikey", &s.api_key()),
        ("cmd", "get_history"),
        ("user", "alice"),
        ("grouping", "0"),
    ]);
    let r = request(
        "POST",
        &format!("{}/api/v2", s.url()),
        Some("application/x-www-form-urlencoded"),
        body.as_bytes(),
    );
    assert_eq!(r.data()["recordsFiltered"], 6);
    let rec = &s.requests()[0];
    assert_eq!(rec.method, "POST");
    assert!(rec.apikey_valid);
    assert_eq!(rec.params.get("user").map(String::as_str), Some("alice"));
    assert!(!rec.params.contains_key("apikey"));
    assert!(!format!("{rec:?}").contains(&s.api_key()));
}

#[test]
fn write_commands_are_recorded_and_answer_success() {
    let s = server();
    for cmd in [
        "delete_history",
        "terminate_session",
        "edit_user",
        "sql",
        "notify",
        "regroup_history",
    ] {
        let r = api(&s, cmd, &[("row_ids", "1")]);
        assert_eq!(r.data(), json!({}), "{cmd}");
    }
    let cmds: Vec<String> = s.requests().into_iter().filter_map(|r| r.cmd).collect();
    assert_eq!(cmds.len(), 6);
    assert!(cmds.contains(&"delete_history".to_owned()));
    // Nothing was deleted: the fake does not execute them.
    assert_eq!(
        api(&s, "get_history", &[("grouping", "0")]).data()["recordsTotal"],
        10
    );
    // Known read commands not modelled yet say so.
    let r = api(&s, "get_home_stats", &[]);
    assert_eq!(r.status, 500);
    assert_eq!(r.header("X-Fake-Tautulli"), Some("not-implemented"));
}

#[test]
fn http_root_prefixes_every_path() {
    let s = FakeServer::start_with_root(scenario("reference.json"), "/tautulli/").unwrap();
    assert!(s.url().ends_with("/tautulli"));
    assert_eq!(api(&s, "get_history", &[]).data()["recordsFiltered"], 9);
    let without = s.url().trim_end_matches("/tautulli").to_owned();
    let r = get(&format!(
        "{without}/api/v2?apikey={}&cmd=get_history",
        s.api_key()
    ));
    assert_eq!(r.status, 404);
    assert_eq!(s.requests()[0].path, "/tautulli/api/v2");
}

#[test]
fn metadata_answers_empty_for_deleted_and_unknown_items() {
    let s = FakeServer::start(Scenario::demo()).unwrap();
    assert_eq!(
        api(&s, "get_metadata", &[("rating_key", "15")]).data(),
        json!({})
    );
    assert_eq!(
        api(&s, "get_metadata", &[("rating_key", "987654321")]).data(),
        json!({})
    );
    // The deleted movie still has history rows.
    let h = api(
        &s,
        "get_history",
        &[("rating_key", "15"), ("grouping", "0")],
    )
    .data();
    assert_eq!(h["recordsFiltered"], 2);
    let r = api(&s, "get_metadata", &[]);
    assert_eq!(r.status, 400);
    assert!(r.message().is_null());
    // The show lacking a TMDb ID whose season has one: each level keeps its own.
    let ep = api(&s, "get_metadata", &[("rating_key", "112")]).data();
    assert_eq!(
        ep["grandparent_guids"],
        json!(["imdb://tt0944947", "tvdb://121361"])
    );
    assert_eq!(
        ep["parent_guids"],
        json!(["tmdb://107971", "tvdb://785453"])
    );
    assert_eq!(ep["parent_media_index"], "8");
    // Legacy agents: no guid lists at any level.
    let legacy = api(&s, "get_metadata", &[("rating_key", "142")]).data();
    assert_eq!(legacy["guids"], json!([]));
    assert_eq!(legacy["grandparent_guids"], json!([]));
    assert_eq!(
        legacy["guid"],
        "com.plexapp.agents.hama://anidb-23/1/1?lang=en"
    );
    // Non-ASCII arrives as raw UTF-8.
    let r = api(&s, "get_metadata", &[("rating_key", "12")]);
    assert!(r.text().contains("千と千尋の神隠し"));
}

#[test]
fn info_and_status_answer() {
    let s = server();
    assert_eq!(
        api(&s, "get_tautulli_info", &[]).data()["tautulli_version"],
        "v2.17.2"
    );
    assert_eq!(api(&s, "status", &[]).data()["message"], "Ok");
}

/// `get_settings` as 2.17 answers it: every section, or one with `key`; int settings as
/// 0/1; an unknown section an error without a message; the `settings_refused` quirk a 400.
#[test]
fn settings_answer_group_history_tables_like_tautulli() {
    let s = server();
    let all = api(&s, "get_settings", &[]).data();
    assert_eq!(all["General"]["group_history_tables"], 1);
    assert!(
        all["PMS"]["pms_token"].is_null(),
        "blanked as Tautulli does"
    );
    let general = api(&s, "get_settings", &[("key", "General")]).data();
    assert_eq!(general, all["General"]);
    assert_eq!(general["history_table_activity"], 1);
    let unknown = api(&s, "get_settings", &[("key", "Nope")]);
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.json()["response"]["result"], "error");
    assert!(unknown.message().is_null());

    let edge = FakeServer::start(scenario("edge.json")).unwrap();
    let general = api(&edge, "get_settings", &[("key", "General")]).data();
    assert_eq!(
        general["group_history_tables"], 0,
        "edge.json: grouping off"
    );
    assert_eq!(general["history_table_activity"], 0);

    let mut refused = scenario("reference.json");
    refused.server.quirks.settings_refused = true;
    let refused = FakeServer::start(refused).unwrap();
    let r = api(&refused, "get_settings", &[("key", "General")]);
    assert_eq!((r.status, r.message()), (400, json!("Invalid apikey")));
    assert_eq!(api(&refused, "status", &[]).data()["message"], "Ok");
}

fn body_of(s: &FakeServer, cmd: &str) -> testutil::Resp {
    api(s, cmd, &[("rating_key", "101")])
}

#[test]
fn faults_have_the_real_shapes() {
    let s = server();
    let one = |fault: Fault| FaultRule {
        cmd: None,
        fault,
        times: Some(1),
    };

    s.push_fault(one(Fault::InvalidKey));
    let r = body_of(&s, "get_metadata");
    assert_eq!((r.status, r.message()), (400, json!("Invalid apikey")));

    s.push_fault(one(Fault::NullMessage400));
    let r = body_of(&s, "get_metadata");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["response"],
        json!({"result": "error", "message": null, "data": {}})
    );

    s.push_fault(one(Fault::ServerError500));
    let r = body_of(&s, "get_metadata");
    assert_eq!(
        (r.status, r.message()),
        (500, json!("Check the logs for errors"))
    );

    s.push_fault(one(Fault::Html { status: 502 }));
    let r = body_of(&s, "get_metadata");
    assert_eq!(r.status, 502);
    assert!(r.header("Content-Type").unwrap().starts_with("text/html"));
    assert!(r.text().contains("502 Bad Gateway"));

    s.push_fault(one(Fault::Html { status: 200 }));
    let r = body_of(&s, "get_metadata");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("<title>Tautulli - Login</title>"));

    s.push_fault(one(Fault::MalformedJson));
    let r = body_of(&s, "get_metadata");
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());

    let full = body_of(&s, "get_metadata").body;
    s.push_fault(one(Fault::TruncatedJson));
    let r = body_of(&s, "get_metadata");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, full[..full.len() / 2].to_vec());

    s.push_fault(one(Fault::RateLimited {
        retry_after_secs: 7,
    }));
    let r = body_of(&s, "get_metadata");
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("7"));

    s.push_fault(one(Fault::WrongTypes));
    let r = api(&s, "get_history", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["data"][0]["rating_key"], "abc");
    s.push_fault(one(Fault::WrongTypes));
    assert_eq!(body_of(&s, "get_metadata").data(), json!("oops"));

    s.push_fault(one(Fault::Status {
        status: 503,
        body: "maintenance".into(),
    }));
    let r = body_of(&s, "get_metadata");
    assert_eq!((r.status, r.text()), (503, "maintenance".to_owned()));

    let started = Instant::now();
    s.push_fault(one(Fault::Slow(Duration::from_millis(120))));
    let r = body_of(&s, "get_metadata");
    assert!(started.elapsed() >= Duration::from_millis(120));
    assert_eq!(r.data()["rating_key"], "101");

    // Every rule was used up: a normal answer again.
    assert_eq!(body_of(&s, "get_metadata").data()["rating_key"], "101");
}

#[test]
fn fault_rules_match_by_cmd_in_push_order_and_run_out() {
    let s = server();
    s.push_fault(FaultRule::for_cmd("get_history", Fault::ServerError500, 2));
    s.push_fault(FaultRule::for_cmd("get_history", Fault::InvalidKey, 1));
    s.push_fault(FaultRule {
        cmd: Some("get_users".into()),
        fault: Fault::NullMessage400,
        times: None,
    });
    assert_eq!(
        api(&s, "get_metadata", &[("rating_key", "101")]).status,
        200
    );
    assert_eq!(api(&s, "get_history", &[]).status, 500);
    assert_eq!(api(&s, "get_history", &[]).status, 500);
    assert_eq!(api(&s, "get_history", &[]).message(), "Invalid apikey");
    assert_eq!(api(&s, "get_history", &[]).status, 200);
    for _ in 0..3 {
        assert_eq!(api(&s, "get_users", &[]).status, 400);
    }
    s.clear_faults();
    assert_eq!(api(&s, "get_users", &[]).status, 200);
    s.clear_requests();
    assert!(s.requests().is_empty());
}

#[test]
fn latency_delays_only_its_command() {
    let s = server();
    s.set_latency(Some("get_metadata"), Duration::from_millis(80));
    let t = Instant::now();
    api(&s, "get_metadata", &[("rating_key", "101")]).data();
    assert!(t.elapsed() >= Duration::from_millis(80));
    s.set_latency(Some("get_metadata"), Duration::ZERO);
    // Percent-encoded values survive the round trip.
    let r = api(&s, "get_history", &[("user", "al ice&x")]);
    assert_eq!(r.data()["recordsFiltered"], 0);
    assert_eq!(
        s.requests()
            .last()
            .unwrap()
            .params
            .get("user")
            .map(String::as_str),
        Some("al ice&x")
    );
    assert_eq!(enc("a b"), "a%20b");
}
