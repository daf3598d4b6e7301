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
//!
//! The same queries decide whether the run records the ingress
//! controller's request counters and histograms ([`reads_ingress`]): most
//! policies never read them, and counting them costs every request. With
//! [`Retention::Full`] they are always recorded.
//!
//! And they decide which series the store records at all ([`recorded`]):
//! a series that no selector of any query could select (its metric name
//! and every matcher checked against its whole label set, a placeholder
//! matching anything) is never read, so it is not stored. The scrape of a
//! pod seen through the stable Service, when every query asks for
//! `service="…-canary"`, then costs its `up` alone.
//!
//! Once no query can run again (the rollout decided, its AnalysisRuns over,
//! no operator to page or looking at panels), a [`Retention::Queries`] run
//! stops reading its targets altogether (`Engine::check_settled`).

use std::collections::BTreeMap;

use promql_parser::label::Matcher;
use promql_parser::parser::VectorSelector;

use super::ingress::SERIES_NAMES;
use crate::analysis::template::Templated;
use crate::locust::PUSHED_NAMES;
use crate::promql::reach::{reach_ms, selectors};
use crate::promql::{EvalOptions, Query};
use crate::rollout::policy::Policy;
use crate::scenario::Scenario;
use crate::series::{Labels, METRIC_NAME, Recorded};

/// How much of each series a run keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Every sample, for outputs that show whole series.
    Full,
    /// What the policy's queries can read: the series they could select,
    /// back as far as they reach (everything if that is not known before
    /// the run); the results are the same as with [`Retention::Full`].
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
    each_query(policy, |text, extra| {
        let r = query_reach(text, lookback)?;
        longest = longest.max(r.saturating_add(extra?));
        Some(())
    })?;
    let slack = sc.scrape_interval.as_millis() as i64 + 60_000;
    Some(longest.saturating_add(slack))
}

/// Calls `f` on every PromQL text a run of `policy` can evaluate: the
/// AnalysisTemplates' `prometheus` queries, the `judge`'s two queries, the
/// operator's panels and alerts. With each comes how much further back than
/// the query itself its provider reads: 0, the judge's look-back, or `None`
/// when that look-back is an `{{args.*}}` placeholder. Stops at the first
/// `None` from `f` and returns it.
fn each_query<'p>(
    policy: &'p Policy,
    mut f: impl FnMut(&'p str, Option<i64>) -> Option<()>,
) -> Option<()> {
    for t in &policy.templates {
        for m in &t.spec.metrics {
            if let Some(p) = &m.provider.prometheus {
                f(&p.query, Some(0))?;
            }
            if let Some(j) = &m.provider.judge {
                let look = match (&j.lookback, &m.interval) {
                    (Some(Templated::Value(d)), _) => Some(d.as_millis() as i64),
                    (Some(Templated::Text(_)), _) => None,
                    (None, Some(Templated::Value(d))) => Some(d.as_millis() as i64),
                    (None, Some(Templated::Text(_))) => None,
                    (None, None) => Some(JUDGE_DEFAULT_LOOKBACK_MS),
                };
                f(&j.canary_query, look)?;
                f(&j.baseline_query, look)?;
            }
        }
    }
    for p in &policy.operator.panels {
        f(&p.query, Some(0))?;
    }
    for a in &policy.operator.alerts {
        f(&a.expr, Some(0))?;
    }
    Some(())
}

/// Whether a run of `policy` must record the ingress controller's request
/// counters and histograms ([`SERIES_NAMES`]) because one of its queries
/// can read them: a selector whose metric name could be one of them (by
/// name, or by `__name__` matchers, regular expressions included), or a
/// query whose selectors are not known before the run (an `{{args.*}}`
/// placeholder outside a string literal, an unknown extension). A
/// placeholder inside a string literal is a label value: it matters only
/// in a `__name__` matcher, which it could make match anything. A query
/// that does not parse reads nothing (its measurements fail).
///
/// The controllers' `up` is not among these series: [`recorded`] decides
/// on it like on any other.
pub(crate) fn reads_ingress(policy: &Policy) -> bool {
    reads_series(policy, &SERIES_NAMES)
}

/// Whether a run of `policy` must push its Locust runs' gauges to the
/// Pushgateway ([`PUSHED_NAMES`]) because one of its queries can read them,
/// decided as [`reads_ingress`] decides for the ingress's series.
pub(crate) fn reads_pushgateway(policy: &Policy) -> bool {
    reads_series(policy, PUSHED_NAMES)
}

