//! The evaluator core: evaluation context, internal value types, and the
//! dispatch over the parsed expression tree.
//!
//! In: a `promql_parser` [`Expr`], a [`SeriesStore`], an evaluation time in
//! milliseconds and the query's start/end/step (for `@ start()`, `end()`,
//! `step()`). Out: an internal [`Val`] whose samples still carry a
//! "drop the metric name later" flag; [`finish_vector`] applies it at the end
//! (Prometheus 3.x "delayed name removal"). Selectors live in `selector`,
//! operators in `binary`, aggregations in `aggregate`, functions in
//! `functions`; this file only routes between them.

use promql_parser::parser::{AtModifier, Expr, Offset};

use super::error::PromqlError;
use super::{EvalOptions, aggregate, binary, functions, selector};
use crate::series::{Labels, Sample, SeriesStore};

/// One element of an instant vector during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Elem {
    /// The labels, metric name included until it is dropped.
    pub labels: Labels,
    /// The value.
    pub v: f64,
    /// Whether the metric name must be removed before the result leaves the
    /// evaluator.
    pub drop_name: bool,
}

/// One series of a range vector during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RangeElem {
    /// The labels, metric name included.
    pub labels: Labels,
    /// Points in time order, staleness markers removed.
    pub points: Vec<Sample>,
    /// Whether the metric name must be removed later (set by subqueries over
    /// name-dropping expressions).
    pub drop_name: bool,
}

/// An intermediate value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Scalar(f64),
    Str(String),
    Vector(Vec<Elem>),
    Matrix(Vec<RangeElem>),
}

impl Val {
    /// The Prometheus name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::Str(_) => "string",
            Val::Vector(_) => "instant vector",
            Val::Matrix(_) => "range vector",
        }
    }
}

/// The context one evaluation runs in.
pub(crate) struct Evaluator<'a> {
    /// Where the series come from.
    pub store: &'a SeriesStore,
    /// Lookback, subquery step, name-removal mode.
    pub opts: &'a EvalOptions,
    /// Start of the query (ms); `@ start()` and `start()` resolve to it.
    pub start: i64,
    /// End of the query (ms); `@ end()` and `end()` resolve to it.
    pub end: i64,
    /// Step of a range query (ms), 0 for an instant query.
    pub step: i64,
    /// Subquery steps evaluated so far in this query (see
    /// [`MAX_SUBQUERY_STEPS`]).
    pub subquery_steps: std::cell::Cell<u64>,
    /// Samples read so far in this query (see [`MAX_QUERY_WORK`]).
    pub work: std::cell::Cell<u64>,
}

/// The most subquery steps one query may evaluate, so that `x[30d:1ms]`
/// fails instead of running for hours (Prometheus stops such queries with
/// its sample limit).
pub(crate) const MAX_SUBQUERY_STEPS: u64 = 10_000_000;

pub(crate) use super::limits::MAX_QUERY_WORK;

impl<'a> Evaluator<'a> {
    /// A context for a query running from `start` to `end` every `step` ms
    /// (`step` 0 for an instant query).
    pub fn new(
        store: &'a SeriesStore,
        opts: &'a EvalOptions,
        start: i64,
        end: i64,
        step: i64,
    ) -> Self {
        Evaluator {
            store,
            opts,
            start,
            end,
            step,
            subquery_steps: std::cell::Cell::new(0),
            work: std::cell::Cell::new(0),
        }
    }

    /// Counts `n` more subquery steps; fails past [`MAX_SUBQUERY_STEPS`].
    pub fn charge_subquery_steps(&self, n: u64) -> Result<(), PromqlError> {
        let total = self.subquery_steps.get().saturating_add(n);
        self.subquery_steps.set(total);
        if total > MAX_SUBQUERY_STEPS {
            return Err(PromqlError::TooExpensive(format!(
                "more than {MAX_SUBQUERY_STEPS} subquery steps"
            )));
        }
        Ok(())
    }

    /// Counts `n` more samples read; [`Evaluator::check_work`] fails once
    /// they pass [`MAX_QUERY_WORK`].
    pub fn charge_work(&self, n: usize) {
        self.work
            .set(self.work.get().saturating_add(n as u64).saturating_add(1));
    }

    /// Fails once the samples read pass [`MAX_QUERY_WORK`]; called between
    /// the steps of subqueries and range queries, where work piles up.
    pub fn check_work(&self) -> Result<(), PromqlError> {
        if self.work.get() > MAX_QUERY_WORK {
            return Err(PromqlError::TooExpensive(format!(
                "reads more than {MAX_QUERY_WORK} samples"
            )));
        }
        Ok(())
    }

