//! `canarysim check`: a policy's promises as a CI gate.
//!
//! Flow: a check file's text → [`CheckSpec`] ([`spec`]: each expectation
//! and each bound with its `file:line`) → [`prepare`] loads every scenario
//! with the expectation's `set` and the command's `--set` through the one
//! override grammar (`crate::scenario::load_file_with_stdin`, policy
//! manifests from standard input with `--manifests NAME=-`, [`stdin`]) and
//! runs the `lint = [...]` expectations (`crate::lint`), so bad input is
//! reported, located, before anything runs → [`run`] runs each scenario and
//! policy over the file's seeds with the sweep's runner
//! (`crate::sweep::run_seeds`, no second runner) and judges each bound on
//! the runs ([`measure`], with Wilson intervals and `confidence`) → a
//! [`Suite`] per file → [`baseline`] marks rates that moved the wrong way
//! (Fisher's exact test, [`fisher`]) → [`output`] renders text, JUnit XML,
//! GitHub workflow commands or JSON.
//!
//! Seeds are fixed (`seed..seed+runs`), so a check is deterministic: the
//! same files give the same bytes on any thread count. No I/O here: files
//! are read through a [`Files`], and the binary (`src/cli/check.rs`) reads
//! standard input and writes the reports.

pub mod baseline;
pub mod fisher;
pub mod measure;
pub mod output;
pub mod spec;
pub mod stdin;

pub use measure::{Bound, Cmp, Judged, LintCounts, Measure};
pub use spec::{CheckSpec, Expectation, Subject};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Location};
use crate::lint::{self, Kind, LintOptions, Severity};
use crate::manifest::SourceFile;
use crate::scenario::{self, Override, Scenario};
use crate::sweep::{self, CellSummary, RunDigest};
use crate::vfs::Files;

/// What the command line adds to every check file.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `--set PATH=VALUE`, applied to every run expectation (before its own `set`).
    pub set: Vec<Override>,
    /// `--manifests NAME=PATH`: policy NAME's manifests, in every scenario
    /// that has the policy, read from PATH instead (`-` is [`Inputs::stdin`]).
    pub manifests: Vec<(String, String)>,
    /// Standard input, when a `--manifests` path or a lint path is `-`.
    pub stdin: Option<SourceFile>,
    /// `--runs N`: seeds per expectation instead of the files' `runs`.
    pub runs: Option<u64>,
}

/// One expectation, ready to run.
#[derive(Debug, Clone)]
enum Ready {
    Run {
        scenario: Box<Scenario>,
        policy: String,
        /// Identifies the runs, so expectations on the same scenario,
        /// policy and overrides share them.
        key: String,
    },
    Lint {
        counts: LintCounts,
        findings: Vec<String>,
    },
}

/// A check file with every scenario loaded and every lint done.
#[derive(Debug, Clone)]
pub struct Prepared {
    spec: CheckSpec,
    ready: Vec<Ready>,
}

impl Prepared {
    /// The check file.
    pub fn spec(&self) -> &CheckSpec {
        &self.spec
    }

    /// How many simulation runs [`run`] will make (shared runs counted once).
    pub fn planned_runs(&self, inputs: &Inputs) -> u64 {
        let mut keys: Vec<&str> = self
            .ready
            .iter()
            .filter_map(|r| match r {
                Ready::Run { key, .. } => Some(key.as_str()),
                Ready::Lint { .. } => None,
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys.len() as u64 * inputs.runs.unwrap_or(self.spec.runs)
    }
}

/// One expectation judged.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The expectation.
    pub expectation: Expectation,
    /// Each bound, judged.
    pub judged: Vec<Judged>,
    /// Runs it was judged on (0 for lint).
    pub runs: u64,
    /// For lint: the errors and warnings found, as lint prints them.
    pub findings: Vec<String>,
}

impl Outcome {
    /// Whether every bound holds (and none moved from its baseline).
    pub fn pass(&self) -> bool {
        self.judged.iter().all(Judged::ok)
    }
}

/// The outcome of one check file.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The check file as named.
    pub file: String,
    /// Seeds per expectation.
    pub runs: u64,
    /// The first seed.
    pub seed: u64,
    /// One per expectation, in file order.
    pub outcomes: Vec<Outcome>,
}

