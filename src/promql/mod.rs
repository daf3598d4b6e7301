//! PromQL over the simulated series store, faithful to Prometheus 3.x.
//!
//! Flow: a query string (already free of Argo's `{{args.*}}`) is parsed once
//! by the `promql-parser` crate into a [`Query`], then evaluated against a
//! [`SeriesStore`] at a simulated instant ([`Query::instant`]) or over a
//! range of instants ([`Query::range`], a loop of instant evaluations). The
//! analysis providers, `canarysim query` and `canarysim promql test` are its
//! callers; it calls nothing above `series`.
//!
//! Inside: `engine` routes over the expression tree, `selector` reads the
//! store (lookback, staleness, `offset`, `@`, subqueries), `binary`,
//! `aggregate` and `functions` implement the operators, `float` holds the
//! Go-compatible float arithmetic. [`json`] renders results as the
//! Prometheus HTTP API does and [`promqltest`] runs Prometheus's own test
//! files against all of it.

mod aggregate;
mod binary;
mod engine;
mod error;
pub(crate) mod float;
pub(crate) mod functions;
pub mod json;
pub mod limits;
pub mod promqltest;
pub mod reach;
mod selector;
#[cfg(test)]
mod testutil;
pub mod value;

use std::collections::BTreeMap;

use promql_parser::parser::{Expr, value::ValueType};

pub use error::PromqlError;
pub use functions::histogram::quantile_of as bucket_quantile;
pub use value::{RangeSeries, Value, VectorSample};

use crate::series::{Labels, Sample, SeriesStore};
use engine::{Evaluator, Val, drop_metric_name, finish_result};

/// The most points a range query may produce per series (as Prometheus).
pub const MAX_RANGE_POINTS: i64 = 11_000;

/// Settings of the evaluator. The default matches a Prometheus 3.x server
/// with default flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalOptions {
    /// How far back an instant selector looks for a sample (default 5m).
    pub lookback_delta_ms: i64,
    /// The step of a subquery written without one, like `x[10m:]`
    /// (default 1m, Prometheus's default evaluation interval).
    pub subquery_step_ms: i64,
    /// Prometheus's `promql-delayed-name-removal` feature: drop `__name__`
    /// at the end of the query instead of at each function or operator.
    /// Off by default, as in Prometheus; on in its test suite.
    pub delayed_name_removal: bool,
}

impl Default for EvalOptions {
    fn default() -> EvalOptions {
        EvalOptions {
            lookback_delta_ms: 5 * 60 * 1000,
            subquery_step_ms: 60 * 1000,
            delayed_name_removal: false,
        }
    }
}

impl EvalOptions {
    /// The settings Prometheus's promqltest engine uses (delayed name
    /// removal on).
    pub fn promqltest() -> EvalOptions {
        EvalOptions {
            delayed_name_removal: true,
            ..EvalOptions::default()
        }
    }
}

thread_local! {
    /// [`Query::parse`]'s outcomes by text, on this thread.
    static PARSED: crate::memo::TextMemo<Result<Query, PromqlError>> =
        const { crate::memo::TextMemo::new() };
}

/// A parsed query, ready to be evaluated any number of times.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    expr: Expr,
}

impl Query {
    /// Parses a query. The error carries the query text and the parser's
    /// message.
    ///
    /// Each thread keeps the outcome ([`crate::memo`]): the runs of a
    /// sweep parse the same few queries in every AnalysisRun and plan,
    /// some 350k instructions a parse where a clone of the parsed query
    /// takes a few hundred.
    pub fn parse(text: &str) -> Result<Query, PromqlError> {
        PARSED.with(|memo| memo.get(text, Query::parse_anew))
    }

    fn parse_anew(text: &str) -> Result<Query, PromqlError> {
        limits::check_text(text)?;
        let parsed = std::panic::catch_unwind(|| promql_parser::parser::parse(text));
        let parse_error = |message: String| PromqlError::Parse {
            query: text.to_string(),
            message,
        };
        match parsed {
            Ok(Ok(expr)) => Ok(Query {
                text: text.to_string(),
                expr,
            }),
            Ok(Err(message)) => Err(parse_error(message)),
            Err(_) => Err(parse_error("the parser failed on this input".to_string())),
        }
    }

