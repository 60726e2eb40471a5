//! The fake's integration tests, one binary with a module per topic (one link step, and the
//! test helpers compiled once).

mod testutil;

mod analytics_reference;
mod collections;
mod cost;
mod faults;
mod graphs;
mod history;
mod protocol;
mod reference;
mod scale;
