//! `canarysim run`: run policies on a scenario and report.

use std::path::PathBuf;

use anyhow::{Result, bail};
use canarysim::engine;
use canarysim::report;
use canarysim::rollout::policy::Policy;
use canarysim::scenario::Scenario;
use clap::{Args, ValueEnum};

use super::common::{find_policy, load_scenario, note_unmodelled, print, write_outputs};

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

/// The most seeds `--runs` takes; every run's result is held for the report.
pub const MAX_RUNS: u64 = 10_000;

/// Flags of `canarysim run`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  canarysim run scenarios/checkout-leak.toml
  canarysim run scenarios/checkout-leak.toml --policy manual --seed 2
  canarysim run scenarios/checkout-leak.toml --format json --out out/
  canarysim run scenarios/checkout-good.toml --format markdown > report.md
  canarysim run scenarios/checkout-good.toml --runs 100
  canarysim run scenarios/checkout-leak.toml --policy memory-trend \\
      --set policy.memory-trend.metric.memory-limit-within-1h.failureLimit=2

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
    /// At most 10000 (`sweep` is for more).
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=MAX_RUNS))]
    pub runs: u64,
    /// Override a scenario key or policy field: `traffic.rate=120`,
    /// `policy.NAME.steps[4].pause.duration=1m`,
    /// `policy.NAME.metric.METRIC.failureLimit=2`, `policy.NAME.arg.ARG=V`
    /// (repeatable; docs/scenario.md, "Overrides").
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Also write result.json, report.md, events.csv, series.csv and each
    /// Locust run's CSV files (locust/<policy>/<job>_stats.csv, …) into this
    /// directory. It is replaced whole (old or complete new, even on a full
    /// disk or Ctrl-C), so it must be new, empty or an earlier --out.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs the subcommand; returns the exit code.
pub fn main(args: RunArgs) -> Result<u8> {
    let sc = load_scenario(&args.scenario, &args.set)?;
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
    let mut series_csv = String::new();
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
        if args.out.is_some() {
            report::csv::series(&p.name, seed, &out.series, &mut series_csv);
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
            ("series.csv".into(), series_csv.into_bytes()),
        ];
        files.extend(locust_files);
        write_outputs(dir, &files)?;
    }
    print(&stdout)?;
    Ok(super::EXIT_OK)
}

/// `--runs N`: every chosen policy with seeds `seed .. seed+N`, in parallel.
fn many_seeds(args: &RunArgs, sc: &Scenario, chosen: &[&Policy], seed: u64) -> Result<u8> {
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let runs = usize::try_from(args.runs)
        .ok()
        .filter(|n| n.checked_mul(chosen.len()).is_some_and(|t| t <= 10_000_000))
        .ok_or_else(|| anyhow::anyhow!("--runs {} is more than canarysim runs at once (10,000,000 runs in all); use `canarysim sweep --shard K/N`", args.runs))?;
    let seeds: Vec<u64> = (0..runs as u64).map(|i| seed.wrapping_add(i)).collect();
    let total = runs * chosen.len();
    let done = AtomicUsize::new(0);
    let tty = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let tick = || {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if tty && (n.is_multiple_of(10) || n == total) {
            eprint!("\r{n}/{total} runs");
        }
    };
    let mut results = Vec::with_capacity(total);
    for p in chosen {
        results.extend(canarysim::sweep::run_seeds_with(
            sc,
            p,
            &seeds,
            &tick,
            &|r| r,
        ));
    }
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
    let templates = |name: &str| {
        sc.policy(name)
            .map(|p| p.templates.clone())
            .unwrap_or_default()
    };
    let stdout = match args.format {
        Format::Json => report::json(&results),
        Format::Markdown => format!(
            "# {}: {} seeds per policy ({seed}..={last})\n\n{}",
            sc.name,
            args.runs,
            report::aggregate::markdown(&results, &templates)
        ),
        Format::Text => format!(
            "{} · seeds {seed}..={last} · {}\n\n{}",
            sc.name,
            if sc.canary_bad() {
                "bad release"
            } else {
                "good release"
            },
            report::aggregate::text(&results, &templates)
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
    print(&stdout)?;
    Ok(super::EXIT_OK)
}
