//! The statistics a sweep reports: Wilson score intervals for rates,
//! order-statistic quantiles, and the Pareto front of policy variants.
//!
//! Pure functions over numbers; [`super::cell`] calls them on the runs of
//! one cell, `crate::report` prints what they give.

/// The two-sided standard normal quantile for a 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// The Wilson score interval of `k` successes in `n` trials at normal
/// quantile `z` (Wilson 1927; Agresti & Coull 1998). `n == 0` gives the
/// uninformative `[0, 1]`.
pub fn wilson(k: u64, n: u64, z: f64) -> [f64; 2] {
    if n == 0 {
        return [0.0, 1.0];
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // At k = 0 and k = n the bounds are exactly 0 and 1; rounding would
    // otherwise leave them a hair inside.
    let lo = if k == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let hi = if k as f64 == n {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    [lo, hi]
}

/// The `q` quantile (0 ≤ q ≤ 1) of `sorted` (ascending), by linear
/// interpolation between order statistics (R's type 7, numpy's default);
/// `None` when empty.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = q.clamp(0.0, 1.0) * last as f64;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// The runs needed for a Wilson interval around `p` to have half-width at
/// most `margin` (the normal approximation, `z² p(1-p) / margin²`),
/// at least 1.
pub fn runs_for_margin(p: f64, margin: f64, z: f64) -> u64 {
    let p = p.clamp(0.01, 0.99);
    let m = margin.abs().max(1e-6);
    ((z * z * p * (1.0 - p) / (m * m)).ceil() as u64).max(1)
}

/// The normal quantile `z` of a two-sided interval at `confidence`
/// (0 < confidence < 1): `Φ⁻¹(1 − (1 − confidence)/2)`, so 0.95 gives
/// [`Z95`]. `None` outside (0, 1).
pub fn z_for(confidence: f64) -> Option<f64> {
    use statrs::distribution::{ContinuousCDF, Normal};
    if !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let n = Normal::standard();
    Some(n.inverse_cdf(1.0 - (1.0 - confidence) / 2.0))
}

/// Which points are Pareto-optimal when every coordinate is to be
/// minimised: a point is on the front when no other point is at least as
/// good in every coordinate and better in one. Points with a NaN
/// coordinate are never on the front and never dominate.
pub fn pareto_front(points: &[Vec<f64>]) -> Vec<bool> {
    let ok = |p: &[f64]| p.iter().all(|x| !x.is_nan());
    points
        .iter()
        .map(|p| {
            ok(p)
                && !points.iter().any(|q| {
                    ok(q)
                        && q.len() == p.len()
                        && q.iter().zip(p).all(|(a, b)| a <= b)
                        && q.iter().zip(p).any(|(a, b)| a < b)
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [f64; 2], b: [f64; 2]) -> bool {
        (a[0] - b[0]).abs() < 5e-4 && (a[1] - b[1]).abs() < 5e-4
    }

    // Published values: Newcombe (1998), "Two-sided confidence intervals for
    // the single proportion", Table I (Wilson method without continuity
    // correction): 0/20 → 0–0.1611, 1/29 → 0.0061–0.1718, 81/263 →
    // 0.2553–0.3662; 0/50 → [0, 0.0713] and 50/50 → [0.9287, 1] by the
    // same formula.
    #[test]
    fn wilson_matches_published_intervals() {
        assert!(close(wilson(0, 20, Z95), [0.0, 0.1611]));
        assert!(close(wilson(1, 29, Z95), [0.0061, 0.1718]));
        assert!(close(wilson(81, 263, Z95), [0.2553, 0.3662]));
        assert!(close(wilson(0, 50, Z95), [0.0, 0.0713]));
        assert!(close(wilson(50, 50, Z95), [0.9287, 1.0]));
        assert!(close(wilson(7, 20, Z95), [0.1812, 0.5671]));
    }

    #[test]
    fn wilson_of_no_trials_is_the_whole_range() {
        assert_eq!(wilson(0, 0, Z95), [0.0, 1.0]);
    }

    #[test]
    fn wilson_narrows_as_runs_grow() {
        let a = wilson(5, 10, Z95);
        let b = wilson(500, 1000, Z95);
        assert!(b[1] - b[0] < (a[1] - a[0]) / 5.0);
        assert!(b[0] < 0.5 && b[1] > 0.5);
    }

    #[test]
    fn quantile_interpolates_between_order_statistics() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), Some(2.5));
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&v, 1.0), Some(4.0));
        assert!((quantile(&v, 0.9).unwrap() - 3.7).abs() < 1e-12);
        assert_eq!(quantile(&[7.0], 0.9), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn pareto_front_keeps_the_undominated() {
        // (miss rate, false-abort rate, time): the second is dominated by the first.
        let pts = vec![
            vec![0.0, 0.1, 300.0],
            vec![0.0, 0.2, 400.0],
            vec![0.1, 0.0, 200.0],
            vec![0.0, 0.1, 300.0],
        ];
        assert_eq!(pareto_front(&pts), vec![true, false, true, true]);
        assert_eq!(pareto_front(&[vec![f64::NAN, 0.0]]), vec![false]);
    }

    // Published normal quantiles (e.g. Abramowitz & Stegun, Table 26.5):
    // 90% → 1.6449, 95% → 1.9600, 99% → 2.5758.
    #[test]
    fn z_for_gives_the_two_sided_normal_quantile() {
        assert!((z_for(0.90).unwrap() - 1.644_854).abs() < 1e-5);
        assert!((z_for(0.95).unwrap() - Z95).abs() < 1e-9);
        assert!((z_for(0.99).unwrap() - 2.575_829).abs() < 1e-5);
        assert_eq!(z_for(1.0), None);
        assert_eq!(z_for(0.0), None);
        assert_eq!(z_for(f64::NAN), None);
    }

    #[test]
    fn runs_for_margin_follows_the_normal_approximation() {
        // p = 0.5, ±0.1 at 95%: 1.96² · 0.25 / 0.01 ≈ 96.04 → 97.
        assert_eq!(runs_for_margin(0.5, 0.1, Z95), 97);
    }
}
