//! `canarysim lint`: check scenarios and Argo manifests before production does.

use std::path::PathBuf;

use anyhow::Result;
use canarysim::lint::{self, LintOptions, Severity};
use clap::Args;

use super::disk::Disk;

/// Flags of `canarysim lint`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  canarysim lint scenarios/checkout-leak.toml
  canarysim lint scenarios/argo/seed/
  canarysim lint my-rollout.yaml my-templates.yaml --scenario scenarios/checkout-leak.toml

Exit status: 0 clean (notes only), 1 errors or warnings found, 2 a file could not
be read as a scenario or a manifest at all: unreadable, not UTF-8, a syntax error,
a wrong type, an unknown or missing key, a number out of range. A file that reads
but holds wrong values (a limit below its request, a missing template) is 1.")]
pub struct LintArgs {
    /// Scenario files (.toml), Argo manifest files (.yaml, .yml) or directories of them.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Check the selectors of manifests against this scenario's simulated cluster
    /// (default: a scenario that names them, found beside them or up to three directories above).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Seed of the short run that produces the series; default: the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Leave out notes (fields canarysim does not model, checks skipped).
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs the subcommand; returns the exit code.
pub fn main(args: LintArgs) -> Result<u8> {
    let opts = LintOptions {
        scenario: args.scenario,
        seed: args.seed,
        ..LintOptions::default()
    };
    let report = lint::lint_paths(&Disk, &args.paths, &opts);
    let mut text = String::new();
    for f in &report.findings {
        if args.quiet && f.severity == Severity::Note {
            continue;
        }
        text.push_str(&f.to_string());
        text.push('\n');
    }
    text.push_str(&format!("lint: {}\n", report.summary()));
    super::common::print(&text)?;
    Ok(report.exit_code())
}
