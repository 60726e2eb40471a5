//! What a chart's values measure: viewings (Tautulli's `y_axis=plays`) or the seconds
//! watched (`y_axis=duration`), and how a chart is asked for beyond its kind and window.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ChartKind;

/// What a chart's values measure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum YAxis {
    /// Viewings.
    #[default]
    Plays,
    /// Seconds watched: per session `stopped - started - paused`, as Tautulli sums them.
    Duration,
}

impl YAxis {
    pub fn as_str(self) -> &'static str {
        match self {
            YAxis::Plays => "plays",
            YAxis::Duration => "duration",
        }
    }

    /// Parses `plays` or `duration` (any case, trimmed); the error says what is accepted.
    pub(crate) fn parse(s: &str) -> Result<YAxis, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "plays" | "" => Ok(YAxis::Plays),
            "duration" => Ok(YAxis::Duration),
            other => Err(format!("unknown y axis \"{other}\": use plays or duration")),
        }
    }

    /// Whether `kind` can be drawn on this axis: every chart counts plays; every chart but
    /// concurrency (a count of streams) sums durations, as Tautulli offers it.
    pub fn fits(self, kind: ChartKind) -> bool {
        self == YAxis::Plays || kind != ChartKind::Concurrency
    }
}

impl fmt::Display for YAxis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a chart is computed beyond its kind, zone and window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChartOptions {
    /// Rows of the top-users / top-platforms charts (0 = all).
    pub(crate) top_n: usize,
    pub(crate) y_axis: YAxis,
    /// Sessions sharing a `reference_id` count as one viewing (Tautulli's grouping on).
    pub(crate) grouping: bool,
}

impl ChartOptions {
    /// Viewings, grouped, the top `top_n`: what a chart was before the options existed.
    #[cfg(test)]
    pub(crate) fn plays(top_n: usize) -> ChartOptions {
        ChartOptions {
            top_n,
            y_axis: YAxis::Plays,
            grouping: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_parse_and_fit_their_charts() {
        assert_eq!(YAxis::parse(" Duration "), Ok(YAxis::Duration));
        assert_eq!(YAxis::parse("plays"), Ok(YAxis::Plays));
        assert!(YAxis::parse("hours")
            .unwrap_err()
            .contains("plays or duration"));
        assert!(!YAxis::Duration.fits(ChartKind::Concurrency));
        assert!(YAxis::Duration.fits(ChartKind::TopPlatforms));
        assert!(YAxis::Plays.fits(ChartKind::Concurrency));
        assert_eq!(
            serde_json::to_string(&YAxis::Duration).unwrap(),
            "\"duration\""
        );
    }
}
