//! From templates and a rollout's args to a run spec, as Argo builds an
//! AnalysisRun: `BuildArgumentsForRolloutAnalysisRun` (pod-template hashes),
//! `FlattenTemplates` (several templates into one), `MergeArgs` (the
//! rollout's values over the templates' defaults), and at reconcile time
//! `ResolveMetricArgs` (`{{args.name}}` substitution, fasttemplate-style).
//!
//! In: [`AnalysisTemplate`]s, [`RunArg`]s and the pod-template hashes the
//! rollout controller knows. Out: a [`RunSpec`] for
//! [`super::run::AnalysisRun::new`], or an error naming the arg or metric.

use super::template::{
    AnalysisTemplate, Arg, ArgSource, DryRun, HashSource, MeasurementRetention, Metric, RunArg,
    TemplateKind,
};

/// Why args could not be built, merged or substituted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// `MergeArgs`: a template arg has no default and the rollout gave none.
    #[error("args.{name} was not resolved")]
    NotResolved {
        /// The arg.
        name: String,
    },
    /// `ResolveArgs`: an arg reached substitution without a value.
    #[error("argument \"{name}\" was not supplied")]
    NotSupplied {
        /// The arg.
        name: String,
    },
    /// A `{{…}}` placeholder names no known arg.
    #[error("failed to resolve {{{{{tag}}}}}")]
    Unresolved {
        /// The placeholder's content as written.
        tag: String,
    },
    /// A `{{` without its `}}`.
    #[error("cannot find end tag \"}}}}\" in {text:?}")]
    UnclosedTag {
        /// The text.
        text: String,
    },
    /// Two templates give the same arg different values.
    #[error(
        "Argument `{name}` specified multiple times with different values: '{first}', '{second}'"
    )]
    Conflict {
        /// The arg.
        name: String,
        /// The first value.
        first: String,
        /// The second value.
        second: String,
    },
    /// `podTemplateHashValue: Stable` while there is no stable ReplicaSet.
    #[error("arg {name}: no stable ReplicaSet to take podTemplateHashValue Stable from")]
    NoStableHash {
        /// The arg.
        name: String,
    },
}

/// Why templates could not be combined into one run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlattenError {
    /// Two templates define a metric of the same name.
    #[error("two metrics have the same name '{0}'")]
    DuplicateMetric(String),
    /// Two dry-run rules have the same pattern.
    #[error("two Dry-Run metric rules have the same name '{0}'")]
    DuplicateDryRun(String),
    /// Two retention rules have the same pattern.
    #[error("two Measurement Retention metric rules have the same name '{0}'")]
    DuplicateRetention(String),
    /// Args conflict or are missing.
    #[error(transparent)]
    Arg(#[from] ArgError),
}

/// The pod-template hashes the rollout controller resolves
/// `valueFrom.podTemplateHashValue` from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodHashes {
    /// The stable ReplicaSet's hash, if there is a stable ReplicaSet.
    pub stable: Option<String>,
    /// The newest ReplicaSet's hash.
    pub latest: String,
}

/// The spec of one AnalysisRun: the flattened templates with args merged.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunSpec {
    /// Names of the templates it came from, in order (for reports).
    pub templates: Vec<String>,
    /// The metrics, still with `{{args.*}}` placeholders.
    pub metrics: Vec<Metric>,
    /// The args with their values.
    pub args: Vec<Arg>,
    /// Dry-run rules.
    pub dry_run: Vec<DryRun>,
    /// Retention rules.
    pub measurement_retention: Vec<MeasurementRetention>,
}

/// `BuildArgumentsForRolloutAnalysisRun`: gives each rollout arg its value,
/// taking pod-template hashes from `hashes`.
pub fn build_run_args(args: &[RunArg], hashes: &PodHashes) -> Result<Vec<Arg>, ArgError> {
    args.iter()
        .map(|a| {
            let value = match &a.source {
                ArgSource::Value(v) => v.clone(),
                ArgSource::PodTemplateHash(HashSource::Latest) => hashes.latest.clone(),
                ArgSource::PodTemplateHash(HashSource::Stable) => hashes
                    .stable
                    .clone()
                    .ok_or_else(|| ArgError::NoStableHash {
                        name: a.name.clone(),
                    })?,
            };
            Ok(Arg::new(a.name.clone(), value))
        })
        .collect()
}

