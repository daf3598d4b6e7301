//! Binary operators: arithmetic, comparisons (filtering or `bool`), `atan2`,
//! and the set operators `and`, `or`, `unless`, with `on`/`ignoring`
//! matching and `group_left`/`group_right` cardinality.
//!
//! In: a `BinaryExpr` and an evaluation time; the operands are evaluated
//! through the engine. Out: a scalar or an instant vector. The rules follow
//! Prometheus's `VectorBinop`, `VectorscalarBinop` and `resultMetric`:
//! arithmetic drops the metric name, filtering comparisons keep the vector's
//! value even when the scalar is on the left, and an ambiguous match is an
//! error naming the duplicate series.

use std::collections::{HashMap, HashSet};

use promql_parser::label::Labels as NameList;
use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::{BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::engine::{Elem, Evaluator, Val, drop_metric_name};
use super::error::PromqlError;
use crate::series::{Labels, METRIC_NAME};

/// Evaluates a binary expression at time `t`.
pub(crate) fn eval(ev: &Evaluator<'_>, be: &BinaryExpr, t: i64) -> Result<Val, PromqlError> {
    let op = be.op.id();
    let return_bool = be.modifier.as_ref().is_some_and(|m| m.return_bool);
    let lhs = ev.eval(&be.lhs, t)?;
    let rhs = ev.eval(&be.rhs, t)?;
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(scalar_op(op, l, r)?)),
        (Val::Vector(l), Val::Scalar(r)) => {
            let v = vector_scalar(op, l, r, false, return_bool)?;
            Ok(Val::Vector(ev.settle(v)?))
        }
        (Val::Scalar(l), Val::Vector(r)) => {
            let v = vector_scalar(op, r, l, true, return_bool)?;
            Ok(Val::Vector(ev.settle(v)?))
        }
        (Val::Vector(l), Val::Vector(r)) => {
            let matching = Matching::from_modifier(be.modifier.as_ref(), op);
            let v = match op {
                token::T_LAND => and(l, r, &matching),
                token::T_LOR => or(l, r, &matching),
                token::T_LUNLESS => unless(l, r, &matching),
                _ => {
                    let drop_now = !ev.opts.delayed_name_removal && return_bool;
                    vector_vector(op, l, r, &matching, return_bool, drop_now)?
                }
            };
            Ok(Val::Vector(ev.settle(v)?))
        }
        (l, r) => Err(PromqlError::InvalidType {
            found: if matches!(l, Val::Scalar(_) | Val::Vector(_)) {
                r.type_name()
            } else {
                l.type_name()
            },
            context: "binary operation",
            expected: "scalar or instant vector",
        }),
    }
}

/// Whether the operator is a comparison.
fn is_comparison(op: TokenId) -> bool {
    matches!(
        op,
        token::T_EQLC | token::T_NEQ | token::T_GTR | token::T_LSS | token::T_GTE | token::T_LTE
    )
}

/// Whether the result of the operator is a different quantity, so the metric
/// name no longer applies.
fn changes_metric_schema(op: TokenId) -> bool {
    matches!(
        op,
        token::T_ADD
            | token::T_SUB
            | token::T_MUL
            | token::T_DIV
            | token::T_POW
            | token::T_MOD
            | token::T_ATAN2
    )
}

/// Applies an arithmetic operator; `None` for comparisons and set operators.
fn arithmetic(op: TokenId, l: f64, r: f64) -> Option<f64> {
    Some(match op {
        token::T_ADD => l + r,
        token::T_SUB => l - r,
        token::T_MUL => l * r,
        token::T_DIV => l / r,
        token::T_POW => l.powf(r),
        token::T_MOD => l % r,
        token::T_ATAN2 => l.atan2(r),
        _ => return None,
    })
}

/// Applies a comparison; `None` for other operators.
fn compare(op: TokenId, l: f64, r: f64) -> Option<bool> {
    Some(match op {
        token::T_EQLC => l == r,
        token::T_NEQ => l != r,
        token::T_GTR => l > r,
        token::T_LSS => l < r,
        token::T_GTE => l >= r,
        token::T_LTE => l <= r,
        _ => return None,
    })
}

/// The value and whether to keep the element, as Prometheus's
/// `vectorElemBinop`: comparisons keep the left value when true.
fn elem_op(op: TokenId, l: f64, r: f64) -> Result<(f64, bool), PromqlError> {
    if let Some(v) = arithmetic(op, l, r) {
        return Ok((v, true));
    }
    if let Some(keep) = compare(op, l, r) {
        return Ok((l, keep));
    }
    Err(PromqlError::Unsupported(format!(
        "operator {} between floats",
        promql_parser::parser::token::TokenType::new(op)
    )))
}

