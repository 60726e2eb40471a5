//! Plays per local day by stream decision (direct play, direct stream, transcode).

use super::input::{count, date_labels, day_category, tally, Input};
use super::series::{Series, DECISIONS};

pub(super) fn stream_types(input: &mut Input) -> (Vec<String>, Vec<Series>) {
    let days = input.days(false);
    let (series, before, unknown) = tally(
        input,
        |r| r.local_day,
        days.len(),
        DECISIONS.iter().map(|d| d.label().to_string()).collect(),
        day_category(&days),
        |r| DECISIONS.iter().position(|&d| d == r.decision),
    );
    input.note_before_first_day(before);
    if unknown > 0 {
        input.notes.push(format!(
            "{} with an unknown stream decision left out",
            count(unknown, "viewing", "viewings")
        ));
    }
    (date_labels(&days), series)
}

#[cfg(test)]
mod tests {
    use crate::analytics::chart::testutil::*;

    #[test]
    fn stream_types_per_day_with_unknown_noted() {
        let now = utc(2026, 11, 21, 12, 0);
        let with = |id, day, decision| Session {
            decision,
            ..s(id, utc(2026, 11, day, 10, 0), utc(2026, 11, day, 11, 0))
        };
        let sessions = vec![
            with(1, 19, StreamDecision::DirectPlay),
            with(2, 19, StreamDecision::Transcode),
            with(3, 20, StreamDecision::DirectStream),
            with(4, 21, StreamDecision::Unknown),
            with(5, 21, StreamDecision::DirectPlay),
        ];
        let c = utc_chart(ChartKind::StreamTypes, &sessions, now, 3);
        assert_eq!(c.categories, ["2026-11-19", "2026-11-20", "2026-11-21"]);
        assert_eq!(data(&c, "Direct Play"), [1, 0, 1]);
        assert_eq!(data(&c, "Direct Stream"), [0, 1, 0]);
        assert_eq!(data(&c, "Transcode"), [1, 0, 0]);
        assert_eq!(data(&c, "Total"), [2, 1, 1]);
        assert_eq!(
            c.notes,
            ["1 viewing with an unknown stream decision left out"]
        );
        assert_total_is_sum(&c);
    }
}
