//! Compares a query result with an eval block's expectation, as
//! Prometheus's `compareResult` does, and renders both sides for reports.
//!
//! In: an [`Eval`] and the evaluator's [`Value`]. Out: `Ok(())` or the reason
//! for the mismatch. Series match as a set by their exact label set (metric
//! name included); order matters only for `expect ordered`; floats compare
//! with a relative tolerance of 1e-6 (NaN equals NaN, a staleness marker only
//! itself).

use std::collections::HashMap;
use std::fmt::Write;

use super::notation::SeqValue;
use super::script::{Eval, EvalTime, Expected};
use crate::promql::float::{almost_equal, format_go};
use crate::promql::value::Value;
use crate::series::Labels;

/// The tolerance of the promqltest suite.
const EPSILON: f64 = 1e-6;

/// Checks `result` against the expectation of `eval`.
pub(crate) fn check(eval: &Eval, result: &Value) -> Result<(), String> {
    let expected_series: &[(Labels, Vec<SeqValue>)] = match &eval.expected {
        Expected::Series(s) => s,
        _ => &[],
    };
    let expect_scalar = matches!(eval.expected, Expected::Scalar(_));
    match result {
        Value::Matrix(m) => {
            if eval.ordered {
                return Err("expected ordered result, but query returned a matrix".to_string());
            }
            if expect_scalar {
                return Err("expected scalar result, but got a matrix".to_string());
            }
            let (start, end, step) = match (eval.time, eval.range_vector) {
                (EvalTime::Range { start, end, step }, _) => (start, end, step),
                (EvalTime::Instant(_), Some((start, end, step))) => (start, end, step),
                (EvalTime::Instant(t), None) => (t, 0, 0),
            };
            let expected = index(expected_series);
            for s in m {
                let Some(values) = expected.get(&s.labels) else {
                    return Err(format!("unexpected series {} in result", s.labels));
                };
                let mut points = Vec::new();
                for (i, v) in values.iter().enumerate() {
                    let t = start + i as i64 * step;
                    if t > end {
                        return Err(format!(
                            "expected {} points for {}, but the query range cannot hold them",
                            values.len(),
                            s.labels
                        ));
                    }
                    if let SeqValue::Float(f) = v {
                        points.push((t, *f));
                    }
                }
                if points.len() != s.samples.len() {
                    return Err(format!(
                        "expected {} points for {}, got {}",
                        points.len(),
                        s.labels,
                        s.samples.len()
                    ));
                }
                for ((t, f), p) in points.iter().zip(&s.samples) {
                    if *t != p.t {
                        return Err(format!(
                            "expected a point at t={t} for {}, got t={}",
                            s.labels, p.t
                        ));
                    }
                    if !almost_equal(p.v, *f, EPSILON) {
                        return Err(format!(
                            "expected {} at t={t} for {}, got {}",
                            format_go(*f),
                            s.labels,
                            format_go(p.v)
                        ));
                    }
                }
            }
            missing(expected_series, m.iter().map(|s| &s.labels))
        }
        Value::Vector(v) => {
            if expect_scalar {
                return Err("expected scalar result, but got a vector".to_string());
            }
            let positions: HashMap<&Labels, usize> = expected_series
                .iter()
                .enumerate()
                .map(|(i, (l, _))| (l, i))
                .collect();
            for (pos, s) in v.iter().enumerate() {
                let Some(&i) = positions.get(&s.labels) else {
                    return Err(format!("unexpected series {} in result", s.labels));
                };
                if eval.ordered && i != pos {
                    return Err(format!(
                        "expected {} at position {}, but it was at {}",
                        s.labels,
                        i + 1,
                        pos + 1
                    ));
                }
                let want = match expected_series[i].1.first() {
                    Some(SeqValue::Float(f)) => *f,
                    _ => 0.0,
                };
                if !almost_equal(want, s.v, EPSILON) {
                    return Err(format!(
                        "expected {} for {}, got {}",
                        format_go(want),
                        s.labels,
                        format_go(s.v)
                    ));
                }
            }
            missing(expected_series, v.iter().map(|s| &s.labels))
        }
        Value::Scalar(x) => match &eval.expected {
            Expected::Scalar(want) if almost_equal(*want, *x, EPSILON) => Ok(()),
            Expected::Scalar(want) => Err(format!(
                "expected scalar {}, got {}",
                format_go(*want),
                format_go(*x)
            )),
            _ => Err("expected a vector or matrix result, but got a scalar".to_string()),
        },
        Value::String(s) => {
            let want = match &eval.expected {
                Expected::String(w) => w.as_str(),
                _ => "",
            };
            if want == s {
                Ok(())
            } else {
                Err(format!("expected string {want:?}, got {s:?}"))
            }
        }
    }
}

fn index(series: &[(Labels, Vec<SeqValue>)]) -> HashMap<&Labels, &Vec<SeqValue>> {
    series.iter().map(|(l, v)| (l, v)).collect()
}

/// Fails if an expected series is not among the result's.
fn missing<'a>(
    expected: &[(Labels, Vec<SeqValue>)],
    got: impl Iterator<Item = &'a Labels>,
) -> Result<(), String> {
    let got: std::collections::HashSet<&Labels> = got.collect();
    match expected.iter().find(|(l, _)| !got.contains(l)) {
        Some((l, _)) => Err(format!("expected series {l} not found")),
        None => Ok(()),
    }
}

/// The expectation of `eval`, one series per line.
pub(crate) fn render_expected(eval: &Eval) -> String {
    match &eval.expected {
        Expected::Scalar(v) => format!("scalar {}", format_go(*v)),
        Expected::String(s) => format!("string {s:?}"),
        Expected::Series(s) if s.is_empty() => "(empty)".to_string(),
        Expected::Series(s) => {
            let mut out = String::new();
            for (l, values) in s {
                let vals: Vec<String> = values
                    .iter()
                    .map(|v| match v {
                        SeqValue::Omitted => "_".to_string(),
                        SeqValue::Float(f) => format_go(*f),
                        SeqValue::Histogram => "{{histogram}}".to_string(),
                    })
                    .collect();
                let _ = writeln!(out, "{l} {}", vals.join(" "));
            }
            out.trim_end().to_string()
        }
    }
}

/// A query result, one series per line.
pub(crate) fn render_value(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Scalar(x) => out = format!("scalar {}", format_go(*x)),
        Value::String(s) => out = format!("string {s:?}"),
        Value::Vector(v) if v.is_empty() => out = "(empty)".to_string(),
        Value::Matrix(m) if m.is_empty() => out = "(empty)".to_string(),
        Value::Vector(v) => {
            for s in v {
                let _ = writeln!(out, "{} {}", s.labels, format_go(s.v));
            }
        }
        Value::Matrix(m) => {
            for s in m {
                let pts: Vec<String> = s
                    .samples
                    .iter()
                    .map(|p| format!("{}@{}", format_go(p.v), format_go(p.t as f64 / 1000.0)))
                    .collect();
                let _ = writeln!(out, "{} {}", s.labels, pts.join(" "));
            }
        }
    }
    out.trim_end().to_string()
}
