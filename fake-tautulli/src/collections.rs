//! Plex collections as Tautulli passes them through: `get_collections_table` (Tautulli's
//! `libraries.get_collections_list`, plexapi `Collection` objects, camelCase keys and native
//! types) and `get_children_metadata` (`pmsconnect.get_item_children`: Plex XML attributes,
//! so every value is a string, `""` when Plex sends none). Both need Plex behind Tautulli.

use serde_json::{json, Map, Value};

use crate::answer::Answer;
use crate::catalog::{thumb_path, Node};
use crate::ctx::Ctx;
use crate::params::{parse_py_int, py_slice, Params};
use crate::scenario::{Collection, ItemCommon, Library, Scenario};

/// Fixed timestamp in Plex-style image paths (answers stay deterministic).
const IMAGE_TS: i64 = 1_600_000_000;

/// Columns the collections table can be ordered by (Tautulli's `dt_columns`).
const ORDER_COLUMNS: [&str; 4] = [
    "titleSort",
    "collectionMode",
    "collectionSort",
    "childCount",
];

/// The collection with this rating key.
pub fn find(s: &Scenario, rating_key: i64) -> Option<&Collection> {
    s.collections.iter().find(|c| c.rating_key == rating_key)
}

/// The members Plex lists for a collection: deleted items are gone from Plex.
pub fn live_members(ctx: &Ctx, c: &Collection) -> Vec<i64> {
    c.members
        .iter()
        .copied()
        .filter(|rk| !ctx.catalog.is_deleted(*rk))
        .collect()
}

fn library(s: &Scenario, section_id: i64) -> Option<&Library> {
    s.libraries.iter().find(|l| l.section_id == section_id)
}

fn common_of<'a>(s: &'a Scenario, ctx: &Ctx, rating_key: i64) -> Option<&'a ItemCommon> {
    match ctx.catalog.node(rating_key)? {
        Node::Movie(i) => Some(&s.movies[i].common),
        Node::Show(i) => Some(&s.shows[i].common),
        _ => None,
    }
}

fn mode_label(mode: i64) -> String {
    match mode {
        -1 => "Library Default".into(),
        0 => "Hide collection".into(),
        1 => "Hide items in this collection".into(),
        2 => "Show this collection and its items".into(),
        other => other.to_string(),
    }
}

fn sort_label(sort: i64) -> String {
    match sort {
        0 => "Release date".into(),
        1 => "Alphabetical".into(),
        2 => "Custom".into(),
        other => other.to_string(),
    }
}

/// One row as Tautulli builds it from plexapi (`librarySectionID`, `ratingKey`, `childCount`,
/// years as integers, `smart`/`collectionPublished` as booleans, dates as local ISO strings).
fn row(ctx: &Ctx, c: &Collection, lib: &Library) -> Value {
    let s = ctx.scenario;
    let members = live_members(ctx, c);
    let years: Vec<i64> = members
        .iter()
        .filter_map(|rk| common_of(s, ctx, *rk).and_then(|x| x.year))
        .collect();
    let iso = |t: Option<i64>| t.map(|t| ctx.zone.iso(t));
    let subtype = if lib.section_type == "show" {
        "show"
    } else {
        lib.section_type.as_str()
    };
    json!({
        "addedAt": iso(c.added_at),
        "art": null,
        "childCount": members.len(),
        "collectionMode": c.collection_mode,
        "collectionPublished": false,
        "collectionSort": c.collection_sort,
        "contentRating": null,
        "guid": format!("collection://00000000-0000-0000-0000-{:012x}", c.rating_key),
        "librarySectionID": lib.section_id,
        "librarySectionTitle": lib.section_name,
        "maxYear": years.iter().max(),
        "minYear": years.iter().min(),
        "ratingKey": c.rating_key,
        "smart": c.smart,
        "subtype": subtype,
        "summary": c.summary,
        "thumb": format!(
            "/library/collections/{}/composite/{}",
            c.rating_key,
            c.updated_at.unwrap_or(IMAGE_TS)
        ),
        "title": c.title,
        "titleSort": c.title_sort.clone().unwrap_or_else(|| c.title.clone()),
        "type": "collection",
        "updatedAt": iso(c.updated_at),
    })
}

