//! Rendering the plugin's index report for people.

use crosswatch_contract::payload::{IndexReport, ReaderReport};

/// Config warnings (the host's and the plugin's), one `warning:` line each on stderr:
/// diagnostics, so they never mix with a command's result on stdout.
pub fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// A few lines: what was read, what was kept, what was skipped and why, what is unresolved.
pub fn render_report(r: &IndexReport) -> String {
    let semantics = if r.semantics.is_empty() {
        "?"
    } else {
        &r.semantics
    };
    let mut out = format!(
        "  read {} row(s) in {} page(s): {} item(s), {} metadata call(s); {}\n",
        r.rows_seen,
        r.pages,
        r.items,
        r.metadata_calls,
        if r.complete {
            format!("complete ({semantics})")
        } else {
            format!("INCOMPLETE ({semantics}: nothing will be treated as removed)")
        }
    );
    if let Some(reader) = &r.reader {
        out += &render_reader(reader);
    }
    // Why the plugin's state did not persist (an unwritable folder: no cache) is worth a
    // line: the next runs are slower for it.
    if let Some(note) = r.state.as_ref().and_then(|s| s.note.as_ref()) {
        out += &format!("  note: {note}\n");
    }
    if let Some(e) = r.metadata_cache.as_ref().and_then(|c| c.error.as_ref()) {
        out += &format!("  warning: metadata cache: {e}\n");
    }
    if !r.complete {
        if let Some(why) = &r.incomplete_reason {
            out += &format!("  warning: {why}\n");
        }
    }
    if !r.skipped.is_empty() {
        let parts: Vec<String> = r
            .skipped
            .iter()
            .filter(|(_, c)| **c > 0)
            .map(|(k, c)| format!("{k} {c}"))
            .collect();
        if parts.is_empty() {
            out += "  skipped: none\n";
        } else {
            out += &format!("  skipped: {}\n", parts.join(", "));
        }
    }
    let list = &r.unresolved;
    if !list.is_empty() {
        out += &format!("  unresolved: {}\n", list.len());
        for u in list.iter().take(5) {
            out += &format!("    {}  {}  ({})\n", u.key, u.title, u.reason);
        }
        if list.len() > 5 {
            out += &format!("    ... and {} more\n", list.len() - 5);
        }
    }
    out
}

/// How Tautulli was asked: windows or pages, requests, and the time spent waiting for it.
fn render_reader(reader: &ReaderReport) -> String {
    let mode = reader.mode.as_deref().unwrap_or("?");
    let shape = match mode {
        "windowed" | "walked" => format!("{} day window(s)", reader.windows),
        _ => "start paging".to_string(),
    };
    let mut out = format!(
        "  asked Tautulli {} get_history and {} count request(s) ({mode}: {shape}), waited {:.1} s\n",
        reader.history_requests, reader.count_requests, reader.waited_s,
    );
    if let Some(why) = &reader.fallback {
        out += &format!("  note: {why}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crosswatch_contract::payload;
    use serde_json::json;

    #[test]
    fn renders_counts_reasons_and_incompleteness() {
        let r = json!({"pages": 2, "rows_seen": 10, "items": 4, "metadata_calls": 1,
            "complete": false, "semantics": "delta", "incomplete_reason": "max_pages (1) reached",
            "skipped": {"partial": 3, "live": 0},
            "unresolved": [{"key": "plex:9001", "title": "Birthday", "reason": "unmatched"}]});
        let text = render_report(&payload::from_value(r).unwrap());
        assert!(
            text.contains("read 10 row(s) in 2 page(s): 4 item(s)"),
            "{text}"
        );
        assert!(text.contains("INCOMPLETE (delta"), "{text}");
        assert!(text.contains("max_pages (1) reached"), "{text}");
        assert!(text.contains("skipped: partial 3\n"), "{text}");
        assert!(text.contains("plex:9001  Birthday  (unmatched)"), "{text}");
    }

    #[test]
    fn renders_how_tautulli_was_asked() {
        let r = json!({"complete": true, "semantics": "present",
            "reader": {"mode": "walked", "history_requests": 7, "count_requests": 1,
                       "windows": 6, "waited_s": 2.25,
                       "fallback": "get_plays_by_date failed"}});
        let text = render_report(&payload::from_value(r).unwrap());
        assert!(
            text.contains("asked Tautulli 7 get_history and 1 count request(s) (walked: 6 day window(s)), waited 2.2 s"),
            "{text}"
        );
        assert!(text.contains("note: get_plays_by_date failed"), "{text}");
    }

    #[test]
    fn renders_why_the_state_does_not_persist() {
        let r = json!({"complete": true, "semantics": "present",
            "state": {"persistent": false, "note": "cannot create the state folder /x: denied"},
            "metadata_cache": {"error": "disk full"}});
        let text = render_report(&payload::from_value(r).unwrap());
        assert!(
            text.contains("  note: cannot create the state folder /x: denied\n"),
            "{text}"
        );
        assert!(
            text.contains("  warning: metadata cache: disk full\n"),
            "{text}"
        );
    }
}
