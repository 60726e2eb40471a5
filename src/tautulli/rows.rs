//! Typed wire shapes of the Tautulli answers we read, parsed straight from the response body.
//!
//! Tautulli's types are loose: SQLite returns what was written, so an int field can arrive as
//! an int, a digit string, `""` or `null`, and `watched_status` is a float. The deserialisers
//! here accept exactly those forms and reject anything else with a precise serde error (which
//! the client turns into `bad_response`), rather than silently reading garbage as zero.

use serde::{de, Deserialize, Deserializer};

/// `data` of `get_history`, its rows read as `R`: [`HistoryRow`], or a reader's view of it
/// (the analytics sync reads each row as an ungrouped session).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct HistoryPage<R = HistoryRow> {
    /// Rows after the filters: what paging must reach.
    #[serde(rename = "recordsFiltered", deserialize_with = "int_req")]
    pub records_filtered: i64,
    /// Rows of the whole table (ignores every filter): informative only.
    #[serde(rename = "recordsTotal", default, deserialize_with = "int_opt")]
    pub records_total: Option<i64>,
    pub data: Vec<R>,
}

/// One `get_history` row (grouped or not), the one shape both the index and the analytics
/// sync read. Only the fields one of them uses are kept; the others are checked (a page with
/// a garbage value there is refused as a whole, as Tautulli's own types say it is broken)
/// without being stored, and unknown fields are ignored so newer Tautulli versions keep
/// working. `state` and `group_ids` are reduced to what the reader asks of them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct HistoryRow {
    /// `MAX(id)` of the group; `null` for in-progress activity rows.
    #[serde(deserialize_with = "int_opt")]
    pub row_id: Option<i64>,
    /// The group's first row id (equals `row_id` for an ungrouped row).
    #[serde(deserialize_with = "int_opt")]
    pub reference_id: Option<i64>,
    /// Latest start in the group.
    #[serde(deserialize_with = "time_opt")]
    pub date: Option<i64>,
    /// Earliest start in the group.
    #[serde(deserialize_with = "time_opt")]
    pub started: Option<i64>,
    /// Latest stop in the group: the real completion time. `null` for activity rows.
    #[serde(deserialize_with = "time_opt")]
    pub stopped: Option<i64>,
    #[serde(deserialize_with = "int_opt")]
    pub duration: Option<i64>,
    #[serde(deserialize_with = "int_opt")]
    pub play_duration: Option<i64>,
    #[serde(deserialize_with = "int_opt")]
    pub paused_counter: Option<i64>,
    #[serde(deserialize_with = "int_opt")]
    pub user_id: Option<i64>,
    #[serde(deserialize_with = "string_opt")]
    pub user: Option<String>,
    #[serde(deserialize_with = "string_opt")]
    pub friendly_name: Option<String>,
    /// The text as sent (uncut; a number or `null` is none): the index recognises
    /// [`HistoryRow::kind`], the sync its own media types.
    #[serde(deserialize_with = "text_opt")]
    pub media_type: Option<String>,
    #[serde(deserialize_with = "int_opt")]
    pub rating_key: Option<i64>,
    #[serde(deserialize_with = "int_opt")]
    pub parent_rating_key: Option<i64>,
    #[serde(deserialize_with = "int_opt")]
    pub grandparent_rating_key: Option<i64>,
    #[serde(deserialize_with = "int_opt")]
    pub section_id: Option<i64>,
    /// Episode number.
    #[serde(deserialize_with = "int_opt")]
    pub media_index: Option<i64>,
    /// Season number.
    #[serde(deserialize_with = "int_opt")]
    pub parent_media_index: Option<i64>,
    #[serde(deserialize_with = "int_opt")]
    pub year: Option<i64>,
    #[serde(deserialize_with = "string_opt")]
    pub title: Option<String>,
    #[serde(deserialize_with = "string_opt")]
    pub grandparent_title: Option<String>,
    #[serde(deserialize_with = "string_opt")]
    pub full_title: Option<String>,
    /// The item's own guid (never the show's).
    #[serde(deserialize_with = "string_opt")]
    pub guid: Option<String>,
    /// 0/1; Live TV rows carry movie/episode media types but `live: 1`.
    #[serde(deserialize_with = "int_opt")]
    pub live: Option<i64>,
    #[serde(deserialize_with = "int_opt")]
    pub percent_complete: Option<i64>,
    /// 1, 0.75, 0.5, 0.25 or 0; 1 = Tautulli counts the play as watched.
    #[serde(deserialize_with = "float_opt")]
    pub watched_status: Option<f64>,
    /// The text as sent (uncut; a number or `null` is none), for the sync's stream decision.
    #[serde(deserialize_with = "text_opt")]
    pub transcode_decision: Option<String>,
    /// The smallest of `group_ids`: whether this row holds its chain's first session.
    #[serde(rename = "group_ids", deserialize_with = "first_group_id")]
    pub group_first: Option<i64>,
    #[serde(deserialize_with = "string_opt")]
    pub platform: Option<String>,
    #[serde(deserialize_with = "string_opt")]
    pub player: Option<String>,
    /// `state` is set (only in-progress activity rows have one).
    #[serde(rename = "state", deserialize_with = "text_present")]
    pub has_state: bool,
    // Read by no one: checked, not kept.
    #[serde(rename = "parent_title", deserialize_with = "text_checked")]
    pub(crate) _parent_title: (),
    #[serde(rename = "group_count", deserialize_with = "int_checked")]
    pub(crate) _group_count: (),
    #[serde(rename = "product", deserialize_with = "text_checked")]
    pub(crate) _product: (),
}

