//! How far back in time a query reads: the retention a store needs for it.
//!
//! An instant selector reads the lookback delta before its reference time, a
//! range selector its range, a subquery its range plus what its inner
//! expression reads at the window's first step; `offset` moves all of these
//! further back. `@` pins a reference time that can be anywhere in the run,
//! so a query that uses it has no bound.
//!
//! In: a parsed [`Query`] and the lookback delta it is evaluated with. Out:
//! milliseconds before the evaluation time that the query may read, or
//! `None` when that is unbounded. Neighbours: the engine sums this over
//! every query a policy can run to size [`crate::series::SeriesStore`]'s
//! retention window; nothing here reads a store.
//!
//! [`selectors`] answers the other half of what a query can read: which
//! series, as the selectors it holds (the engine records the ingress
//! controller's series only when one of them could select them).

use promql_parser::parser::{Expr, Offset, VectorSelector};

use super::Query;
use super::engine::duration_ms;

/// Milliseconds before the evaluation time that `q` may read, or `None`
/// when an `@` modifier (or an unknown extension) makes it unbounded.
pub fn reach_ms(q: &Query, lookback_delta_ms: i64) -> Option<i64> {
    reach(q.expr(), lookback_delta_ms)
}

/// How far back an offset moves the reference time (a negative offset looks
/// forward, which needs nothing older).
fn back(offset: Option<&Offset>) -> i64 {
    match offset {
        Some(Offset::Pos(d)) => duration_ms(d),
        Some(Offset::Neg(_)) | None => 0,
    }
}

fn reach(e: &Expr, lookback: i64) -> Option<i64> {
    let r = match e {
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => 0,
        Expr::Paren(p) => reach(&p.expr, lookback)?,
        Expr::Unary(u) => reach(&u.expr, lookback)?,
        Expr::Binary(b) => reach(&b.lhs, lookback)?.max(reach(&b.rhs, lookback)?),
        Expr::Aggregate(a) => {
            let p = match &a.param {
                Some(p) => reach(p, lookback)?,
                None => 0,
            };
            reach(&a.expr, lookback)?.max(p)
        }
        Expr::Call(c) => {
            let mut r = 0;
            for a in &c.args.args {
                r = r.max(reach(a, lookback)?);
            }
            r
        }
        Expr::VectorSelector(vs) => {
            if vs.at.is_some() {
                return None;
            }
            lookback.saturating_add(back(vs.offset.as_ref()))
        }
        Expr::MatrixSelector(ms) => {
            if ms.vs.at.is_some() {
                return None;
            }
            duration_ms(&ms.range).saturating_add(back(ms.vs.offset.as_ref()))
        }
        Expr::Subquery(sq) => {
            if sq.at.is_some() {
                return None;
            }
            duration_ms(&sq.range)
                .saturating_add(back(sq.offset.as_ref()))
                .saturating_add(reach(&sq.expr, lookback)?)
        }
        Expr::Extension(_) => return None,
    };
    Some(r)
}

/// Every vector selector in `q` (those of range selectors and subqueries
/// too), in the order they appear; `None` when `q` holds an expression
/// whose reads are not known (an unknown extension).
pub fn selectors(q: &Query) -> Option<Vec<&VectorSelector>> {
    let mut out = Vec::new();
    collect(q.expr(), &mut out)?;
    Some(out)
}

fn collect<'q>(e: &'q Expr, out: &mut Vec<&'q VectorSelector>) -> Option<()> {
    match e {
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
        Expr::Paren(p) => collect(&p.expr, out)?,
        Expr::Unary(u) => collect(&u.expr, out)?,
        Expr::Binary(b) => {
            collect(&b.lhs, out)?;
            collect(&b.rhs, out)?;
        }
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                collect(p, out)?;
            }
            collect(&a.expr, out)?;
        }
        Expr::Call(c) => {
            for a in &c.args.args {
                collect(a, out)?;
            }
        }
        Expr::VectorSelector(vs) => out.push(vs),
        Expr::MatrixSelector(ms) => out.push(&ms.vs),
        Expr::Subquery(sq) => collect(&sq.expr, out)?,
        Expr::Extension(_) => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOKBACK: i64 = 300_000;

    fn reach_of(q: &str) -> Option<i64> {
        reach_ms(&Query::parse(q).unwrap(), LOOKBACK)
    }

    #[test]
    fn selectors_reach_back_by_lookback_range_and_offset() {
        assert_eq!(reach_of("1 + 2"), Some(0));
        assert_eq!(reach_of("up"), Some(LOOKBACK));
        assert_eq!(reach_of("rate(m[2m])"), Some(120_000));
        assert_eq!(reach_of("rate(m[2m] offset 10m)"), Some(720_000));
        assert_eq!(reach_of("m offset -1h"), Some(LOOKBACK));
        assert_eq!(
            reach_of("sum(rate(a[1m])) / sum(rate(b[30m])) > up offset 1m"),
            Some(1_800_000)
        );
        assert_eq!(
            reach_of("quantile(scalar(m offset 20m), x)"),
            Some(1_500_000)
        );
    }

    #[test]
    fn a_subquery_adds_its_inner_reach() {
        assert_eq!(
            reach_of("max_over_time(rate(m[5m])[30m:1m])"),
            Some(35 * 60_000)
        );
        assert_eq!(
            reach_of("max_over_time(deriv(m[10m])[1h:] offset 5m)"),
            Some(75 * 60_000)
        );
    }

    #[test]
    fn an_at_modifier_is_unbounded() {
        assert_eq!(reach_of("m @ 100"), None);
        assert_eq!(reach_of("rate(m[1m] @ start())"), None);
        assert_eq!(reach_of("1 + max_over_time(m[5m:] @ end())"), None);
    }

    #[test]
    fn selectors_are_found_inside_every_kind_of_expression() {
        let q = Query::parse(
            "sum by (pod) (rate(a[5m])) / on (pod) (max_over_time(b[30m:1m]) + -c) \
             and quantile(scalar(d), e{x=\"1\"})",
        )
        .unwrap();
        let names: Vec<_> = selectors(&q)
            .unwrap()
            .iter()
            .map(|vs| vs.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
        let q = Query::parse("1 + 2").unwrap();
        assert!(selectors(&q).unwrap().is_empty());
    }
}
