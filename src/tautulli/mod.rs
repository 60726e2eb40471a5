//! The Tautulli side: what is asked of the server and what comes back, up to typed rows.
//!
//! [`client`] sends one API command and reads its envelope; [`rows`] is the typed shape of
//! the answers; [`reader`] pages `get_history` into rows for the index and the analytics
//! sync. Nothing here knows what an item or a chart is: data flows out of this module only.

pub mod client;
pub mod reader;
pub mod rows;
