//! Read-only Tautulli history source plugin for a CrossWatch-style sync engine.
//!
//! Data flows one way: [`client`] (HTTP, envelope) -> [`history`] (paging) -> [`rows`]
//! (typed wire rows) -> [`normalise`] (row -> item, using [`guid`], [`ids`], [`keys`]) ->
//! [`index`] (newest-wins, report) -> [`provider`] / [`ffi`] (the contract).

pub mod rows;
