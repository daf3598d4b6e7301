//! A sweep's results as data: the JSON contract (`canarysim sweep --format
//! json`), the parts a shard or an interrupted sweep leaves, and merging
//! them.
//!
//! Keys are added, never renamed. A [`SweepPart`] holds the digests of the
//! runs one shard made; [`SweepResult::from_parts`] sorts them by cell and
//! seed before summing, so the result of merged shards is the same, byte
//! for byte, as the unsharded sweep's.

use serde::{Deserialize, Serialize};

use super::cell::{CellSummary, Rate, RunDigest};
use super::stats::pareto_front;
use super::{Cell, Shard, SweepSpec};
use crate::scenario::Override;

/// One axis as the JSON states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AxisHeader {
    /// The path (`set`), or the paths joined by `+` (`zip`).
    pub set: String,
    /// The values: one per step, or for a zip one list per step.
    pub values: Vec<serde_json::Value>,
}

/// What sweep this is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepHeader {
    /// The sweep file (or `--vary`).
    pub file: String,
    /// Seeds per cell.
    pub runs: u64,
    /// The first seed.
    pub seed: u64,
    /// The axes.
    pub axes: Vec<AxisHeader>,
    /// `--set` overrides applied to every cell.
    pub set: Vec<String>,
    /// Every cell runs the same seeds, so differences between variants
    /// are not seed noise.
    pub common_random_numbers: bool,
}

/// A value as JSON: TOML literals keep their type, other text is a string.
pub fn json_value(text: &str) -> serde_json::Value {
    if let Ok(i) = text.parse::<i64>() {
        return i.into();
    }
    if let Ok(f) = text.parse::<f64>()
        && f.is_finite()
    {
        return f.into();
    }
    match text {
        "true" => true.into(),
        "false" => false.into(),
        _ => text.trim_matches('"').into(),
    }
}

fn set_map(set: &[Override]) -> serde_json::Map<String, serde_json::Value> {
    set.iter()
        .map(|o| (o.path.clone(), json_value(&o.value)))
        .collect()
}

impl SweepHeader {
    /// The header of a spec run with `extra` on every cell.
    pub fn new(spec: &SweepSpec, extra: &[Override]) -> SweepHeader {
        SweepHeader {
            file: spec.file.clone(),
            runs: spec.runs,
            seed: spec.seed,
            axes: spec
                .axes
                .iter()
                .map(|a| AxisHeader {
                    set: a.paths.join("+"),
                    values: a
                        .values
                        .iter()
                        .map(|step| match step.as_slice() {
                            [one] => json_value(&one.value),
                            many => many.iter().map(|o| json_value(&o.value)).collect(),
                        })
                        .collect(),
                })
                .collect(),
            set: extra.iter().map(Override::text).collect(),
            common_random_numbers: true,
        }
    }
}

/// One cell's runs, as a shard (or a finished cell of `--out`) keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellPart {
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file as the sweep names it.
    pub scenario_file: String,
    /// The policy.
    pub policy: String,
    /// The variant's overrides.
    pub set: serde_json::Map<String, serde_json::Value>,
    /// Whether the release is bad.
    pub bad_release: bool,
    /// The runs, by seed.
    pub runs: Vec<RunDigest>,
}

impl CellPart {
    /// A cell's runs.
    pub fn new(cell: &Cell, runs: Vec<RunDigest>) -> CellPart {
        CellPart {
            scenario: cell.scenario.name.clone(),
            scenario_file: cell.scenario_file.clone(),
            policy: cell.policy.clone(),
            set: set_map(&cell.set),
            bad_release: cell.scenario.canary_bad(),
            runs,
        }
    }

    /// The cell as messages name it: scenario file, policy and overrides.
    fn name(&self) -> String {
        let mut name = format!("{} {}", self.scenario_file, self.policy);
        for (path, value) in &self.set {
            name.push_str(&format!(" {path}={value}"));
        }
        name
    }

    fn same_cell(&self, o: &CellPart) -> bool {
        self.scenario_file == o.scenario_file && self.policy == o.policy && self.set == o.set
    }
}

/// What one shard (`--shard K/N`) ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPart {
    /// The sweep.
    pub sweep: SweepHeader,
    /// `[K, N]`.
    pub shard: [u64; 2],
    /// Every cell, with the runs this shard made.
    pub cells: Vec<CellPart>,
}

