//! A runner for Prometheus's promqltest files (`promql/promqltest/testdata/
//! *.test`): loads the series, runs each `eval` against this evaluator and
//! reports every case as passed, failed or skipped.
//!
//! In: the text of one file. Out: a [`FileReport`]. The runner follows the
//! policy of a float-only engine: native-histogram values are dropped at
//! load, and an eval is skipped (with a reason) when it expects a histogram,
//! selects a series that held histograms (or the native twin of a
//! `load_with_nhcb` histogram), uses syntax `promql-parser` rejects, or needs
//! a feature the evaluator lacks. Warnings and info annotations are not
//! checked, and `expect fail` checks only that the query failed. Queries run
//! with Prometheus's test-engine settings ([`EvalOptions::promqltest`]).

mod compare;
pub(crate) mod notation;
mod script;

use std::collections::BTreeMap;
use std::fmt;

use promql_parser::parser::Expr;

use super::selector::matches;
use super::{EvalOptions, PromqlError, Query};
use crate::series::{Labels, METRIC_NAME, Sample, SeriesStore};
use notation::SeqValue;
use script::{Command, Eval, EvalTime};

/// Why a case was not run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkipReason {
    /// It expects, or reads, native-histogram samples.
    NativeHistogram,
    /// `promql-parser` cannot parse the query (newer or experimental syntax).
    UnsupportedSyntax,
    /// The evaluator does not implement something the query needs.
    UnsupportedFeature(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NativeHistogram => f.write_str("native histogram"),
            SkipReason::UnsupportedSyntax => f.write_str("syntax not supported by promql-parser"),
            SkipReason::UnsupportedFeature(x) => write!(f, "unsupported feature: {x}"),
        }
    }
}

/// What happened to one eval.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The result matched.
    Passed,
    /// The result did not match.
    Failed {
        /// Why.
        reason: String,
        /// The expectation, one series per line.
        expected: String,
        /// The result (or error), one series per line.
        actual: String,
    },
    /// The case was not run.
    Skipped(SkipReason),
}

/// One eval of a file and its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseReport {
    /// 1-based line of the `eval` command.
    pub line: usize,
    /// The query.
    pub expr: String,
    /// Passed, failed or skipped.
    pub outcome: Outcome,
}

/// The outcomes of one file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FileReport {
    /// Every eval in file order.
    pub cases: Vec<CaseReport>,
}

/// Pass/fail/skip counts, with skips by reason.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tally {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases that were skipped.
    pub skipped: usize,
    /// Skipped cases by reason.
    pub skipped_by_reason: BTreeMap<String, usize>,
}

impl Tally {
    /// Adds another tally to this one.
    pub fn add(&mut self, other: &Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
        for (k, v) in &other.skipped_by_reason {
            *self.skipped_by_reason.entry(k.clone()).or_insert(0) += v;
        }
    }

