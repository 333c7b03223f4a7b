//! The `guanxi` binary: parse the command line, run, report errors in one line.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = guanxi::cli::Cli::parse();
    match guanxi::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line a person can act on: the chain of causes, no backtrace.
            let chain: Vec<String> = e.chain().map(ToString::to_string).collect();
            eprintln!("error: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}
