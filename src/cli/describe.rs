//! `canarysim describe`: each build's steady state, computed from the
//! scenario without a run (the library's `canarysim::describe`).

use std::path::PathBuf;

use anyhow::{Result, bail};
use canarysim::describe::describe;
use clap::{Args, ValueEnum};

use super::common::{find_policy, load_scenario, print};

/// Output format of `describe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One table per traffic split.
    Text,
    /// The same figures as one JSON object.
    Json,
}

/// Flags of `canarysim describe`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  canarysim describe scenarios/checkout-leak.toml
  canarysim describe scenarios/checkout-leak.toml --policy hardened
  canarysim describe scenarios/checkout-leak.toml --set traffic.rate=200 \\
      --set 'endpoints[0].buckets=[0.05, 0.1, 0.12, 0.15, 0.2]' --format json

Figures are analytical (M/M/c per pod, no simulation): per endpoint the rate,
p50/p90/p99 as histogram_quantile reads them from the buckets and exact,
per pod utilisation, waiting, errors, memory slope and time to OOM, for each
build alone at 100% and at each setWeight of the policy. The assumptions are
printed with them.")]
pub struct DescribeArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// The policy whose setWeight steps to describe (default: none, 100% only).
    #[arg(long, value_name = "NAME")]
    pub policy: Option<String>,
    /// Override a scenario key or policy field, as `run --set` does (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs the subcommand; returns the exit code.
pub fn main(args: DescribeArgs) -> Result<u8> {
    let sc = load_scenario(&args.scenario, &args.set)?;
    let policy = match &args.policy {
        Some(name) => Some(find_policy(&sc, name)?),
        None => None,
    };
    let d = match describe(&sc, policy) {
        Ok(d) => d,
        Err(e) => bail!("{}: {e}", sc.file),
    };
    match args.format {
        Format::Text => print(&d.to_text())?,
        Format::Json => print(&format!("{}\n", serde_json::to_string_pretty(&d)?))?,
    }
    Ok(super::EXIT_OK)
}
