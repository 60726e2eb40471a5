//! Generators of what a Tautulli may send, for the property tests: mostly plausible values,
//! with the garbage real databases hold mixed in (absurd and negative ints, huge digit
//! strings, nulls, control characters and terminal escapes in text).

use proptest::prelude::*;
use serde_json::{Map, Value};

/// An int field as Tautulli may send it (each form [`crate::tautulli::rows::int_opt`] reads): an int,
/// plausible or absurd, a digit string, a whole float, `""` or `null`; rarely (one in 60)
/// something no int field accepts, which fails the row (and its page).
pub fn int_value() -> impl Strategy<Value = Value> {
    let readable = prop_oneof![
        12 => (1i64..2_000_000_000).prop_map(Value::from),
        3 => (0i64..30).prop_map(Value::from),
        2 => any::<i64>().prop_map(Value::from),
        2 => prop::sample::select(vec![
            0i64,
            -1,
            -5,
            1,
            253_402_300_799,
            253_402_300_800,
            10_000_000_000_000,
            i64::MAX,
            i64::MIN,
        ])
        .prop_map(Value::from),
        3 => (1i64..2_000_000_000).prop_map(|n| Value::from(n.to_string())),
        1 => (-9e15f64..9e15).prop_map(|f| serde_json::json!(f.trunc())),
        1 => Just(Value::Null),
        1 => Just(Value::from("")),
    ];
    let junk = prop_oneof![
        Just(Value::from("abc")),
        Just(Value::from("99999999999999999999")),
        Just(Value::from(u64::MAX)),
        Just(serde_json::json!(1.5)),
        Just(serde_json::json!([1])),
    ];
    prop_oneof![60 => readable, 1 => junk]
}

/// A time field: mostly plausible epoch seconds, else any int, and the absurd forms only
/// time fields read (digit strings and floats too large for any integer).
pub fn time_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => (1_200_000_000i64..1_900_000_000).prop_map(Value::from),
        4 => int_value(),
        1 => "-?[0-9]{19,25}".prop_map(Value::from),
        1 => prop::sample::select(vec![1e19, -1e19, 1e300]).prop_map(|f| serde_json::json!(f)),
    ]
}

/// Text with what must never reach a stored item: C0 and C1 controls, ANSI escape
/// sequences (CSI, OSC, lone ESC), tabs and newlines, between ordinary (and non-ASCII)
/// letters.
pub fn dirty_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => "[A-Za-z0-9 .:'-]{1,8}",
        2 => "[àéßøΩ漢字한🎬]{1,3}",
        1 => prop::sample::select(vec![
            "\u{1b}[31m",
            "\u{1b}[0m",
            "\u{1b}[2J\u{1b}[H",
            "\u{1b}]0;pwned\u{7}",
            "\u{1b}]8;;http://x\u{1b}\\",
            "\u{1b}c",
            "\u{1b}",
            "\u{9b}1;31m",
            "\u{9d}title\u{9c}",
            "\u{7}",
            "\u{0}",
            "\u{7f}",
            "\u{85}",
            "\t",
            "\n",
            "\r\n",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{1,4}",
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|p| p.concat())
}

/// A text field: text (clean or dirty), a number (older servers), `""` or `null`.
pub fn text_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => "[A-Za-z0-9 ]{1,12}".prop_map(Value::from),
        4 => dirty_text().prop_map(Value::from),
        1 => any::<i32>().prop_map(Value::from),
        1 => Just(Value::from("")),
        1 => Just(Value::Null),
    ]
}

