//! PromQL functions: dispatch by name and argument evaluation.
//!
//! In: a `Call` node and an evaluation time. Out: a scalar or an instant
//! vector. The per-family implementations live in the submodules: `math`
//! (element-wise math, dates, clamping), `range` (`rate`, `deriv`, …),
//! `over_time` (the `*_over_time` family), `label` (label rewriting, sorting,
//! `absent`) and `histogram` (classic-bucket histograms). Functions over a
//! range vector drop the metric name except `last_over_time` and
//! `first_over_time`; a subquery argument that already drops it keeps that.

pub(crate) mod histogram;
mod label;
mod math;
mod over_time;
mod range;

use promql_parser::parser::{Call, Expr};

use super::engine::{Elem, Evaluator, Val, check_unique};
use super::error::PromqlError;
use super::float::{go_max, go_min};
use super::selector::{self, Window};
use crate::series::{Labels, Sample};

/// Evaluates a function call at time `t`.
pub(crate) fn eval(ev: &Evaluator<'_>, call: &Call, t: i64) -> Result<Val, PromqlError> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(|a| unwrap_parens(a)).collect();
    if args
        .iter()
        .any(|a| matches!(a, Expr::MatrixSelector(_) | Expr::Subquery(_)))
    {
        return eval_range_function(ev, name, &args, t);
    }
    let scalar = |i: usize| ev.eval_scalar(args[i], t);
    let secs = |ms: i64| ms as f64 / 1000.0;
    let v = match name {
        "time" => Val::Scalar(secs(t)),
        "pi" => Val::Scalar(std::f64::consts::PI),
        "start" => Val::Scalar(secs(ev.start)),
        "end" => Val::Scalar(secs(ev.end)),
        "range" => Val::Scalar((i128::from(ev.end) - i128::from(ev.start)) as f64 / 1000.0),
        "step" => Val::Scalar(secs(ev.step)),
        "min_of" => Val::Scalar(go_min(scalar(0)?, scalar(1)?)),
        "max_of" => Val::Scalar(go_max(scalar(0)?, scalar(1)?)),
        "vector" => Val::Vector(vec![Elem {
            labels: Labels::default(),
            v: scalar(0)?,
            drop_name: false,
        }]),
        "scalar" => {
            let v = ev.eval_vector(args[0], t)?;
            Val::Scalar(if v.len() == 1 { v[0].v } else { f64::NAN })
        }
        "timestamp" => {
            let v = match args[0] {
                Expr::VectorSelector(vs) => selector::instant_timestamps(ev, vs, t),
                other => {
                    let mut v = ev.eval_vector(other, t)?;
                    for e in &mut v {
                        e.v = secs(t);
                    }
                    v
                }
            };
            Val::Vector(ev.settle(mark_drop(v))?)
        }
        "absent" => Val::Vector(label::absent(ev.eval_vector(args[0], t)?, args[0])),
        "label_replace" | "label_join" => {
            let strings = string_args(&args[1..])?;
            let v = ev.eval_vector(args[0], t)?;
            Val::Vector(label::relabel(name, v, &strings)?)
        }
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => {
            let strings = string_args(&args[1..])?;
            Val::Vector(label::sort(name, ev.eval_vector(args[0], t)?, &strings))
        }
        "histogram_quantile" => {
            let q = scalar(0)?;
            let v = histogram::quantile(q, ev.eval_vector(args[1], t)?);
            Val::Vector(ev.settle(v)?)
        }
        "histogram_quantiles" => {
            let label = string_args(&args[1..2])?.remove(0);
            let qs = args[2..]
                .iter()
                .map(|a| ev.eval_scalar(a, t))
                .collect::<Result<Vec<f64>, _>>()?;
            let v = histogram::quantiles(&label, &qs, ev.eval_vector(args[0], t)?);
            Val::Vector(ev.settle(v)?)
        }
        "histogram_fraction" => {
            let (lo, hi) = (scalar(0)?, scalar(1)?);
            let v = histogram::fraction(lo, hi, ev.eval_vector(args[2], t)?);
            Val::Vector(ev.settle(v)?)
        }
        // Native-histogram functions ignore float samples.
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => {
            ev.eval_vector(args[0], t)?;
            Val::Vector(Vec::new())
        }
        _ if math::is_date_function(name) => {
            let v = match args.first() {
                None => vec![Elem {
                    labels: Labels::default(),
                    v: (t / 1000) as f64,
                    drop_name: false,
                }],
                Some(a) => mark_drop(ev.eval_vector(a, t)?),
            };
            Val::Vector(ev.settle(math::apply_date(name, v))?)
        }
        _ => {
            let extra = args[1..]
                .iter()
                .map(|a| ev.eval_scalar(a, t))
                .collect::<Result<Vec<f64>, _>>()?;
            let v = ev.eval_vector(args[0], t)?;
            match math::apply(name, v, &extra) {
                Some(v) => Val::Vector(ev.settle(mark_drop(v))?),
                None => return Err(PromqlError::Unsupported(format!("function {name}()"))),
            }
        }
    };
    Ok(v)
}

