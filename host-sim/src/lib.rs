//! The simulated CrossWatch-style host: loads a provider plugin through the contract, runs
//! Tautulli -> Tracker imports with snapshots, and is the CLI a user runs.
//!
//! Modules: [`plugin`] (loading, typed wrappers), [`config`] (engine config), [`tracker`]
//! (SQLite state and snapshots), [`sync`] (running pairs), [`report`] and [`progress`]
//! (output), [`cli`] (commands), [`demo`].

pub mod analytics;
pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod html_report;
pub mod plugin;
pub mod progress;
pub mod report;
pub mod svg;
pub mod sync;
pub mod tracker;

pub use error::{HostError, Result};
