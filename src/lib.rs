//! Read-only Tautulli history source plugin for a CrossWatch-style sync engine.
//!
//! Data flows one way, and no module reaches back up:
//!
//! ```text
//! tautulli::client -> tautulli::reader -> tautulli::rows::HistoryRow
//!     -> index::rules -> index::metadata -> index::item -> index::builder -> index::emission
//!     -> index::cursor -> provider -> ffi (the contract)
//! tautulli::reader -> analytics::sync -> analytics::store -> analytics::chart -> ffi
//! ```
//!
//! Where things are:
//! - `tautulli`: the Tautulli side. `client/` sends one API command (retries, timeouts),
//!   `client/answer` reads the envelope and says what an answer means, `client/scrub` keeps
//!   the key out of every message; `rows` is the one typed row shape
//!   and the lenient field readers; `reader/` reads the whole history: `windowed` (day
//!   windows planned from per-day counts, `plan`, parts joined by `merge`), `paged` (the
//!   `start` paging machine), `source` (the page-source traits and the pinned parameters),
//!   `ahead` (the threaded read-ahead through the client).
//! - `index`: the index side. `rules` decides which rows are plays; `identity/` parses
//!   guids (`guid`), holds IDs (`ids`), builds canonical keys (`keys`) and caches row
//!   identities (`row`); `metadata` asks `get_metadata` (in parallel, through the cache in
//!   `state`); `item` is the engine's item and how a play becomes one; `builder` keeps the
//!   plays that count; `emission` hands the index out in batches; `report` says what a read
//!   did; `cursor` drives a read step by step; `options` and `checkpoint` are what the host
//!   passes in and gets back.
//! - `analytics`: the local SQLite copy of the history, collections and charts.
//! - `config`, `error`, `timefmt` (UTC text and the range of times a play may carry),
//!   `sanitize` (server text made safe), `hash` and `clock` serve them all.
//! - `provider` is the engine's provider surface in Rust; `ffi` puts it behind the contract.
//!
//! Every module is private: the host reaches the plugin through the exported root module
//! (`ffi`), and Rust callers (the integration tests) through the few items re-exported
//! here, so rustc can tell what nothing uses.
// No unsafe code in the product. Test builds count allocations with a `GlobalAlloc`, which
// is unsafe to implement: there the lint is `deny`, allowed in that one module.
#![cfg_attr(not(test), forbid(unsafe_code))]
#![cfg_attr(test, deny(unsafe_code))]

mod analytics;
mod clock;
mod config;
mod error;
mod ffi;
mod hash;
mod index;
mod provider;
mod sanitize;
mod tautulli;
#[cfg(test)]
mod testutil;
mod timefmt;

pub use analytics::{AnalyticsService, Chart, ChartKind, Session, Store};
pub use config::TautulliConfig;
pub use error::{Error, Result};
pub use index::cursor::{HistoryCursor, Step, BATCH};
pub use index::state::FILE_NAME as STATE_FILE_NAME;
pub use provider::TautulliSource;
pub use tautulli::client::{Client, Command};
pub use timefmt::{parse_utc, TIME_RANGE};