/// Marks every element for metric-name removal.
fn mark_drop(mut v: Vec<Elem>) -> Vec<Elem> {
    for e in &mut v {
        e.drop_name = true;
    }
    v
}

/// Strips parentheses around an argument, as Prometheus's preprocessing does.
pub(crate) fn unwrap_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

/// The values of string-literal arguments.
fn string_args(args: &[&Expr]) -> Result<Vec<String>, PromqlError> {
    args.iter()
        .map(|a| match a {
            Expr::StringLiteral(s) => Ok(s.val.clone()),
            _ => Err(PromqlError::InvalidArgument(
                "expected a string literal argument".to_string(),
            )),
        })
        .collect()
}

/// A function whose (one) range-vector argument is a matrix selector or a
/// subquery; other arguments are scalars.
fn eval_range_function(
    ev: &Evaluator<'_>,
    name: &str,
    args: &[&Expr],
    t: i64,
) -> Result<Val, PromqlError> {
    let keeps_name = matches!(name, "last_over_time" | "first_over_time");
    // With immediate name removal the result would lose the name at once:
    // taking each stored series' labels without it gives the same sets and
    // spares copying the pairs of every series to remove it
    // (`absent_over_time` only asks whether there were series).
    let drop_at_selector = !keeps_name && !ev.opts.delayed_name_removal;
    // Whether the series came without their names (a subquery's keep them).
    let mut stripped = false;
    let mut scalars = Vec::new();
    let mut source = None;
    for a in args {
        match a {
            Expr::MatrixSelector(ms) => {
                source = Some(selector::range(ev, ms, t, drop_at_selector));
                stripped = drop_at_selector;
            }
            Expr::Subquery(sq) => {
                source = Some(selector::subquery(ev, sq, t)?);
                stripped = false;
            }
            other => scalars.push(ev.eval_scalar(other, t)?),
        }
    }
    let Some((series, window)) = source else {
        return Err(PromqlError::Unsupported(format!("function {name}()")));
    };
    if name == "absent_over_time" {
        return Ok(Val::Vector(if series.is_empty() {
            label::absent(Vec::new(), args[0])
        } else {
            Vec::new()
        }));
    }
    let ctx = RangeCtx {
        window,
        t,
        scalars: &scalars,
    };
    let mut out = Vec::with_capacity(series.len());
    for s in series {
        if let Some(v) = range_value(name, &s.points, &ctx)? {
            out.push(Elem {
                labels: s.labels,
                v,
                drop_name: (!keeps_name && !stripped) || s.drop_name,
            });
        }
    }
    if stripped {
        // What `settle` does after dropping the names: two series that
        // differed only in them now collide.
        check_unique(&out)?;
    }
    Ok(Val::Vector(ev.settle(out)?))
}

/// What a range-vector function sees besides the points.
pub(crate) struct RangeCtx<'a> {
    /// The window the points were selected from.
    pub window: Window,
    /// The evaluation time (ms).
    pub t: i64,
    /// The scalar arguments, in order.
    pub scalars: &'a [f64],
}

impl RangeCtx<'_> {
    /// Scalar argument `i` (NaN if absent).
    pub fn scalar(&self, i: usize) -> f64 {
        self.scalars.get(i).copied().unwrap_or(f64::NAN)
    }
}

/// The value of a range-vector function over one series' points; `None`
/// means no output element.
fn range_value(name: &str, p: &[Sample], ctx: &RangeCtx<'_>) -> Result<Option<f64>, PromqlError> {
    if let Some(v) = range::value(name, p, ctx)? {
        return Ok(v);
    }
    if let Some(v) = over_time::value(name, p, ctx) {
        return Ok(v);
    }
    Err(PromqlError::Unsupported(format!("function {name}()")))
}

/// The q-quantile of `values` by linear interpolation between closest ranks
/// (Prometheus's `quantile`): NaN sorts first; q outside [0, 1] gives ±Inf.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}
