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

pub use cost::{CostModel, Work};
pub use faults::{ControlShape, Fault, FaultRule, Hold, Paging, ABSURD_TIMES, CONTROL_TEXT};
pub use generate::{generate, generated_demo, GenSpec, EPOCH_2026, EPOCH_2027};
pub use scenario::{
    ActivitySession, ApiKey, Client, Collection, Episode, ItemCommon, Library, Movie, Quirks,
    Scenario, ScenarioError, Season, ServerSettings, Session, Show, TranscodeDecision, User,
    WatchedPercent,
};
pub use server::{FakeServer, RecordedRequest, NO_CMD};
