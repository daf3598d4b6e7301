//! `canarysim query`: run a scenario to an instant and evaluate PromQL there.

use std::path::PathBuf;

use anyhow::{Result, bail};
use canarysim::engine::Engine;
use canarysim::promql::{EvalOptions, Query, json::render_data};
use canarysim::sim::SimDuration;
use canarysim::sim::time::MICROS_PER_MILLI;
use clap::Args;

use super::common::{find_policy, load_scenario, note_unmodelled};

/// Flags of `canarysim query`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  canarysim query scenarios/checkout-leak.toml --at 12m 'up{service=\"checkout-canary\"}'
  canarysim query scenarios/checkout-leak.toml --at 50m --policy manual \\
      'max by (pod) (container_memory_working_set_bytes{namespace=\"production\"})'

Times are measured from the start of the rollout (the end of the warm-up).
The output is the `data` object of Prometheus's /api/v1/query.")]
pub struct QueryArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// When to evaluate, from the start of the rollout: `90s`, `12m`, `1h30m`;
    /// a whole number of milliseconds, as Prometheus evaluates queries.
    #[arg(long, value_name = "DURATION")]
    pub at: String,
    /// The policy to run (default: the scenario's first).
    #[arg(long, value_name = "NAME")]
    pub policy: Option<String>,
    /// Seed of the run; default: the scenario's `simulation.seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override a scenario key or policy field, as `run --set` does (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// The PromQL expression.
    pub expr: String,
}

/// Runs the subcommand; returns the exit code.
pub fn main(args: QueryArgs) -> Result<u8> {
    let query = match Query::parse(&args.expr) {
        Ok(q) => q,
        Err(e) => bail!("{e}"),
    };
    let at = match SimDuration::parse(&args.at) {
        Ok(d) => d,
        Err(e) => bail!("--at: {e}"),
    };
    // Prometheus evaluates a query at a whole millisecond; a finer --at
    // would silently be read as the millisecond before it.
    if at.0 % MICROS_PER_MILLI != 0 {
        let below = SimDuration::from_millis(at.as_millis());
        let above = SimDuration::from_millis(at.as_millis() + 1);
        bail!(
            "--at {}: Prometheus evaluates a query at a whole millisecond; give {below} or {above}",
            args.at
        );
    }
    let sc = load_scenario(&args.scenario, &args.set)?;
    let policy = match &args.policy {
        Some(name) => find_policy(&sc, name)?,
        None => match sc.policies.first() {
            Some(p) => p,
            None => bail!(
                "scenario {} defines no policies; add a [[policies]] table",
                sc.file
            ),
        },
    };
    note_unmodelled(&sc, &[policy]);
    let mut engine = Engine::new(&sc, policy, args.seed.unwrap_or(sc.seed));
    let t = engine.rollout_start() + at;
    engine.run_until(t);
    if engine.ended() && engine.now() < t {
        let end = engine.now().saturating_since(engine.rollout_start());
        bail!(
            "this run ends {end} after the rollout's start (its soak after promotion or abort, or max_duration); \
             give --at within it"
        );
    }
    let at_ms = t.millis_since(engine.rollout_start());
    match query.instant(engine.store(), at_ms, &EvalOptions::default()) {
        Ok(v) => {
            let json = render_data(&v, at_ms);
            super::common::print(&format!("{}\n", serde_json::to_string_pretty(&json)?))?;
            Ok(super::EXIT_OK)
        }
        Err(e) => bail!("{e}"),
    }
}
