//! External and Plex IDs of one item (or of one show), normalised exactly the way the engine
//! normalises them, so the keys we compute are the keys the engine re-computes.
//!
//! Memory matters here: a million-play index holds two [`Ids`] per item, so an `Ids` is one
//! boxed string (16 bytes inline, one allocation, none when empty) packing every entry as a
//! control-character kind marker followed by the value, entries sorted by key priority.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The ID kinds the engine knows, declared in its key-priority order (first = preferred).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum IdKind {
    Tmdb,
    Imdb,
    Tvdb,
    Trakt,
    Mal,
    Anilist,
    Kitsu,
    Anidb,
    Simkl,
    Plex,
    Guid,
    Slug,
}

impl IdKind {
    /// Every kind, in key-priority order.
    pub const ALL: [IdKind; 12] = [
        IdKind::Tmdb,
        IdKind::Imdb,
        IdKind::Tvdb,
        IdKind::Trakt,
        IdKind::Mal,
        IdKind::Anilist,
        IdKind::Kitsu,
        IdKind::Anidb,
        IdKind::Simkl,
        IdKind::Plex,
        IdKind::Guid,
        IdKind::Slug,
    ];

    /// The engine's name of this kind (`"tmdb"`, `"imdb"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::Tmdb => "tmdb",
            IdKind::Imdb => "imdb",
            IdKind::Tvdb => "tvdb",
            IdKind::Trakt => "trakt",
            IdKind::Mal => "mal",
            IdKind::Anilist => "anilist",
            IdKind::Kitsu => "kitsu",
            IdKind::Anidb => "anidb",
            IdKind::Simkl => "simkl",
            IdKind::Plex => "plex",
            IdKind::Guid => "guid",
            IdKind::Slug => "slug",
        }
    }

    /// Reads a kind name in any case, also accepting the agents' long names
    /// (`themoviedb`, `thetvdb`, `myanimelist`). `None` for a kind the engine does not know.
    pub fn parse(name: &str) -> Option<IdKind> {
        let n = name.trim().to_ascii_lowercase();
        let kind = match n.as_str() {
            "themoviedb" => IdKind::Tmdb,
            "thetvdb" => IdKind::Tvdb,
            "myanimelist" => IdKind::Mal,
            other => *IdKind::ALL.iter().find(|k| k.as_str() == other)?,
        };
        Some(kind)
    }

    /// True for kinds whose values are digits only.
    pub fn is_numeric(self) -> bool {
        !matches!(self, IdKind::Imdb | IdKind::Guid | IdKind::Slug)
    }

    /// True for IDs that name the title outside Plex (what makes an item "resolved"):
    /// everything but `plex`, `guid` and `slug`.
    pub fn is_external(self) -> bool {
        !matches!(self, IdKind::Plex | IdKind::Guid | IdKind::Slug)
    }

    fn index(self) -> u8 {
        self as u8
    }

    fn marker(self) -> char {
        char::from(1 + self.index())
    }

    fn from_marker(c: char) -> Option<IdKind> {
        let i = (c as u32).checked_sub(1)? as usize;
        IdKind::ALL.get(i).copied()
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Values that mean "no ID" in the engine (compared case-insensitively, after trimming).
const PLACEHOLDERS: [&str; 7] = ["", "0", "none", "null", "unknown", "nan", "undefined"];

/// Normalises one ID value the way the engine does; `None` when it is not an ID.
///
/// - placeholders (`0`, `none`, `null`, `unknown`, `nan`, `undefined`, empty; any case) are
///   no ID;
/// - numeric kinds keep their digits only (the engine strips every non-digit), and a value
///   with no digit, or only zeros, is no ID;
/// - imdb: lower-cased; the first `tt<digits>` inside wins (`TT0111161`, `imdb-tt0111161`),
///   otherwise bare digits get a `tt` prefix (`0111161` -> `tt0111161`), as the engine does;
///   no digit, or only zeros, is no ID;
/// - guid: kept as given (trimmed); slug: lower-cased (as the engine does). Values holding
///   control characters are refused (they cannot be IDs, and they frame the packed storage).
pub fn normalise_value(kind: IdKind, raw: &str) -> Option<String> {
    let s = raw.trim();
    if PLACEHOLDERS.iter().any(|p| s.eq_ignore_ascii_case(p)) {
        return None;
    }
    let out = match kind {
        IdKind::Imdb => {
            let lower = s.to_ascii_lowercase();
            let digits = tt_digits(&lower)
                .unwrap_or_else(|| lower.chars().filter(char::is_ascii_digit).collect());
            if digits.is_empty() || digits.bytes().all(|b| b == b'0') {
                return None;
            }
            format!("tt{digits}")
        }
        IdKind::Guid => s.to_owned(),
        IdKind::Slug => s.to_lowercase(),
        _ => {
            let digits: String = s.chars().filter(char::is_ascii_digit).collect();
            if digits.is_empty() || digits.bytes().all(|b| b == b'0') {
                return None;
            }
            digits
        }
    };
    if out.chars().any(char::is_control) {
        return None;
    }
    Some(out)
}

/// The digits of the first `tt<digits>` in an already lower-cased string.
fn tt_digits(lower: &str) -> Option<String> {
    let bytes = lower.as_bytes();
    let mut from = 0;
    while let Some(pos) = lower[from..].find("tt") {
        let start = from + pos + 2;
        let len = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if len > 0 {
            return Some(lower[start..start + len].to_owned());
        }
        from = from + pos + 1;
    }
    None
}

/// A small ordered set of IDs, at most one value per [`IdKind`], kept in priority order.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Ids {
    /// Entries `<marker><value>` sorted by kind; markers are `\u{1}`..`\u{c}`.
    packed: Box<str>,
}

