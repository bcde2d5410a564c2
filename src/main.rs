use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the system allocator: a disclosure makes many short-lived allocations
/// across threads (parsing, the packet, the audit entry), and glibc's malloc spent about 14%
/// of the broker's CPU on them (BENCHMARKS.md, issue 26).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = broker::cli::Cli::parse();
    match broker::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("broker: {e:#}");
            ExitCode::FAILURE
        }
    }
}
