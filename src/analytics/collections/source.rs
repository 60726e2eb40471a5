//! Where library names, collections and members come from: Tautulli's answers as read,
//! behind a trait so resolution can be tested against a table.

use std::sync::Arc;

use serde::Deserialize;

use crate::error::Result;
use crate::tautulli::client::{Client, Command};
use crate::tautulli::rows::{int_opt, string_opt};

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