/// Whether one of `policy`'s queries could read a series named one of
/// `names` (see [`reads_ingress`]).
fn reads_series(policy: &Policy, names: &[&str]) -> bool {
    each_query(policy, |text, _| (!query_reads(text, names)).then_some(())).is_none()
}

/// What a placeholder inside a string literal becomes for
/// [`query_reads`] and [`recorded`]: a token no label value holds,
/// so that a matcher holding it can be told apart (and taken to match).
const ARG: &str = "canarysim_arg_placeholder";

/// The series a run of `policy` records: those one of its queries could
/// select (see the module header); `None`, every series, when a query's
/// selectors are not known before the run (an `{{args.*}}` placeholder
/// outside a string literal, an unknown extension, or a query that parses
/// only once its placeholders are filled in). A query that does not parse
/// whatever its args selects nothing. The store asks about a label set when
/// a writer first meets it; writers keep the id.
pub(crate) fn recorded(policy: &Policy) -> Option<Recorded> {
    let mut all: Vec<Candidate> = Vec::new();
    each_query(policy, |text, _| {
        if let Some(q) = parse_with_placeholders(text)? {
            all.extend(selectors(&q)?.into_iter().map(Candidate::of));
        }
        Some(())
    })?;
    // A label set is tested against the selectors of its own metric name
    // and those without one: the others cannot match it. A set without a
    // name whose name is not known yet (`part`) could match any.
    let mut named: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
    let mut unnamed = Vec::new();
    for c in all {
        match &c.name {
            Some(n) => named.entry(n.clone()).or_default().push(c),
            None => unnamed.push(c),
        }
    }
    Some(Recorded::new(move |labels: &Labels, part| {
        let value = |n: &str| match labels.get(n) {
            Some(v) => Some(v),
            None if part => None,
            None => Some(""),
        };
        let of_name: &[Candidate] = match labels.metric_name() {
            Some(n) => named.get(n).map_or(&[], Vec::as_slice),
            None if part => {
                return named
                    .values()
                    .flatten()
                    .chain(&unnamed)
                    .any(|c| c.could_match(value));
            }
            None => &[],
        };
        of_name.iter().chain(&unnamed).any(|c| c.could_match(value))
    }))
}

/// Whether `text` can read a series named one of `names` (see
/// [`reads_ingress`]).
fn query_reads(text: &str, names: &[&str]) -> bool {
    let Some(q) = parse_with_placeholders(text) else {
        return true;
    };
    let Some(q) = q else {
        return false;
    };
    match selectors(&q) {
        Some(all) => all
            .iter()
            .any(|vs| names.iter().any(|name| could_select(vs, name))),
        None => true,
    }
}

/// Whether selector `vs` could select a series named `name`: its metric
/// name is `name` or absent, and its `__name__` matchers (in one of its
/// `or` groups, if it has them) all match `name` or hold a placeholder.
/// Other matchers are taken to match, as they could.
fn could_select(vs: &VectorSelector, name: &str) -> bool {
    could_match(vs, |n| (n == METRIC_NAME).then_some(name))
}

/// Whether selector `vs` could select a series whose label `n` has value
/// `value(n)` (see [`Candidate::could_match`]).
fn could_match<'l>(vs: &VectorSelector, value: impl Fn(&str) -> Option<&'l str>) -> bool {
    Candidate::of(vs).could_match(value)
}

/// A selector as the recording filter tests label sets against it: its
/// metric name, and each matcher (of its own list and of each `or` group)
/// with whether it holds a placeholder, found once and not at every new
/// series.
struct Candidate {
    name: Option<String>,
    matchers: Vec<(Matcher, bool)>,
    or_groups: Vec<Vec<(Matcher, bool)>>,
}

impl Candidate {
    fn of(vs: &VectorSelector) -> Candidate {
        let flag = |ms: &[Matcher]| -> Vec<(Matcher, bool)> {
            ms.iter()
                .map(|m| (m.clone(), m.name.contains(ARG) || m.value.contains(ARG)))
                .collect()
        };
        Candidate {
            name: vs.name.clone(),
            matchers: flag(&vs.matchers.matchers),
            or_groups: vs.matchers.or_matchers.iter().map(|g| flag(g)).collect(),
        }
    }

