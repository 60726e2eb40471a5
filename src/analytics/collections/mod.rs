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

mod resolve;
mod source;
mod stored;

pub(crate) use resolve::{resolve, Member};
#[cfg(test)]
pub(crate) use resolve::{Origin, Resolution, ResolvedCollection};
pub(crate) use source::{ClientCollections, CollectionSource};
pub use stored::ResolveReport;
pub(crate) use stored::{
    active_collections, find, known_libraries, members, save, StoredCollection,
};
