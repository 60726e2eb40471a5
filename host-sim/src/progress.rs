//! The progress display on stderr during long reads; silent when stderr is not a terminal
//! (pipes, CI, tests), so machine output stays clean.

use std::io::IsTerminal;
use std::time::Duration;

use crosswatch_contract::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

pub struct ProgressDisplay {
    bar: Option<ProgressBar>,
    phase: String,
}

impl ProgressDisplay {
    /// A display that draws only when stderr is a terminal and `enabled` is set.
    pub fn new(enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            bar,
            phase: String::new(),
        }
    }

    pub fn update(&mut self, p: &Progress) {
        let Some(bar) = &self.bar else { return };
        if p.phase.as_str() != self.phase {
            self.phase = p.phase.to_string();
            let what = match self.phase.as_str() {
                "history" => "reading history",
                "metadata" => "resolving IDs",
                "emit" => "importing",
                other => other,
            };
            let template = if p.total > 0 {
                format!("{{spinner}} {what:>16} [{{bar:30}}] {{pos}}/{{len}} ({{rate}}, {{eta}})")
            } else {
                format!("{{spinner}} {what:>16} {{pos}} ({{rate}})")
            };
            if let Ok(style) = ProgressStyle::with_template(&template) {
                let style =
                    style.with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&rate(s.per_sec()));
                    });
                bar.set_style(style.progress_chars("=> "));
            }
        }
        if p.total > 0 {
            bar.set_length(p.total);
        }
        bar.set_position(p.done);
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Items a second for people: whole numbers with thousands separators (`5,759/s`), one
/// decimal below 10 (indicatif's own `per_sec` prints `5,758.9955/s`).
fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec < 0.0 {
        return "?/s".into();
    }
    if per_sec < 10.0 {
        return format!("{per_sec:.1}/s");
    }
    let digits = format!("{:.0}", per_sec);
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out + "/s"
}

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::rate;

    #[test]
    fn rates_are_rounded_for_people() {
        assert_eq!(rate(5758.9955), "5,759/s");
        assert_eq!(rate(1_234_567.4), "1,234,567/s");
        assert_eq!(rate(999.5), "1,000/s");
        assert_eq!(rate(42.0), "42/s");
        assert_eq!(rate(2.345), "2.3/s");
        assert_eq!(rate(f64::NAN), "?/s");
    }
}
