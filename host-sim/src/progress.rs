//! The progress display on stderr during long reads; silent when stderr is not a terminal
//! (pipes, CI, tests), so machine output stays clean.

use std::io::IsTerminal;
use std::time::Duration;

use crosswatch_contract::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
                format!(
                    "{{spinner}} {what:>16} [{{bar:30}}] {{pos}}/{{len}} ({{per_sec}}, {{eta}})"
                )
            } else {
                format!("{{spinner}} {what:>16} {{pos}} ({{per_sec}})")
            };
            if let Ok(style) = ProgressStyle::with_template(&template) {
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

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        self.finish();
    }
}
