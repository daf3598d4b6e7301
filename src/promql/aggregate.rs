//! Aggregation operators: `sum avg min max count group stddev stdvar quantile
//! topk bottomk limitk count_values` with `by` and `without`.
//!
//! In: an `AggregateExpr`; its operand and parameter are evaluated through
//! the engine. Out: an instant vector. Groups appear in the order their first
//! member appears in the input (as in Prometheus); `count_values` output is
//! sorted by labels because Prometheus leaves it in map order. Sums and means
//! use Kahan–Neumaier compensation; `min`/`max` prefer numbers over NaN;
//! `stddev`/`stdvar` are population statistics by Welford's method; `topk` and
//! `bottomk` reproduce Go's heap so ties come out in the same order.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};

use super::engine::{Elem, Evaluator, Val};
use super::error::PromqlError;
use super::float::{format_go, kahan_inc};
use super::functions::quantile;
use crate::series::store::FxHasher;
use crate::series::{Labels, METRIC_NAME};

/// Evaluates an aggregation at time `t`.
pub(crate) fn eval(ev: &Evaluator<'_>, ag: &AggregateExpr, t: i64) -> Result<Val, PromqlError> {
    let op = ag.op.id();
    let grouping = Grouping::from_modifier(ag.modifier.as_ref());
    if op == token::T_COUNT_VALUES {
        let label = match ag.param.as_deref().map(unwrap_parens) {
            Some(Expr::StringLiteral(s)) => s.val.clone(),
            _ => {
                return Err(PromqlError::InvalidArgument(
                    "count_values needs a string label name".to_string(),
                ));
            }
        };
        let input = ev.eval_vector(&ag.expr, t)?;
        return Ok(Val::Vector(count_values(&grouping, &label, input)?));
    }
    let param = match &ag.param {
        Some(p) if op != token::T_COUNT_VALUES => Some(ev.eval_scalar(p, t)?),
        _ => None,
    };
    let input = ev.eval_vector(&ag.expr, t)?;
    let out = match op {
        token::T_TOPK | token::T_BOTTOMK | token::T_LIMITK => {
            k_aggregation(op, param.unwrap_or(f64::NAN), &grouping, input)?
        }
        token::T_LIMIT_RATIO => {
            let r = param.unwrap_or(f64::NAN);
            if r == 0.0 {
                Vec::new()
            } else if r.is_nan() {
                return Err(PromqlError::InvalidArgument(
                    "Ratio value is NaN".to_string(),
                ));
            } else {
                return Err(PromqlError::Unsupported("limit_ratio".to_string()));
            }
        }
        _ => value_aggregation(op, param, &grouping, input)?,
    };
    Ok(Val::Vector(out))
}

/// Strips parentheses around an expression.
fn unwrap_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

/// `by (...)` or `without (...)`.
struct Grouping {
    without: bool,
    labels: Vec<String>,
}

impl Grouping {
    fn from_modifier(m: Option<&LabelModifier>) -> Grouping {
        match m {
            Some(LabelModifier::Include(l)) => Grouping {
                without: false,
                labels: l.labels.clone(),
            },
            Some(LabelModifier::Exclude(l)) => Grouping {
                without: true,
                labels: l.labels.clone(),
            },
            None => Grouping {
                without: false,
                labels: Vec::new(),
            },
        }
    }

    /// The names [`Grouping::group_labels`] takes: the listed ones, plus the
    /// metric name for `without`. Made once per aggregation rather than once
    /// per element.
    fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.labels.iter().map(String::as_str).collect();
        if self.without {
            names.push(METRIC_NAME);
        }
        names
    }

    /// The output labels of the group a series belongs to (also its key),
    /// given this grouping's [`Grouping::names`].
    fn group_labels(&self, names: &[&str], l: &Labels) -> Labels {
        if self.without {
            l.without(names)
        } else {
            l.keep_only(names)
        }
    }
}