impl SweepPart {
    /// Refuses what no shard writes, which only a damaged or edited part
    /// holds. A shard writes its part once every cell has run its share
    /// (an interrupted shard leaves cell files under `--out`, not a part),
    /// so each cell holds exactly the seeds [`Shard::seeds`] deals this
    /// shard: none outside the sweep's `seed..seed+runs-1`, none twice,
    /// none of another shard (so no run is in two parts), none missing. And
    /// each run's digest is one a run gives ([`RunDigest::check`]).
    pub fn check(&self) -> Result<(), String> {
        let [k, of] = self.shard;
        if of == 0 || k == 0 || k > of {
            return Err(format!(
                "shard {k}/{of} is not a shard: K runs from 1 to N (a damaged or edited part)"
            ));
        }
        if self.sweep.runs == 0 {
            return Err(format!(
                "shard {k}/{of}: the sweep runs 0 seeds a cell, and a sweep runs at least 1: a damaged or edited part"
            ));
        }
        self.check_cells()?;
        let shard = Shard { k, n: of };
        let (first, runs) = (self.sweep.seed, self.sweep.runs);
        for (i, c) in self.cells.iter().enumerate() {
            let refuse = |why: String| {
                Err(format!(
                    "shard {k}/{of}: cell {i} ({}): {why}: a damaged or edited part",
                    c.name()
                ))
            };
            if c.runs.len() as u64 > runs {
                return refuse(format!(
                    "{} runs, and the sweep runs {runs} seeds a cell",
                    c.runs.len()
                ));
            }
            let mut offsets: Vec<u64> = Vec::with_capacity(c.runs.len());
            for r in &c.runs {
                let seed = r.seed;
                // Seeds run on from `first`, wrapping past u64::MAX.
                let offset = seed.wrapping_sub(first);
                if offset >= runs {
                    return refuse(format!(
                        "seed {seed} is not one of the sweep's seeds ({first} to {})",
                        first.wrapping_add(runs - 1)
                    ));
                }
                let owner = shard.owner(i, runs, offset);
                if owner != k {
                    return refuse(format!(
                        "seed {seed} is shard {owner}/{of}'s, not this one's"
                    ));
                }
                if let Err(why) = r.check(c.bad_release) {
                    return refuse(format!("seed {seed}: {why}"));
                }
                offsets.push(offset);
            }
            offsets.sort_unstable();
            if let Some(w) = offsets.windows(2).find(|w| w[0] == w[1]) {
                return refuse(format!("seed {} is given twice", first.wrapping_add(w[0])));
            }
            let due = shard.due(i, runs);
            if (offsets.len() as u64) < due {
                return refuse(format!(
                    "holds {} of the {due} runs its shard makes",
                    offsets.len()
                ));
            }
        }
        Ok(())
    }
}

impl SweepPart {
    /// Refuses cells the header's axes do not give: for each scenario file
    /// and policy, one cell per combination of the axes its overrides name
    /// (an axis on another policy does not multiply its cells), none twice,
    /// none missing, each value one of its axis's.
    fn check_cells(&self) -> Result<(), String> {
        let [k, of] = self.shard;
        let axes: Vec<(Vec<&str>, &[serde_json::Value])> = self
            .sweep
            .axes
            .iter()
            .map(|a| (a.set.split('+').collect(), a.values.as_slice()))
            .collect();
        let refuse = |why: String| Err(format!("shard {k}/{of}: {why}: a damaged or edited part"));
        let mut groups: Vec<(&str, &str, Vec<&CellPart>)> = Vec::new();
        for c in &self.cells {
            match groups
                .iter_mut()
                .find(|g| g.0 == c.scenario_file && g.1 == c.policy)
            {
                Some(g) => g.2.push(c),
                None => groups.push((&c.scenario_file, &c.policy, vec![c])),
            }
        }
        for (file, policy, cells) in &groups {
            // The axes this group's cells are varied by, from the first.
            let keys: Vec<&String> = cells[0].set.keys().collect();
            let mut expected: u64 = 1;
            for (paths, values) in &axes {
                let named = paths.iter().filter(|p| keys.iter().any(|k| k == p)).count();
                if named == paths.len() {
                    expected = expected.saturating_mul(values.len() as u64);
                } else if named > 0 {
                    return refuse(format!(
                        "the cells of {file} {policy} name part of the zipped axis {}",
                        paths.join("+")
                    ));
                }
            }
            for (i, c) in cells.iter().enumerate() {
                if c.set.keys().ne(cells[0].set.keys()) {
                    return refuse(format!(
                        "cell {} sets other paths than cell {} of {file} {policy}",
                        c.name(),
                        cells[0].name()
                    ));
                }
                for (path, value) in &c.set {
                    let Some((paths, values)) = axes.iter().find(|a| a.0.contains(&path.as_str()))
                    else {
                        return refuse(format!("cell {}: no axis varies {path}", c.name()));
                    };
                    let at = paths.iter().position(|p| p == path).unwrap_or(0);
                    let known = values.iter().any(|v| match v {
                        serde_json::Value::Array(zipped) if paths.len() > 1 => {
                            zipped.get(at) == Some(value)
                        }
                        v => v == value,
                    });
                    if !known {
                        return refuse(format!(
                            "cell {}: {path}={value} is none of its axis's values",
                            c.name()
                        ));
                    }
                }
                if cells[..i].iter().any(|e| e.set == c.set) {
                    return refuse(format!("cell {} is given twice", c.name()));
                }
            }
            if cells.len() as u64 != expected {
                return refuse(format!(
                    "{file} {policy} has {} cells, and its axes give {expected}",
                    cells.len()
                ));
            }
        }
        Ok(())
    }
}

