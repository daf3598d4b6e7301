//! Classic (bucket-series) histograms: `histogram_quantile`,
//! `histogram_quantiles` and `histogram_fraction`.
//!
//! In: an instant vector of `le`-labelled bucket counts. Buckets are grouped
//! by all labels except `le` (the metric name included, so two histograms
//! with different names stay apart); an `le` that Go's `ParseFloat` rejects
//! is skipped. Out: one element per group, labels without `le`, marked for
//! name removal, sorted by labels (Prometheus leaves them in map order).
//! The quantile rules are Prometheus's `BucketQuantile`: NaN without a +Inf
//! bucket or observations, linear interpolation inside a bucket, the lowest
//! bucket starting at 0.

use std::collections::BTreeMap;

use crate::promql::engine::Elem;
use crate::promql::float::{almost_equal, format_openmetrics, parse_go};
use crate::series::Labels;

/// One bucket: upper bound and cumulative count.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    upper: f64,
    count: f64,
}

/// Groups bucket elements by their labels without `le`.
fn group(v: Vec<Elem>) -> BTreeMap<Labels, Vec<Bucket>> {
    let mut groups: BTreeMap<Labels, Vec<Bucket>> = BTreeMap::new();
    for e in v {
        let Some(upper) = e.labels.get("le").and_then(parse_go) else {
            continue;
        };
        groups
            .entry(e.labels.without(&["le"]))
            .or_default()
            .push(Bucket { upper, count: e.v });
    }
    groups
}

/// `histogram_quantile(q, buckets)`.
pub(super) fn quantile(q: f64, v: Vec<Elem>) -> Vec<Elem> {
    group(v)
        .into_iter()
        .map(|(labels, mut b)| Elem {
            labels,
            v: bucket_quantile(q, &mut b),
            drop_name: true,
        })
        .collect()
}

/// The q-quantile of one classic histogram given as its finite upper bounds
/// and cumulative counts (the last count is `+Inf`'s, so one more count
/// than bounds), by the same rules as `histogram_quantile`.
pub fn quantile_of(q: f64, bounds: &[f64], cumulative: &[f64]) -> f64 {
    let mut b: Vec<Bucket> = bounds
        .iter()
        .chain(std::iter::once(&f64::INFINITY))
        .zip(cumulative)
        .map(|(upper, count)| Bucket {
            upper: *upper,
            count: *count,
        })
        .collect();
    bucket_quantile(q, &mut b)
}

/// `histogram_quantiles(buckets, "label", q...)`: one element per quantile
/// and group, the quantile in `label`.
pub(super) fn quantiles(label: &str, qs: &[f64], v: Vec<Elem>) -> Vec<Elem> {
    let groups = group(v);
    let mut out = Vec::with_capacity(qs.len() * groups.len());
    for &q in qs {
        for (labels, b) in &groups {
            let mut labels = labels.clone();
            labels.set(label, &format_openmetrics(q));
            out.push(Elem {
                labels,
                v: bucket_quantile(q, &mut b.clone()),
                drop_name: true,
            });
        }
    }
    out
}

/// `histogram_fraction(lower, upper, buckets)`.
pub(super) fn fraction(lower: f64, upper: f64, v: Vec<Elem>) -> Vec<Elem> {
    group(v)
        .into_iter()
        .map(|(labels, mut b)| Elem {
            labels,
            v: bucket_fraction(lower, upper, &mut b),
            drop_name: true,
        })
        .collect()
}

