//! Selecting data from the series store: instant and range vector selectors
//! and subqueries.
//!
//! In: a selector node and an evaluation time. Out: instant-vector elements
//! or range-vector series (plus the window they cover, which `rate` and
//! friends need for extrapolation). Rules (Prometheus 3.x): an instant
//! selector takes the newest sample at or before `t - offset` (or `@ - offset`)
//! that is younger than the lookback delta, and nothing if that sample is a
//! staleness marker; a range selector takes the samples in the left-open
//! window `(ref - range, ref]` without staleness markers; a subquery
//! evaluates its inner expression at the multiples of its step inside that
//! same left-open window.

use std::collections::BTreeMap;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{MatrixSelector, SubqueryExpr, VectorSelector};

use super::engine::{Elem, Evaluator, RangeElem, Val, check_unique, duration_ms};
use super::error::PromqlError;
use crate::series::{Labels, METRIC_NAME, Sample, Series, SeriesId, SeriesStore, is_stale_nan};

/// The time span a range vector covers: `(start, end]` in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// Exclusive lower bound.
    pub start: i64,
    /// Inclusive upper bound.
    pub end: i64,
}

impl Window {
    /// The window's length in seconds.
    pub fn seconds(&self) -> f64 {
        (i128::from(self.end) - i128::from(self.start)) as f64 / 1000.0
    }
}

/// Whether a series' labels satisfy the selector's name and matchers.
pub(crate) fn matches(vs: &VectorSelector, labels: &Labels) -> bool {
    if let Some(name) = &vs.name
        && labels.get(METRIC_NAME) != Some(name.as_str())
    {
        return false;
    }
    let get = |n: &str| labels.get(n).unwrap_or("");
    if !vs
        .matchers
        .matchers
        .iter()
        .all(|m| m.is_match(get(&m.name)))
    {
        return false;
    }
    vs.matchers.or_matchers.is_empty()
        || vs
            .matchers
            .or_matchers
            .iter()
            .any(|group| group.iter().all(|m| m.is_match(get(&m.name))))
}

/// Whether a matcher is `name="non-empty"`, which the postings index answers
/// (an empty value also matches series without the label).
fn answered_by_postings(m: &Matcher) -> bool {
    matches!(m.op, MatchOp::Equal) && !m.value.is_empty()
}

/// The `name="value"` pairs a selector requires (its metric name and its
/// non-empty `=` matchers), which the store's postings index can answer.
fn required_pairs(vs: &VectorSelector) -> Vec<(&str, &str)> {
    let mut pairs: Vec<(&str, &str)> = vs
        .matchers
        .matchers
        .iter()
        .filter(|m| answered_by_postings(m))
        .map(|m| (m.name.as_str(), m.value.as_str()))
        .collect();
    if let Some(name) = vs.name.as_deref() {
        pairs.push((METRIC_NAME, name));
    }
    pairs
}

/// The intersection of sorted id lists.
fn intersect(lists: &mut [&[SeriesId]]) -> Vec<SeriesId> {
    lists.sort_by_key(|l| l.len());
    let Some((first, rest)) = lists.split_first() else {
        return Vec::new();
    };
    let mut out: Vec<SeriesId> = first.to_vec();
    for other in rest {
        let mut j = 0;
        out.retain(|id| {
            while j < other.len() && other[j] < *id {
                j += 1;
            }
            j < other.len() && other[j] == *id
        });
    }
    out
}

/// A matcher that remembers its answer for each label value it has seen.
/// The series a selector reads share few values (a handful of pods, of
/// status codes), and the store keeps one copy of each, so a value is
/// recognised by its address: a regex match costs about a thousand
/// instructions, and a selector's candidates asked the same few again and
/// again.
struct MemoMatcher<'m, 's> {
    /// The matcher.
    matcher: &'m Matcher,
    /// Values seen (by address) with the matcher's answer.
    seen: Vec<(&'s str, bool)>,
}

impl<'m, 's> MemoMatcher<'m, 's> {
    /// At most this many values are remembered: past them a value is
    /// matched anew, so that a label with many values (an id per series)
    /// costs no more than before.
    const MAX_SEEN: usize = 16;

    /// A matcher that has seen no value yet.
    fn new(matcher: &'m Matcher) -> MemoMatcher<'m, 's> {
        MemoMatcher {
            matcher,
            seen: Vec::new(),
        }
    }

