//! The series a chart splits its plays into: the media series (Tautulli's TV, Movies, Music,
//! Live TV), the stream decisions, and the sum series every chart ends with.

use serde::{Deserialize, Serialize};

#[cfg(test)]
use crate::analytics::session::Session;
use crate::analytics::session::{MediaType, StreamDecision};

/// The name of the per-bucket sum series.
pub(super) const TOTAL: &str = "Total";
/// The name of the all-streams series of the concurrency chart (Tautulli's).
pub(super) const MAX_CONCURRENT: &str = "Max. Concurrent Streams";

/// One named row of values, one per category.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Series {
    pub name: String,
    pub data: Vec<u64>,
}

/// The media series a viewing counts in (Tautulli's plays-by-date series).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum MediaSeries {
    Tv,
    Movies,
    Music,
    LiveTv,
}

impl MediaSeries {
    #[cfg(test)]
    pub(super) fn of(s: &Session) -> Option<MediaSeries> {
        MediaSeries::classify(s.live, s.media_type)
    }

    pub(super) fn classify(live: bool, media_type: MediaType) -> Option<MediaSeries> {
        if live {
            return Some(MediaSeries::LiveTv);
        }
        match media_type {
            MediaType::Episode => Some(MediaSeries::Tv),
            MediaType::Movie => Some(MediaSeries::Movies),
            MediaType::Track => Some(MediaSeries::Music),
            MediaType::Other => None,
        }
    }

    /// The series a chart shows: TV and Movies always, Music and Live TV only when the data
    /// set has such plays (Tautulli shows them only for library types that exist).
    pub(super) fn shown(has_music: bool, has_live: bool) -> Vec<MediaSeries> {
        let mut media = vec![MediaSeries::Tv, MediaSeries::Movies];
        if has_music {
            media.push(MediaSeries::Music);
        }
        if has_live {
            media.push(MediaSeries::LiveTv);
        }
        media
    }

    pub(super) fn label(self) -> &'static str {
        match self {
            MediaSeries::Tv => "TV",
            MediaSeries::Movies => "Movies",
            MediaSeries::Music => "Music",
            MediaSeries::LiveTv => "Live TV",
        }
    }
}

pub(super) const DECISIONS: [StreamDecision; 3] = [
    StreamDecision::DirectPlay,
    StreamDecision::DirectStream,
    StreamDecision::Transcode,
];

pub(super) fn with_total(names: Vec<String>, data: Vec<Vec<u64>>) -> Vec<Series> {
    let n = data.first().map_or(0, Vec::len);
    let total: Vec<u64> = (0..n)
        .map(|c| data.iter().map(|row| row[c]).sum())
        .collect();
    let mut series: Vec<Series> = names
        .into_iter()
        .zip(data)
        .map(|(name, data)| Series { name, data })
        .collect();
    series.push(Series {
        name: TOTAL.to_string(),
        data: total,
    });
    series
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::chart::testutil::*;

    #[test]
    fn music_and_live_tv_appear_only_when_the_data_set_has_them() {
        let now = utc(2026, 11, 21, 12, 0);
        let track = Session {
            media_type: MediaType::Track,
            ..s(1, utc(2026, 11, 21, 8, 0), utc(2026, 11, 21, 8, 4))
        };
        let live = Session {
            live: true,
            ..ep(2, utc(2026, 11, 20, 8, 0), utc(2026, 11, 20, 9, 0))
        };
        let clip = Session {
            media_type: MediaType::Other,
            ..s(3, utc(2026, 11, 21, 9, 0), utc(2026, 11, 21, 9, 1))
        };
        let w = Window::last_days(now, 2);
        let c = chart(
            ChartKind::PlaysByDate,
            std::slice::from_ref(&track),
            "UTC",
            w,
        );
        assert_eq!(names(&c), ["TV", "Movies", "Music", "Total"]);
        let c = chart(
            ChartKind::PlaysByDate,
            &[track.clone(), live.clone(), clip],
            "UTC",
            w,
        );
        assert_eq!(names(&c), ["TV", "Movies", "Music", "Live TV", "Total"]);
        assert_eq!(data(&c, "Music"), [0, 1]);
        // A live episode counts as Live TV only, never also as TV.
        assert_eq!(data(&c, "Live TV"), [1, 0]);
        assert_eq!(data(&c, "TV"), [0, 0]);
        assert_eq!(data(&c, "Total"), [1, 1]);
        assert_eq!(
            c.notes,
            ["1 viewing of other media types (not TV, movie, music or live) left out"]
        );
        // The series set comes from the whole data set, not only the window.
        let c = chart(
            ChartKind::PlaysByDate,
            &[track],
            "UTC",
            Window::last_days(now + 30 * 86_400, 2),
        );
        assert_eq!(names(&c), ["TV", "Movies", "Music", "Total"]);
        assert_eq!(data(&c, "Total"), [0, 0]);
    }
}