impl HistoryRow {
    /// True for an in-progress session mixed in by `include_activity=1`.
    pub fn is_activity(&self) -> bool {
        self.row_id.is_none() || self.has_state
    }

    /// True for a Live TV row.
    pub fn is_live(&self) -> bool {
        self.live.unwrap_or(0) != 0
    }

    /// `media_type`, when it is `movie` or `episode` (trimmed, any case).
    pub fn kind(&self) -> Option<MediaKind> {
        self.media_type.as_deref().and_then(media_kind_of)
    }
}

/// What an item is. Tautulli history also has tracks, clips and photos; the engine's history
/// feature only takes these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Movie,
    Episode,
}

impl MediaKind {
    /// The engine's `type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Movie => "movie",
            MediaKind::Episode => "episode",
        }
    }
}

/// The smallest id of a `group_ids` string (`"3,4"`), read as [`string_opt`] reads text.
fn first_group_id<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    text_with(d, |t| match t {
        Text::Str(s) => first_id(s),
        Text::Null | Text::Number => None,
    })
}

/// The smallest id of a `group_ids` string (`"3,4"`); `None` when there is none.
pub fn first_id(group_ids: &str) -> Option<i64> {
    group_ids
        .split(',')
        .filter_map(|p| p.trim().parse::<i64>().ok())
        .min()
}

/// `movie` or `episode`, trimmed, in any case.
fn media_kind_of(media_type: &str) -> Option<MediaKind> {
    let m = media_type.trim();
    if m.eq_ignore_ascii_case("movie") {
        Some(MediaKind::Movie)
    } else if m.eq_ignore_ascii_case("episode") {
        Some(MediaKind::Episode)
    } else {
        None
    }
}

/// True where [`string_opt`] gives `Some`: a non-empty string or a number.
fn text_present<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
    text_with(d, |t| match t {
        Text::Null => false,
        Text::Str(s) => !s.is_empty(),
        Text::Number => true,
    })
}

/// A text as sent, accepted and refused as [`string_opt`] does; a number, `null` or `""`
/// is none (it names no media type nor stream decision).
fn text_opt<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    text_with(d, |t| match t {
        Text::Str(s) if !s.is_empty() => Some(s.to_owned()),
        _ => None,
    })
}

