//! Plays by local hour of the day and by day of the week, by media series.

use super::input::{tally, Input};
use super::series::Series;

pub(super) fn plays_by_hour(input: &mut Input) -> (Vec<String>, Vec<Series>) {
    let (series, _, other) = tally(
        input,
        |r| r.local_second / 3600,
        24,
        input.media_labels(),
        |h| usize::try_from(h).ok(),
        |r| input.media_index(r),
    );
    input.note_other_media(other);
    ((0..24).map(|h| format!("{h:02}")).collect(), series)
}

pub(super) fn plays_by_weekday(input: &mut Input) -> (Vec<String>, Vec<Series>) {
    const NAMES: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    // 1970-01-01 was a Thursday (4 days after a Sunday).
    let (series, _, other) = tally(
        input,
        |r| (i64::from(r.local_day) + 4).rem_euclid(7),
        7,
        input.media_labels(),
        |d| usize::try_from(d).ok(),
        |r| input.media_index(r),
    );
    input.note_other_media(other);
    (NAMES.iter().map(|s| s.to_string()).collect(), series)
}

#[cfg(test)]
mod tests {
    use crate::analytics::chart::testutil::*;

    #[test]
    fn plays_by_hour_has_24_zero_padded_hours() {
        let now = utc(2026, 11, 21, 12, 0);
        let sessions = vec![
            ep(1, utc(2026, 11, 20, 20, 10), utc(2026, 11, 20, 21, 0)),
            ep(2, utc(2026, 11, 19, 20, 50), utc(2026, 11, 19, 21, 30)),
            s(3, utc(2026, 11, 19, 22, 0), utc(2026, 11, 20, 0, 30)),
            s(4, utc(2026, 11, 21, 0, 5), utc(2026, 11, 21, 1, 0)),
        ];
        let c = utc_chart(ChartKind::PlaysByHour, &sessions, now, 7);
        assert_eq!(c.categories.len(), 24);
        assert_eq!(c.categories[0], "00");
        assert_eq!(c.categories[9], "09");
        assert_eq!(c.categories[23], "23");
        let mut tv = [0u64; 24];
        tv[20] = 2;
        let mut movies = [0u64; 24];
        movies[22] = 1;
        movies[0] = 1;
        assert_eq!(data(&c, "TV"), tv);
        assert_eq!(data(&c, "Movies"), movies);
        assert_total_is_sum(&c);
        assert_eq!(c.x_label, "Hour of day");
    }

    #[test]
    fn plays_by_weekday_runs_sunday_to_saturday() {
        let now = utc(2026, 11, 22, 23, 0);
        // 2026-11-15 is a Sunday, 2026-11-21 a Saturday.
        let sessions = vec![
            s(1, utc(2026, 11, 15, 10, 0), utc(2026, 11, 15, 11, 0)),
            s(2, utc(2026, 11, 22, 10, 0), utc(2026, 11, 22, 11, 0)),
            ep(3, utc(2026, 11, 21, 10, 0), utc(2026, 11, 21, 11, 0)),
            ep(4, utc(2026, 11, 18, 10, 0), utc(2026, 11, 18, 11, 0)),
        ];
        let c = utc_chart(ChartKind::PlaysByWeekday, &sessions, now, 30);
        assert_eq!(
            c.categories,
            [
                "Sunday",
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday"
            ]
        );
        assert_eq!(data(&c, "Movies"), [2, 0, 0, 0, 0, 0, 0]);
        assert_eq!(data(&c, "TV"), [0, 0, 0, 1, 0, 0, 1]);
        assert_eq!(data(&c, "Total"), [2, 0, 0, 1, 0, 0, 1]);
    }
}