    /// The query text as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parsed expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Evaluates the query at `at_ms` (milliseconds of simulated time).
    pub fn instant(
        &self,
        store: &SeriesStore,
        at_ms: i64,
        opts: &EvalOptions,
    ) -> Result<Value, PromqlError> {
        let ev = Evaluator::new(store, opts, at_ms, at_ms, 0);
        Ok(match ev.eval(&self.expr, at_ms)? {
            Val::Scalar(v) => Value::Scalar(v),
            Val::Str(s) => Value::String(s),
            Val::Vector(v) => Value::Vector(
                finish_result(v)?
                    .into_iter()
                    .map(|e| VectorSample {
                        labels: e.labels,
                        t: at_ms,
                        v: e.v,
                    })
                    .collect(),
            ),
            Val::Matrix(m) => {
                let mut merged: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
                for mut s in m {
                    if s.drop_name {
                        drop_metric_name(&mut s.labels);
                    }
                    merged.entry(s.labels).or_default().extend(s.points);
                }
                let mut out = Vec::with_capacity(merged.len());
                for (labels, mut samples) in merged {
                    samples.sort_by_key(|p| p.t);
                    if samples.windows(2).any(|w| w[0].t == w[1].t) {
                        return Err(PromqlError::DuplicateLabelset);
                    }
                    out.push(RangeSeries { labels, samples });
                }
                Value::Matrix(out)
            }
        })
    }

    /// Evaluates the query at `start_ms`, `start_ms + step_ms`, … up to
    /// `end_ms`, as Prometheus's `query_range`. The result is a matrix sorted
    /// by labels.
    pub fn range(
        &self,
        store: &SeriesStore,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        opts: &EvalOptions,
    ) -> Result<Value, PromqlError> {
        match self.expr.value_type() {
            ValueType::Scalar | ValueType::Vector => {}
            other => {
                return Err(PromqlError::InvalidType {
                    found: match other {
                        ValueType::Matrix => "range vector",
                        _ => "string",
                    },
                    context: "range query",
                    expected: "scalar or instant vector",
                });
            }
        }
        if step_ms <= 0 {
            return Err(PromqlError::InvalidRange(format!(
                "step must be positive, got {step_ms}ms"
            )));
        }
        if end_ms < start_ms {
            return Err(PromqlError::InvalidRange("end is before start".to_string()));
        }
        if (i128::from(end_ms) - i128::from(start_ms)) / i128::from(step_ms)
            >= i128::from(MAX_RANGE_POINTS)
        {
            return Err(PromqlError::InvalidRange(format!(
                "exceeded maximum resolution of {MAX_RANGE_POINTS} points per timeseries"
            )));
        }
        let ev = Evaluator::new(store, opts, start_ms, end_ms, step_ms);
        let mut series: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
        let mut t = start_ms;
        while t <= end_ms {
            ev.check_work()?;
            match ev.eval(&self.expr, t)? {
                Val::Scalar(v) => series
                    .entry(Labels::default())
                    .or_default()
                    .push(Sample { t, v }),
                Val::Vector(v) => {
                    for e in finish_result(v)? {
                        series
                            .entry(e.labels)
                            .or_default()
                            .push(Sample { t, v: e.v });
                    }
                }
                other => {
                    return Err(PromqlError::InvalidType {
                        found: other.type_name(),
                        context: "range query",
                        expected: "scalar or instant vector",
                    });
                }
            }
            match t.checked_add(step_ms) {
                Some(next) => t = next,
                None => break,
            }
        }
        Ok(Value::Matrix(
            series
                .into_iter()
                .map(|(labels, samples)| RangeSeries { labels, samples })
                .collect(),
        ))
    }
}

/// Parses and evaluates `query` at `at_ms` with default options.
pub fn instant_query(store: &SeriesStore, query: &str, at_ms: i64) -> Result<Value, PromqlError> {
    Query::parse(query)?.instant(store, at_ms, &EvalOptions::default())
}

/// Parses and evaluates `query` from `start_ms` to `end_ms` every `step_ms`
/// with default options.
pub fn range_query(
    store: &SeriesStore,
    query: &str,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
) -> Result<Value, PromqlError> {
    Query::parse(query)?.range(store, start_ms, end_ms, step_ms, &EvalOptions::default())
}
