//! Which collections are counted: config collections with their libraries resolved, and
//! collections discovered through Tautulli when Plex is behind it.

use std::collections::BTreeSet;

use serde::Serialize;

use super::source::{CollectionRow, CollectionSource};
use crate::analytics::config::{AnalyticsConfig, CollectionDef, LibraryRef};
use crate::error::{Error, Result};

/// Rows per `get_collections_table` request.
pub const DISCOVERY_PAGE: u64 = 500;
/// Library types whose collections are discovered.
pub const DISCOVERED_TYPES: [&str; 2] = ["movie", "show"];

/// Where a stored collection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Config,
    Discovered,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Config => "config",
            Origin::Discovered => "discovered",
        }
    }
}

/// One collection member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub rating_key: i64,
    /// `movie`, `show`, `season`, `episode` (or Plex's other types); `None` when a config
    /// member has no play yet to tell.
    pub kind: Option<String>,
    pub title: Option<String>,
}

/// A collection ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedCollection {
    pub section_id: i64,
    pub library: String,
    pub rating_key: i64,
    pub name: String,
    pub origin: Origin,
    pub members: Vec<Member>,
}

/// The outcome of resolving collections (before storing them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    pub collections: Vec<ResolvedCollection>,
    /// Discovery ran to the end: discovered collections not found any more are retired.
    pub discovery_complete: bool,
    /// Discovered collections whose members could not be read: their stored copy is kept.
    pub keep: Vec<(i64, i64)>,
    pub libraries_scanned: usize,
    pub warnings: Vec<String>,
}

/// Resolves config collections (library names through the source when needed) and, when
/// `cfg.discover` is on, discovers collections through the source. `known` are libraries
/// the store already knows (`(section_id, name)`), used when Tautulli cannot list them.
pub fn resolve<S: CollectionSource>(
    cfg: &AnalyticsConfig,
    source: &mut S,
    known: &[(i64, String)],
) -> Result<Resolution> {
    let mut res = Resolution::default();
    let needs_names = cfg.discover
        || cfg
            .collections
            .iter()
            .any(|c| matches!(c.library, LibraryRef::Name(_)));
    let (libraries, names_error) = if needs_names {
        match source.library_names() {
            Ok(rows) => (
                Some(
                    rows.into_iter()
                        .filter_map(|r| {
                            Some((
                                r.section_id?,
                                r.section_name.unwrap_or_default(),
                                r.section_type.unwrap_or_default(),
                            ))
                        })
                        .collect::<Vec<_>>(),
                ),
                None,
            ),
            Err(e) if is_fatal(&e) => return Err(e),
            Err(e) => {
                res.warnings.push(format!(
                    "Tautulli could not list the libraries ({e}); library names are taken \
                     from the store and collection discovery is skipped"
                ));
                (None, Some(e))
            }
        }
    } else {
        (None, None)
    };

    for (i, def) in cfg.collections.iter().enumerate() {
        let (section_id, library) =
            library_of(def, i, libraries.as_deref(), known, names_error.as_ref())?;
        res.collections.push(ResolvedCollection {
            section_id,
            library,
            rating_key: def.rating_key,
            name: def.name.clone(),
            origin: Origin::Config,
            members: def
                .members
                .iter()
                .map(|&k| Member {
                    rating_key: k,
                    kind: None,
                    title: None,
                })
                .collect(),
        });
    }
    // Two config entries may name one library differently (name and id): same identity.
    let mut ids = BTreeSet::new();
    for (i, c) in res.collections.iter().enumerate() {
        if !ids.insert((c.section_id, c.rating_key)) {
            return Err(Error::ConfigInvalid {
                key: format!("analytics.collections[{i}]"),
                reason: format!(
                    "collection {} of library \"{}\" (section {}) is defined twice",
                    c.rating_key, c.library, c.section_id
                ),
            });
        }
    }

    if cfg.discover {
        if let Some(libraries) = &libraries {
            discover(source, libraries, &mut res, &ids)?;
        }
    }
    Ok(res)
}

