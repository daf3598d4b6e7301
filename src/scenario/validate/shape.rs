//! A manifest Rollout compared with the scenario it is simulated in.
//!
//! In: a [`RolloutManifest`] read by `crate::manifest` and a [`ShapeCtx`]
//! holding the scenario's `[rollout]`, `[pod]`, namespace and canary image.
//! Out: one warning [`Diagnostic`] per field where they disagree, located in
//! the YAML (the simulation follows the scenario). Called by
//! [`super::policy`] for a policy's manifests and by
//! `crate::scenario::shape_warnings` for lint.

use crate::diag::Diagnostic;
use crate::manifest::RolloutManifest;
use crate::scenario::model::{PodResources, RolloutShape};

/// What a manifest Rollout is compared with.
pub(crate) struct ShapeCtx<'a> {
    pub(crate) file: &'a str,
    pub(crate) namespace: &'a str,
    pub(crate) rollout: &'a RolloutShape,
    pub(crate) pod: &'a PodResources,
    pub(crate) canary_image: &'a str,
}

/// Where a manifest Rollout disagrees with the scenario's `[rollout]`,
/// `[pod]`, namespace or canary image: the simulation follows the scenario.
pub(crate) fn shape_warnings(r: &RolloutManifest, ctx: &ShapeCtx) -> Vec<Diagnostic> {
    let s = &r.shape;
    let at = |key: &str| {
        r.sites
            .fields
            .get(key)
            .cloned()
            .unwrap_or_else(|| r.sites.at.clone())
    };
    let mut out = Vec::new();
    let mut differ = |key: &str, what: &str, here: String, there: String, table: &str| {
        if here != there {
            out.push(Diagnostic::new(
                at(key),
                format!(
                    "{what} is {here} here but {there} in {} ({table}); the simulation follows the scenario",
                    ctx.file
                ),
                "make the manifest and the scenario agree, so the simulated cluster is the one the policy runs in",
            ));
        }
    };
    differ(
        "name",
        "the Rollout's name",
        s.name.clone(),
        ctx.rollout.name.clone(),
        "[rollout] name",
    );
    if let Some(ns) = &s.namespace {
        differ(
            "namespace",
            "the namespace",
            ns.clone(),
            ctx.namespace.to_string(),
            "namespace",
        );
    }
    differ(
        "replicas",
        "replicas",
        s.replicas.to_string(),
        ctx.rollout.replicas.to_string(),
        "[rollout] replicas",
    );
    let pairs = [
        (
            "canaryService",
            "canaryService",
            &s.canary_service,
            &ctx.rollout.canary_service,
            "[rollout] canary_service",
        ),
        (
            "stableService",
            "stableService",
            &s.stable_service,
            &ctx.rollout.stable_service,
            "[rollout] stable_service",
        ),
        (
            "stableIngress",
            "the nginx stableIngress",
            &s.ingress,
            &ctx.rollout.ingress,
            "[rollout] ingress",
        ),
        (
            "container",
            "the container's name",
            &s.container,
            &ctx.pod.container,
            "[pod] container",
        ),
        (
            "image",
            "the image",
            &s.image,
            &ctx.canary_image.to_string(),
            "[versions.canary] image",
        ),
    ];
    for (key, what, here, there, table) in pairs {
        if let Some(here) = here {
            differ(key, what, here.clone(), there.clone(), table);
        }
    }
    let cpu = |m: u64| format!("{m}m");
    let mem = |b: f64| format!("{:.0}Mi", b / (1024.0 * 1024.0));
    let resources = [
        (
            "requests.cpu",
            "the CPU request",
            s.cpu_request.map(cpu),
            cpu(ctx.pod.cpu_request),
            "[pod] requests.cpu",
        ),
        (
            "limits.cpu",
            "the CPU limit",
            s.cpu_limit.map(cpu),
            cpu(ctx.pod.cpu_limit),
            "[pod] limits.cpu",
        ),
        (
            "requests.memory",
            "the memory request",
            s.memory_request.map(mem),
            mem(ctx.pod.memory_request),
            "[pod] requests.memory",
        ),
        (
            "limits.memory",
            "the memory limit",
            s.memory_limit.map(mem),
            mem(ctx.pod.memory_limit),
            "[pod] limits.memory",
        ),
    ];
    for (key, what, here, there, table) in resources {
        if let Some(here) = here {
            differ(key, what, here, there, table);
        }
    }
    out
}
