//! Keeping the API key out of every text the client shows: a server or proxy may echo it
//! back, raw or form-encoded, whole or cut by the end of an excerpt.

use super::*;

/// A continuation byte of a UTF-8 sequence (not the start of a character).
pub(super) fn is_continuation(b: u8) -> bool {
    b & 0xc0 == 0x80
}

/// The key in the forms a server may echo it: raw and form-encoded.
pub(super) fn key_forms(key: &ApiKey) -> Vec<Vec<u8>> {
    let raw = key.expose();
    let mut forms = vec![raw.as_bytes().to_vec()];
    let encoded = crate::config::form_encode(raw);
    if encoded != raw {
        forms.push(encoded.into_bytes());
    }
    forms.retain(|f| !f.is_empty());
    forms
}

/// What [`scrub_range`] made of a range.
pub(super) struct Scrubbed {
    pub(super) bytes: Vec<u8>,
    /// Where the asked-for mark is in `bytes`.
    pub(super) mark: usize,
    /// The range taken, widened so that no copy of the key is cut (offsets in the text).
    pub(super) lo: usize,
    pub(super) hi: usize,
}

/// `text[lo..hi]` with the key scrubbed, looking only at the range and a key's length
/// around it. Every copy of the key that overlaps the range is replaced whole by `***` (the
/// range widens to take it in), and so is a piece of at least [`KEY_PIECE`] bytes at the
/// text's own start or end (a body cut short in the middle of a key). `mark`, a byte offset
/// in the range, is followed into the result.
pub(super) fn scrub_range(
    forms: &[Vec<u8>],
    text: &[u8],
    lo: usize,
    hi: usize,
    mark: usize,
) -> Scrubbed {
    let margin = forms.iter().map(Vec::len).max().unwrap_or(0);
    let wlo = lo.saturating_sub(margin);
    let whi = hi.saturating_add(margin).min(text.len());
    let mut hits: Vec<(usize, usize)> = Vec::new();
    for f in forms {
        let window = &text[wlo..whi];
        let mut from = 0;
        while let Some(p) = window[from..]
            .windows(f.len())
            .position(|w| w == f.as_slice())
        {
            hits.push((wlo + from + p, wlo + from + p + f.len()));
            from += p + 1;
        }
        let longest = f.len().saturating_sub(1);
        if wlo == 0 {
            if let Some(n) = (KEY_PIECE..=longest)
                .rev()
                .find(|&n| text.starts_with(&f[f.len() - n..]))
            {
                hits.push((0, n));
            }
        }
        if whi == text.len() {
            if let Some(n) = (KEY_PIECE..=longest)
                .rev()
                .find(|&n| text.ends_with(&f[..n]))
            {
                hits.push((whi - n, whi));
            }
        }
    }
    hits.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(hits.len());
    for (s, e) in hits {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    let (mut lo, mut hi) = (lo, hi);
    for &(s, e) in &merged {
        if s < lo && e > lo {
            lo = s;
        }
        if s < hi && e > hi {
            hi = e;
        }
    }
    let mut bytes = Vec::with_capacity(hi - lo + 8);
    let mut mark_at = None;
    let mut i = lo;
    for &(s, e) in merged.iter().filter(|(s, e)| *e > lo && *s < hi) {
        if (i..s).contains(&mark) {
            mark_at = Some(bytes.len() + mark - i);
        }
        bytes.extend_from_slice(&text[i..s]);
        if (s..e).contains(&mark) {
            mark_at = Some(bytes.len());
        }
        bytes.extend_from_slice(b"***");
        i = e;
    }
    if (i..=hi).contains(&mark) && mark_at.is_none() {
        mark_at = Some(bytes.len() + mark - i);
    }
    bytes.extend_from_slice(&text[i..hi]);
    Scrubbed {
        mark: mark_at.unwrap_or(0).min(bytes.len()),
        bytes,
        lo,
        hi,
    }
}
