//! A Rollout: its pod template, Services and canary strategy.
//!
//! In: a `kind: Rollout` document. Out: a [`RolloutManifest`], which holds
//! the [`crate::rollout::policy::Policy`] its canary strategy describes
//! (steps by [`super::step`]), the [`ManifestShape`] the scenario compares
//! with its own `[rollout]` and `[pod]`, and the [`RolloutSites`]. Argo's
//! validation messages are kept word for word where canarysim checks the
//! same rule.

use serde_saphyr::Spanned;

use super::step::{analysis_ref, step};
use super::{Cx, foreign_spec_fields};
use crate::diag::Location;
use crate::manifest::api::{self, IntOrStr, items, val};
use crate::manifest::{ManifestShape, RolloutManifest, RolloutSites};
use crate::rollout::policy::{BackgroundAnalysis, DEFAULT_SCALE_DOWN_DELAY, Policy};
use crate::rollout::replicas::IntOrPercent;
use crate::scenario::units::{ByteSize, Millicores};
use crate::sim::SimDuration;

pub(super) fn rollout(
    cx: &mut Cx,
    doc: &api::Document,
    start: &Location,
) -> Option<RolloutManifest> {
    let meta = doc.metadata.as_ref().map(|m| &m.value);
    let Some(name) = meta.and_then(|m| m.name.as_ref()) else {
        cx.problem(
            start.clone(),
            "Rollout has no metadata.name",
            "add metadata.name; canary pods are named after it",
        );
        return None;
    };
    if !crate::names::is_dns_subdomain(&name.value) {
        let at = cx.at(name);
        cx.problem(
            at,
            format!(
                "metadata.name {:?} is not a valid Kubernetes name",
                name.value
            ),
            crate::names::DNS_SUBDOMAIN_RULE,
        );
        return None;
    }
    let mut sites = RolloutSites {
        at: cx.at(name),
        steps: Vec::new(),
        background: None,
        fields: Default::default(),
    };
    let mut shape = ManifestShape {
        name: name.value.clone(),
        namespace: meta.and_then(|m| val(&m.namespace)).cloned(),
        replicas: 1,
        ..ManifestShape::default()
    };
    if let Some(ns) = meta.and_then(|m| m.namespace.as_ref()) {
        sites.fields.insert("namespace".into(), cx.at(ns));
    }
    let Some(spec_s) = &doc.spec else {
        cx.problem(
            sites.at.clone(),
            "Rollout has no spec",
            "add spec with replicas, selector, template and strategy.canary",
        );
        return None;
    };
    let spec = &spec_s.value;
    foreign_spec_fields(cx, spec, true, "Rollout");

    if let Some(r) = &spec.replicas {
        sites.fields.insert("replicas".into(), cx.at(r));
        if r.value < 0 {
            let at = cx.at(r);
            cx.problem(
                at,
                format!(
                    "spec.replicas: Invalid value: {}: must be greater than or equal to 0",
                    r.value
                ),
                "give the number of pods, e.g. 5",
            );
        }
        shape.replicas = r.value;
    }
    pod_template(cx, spec, &spec_s.referenced, &mut shape, &mut sites);

    let strategy = spec.strategy.as_ref();
    let canary = strategy.and_then(|s| s.value.canary.as_ref());
    if let Some(bg) = strategy.and_then(|s| s.value.blue_green.as_ref()) {
        let at = cx.at(bg);
        if canary.is_some() {
            cx.problem(
                at,
                "Multiple Strategies can not be listed",
                "keep strategy.canary",
            );
        } else {
            cx.problem(
                at,
                "the blueGreen strategy is not modelled by canarysim",
                "canarysim simulates strategy.canary",
            );
        }
    }
    let Some(canary) = canary else {
        let at = strategy.map_or_else(|| cx.loc(&spec_s.referenced), |s| cx.at(s));
        if strategy.is_none_or(|s| s.value.blue_green.is_none()) {
            cx.problem(
                at,
                "Rollout has missing field '.spec.strategy.canary or .spec.strategy.blueGreen'",
                "add strategy.canary with its steps",
            );
        }
        return None;
    };
    let policy = canary_policy(cx, &name.value, meta, &canary.value, &mut shape, &mut sites);
    let mut policy = policy;
    if let Some(rw) = &spec.rollback_window
        && let Some(rev) = &rw.value.revisions
    {
        policy.rollback_window = Some(rev.value.clamp(0, i64::from(u32::MAX)) as u32);
    }
    Some(RolloutManifest {
        policy,
        shape,
        sites,
    })
}