/// The groups of an aggregation by their labels. Only ever looked up, never
/// iterated (groups come out in the order of their first element), so the
/// store's cheap hash serves: SipHash cost hundreds of instructions a label
/// set.
type GroupIndex = HashMap<Labels, usize, BuildHasherDefault<FxHasher>>;

/// Running state of one group.
struct Group {
    labels: Labels,
    value: f64,
    mean: f64,
    kahan_c: f64,
    count: f64,
    incremental_mean: bool,
    values: Vec<f64>,
    drop_name: bool,
}

/// The aggregations that produce one value per group.
fn value_aggregation(
    op: TokenId,
    param: Option<f64>,
    grouping: &Grouping,
    input: Vec<Elem>,
) -> Result<Vec<Elem>, PromqlError> {
    let mut index = GroupIndex::default();
    let mut groups: Vec<Group> = Vec::new();
    let names = grouping.names();
    for e in input {
        let key = grouping.group_labels(&names, &e.labels);
        let f = e.v;
        let gi = match index.get(&key) {
            Some(&gi) => gi,
            None => {
                index.insert(key.clone(), groups.len());
                let value = match op {
                    token::T_STDDEV | token::T_STDVAR if !f.is_finite() => f64::NAN,
                    token::T_STDDEV | token::T_STDVAR => 0.0,
                    token::T_GROUP => 1.0,
                    _ => f,
                };
                groups.push(Group {
                    labels: key,
                    value,
                    mean: f,
                    kahan_c: 0.0,
                    count: 1.0,
                    incremental_mean: false,
                    values: if op == token::T_QUANTILE {
                        vec![f]
                    } else {
                        Vec::new()
                    },
                    drop_name: e.drop_name,
                });
                continue;
            }
        };
        let g = &mut groups[gi];
        g.drop_name |= e.drop_name;
        match op {
            token::T_SUM => (g.value, g.kahan_c) = kahan_inc(f, g.value, g.kahan_c),
            token::T_AVG => add_to_mean(g, f),
            token::T_GROUP => {}
            token::T_MAX => {
                if g.value < f || g.value.is_nan() {
                    g.value = f;
                }
            }
            token::T_MIN => {
                if g.value > f || g.value.is_nan() {
                    g.value = f;
                }
            }
            token::T_COUNT => g.count += 1.0,
            token::T_STDDEV | token::T_STDVAR => {
                g.count += 1.0;
                let delta = f - g.mean;
                g.mean += delta / g.count;
                g.value += delta * (f - g.mean);
            }
            token::T_QUANTILE => g.values.push(f),
            _ => {
                return Err(PromqlError::Unsupported(format!(
                    "aggregation {}",
                    promql_parser::parser::token::TokenType::new(op)
                )));
            }
        }
    }
    let q = param.unwrap_or(f64::NAN);
    Ok(groups
        .into_iter()
        .map(|mut g| {
            let v = match op {
                token::T_AVG if g.incremental_mean => g.mean + g.kahan_c,
                token::T_AVG => g.value / g.count + g.kahan_c / g.count,
                token::T_COUNT => g.count,
                token::T_STDVAR => g.value / g.count,
                token::T_STDDEV => (g.value / g.count).sqrt(),
                token::T_QUANTILE => quantile(q, &mut g.values),
                token::T_SUM => g.value + g.kahan_c,
                _ => g.value,
            };
            Elem {
                labels: g.labels,
                v,
                drop_name: g.drop_name,
            }
        })
        .collect())
}

/// Adds `f` to a group's mean: a compensated sum while it stays finite, an
/// incremental mean once the sum would overflow (Prometheus's `avg`).
fn add_to_mean(g: &mut Group, f: f64) {
    g.count += 1.0;
    if !g.incremental_mean {
        let (s, c) = kahan_inc(f, g.value, g.kahan_c);
        if !s.is_infinite() {
            g.value = s;
            g.kahan_c = c;
            return;
        }
        g.incremental_mean = true;
        g.mean = g.value / (g.count - 1.0);
        g.kahan_c /= g.count - 1.0;
    }
    let q = (g.count - 1.0) / g.count;
    (g.mean, g.kahan_c) = kahan_inc(f / g.count, q * g.mean, q * g.kahan_c);
}

