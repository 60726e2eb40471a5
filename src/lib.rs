//! Read-only Tautulli history source plugin for a CrossWatch-style sync engine.
//!
//! Data flows one way: [`client`] (HTTP, envelope) -> [`history`] (paging) -> [`rows`]
//! (typed wire rows) -> [`normalise`] (row -> item, using [`guid`], [`ids`], [`keys`]) ->
//! [`index`] (newest-wins, report) -> [`provider`] / [`ffi`] (the contract).

pub mod analytics;
pub mod checkpoint;
pub mod client;
pub mod config;
pub mod cursor;
pub mod error;
mod ffi;
pub mod guid;
pub mod history;
pub mod ids;
pub mod index;
pub mod item;
pub mod keys;
pub mod normalise;
pub mod provider;
pub mod reader;
pub mod rows;
pub mod sanitize;
pub mod state;
#[cfg(test)]
mod test_alloc;
#[cfg(test)]
mod testgen;
pub mod timefmt;
