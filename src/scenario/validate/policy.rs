//! `[[policies]]`: each rollout policy to test, from TOML or the user's YAML.
//!
//! A policy gives its canary steps and strategy in TOML ([`toml_steps`],
//! [`toml_strategy`], [`toml_analysis`]), or names `manifests` whose Rollout
//! gives them (read through the scenario's [`ManifestSource`] into a
//! [`ManifestSet`] by `crate::manifest`). Out: a
//! [`crate::rollout::policy::Policy`] and, for YAML, the
//! [`PolicyManifests`] that lint reads, with [`super::shape`]'s warnings
//! where the Rollout disagrees with the scenario. The `operator` table (the
//! simulated person's panels and alerts) is checked here too.

use super::path::{Path, Result, invalid, located};
use super::shape::{ShapeCtx, shape_warnings};
use crate::analysis::{ArgSource, DryRun, HashSource, MeasurementRetention, RunArg};
use crate::diag::Location;
use crate::manifest::{ManifestSet, SourceFile};
use crate::rollout::policy::{
    Alert, AnalysisRef, CanaryScale, DEFAULT_SCALE_DOWN_DELAY, OperatorConfig, Panel, Policy, Step,
    TemplateRef,
};
use crate::scenario::file::*;
use crate::scenario::{ManifestSource, PolicyManifests};
use crate::sim::SimDuration;

pub(super) fn policy(
    p: &Path,
    index: usize,
    f: &PolicyFile,
    source: Option<&dyn ManifestSource>,
    ctx: &ShapeCtx,
) -> Result<(Policy, Option<PolicyManifests>)> {
    if f.name.trim().is_empty() {
        return Err(invalid(
            &p.key("name"),
            "is empty",
            "name the policy, e.g. \"manual\"",
        ));
    }
    let set = match &f.manifests {
        None => None,
        Some(paths) => Some(read_manifests(p, paths, source)?),
    };
    let mut made = match (&f.steps, &set) {
        (Some(steps), set) => {
            if let Some(set) = set
                && let Some(r) = set.rollouts.first()
            {
                return Err(invalid(
                    &p.key("steps"),
                    format!(
                        "steps are given here and by the Rollout {:?} in {}",
                        r.shape.name, r.sites.at.file
                    ),
                    "give either `steps` (and use the manifests for templates) or a Rollout, not both",
                ));
            }
            let mut made = Policy::new(f.name.clone(), toml_steps(&p.key("steps"), steps)?);
            made.source = format!("{p}");
            if let Some(set) = set {
                made.templates = set.analysis_templates();
                made.warnings = set.notes.clone();
            }
            made.scale_down_delay = match f.scale_down_delay_seconds {
                None => DEFAULT_SCALE_DOWN_DELAY,
                Some(s) if s >= 0 => SimDuration::from_secs(s as u64),
                Some(s) => {
                    return Err(invalid(
                        &p.key("scaleDownDelaySeconds"),
                        format!("{s} is negative"),
                        "Argo's default is 30",
                    ));
                }
            };
            toml_strategy(p, f, &mut made)?;
            made
        }
        (None, Some(set)) => {
            let strategy_keys = [
                (
                    "scaleDownDelaySeconds",
                    f.scale_down_delay_seconds.is_some(),
                ),
                (
                    "abortScaleDownDelaySeconds",
                    f.abort_scale_down_delay_seconds.is_some(),
                ),
                ("trafficRouting", f.traffic_routing.is_some()),
                ("maxSurge", f.max_surge.is_some()),
                ("maxUnavailable", f.max_unavailable.is_some()),
                ("dynamicStableScale", f.dynamic_stable_scale.is_some()),
                ("minPodsPerReplicaSet", f.min_pods_per_replica_set.is_some()),
                ("rollbackWindow", f.rollback_window.is_some()),
                ("analysis", f.analysis.is_some()),
            ];
            if let Some((key, _)) = strategy_keys.iter().find(|(_, given)| *given) {
                return Err(invalid(
                    &p.key(key),
                    "comes from the Rollout in the manifests",
                    format!(
                        "set it in the Rollout's YAML (spec.strategy.canary.{key}, or spec.{key} for rollbackWindow)"
                    ),
                ));
            }
            let at = Location {
                file: ctx.file.to_string(),
                line: 1,
                column: 1,
            };
            let mut made = set.policy(&at).map_err(located)?;
            made.source = f.manifests.as_deref().unwrap_or_default().join(", ");
            made
        }
        (None, None) => {
            return Err(invalid(
                p,
                "has neither `steps` nor `manifests`",
                "give the canary steps, or manifests = [\"dir/\"] holding the Rollout's YAML",
            ));
        }
    };
    made.name = f.name.clone();
    made.description = f.description.clone();
    made.operator = operator(&p.key("operator"), &f.operator)?;
    let from_yaml = set.map(|set| {
        let shape_warnings = set
            .rollouts
            .first()
            .map(|r| shape_warnings(r, ctx))
            .unwrap_or_default();
        made.warnings.extend(shape_warnings.iter().cloned());
        PolicyManifests {
            policy: f.name.clone(),
            index,
            paths: f.manifests.clone().unwrap_or_default(),
            set,
            shape_warnings,
        }
    });
    Ok((made, from_yaml))
}

