//! The collection-analytics provider: a local SQLite copy of Tautulli history (synced
//! incrementally), per-collection watch statistics with snapshots, and charts computed from
//! the local copy, exactly and offline, in an explicit time zone.
//!
//! The FFI drives it through [`AnalyticsService`]; the store and its sessions are public too
//! so integration tests can look at what a sync wrote.

mod chart;
mod collections;
mod config;
mod grouping;
mod service;
mod session;
mod snapshots;
mod store;
mod sync;
mod window;

pub use chart::{Chart, ChartKind};
pub(crate) use config::config_warnings;
pub use service::AnalyticsService;
pub use session::Session;
pub use store::Store;
// The FFI's tests check these against the contract's payload types.
#[cfg(test)]
pub(crate) use snapshots::CollectReport;
