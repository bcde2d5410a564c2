//! The `broker` command line (API.md, Command line).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::decision::{Policy, decide, scenario};

#[derive(Debug, Parser)]
#[command(name = "broker", version, about = "Multi-agency information-sharing gateway for child safeguarding")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate a scenario file with the decision code the server uses
    Decide {
        #[arg(long)]
        scenarios: PathBuf,
        /// The policy directory
        #[arg(long, default_value = "policies")]
        policy: PathBuf,
    },
    /// Policy tools
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run every scenario file in DIR and compare with each `expect`
    Test {
        #[arg(default_value = "policies/tests")]
        dir: PathBuf,
        /// The policy directory
        #[arg(long, default_value = "policies")]
        policy: PathBuf,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Decide { scenarios, policy } => {
            let policy = Policy::load(&policy).await?;
            let items = scenario::load_file(&scenarios)?;
            for s in &items {
                let d = decide(&policy, &s.facts());
                println!(
                    "{}",
                    serde_json::to_string(&scenario::DecideLine::new(&s.name, &d))?
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy {
            command: PolicyCommand::Test { dir, policy },
        } => {
            let policy = Policy::load(&policy).await?;
            let report = scenario::run_dir(&policy, &dir)
                .with_context(|| format!("running the scenarios in {}", dir.display()))?;
            for failure in &report.failures {
                println!("FAIL {failure}");
            }
            println!(
                "policy {} ({} rows): {} scenario files, {} passed, {} failed",
                policy.version(),
                policy.rows(),
                report.files,
                report.passed,
                report.failures.len()
            );
            Ok(if report.failures.is_empty() && report.passed > 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