    /// Whether the selector could select a series whose label `n` has
    /// value `value(n)` (absent: `""`), `None` standing for a label not
    /// known yet, which any matcher could match. A matcher that holds a
    /// placeholder, in its value or as a quoted label name, could match
    /// anything too. Otherwise this is the selector's own rule: its metric
    /// name, all its matchers, and one of its `or` groups if it has them.
    fn could_match<'l>(&self, value: impl Fn(&str) -> Option<&'l str>) -> bool {
        if let (Some(n), Some(v)) = (self.name.as_deref(), value(METRIC_NAME))
            && n != v
        {
            return false;
        }
        let group = |ms: &[(Matcher, bool)]| {
            ms.iter().all(|(m, placeholder)| {
                *placeholder || value(&m.name).is_none_or(|v| m.is_match(v))
            })
        };
        group(&self.matchers)
            && (self.or_groups.is_empty() || self.or_groups.iter().any(|g| group(g)))
    }
}

/// How far back `text` reads once its args are substituted; `None` when
/// that is not known (see the module header). A query that does not parse
/// reads nothing: its measurements fail with the parse error.
fn query_reach(text: &str, lookback: i64) -> Option<i64> {
    match parse_with_placeholders(text)? {
        Some(q) => reach_ms(&q, lookback),
        None => Some(0),
    }
}

/// `text` parsed with each placeholder inside a string literal standing as
/// [`ARG`]: `Some(None)` when it does not parse and has no placeholder (its
/// measurements fail whatever the args); `None` when that is not known
/// before the run: a placeholder outside a string literal, or one without
/// which the text does not parse (`code=~"[{{args.lo}}-5]00"` is a regular
/// expression only once `lo` is filled in).
fn parse_with_placeholders(text: &str) -> Option<Option<Query>> {
    let filled = label_placeholders(text, ARG)?;
    match Query::parse(&filled) {
        Ok(q) => Some(Some(q)),
        Err(_) if filled != text => None,
        Err(_) => Some(None),
    }
}

