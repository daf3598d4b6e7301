//! Argo's check of the resources a Rollout references, which runs before
//! every reconcile (`getRolloutValidationErrors` →
//! `ValidateRolloutReferencedResources`). If it fails, the Rollout gets the
//! `InvalidSpec` condition and the controller does nothing else: no
//! ReplicaSet is created, no traffic moves.
//!
//! For each analysis (steps in order, then background), as Argo does:
//! 1. every referenced template must exist, else
//!    `AnalysisTemplate '<name>' not found`;
//! 2. the templates must merge into a run with the rollout's args
//!    (`NewAnalysisRunFromTemplates`): an arg a template declares without a
//!    default and the rollout does not supply is `args.<name> was not resolved`;
//! 3. each step template's metrics, with placeholder values for its args,
//!    must validate, and none may run indefinitely (an interval without a count);
//!    a background template's args without a value must be supplied by the
//!    background analysis.
//!
//! The message is Argo's condition message:
//! `The Rollout "<name>" is invalid: <field path>: Invalid value: "<value>": <detail>`.

use super::policy::{AnalysisRef, Policy, Step};
use crate::analysis::{
    AnalysisTemplate, Arg, PodHashes, build_run_args, new_run_spec, resolve_metric_args,
    validate_metric,
};

/// The InvalidSpec message for `policy` run as Rollout `rollout`, or `None`
/// when the references validate.
pub fn referenced_resources(rollout: &str, policy: &Policy) -> Option<String> {
    let invalid = |path: &str, value: &str, detail: &str| {
        Some(format!(
            "The Rollout \"{rollout}\" is invalid: {path}: Invalid value: \"{value}\": {detail}"
        ))
    };
    let mut analyses: Vec<(String, &AnalysisRef, bool)> = Vec::new();
    for (i, step) in policy.steps.iter().enumerate() {
        if let Step::Analysis(a) = step {
            analyses.push((
                format!("spec.strategy.canary.steps[{i}].analysis.templates"),
                a,
                false,
            ));
        }
    }
    if let Some(bg) = &policy.background {
        analyses.push((
            "spec.strategy.canary.analysis.templates".to_string(),
            &bg.analysis,
            true,
        ));
    }
    // getReferencedRolloutAnalyses: every template is fetched first.
    let mut resolved: Vec<Vec<&AnalysisTemplate>> = Vec::new();
    for (path, a, _) in &analyses {
        let mut templates = Vec::new();
        for r in &a.templates {
            match policy.template(r) {
                Some(t) => templates.push(t),
                None => {
                    let kind = if r.cluster_scope {
                        "ClusterAnalysisTemplate"
                    } else {
                        "AnalysisTemplate"
                    };
                    return invalid(path, &r.name, &format!("{kind} '{}' not found", r.name));
                }
            }
        }
        resolved.push(templates);
    }
    // ValidateAnalysisTemplatesWithType, analysis by analysis.
    let dummy = PodHashes {
        stable: Some("dummy-stable".to_string()),
        latest: "dummy-latest".to_string(),
    };
    for ((path, a, background), templates) in analyses.iter().zip(&resolved) {
        let names: Vec<&str> = templates.iter().map(|t| t.name.as_str()).collect();
        let value = format!("templateNames: [{}]", names.join(" "));
        let args = match build_run_args(&a.args, &dummy) {
            Ok(args) => args,
            Err(e) => return invalid(path, &value, &e.to_string()),
        };
        if let Err(e) = new_run_spec(templates, &args, &[], &[]) {
            return invalid(path, &value, &e.to_string());
        }
        for t in templates {
            if *background {
                for arg in t.spec.args.iter().filter(|x| x.value.is_none()) {
                    if !a.args.iter().any(|r| r.name == arg.name) {
                        return invalid(path, &t.name, &arg.name);
                    }
                }
                continue;
            }
            let placeholders: Vec<Arg> = t
                .spec
                .args
                .iter()
                .map(|x| {
                    Arg::new(
                        x.name.clone(),
                        x.value.clone().unwrap_or_else(|| "dummy-value".to_string()),
                    )
                })
                .collect();
            for m in &t.spec.metrics {
                let checked = resolve_metric_args(m, &placeholders)
                    .map_err(|e| e.to_string())
                    .and_then(|m| validate_metric(&m).map_err(|e| e.to_string()));
                match checked {
                    Err(e) => {
                        return invalid(
                            path,
                            &t.name,
                            &format!("AnalysisTemplate {}: {e}", t.name),
                        );
                    }
                    Ok(c) if c.runs_indefinitely() => {
                        let count = m
                            .count
                            .as_ref()
                            .map_or("<nil>".to_string(), |c| format!("{c:?}"));
                        return invalid(
                            path,
                            &t.name,
                            &format!(
                                "AnalysisTemplate {} has metric {} which runs indefinitely. Invalid value for count: {count}",
                                t.name, m.name
                            ),
                        );
                    }
                    Ok(_) => {}
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{Metric, MetricProvider, PrometheusMetric, TemplateKind, TemplateSpec};

    fn template(name: &str, args: &[&str]) -> AnalysisTemplate {
        let mut m = Metric::new(
            "m",
            MetricProvider {
                prometheus: Some(PrometheusMetric {
                    address: String::new(),
                    query: "up{service=\"{{args.svc}}\"}".into(),
                }),
                ..MetricProvider::default()
            },
        );
        m.success_condition = "result[0] == 1".into();
        AnalysisTemplate {
            name: name.into(),
            kind: TemplateKind::Namespaced,
            spec: TemplateSpec {
                args: args.iter().map(|a| Arg::required(*a)).collect(),
                metrics: vec![m],
                ..TemplateSpec::default()
            },
        }
    }

    fn step(names: &[&str], args: &[(&str, &str)]) -> Step {
        Step::Analysis(AnalysisRef::with_values(names, args))
    }

    #[test]
    fn a_referenced_template_that_does_not_exist_makes_the_spec_invalid() {
        let mut p = Policy::new(
            "p",
            vec![
                Step::SetWeight(5),
                step(&["canary-health"], &[("svc", "x")]),
            ],
        );
        p.templates = vec![template("other", &["svc"])];
        assert_eq!(
            referenced_resources("checkout-service", &p).unwrap(),
            "The Rollout \"checkout-service\" is invalid: spec.strategy.canary.steps[1].analysis.templates: \
             Invalid value: \"canary-health\": AnalysisTemplate 'canary-health' not found"
        );
    }

    #[test]
    fn an_arg_no_one_supplies_makes_the_spec_invalid() {
        let mut p = Policy::new("p", vec![step(&["a"], &[])]);
        p.templates = vec![template("a", &["svc"])];
        let m = referenced_resources("r", &p).unwrap();
        assert!(
            m.ends_with("Invalid value: \"templateNames: [a]\": args.svc was not resolved"),
            "{m}"
        );
    }

    #[test]
    fn a_step_metric_that_runs_forever_makes_the_spec_invalid() {
        let mut t = template("a", &["svc"]);
        t.spec.metrics[0].interval = Some(crate::sim::SimDuration::from_secs(30).into());
        let mut p = Policy::new("p", vec![step(&["a"], &[("svc", "x")])]);
        p.templates = vec![t];
        let m = referenced_resources("r", &p).unwrap();
        assert!(m.contains("which runs indefinitely"), "{m}");
    }

    #[test]
    fn complete_references_validate() {
        let mut p = Policy::new("p", vec![step(&["a"], &[("svc", "x")])]);
        p.templates = vec![template("a", &["svc"])];
        assert_eq!(referenced_resources("r", &p), None);
    }
}
