//! `tracker export` for users who import files into CrossWatch: the ZIP its Editor's "Import
//! tracker archive" takes, the merge onto the user's own `history.json` (`--base`), and
//! snapshot files that keep their snapshot's time. When Python and the CrossWatch engine's
//! source are at hand (`CROSSWATCH_SRC`, or `shared/vendor/crosswatch` beside a parent of this
//! checkout), the engine's own import function reads the ZIP.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use fake_tautulli::Scenario;
use serde_json::{json, Value};

use crate::testutil::Env;

/// The engine's Editor module, loaded by file (its package `__init__` needs the web stack),
/// with its Tracker root pointed at `argv[2]`; it imports the upload `argv[3]` through the
/// same function its route calls and prints what it then reads back.
const ENGINE_IMPORT: &str = r#"
import importlib.util, json, sys
from pathlib import Path
engine, root, upload = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
sys.path.insert(0, engine)
spec = importlib.util.spec_from_file_location("cw_editor", str(Path(engine) / "services" / "editor.py"))
editor = importlib.util.module_from_spec(spec)
spec.loader.exec_module(editor)
editor._root_dir = lambda provider_instance=None: root
stats = editor.import_tracker_upload(upload.read_bytes(), upload.name)
print(json.dumps({
    "stats": stats,
    "state": editor.load_state("history"),
    "snapshots": [m["name"] for m in editor.list_snapshots("history")],
}))
"#;

/// The engine's source folder, if this machine has it.
fn engine_dir() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("CROSSWATCH_SRC") {
        Some(dir) => vec![dir.into()],
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|p| p.join("shared/vendor/crosswatch"))
            .collect(),
    };
    candidates
        .into_iter()
        .find(|dir| dir.join("services/editor.py").is_file())
}

