//! Which collections are counted, and what is in them.
//!
//! Two sources: collections defined in `analytics.collections` (library by name or section
//! id, names resolved through `get_library_names` only when needed) and collections
//! discovered through Tautulli when Plex is behind it (`get_library_names`, then
//! `get_collections_table` per movie/show library, members through `get_children_metadata`).
//! A collection's identity is `(section_id, rating_key)`: two libraries may both have a
//! "Favourites". A config collection wins over a discovered one with the same identity.
//!
//! Discovery needs Plex: without it Tautulli answers `get_collections_table` with HTTP 500.
//! Then discovery is skipped with a warning that says so, config collections are still
//! resolved, and collections discovered by an earlier run are kept as they were stored.
//!
//! Membership is by rating key at any level: a session belongs to member `k` when its
//! `rating_key`, `parent_rating_key` or `grandparent_rating_key` is `k` (Plex rating keys are
//! unique across levels), so a movie member counts its plays, a show member every episode
//! (grandparent), a season member its episodes (parent), an episode member itself.

use std::collections::BTreeSet;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::analytics::config::{AnalyticsConfig, CollectionDef, LibraryRef};
use crate::analytics::store::{self, Store};
use crate::error::{Error, Result};
use crate::sanitize::clean_text;
use crate::tautulli::client::{Client, Command};
use crate::tautulli::rows::{int_opt, string_opt};

/// Rows per `get_collections_table` request.
pub const DISCOVERY_PAGE: u64 = 500;
/// Library types whose collections are discovered.
pub const DISCOVERED_TYPES: [&str; 2] = ["movie", "show"];

/// One `get_library_names` row.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct LibraryNameRow {
    #[serde(deserialize_with = "int_opt")]
    pub section_id: Option<i64>,
    #[serde(deserialize_with = "string_opt")]
    pub section_name: Option<String>,
    #[serde(deserialize_with = "string_opt")]
    pub section_type: Option<String>,
}

/// `data` of `get_collections_table` (a DataTables answer; Plex's camelCase fields).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CollectionsTable {
    #[serde(rename = "recordsFiltered", deserialize_with = "int_opt")]
    pub records_filtered: Option<i64>,
    #[serde(rename = "recordsTotal", deserialize_with = "int_opt")]
    pub records_total: Option<i64>,
    pub data: Vec<CollectionRow>,
}

/// One collection of `get_collections_table`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CollectionRow {
    #[serde(rename = "ratingKey", deserialize_with = "int_opt")]
    pub rating_key: Option<i64>,
    #[serde(deserialize_with = "string_opt")]
    pub title: Option<String>,
    #[serde(rename = "librarySectionID", deserialize_with = "int_opt")]
    pub library_section_id: Option<i64>,
    #[serde(rename = "childCount", deserialize_with = "int_opt")]
    pub child_count: Option<i64>,
    /// `movie` or `show`: what the collection holds.
    #[serde(deserialize_with = "string_opt")]
    pub subtype: Option<String>,
}

/// `data` of `get_children_metadata`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ChildrenData {
    #[serde(deserialize_with = "int_opt")]
    pub children_count: Option<i64>,
    #[serde(deserialize_with = "string_opt")]
    pub children_type: Option<String>,
    pub children_list: Vec<ChildRow>,
}

/// One child of `get_children_metadata`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ChildRow {
    #[serde(deserialize_with = "int_opt")]
    pub rating_key: Option<i64>,
    #[serde(deserialize_with = "string_opt")]
    pub media_type: Option<String>,
    #[serde(deserialize_with = "string_opt")]
    pub title: Option<String>,
}

/// Where library names, collections and members come from (Tautulli, or a table in tests).
pub trait CollectionSource {
    fn library_names(&mut self) -> Result<Vec<LibraryNameRow>>;
    fn collections_page(
        &mut self,
        section_id: i64,
        start: u64,
        length: u64,
    ) -> Result<CollectionsTable>;
    fn children(&mut self, collection_rating_key: i64) -> Result<ChildrenData>;
}

/// [`CollectionSource`] through a shared [`Client`].
#[derive(Debug, Clone)]
pub struct ClientCollections {
    client: Arc<Client>,
}

impl ClientCollections {
    pub fn new(client: Arc<Client>) -> Self {
        Self { client }
    }
}

