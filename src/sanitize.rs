//! Text from a server made safe to print on a terminal.
//!
//! Whatever Tautulli, a proxy or a stranger on the network sends can end up in an error
//! message on the user's terminal or in a log. A raw `ESC [ 2 J` clears the screen, an
//! `ESC ] 0 ; … BEL` retitles the window, and some terminals act on worse. [`display_text`]
//! is the one place that decides what of such a text may be shown: anything that comes from
//! the server goes through it before it is printed.
//!
//! The rules:
//! - Escape sequences are removed whole: CSI (`ESC [` or U+009B … final byte), the string
//!   commands OSC, DCS, SOS, PM and APC (`ESC ]`, `ESC P`, `ESC X`, `ESC ^`, `ESC _`, or
//!   their C1 forms, through BEL, `ESC \` or U+009C), and the short `ESC` + intermediates +
//!   final forms (`ESC c`, `ESC ( B`). A string command without a terminator loses only its
//!   introducer; a lone `ESC` is dropped.
//! - Line breaks, tabs and the other whitespace controls become one space each, so a
//!   message stays on one line.
//! - Every other control character (C0, DEL, C1) and the bidirectional controls (which can
//!   make a terminal show text in another order than it is) become a visible
//!   `\u{..}` escape.
//! - Everything else is kept as it is.
//!
//! The output never holds a character for which [`char::is_control`] is true, nor a
//! bidirectional control, and is unchanged by a second pass.

use std::borrow::Cow;

const ESC: char = '\x1b';
const BEL: char = '\x07';
/// C1 String Terminator.
const ST: char = '\u{9c}';
/// A string command longer than this counts as unterminated (terminators far away would
/// otherwise swallow the rest of a message).
const MAX_STRING_BYTES: usize = 4096;

/// `text` fit to print on a terminal (see the module docs); borrowed when it already is.
pub fn display_text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_care) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut terminators = Terminators::default();
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        let next = i + c.len_utf8();
        i = match c {
            ESC => skip_escape(text, next, &mut terminators),
            '\u{9b}' => skip_csi(text, next),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => {
                skip_string(text, next, &mut terminators)
            }
            c if is_space_control(c) => {
                out.push(' ');
                next
            }
            c if c.is_control() || is_bidi_control(c) => {
                out.extend(c.escape_unicode());
                next
            }
            c => {
                out.push(c);
                next
            }
        };
    }
    Cow::Owned(out)
}

/// [`display_text`] of `text`, at most `max_chars` characters: when anything is left off
/// (or `more`: `text` is itself only the start of something longer) the last one is "…".
pub fn display_cut(text: &str, max_chars: usize, more: bool) -> String {
    let text = display_text(text);
    match text.char_indices().nth(max_chars.saturating_sub(1)) {
        Some((end, _)) if more || text[end..].chars().nth(1).is_some() => {
            format!("{}…", &text[..end])
        }
        _ if more => format!("{text}…"),
        _ => text.into_owned(),
    }
}

/// Characters [`display_text`] changes.
fn needs_care(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || c == '\u{2028}' || c == '\u{2029}'
}

