//! Injected failures: what a real Tautulli, or the proxy in front of it, answers when things
//! go wrong. Tests push [`FaultRule`]s; the first matching rule with uses left replaces (or
//! delays, corrupts, holds) the normal answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::answer::{Answer, Delivery, HTML, JSON, TEXT};
use crate::params::Params;

/// `get_history`'s date filters (whole server-local days).
pub(crate) const DATE_FILTERS: [&str; 3] = ["after", "before", "start_date"];

/// When a fault applies.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// The `cmd` it applies to; `None` = every request.
    pub cmd: Option<String>,
    pub fault: Fault,
    /// How many requests it hits; `None` = forever.
    pub times: Option<u32>,
}

impl FaultRule {
    /// A rule for every request, forever.
    pub fn always(fault: Fault) -> FaultRule {
        FaultRule {
            cmd: None,
            fault,
            times: None,
        }
    }

    /// A rule for `cmd` only, `times` times.
    pub fn for_cmd(cmd: &str, fault: Fault, times: u32) -> FaultRule {
        FaultRule {
            cmd: Some(cmd.to_owned()),
            fault,
            times: Some(times),
        }
    }

    pub(crate) fn matches(&self, cmd: Option<&str>, params: &Params) -> bool {
        self.times != Some(0)
            && self.cmd.as_deref().is_none_or(|c| Some(c) == cmd)
            && self.fault.applies(cmd, params)
    }
}

/// One kind of failure.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// 400 `{"result":"error","message":"Invalid apikey","data":{}}`.
    InvalidKey,
    /// 400 `result: error`, `message: null` (a command that returned nothing).
    NullMessage400,
    /// 500 `Check the logs for errors` (an exception inside Tautulli).
    ServerError500,
    /// An HTML page: a proxy's 502, or a 200 login page of an auth proxy.
    Html { status: u16 },
    /// 200 with a body that is not JSON.
    MalformedJson,
    /// 200 with the real answer cut in half.
    TruncatedJson,
    /// Sleep, then answer normally.
    Slow(Duration),
    /// 429 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// 200 success whose data has the wrong types (`"rating_key": "abc"`, or `data: "oops"`).
    WrongTypes,
    /// Any status and body.
    Status { status: u16, body: String },
    /// A server that cannot filter by date: a `get_history` request with `after`, `before`
    /// or `start_date` gets 400 `message: null` (what Tautulli answers when a command
    /// returns nothing). Other requests pass, and do not use the rule up.
    RejectDateFilters,
    /// A server that does not know the date filters (as an older version): a `get_history`
    /// request with `after`, `before` or `start_date` is answered as if they were absent.
    /// Other requests pass, and do not use the rule up.
    IgnoreDateFilters,
    /// Compute the answer, then keep it in the server until the [`Hold`] is released or the
    /// server stops: a client can be killed while it waits for the answer.
    Hold(Hold),
    /// A broken proxy in front of `get_history`: at most `cap` rows per answer, and `start`
    /// not honoured as asked (see [`Paging`]). Other commands pass, and do not use the rule up.
    BadPaging { cap: u64, paging: Paging },
    /// A database holding garbage times: `get_history` rows whose `row_id` is listed get
    /// `started`, `stopped` and `date` set to one of [`ABSURD_TIMES`] (the n-th listed id the
    /// n-th value, cycling). Other requests pass, and do not use the rule up.
    AbsurdRows(Vec<i64>),
    /// 200 `Content-Encoding: gzip`: the start of a success envelope, then spaces up to
    /// `inflated_bytes` in all, about 1 000:1 (4 GiB are ~4 MB on the wire), generated
    /// while it is sent. The connection closes after it.
    GzipBomb { inflated_bytes: u64 },
    /// The normal answer's head at once, then its body one byte every `byte_every`: each
    /// byte arrives well within a per-read timeout, the whole answer never in time.
    Trickle { byte_every: Duration },
    /// Terminal escape codes and control characters ([`CONTROL_TEXT`]) where a client
    /// shows server text; [`ControlShape`] says where.
    ControlChars(ControlShape),
}

