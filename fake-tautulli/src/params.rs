//! Request parameters: query strings and `application/x-www-form-urlencoded` bodies decoded
//! into one map, plus the small value parsers Tautulli applies to them.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::clock::day_number;

/// Decoded parameters; a later duplicate wins (the body over the query string).
pub type Params = BTreeMap<String, String>;

/// Decodes `a=1&b=x+y%21` into pairs (`+` is a space, `%XX` a byte; bad escapes are kept).
pub fn parse_urlencoded(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Tautulli's `bool_true`: `1`/`true` (any case) is true, `0`/`false` false; anything else
/// (including `""`) means "not given", so the server setting applies.
pub fn parse_bool(v: &str) -> Option<bool> {
    let v = v.trim();
    if v == "1" || v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v == "0" || v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Python's `int(text)` for the usual inputs: surrounding whitespace and a sign allowed;
/// `None` where Python would raise.
pub fn parse_py_int(v: &str) -> Option<i64> {
    v.trim().parse().ok()
}

/// A comma list of integers; values that are not integers match nothing and are dropped.
pub fn parse_int_list(v: &str) -> Vec<i64> {
    v.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

/// `YYYY-MM-DD` as days since 1970-01-01; `None` when malformed. A day past the month's
/// end runs on into the next month (`2026-02-31` is March 3rd), as the fake always read it.
pub fn parse_day(v: &str) -> Option<i64> {
    let mut it = v.trim().splitn(3, '-');
    let y: i16 = it.next()?.parse().ok()?;
    let m: i8 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1..=31).contains(&d) {
        return None;
    }
    let first = jiff::civil::Date::new(y, m, 1).ok()?;
    Some(day_number(first) + d - 1)
}

/// Python's `list[start:stop]` on `n` elements (negative indexes count from the end), which
/// is how Tautulli pages: `length=-1` therefore drops the last row.
pub fn py_slice(n: usize, start: i64, stop: i64) -> Range<usize> {
    let norm = |i: i64| -> usize {
        if i < 0 {
            (n as i64 + i).max(0) as usize
        } else {
            (i as u64).min(n as u64) as usize
        }
    };
    let a = norm(start);
    let b = norm(stop);
    a..b.max(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms() {
        assert_eq!(
            parse_urlencoded("cmd=get_history&user=J%C3%BCrgen+K&x=%zz&flag"),
            vec![
                ("cmd".into(), "get_history".into()),
                ("user".into(), "Jürgen K".into()),
                ("x".into(), "%zz".into()),
                ("flag".into(), "".into()),
            ]
        );
        assert_eq!(parse_urlencoded("a=%4"), vec![("a".into(), "%4".into())]);
    }

    #[test]
    fn parses_values() {
        assert_eq!(parse_bool("1"), Some(true));
        assert_eq!(parse_bool("False"), Some(false));
        assert_eq!(parse_bool(""), None);
        assert_eq!(parse_int_list("1, 2,x,3"), vec![1, 2, 3]);
        assert_eq!(parse_py_int(" -7 "), Some(-7));
        assert_eq!(parse_py_int("+3"), Some(3));
        assert_eq!(parse_py_int("7.5"), None);
        assert_eq!(parse_day("1970-01-02"), Some(1));
        assert_eq!(parse_day("2026-01-01"), Some(20_454));
        assert_eq!(parse_day("2026-13-01"), None);
        assert_eq!(parse_day("2026-02-31"), parse_day("2026-03-03"));
        assert_eq!(parse_day("2026-02-32"), None);
    }

    #[test]
    fn python_slices() {
        assert_eq!(py_slice(10, 0, 25), 0..10);
        assert_eq!(py_slice(10, 0, -1), 0..9, "length=-1 drops the last row");
        assert_eq!(py_slice(10, 5, 4), 5..5);
        assert_eq!(py_slice(10, 8, 12), 8..10);
        assert_eq!(py_slice(10, 20, 30), 10..10);
        assert_eq!(py_slice(10, -3, 100), 7..10);
    }
}