impl CollectionSource for ClientCollections {
    fn library_names(&mut self) -> Result<Vec<LibraryNameRow>> {
        self.client.call(Command::GetLibraryNames, &[])
    }

    fn collections_page(
        &mut self,
        section_id: i64,
        start: u64,
        length: u64,
    ) -> Result<CollectionsTable> {
        self.client.call(
            Command::GetCollectionsTable,
            &[
                ("section_id", section_id.to_string()),
                ("order_column", "titleSort".to_string()),
                ("order_dir", "asc".to_string()),
                ("start", start.to_string()),
                ("length", length.max(1).to_string()),
            ],
        )
    }

    fn children(&mut self, collection_rating_key: i64) -> Result<ChildrenData> {
        self.client.call(
            Command::GetChildrenMetadata,
            &[
                ("rating_key", collection_rating_key.to_string()),
                ("media_type", "collection".to_string()),
            ],
        )
    }
}

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

/// What resolving and storing collections did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResolveReport {
    /// Active collections after this run, by origin.
    pub config: usize,
    pub discovered: usize,
    /// Of `discovered`: kept from an earlier run because discovery failed this time.
    pub kept: usize,
    /// Collections no longer configured or discovered (their snapshots stay queryable).
    pub retired: usize,
    pub libraries_scanned: usize,
    pub warnings: Vec<String>,
}

/// A collection as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredCollection {
    pub id: i64,
    pub section_id: i64,
    pub library: String,
    pub rating_key: i64,
    pub name: String,
    pub source: String,
    pub active: bool,
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

/// Libraries the store knows from earlier runs: `(section_id, name)`.
pub fn known_libraries(store: &Store) -> Result<Vec<(i64, String)>> {
    let mut stmt = store
        .conn()
        .prepare("SELECT DISTINCT section_id, library FROM collections ORDER BY section_id")
        .map_err(|e| store.err(e))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(|e| store.err(e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| store.err(e))
}

/// Stores a resolution in one transaction: collections upserted by identity with their
/// members replaced, collections no longer configured (or, after a complete discovery, no
/// longer discovered) retired. Retired collections keep their snapshots.
pub fn save(
    store: &mut Store,
    res: &Resolution,
    discover: bool,
    now: i64,
) -> Result<ResolveReport> {
    let path = store.path().map(|p| p.to_path_buf());
    let err = |e| store::db_error(path.as_deref(), e);
    // The write lock up front: a read that later wants to write while another run commits
    // would fail at once instead of waiting for its turn.
    let tx = store
        .conn_mut()
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    let active_before: i64 = tx
        .query_row(
            "SELECT COUNT(*) FROM collections WHERE active = 1",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    tx.execute(
        "UPDATE collections SET active = 0 WHERE source = 'config'",
        [],
    )
    .map_err(err)?;
    if !discover || res.discovery_complete {
        tx.execute(
            "UPDATE collections SET active = 0 WHERE source = 'discovered'",
            [],
        )
        .map_err(err)?;
        for (section_id, rating_key) in &res.keep {
            tx.execute(
                "UPDATE collections SET active = 1 WHERE section_id = ?1 AND rating_key = ?2",
                params![section_id, rating_key],
            )
            .map_err(err)?;
        }
    }
    for c in &res.collections {
        save_one(&tx, c, now).map_err(err)?;
    }
    let count = |sql: &str| -> Result<usize> {
        tx.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(err)
    };
    let config = count("SELECT COUNT(*) FROM collections WHERE active = 1 AND source = 'config'")?;
    let discovered =
        count("SELECT COUNT(*) FROM collections WHERE active = 1 AND source = 'discovered'")?;
    let found = res
        .collections
        .iter()
        .filter(|c| c.origin == Origin::Discovered)
        .count();
    let report = ResolveReport {
        config,
        discovered,
        kept: discovered.saturating_sub(found),
        retired: (active_before as usize).saturating_sub(config + discovered),
        libraries_scanned: res.libraries_scanned,
        warnings: res.warnings.clone(),
    };
    tx.commit().map_err(err)?;
    Ok(report)
}

/// Stores one collection; its names and titles come from Plex and are cleaned
/// ([`clean_text`]) on the way in.
fn save_one(conn: &Connection, c: &ResolvedCollection, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO collections (section_id, library, rating_key, name, source, active, \
         updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6) \
         ON CONFLICT(section_id, rating_key) DO UPDATE SET library = excluded.library, \
         name = excluded.name, source = excluded.source, active = 1, \
         updated_at = excluded.updated_at",
        params![
            c.section_id,
            clean_text(&c.library),
            c.rating_key,
            clean_text(&c.name),
            c.origin.as_str(),
            now
        ],
    )?;
    let id: i64 = conn.query_row(
        "SELECT id FROM collections WHERE section_id = ?1 AND rating_key = ?2",
        params![c.section_id, c.rating_key],
        |r| r.get(0),
    )?;
    conn.execute(
        "DELETE FROM collection_members WHERE collection_id = ?1",
        [id],
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO collection_members (collection_id, rating_key, kind, title) \
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for m in &c.members {
        let kind = match &m.kind {
            Some(k) => Some(k.clone()),
            None => member_kind(conn, m.rating_key)?,
        };
        let kind = kind.as_deref().map(clean_text);
        let title = m.title.as_deref().map(clean_text);
        insert.execute(params![id, m.rating_key, kind, title])?;
    }
    Ok(())
}

/// A config member's kind, told by the plays held: the key of an episode's show, of its
/// season, or of the played item itself. `None` when nothing was played yet.
pub(crate) fn member_kind(conn: &Connection, rating_key: i64) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT CASE \
           WHEN rating_key = ?1 THEN media_type \
           WHEN grandparent_rating_key = ?1 THEN \
             CASE media_type WHEN 'episode' THEN 'show' WHEN 'track' THEN 'artist' END \
           WHEN parent_rating_key = ?1 THEN \
             CASE media_type WHEN 'episode' THEN 'season' WHEN 'track' THEN 'album' END \
         END FROM sessions \
         WHERE rating_key = ?1 OR parent_rating_key = ?1 OR grandparent_rating_key = ?1 \
         LIMIT 1",
    )?
    .query_row([rating_key], |r| r.get::<_, Option<String>>(0))
    .optional()
    .map(Option::flatten)
}