fn read_manifests(
    p: &Path,
    paths: &[String],
    source: Option<&dyn ManifestSource>,
) -> Result<ManifestSet> {
    let mp = p.key("manifests");
    let Some(source) = source else {
        return Err(invalid(
            &mp,
            "manifests are read relative to the scenario file, which is not known here",
            "load the scenario with canarysim::scenario::load_file (as `canarysim run` does)",
        ));
    };
    if paths.is_empty() {
        return Err(invalid(
            &mp,
            "is empty",
            "list YAML files or directories, e.g. [\"argo/hardened/\"]",
        ));
    }
    let mut files: Vec<SourceFile> = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let read = source
            .read(path)
            .map_err(|d| invalid(&mp.index(i), d.message, d.hint))?;
        for file in read {
            if !files.iter().any(|f| f.label == file.label) {
                files.push(file);
            }
        }
    }
    let set = crate::manifest::load(files).map_err(|e| located(e.0))?;
    if let Some(first) = set.problems.first() {
        return Err(located(first.clone()));
    }
    Ok(set)
}

fn toml_steps(sp: &Path, steps: &[StepFile]) -> Result<Vec<Step>> {
    let mut out = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let step = match s {
            StepFile::SetWeight(w) => {
                if !(0..=100).contains(w) {
                    return Err(invalid(
                        &sp.index(i),
                        format!("setWeight {w} is outside 0..100"),
                        "a weight is a percentage of traffic",
                    ));
                }
                Step::SetWeight(*w as u32)
            }
            StepFile::Pause(pf) => Step::Pause(pf.duration.map(|d| d.0)),
            StepFile::Analysis(a) => {
                let ap = sp.index(i).key("analysis");
                if a.starting_step.is_some() {
                    return Err(invalid(
                        &ap.key("startingStep"),
                        "belongs to the background analysis, not to a step",
                        "move it to the policy's `analysis` table, or remove it",
                    ));
                }
                Step::Analysis(toml_analysis(&ap, a)?)
            }
            StepFile::SetCanaryScale(c) => {
                let cp = sp.index(i).key("setCanaryScale");
                let count = usize::from(c.replicas.is_some())
                    + usize::from(c.weight.is_some())
                    + usize::from(c.match_traffic_weight.is_some());
                if count != 1 {
                    return Err(invalid(
                        &cp,
                        "needs exactly one of replicas, weight and matchTrafficWeight",
                        "e.g. { setCanaryScale = { replicas = 2 } }",
                    ));
                }
                let scale = match (c.replicas, c.weight, c.match_traffic_weight) {
                    (Some(r), _, _) if (0..=1000).contains(&r) => CanaryScale::Replicas(r as u32),
                    (Some(r), _, _) => {
                        return Err(invalid(
                            &cp.key("replicas"),
                            format!("{r} replicas is not possible here"),
                            "give a whole number from 0 to 1000",
                        ));
                    }
                    (_, Some(w), _) if (0..=100).contains(&w) => CanaryScale::Weight(w as u32),
                    (_, Some(w), _) => {
                        return Err(invalid(
                            &cp.key("weight"),
                            format!("weight {w} is outside 0..100"),
                            "a weight is a percentage",
                        ));
                    }
                    _ => CanaryScale::MatchTrafficWeight,
                };
                Step::SetCanaryScale(scale)
            }
        };
        out.push(step);
    }
    Ok(out)
}

