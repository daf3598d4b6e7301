//! `canarysim lint`: what is wrong with a rollout policy before production
//! finds out.
//!
//! In: paths to scenario files, Argo manifest files and directories, and
//! the [`crate::vfs::Files`] to read them through. Out: a
//! [`LintReport`] of [`Finding`]s, each a [`Diagnostic`] at the line and
//! column it concerns, with a severity and a kind. The checks:
//! - templates a step or the background analysis names that do not exist,
//!   args a template needs that a step does not supply, args no template
//!   takes, template placeholders naming no declared arg, step metrics that
//!   would run forever (`checks`; Argo leaves such a Rollout `InvalidSpec`);
//! - PromQL that does not parse, conditions that do not parse or cannot give
//!   a bool, conditions indexing `result[…]` without a length guard, metric
//!   limits Argo's `ValidateMetric` refuses, Locust Jobs whose exit code is
//!   not Locust's (`checks`);
//! - selectors that match no series of the simulated cluster (`series`: the
//!   scenario is run briefly with a probe policy, then every selector of
//!   every query, with the args a step would give, is matched against the
//!   store);
//! - the manifest loader's problems (values Argo rejects, unmodelled
//!   providers) and notes (fields canarysim does not model), and a Rollout
//!   that disagrees with its scenario.
//!
//! Bare manifest directories are linted against the scenario that names
//! them, found in the directory and up to three levels above it, or against
//! `--scenario`. Neighbours: `crate::manifest` (sets and sites),
//! `crate::scenario` (loading), `crate::engine` (the probe run),
//! `crate::promql`, `crate::condition`, `crate::analysis` (the rules).

mod checks;
mod inputs;
mod locate;
mod series;

use std::fmt;
use std::path::PathBuf;

use crate::diag::Diagnostic;
use crate::sim::SimDuration;

pub use inputs::lint_paths;

/// How much a finding matters. Errors and warnings fail lint; notes inform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Argo would refuse the policy, or it cannot work as written.
    Error,
    /// It runs, but not as its author expects.
    Warning,
    /// Information: an unmodelled field, a check that was skipped.
    Note,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A file that cannot be read as a scenario or manifest at all (I/O,
    /// syntax, types, unknown or missing keys): exit code 2.
    Unreadable,
    /// A scenario that does not validate.
    Scenario,
    /// A manifest value Argo rejects, or a part canarysim cannot simulate.
    Invalid,
    /// A template named by a step that does not exist.
    MissingTemplate,
    /// A template arg without a value that the step does not supply.
    UnresolvedArg,
    /// A step arg that none of its templates declares.
    UnusedArg,
    /// A `{{args.x}}` naming no arg the template declares.
    UndeclaredArg,
    /// A metric Argo's validation refuses (limits, count, interval, provider).
    Metric,
    /// PromQL that does not parse.
    Promql,
    /// A condition that does not parse or cannot give a bool.
    Condition,
    /// `result[…]` without a length guard.
    UnguardedIndex,
    /// A Locust Job whose exit code is not Locust's.
    JobExitCode,
    /// A selector that matches no simulated series.
    Selector,
    /// A Rollout that disagrees with its scenario.
    Shape,
    /// A field or object canarysim does not model.
    Unmodelled,
    /// Information about the checks themselves.
    Info,
}

impl Kind {
    /// The short name printed with the finding.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Unreadable => "unreadable",
            Kind::Scenario => "scenario",
            Kind::Invalid => "invalid",
            Kind::MissingTemplate => "missing-template",
            Kind::UnresolvedArg => "unresolved-arg",
            Kind::UnusedArg => "unused-arg",
            Kind::UndeclaredArg => "undeclared-arg",
            Kind::Metric => "metric",
            Kind::Promql => "promql",
            Kind::Condition => "condition",
            Kind::UnguardedIndex => "unguarded-index",
            Kind::JobExitCode => "job-exit-code",
            Kind::Selector => "selector",
            Kind::Shape => "shape",
            Kind::Unmodelled => "unmodelled",
            Kind::Info => "info",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// What it is about.
    pub kind: Kind,
    /// Where, what, and the fix.
    pub diagnostic: Diagnostic,
}

impl Finding {
    /// A finding.
    pub fn new(severity: Severity, kind: Kind, diagnostic: Diagnostic) -> Finding {
        Finding {
            severity,
            kind,
            diagnostic,
        }
    }
}

impl fmt::Display for Finding {
    /// `file:line:col: error[kind]: message`, then `  hint: …` on its own line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.diagnostic;
        write!(
            f,
            "{}: {}[{}]: {}",
            d.location,
            self.severity,
            self.kind.code(),
            d.message
        )?;
        if !d.hint.is_empty() {
            write!(f, "\n  hint: {}", d.hint)?;
        }
        Ok(())
    }
}

/// Settings of a lint run.
#[derive(Debug, Clone)]
pub struct LintOptions {
    /// Check bare manifests' selectors against this scenario.
    pub scenario: Option<PathBuf>,
    /// How long the probe runs after the rollout starts (default 10 minutes).
    pub probe: SimDuration,
    /// Seed of the probe run; default: the scenario's.
    pub seed: Option<u64>,
}

impl Default for LintOptions {
    fn default() -> LintOptions {
        LintOptions {
            scenario: None,
            probe: SimDuration::from_mins(10),
            seed: None,
        }
    }
}

/// Everything lint found, sorted by file, line, column.
#[derive(Debug, Clone, Default)]
pub struct LintReport {
    /// The findings.
    pub findings: Vec<Finding>,
}

impl LintReport {
    /// Sorts by location (then severity, kind, message) and drops duplicates.
    pub(crate) fn finish(mut self) -> LintReport {
        self.findings.sort_by(|a, b| {
            (
                &a.diagnostic.location,
                a.severity,
                a.kind,
                &a.diagnostic.message,
            )
                .cmp(&(
                    &b.diagnostic.location,
                    b.severity,
                    b.kind,
                    &b.diagnostic.message,
                ))
        });
        self.findings.dedup();
        self
    }

    /// How many findings have this severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// The findings of one kind.
    pub fn of_kind(&self, kind: Kind) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.kind == kind).collect()
    }

    /// 2 when some input could not be read, 1 on any error or warning, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.findings.iter().any(|f| f.kind == Kind::Unreadable) {
            2
        } else if self.findings.iter().any(|f| f.severity != Severity::Note) {
            1
        } else {
            0
        }
    }

    /// `N errors, N warnings, N notes`.
    pub fn summary(&self) -> String {
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("1 {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        format!(
            "{}, {}, {}",
            plural(self.count(Severity::Error), "error"),
            plural(self.count(Severity::Warning), "warning"),
            plural(self.count(Severity::Note), "note")
        )
    }
}
