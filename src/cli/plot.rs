//! `canarysim plot timeline|compare|sweep`: the pictures, as SVG or PNG by
//! the output's extension. Runs the engine (or reads a sweep's JSON), hands
//! the results to `canarysim::plot`, and writes the bytes atomically.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use canarysim::engine;
use canarysim::plot::{self, ImageFormat};
use clap::{Args, Subcommand};

use super::common::write_file;
use super::common::{find_policy, load_scenario};

/// The pictures.
#[derive(Subcommand, Debug)]
pub enum PlotCommand {
    /// One run's timeline: working set per pod against its limit, the canary
    /// weight, every measurement by phase, promotion, abort, undo and page.
    Timeline(TimelineArgs),
    /// Policies compared over seeds: verdict shares (bad and good release
    /// side by side) and the time to detect per policy.
    Compare(CompareArgs),
    /// A sweep's trade-off: detection against false aborts per variant with
    /// Wilson intervals and the Pareto front; detection against fault size.
    Sweep(SweepArgs),
}

/// Flags of `canarysim plot timeline`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  canarysim plot timeline scenarios/checkout-leak.toml --policy memory-trend -o trend.svg
  canarysim plot timeline scenarios/checkout-leak.toml --policy manual --seed 3 -o manual.png")]
pub struct TimelineArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// The policy to run.
    #[arg(long, value_name = "NAME")]
    pub policy: String,
    /// Seed of the run; default: the scenario's `simulation.seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override a scenario key or policy field, as `run --set` does (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// The picture to write: FILE.svg or FILE.png.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// Flags of `canarysim plot compare`.
#[derive(Args, Debug)]
#[command(after_help = "Example:
  canarysim plot compare scenarios/checkout-leak.toml scenarios/checkout-good.toml \\
      --runs 50 -o compare.svg")]
pub struct CompareArgs {
    /// Scenario files (a bad and a good release side by side, usually).
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Only these policies (repeatable); default: every policy of each scenario.
    #[arg(long = "policy", value_name = "NAME")]
    pub policies: Vec<String>,
    /// Seeds per policy (seed, seed+1, …).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub runs: u64,
    /// First seed; default: each scenario's `simulation.seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override a scenario key or policy field, as `run --set` does (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// The picture to write: FILE.svg or FILE.png.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// Flags of `canarysim plot sweep`.
#[derive(Args, Debug)]
#[command(after_help = "Example:
  canarysim sweep scenarios/sweeps/memory-trend.toml --out out
  canarysim plot sweep out/result.json -o tradeoff.svg")]
pub struct SweepArgs {
    /// A sweep's JSON result (`canarysim sweep … --format json`).
    pub result: PathBuf,
    /// The picture to write: FILE.svg or FILE.png.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// Runs the subcommand; returns the exit code.
pub fn main(command: PlotCommand) -> Result<u8> {
    match command {
        PlotCommand::Timeline(a) => timeline(a),
        PlotCommand::Compare(a) => compare(a),
        PlotCommand::Sweep(a) => sweep(a),
    }
}

fn format_of(path: &Path) -> Result<ImageFormat> {
    Ok(ImageFormat::from_path(path)?)
}

fn timeline(a: TimelineArgs) -> Result<u8> {
    let format = format_of(&a.output)?;
    let sc = load_scenario(&a.scenario, &a.set)?;
    let policy = find_policy(&sc, &a.policy)?;
    let out = engine::run(&sc, policy, a.seed.unwrap_or(sc.seed));
    let fig = plot::timeline::Timeline::new(&sc, &out.result, &out.series);
    write_file(&a.output, &plot::render(&fig, format)?)?;
    Ok(super::EXIT_OK)
}

fn compare(a: CompareArgs) -> Result<u8> {
    use rayon::prelude::*;
    let format = format_of(&a.output)?;
    if a.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let mut results = Vec::new();
    for file in &a.scenarios {
        let sc = load_scenario(file, &a.set)?;
        let mut chosen = Vec::new();
        for name in &a.policies {
            chosen.push(find_policy(&sc, name)?);
        }
        if chosen.is_empty() {
            chosen = sc.policies.iter().collect();
        }
        let seed = a.seed.unwrap_or(sc.seed);
        let jobs: Vec<_> = chosen
            .iter()
            .flat_map(|p| (0..a.runs).map(move |i| (*p, seed.wrapping_add(i))))
            .collect();
        let mut r: Vec<_> = jobs
            .par_iter()
            .map(|(p, s)| engine::run_result(&sc, p, *s))
            .collect();
        results.append(&mut r);
    }
    let fig = plot::compare::Comparison::new(&results);
    write_file(&a.output, &plot::render(&fig, format)?)?;
    Ok(super::EXIT_OK)
}

fn sweep(a: SweepArgs) -> Result<u8> {
    let format = format_of(&a.output)?;
    let text = super::disk::read_input(&a.result)
        .with_context(|| format!("cannot read {}", a.result.display()))?;
    let result = plot::sweep::SweepResult::from_json(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.result.display()))?;
    let fig = plot::sweep::TradeOff::new(&result)?;
    write_file(&a.output, &plot::render(&fig, format)?)?;
    Ok(super::EXIT_OK)
}
