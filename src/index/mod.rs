//! The index side: from typed history rows to the engine's index.
//!
//! [`rules`] decides which rows are plays; [`identity`] says who an item is and under which
//! key; [`metadata`] asks Tautulli for the IDs a play's guid does not carry; [`item`] is the
//! engine's item and how a play becomes one; [`builder`] keeps the plays that count and
//! [`emission`] hands them out; [`report`] says what a read did; [`cursor`] drives a read
//! step by step for the host; [`options`], [`checkpoint`] and [`state`] are what a read is
//! given and leaves for the next one.

pub mod builder;
pub mod checkpoint;
pub mod cursor;
pub mod emission;
pub mod identity;
pub mod item;
pub mod metadata;
pub mod options;
pub mod report;
pub mod rules;
pub mod state;