    /// Passed as a share of the cases that ran (1 if none ran).
    pub fn pass_ratio(&self) -> f64 {
        let ran = self.passed + self.failed;
        if ran == 0 {
            1.0
        } else {
            self.passed as f64 / ran as f64
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

impl FileReport {
    /// The counts of this file.
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for c in &self.cases {
            match &c.outcome {
                Outcome::Passed => t.passed += 1,
                Outcome::Failed { .. } => t.failed += 1,
                Outcome::Skipped(r) => {
                    t.skipped += 1;
                    *t.skipped_by_reason.entry(r.to_string()).or_insert(0) += 1;
                }
            }
        }
        t
    }
}

/// A test file that cannot be read as promqltest commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid promqltest file: {0}")]
pub struct ScriptError(String);

/// Runs every command of a promqltest file.
pub fn run(text: &str) -> Result<FileReport, ScriptError> {
    let commands = script::parse(text).map_err(ScriptError)?;
    let mut runner = Runner {
        store: SeriesStore::new(),
        histogram_series: Vec::new(),
        opts: EvalOptions::promqltest(),
    };
    let mut report = FileReport::default();
    for cmd in commands {
        match cmd {
            Command::Clear => {
                runner.store.clear();
                runner.histogram_series.clear();
            }
            Command::Load(load) => runner.load(&load),
            Command::Eval(eval) => report.cases.push(CaseReport {
                line: eval.line,
                expr: eval.expr.clone(),
                outcome: runner.eval(&eval),
            }),
        }
    }
    Ok(report)
}

/// The state between commands.
struct Runner {
    store: SeriesStore,
    /// Label sets that held native histograms (dropped at load).
    histogram_series: Vec<Labels>,
    opts: EvalOptions,
}

impl Runner {
    fn load(&mut self, load: &script::Load) {
        for (labels, values) in &load.series {
            let id = self.store.id(labels.clone());
            let mut has_histogram = false;
            let mut points = Vec::with_capacity(values.len());
            for (i, v) in values.iter().enumerate() {
                match v {
                    SeqValue::Float(f) => points.push(Sample {
                        t: i as i64 * load.step_ms,
                        v: *f,
                    }),
                    SeqValue::Histogram => has_histogram = true,
                    SeqValue::Omitted => {}
                }
            }
            self.store.push_sorted(id, &points);
            if has_histogram {
                self.histogram_series.push(labels.clone());
            }
            if let Some(twin) = nhcb_twin(labels).filter(|_| load.with_nhcb) {
                self.histogram_series.push(twin);
            }
        }
    }

    fn eval(&self, eval: &Eval) -> Outcome {
        if eval.expects_histogram {
            return Outcome::Skipped(SkipReason::NativeHistogram);
        }
        let query = match Query::parse(&eval.expr) {
            Ok(q) => q,
            Err(_) => return Outcome::Skipped(SkipReason::UnsupportedSyntax),
        };
        if self.reads_histograms(query.expr()) {
            return Outcome::Skipped(SkipReason::NativeHistogram);
        }
        let result = match eval.time {
            EvalTime::Instant(t) => query.instant(&self.store, t, &self.opts),
            EvalTime::Range { start, end, step } => {
                query.range(&self.store, start, end, step, &self.opts)
            }
        };
        match (result, eval.fail) {
            (Err(PromqlError::Unsupported(what)), _) => {
                Outcome::Skipped(SkipReason::UnsupportedFeature(what))
            }
            (Err(_), true) => Outcome::Passed,
            (Err(e), false) => Outcome::Failed {
                reason: "the query failed".to_string(),
                expected: compare::render_expected(eval),
                actual: format!("error: {e}"),
            },
            (Ok(v), true) => Outcome::Failed {
                reason: "expected the query to fail".to_string(),
                expected: "an error".to_string(),
                actual: compare::render_value(&v),
            },
            (Ok(v), false) => match compare::check(eval, &v) {
                Ok(()) => Outcome::Passed,
                Err(reason) => Outcome::Failed {
                    reason,
                    expected: compare::render_expected(eval),
                    actual: compare::render_value(&v),
                },
            },
        }
    }

    /// Whether any selector of the query matches a series that held native
    /// histograms.
    fn reads_histograms(&self, expr: &Expr) -> bool {
        if self.histogram_series.is_empty() {
            return false;
        }
        let mut found = false;
        visit_selectors(expr, &mut |vs| {
            found |= self.histogram_series.iter().any(|l| matches(vs, l));
        });
        found
    }
}

/// The native-histogram series `load_with_nhcb` derives from a classic
/// bucket, sum or count series: the base name, without `le`.
fn nhcb_twin(labels: &Labels) -> Option<Labels> {
    let name = labels.metric_name()?;
    let base = name
        .strip_suffix("_bucket")
        .or_else(|| name.strip_suffix("_sum"))
        .or_else(|| name.strip_suffix("_count"))?;
    let mut twin = labels.without(&["le"]);
    twin.set(METRIC_NAME, base);
    Some(twin)
}

/// Calls `f` on every vector selector in the tree (including those inside
/// matrix selectors).
fn visit_selectors(expr: &Expr, f: &mut dyn FnMut(&promql_parser::parser::VectorSelector)) {
    match expr {
        Expr::VectorSelector(vs) => f(vs),
        Expr::MatrixSelector(ms) => f(&ms.vs),
        Expr::Aggregate(a) => {
            visit_selectors(&a.expr, f);
            if let Some(p) = &a.param {
                visit_selectors(p, f);
            }
        }
        Expr::Unary(u) => visit_selectors(&u.expr, f),
        Expr::Binary(b) => {
            visit_selectors(&b.lhs, f);
            visit_selectors(&b.rhs, f);
        }
        Expr::Paren(p) => visit_selectors(&p.expr, f),
        Expr::Subquery(s) => visit_selectors(&s.expr, f),
        Expr::Call(c) => {
            for a in &c.args.args {
                visit_selectors(a, f);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}
