//! `canarysim export`: one run's series as OpenMetrics text, for
//! `promtool tsdb create-blocks-from openmetrics` (docs/grafana.md).

use std::path::PathBuf;

use anyhow::{Result, bail};
use canarysim::engine;
use canarysim::series::openmetrics;
use clap::Args;

use super::common::{find_policy, load_scenario, refuse_input_as_output, write_file_with};

/// Flags of `canarysim export`.
#[derive(Args, Debug)]
#[command(after_help = "Example:
  canarysim export scenarios/checkout-leak.toml --policy manual -o manual.om
  promtool tsdb create-blocks-from openmetrics manual.om data/

See docs/grafana.md for a Prometheus and Grafana on the blocks.")]
pub struct ExportArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// The policy to run.
    #[arg(long, value_name = "NAME")]
    pub policy: String,
    /// Seed of the run; default: the scenario's `simulation.seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The instant the rollout starts, RFC 3339 (the warm-up lies before it).
    #[arg(long, value_name = "RFC3339", default_value = "2026-01-01T00:00:00Z")]
    pub start: String,
    /// Override a scenario key or policy field, as `run --set` does (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// The file to write.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// Runs the subcommand; returns the exit code.
pub fn main(a: ExportArgs) -> Result<u8> {
    let start = match openmetrics::parse_rfc3339(&a.start) {
        Ok(ms) => ms,
        Err(e) => bail!("--start: {e}"),
    };
    refuse_input_as_output("--output", &a.output, &[&a.scenario])?;
    let sc = load_scenario(&a.scenario, &a.set)?;
    let policy = find_policy(&sc, &a.policy)?;
    let out = engine::run(&sc, policy, a.seed.unwrap_or(sc.seed));
    // Written as it is formatted: one run's text is ~200 MB.
    write_file_with(&a.output, |w| openmetrics::write_to(&out.series, start, w))?;
    Ok(super::EXIT_OK)
}