impl Ids {
    /// No IDs.
    pub fn new() -> Ids {
        Ids::default()
    }

    /// Stores `raw` (normalised by [`normalise_value`]) for `kind`, replacing any value that
    /// kind had. Returns false, and changes nothing, when `raw` is not an ID.
    pub fn insert(&mut self, kind: IdKind, raw: &str) -> bool {
        let Some(value) = normalise_value(kind, raw) else {
            return false;
        };
        let mut entries: Vec<(IdKind, &str)> = self.iter().filter(|(k, _)| *k != kind).collect();
        entries.push((kind, &value));
        entries.sort_by_key(|(k, _)| *k);
        self.packed = pack(&entries);
        true
    }

    /// Stores `raw` for `kind` only when `kind` has no value yet. Returns true if stored.
    pub fn insert_missing(&mut self, kind: IdKind, raw: &str) -> bool {
        !self.contains(kind) && self.insert(kind, raw)
    }

    /// The value of `kind`, if any.
    pub fn get(&self, kind: IdKind) -> Option<&str> {
        self.iter().find(|(k, _)| *k == kind).map(|(_, v)| v)
    }

    pub fn contains(&self, kind: IdKind) -> bool {
        self.get(kind).is_some()
    }

    /// The entries in priority order.
    pub fn iter(&self) -> IdsIter<'_> {
        IdsIter { rest: &self.packed }
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// The preferred ID (first by priority).
    pub fn best(&self) -> Option<(IdKind, &str)> {
        self.iter().next()
    }

    /// True when at least one ID names the title outside Plex (see [`IdKind::is_external`]).
    pub fn has_external(&self) -> bool {
        self.iter().any(|(k, _)| k.is_external())
    }

    /// Adds every kind of `other` that `self` lacks; existing values win.
    pub fn merge_missing(&mut self, other: &Ids) {
        if other.iter().all(|(k, _)| self.contains(k)) {
            return;
        }
        let mut entries: Vec<(IdKind, &str)> = self.iter().collect();
        entries.extend(other.iter().filter(|(k, _)| !self.contains(*k)));
        entries.sort_by_key(|(k, _)| *k);
        self.packed = pack(&entries);
    }
}

/// Builds the packed form from entries already normalised and sorted by kind.
fn pack(entries: &[(IdKind, &str)]) -> Box<str> {
    let mut s = String::with_capacity(entries.iter().map(|(_, v)| v.len() + 1).sum());
    for (k, v) in entries {
        s.push(k.marker());
        s.push_str(v);
    }
    s.into_boxed_str()
}

/// Iterator over the entries of an [`Ids`], in priority order.
pub struct IdsIter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for IdsIter<'a> {
    type Item = (IdKind, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let mut chars = self.rest.chars();
        let kind = IdKind::from_marker(chars.next()?)?;
        let body = &self.rest[1..];
        let end = body.find(|c: char| (c as u32) < 0x20).unwrap_or(body.len());
        self.rest = &body[end..];
        Some((kind, &body[..end]))
    }
}

