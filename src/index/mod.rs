//! The index side: from typed history rows to the engine's index.
//!
//! [`rules`] decides which rows are plays; [`identity`] says who an item is and under which
//! key; [`item`] is the engine's item; [`builder`] keeps the plays that count; [`cursor`]
//! drives a read step by step for the host and hands the index out; [`checkpoint`] and
//! [`state`] are what a read leaves for the next one.

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
