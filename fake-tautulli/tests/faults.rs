//! Faults a windowed reader must survive: servers that reject or ignore the date filters, an
//! unavailable count command, and an answer held in the server while a client dies. And
//! hostile answers: a gzip bomb, a trickled body, terminal escape codes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use fake_tautulli::{
    generate, ControlShape, CostModel, FakeServer, Fault, FaultRule, GenSpec, Hold, Scenario,
    CONTROL_TEXT, EPOCH_2027,
};
use serde_json::json;

use crate::testutil::{self, api, query};

fn server() -> FakeServer {
    let s = FakeServer::start(generate(&GenSpec {
        plays: 3_000,
        movies: 200,
        shows: 40,
        episodes_per_show: 10,
        users: 8,
        ..GenSpec::default()
    }))
    .unwrap();
    s.set_now(EPOCH_2027);
    s
}

const DAY: [(&str, &str); 4] = [
    ("grouping", "0"),
    ("include_activity", "0"),
    ("after", "2026-06-10"),
    ("before", "2026-06-10"),
];
const ALL: [(&str, &str); 2] = [("grouping", "0"), ("include_activity", "0")];

#[test]
fn a_server_rejecting_date_filters_answers_400_null_only_to_dated_requests() {
    let s = server();
    s.push_fault(FaultRule::for_cmd(
        "get_history",
        Fault::RejectDateFilters,
        1,
    ));
    // Undated requests pass and do not use the rule up.
    assert_eq!(api(&s, "get_history", &ALL).status, 200);
    let r = api(&s, "get_history", &DAY);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["response"],
        json!({"result": "error", "message": null, "data": {}})
    );
    assert_eq!(api(&s, "get_history", &DAY).status, 200, "used up");

    s.push_fault(FaultRule::always(Fault::RejectDateFilters));
    for key in ["after", "before", "start_date"] {
        let r = api(&s, "get_history", &[(key, "2026-06-10")]);
        assert_eq!(r.status, 400, "{key}");
    }
    assert_eq!(api(&s, "get_history", &[("after", "")]).status, 200);
    let dated_graph = api(&s, "get_plays_by_date", &[("after", "2026-06-10")]);
    assert_eq!(dated_graph.status, 200, "only get_history is concerned");
}

#[test]
fn a_server_ignoring_date_filters_answers_as_if_they_were_absent() {
    let s = server();
    s.set_cost_model(Some(CostModel::tautulli_2_17()));
    let one_day = api(&s, "get_history", &DAY).data();
    let all = api(&s, "get_history", &ALL).data();
    let all_cost = s.requests().pop().unwrap().modelled;
    assert!(one_day["recordsFiltered"].as_u64() < all["recordsFiltered"].as_u64());

    s.push_fault(FaultRule::always(Fault::IgnoreDateFilters));
    let ignored = api(&s, "get_history", &DAY).data();
    assert_eq!(ignored, all);
    let on = api(
        &s,
        "get_history",
        &[
            ("grouping", "0"),
            ("include_activity", "0"),
            ("start_date", "2026-06-10"),
        ],
    )
    .data();
    assert_eq!(on["recordsFiltered"], all["recordsFiltered"]);
    // The request is recorded as sent, and priced as the unfiltered query it became.
    let mut log = s.requests();
    let last = log.pop().unwrap();
    assert_eq!(
        last.params.get("start_date").map(String::as_str),
        Some("2026-06-10")
    );
    let dated = log.pop().unwrap();
    assert_eq!(
        dated.params.get("after").map(String::as_str),
        Some("2026-06-10")
    );
    assert_eq!(dated.modelled, all_cost);
}

#[test]
fn a_failing_plays_by_date_makes_the_count_command_unavailable() {
    let s = server();
    s.push_fault(FaultRule::for_cmd(
        "get_plays_by_date",
        Fault::ServerError500,
        2,
    ));
    let q = [("time_range", "3650"), ("grouping", "0")];
    for _ in 0..2 {
        let r = api(&s, "get_plays_by_date", &q);
        assert_eq!(
            (r.status, r.message()),
            (500, json!("Check the logs for errors"))
        );
    }
    // Other commands are untouched meanwhile; afterwards the counts come back.
    assert_eq!(api(&s, "get_history", &ALL).status, 200);
    let g = api(&s, "get_plays_by_date", &q).data();
    assert_eq!(g["categories"].as_array().unwrap().len(), 3650);
}