/// The canary strategy's fields written in TOML (a policy without a Rollout).
fn toml_strategy(p: &Path, f: &PolicyFile, made: &mut Policy) -> Result<()> {
    use crate::rollout::policy::BackgroundAnalysis;
    use crate::rollout::replicas::{IntOrPercent, SurgeLimits};
    if let Some(t) = f.traffic_routing {
        made.traffic_routing = t;
    }
    if let Some(d) = f.dynamic_stable_scale {
        made.dynamic_stable_scale = d;
    }
    made.abort_scale_down_delay_set = f.abort_scale_down_delay_seconds.is_some();
    made.abort_scale_down_delay = match f.abort_scale_down_delay_seconds {
        None => Some(DEFAULT_SCALE_DOWN_DELAY),
        Some(0) => None,
        Some(s) if s > 0 => Some(SimDuration::from_secs(s as u64)),
        Some(s) => {
            return Err(invalid(
                &p.key("abortScaleDownDelaySeconds"),
                format!("{s} is negative"),
                "Argo's default is 30; 0 keeps the aborted canary up",
            ));
        }
    };
    if let Some(m) = f.min_pods_per_replica_set {
        if m < 1 {
            return Err(invalid(
                &p.key("minPodsPerReplicaSet"),
                format!("{m} is below 1"),
                "give 1 or more pods",
            ));
        }
        made.min_pods_per_replica_set = Some(m as u32);
    }
    if let Some(w) = &f.rollback_window {
        if w.revisions < 0 {
            return Err(invalid(
                &p.key("rollbackWindow").key("revisions"),
                "is negative",
                "e.g. 3",
            ));
        }
        made.rollback_window = Some(w.revisions as u32);
    }
    let int_or_percent = |key: &str, v: &Option<toml::Value>| -> Result<Option<IntOrPercent>> {
        let parsed = match v {
            None => return Ok(None),
            Some(toml::Value::Integer(i)) => IntOrPercent::from_int(*i),
            Some(toml::Value::String(s)) => IntOrPercent::parse(s),
            Some(_) => {
                return Err(invalid(
                    &p.key(key),
                    "must be a whole number or a percentage",
                    "e.g. 1 or \"25%\"",
                ));
            }
        };
        parsed
            .map(Some)
            .map_err(|e| invalid(&p.key(key), e.to_string(), "e.g. 1 or \"25%\""))
    };
    let surge = int_or_percent("maxSurge", &f.max_surge)?;
    let unavailable = int_or_percent("maxUnavailable", &f.max_unavailable)?;
    if surge.is_some() || unavailable.is_some() {
        let d = SurgeLimits::default();
        made.surge = SurgeLimits::new(
            surge.unwrap_or(d.max_surge),
            unavailable.unwrap_or(d.max_unavailable),
        )
        .map_err(|e| {
            invalid(
                &p.key("maxSurge"),
                e.to_string(),
                "maxSurge and maxUnavailable cannot both be 0",
            )
        })?;
    }
    if let Some(bg) = &f.analysis {
        let bp = p.key("analysis");
        let starting_step = match bg.starting_step {
            None => 0,
            Some(s) if s >= 0 => s as usize,
            Some(s) => {
                return Err(invalid(
                    &bp.key("startingStep"),
                    format!("{s} is negative"),
                    "a step index, from 0",
                ));
            }
        };
        made.background = Some(BackgroundAnalysis {
            analysis: toml_analysis(&bp, bg)?,
            starting_step,
        });
    }
    Ok(())
}

