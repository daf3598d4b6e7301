//! Selectors against the series the simulated cluster produces.
//!
//! A [`Probe`] runs the scenario briefly with a probe policy (the policy's
//! weight at its first analysis step, then an endless pause, no analysis),
//! so stable and canary pods both exist, serve and are scraped. Then every
//! vector selector of a query is matched against the store, label by label:
//! a matcher no value of its label satisfies (among the series of that
//! metric) is an error, as is a metric name the cluster never produces; a
//! selector whose matchers each match something but never together is only
//! a note, since it may be a matter of time (no 5xx has happened yet).

use std::collections::BTreeSet;

use promql_parser::label::Matcher;
use promql_parser::parser::{Expr, VectorSelector};

use super::locate;
use super::{Finding, Kind, Severity};
use crate::diag::Diagnostic;
use crate::engine::Engine;
use crate::manifest::{SourceFile, TextSite};
use crate::model::Version;
use crate::promql::Query;
use crate::rollout::policy::{OperatorConfig, Policy, Step};
use crate::scenario::Scenario;
use crate::series::{Labels, METRIC_NAME, SeriesStore};
use crate::sim::SimDuration;

/// The simulated cluster a little while into a rollout.
pub(super) struct Probe {
    /// Every series scraped so far.
    pub store: SeriesStore,
    /// The canary ReplicaSet's `rollouts-pod-template-hash`.
    pub canary_hash: Option<String>,
    /// The stable ReplicaSet's.
    pub stable_hash: Option<String>,
    /// "after 10m at 5% canary weight", for messages.
    pub description: String,
    /// The Rollout's name, for hints about pod names.
    rollout: String,
}

/// The weight in force at the policy's first analysis step (or its first
/// partial weight), so the probe's canary looks like the one analysed.
fn probe_weight(policy: Option<&Policy>) -> u32 {
    let Some(p) = policy else { return 20 };
    let first_analysis = p
        .steps
        .iter()
        .position(|s| matches!(s, Step::Analysis(_)))
        .unwrap_or(p.steps.len());
    let partial = |w: &u32| (1..100).contains(w);
    p.steps[..first_analysis]
        .iter()
        .rev()
        .find_map(|s| match s {
            Step::SetWeight(w) if partial(w) => Some(*w),
            _ => None,
        })
        .or_else(|| {
            p.steps.iter().find_map(|s| match s {
                Step::SetWeight(w) if partial(w) => Some(*w),
                _ => None,
            })
        })
        .unwrap_or(20)
}

impl Probe {
    /// Runs `sc` for `duration` after the rollout starts, with the policy's
    /// strategy (traffic routing, surge) but only a setWeight and a pause.
    pub fn run(sc: &Scenario, policy: Option<&Policy>, duration: SimDuration, seed: u64) -> Probe {
        let weight = probe_weight(policy);
        let mut probe = match policy {
            Some(p) => p.clone(),
            None => Policy::new("lint-probe", Vec::new()),
        };
        probe.name = "lint-probe".to_string();
        probe.steps = vec![Step::SetWeight(weight), Step::Pause(None)];
        probe.background = None;
        probe.templates.clear();
        probe.operator = OperatorConfig::default();
        let mut engine = Engine::new(sc, &probe, seed);
        let until = engine.rollout_start() + duration;
        engine.run_until(until);
        let store = engine.store().clone();
        let (canary_hash, stable_hash) = hashes(sc, &store);
        Probe {
            store,
            canary_hash,
            stable_hash,
            description: format!("after {duration} of the rollout at {weight}% canary weight"),
            rollout: sc.rollout.name.clone(),
        }
    }