/// `text` with every `{{…}}` inside a string literal replaced by `by`, or
/// `None` if one stands outside a string literal.
fn label_placeholders(text: &str, by: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("{{") {
            quote?;
            let end = rest.find("}}").map_or(rest.len(), |i| i + 2);
            out.push_str(by);
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
    use crate::series::SeriesStore;

    #[test]
    fn placeholders_in_strings_are_label_values_and_elsewhere_unknown() {
        assert_eq!(
            label_placeholders(r#"rate(m{pod=~"{{args.svc}}-.*"}[5m])"#, "x").as_deref(),
            Some(r#"rate(m{pod=~"x-.*"}[5m])"#)
        );
        assert_eq!(
            label_placeholders(r#"m{a='{{ args.x }}', b="\"{{args.y}}"}"#, "x").as_deref(),
            Some(r#"m{a='x', b="\"x"}"#)
        );
        assert_eq!(label_placeholders("rate(m[{{args.window}}])", "x"), None);
        assert_eq!(label_placeholders("{{args.query}}", "x"), None);
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

    /// A policy whose operator watches these queries and nothing else.
    fn watching(queries: &[&str]) -> Policy {
        let mut p = Policy::new("watch", Vec::new());
        p.operator.panels = queries
            .iter()
            .map(|q| crate::rollout::policy::Panel {
                name: "panel".into(),
                query: (*q).into(),
                above: 1.0,
            })
            .collect();
        p
    }

    fn series(name: &str, pairs: &[(&str, &str)]) -> Labels {
        Labels::with_name(name, pairs.iter().copied())
    }

    #[test]
    fn a_series_is_recorded_only_if_a_selector_could_select_it() {
        // A selector selects a series when its metric name and every
        // matcher hold on the series' labels, an absent label reading ""
        // (Prometheus's rule; `or` groups: one of them). A series no
        // selector of any query selects is never read.
        let keep = recorded(&watching(&[
            r#"sum(rate(http_requests_total{service="checkout-canary",code=~"5.."}[1m]))"#,
            r#"max(container_memory_working_set_bytes{container="checkout"})"#,
            r#"{__name__=~"kube_pod_.*", pod!~"checkout-7.*"}"#,
            r#"up{job="a" or job="b"}"#,
        ]))
        .expect("every selector is known");
        let keeps = |l: &Labels| keep.keeps(l);
        let canary = [("service", "checkout-canary"), ("code", "500")];
        assert!(keeps(&series("http_requests_total", &canary)));
        assert!(!keeps(&series(
            "http_requests_total",
            &[("service", "checkout-canary"), ("code", "200")]
        )));
        assert!(!keeps(&series(
            "http_requests_total",
            &[("service", "checkout"), ("code", "500")]
        )));
        assert!(!keeps(&series(
            "http_request_duration_seconds_bucket",
            &canary
        )));
        // An absent label reads "": `container="checkout"` refuses the
        // pod's own cgroup series, which has no container label.
        assert!(keeps(&series(
            "container_memory_working_set_bytes",
            &[("container", "checkout"), ("pod", "p")]
        )));
        assert!(!keeps(&series(
            "container_memory_working_set_bytes",
            &[("pod", "p")]
        )));
        assert!(keeps(&series(
            "kube_pod_status_ready",
            &[("pod", "checkout-5-x")]
        )));
        assert!(!keeps(&series(
            "kube_pod_status_ready",
            &[("pod", "checkout-7-x")]
        )));
        assert!(!keeps(&series("kube_node_info", &[])));
        // Part of a label set: what it lacks could be anything.
        let could = |l: &Labels| keep.could_keep(l);
        assert!(could(&series(
            "http_requests_total",
            &[("service", "checkout-canary")]
        )));
        assert!(!could(&series(
            "http_requests_total",
            &[("service", "checkout")]
        )));
        assert!(could(&series(
            "container_memory_working_set_bytes",
            &[("pod", "p")]
        )));
        assert!(!could(&series("http_request_duration_seconds_sum", &[])));
        // Without its metric name, a part could be of any selector's
        // series (here only of the first's: the nameless selector refuses
        // its pod); a whole set without one is no named selector's.
        let nameless = Labels::new([
            ("service", "checkout-canary"),
            ("code", "500"),
            ("pod", "checkout-7-x"),
        ]);
        assert!(could(&nameless));
        assert!(!keeps(&nameless));
        assert!(keeps(&series("up", &[("job", "b")])));
        assert!(!keeps(&series("up", &[("job", "c")])));
    }

    #[test]
    fn the_recorded_series_are_exactly_those_the_promql_engine_selects() {
        // The filter and PromQL's selection are two statements of one rule;
        // here the engine itself is the oracle, over label sets that differ
        // in each way a matcher can tell (absent labels read "").
        let sets = [
            series("up", &[("job", "a")]),
            series("up", &[("job", "b"), ("pod", "p-1")]),
            series("up", &[]),
            series("http_requests_total", &[("code", "500"), ("service", "s")]),
            series("http_requests_total", &[("code", "200"), ("service", "s")]),
            series("http_requests_total", &[("code", "503")]),
            series("container_memory_working_set_bytes", &[("pod", "p-1")]),
            series(
                "container_memory_working_set_bytes",
                &[("container", "c"), ("pod", "p-2")],
            ),
        ];
        let mut store = SeriesStore::new();
        for l in &sets {
            let id = store.id(l.clone());
            store.push(id, 0, 1.0);
        }
        for sel in [
            "up",
            r#"up{job="a"}"#,
            r#"up{job=""}"#,
            r#"up{job!=""}"#,
            r#"up{pod!~"p-.*"}"#,
            r#"{__name__=~"up|http_.*", code!="200"}"#,
            r#"http_requests_total{code=~"5.."}"#,
            r#"http_requests_total{service=~".*"}"#,
            r#"http_requests_total{service=~".+"}"#,
            r#"{job="a" or code="503"}"#,
            r#"container_memory_working_set_bytes{container!=""}"#,
            r#"container_memory_working_set_bytes{container=""}"#,
            r#"{"container_memory_working_set_bytes", pod="p-2"}"#,
        ] {
            let keep = recorded(&watching(&[sel])).expect("known selectors");
            let Ok(crate::promql::Value::Vector(v)) =
                Query::parse(sel)
                    .unwrap()
                    .instant(&store, 0, &EvalOptions::default())
            else {
                panic!("{sel}: not a vector");
            };
            let mut selected: Vec<&Labels> = v.iter().map(|s| &s.labels).collect();
            selected.sort();
            let mut kept: Vec<&Labels> = sets.iter().filter(|l| keep.keeps(l)).collect();
            kept.sort();
            assert_eq!(kept, selected, "{sel}");
        }
    }

    #[test]
    fn a_placeholder_in_a_label_value_could_match_any_value_and_elsewhere_keeps_everything() {
        // Argo substitutes {{args.*}} into the query's text before it runs
        // (analysis/utils.go ResolveArgs): the value is known only then.
        let keep = recorded(&watching(&[
            r#"sum(rate(http_requests_total{pod=~"{{args.canary-hash}}.*",code="500"}[1m]))"#,
        ]))
        .expect("the placeholder is a label value");
        let keeps = |l: &Labels| keep.keeps(l);
        assert!(keeps(&series(
            "http_requests_total",
            &[("pod", "anything"), ("code", "500")]
        )));
        assert!(!keeps(&series(
            "http_requests_total",
            &[("pod", "anything"), ("code", "200")]
        )));
        assert!(recorded(&watching(&["sum(rate({{args.metric}}[1m]))"])).is_none());
        // A quoted label name can be a placeholder too (Prometheus 3).
        let keep = recorded(&watching(&[
            r#"sum(rate(http_requests_total{"{{args.label}}"="checkout-canary"}[1m]))"#,
        ]))
        .expect("the placeholder is a label name");
        assert!(keep.keeps(&series(
            "http_requests_total",
            &[("service", "checkout-canary"), ("code", "500")]
        )));
        // A text that parses only once its args are filled in.
        let range = r#"sum(rate(http_requests_total{code=~"[{{args.lo}}-5]00"}[1m]))"#;
        assert!(recorded(&watching(&[range])).is_none());
        assert!(query_reads(range, &SERIES_NAMES));
        assert_eq!(query_reach(range, 300_000), None);
        // A query that does not parse reads nothing; no query, no series.
        let none = recorded(&watching(&["rate("])).expect("known");
        assert!(!none.keeps(&series("up", &[])));
    }

    #[test]
    fn a_selector_that_could_name_an_ingress_series_makes_the_run_record_them() {
        // A query can read the controller's series (socket.go's
        // nginx_ingress_controller_* families) through its metric name or
        // a __name__ matcher, a regular expression included (Prometheus
        // matches __name__ like any other label: promql/parser, the
        // selector's LabelMatchers). Then the run must record them.
        for q in [
            r#"sum(rate(nginx_ingress_controller_requests{status=~"5.."}[5m]))"#,
            "histogram_quantile(0.9, sum by (le) (rate(nginx_ingress_controller_request_duration_seconds_bucket[5m])))",
            "nginx_ingress_controller_response_duration_seconds_count",
            r#"{__name__=~"nginx.*"}"#,
            r#"count({__name__=~".+"})"#,
            r#"sum({__name__!="up", job!=""})"#,
            r#"{job="ingress-nginx-controller-metrics"}"#,
            r#"{__name__="up" or __name__="nginx_ingress_controller_requests"}"#,
            r#"1 + max_over_time(rate(nginx_ingress_controller_requests[1m])[10m:1m])"#,
        ] {
            assert!(query_reads(q, &SERIES_NAMES), "{q}");
        }
    }

    #[test]
    fn a_placeholder_outside_a_string_or_in_a_name_matcher_could_be_anything() {
        // Argo substitutes {{args.*}} into the query's text before it runs
        // (analysis/utils.go ResolveArgs): outside a string literal it could
        // be any expression, and as a __name__ value any metric name.
        for q in [
            "{{args.query}}",
            "sum(rate({{args.metric}}[5m]))",
            r#"{__name__="{{args.metric}}"}"#,
            r#"{__name__=~"{{ args.family }}_.*"}"#,
        ] {
            assert!(query_reads(q, &SERIES_NAMES), "{q}");
        }
    }

    #[test]
    fn a_query_that_cannot_name_an_ingress_series_lets_the_run_skip_them() {
        for q in [
            "rate(http_requests_total[1m])",
            r#"sum(rate(http_requests_total{pod=~"{{args.canary-hash}}.*",code=~"5.."}[1m]))"#,
            r#"{__name__=~"http_.*"}"#,
            r#"{__name__="container_memory_working_set_bytes", pod=~"{{args.p}}.*"}"#,
            // The controllers' `up` is not a counted series.
            r#"up{job="ingress-nginx-controller-metrics"}"#,
            // Reads nothing: its measurements fail.
            "rate(",
        ] {
            assert!(!query_reads(q, &SERIES_NAMES), "{q}");
        }
    }
}