    /// Evaluates `expr` at time `t` (ms).
    pub fn eval(&self, expr: &Expr, t: i64) -> Result<Val, PromqlError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, t),
            Expr::Unary(u) => match self.eval(&u.expr, t)? {
                Val::Scalar(v) => Ok(Val::Scalar(-v)),
                Val::Vector(mut v) => {
                    for e in &mut v {
                        e.v = -e.v;
                        e.drop_name = true;
                    }
                    Ok(Val::Vector(self.settle(v)?))
                }
                other => Err(PromqlError::InvalidType {
                    found: other.type_name(),
                    context: "unary minus",
                    expected: "scalar or instant vector",
                }),
            },
            Expr::VectorSelector(vs) => Ok(Val::Vector(selector::instant(self, vs, t))),
            Expr::MatrixSelector(ms) => Ok(Val::Matrix(selector::range(self, ms, t, false).0)),
            Expr::Subquery(sq) => Ok(Val::Matrix(selector::subquery(self, sq, t)?.0)),
            Expr::Binary(b) => binary::eval(self, b, t),
            Expr::Aggregate(a) => aggregate::eval(self, a, t),
            Expr::Call(c) => functions::eval(self, c, t),
            Expr::Extension(_) => Err(PromqlError::Unsupported(
                "extension expressions".to_string(),
            )),
        }
    }

    /// Evaluates an expression that must give an instant vector.
    pub fn eval_vector(&self, expr: &Expr, t: i64) -> Result<Vec<Elem>, PromqlError> {
        match self.eval(expr, t)? {
            Val::Vector(v) => Ok(v),
            other => Err(PromqlError::InvalidType {
                found: other.type_name(),
                context: "this argument",
                expected: "instant vector",
            }),
        }
    }

    /// Evaluates an expression that must give a scalar.
    pub fn eval_scalar(&self, expr: &Expr, t: i64) -> Result<f64, PromqlError> {
        match self.eval(expr, t)? {
            Val::Scalar(v) => Ok(v),
            other => Err(PromqlError::InvalidType {
                found: other.type_name(),
                context: "this argument",
                expected: "scalar",
            }),
        }
    }

    /// With immediate name removal (the Prometheus default), applies a node's
    /// pending name drops at once and rejects duplicate label sets, as the
    /// engine does after every operator and function. With delayed removal
    /// this waits for the end of the query.
    pub fn settle(&self, v: Vec<Elem>) -> Result<Vec<Elem>, PromqlError> {
        if self.opts.delayed_name_removal {
            Ok(v)
        } else {
            finish_vector(v)
        }
    }

    /// The time a selector reads at: its `@` time (or `t`) minus its offset.
    pub fn ref_time(&self, at: Option<&AtModifier>, offset: Option<&Offset>, t: i64) -> i64 {
        let base = match at {
            None => t,
            Some(AtModifier::Start) => self.start,
            Some(AtModifier::End) => self.end,
            Some(AtModifier::At(st)) => system_time_ms(st),
        };
        base.saturating_sub(offset_ms(offset))
    }
}

/// Milliseconds since the epoch of a parsed `@` timestamp (may be negative).
fn system_time_ms(st: &std::time::SystemTime) -> i64 {
    match st.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => duration_ms(&d),
        Err(e) => -duration_ms(&e.duration()),
    }
}

/// An offset modifier in milliseconds (negative for `offset -5m`).
pub(crate) fn offset_ms(offset: Option<&Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(d),
        Some(Offset::Neg(d)) => -duration_ms(d),
    }
}