/// `data` of `get_metadata`: `{}` for a deleted or unknown item (or Plex unreachable).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Metadata {
    #[serde(deserialize_with = "string_opt")]
    pub media_type: Option<String>,
    #[serde(deserialize_with = "int_opt")]
    pub rating_key: Option<i64>,
    #[serde(deserialize_with = "int_opt")]
    pub parent_rating_key: Option<i64>,
    #[serde(deserialize_with = "int_opt")]
    pub grandparent_rating_key: Option<i64>,
    #[serde(deserialize_with = "string_opt")]
    pub title: Option<String>,
    #[serde(deserialize_with = "string_opt")]
    pub grandparent_title: Option<String>,
    #[serde(deserialize_with = "int_opt")]
    pub media_index: Option<i64>,
    #[serde(deserialize_with = "int_opt")]
    pub parent_media_index: Option<i64>,
    #[serde(deserialize_with = "int_opt")]
    pub year: Option<i64>,
    #[serde(deserialize_with = "string_opt")]
    pub guid: Option<String>,
    #[serde(deserialize_with = "string_opt")]
    pub parent_guid: Option<String>,
    #[serde(deserialize_with = "string_opt")]
    pub grandparent_guid: Option<String>,
    /// The item's own external IDs (`imdb://tt..`, `tmdb://N`, ...).
    #[serde(deserialize_with = "string_list")]
    pub guids: Vec<String>,
    /// The season's IDs: never to be used as the show's.
    #[serde(deserialize_with = "string_list")]
    pub parent_guids: Vec<String>,
    /// The show's IDs.
    #[serde(deserialize_with = "string_list")]
    pub grandparent_guids: Vec<String>,
}

impl Metadata {
    /// `{}`: Tautulli's answer for a deleted or unknown item.
    pub fn is_empty(&self) -> bool {
        *self == Metadata::default()
    }
}

/// `data` of `get_tautulli_info` (used by health; every field optional).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TautulliInfo {
    #[serde(deserialize_with = "string_opt")]
    pub tautulli_version: Option<String>,
}

/// `data` of a graph command such as `get_plays_by_date`: one category per server-local day
/// (`YYYY-MM-DD`) and a series per media type, plus Tautulli's "Total".
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Graph {
    pub categories: Vec<String>,
    pub series: Vec<GraphSeries>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct GraphSeries {
    #[serde(default, deserialize_with = "string_opt")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "int_list")]
    pub data: Vec<i64>,
}

impl Graph {
    /// Per-day counts: the sum of the `series` named (`None`: "Total", or every other series
    /// when there is no Total). Tells what does not fit: a day that is no date, a series
    /// longer or shorter than the categories, a negative count.
    pub fn day_counts(
        &self,
        series: Option<&[&str]>,
    ) -> std::result::Result<Vec<(jiff::civil::Date, u64)>, String> {
        let mut days = Vec::with_capacity(self.categories.len());
        for c in &self.categories {
            let day: jiff::civil::Date = c
                .trim()
                .parse()
                .map_err(|_| format!("the category {c:?} is not a YYYY-MM-DD day"))?;
            days.push((day, 0u64));
        }
        fn named(s: &GraphSeries) -> &str {
            s.name.as_deref().unwrap_or("")
        }
        let total = self.series.iter().find(|s| named(s) == "Total");
        let picked: Vec<&GraphSeries> = match (series, total) {
            (Some(names), _) => self
                .series
                .iter()
                .filter(|s| names.contains(&named(s)))
                .collect(),
            (None, Some(t)) => vec![t],
            (None, None) => self.series.iter().collect(),
        };
        for s in picked {
            if s.data.len() != days.len() {
                return Err(format!(
                    "the series {:?} has {} values for {} days",
                    named(s),
                    s.data.len(),
                    days.len()
                ));
            }
            for (slot, &n) in days.iter_mut().zip(&s.data) {
                let n = u64::try_from(n)
                    .map_err(|_| format!("the series {:?} has a negative count", named(s)))?;
                slot.1 += n;
            }
        }
        Ok(days)
    }
}

/// A list of ints as [`int_opt`] reads each; `null` is an empty list, a null entry is 0.
fn int_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Entry(#[serde(deserialize_with = "int_opt")] Option<i64>);
    let list: Option<Vec<Entry>> = Option::deserialize(d)?;
    Ok(list
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.0.unwrap_or(0))
        .collect())
}

/// The visits every lenient reader here shares: `null` (unit, or none) is what `$null`
/// makes of the visitor, and a present optional value is read by the visitor itself.
macro_rules! null_visits {
    ($de:lifetime, $null:expr) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(($null)(self))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(($null)(self))
        }
        fn visit_some<D: Deserializer<$de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    };
}

