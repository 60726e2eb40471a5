//! The simulated CrossWatch-style host: loads a provider plugin through the contract, runs
//! Tautulli -> Tracker imports with snapshots, and is the CLI a user runs.

pub mod error;
pub mod plugin;
pub mod tracker;

pub use error::{HostError, Result};
