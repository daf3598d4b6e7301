//! The check Argo's rollout controller makes at the start of every
//! reconcile, before it creates or scales anything: every AnalysisTemplate a
//! step or the background analysis names must exist, and the args must let
//! an AnalysisRun be built from them. When the check fails the controller
//! sets the Rollout's `InvalidSpec` condition (phase `Degraded`, message
//! `InvalidSpec: The Rollout "<name>" is invalid: <field error>`), requeues
//! the rollout every 20 s and does nothing else: no new ReplicaSet, no
//! traffic shift, no AnalysisRun. The stable version keeps serving.
//!
//! Argo's code (argo-rollouts @ 9f8d111d): `rollout/controller.go`
//! `newRolloutContext` → `getRolloutValidationErrors` →
//! `getRolloutReferencedResources` → `getReferencedRolloutAnalyses` (steps in
//! order, then `canary.analysis`; a missing template is
//! `field.Invalid(path, name, "AnalysisTemplate 'x' not found")`), then
//! `pkg/apis/rollouts/validation/validation_references.go`
//! `ValidateAnalysisTemplatesWithType` (`NewAnalysisRunFromTemplates` with
//! the step's args and dummy pod hashes, so a template arg with no value
//! that the step does not supply gives `args.x was not resolved`; then each
//! template's metrics resolved with dummy values for its own args, and a
//! step template metric that would run forever is refused). Only the first
//! error is reported.
//!
//! Used by `crate::lint` and meant for the rollout controller, which must
//! not start a rollout whose policy fails this check.

use crate::analysis::{
    AnalysisTemplate, Arg, Metric, PodHashes, TemplateKind, Templated, build_run_args,
    new_run_spec, resolve_metric_args,
};
use crate::rollout::policy::{AnalysisRef, Policy, Step};

/// A field error as Kubernetes' `field.Invalid(...).Error()` prints it:
/// `<field>: Invalid value: "<value>": <detail>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: Invalid value: {value:?}: {detail}")]
pub struct InvalidSpec {
    /// The field path, e.g. `spec.strategy.canary.steps[2].analysis.templates`.
    pub field: String,
    /// The bad value (a template name, or `templateNames: [a b]`).
    pub value: String,
    /// Argo's explanation.
    pub detail: String,
    /// The step concerned; `None` for the background analysis.
    pub step: Option<usize>,
}

impl InvalidSpec {
    /// The message of the Rollout's `InvalidSpec` condition.
    pub fn condition_message(&self, rollout: &str) -> String {
        format!("The Rollout \"{rollout}\" is invalid: {self}")
    }

    /// The Rollout's status message (its phase is `Degraded`).
    pub fn phase_message(&self, rollout: &str) -> String {
        format!("InvalidSpec: {}", self.condition_message(rollout))
    }
}

/// One `AnalysisTemplatesWithType`: a step's analysis or the background one.
struct Group<'p> {
    field: String,
    step: Option<usize>,
    analysis: &'p AnalysisRef,
}

fn groups(policy: &Policy) -> Vec<Group<'_>> {
    let mut out: Vec<Group> = policy
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s {
            Step::Analysis(a) => Some(Group {
                field: format!("spec.strategy.canary.steps[{i}].analysis.templates"),
                step: Some(i),
                analysis: a,
            }),
            _ => None,
        })
        .collect();
    if let Some(bg) = &policy.background {
        out.push(Group {
            field: "spec.strategy.canary.analysis.templates".to_string(),
            step: None,
            analysis: &bg.analysis,
        });
    }
    out
}

/// The templates a group names, each once, namespaced first (Argo's order).
fn resolved<'p>(policy: &'p Policy, g: &Group) -> Result<Vec<&'p AnalysisTemplate>, InvalidSpec> {
    let mut out: Vec<&AnalysisTemplate> = Vec::new();
    for r in &g.analysis.templates {
        let Some(t) = policy.template(r) else {
            let kind = if r.cluster_scope {
                "ClusterAnalysisTemplate"
            } else {
                "AnalysisTemplate"
            };
            return Err(InvalidSpec {
                field: g.field.clone(),
                value: r.name.clone(),
                detail: format!("{kind} '{}' not found", r.name),
                step: g.step,
            });
        };
        if !out.iter().any(|x| x.name == t.name && x.kind == t.kind) {
            out.push(t);
        }
    }
    let (mut ns, cluster): (Vec<_>, Vec<_>) = out
        .into_iter()
        .partition(|t| t.kind == TemplateKind::Namespaced);
    ns.extend(cluster);
    Ok(ns)
}

