//! Collections as stored: a resolution saved in one transaction (what is gone retired, its
//! snapshots kept), and the stored collections and members read back.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::resolve::{Member, Origin, Resolution, ResolvedCollection};
use crate::analytics::store::{self, Store};
use crate::error::Result;
use crate::sanitize::clean_text;

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
    let tx = store.begin_write()?;
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
    use serde_json::json;

    use super::*;
    use crate::analytics::collections::resolve::resolve;
    use crate::analytics::collections::resolve::tests::{cfg, plex_down, Fake};
    use crate::analytics::store::tests::session;
    use crate::analytics::store::upsert_session;

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