impl Suite {
    /// Expectations that passed and that failed.
    pub fn counts(&self) -> (usize, usize) {
        let passed = self.outcomes.iter().filter(|o| o.pass()).count();
        (passed, self.outcomes.len() - passed)
    }
}

fn resolve(dir: &Path, path: &str) -> PathBuf {
    if Path::new(path).is_absolute() || path == "-" {
        PathBuf::from(path)
    } else {
        dir.join(path)
    }
}

/// Loads every scenario the check file names (relative to `dir`, the
/// file's directory) with its overrides, and runs its lint expectations.
/// Every error is located: in the check file, the scenario, the manifests
/// (standard input by document and line) or at the `--set` flag.
pub fn prepare(
    files: &dyn Files,
    spec: &CheckSpec,
    dir: &Path,
    inputs: &Inputs,
) -> Result<Prepared, Diagnostic> {
    let in_stream = |d: Diagnostic| match &inputs.stdin {
        Some(s) => stdin::in_stream(d, &s.text),
        None => d,
    };
    let mut ready = Vec::new();
    let mut used_manifests = vec![false; inputs.manifests.len()];
    for e in &spec.expectations {
        match &e.subject {
            Subject::Run {
                scenario: file,
                policy,
                set,
            } => {
                let path = resolve(dir, file);
                let mut all: Vec<Override> = inputs.set.clone();
                all.extend(set.iter().cloned());
                if !inputs.manifests.is_empty() {
                    let plain = scenario::load_file_with(files, &path, &all)
                        .map_err(|e| in_stream(e.0))?
                        .scenario;
                    for (i, (name, from)) in inputs.manifests.iter().enumerate() {
                        if let Some(index) = plain.policies.iter().position(|p| &p.name == name) {
                            used_manifests[i] = true;
                            let value = toml::Value::Array(vec![toml::Value::String(from.clone())]);
                            all.push(Override::with_value(
                                &format!("policies[{index}].manifests"),
                                &value,
                                Location::start_of("--manifests"),
                            ));
                        }
                    }
                }
                let loaded =
                    scenario::load_file_with_stdin(files, &path, &all, inputs.stdin.as_ref())
                        .map_err(|e| in_stream(e.0))?;
                if loaded.scenario.policy(policy).is_none() {
                    let names: Vec<&str> = loaded
                        .scenario
                        .policies
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect();
                    return Err(Diagnostic::new(
                        e.at.clone(),
                        format!("scenario {} has no policy {policy:?}", path.display()),
                        format!("its policies: {}", names.join(", ")),
                    ));
                }
                // A verdict of the other release never happens: its share
                // is 0 in every run, and a bound on it says nothing.
                let bad = loaded.scenario.canary_bad();
                for b in &e.bounds {
                    let Measure::Share(v) = &b.measure else {
                        continue;
                    };
                    if v.of_bad_release().is_some_and(|of_bad| of_bad != bad) {
                        let (release, others) = if bad {
                            (
                                "a bad release (its canary has a fault)",
                                "caught and missed",
                            )
                        } else {
                            (
                                "a good release (its canary has no fault)",
                                "promoted and false_abort",
                            )
                        };
                        return Err(Diagnostic::new(
                            b.at.clone(),
                            format!(
                                "{} is never the verdict here: {} is {release}, so its share is 0 in every run",
                                v.as_str(),
                                path.display()
                            ),
                            format!("bound {others} (and undecided) on this scenario"),
                        ));
                    }
                }
                let overrides: Vec<String> = all.iter().map(Override::text).collect();
                ready.push(Ready::Run {
                    key: format!(
                        "{}\u{0}{policy}\u{0}{}",
                        path.display(),
                        overrides.join("\u{0}")
                    ),
                    scenario: Box::new(loaded.scenario),
                    policy: policy.clone(),
                });
            }
            Subject::Lint { paths } => {
                // Directories are opened into their YAML files, so that all
                // the paths form one manifest set (a policy's manifests), not
                // one set per directory.
                let mut expanded: Vec<PathBuf> = Vec::new();
                for p in paths {
                    if p == "-" {
                        expanded.push(PathBuf::from(stdin::STDIN_LABEL));
                        continue;
                    }
                    let path = resolve(dir, p);
                    let mut yaml: Vec<PathBuf> = files
                        .list_dir(&path)
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|n| {
                            let n = n.to_string_lossy();
                            n.ends_with(".yaml") || n.ends_with(".yml")
                        })
                        .map(|n| path.join(n))
                        .filter(|p| files.is_file(p))
                        .collect();
                    yaml.sort();
                    if yaml.is_empty() {
                        expanded.push(path);
                    } else {
                        expanded.extend(yaml);
                    }
                }
                let paths = expanded;
                let with_stdin;
                let reader: &dyn Files = match &inputs.stdin {
                    Some(s) => {
                        with_stdin = stdin::WithStdin::new(files, s.text.clone());
                        &with_stdin
                    }
                    None => files,
                };
                let report = lint::lint_paths(reader, &paths, &LintOptions::default());
                if let Some(f) = report.findings.iter().find(|f| f.kind == Kind::Unreadable) {
                    return Err(in_stream(f.diagnostic.clone()));
                }
                let findings = report
                    .findings
                    .iter()
                    .filter(|f| f.severity != Severity::Note)
                    .map(|f| f.to_string())
                    .collect();
                ready.push(Ready::Lint {
                    counts: LintCounts {
                        errors: report.count(Severity::Error) as u64,
                        warnings: report.count(Severity::Warning) as u64,
                    },
                    findings,
                });
            }
        }
    }
    if let Some(i) = used_manifests.iter().position(|u| !u) {
        return Err(Diagnostic::new(
            Location::start_of("--manifests"),
            format!(
                "no scenario of {} has a policy {:?}",
                spec.file, inputs.manifests[i].0
            ),
            "name a policy the check's scenarios define: --manifests NAME=-",
        ));
    }
    Ok(Prepared {
        spec: spec.clone(),
        ready,
    })
}