/// `get_collections_table`. Without `section_id`: Tautulli's empty default (success, `draw`
/// 0). Plex offline, or a section Plex does not know: HTTP 500 (plexapi raises). A library
/// that cannot hold collections: no rows.
pub fn table(ctx: &Ctx, p: &Params, plex_online: bool) -> Answer {
    let get = |k: &str| p.get(k).map(String::as_str);
    // `build_datatables_json` runs first: `int()` of a bad start/length raises.
    let (Some(start), Some(length)) = (
        get("start").map_or(Some(0), parse_py_int),
        get("length").map_or(Some(25), parse_py_int),
    ) else {
        return Answer::server_error();
    };
    let section = get("section_id").unwrap_or("");
    if section.is_empty() {
        return Answer::success(&json!({
            "recordsFiltered": 0, "recordsTotal": 0, "draw": 0, "data": []
        }));
    }
    if !plex_online {
        return Answer::server_error();
    }
    let Some(lib) = section
        .trim()
        .parse()
        .ok()
        .and_then(|id| library(ctx.scenario, id))
    else {
        return Answer::server_error();
    };
    let mut rows: Vec<(&Collection, Value)> =
        if matches!(lib.section_type.as_str(), "movie" | "show" | "artist") {
            ctx.scenario
                .collections
                .iter()
                .filter(|c| c.section_id == lib.section_id)
                .map(|c| (c, row(ctx, c, lib)))
                .collect()
        } else {
            Vec::new()
        };
    let total = rows.len();
    let search = get("search").unwrap_or("").to_lowercase();
    if !search.is_empty() {
        rows.retain(|(c, v)| {
            [
                c.title.to_lowercase(),
                v["titleSort"].as_str().unwrap_or("").to_lowercase(),
                mode_label(c.collection_mode).to_lowercase(),
                sort_label(c.collection_sort).to_lowercase(),
            ]
            .iter()
            .any(|h| h.contains(&search))
        });
    }
    let filtered = rows.len();
    let title_sort = |v: &Value| v["titleSort"].as_str().unwrap_or("").to_lowercase();
    rows.sort_by_key(|(_, v)| title_sort(v));
    for (column, descending) in order(get("order_column"), get("order_dir"))
        .into_iter()
        .rev()
    {
        rows.sort_by(|(a, va), (b, vb)| {
            let ord = match column {
                "collectionMode" => mode_label(a.collection_mode)
                    .to_lowercase()
                    .cmp(&mode_label(b.collection_mode).to_lowercase()),
                "collectionSort" => sort_label(a.collection_sort)
                    .to_lowercase()
                    .cmp(&sort_label(b.collection_sort).to_lowercase()),
                "childCount" => va["childCount"].as_i64().cmp(&vb["childCount"].as_i64()),
                _ => title_sort(va).cmp(&title_sort(vb)),
            };
            if descending {
                ord.reverse()
            } else {
                ord
            }
        });
    }
    let page = py_slice(rows.len(), start, start.saturating_add(length));
    let data: Vec<Value> = rows.drain(page).map(|(_, v)| v).collect();
    Answer::success(&json!({
        "recordsFiltered": filtered,
        "recordsTotal": total,
        "data": data,
        "draw": 1,
    }))
}

/// `order_column`/`order_dir` as comma lists; unknown columns are skipped, a direction other
/// than asc/desc is desc. Default: `titleSort` descending.
fn order(columns: Option<&str>, dirs: Option<&str>) -> Vec<(&'static str, bool)> {
    let columns: Vec<&str> = columns
        .unwrap_or("titleSort")
        .split(',')
        .map(str::trim)
        .collect();
    let dirs: Vec<&str> = dirs.unwrap_or("desc").split(',').map(str::trim).collect();
    (0..columns.len().max(dirs.len()))
        .filter_map(|i| {
            let c = ORDER_COLUMNS
                .iter()
                .find(|&&k| Some(&k) == columns.get(i))?;
            let asc = dirs.get(i).is_some_and(|d| d.eq_ignore_ascii_case("asc"));
            Some((*c, !asc))
        })
        .collect()
}

