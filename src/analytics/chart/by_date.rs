//! Plays per local calendar day of the window, by media series.

use super::input::{date_labels, day_category, tally, Input};
use super::series::Series;

pub(super) fn plays_by_date(input: &mut Input) -> (Vec<String>, Vec<Series>) {
    let days = input.days(false);
    let (series, before, other) = tally(
        input,
        |r| r.local_day,
        days.len(),
        input.media_labels(),
        day_category(&days),
        |r| input.media_index(r),
    );
    input.note_before_first_day(before);
    input.note_other_media(other);
    (date_labels(&days), series)
}

#[cfg(test)]
mod tests {
    use crate::analytics::chart::testutil::*;

    #[test]
    fn plays_by_date_has_every_day_with_zeros_and_a_total() {
        let now = utc(2026, 11, 21, 12, 0);
        let sessions = vec![
            s(1, utc(2026, 11, 15, 20, 0), utc(2026, 11, 15, 22, 0)),
            ep(2, utc(2026, 11, 15, 18, 0), utc(2026, 11, 15, 19, 0)),
            ep(3, utc(2026, 11, 17, 9, 0), utc(2026, 11, 17, 10, 0)),
            s(4, utc(2026, 11, 21, 8, 0), utc(2026, 11, 21, 10, 0)),
            // Outside the 7-day window entirely.
            s(5, utc(2026, 11, 1, 8, 0), utc(2026, 11, 1, 10, 0)),
        ];
        let c = utc_chart(ChartKind::PlaysByDate, &sessions, now, 7);
        assert_eq!(
            c.categories,
            [
                "2026-11-15",
                "2026-11-16",
                "2026-11-17",
                "2026-11-18",
                "2026-11-19",
                "2026-11-20",
                "2026-11-21"
            ]
        );
        assert_eq!(names(&c), ["TV", "Movies", "Total"]);
        assert_eq!(data(&c, "TV"), [1, 0, 1, 0, 0, 0, 0]);
        assert_eq!(data(&c, "Movies"), [1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(data(&c, "Total"), [2, 0, 1, 0, 0, 0, 1]);
        assert_eq!(c.title, "Plays by date (last 7 days)");
        assert_eq!(c.timezone, "UTC");
        assert!(c.notes.is_empty(), "{:?}", c.notes);
        assert_total_is_sum(&c);
    }
}
