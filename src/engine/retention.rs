//! How long the series store keeps a sample during a run.
//!
//! Only queries read the store while a run is going: the PromQL of the
//! policy's AnalysisTemplates (the `prometheus` provider's query, the
//! `judge`'s two range queries over their look-back), and the operator's
//! panels and alerts. All of them are known before the run starts, so the
//! longest time any of them can reach back ([`crate::promql::reach`]) bounds
//! the samples worth keeping; older ones are dropped as the run goes and
//! memory stays O(pods × series × retained samples) however long it runs.
//! Outputs that show whole series (`--out`, `export`, plots, `query`) ask
//! for [`Retention::Full`] instead.
//!
//! In: a [`Scenario`] and a [`Policy`]. Out: the window in milliseconds, or
//! `None` (keep everything) when a query's reach is not known before the
//! run: an `@` modifier, or an `{{args.*}}` placeholder outside a string
//! literal, which could stand for any expression or duration. A placeholder
//! inside a string literal is a label value and cannot change how far back
//! the query reads. Neighbours: [`super::Engine`] sets the window on its
//! [`crate::series::SeriesStore`].

use crate::analysis::template::Templated;
use crate::promql::{EvalOptions, Query, reach::reach_ms};
use crate::rollout::policy::Policy;
use crate::scenario::Scenario;

/// How much of each series a run keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Every sample, for outputs that show whole series.
    Full,
    /// What the policy's queries can read (everything if that is not known
    /// before the run); the results are the same as with [`Retention::Full`].
    Queries,
}

/// The default judge look-back without an interval (as the validator has it).
const JUDGE_DEFAULT_LOOKBACK_MS: i64 = 5 * 60_000;

/// The store's window for `policy` on `sc`: the longest reach of any query,
/// plus a scrape interval and a minute of slack (evaluations fall between
/// scrapes); `None` to keep everything.
pub(crate) fn window(sc: &Scenario, policy: &Policy) -> Option<i64> {
    let lookback = EvalOptions::default().lookback_delta_ms;
    let mut longest = 0i64;
    let mut add = |text: &str, extra: i64| -> Option<()> {
        let r = query_reach(text, lookback)?;
        longest = longest.max(r.saturating_add(extra));
        Some(())
    };
    for t in &policy.templates {
        for m in &t.spec.metrics {
            if let Some(p) = &m.provider.prometheus {
                add(&p.query, 0)?;
            }
            if let Some(j) = &m.provider.judge {
                let look = match (&j.lookback, &m.interval) {
                    (Some(Templated::Value(d)), _) => d.as_millis() as i64,
                    (Some(Templated::Text(_)), _) => return None,
                    (None, Some(Templated::Value(d))) => d.as_millis() as i64,
                    (None, Some(Templated::Text(_))) => return None,
                    (None, None) => JUDGE_DEFAULT_LOOKBACK_MS,
                };
                add(&j.canary_query, look)?;
                add(&j.baseline_query, look)?;
            }
        }
    }
    for p in &policy.operator.panels {
        add(&p.query, 0)?;
    }
    for a in &policy.operator.alerts {
        add(&a.expr, 0)?;
    }
    let slack = sc.scrape_interval.as_millis() as i64 + 60_000;
    Some(longest.saturating_add(slack))
}

/// How far back `text` reads once its args are substituted; `None` when
/// that is not known (see the module header). A query that does not parse
/// reads nothing: its measurements fail with the parse error.
fn query_reach(text: &str, lookback: i64) -> Option<i64> {
    let text = label_placeholders(text)?;
    match Query::parse(&text) {
        Ok(q) => reach_ms(&q, lookback),
        Err(_) => Some(0),
    }
}

/// `text` with every `{{…}}` inside a string literal replaced by `x`, or
/// `None` if one stands outside a string literal.
fn label_placeholders(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("{{") {
            quote?;
            let end = rest.find("}}").map_or(rest.len(), |i| i + 2);
            out.push('x');
            rest = &rest[end..];
            continue;
        }
        match quote {
            Some(q) if c == '\\' && q != '`' => {
                let n = rest[1..].chars().next().map_or(0, char::len_utf8);
                out.push_str(&rest[..1 + n]);
                rest = &rest[1 + n..];
                continue;
            }
            Some(q) if c == q => quote = None,
            None if matches!(c, '"' | '\'' | '`') => quote = Some(c),
            _ => {}
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_in_strings_are_label_values_and_elsewhere_unknown() {
        assert_eq!(
            label_placeholders(r#"rate(m{pod=~"{{args.svc}}-.*"}[5m])"#).as_deref(),
            Some(r#"rate(m{pod=~"x-.*"}[5m])"#)
        );
        assert_eq!(
            label_placeholders(r#"m{a='{{ args.x }}', b="\"{{args.y}}"}"#).as_deref(),
            Some(r#"m{a='x', b="\"x"}"#)
        );
        assert_eq!(label_placeholders("rate(m[{{args.window}}])"), None);
        assert_eq!(label_placeholders("{{args.query}}"), None);
    }

    #[test]
    fn the_reach_of_a_query_text() {
        let lb = 300_000;
        assert_eq!(
            query_reach(r#"deriv(m{pod=~"{{args.h}}.*"}[10m])"#, lb),
            Some(600_000)
        );
        assert_eq!(query_reach("m @ 10", lb), None);
        assert_eq!(query_reach("rate(", lb), Some(0));
    }
}
