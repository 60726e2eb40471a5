//! What a new user meets in the first hour: typos in the config are named, a user id that
//! matches nobody is an error, `health` answers within one timeout and says what is wrong.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::testutil::{self, wait_until, Env};
use fake_tautulli::Scenario;
use serde_json::json;

/// A server on 127.0.0.1 that hands every connection to `serve` on its own thread; its URL.
fn serve_with(serve: fn(TcpStream)) -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || serve(s));
        }
    });
    url
}

#[test]
fn misspelled_keys_are_named_with_the_key_they_probably_meant() {
    let env = Env::new(Scenario::demo());
    env.config_with(|c| {
        c["crosswatch"]["root_dri"] = json!("elsewhere");
        c["crosswatch"]["_cw_private"] = json!(1);
        c["tautulli"]["history"] = json!({"watched_onyl": false});
        c["tautulli"]["_cw_history_rewatches"] = json!(true);
        c["analytics"] = json!({"windws": [7]});
        c["plex"] = json!({"tokken": "x"});
    });
    let wanted = [
        "warning: unknown config key `crosswatch.root_dri` (ignored): did you mean root_dir?",
        "warning: unknown config key `tautulli.history.watched_onyl` (ignored): did you mean \
         watched_only?",
        "warning: unknown config key `analytics.windws` (ignored): did you mean windows?",
    ];
    for args in [&["sync"][..], &["--json", "health"], &["index"]] {
        let run = env.run(args).expect_ok();
        for w in wanted {
            assert!(run.stderr.contains(w), "{w}\n{run}");
        }
        assert!(
            !run.stderr.contains("_cw_") && !run.stderr.contains("tokken"),
            "{run}"
        );
    }
    // The analytics commands that use the config say so too, in their reports.
    for args in [&["analytics", "sync"][..], &["analytics", "collect"]] {
        let run = env.run(args).expect_ok();
        let w = "unknown config key `analytics.windws` (ignored): did you mean windows?";
        assert!(run.stdout.contains(w), "{args:?}: {w}\n{run}");
        assert!(!run.stdout.contains("tokken"), "{run}");
    }
    // The JSON answers carry the plugin's warnings too, for hosts that read them.
    let health = env.run(&["--json", "health"]).expect_ok().json();
    assert_eq!(
        health["warnings"].as_array().map(Vec::len),
        Some(2),
        "{health}"
    );
    // A clean config warns about nothing.
    env.write_config(&env.base_config());
    let run = env.run(&["health"]).expect_ok();
    assert!(!run.stderr.contains("warning"), "{run}");
}

#[test]
fn a_user_id_that_matches_nobody_fails_and_lists_the_users() {
    let env = Env::new(Scenario::demo());
    env.config_with(|c| c["tautulli"]["history"] = json!({"user_id": 4242}));
    for args in [&["index"][..], &["sync"]] {
        let run = env.run(args).expect_err();
        assert!(run.stderr.contains("tautulli.history.user_id"), "{run}");
        assert!(run.stderr.contains("no Tautulli user has id 4242"), "{run}");
        assert!(
            run.stderr.contains("Alice A. (1001), Bob B. (1002)"),
            "{run}"
        );
    }
    let snaps = env.run(&["tracker", "snapshots"]).expect_ok();
    assert!(
        snaps.stdout.contains("no snapshots yet"),
        "nothing imported\n{snaps}"
    );
    // A user that exists reads that user's plays.
    env.config_with(|c| c["tautulli"]["history"] = json!({"user_id": 1001}));
    env.run(&["sync"]).expect_ok();
}

