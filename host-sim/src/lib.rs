//! The simulated CrossWatch-style host: loads a provider plugin through the contract, runs
//! Tautulli -> Tracker imports with snapshots, and is the CLI a user runs.
//!
//! Every module is private so that rustc reports what nothing uses; the surface below is what
//! the `host-sim` binary, the `host-sim-bench` binary (`src/bin/bench/`) and the
//! integration tests need, and nothing more.
//!
//! Modules: `plugin` (loading, typed wrappers), `config` (engine config), `tracker`
//! (SQLite state and snapshots), `sync` (running pairs), `report` and `progress`
//! (output), `cli` (commands), `demo`, `clock` (the one source of "now"), [`usage`] (peak memory and CPU time for the bench).

#![forbid(unsafe_code)]

mod analytics;
mod cli;
mod clock;
mod config;
mod demo;
mod error;
mod html_report;
mod plugin;
mod progress;
mod report;
mod svg;
mod sync;
mod tracker;
pub mod usage;

pub use cli::{run, Cli};
pub use error::{exit_code, HostError, Result};
pub use plugin::{default_path as default_plugin_path, Plugin};
// Named so that callers can match on `HostError::Tracker`.
pub use tracker::TrackerError;
