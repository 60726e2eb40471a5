//! Shared helpers for host-sim's integration tests: the plugin files, and running the real
//! `host-sim` binary against an in-process fake Tautulli.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The `cdylib` of `lib_name` (a `[lib] name`, e.g. `tautulli_plugin`), one of host-sim's
/// dev-dependencies. Cargo builds it before the tests, in the same build, into the directory
/// of the test binary itself, so no test starts a build of its own.
pub fn cdylib(lib_name: &str) -> PathBuf {
    use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe.parent().expect("the test binary's directory");
    let path = dir.join(format!("{DLL_PREFIX}{lib_name}{DLL_SUFFIX}"));
    assert!(
        path.is_file(),
        "{} is missing. `cargo test -p host-sim` (or `cargo test --workspace`) builds it with \
         the tests, as a dev-dependency of host-sim; run the tests that way.",
        path.display()
    );
    path
}

// ---------------------------------------------------------------------------------------------
// End-to-end helpers: run the real `host-sim` binary against an in-process fake Tautulli.
// ---------------------------------------------------------------------------------------------

use std::path::Path;
use std::process::{Child, Output, Stdio};

use fake_tautulli::{ApiKey, FakeServer, Fault, FaultRule, Hold, Scenario};
use serde_json::{json, Value};

/// The API key every e2e scenario is given: distinctive, so a leak is easy to spot.
pub const KEY: &str = "E2eSecretKeyQz7Wv9Xy4Tu6Rp3Nm5Lk";
/// A well-formed key the fake does not accept.
pub const WRONG_KEY: &str = "WrongKeyZz8Yy7Xx6Ww5Vv4Uu3Tt2Ss1";

/// Every key a run of this suite may hold; none may ever show up in output or files.
pub fn secrets() -> Vec<String> {
    vec![
        KEY.to_owned(),
        WRONG_KEY.to_owned(),
        Scenario::demo().api_key.expose().to_owned(),
        Scenario::reference().api_key.expose().to_owned(),
    ]
}

/// The secret (or a 16-character run of one, in case of truncation) found in `bytes`.
pub fn find_secret(bytes: &[u8]) -> Option<String> {
    for s in secrets() {
        let s = s.as_bytes();
        for window in [s, &s[..16], &s[s.len() - 16..]] {
            if bytes.windows(window.len()).any(|w| w == window) {
                return Some(String::from_utf8_lossy(window).into_owned());
            }
        }
    }
    None
}

/// The output of every `host-sim` run in this test process that passed the key check in
/// [`host_sim`]: (command line, stdout+stderr).
pub fn recorded_outputs() -> Vec<(String, String)> {
    outputs().lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn outputs() -> &'static Mutex<Vec<(String, String)>> {
    static OUT: OnceLock<Mutex<Vec<(String, String)>>> = OnceLock::new();
    OUT.get_or_init(Default::default)
}

/// One finished `host-sim` run.
#[derive(Debug)]
pub struct Run {
    pub args: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics (showing both streams) unless the run exited 0.
    pub fn expect_ok(self) -> Run {
        assert!(self.ok(), "host-sim {} failed:\n{self}", self.args);
        self
    }

    /// Panics (showing both streams) if the run exited 0.
    pub fn expect_err(self) -> Run {
        assert!(
            self.code.is_some_and(|c| c != 0),
            "host-sim {} should have failed:\n{self}",
            self.args
        );
        self
    }

    /// stdout parsed as one JSON value.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout of host-sim {} is not JSON ({e}):\n{self}",
                self.args
            )
        })
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The real `host-sim` binary with the real plugin and `--no-progress`, in `cwd`.
fn host_sim_command(cwd: &Path, args: &[&str]) -> Command {
    let plugin = cdylib("tautulli_plugin");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_host-sim"));
    cmd.arg("--plugin")
        .arg(&plugin)
        .arg("--no-progress")
        .args(args)
        .current_dir(cwd);
    cmd
}

/// Runs the real `host-sim` binary with the real plugin and `--no-progress`, in `cwd`.
/// Records the output and fails at once if any API key shows up in it.
pub fn host_sim(cwd: &Path, args: &[&str]) -> Run {
    let out: Output = host_sim_command(cwd, args).output().expect("run host-sim");
    checked_run(args, out)
}

