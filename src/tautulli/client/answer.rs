//! Reading an answer: Tautulli's envelope (`{"response": {"result", "message", "data"}}`),
//! and what every status, page and parser error means for the caller, said in an error that
//! is short, printable and free of the key.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::*;

/// `{"response": {...}}` with `data` left raw.
#[derive(Deserialize)]
pub(super) struct Envelope<'a> {
    #[serde(borrow)]
    response: Inner<'a>,
}

/// `{"response": {"result", "data": T}}` read in one pass, for the common successful answer.
#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub(super) struct FastEnvelope<T> {
    response: FastInner<T>,
}

#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub(super) struct FastInner<T> {
    #[serde(default)]
    result: Option<Capped>,
    #[serde(default = "none")]
    data: Option<T>,
}

pub(super) fn none<T>() -> Option<T> {
    None
}

#[derive(Deserialize)]
pub(super) struct Inner<'a> {
    #[serde(default)]
    result: Option<Capped>,
    #[serde(default)]
    message: Option<Capped>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// A string field of the envelope, kept only as far as an error could show it: a server's
/// megabytes of `message` cost a few KB.
pub(super) struct Capped {
    text: String,
    /// The server sent more than `text`.
    cut: bool,
}

impl Capped {
    /// Bytes kept: [`MESSAGE_CHARS`] of the widest characters.
    const KEEP: usize = MESSAGE_CHARS * 4;
}

impl<'de> Deserialize<'de> for Capped {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Capped;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Capped, E> {
                let mut end = v.len().min(Capped::KEEP);
                while !v.is_char_boundary(end) {
                    end -= 1;
                }
                Ok(Capped {
                    text: v[..end].to_string(),
                    cut: end < v.len(),
                })
            }
        }
        d.deserialize_str(V)
    }
}

impl Client {
    /// Maps a final HTTP answer to `T` or to the error it stands for.
    pub(super) fn interpret<T: DeserializeOwned>(
        &self,
        cmd: Command,
        a: &Answer,
        tally: Tally,
    ) -> Result<T> {
        let name = cmd.as_str();
        let status = a.status;
        let url = &self.server_url;
        match status {
            429 => {
                return Err(Error::RateLimited {
                    cmd: name,
                    attempts: tally.attempts,
                    elapsed_ms: tally.elapsed_ms,
                    wait_refused_secs: tally.wait_refused_secs,
                })
            }
            500..=599 => {
                return Err(Error::ServerError {
                    cmd: name,
                    status,
                    attempts: tally.attempts,
                    elapsed_ms: tally.elapsed_ms,
                    message: self.summary(a),
                })
            }
            401 | 403 => {
                return Err(Error::AuthFailed {
                    reason: format!(
                        "HTTP {status} from {url}: a reverse proxy in front of Tautulli asks for \
                         its own login; let /api/v2 through the proxy without it or point \
                         tautulli.server_url at Tautulli directly"
                    ),
                })
            }
            404 => {
                return Err(Error::ConfigInvalid {
                    key: self.server_url_key.clone(),
                    reason: format!(
                        "no Tautulli API at {url}/api/v2 (HTTP 404): check the address, and if \
                         Tautulli runs behind a reverse proxy or has an HTTP Root set, include \
                         that path (e.g. \"https://host/tautulli\")"
                    ),
                })
            }
            300..=399 => {
                let to = a
                    .location
                    .as_deref()
                    .map(|l| self.shown(l, MESSAGE_CHARS))
                    .unwrap_or_else(|| "somewhere else".to_string());
                return Err(Error::ConfigInvalid {
                    key: self.server_url_key.clone(),
                    reason: format!(
                        "{url}/api/v2 redirects (HTTP {status}) to {to}; set tautulli.server_url \
                         to the address it redirects to (e.g. https:// instead of http://)"
                    ),
                });
            }
            _ => {}
        }
        if looks_like_html(a) {
            return Err(self.bad(
                name,
                status,
                "an HTML page answered instead of Tautulli's JSON API: a reverse proxy or login \
                 page answered instead of Tautulli; check tautulli.server_url"
                    .to_string(),
                &a.body,
                None,
            ));
        }
        let text = match std::str::from_utf8(&a.body) {
            Ok(t) => t,
            Err(e) => {
                return Err(self.bad(
                    name,
                    status,
                    format!("the answer is not UTF-8 text ({e})"),
                    &a.body,
                    Some(e.valid_up_to()),
                ));
            }
        };
        // Fast path: a successful answer parsed in one pass, `data` straight into `T`.
        // Anything else (errors, surprises) falls through to the careful path below, which
        // re-reads the answer to say precisely what is wrong with it.
        if let Ok(FastEnvelope {
            response:
                FastInner {
                    result: Some(result),
                    data: Some(data),
                },
        }) = serde_json::from_str::<FastEnvelope<T>>(text)
        {
            if result.text == "success" && !result.cut {
                return Ok(data);
            }
        }
        let env: Envelope = match serde_json::from_str(text) {
            Ok(env) => env,
            Err(e) => {
                let reason = if e.is_eof() {
                    format!(
                        "the JSON answer is truncated ({}): a proxy limit or a dropped connection?",
                        self.parser_error(&e)
                    )
                } else {
                    format!(
                        "the answer is not Tautulli's JSON envelope ({})",
                        self.parser_error(&e)
                    )
                };
                return Err(self.bad(name, status, reason, &a.body, error_offset(text, &e)));
            }
        };
        let inner = env.response;
        match inner
            .result
            .as_ref()
            .filter(|r| !r.cut)
            .map(|r| r.text.as_str())
        {
            Some("success") => {
                let raw = inner.data.map_or("null", RawValue::get);
                serde_json::from_str(raw).map_err(|e| {
                    self.bad(
                        name,
                        status,
                        format!(
                            "`data` does not have the expected shape ({})",
                            self.parser_error(&e)
                        ),
                        raw.as_bytes(),
                        error_offset(raw, &e),
                    )
                })
            }
            Some("error") => Err(self.tautulli_error(cmd, status, inner.message.as_ref())),
            _ => Err(self.bad(
                name,
                status,
                format!(
                    "`response.result` is {}, expected \"success\" or \"error\"",
                    inner
                        .result
                        .as_ref()
                        .map_or("missing".to_string(), |r| format!(
                            "\"{}\"",
                            self.capped_text(r, 60)
                        ))
                ),
                &a.body,
                None,
            )),
        }
    }