fn pod_template(
    cx: &mut Cx,
    spec: &api::Spec,
    spec_at: &serde_saphyr::Location,
    shape: &mut ManifestShape,
    sites: &mut RolloutSites,
) {
    let template = spec.template.as_ref();
    let labels = template
        .and_then(|t| t.value.metadata.as_ref())
        .and_then(|m| val(&m.value.labels))
        .cloned()
        .unwrap_or_default();
    match &spec.selector {
        None => {
            let at = cx.loc(spec_at);
            cx.problem(
                at,
                "Rollout has missing field '.spec.selector'",
                "add selector.matchLabels matching the pod template's labels",
            );
        }
        Some(sel) => {
            let wanted = val(&sel.value.match_labels).cloned().unwrap_or_default();
            let at = cx.at(sel);
            if wanted.is_empty() {
                cx.problem(
                    at,
                    "spec.selector: Invalid value: empty selector is invalid for deployment",
                    "add selector.matchLabels matching the pod template's labels",
                );
            } else if wanted.iter().any(|(k, v)| labels.get(k) != Some(v)) {
                cx.problem(
                    at,
                    "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`",
                    "every selector.matchLabels pair must be among spec.template.metadata.labels",
                );
            }
        }
    }
    let containers = template
        .and_then(|t| t.value.spec.as_ref())
        .map_or(&[][..], |s| items(&s.value.containers));
    let Some(c) = containers.first() else {
        let at = template.map_or_else(|| cx.loc(spec_at), |t| cx.at(t));
        cx.problem(
            at,
            "spec.template.spec.containers: Required value",
            "give the pod template the service's container",
        );
        return;
    };
    let c = &c.value;
    if let Some(n) = &c.name {
        sites.fields.insert("container".into(), cx.at(n));
        shape.container = Some(n.value.clone());
    }
    if let Some(i) = &c.image {
        sites.fields.insert("image".into(), cx.at(i));
        shape.image = Some(i.value.clone());
    }
    let res = c.resources.as_ref().map(|r| &r.value);
    for (which, list) in [
        ("requests", res.and_then(|r| r.requests.as_ref())),
        ("limits", res.and_then(|r| r.limits.as_ref())),
    ] {
        let Some(list) = list else { continue };
        if let Some(cpu) = &list.value.cpu {
            let at = cx.at(cpu);
            sites.fields.insert(format!("{which}.cpu"), at.clone());
            match Millicores::parse(&cpu.value.to_string()) {
                Ok(m) if which == "requests" => shape.cpu_request = Some(m.0),
                Ok(m) => shape.cpu_limit = Some(m.0),
                Err(e) => cx.problem(at, e, "write CPU as \"250m\" or \"1\""),
            }
        }
        if let Some(mem) = &list.value.memory {
            let at = cx.at(mem);
            sites.fields.insert(format!("{which}.memory"), at.clone());
            match ByteSize::parse(&mem.value.to_string()) {
                Ok(b) if which == "requests" => shape.memory_request = Some(b.0),
                Ok(b) => shape.memory_limit = Some(b.0),
                Err(e) => cx.problem(at, e, "write memory as \"512Mi\" or \"1Gi\""),
            }
        }
    }
}

