//! `canarysim run`: run policies on a scenario and report.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use canarysim::engine;
use canarysim::report;
use canarysim::rollout::policy::Policy;
use canarysim::scenario::Scenario;
use clap::{Args, ValueEnum};

use super::common::{find_policy, load_scenario, note_unmodelled, write_outputs};

/// Output format of `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable timeline and summary per policy.
    Text,
    /// The JSON contract: `{ "runs": [ … ] }`.
    Json,
    /// A Markdown report: the comparison table and each policy's course.
    Markdown,
}

/// Flags of `canarysim run`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  canarysim run scenarios/checkout-leak.toml
  canarysim run scenarios/checkout-leak.toml --policy manual --seed 2
  canarysim run scenarios/checkout-leak.toml --format json --out out/
  canarysim run scenarios/checkout-good.toml --format markdown > report.md
  canarysim run scenarios/checkout-good.toml --runs 100

With several policies, text output is the comparison table; with one
(--policy NAME) it is that run's timeline and summary.")]
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
    /// Run each policy with this many seeds (seed, seed+1, …) and print how
    /// often each verdict came; runs in parallel, same output on any thread count.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub runs: u64,
    /// Also write result.json, report.md, events.csv, series.csv and each
    /// Locust run's CSV files (locust/<policy>/<job>_stats.csv, …) into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs the subcommand; returns the exit code.
pub fn main(args: RunArgs) -> Result<u8> {
    let sc = load_scenario(&args.scenario)?;
    let seed = args.seed.unwrap_or(sc.seed);
    let mut chosen = Vec::new();
    for name in &args.policies {
        chosen.push(find_policy(&sc, name)?);
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
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    note_unmodelled(&sc, &chosen);
    if args.runs > 1 {
        return many_seeds(&args, &sc, &chosen, seed);
    }
    let mut results = Vec::new();
    // series.csv is the big one: written policy by policy as the runs end.
    let mut series_csv = match &args.out {
        Some(dir) => Some(super::common::Streamed::create(dir, "series.csv")?),
        None => None,
    };
    let mut locust_files: Vec<(String, Vec<u8>)> = Vec::new();
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
        if let Some(file) = &mut series_csv {
            let header = results.is_empty();
            file.write_with(|w| report::csv::write_series(&p.name, seed, &out.series, header, w))?;
            for (job, report) in &out.locust {
                for (name, contents) in report.csv.files(job) {
                    locust_files.push((
                        format!("locust/{}/{name}", p.name),
                        contents.as_bytes().to_vec(),
                    ));
                }
            }
        }
        results.push(out.result);
    }
    let stdout = match args.format {
        Format::Json => report::json(&results),
        Format::Markdown => report::markdown::report(&sc, seed, &results),
        Format::Text if results.len() == 1 => report::text::run(&results[0]),
        Format::Text => format!(
            "{} · seed {seed} · {}\n\n{}\n(--policy NAME shows one run's timeline)\n",
            sc.name,
            if sc.canary_bad() {
                "bad release"
            } else {
                "good release"
            },
            report::table::text(&results)
        ),
    };
    if let Some(dir) = &args.out {
        let mut files: Vec<(String, Vec<u8>)> = vec![
            ("result.json".into(), report::json(&results).into_bytes()),
            (
                "report.md".into(),
                report::markdown::report(&sc, seed, &results).into_bytes(),
            ),
            (
                "events.csv".into(),
                report::csv::events(&results).into_bytes(),
            ),
        ];
        files.extend(locust_files);
        write_outputs(dir, &files)?;
        if let Some(file) = series_csv {
            file.finish()?;
        }
    }
    let mut lock = std::io::stdout().lock();
    let _ = lock.write_all(stdout.as_bytes());
    Ok(super::EXIT_OK)
}

/// `--runs N`: every chosen policy with seeds `seed .. seed+N`, in parallel.
fn many_seeds(args: &RunArgs, sc: &Scenario, chosen: &[&Policy], seed: u64) -> Result<u8> {
    use rayon::prelude::*;
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let jobs: Vec<(&Policy, u64)> = chosen
        .iter()
        .flat_map(|p| (0..args.runs).map(move |i| (*p, seed.wrapping_add(i))))
        .collect();
    let total = jobs.len();
    let done = AtomicUsize::new(0);
    let tty = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let results: Vec<_> = jobs
        .par_iter()
        .map(|(p, s)| {
            let r = engine::run(sc, p, *s).result;
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if tty && (n.is_multiple_of(10) || n == total) {
                eprint!("\r{n}/{total} runs");
            }
            r
        })
        .collect();
    if tty {
        eprintln!();
    }
    let events: u64 = results.iter().map(|r| r.events).sum();
    let wall = started.elapsed().as_secs_f64();
    eprintln!(
        "{total} runs, {events} events in {wall:.2} s wall ({:.1}M events/s)",
        events as f64 / wall.max(1e-9) / 1e6
    );
    let last = seed.wrapping_add(args.runs - 1);
    let stdout = match args.format {
        Format::Json => report::json(&results),
        Format::Markdown => format!(
            "# {}: {} seeds per policy ({seed}..={last})\n\n{}",
            sc.name,
            args.runs,
            report::aggregate::markdown(&results)
        ),
        Format::Text => format!(
            "{} · seeds {seed}..={last} · {}\n\n{}",
            sc.name,
            if sc.canary_bad() {
                "bad release"
            } else {
                "good release"
            },
            report::aggregate::text(&results)
        ),
    };
    if let Some(dir) = &args.out {
        write_outputs(
            dir,
            &[
                ("result.json".into(), report::json(&results).into_bytes()),
                (
                    "events.csv".into(),
                    report::csv::events(&results).into_bytes(),
                ),
            ],
        )?;
    }
    let mut lock = std::io::stdout().lock();
    let _ = lock.write_all(stdout.as_bytes());
    Ok(super::EXIT_OK)
}
