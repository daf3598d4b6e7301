//! The latency histogram's buckets: which upper bounds each endpoint's
//! `http_request_duration_seconds` histogram has, and where each endpoint's
//! counts sit in a pod's flat bucket array.
//!
//! Flow: the scenario loader checks the bounds (`[histogram] buckets`, or an
//! endpoint's own `buckets`) and builds a [`BucketLayout`]; the engine sizes
//! every pod's counters from it, the per-request path ([`BucketLayout::slot`])
//! and the batched model ([`crate::model::queueing::Response::of`]) fill them,
//! the scraper names the `le` series from [`BucketLayout::bounds`], and
//! `crate::describe` interpolates quantiles over the same bounds. Like
//! client_golang, the `+Inf` bucket is implicit: the bounds are finite, and
//! each endpoint has one slot more than it has bounds.

/// client_golang's `prometheus.DefBuckets`, the buckets a histogram gets when
/// its options name none (`prometheus/histogram.go`): what the scenario uses
/// unless it says otherwise.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The most finite bounds one endpoint's histogram may have (each bound is
/// a series per pod; the sample budget counts them).
pub const MAX_BUCKETS: usize = 100;

/// Each endpoint's bucket bounds and the offset of its slots in a pod's
/// flat bucket array (endpoint after endpoint, `+Inf` last in each).
#[derive(Debug, Clone, PartialEq)]
pub struct BucketLayout {
    bounds: Vec<Vec<f64>>,
    offsets: Vec<usize>,
}

impl BucketLayout {
    /// The layout of endpoints with these (checked: finite, positive,
    /// strictly increasing) upper bounds, indexed like the endpoints.
    pub fn new(bounds: Vec<Vec<f64>>) -> BucketLayout {
        let mut offsets = Vec::with_capacity(bounds.len() + 1);
        let mut at = 0;
        for b in &bounds {
            offsets.push(at);
            at += b.len() + 1;
        }
        offsets.push(at);
        BucketLayout { bounds, offsets }
    }

    /// `endpoints` endpoints, each with client_golang's default buckets.
    pub fn default_for(endpoints: usize) -> BucketLayout {
        BucketLayout::new(vec![DEFAULT_BUCKETS.to_vec(); endpoints])
    }

    /// Endpoints it lays out.
    #[inline]
    pub fn endpoints(&self) -> usize {
        self.bounds.len()
    }

    /// The finite upper bounds of endpoint `e`'s buckets, ascending.
    #[inline]
    pub fn bounds(&self, e: usize) -> &[f64] {
        &self.bounds[e]
    }

    /// Endpoint `e`'s slots (its bounds and `+Inf`) in the flat array.
    #[inline]
    pub fn range(&self, e: usize) -> std::ops::Range<usize> {
        self.offsets[e]..self.offsets[e + 1]
    }

    /// Slots of endpoint `e`, its `+Inf` bucket included.
    #[inline]
    pub fn slots(&self, e: usize) -> usize {
        self.offsets[e + 1] - self.offsets[e]
    }

    /// The most slots any endpoint has.
    pub fn max_slots(&self) -> usize {
        (0..self.bounds.len())
            .map(|e| self.slots(e))
            .max()
            .unwrap_or(1)
    }

    /// Slots over all endpoints: the length of a pod's bucket array.
    #[inline]
    pub fn total(&self) -> usize {
        self.offsets[self.offsets.len() - 1]
    }

    /// The flat slot an observation of `secs` seconds at endpoint `e` is
    /// counted in: the first bucket whose bound is at least `secs` (the
    /// `le` rule), else `+Inf`. A scan, not a search: a handful of bounds,
    /// and no allocation on the per-request path.
    #[inline]
    pub fn slot(&self, e: usize, secs: f64) -> usize {
        let b = &self.bounds[e];
        self.offsets[e] + b.iter().position(|le| secs <= *le).unwrap_or(b.len())
    }
}

/// Checks a list of bucket bounds as client_golang would accept them for a
/// latency histogram, with the implicit `+Inf`: 1 to [`MAX_BUCKETS`] finite
/// bounds above 0, strictly increasing (client_golang panics on bounds "not
/// sorted in increasing order"). The error names the index of the bad bound.
pub fn check_bounds(bounds: &[f64]) -> Result<(), (Option<usize>, String)> {
    if bounds.is_empty() {
        return Err((None, "has no bounds".into()));
    }
    if bounds.len() > MAX_BUCKETS {
        return Err((
            None,
            format!("has {} bounds, more than {MAX_BUCKETS}", bounds.len()),
        ));
    }
    for (i, b) in bounds.iter().enumerate() {
        if b.is_infinite() && *b > 0.0 {
            return Err((Some(i), "+Inf is implicit; leave it out".into()));
        }
        if !(b.is_finite() && *b > 0.0) {
            return Err((Some(i), format!("{b} is not a latency above 0")));
        }
        if i > 0 && *b <= bounds[i - 1] {
            return Err((
                Some(i),
                format!("{b} does not exceed the bound before it, {}", bounds[i - 1]),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `le` rule: an observation equal to a bound is counted in that
    /// bucket, one above the last bound in `+Inf`; endpoints with their own
    /// bounds get their own slots.
    #[test]
    fn buckets_set_per_endpoint_place_observations_by_the_le_rule() {
        let l = BucketLayout::new(vec![vec![0.1, 0.2], DEFAULT_BUCKETS.to_vec()]);
        assert_eq!((l.slots(0), l.slots(1), l.total()), (3, 12, 15));
        assert_eq!(l.range(1), 3..15);
        assert_eq!(l.slot(0, 0.05), 0);
        assert_eq!(l.slot(0, 0.1), 0);
        assert_eq!(l.slot(0, 0.1000001), 1);
        assert_eq!(l.slot(0, 7.0), 2);
        assert_eq!(l.slot(1, 0.005), 3);
        assert_eq!(l.slot(1, 11.0), 14);
        assert_eq!(l.max_slots(), 12);
    }

    #[test]
    fn bucket_bounds_must_be_finite_positive_and_strictly_increasing() {
        assert!(check_bounds(&[0.05, 0.1, 0.2]).is_ok());
        assert_eq!(check_bounds(&[]).unwrap_err().0, None);
        assert_eq!(check_bounds(&[0.1, 0.1]).unwrap_err().0, Some(1));
        assert_eq!(check_bounds(&[0.2, 0.1]).unwrap_err().0, Some(1));
        assert_eq!(check_bounds(&[0.0, 0.1]).unwrap_err().0, Some(0));
        assert_eq!(check_bounds(&[0.1, f64::NAN]).unwrap_err().0, Some(1));
        let inf = check_bounds(&[0.1, f64::INFINITY]).unwrap_err();
        assert_eq!(inf.0, Some(1));
        assert!(inf.1.contains("implicit"), "{}", inf.1);
        assert!(check_bounds(&vec![1.0; MAX_BUCKETS + 1]).is_err());
    }
}
