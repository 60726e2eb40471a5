//! Which chart is asked for: the kinds, their names on the wire and the CLI, and the error
//! for a name that is none of them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which chart to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChartKind {
    PlaysByDate,
    PlaysByHour,
    PlaysByWeekday,
    StreamTypes,
    Concurrency,
    TopUsers,
    TopPlatforms,
}

impl ChartKind {
    /// Every kind, in the order the CLI lists them.
    pub const ALL: [ChartKind; 7] = [
        ChartKind::PlaysByDate,
        ChartKind::PlaysByHour,
        ChartKind::PlaysByWeekday,
        ChartKind::StreamTypes,
        ChartKind::Concurrency,
        ChartKind::TopUsers,
        ChartKind::TopPlatforms,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChartKind::PlaysByDate => "plays-by-date",
            ChartKind::PlaysByHour => "plays-by-hour",
            ChartKind::PlaysByWeekday => "plays-by-weekday",
            ChartKind::StreamTypes => "stream-types",
            ChartKind::Concurrency => "concurrency",
            ChartKind::TopUsers => "top-users",
            ChartKind::TopPlatforms => "top-platforms",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<ChartKind, UnknownChartKind> {
        let wanted = s.trim();
        ChartKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownChartKind {
                given: s.to_string(),
            })
    }

    /// Whether the categories are the calendar days of the window.
    pub fn is_per_day(self) -> bool {
        matches!(
            self,
            ChartKind::PlaysByDate | ChartKind::StreamTypes | ChartKind::Concurrency
        )
    }
}

impl fmt::Display for ChartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChartKind {
    type Err = UnknownChartKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChartKind::parse(s)
    }
}

/// A chart name that is not one of [`ChartKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown chart kind {given:?}: use one of plays-by-date, plays-by-hour, plays-by-weekday, \
     stream-types, concurrency, top-users, top-platforms"
)]
pub struct UnknownChartKind {
    pub given: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_strings_and_serde() {
        for k in ChartKind::ALL {
            assert_eq!(ChartKind::parse(k.as_str()), Ok(k));
            assert_eq!(k.as_str().parse::<ChartKind>(), Ok(k));
            assert_eq!(k.to_string(), k.as_str());
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<ChartKind>(&json).unwrap(), k);
        }
        assert_eq!(
            ChartKind::parse(" Plays-By-Date "),
            Ok(ChartKind::PlaysByDate)
        );
        let err = ChartKind::parse("pie").unwrap_err();
        assert!(err.to_string().contains("\"pie\""));
        assert!(err.to_string().contains("top-platforms"));
    }
}