/// `count_values("label", v)`: how many elements have each value.
fn count_values(
    grouping: &Grouping,
    label: &str,
    input: Vec<Elem>,
) -> Result<Vec<Elem>, PromqlError> {
    if label.is_empty() {
        return Err(PromqlError::InvalidArgument(format!(
            "invalid label name {label:?}"
        )));
    }
    let mut grouping_labels = grouping.labels.clone();
    if !grouping.without {
        grouping_labels.push(label.to_string());
    }
    let g = Grouping {
        without: grouping.without,
        labels: grouping_labels,
    };
    let mut counts: BTreeMap<Labels, f64> = BTreeMap::new();
    let names = g.names();
    for e in input {
        let mut l = e.labels;
        l.set(label, &format_go(e.v));
        *counts.entry(g.group_labels(&names, &l)).or_insert(0.0) += 1.0;
    }
    Ok(counts
        .into_iter()
        .map(|(labels, v)| Elem {
            labels,
            v,
            drop_name: false,
        })
        .collect())
}

/// `topk`, `bottomk`, `limitk`: up to k elements per group, original labels.
fn k_aggregation(
    op: TokenId,
    k: f64,
    grouping: &Grouping,
    input: Vec<Elem>,
) -> Result<Vec<Elem>, PromqlError> {
    if k < 1.0 {
        return Ok(Vec::new());
    }
    if k.is_nan() {
        return Err(PromqlError::InvalidArgument(
            "Parameter value is NaN".to_string(),
        ));
    }
    if k >= i64::MAX as f64 {
        return Err(PromqlError::InvalidArgument(format!(
            "Scalar value {k} overflows int64"
        )));
    }
    let k = (k as i64).min(input.len() as i64) as usize;
    if k < 1 {
        return Ok(Vec::new());
    }
    // Go's heaps: topk keeps the k largest with the smallest on top, bottomk
    // the reverse; NaN always counts as the "smaller" element.
    let less: fn(f64, f64) -> bool = match op {
        token::T_BOTTOMK => |a, b| a.is_nan() || a > b,
        _ => |a, b| a.is_nan() || a < b,
    };
    let mut index = GroupIndex::default();
    let mut heaps: Vec<Vec<Elem>> = Vec::new();
    let names = grouping.names();
    for e in input {
        let key = grouping.group_labels(&names, &e.labels);
        let gi = *index.entry(key).or_insert_with(|| {
            heaps.push(Vec::new());
            heaps.len() - 1
        });
        let h = &mut heaps[gi];
        if op == token::T_LIMITK {
            if h.len() < k {
                h.push(e);
            }
        } else if h.len() < k {
            h.push(e);
            let last = h.len() - 1;
            heap_up(h, last, less);
        } else if replaces(op, h[0].v, e.v) {
            h[0] = e;
            if k > 1 {
                heap_fix(h, 0, less);
            }
        }
    }
    let mut out = Vec::new();
    for mut h in heaps {
        if op != token::T_LIMITK && h.len() > 1 {
            // sort.Sort(sort.Reverse(heap)); Go uses insertion sort up to 12.
            insertion_sort(&mut h, |a, b| less(b.v, a.v));
        }
        out.extend(h);
    }
    Ok(out)
}

/// Whether a new value displaces the heap top (the current k-th element).
fn replaces(op: TokenId, top: f64, new: f64) -> bool {
    let better = if op == token::T_BOTTOMK {
        top > new
    } else {
        top < new
    };
    better || (top.is_nan() && !new.is_nan())
}