fn canary_policy(
    cx: &mut Cx,
    name: &str,
    meta: Option<&api::ObjectMeta>,
    c: &api::Canary,
    shape: &mut ManifestShape,
    sites: &mut RolloutSites,
) -> Policy {
    let routed = c.traffic_routing.is_some();
    if let Some(s) = &c.canary_service {
        sites.fields.insert("canaryService".into(), cx.at(s));
        shape.canary_service = Some(s.value.clone());
    }
    if let Some(s) = &c.stable_service {
        sites.fields.insert("stableService".into(), cx.at(s));
        shape.stable_service = Some(s.value.clone());
    }
    if let Some(tr) = &c.traffic_routing {
        sites.fields.insert("trafficRouting".into(), cx.at(tr));
        if let Some(ing) = tr
            .value
            .nginx
            .as_ref()
            .and_then(|n| n.value.stable_ingress.as_ref())
        {
            sites.fields.insert("stableIngress".into(), cx.at(ing));
            shape.ingress = Some(ing.value.clone());
        }
    }
    let canary_svc = val(&c.canary_service).cloned().unwrap_or_default();
    let stable_svc = val(&c.stable_service).cloned().unwrap_or_default();
    if !canary_svc.is_empty() && canary_svc == stable_svc {
        let at = c
            .stable_service
            .as_ref()
            .map(|s| cx.at(s))
            .unwrap_or_else(|| sites.at.clone());
        cx.problem(
            at,
            "This rollout uses the same service for the stable and canary services, but two different services are required.",
            "give canaryService and stableService different Services",
        );
    }
    if let Some(tr) = &c.traffic_routing {
        for (svc, field) in [
            (&stable_svc, "stableService"),
            (&canary_svc, "canaryService"),
        ] {
            if svc.is_empty() {
                let at = cx.at(tr);
                cx.problem(
                    at,
                    format!(
                        "spec.strategy.canary.{field}: Canary service and Stable service must to be set to use Traffic Routing"
                    ),
                    "name both Services the router splits traffic between",
                );
            }
        }
    }

    let mut steps = Vec::new();
    for s in items(&c.steps) {
        let (step, site) = step(cx, s, routed, meta);
        steps.push(step);
        sites.steps.push(site);
    }
    let mut policy = Policy::new(name, steps);
    policy.source = cx.file.label.clone();
    policy.traffic_routing = routed;
    let mut surge = |v: &Option<Spanned<IntOrStr>>| -> IntOrPercent {
        let Some(v) = v else {
            return IntOrPercent::DEFAULT;
        };
        let read = match &v.value {
            IntOrStr::Int(i) => IntOrPercent::from_int(*i),
            IntOrStr::Str(s) => IntOrPercent::parse(s),
        };
        read.unwrap_or_else(|e| {
            let at = cx.at(v);
            cx.problem(
                at,
                e.to_string(),
                "write a pod count (1) or a percentage (\"25%\")",
            );
            IntOrPercent::DEFAULT
        })
    };
    policy.surge.max_surge = surge(&c.max_surge);
    policy.surge.max_unavailable = surge(&c.max_unavailable);
    if policy.surge.max_surge.is_zero() && policy.surge.max_unavailable.is_zero() {
        let at = c
            .max_surge
            .as_ref()
            .or(c.max_unavailable.as_ref())
            .map_or_else(|| sites.at.clone(), |s| cx.at(s));
        cx.problem(
            at,
            "MaxSurge and MaxUnavailable both can not be zero",
            "let one of them be above 0 so the rollout can make progress",
        );
    }
    let dynamic = val(&c.dynamic_stable_scale).copied().unwrap_or(false);
    policy.dynamic_stable_scale = dynamic;
    if let Some(d) = &c.scale_down_delay_seconds {
        let at = cx.at(d);
        if !routed {
            cx.problem(
                at.clone(),
                "Canary scaleDownDelaySeconds can only be used with traffic routing",
                "remove it, or add trafficRouting",
            );
        } else if dynamic {
            cx.problem(
                at.clone(),
                "Canary dynamicStableScale cannot be used with scaleDownDelaySeconds",
                "keep one of the two",
            );
        }
        match u64::try_from(d.value) {
            Ok(s) => policy.scale_down_delay = SimDuration::from_secs(s),
            Err(_) => cx.problem(
                at,
                "scaleDownDelaySeconds is negative",
                "Argo's default is 30",
            ),
        }
    }
    if dynamic && !routed {
        let at = c
            .dynamic_stable_scale
            .as_ref()
            .map_or_else(|| sites.at.clone(), |s| cx.at(s));
        cx.problem(
            at,
            "Canary dynamicStableScale can only be used with traffic routing",
            "remove it, or add trafficRouting",
        );
    }
    if let Some(d) = &c.abort_scale_down_delay_seconds {
        policy.abort_scale_down_delay_set = true;
        policy.abort_scale_down_delay = match u64::try_from(d.value) {
            Ok(0) => None,
            Ok(s) => Some(SimDuration::from_secs(s)),
            Err(_) => {
                let at = cx.at(d);
                cx.problem(
                    at,
                    "abortScaleDownDelaySeconds is negative",
                    "Argo's default is 30",
                );
                Some(DEFAULT_SCALE_DOWN_DELAY)
            }
        };
    }
    if let Some(m) = &c.min_pods_per_replica_set {
        match u32::try_from(m.value) {
            Ok(n) => policy.min_pods_per_replica_set = (n > 0).then_some(n),
            Err(_) => {
                let at = cx.at(m);
                cx.problem(at, "minPodsPerReplicaSet is negative", "give 1 or more");
            }
        }
    }
    if let Some(bg) = &c.analysis {
        let b = &bg.value;
        let (analysis, mut site) = analysis_ref(
            cx,
            items(&b.templates),
            items(&b.args),
            items(&b.dry_run),
            items(&b.measurement_retention),
            meta,
        );
        site.at = cx.at(bg);
        let starting_step = match &b.starting_step {
            None => 0,
            Some(s) if s.value >= 0 => s.value as usize,
            Some(s) => {
                let at = cx.at(s);
                cx.problem(at, "startingStep is negative", "give a step index, from 0");
                0
            }
        };
        policy.background = Some(BackgroundAnalysis {
            analysis,
            starting_step,
        });
        sites.background = Some(site);
    }
    policy
}
