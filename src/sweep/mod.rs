//! Sweeps: scenarios × policy variants × seeds, summed up per cell, with
//! the Pareto-optimal variants named.
//!
//! Flow: a [`SweepSpec`] (a sweep file or `--vary` flags) → [`prepare`]
//! loads each scenario once per variant through the one override grammar
//! ([`crate::scenario::Override`]) into [`Cell`]s → [`run_cell`] runs a
//! cell's seeds (or one shard's share of them) in parallel with the one
//! engine and keeps a [`RunDigest`] per run → [`SweepResult::from_parts`]
//! joins the parts (one, or the shards of `sweep merge`) into per-cell
//! [`CellSummary`]s and per-variant rows. Every cell uses the same seeds
//! (common random numbers), so differences between variants are not seed
//! noise. Same spec, same bytes out, on any thread count and any sharding.
//!
//! `run --runs` and `check` use [`run_seeds`] and [`CellSummary`] too; the
//! tables are printed by `crate::report::sweep`. This module does no I/O:
//! the binary reads files through [`Files`] and writes the results.

pub mod cell;
pub mod result;
pub mod spec;
pub mod stats;

pub use cell::{CellSummary, Rate, RunDigest, Spread, VerdictCounts};
pub use result::{CellPart, SweepHeader, SweepPart, SweepResult, VariantRow};
pub use spec::{Axis, SweepSpec};

use std::path::Path;

use rayon::prelude::*;

use crate::diag::{Diagnostic, Location};
pub use crate::engine::SharedLaws;
use crate::rollout::policy::Policy;
use crate::scenario::{self, Override, Scenario};
use crate::vfs::Files;

/// One cell: a scenario loaded with one variant's overrides, and a policy.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The scenario file as the sweep names it.
    pub scenario_file: String,
    /// The loaded scenario (overrides applied).
    pub scenario: Scenario,
    /// The policy's name.
    pub policy: String,
    /// The variant's overrides (the axes' values), in axis order.
    pub set: Vec<Override>,
}

impl Cell {
    /// The cell's policy.
    pub fn policy(&self) -> &Policy {
        self.scenario
            .policy(&self.policy)
            .expect("prepare only builds cells for policies the scenario has")
    }
}

/// Whether `o` names a field of a policy other than `policy` (so it does
/// not change that policy's cells).
fn targets_other_policy(o: &Override, policy: &str, names: &[String]) -> bool {
    o.is_policy()
        && !o.path.starts_with(&format!("policy.{policy}."))
        && names
            .iter()
            .any(|n| n != policy && o.path.starts_with(&format!("policy.{n}.")))
}

/// Loads every cell of the sweep: each scenario (relative to `dir`) for
/// each policy and variant, with `extra` (`--set`) applied to all. Every
/// path and value is checked here, before anything runs. The cells load
/// side by side (a sweep's runs being cheap, loading them one at a time
/// held the other threads back); they come back in order, and an error is
/// the first one in that order.
pub fn prepare(
    files: &dyn Files,
    spec: &SweepSpec,
    dir: &Path,
    extra: &[Override],
) -> Result<Vec<Cell>, Diagnostic> {
    /// A cell to load: the scenario's path, its file as the sweep names
    /// it, the policy, the variant's overrides and all overrides.
    type Job<'s> = (
        std::path::PathBuf,
        &'s String,
        String,
        Vec<Override>,
        Vec<Override>,
    );
    let variants = spec.variants();
    let mut jobs: Vec<Job<'_>> = Vec::new();
    for file in &spec.scenarios {
        let path = if Path::new(file).is_absolute() {
            Path::new(file).to_path_buf()
        } else {
            dir.join(file)
        };
        let plain = scenario::load_file_with(files, &path, extra)
            .map_err(|e| e.0)?
            .scenario;
        let names: Vec<String> = plain.policies.iter().map(|p| p.name.clone()).collect();
        if names.is_empty() {
            // `run` refuses it too: a sweep of nothing would say nothing.
            return Err(Diagnostic::new(
                Location::start_of(&spec.file),
                format!("scenario {} has no policies to sweep", path.display()),
                "give it [[policies]] (docs/scenario.md)",
            ));
        }
        let chosen: Vec<String> = if spec.policies.is_empty() {
            names.clone()
        } else {
            for p in &spec.policies {
                if !names.contains(p) {
                    return Err(Diagnostic::new(
                        Location::start_of(&spec.file),
                        format!("scenario {} has no policy {p:?}", path.display()),
                        format!("its policies: {}", names.join(", ")),
                    ));
                }
            }
            spec.policies.clone()
        };
        for policy in &chosen {
            let mut seen: Vec<Vec<Override>> = Vec::new();
            for v in &variants {
                let mine: Vec<Override> = v
                    .iter()
                    .filter(|o| !targets_other_policy(o, policy, &names))
                    .cloned()
                    .collect();
                if seen.contains(&mine) {
                    continue;
                }
                seen.push(mine.clone());
                let mut all: Vec<Override> = extra.to_vec();
                all.extend(mine.iter().cloned());
                jobs.push((path.clone(), file, policy.clone(), mine, all));
            }
        }
    }
    let loaded: Vec<Result<Cell, Diagnostic>> = jobs
        .into_par_iter()
        .map(|(path, file, policy, mine, all)| {
            let loaded = scenario::load_file_with(files, &path, &all).map_err(|e| e.0)?;
            Ok(Cell {
                scenario_file: file.clone(),
                scenario: loaded.scenario,
                policy,
                set: mine,
            })
        })
        .collect();
    loaded.into_iter().collect()
}