/// A guid as history rows and `get_metadata` lists carry them: every agent's form, in any
/// case, with `?lang=` and `#` suffixes, placeholders, and junk.
pub fn guid_text() -> impl Strategy<Value = String> {
    let digits = "[0-9]{1,8}";
    prop_oneof![
        2 => ("(plex|PLEX|Plex)", "(movie|show|season|episode|Movie|artist)", "[0-9a-f]{0,24}")
            .prop_map(|(s, l, id)| format!("{s}://{l}/{id}")),
        2 => ("(imdb|tmdb|tvdb|TMDB|trakt|mal|anidb|plex|slug|bogus)", "(tt)?[0-9]{0,8}|[a-z]{0,4}|0|none|null")
            .prop_map(|(k, v)| format!("{k}://{v}")),
        2 => (
            "(imdb|themoviedb|thetvdb|thetvdbdvd|hama|none|local|youtube)",
            "(tt|TT)?[0-9]{1,8}|(anidb|tvdb|tvdb2|tmdb|imdb|x)-[0-9]{1,6}|0",
            prop::option::of((digits, digits)),
        )
            .prop_map(|(a, id, path)| match path {
                Some((s, e)) => format!("com.plexapp.agents.{a}://{id}/{s}/{e}"),
                None => format!("com.plexapp.agents.{a}://{id}"),
            }),
        1 => Just("local://9001".to_owned()),
        1 => "\\PC{0,20}",
        1 => dirty_text(),
    ]
    .prop_flat_map(|g| {
        (
            Just(g),
            prop::sample::select(vec!["", "", "?lang=en", "?lang=de#x", "#frag", "  ", "/"]),
            any::<bool>(),
        )
    })
    .prop_map(|(g, suffix, upper)| {
        let g = format!("{g}{suffix}");
        if upper {
            g.to_uppercase()
        } else {
            g
        }
    })
}

/// One `get_history` row as JSON, each field absent or any value its kind may hold.
pub fn history_row() -> impl Strategy<Value = Value> {
    let ints = prop::collection::vec(prop::option::weighted(0.9, int_value()), 11);
    // A quarter of the rows hold no usable time at all: absurd, missing or both.
    let no_time = prop_oneof![
        3 => prop::sample::select(vec![
            Value::from(-5),
            Value::from(10_000_000_000_000i64),
            Value::from(i64::MAX),
            Value::from(i64::MIN),
            Value::from(253_402_300_800i64),
            Value::from("99999999999999999999"),
            serde_json::json!(1e300),
        ]),
        1 => prop::sample::select(vec![Value::Null, Value::from(0), Value::from("")]),
    ];
    let times = prop_oneof![
        3 => prop::collection::vec(prop::option::weighted(0.9, time_value()), 3),
        1 => prop::collection::vec(prop::option::weighted(0.9, no_time), 3),
    ];
    let texts = prop::collection::vec(prop::option::weighted(0.7, text_value()), 8);
    let media_type = prop_oneof![
        12 => prop::sample::select(vec!["movie", "episode", "Movie", " EPISODE ", "track", "clip", ""])
            .prop_map(Value::from),
        1 => text_value(),
    ];
    let guid = prop_oneof![4 => guid_text().prop_map(Value::from), 1 => text_value()];
    let watched = prop_oneof![
        20 => prop::sample::select(vec![1.0, 1.0, 0.75, 0.5, 0.25, 0.0]).prop_map(Value::from),
        4 => prop::sample::select(vec!["1", "0.5", ""]).prop_map(Value::from),
        4 => Just(Value::Null),
        1 => Just(Value::from("x")),
    ];
    let live = prop::sample::select(vec![
        Value::from(0),
        Value::from(0),
        Value::from(1),
        Value::from("1"),
        Value::Null,
    ]);
    let state = prop_oneof![
        20 => Just(Value::Null),
        1 => Just(Value::from("playing")),
        1 => text_value(),
    ];
    (
        ints,
        times,
        texts,
        (
            prop::option::weighted(0.95, media_type),
            prop::option::weighted(0.9, guid),
            prop::option::weighted(0.9, watched),
            prop::option::weighted(0.8, live),
            prop::option::weighted(0.8, state),
        ),
    )
        .prop_map(
            |(ints, times, texts, (media_type, guid, watched, live, state))| {
                let mut row = Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        row.insert(k.to_owned(), v);
                    }
                };
                let int_names = [
                    "row_id",
                    "reference_id",
                    "rating_key",
                    "parent_rating_key",
                    "grandparent_rating_key",
                    "media_index",
                    "parent_media_index",
                    "year",
                    "percent_complete",
                    "user_id",
                    "play_duration",
                ];
                for (k, v) in int_names.iter().zip(ints) {
                    put(k, v);
                }
                for (k, v) in ["date", "started", "stopped"].iter().zip(times) {
                    put(k, v);
                }
                let text_names = [
                    "title",
                    "grandparent_title",
                    "full_title",
                    "user",
                    "friendly_name",
                    "platform",
                    "player",
                    "transcode_decision",
                ];
                for (k, v) in text_names.iter().zip(texts) {
                    put(k, v);
                }
                put("media_type", media_type);
                put("guid", guid);
                put("watched_status", watched);
                put("live", live);
                put("state", state);
                Value::Object(row)
            },
        )
}
