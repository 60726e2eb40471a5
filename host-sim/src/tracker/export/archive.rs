//! The ZIP that CrossWatch's Editor "Import tracker archive" takes.
//!
//! The engine extracts every entry to the same relative path under its Tracker root, so the
//! archive holds the export's files under the names the Tracker itself uses: `<feature>.json`
//! at the top and `snapshots/<stamp>-<feature>.json`. Each entry carries its file's time
//! (the snapshot's for a snapshot), so a tool that keeps entry times restores them.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::super::{atomic, Result, TrackerError};

/// One file to put in the archive.
pub(super) struct Entry<'a> {
    /// The file on disk.
    pub source: &'a Path,
    /// Its path inside the archive, `/`-separated.
    pub name: String,
    /// Its time, epoch seconds.
    pub time: i64,
}

/// ZIP's DOS time (two-second steps, years 1980-2107) of `epoch`, in UTC; the nearest end of
/// that range when outside it.
fn dos_time(epoch: i64) -> DateTime {
    let civil = jiff::Timestamp::from_second(epoch)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .datetime();
    let part = |n: i8| n.unsigned_abs();
    u16::try_from(civil.year())
        .ok()
        .and_then(|year| {
            DateTime::from_date_and_time(
                year,
                part(civil.month()),
                part(civil.day()),
                part(civil.hour()),
                part(civil.minute()),
                part(civil.second()),
            )
            .ok()
        })
        .unwrap_or(if civil.year() < 1980 {
            DateTime::default()
        } else {
            DateTime::from_date_and_time(2107, 12, 31, 23, 59, 58).unwrap_or_default()
        })
}

/// Writes `entries` into a deflated ZIP at `path`, replaced atomically.
pub(super) fn write(path: &Path, entries: &[Entry<'_>]) -> Result<()> {
    atomic::replace(path, |w| {
        let zip_error = |e: zip::result::ZipError| TrackerError::Io {
            path: path.to_owned(),
            source: e.into(),
        };
        let mut zip = ZipWriter::new_stream(w);
        for entry in entries {
            let options = SimpleFileOptions::default()
                .compression_method(CompressionMethod::Deflated)
                .last_modified_time(dos_time(entry.time))
                .unix_permissions(0o644)
                .large_file(true);
            zip.start_file(entry.name.as_str(), options)
                .map_err(zip_error)?;
            let mut file = File::open(entry.source).map_err(atomic::io_error(entry.source))?;
            std::io::copy(&mut file, &mut zip).map_err(atomic::io_error(path))?;
        }
        let mut inner = zip.finish().map_err(zip_error)?;
        inner.flush().map_err(atomic::io_error(path))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_times_are_utc_and_clamped_to_zips_range() {
        let t = dos_time(1_794_435_481); // 2026-11-11T22:18:01Z
        assert_eq!(
            (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            (2026, 11, 11, 22, 18, 0),
            "two-second steps, rounded down"
        );
        assert_eq!(dos_time(0), DateTime::default());
        assert_eq!(
            dos_time(i64::MAX).year(),
            1980,
            "an impossible time is no time"
        );
        assert_eq!(dos_time(5_000_000_000).year(), 2107);
    }
}
