//! Test helpers: a store from promqltest-style load lines, and a one-call
//! evaluator returning `(labels, value)` pairs.

use super::promqltest::notation::{SeqValue, parse_series};
use super::{EvalOptions, PromqlError, Query, Value};
use crate::series::SeriesStore;

/// A store from `series values…` lines with values every `step_ms`.
pub(crate) fn store(step_ms: i64, lines: &str) -> SeriesStore {
    let mut s = SeriesStore::new();
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (labels, values) = parse_series(line).expect("test series parse");
        let id = s.id(labels);
        for (i, v) in values.iter().enumerate() {
            if let SeqValue::Float(f) = v {
                s.push(id, i as i64 * step_ms, *f);
            }
        }
    }
    s
}

/// Evaluates `q` at `t_ms`; vectors as `(labels, value)` in result order,
/// a scalar as `("scalar", v)`.
pub(crate) fn eval_with(
    s: &SeriesStore,
    q: &str,
    t_ms: i64,
    opts: &EvalOptions,
) -> Result<Vec<(String, f64)>, PromqlError> {
    Ok(match Query::parse(q)?.instant(s, t_ms, opts)? {
        Value::Scalar(v) => vec![("scalar".to_string(), v)],
        Value::Vector(v) => v.into_iter().map(|e| (e.labels.to_string(), e.v)).collect(),
        other => panic!("unexpected result {other:?}"),
    })
}

/// [`eval_with`] with default options (immediate name removal).
pub(crate) fn eval(s: &SeriesStore, q: &str, t_ms: i64) -> Vec<(String, f64)> {
    eval_with(s, q, t_ms, &EvalOptions::default()).unwrap_or_else(|e| panic!("{q}: {e}"))
}