impl fmt::Debug for Ids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (k.as_str(), v)))
            .finish()
    }
}

impl FromIterator<(IdKind, String)> for Ids {
    /// Later values of one kind replace earlier ones; non-IDs are dropped.
    fn from_iter<I: IntoIterator<Item = (IdKind, String)>>(iter: I) -> Ids {
        let mut ids = Ids::new();
        for (k, v) in iter {
            ids.insert(k, &v);
        }
        ids
    }
}

impl Serialize for Ids {
    /// A JSON object `{kind: "value"}` in priority order; values are always strings.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k.as_str(), v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Ids {
    /// Reads `{kind: value}` with string or integer values; unknown kinds, `null` and
    /// non-IDs are dropped (an engine item may carry kinds we do not model).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ids, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ids;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of IDs")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ids, A::Error> {
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum Value {
                    Str(String),
                    Int(i64),
                    Other(de::IgnoredAny),
                }
                let mut ids = Ids::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    let Some(kind) = IdKind::parse(&key) else {
                        continue;
                    };
                    match value {
                        Value::Str(s) => ids.insert(kind, &s),
                        Value::Int(n) => ids.insert(kind, &n.to_string()),
                        Value::Other(_) => false,
                    };
                }
                Ok(ids)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(pairs: &[(IdKind, &str)]) -> Ids {
        let mut ids = Ids::new();
        for (k, v) in pairs {
            ids.insert(*k, v);
        }
        ids
    }

    #[test]
    fn kinds_round_trip_by_name_in_priority_order() {
        let names: Vec<&str> = IdKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "tmdb", "imdb", "tvdb", "trakt", "mal", "anilist", "kitsu", "anidb", "simkl",
                "plex", "guid", "slug"
            ]
        );
        for k in IdKind::ALL {
            assert_eq!(IdKind::parse(k.as_str()), Some(k));
            assert_eq!(IdKind::parse(&k.as_str().to_uppercase()), Some(k));
        }
        let mut sorted = IdKind::ALL;
        sorted.sort();
        assert_eq!(sorted, IdKind::ALL);
        assert_eq!(IdKind::parse("TheMovieDB"), Some(IdKind::Tmdb));
        assert_eq!(IdKind::parse("thetvdb"), Some(IdKind::Tvdb));
        assert_eq!(IdKind::parse("jellyfin"), None);
    }

    #[test]
    fn placeholders_are_not_ids() {
        for p in [
            "",
            "  ",
            "0",
            "none",
            "NONE",
            "Null",
            "unknown",
            "NaN",
            "undefined",
        ] {
            for k in IdKind::ALL {
                assert_eq!(normalise_value(k, p), None, "{k} {p:?}");
            }
        }
    }

    #[test]
    fn numeric_kinds_keep_digits_only() {
        for k in IdKind::ALL.into_iter().filter(|k| k.is_numeric()) {
            assert_eq!(normalise_value(k, " 603 ").as_deref(), Some("603"), "{k}");
            assert_eq!(
                normalise_value(k, "tmdb-603").as_deref(),
                Some("603"),
                "{k}"
            );
            assert_eq!(normalise_value(k, "abc"), None, "{k}");
            assert_eq!(normalise_value(k, "000"), None, "{k}");
        }
        assert_eq!(
            normalise_value(IdKind::Tvdb, "0121361").as_deref(),
            Some("0121361")
        );
    }

    #[test]
    fn imdb_is_tt_plus_digits_lower_case() {
        for raw in [
            "tt0111161",
            "TT0111161",
            " tt0111161 ",
            "0111161",
            "imdb-tt0111161",
        ] {
            assert_eq!(
                normalise_value(IdKind::Imdb, raw).as_deref(),
                Some("tt0111161"),
                "{raw}"
            );
        }
        assert_eq!(normalise_value(IdKind::Imdb, "tt"), None);
        assert_eq!(normalise_value(IdKind::Imdb, "tt0000000"), None);
        assert_eq!(normalise_value(IdKind::Imdb, "nope"), None);
        // "tt" not followed by digits is skipped in favour of a later tt<digits>.
        assert_eq!(
            normalise_value(IdKind::Imdb, "ttx-tt42").as_deref(),
            Some("tt42")
        );
    }

    #[test]
    fn guid_kept_as_given_slug_lowered_controls_refused() {
        assert_eq!(
            normalise_value(IdKind::Guid, " plex://movie/5D77 ").as_deref(),
            Some("plex://movie/5D77")
        );
        assert_eq!(
            normalise_value(IdKind::Slug, "The-Matrix").as_deref(),
            Some("the-matrix")
        );
        assert_eq!(normalise_value(IdKind::Guid, "a\u{1}b"), None);
        assert_eq!(normalise_value(IdKind::Slug, "a\tb"), None);
    }

    #[test]
    fn insert_replaces_and_keeps_priority_order() {
        let mut ids = Ids::new();
        assert_eq!(ids.best(), None);
        assert!(ids.insert(IdKind::Plex, "101"));
        assert!(ids.insert(IdKind::Imdb, "TT0133093"));
        assert!(ids.insert(IdKind::Guid, "plex://movie/x"));
        assert!(ids.insert(IdKind::Tmdb, "603"));
        assert!(!ids.insert(IdKind::Tvdb, "null"));
        let got: Vec<(IdKind, &str)> = ids.iter().collect();
        assert_eq!(
            got,
            [
                (IdKind::Tmdb, "603"),
                (IdKind::Imdb, "tt0133093"),
                (IdKind::Plex, "101"),
                (IdKind::Guid, "plex://movie/x"),
            ]
        );
        assert!(ids.insert(IdKind::Tmdb, "604"));
        assert_eq!(ids.get(IdKind::Tmdb), Some("604"));
        assert_eq!(ids.len(), 4);
        assert!(!ids.insert_missing(IdKind::Tmdb, "605"));
        assert!(ids.insert_missing(IdKind::Tvdb, "169"));
        assert_eq!(ids.get(IdKind::Tvdb), Some("169"));
    }

    #[test]
    fn best_follows_priority_not_insertion() {
        let ids = ids(&[
            (IdKind::Slug, "s"),
            (IdKind::Plex, "1"),
            (IdKind::Anidb, "23"),
            (IdKind::Tvdb, "121361"),
        ]);
        assert_eq!(ids.best(), Some((IdKind::Tvdb, "121361")));
        assert_eq!(Ids::new().best(), None);
    }

    #[test]
    fn external_means_not_plex_guid_or_slug() {
        assert!(!ids(&[
            (IdKind::Plex, "1"),
            (IdKind::Guid, "g"),
            (IdKind::Slug, "s")
        ])
        .has_external());
        assert!(ids(&[(IdKind::Plex, "1"), (IdKind::Kitsu, "7")]).has_external());
    }

    #[test]
    fn merge_missing_never_overwrites() {
        let mut a = ids(&[(IdKind::Tvdb, "121361"), (IdKind::Plex, "299")]);
        let b = ids(&[
            (IdKind::Tvdb, "999"),
            (IdKind::Imdb, "tt0944947"),
            (IdKind::Guid, "plex://show/x"),
        ]);
        a.merge_missing(&b);
        let got: Vec<(IdKind, &str)> = a.iter().collect();
        assert_eq!(
            got,
            [
                (IdKind::Imdb, "tt0944947"),
                (IdKind::Tvdb, "121361"),
                (IdKind::Plex, "299"),
                (IdKind::Guid, "plex://show/x"),
            ]
        );
        let before = a.clone();
        a.merge_missing(&Ids::new());
        assert_eq!(a, before);
    }

    #[test]
    fn serialises_as_string_object_in_priority_order() {
        let ids = ids(&[
            (IdKind::Plex, "101"),
            (IdKind::Imdb, "tt0133093"),
            (IdKind::Tmdb, "603"),
        ]);
        assert_eq!(
            serde_json::to_string(&ids).unwrap(),
            r#"{"tmdb":"603","imdb":"tt0133093","plex":"101"}"#
        );
        assert_eq!(serde_json::to_string(&Ids::new()).unwrap(), "{}");
        assert_eq!(
            format!("{ids:?}"),
            r#"{"tmdb": "603", "imdb": "tt0133093", "plex": "101"}"#
        );
    }

    #[test]
    fn deserialises_leniently() {
        let ids: Ids = serde_json::from_str(
            r#"{"imdb":"TT0133093","tmdb":603,"jellyfin":"x","tvdb":null,"plex":"0","slug":[1]}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&ids).unwrap(),
            r#"{"tmdb":"603","imdb":"tt0133093"}"#
        );
    }

    #[test]
    fn unicode_values_survive_packing() {
        let ids = ids(&[(IdKind::Guid, "é://ü/β"), (IdKind::Tmdb, "1")]);
        assert_eq!(ids.get(IdKind::Guid), Some("é://ü/β"));
        assert_eq!(ids.best(), Some((IdKind::Tmdb, "1")));
    }

    #[test]
    fn compact_in_memory() {
        assert_eq!(std::mem::size_of::<Ids>(), 16);
    }

    mod props {
        use proptest::prelude::*;

        use super::*;
        use crate::testutil::gen::dirty_text;

        fn kind() -> impl Strategy<Value = IdKind> {
            prop::sample::select(IdKind::ALL.to_vec())
        }

        /// ID-like text: digits with junk around, `tt` forms in any case, placeholders
        /// padded with spaces, and anything at all.
        fn raw_id() -> impl Strategy<Value = String> {
            prop_oneof![
                3 => "[0-9]{1,9}",
                2 => "(tt|TT|Tt|imdb-tt|id:)?[0-9]{0,9}[a-z ]{0,3}",
                2 => ("[ ]{0,2}", prop::sample::select(PLACEHOLDERS.to_vec()), "[ ]{0,2}", any::<bool>())
                    .prop_map(|(a, p, b, upper)| {
                        let p = if upper { p.to_uppercase() } else { p.to_owned() };
                        format!("{a}{p}{b}")
                    }),
                1 => "0{1,5}",
                2 => dirty_text(),
                1 => "\\PC{0,12}",
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn normalised_values_have_their_kinds_form(kind in kind(), raw in raw_id()) {
                let Some(v) = normalise_value(kind, &raw) else { return Ok(()) };
                let digits = |d: &str| {
                    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) && d.bytes().any(|b| b != b'0')
                };
                match kind {
                    IdKind::Imdb => prop_assert!(v.strip_prefix("tt").is_some_and(digits), "{:?} -> {:?}", raw, v),
                    IdKind::Guid => prop_assert_eq!(v.as_str(), raw.trim()),
                    IdKind::Slug => prop_assert_eq!(&v, &raw.trim().to_lowercase()),
                    k => {
                        prop_assert!(k.is_numeric());
                        prop_assert!(digits(&v), "{:?} -> {:?}", raw, v);
                    }
                }
                prop_assert!(!v.chars().any(char::is_control), "{:?}", v);
                // Normalising is idempotent: a stored value reads back as itself.
                prop_assert_eq!(normalise_value(kind, &v), Some(v.clone()));
            }

            #[test]
            fn placeholders_are_no_id_of_any_kind(
                kind in kind(),
                p in prop::sample::select(PLACEHOLDERS.to_vec()),
                upper in any::<bool>(),
                pad in "[ \t]{0,3}",
            ) {
                let p = if upper { p.to_uppercase() } else { p.to_owned() };
                prop_assert_eq!(normalise_value(kind, &format!("{pad}{p}{pad}")), None);
                let mut ids = Ids::new();
                prop_assert!(!ids.insert(kind, &p));
                prop_assert_eq!(ids.best(), None);
            }

            #[test]
            fn ids_keep_one_normalised_value_per_kind_and_survive_json(
                entries in prop::collection::vec((kind(), raw_id()), 0..16),
            ) {
                let mut ids = Ids::new();
                let mut want: std::collections::BTreeMap<IdKind, String> = Default::default();
                for (k, raw) in &entries {
                    let stored = ids.insert(*k, raw);
                    let v = normalise_value(*k, raw);
                    prop_assert_eq!(stored, v.is_some());
                    if let Some(v) = v {
                        want.insert(*k, v);
                    }
                }
                let got: Vec<(IdKind, String)> = ids.iter().map(|(k, v)| (k, v.to_owned())).collect();
                let want: Vec<(IdKind, String)> = want.into_iter().collect();
                prop_assert_eq!(&got, &want, "priority order, last value wins");
                let json = serde_json::to_value(&ids).unwrap();
                for (k, v) in json.as_object().unwrap() {
                    prop_assert!(IdKind::parse(k).is_some() && v.is_string(), "{}", json);
                }
                let back: Ids = serde_json::from_value(json).unwrap();
                prop_assert_eq!(back, ids);
            }
        }
    }
}
