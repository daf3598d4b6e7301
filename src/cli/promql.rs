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

/// `println!` into a `String`.
macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

use super::{EXIT_FINDINGS, EXIT_OK};

/// PromQL subcommands.
#[derive(Subcommand, Debug)]
pub enum PromqlCommand {
    /// Run promqltest files (Prometheus's test format) against the evaluator.
    #[command(after_help = "Examples:
  canarysim promql test tests/data/promqltest/*.test
  canarysim promql test --verbose tests/data/promqltest/functions.test
  canarysim promql test --markdown tests/data/promqltest/*.test > conformance.md

Exit status: 0 all cases pass, 1 a case fails, 2 a file cannot be read.")]
    Test {
        /// The .test files to run.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Show each failing case with the expected and the actual result.
        #[arg(long)]
        verbose: bool,
        /// Print the per-file results as a Markdown table instead.
        #[arg(long, conflicts_with = "verbose")]
        markdown: bool,
    },
}

/// Runs a `promql` subcommand; returns the exit code.
pub fn main(command: PromqlCommand) -> anyhow::Result<u8> {
    match command {
        PromqlCommand::Test {
            files,
            verbose,
            markdown,
        } => test(&files, verbose, markdown),
    }
}

fn test(files: &[PathBuf], verbose: bool, markdown: bool) -> anyhow::Result<u8> {
    let mut out = String::new();
    let code = test_into(files, verbose, markdown, &mut out);
    super::common::print(&out)?;
    code
}

/// Runs the files and writes the report into `out` (printed even when a
/// later file fails to read, so the results so far are not lost).
fn test_into(
    files: &[PathBuf],
    verbose: bool,
    markdown: bool,
    out: &mut String,
) -> anyhow::Result<u8> {
    let mut total = Tally::default();
    if markdown {
        outln!(out, "| file | passed | failed | skipped | skip reasons |");
        outln!(out, "|---|---:|---:|---:|---|");
    }
    for path in files {
        let text = super::disk::read_input(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let report = promqltest::run(&text).with_context(|| format!("in {}", path.display()))?;
        let tally = report.tally();
        total.add(&tally);
        if markdown {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            outln!(out, "{}", markdown_row(&name, &tally));
            continue;
        }
        outln!(out, "{}: {}", path.display(), tally);
        for (reason, n) in &tally.skipped_by_reason {
            outln!(out, "  skipped {n}: {reason}");
        }
        if verbose {
            print_cases(&report, out);
        }
    }
    if markdown {
        outln!(out, "{}", markdown_row("**total**", &total));
        outln!(
            out,
            "\n{:.2}% of the cases run pass.",
            100.0 * total.pass_ratio()
        );
    } else {
        outln!(out, "total: {total}");
        for (reason, n) in &total.skipped_by_reason {
            outln!(out, "  skipped {n}: {reason}");
        }
    }
    Ok(if total.failed > 0 {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

/// Prints each skipped case with its reason and each failed one with the
/// expected and the actual result.
fn print_cases(report: &promqltest::FileReport, out: &mut String) {
    for case in &report.cases {
        match &case.outcome {
            Outcome::Skipped(reason) => {
                outln!(out, "  skip line {}: {} ({reason})", case.line, case.expr);
            }
            Outcome::Failed {
                reason,
                expected,
                actual,
            } => {
                outln!(out, "  FAIL line {}: {}", case.line, case.expr);
                outln!(out, "    {reason}");
                outln!(out, "    expected:");
                for l in expected.lines() {
                    outln!(out, "      {l}");
                }
                outln!(out, "    actual:");
                for l in actual.lines() {
                    outln!(out, "      {l}");
                }
            }
            Outcome::Passed => {}
        }
    }
}

/// One row of the Markdown table.
fn markdown_row(name: &str, t: &Tally) -> String {
    let reasons: Vec<String> = t
        .skipped_by_reason
        .iter()
        .map(|(r, n)| format!("{r} ({n})"))
        .collect();
    format!(
        "| {name} | {} | {} | {} | {} |",
        t.passed,
        t.failed,
        t.skipped,
        reasons.join(", ")
    )
}
