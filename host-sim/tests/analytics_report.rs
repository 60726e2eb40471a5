//! `host-sim analytics report --out FILE.html` end to end: the real binary and plugin against
//! the fake Tautulli serving the demo library. The page is checked without a browser (its
//! markup parsed, every part present, nothing outside the file referenced), then rendered
//! by headless Chromium when it is installed (Debian's `chromium`; `CHROMIUM=/path`
//! overrides): the DOM a browser builds holds every chart, and a screenshot is drawn.
//! Without Chromium the browser part is skipped with a message on stderr. To look at what
//! was rendered, set `HOST_SIM_REPORT_KEEP=DIR`: the pages and the screenshot are copied there.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::testutil::Env;
use fake_tautulli::Scenario;
use serde_json::{json, Value};

/// 2026-11-22T00:00:00Z: after every demo play.
const DEMO_NOW: i64 = 1_795_305_600;
const DAY: i64 = 86_400;
/// Every chart a report holds: seven on plays, six of them again on watch time.
const CHARTS: usize = 13;
/// The charts Tautulli also offers on the duration axis (all but concurrency).
const DURATION_KINDS: [&str; 6] = [
    "plays-by-date",
    "plays-by-weekday",
    "plays-by-hour",
    "stream-types",
    "top-users",
    "top-platforms",
];

/// The demo synced, then collected three times: two days before "now" without a rotation,
/// then a day before and at "now" under the rotation "spring".
fn collected_env() -> Env {
    let env = Env::new(Scenario::demo());
    env.config_with(|v| {
        v["tautulli"]["history"] = json!({"per_page": 100, "read": "paged"});
        v["tautulli"]["max_retries"] = json!(0);
    });
    env.run(&["analytics", "sync"]).expect_ok();
    for (at, rotation) in [
        (DEMO_NOW - 2 * DAY, None),
        (DEMO_NOW - DAY, Some("spring")),
        (DEMO_NOW, Some("spring")),
    ] {
        let at = at.to_string();
        let mut args = vec!["analytics", "--now", at.as_str(), "collect"];
        if let Some(r) = rotation {
            args.extend(["--rotation", r]);
        }
        env.run(&args).expect_ok();
    }
    env
}

/// Writes a report with `args` after `--out FILE`; returns the file's text and the run.
fn report(env: &Env, name: &str, json_out: bool, args: &[&str]) -> (String, PathBuf, Value) {
    let path = env.path().join("out").join(name);
    let out = path.display().to_string();
    let now = DEMO_NOW.to_string();
    let mut all = Vec::new();
    if json_out {
        all.push("--json");
    }
    all.extend([
        "analytics",
        "--now",
        now.as_str(),
        "report",
        "--out",
        out.as_str(),
    ]);
    all.extend_from_slice(args);
    let run = env.run(&all).expect_ok();
    let summary = if json_out {
        run.json()
    } else {
        assert_eq!(run.stdout, format!("wrote {out}\n"), "{run}");
        Value::Null
    };
    let html = std::fs::read_to_string(&path).expect("the report file");
    (html, path, summary)
}

#[test]
fn a_report_holds_every_chart_and_table_and_renders_in_chromium() {
    let env = collected_env();
    let (html, path, _) = report(&env, "report.html", false, &["--tz", "Europe/Berlin"]);
    check_html(&html).unwrap_or_else(|e| panic!("not well-formed: {e}"));
    check_self_contained(&html);

    // Time zone and window stated, "now" shown in that zone.
    assert!(
        html.contains("Time zone: <strong id=\"timezone\">Europe/Berlin</strong>"),
        "{html}"
    );
    assert!(html.contains("the last 30 days</strong>, up to 2026-11-22 01:00 CET"));
    assert!(html.contains("Collection tables: the 30-day snapshot window"));

    // Every chart, as inline SVG, in the zone asked.
    assert_eq!(html.matches("<figure class=\"card chart\"").count(), CHARTS);
    for kind in [
        "plays-by-date",
        "plays-by-weekday",
        "plays-by-hour",
        "stream-types",
        "concurrency",
        "top-users",
        "top-platforms",
    ] {
        let figure = html
            .split(&format!("id=\"chart-{kind}\">"))
            .nth(1)
            .unwrap_or_else(|| panic!("no {kind} chart"));
        let figure = &figure[..figure.find("</figure>").unwrap()];
        assert!(figure.starts_with("\n<svg xmlns="), "{kind}");
        assert!(figure.contains("Time zone: Europe/Berlin"), "{kind}");
    }
    // The watch-time version of each, right after its plays chart, in hours and minutes.
    for kind in DURATION_KINDS {
        let figure = section(
            &html,
            &format!("id=\"chart-{kind}-duration\">"),
            "</figure>",
        );
        assert!(figure.starts_with("\n<svg xmlns="), "{kind}");
        assert!(figure.contains("atch time"), "{kind}: titled as watch time");
        let plays = html.find(&format!("id=\"chart-{kind}\">")).unwrap();
        let watch = html
            .find(&format!("id=\"chart-{kind}-duration\">"))
            .unwrap();
        let between = &html[plays..watch];
        assert_eq!(between.matches("<figure").count(), 1, "{kind}: next to it");
        check_duration_ticks(figure, kind);
    }
    assert!(!html.contains("id=\"chart-concurrency-duration\""));

    // The collection tables name every collection the plugin reports, in each of them.
    let collections = collection_names(&env);
    assert_eq!(collections.len(), 6, "{collections:?}");
    for table in ["latest-table", "top-table", "trend-table"] {
        let body = section(&html, &format!("<table id=\"{table}\">"), "</table>");
        for c in &collections {
            assert!(
                body.contains(&format!("<td>{}</td>", escape(c))),
                "{table}: {c}"
            );
        }
    }
    // Three snapshots per collection, and one trend line each.
    let trends = section(&html, "<table id=\"trend-table\">", "</table>");
    let rows: Vec<&str> = trends.split("<tr><td>").skip(1).collect();
    assert_eq!(rows.len(), 6, "{trends}");
    for row in rows {
        let snapshots = row.split("<td").nth(2).unwrap_or("");
        assert!(snapshots.starts_with(" class=\"n\">3</td>"), "{row}");
    }
    assert_eq!(trends.matches("class=\"spark\"").count(), 6);
    // The rotation against the collect before it began (two days before "now").
    let rotation = section(&html, "<h3>spring</h3>", "</section>");
    assert!(
        rotation
            .contains("Before: the collect of 2026-11-20 00:00 UTC · after: 2026-11-22 00:00 UTC"),
        "{rotation}"
    );
    assert_eq!(rotation.matches("<tr><td>").count(), 6, "{rotation}");

    match chromium() {
        Ok(browser) => render_in_chromium(&browser, &path, &collections),
        Err(missing) => skip("render the report in headless Chromium", &missing),
    }
}

