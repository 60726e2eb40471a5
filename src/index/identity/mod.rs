//! Who an item is: external IDs ([`ids`]), Plex guids ([`guid`]) and the canonical keys the
//! engine files items under ([`keys`]).

pub mod guid;
pub mod ids;
pub mod keys;
pub mod row;