/// `MergeArgs`: the incoming (rollout) values override the template's; an arg
/// the template declares that ends without a value is an error. Incoming
/// args the template does not declare are dropped.
pub fn merge_args(incoming: &[Arg], template: &[Arg]) -> Result<Vec<Arg>, ArgError> {
    let mut merged = template.to_vec();
    for arg in incoming {
        if let Some(slot) = merged.iter_mut().find(|a| a.name == arg.name)
            && arg.value.is_some()
        {
            slot.value = arg.value.clone();
        }
    }
    if let Some(missing) = merged.iter().find(|a| a.value.is_none()) {
        return Err(ArgError::NotResolved {
            name: missing.name.clone(),
        });
    }
    Ok(merged)
}

/// `FlattenTemplates`: metrics, dry-run and retention rules concatenated
/// (namespaced templates first, then cluster ones, each in the given order)
/// and args merged: the same arg may appear in several templates if its
/// values agree; a value wins over no value.
pub fn flatten_templates(templates: &[&AnalysisTemplate]) -> Result<RunSpec, FlattenError> {
    let ordered: Vec<&AnalysisTemplate> = templates
        .iter()
        .filter(|t| t.kind == TemplateKind::Namespaced)
        .chain(templates.iter().filter(|t| t.kind == TemplateKind::Cluster))
        .copied()
        .collect();
    let mut spec = RunSpec {
        templates: ordered.iter().map(|t| t.name.clone()).collect(),
        ..RunSpec::default()
    };
    for t in &ordered {
        for m in &t.spec.metrics {
            if spec.metrics.iter().any(|x| x.name == m.name) {
                return Err(FlattenError::DuplicateMetric(m.name.clone()));
            }
            spec.metrics.push(m.clone());
        }
    }
    for t in &ordered {
        spec.dry_run.extend(t.spec.dry_run.iter().cloned());
        spec.measurement_retention
            .extend(t.spec.measurement_retention.iter().cloned());
    }
    check_unique_rules(&spec.dry_run, &spec.measurement_retention)?;
    for t in &ordered {
        for arg in &t.spec.args {
            match spec.args.iter_mut().find(|a| a.name == arg.name) {
                None => spec.args.push(arg.clone()),
                Some(prev) => match (&prev.value, &arg.value) {
                    (Some(a), Some(b)) if a != b => {
                        return Err(ArgError::Conflict {
                            name: arg.name.clone(),
                            first: a.clone(),
                            second: b.clone(),
                        }
                        .into());
                    }
                    (None, _) => *prev = arg.clone(),
                    _ => {}
                },
            }
        }
    }
    Ok(spec)
}

fn check_unique_rules(
    dry_run: &[DryRun],
    retention: &[MeasurementRetention],
) -> Result<(), FlattenError> {
    for (i, d) in dry_run.iter().enumerate() {
        if dry_run[..i].iter().any(|x| x.metric_name == d.metric_name) {
            return Err(FlattenError::DuplicateDryRun(d.metric_name.clone()));
        }
    }
    for (i, r) in retention.iter().enumerate() {
        if retention[..i]
            .iter()
            .any(|x| x.metric_name == r.metric_name)
        {
            return Err(FlattenError::DuplicateRetention(r.metric_name.clone()));
        }
    }
    Ok(())
}

/// `NewAnalysisRunFromTemplates`: flattens the templates, merges the
/// rollout's args over theirs, and adds the rollout's own dry-run and
/// retention rules ahead of the templates'.
pub fn new_run_spec(
    templates: &[&AnalysisTemplate],
    args: &[Arg],
    dry_run: &[DryRun],
    measurement_retention: &[MeasurementRetention],
) -> Result<RunSpec, FlattenError> {
    let mut spec = flatten_templates(templates)?;
    spec.args = merge_args(args, &spec.args)?;
    spec.dry_run = dry_run.iter().cloned().chain(spec.dry_run).collect();
    spec.measurement_retention = measurement_retention
        .iter()
        .cloned()
        .chain(spec.measurement_retention)
        .collect();
    check_unique_rules(&spec.dry_run, &spec.measurement_retention)?;
    Ok(spec)
}

