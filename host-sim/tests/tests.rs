//! host-sim's integration tests: one binary, a module per topic, one `testutil`.
//!
//! The plugin files they load (today's plugin, a panicking and an incompatible one) are
//! dev-dependencies of host-sim, so the test command builds them once, before any test runs.

mod testutil;

mod analytics_cli;
mod analytics_report;
mod compat;
mod e2e;
mod export;
mod first_hour;
mod loader;