    /// Findings for every selector of `q` that matches no series. `raw` is
    /// the query as written (to find the selector in the file); `metric`
    /// names the metric in messages.
    pub fn selectors(
        &self,
        q: &Query,
        raw: &str,
        site: &TextSite,
        file: Option<&SourceFile>,
        metric: &str,
    ) -> Vec<Finding> {
        let mut selectors: Vec<&VectorSelector> = Vec::new();
        collect(q.expr(), &mut selectors);
        let mut out = Vec::new();
        for (i, vs) in selectors.iter().enumerate() {
            let nth = selectors[..i]
                .iter()
                .filter(|x| x.name.is_some() && x.name == vs.name)
                .count();
            let at = |label: Option<&str>| {
                locate::selector(file, site, raw, vs.name.as_deref(), nth, label)
            };
            let candidates: Vec<&Labels> = self
                .store
                .series()
                .iter()
                .map(|s| &s.labels)
                .filter(|l| {
                    vs.name
                        .as_deref()
                        .is_none_or(|n| l.get(METRIC_NAME) == Some(n))
                })
                .collect();
            let shown = show(vs);
            if candidates.is_empty() {
                let name = vs.name.as_deref().unwrap_or("");
                if name.starts_with("locust_") {
                    out.push(Finding::new(
                        Severity::Note,
                        Kind::Info,
                        Diagnostic::new(
                            at(None),
                            format!("{metric}: selector {shown} not checked: locust_* series exist only once a Locust Job has pushed its results"),
                            "",
                        ),
                    ));
                    continue;
                }
                out.push(Finding::new(
                    Severity::Error,
                    Kind::Selector,
                    Diagnostic::new(
                        at(None),
                        format!("{metric}: selector {shown} matches no series: the simulated cluster has no series named {name}"),
                        format!("it has: {}", self.names().join(", ")),
                    ),
                ));
                continue;
            }
            let mut failed = false;
            for m in vs
                .matchers
                .matchers
                .iter()
                .filter(|m| m.name != METRIC_NAME)
            {
                let values: BTreeSet<&str> = candidates
                    .iter()
                    .map(|l| l.get(&m.name).unwrap_or(""))
                    .collect();
                if values.iter().any(|v| m.is_match(v)) {
                    continue;
                }
                failed = true;
                out.push(Finding::new(
                    Severity::Error,
                    Kind::Selector,
                    Diagnostic::new(
                        at(Some(&m.name)),
                        format!(
                            "{metric}: selector {shown} matches no series: no {} series has {m}",
                            vs.name.as_deref().unwrap_or("matching")
                        ),
                        self.hint(vs, m, &values, &candidates),
                    ),
                ));
            }
            let together = candidates.iter().any(|l| {
                vs.matchers
                    .matchers
                    .iter()
                    .all(|m| m.is_match(l.get(&m.name).unwrap_or("")))
            });
            if !failed && !together && vs.matchers.or_matchers.is_empty() {
                out.push(Finding::new(
                    Severity::Note,
                    Kind::Selector,
                    Diagnostic::new(
                        at(None),
                        format!(
                            "{metric}: selector {shown} matches no series yet, {}: each matcher matches some series, not all together",
                            self.description
                        ),
                        "an expression over it is empty until such a series appears; make sure the conditions handle an empty result",
                    ),
                ));
            }
        }
        out
    }

    fn names(&self) -> Vec<String> {
        let names: BTreeSet<&str> = self
            .store
            .series()
            .iter()
            .filter_map(|s| s.labels.get(METRIC_NAME))
            .collect();
        names.into_iter().map(str::to_string).collect()
    }

    fn hint(
        &self,
        vs: &VectorSelector,
        m: &Matcher,
        values: &BTreeSet<&str>,
        candidates: &[&Labels],
    ) -> String {
        let present: Vec<&str> = values.iter().copied().filter(|v| !v.is_empty()).collect();
        let metric = vs.name.as_deref().unwrap_or("these");
        if present.is_empty() {
            let mut labels: BTreeSet<&str> = BTreeSet::new();
            for l in candidates {
                labels.extend(l.iter().map(|(k, _)| k).filter(|k| *k != METRIC_NAME));
            }
            let labels: Vec<&str> = labels.into_iter().collect();
            return format!(
                "{metric} series carry no {} label; their labels are {}",
                m.name,
                labels.join(", ")
            );
        }
        let examples: Vec<String> = present.iter().take(3).map(|v| format!("{v:?}")).collect();
        let mut hint = format!(
            "{} values on {metric} here: {}{}",
            m.name,
            examples.join(", "),
            if present.len() > 3 { ", …" } else { "" }
        );
        if m.name == "pod" {
            let hash = self.canary_hash.as_deref().unwrap_or("<hash>");
            hint.push_str(&format!(
                "; Argo names pods <rollout>-<pod-template-hash>-<suffix>, so the canary's are {}-{hash}-…: select them with pod=~\"{}-{{{{args.canary-hash}}}}-.*\" and an arg with valueFrom.podTemplateHashValue: Latest",
                self.rollout, self.rollout
            ));
        }
        hint
    }
}