/// A year is drawn as weeks, and a window with no plays says so; `--json` answers a summary.
#[test]
fn a_year_reads_as_weeks_and_an_empty_window_says_no_plays() {
    let env = collected_env();
    let (year, year_path, summary) = report(&env, "year.html", true, &["--days", "365"]);
    check_html(&year).unwrap();
    keep(&year_path, "year.html");
    assert_eq!(summary["charts"], CHARTS, "{summary}");
    assert_eq!(summary["collections"], 6);
    assert_eq!(summary["rotations"], 1);
    assert_eq!(summary["days"], 365);
    assert_eq!(summary["timezone"], "UTC");
    assert!(summary["report"].as_str().unwrap().ends_with("year.html"));
    for kind in ["plays-by-date", "concurrency"] {
        let chart = section(&year, &format!("id=\"chart-{kind}\">"), "</figure>");
        assert!(
            chart.contains("Note: each bar is "),
            "{kind}: days as periods"
        );
        assert!(!chart.contains("<g class=\"lines\">"), "{kind}: no tangle");
    }

    // A year later, the last day holds no plays: every chart says so.
    let later = (DEMO_NOW + 365 * DAY).to_string();
    let out = env.path().join("empty.html").display().to_string();
    env.run(&[
        "analytics",
        "--now",
        &later,
        "report",
        "--out",
        &out,
        "--days",
        "1",
    ])
    .expect_ok();
    let empty = std::fs::read_to_string(&out).unwrap();
    check_html(&empty).unwrap();
    keep(Path::new(&out), "empty.html");
    assert_eq!(empty.matches("No plays in this window").count(), CHARTS);
}

// ---- without a browser --------------------------------------------------------------------------

/// The y-axis ticks of a watch-time chart read as durations (`0`, `30m`, `2h`, `1h 30m`),
/// never as raw seconds, and go past zero.
fn check_duration_ticks(figure: &str, kind: &str) {
    let axis = section(figure, "<g class=\"y-axis\"", "</g>");
    let ticks: Vec<&str> = axis
        .split("dominant-baseline=\"middle\">")
        .skip(1)
        .map(|t| &t[..t.find('<').unwrap()])
        .collect();
    assert!(ticks.len() >= 2, "{kind}: {axis}");
    for t in &ticks {
        let human = *t == "0"
            || t.split(' ').all(|part| {
                part.len() >= 2
                    && part[..part.len() - 1].chars().all(|c| c.is_ascii_digit())
                    && matches!(part.chars().last(), Some('h' | 'm' | 's'))
            });
        assert!(human, "{kind}: tick {t:?} is not a duration");
    }
}

