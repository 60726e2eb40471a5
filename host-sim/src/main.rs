//! `host-sim`: thin entry point; everything lives in the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = host_sim::Cli::parse();
    let report_rss = cli.report_rss;
    let result = host_sim::run(cli);
    if report_rss {
        host_sim::usage::print_peak_rss();
    }
    host_sim::exit_code(result)
}