    /// `result: error`, by message.
    pub(super) fn tautulli_error(
        &self,
        cmd: Command,
        status: u16,
        message: Option<&Capped>,
    ) -> Error {
        let message = message
            .map(|m| self.capped_text(m, MESSAGE_CHARS))
            .unwrap_or_default();
        let lower = message.to_ascii_lowercase();
        if lower.contains("invalid apikey") {
            return Error::AuthFailed {
                reason: "Tautulli rejected the API key: copy it from Settings > Web Interface > \
                         API into tautulli.api_key"
                    .to_string(),
            };
        }
        if lower.contains("parameter apikey is required") {
            return Error::AuthFailed {
                reason: "Tautulli received no API key: a reverse proxy in front of it may drop \
                         POST bodies; point tautulli.server_url at Tautulli directly"
                    .to_string(),
            };
        }
        if lower.contains("api not enabled") {
            return Error::AuthFailed {
                reason: "Tautulli's API is disabled: enable it in Settings > Web Interface > API"
                    .to_string(),
            };
        }
        if lower.contains("please use the /api/v2 endpoint") {
            return Error::ConfigInvalid {
                key: self.server_url_key.clone(),
                reason: format!(
                    "{} answered as an older API path: set tautulli.server_url to Tautulli's base \
                     address (without /api)",
                    self.server_url
                ),
            };
        }
        let message = if message.is_empty() {
            format!(
                "{} returned nothing (HTTP {status}, no message): a required parameter is missing",
                cmd.as_str()
            )
        } else if lower.starts_with("unknown command") {
            format!("{message} (this Tautulli version lacks the command: update Tautulli)")
        } else {
            message
        };
        Error::TautulliError {
            cmd: cmd.as_str(),
            status,
            message,
        }
    }

    /// A short description of a 5xx answer for [`Error::ServerError`].
    pub(super) fn summary(&self, a: &Answer) -> String {
        if looks_like_html(a) {
            return format!(
                "an HTML error page, probably from a reverse proxy: \"{}\"",
                self.excerpt_of(&a.body, 0)
            );
        }
        let envelope = std::str::from_utf8(&a.body)
            .ok()
            .and_then(|text| serde_json::from_str::<Envelope>(text).ok());
        match envelope {
            Some(Envelope {
                response: Inner {
                    message: Some(m), ..
                },
            }) if !m.text.trim().is_empty() => {
                format!("Tautulli said \"{}\"", self.capped_text(&m, MESSAGE_CHARS))
            }
            _ if a.body.iter().all(u8::is_ascii_whitespace) => "empty answer".to_string(),
            _ => format!("\"{}\"", self.excerpt_of(&a.body, 0)),
        }
    }