/// scalar OP scalar; comparisons give 0 or 1.
fn scalar_op(op: TokenId, l: f64, r: f64) -> Result<f64, PromqlError> {
    if let Some(v) = arithmetic(op, l, r) {
        return Ok(v);
    }
    if let Some(b) = compare(op, l, r) {
        return Ok(if b { 1.0 } else { 0.0 });
    }
    Err(PromqlError::InvalidType {
        found: "scalar",
        context: "set operator",
        expected: "instant vector",
    })
}

/// vector OP scalar (or scalar OP vector when `swap`).
fn vector_scalar(
    op: TokenId,
    vec: Vec<Elem>,
    scalar: f64,
    swap: bool,
    return_bool: bool,
) -> Result<Vec<Elem>, PromqlError> {
    let mut out = Vec::with_capacity(vec.len());
    for mut e in vec {
        let (l, r) = if swap { (scalar, e.v) } else { (e.v, scalar) };
        let (mut v, mut keep) = elem_op(op, l, r)?;
        if is_comparison(op) && swap {
            v = r;
        }
        if return_bool {
            v = if keep { 1.0 } else { 0.0 };
            keep = true;
        }
        if keep {
            e.v = v;
            if changes_metric_schema(op) || return_bool {
                e.drop_name = true;
            }
            out.push(e);
        }
    }
    Ok(out)
}

/// The `on`/`ignoring` and `group_*` settings of a vector-vector operation.
pub(crate) struct Matching {
    /// `on(...)` rather than `ignoring(...)`.
    on: bool,
    /// The listed labels, sorted.
    labels: Vec<String>,
    /// The cardinality (`group_left`/`group_right` include lists inside).
    card: VectorMatchCardinality,
    /// `fill` values for unmatched left/right elements.
    fill_lhs: Option<f64>,
    fill_rhs: Option<f64>,
}

impl Matching {
    fn from_modifier(m: Option<&BinModifier>, op: TokenId) -> Matching {
        let set_op = matches!(op, token::T_LAND | token::T_LOR | token::T_LUNLESS);
        let (on, labels) = match m.and_then(|m| m.matching.as_ref()) {
            Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
            None => (false, Vec::new()),
        };
        let mut labels = labels;
        labels.sort();
        let card = match m.map(|m| &m.card) {
            _ if set_op => VectorMatchCardinality::ManyToMany,
            Some(c) => c.clone(),
            None => VectorMatchCardinality::OneToOne,
        };
        Matching {
            on,
            labels,
            card,
            fill_lhs: m.and_then(|m| m.fill_values.lhs),
            fill_rhs: m.and_then(|m| m.fill_values.rhs),
        }
    }

    /// The join signature of a label set: the `on` labels, or all labels but
    /// the `ignoring` ones and the metric name.
    fn signature(&self, l: &Labels) -> Labels {
        if self.on {
            let names: Vec<&str> = self.labels.iter().map(String::as_str).collect();
            l.keep_only(&names)
        } else {
            let mut names: Vec<&str> = self.labels.iter().map(String::as_str).collect();
            names.push(METRIC_NAME);
            l.without(&names)
        }
    }

    fn include(&self) -> &[String] {
        match &self.card {
            VectorMatchCardinality::ManyToOne(NameList { labels })
            | VectorMatchCardinality::OneToMany(NameList { labels }) => labels,
            _ => &[],
        }
    }
}

/// `lhs and rhs`: left elements whose signature appears on the right.
fn and(lhs: Vec<Elem>, rhs: Vec<Elem>, m: &Matching) -> Vec<Elem> {
    if lhs.is_empty() || rhs.is_empty() {
        return Vec::new();
    }
    let right: HashSet<Labels> = rhs.iter().map(|e| m.signature(&e.labels)).collect();
    lhs.into_iter()
        .filter(|e| right.contains(&m.signature(&e.labels)))
        .collect()
}

/// `lhs or rhs`: all left elements, then right ones with a new signature.
fn or(mut lhs: Vec<Elem>, rhs: Vec<Elem>, m: &Matching) -> Vec<Elem> {
    if lhs.is_empty() {
        return rhs;
    }
    if rhs.is_empty() {
        return lhs;
    }
    let left: HashSet<Labels> = lhs.iter().map(|e| m.signature(&e.labels)).collect();
    lhs.extend(
        rhs.into_iter()
            .filter(|e| !left.contains(&m.signature(&e.labels))),
    );
    lhs
}

/// `lhs unless rhs`: left elements whose signature is absent on the right.
fn unless(lhs: Vec<Elem>, rhs: Vec<Elem>, m: &Matching) -> Vec<Elem> {
    if lhs.is_empty() || rhs.is_empty() {
        return lhs;
    }
    let right: HashSet<Labels> = rhs.iter().map(|e| m.signature(&e.labels)).collect();
    lhs.into_iter()
        .filter(|e| !right.contains(&m.signature(&e.labels)))
        .collect()
}