/// Sorts buckets by upper bound and merges equal bounds.
fn sort_and_coalesce(b: &mut Vec<Bucket>) {
    b.sort_by(|x, y| {
        x.upper
            .partial_cmp(&y.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut out: Vec<Bucket> = Vec::with_capacity(b.len());
    for x in b.iter() {
        match out.last_mut() {
            Some(last) if last.upper == x.upper => last.count += x.count,
            _ => out.push(*x),
        }
    }
    *b = out;
}

/// Forces counts to be non-decreasing; differences below 1e-12 relative are
/// treated as rounding noise.
fn ensure_monotonic(b: &mut [Bucket]) {
    let mut prev = b[0].count;
    for x in b.iter_mut().skip(1) {
        let curr = x.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, 1e-12) || curr < prev {
            x.count = prev;
            continue;
        }
        prev = curr;
    }
}

/// The q-quantile of a classic histogram.
fn bucket_quantile(q: f64, b: &mut Vec<Bucket>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    b.sort_by(|x, y| {
        x.upper
            .partial_cmp(&y.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    if b.last().is_none_or(|l| l.upper != f64::INFINITY) {
        return f64::NAN;
    }
    sort_and_coalesce(b);
    ensure_monotonic(b);
    if b.len() < 2 {
        return f64::NAN;
    }
    let observations = b[b.len() - 1].count;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let i = b[..b.len() - 1].partition_point(|x| x.count < rank);
    if i == b.len() - 1 {
        return b[b.len() - 2].upper;
    }
    if i == 0 && b[0].upper <= 0.0 {
        return b[0].upper;
    }
    let mut start = 0.0;
    let end = b[i].upper;
    let mut count = b[i].count;
    if i > 0 {
        start = b[i - 1].upper;
        count -= b[i - 1].count;
        rank -= b[i - 1].count;
    }
    start + (end - start) * (rank / count)
}

/// The fraction of observations between `lower` and `upper`, interpolating
/// linearly inside buckets.
fn bucket_fraction(lower: f64, upper: f64, b: &mut Vec<Bucket>) -> f64 {
    b.sort_by(|x, y| {
        x.upper
            .partial_cmp(&y.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    if b.last().is_none_or(|l| l.upper != f64::INFINITY) {
        return f64::NAN;
    }
    sort_and_coalesce(b);
    let count = b[b.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if b[0].upper <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            lower_bound = b[i - 1].upper;
        }
        let upper_bound = x.upper;
        let interpolate = |v: f64| {
            if lower_bound == f64::NEG_INFINITY {
                x.count
            } else {
                rank + (x.count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
            }
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = x.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(pairs: &[(f64, f64)]) -> Vec<Bucket> {
        pairs
            .iter()
            .map(|&(upper, count)| Bucket { upper, count })
            .collect()
    }

    #[test]
    fn quantile_interpolates_inside_the_bucket() {
        // 100 observations: 50 <= 0.1, 90 <= 0.5, all <= +Inf.
        let mut b = buckets(&[(0.5, 90.0), (f64::INFINITY, 100.0), (0.1, 50.0)]);
        assert!((bucket_quantile(0.5, &mut b) - 0.1).abs() < 1e-12);
        assert!((bucket_quantile(0.7, &mut b) - 0.3).abs() < 1e-12);
        // Above the highest finite bucket: its upper bound.
        assert_eq!(bucket_quantile(0.99, &mut b), 0.5);
        // The first bucket starts at zero.
        assert!((bucket_quantile(0.25, &mut b) - 0.05).abs() < 1e-12);
    }

    #[test]
    fn quantile_edge_cases_follow_prometheus() {
        let mut no_inf = buckets(&[(0.1, 1.0), (0.5, 2.0)]);
        assert!(bucket_quantile(0.5, &mut no_inf).is_nan());
        let mut empty = buckets(&[(0.1, 0.0), (f64::INFINITY, 0.0)]);
        assert!(bucket_quantile(0.5, &mut empty).is_nan());
        let mut b = buckets(&[(0.1, 1.0), (f64::INFINITY, 2.0)]);
        assert_eq!(bucket_quantile(-1.0, &mut b), f64::NEG_INFINITY);
        assert_eq!(bucket_quantile(2.0, &mut b), f64::INFINITY);
        // Non-monotonic counts are flattened: 5 at 0.2 becomes 10.
        let mut nm = buckets(&[(0.1, 10.0), (0.2, 5.0), (0.4, 20.0), (f64::INFINITY, 20.0)]);
        assert!((bucket_quantile(0.5, &mut nm) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn fraction_interpolates_between_bounds() {
        let mut b = buckets(&[(1.0, 50.0), (2.0, 100.0), (f64::INFINITY, 100.0)]);
        assert!((bucket_fraction(0.0, 1.0, &mut b) - 0.5).abs() < 1e-12);
        assert!((bucket_fraction(0.5, 1.5, &mut b) - 0.5).abs() < 1e-12);
        assert_eq!(bucket_fraction(2.0, 1.0, &mut b), 0.0);
    }
}
