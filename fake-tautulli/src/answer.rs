//! An HTTP answer and Tautulli's JSON envelope
//! `{"response": {"result": .., "message": .., "data": ..}}`.

use serde::Serialize;

pub use crate::http::Delivery;

pub const JSON: &str = "application/json;charset=UTF-8";
pub const HTML: &str = "text/html;charset=utf-8";
pub const TEXT: &str = "text/plain;charset=utf-8";

/// What the server sends back for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How the body is sent (in one write, unless a fault says otherwise).
    pub delivery: Delivery,
}

impl Answer {
    /// `result: success` with `data` written by `write` (raw JSON, straight into the body so
    /// a 10 000-row page never becomes a `serde_json::Value` tree).
    pub fn success_with(
        write: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
    ) -> serde_json::Result<Answer> {
        let mut body = Vec::with_capacity(256);
        body.extend_from_slice(br#"{"response":{"result":"success","message":null,"data":"#);
        write(&mut body)?;
        body.extend_from_slice(b"}}");
        Ok(Answer::json(200, body))
    }

    pub fn success(data: &impl Serialize) -> Answer {
        Answer::success_with(|out| serde_json::to_writer(out, data))
            .expect("in-memory data always serialises")
    }

    /// `result: error` with `data: {}`; `message: null` when `None`.
    pub fn error(status: u16, message: Option<&str>) -> Answer {
        let body = serde_json::to_vec(&serde_json::json!({
            "response": {"result": "error", "message": message, "data": {}}
        }))
        .expect("static JSON serialises");
        Answer::json(status, body)
    }

    /// Tautulli's answer to an exception inside a command.
    pub fn server_error() -> Answer {
        Answer::error(500, Some("Check the logs for errors"))
    }

    pub fn json(status: u16, body: Vec<u8>) -> Answer {
        Answer {
            status,
            content_type: JSON,
            headers: Vec::new(),
            body,
            delivery: Delivery::Whole,
        }
    }

    pub fn other(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Answer {
        Answer {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
            delivery: Delivery::Whole,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn is_success(&self) -> bool {
        self.status == 200
            && self.content_type == JSON
            && self.body.starts_with(br#"{"response":{"result":"success""#)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes() {
        let a = Answer::success(&serde_json::json!({"x": "ü"}));
        assert_eq!(
            String::from_utf8(a.body.clone()).unwrap(),
            r#"{"response":{"result":"success","message":null,"data":{"x":"ü"}}}"#
        );
        assert!(a.is_success());
        let e = Answer::error(400, None);
        assert_eq!(e.status, 400);
        let v: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
        assert_eq!(v["response"]["message"], serde_json::Value::Null);
        assert_eq!(v["response"]["data"], serde_json::json!({}));
        assert!(!e.is_success());
    }
}
