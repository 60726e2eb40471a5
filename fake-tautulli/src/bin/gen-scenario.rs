//! Writes a scenario as JSON to stdout.
//!
//! `gen-scenario demo` prints the demo library (`fixtures/scenarios/demo.json`);
//! `gen-scenario [PLAYS [SEED]]` prints a generated one (defaults: the 1M-play benchmark).
#![forbid(unsafe_code)]

use fake_tautulli::{generate, generated_demo, GenSpec};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scenario = if args.first().map(String::as_str) == Some("demo") {
        generated_demo()
    } else {
        let mut spec = GenSpec::default();
        let num = |i: usize| -> Option<u64> {
            args.get(i).map(|a| {
                a.parse().unwrap_or_else(|_| {
                    eprintln!("usage: gen-scenario demo | gen-scenario [PLAYS [SEED]]");
                    std::process::exit(2)
                })
            })
        };
        if let Some(p) = num(0) {
            spec.plays = p as usize;
        }
        if let Some(s) = num(1) {
            spec.seed = s;
        }
        generate(&spec)
    };
    println!("{}", scenario.to_json_pretty());
}