    /// A [`Error::BadResponse`] with an excerpt around `at` (a byte offset in `body`).
    pub(super) fn bad(
        &self,
        cmd: &'static str,
        status: u16,
        reason: String,
        body: &[u8],
        at: Option<usize>,
    ) -> Error {
        Error::BadResponse {
            cmd,
            status,
            reason: self.shown(&reason, reason.len()),
            excerpt: self.excerpt_of(body, at.unwrap_or(0)),
        }
    }

    /// A short excerpt of `body` around byte `at`, the key scrubbed: only the few hundred
    /// bytes around `at` are ever copied, however large the body.
    pub(super) fn excerpt_of(&self, body: &[u8], at: usize) -> String {
        let at = at.min(body.len());
        let mut lo = at.saturating_sub(EXCERPT_CHARS / 2);
        let mut hi = at.saturating_add(EXCERPT_CHARS * 4).min(body.len());
        // On character boundaries (for valid UTF-8): a cut character would show as U+FFFD.
        while lo > 0 && is_continuation(body[lo]) {
            lo -= 1;
        }
        while hi < body.len() && is_continuation(body[hi]) {
            hi += 1;
        }
        let window = scrub_range(&self.key_forms, body, lo, hi, at);
        // Made printable on either side of `at`, so that its position survives.
        let before = String::from_utf8_lossy(&window.bytes[..window.mark]);
        let before = display_text(&before);
        let after = String::from_utf8_lossy(&window.bytes[window.mark..]);
        let after = display_text(&after);
        excerpt(&format!("{before}{after}"), before.len(), window.lo > 0)
    }

    /// `text` as an error may show it: the key scrubbed, printable ([`display_text`]), at
    /// most `max_chars` characters (cut with "…"), copying only what is shown. Every text
    /// from the server that goes into an error goes through here or [`Self::excerpt_of`].
    pub(super) fn shown(&self, text: &str, max_chars: usize) -> String {
        self.shown_cut(text, max_chars, false)
    }

    /// [`Self::shown`] of a [`Capped`] field (marked as cut when the server sent more).
    pub(super) fn capped_text(&self, c: &Capped, max_chars: usize) -> String {
        self.shown_cut(c.text.trim(), max_chars, c.cut)
    }

    pub(super) fn shown_cut(&self, text: &str, max_chars: usize, cut: bool) -> String {
        let mut hi = text.len().min(max_chars.saturating_mul(4));
        while !text.is_char_boundary(hi) {
            hi -= 1;
        }
        let window = scrub_range(&self.key_forms, text.as_bytes(), 0, hi, 0);
        let text_shown = String::from_utf8_lossy(&window.bytes);
        display_cut(&text_shown, max_chars, cut || window.hi < text.len())
    }

    /// A JSON parser error, short and scrubbed (it quotes what it choked on).
    pub(super) fn parser_error(&self, e: &serde_json::Error) -> String {
        self.shown(&e.to_string(), PARSER_CHARS)
    }
}

/// Byte offset of a serde_json error in `text` (its line and column are 1-based).
pub(super) fn error_offset(text: &str, e: &serde_json::Error) -> Option<usize> {
    if e.line() == 0 {
        return None;
    }
    let line_start: usize = text
        .split_inclusive('\n')
        .take(e.line() - 1)
        .map(str::len)
        .sum();
    Some((line_start + e.column().saturating_sub(1)).min(text.len()))
}

/// Up to [`EXCERPT_CHARS`] characters of `text` around byte offset `at`, whitespace
/// collapsed; led by "..." when it does not start at the beginning (or `more_before`: `text`
/// is itself a piece of something longer).
pub(super) fn excerpt(text: &str, at: usize, more_before: bool) -> String {
    let mut start = at.saturating_sub(EXCERPT_CHARS / 2).min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let collapsed: Vec<&str> = text[start..].split_whitespace().collect();
    let mut out = String::new();
    let lead = if start > 0 || more_before { "..." } else { "" };
    let budget = EXCERPT_CHARS - lead.len();
    let mut count = 0;
    let mut truncated = false;
    'words: for (i, word) in collapsed.iter().enumerate() {
        if i > 0 {
            if count + 1 > budget {
                truncated = true;
                break;
            }
            out.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count + 1 > budget {
                truncated = true;
                break 'words;
            }
            out.push(c);
            count += 1;
        }
    }
    if truncated {
        // Make room for the trailing marker inside the budget.
        let keep = budget.saturating_sub(3);
        out = out.chars().take(keep).collect();
        out.push_str("...");
    }
    format!("{lead}{out}")
}
