//! A minimal HTTP/1.1 client over `TcpStream` (one request per connection), enough to talk
//! to the fake without pulling an HTTP client into this crate.

use std::io::{Read, Write};
use std::net::TcpStream;

use fake_tautulli::FakeServer;
use serde_json::Value;

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// `response.data` of a success answer (panics otherwise).
    pub fn data(&self) -> Value {
        let v = self.json();
        assert_eq!(self.status, 200, "{v}");
        assert_eq!(v["response"]["result"], "success", "{v}");
        v["response"]["data"].clone()
    }
    pub fn message(&self) -> Value {
        self.json()["response"]["message"].clone()
    }
}

fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    (host.to_owned(), format!("/{path}"))
}

pub fn request(method: &str, url: &str, content_type: Option<&str>, body: &[u8]) -> Resp {
    let (host, path) = split_url(url);
    let mut s = TcpStream::connect(&host).expect("connect to the fake");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    parse(&raw)
}

fn parse(raw: &[u8]) -> Resp {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete HTTP head");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = String::from_utf8_lossy(&b[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        b = &b[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// Percent-encodes a query/form value.
pub fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn query(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// GET `{url}/api/v2?apikey=KEY&cmd=CMD&params`.
pub fn api(server: &FakeServer, cmd: &str, params: &[(&str, &str)]) -> Resp {
    let key = server.api_key();
    let mut all = vec![("apikey", key.as_str()), ("cmd", cmd)];
    all.extend_from_slice(params);
    request(
        "GET",
        &format!("{}/api/v2?{}", server.url(), query(&all)),
        None,
        b"",
    )
}

/// `get_history` rows with the given parameters.
pub fn history(server: &FakeServer, params: &[(&str, &str)]) -> Value {
    api(server, "get_history", params).data()
}

pub fn reference(name: &str) -> Value {
    let path = format!(
        "{}/../fixtures/reference/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

pub fn scenario(name: &str) -> fake_tautulli::Scenario {
    let path = format!(
        "{}/../fixtures/scenarios/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    fake_tautulli::Scenario::from_file(std::path::Path::new(&path)).unwrap()
}