/// `name{a="b",…}` as written after substitution (matchers in query order).
fn show(vs: &VectorSelector) -> String {
    let mut parts: Vec<String> = vs
        .matchers
        .matchers
        .iter()
        .filter(|m| !(m.name == METRIC_NAME && vs.name.is_some()))
        .map(|m| m.to_string())
        .collect();
    parts.extend(vs.matchers.or_matchers.iter().map(|g| {
        g.iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }));
    format!(
        "{}{{{}}}",
        vs.name.as_deref().unwrap_or(""),
        parts.join(",")
    )
}

/// Every vector selector of an expression, in the order they are written.
fn collect<'e>(e: &'e Expr, out: &mut Vec<&'e VectorSelector>) {
    match e {
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                collect(p, out);
            }
            collect(&a.expr, out);
        }
        Expr::Unary(u) => collect(&u.expr, out),
        Expr::Binary(b) => {
            collect(&b.lhs, out);
            collect(&b.rhs, out);
        }
        Expr::Paren(p) => collect(&p.expr, out),
        Expr::Subquery(s) => collect(&s.expr, out),
        Expr::VectorSelector(vs) => out.push(vs),
        Expr::MatrixSelector(ms) => out.push(&ms.vs),
        Expr::Call(c) => {
            for a in &c.args.args {
                collect(a, out);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// The canary and stable pod-template hashes: from `kube_pod_labels` of the
/// pods whose cAdvisor `image` is each version's, else as the engine derives them.
fn hashes(sc: &Scenario, store: &SeriesStore) -> (Option<String>, Option<String>) {
    let image_of_pod = |pod: &str| {
        store
            .series()
            .iter()
            .filter(|s| s.labels.get(METRIC_NAME) == Some("container_memory_working_set_bytes"))
            .filter(|s| s.labels.get("pod") == Some(pod))
            .find_map(|s| s.labels.get("image").map(str::to_string))
    };
    let mut found: [Option<String>; 2] = [None, None];
    for s in store.series() {
        if s.labels.get(METRIC_NAME) != Some("kube_pod_labels") {
            continue;
        }
        let (Some(pod), Some(hash)) = (
            s.labels.get("pod"),
            s.labels.get("label_rollouts_pod_template_hash"),
        ) else {
            continue;
        };
        let Some(image) = image_of_pod(pod) else {
            continue;
        };
        for v in [Version::Canary, Version::Stable] {
            if image == sc.profile(v).image && found[v.index()].is_none() {
                found[v.index()] = Some(hash.to_string());
            }
        }
    }
    let derive = |v: Version| crate::model::pod::pod_template_hash(&sc.profile(v).image, 0);
    let canary = found[Version::Canary.index()]
        .clone()
        .unwrap_or_else(|| derive(Version::Canary));
    let stable = found[Version::Stable.index()]
        .clone()
        .unwrap_or_else(|| derive(Version::Stable));
    (Some(canary), Some(stable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_collected_in_the_order_they_are_written() {
        let q = Query::parse(
            "sum(rate(a{x=\"1\"}[1m])) / on() group_left max(b) + histogram_quantile(0.9, sum by (le) (c_bucket))",
        )
        .unwrap();
        let mut out = Vec::new();
        collect(q.expr(), &mut out);
        let names: Vec<&str> = out.iter().map(|v| v.name.as_deref().unwrap()).collect();
        assert_eq!(names, ["a", "b", "c_bucket"]);
    }

    #[test]
    fn the_probe_weight_is_the_one_in_force_at_the_first_analysis() {
        let p = Policy::new(
            "p",
            vec![
                Step::SetWeight(5),
                Step::Pause(None),
                Step::Analysis(Default::default()),
                Step::SetWeight(50),
            ],
        );
        assert_eq!(probe_weight(Some(&p)), 5);
        let p = Policy::new("p", vec![Step::SetWeight(100)]);
        assert_eq!(probe_weight(Some(&p)), 20);
        let p = Policy::new(
            "p",
            vec![Step::Analysis(Default::default()), Step::SetWeight(30)],
        );
        assert_eq!(probe_weight(Some(&p)), 30);
    }
}
