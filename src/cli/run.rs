//! `canarysim run`: run policies on a scenario and report.

use std::path::PathBuf;

use anyhow::{Result, bail};
use canarysim::engine;
use canarysim::report;
use canarysim::rollout::policy::Policy;
use canarysim::scenario::Scenario;
use clap::{Args, ValueEnum};

use super::common::{OutDir, Plots, find_policy, load_scenario, note_unmodelled, print};

/// Output format of `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable timeline and summary per policy.
    Text,
    /// The JSON contract: `{ "runs": [ … ] }`.
    Json,
    /// A Markdown report: the comparison table and each policy's course.
    Markdown,
    /// One self-contained HTML page: the Markdown report's story with each
    /// run's timeline plot (single seed; with --runs, the verdict tables).
    Html,
}

/// How `--out` writes the scraped series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeriesFormat {
    /// Not at all (the default: a flagship run's series are ~200 MB).
    None,
    /// `series.csv`: every sample in long form, all policies in one file.
    Csv,
    /// `series/<policy>.om`: OpenMetrics text per policy, for promtool.
    Openmetrics,
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
    /// (repeatable; docs/sweep.md).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Also write result.json, report.md, events.csv, each Locust run's
    /// CSV files (locust/<policy>/<job>_stats.csv, …) and the pictures
    /// (plots/, see --plots) into this directory.
    /// It is replaced whole (old or complete new, even on a full disk or
    /// Ctrl-C), so it must be new, empty or an earlier --out.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// With --out, also write the scraped series: series.csv, or
    /// series/<policy>.om in OpenMetrics (docs/grafana.md).
    #[arg(long, value_enum, default_value_t = SeriesFormat::None, value_name = "FORMAT")]
    pub series: SeriesFormat,
    /// With --out, the pictures: plots/timeline-<policy>.svg for each policy
    /// (with --runs, plots/compare.svg), as SVG, PNG or none.
    #[arg(long, value_enum, default_value_t = Plots::Svg, value_name = "FORMAT")]
    pub plots: Plots,
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
    let mut figures: Vec<(String, String)> = Vec::new();
    // `--out`'s files are written as each run ends (a run's series are
    // dropped once written), into a directory swapped in at the end.
    let out_dir = args.out.as_deref().map(OutDir::begin).transpose()?;
    const SERIES_CSV: &str = "series.csv";
    let mut series_csv = None;
    for p in chosen {
        let started = std::time::Instant::now();
        // The whole series only when a file or figure shows them.
        let retention = if args.out.is_some() || args.format == Format::Html {
            engine::Retention::Full
        } else {
            engine::Retention::Queries
        };
        let out = engine::Engine::with_retention(&sc, p, seed, retention).run();
        let wall = started.elapsed().as_secs_f64();
        eprintln!(
            "{}: {} events, {:.0} simulated s in {:.3} s wall ({:.1}M events/s)",
            p.name,
            out.result.events,
            out.result.sim_duration_s,
            wall,
            out.result.events as f64 / wall.max(1e-9) / 1e6
        );
        if args.format == Format::Html {
            figures.extend(timeline_svg(&sc, &out));
        }
        if let Some(dir) = &out_dir {
            if let Some((name, bytes)) = timeline_file(&sc, &out, args.plots) {
                dir.write(&name, &bytes)?;
            }
            match args.series {
                SeriesFormat::None => {}
                SeriesFormat::Csv => {
                    let header = series_csv.is_none();
                    let w = match &mut series_csv {
                        Some(w) => w,
                        None => series_csv.insert(dir.create(SERIES_CSV)?),
                    };
                    report::csv::write_series(&p.name, seed, &out.series, header, w)
                        .map_err(|e| dir.failed(SERIES_CSV, e))?;
                }
                SeriesFormat::Openmetrics => {
                    let name = format!("series/{}.om", p.name);
                    let mut w = dir.create(&name)?;
                    canarysim::series::openmetrics::write_to(
                        &out.series,
                        canarysim::series::openmetrics::DEFAULT_START_MS,
                        &mut w,
                    )
                    .map_err(|e| dir.failed(&name, e))?;
                    dir.finish(&name, w)?;
                }
            }
            for (job, csv) in out
                .locust
                .iter()
                .filter_map(|(j, r)| Some((j, r.csv.as_ref()?)))
            {
                for (name, contents) in csv.files(job) {
                    dir.write(&format!("locust/{}/{name}", p.name), contents.as_bytes())?;
                }
            }
        }
        results.push(out.result);
    }
    let stdout = match args.format {
        Format::Json => report::json(&results),
        Format::Markdown => report::markdown::report(&sc, seed, &results),
        Format::Html => {
            report::html::render(&report::html::run_report(&sc, seed, &results, &figures))
        }
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
    if let Some(dir) = out_dir {
        if let Some(w) = series_csv {
            dir.finish(SERIES_CSV, w)?;
        }
        dir.write("result.json", report::json(&results).as_bytes())?;
        dir.write(
            "report.md",
            report::markdown::report(&sc, seed, &results).as_bytes(),
        )?;
        dir.write("events.csv", report::csv::events(&results).as_bytes())?;
        dir.commit()?;
    }
    print(&stdout)?;
    Ok(super::EXIT_OK)
}

