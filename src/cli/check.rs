//! `canarysim check`: expectations about policies as a CI gate; exit 1
//! when one falls short, 2 on bad input.
//!
//! The library reads the check files, runs and judges them
//! (`canarysim::check`); this file reads the files and standard input,
//! shows progress, prints the report and writes `--junit` and
//! `--save-baseline` atomically.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use canarysim::check::{self, CheckSpec, Inputs, baseline::Baseline, output};
use clap::{Args, ValueEnum};

use super::common::{parse_overrides, paths_name_one_file, refuse_input_as_output, write_file};
use super::disk::{Disk, read_input};

/// Output format of `check` on standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per expectation, then `N passed, N failed`.
    Text,
    /// The text, then GitHub Actions `::error` commands at each failing line.
    Github,
    /// The figures of every expectation, for tools.
    Json,
    /// One self-contained HTML page: a table per check file.
    Html,
}

/// Flags of `canarysim check`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  canarysim check scenarios/checks/flagship.toml
  canarysim check checks/*.toml --junit report.xml --format github
  kustomize build overlays/prod | canarysim check checks.toml --manifests memory-trend=-
  canarysim check checks.toml --save-baseline baseline.json    # on main
  canarysim check checks.toml --baseline baseline.json         # on a pull request

Seeds are fixed (seed..seed+runs-1), so a check never flakes. Exit status:
0 every expectation holds, 1 one fell short, 2 bad input. Format: docs/check.md.")]
pub struct CheckArgs {
    /// Check files (TOML with [[expect]] tables).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Override a scenario key or policy field in every run expectation (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Seeds per expectation instead of the files' `runs`.
    #[arg(long, value_name = "N")]
    pub runs: Option<u64>,
    /// Policy NAME's manifests from PATH instead of the scenario's (`-`: a
    /// multi-document YAML stream on standard input, e.g. `kustomize build`).
    #[arg(long = "manifests", value_name = "NAME=PATH")]
    pub manifests: Vec<String>,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Fail a rate that moved the wrong way significantly from this saved baseline.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Save the rates of this check as a baseline.
    #[arg(long, value_name = "FILE")]
    pub save_baseline: Option<PathBuf>,
}

/// Runs the subcommand; returns the exit code.
pub fn main(args: CheckArgs) -> Result<u8> {
    let mut inputs = Inputs {
        set: parse_overrides(&args.set)?,
        runs: args.runs,
        ..Inputs::default()
    };
    if args.runs == Some(0) {
        bail!("--runs must be at least 1");
    }
    let mut wants_stdin = false;
    for m in &args.manifests {
        let Some((name, path)) = m.split_once('=') else {
            bail!("--manifests {m:?} is not NAME=PATH (write --manifests memory-trend=-)");
        };
        let path = path.trim();
        let path = if path == "-" {
            if wants_stdin {
                bail!("--manifests: standard input can be read once; give `-` to one policy");
            }
            wants_stdin = true;
            "-".to_string()
        } else {
            std::path::absolute(path)
                .with_context(|| format!("--manifests {m}: bad path"))?
                .display()
                .to_string()
        };
        inputs.manifests.push((name.trim().to_string(), path));
    }
    let files: Vec<&Path> = args.files.iter().map(PathBuf::as_path).collect();
    if let Some(j) = &args.junit {
        refuse_input_as_output("--junit", j, &files)?;
        if let Some(b) = &args.baseline {
            refuse_input_as_output("--junit", j, &[b])?;
        }
        if args
            .save_baseline
            .as_ref()
            .is_some_and(|b| paths_name_one_file(j, b))
        {
            bail!(
                "--junit {} and --save-baseline name one file; give two",
                j.display()
            );
        }
    }
    if let Some(b) = &args.save_baseline {
        refuse_input_as_output("--save-baseline", b, &files)?;
    }
    let mut specs = Vec::new();
    for f in &args.files {
        let label = f.display().to_string();
        let text = read_input(f).with_context(|| format!("cannot read {label}"))?;
        let spec = CheckSpec::parse(&label, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let lints_stdin = spec.expectations.iter().any(|e| {
            matches!(&e.subject, check::Subject::Lint { paths } if paths.iter().any(|p| p == "-"))
        });
        wants_stdin |= lints_stdin;
        specs.push((spec, f.parent().map(Path::to_path_buf).unwrap_or_default()));
    }
    if wants_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        inputs.stdin = Some(check::stdin::source(text));
    }
    let baseline = match &args.baseline {
        None => None,
        Some(p) => {
            let text =
                read_input(p).with_context(|| format!("cannot read baseline {}", p.display()))?;
            Some(Baseline::from_json(&text).map_err(|e| anyhow::anyhow!("{}:{e}", p.display()))?)
        }
    };
    // Everything is loaded and checked before the first run.
    let mut prepared = Vec::new();
    for (spec, dir) in &specs {
        prepared
            .push(check::prepare(&Disk, spec, dir, &inputs).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    let total: u64 = prepared.iter().map(|p| p.planned_runs(&inputs)).sum();
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs · ETA {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let tick = || {
        if let Some(b) = &bar {
            b.inc(1);
        }
    };
    let started = std::time::Instant::now();
    let mut suites: Vec<check::Suite> = prepared
        .iter()
        .map(|p| check::run(p, &inputs, &tick))
        .collect();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    eprintln!(
        "check: {total} runs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if let Some(b) = &baseline {
        if b.runs != suites.first().map_or(0, |s| s.runs) {
            eprintln!(
                "note: the baseline ran {} seeds per expectation from seed {}; this check runs {}",
                b.runs,
                b.seed,
                suites.first().map_or(0, |s| s.runs)
            );
        }
        b.compare(&mut suites);
    }
    if let Some(path) = &args.junit {
        write_file(path, output::junit(&suites).as_bytes())?;
    }
    if let Some(path) = &args.save_baseline {
        write_file(path, Baseline::of(&suites).to_json().as_bytes())?;
    }
    let report = match args.format {
        Format::Text => output::text(&suites),
        Format::Github => output::github(&suites),
        Format::Json => output::json(&suites),
        Format::Html => output::html(&suites),
    };
    let _ = std::io::stdout().lock().write_all(report.as_bytes());
    let failed: usize = suites.iter().map(|s| s.counts().1).sum();
    Ok(if failed > 0 {
        super::EXIT_FINDINGS
    } else {
        super::EXIT_OK
    })
}
