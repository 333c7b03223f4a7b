//! The `guanxi` binary: parse the command line, run, report errors in one line.

use clap::Parser;
use std::process::ExitCode;

/// mimalloc for the whole process: with its `override` feature it also
/// serves SQLite's `malloc`, which binds and copies every value an import
/// writes. glibc's allocator was a fifth of the writing thread's time at a
/// million rows (mostly consolidating freed chunks); see ARCHITECTURE.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