/// Sends a `get_history` request on a raw connection and returns it unread.
fn send_history(s: &FakeServer) -> TcpStream {
    let host = s.url().trim_start_matches("http://").to_owned();
    let mut c = TcpStream::connect(&host).unwrap();
    let key = s.api_key();
    let q = query(&[("apikey", &key), ("cmd", "get_history"), ("length", "5")]);
    write!(
        c,
        "GET /api/v2?{q} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    c
}

#[test]
fn a_held_answer_waits_for_release_and_a_killed_client_does_not_hurt() {
    let s = server();
    let hold = Hold::new();
    s.push_fault(FaultRule::for_cmd(
        "get_history",
        Fault::Hold(hold.clone()),
        2,
    ));
    // A client that dies while its answer is held.
    drop(send_history(&s));
    assert!(hold.wait_for_arrivals(1, Duration::from_secs(30)));
    assert_eq!(hold.waiting(), 1);
    // A client that waits.
    let waiter = {
        let url = s.url();
        let key = s.api_key();
        std::thread::spawn(move || {
            let q = query(&[("apikey", &key), ("cmd", "get_history"), ("length", "5")]);
            testutil::request("GET", &format!("{url}/api/v2?{q}"), None, b"")
        })
    };
    assert!(hold.wait_for_arrivals(2, Duration::from_secs(30)));
    assert!(!waiter.is_finished());
    // Other commands are not held.
    assert_eq!(api(&s, "get_users", &[]).status, 200);
    hold.release();
    let r = waiter.join().unwrap();
    assert_eq!(r.data()["data"].as_array().unwrap().len(), 5);
    assert_eq!(api(&s, "get_history", &ALL).status, 200, "rule used up");
}

#[test]
fn a_stopping_server_lets_held_requests_go() {
    let s = server();
    let hold = Hold::new();
    s.push_fault(FaultRule::always(Fault::Hold(hold.clone())));
    let client = send_history(&s);
    assert!(hold.wait_for_arrivals(1, Duration::from_secs(30)));
    drop(s);
    // The held request ends although the gate never opened.
    let mut left = 3000;
    while hold.waiting() > 0 && left > 0 {
        std::thread::sleep(Duration::from_millis(10));
        left -= 1;
    }
    assert_eq!(hold.waiting(), 0);
    drop(client);
}

/// Sends `cmd` on a raw connection and returns it unread.
fn send(s: &FakeServer, cmd: &str) -> TcpStream {
    let host = s.url().trim_start_matches("http://").to_owned();
    let mut c = TcpStream::connect(&host).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let q = query(&[("apikey", &s.api_key()), ("cmd", cmd)]);
    write!(
        c,
        "GET /api/v2?{q} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    c
}

/// Reads up to the end of the head; returns the head and the body bytes read with it.
fn read_head(c: &mut TcpStream) -> (String, Vec<u8>) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            return (head, raw[end + 4..].to_vec());
        }
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the head ended");
        raw.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn a_gzip_bomb_is_a_small_stream_that_inflates_to_the_size_asked() {
    let s = FakeServer::start(Scenario::reference()).unwrap();
    let inflated = 64 << 20;
    s.push_fault(FaultRule::for_cmd(
        "get_history",
        Fault::GzipBomb {
            inflated_bytes: inflated,
        },
        1,
    ));
    let mut c = send(&s, "get_history");
    let (head, mut compressed) = read_head(&mut c);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(
        !head.contains("content-length"),
        "ends with the connection: {head}"
    );
    c.read_to_end(&mut compressed).unwrap();
    assert!(
        compressed.len() < (inflated / 500) as usize,
        "{} bytes on the wire",
        compressed.len()
    );
    // One gzip member, CRC and length checked by the decoder.
    let mut decoder = flate2::read::GzDecoder::new(&compressed[..]);
    let mut body = Vec::new();
    decoder.read_to_end(&mut body).unwrap();
    assert_eq!(body.len() as u64, inflated);
    let prefix = br#"{"response":{"result":"success","message":null,"data":"#;
    assert!(body.starts_with(prefix));
    assert!(body[prefix.len()..].iter().all(|&b| b == b' '));
    assert_eq!(api(&s, "get_history", &ALL).status, 200, "rule used up");
}

#[test]
fn a_client_leaving_a_gzip_bomb_early_stops_it() {
    let s = FakeServer::start(Scenario::reference()).unwrap();
    s.push_fault(FaultRule::always(Fault::GzipBomb {
        inflated_bytes: 1 << 40,
    }));
    let mut c = send(&s, "get_history");
    let (head, _) = read_head(&mut c);
    assert!(head.contains("content-encoding: gzip"), "{head}");
    drop(c);
    // The server goes on answering (its sending thread ends on the broken connection).
    s.clear_faults();
    assert_eq!(api(&s, "get_history", &ALL).status, 200);
}

#[test]
fn a_trickled_answer_sends_the_head_then_the_normal_body_byte_by_byte() {
    let s = FakeServer::start(Scenario::reference()).unwrap();
    let normal = api(&s, "get_tautulli_info", &[]);
    s.push_fault(FaultRule::for_cmd(
        "get_tautulli_info",
        Fault::Trickle {
            byte_every: Duration::from_millis(5),
        },
        1,
    ));
    let mut c = send(&s, "get_tautulli_info");
    let (head, mut body) = read_head(&mut c);
    assert!(
        head.contains(&format!("content-length: {}", normal.body.len())),
        "{head}"
    );
    assert!(
        body.len() < normal.body.len(),
        "the head came before the whole body"
    );
    c.read_to_end(&mut body).unwrap();
    assert_eq!(body, normal.body);
    assert_eq!(
        api(&s, "get_tautulli_info", &[]).body,
        normal.body,
        "used up"
    );
}

#[test]
fn control_chars_reach_the_client_in_a_message_a_page_and_a_json_string() {
    let s = FakeServer::start(Scenario::reference()).unwrap();
    for shape in [
        ControlShape::Message,
        ControlShape::Html,
        ControlShape::Json,
    ] {
        s.push_fault(FaultRule::for_cmd(
            "get_history",
            Fault::ControlChars(shape),
            1,
        ));
        let r = api(&s, "get_history", &ALL);
        let raw_esc = r.body.contains(&0x1b);
        match shape {
            ControlShape::Message => {
                assert_eq!(r.status, 400);
                assert!(!raw_esc, "JSON-escaped, as Tautulli sends it");
                assert_eq!(r.message(), CONTROL_TEXT);
            }
            ControlShape::Html => {
                assert_eq!(r.status, 200);
                assert!(r.header("content-type").unwrap().starts_with("text/html"));
                assert!(raw_esc && r.body.contains(&0) && r.body.contains(&0x07));
            }
            ControlShape::Json => {
                assert_eq!(r.status, 200);
                assert!(r
                    .header("content-type")
                    .unwrap()
                    .starts_with("application/json"));
                assert!(raw_esc && r.body.contains(&0));
                assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());
            }
        }
    }
}
