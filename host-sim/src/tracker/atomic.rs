//! Whole-file replacement that readers never see half-done: write a temporary file beside the
//! target, flush it to disk, then rename it over the target. A crash leaves either the old
//! file or the new one (plus, at worst, a stray hidden temp file), never a truncated one.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::{Result, TrackerError};

/// The Io error for `path`, the file the user knows about (not the temp file's name).
pub fn io_error(path: &Path) -> impl Fn(std::io::Error) -> TrackerError + '_ {
    move |source| TrackerError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Replaces `path` with whatever `fill` writes. `fill` maps its own write errors (use
/// [`io_error`]); if it fails, the temp file is removed and `path` is left as it was.
pub fn replace(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let io = io_error(path);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Exports are meant to be read by other tools and users, unlike a typical temp file.
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(&io)?;
    {
        let mut out = BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
        fill(&mut out)?;
        out.flush().map_err(&io)?;
    }
    tmp.as_file().sync_all().map_err(&io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    // Make the rename itself durable; failure here loses nothing already visible.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        std::fs::write(&path, "old content that is longer than the new one").unwrap();
        replace(&path, |w| w.write_all(b"new").map_err(io_error(&path))).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(names(dir.path()), ["f.json"]);
    }

    #[test]
    fn a_failing_writer_leaves_the_old_file_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        std::fs::write(&path, "old").unwrap();
        let err = replace(&path, |w| {
            w.write_all(b"partial").map_err(io_error(&path))?;
            Err(TrackerError::UnknownSnapshot { id: 9 })
        })
        .unwrap_err();
        assert!(matches!(err, TrackerError::UnknownSnapshot { id: 9 }));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(names(dir.path()), ["f.json"]);
    }

    #[test]
    fn a_missing_directory_is_an_io_error_naming_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("f.json");
        match replace(&path, |_| Ok(())) {
            Err(TrackerError::Io { path: p, .. }) => assert_eq!(p, path),
            other => panic!("{other:?}"),
        }
    }
}
