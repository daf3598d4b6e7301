//! Argument parsing and dispatch. Each subcommand has its own file, which
//! turns the parsed flags into library calls and prints the result.
//!
//! Exit codes: 0 done, 1 a check or lint found problems, 2 bad input or usage.

mod check;
mod common;
mod describe;
mod disk;
mod export;
mod lint;
#[cfg(feature = "plot")]
mod plot;
mod promql;
mod query;
mod run;
mod sweep;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for success.
pub const EXIT_OK: u8 = 0;
/// Exit code when a check, lint or test found problems.
#[allow(dead_code)] // used by lint, check and promql test
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code for bad input or usage.
pub const EXIT_BAD_INPUT: u8 = 2;

/// Stack size of the worker threads of `--runs`: the main thread's on Linux.
const WORKER_STACK_BYTES: usize = 8 << 20;

/// canarysim: test canary rollout policies against a simulated service.
#[derive(Parser, Debug)]
#[command(
    name = "canarysim",
    version,
    about,
    long_about = None,
    after_help = "Examples:
  canarysim run scenarios/checkout-leak.toml                 # every policy, one table
  canarysim run scenarios/checkout-leak.toml --policy manual # one run's timeline
  canarysim run scenarios/checkout-good.toml --runs 100      # verdicts over 100 seeds
  canarysim lint scenarios/argo/seed/                        # what is wrong with a policy
  canarysim query scenarios/checkout-leak.toml --at 12m 'up'
  canarysim describe scenarios/checkout-leak.toml --policy hardened   # steady state, no run
  canarysim sweep scenarios/sweeps/memory-trend.toml          # tune failureLimit and pauses
  canarysim run scenarios/checkout-leak.toml --set traffic.rate=120   # any key, any policy field
  canarysim check scenarios/checks/flagship.toml --junit report.xml   # a CI gate

Exit status: 0 done, 1 a lint or test found problems, 2 bad input or usage.
Scenario format: docs/scenario.md."
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run rollout policies against a scenario and report what each achieved.
    Run(run::RunArgs),
    /// Check scenarios and Argo manifests: missing templates, unresolved args, bad PromQL or conditions, selectors that match nothing.
    Lint(lint::LintArgs),
    /// Run a scenario to an instant and evaluate a PromQL expression there.
    Query(query::QueryArgs),
    /// Each build's steady state as Prometheus would show it (rates, p50/p90/p99, utilisation, memory slope, time to OOM), computed without a run.
    Describe(describe::DescribeArgs),
    /// Tune a policy: scenarios × variants (thresholds, failureLimit, pauses…) × seeds, with intervals and the Pareto front.
    Sweep(sweep::SweepArgs),
    /// Gate policy changes in CI: expectations about policies over fixed seeds; exit 1 when one falls short (--junit, --format github, --baseline).
    Check(check::CheckArgs),
    /// PromQL tools: run Prometheus's promqltest files against the evaluator.
    #[command(after_help = "Example:
  canarysim promql test tests/data/promqltest/*.test   # passed and failed cases per file")]
    Promql {
        #[command(subcommand)]
        command: promql::PromqlCommand,
    },
    /// One run's series as OpenMetrics text, to import into a real Prometheus with promtool.
    Export(export::ExportArgs),
    /// Pictures (SVG, or PNG by the extension): one run's timeline, policies over seeds, a sweep's trade-off.
    #[cfg(feature = "plot")]
    #[command(after_help = "Examples:
  canarysim plot timeline scenarios/checkout-leak.toml --policy manual -o manual.svg
  canarysim plot compare scenarios/checkout-leak.toml scenarios/checkout-good.toml \\
      --runs 50 -o compare.png
  canarysim plot sweep out/result.json -o tradeoff.svg   # after sweep … --out out")]
    Plot {
        #[command(subcommand)]
        command: plot::PlotCommand,
    },
}

/// Parses the command line, runs the subcommand and maps its outcome to an exit code.
pub fn main() -> ExitCode {
    common::install_signal_cleanup();
    // Worker threads get the stack the main thread has (8 MiB), so a run
    // behaves the same under `--runs` as alone.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(WORKER_STACK_BYTES)
        .build_global();
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match args.command {
        Command::Run(a) => run::main(a),
        Command::Lint(a) => lint::main(a),
        Command::Query(a) => query::main(a),
        Command::Describe(a) => describe::main(a),
        Command::Sweep(a) => sweep::main(a),
        Command::Check(a) => check::main(a),
        Command::Promql { command } => promql::main(command),
        Command::Export(a) => export::main(a),
        #[cfg(feature = "plot")]
        Command::Plot { command } => plot::main(command),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.is::<common::ClosedPipe>() => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
