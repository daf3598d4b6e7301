//! Rate-like functions over a range vector: `rate increase delta irate idelta
//! deriv predict_linear resets changes double_exponential_smoothing`.
//!
//! In: one series' points (staleness markers removed) and the window they
//! came from. Out: one value or nothing. `rate`/`increase`/`delta`
//! extrapolate towards the window edges as Prometheus's `extrapolatedRate`
//! does (at most half a sample interval past the first/last sample when the
//! gap is large, never below zero for counters); `deriv`/`predict_linear` are
//! a Kahan-summed least-squares fit.

use super::RangeCtx;
use crate::promql::error::PromqlError;
use crate::promql::float::kahan_inc;
use crate::series::Sample;

/// The value of a rate-like function; `Ok(None)` if `name` is not one of
/// them, `Ok(Some(None))` if the series gives no output.
pub(super) fn value(
    name: &str,
    p: &[Sample],
    ctx: &RangeCtx<'_>,
) -> Result<Option<Option<f64>>, PromqlError> {
    Ok(Some(match name {
        "rate" => extrapolated_rate(p, ctx, true, true),
        "increase" => extrapolated_rate(p, ctx, true, false),
        "delta" => extrapolated_rate(p, ctx, false, false),
        "irate" => instant_value(p, true),
        "idelta" => instant_value(p, false),
        "deriv" => (p.len() >= 2).then(|| linear_regression(p, p[0].t).0),
        "predict_linear" => (p.len() >= 2).then(|| {
            let (slope, intercept) = linear_regression(p, ctx.t);
            slope * ctx.scalar(0) + intercept
        }),
        "resets" => Some(p.windows(2).filter(|w| w[1].v < w[0].v).count() as f64),
        "changes" => Some(
            p.windows(2)
                .filter(|w| w[1].v != w[0].v && !(w[1].v.is_nan() && w[0].v.is_nan()))
                .count() as f64,
        ),
        "double_exponential_smoothing" => {
            double_exponential_smoothing(p, ctx.scalar(0), ctx.scalar(1))?
        }
        _ => return Ok(None),
    }))
}

/// `rate` (counter, per second), `increase` (counter) and `delta` (gauge).
fn extrapolated_rate(
    p: &[Sample],
    ctx: &RangeCtx<'_>,
    counter: bool,
    per_second: bool,
) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (first, last) = (p[0], p[p.len() - 1]);
    let mut result = last.v - first.v;
    if counter {
        for w in p.windows(2) {
            if w[1].v < w[0].v {
                result += w[0].v;
            }
        }
    }
    let gap = |a: i64, b: i64| (i128::from(a) - i128::from(b)) as f64 / 1000.0;
    let mut to_start = gap(first.t, ctx.window.start);
    let mut to_end = gap(ctx.window.end, last.t);
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let average = sampled / (p.len() - 1) as f64;
    let threshold = average * 1.1;
    if to_start >= threshold {
        to_start = average / 2.0;
    }
    if counter && result > 0.0 && first.v >= 0.0 {
        // A counter cannot go below zero: stop the extrapolation there.
        let to_zero = sampled * (first.v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = average / 2.0;
    }
    let mut factor = if sampled != 0.0 {
        (sampled + to_start + to_end) / sampled
    } else {
        1.0
    };
    if per_second {
        factor /= ctx.window.seconds();
    }
    Some(result * factor)
}

/// `irate` and `idelta`: from the last two samples.
fn instant_value(p: &[Sample], per_second: bool) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (prev, last) = (p[p.len() - 2], p[p.len() - 1]);
    let interval = last.t - prev.t;
    if interval == 0 {
        return None;
    }
    let mut v = last.v;
    if !per_second || last.v >= prev.v || last.v.is_nan() || prev.v.is_nan() {
        v = last.v - prev.v;
    }
    if per_second {
        v /= interval as f64 / 1000.0;
    }
    Some(v)
}

