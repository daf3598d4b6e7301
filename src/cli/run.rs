//! `canarysim run`: run policies on a scenario and report.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use canarysim::engine;
use canarysim::report;
use clap::{Args, ValueEnum};

use super::common::{load_scenario, write_outputs};

/// Output format of `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable timeline and summary per policy.
    Text,
    /// The JSON contract: `{ "runs": [ … ] }`.
    Json,
}

/// Flags of `canarysim run`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  canarysim run scenarios/checkout-leak.toml
  canarysim run scenarios/checkout-leak.toml --policy manual --seed 2
  canarysim run scenarios/checkout-leak.toml --format json --out out/")]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Run only this policy (repeatable); default: every policy in the scenario.
    #[arg(long = "policy", value_name = "NAME")]
    pub policies: Vec<String>,
    /// Seed of the run; default: the scenario's `simulation.seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also write result.json, events.csv and series.csv into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs the subcommand; returns the exit code.
pub fn main(args: RunArgs) -> Result<u8> {
    let sc = load_scenario(&args.scenario)?;
    let seed = args.seed.unwrap_or(sc.seed);
    let mut chosen = Vec::new();
    for name in &args.policies {
        match sc.policy(name) {
            Some(p) => chosen.push(p),
            None => {
                let names: Vec<&str> = sc.policies.iter().map(|p| p.name.as_str()).collect();
                bail!(
                    "scenario {} has no policy {name:?}; it has: {}",
                    sc.file,
                    names.join(", ")
                );
            }
        }
    }
    if chosen.is_empty() {
        chosen = sc.policies.iter().collect();
    }
    if chosen.is_empty() {
        bail!(
            "scenario {} defines no policies; add a [[policies]] table",
            sc.file
        );
    }
    let mut results = Vec::new();
    let mut series_csv = String::new();
    for p in chosen {
        let started = std::time::Instant::now();
        let out = engine::run(&sc, p, seed);
        let wall = started.elapsed().as_secs_f64();
        eprintln!(
            "{}: {} events, {:.0} simulated s in {:.3} s wall ({:.1}M events/s)",
            p.name,
            out.result.events,
            out.result.sim_duration_s,
            wall,
            out.result.events as f64 / wall.max(1e-9) / 1e6
        );
        if args.out.is_some() {
            report::csv::series(&p.name, seed, &out.series, &mut series_csv);
        }
        results.push(out.result);
    }
    let stdout = match args.format {
        Format::Json => report::json(&results),
        Format::Text => results
            .iter()
            .map(report::text::run)
            .collect::<Vec<_>>()
            .join("\n"),
    };
    if let Some(dir) = &args.out {
        write_outputs(
            dir,
            &[
                ("result.json", report::json(&results).into_bytes()),
                ("events.csv", report::csv::events(&results).into_bytes()),
                ("series.csv", series_csv.into_bytes()),
            ],
        )?;
    }
    let mut lock = std::io::stdout().lock();
    let _ = lock.write_all(stdout.as_bytes());
    Ok(super::EXIT_OK)
}