/// Whitespace that would break a line or move the cursor: shown as one space.
fn is_space_control(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// The bidirectional formatting characters (embeddings, overrides, isolates, marks).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Skips what follows an `ESC` (at `from`, just past it); returns where to go on.
fn skip_escape(text: &str, from: usize, terminators: &mut Terminators) -> usize {
    let rest = text.as_bytes().get(from..).unwrap_or_default();
    match rest.first() {
        Some(b'[') => skip_csi(text, from + 1),
        Some(b']' | b'P' | b'X' | b'^' | b'_') => skip_string(text, from + 1, terminators),
        Some(_) => {
            // nF: intermediates 0x20..=0x2F then a final 0x30..=0x7E; Fp/Fe/Fs: one final.
            let inter = rest
                .iter()
                .take_while(|b| (0x20..=0x2f).contains(*b))
                .count();
            match rest.get(inter) {
                Some(0x30..=0x7e) => from + inter + 1,
                _ => from,
            }
        }
        None => from,
    }
}

/// Skips a CSI's parameters, intermediates and final byte (from just past the introducer).
/// A malformed sequence ends at the first byte that does not fit; that byte is kept.
fn skip_csi(text: &str, from: usize) -> usize {
    let rest = text.as_bytes().get(from..).unwrap_or_default();
    let params = rest
        .iter()
        .take_while(|b| (0x30..=0x3f).contains(*b))
        .count();
    let inter = rest[params..]
        .iter()
        .take_while(|b| (0x20..=0x2f).contains(*b))
        .count();
    match rest.get(params + inter) {
        Some(0x40..=0x7e) => from + params + inter + 1,
        _ => from + params + inter,
    }
}

/// Skips a string command through its terminator; without one, only its introducer.
fn skip_string(text: &str, from: usize, terminators: &mut Terminators) -> usize {
    match terminators.next_after(text, from) {
        Some((at, len)) if at - from <= MAX_STRING_BYTES => at + len,
        _ => from,
    }
}

/// Where the next string terminator is, remembered so that many unterminated introducers do
/// not each search the rest of the text (the whole pass stays linear).
#[derive(Default)]
struct Terminators {
    /// The last terminator found (start, length), or `None` once there is none left.
    found: Option<Option<(usize, usize)>>,
}

impl Terminators {
    fn next_after(&mut self, text: &str, from: usize) -> Option<(usize, usize)> {
        match self.found {
            Some(None) => return None,
            Some(Some((at, len))) if at >= from => return Some((at, len)),
            _ => {}
        }
        let found = text[from..].char_indices().find_map(|(i, c)| match c {
            BEL | ST => Some((from + i, c.len_utf8())),
            ESC if text[from + i + 1..].starts_with('\\') => Some((from + i, 2)),
            _ => None,
        });
        self.found = Some(found);
        found
    }
}

/// Server text made safe to store and show: terminal escape sequences (CSI `ESC [ ... m`,
/// OSC `ESC ] ... BEL`, DCS/SOS/PM/APC strings, two-character `ESC x`, and their C1 forms)
/// are removed with what they carry, a run of line breaks and tabs becomes one space (none
/// at the ends of the text), and every other C0 or C1 control character is dropped. Why: titles and user names end up in items, reports
/// and the analytics store, and from there on terminals and web pages, where an escape
/// sequence from a renamed Plex item could rewrite what the user sees. Clean text comes
/// back borrowed.
///
/// Kept private to the crate on purpose; a shared sanitiser for display text may replace it.
pub(crate) fn clean_text(s: &str) -> Cow<'_, str> {
    let Some(first) = s.find(|c: char| c.is_control()) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..first]);
    let mut chars = s[first..].chars().peekable();
    // Skips a control string (OSC, DCS, ...) up to and including its terminator: BEL,
    // ST (`ESC \`, U+009C), or the end of the text.
    fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
        while let Some(c) = chars.next() {
            match c {
                '\u{7}' | '\u{9c}' => return,
                '\u{1b}' if chars.peek() == Some(&'\\') => {
                    chars.next();
                    return;
                }
                _ => {}
            }
        }
    }
    // Skips a CSI sequence's parameters and intermediates and its final byte; anything
    // else ends it unread.
    fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
        while let Some(&c) = chars.peek() {
            match c {
                '\u{20}'..='\u{3f}' => {
                    chars.next();
                }
                '\u{40}'..='\u{7e}' => {
                    chars.next();
                    return;
                }
                _ => return,
            }
        }
    }
    let mut broke = false;
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&mut chars),
                // `ESC` intermediates* final.
                Some(mut n) => {
                    while ('\u{20}'..='\u{2f}').contains(&n) {
                        match chars.next() {
                            Some(next) => n = next,
                            None => break,
                        }
                    }
                }
                None => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            // One space for a run of breaks and tabs (`\r\n` is one break).
            '\t' | '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{85}' => {
                if !broke {
                    out.push(' ');
                    broke = true;
                }
            }
            c if c.is_control() => {}
            c => {
                out.push(c);
                broke = false;
            }
        }
    }
    // A break at either end is no space worth keeping.
    match out.trim() {
        t if t.len() == out.len() => Cow::Owned(out),
        t => Cow::Owned(t.to_owned()),
    }
}