/// One cell in the result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file as the sweep names it.
    pub scenario_file: String,
    /// The policy.
    pub policy: String,
    /// The variant's overrides.
    pub set: serde_json::Map<String, serde_json::Value>,
    /// The figures.
    #[serde(flatten)]
    pub summary: CellSummary,
}

/// One policy variant, its bad- and good-release cells joined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantRow {
    /// The policy.
    pub policy: String,
    /// The variant's overrides.
    pub set: serde_json::Map<String, serde_json::Value>,
    /// Caught of decided bad-release runs, over every bad-release scenario.
    pub detection: Option<Rate>,
    /// False aborts of decided good-release runs.
    pub false_abort: Option<Rate>,
    /// Undecided of all its runs.
    pub undecided: Rate,
    /// Median seconds to detect, over every caught run.
    pub time_to_detect_median_s: Option<f64>,
    /// No other variant is at least as good on detection, false aborts and
    /// time to detect, and better on one.
    pub pareto: bool,
}

/// The whole result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    /// What sweep this is.
    pub sweep: SweepHeader,
    /// One entry per cell.
    pub cells: Vec<CellResult>,
    /// One entry per policy variant.
    pub variants: Vec<VariantRow>,
}

/// How many missing shards a merge's error names.
const MISSING_NAMED: usize = 10;

impl SweepResult {
    /// Joins parts that together hold every run of every cell (one part,
    /// or the `N` shards of one sweep), each given with the name of its
    /// file. Errors say what does not fit, and name the file or files
    /// whose parts disagree.
    pub fn from_parts(parts: &[(String, SweepPart)]) -> Result<SweepResult, String> {
        let Some((first_file, first)) = parts.first() else {
            return Err("no parts to merge".into());
        };
        let n = first.shard[1];
        let mut shards: Vec<(u64, &str)> = Vec::new();
        for (file, p) in parts {
            p.check().map_err(|e| format!("{file}: {e}"))?;
            if p.sweep != first.sweep {
                return Err(format!(
                    "{file}: shard {}/{} is of another sweep than {first_file}'s shard {}/{} (file, runs, seed, axes or --set differ)",
                    p.shard[0], p.shard[1], first.shard[0], first.shard[1]
                ));
            }
            if p.shard[1] != n || p.cells.len() != first.cells.len() {
                return Err(format!(
                    "{file}: shard {}/{} does not split the sweep as {first_file}'s shard {}/{n} does",
                    p.shard[0], p.shard[1], first.shard[0]
                ));
            }
            if let Some((_, earlier)) = shards.iter().find(|(k, _)| *k == p.shard[0]) {
                return Err(format!(
                    "shard {}/{n} is given twice: by {earlier} and by {file}",
                    p.shard[0]
                ));
            }
            shards.push((p.shard[0], file));
        }
        let names = parts
            .iter()
            .map(|(f, p)| format!("{f} ({}/{n})", p.shard[0]))
            .collect::<Vec<_>>()
            .join(", ");
        let mut shards: Vec<u64> = shards.into_iter().map(|(k, _)| k).collect();
        // Every index given is one of 1..=n and none twice, so the count
        // says whether any is missing; the first few are named (a part's
        // header may claim any n, and listing them all would not end).
        let absent = n - shards.len() as u64;
        if absent > 0 {
            shards.sort_unstable();
            let first: Vec<String> = (1..=n)
                .filter(|k| shards.binary_search(k).is_err())
                .take(MISSING_NAMED)
                .map(|k| format!("{k}/{n}"))
                .collect();
            let more = if absent > first.len() as u64 {
                format!(" … ({absent} in all)")
            } else {
                String::new()
            };
            return Err(format!(
                "missing shards: {}{more}; given: {names}",
                first.join(", ")
            ));
        }
        let mut cells: Vec<CellPart> = first.cells.clone();
        for c in &mut cells {
            c.runs.clear();
        }
        for (file, p) in parts {
            for (i, c) in p.cells.iter().enumerate() {
                if !first.cells[i].same_cell(c) {
                    return Err(format!(
                        "cell {i} differs between {first_file} ({}) and {file} ({})",
                        first.cells[i].name(),
                        c.name()
                    ));
                }
                cells[i].runs.extend(c.runs.iter().cloned());
            }
        }
        for c in &mut cells {
            c.runs.sort_by_key(|r| r.seed);
            if c.runs.len() as u64 != first.sweep.runs {
                return Err(format!(
                    "cell {} has {} of {} runs in the parts {names}",
                    c.name(),
                    c.runs.len(),
                    first.sweep.runs
                ));
            }
        }
        Ok(SweepResult::from_cells(first.sweep.clone(), &cells))
    }