/// Every field of a child row, Plex XML style: strings, `""` when absent.
#[derive(Default)]
struct Child<'a> {
    media_type: &'a str,
    rating_key: i64,
    parent_rating_key: Option<i64>,
    grandparent_rating_key: Option<i64>,
    title: &'a str,
    parent_title: &'a str,
    grandparent_title: &'a str,
    original_title: &'a str,
    media_index: Option<i64>,
    parent_media_index: Option<i64>,
    content_rating: &'a str,
    /// Seconds; written in milliseconds like Plex.
    duration: Option<i64>,
    year: Option<i64>,
    thumb: String,
    parent_thumb: String,
    grandparent_thumb: String,
    originally_available_at: &'a str,
    guid: &'a str,
    collections: Vec<&'a str>,
}

fn num(v: Option<i64>) -> Value {
    Value::String(v.map(|v| v.to_string()).unwrap_or_default())
}

impl Child<'_> {
    fn to_value(&self, lib: &Library) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_owned(), v);
        };
        put("media_type", self.media_type.into());
        put("section_id", lib.section_id.to_string().into());
        put("library_name", lib.section_name.as_str().into());
        put("rating_key", self.rating_key.to_string().into());
        put("parent_rating_key", num(self.parent_rating_key));
        put("grandparent_rating_key", num(self.grandparent_rating_key));
        put("title", self.title.into());
        put("parent_title", self.parent_title.into());
        put("grandparent_title", self.grandparent_title.into());
        put("original_title", self.original_title.into());
        put("sort_title", "".into());
        put("media_index", num(self.media_index));
        put("parent_media_index", num(self.parent_media_index));
        put("studio", "".into());
        put("content_rating", self.content_rating.into());
        for k in [
            "summary",
            "tagline",
            "rating",
            "rating_image",
            "audience_rating",
            "audience_rating_image",
            "user_rating",
        ] {
            put(k, "".into());
        }
        put("duration", num(self.duration.map(|d| d * 1000)));
        put("year", num(self.year));
        put("thumb", self.thumb.clone().into());
        put("parent_thumb", self.parent_thumb.clone().into());
        put("grandparent_thumb", self.grandparent_thumb.clone().into());
        put("art", "".into());
        put("banner", "".into());
        put(
            "originally_available_at",
            self.originally_available_at.into(),
        );
        for k in ["added_at", "updated_at", "last_viewed_at"] {
            put(k, "".into());
        }
        put("guid", self.guid.into());
        for k in ["directors", "writers", "actors", "genres", "labels"] {
            put(k, json!([]));
        }
        put("collections", json!(self.collections));
        put("full_title", self.title.into());
        Value::Object(m)
    }
}

/// Titles of the collections holding `rating_key` (Plex lists them as `Collection` tags).
fn collections_of(s: &Scenario, rating_key: i64) -> Vec<&str> {
    s.collections
        .iter()
        .filter(|c| c.members.contains(&rating_key))
        .map(|c| c.title.as_str())
        .collect()
}

fn member_child<'a>(s: &'a Scenario, ctx: &Ctx, rating_key: i64) -> Option<Child<'a>> {
    let (media_type, x, duration, content_rating) = match ctx.catalog.node(rating_key)? {
        Node::Movie(i) => {
            let m = &s.movies[i];
            (
                "movie",
                &m.common,
                Some(m.duration),
                &m.common.content_rating,
            )
        }
        Node::Show(i) => {
            let show = &s.shows[i];
            ("show", &show.common, None, &show.common.content_rating)
        }
        _ => return None,
    };
    Some(Child {
        media_type,
        rating_key,
        title: &x.title,
        original_title: &x.original_title,
        content_rating,
        duration,
        year: x.year,
        thumb: thumb_path(rating_key),
        originally_available_at: &x.originally_available_at,
        guid: &x.guid,
        collections: collections_of(s, rating_key),
        ..Child::default()
    })
}