/// A parsed duration in milliseconds, saturating at `i64::MAX`.
pub(crate) fn duration_ms(d: &std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Removes the metric name where it is due and fails on duplicate label sets
/// (`vector cannot contain metrics with the same labelset`), as Prometheus
/// does for a query's result.
pub(crate) fn finish_result(v: Vec<Elem>) -> Result<Vec<Elem>, PromqlError> {
    let v = finish_vector(v)?;
    check_unique(&v)?;
    Ok(v)
}

/// Like [`finish_result`] for an intermediate node: only dropping a name can
/// make two elements equal there (selectors give distinct series, and the
/// operators that build new label sets check them themselves).
pub(crate) fn finish_vector(mut v: Vec<Elem>) -> Result<Vec<Elem>, PromqlError> {
    let mut dropped = false;
    for e in &mut v {
        if e.drop_name {
            drop_metric_name(&mut e.labels);
            e.drop_name = false;
            dropped = true;
        }
    }
    if dropped {
        check_unique(&v)?;
    }
    Ok(v)
}

/// Fails if two elements share a label set.
pub(crate) fn check_unique(v: &[Elem]) -> Result<(), PromqlError> {
    if v.len() < 2 {
        return Ok(());
    }
    // Vectors mostly come in label order (selectors return series sorted,
    // and dropping the name seldom reorders them): strictly increasing sets
    // are distinct, found in one pass without sorting.
    if v.windows(2).all(|w| w[0].labels < w[1].labels) {
        return Ok(());
    }
    // Sorting references is cheaper than hashing every label string.
    let mut refs: Vec<&Labels> = v.iter().map(|e| &e.labels).collect();
    refs.sort_unstable();
    if refs.windows(2).any(|w| w[0] == w[1]) {
        return Err(PromqlError::DuplicateLabelset);
    }
    Ok(())
}

/// Removes the labels Prometheus treats as metric metadata: the name and the
/// experimental `__type__`/`__unit__` ([`crate::series::METADATA_LABELS`]).
pub(crate) fn drop_metric_name(labels: &mut Labels) {
    *labels = labels.without_metadata();
}

#[cfg(test)]
mod tests {
    use super::{Elem, check_unique};
    use crate::promql::testutil::{eval_with, store};
    use crate::promql::{EvalOptions, PromqlError};
    use crate::series::Labels;

    fn s() -> crate::series::SeriesStore {
        store(
            60_000,
            "a_total{env=\"1\"} 0 60 120\nb_total{env=\"1\"} 0 120 240",
        )
    }

    #[test]
    fn delayed_name_removal_lets_label_replace_read_the_name() {
        let q = r#"label_replace(rate({env="1"}[2m]), "was", "$1", "__name__", "(.+)")"#;
        let got = eval_with(&s(), q, 120_000, &EvalOptions::promqltest()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, r#"{env="1", was="a_total"}"#);
    }

    #[test]
    fn immediate_name_removal_rejects_series_that_collide_without_names() {
        let err = eval_with(
            &s(),
            r#"rate({env="1"}[2m])"#,
            120_000,
            &EvalOptions::default(),
        )
        .unwrap_err();
        assert_eq!(err, PromqlError::DuplicateLabelset);
        let err = eval_with(
            &s(),
            r#"rate({env="1"}[2m])"#,
            120_000,
            &EvalOptions::promqltest(),
        )
        .unwrap_err();
        assert_eq!(err, PromqlError::DuplicateLabelset);
    }

    #[test]
    fn range_functions_drop_the_name_and_metadata_over_a_selector_or_a_subquery() {
        let s = store(
            60_000,
            "c_total{__type__=\"counter\", env=\"1\"} 0 60 120\nc_total{env=\"2\"} 0 60 120",
        );
        for opts in [EvalOptions::default(), EvalOptions::promqltest()] {
            for q in ["rate(c_total[2m])", "rate(c_total[2m:1m])"] {
                let got = eval_with(&s, q, 120_000, &opts).unwrap();
                let labels: Vec<&str> = got.iter().map(|(l, _)| l.as_str()).collect();
                assert_eq!(labels, [r#"{env="1"}"#, r#"{env="2"}"#], "{q}");
            }
            let got = eval_with(&s, "last_over_time(c_total[2m])", 120_000, &opts).unwrap();
            assert_eq!(got[1], (r#"c_total{env="2"}"#.to_string(), 120.0));
        }
    }

    #[test]
    fn check_unique_finds_a_duplicate_whether_or_not_the_vector_is_sorted() {
        let elems = |names: &[&str]| -> Vec<Elem> {
            names
                .iter()
                .map(|n| Elem {
                    labels: Labels::new([("pod", *n)]),
                    v: 0.0,
                    drop_name: false,
                })
                .collect()
        };
        for ok in [&["a", "b", "c"][..], &["c", "a", "b"], &["b"], &[]] {
            assert_eq!(check_unique(&elems(ok)), Ok(()), "{ok:?}");
        }
        for dup in [&["a", "a"][..], &["a", "b", "b"], &["b", "a", "b"]] {
            assert_eq!(
                check_unique(&elems(dup)),
                Err(PromqlError::DuplicateLabelset),
                "{dup:?}"
            );
        }
    }

    #[test]
    fn unary_minus_negates_and_drops_the_name() {
        let got = eval_with(&s(), "-a_total", 120_000, &EvalOptions::default()).unwrap();
        assert_eq!(got, [(r#"{env="1"}"#.to_string(), -120.0)]);
    }
}
