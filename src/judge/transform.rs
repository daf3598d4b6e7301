//! Sample clean-up before the comparison: the NaN strategy, then optional IQR
//! outlier removal, applied to each side on its own.
//!
//! In: one side's raw samples and the metric's [`MetricConfig`]. Out: the
//! samples `classify` compares. Percentiles use R's type 7 (linear interpolation
//! between order statistics, as commons-math's `R_7`), which Kayenta uses.

use super::config::{MetricConfig, NanStrategy, OutlierStrategy};

/// Applies the NaN strategy and then the outlier strategy to one side.
pub(crate) fn prepare(values: &[f64], cfg: &MetricConfig) -> Vec<f64> {
    let cleaned: Vec<f64> = match cfg.nan_strategy {
        NanStrategy::Remove => values.iter().copied().filter(|v| !v.is_nan()).collect(),
        NanStrategy::Replace => values
            .iter()
            .map(|&v| if v.is_nan() { 0.0 } else { v })
            .collect(),
    };
    match cfg.outliers.strategy {
        OutlierStrategy::Keep => cleaned,
        OutlierStrategy::Remove => remove_outliers(&cleaned, cfg.outliers.outlier_factor),
    }
}

/// Keeps the samples inside the fences of [`fences`], in their original order.
pub(crate) fn remove_outliers(values: &[f64], factor: f64) -> Vec<f64> {
    let Some((lo, hi)) = fences(values, factor) else {
        return values.to_vec();
    };
    // A NaN fence (from infinite samples) compares false and removes nothing.
    values
        .iter()
        .copied()
        .filter(|&v| !(v < lo || v > hi))
        .collect()
}

/// The outlier fences with Kayenta's reduced sensitivity: the lower fence is
/// min(P1, Q1 − k·IQR) and the upper max(P99, Q3 + k·IQR), so a sample must be
/// beyond both the 1st/99th percentile and the Tukey fence to go. `None` for no samples.
pub(crate) fn fences(values: &[f64], factor: f64) -> Option<(f64, f64)> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let q1 = percentile_r7(&sorted, 25.0)?;
    let q3 = percentile_r7(&sorted, 75.0)?;
    let iqr = q3 - q1;
    let p1 = percentile_r7(&sorted, 1.0)?;
    let p99 = percentile_r7(&sorted, 99.0)?;
    Some((p1.min(q1 - factor * iqr), p99.max(q3 + factor * iqr)))
}

/// The `p`-th percentile (0–100) of ascending `sorted` by R type 7: position
/// h = (n−1)·p/100, interpolated linearly between the order statistics around it.
pub(crate) fn percentile_r7(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = last as f64 * (p / 100.0).clamp(0.0, 1.0);
    let below = h.floor() as usize; // h ≤ last, so in range
    let frac = h - below as f64;
    let lo = sorted[below];
    Some(match sorted.get(below + 1) {
        Some(&hi) if frac > 0.0 => lo + frac * (hi - lo),
        _ => lo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_r7_interpolates_between_order_statistics() {
        // Values checked against R: quantile(c(1,2,3,4,10), c(.01,.25,.75,.99), type=7)
        // = 1.04, 2, 4, 9.76  (h = 4p: 0.04, 1, 3, 3.96).
        let s = [1.0, 2.0, 3.0, 4.0, 10.0];
        let near = |a: Option<f64>, b: f64| (a.expect("non-empty") - b).abs() < 1e-12;
        assert!(near(percentile_r7(&s, 1.0), 1.04));
        assert!(near(percentile_r7(&s, 25.0), 2.0));
        assert!(near(percentile_r7(&s, 75.0), 4.0));
        assert!(near(percentile_r7(&s, 99.0), 9.76));
        assert_eq!(percentile_r7(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile_r7(&[], 50.0), None);
    }

    #[test]
    fn a_spike_beyond_both_the_p99_and_the_tukey_fence_is_removed() {
        // Sorted: 10 10 10 11 11 11 12 12 500 (n=9). Q1 = x[2] = 10, Q3 = x[6] = 12,
        // IQR = 2, Tukey upper = 12 + 3·2 = 18; P99 at h = 7.92: 12 + 0.92·488 = 460.96
        // (R: quantile(…, .99, type = 7) = 460.96). Upper fence = max(460.96, 18) < 500:
        // the spike goes.
        let v = [10.0, 11.0, 12.0, 10.0, 11.0, 12.0, 10.0, 11.0, 500.0];
        let (lo, hi) = fences(&v, 3.0).expect("non-empty");
        assert!((hi - 460.96).abs() < 1e-9, "upper fence {hi}");
        // Lower: P1 at h = 0.08 is 10, Tukey lower 10 − 6 = 4: min is 4.
        assert!((lo - 4.0).abs() < 1e-12, "lower fence {lo}");
        assert_eq!(remove_outliers(&v, 3.0), v[..8].to_vec());
    }

    #[test]
    fn the_p99_guard_keeps_a_high_value_the_tukey_fence_alone_would_drop() {
        // Nine 10s, then 100 and 101 (n=11). Q1 = Q3 = 10 (h = 2.5, 7.5), IQR = 0,
        // so Tukey alone would drop both highs. P99 at h = 9.9: 100 + 0.9·1 = 100.9
        // (R agrees) is the upper fence: 100 stays, 101 goes.
        let mut v = vec![10.0; 9];
        v.extend([100.0, 101.0]);
        let kept = remove_outliers(&v, 3.0);
        assert_eq!(kept.len(), 10);
        assert!(kept.contains(&100.0) && !kept.contains(&101.0));
    }

    #[test]
    fn nan_strategies_remove_or_replace_by_zero() {
        let raw = [1.0, f64::NAN, 3.0];
        let mut c = MetricConfig::default();
        assert_eq!(prepare(&raw, &c), vec![1.0, 3.0]);
        c.nan_strategy = NanStrategy::Replace;
        assert_eq!(prepare(&raw, &c), vec![1.0, 0.0, 3.0]);
    }

    #[test]
    fn infinite_samples_do_not_panic_the_fences() {
        let v = [1.0, 2.0, f64::INFINITY];
        let kept = remove_outliers(&v, 3.0);
        assert_eq!(kept.len(), 3);
    }
}