/// A `host-sim` started without waiting. It is killed if the test ends (or panics) without
/// collecting it: a run held or stalled on purpose must not outlive its test.
pub struct Spawned(Option<Child>);

impl std::ops::Deref for Spawned {
    type Target = Child;
    fn deref(&self) -> &Child {
        self.0.as_ref().expect("not collected yet")
    }
}

impl std::ops::DerefMut for Spawned {
    fn deref_mut(&mut self) -> &mut Child {
        self.0.as_mut().expect("not collected yet")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `host-sim` like [`host_sim`] without waiting, for a test that kills it or runs
/// something beside it; collect it with [`collect`].
pub fn spawn_host_sim(cwd: &Path, args: &[&str]) -> Spawned {
    spawn_command(host_sim_command(cwd, args))
}

/// The lock wait, in seconds, of a run started by [`Env::spawn_impatient`].
pub const SHORT_LOCK_WAIT_SECS: u64 = 1;

fn spawn_command(mut cmd: Command) -> Spawned {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start host-sim");
    Spawned(Some(child))
}

/// Waits for a [`spawn_host_sim`] run (killed or not) and checks its output like
/// [`host_sim`].
pub fn collect(args: &[&str], mut spawned: Spawned) -> Run {
    let child = spawned.0.take().expect("collected once");
    let out = child.wait_with_output().expect("wait for host-sim");
    checked_run(args, out)
}

fn checked_run(args: &[&str], out: Output) -> Run {
    let run = Run {
        args: args.join(" "),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let both = format!("{}\n{}", run.stdout, run.stderr);
    // A leaking run fails its own test here; only clean runs join the shared record.
    if let Some(s) = find_secret(both.as_bytes()) {
        panic!(
            "API key material {s:?} in the output of host-sim {}:\n{run}",
            run.args
        );
    }
    outputs()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((run.args.clone(), both));
    run
}

/// Every regular file under `dir` (recursively), except the config files the test wrote
/// (`config*.json`, which hold the key on purpose), that contains API key material.
pub fn files_with_secrets(dir: &Path) -> Vec<(PathBuf, String)> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("config"))
        })
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            find_secret(&bytes).map(|s| (p, s))
        })
        .collect()
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// Names of the files under `dir`, recursively, relative to it.
pub fn file_names(dir: &Path) -> Vec<String> {
    files_under(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect()
}

/// Polls `done` every 10 ms for up to 60 s.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// CPU seconds a process has used so far (Linux `/proc`, 100 ticks a second).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Makes the first insert into `table` of the SQLite file `db` stall for hours (a trigger
/// counts a 3000³ cross join), so a test can kill a run in the middle of its write; undone
/// by [`unstall_inserts`].
pub fn stall_inserts(db: &Path, table: &str) {
    let sql = format!(
        "CREATE TABLE stall (x INTEGER);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
         INSERT INTO stall SELECT i FROM n;
         CREATE TRIGGER stall_inserts BEFORE INSERT ON {table}
         BEGIN SELECT count(*) FROM stall a, stall b, stall c; END;"
    );
    stall_db(db).execute_batch(&sql).expect("stall inserts");
}

/// Removes what [`stall_inserts`] added to `db`.
pub fn unstall_inserts(db: &Path) {
    stall_db(db)
        .execute_batch("DROP TRIGGER stall_inserts; DROP TABLE stall;")
        .expect("unstall inserts");
}

fn stall_db(db: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(db).expect("open the database");
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    conn
}

/// A scenario answering to [`KEY`].
pub fn keyed(mut scenario: Scenario) -> Scenario {
    scenario.api_key = ApiKey::new(KEY);
    scenario
}

/// The import pair.
pub fn import_pair() -> Value {
    json!({"source": "TAUTULLI", "target": "CROSSWATCH", "feature": "history"})
}

/// A test world: a fake Tautulli, a temp folder with `config.json`, the Tracker folder
/// `tracker/` (not created) and room for exports. On drop (unless the test already failed)
/// it checks that no file under the folder holds API key material.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub server: FakeServer,
    pub config: PathBuf,
}

impl Env {
    /// A fake serving `scenario` (re-keyed to [`KEY`]) and the default config.
    pub fn new(scenario: Scenario) -> Env {
        Env::with_server(FakeServer::start(keyed(scenario)).expect("start fake Tautulli"))
    }