fn toml_analysis(ap: &Path, a: &AnalysisStepFile) -> Result<AnalysisRef> {
    if a.templates.is_empty() {
        return Err(invalid(
            &ap.key("templates"),
            "is empty",
            "name at least one template: templates = [ { templateName = \"x\" } ]",
        ));
    }
    let mut args = Vec::new();
    for (i, arg) in a.args.iter().enumerate() {
        let source = match &arg.value_from {
            Some(vf) => match vf.pod_template_hash_value.as_str() {
                "Latest" => ArgSource::PodTemplateHash(HashSource::Latest),
                "Stable" => ArgSource::PodTemplateHash(HashSource::Stable),
                other => {
                    return Err(invalid(
                        &ap.key("args")
                            .index(i)
                            .key("valueFrom")
                            .key("podTemplateHashValue"),
                        format!("{other:?} is neither Stable nor Latest"),
                        "write podTemplateHashValue = \"Latest\" (the canary) or \"Stable\"",
                    ));
                }
            },
            None => ArgSource::Value(arg.value.clone().unwrap_or_default()),
        };
        args.push(RunArg {
            name: arg.name.clone(),
            source,
        });
    }
    Ok(AnalysisRef {
        templates: a
            .templates
            .iter()
            .map(|t| TemplateRef {
                name: t.template_name.clone(),
                cluster_scope: t.cluster_scope.unwrap_or(false),
            })
            .collect(),
        args,
        dry_run: a
            .dry_run
            .iter()
            .map(|d| DryRun {
                metric_name: d.metric_name.clone(),
            })
            .collect(),
        measurement_retention: a
            .measurement_retention
            .iter()
            .map(|r| MeasurementRetention {
                metric_name: r.metric_name.clone(),
                limit: r.limit.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
            })
            .collect(),
    })
}

fn operator(p: &Path, f: &OperatorFile) -> Result<OperatorConfig> {
    let parse = |path: &Path, q: &str| {
        crate::promql::Query::parse(q).map(|_| ()).map_err(|e| {
            invalid(
                path,
                format!("PromQL does not parse: {e}"),
                "fix the query; `canarysim query` evaluates one against a run",
            )
        })
    };
    let mut panels = Vec::new();
    for (i, panel) in f.panels.iter().enumerate() {
        let pp = p.key("panels").index(i);
        parse(&pp.key("query"), &panel.query)?;
        if !panel.above.is_finite() {
            return Err(invalid(
                &pp.key("above"),
                "must be a number",
                "the line past which the panel looks wrong",
            ));
        }
        panels.push(Panel {
            name: panel.name.clone(),
            query: panel.query.clone(),
            above: panel.above,
        });
    }
    let mut alerts = Vec::new();
    for (i, a) in f.alerts.iter().enumerate() {
        let ap = p.key("alerts").index(i);
        parse(&ap.key("expr"), &a.expr)?;
        alerts.push(Alert {
            name: a.name.clone(),
            expr: a.expr.clone(),
            for_: a.for_.map_or(SimDuration::ZERO, |d| d.0),
        });
    }
    if let Some(look) = f.look_every
        && look.0 < SimDuration::from_secs(1)
    {
        return Err(invalid(
            &p.key("look_every"),
            format!(
                "looking every {} is more often than canarysim simulates (once a second)",
                look.0
            ),
            "a person looks at dashboards every minute or so; e.g. \"1m\"",
        ));
    }
    Ok(OperatorConfig {
        promote_after: f.promote_after.map(|d| d.0),
        look_every: f.look_every.map(|d| d.0),
        panels,
        reaction: f.reaction.map_or(SimDuration::ZERO, |d| d.0),
        page_on_oom: f.page_on_oom,
        alerts,
        respond_after: f.respond_after.map(|d| d.0),
    })
}