/// `get_children_metadata`: a collection's members, a show's seasons or a season's
/// episodes. Anything else (unknown, deleted, a movie or episode, an empty container, Plex
/// offline) gives Tautulli's default `{"children_count": 0, "children_list": []}`.
pub fn children(ctx: &Ctx, rating_key: Option<i64>, plex_online: bool) -> Value {
    let empty = json!({"children_count": 0, "children_list": []});
    let s = ctx.scenario;
    let Some(rk) = rating_key.filter(|_| plex_online) else {
        return empty;
    };
    if ctx.catalog.is_deleted(rk) {
        return empty;
    }
    let (lib, container_title, kids): (Option<&Library>, String, Vec<Child>) =
        if let Some(c) = find(s, rk) {
            let kids = live_members(ctx, c)
                .into_iter()
                .filter_map(|m| member_child(s, ctx, m))
                .collect();
            (library(s, c.section_id), c.title.clone(), kids)
        } else {
            match ctx.catalog.node(rk) {
                Some(Node::Show(si)) => {
                    let show = &s.shows[si];
                    let kids = show
                        .seasons
                        .iter()
                        .filter(|season| !ctx.catalog.is_deleted(season.common.rating_key))
                        .map(|season| Child {
                            media_type: "season",
                            rating_key: season.common.rating_key,
                            parent_rating_key: Some(show.common.rating_key),
                            title: &season.common.title,
                            parent_title: &show.common.title,
                            media_index: season.media_index,
                            year: season.common.year,
                            thumb: thumb_path(season.common.rating_key),
                            parent_thumb: thumb_path(show.common.rating_key),
                            guid: &season.common.guid,
                            ..Child::default()
                        })
                        .collect();
                    (library(s, show.section_id), show.common.title.clone(), kids)
                }
                Some(Node::Season(si, ssi)) => {
                    let show = &s.shows[si];
                    let season = &show.seasons[ssi];
                    let kids = season
                        .episodes
                        .iter()
                        .filter(|e| !e.live && !ctx.catalog.is_deleted(e.common.rating_key))
                        .map(|e| Child {
                            media_type: "episode",
                            rating_key: e.common.rating_key,
                            parent_rating_key: Some(season.common.rating_key),
                            grandparent_rating_key: Some(show.common.rating_key),
                            title: &e.common.title,
                            parent_title: &season.common.title,
                            grandparent_title: &show.common.title,
                            original_title: &e.common.original_title,
                            media_index: e.media_index,
                            parent_media_index: season.media_index,
                            content_rating: &show.common.content_rating,
                            duration: Some(e.duration),
                            year: e.common.year.or(show.common.year),
                            thumb: thumb_path(e.common.rating_key),
                            parent_thumb: thumb_path(season.common.rating_key),
                            grandparent_thumb: thumb_path(show.common.rating_key),
                            originally_available_at: &e.common.originally_available_at,
                            guid: &e.common.guid,
                            ..Child::default()
                        })
                        .collect();
                    (
                        library(s, show.section_id),
                        season.common.title.clone(),
                        kids,
                    )
                }
                _ => return empty,
            }
        };
    let Some(lib) = lib.filter(|_| !kids.is_empty()) else {
        return empty;
    };
    json!({
        "children_count": kids.len(),
        "children_type": kids[0].media_type,
        "title": container_title,
        "children_list": kids.iter().map(|k| k.to_value(lib)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_lists_skip_unknown_columns() {
        assert_eq!(order(None, None), vec![("titleSort", true)]);
        assert_eq!(
            order(
                Some("childCount, bogus,titleSort"),
                Some("asc,desc,sideways")
            ),
            vec![("childCount", false), ("titleSort", true)]
        );
        assert_eq!(order(Some("title"), None), vec![]);
    }

    #[test]
    fn labels_are_plex_wording() {
        assert_eq!(mode_label(-1), "Library Default");
        assert_eq!(sort_label(1), "Alphabetical");
        assert_eq!(mode_label(9), "9");
    }
}