/// Runs a prepared check file: each scenario and policy over the seeds
/// (runs shared between expectations that ask for the same), then judges
/// every bound. `tick` is called once per finished run (from any thread).
pub fn run(prepared: &Prepared, inputs: &Inputs, tick: &(dyn Fn() + Sync)) -> Suite {
    let spec = &prepared.spec;
    let runs = inputs.runs.unwrap_or(spec.runs);
    let seeds: Vec<u64> = (0..runs).map(|i| spec.seed.wrapping_add(i)).collect();
    let mut done: BTreeMap<String, (Vec<RunDigest>, CellSummary)> = BTreeMap::new();
    let laws = sweep::SharedLaws::default();
    let mut outcomes = Vec::new();
    for (e, r) in spec.expectations.iter().zip(&prepared.ready) {
        match r {
            Ready::Run {
                scenario,
                policy,
                key,
            } => {
                let (digests, summary) = done.entry(key.clone()).or_insert_with(|| {
                    let p = scenario
                        .policy(policy)
                        .expect("invariant: prepare checked the policy exists");
                    let d = sweep::run_seeds(scenario, p, &seeds, &laws, tick);
                    let s = CellSummary::of_digests(&d);
                    (d, s)
                });
                let judged = e
                    .bounds
                    .iter()
                    .map(|b| measure::judge_runs(b, digests, summary, e.confidence))
                    .collect();
                outcomes.push(Outcome {
                    expectation: e.clone(),
                    judged,
                    runs,
                    findings: Vec::new(),
                });
            }
            Ready::Lint { counts, findings } => outcomes.push(Outcome {
                expectation: e.clone(),
                judged: e
                    .bounds
                    .iter()
                    .map(|b| measure::judge_lint(b, *counts))
                    .collect(),
                runs: 0,
                findings: findings.clone(),
            }),
        }
    }
    Suite {
        file: spec.file.clone(),
        runs,
        seed: spec.seed,
        outcomes,
    }
}