/// Reads an int that may arrive as an int, a float with no fraction, a digit string, `""`
/// or `null`. Anything else is an error naming what was found.
pub fn int_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_any(IntVisitor)
}

/// A time (epoch seconds) as [`int_opt`] reads an int, except that a whole number too large
/// for an `i64` (`"99999999999999999999"`, `1e20`) saturates instead of failing: no such value
/// is in [`crate::timefmt::TIME_RANGE`], so its row is skipped as `bad_time` rather than
/// failing the whole page (and every later read of it). Text that is no number still fails.
pub fn time_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct V;
    impl<'de> de::Visitor<'de> for V {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            de::Visitor::expecting(&IntVisitor, f)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(i64::try_from(v).unwrap_or(i64::MAX)))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v.fract() == 0.0 && v.abs() >= 9.0e15 {
                // `as` saturates at i64's ends.
                Ok(Some(v as i64))
            } else {
                de::Visitor::visit_f64(IntVisitor, v)
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let t = v.trim();
            let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
            if !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && t.parse::<i64>().is_err()
            {
                return Ok(Some(if t.starts_with('-') {
                    i64::MIN
                } else {
                    i64::MAX
                }));
            }
            de::Visitor::visit_str(IntVisitor, v)
        }
        null_visits!('de, |_| None);
    }
    d.deserialize_any(V)
}

/// An int as [`int_opt`] reads it, where `null` and `""` are refused.
pub(crate) fn int_req<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    int_opt(d)?.ok_or_else(|| de::Error::custom("expected an integer, found null or \"\""))
}

/// Checks an int field as [`int_opt`] does, without keeping it (a history has a million
/// rows: fields no reader uses are checked, not stored).
pub(crate) fn int_checked<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    int_opt(d).map(drop)
}

/// A value [`string_opt`] accepts, seen without copying it.
pub(crate) enum Text<'a> {
    Null,
    Str(&'a str),
    Number,
}

/// Reads what [`string_opt`] reads (refusing what it refuses, with its words) and hands it
/// to `f` without allocating.
pub(crate) fn text_with<'de, D, T>(d: D, f: fn(Text<'_>) -> T) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct V<T>(fn(Text<'_>) -> T);
    impl<'de, T> de::Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string, a number or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            Ok((self.0)(Text::Str(v)))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<T, E> {
            Ok((self.0)(Text::Number))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<T, E> {
            Ok((self.0)(Text::Number))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
            Ok((self.0)(Text::Number))
        }
        null_visits!('de, |v: Self| (v.0)(Text::Null));
    }
    d.deserialize_any(V(f))
}

/// Checks a text field as [`string_opt`] does, without keeping it.
pub(crate) fn text_checked<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    text_with(d, |_| ())
}

struct IntVisitor;

