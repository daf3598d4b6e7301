//! `canarysim lint`: check scenarios and Argo manifests before production does.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use canarysim::check::stdin;
use canarysim::lint::{self, LintOptions, Severity};
use clap::Args;

use super::disk::Disk;

/// Flags of `canarysim lint`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  canarysim lint scenarios/checkout-leak.toml
  canarysim lint scenarios/argo/seed/
  canarysim lint my-rollout.yaml my-templates.yaml --scenario scenarios/checkout-leak.toml
  kustomize build overlays/prod | canarysim lint - --scenario scenarios/checkout-leak.toml

Exit status: 0 clean (notes only), 1 errors or warnings found, 2 a file could not
be read as a scenario or a manifest at all: unreadable, not UTF-8, a syntax error,
a wrong type, an unknown or missing key, a number out of range. A file that reads
but holds wrong values (a limit below its request, a missing template) is 1.")]
pub struct LintArgs {
    /// Scenario files (.toml), Argo manifest files (.yaml, .yml) or directories of them;
    /// `-` reads multi-document YAML manifests from standard input.
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
    let from_stdin = args.paths.iter().any(|p| p.as_os_str() == "-");
    let stdin_text = if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        Some(text)
    } else {
        None
    };
    let paths: Vec<PathBuf> = args
        .paths
        .iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                PathBuf::from(stdin::STDIN_LABEL)
            } else {
                p.clone()
            }
        })
        .collect();
    let mut report = match &stdin_text {
        Some(text) => lint::lint_paths(&stdin::WithStdin::new(&Disk, text.as_str()), &paths, &opts),
        None => lint::lint_paths(&Disk, &paths, &opts),
    };
    if let Some(text) = &stdin_text {
        for f in &mut report.findings {
            f.diagnostic = stdin::in_stream(f.diagnostic.clone(), text);
        }
    }
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
