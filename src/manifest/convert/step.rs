//! Canary steps, and the analysis references of steps and background
//! analysis.
//!
//! In: `strategy.canary.steps` and `strategy.canary.analysis` of a Rollout.
//! Out: [`crate::rollout::policy::Step`]s and
//! [`crate::rollout::policy::AnalysisRef`]s with their [`StepSites`]. A
//! pause duration reads as Argo's `DurationSeconds`; an arg's `fieldRef` is
//! resolved against the Rollout's metadata as Kubernetes' downward API
//! would. Called from [`super::rollout`].

use serde_saphyr::Spanned;

use super::Cx;
use super::template::retention;
use crate::analysis::{ArgSource, DryRun, HashSource, RunArg};
use crate::diag::Location;
use crate::manifest::api::{self, IntOrStr, items, val};
use crate::manifest::{Site, StepSites};
use crate::rollout::policy::{AnalysisRef, CanaryScale, Step, TemplateRef};
use crate::sim::SimDuration;

/// Argo's `InvalidSetWeightMessage` (maxTrafficWeight 100).
const INVALID_SET_WEIGHT: &str = "SetWeight needs to be between 0 and 100";
/// Argo's `InvalidStepMessage`.
/// The most canary pods `setCanaryScale.replicas` may ask for (the
/// scenario's `rollout.replicas` has the same bound).
const MAX_CANARY_REPLICAS: u32 = 1000;

const INVALID_STEP: &str = "Step must have one of the following set: experiment, setWeight, setCanaryScale, plugin or pause";

/// Argo's `RolloutPause.DurationSeconds`: an integer, a string of digits,
/// or a Go duration truncated to whole seconds; -1 when unreadable.
fn pause_seconds(d: &IntOrStr) -> i64 {
    match d {
        IntOrStr::Int(i) => *i,
        IntOrStr::Str(s) => {
            if let Ok(n) = s.parse::<i64>() {
                return n;
            }
            // Go's time.ParseDuration knows no days or weeks.
            if s.contains(['d', 'w']) {
                return -1;
            }
            SimDuration::parse(s).map_or(-1, |d| d.as_millis() as i64 / 1000)
        }
    }
}