impl<'de> de::Visitor<'de> for IntVisitor {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an integer, a digit string, \"\" or null")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map(Some)
            .map_err(|_| E::custom(format!("integer {v} out of range")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.fract() == 0.0 && v.is_finite() && v.abs() < 9.0e15 {
            Ok(Some(v as i64))
        } else {
            Err(E::invalid_type(de::Unexpected::Float(v), &self))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<i64>()
            .map(Some)
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
    null_visits!('de, |_| None);
}

/// Reads a float that may arrive as a number, a numeric string, `""` or `null`.
pub fn float_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct V;
    impl<'de> de::Visitor<'de> for V {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a number, a numeric string, \"\" or null")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let t = v.trim();
            if t.is_empty() {
                return Ok(None);
            }
            t.parse::<f64>()
                .map(Some)
                .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
        null_visits!('de, |_| None);
    }
    d.deserialize_any(V)
}

/// Longest text a [`string_opt`] field keeps, in characters. Real titles and names are far
/// shorter; a server sending megabytes per field must not cost megabytes per row (and per
/// copy of the row downstream). A longer text is cut on a character boundary and its last
/// kept character is "…".
pub const MAX_TEXT_CHARS: usize = 1000;

/// `v`, or its first `MAX_TEXT_CHARS - 1` characters and "…" when it is longer than
/// [`MAX_TEXT_CHARS`]; only what is kept is copied.
fn capped(v: &str) -> Option<String> {
    let (last, _) = v.char_indices().nth(MAX_TEXT_CHARS - 1)?;
    v[last..].chars().nth(1).map(|_| format!("{}…", &v[..last]))
}

/// Reads a string field; `null` and `""` become `None`. Numbers are accepted and rendered as
/// text (older servers store some string fields as ints). Texts are cut to
/// [`MAX_TEXT_CHARS`].
pub fn string_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> de::Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string, a number or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok((!v.is_empty()).then(|| capped(v).unwrap_or_else(|| v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok((!v.is_empty()).then(|| capped(&v).unwrap_or(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        null_visits!('de, |_| None);
    }
    d.deserialize_any(V)
}

/// Reads a list of strings; `null` and `""` are an empty list.
fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum L {
        List(Vec<String>),
        Str(String),
        Null(()),
    }
    match Option::<L>::deserialize(d)? {
        None | Some(L::Null(())) => Ok(Vec::new()),
        Some(L::List(v)) => Ok(v),
        Some(L::Str(s)) if s.is_empty() => Ok(Vec::new()),
        Some(L::Str(s)) => Err(de::Error::invalid_value(
            de::Unexpected::Str(&s),
            &"a list of guid strings",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real Tautulli 2.17.2 answer, copied into `fixtures/reference/`.
    fn reference(name: &str) -> String {
        let path = format!("{}/fixtures/reference/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn row(json: &str) -> Result<HistoryRow, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn ints_accept_every_real_form() {
        let r = row(r#"{"row_id":5,"rating_key":"201","parent_rating_key":"","grandparent_rating_key":null,"year":2008.0}"#)
            .unwrap();
        assert_eq!(r.row_id, Some(5));
        assert_eq!(r.rating_key, Some(201));
        assert_eq!(r.parent_rating_key, None);
        assert_eq!(r.grandparent_rating_key, None);
        assert_eq!(r.year, Some(2008));
    }

    #[test]
    fn ints_reject_text_and_fractions() {
        let e = row(r#"{"rating_key":"abc"}"#).unwrap_err().to_string();
        assert!(e.contains("abc"), "{e}");
        assert!(row(r#"{"media_index":1.5}"#).is_err());
        assert!(row(r#"{"media_index":[1]}"#).is_err());
    }

    #[test]
    fn watched_status_is_a_float_in_any_form() {
        assert_eq!(
            row(r#"{"watched_status":0.75}"#).unwrap().watched_status,
            Some(0.75)
        );
        assert_eq!(
            row(r#"{"watched_status":1}"#).unwrap().watched_status,
            Some(1.0)
        );
        assert_eq!(
            row(r#"{"watched_status":"0.5"}"#).unwrap().watched_status,
            Some(0.5)
        );
        assert_eq!(
            row(r#"{"watched_status":""}"#).unwrap().watched_status,
            None
        );
    }

    #[test]
    fn strings_treat_empty_as_absent() {
        let r = row(r#"{"guid":"","title":null,"user":"alice","grandparent_title":7}"#).unwrap();
        assert_eq!(r.guid, None);
        assert_eq!(r.title, None);
        assert_eq!(r.user.as_deref(), Some("alice"));
        assert_eq!(r.grandparent_title.as_deref(), Some("7"));
    }

    #[test]
    fn reference_history_pages_parse() {
        for name in ["get_history_default.json", "get_history_grouping0.json"] {
            let text = reference(name);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let page: HistoryPage = serde_json::from_value(v["response"]["data"].clone()).unwrap();
            assert_eq!(page.data.len() as i64, page.records_filtered, "{name}");
            let grouped = page.data.iter().find(|r| r.row_id != r.reference_id);
            if name == "get_history_default.json" {
                let g = grouped.expect("the default page has a grouped row");
                assert_eq!((g.row_id, g.reference_id), (Some(4), Some(3)));
            }
        }
    }

    #[test]
    fn metadata_empty_object_means_deleted() {
        let m: Metadata = serde_json::from_str("{}").unwrap();
        assert!(m.is_empty());
        let m: Metadata = serde_json::from_str(
            r#"{"rating_key":"201","guids":["imdb://tt0959621"],"parent_guids":[],"grandparent_guids":null}"#,
        )
        .unwrap();
        assert!(!m.is_empty());
        assert_eq!(m.rating_key, Some(201));
        assert_eq!(m.guids, vec!["imdb://tt0959621"]);
    }

    #[test]
    fn reference_metadata_parses() {
        for name in [
            "get_metadata_episode_fakepms.json",
            "get_metadata_movie_fakepms.json",
        ] {
            let text = reference(name);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let m: Metadata = serde_json::from_value(v["response"]["data"].clone()).unwrap();
            assert!(!m.guids.is_empty(), "{name}");
        }
    }

    #[test]
    fn long_texts_are_kept_cut_to_max_text_chars() {
        let title = "é".repeat(5_000_000);
        let r = row(&format!(
            r#"{{"title":"{title}","user":"{}"}}"#,
            "a".repeat(MAX_TEXT_CHARS)
        ))
        .unwrap();
        let kept = r.title.unwrap();
        assert_eq!(kept.chars().count(), MAX_TEXT_CHARS);
        assert!(kept.ends_with("é…"), "cut on a char boundary, marked");
        assert_eq!(
            r.user.as_deref().map(str::len),
            Some(MAX_TEXT_CHARS),
            "a text of exactly the cap is kept whole"
        );
        // Escaped strings (serde hands those over owned) are cut too.
        let escaped = format!(r#"{{"title":"\"{}"}}"#, "x".repeat(2 * MAX_TEXT_CHARS));
        assert_eq!(
            row(&escaped).unwrap().title.unwrap().chars().count(),
            MAX_TEXT_CHARS
        );
    }

    #[test]
    fn rows_keep_what_their_readers_ask() {
        let r = row(r#"{"media_type":" Movie ","state":"","title":7,"guid":""}"#).unwrap();
        assert_eq!(r.kind(), Some(MediaKind::Movie));
        assert_eq!(r.media_type.as_deref(), Some(" Movie "), "kept as sent");
        assert_eq!((r.title.as_deref(), r.guid.as_deref()), (Some("7"), None));
        assert!(!r.has_state);
        let r =
            row(r#"{"media_type":"EPISODE","state":5,"row_id":"3","reference_id":null}"#).unwrap();
        assert_eq!(
            (r.kind(), r.row_id, r.reference_id),
            (Some(MediaKind::Episode), Some(3), None)
        );
        assert!(r.has_state && r.is_activity());
        let r = row(r#"{"media_type":7,"state":null,"user":3,"duration":"","group_ids":"4,2"}"#)
            .unwrap();
        assert_eq!(
            (r.kind(), r.media_type.as_deref()),
            (None, None),
            "a number is no type"
        );
        assert_eq!(
            (r.user.as_deref(), r.duration, r.group_first),
            (Some("3"), None, Some(2))
        );
        let r = row(r#"{"media_type":"track","transcode_decision":" Copy","extra":[1]}"#).unwrap();
        assert_eq!(r.kind(), None);
        assert_eq!(r.transcode_decision.as_deref(), Some(" Copy"));
        assert!(row(r#"{"state":"playing"}"#).unwrap().is_activity());
        assert!(!row(r#"{"row_id":1,"state":""}"#).unwrap().is_activity());
    }

    #[test]
    fn a_garbage_value_in_any_field_refuses_the_row() {
        for json in [
            r#"{"duration":"yesterday"}"#,
            r#"{"user_id":1.5}"#,
            r#"{"user":true}"#,
            r#"{"platform":{"a":1}}"#,
            r#"{"state":[1]}"#,
            r#"{"media_type":false}"#,
            r#"{"transcode_decision":[]}"#,
            r#"{"rating_key":"abc"}"#,
            r#"{"row_id":1,"row_id":2}"#,
            r#"{"group_count":[]}"#,
            r#"{"parent_title":{}}"#,
            r#"{"product":true}"#,
            r#"{"watched_status":"x"}"#,
        ] {
            let e = row(json).unwrap_err().to_string();
            assert!(!e.is_empty(), "{json}");
        }
    }
}