/// Argo's `Metric.EffectiveCount` is nil: the metric measures until it fails
/// or is terminated.
fn runs_indefinitely(m: &Metric) -> bool {
    let count = match &m.count {
        None => 0,
        Some(Templated::Value(c)) => *c,
        Some(Templated::Text(s)) => s.trim().parse().unwrap_or(0),
    };
    let interval = match &m.interval {
        None => "",
        Some(Templated::Text(s)) => s.as_str(),
        Some(Templated::Value(_)) => "set",
    };
    count == 0 && !interval.is_empty()
}

fn count_text(m: &Metric) -> String {
    match &m.count {
        None => "<nil>".to_string(),
        Some(Templated::Value(c)) => c.to_string(),
        Some(Templated::Text(s)) => s.clone(),
    }
}

/// Argo's reference check on a policy; `Err` is what the Rollout's
/// `InvalidSpec` condition would say.
pub fn check_references(policy: &Policy) -> Result<(), InvalidSpec> {
    let groups = groups(policy);
    // getReferencedRolloutAnalyses: every template must exist.
    let mut templates = Vec::with_capacity(groups.len());
    for g in &groups {
        templates.push(resolved(policy, g)?);
    }
    // ValidateAnalysisTemplatesWithType, group by group.
    let dummy = PodHashes {
        stable: Some("dummy-stable-hash".to_string()),
        latest: "dummy-new-hash".to_string(),
    };
    for (g, ts) in groups.iter().zip(&templates) {
        let names: Vec<&str> = ts.iter().map(|t| t.name.as_str()).collect();
        let value = format!("templateNames: [{}]", names.join(" "));
        let invalid = |detail: String| InvalidSpec {
            field: g.field.clone(),
            value: value.clone(),
            detail,
            step: g.step,
        };
        let args = build_run_args(&g.analysis.args, &dummy).map_err(|e| invalid(e.to_string()))?;
        new_run_spec(ts, &args, &[], &[]).map_err(|e| invalid(e.to_string()))?;
        for s in &policy.steps {
            if let Step::Analysis(a) = s {
                new_run_spec(ts, &args, &a.dry_run, &a.measurement_retention)
                    .map_err(|e| invalid(e.to_string()))?;
            }
        }
        for t in ts {
            let on_template = |detail: String| InvalidSpec {
                field: g.field.clone(),
                value: t.name.clone(),
                detail,
                step: g.step,
            };
            if g.step.is_some() {
                let dummy_args: Vec<Arg> = t
                    .spec
                    .args
                    .iter()
                    .map(|a| Arg {
                        name: a.name.clone(),
                        value: Some(a.value.clone().unwrap_or_else(|| "dummy-value".into())),
                    })
                    .collect();
                let mut resolved = Vec::with_capacity(t.spec.metrics.len());
                for m in &t.spec.metrics {
                    let r = resolve_metric_args(m, &dummy_args)
                        .map_err(|e| on_template(format!("AnalysisTemplate {}: {e}", t.name)))?;
                    resolved.push(r);
                }
                if let Some(m) = resolved.iter().find(|m| runs_indefinitely(m)) {
                    return Err(on_template(format!(
                        "AnalysisTemplate {} has metric {} which runs indefinitely. Invalid value for count: {}",
                        t.name,
                        m.name,
                        count_text(m)
                    )));
                }
            } else {
                for a in t.spec.args.iter().filter(|a| a.value.is_none()) {
                    if g.analysis.args.is_empty() {
                        return Err(on_template(
                            "missing analysis arguments in rollout spec".to_string(),
                        ));
                    }
                    if !g.analysis.args.iter().any(|r| r.name == a.name) {
                        return Err(on_template(a.name.clone()));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{ArgSource, MetricProvider, PrometheusMetric, RunArg, TemplateSpec};
    use crate::rollout::policy::{BackgroundAnalysis, TemplateRef};

    fn template(name: &str, args: &[(&str, Option<&str>)], query: &str) -> AnalysisTemplate {
        let mut m = Metric::new(
            format!("{name}-m"),
            MetricProvider {
                prometheus: Some(PrometheusMetric {
                    address: String::new(),
                    query: query.into(),
                }),
                ..MetricProvider::default()
            },
        );
        m.interval = Some(Templated::Text("30s".into()));
        m.count = Some(Templated::Value(3));
        AnalysisTemplate {
            name: name.into(),
            kind: TemplateKind::Namespaced,
            spec: TemplateSpec {
                args: args
                    .iter()
                    .map(|(n, v)| Arg {
                        name: n.to_string(),
                        value: v.map(str::to_string),
                    })
                    .collect(),
                metrics: vec![m],
                ..TemplateSpec::default()
            },
        }
    }

    fn analysis(names: &[&str], args: &[(&str, &str)]) -> Step {
        Step::Analysis(AnalysisRef {
            templates: names
                .iter()
                .map(|n| TemplateRef {
                    name: n.to_string(),
                    cluster_scope: false,
                })
                .collect(),
            args: args
                .iter()
                .map(|(n, v)| RunArg {
                    name: n.to_string(),
                    source: ArgSource::Value(v.to_string()),
                })
                .collect(),
            ..AnalysisRef::default()
        })
    }

    #[test]
    fn the_first_missing_template_in_step_order_is_what_argo_reports() {
        let mut p = Policy::new(
            "p",
            vec![
                Step::SetWeight(5),
                analysis(&["a", "gone-1"], &[]),
                analysis(&["gone-2"], &[]),
            ],
        );
        p.templates = vec![template("a", &[], "up")];
        let e = check_references(&p).unwrap_err();
        assert_eq!(e.step, Some(1));
        assert_eq!(
            e.condition_message("checkout-service"),
            "The Rollout \"checkout-service\" is invalid: spec.strategy.canary.steps[1].analysis.templates: Invalid value: \"gone-1\": AnalysisTemplate 'gone-1' not found"
        );
    }

    #[test]
    fn a_template_arg_without_value_that_the_step_does_not_supply_is_not_resolved() {
        let mut p = Policy::new(
            "p",
            vec![
                analysis(&["a", "b"], &[("svc", "x")]),
                analysis(&["a", "b"], &[]),
            ],
        );
        p.templates = vec![
            template(
                "a",
                &[("svc", None), ("other", None)],
                "up{s=\"{{args.svc}}\"}",
            ),
            template("b", &[("svc", None)], "up"),
        ];
        let e = check_references(&p).unwrap_err();
        // Step 0 supplies svc but not other; Argo reports the first arg without a value.
        assert_eq!(e.step, Some(0));
        assert_eq!(e.value, "templateNames: [a b]");
        assert_eq!(e.detail, "args.other was not resolved");
    }

    #[test]
    fn a_default_value_or_a_supplied_arg_satisfies_argo() {
        let mut p = Policy::new("p", vec![analysis(&["a"], &[("svc", "x")])]);
        p.templates = vec![template("a", &[("svc", None), ("w", Some("2m"))], "up")];
        assert_eq!(check_references(&p), Ok(()));
    }

    #[test]
    fn a_placeholder_naming_no_declared_arg_is_refused_before_the_run() {
        let mut p = Policy::new("p", vec![analysis(&["a"], &[])]);
        p.templates = vec![template("a", &[], "up{s=\"{{args.nope}}\"}")];
        let e = check_references(&p).unwrap_err();
        assert_eq!(e.value, "a");
        assert_eq!(
            e.detail,
            "AnalysisTemplate a: failed to resolve {{args.nope}}"
        );
    }

    #[test]
    fn a_step_metric_with_an_interval_and_no_count_runs_indefinitely_and_is_refused() {
        let mut t = template("a", &[], "up");
        t.spec.metrics[0].count = None;
        let mut p = Policy::new("p", vec![analysis(&["a"], &[])]);
        p.templates = vec![t.clone()];
        let e = check_references(&p).unwrap_err();
        assert_eq!(
            e.detail,
            "AnalysisTemplate a has metric a-m which runs indefinitely. Invalid value for count: <nil>"
        );
        // The same template is fine as background analysis.
        let mut p = Policy::new("p", vec![Step::SetWeight(10)]);
        p.templates = vec![t];
        p.background = Some(BackgroundAnalysis {
            analysis: match analysis(&["a"], &[]) {
                Step::Analysis(a) => a,
                _ => unreachable!(),
            },
            starting_step: 0,
        });
        assert_eq!(check_references(&p), Ok(()));
    }

    #[test]
    fn background_template_args_must_be_named_by_the_rollout() {
        let mut p = Policy::new("p", vec![Step::SetWeight(10)]);
        p.templates = vec![template("a", &[("svc", None)], "up")];
        let bg = |args: &[(&str, &str)]| match analysis(&["a"], args) {
            Step::Analysis(a) => BackgroundAnalysis {
                analysis: a,
                starting_step: 0,
            },
            _ => unreachable!(),
        };
        p.background = Some(bg(&[]));
        // NewAnalysisRunFromTemplates fails first: no value at all.
        assert_eq!(
            check_references(&p).unwrap_err().detail,
            "args.svc was not resolved"
        );
        p.background = Some(bg(&[("svc", "x")]));
        assert_eq!(check_references(&p), Ok(()));
    }
}