pub(super) fn step(
    cx: &mut Cx,
    s: &Spanned<api::Step>,
    routed: bool,
    meta: Option<&api::ObjectMeta>,
) -> (Step, StepSites) {
    let v = &s.value;
    let site = StepSites {
        at: cx.at(s),
        templates: Vec::new(),
        args: Vec::new(),
    };
    let kinds = [
        v.set_weight.as_ref().map(|x| x.referenced),
        v.pause.as_ref().map(|x| x.referenced),
        v.analysis.as_ref().map(|x| x.referenced),
        v.set_canary_scale.as_ref().map(|x| x.referenced),
        v.experiment.as_ref().map(|x| x.referenced),
        v.set_header_route.as_ref().map(|x| x.referenced),
        v.set_mirror_route.as_ref().map(|x| x.referenced),
        v.plugin.as_ref().map(|x| x.referenced),
    ];
    let count = kinds.iter().flatten().count();
    let done_at_once = Step::Pause(Some(SimDuration::ZERO));
    if count != 1 {
        cx.problem(
            site.at.clone(),
            INVALID_STEP,
            "give each step exactly one of them",
        );
        return (done_at_once, site);
    }
    if let Some(w) = &v.set_weight {
        if !(0..=100).contains(&w.value) {
            let at = cx.at(w);
            cx.problem(
                at,
                INVALID_SET_WEIGHT,
                "a weight is a percentage of traffic",
            );
        }
        return (Step::SetWeight(w.value.clamp(0, 100) as u32), site);
    }
    if let Some(p) = &v.pause {
        let step = match &p.value.duration {
            None => Step::Pause(None),
            Some(d) => {
                let secs = pause_seconds(&d.value);
                if secs < 0 {
                    // Argo's message, and why this value earns it.
                    let why = match &d.value {
                        IntOrStr::Int(i) => format!("the pause is {i}s"),
                        IntOrStr::Str(t) if t.contains(['d', 'w']) => format!(
                            "\"{t}\" is not a Go duration (they stop at hours), so Argo reads it as -1"
                        ),
                        IntOrStr::Str(t) => format!(
                            "\"{t}\" is neither whole seconds nor a Go duration, so Argo reads it as -1"
                        ),
                    };
                    let at = cx.at(d);
                    cx.problem(
                        at,
                        format!("Duration needs to be greater than 0: {why}"),
                        "write whole seconds (60) or a Go duration (\"1m\", \"90s\")",
                    );
                }
                let longest = SimDuration::MAX_INPUT.as_millis() as i64 / 1000;
                if secs > longest {
                    let at = cx.at(d);
                    cx.problem(
                        at,
                        format!("a pause of {secs}s is longer than 365d, the longest canarysim simulates"),
                        "a pause without a duration waits for promotion; or give a shorter duration",
                    );
                }
                Step::Pause(Some(SimDuration::from_secs(secs.max(0) as u64)))
            }
        };
        return (step, site);
    }
    if let Some(a) = &v.analysis {
        let a = &a.value;
        let (analysis, mut s2) = analysis_ref(
            cx,
            items(&a.templates),
            items(&a.args),
            items(&a.dry_run),
            items(&a.measurement_retention),
            meta,
        );
        s2.at = site.at;
        return (Step::Analysis(analysis), s2);
    }
    if let Some(sc) = &v.set_canary_scale {
        if !routed {
            cx.problem(
                site.at.clone(),
                "spec.strategy.canary.trafficRouting: Required value: SetCanaryScale requires TrafficRouting to be set",
                "add trafficRouting, or use setWeight",
            );
        }
        let c = &sc.value;
        let scale = if val(&c.match_traffic_weight).copied().unwrap_or(false) {
            CanaryScale::MatchTrafficWeight
        } else if let Some(r) = &c.replicas {
            if !(0..=i64::from(MAX_CANARY_REPLICAS)).contains(&r.value) {
                let at = cx.at(r);
                cx.problem(
                    at,
                    format!(
                        "setCanaryScale.replicas {} is outside 0 to {MAX_CANARY_REPLICAS}",
                        r.value
                    ),
                    "canarysim simulates at most 1000 replicas per version",
                );
            }
            CanaryScale::Replicas(r.value.clamp(0, i64::from(MAX_CANARY_REPLICAS)) as u32)
        } else if let Some(w) = &c.weight {
            CanaryScale::Weight(w.value.clamp(0, 100) as u32)
        } else {
            // Argo sizes an empty setCanaryScale from the traffic weight.
            CanaryScale::MatchTrafficWeight
        };
        return (Step::SetCanaryScale(scale), site);
    }
    if v.experiment.is_some() {
        cx.problem(
            site.at.clone(),
            "experiment steps are not modelled by canarysim",
            "replace the experiment with an analysis step to simulate its gate",
        );
    } else {
        let what = if v.set_header_route.is_some() {
            "setHeaderRoute"
        } else if v.set_mirror_route.is_some() {
            "setMirrorRoute"
        } else {
            "plugin"
        };
        cx.note(
            site.at.clone(),
            format!("{what} steps are not modelled by canarysim; the step completes at once"),
            "the simulation has no header-routed or mirrored traffic",
        );
    }
    (done_at_once, site)
}

pub(super) fn analysis_ref(
    cx: &mut Cx,
    templates: &[Spanned<api::TemplateRef>],
    args: &[Spanned<api::RunArgument>],
    dry_run: &[Spanned<api::DryRun>],
    retention_list: &[Spanned<api::Retention>],
    meta: Option<&api::ObjectMeta>,
) -> (AnalysisRef, StepSites) {
    let mut out = AnalysisRef::default();
    let mut site = StepSites {
        at: Location::start_of(&cx.file.label),
        templates: Vec::new(),
        args: Vec::new(),
    };
    for t in templates {
        let Some(name) = &t.value.template_name else {
            let at = cx.at(t);
            cx.problem(
                at,
                "a template reference has no templateName",
                "name the AnalysisTemplate",
            );
            continue;
        };
        out.templates.push(TemplateRef {
            name: name.value.clone(),
            cluster_scope: val(&t.value.cluster_scope).copied().unwrap_or(false),
        });
        site.templates.push(Site {
            name: name.value.clone(),
            at: cx.at(name),
        });
    }
    for a in args {
        let Some(name) = &a.value.name else {
            let at = cx.at(a);
            cx.problem(at, "an arg has no name", "give every arg a `name`");
            continue;
        };
        let at = cx.at(name);
        let source = match a.value.value_from.as_ref().map(|v| &v.value) {
            Some(vf) if vf.pod_template_hash_value.is_some() => {
                let h = vf.pod_template_hash_value.as_ref().expect("checked");
                match h.value.as_str() {
                    "Latest" => ArgSource::PodTemplateHash(HashSource::Latest),
                    "Stable" => ArgSource::PodTemplateHash(HashSource::Stable),
                    other => {
                        let at = cx.at(h);
                        cx.problem(
                            at,
                            format!("podTemplateHashValue {other:?} is neither Stable nor Latest"),
                            "write podTemplateHashValue: Latest (the canary) or Stable",
                        );
                        ArgSource::Value(String::new())
                    }
                }
            }
            Some(vf) if vf.field_ref.is_some() => {
                let fr = vf.field_ref.as_ref().expect("checked");
                let path = val(&fr.value.field_path).cloned().unwrap_or_default();
                match field_ref(&path, meta) {
                    FieldRef::Value(v) => ArgSource::Value(v),
                    FieldRef::Invalid => {
                        let at = cx.at(fr);
                        cx.problem(
                            at,
                            "Analyses arguments must refer to valid object metadata supported by downwardAPI",
                            "use metadata.name, metadata.namespace, metadata.labels['key'] or metadata.annotations['key']",
                        );
                        ArgSource::Value(String::new())
                    }
                    FieldRef::Unmodelled => {
                        let at = cx.at(fr);
                        cx.note(
                            at,
                            format!(
                                "fieldRef {path} is not modelled by canarysim; the arg is empty"
                            ),
                            "only metadata fields of the Rollout are resolved",
                        );
                        ArgSource::Value(String::new())
                    }
                }
            }
            _ => ArgSource::Value(val(&a.value.value).cloned().unwrap_or_default()),
        };
        out.args.push(RunArg {
            name: name.value.clone(),
            source,
        });
        site.args.push(Site {
            name: name.value.clone(),
            at,
        });
    }
    out.dry_run = dry_run
        .iter()
        .filter_map(|d| val(&d.value.metric_name))
        .map(|n| DryRun {
            metric_name: n.clone(),
        })
        .collect();
    out.measurement_retention = retention(retention_list);
    (out, site)
}