/// Least-squares slope (per second) and the intercept at `intercept_time`.
/// A constant series has slope 0, or NaN if the constant is infinite.
pub(super) fn linear_regression(p: &[Sample], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = p[0].v;
    let mut const_y = true;
    for (i, s) in p.iter().enumerate() {
        if const_y && i > 0 && s.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (i128::from(s.t) - i128::from(intercept_time)) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(s.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * s.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov_xy = sxy - sx * sy / n;
    let var_x = sx2 - sx * sx / n;
    let slope = cov_xy / var_x;
    let intercept = sy / n - slope * sx / n;
    (slope, intercept)
}

/// Holt's linear smoothing with smoothing factor `sf` and trend factor `tf`,
/// both strictly between 0 and 1.
fn double_exponential_smoothing(
    p: &[Sample],
    sf: f64,
    tf: f64,
) -> Result<Option<f64>, PromqlError> {
    if !(sf > 0.0 && sf < 1.0) {
        return Err(PromqlError::InvalidArgument(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
        )));
    }
    if !(tf > 0.0 && tf < 1.0) {
        return Err(PromqlError::InvalidArgument(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
        )));
    }
    if p.len() < 2 {
        return Ok(None);
    }
    let (mut s0, mut s1) = (0.0, p[0].v);
    let mut b = p[1].v - p[0].v;
    for (i, s) in p.iter().enumerate().skip(1) {
        let x = sf * s.v;
        // The trend at the previous point (the first trend is the raw one).
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Ok(Some(s1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::selector::Window;

    fn pts(vals: &[(i64, f64)]) -> Vec<Sample> {
        vals.iter().map(|&(t, v)| Sample { t, v }).collect()
    }

    fn ctx(start: i64, end: i64) -> RangeCtx<'static> {
        RangeCtx {
            window: Window { start, end },
            t: end,
            scalars: &[],
        }
    }

    #[test]
    fn rate_extrapolates_to_window_edges_and_handles_resets() {
        // Samples every 15s from 15s to 120s in a (0, 120s] window: the
        // first sample is one interval from the start, so extrapolation
        // reaches the edge; the counter resets once (40 -> 5).
        let p = pts(&[
            (15_000, 10.0),
            (30_000, 20.0),
            (45_000, 30.0),
            (60_000, 40.0),
            (75_000, 5.0),
            (90_000, 15.0),
            (105_000, 25.0),
            (120_000, 35.0),
        ]);
        let c = ctx(0, 120_000);
        let increase = 35.0 - 10.0 + 40.0;
        // to_start = 15s, but the zero point is at 105*10/65 s; 15 < 16.15.
        let expected = increase * (105.0 + 15.0) / 105.0;
        let got = extrapolated_rate(&p, &c, true, false).unwrap();
        assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
        let rate = extrapolated_rate(&p, &c, true, true).unwrap();
        assert!((rate - expected / 120.0).abs() < 1e-12);
    }

    #[test]
    fn rate_needs_two_samples_and_stops_at_counter_zero() {
        let c = ctx(0, 60_000);
        assert_eq!(
            extrapolated_rate(&pts(&[(30_000, 5.0)]), &c, true, true),
            None
        );
        // From 1 to 3 over 20s: the zero point is 10s before the first
        // sample, closer than the 20s to the window start.
        let p = pts(&[(20_000, 1.0), (30_000, 2.0), (40_000, 3.0)]);
        let got = extrapolated_rate(&p, &c, true, false).unwrap();
        // to_start = min(average/2 = 5 (20 >= 11), to_zero = 10) = 5; to_end = 5.
        assert!((got - 2.0 * 30.0 / 20.0).abs() < 1e-12);
        // delta does not stop at zero and does not treat drops as resets.
        let p = pts(&[(10_000, 5.0), (60_000, 1.0)]);
        assert_eq!(
            extrapolated_rate(&p, &c, false, false),
            Some(-4.0 * 60.0 / 50.0)
        );
    }

    #[test]
    fn irate_uses_last_two_samples_and_resets() {
        let p = pts(&[(0, 1.0), (10_000, 10.0), (20_000, 4.0)]);
        assert_eq!(instant_value(&p, true), Some(0.4));
        assert_eq!(instant_value(&p, false), Some(-6.0));
    }

    #[test]
    fn regression_of_a_line_is_exact_and_constant_inf_is_nan() {
        let p = pts(&[(0, 1.0), (10_000, 3.0), (20_000, 5.0)]);
        let (slope, intercept) = linear_regression(&p, 20_000);
        assert!((slope - 0.2).abs() < 1e-12 && (intercept - 5.0).abs() < 1e-12);
        let p = pts(&[(0, f64::INFINITY), (10_000, f64::INFINITY)]);
        assert!(linear_regression(&p, 0).0.is_nan());
        let p = pts(&[(0, 7.0), (10_000, 7.0)]);
        assert_eq!(linear_regression(&p, 0), (0.0, 7.0));
    }
}
