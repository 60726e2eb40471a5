//! Helpers the unit tests share.

use crate::params::Params;

/// Request parameters from literal pairs, as a query string would give them.
pub fn params(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
