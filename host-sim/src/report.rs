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
}