#[test]
fn health_against_a_host_that_never_answers_is_down_within_one_timeout() {
    let url = serve_with(|mut s| {
        // Read the request, then say nothing until the client gives up.
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        std::thread::sleep(Duration::from_secs(30));
    });
    let env = Env::new(Scenario::demo());
    env.config_with(|c| {
        c["tautulli"]["server_url"] = json!(url);
        c["tautulli"]["timeout"] = json!(1);
        c["tautulli"]["max_retries"] = json!(3);
    });
    let began = Instant::now();
    let run = env.run(&["health"]).expect_err();
    let took = began.elapsed();
    // Four attempts would take over 4 s; one is 1 s and the start of the process.
    assert!(took < Duration::from_millis(3500), "took {took:?}\n{run}");
    assert!(run.stdout.starts_with("down ("), "{run}");
    assert!(run.stdout.contains("unreachable"), "{run}");
}

#[test]
fn health_says_config_when_a_web_page_answers_where_the_api_should_be() {
    let url = serve_with(|mut s| {
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let page = "<!DOCTYPE html><html><body>Router login</body></html>";
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{page}",
            page.len()
        );
    });
    let env = Env::new(Scenario::demo());
    env.config_with(|c| c["tautulli"]["server_url"] = json!(url));
    let v = env.run(&["--json", "health"]).expect_err().json();
    assert_eq!(v["status"], "config", "{v}");
    assert_eq!(v["details"]["code"], "bad_response", "{v}");

    // Nothing listening at all: down.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    env.config_with(|c| c["tautulli"]["server_url"] = json!(format!("http://127.0.0.1:{port}")));
    let v = env.run(&["--json", "health"]).expect_err().json();
    assert_eq!(v["status"], "down", "{v}");
}

#[test]
fn demo_serve_keeps_the_demo_library_served_with_a_ready_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (out_arg, port_arg) = (out.display().to_string(), port.to_string());
    let args = ["demo", "--serve", "--port", &port_arg, "--out", &out_arg];
    let mut served = testutil::spawn_host_sim(dir.path(), &args);
    let config = out.join("config.json");
    wait_until("the demo's config", || config.exists());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    assert_eq!(
        v["tautulli"]["server_url"],
        format!("http://127.0.0.1:{port}")
    );

    // Every README command works against it, with nothing else to set up.
    let cfg = config.display().to_string();
    let run = |args: &[&str]| {
        let mut all = vec!["--config", cfg.as_str()];
        all.extend_from_slice(args);
        testutil::host_sim(dir.path(), &all)
    };
    assert!(run(&["health"]).expect_ok().stdout.starts_with("ok ("));
    run(&["sync", "--dry-run"]).expect_ok();
    run(&["sync"]).expect_ok();
    let snaps = run(&["tracker", "snapshots"]).expect_ok();
    assert!(!snaps.stdout.contains("no snapshots yet"), "{snaps}");
    assert!(
        out.join("tracker").is_dir(),
        "the Tracker is beside the config"
    );
    assert!(served.try_wait().unwrap().is_none(), "still serving");

    served.kill().unwrap();
    let done = testutil::collect(&args, served);
    assert!(done.stdout.contains("until Ctrl-C"), "{done}");
    assert!(
        done.stdout
            .contains(&format!("./run --config {cfg} sync --dry-run")),
        "{done}"
    );
}

#[test]
fn empty_pairs_say_there_is_nothing_to_run() {
    let env = Env::new(Scenario::demo());
    env.config_with(|c| c["pairs"] = json!([]));
    let run = env.run(&["sync"]).expect_err();
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("`pairs` is empty"), "{run}");
    // Found by host-sim, not the plugin, and labelled so.
    assert!(
        run.stderr.contains("(host-sim error code: config_invalid)"),
        "{run}"
    );
    assert!(!run.stderr.contains("plugin error code"), "{run}");
    // health and index do not run pairs.
    env.run(&["health"]).expect_ok();
}

