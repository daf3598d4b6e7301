//! `canarysim promql …`: PromQL conformance tools.

use clap::Subcommand;

/// PromQL subcommands.
#[derive(Subcommand, Debug)]
pub enum PromqlCommand {
    /// Run promqltest files (Prometheus's test format) against the evaluator.
    Test {
        /// The .test files to run.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// Show each failing case with the expected and the actual result.
        #[arg(long)]
        verbose: bool,
    },
}

/// Runs a `promql` subcommand; returns the exit code.
pub fn main(command: PromqlCommand) -> anyhow::Result<u8> {
    match command {
        PromqlCommand::Test { .. } => anyhow::bail!("promql test is not implemented yet"),
    }
}