    /// Sums up complete cells.
    pub fn from_cells(sweep: SweepHeader, parts: &[CellPart]) -> SweepResult {
        let cells: Vec<CellResult> = parts
            .iter()
            .map(|c| CellResult {
                scenario: c.scenario.clone(),
                scenario_file: c.scenario_file.clone(),
                policy: c.policy.clone(),
                set: c.set.clone(),
                summary: CellSummary::of_digests(&c.runs),
            })
            .collect();
        // Variants: cells with the same policy and set, across scenarios.
        let mut keys: Vec<(String, serde_json::Map<String, serde_json::Value>)> = Vec::new();
        for c in parts {
            let k = (c.policy.clone(), c.set.clone());
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let mut variants: Vec<VariantRow> = keys
            .into_iter()
            .map(|(policy, set)| {
                let mine: Vec<&CellPart> = parts
                    .iter()
                    .filter(|c| c.policy == policy && c.set == set)
                    .collect();
                let pooled = |bad: bool| -> Vec<RunDigest> {
                    mine.iter()
                        .filter(|c| c.bad_release == bad)
                        .flat_map(|c| c.runs.iter().cloned())
                        .collect()
                };
                let bad = CellSummary::of_digests(&pooled(true));
                let good = CellSummary::of_digests(&pooled(false));
                let all: Vec<RunDigest> =
                    mine.iter().flat_map(|c| c.runs.iter().cloned()).collect();
                VariantRow {
                    policy,
                    set,
                    detection: bad.detection,
                    false_abort: good.false_abort,
                    undecided: CellSummary::of_digests(&all).undecided,
                    time_to_detect_median_s: bad.time_to_detect_s.map(|s| s.median),
                    pareto: false,
                }
            })
            .collect();
        // Minimise misses, false aborts and time to detect; a figure no
        // variant has is left out, one some lack counts as worst.
        let has_bad = variants.iter().any(|v| v.detection.is_some());
        let has_good = variants.iter().any(|v| v.false_abort.is_some());
        let points: Vec<Vec<f64>> = variants
            .iter()
            .map(|v| {
                let mut p = Vec::new();
                if has_bad {
                    p.push(v.detection.map_or(1.0, |r| 1.0 - r.rate));
                    p.push(v.time_to_detect_median_s.unwrap_or(f64::INFINITY));
                }
                if has_good {
                    p.push(v.false_abort.map_or(1.0, |r| r.rate));
                }
                p
            })
            .collect();
        for (v, on) in variants.iter_mut().zip(pareto_front(&points)) {
            v.pareto = on;
        }
        SweepResult {
            sweep,
            cells,
            variants,
        }
    }

    /// The variants in the order a decision reads them: Pareto-optimal
    /// first, then by detection (high first), false aborts (low first) and
    /// time to detect (short first).
    pub fn variants_for_decision(&self) -> Vec<&VariantRow> {
        let mut v: Vec<&VariantRow> = self.variants.iter().collect();
        v.sort_by(|a, b| {
            b.pareto
                .cmp(&a.pareto)
                .then(
                    b.detection
                        .map_or(-1.0, |r| r.rate)
                        .total_cmp(&a.detection.map_or(-1.0, |r| r.rate)),
                )
                .then(
                    a.false_abort
                        .map_or(2.0, |r| r.rate)
                        .total_cmp(&b.false_abort.map_or(2.0, |r| r.rate)),
                )
                .then(
                    a.time_to_detect_median_s
                        .unwrap_or(f64::INFINITY)
                        .total_cmp(&b.time_to_detect_median_s.unwrap_or(f64::INFINITY)),
                )
        });
        v
    }
}
