//! One Tautulli session (an *ungrouped* `session_history` row) as the analytics store keeps
//! it. Grouped viewings stay possible through `reference_id`: sessions sharing it are one
//! viewing, as Tautulli counts plays by default.

use serde::{Deserialize, Serialize};

/// What was played.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaType {
    Movie,
    Episode,
    Track,
    Other,
}

impl MediaType {
    pub(crate) fn parse(s: &str) -> MediaType {
        match s {
            "movie" => MediaType::Movie,
            "episode" => MediaType::Episode,
            "track" => MediaType::Track,
            _ => MediaType::Other,
        }
    }
    /// The text Tautulli and the schema-1 store use.
    #[cfg(test)]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MediaType::Movie => "movie",
            MediaType::Episode => "episode",
            MediaType::Track => "track",
            MediaType::Other => "other",
        }
    }
}

/// How the stream was delivered (Tautulli's `transcode_decision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamDecision {
    /// `direct play`
    DirectPlay,
    /// `copy`: Tautulli's "Direct Stream".
    DirectStream,
    /// `transcode`
    Transcode,
    Unknown,
}

impl StreamDecision {
    pub(crate) fn parse(s: &str) -> StreamDecision {
        match s.trim().to_ascii_lowercase().as_str() {
            "direct play" => StreamDecision::DirectPlay,
            "copy" | "direct stream" => StreamDecision::DirectStream,
            "transcode" => StreamDecision::Transcode,
            _ => StreamDecision::Unknown,
        }
    }
    /// The text Tautulli and the schema-1 store use.
    #[cfg(test)]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StreamDecision::DirectPlay => "direct play",
            StreamDecision::DirectStream => "copy",
            StreamDecision::Transcode => "transcode",
            StreamDecision::Unknown => "",
        }
    }
    /// The series name Tautulli's graphs use.
    pub(crate) fn label(self) -> &'static str {
        match self {
            StreamDecision::DirectPlay => "Direct Play",
            StreamDecision::DirectStream => "Direct Stream",
            StreamDecision::Transcode => "Transcode",
            StreamDecision::Unknown => "Unknown",
        }
    }
}

/// One stored session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Tautulli's `session_history.id` (`row_id` with grouping=0).
    pub id: i64,
    /// The viewing this session belongs to (equals `id` for a lone session).
    pub reference_id: i64,
    pub user_id: i64,
    /// Friendly name, else user name, for display.
    pub user: String,
    /// Epoch seconds.
    pub started: i64,
    /// Epoch seconds; `None` when Tautulli has no stop time.
    pub stopped: Option<i64>,
    pub paused_seconds: i64,
    /// Seconds actually played (`play_duration`).
    pub play_seconds: i64,
    pub media_type: MediaType,
    pub live: bool,
    pub rating_key: i64,
    pub parent_rating_key: Option<i64>,
    pub grandparent_rating_key: Option<i64>,
    pub section_id: Option<i64>,
    pub decision: StreamDecision,
    pub platform: String,
    pub player: String,
    /// Display title (`full_title`).
    pub title: String,
}

impl Session {
    /// When the session ended: `stopped`, else start + played + paused when those are
    /// known, else `None` (such a session is left out of concurrency, and counted as such).
    pub fn end(&self) -> Option<i64> {
        end(
            self.started,
            self.stopped,
            self.play_seconds,
            self.paused_seconds,
        )
    }
}

/// [`Session::end`] from the stored values, for readers that hold numbers and no `Session`.
pub(crate) fn end(started: i64, stopped: Option<i64>, play: i64, paused: i64) -> Option<i64> {
    match stopped {
        Some(s) if s >= started => Some(s),
        _ if play > 0 => Some(started + play + paused),
        _ => None,
    }
}
