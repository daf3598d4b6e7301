//! The `*_over_time` family: aggregations over one series' points in a
//! window (`avg min max sum count quantile stddev stdvar last first present
//! mad ts_of_*`).
//!
//! In: the points (never empty) and the scalar arguments. Out: one value.
//! Sums and means are Kahan-compensated (the mean switches to an incremental
//! form only if the sum would overflow), variances use a compensated
//! Welford update, and `min`/`max` skip NaN unless every point is NaN.

use super::{RangeCtx, quantile};
use crate::promql::float::kahan_inc;
use crate::series::Sample;

/// The value of an `*_over_time` function; `None` if `name` is not one, and
/// `Some(None)` if there is no output.
pub(super) fn value(name: &str, p: &[Sample], ctx: &RangeCtx<'_>) -> Option<Option<f64>> {
    if p.is_empty() {
        return Some(None);
    }
    let secs = |t: i64| t as f64 / 1000.0;
    Some(Some(match name {
        "avg_over_time" => avg(p),
        "sum_over_time" => {
            let (mut s, mut c) = (0.0, 0.0);
            for x in p {
                (s, c) = kahan_inc(x.v, s, c);
            }
            if s.is_infinite() { s } else { s + c }
        }
        "count_over_time" => p.len() as f64,
        "min_over_time" => extreme(p, |cur, best| cur < best).v,
        "max_over_time" => extreme(p, |cur, best| cur > best).v,
        "ts_of_min_over_time" => secs(extreme(p, |cur, best| cur <= best).t),
        "ts_of_max_over_time" => secs(extreme(p, |cur, best| cur >= best).t),
        "last_over_time" => p[p.len() - 1].v,
        "first_over_time" => p[0].v,
        "ts_of_last_over_time" => secs(p[p.len() - 1].t),
        "ts_of_first_over_time" => secs(p[0].t),
        "present_over_time" => 1.0,
        "quantile_over_time" => {
            let mut v: Vec<f64> = p.iter().map(|s| s.v).collect();
            quantile(ctx.scalar(0), &mut v)
        }
        "stdvar_over_time" => variance(p),
        "stddev_over_time" => variance(p).sqrt(),
        "mad_over_time" => {
            if p.iter().any(|s| s.v.is_nan()) {
                f64::NAN
            } else {
                let mut v: Vec<f64> = p.iter().map(|s| s.v).collect();
                let median = quantile(0.5, &mut v);
                for x in &mut v {
                    *x = (*x - median).abs();
                }
                quantile(0.5, &mut v)
            }
        }
        _ => return None,
    }))
}

/// The mean, compensated; incremental once the plain sum would overflow.
fn avg(p: &[Sample]) -> f64 {
    let (mut sum, mut c, mut count) = (p[0].v, 0.0, 1.0);
    let mut mean = 0.0;
    let mut incremental = false;
    for (i, s) in p.iter().enumerate().skip(1) {
        count = (i + 1) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(s.v, sum, c);
            if !ns.is_infinite() {
                (sum, c) = (ns, nc);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(s.v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

/// The point that wins `better(current, best)` scanning left to right; NaN
/// points lose to any number.
fn extreme(p: &[Sample], better: fn(f64, f64) -> bool) -> Sample {
    let mut best = p[0];
    for s in p {
        if better(s.v, best.v) || best.v.is_nan() {
            best = *s;
        }
    }
    best
}

/// Population variance by a compensated Welford update.
fn variance(p: &[Sample]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for s in p {
        count += 1.0;
        let delta = s.v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (s.v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::selector::Window;

    fn run(name: &str, vals: &[f64]) -> f64 {
        let p: Vec<Sample> = vals
            .iter()
            .enumerate()
            .map(|(i, &v)| Sample {
                t: i as i64 * 1000,
                v,
            })
            .collect();
        let ctx = RangeCtx {
            window: Window {
                start: -1,
                end: 10_000,
            },
            t: 10_000,
            scalars: &[0.5],
        };
        value(name, &p, &ctx).unwrap().unwrap()
    }

    #[test]
    fn min_and_max_skip_nan_like_prometheus() {
        assert_eq!(run("max_over_time", &[f64::NAN, 3.0, 1.0]), 3.0);
        assert_eq!(run("min_over_time", &[2.0, f64::NAN, 1.0]), 1.0);
        assert!(run("max_over_time", &[f64::NAN, f64::NAN]).is_nan());
        assert_eq!(run("ts_of_max_over_time", &[3.0, 1.0, 3.0]), 2.0);
    }

    #[test]
    fn avg_survives_sums_that_overflow() {
        let big = f64::MAX;
        assert_eq!(run("avg_over_time", &[big, big]), big);
        assert_eq!(run("avg_over_time", &[1.0, 2.0, 3.0, 4.0]), 2.5);
    }

    #[test]
    fn variance_median_and_quantile() {
        assert!(
            (run(
                "stdvar_over_time",
                &[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]
            ) - 4.0)
                .abs()
                < 1e-12
        );
        assert_eq!(run("quantile_over_time", &[1.0, 3.0, 2.0]), 2.0);
        assert_eq!(run("mad_over_time", &[1.0, 2.0, 3.0, 4.0, 100.0]), 1.0);
    }
}