/// Active collections, by library then name.
pub fn active_collections(store: &Store) -> Result<Vec<StoredCollection>> {
    collections_where(store, "active = 1")
}

/// Every stored collection, retired ones included.
pub fn all_collections(store: &Store) -> Result<Vec<StoredCollection>> {
    collections_where(store, "1")
}

fn collections_where(store: &Store, cond: &str) -> Result<Vec<StoredCollection>> {
    let sql = format!(
        "SELECT id, section_id, library, rating_key, name, source, active FROM collections \
         WHERE {cond} ORDER BY library, section_id, name, rating_key"
    );
    let mut stmt = store.conn().prepare(&sql).map_err(|e| store.err(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(StoredCollection {
                id: r.get(0)?,
                section_id: r.get(1)?,
                library: r.get(2)?,
                rating_key: r.get(3)?,
                name: r.get(4)?,
                source: r.get(5)?,
                active: r.get::<_, i64>(6)? != 0,
            })
        })
        .map_err(|e| store.err(e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| store.err(e))
}

/// Members of a stored collection, by rating key.
pub fn members(store: &Store, collection_id: i64) -> Result<Vec<Member>> {
    let mut stmt = store
        .conn()
        .prepare(
            "SELECT rating_key, kind, title FROM collection_members WHERE collection_id = ?1 \
             ORDER BY rating_key",
        )
        .map_err(|e| store.err(e))?;
    let rows = stmt
        .query_map([collection_id], |r| {
            Ok(Member {
                rating_key: r.get(0)?,
                kind: r.get(1)?,
                title: r.get(2)?,
            })
        })
        .map_err(|e| store.err(e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| store.err(e))
}

/// Finds a stored collection by `SECTION:RATING_KEY` or by name (exact, else ignoring case).
/// A name shared by collections of several libraries is an error listing them.
pub fn find(store: &Store, spec: &str) -> Result<StoredCollection> {
    let spec = spec.trim();
    let all = all_collections(store)?;
    if let Some((a, b)) = spec.split_once(':') {
        if let (Ok(section), Ok(key)) = (a.trim().parse::<i64>(), b.trim().parse::<i64>()) {
            if let Some(c) = all
                .iter()
                .find(|c| c.section_id == section && c.rating_key == key)
            {
                return Ok(c.clone());
            }
        }
    }
    let mut hits: Vec<&StoredCollection> = all.iter().filter(|c| c.name == spec).collect();
    if hits.is_empty() {
        hits = all
            .iter()
            .filter(|c| c.name.to_lowercase() == spec.to_lowercase())
            .collect();
    }
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let names: Vec<String> = all
                .iter()
                .take(30)
                .map(|c| format!("\"{}\" ({}:{})", c.name, c.section_id, c.rating_key))
                .collect();
            Err(store::bad_argument(
                "collection",
                format!(
                    "no collection named \"{spec}\"; known: {}",
                    if names.is_empty() {
                        "none yet (run `analytics collect`)".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            ))
        }
        many => Err(store::bad_argument(
            "collection",
            format!(
                "\"{spec}\" names collections in several libraries: {}; name one as \
                 SECTION:RATING_KEY",
                many.iter()
                    .map(|c| format!("{}:{} in \"{}\"", c.section_id, c.rating_key, c.library))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::store::tests::session;
    use crate::analytics::store::upsert_session;
    use serde_json::json;

    /// Libraries 1 Movies (movie), 2 TV (show), 3 Music (artist); collections per section.
    #[derive(Default)]
    struct Fake {
        fail_names: Option<Error>,
        fail_collections: Option<Error>,
        fail_children: Vec<i64>,
        calls: Vec<String>,
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

    fn cfg(v: serde_json::Value) -> AnalyticsConfig {
        AnalyticsConfig::from_engine_config(&json!({ "analytics": v })).unwrap()
    }

    fn plex_down() -> Error {
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

    #[test]
    fn saving_retires_what_is_gone_and_keeps_discoveries_when_plex_is_down() {
        let mut store = Store::open_in_memory().unwrap();
        let c = cfg(json!({"discover": true, "collections": [
            {"name": "A", "library": "Movies", "rating_key": 9, "members": [101, 199]}]}));
        let mut s = session(1, 1, 202, 100);
        s.grandparent_rating_key = Some(199);
        s.media_type = crate::analytics::session::MediaType::Episode;
        upsert_session(store.conn(), &s).unwrap();

        let r = resolve(&c, &mut Fake::default(), &[]).unwrap();
        let rep = save(&mut store, &r, true, 10).unwrap();
        assert_eq!(
            (rep.config, rep.discovered, rep.kept, rep.retired),
            (1, 3, 0, 0)
        );
        let a = find(&store, "A").unwrap();
        let m = members(&store, a.id).unwrap();
        assert_eq!(m[0].kind, None, "101 was never played");
        assert_eq!(
            m[1].kind.as_deref(),
            Some("show"),
            "told by the episode's grandparent"
        );

        // Plex down: discovered collections stay active.
        let mut f = Fake {
            fail_collections: Some(plex_down()),
            ..Fake::default()
        };
        let known = known_libraries(&store).unwrap();
        let r = resolve(&c, &mut f, &known).unwrap();
        let rep = save(&mut store, &r, true, 20).unwrap();
        assert_eq!((rep.config, rep.discovered, rep.kept), (1, 3, 3));

        // Discovery off and the config collection gone: everything retired.
        let off = cfg(json!({"discover": false}));
        let r = resolve(&off, &mut Fake::default(), &known).unwrap();
        let rep = save(&mut store, &r, false, 30).unwrap();
        assert_eq!((rep.config, rep.discovered, rep.retired), (0, 0, 4));
        assert!(active_collections(&store).unwrap().is_empty());
        assert_eq!(all_collections(&store).unwrap().len(), 4);
    }

    #[test]
    fn find_by_name_or_identity() {
        let mut store = Store::open_in_memory().unwrap();
        let r = resolve(&cfg(json!({"discover": true})), &mut Fake::default(), &[]).unwrap();
        save(&mut store, &r, true, 1).unwrap();
        let e = find(&store, "Favourites").unwrap_err().to_string();
        assert!(
            e.contains("1:5001 in \"Movies\"") && e.contains("2:6001 in \"TV\""),
            "{e}"
        );
        assert_eq!(find(&store, "2:6001").unwrap().library, "TV");
        assert_eq!(find(&store, "noir").unwrap().rating_key, 5002);
        let e = find(&store, "Nope").unwrap_err().to_string();
        assert!(e.contains("\"Noir\" (1:5002)"), "{e}");
    }
}
