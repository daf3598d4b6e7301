//! Functions that work on labels or order: `label_replace`, `label_join`,
//! `sort`, `sort_desc`, `sort_by_label(_desc)` and `absent`.
//!
//! In: an instant vector and the string arguments. Out: the rewritten or
//! reordered vector. `label_replace` anchors its regex (`^(?s:re)$`) and
//! leaves non-matching elements alone; writing `__name__` keeps a name that
//! was due to be dropped. Two results with the same labels are an error.
//! `sort`/`sort_desc` put NaN last; `sort_by_label` compares values in
//! natural order (digit runs as numbers).

use std::cmp::Ordering;

use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;

use crate::promql::aggregate::insertion_sort;
use crate::promql::engine::{Elem, check_unique};
use crate::promql::error::PromqlError;
use crate::series::{Labels, METRIC_NAME};

/// `absent(v)` / `absent_over_time(m)`: nothing if `v` has elements, else one
/// element with value 1 and the labels of the selector's `=` matchers (a
/// label matched twice is left out).
pub(super) fn absent(v: Vec<Elem>, arg: &Expr) -> Vec<Elem> {
    if !v.is_empty() {
        return Vec::new();
    }
    let vs = match arg {
        Expr::VectorSelector(vs) => Some(vs),
        Expr::MatrixSelector(ms) => Some(&ms.vs),
        _ => None,
    };
    let mut labels = Labels::default();
    if let Some(vs) = vs {
        let mut seen: Vec<&str> = Vec::new();
        for m in vs.matchers.matchers.iter() {
            if m.name == METRIC_NAME {
                continue;
            }
            if matches!(m.op, MatchOp::Equal) && !seen.contains(&m.name.as_str()) {
                labels.set(&m.name, &m.value);
                seen.push(&m.name);
            } else {
                labels.remove(&m.name);
            }
        }
    }
    vec![Elem {
        labels,
        v: 1.0,
        drop_name: true,
    }]
}

/// Whether `s` is a valid label name under Prometheus 3.x's UTF-8 rules.
fn valid_label_name(s: &str) -> bool {
    !s.is_empty()
}

/// `label_replace(v, dst, replacement, src, regex)` and
/// `label_join(v, dst, separator, src...)`; `strings` are the arguments after
/// the vector.
pub(super) fn relabel(
    name: &str,
    mut v: Vec<Elem>,
    strings: &[String],
) -> Result<Vec<Elem>, PromqlError> {
    let dst = strings.first().cloned().unwrap_or_default();
    if !valid_label_name(&dst) {
        return Err(PromqlError::InvalidArgument(format!(
            "invalid destination label name in {name}(): {dst}"
        )));
    }
    if name == "label_replace" {
        let [_, repl, src, re] = strings else {
            return Err(PromqlError::InvalidArgument(
                "label_replace needs 5 arguments".to_string(),
            ));
        };
        let regex = regex::Regex::new(&format!("^(?s:{re})$")).map_err(|_| {
            PromqlError::InvalidArgument(format!(
                "invalid regular expression in label_replace(): {re}"
            ))
        })?;
        for e in &mut v {
            let value = e.labels.get(src).unwrap_or("").to_string();
            if let Some(caps) = regex.captures(&value) {
                let mut res = String::new();
                caps.expand(repl, &mut res);
                e.labels.set(&dst, &res);
                if dst == METRIC_NAME {
                    e.drop_name = false;
                }
            }
        }
    } else {
        let (sep, srcs) = match strings {
            [_, sep, srcs @ ..] => (sep, srcs),
            _ => {
                return Err(PromqlError::InvalidArgument(
                    "label_join needs at least 3 arguments".to_string(),
                ));
            }
        };
        if let Some(bad) = srcs.iter().find(|s| !valid_label_name(s)) {
            return Err(PromqlError::InvalidArgument(format!(
                "invalid source label name in label_join(): {bad}"
            )));
        }
        for e in &mut v {
            let joined = srcs
                .iter()
                .map(|s| e.labels.get(s).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(sep);
            e.labels.set(&dst, &joined);
            if dst == METRIC_NAME {
                e.drop_name = false;
            }
        }
    }
    check_unique(&v)?;
    Ok(v)
}

/// `sort`, `sort_desc`, `sort_by_label`, `sort_by_label_desc`.
pub(super) fn sort(name: &str, mut v: Vec<Elem>, labels: &[String]) -> Vec<Elem> {
    match name {
        "sort" => order_by_value(&mut v, |a, b| b.is_nan() || b > a),
        "sort_desc" => order_by_value(&mut v, |a, b| b.is_nan() || b < a),
        _ => {
            let desc = name == "sort_by_label_desc";
            v.sort_by(|a, b| {
                let o = compare_by_labels(&a.labels, &b.labels, labels);
                if desc { o.reverse() } else { o }
            });
        }
    }
    v
}

/// Sorts by value with Go's `sort.Sort` semantics for the given `less`
/// (insertion sort for short inputs, so ties keep Go's order); NaN goes last.
fn order_by_value(v: &mut [Elem], less: fn(f64, f64) -> bool) {
    if v.len() <= 12 {
        insertion_sort(v, |a, b| less(a.v, b.v));
    } else {
        v.sort_by(|a, b| match (a.v.is_nan(), b.v.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ if less(a.v, b.v) => Ordering::Less,
            _ if less(b.v, a.v) => Ordering::Greater,
            _ => Ordering::Equal,
        });
    }
}

/// The order of `sort_by_label`: the named labels in natural order, then the
/// whole label set.
fn compare_by_labels(a: &Labels, b: &Labels, names: &[String]) -> Ordering {
    for n in names {
        let (x, y) = (a.get(n).unwrap_or(""), b.get(n).unwrap_or(""));
        if x == y {
            continue;
        }
        return if natural_less(x, y) {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    a.cmp(b)
}

/// Splits a string into runs of ASCII digits and runs of other characters.
fn chunks(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut digit = None;
    for (i, c) in s.char_indices() {
        let d = c.is_ascii_digit();
        if digit.is_some_and(|prev| prev != d) {
            out.push(&s[start..i]);
            start = i;
        }
        digit = Some(d);
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// Natural "less than": digit runs compare as integers, other runs as
/// strings; a string that is a prefix (chunk-wise) of the other sorts first.
fn natural_less(a: &str, b: &str) -> bool {
    let (ca, cb) = (chunks(a), chunks(b));
    for (i, x) in ca.iter().enumerate() {
        let Some(y) = cb.get(i) else {
            return false;
        };
        let equal = match (x.parse::<i64>(), y.parse::<i64>()) {
            (Ok(p), Ok(q)) if p != q => return p < q,
            (Ok(_), Ok(_)) => true,
            _ if x != y => return x < y,
            _ => true,
        };
        if equal {
            if i == ca.len() - 1 {
                return true;
            }
            if i == cb.len() - 1 {
                return false;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_digit_runs_as_numbers() {
        assert!(natural_less("a2", "a10"));
        assert!(!natural_less("a10", "a2"));
        assert!(natural_less("abc", "abd"));
        assert!(natural_less("x1", "x1y"));
        assert!(!natural_less("x1y", "x1"));
        assert!(natural_less("", "a") || !natural_less("a", ""));
    }
}