    /// Whether the matcher accepts `value`, as [`Matcher::is_match`].
    fn is_match(&mut self, value: &'s str) -> bool {
        if let Some(&(_, hit)) = self.seen.iter().find(|(v, _)| std::ptr::eq(*v, value)) {
            return hit;
        }
        let hit = self.matcher.is_match(value);
        if self.seen.len() < Self::MAX_SEEN {
            self.seen.push((value, hit));
        }
        hit
    }
}

/// The series a selector matches, sorted by labels as Prometheus's storage
/// returns them.
pub(crate) fn select<'s>(store: &'s SeriesStore, vs: &VectorSelector) -> Vec<&'s Series> {
    let pairs = required_pairs(vs);
    let mut ids: Vec<SeriesId> = if pairs.is_empty() {
        store
            .series()
            .iter()
            .enumerate()
            .filter(|(_, s)| matches(vs, &s.labels))
            .map(|(i, _)| SeriesId(i as u32))
            .collect()
    } else {
        let mut lists: Vec<&[SeriesId]> = pairs.iter().map(|(n, v)| store.postings(n, v)).collect();
        let mut candidates = intersect(&mut lists);
        // The postings already guarantee the name and the `=` matchers.
        let mut rest: Vec<MemoMatcher<'_, 's>> = vs
            .matchers
            .matchers
            .iter()
            .filter(|m| !answered_by_postings(m))
            .map(MemoMatcher::new)
            .collect();
        if !rest.is_empty() || !vs.matchers.or_matchers.is_empty() {
            candidates.retain(|id| {
                let s = store.get(*id);
                let get = |n: &str| s.labels.get(n).unwrap_or("");
                rest.iter_mut().all(|m| m.is_match(get(&m.matcher.name)))
                    && (vs.matchers.or_matchers.is_empty()
                        || vs
                            .matchers
                            .or_matchers
                            .iter()
                            .any(|g| g.iter().all(|m| m.is_match(get(&m.name)))))
            });
        }
        candidates
    };
    // Label sets are unique in a store, so their order is total: sorting by
    // each series' position in it is sorting by labels.
    let order = store.label_order();
    ids.sort_unstable_by_key(|id| order[id.0 as usize]);
    ids.into_iter().map(|id| store.get(id)).collect()
}

/// The sample an instant selector sees at reference time `r`: the newest one
/// at or before `r`, if younger than the lookback and not a staleness marker.
pub(crate) fn sample_at(series: &Series, r: i64, lookback: i64) -> Option<Sample> {
    let s = series.last_at_or_before(r)?;
    if s.t <= r - lookback || is_stale_nan(s.v) {
        return None;
    }
    Some(s)
}

/// Evaluates an instant vector selector.
pub(crate) fn instant(ev: &Evaluator<'_>, vs: &VectorSelector, t: i64) -> Vec<Elem> {
    let r = ev.ref_time(vs.at.as_ref(), vs.offset.as_ref(), t);
    let selected = select(ev.store, vs);
    ev.charge_work(selected.len());
    selected
        .into_iter()
        .filter_map(|s| {
            sample_at(s, r, ev.opts.lookback_delta_ms).map(|p| Elem {
                labels: s.labels.clone(),
                v: p.v,
                drop_name: false,
            })
        })
        .collect()
}

/// Like [`instant`], but returns each sample's own timestamp instead of its
/// value (for `timestamp(selector)`).
pub(crate) fn instant_timestamps(ev: &Evaluator<'_>, vs: &VectorSelector, t: i64) -> Vec<Elem> {
    let r = ev.ref_time(vs.at.as_ref(), vs.offset.as_ref(), t);
    select(ev.store, vs)
        .into_iter()
        .filter_map(|s| {
            sample_at(s, r, ev.opts.lookback_delta_ms).map(|p| Elem {
                labels: s.labels.clone(),
                v: p.t as f64 / 1000.0,
                drop_name: false,
            })
        })
        .collect()
}

/// Evaluates a range vector selector; series without samples in the window
/// are left out. With `without_metadata` each series comes with its labels
/// already stripped of the name and the other metadata labels (each stored
/// series keeps that set, [`Series::labels_without_metadata`]), for a
/// function that would drop them at once anyway.
pub(crate) fn range(
    ev: &Evaluator<'_>,
    ms: &MatrixSelector,
    t: i64,
    without_metadata: bool,
) -> (Vec<RangeElem>, Window) {
    let end = ev.ref_time(ms.vs.at.as_ref(), ms.vs.offset.as_ref(), t);
    let window = Window {
        start: end.saturating_sub(duration_ms(&ms.range)),
        end,
    };
    let out = select(ev.store, &ms.vs)
        .into_iter()
        .filter_map(|s| {
            let in_window = s.window(window.start, window.end);
            ev.charge_work(in_window.len());
            // Sized for the whole window up front: a filtered collect would
            // grow the vector several times for each series.
            let mut points: Vec<Sample> = Vec::with_capacity(in_window.len());
            points.extend(in_window.iter().filter(|p| !is_stale_nan(p.v)).copied());
            (!points.is_empty()).then(|| RangeElem {
                labels: if without_metadata {
                    s.labels_without_metadata().clone()
                } else {
                    s.labels.clone()
                },
                points,
                drop_name: false,
            })
        })
        .collect();
    (out, window)
}