/// Names of the collections, as `analytics collections --json` lists them (30-day window).
fn collection_names(env: &Env) -> Vec<String> {
    let now = DEMO_NOW.to_string();
    let run = env
        .run(&["--json", "analytics", "--now", &now, "collections"])
        .expect_ok();
    let mut names: Vec<String> = run.json()["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["collection"].as_str().unwrap().to_string())
        .collect();
    // One row per collection (two libraries may each have one of the same name).
    names.sort();
    names
}

fn section<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let rest = html
        .split_once(start)
        .unwrap_or_else(|| panic!("no {start:?} in the report"))
        .1;
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Nothing outside the file: no scripts, style sheets, images, fonts, frames or addresses
/// (the SVG namespace name is an identifier, never fetched).
fn check_self_contained(html: &str) {
    let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for banned in [
        "<script",
        "<link",
        "<img",
        "<iframe",
        "<object",
        "<embed",
        "src=",
        "url(",
        "@import",
        "@font-face",
        "http:",
        "https:",
        "//",
    ] {
        assert!(
            !without_ns.contains(banned),
            "the report refers to something outside it: {banned:?}"
        );
    }
    // In-page links only.
    for href in without_ns.split("href=\"").skip(1) {
        assert!(href.starts_with('#'), "link out of the page: {href:.40}");
    }
}

/// The markup parsed as a browser's tree would be: one `<html>` root after the doctype,
/// every element closed in order (HTML void elements excepted), attributes quoted, no raw
/// `<` in text and only known entities.
fn check_html(doc: &str) -> Result<(), String> {
    const VOID: [&str; 4] = ["meta", "br", "hr", "input"];
    let mut rest = doc.strip_prefix("<!DOCTYPE html>").ok_or("no doctype")?;
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        if text.contains('>') && !stack.iter().any(|t| t == "style") {
            return Err(format!("stray > in {text:?}"));
        }
        for part in text.split('&').skip(1) {
            let entity = part.split(';').next().unwrap_or("");
            if !part.contains(';')
                || !(matches!(entity, "amp" | "lt" | "gt" | "quot" | "apos")
                    || entity.starts_with('#'))
            {
                return Err(format!("bad entity in {text:?}"));
            }
        }
        rest = &rest[open..];
        let end = rest.find('>').ok_or("unclosed tag")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if tag.contains('<') {
            return Err(format!("< inside tag {tag:?}"));
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .ok_or(format!("</{name}> without an open tag"))?;
            if open != name {
                return Err(format!("</{name}> closes <{open}>"));
            }
            continue;
        }
        if tag.matches('"').count() % 2 != 0 {
            return Err(format!("unbalanced quotes in <{tag}>"));
        }
        let name = tag
            .split_whitespace()
            .next()
            .ok_or("empty tag")?
            .trim_end_matches('/')
            .to_string();
        if stack.is_empty() {
            roots += 1;
        }
        if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
            stack.push(name);
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed elements {stack:?}"));
    }
    if roots != 1 || !rest.trim().is_empty() {
        return Err("not one <html> root".into());
    }
    Ok(())
}

// ---- in a browser ---------------------------------------------------------------------------------

/// Debian's Chromium, or the one `CHROMIUM` names; else the path where none was found.
fn chromium() -> Result<PathBuf, PathBuf> {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(path)
    }
}

/// Says plainly that a part was skipped, on the real stderr (a passing test's captured
/// output is never shown).
fn skip(what: &str, missing: &Path) {
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {what}: no Chromium at {} (install Debian's `chromium` package, or set \
         CHROMIUM=/path/to/chromium); the report was checked without a browser",
        missing.display()
    );
}

/// Runs headless Chromium with `args` on the report, killed after a minute.
fn run_chromium(browser: &Path, profile: &Path, args: &[String]) -> (String, String) {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} took more than 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(
        status.success(),
        "chromium {args:?} failed: {status}\n{err}"
    );
    (out, err)
}

fn render_in_chromium(browser: &Path, report: &Path, collections: &[String]) {
    let profile = tempfile::tempdir().expect("a profile folder");
    let url = format!("file://{}", report.display());

    // The tree the browser built: every chart an SVG element with its bars, every table.
    let (dom, _) = run_chromium(browser, profile.path(), &["--dump-dom".into(), url.clone()]);
    assert!(
        dom.contains("<h1>Tautulli analytics report</h1>"),
        "{dom:.400}"
    );
    let figures: Vec<&str> = dom.split("<figure class=\"card chart\"").skip(1).collect();
    assert_eq!(figures.len(), CHARTS, "{dom:.400}");
    for f in &figures {
        assert!(
            f.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{f:.300}"
        );
    }
    let plays = section(&dom, "id=\"chart-plays-by-date\"", "</figure>");
    assert!(plays.contains("<rect "), "bars drawn: {plays:.300}");
    for c in collections {
        assert!(dom.contains(&escape(c)), "{c} in the browser's page");
    }

    // A picture of the whole page.
    let png = report.with_extension("png");
    run_chromium(
        browser,
        profile.path(),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,6000".into(),
            url,
        ],
    );
    let bytes = std::fs::read(&png).expect("the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        bytes.len() > 50_000,
        "a page with pictures, not a blank one: {} bytes",
        bytes.len()
    );
    keep(report, "report.html");
    keep(&png, "report.png");
}

/// With `HOST_SIM_REPORT_KEEP=DIR`, copies a file there, to look at what the test rendered.
fn keep(file: &Path, name: &str) {
    if let Some(dir) = std::env::var_os("HOST_SIM_REPORT_KEEP") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("the keep folder");
        std::fs::copy(file, dir.join(name)).expect("a kept copy");
    }
}
