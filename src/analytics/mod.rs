//! The collection-analytics provider: a local SQLite copy of Tautulli history (synced
//! incrementally), per-collection watch statistics with snapshots, and charts computed from
//! the local copy, exactly and offline, in an explicit time zone.

pub mod chart;
pub mod collections;
pub mod config;
pub mod service;
pub mod session;
pub mod snapshots;
pub mod store;
pub mod sync;