/// Runs the engine's import of `upload` into the Tracker root `root`; `None` (and a note
/// on stderr) when Python or the engine is not here.
fn engine_import(root: &Path, upload: &Path, scratch: &Path) -> Option<Value> {
    let Some(engine) = engine_dir() else {
        eprintln!("skipped the engine's import: its source is not here (set CROSSWATCH_SRC)");
        return None;
    };
    let out = Command::new("python3")
        .arg("-c")
        .arg(ENGINE_IMPORT)
        .arg(&engine)
        .arg(root)
        .arg(upload)
        // Its config module creates its config folder on import; never write into the source.
        .env("CONFIG_BASE", scratch)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output();
    match out {
        Err(e) => {
            eprintln!("skipped the engine's import: cannot run python3: {e}");
            None
        }
        Ok(out) => {
            assert!(
                out.status.success(),
                "the engine's import failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(serde_json::from_slice(&out.stdout).expect("the driver prints JSON"))
        }
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn mtime(path: &Path) -> i64 {
    let modified = std::fs::metadata(path).unwrap().modified().unwrap();
    let secs = modified.duration_since(SystemTime::UNIX_EPOCH).unwrap();
    i64::try_from(secs.as_secs()).unwrap()
}

#[test]
fn export_archive_merged_onto_crosswatchs_history_imports_without_loss() {
    let env = Env::new(Scenario::demo());
    env.sync();
    let ours = env.tracker_items();
    let ours = ours.as_object().unwrap();
    let (newer_key, newer_item) = ours.iter().next().unwrap();

    // CrossWatch's own Tracker: one item only it has, and a newer play of one of ours.
    let engine_root = env.path().join("crosswatch");
    std::fs::create_dir_all(&engine_root).unwrap();
    let mut newer = newer_item.clone();
    newer["watched_at"] = json!("2099-01-01T00:00:00Z");
    let only_crosswatch = json!({"type": "movie", "title": "Only in CrossWatch",
        "ids": {"tmdb": 999_999}, "watched_at": "2020-01-01T00:00:00Z"});
    let base_file = engine_root.join("history.json");
    let base = json!({"ts": 1, "items": {"movie|tmdb:999999": only_crosswatch, newer_key: newer}});
    std::fs::write(&base_file, base.to_string()).unwrap();

    let out = env.path().join("export");
    let (o, b) = (out.display().to_string(), base_file.display().to_string());
    let run = env
        .run(&["--json", "tracker", "export", "--out", &o, "--base", &b])
        .expect_ok();
    let summary = run.json();
    let archive = out.join("crosswatch-tracker.zip");
    assert_eq!(summary["archive_file"], json!(archive), "{run}");
    assert_eq!(
        summary["base"],
        json!({"file": base_file, "base_items": 2, "kept_from_base": 1,
               "base_newer": 1, "replaced": 0}),
        "{run}"
    );
    let exported = read_json(&out.join("history.json"));
    let items = exported["items"].as_object().unwrap();
    assert_eq!(items.len(), ours.len() + 1);
    assert_eq!(items["movie|tmdb:999999"], only_crosswatch);
    assert_eq!(items[newer_key.as_str()], newer);

    // The snapshot file keeps the snapshot's time, not the export's.
    let snapshots = env.snapshots();
    assert_eq!(snapshots.len(), 1);
    let stamp = snapshots[0]["stamp"].as_str().unwrap();
    let snapshot_name = format!("{stamp}-history.json");
    let snapshot_file = out.join("snapshots").join(&snapshot_name);
    assert_eq!(
        mtime(&snapshot_file),
        snapshots[0]["taken_at"].as_i64().unwrap()
    );

    // The engine's own import of the ZIP into its Tracker root, over its history.json.
    let scratch = tempfile::tempdir_in(env.path()).unwrap();
    let Some(imported) = engine_import(&engine_root, &archive, scratch.path()) else {
        return;
    };
    assert_eq!(
        imported["stats"],
        json!({"files": 2, "overwritten": 1, "states": 1, "snapshots": 1, "mode": "zip"}),
        "{imported}"
    );
    assert_eq!(imported["state"]["items"], exported["items"]);
    assert_eq!(imported["state"]["ts"], exported["ts"]);
    assert_eq!(imported["snapshots"], json!([snapshot_name]));
    assert_eq!(
        std::fs::read(engine_root.join("snapshots").join(&snapshot_name)).unwrap(),
        std::fs::read(&snapshot_file).unwrap()
    );
}

#[test]
fn export_to_a_chosen_zip_without_a_base() {
    let env = Env::new(Scenario::demo());
    env.sync();
    let out = env.path().join("export");
    let archive = env.path().join("elsewhere/tracker.zip");
    std::fs::create_dir_all(archive.parent().unwrap()).unwrap();
    let (o, z) = (out.display().to_string(), archive.display().to_string());
    let run = env
        .run(&["tracker", "export", "--out", &o, "--zip", &z])
        .expect_ok();
    assert!(run.stdout.contains(&z), "{run}");
    assert!(!run.stdout.contains("merged onto"), "{run}");
    assert!(archive.is_file());
    assert!(!out.join("crosswatch-tracker.zip").exists());
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&archive).unwrap()).unwrap();
    assert_eq!(zip.len(), 2);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("history.json").unwrap(), &mut text).unwrap();
    assert_eq!(
        text,
        std::fs::read_to_string(out.join("history.json")).unwrap()
    );
}

#[test]
fn a_malformed_base_fails_clearly_and_writes_nothing() {
    let env = Env::new(Scenario::demo());
    env.sync();
    let base = env.path().join("history.json");
    std::fs::write(&base, r#"{"ts": 1, "items": ["not", "a", "map"]}"#).unwrap();
    let out = env.path().join("export");
    let (o, b) = (out.display().to_string(), base.display().to_string());
    let run = env
        .run(&["tracker", "export", "--out", &o, "--base", &b])
        .expect_err();
    assert!(
        run.stderr.contains(&format!("cannot merge onto {b}")),
        "{run}"
    );
    assert!(run.stderr.contains("\"items\" is not an object"), "{run}");
    assert!(run.stderr.contains("nothing was written"), "{run}");
    assert!(!out.exists(), "{run}");
}
