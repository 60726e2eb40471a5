//! A minimal HTTP/1.1 server on std's `TcpListener`: just what the fake needs (GET and
//! form POST, keep-alive, one response per request).
//!
//! Written by hand rather than with a server crate for one reason: every response leaves in
//! a single `write` on a socket with `TCP_NODELAY`, so a client never waits on Nagle's
//! algorithm and delayed ACKs (about 40 ms per request), which would make benchmarks
//! measure the fake instead of the plugin. Faults can ask for other [`Delivery`]s: a body
//! trickled byte by byte, or a gzip stream generated while it is sent.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body read (a form post is tiny; this only bounds a misbehaving client).
const MAX_BODY: u64 = 1 << 20;
/// How often idle connections and the accept loop look at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// One parsed request.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent (`/api/v2?cmd=...`).
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delivery: Delivery,
}

/// How a response's body leaves the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Head and body in one write, with `Content-Length` (the normal way).
    #[default]
    Whole,
    /// The head at once (with the body's `Content-Length`), then the body one byte at a time,
    /// each `every` after the one before: a server (or proxy) that never quite stops.
    Trickle { every: Duration },
    /// `Content-Encoding: gzip`, the connection closed after it: the body, then spaces up
    /// to `inflated` bytes in all (see [`crate::bomb`]). A few MB on the wire that inflate
    /// to GBs; the fake holds one compressed block.
    Gzip { inflated: u64 },
}

/// A running server; stops accepting and closes idle connections on drop.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds 127.0.0.1 on `port` (0: an ephemeral one) and serves each connection on its
    /// own thread.
    pub fn start_on<F>(port: u16, handler: F) -> io::Result<Server>
    where
        F: Fn(Request) -> Response + Send + Sync + 'static,
    {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let acceptor = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("fake-tautulli-accept".into())
                .spawn(move || accept_loop(listener, stop, handler))?
        };
        Ok(Server {
            addr,
            stop,
            acceptor: Some(acceptor),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}

fn accept_loop<F>(listener: TcpListener, stop: Arc<AtomicBool>, handler: Arc<F>)
where
    F: Fn(Request) -> Response + Send + Sync + 'static,
{
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (stop, handler) = (Arc::clone(&stop), Arc::clone(&handler));
                let _ = std::thread::Builder::new()
                    .name("fake-tautulli-conn".into())
                    .spawn(move || {
                        let _ = connection(stream, &stop, &*handler);
                    });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Serves requests on one connection until the client closes it, asks to, or the server
/// stops.
fn connection<F>(stream: TcpStream, stop: &AtomicBool, handler: &F) -> io::Result<()>
where
    F: Fn(Request) -> Response,
{
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(POLL))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request) = read_request(&mut reader, stop)? else {
            return Ok(());
        };
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let response = handler(request);
        match response.delivery {
            Delivery::Whole => writer.write_all(&encode(&response, close))?,
            Delivery::Trickle { every } => trickle(&mut writer, &response, close, every, stop)?,
            Delivery::Gzip { inflated } => return gzip(writer, &response, inflated, stop),
        }
        if close {
            return Ok(());
        }
    }
}

/// Reads one request; `None` when the client closed the connection (or the server stops
/// while it is idle).
fn read_request(
    reader: &mut BufReader<TcpStream>,
    stop: &AtomicBool,
) -> io::Result<Option<Request>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        match reader.read_until(b'\n', &mut head) {
            Ok(0) => return Ok(None),
            Ok(_) => {
                if head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n") {
                    break;
                }
                if head.len() > MAX_HEAD {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "request head too large",
                    ));
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if stop.load(Ordering::SeqCst) && head.len() == before && head.is_empty() {
                    return Ok(None);
                }
                if stop.load(Ordering::SeqCst) {
                    return Ok(None);
                }
            }
            Err(e) => return Err(e),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.lines();
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .unwrap_or(0)
        .min(MAX_BODY);
    let mut body = Vec::with_capacity(length as usize);
    let mut limited = reader.take(length);
    while (body.len() as u64) < length {
        match limited.read_to_end(&mut body) {
            Ok(_) => break,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if stop.load(Ordering::SeqCst) {
                    return Ok(None);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Head and body in one buffer, so the response leaves in one write.
fn encode(r: &Response, close: bool) -> Vec<u8> {
    let mut out = head(r, close, &[("Content-Length", &r.body.len().to_string())]);
    out.extend_from_slice(&r.body);
    out
}

/// The status line and headers, `extra` headers last.
fn head(r: &Response, close: bool, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(r.body.len().min(1 << 16) + 256);
    out.extend_from_slice(format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status)).as_bytes());
    for (n, v) in r
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain(extra.iter().copied())
    {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Sleeps `d`, in short steps so a stopping server is not held; false when it stops.
fn pause(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(20)));
    }
}

/// [`Delivery::Trickle`]. Gives up (closing the connection) when the client goes away or
/// the server stops.
fn trickle(
    w: &mut TcpStream,
    r: &Response,
    close: bool,
    every: Duration,
    stop: &AtomicBool,
) -> io::Result<()> {
    w.write_all(&head(
        r,
        close,
        &[("Content-Length", &r.body.len().to_string())],
    ))?;
    for byte in &r.body {
        if !pause(every, stop) {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "server stopping",
            ));
        }
        w.write_all(std::slice::from_ref(byte))?;
    }
    Ok(())
}

/// [`Delivery::Gzip`]; the body ends when the connection closes.
fn gzip(w: TcpStream, r: &Response, inflated: u64, stop: &AtomicBool) -> io::Result<()> {
    let mut w = io::BufWriter::with_capacity(1 << 16, w);
    w.write_all(&head(r, true, &[("Content-Encoding", "gzip")]))?;
    crate::bomb::write_gzip(&mut w, &r.body, inflated, stop)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(server: &Server, raw: &str) -> String {
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.write_all(raw.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_get_and_form_post_with_content_length() {
        let server = Server::start_on(0, |r: Request| Response {
            status: 200,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: format!(
                "{} {} {}",
                r.method,
                r.target,
                String::from_utf8_lossy(&r.body)
            )
            .into_bytes(),
            delivery: Delivery::Whole,
        })
        .unwrap();
        let got = roundtrip(
            &server,
            "GET /api/v2?cmd=x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        );
        assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
        assert!(got.ends_with("GET /api/v2?cmd=x "), "{got}");
        let got = roundtrip(
            &server,
            "POST /api/v2 HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\nConnection: close\r\n\r\ncmd=y&a=b",
        );
        assert!(got.contains("Content-Length: 22\r\n"), "{got}");
        assert!(got.ends_with("POST /api/v2 cmd=y&a=b"), "{got}");
    }

    #[test]
    fn keeps_the_connection_alive_between_requests() {
        let server = Server::start_on(0, |_r: Request| Response {
            status: 500,
            headers: vec![],
            body: b"x".to_vec(),
            delivery: Delivery::Whole,
        })
        .unwrap();
        let mut s = TcpStream::connect(server.addr()).unwrap();
        let mut reader = BufReader::new(s.try_clone().unwrap());
        for _ in 0..3 {
            s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert_eq!(line, "HTTP/1.1 500 Internal Server Error\r\n");
            let mut rest = String::new();
            while rest != "\r\n" {
                rest.clear();
                reader.read_line(&mut rest).unwrap();
            }
            let mut body = [0u8; 1];
            reader.read_exact(&mut body).unwrap();
            assert_eq!(&body, b"x");
        }
    }
}