/// Replaces every `{{args.name}}` (spaces inside the braces allowed) in
/// `text`. Any other `{{…}}` is an error, as in Argo's fasttemplate.
pub fn substitute(text: &str, args: &[Arg]) -> Result<String, ArgError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut unresolved: Option<ArgError> = None;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(ArgError::UnclosedTag {
                text: text.to_string(),
            });
        };
        let tag = &after[..close];
        let value = tag
            .trim()
            .strip_prefix("args.")
            .and_then(|name| args.iter().find(|a| a.name == name))
            .and_then(|a| a.value.as_deref());
        match value {
            Some(v) => out.push_str(v),
            // Argo keeps going and reports the last unresolved tag.
            None => {
                unresolved = Some(ArgError::Unresolved {
                    tag: tag.to_string(),
                })
            }
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    match unresolved {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// `ResolveMetricArgs`: substitutes the args into every string of a metric.
/// Every arg must have a value, used or not.
pub fn resolve_metric_args(metric: &Metric, args: &[Arg]) -> Result<Metric, ArgError> {
    if let Some(a) = args.iter().find(|a| a.value.is_none()) {
        return Err(ArgError::NotSupplied {
            name: a.name.clone(),
        });
    }
    let mut resolved = metric.clone();
    for s in resolved.strings_mut() {
        if s.contains("{{") {
            *s = substitute(s, args)?;
        }
    }
    Ok(resolved)
}

/// The names of the args a metric refers to, in order of first use (for lint).
pub fn referenced_args(metric: &Metric) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for s in metric.strings() {
        let mut rest = s;
        while let Some(open) = rest.find("{{") {
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else { break };
            if let Some(name) = after[..close].trim().strip_prefix("args.")
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_string());
            }
            rest = &after[close + 2..];
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::template::{MetricProvider, PrometheusMetric, TemplateSpec};

    fn prom(name: &str, query: &str) -> Metric {
        Metric::new(
            name,
            MetricProvider {
                prometheus: Some(PrometheusMetric {
                    address: String::new(),
                    query: query.into(),
                }),
                ..MetricProvider::default()
            },
        )
    }

    fn template(
        name: &str,
        kind: TemplateKind,
        args: Vec<Arg>,
        metrics: Vec<Metric>,
    ) -> AnalysisTemplate {
        AnalysisTemplate {
            name: name.into(),
            kind,
            spec: TemplateSpec {
                args,
                metrics,
                ..TemplateSpec::default()
            },
        }
    }

    #[test]
    fn substitution_replaces_args_and_trims_spaces_in_tags() {
        let args = [Arg::new("svc", "checkout-canary")];
        assert_eq!(
            substitute("up{service=\"{{args.svc}}\",x=\"{{ args.svc }}\"}", &args),
            Ok("up{service=\"checkout-canary\",x=\"checkout-canary\"}".to_string())
        );
    }

    #[test]
    fn unknown_placeholder_is_an_error() {
        let args = [Arg::new("svc", "a")];
        assert_eq!(
            substitute("{{args.other}}", &args),
            Err(ArgError::Unresolved {
                tag: "args.other".into()
            })
        );
        assert_eq!(
            substitute("{{args.other}}", &args).unwrap_err().to_string(),
            "failed to resolve {{args.other}}"
        );
        assert!(matches!(
            substitute("{{args.svc", &args),
            Err(ArgError::UnclosedTag { .. })
        ));
    }

    #[test]
    fn resolve_needs_every_arg_supplied_even_unused_ones() {
        let m = prom("m", "up");
        let e = resolve_metric_args(&m, &[Arg::required("x")]).unwrap_err();
        assert_eq!(e.to_string(), "argument \"x\" was not supplied");
    }

    #[test]
    fn resolve_substitutes_in_every_string_field() {
        let mut m = prom("{{args.n}}-rate", "q{s=\"{{args.s}}\"}");
        m.success_condition = "result[0] < {{args.t}}".into();
        m.count = Some(crate::analysis::template::Templated::Text(
            "{{args.c}}".into(),
        ));
        let args = [
            Arg::new("n", "error"),
            Arg::new("s", "svc"),
            Arg::new("t", "0.01"),
            Arg::new("c", "5"),
        ];
        let r = resolve_metric_args(&m, &args).unwrap();
        assert_eq!(r.name, "error-rate");
        assert_eq!(r.provider.prometheus.unwrap().query, "q{s=\"svc\"}");
        assert_eq!(r.success_condition, "result[0] < 0.01");
        assert_eq!(r.count.unwrap().text(), Some("5"));
        assert_eq!(referenced_args(&m), vec!["n", "t", "c", "s"]);
    }

    #[test]
    fn merge_args_overrides_template_values_and_requires_all() {
        let template_args = [Arg::required("canary-service"), Arg::new("ns", "prod")];
        let merged = merge_args(
            &[
                Arg::new("canary-service", "checkout-canary"),
                Arg::new("unused", "x"),
            ],
            &template_args,
        )
        .unwrap();
        assert_eq!(
            merged,
            vec![
                Arg::new("canary-service", "checkout-canary"),
                Arg::new("ns", "prod")
            ]
        );
        assert_eq!(
            merge_args(&[], &template_args).unwrap_err().to_string(),
            "args.canary-service was not resolved"
        );
    }

    #[test]
    fn flatten_concatenates_metrics_and_refuses_duplicate_names() {
        let a = template("a", TemplateKind::Namespaced, vec![], vec![prom("x", "1")]);
        let b = template("b", TemplateKind::Namespaced, vec![], vec![prom("x", "2")]);
        assert_eq!(
            flatten_templates(&[&a, &b]).unwrap_err(),
            FlattenError::DuplicateMetric("x".into())
        );
    }

    #[test]
    fn flatten_puts_cluster_templates_after_namespaced_ones() {
        let c = template("c", TemplateKind::Cluster, vec![], vec![prom("c", "1")]);
        let n = template("n", TemplateKind::Namespaced, vec![], vec![prom("n", "1")]);
        let spec = flatten_templates(&[&c, &n]).unwrap();
        assert_eq!(spec.templates, vec!["n", "c"]);
        let names: Vec<&str> = spec.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, vec!["n", "c"]);
    }

    #[test]
    fn flatten_merges_args_agreeing_values_and_prefers_a_value() {
        let a = template(
            "a",
            TemplateKind::Namespaced,
            vec![Arg::required("s")],
            vec![prom("a", "1")],
        );
        let b = template(
            "b",
            TemplateKind::Namespaced,
            vec![Arg::new("s", "v")],
            vec![prom("b", "1")],
        );
        let spec = flatten_templates(&[&a, &b]).unwrap();
        assert_eq!(spec.args, vec![Arg::new("s", "v")]);
        let c = template(
            "c",
            TemplateKind::Namespaced,
            vec![Arg::new("s", "w")],
            vec![prom("c", "1")],
        );
        assert_eq!(
            flatten_templates(&[&b, &c]).unwrap_err().to_string(),
            "Argument `s` specified multiple times with different values: 'v', 'w'"
        );
    }

    #[test]
    fn pod_template_hash_args_take_the_rollouts_hashes() {
        let args = [
            RunArg {
                name: "canary-hash".into(),
                source: ArgSource::PodTemplateHash(HashSource::Latest),
            },
            RunArg {
                name: "stable-hash".into(),
                source: ArgSource::PodTemplateHash(HashSource::Stable),
            },
            RunArg {
                name: "svc".into(),
                source: ArgSource::Value("checkout".into()),
            },
        ];
        let hashes = PodHashes {
            stable: Some("6d4f8".into()),
            latest: "7c9b2".into(),
        };
        assert_eq!(
            build_run_args(&args, &hashes).unwrap(),
            vec![
                Arg::new("canary-hash", "7c9b2"),
                Arg::new("stable-hash", "6d4f8"),
                Arg::new("svc", "checkout")
            ]
        );
        let no_stable = PodHashes {
            stable: None,
            latest: "7c9b2".into(),
        };
        assert!(matches!(
            build_run_args(&args, &no_stable),
            Err(ArgError::NoStableHash { .. })
        ));
    }

    #[test]
    fn run_spec_puts_rollout_dry_run_rules_first_and_refuses_duplicates() {
        let mut t = template("t", TemplateKind::Namespaced, vec![], vec![prom("m", "1")]);
        t.spec.dry_run.push(DryRun {
            metric_name: "m".into(),
        });
        let spec = new_run_spec(
            &[&t],
            &[],
            &[DryRun {
                metric_name: ".*".into(),
            }],
            &[],
        )
        .unwrap();
        let names: Vec<&str> = spec
            .dry_run
            .iter()
            .map(|d| d.metric_name.as_str())
            .collect();
        assert_eq!(names, vec![".*", "m"]);
        assert_eq!(
            new_run_spec(
                &[&t],
                &[],
                &[DryRun {
                    metric_name: "m".into()
                }],
                &[]
            )
            .unwrap_err(),
            FlattenError::DuplicateDryRun("m".into())
        );
    }
}