    pub fn with_server(server: FakeServer) -> Env {
        let dir = tempfile::Builder::new()
            .prefix("host-sim-e2e-")
            .tempdir()
            .expect("tempdir");
        let config = dir.path().join("config.json");
        let env = Env {
            dir,
            server,
            config,
        };
        env.write_config(&env.base_config());
        env
    }

    /// The default config: the fake's URL and [`KEY`], quick retries, one import pair.
    pub fn base_config(&self) -> Value {
        json!({
            "tautulli": {
                "server_url": self.server.url(),
                "api_key": KEY,
                "backoff_ms": 10,
                "timeout": 2
            },
            "crosswatch": { "root_dir": self.root().display().to_string() },
            "pairs": [import_pair()]
        })
    }

    /// Rewrites `config.json` from the default config changed by `tweak`.
    pub fn config_with(&self, tweak: impl FnOnce(&mut Value)) {
        let mut v = self.base_config();
        tweak(&mut v);
        self.write_config(&v);
    }

    pub fn write_config(&self, v: &Value) {
        std::fs::write(&self.config, serde_json::to_vec_pretty(v).unwrap()).expect("write config");
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The Tracker folder named in the config.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("tracker")
    }

    /// Runs `host-sim --config <config.json> ARGS` in the temp folder.
    pub fn run(&self, args: &[&str]) -> Run {
        let config = self.config.display().to_string();
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        host_sim(self.dir.path(), &all)
    }

    /// Starts `host-sim --config <config.json> ARGS` in the temp folder without waiting.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        let config = self.config.display().to_string();
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        spawn_host_sim(self.dir.path(), &all)
    }

    /// [`Env::spawn`] with the Tracker's and the analytics store's lock waits cut to
    /// [`SHORT_LOCK_WAIT_SECS`] through the hidden variables host-sim and the plugin read for
    /// this alone: a test that holds a lock on purpose proves the wait without waiting 15 s.
    pub fn spawn_impatient(&self, args: &[&str]) -> Spawned {
        let config = self.config.display().to_string();
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        let mut cmd = host_sim_command(self.dir.path(), &all);
        let wait = SHORT_LOCK_WAIT_SECS.to_string();
        cmd.env("HOST_SIM_LOCK_WAIT_SECS", &wait)
            .env("TAUTULLI_PLUGIN_LOCK_WAIT_SECS", &wait);
        spawn_command(cmd)
    }

    /// `sync --json`, which must succeed; returns the first pair's result.
    pub fn sync(&self) -> Value {
        let run = self.run(&["--json", "sync"]).expect_ok();
        let v = run.json();
        assert_eq!(v["dry_run"], false, "{run}");
        v["pairs"][0].clone()
    }

    /// The Tracker's current items (key -> item), through `tracker export`.
    pub fn tracker_items(&self) -> Value {
        let out = tempfile::tempdir_in(self.dir.path()).expect("tempdir");
        let o = out.path().display().to_string();
        let run = self
            .run(&["--json", "tracker", "export", "--out", &o])
            .expect_ok();
        let summary = run.json();
        let text = std::fs::read_to_string(out.path().join("history.json")).expect("history.json");
        let v: Value = serde_json::from_str(&text).expect("history.json is JSON");
        assert_eq!(
            summary["item_count"].as_u64(),
            v["items"].as_object().map(|m| m.len() as u64),
            "{run}"
        );
        v["items"].clone()
    }

    /// Holds the next `get_history` request but `skip` (those are answered normally) until
    /// the returned gate is released: a run is then caught inside its read.
    pub fn hold_history(&self, skip: u32) -> Hold {
        let hold = Hold::new();
        if skip > 0 {
            self.server.push_fault(FaultRule::for_cmd(
                "get_history",
                Fault::Slow(std::time::Duration::ZERO),
                skip,
            ));
        }
        self.server.push_fault(FaultRule::for_cmd(
            "get_history",
            Fault::Hold(hold.clone()),
            1,
        ));
        hold
    }

    /// `tracker snapshots --json`, newest first.
    pub fn snapshots(&self) -> Vec<Value> {
        let run = self.run(&["--json", "tracker", "snapshots"]).expect_ok();
        run.json()
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("not a list:\n{run}"))
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let leaks = files_with_secrets(self.dir.path());
        assert!(leaks.is_empty(), "API key material in files: {leaks:?}");
    }
}
