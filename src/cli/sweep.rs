//! `canarysim sweep`: scenarios × policy variants × seeds, with intervals,
//! the gate that decided, and the Pareto-optimal variants; `sweep merge`
//! joins the parts of a sharded sweep.
//!
//! The library prepares and runs the cells (`canarysim::sweep`); this file
//! reads the inputs, shows progress, writes each finished cell under
//! `--out DIR/cells/` (so `--resume` can continue) and the results at the end.

use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use canarysim::report;
use canarysim::sweep::{self, CellPart, Shard, SweepHeader, SweepPart, SweepResult, SweepSpec};
use clap::{Args, Subcommand, ValueEnum};
use rayon::prelude::*;

use super::common::{OUT_MARKER, Plots, parse_overrides, print, write_atomic};
use super::disk::{Disk, read_input, read_regular};

/// Output format of `sweep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The variants in decision order, then every cell, as aligned text.
    Text,
    /// The same tables in Markdown.
    Markdown,
    /// The JSON result: `{ "sweep", "cells", "variants" }`.
    Json,
    /// One row per cell.
    Csv,
    /// One self-contained HTML page: the trade-off plot and both tables.
    Html,
}

/// Flags of `canarysim sweep`.
#[derive(Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:
  canarysim sweep scenarios/sweeps/memory-trend.toml
  canarysim sweep scenarios/sweeps/memory-trend.toml --runs 20 --format markdown
  canarysim sweep scenarios/checkout-leak.toml scenarios/checkout-good.toml \\
      --policy memory-trend --runs 50 \\
      --vary policy.memory-trend.metric.memory-limit-within-1h.failureLimit=0,1,2
  canarysim sweep FILE --out results/ --resume        # continue an interrupted sweep
  canarysim sweep FILE --shard 2/3 --out parts/      # one machine's share
  canarysim sweep merge parts/part-*-of-3.json       # the same bytes as unsharded

Every cell runs the same seeds (seed..seed+runs-1), so differences between
variants are not seed noise. Rates carry 95% Wilson intervals; undecided
runs are counted apart. Sweep file format: docs/sweep.md."
)]
pub struct SweepArgs {
    /// `merge`: join the parts of a sharded sweep.
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    /// A sweep file (TOML with `scenarios` and `[[axis]]`), or scenario files.
    #[arg(value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
    /// With scenario files: the policy to sweep (repeatable; default every one).
    #[arg(long = "policy", value_name = "NAME")]
    pub policies: Vec<String>,
    /// With scenario files: an axis, `PATH=V1,V2,…` (repeatable; axes multiply).
    /// Values are split at commas outside brackets, braces, parentheses and
    /// quotes, so `traffic.mix={a=1,b=2}` is one value; a value given twice
    /// (by value: `60` and `60.0`, `1m` and `60s`) is refused.
    #[arg(long = "vary", value_name = "PATH=V1,V2")]
    pub vary: Vec<String>,
    /// Override a scenario key or policy field in every cell (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Seeds per cell (default: the sweep file's `runs`, else 100).
    #[arg(long, value_name = "N")]
    pub runs: Option<u64>,
    /// The first seed (default: the sweep file's `seed`, else 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write each finished cell, then result.json, report.md, cells.csv and
    /// the trade-off picture (tradeoff.svg), into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// With --out, the trade-off picture as SVG, PNG or none.
    #[arg(long, value_enum, default_value_t = Plots::Svg, value_name = "FORMAT")]
    pub plots: Plots,
    /// Continue the sweep in --out DIR from the cells already there.
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// Run only every N-th (cell, seed) pair, starting at the K-th; prints
    /// (or writes into --out) a part for `sweep merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
}

/// Subcommands of `sweep`.
#[derive(Subcommand, Debug)]
pub enum SweepCommand {
    /// Join the parts of a sharded sweep into its result (the same bytes as unsharded).
    Merge(MergeArgs),
}

/// Flags of `canarysim sweep merge`.
#[derive(Args, Debug)]
#[command(after_help = "Example:
  canarysim sweep scenarios/sweeps/memory-trend.toml --shard 1/2 --out parts
  canarysim sweep scenarios/sweeps/memory-trend.toml --shard 2/2 --out parts
  canarysim sweep merge parts/part-*-of-2.json --format markdown --out result")]
pub struct MergeArgs {
    /// The parts (`--shard K/N` output), one per shard.
    #[arg(required = true, value_name = "PART.json")]
    pub parts: Vec<PathBuf>,
    /// Output format on standard output.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also write result.json, report.md, cells.csv and tradeoff.svg into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// With --out, the trade-off picture as SVG, PNG or none.
    #[arg(long, value_enum, default_value_t = Plots::Svg, value_name = "FORMAT")]
    pub plots: Plots,
}

