//! `host-sim`: thin entry point; everything lives in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = host_sim::Cli::parse();
    let report_rss = cli.report_rss;
    let result = host_sim::run(cli);
    if report_rss {
        host_sim::print_peak_rss();
    }
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            if let Some(code) = e.plugin_code() {
                eprintln!("  (plugin error code: {code})");
            }
            ExitCode::from(1)
        }
    }
}