/// Go's `container/heap` sift-up.
fn heap_up(h: &mut [Elem], mut j: usize, less: fn(f64, f64) -> bool) {
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(h[j].v, h[i].v) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

/// Go's `container/heap` sift-down; returns whether the element moved.
fn heap_down(h: &mut [Elem], i0: usize, less: fn(f64, f64) -> bool) -> bool {
    let n = h.len();
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1 + 1;
        if j2 < n && less(h[j2].v, h[j1].v) {
            j = j2;
        }
        if !less(h[j].v, h[i].v) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
    i > i0
}

/// Go's `heap.Fix`.
fn heap_fix(h: &mut [Elem], i: usize, less: fn(f64, f64) -> bool) {
    if !heap_down(h, i, less) {
        heap_up(h, i, less);
    }
}

/// Go's insertion sort (what `sort.Sort` does for short inputs), so ties keep
/// Go's order.
pub(crate) fn insertion_sort<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && less(&v[j], &v[j - 1]) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::promql::testutil::{eval, store};

    fn s() -> crate::series::SeriesStore {
        store(
            60_000,
            r#"
            v{pod="a", zone="1"} 3
            v{pod="b", zone="1"} NaN
            v{pod="c", zone="2"} 5
            v{pod="d", zone="2"} 5
            v{pod="e", zone="2"} 1
            "#,
        )
    }

    #[test]
    fn without_drops_the_listed_labels_and_the_name_by_keeps_only_the_listed() {
        assert_eq!(
            eval(&s(), "count without (pod) (v)", 0),
            [
                (r#"{zone="1"}"#.to_string(), 2.0),
                (r#"{zone="2"}"#.to_string(), 3.0),
            ]
        );
        assert_eq!(
            eval(&s(), "count by (__name__) (v)", 0),
            [("v{}".to_string(), 5.0)]
        );
    }

    #[test]
    fn min_and_max_prefer_numbers_over_nan_unlike_a_plain_fold() {
        assert_eq!(eval(&s(), "max by (zone) (v)", 0)[0].1, 3.0);
        assert_eq!(eval(&s(), "min by (zone) (v)", 0)[0].1, 3.0);
        assert!(eval(&s(), "sum by (zone) (v)", 0)[0].1.is_nan());
    }

    #[test]
    fn topk_keeps_labels_orders_descending_and_ranks_nan_lowest() {
        let got = eval(&s(), "topk(3, v)", 0);
        let pods: Vec<&str> = got.iter().map(|(l, _)| &l[7..8]).collect();
        // 5, 5 (in Go's heap order), 3; NaN never beats a number.
        assert_eq!(pods, ["d", "c", "a"]);
        let bottom = eval(&s(), "bottomk(2, v)", 0);
        assert_eq!(
            bottom.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            [1.0, 3.0]
        );
    }

    #[test]
    fn count_values_labels_values_as_go_formats_them() {
        let s = store(60_000, "x{a=\"1\"} 1e21\nx{a=\"2\"} 0.5\nx{a=\"3\"} 0.5");
        let got = eval(&s, "count_values(\"value\", x)", 0);
        assert_eq!(
            got,
            [
                (r#"{value="0.5"}"#.to_string(), 2.0),
                (r#"{value="1000000000000000000000"}"#.to_string(), 1.0),
            ]
        );
    }

    #[test]
    fn stddev_of_infinite_input_is_nan_and_avg_survives_overflow() {
        let s = store(60_000, "x{a=\"1\"} Inf\nx{a=\"2\"} 1");
        assert!(eval(&s, "stddev(x)", 0)[0].1.is_nan());
        let big = store(60_000, "y{a=\"1\"} 1e308\ny{a=\"2\"} 1e308");
        assert_eq!(eval(&big, "avg(y)", 0)[0].1, 1e308);
        assert_eq!(eval(&big, "sum(y)", 0)[0].1, f64::INFINITY);
    }

    #[test]
    fn quantile_interpolates_between_ranks() {
        let s = store(60_000, "q{a=\"1\"} 1\nq{a=\"2\"} 2\nq{a=\"3\"} 4");
        assert_eq!(eval(&s, "quantile(0.75, q)", 0)[0].1, 3.0);
        assert_eq!(eval(&s, "quantile(2, q)", 0)[0].1, f64::INFINITY);
    }
}