/// Runs `policy` on `sc` with each seed, in parallel; the digests come back
/// in the order of `seeds`. `tick` is called once per finished run (for
/// progress; from any thread). The runs take and give the batched model's
/// response laws through `laws` (one for a whole sweep or check: a law is
/// the same whichever run works it out).
pub fn run_seeds(
    sc: &Scenario,
    policy: &Policy,
    seeds: &[u64],
    laws: &SharedLaws,
    tick: &(dyn Fn() + Sync),
) -> Vec<RunDigest> {
    run_seeds_with(sc, policy, seeds, laws, tick, &|r| {
        RunDigest::of(&r, &policy.templates)
    })
}

/// As [`run_seeds`], keeping what `keep` makes of each run's result (the
/// whole result for `run --runs`, a digest for a sweep).
pub fn run_seeds_with<T: Send>(
    sc: &Scenario,
    policy: &Policy,
    seeds: &[u64],
    laws: &SharedLaws,
    tick: &(dyn Fn() + Sync),
    keep: &(dyn Fn(crate::outcome::RunResult) -> T + Sync),
) -> Vec<T> {
    let plan = crate::engine::Plan::new(sc, policy, crate::engine::Retention::Queries);
    seeds
        .par_iter()
        .map(|&s| {
            let r = crate::engine::run_result_sharing(&plan, s, laws);
            tick();
            keep(r)
        })
        .collect()
}

/// A shard: the `k`-th of `n` (1-based), taking every `n`-th (cell, seed)
/// pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, from 1.
    pub k: u64,
    /// Of how many.
    pub n: u64,
}

impl Shard {
    /// The whole sweep.
    pub const ALL: Shard = Shard { k: 1, n: 1 };

    /// Reads `K/N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("--shard {text:?} is not K/N"))?;
        let k: u64 = k
            .trim()
            .parse()
            .map_err(|_| format!("--shard {text:?}: K is not a number"))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("--shard {text:?}: N is not a number"))?;
        if n == 0 || k == 0 || k > n {
            return Err(format!("--shard {text:?}: wants 1 ≤ K ≤ N"));
        }
        Ok(Shard { k, n })
    }

    /// The seeds of cell `index` this shard runs.
    pub fn seeds(&self, index: usize, spec: &SweepSpec) -> Vec<u64> {
        (0..spec.runs)
            .filter(|&i| self.owner(index, spec.runs, i) == self.k)
            .map(|i| spec.seed.wrapping_add(i))
            .collect()
    }

    /// The shard (of `n`) that runs the `i`-th seed of cell `index`, in a
    /// sweep of `runs` seeds a cell: pairs are dealt out in turn, cell by
    /// cell. (Worked out wide, so that a part's header, whatever it says,
    /// cannot overflow it.)
    pub fn owner(&self, index: usize, runs: u64, i: u64) -> u64 {
        let pair = index as u128 * u128::from(runs) + u128::from(i);
        (pair % u128::from(self.n)) as u64 + 1
    }

    /// How many seeds of cell `index` this shard runs: as many as
    /// [`Shard::seeds`] gives, counted without going through them (a part's
    /// header may claim any number of runs).
    pub fn due(&self, index: usize, runs: u64) -> u64 {
        // Pairs below `m` that fall to this shard.
        let below = |m: u128| {
            let n = u128::from(self.n);
            m / n + u128::from(m % n > u128::from(self.k - 1))
        };
        let start = index as u128 * u128::from(runs);
        (below(start + u128::from(runs)) - below(start)) as u64
    }
}

/// Runs one cell's share of seeds, sharing response laws through `laws`
/// (see [`run_seeds`]).
pub fn run_cell(
    cell: &Cell,
    index: usize,
    spec: &SweepSpec,
    shard: Shard,
    laws: &SharedLaws,
    tick: &(dyn Fn() + Sync),
) -> CellPart {
    let seeds = shard.seeds(index, spec);
    let runs = run_seeds(&cell.scenario, cell.policy(), &seeds, laws, tick);
    CellPart::new(cell, runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(runs: u64, seed: u64) -> SweepSpec {
        SweepSpec {
            file: "s.toml".into(),
            scenarios: vec!["a.toml".into()],
            policies: Vec::new(),
            runs,
            seed,
            axes: Vec::new(),
        }
    }

    /// `owner` and `due` say what `seeds` deals out: every (cell, seed)
    /// pair to exactly one shard, and as many to each as it runs.
    #[test]
    fn owner_and_due_agree_with_the_seeds_each_shard_runs() {
        for runs in 1..=7 {
            let spec = spec(runs, u64::MAX - 2);
            for n in 1..=5 {
                for index in 0..4 {
                    let mut dealt = 0;
                    for k in 1..=n {
                        let shard = Shard { k, n };
                        let seeds = shard.seeds(index, &spec);
                        assert_eq!(shard.due(index, runs), seeds.len() as u64);
                        for i in 0..runs {
                            let seed = spec.seed.wrapping_add(i);
                            assert_eq!(shard.owner(index, runs, i) == k, seeds.contains(&seed));
                        }
                        dealt += seeds.len() as u64;
                    }
                    assert_eq!(dealt, runs, "{runs} runs over {n} shards");
                }
            }
        }
    }

    #[test]
    fn a_header_claiming_every_seed_neither_overflows_nor_loops() {
        let shard = Shard { k: 2, n: 3 };
        assert_eq!(shard.due(5, u64::MAX), u64::MAX / 3);
        assert_eq!(shard.owner(5, u64::MAX, u64::MAX - 1), 3);
    }
}
