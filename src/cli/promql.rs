//! `canarysim promql …`: PromQL conformance tools.
//!
//! `promql test FILE…` runs Prometheus promqltest files through
//! `canarysim::promql::promqltest` and prints, per file and in total,
//! `N passed, N failed, N skipped` with the skip reasons; `--verbose` adds
//! each failing case with its expected and actual result, and each skipped
//! case with its reason. Exit code 1 when a
//! case failed, 2 when a file cannot be read or parsed.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use canarysim::promql::promqltest::{self, Outcome, Tally};

use super::{EXIT_FINDINGS, EXIT_OK};

/// PromQL subcommands.
#[derive(Subcommand, Debug)]
pub enum PromqlCommand {
    /// Run promqltest files (Prometheus's test format) against the evaluator.
    Test {
        /// The .test files to run.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Show each failing case with the expected and the actual result.
        #[arg(long)]
        verbose: bool,
    },
}

/// Runs a `promql` subcommand; returns the exit code.
pub fn main(command: PromqlCommand) -> anyhow::Result<u8> {
    match command {
        PromqlCommand::Test { files, verbose } => test(&files, verbose),
    }
}

fn test(files: &[PathBuf], verbose: bool) -> anyhow::Result<u8> {
    let mut total = Tally::default();
    for path in files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let report = promqltest::run(&text).with_context(|| format!("in {}", path.display()))?;
        let tally = report.tally();
        println!("{}: {}", path.display(), tally);
        for (reason, n) in &tally.skipped_by_reason {
            println!("  skipped {n}: {reason}");
        }
        if verbose {
            for case in &report.cases {
                if let Outcome::Skipped(reason) = &case.outcome {
                    println!("  skip line {}: {} ({reason})", case.line, case.expr);
                }
                if let Outcome::Failed {
                    reason,
                    expected,
                    actual,
                } = &case.outcome
                {
                    println!("  FAIL line {}: {}", case.line, case.expr);
                    println!("    {reason}");
                    println!("    expected:");
                    for l in expected.lines() {
                        println!("      {l}");
                    }
                    println!("    actual:");
                    for l in actual.lines() {
                        println!("      {l}");
                    }
                }
            }
        }
        total.add(&tally);
    }
    if files.len() > 1 {
        println!("total: {total}");
        for (reason, n) in &total.skipped_by_reason {
            println!("  skipped {n}: {reason}");
        }
    }
    Ok(if total.failed > 0 {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}
