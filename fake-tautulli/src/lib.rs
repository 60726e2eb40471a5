//! An in-process fake Tautulli (API v2, as of 2.17.2, quirks included) on 127.0.0.1, driven
//! by a JSON [`Scenario`]. Used by the plugin's tests, the CLI's `demo` command and the
//! benchmark. Answers are computed the way Tautulli computes them (grouping, paging, watched
//! status), so tests against it mean something for the real server.
//!
//! ```no_run
//! use fake_tautulli::{FakeServer, Scenario};
//! let server = FakeServer::start(Scenario::demo()).unwrap();
//! println!("{}/api/v2?apikey=...&cmd=get_history", server.url());
//! ```
//!
//! The surface is what tests, the demo and the benchmark drive: a [`FakeServer`] serving a
//! [`Scenario`] (loaded from JSON, or [`generate`]d from a [`GenSpec`]), [`FaultRule`]s that
//! make it misbehave, and a [`CostModel`] that prices each request as the real server would.
//! Everything else is private, so rustc reports what no caller uses.

#![forbid(unsafe_code)]

mod answer;
mod bomb;
mod catalog;
mod clock;
mod collections;
mod commands;
mod cost;
mod ctx;
mod faults;
mod generate;
mod graphs;
mod history;
mod http;
mod item_stats;
mod metadata;
mod params;
mod scenario;
mod server;
#[cfg(test)]
mod testutil;

// Pricing requests like the real server.
pub use cost::{CostModel, Work};
// Making the server misbehave.
pub use faults::{ControlShape, Fault, FaultRule, Hold, Paging, ABSURD_TIMES, CONTROL_TEXT};
// Synthetic scenarios of any size.
pub use generate::{generate, generated_demo, GenSpec, EPOCH_2026, EPOCH_2027};
// What the server knows, as in a scenario file.
pub use scenario::{
    ActivitySession, ApiKey, Client, Collection, Episode, ItemCommon, Library, Movie, Quirks,
    Scenario, ScenarioError, Season, ServerSettings, Session, Show, TranscodeDecision, User,
    WatchedPercent,
};
// The running server and what it recorded.
pub use server::{FakeServer, RecordedRequest, NO_CMD};
