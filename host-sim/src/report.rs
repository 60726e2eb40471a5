//! Rendering the plugin's index report (JSON) for people.

use serde_json::Value;

/// A few lines: what was read, what was kept, what was skipped and why, what is unresolved.
pub fn render_report(r: &Value) -> String {
    let n = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
    let complete = r.get("complete").and_then(Value::as_bool).unwrap_or(false);
    let semantics = r.get("semantics").and_then(Value::as_str).unwrap_or("?");
    let mut out = format!(
        "  read {} row(s) in {} page(s): {} item(s), {} metadata call(s); {}\n",
        n("rows_seen"),
        n("pages"),
        n("items"),
        n("metadata_calls"),
        if complete {
            format!("complete ({semantics})")
        } else {
            format!("INCOMPLETE ({semantics}: nothing will be treated as removed)")
        }
    );
    if let Some(reader) = r.get("reader").filter(|v| v.is_object()) {
        out += &render_reader(reader);
    }
    if !complete {
        if let Some(why) = r.get("incomplete_reason").and_then(Value::as_str) {
            out += &format!("  warning: {why}\n");
        }
    }
    if let Some(skipped) = r.get("skipped").and_then(Value::as_object) {
        let parts: Vec<String> = skipped
            .iter()
            .filter_map(|(k, v)| v.as_u64().filter(|c| *c > 0).map(|c| format!("{k} {c}")))
            .collect();
        if parts.is_empty() {
            out += "  skipped: none\n";
        } else {
            out += &format!("  skipped: {}\n", parts.join(", "));
        }
    }
    if let Some(list) = r.get("unresolved").and_then(Value::as_array) {
        if !list.is_empty() {
            out += &format!("  unresolved: {}\n", list.len());
            for u in list.iter().take(5) {
                let s = |k: &str| u.get(k).and_then(Value::as_str).unwrap_or("");
                out += &format!("    {}  {}  ({})\n", s("key"), s("title"), s("reason"));
            }
            if list.len() > 5 {
                out += &format!("    ... and {} more\n", list.len() - 5);
            }
        }
    }
    out
}

/// How Tautulli was asked: windows or pages, requests, and the time spent waiting for it.
fn render_reader(reader: &Value) -> String {
    let n = |k: &str| reader.get(k).and_then(Value::as_u64).unwrap_or(0);
    let mode = reader.get("mode").and_then(Value::as_str).unwrap_or("?");
    let waited = reader
        .get("waited_s")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let shape = match mode {
        "windowed" | "walked" => format!("{} day window(s)", n("windows")),
        _ => "start paging".to_string(),
    };
    let mut out = format!(
        "  asked Tautulli {} get_history and {} count request(s) ({mode}: {shape}), waited {waited:.1} s\n",
        n("history_requests"),
        n("count_requests"),
    );
    if let Some(why) = reader.get("fallback").and_then(Value::as_str) {
        out += &format!("  note: {why}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_counts_reasons_and_incompleteness() {
        let r = json!({"pages": 2, "rows_seen": 10, "items": 4, "metadata_calls": 1,
            "complete": false, "semantics": "delta", "incomplete_reason": "max_pages (1) reached",
            "skipped": {"partial": 3, "live": 0},
            "unresolved": [{"key": "plex:9001", "title": "Birthday", "reason": "unmatched"}]});
        let text = render_report(&r);
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
        let text = render_report(&r);
        assert!(
            text.contains("asked Tautulli 7 get_history and 1 count request(s) (walked: 6 day window(s)), waited 2.2 s"),
            "{text}"
        );
        assert!(text.contains("note: get_plays_by_date failed"), "{text}");
    }
}
