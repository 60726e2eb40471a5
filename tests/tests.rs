//! The plugin's integration tests, one binary with a module per topic (so the plugin and the
//! fake server are linked once), all through the crate's public API.

mod testutil;

mod analytics_parity;
mod analytics_store;
mod index;
mod state;
mod windowed;