/// The labels of a vector-vector result (Prometheus's `resultMetric`).
fn result_labels(lhs: &Labels, rhs: &Labels, op: TokenId, m: &Matching, drop_name: bool) -> Labels {
    let mut out = lhs.clone();
    if drop_name || changes_metric_schema(op) {
        drop_metric_name(&mut out);
    }
    if matches!(m.card, VectorMatchCardinality::OneToOne) {
        let names: Vec<&str> = m.labels.iter().map(String::as_str).collect();
        out = if m.on {
            out.keep_only(&names)
        } else {
            out.without(&names)
        };
    }
    for name in m.include() {
        match rhs.get(name) {
            Some(v) => {
                let v = v.to_string();
                out.set(name, &v);
            }
            None => out.remove(name),
        }
    }
    out
}

/// Arithmetic or comparison between two vectors with label matching.
fn vector_vector(
    op: TokenId,
    lhs: Vec<Elem>,
    rhs: Vec<Elem>,
    m: &Matching,
    return_bool: bool,
    drop_name_now: bool,
) -> Result<Vec<Elem>, PromqlError> {
    if (lhs.is_empty() && rhs.is_empty())
        || ((lhs.is_empty() || rhs.is_empty()) && m.fill_lhs.is_none() && m.fill_rhs.is_none())
    {
        return Ok(Vec::new());
    }
    let one_to_many = matches!(m.card, VectorMatchCardinality::OneToMany(_));
    let (lhs, rhs) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    // As in Prometheus, the fill values are not swapped with the sides.
    let (fill_for_rhs, fill_for_lhs) = (m.fill_rhs, m.fill_lhs);

    // The "one" side, by signature; a repeated signature is many-to-many.
    let mut right: HashMap<Labels, usize> = HashMap::with_capacity(rhs.len());
    for (i, e) in rhs.iter().enumerate() {
        let sig = m.signature(&e.labels);
        if let Some(&j) = right.get(&sig) {
            let (mut a, mut b) = (e.labels.to_string(), rhs[j].labels.to_string());
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            return Err(PromqlError::ManyToMany {
                group: match_labels(&e.labels, m).to_string(),
                side: if one_to_many { "left" } else { "right" },
                first: a,
                second: b,
            });
        }
        right.insert(sig, i);
    }

    let mut j = Joiner {
        op,
        m,
        one_to_many,
        return_bool,
        drop_name_now,
        matched_one: HashSet::new(),
        matched_many: HashMap::new(),
        out: Vec::new(),
    };
    for ls in &lhs {
        let sig = m.signature(&ls.labels);
        match right.get(&sig) {
            Some(&r) => j.apply(&ls.labels, ls.v, &rhs[r].labels, rhs[r].v, sig)?,
            None => {
                if let Some(fill) = fill_for_rhs {
                    let rl = match_labels(&ls.labels, m);
                    j.apply(&ls.labels, ls.v, &rl, fill, sig)?;
                }
            }
        }
    }
    if let Some(fill) = fill_for_lhs {
        for rs in &rhs {
            let sig = m.signature(&rs.labels);
            if j.matched(&sig) {
                continue;
            }
            let ll = match_labels(&rs.labels, m);
            j.apply(&ll, fill, &rs.labels, rs.v, sig)?;
        }
    }
    Ok(j.out)
}

/// State of one vector-vector join: which signatures matched, and the output.
struct Joiner<'m> {
    op: TokenId,
    m: &'m Matching,
    one_to_many: bool,
    return_bool: bool,
    drop_name_now: bool,
    matched_one: HashSet<Labels>,
    matched_many: HashMap<Labels, HashSet<Labels>>,
    out: Vec<Elem>,
}