/// How a [`Fault::BadPaging`] proxy treats `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// Dropped: every page is the first one (A, A, A, ...).
    IgnoreStart,
    /// Taken modulo two pages: the first two pages alternate (A, B, A, B, ...).
    Alternate,
}

/// The times [`Fault::AbsurdRows`] writes: far past year 9999, `i64::MAX`, negative, and a
/// digit string too large for any integer type.
pub const ABSURD_TIMES: [&str; 4] = [
    "10000000000000",
    "9223372036854775807",
    "-5",
    "\"99999999999999999999\"",
];

/// Where [`Fault::ControlChars`] puts [`CONTROL_TEXT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlShape {
    /// 400 `result: error` with it as the `message` (JSON-escaped, as Tautulli would).
    Message,
    /// A 200 HTML page (a proxy's) with it raw in the title and the body.
    Html,
    /// A 200 JSON answer with it raw inside a string (invalid JSON: raw controls are not
    /// allowed there), so a client shows an excerpt around it.
    Json,
}

/// Clears the screen, homes the cursor, retitles the window, rings the bell, holds a NUL,
/// colours text, resets the terminal, uses the C1 CSI and reverses text direction.
pub const CONTROL_TEXT: &str = "\x1b[2J\x1b[H\x1b]0;pwned by the server\x07\0boom \x1b[31mred\x1b[0m\r\n\tnext line\x1bc\u{9b}2J\u{202e}desrever";

/// The gate of a [`Fault::Hold`]: requests wait at it until [`Hold::release`]. Clones share
/// one gate.
#[derive(Debug, Clone, Default)]
pub struct Hold(Arc<Gate>);

#[derive(Debug, Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    open: bool,
    /// Requests waiting now.
    waiting: usize,
    /// Requests that ever reached the gate.
    arrived: usize,
}

impl Hold {
    /// A closed gate: requests wait until [`Hold::release`].
    pub fn new() -> Hold {
        Hold::default()
    }

    fn state(&self) -> MutexGuard<'_, GateState> {
        // A panicking test thread must not poison the gate for the server.
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lets every waiting request go, and later ones straight through.
    pub fn release(&self) {
        self.state().open = true;
        self.0.changed.notify_all();
    }

    /// Requests waiting at the gate now.
    pub fn waiting(&self) -> usize {
        self.state().waiting
    }

