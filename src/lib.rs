//! Read-only Tautulli history source plugin for a CrossWatch-style sync engine.
//!
//! Data flows one way: [`client`] (HTTP, envelope) -> [`history`] (paging) -> [`rows`]
//! (typed wire rows) -> [`normalise`] (row -> item, using [`guid`], [`ids`], [`keys`]) ->
//! [`index`] (newest-wins, report) -> [`provider`] / [`ffi`] (the contract).
//!
//! Every module is private: the host reaches the plugin through the exported root module
//! (`ffi`), and Rust callers (the integration tests) through the few items re-exported
//! here, so rustc can tell what nothing uses.
// The abi_stable export needs `#[no_mangle]`, which is unsafe code, and the test builds'
// counting allocator implements `GlobalAlloc`: both are allowed where they are declared
// below, nowhere else.
#![deny(unsafe_code)]

// Its engineer prunes it (`chart::compute` is unused since
// the modules became private); until then its dead code is not this crate root's error.
#[allow(dead_code)]
mod analytics;
mod clock;
mod config;
mod error;
#[allow(unsafe_code)]
mod ffi;
mod hash;
mod index;
mod provider;
mod sanitize;
mod tautulli;
#[cfg(test)]
mod testutil;
mod timefmt;

pub use analytics::chart::{Chart, ChartKind};
pub use analytics::service::AnalyticsService;
pub use analytics::session::Session;
pub use analytics::store::Store;
pub use config::TautulliConfig;
pub use error::{Error, Result};
pub use index::cursor::{HistoryCursor, Step, BATCH};
pub use index::state::FILE_NAME as STATE_FILE_NAME;
pub use provider::TautulliSource;
pub use tautulli::client::{Client, Command};
pub use timefmt::{parse_utc, TIME_RANGE};