/// The timeline of one run as SVG, for the HTML report (none without the
/// `plot` feature, or if drawing fails, which is reported).
#[cfg(feature = "plot")]
fn timeline_svg(sc: &Scenario, out: &engine::RunOutput) -> Option<(String, String)> {
    let fig = canarysim::plot::timeline::Timeline::new(sc, &out.result, &out.series);
    match canarysim::plot::svg(&fig) {
        Ok(svg) => Some((out.result.policy.clone(), svg)),
        Err(e) => {
            eprintln!("note: no timeline for {}: {e}", out.result.policy);
            None
        }
    }
}

#[cfg(not(feature = "plot"))]
fn timeline_svg(_: &Scenario, _: &engine::RunOutput) -> Option<(String, String)> {
    None
}

/// `plots/timeline-<policy>.<ext>` for `--out` (none when `--plots none`,
/// without the `plot` feature, or if drawing fails, which is reported).
#[cfg(feature = "plot")]
fn timeline_file(
    sc: &Scenario,
    out: &engine::RunOutput,
    plots: Plots,
) -> Option<(String, Vec<u8>)> {
    let format = plots.format()?;
    let fig = canarysim::plot::timeline::Timeline::new(sc, &out.result, &out.series);
    let name = plots.file_name(&format!("plots/timeline-{}", out.result.policy));
    picture(name, canarysim::plot::render(&fig, format))
}

#[cfg(not(feature = "plot"))]
fn timeline_file(_: &Scenario, _: &engine::RunOutput, _: Plots) -> Option<(String, Vec<u8>)> {
    None
}

/// `plots/compare.<ext>` of `--runs N --out`: verdict shares and time to
/// detect per policy.
#[cfg(feature = "plot")]
fn compare_file(
    results: &[canarysim::outcome::RunResult],
    plots: Plots,
) -> Option<(String, Vec<u8>)> {
    let format = plots.format()?;
    let fig = canarysim::plot::compare::Comparison::new(results);
    picture(
        plots.file_name("plots/compare"),
        canarysim::plot::render(&fig, format),
    )
}

#[cfg(not(feature = "plot"))]
fn compare_file(_: &[canarysim::outcome::RunResult], _: Plots) -> Option<(String, Vec<u8>)> {
    None
}

#[cfg(feature = "plot")]
fn picture(
    name: String,
    drawn: Result<Vec<u8>, canarysim::plot::PlotError>,
) -> Option<(String, Vec<u8>)> {
    match drawn {
        Ok(bytes) => Some((name, bytes)),
        Err(e) => {
            eprintln!("note: no {name}: {e}");
            None
        }
    }
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
    // The output directory is checked before the runs, not after them.
    let out_dir = args.out.as_deref().map(OutDir::begin).transpose()?;
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
    let laws = canarysim::engine::SharedLaws::default();
    for p in chosen {
        results.extend(canarysim::sweep::run_seeds_with(
            sc,
            p,
            &seeds,
            &laws,
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
        Format::Html => report::html::render(&report::html::Document {
            title: format!(
                "{}: {} seeds per policy ({seed}..={last})",
                sc.name, args.runs
            ),
            intro: vec![report::html::Block::Pre(report::aggregate::text(
                &results, &templates,
            ))],
            sections: Vec::new(),
        }),
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
    if let Some(dir) = out_dir {
        dir.write("result.json", report::json(&results).as_bytes())?;
        dir.write("events.csv", report::csv::events(&results).as_bytes())?;
        if let Some((name, bytes)) = compare_file(&results, args.plots) {
            dir.write(&name, &bytes)?;
        }
        dir.commit()?;
    }
    print(&stdout)?;
    Ok(super::EXIT_OK)
}