fn is_sweep_file(path: &Path) -> Result<bool> {
    let text = read_input(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(toml::from_str::<toml::Table>(&text).is_ok_and(|t| t.contains_key("scenarios")))
}

/// Runs the subcommand; returns the exit code.
pub fn main(args: SweepArgs) -> Result<u8> {
    if let Some(SweepCommand::Merge(m)) = args.command {
        return merge(m);
    }
    let extra = parse_overrides(&args.set)?;
    let (mut spec, dir) = match args.inputs.as_slice() {
        [] => {
            bail!("give a sweep file, or scenario files with --vary; see `canarysim sweep --help`")
        }
        [one] if args.vary.is_empty() && is_sweep_file(one)? => {
            if !args.policies.is_empty() {
                bail!(
                    "--policy is for scenario files; a sweep file names its policies in `policies`"
                );
            }
            let label = one.display().to_string();
            let text = read_input(one).with_context(|| format!("cannot read {label}"))?;
            let spec = SweepSpec::parse(&label, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
            let dir = one.parent().map(Path::to_path_buf).unwrap_or_default();
            (spec, dir)
        }
        many => {
            let spec = SweepSpec::from_flags(
                many.iter().map(|p| p.display().to_string()).collect(),
                args.policies.clone(),
                &args.vary,
                args.runs.unwrap_or(100),
                args.seed.unwrap_or(1),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            (spec, PathBuf::new())
        }
    };
    if let Some(r) = args.runs {
        if r == 0 {
            bail!("--runs must be at least 1");
        }
        spec.runs = r;
        spec.check_size(canarysim::scenario::Override::command_line("--runs"))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    if let Some(s) = args.seed {
        spec.seed = s;
    }
    let shard = match &args.shard {
        None => Shard::ALL,
        Some(s) => Shard::parse(s).map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let cells = sweep::prepare(&Disk, &spec, &dir, &extra).map_err(|e| anyhow::anyhow!("{e}"))?;
    let header = SweepHeader::new(&spec, &extra);

    let cells_dir = args.out.as_ref().map(|d| d.join("cells"));
    if let (Some(out), Some(cd)) = (&args.out, &cells_dir) {
        prepare_out(out, cd, &header, args.resume, shard)?;
    }
    let cell_file = |i: usize| format!("{i:05}{}", cell_suffix(shard));

    let total: u64 = (0..cells.len())
        .map(|i| shard.seeds(i, &spec).len() as u64)
        .sum();
    let done = AtomicU64::new(0);
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} runs · {per_sec} · ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let tick = || {
        done.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = &bar {
            b.inc(1);
        }
    };
    let started = std::time::Instant::now();
    let laws = sweep::SharedLaws::default();
    // Cells run side by side as well as their seeds (rayon nests); each is
    // written as it finishes and collected in cell order.
    let parts: Vec<CellPart> = cells
        .par_iter()
        .enumerate()
        .map(|(i, cell)| -> Result<CellPart> {
            if args.resume
                && let Some(cd) = &cells_dir
                && let Some(part) = read_cell(&cd.join(cell_file(i)), cell, &shard.seeds(i, &spec))
            {
                if let Some(b) = &bar {
                    b.inc(part.runs.len() as u64);
                }
                return Ok(part);
            }
            let part = sweep::run_cell(cell, i, &spec, shard, &laws, &tick);
            if let Some(cd) = &cells_dir {
                let mut bytes = serde_json::to_vec(&part).context("cannot serialise a cell")?;
                bytes.push(b'\n');
                write_atomic(cd, &cell_file(i), &bytes)?;
            }
            Ok(part)
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let ran = done.load(Ordering::Relaxed);
    let wall = started.elapsed().as_secs_f64();
    eprintln!(
        "{} cell{}, {ran} runs in {wall:.2} s ({:.1} runs/s){}",
        cells.len(),
        if cells.len() == 1 { "" } else { "s" },
        ran as f64 / wall.max(1e-9),
        if ran < total {
            format!("; {} runs read back from --out", total - ran)
        } else {
            String::new()
        }
    );

    if shard != Shard::ALL {
        let part = SweepPart {
            sweep: header,
            shard: [shard.k, shard.n],
            cells: parts,
        };
        let mut bytes = serde_json::to_vec_pretty(&part).context("cannot serialise the part")?;
        bytes.push(b'\n');
        match &args.out {
            Some(out) => {
                // Shards share the directory (a volume of an Indexed Job):
                // each writes its own part, whole, beside the others.
                let name = format!("part-{}-of-{}.json", shard.k, shard.n);
                fs::create_dir_all(out)
                    .with_context(|| format!("cannot create {}", out.display()))?;
                write_atomic(out, &name, &bytes)?;
                eprintln!("wrote {}", out.join(name).display());
            }
            None => print(&String::from_utf8_lossy(&bytes))?,
        }
        return Ok(super::EXIT_OK);
    }
    let result = SweepResult::from_cells(header, &parts);
    finish(&result, args.format, args.out.as_deref(), args.plots)
}

/// The trade-off picture, in each format `--plots` draws it in.
const PICTURES: [&str; 2] = ["tradeoff.svg", "tradeoff.png"];

/// Whether `name`, in a sweep's `--out` directory, is one a sweep writes:
/// its marker, header, results, picture and shard parts, or a hidden
/// temporary file.
fn written_by_sweep(name: &str) -> bool {
    matches!(
        name,
        OUT_MARKER | "sweep.json" | "result.json" | "report.md" | "cells.csv"
    ) || PICTURES.contains(&name)
        || (name.starts_with("part-") && name.ends_with(".json"))
        || is_temporary(name)
}

/// A hidden temporary file, which becomes a file a moment later.
fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

/// Checks that `out` may take a sweep's files and marks it as a sweep's.
/// It must be new, empty (but for temporary files: another shard starting
/// at the same moment), or a sweep's: its [`OUT_MARKER`] (or, from older
/// versions, its `sweep.json`) present and nothing in it but what a sweep
/// writes, so that a sweep never overwrites or clears a user's files.
fn claim_out(out: &Path) -> Result<()> {
    let names = dir_names(out);
    let cells = out.join("cells");
    let refuse = |why: String| {
        anyhow::anyhow!(
            "--out {}: the directory holds files a sweep did not write ({why}); give a new or empty directory, or an earlier sweep's",
            out.display()
        )
    };
    if let Some(name) = names.iter().find(|n| {
        !written_by_sweep(n)
            && (*n != "cells" || dir_names(&cells).iter().any(|c| !is_cell_file(c)))
    }) {
        return Err(refuse(name.clone()));
    }
    let settled: Vec<&String> = names.iter().filter(|n| !is_temporary(n)).collect();
    let marked = settled
        .iter()
        .any(|n| *n == OUT_MARKER || *n == "sweep.json");
    if !settled.is_empty() && !marked {
        return Err(refuse(format!("{} without {OUT_MARKER}", settled[0])));
    }
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_atomic(
        out,
        OUT_MARKER,
        b"written by canarysim; a sweep's --out, whose files a later sweep replaces\n",
    )
}

/// The names in `dir`, none when it cannot be read.
fn dir_names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir).map_or_else(
        |_| Vec::new(),
        |entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        },
    )
}

/// How the name of each of a shard's cell files ends: `-K-of-N.json`.
fn cell_suffix(shard: Shard) -> String {
    format!("-{}-of-{}.json", shard.k, shard.n)
}

/// Whether `name`, in `--out DIR/cells/`, is a cell file
/// (`NNNNN-K-of-N.json`) or a hidden temporary one of them.
fn is_cell_file(name: &str) -> bool {
    let name = name
        .strip_prefix('.')
        .map_or(name, |n| n.split(".tmp-").next().unwrap_or(n));
    let Some(stem) = name.strip_suffix(".json") else {
        return false;
    };
    let mut parts = stem.splitn(2, '-');
    let (Some(index), Some(shard)) = (parts.next(), parts.next()) else {
        return false;
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    digits(index)
        && shard
            .split_once("-of-")
            .is_some_and(|(k, n)| digits(k) && digits(n))
}

/// Checks (or starts) the --out directory, which must be new, empty or a
/// sweep's ([`claim_out`]). With `resume`, its sweep must be
/// this one. Without, this shard's earlier cells are removed; every cell,
/// part and result when the directory held another sweep. Other shards'
/// cells and parts stay: the shards of one sweep share the directory (a
/// volume of an Indexed Job) and may start at different times.
fn prepare_out(
    out: &Path,
    cells: &Path,
    header: &SweepHeader,
    resume: bool,
    shard: Shard,
) -> Result<()> {
    claim_out(out)?;
    let mut want = serde_json::to_vec_pretty(header).context("cannot serialise the sweep")?;
    want.push(b'\n');
    let have = fs::read(out.join("sweep.json")).ok();
    if resume {
        if have.as_ref().is_some_and(|h| *h != want) {
            bail!(
                "{} holds another sweep (its sweep.json differs); drop --resume to start over there",
                out.display()
            );
        }
        // Temporary files an interrupted write of this shard left behind
        // (another shard's may be in flight).
        let own = format!("{}.tmp-", cell_suffix(shard));
        for name in dir_names(cells) {
            if name.starts_with('.') && name.contains(&own) {
                let _ = fs::remove_file(cells.join(name));
            }
        }
    } else if have.as_ref() == Some(&want) {
        let own = cell_suffix(shard);
        for name in dir_names(cells) {
            if is_cell_file(&name) && name.contains(&own) {
                fs::remove_file(cells.join(&name))
                    .with_context(|| format!("cannot clear {}", cells.join(&name).display()))?;
            }
        }
    } else {
        // Another sweep's directory (or one whose sweep it does not say):
        // what that sweep wrote goes, its parts and results as well as its
        // cells, so that none of it is left beside this sweep's files
        // looking theirs.
        if cells.exists() {
            fs::remove_dir_all(cells)
                .with_context(|| format!("cannot clear {}", cells.display()))?;
        }
        for name in dir_names(out) {
            let kept = matches!(name.as_str(), OUT_MARKER | "sweep.json") || is_temporary(&name);
            if written_by_sweep(&name) && !kept {
                remove_stale(&out.join(name))?;
            }
        }
    }
    fs::create_dir_all(cells).with_context(|| format!("cannot create {}", cells.display()))?;
    write_atomic(out, "sweep.json", &want)
}

/// A finished cell from an earlier run, if it is this cell with these seeds.
fn read_cell(path: &Path, cell: &sweep::Cell, seeds: &[u64]) -> Option<CellPart> {
    let bytes = fs::read(path).ok()?;
    let part: CellPart = serde_json::from_slice(&bytes).ok()?;
    let fresh = CellPart::new(cell, Vec::new());
    let same = part.scenario_file == fresh.scenario_file
        && part.policy == fresh.policy
        && part.set == fresh.set
        && part.runs.iter().map(|r| r.seed).eq(seeds.iter().copied());
    same.then_some(part)
}

fn render(result: &SweepResult, format: Format) -> String {
    match format {
        Format::Text => report::sweep::text(result),
        Format::Markdown => report::sweep::markdown(result),
        Format::Json => report::sweep::json(result),
        Format::Csv => report::sweep::csv(result),
        Format::Html => report::sweep::html(result),
    }
}

fn finish(result: &SweepResult, format: Format, out: Option<&Path>, plots: Plots) -> Result<u8> {
    if let Some(dir) = out {
        // A sweep's directory grows as cells finish (and holds other
        // shards' parts), so its files are each replaced whole rather than
        // the directory swapped.
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, text) in [
            ("result.json", report::sweep::json(result)),
            ("report.md", report::sweep::markdown(result)),
            ("cells.csv", report::sweep::csv(result)),
        ] {
            write_atomic(dir, name, text.as_bytes())?;
        }
        let picture = tradeoff_file(result, plots);
        if let Some((name, bytes)) = &picture {
            write_atomic(dir, name, bytes)?;
        }
        // An earlier sweep's picture in another format (or one this sweep
        // does not draw) would be left beside these results, looking
        // theirs. The directory is a sweep's (`claim_out`), so a picture's
        // name there is a sweep's file.
        for name in PICTURES {
            if picture.as_ref().is_none_or(|(drawn, _)| drawn != name) {
                remove_stale(&dir.join(name))?;
            }
        }
    }
    print(&render(result, format))?;
    Ok(super::EXIT_OK)
}

/// Removes a file an earlier sweep wrote and this one does not; none there
/// is fine.
fn remove_stale(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove the earlier {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn merge(m: MergeArgs) -> Result<u8> {
    let mut parts = Vec::new();
    for p in &m.parts {
        let bytes = read_regular(p).with_context(|| format!("cannot read {}", p.display()))?;
        let part: SweepPart = serde_json::from_slice(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "{}:{}:{}: not a sweep part: {e}",
                p.display(),
                e.line(),
                e.column()
            )
        })?;
        part.check()
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        parts.push((p.display().to_string(), part));
    }
    let result = SweepResult::from_parts(&parts).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(out) = &m.out {
        claim_out(out)?;
    }
    finish(&result, m.format, m.out.as_deref(), m.plots)
}

/// The trade-off picture for `--out` (none when `--plots none`, without the
/// `plot` feature, or when the sweep has nothing it can show, which is said).
#[cfg(feature = "plot")]
fn tradeoff_file(result: &SweepResult, plots: Plots) -> Option<(String, Vec<u8>)> {
    let name = plots.file_name("tradeoff");
    match report::sweep::tradeoff(result, plots.format()?) {
        Ok(bytes) => Some((name, bytes)),
        Err(why) => {
            eprintln!("note: no {name}: {why}");
            None
        }
    }
}

#[cfg(not(feature = "plot"))]
fn tradeoff_file(_: &SweepResult, _: Plots) -> Option<(String, Vec<u8>)> {
    None
}