/// Evaluates a subquery: the inner expression at every multiple of the step
/// inside the window, gathered into series sorted by labels.
pub(crate) fn subquery(
    ev: &Evaluator<'_>,
    sq: &SubqueryExpr,
    t: i64,
) -> Result<(Vec<RangeElem>, Window), PromqlError> {
    let end = ev.ref_time(sq.at.as_ref(), sq.offset.as_ref(), t);
    let window = Window {
        start: end.saturating_sub(duration_ms(&sq.range)),
        end,
    };
    let step = match sq.step {
        Some(d) if d.as_millis() > 0 => duration_ms(&d),
        _ => ev.opts.subquery_step_ms.max(1),
    };
    let mut series: BTreeMap<Labels, RangeElem> = BTreeMap::new();
    // The first multiple of the step after the window start.
    let first = (window.start.div_euclid(step) + 1).checked_mul(step);
    let Some(mut ts) = first else {
        return Err(PromqlError::TooExpensive(
            "subquery range out of bounds".to_string(),
        ));
    };
    if ts <= window.end {
        let steps = (window.end as i128 - ts as i128) / step as i128 + 1;
        ev.charge_subquery_steps(u64::try_from(steps).unwrap_or(u64::MAX))?;
    }
    while ts <= window.end {
        ev.check_work()?;
        let elems = match ev.eval(&sq.expr, ts)? {
            Val::Scalar(v) => vec![Elem {
                labels: Labels::default(),
                v,
                drop_name: false,
            }],
            Val::Vector(v) => v,
            other => {
                return Err(PromqlError::InvalidType {
                    found: other.type_name(),
                    context: "subquery",
                    expected: "scalar or instant vector",
                });
            }
        };
        check_unique(&elems)?;
        for e in elems {
            let entry = series.entry(e.labels).or_insert_with_key(|l| RangeElem {
                labels: l.clone(),
                points: Vec::new(),
                drop_name: e.drop_name,
            });
            entry.points.push(Sample { t: ts, v: e.v });
        }
        match ts.checked_add(step) {
            Some(next) => ts = next,
            None => break,
        }
    }
    Ok((series.into_values().collect(), window))
}

#[cfg(test)]
mod tests {
    use super::MemoMatcher;
    use crate::promql::testutil::{eval, store};

    #[test]
    fn a_memo_matcher_answers_as_its_matcher_for_every_value_seen_or_not() {
        let expr = promql_parser::parser::parse(r#"m{pod=~"a.*", code!~"5..", x!="b"}"#).unwrap();
        let promql_parser::parser::Expr::VectorSelector(vs) = expr else {
            panic!("a selector");
        };
        // More distinct values than are remembered, each seen twice, and
        // equal values at other addresses.
        let values: Vec<String> = (0..40)
            .map(|i| ["a", "b", "500", "200", ""][i % 5].to_string() + &"x".repeat(i % 3))
            .collect();
        let copies = values.clone();
        for m in &vs.matchers.matchers {
            let mut memo = MemoMatcher::new(m);
            for v in values.iter().chain(&values).chain(&copies) {
                assert_eq!(memo.is_match(v), m.is_match(v), "{} {v:?}", m.name);
            }
        }
    }

    #[test]
    fn lookback_excludes_a_sample_exactly_five_minutes_old() {
        let s = store(60_000, "m 1");
        assert_eq!(eval(&s, "m", 299_999).len(), 1);
        assert!(eval(&s, "m", 300_000).is_empty());
    }

    #[test]
    fn a_staleness_marker_hides_the_series_despite_older_samples() {
        let s = store(60_000, "m 1 2 stale 4");
        assert_eq!(eval(&s, "m", 60_000)[0].1, 2.0);
        assert!(eval(&s, "m", 150_000).is_empty());
        assert_eq!(eval(&s, "m", 180_000)[0].1, 4.0);
        // A range drops the marker but keeps the samples around it.
        assert_eq!(eval(&s, "count_over_time(m[5m])", 180_000)[0].1, 3.0);
    }

    #[test]
    fn range_windows_are_left_open() {
        let s = store(60_000, "m 0 1 2 3 4");
        // (60s, 240s] holds the samples at 120s, 180s and 240s.
        assert_eq!(eval(&s, "count_over_time(m[3m])", 240_000)[0].1, 3.0);
    }

    #[test]
    fn offset_and_at_move_the_reference_time_but_not_the_output_time() {
        let s = store(60_000, "m 0 10 20 30 40");
        assert_eq!(eval(&s, "m offset 2m", 240_000)[0].1, 20.0);
        assert_eq!(eval(&s, "m offset -1m", 120_000)[0].1, 30.0);
        assert_eq!(eval(&s, "m @ 60", 240_000)[0].1, 10.0);
        assert_eq!(eval(&s, "m @ 180 offset 1m", 0)[0].1, 20.0);
        assert_eq!(eval(&s, "timestamp(m @ 61)", 240_000)[0].1, 60.0);
    }

    #[test]
    fn subquery_steps_are_multiples_of_the_step_inside_a_left_open_window() {
        let s = store(10_000, "m 0+1x60");
        // Window (60s, 180s] with step 30s: 90, 120, 150, 180.
        assert_eq!(eval(&s, "count_over_time(m[2m:30s])", 180_000)[0].1, 4.0);
        // Window (65s, 185s]: the same four steps (multiples, not offsets).
        assert_eq!(eval(&s, "count_over_time(m[2m:30s])", 185_000)[0].1, 4.0);
        assert_eq!(eval(&s, "min_over_time(m[2m:30s])", 185_000)[0].1, 9.0);
    }
}
