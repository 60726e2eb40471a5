//! Collection snapshots: for every collection and window, how much it was watched, recorded
//! append-only with an optional rotation (campaign) that is a real row of `rotations`.
//!
//! Counting, per window of `days` (0 = all time) ending at `now`:
//! - the sessions considered are those started at or before `now` that ended (else started)
//!   at or after `now - days * 86400`: Tautulli's own window rule, and the charts' one
//!   ([`Session::end`](crate::analytics::Session::end) gives the end);
//! - a session belongs to the collection when one of its rating keys (item, parent,
//!   grandparent) is a member;
//! - `plays` are viewings: distinct `reference_id`, as Tautulli counts with grouping on;
//! - `watch_seconds` sums the sessions' play seconds (negative values, which only a broken
//!   row can have, count as 0); `unique_users` counts distinct user ids;
//! - `items_with_plays` counts members with at least one session (a show member counts once,
//!   whatever number of its episodes were played); `total_items` counts members.
//!
//! Retention runs after every collect: snapshots older than `max_age_days` go, and per
//! collection only the newest `max_per_collection` runs (all windows of one collect are one
//! run) are kept.

mod collect;
mod query;
mod stats;
#[cfg(test)]
mod testutil;

pub(crate) use collect::collect;
pub use collect::CollectReport;
pub(crate) use query::{diff, history, latest, rotation, rotations, top, RunRef};
