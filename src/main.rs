use std::process::ExitCode;

use clap::Parser;

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
