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

mod answer;
mod bomb;
mod catalog;
pub mod clock;
mod collections;
mod commands;
pub mod cost;
mod ctx;
mod faults;
pub mod generate;
pub mod graphs;
mod history;
mod http;
mod item_stats;
mod metadata;
mod params;
pub mod scenario;
pub mod server;

pub use cost::CostModel;
pub use faults::FaultRule;
pub use scenario::*;
pub use server::*;
