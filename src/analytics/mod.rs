//! The collection-analytics provider: a local SQLite copy of Tautulli history (synced
//! incrementally), per-collection watch statistics with snapshots, and charts computed from
//! the local copy, exactly and offline, in an explicit time zone.

pub mod session;