#[test]
fn host_errors_are_labelled_as_host_sim_errors_and_usage_errors_exit_2() {
    let env = Env::new(Scenario::demo());
    let missing = env.path().join("no-tracker-here").display().to_string();
    let run = env
        .run(&["--tracker", &missing, "tracker", "snapshots"])
        .expect_err();
    assert!(run.stderr.contains("no Tracker at"), "{run}");
    assert!(
        run.stderr.contains("(host-sim error code: config_invalid)"),
        "{run}"
    );
    assert!(!run.stderr.contains("plugin error code"), "{run}");

    // The plugin's own errors keep their label.
    env.config_with(|c| c["tautulli"]["timeout"] = json!("soon"));
    let run = env.run(&["health"]).expect_err();
    assert!(
        run.stderr.contains("(plugin error code: config_invalid)"),
        "{run}"
    );

    let usage = testutil::host_sim(env.path(), &["--no-such-flag", "health"]);
    assert_eq!(usage.code, Some(2), "{usage}");
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    assert!(
        readme.contains("a command line it cannot parse exits with status 2"),
        "the README says what usage errors exit with"
    );
}

#[test]
fn a_missing_config_names_the_readme_section_that_exists() {
    let dir = tempfile::tempdir().unwrap();
    let run = testutil::host_sim(dir.path(), &["--config", "nope.json", "health"]).expect_err();
    assert!(
        run.stderr
            .contains("see README \"Configuration reference\""),
        "{run}"
    );
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    assert!(readme.contains("\n## Configuration reference\n"));
}

#[test]
fn svg_charts_create_missing_parent_folders() {
    let env = Env::new(Scenario::demo());
    env.run(&["analytics", "sync"]).expect_ok();
    let svg = env.path().join("charts/new/plays.svg");
    let arg = svg.display().to_string();
    env.run(&["analytics", "chart", "plays-by-hour", "--svg", &arg])
        .expect_ok();
    let text = std::fs::read_to_string(&svg).expect("the chart was written");
    assert!(
        text.starts_with("<svg") || text.starts_with("<?xml"),
        "{text}"
    );
}

#[test]
fn the_human_index_output_says_why_the_cache_is_off() {
    let env = Env::new(Scenario::demo());
    // A file where the state folder should be: it cannot be created, even by root.
    let blocker = env.path().join("blocker");
    std::fs::write(&blocker, "not a folder").unwrap();
    let state_dir = blocker.join("state").display().to_string();
    env.config_with(|c| c["tautulli"]["state_dir"] = json!(state_dir));
    let run = env.run(&["index"]).expect_ok();
    assert!(
        run.stderr
            .contains("  note: cannot create the state folder"),
        "{run}"
    );
    assert!(run.stderr.contains("without the metadata cache"), "{run}");
}

#[test]
fn a_dry_run_uses_the_metadata_cache_without_writing_it() {
    let env = Env::new(Scenario::demo());
    let state = env.path().join("state");
    let state_arg = state.display().to_string();
    env.config_with(|c| c["tautulli"]["state_dir"] = json!(state_arg));
    let first = env.sync();
    let calls = first["report"]["metadata_calls"].as_u64().unwrap();
    assert!(calls > 0, "{first}");
    let file = state.join("tautulli-plugin.sqlite");
    let before = std::fs::read(&file).expect("the cache file");
    let files_before = testutil::file_names(&state);

    let run = env.run(&["--json", "sync", "--dry-run"]).expect_ok();
    let report = &run.json()["pairs"][0]["report"];
    assert_eq!(report["metadata_calls"], 0, "{report}");
    assert!(
        report["metadata_cache"]["hits"].as_u64().unwrap() > 0,
        "{report}"
    );
    assert_eq!(report["metadata_cache"]["stored"], 0, "{report}");
    let note = report["state"]["note"].as_str().unwrap_or("");
    assert!(note.contains("read, never written"), "{report}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the cache file changed"
    );
    assert_eq!(testutil::file_names(&state), files_before);
    let gets = env
        .server
        .requests()
        .iter()
        .filter(|r| r.cmd.as_deref() == Some("get_metadata"))
        .count();
    assert_eq!(gets as u64, calls, "the dry run asked get_metadata again");

    // The human plan says so too.
    let human = env.run(&["sync", "--dry-run"]).expect_ok();
    assert!(
        human
            .stdout
            .contains("note: dry run: the metadata cache is read"),
        "{human}"
    );
}
