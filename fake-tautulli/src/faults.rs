//! Injected failures: what a real Tautulli, or the proxy in front of it, answers when things
//! go wrong. Tests push [`FaultRule`]s; the first matching rule with uses left replaces (or
//! delays, or corrupts) the normal answer.

use std::time::Duration;

use crate::answer::{Answer, HTML, JSON, TEXT};

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

    pub(crate) fn matches(&self, cmd: Option<&str>) -> bool {
        self.times != Some(0) && self.cmd.as_deref().is_none_or(|c| Some(c) == cmd)
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
}

/// A reverse proxy's error page.
pub fn proxy_error_page(status: u16) -> String {
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
pub const LOGIN_PAGE: &str =
    "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
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
}

impl Fault {
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
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_by_cmd_and_remaining_uses() {
        let r = FaultRule::for_cmd("get_history", Fault::InvalidKey, 1);
        assert!(r.matches(Some("get_history")));
        assert!(!r.matches(Some("get_metadata")));
        assert!(!r.matches(None));
        let spent = FaultRule {
            times: Some(0),
            ..r
        };
        assert!(!spent.matches(Some("get_history")));
        assert!(FaultRule::always(Fault::InvalidKey).matches(None));
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
    fn truncation_halves_the_body() {
        let a = Answer::success(&serde_json::json!({"k": "0123456789"}));
        let n = a.body.len();
        let t = truncate(a);
        assert_eq!(t.body.len(), n / 2);
        assert!(serde_json::from_slice::<serde_json::Value>(&t.body).is_err());
    }
}