impl Joiner<'_> {
    /// Whether a signature already produced a result.
    fn matched(&self, sig: &Labels) -> bool {
        if matches!(self.m.card, VectorMatchCardinality::OneToOne) {
            self.matched_one.contains(sig)
        } else {
            self.matched_many.get(sig).is_some_and(|s| !s.is_empty())
        }
    }

    /// Joins one "many"-side element with its "one"-side partner.
    fn apply(
        &mut self,
        ls: &Labels,
        lv: f64,
        rs: &Labels,
        rv: f64,
        sig: Labels,
    ) -> Result<(), PromqlError> {
        let (fl, fr) = if self.one_to_many { (rv, lv) } else { (lv, rv) };
        let (mut v, keep) = elem_op(self.op, fl, fr)?;
        if self.return_bool {
            v = if keep { 1.0 } else { 0.0 };
        }
        let labels = result_labels(ls, rs, self.op, self.m, self.drop_name_now);
        if matches!(self.m.card, VectorMatchCardinality::OneToOne) {
            if !self.matched_one.insert(sig) {
                return Err(PromqlError::MultipleMatches(
                    "many-to-one matching must be explicit (group_left/group_right)",
                ));
            }
        } else if !self
            .matched_many
            .entry(sig)
            .or_default()
            .insert(labels.clone())
        {
            return Err(PromqlError::MultipleMatches(
                "grouping labels must ensure unique matches",
            ));
        }
        if keep || self.return_bool {
            self.out.push(Elem {
                labels,
                v,
                drop_name: self.return_bool,
            });
        }
        Ok(())
    }
}

/// The labels a match group is identified by, for messages and fill values
/// (Prometheus's `MatchLabels`).
fn match_labels(l: &Labels, m: &Matching) -> Labels {
    let names: Vec<&str> = m.labels.iter().map(String::as_str).collect();
    if m.on {
        l.keep_only(&names)
    } else {
        let mut names = names;
        names.push(METRIC_NAME);
        l.without(&names)
    }
}

#[cfg(test)]
mod tests {
    use crate::promql::PromqlError;
    use crate::promql::testutil::{eval, store};

    fn pods() -> crate::series::SeriesStore {
        store(
            60_000,
            r#"
            req{pod="a", job="x"} 10
            req{pod="b", job="x"} 20
            err{pod="a", job="x"} 1
            err{pod="b", job="x"} 4
            limit{job="x", team="t"} 15
            "#,
        )
    }

    #[test]
    fn arithmetic_drops_the_name_and_filters_keep_it() {
        let s = pods();
        assert_eq!(
            eval(&s, "err / req", 0),
            [
                (r#"{job="x", pod="a"}"#.to_string(), 0.1),
                (r#"{job="x", pod="b"}"#.to_string(), 0.2),
            ]
        );
        assert_eq!(
            eval(&s, "req > 15", 0),
            [(r#"req{job="x", pod="b"}"#.to_string(), 20.0)]
        );
    }

    #[test]
    fn a_scalar_on_the_left_of_a_filter_keeps_the_vector_value() {
        let s = pods();
        assert_eq!(
            eval(&s, "15 < req", 0),
            [(r#"req{job="x", pod="b"}"#.to_string(), 20.0)]
        );
    }

    #[test]
    fn bool_gives_zero_or_one_for_every_element_and_drops_the_name() {
        let s = pods();
        assert_eq!(
            eval(&s, "req > bool 15", 0),
            [
                (r#"{job="x", pod="a"}"#.to_string(), 0.0),
                (r#"{job="x", pod="b"}"#.to_string(), 1.0),
            ]
        );
    }

    #[test]
    fn nan_compares_false_so_not_equal_keeps_it() {
        let s = store(60_000, "m NaN");
        assert!(eval(&s, "m == m", 0).is_empty());
        assert_eq!(eval(&s, "m != 3", 0).len(), 1);
    }

    #[test]
    fn group_left_copies_the_listed_labels_from_the_one_side() {
        let s = pods();
        assert_eq!(
            eval(&s, "req / on(job) group_left(team) limit", 0),
            [
                (r#"{job="x", pod="a", team="t"}"#.to_string(), 10.0 / 15.0),
                (r#"{job="x", pod="b", team="t"}"#.to_string(), 20.0 / 15.0),
            ]
        );
    }

    #[test]
    fn matching_two_series_per_group_without_group_left_is_an_error() {
        let s = pods();
        let err = crate::promql::testutil::eval_with(
            &s,
            "limit / on(job) req",
            0,
            &crate::promql::EvalOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, PromqlError::ManyToMany { side: "right", .. }),
            "{err:?}"
        );
        let err = crate::promql::testutil::eval_with(
            &s,
            "req / on(job) limit",
            0,
            &crate::promql::EvalOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, PromqlError::MultipleMatches(_)), "{err:?}");
    }

    #[test]
    fn set_operators_match_on_labels_without_the_name() {
        let s = pods();
        assert_eq!(eval(&s, "req and err", 0).len(), 2);
        assert_eq!(eval(&s, "req and on(team) limit", 0).len(), 0);
        assert_eq!(
            eval(&s, "req unless err > 2", 0),
            [(r#"req{job="x", pod="a"}"#.to_string(), 10.0)]
        );
        // `or` adds only right-hand series whose labels are new.
        assert_eq!(eval(&s, "req or err", 0).len(), 2);
        assert_eq!(eval(&s, "req or limit", 0).len(), 3);
    }
}