/// Errors that stop everything: the key or the address is wrong, not Plex.
fn is_fatal(e: &Error) -> bool {
    matches!(e, Error::AuthFailed { .. } | Error::ConfigInvalid { .. })
}

fn library_of(
    def: &CollectionDef,
    index: usize,
    libraries: Option<&[(i64, String, String)]>,
    known: &[(i64, String)],
    names_error: Option<&Error>,
) -> Result<(i64, String)> {
    let key = format!("analytics.collections[{index}].library");
    let listing = |libs: &[(i64, String, String)]| {
        libs.iter()
            .map(|(id, name, _)| format!("{id} \"{name}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (&def.library, libraries) {
        (LibraryRef::Id(id), Some(libs)) => match libs.iter().find(|l| l.0 == *id) {
            Some(l) => Ok((*id, l.1.clone())),
            None => Err(Error::ConfigInvalid {
                key,
                reason: format!(
                    "Tautulli has no library with section id {id} (libraries: {})",
                    listing(libs)
                ),
            }),
        },
        (LibraryRef::Id(id), None) => {
            let name = known
                .iter()
                .find(|k| k.0 == *id)
                .map_or_else(|| format!("section {id}"), |k| k.1.clone());
            Ok((*id, name))
        }
        (LibraryRef::Name(name), Some(libs)) => {
            let hits: Vec<_> = libs
                .iter()
                .filter(|l| l.1.trim().eq_ignore_ascii_case(name))
                .collect();
            match hits.as_slice() {
                [one] => Ok((one.0, one.1.clone())),
                [] => Err(Error::ConfigInvalid {
                    key,
                    reason: format!(
                        "Tautulli has no library named \"{name}\" (libraries: {})",
                        listing(libs)
                    ),
                }),
                many => Err(Error::ConfigInvalid {
                    key,
                    reason: format!(
                        "several libraries are named \"{name}\" (section ids {}): give the \
                         section id instead",
                        many.iter()
                            .map(|l| l.0.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }),
            }
        }
        (LibraryRef::Name(name), None) => {
            let hits: Vec<_> = known
                .iter()
                .filter(|k| k.1.trim().eq_ignore_ascii_case(name))
                .collect();
            match (hits.as_slice(), names_error) {
                ([one], _) => Ok((one.0, one.1.clone())),
                (_, Some(e)) => Err(e.clone()),
                (_, None) => Err(Error::Internal {
                    reason: format!("library \"{name}\" was not looked up"),
                }),
            }
        }
    }
}

fn discover<S: CollectionSource>(
    source: &mut S,
    libraries: &[(i64, String, String)],
    res: &mut Resolution,
    configured: &BTreeSet<(i64, i64)>,
) -> Result<()> {
    for (section_id, library, kind) in libraries {
        if !DISCOVERED_TYPES.contains(&kind.as_str()) {
            continue;
        }
        let mut rows: Vec<CollectionRow> = Vec::new();
        let mut start = 0u64;
        loop {
            let page = match source.collections_page(*section_id, start, DISCOVERY_PAGE) {
                Ok(p) => p,
                Err(e) if is_fatal(&e) => return Err(e),
                Err(e) => {
                    let hint = match &e {
                        Error::ServerError { status: 500, .. } => {
                            " (HTTP 500: Tautulli cannot reach Plex, and it lists collections \
                             only through Plex)"
                        }
                        _ => "",
                    };
                    res.warnings.push(format!(
                        "collection discovery skipped: get_collections_table for library \
                         \"{library}\" failed{hint}: {e}; using the {} config collections and \
                         the collections discovered earlier",
                        res.collections.len()
                    ));
                    res.discovery_complete = false;
                    return Ok(());
                }
            };
            let n = page.data.len() as u64;
            rows.extend(page.data);
            start += n;
            let total = page.records_filtered.unwrap_or(0).max(0) as u64;
            if n < DISCOVERY_PAGE || start >= total {
                break;
            }
        }
        res.libraries_scanned += 1;
        for row in rows {
            let Some(rating_key) = row.rating_key else {
                continue;
            };
            if configured.contains(&(*section_id, rating_key)) {
                continue;
            }
            let name = row
                .title
                .clone()
                .unwrap_or_else(|| format!("collection {rating_key}"));
            let children = match source.children(rating_key) {
                Ok(c) => c,
                Err(e) if is_fatal(&e) => return Err(e),
                Err(e) => {
                    res.warnings.push(format!(
                        "the members of collection \"{name}\" (library \"{library}\") could not \
                         be read ({e}); its stored members are kept"
                    ));
                    res.keep.push((*section_id, rating_key));
                    continue;
                }
            };
            let mut seen = BTreeSet::new();
            let members = children
                .children_list
                .into_iter()
                .filter_map(|c| {
                    let k = c.rating_key?;
                    seen.insert(k).then_some(Member {
                        rating_key: k,
                        kind: c.media_type,
                        title: c.title,
                    })
                })
                .collect();
            res.collections.push(ResolvedCollection {
                section_id: *section_id,
                library: library.clone(),
                rating_key,
                name,
                origin: Origin::Discovered,
                members,
            });
        }
    }
    res.discovery_complete = true;
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use serde_json::json;

    use super::*;
    use crate::analytics::collections::source::{ChildrenData, CollectionsTable, LibraryNameRow};

    /// Libraries 1 Movies (movie), 2 TV (show), 3 Music (artist); collections per section.
    #[derive(Default)]
    pub(crate) struct Fake {
        pub(crate) fail_names: Option<Error>,
        pub(crate) fail_collections: Option<Error>,
        pub(crate) fail_children: Vec<i64>,
        pub(crate) calls: Vec<String>,
    }

    impl CollectionSource for Fake {
        fn library_names(&mut self) -> Result<Vec<LibraryNameRow>> {
            self.calls.push("names".into());
            if let Some(e) = &self.fail_names {
                return Err(e.clone());
            }
            Ok(serde_json::from_value(json!([
                {"section_id": 1, "section_name": "Movies", "section_type": "movie"},
                {"section_id": "2", "section_name": "TV", "section_type": "show"},
                {"section_id": 3, "section_name": "Music", "section_type": "artist"}
            ]))
            .unwrap())
        }
        fn collections_page(
            &mut self,
            section_id: i64,
            start: u64,
            _: u64,
        ) -> Result<CollectionsTable> {
            self.calls.push(format!("collections {section_id} {start}"));
            if let Some(e) = &self.fail_collections {
                return Err(e.clone());
            }
            let data = match section_id {
                1 => {
                    json!([{"ratingKey": 5001, "title": "Favourites", "childCount": 2, "subtype": "movie"},
                            {"ratingKey": "5002", "title": "Noir", "childCount": 0}])
                }
                2 => json!([{"ratingKey": 6001, "title": "Favourites", "childCount": 1}]),
                _ => json!([]),
            };
            let n = data.as_array().unwrap().len();
            Ok(serde_json::from_value(
                json!({"recordsFiltered": n, "recordsTotal": n, "data": data}),
            )
            .unwrap())
        }
        fn children(&mut self, key: i64) -> Result<ChildrenData> {
            self.calls.push(format!("children {key}"));
            if self.fail_children.contains(&key) {
                return Err(Error::ServerError {
                    cmd: "get_children_metadata",
                    status: 500,
                    attempts: 1,
                    elapsed_ms: 0,
                    message: "x".into(),
                });
            }
            let list = match key {
                5001 => json!([{"rating_key": "101", "media_type": "movie", "title": "The Matrix"},
                               {"rating_key": 104, "media_type": "movie", "title": "Inception"},
                               {"rating_key": 104, "media_type": "movie", "title": "Inception"}]),
                6001 => json!([{"rating_key": 199, "media_type": "show", "title": "Breaking Bad"}]),
                _ => json!([]),
            };
            Ok(
                serde_json::from_value(json!({"children_count": 1, "children_list": list}))
                    .unwrap(),
            )
        }
    }

    pub(crate) fn cfg(v: serde_json::Value) -> AnalyticsConfig {
        AnalyticsConfig::from_engine_config(&json!({ "analytics": v })).unwrap()
    }

    pub(crate) fn plex_down() -> Error {
        Error::ServerError {
            cmd: "get_collections_table",
            status: 500,
            attempts: 4,
            elapsed_ms: 0,
            message: "Check the logs for errors".into(),
        }
    }

    #[test]
    fn config_collections_by_id_need_no_network() {
        let c = cfg(
            json!({"collections": [{"name": "A", "library": 1, "rating_key": 9, "members": [101]}]}),
        );
        let mut f = Fake::default();
        let r = resolve(&c, &mut f, &[(1, "Movies".into())]).unwrap();
        assert!(f.calls.is_empty(), "{:?}", f.calls);
        assert_eq!(r.collections[0].library, "Movies", "name from the store");
        assert_eq!(r.collections[0].section_id, 1);
    }

    #[test]
    fn names_are_resolved_and_discovery_skips_configured_and_non_video_libraries() {
        let c = cfg(json!({"discover": true, "collections": [
            {"name": "Mine", "library": "movies", "rating_key": 5001, "members": [103]}]}));
        let mut f = Fake::default();
        let r = resolve(&c, &mut f, &[]).unwrap();
        assert!(r.discovery_complete);
        assert_eq!(r.libraries_scanned, 2, "Music (artist) is not scanned");
        let got: Vec<_> = r
            .collections
            .iter()
            .map(|c| {
                (
                    c.section_id,
                    c.rating_key,
                    c.name.as_str(),
                    c.origin,
                    c.members.len(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (1, 5001, "Mine", Origin::Config, 1),
                (1, 5002, "Noir", Origin::Discovered, 0),
                (2, 6001, "Favourites", Origin::Discovered, 1),
            ]
        );
        assert!(
            !f.calls.contains(&"children 5001".to_string()),
            "configured: not read"
        );
    }

    #[test]
    fn plex_down_skips_discovery_with_a_clear_warning() {
        let c = cfg(json!({"discover": true, "collections": [
            {"name": "A", "library": "Movies", "rating_key": 9, "members": [101]}]}));
        let mut f = Fake {
            fail_collections: Some(plex_down()),
            ..Fake::default()
        };
        let r = resolve(&c, &mut f, &[]).unwrap();
        assert!(!r.discovery_complete);
        assert_eq!(r.collections.len(), 1);
        assert_eq!(r.warnings.len(), 1);
        let w = &r.warnings[0];
        assert!(
            w.contains("discovery skipped") && w.contains("cannot reach Plex"),
            "{w}"
        );
    }

    #[test]
    fn a_wrong_key_is_fatal() {
        let c = cfg(json!({"discover": true}));
        let mut f = Fake {
            fail_names: Some(Error::AuthFailed {
                reason: "Invalid apikey".into(),
            }),
            ..Fake::default()
        };
        assert!(matches!(
            resolve(&c, &mut f, &[]),
            Err(Error::AuthFailed { .. })
        ));
    }

    #[test]
    fn unknown_and_ambiguous_libraries_are_config_errors() {
        let c = cfg(json!({"collections": [{"name": "A", "library": "Films", "rating_key": 9}]}));
        let e = resolve(&c, &mut Fake::default(), &[]).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("analytics.collections[0].library") && text.contains("1 \"Movies\""),
            "{text}"
        );
        let c = cfg(
            json!({"collections": [{"name": "A", "library": 8, "rating_key": 9}], "discover": true}),
        );
        assert!(resolve(&c, &mut Fake::default(), &[]).is_err());
        let c = cfg(json!({"collections": [
            {"name": "A", "library": "Movies", "rating_key": 9},
            {"name": "B", "library": 1, "rating_key": 9}]}));
        let e = resolve(&c, &mut Fake::default(), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("defined twice"), "{e}");
    }
}
