//! The host's options for one index read: the contract's [`IndexOptions`] itself, read from
//! the host's JSON by `provider::request`. What each one means to this plugin:
//! - `clear_metadata_cache`: forget every cached metadata answer of this server first, so
//!   every show and new-agent movie is asked again (after fixing a match in Plex);
//! - `reset_checkpoint`: ignore `checkpoint`, so the read is a full one (whose report then
//!   carries a new checkpoint);
//! - `dry_run`: the host only plans; the metadata cache is read but never written, so a dry
//!   run changes no file. The checkpoint given is used as in a real run, so the plan is
//!   exactly what that run would import;
//! - `checkpoint`: the token of the last committed import's report (`null`/absent: none),
//!   where `history.mode: incremental` starts.

pub use crosswatch_contract::payload::IndexOptions;