enum FieldRef {
    Value(String),
    Invalid,
    Unmodelled,
}

/// Kubernetes' `ExtractFieldPathAsString` on the Rollout's metadata.
fn field_ref(path: &str, meta: Option<&api::ObjectMeta>) -> FieldRef {
    let Some(rest) = path.strip_prefix("metadata.") else {
        return FieldRef::Unmodelled;
    };
    let get = |m: Option<&Spanned<std::collections::BTreeMap<String, String>>>, key: &str| {
        m.and_then(|m| m.value.get(key))
            .cloned()
            .unwrap_or_default()
    };
    let subscript = |prefix: &str| -> Option<String> {
        let inner = rest
            .strip_prefix(prefix)?
            .strip_prefix('[')?
            .strip_suffix(']')?;
        let key = inner
            .strip_prefix('\'')
            .and_then(|k| k.strip_suffix('\''))
            .or_else(|| inner.strip_prefix('"').and_then(|k| k.strip_suffix('"')))?;
        Some(key.to_string())
    };
    match rest {
        "name" => FieldRef::Value(meta.and_then(|m| val(&m.name)).cloned().unwrap_or_default()),
        "namespace" => FieldRef::Value(
            meta.and_then(|m| val(&m.namespace))
                .cloned()
                .unwrap_or_default(),
        ),
        "uid" => FieldRef::Unmodelled,
        _ => {
            if let Some(k) = subscript("labels") {
                FieldRef::Value(get(meta.and_then(|m| m.labels.as_ref()), &k))
            } else if let Some(k) = subscript("annotations") {
                FieldRef::Value(get(meta.and_then(|m| m.annotations.as_ref()), &k))
            } else {
                FieldRef::Invalid
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_durations_follow_argos_duration_seconds() {
        let s = |t: &str| pause_seconds(&IntOrStr::Str(t.into()));
        assert_eq!(pause_seconds(&IntOrStr::Int(45)), 45);
        assert_eq!(s("90"), 90, "digits are seconds");
        assert_eq!(s("1m30s"), 90);
        assert_eq!(s("2.9s"), 2, "truncated, as int32(d.Seconds())");
        assert_eq!(s("1d"), -1, "Go knows no days");
        assert_eq!(s("soon"), -1);
    }

    #[test]
    fn field_refs_resolve_against_the_rollouts_metadata() {
        let yaml =
            "name: checkout\nnamespace: prod\nlabels: { team: pay }\nannotations: { owner: sre }\n";
        let meta: api::ObjectMeta = serde_saphyr::from_str(yaml).unwrap();
        let get = |p: &str| match field_ref(p, Some(&meta)) {
            FieldRef::Value(v) => Ok(v),
            FieldRef::Invalid => Err("invalid"),
            FieldRef::Unmodelled => Err("unmodelled"),
        };
        assert_eq!(get("metadata.name"), Ok("checkout".into()));
        assert_eq!(get("metadata.namespace"), Ok("prod".into()));
        assert_eq!(get("metadata.labels['team']"), Ok("pay".into()));
        assert_eq!(get("metadata.annotations[\"owner\"]"), Ok("sre".into()));
        assert_eq!(get("metadata.labels['absent']"), Ok(String::new()));
        assert_eq!(get("metadata.generation"), Err("invalid"));
        assert_eq!(get("spec.replicas"), Err("unmodelled"));
    }
}