    /// Waits until `n` requests in all have reached the gate; false when `timeout` passed
    /// first.
    pub fn wait_for_arrivals(&self, n: usize, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        let mut st = self.state();
        while st.arrived < n {
            let now = Instant::now();
            if now >= end {
                return false;
            }
            st = self
                .0
                .changed
                .wait_timeout(st, end - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Blocks a request until the gate opens or `stop` is set (the server stops).
    pub(crate) fn pass(&self, stop: &AtomicBool) {
        let mut st = self.state();
        st.arrived += 1;
        st.waiting += 1;
        self.0.changed.notify_all();
        while !st.open && !stop.load(Ordering::SeqCst) {
            st = self
                .0
                .changed
                .wait_timeout(st, Duration::from_millis(20))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st.waiting -= 1;
    }
}

impl PartialEq for Hold {
    fn eq(&self, other: &Hold) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The request is a `get_history` carrying a (non-empty) date filter.
fn has_date_filter(cmd: Option<&str>, params: &Params) -> bool {
    cmd == Some("get_history")
        && DATE_FILTERS
            .iter()
            .any(|k| params.get(*k).is_some_and(|v| !v.trim().is_empty()))
}

/// A reverse proxy's error page.
fn proxy_error_page(status: u16) -> String {
    let reason = match status {
        502 => "Bad Gateway",
        503 => "Service Temporarily Unavailable",
        504 => "Gateway Time-out",
        404 => "Not Found",
        _ => "Error",
    };
    format!(
        "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n\
         <center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n\
         </body>\r\n</html>\r\n"
    )
}

/// An auth proxy's (or Tautulli's own) login page, answered with 200.
const LOGIN_PAGE: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<title>Tautulli - Login</title>\n</head>\n<body>\n<form action=\"auth/signin\" method=\"post\">\n\
<input type=\"text\" name=\"username\"><input type=\"password\" name=\"password\">\n\
<button type=\"submit\">Sign In</button>\n</form>\n</body>\n</html>\n";

/// What to do with a request hit by a fault.
pub(crate) enum Effect {
    /// Answer this instead.
    Replace(Answer),
    /// Sleep, then answer normally.
    Delay(Duration),
    /// Answer normally, then cut the body in half.
    Truncate,
    /// Answer normally, then break the types of its data.
    WrongTypes,
    /// Answer as if these parameters were absent.
    Without(&'static [&'static str]),
    /// Answer normally, but only once the gate opens.
    Hold(Hold),
    /// Answer with `length` capped and `start` rewritten.
    Paging { cap: u64, paging: Paging },
    /// Answer normally, then give these rows absurd times.
    AbsurdRows(Vec<i64>),
    /// Answer normally, delivered this way.
    Deliver(Delivery),
}

/// The `start` and `length` a [`Fault::BadPaging`] proxy passes on.
pub(crate) fn bad_paging(start: u64, length: u64, cap: u64, paging: Paging) -> (u64, u64) {
    let length = length.min(cap).max(1);
    let start = match paging {
        Paging::IgnoreStart => 0,
        Paging::Alternate => start % (2 * length),
    };
    (start, length)
}

impl Fault {
    /// Whether the fault concerns this request at all (a rule whose fault does not apply
    /// is skipped without using it up).
    fn applies(&self, cmd: Option<&str>, params: &Params) -> bool {
        match self {
            Fault::RejectDateFilters | Fault::IgnoreDateFilters => has_date_filter(cmd, params),
            Fault::BadPaging { .. } | Fault::AbsurdRows(_) => cmd == Some("get_history"),
            _ => true,
        }
    }

    pub(crate) fn effect(&self) -> Effect {
        match self {
            Fault::InvalidKey => Effect::Replace(Answer::error(400, Some("Invalid apikey"))),
            Fault::NullMessage400 => Effect::Replace(Answer::error(400, None)),
            Fault::ServerError500 => Effect::Replace(Answer::server_error()),
            Fault::Html { status } => Effect::Replace(Answer::other(
                *status,
                HTML,
                if *status == 200 {
                    LOGIN_PAGE.to_owned()
                } else {
                    proxy_error_page(*status)
                },
            )),
            Fault::MalformedJson => Effect::Replace(Answer::other(
                200,
                JSON,
                "{\"response\": {\"result\": \"success\", \"message\": null, \"data\": [{'row_id': 1,}",
            )),
            Fault::TruncatedJson => Effect::Truncate,
            Fault::Slow(d) => Effect::Delay(*d),
            Fault::RateLimited { retry_after_secs } => Effect::Replace(
                Answer::other(429, TEXT, "429 Too Many Requests\n")
                    .with_header("Retry-After", &retry_after_secs.to_string()),
            ),
            Fault::WrongTypes => Effect::WrongTypes,
            Fault::Status { status, body } => {
                let ct = if body.trim_start().starts_with(['{', '[']) {
                    JSON
                } else {
                    TEXT
                };
                Effect::Replace(Answer::other(*status, ct, body.clone()))
            }
            Fault::RejectDateFilters => Effect::Replace(Answer::error(400, None)),
            Fault::IgnoreDateFilters => Effect::Without(&DATE_FILTERS),
            Fault::Hold(h) => Effect::Hold(h.clone()),
            Fault::BadPaging { cap, paging } => Effect::Paging {
                cap: *cap,
                paging: *paging,
            },
            Fault::AbsurdRows(ids) => Effect::AbsurdRows(ids.clone()),
            Fault::GzipBomb { inflated_bytes } => Effect::Replace(Answer {
                delivery: Delivery::Gzip {
                    inflated: *inflated_bytes,
                },
                ..Answer::json(
                    200,
                    br#"{"response":{"result":"success","message":null,"data":"#.to_vec(),
                )
            }),
            Fault::Trickle { byte_every } => Effect::Deliver(Delivery::Trickle {
                every: *byte_every,
            }),
            Fault::ControlChars(shape) => Effect::Replace(control_chars(*shape)),
        }
    }
}

/// The answer of [`Fault::ControlChars`].
fn control_chars(shape: ControlShape) -> Answer {
    match shape {
        ControlShape::Message => Answer::error(400, Some(CONTROL_TEXT)),
        ControlShape::Html => Answer::other(
            200,
            HTML,
            format!(
                "<html><head><title>{CONTROL_TEXT}</title></head>\n<body>{CONTROL_TEXT}</body></html>"
            ),
        ),
        ControlShape::Json => Answer::other(
            200,
            JSON,
            format!(
                r#"{{"response":{{"result":"success","message":null,"data":{{"recordsFiltered":1,"data":[{{"title":"{CONTROL_TEXT}"}}]}}}}}}"#
            ),
        ),
    }
}

/// The normal answer cut in half (on a byte boundary: the client must cope with anything).
pub(crate) fn truncate(mut a: Answer) -> Answer {
    let half = a.body.len() / 2;
    a.body.truncate(half);
    a
}

/// The normal answer with wrong types: history rows get `"rating_key": "abc"` and friends,
/// anything else gets `data: "oops"`. Errors pass through unchanged.
pub(crate) fn wrong_types(a: Answer, cmd: Option<&str>) -> Answer {
    if !a.is_success() {
        return a;
    }
    let mut v: serde_json::Value = match serde_json::from_slice(&a.body) {
        Ok(v) => v,
        Err(_) => return a,
    };
    let data = &mut v["response"]["data"];
    let rows = data.get_mut("data").and_then(|d| d.as_array_mut());
    match (cmd, rows) {
        (Some("get_history"), Some(rows)) if !rows.is_empty() => {
            for row in rows {
                row["rating_key"] = "abc".into();
                row["date"] = "yesterday".into();
                row["group_count"] = serde_json::json!([1]);
            }
        }
        _ => *data = "oops".into(),
    }
    Answer::json(200, serde_json::to_vec(&v).expect("a Value serialises"))
}

/// The normal `get_history` answer with the rows named by `row_ids` given absurd times (see
/// [`Fault::AbsurdRows`]). Errors and other shapes pass through unchanged.
pub(crate) fn absurd_rows(a: Answer, row_ids: &[i64]) -> Answer {
    if !a.is_success() {
        return a;
    }
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&a.body) else {
        return a;
    };
    let Some(rows) = v["response"]["data"]["data"].as_array_mut() else {
        return a;
    };
    for row in rows {
        // `row_id` may arrive as a digit string (the `digit_strings` quirk).
        let id = match &row["row_id"] {
            serde_json::Value::String(s) => s.parse().ok(),
            other => other.as_i64(),
        };
        let Some(n) = id.and_then(|id| row_ids.iter().position(|r| *r == id)) else {
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(ABSURD_TIMES[n % ABSURD_TIMES.len()])
            .expect("the absurd times are JSON");
        for field in ["started", "stopped", "date"] {
            row[field] = value.clone();
        }
    }
    Answer::json(200, serde_json::to_vec(&v).expect("a Value serialises"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::params;

    #[test]
    fn rules_match_by_cmd_and_remaining_uses() {
        let none = Params::new();
        let r = FaultRule::for_cmd("get_history", Fault::InvalidKey, 1);
        assert!(r.matches(Some("get_history"), &none));
        assert!(!r.matches(Some("get_metadata"), &none));
        assert!(!r.matches(None, &none));
        let spent = FaultRule {
            times: Some(0),
            ..r
        };
        assert!(!spent.matches(Some("get_history"), &none));
        assert!(FaultRule::always(Fault::InvalidKey).matches(None, &none));
    }

    #[test]
    fn date_filter_faults_match_only_history_requests_with_a_date() {
        for fault in [Fault::RejectDateFilters, Fault::IgnoreDateFilters] {
            let r = FaultRule::always(fault);
            for key in DATE_FILTERS {
                assert!(r.matches(Some("get_history"), &params(&[(key, "2026-01-01")])));
            }
            assert!(!r.matches(Some("get_history"), &params(&[("length", "10")])));
            assert!(!r.matches(Some("get_history"), &params(&[("after", " ")])));
            let dated = params(&[("after", "2026-01-01")]);
            assert!(!r.matches(Some("get_plays_by_date"), &dated));
        }
        let reject = Fault::RejectDateFilters.effect();
        assert!(matches!(reject, Effect::Replace(a) if a.status == 400));
        assert!(matches!(
            Fault::IgnoreDateFilters.effect(),
            Effect::Without(keys) if keys == DATE_FILTERS
        ));
    }

    #[test]
    fn bad_paging_repeats_or_alternates_capped_pages() {
        assert_eq!(bad_paging(40, 100, 10, Paging::IgnoreStart), (0, 10));
        let starts: Vec<u64> = [0, 10, 20, 30]
            .iter()
            .map(|&s| bad_paging(s, 10, 10, Paging::Alternate).0)
            .collect();
        assert_eq!(starts, [0, 10, 0, 10]);
        let f = Fault::BadPaging {
            cap: 5,
            paging: Paging::Alternate,
        };
        assert!(f.applies(Some("get_history"), &Params::new()));
        assert!(!f.applies(Some("get_users"), &Params::new()));
    }

    #[test]
    fn a_hold_keeps_requests_until_released_or_stopped() {
        let hold = Hold::new();
        assert_eq!(Fault::Hold(hold.clone()), Fault::Hold(hold.clone()));
        assert_ne!(Fault::Hold(hold.clone()), Fault::Hold(Hold::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (hold, stop) = (hold.clone(), Arc::clone(&stop));
            std::thread::spawn(move || hold.pass(&stop))
        };
        assert!(hold.wait_for_arrivals(1, Duration::from_secs(10)));
        assert_eq!(hold.waiting(), 1);
        assert!(!waiter.is_finished());
        hold.release();
        waiter.join().unwrap();
        assert_eq!(hold.waiting(), 0);
        // Open now: later requests pass straight through.
        hold.pass(&stop);
        // A stopping server lets a closed gate's requests go.
        let closed = Hold::new();
        stop.store(true, Ordering::SeqCst);
        closed.pass(&stop);
        assert!(!closed.wait_for_arrivals(2, Duration::from_millis(1)));
    }

    #[test]
    fn wrong_types_breaks_history_rows_or_data() {
        let a = Answer::success(
            &serde_json::json!({"recordsFiltered": 1, "data": [{"rating_key": 5}]}),
        );
        let b = wrong_types(a.clone(), Some("get_history"));
        let v: serde_json::Value = serde_json::from_slice(&b.body).unwrap();
        assert_eq!(v["response"]["data"]["data"][0]["rating_key"], "abc");
        let c = wrong_types(a, Some("get_metadata"));
        let v: serde_json::Value = serde_json::from_slice(&c.body).unwrap();
        assert_eq!(v["response"]["data"], "oops");
    }

    #[test]
    fn absurd_rows_rewrite_only_the_listed_history_rows() {
        let r = FaultRule::always(Fault::AbsurdRows(vec![2, 3, 4, 5]));
        assert!(r.matches(Some("get_history"), &Params::new()));
        assert!(!r.matches(Some("get_plays_by_date"), &Params::new()));
        let rows: Vec<serde_json::Value> = (1..=6)
            .map(|id| serde_json::json!({"row_id": id.to_string(), "started": 10, "stopped": 20, "date": 10}))
            .collect();
        let a = Answer::success(&serde_json::json!({"recordsFiltered": 6, "data": rows}));
        let b = absurd_rows(a, &[2, 3, 4, 5]);
        let v: serde_json::Value = serde_json::from_slice(&b.body).unwrap();
        let got: Vec<String> = v["response"]["data"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{} {} {}", r["started"], r["stopped"], r["date"]))
            .collect();
        let mut want = vec!["10 20 10".to_string()];
        want.extend(ABSURD_TIMES.iter().map(|t| format!("{t} {t} {t}")));
        want.push("10 20 10".into());
        assert_eq!(got, want);
    }

    #[test]
    fn truncation_halves_the_body() {
        let a = Answer::success(&serde_json::json!({"k": "0123456789"}));
        let n = a.body.len();
        let t = truncate(a);
        assert_eq!(t.body.len(), n / 2);
        assert!(serde_json::from_slice::<serde_json::Value>(&t.body).is_err());
    }
}