/// [`clean_text`] of an owned string, reusing it when it is clean.
pub(crate) fn clean_owned(s: String) -> String {
    match clean_text(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(clean) => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(s: &str) -> String {
        display_text(s).into_owned()
    }

    /// What must hold for any output.
    fn assert_printable(input: &str) {
        let out = display_text(input);
        assert!(
            !out.chars().any(needs_care),
            "{input:?} became {out:?}, which still holds a control"
        );
        assert_eq!(display_text(&out), out, "a second pass changes {input:?}");
    }

    #[test]
    fn display_cut_keeps_at_most_max_chars_and_marks_a_cut() {
        assert_eq!(display_cut("abc", 3, false), "abc");
        assert_eq!(display_cut("abcd", 3, false), "ab…");
        assert_eq!(display_cut("abc", 3, true), "ab…");
        assert_eq!(display_cut("ab", 3, true), "ab…");
        assert_eq!(display_cut("a\x1b[2Jb\nc", 10, false), "ab c");
        assert_eq!(display_cut("éééé", 2, false), "é…");
        assert_eq!(display_cut("\0\0", 4, false), "\\u{…", "escapes count");
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for s in [
            "",
            "Invalid apikey",
            "Amélie (2001) — 東京物語 🎬",
            "a\u{200b}b",
        ] {
            assert!(
                matches!(display_text(s), Cow::Borrowed(t) if t == s),
                "{s:?}"
            );
        }
    }

    #[test]
    fn every_code_point_alone_is_kept_or_made_printable() {
        for c in (0..=0x10ffffu32).filter_map(char::from_u32) {
            let s = c.to_string();
            let out = display_text(&s);
            if needs_care(c) {
                assert!(!out.chars().any(needs_care), "{c:?} -> {out:?}");
                if c == ESC || c == '\u{9b}' || "\u{90}\u{98}\u{9d}\u{9e}\u{9f}".contains(c) {
                    assert_eq!(out, "", "{c:?}: an introducer alone is dropped");
                } else if is_space_control(c) {
                    assert_eq!(out, " ", "{c:?}");
                } else {
                    assert_eq!(out, c.escape_unicode().to_string(), "{c:?}");
                }
            } else {
                assert_eq!(out, s, "{c:?} is printable and kept");
            }
        }
    }

    #[test]
    fn csi_sequences_are_removed_whole() {
        assert_eq!(shown("a\x1b[2Jb"), "ab");
        assert_eq!(shown("\x1b[1;31mred\x1b[0m"), "red");
        assert_eq!(shown("\x1b[?1049h\x1b[H"), "");
        assert_eq!(shown("x\u{9b}2Jy"), "xy", "the C1 CSI");
        assert_eq!(shown("\x1b[ q"), "", "with an intermediate");
        // Malformed: stops at the first byte that does not fit, which is kept.
        assert_eq!(shown("\x1b[12\u{e9}"), "\u{e9}");
        assert_eq!(shown("\x1b[12\nz"), " z");
        assert_eq!(shown("\x1b["), "");
    }

    #[test]
    fn string_commands_are_removed_through_their_terminator() {
        assert_eq!(shown("a\x1b]0;title\x07b"), "ab");
        assert_eq!(shown("a\x1b]0;title\x1b\\b"), "ab");
        assert_eq!(shown("a\x1b]8;;http://x\u{9c}link"), "alink");
        assert_eq!(shown("\x1bPq#0;2;0;0;0\x1b\\"), "", "DCS (sixel)");
        assert_eq!(shown("\x1b_apc\x07\x1b^pm\x07\x1bXsos\x07"), "");
        assert_eq!(shown("\u{9d}0;t\x07ok"), "ok", "the C1 OSC");
        // No terminator: only the introducer goes; the rest is inert text.
        assert_eq!(shown("\x1b]0;title"), "0;title");
        let far = format!("\x1b]{}\x07end", "t".repeat(MAX_STRING_BYTES + 1));
        assert_eq!(
            shown(&far),
            format!("{}\\u{{7}}end", "t".repeat(MAX_STRING_BYTES + 1))
        );
        // A terminator is found once for many unterminated introducers.
        let many = "\x1b]".repeat(10_000) + "end";
        assert_eq!(shown(&many), "end");
    }

    #[test]
    fn short_escapes_and_lone_escs_are_dropped() {
        assert_eq!(shown("\x1bc"), "", "RIS: full reset");
        assert_eq!(shown("\x1b(Bx"), "x");
        assert_eq!(shown("\x1b7\x1b8"), "");
        assert_eq!(shown("a\x1b"), "a");
        assert_eq!(shown("a\x1b\u{e9}"), "a\u{e9}");
        assert_eq!(shown("\x1b\x1b[2J"), "");
        assert_eq!(
            shown("\x1b \x01"),
            " \\u{1}",
            "an intermediate without a final"
        );
    }

    #[test]
    fn whitespace_controls_become_spaces_and_others_escapes() {
        assert_eq!(shown("a\nb\tc\r\nd"), "a b c  d");
        assert_eq!(shown("nul\0bel\x07del\x7f"), "nul\\u{0}bel\\u{7}del\\u{7f}");
        assert_eq!(shown("\u{85}\u{2028}\u{2029}"), "   ");
        assert_eq!(shown("abc\u{202e}fed"), "abc\\u{202e}fed", "bidi override");
        assert_eq!(shown("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
    }

    #[test]
    fn every_escape_pair_and_random_mixes_come_out_printable() {
        for a in 0..=0xffu8 {
            for b in 0..=0xffu8 {
                let s: String = [ESC, char::from(a), char::from(b), 'z'].iter().collect();
                assert_printable(&s);
            }
        }
        // A fixed pseudo-random walk over the interesting characters.
        let alphabet: Vec<char> =
            "\x1b\x07\x00\x7f\u{9b}\u{9c}\u{9d}\u{90}\u{85}\u{202e}[]\\P^_X;0123456789?m Jé東\n\t"
                .chars()
                .collect();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let len = (seed >> 59) as usize;
            let s: String = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            assert_printable(&s);
        }
    }

    mod props {
        use proptest::prelude::*;

        use super::*;
        use crate::testutil::gen::dirty_text;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn cleaned_text_has_no_controls_and_cleaning_again_changes_nothing(s in dirty_text()) {
                let clean = clean_text(&s);
                prop_assert!(!clean.chars().any(char::is_control), "{:?} -> {:?}", s, clean);
                prop_assert!(matches!(clean_text(&clean), Cow::Borrowed(_)), "{:?}", clean);
                if !s.chars().any(char::is_control) {
                    prop_assert!(matches!(clean, Cow::Borrowed(_)));
                }
                // What is not part of an escape survives, in order.
                let kept: String = s.chars().filter(|c| !c.is_control()).collect();
                let mut rest = kept.as_str();
                for c in clean.chars().filter(|c| *c != ' ') {
                    let at = rest.find(c);
                    prop_assert!(at.is_some(), "{:?} -> {:?}", s, clean);
                    rest = &rest[at.unwrap_or(0) + c.len_utf8()..];
                }
            }
        }
    }
}
