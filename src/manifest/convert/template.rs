//! AnalysisTemplates and ClusterAnalysisTemplates: args, metrics and the
//! values Argo lets a template leave to its args (`{{args.x}}`).
//!
//! In: a document of either kind. Out: a [`TemplateManifest`], the
//! [`crate::analysis::AnalysisTemplate`] with the [`TemplateSites`] of its
//! args and metrics. A metric's provider is read by [`super::provider`];
//! [`retention`] serves [`super::step`]'s analysis references too.

use serde_saphyr::Spanned;

use super::{Cx, foreign_spec_fields};
use crate::analysis::{
    AnalysisTemplate, Arg, DryRun, MeasurementRetention, Metric, MetricProvider, TemplateKind,
    TemplateSpec, Templated,
};
use crate::diag::Location;
use crate::manifest::api::{self, IntOrStr, items, val};
use crate::manifest::{MetricSites, Site, TemplateManifest, TemplateSites};
use crate::sim::SimDuration;

fn templated_int(v: &IntOrStr) -> Templated<i64> {
    match v {
        IntOrStr::Int(i) => Templated::Value(*i),
        IntOrStr::Str(s) => Templated::Text(s.clone()),
    }
}

pub(super) fn templated_duration(s: &str) -> Option<Templated<SimDuration>> {
    (!s.is_empty()).then(|| Templated::Text(s.to_string()))
}

pub(super) fn template(
    cx: &mut Cx,
    doc: &api::Document,
    kind: TemplateKind,
    start: &Location,
) -> Option<TemplateManifest> {
    let kind_name = doc.kind().to_string();
    let Some(name) = doc.metadata.as_ref().and_then(|m| m.value.name.as_ref()) else {
        cx.problem(
            start.clone(),
            format!("{kind_name} has no metadata.name"),
            "rollouts reference templates by name; add metadata.name",
        );
        return None;
    };
    let at = cx.at(name);
    if !crate::names::is_dns_subdomain(&name.value) {
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
    let empty = api::Spec::default();
    let spec = doc.spec.as_ref().map_or(&empty, |s| &s.value);
    foreign_spec_fields(cx, spec, false, &kind_name);

    let mut args = Vec::new();
    let mut arg_sites = Vec::new();
    for a in items(&spec.args) {
        let Some(n) = &a.value.name else {
            let at = cx.at(a);
            cx.problem(at, "an arg has no name", "give every arg a `name`");
            continue;
        };
        let value = match (&a.value.value, &a.value.value_from) {
            (Some(v), _) => Some(v.value.clone()),
            (None, Some(vf)) => {
                let at = cx.at(vf);
                cx.note(
                    at,
                    format!(
                        "valueFrom of arg {} is not modelled by canarysim; the arg gets a placeholder value",
                        n.value
                    ),
                    "secrets and field references do not exist in the simulation",
                );
                Some(format!("valueFrom-{}", n.value))
            }
            (None, None) => None,
        };
        args.push(Arg {
            name: n.value.clone(),
            value,
        });
        arg_sites.push(Site {
            name: n.value.clone(),
            at: cx.at(n),
        });
    }

    let mut metrics = Vec::new();
    let mut metric_sites = Vec::new();
    for m in items(&spec.metrics) {
        let (metric, sites) = metric(cx, m);
        metrics.push(metric);
        metric_sites.push(sites);
    }
    let dry_run = items(&spec.dry_run)
        .iter()
        .filter_map(|d| val(&d.value.metric_name))
        .map(|n| DryRun {
            metric_name: n.clone(),
        })
        .collect();
    let measurement_retention = retention(items(&spec.measurement_retention));
    Some(TemplateManifest {
        template: AnalysisTemplate {
            name: name.value.clone(),
            kind,
            spec: TemplateSpec {
                args,
                metrics,
                dry_run,
                measurement_retention,
            },
        },
        sites: TemplateSites {
            at,
            args: arg_sites,
            metrics: metric_sites,
        },
    })
}

pub(super) fn retention(list: &[Spanned<api::Retention>]) -> Vec<MeasurementRetention> {
    list.iter()
        .filter_map(|r| {
            val(&r.value.metric_name).map(|n| MeasurementRetention {
                metric_name: n.clone(),
                limit: val(&r.value.limit)
                    .copied()
                    .unwrap_or(0)
                    .clamp(i32::MIN as i64, i32::MAX as i64) as i32,
            })
        })
        .collect()
}

fn metric(cx: &mut Cx, m: &Spanned<api::Metric>) -> (Metric, MetricSites) {
    let mv = &m.value;
    let mut sites = MetricSites::default();
    let name = match &mv.name {
        Some(n) => {
            sites.at = Some(cx.at(n));
            n.value.clone()
        }
        None => {
            let at = cx.at(m);
            sites.at = Some(at.clone());
            cx.problem(
                at,
                "a metric has no name",
                "give every metric a unique `name`",
            );
            String::new()
        }
    };
    sites.name = name.clone();
    let mut field = |key: &str, at: Option<serde_saphyr::Location>| {
        if let Some(at) = at {
            sites.fields.insert(key.to_string(), cx.loc(&at));
        }
    };
    field("name", mv.name.as_ref().map(|s| s.referenced));
    field("interval", mv.interval.as_ref().map(|s| s.referenced));
    field(
        "initialDelay",
        mv.initial_delay.as_ref().map(|s| s.referenced),
    );
    field("count", mv.count.as_ref().map(|s| s.referenced));
    field(
        "failureLimit",
        mv.failure_limit.as_ref().map(|s| s.referenced),
    );
    field(
        "inconclusiveLimit",
        mv.inconclusive_limit.as_ref().map(|s| s.referenced),
    );
    field(
        "consecutiveErrorLimit",
        mv.consecutive_error_limit.as_ref().map(|s| s.referenced),
    );
    field(
        "consecutiveSuccessLimit",
        mv.consecutive_success_limit.as_ref().map(|s| s.referenced),
    );
    field("provider", mv.provider.as_ref().map(|s| s.referenced));
    sites.success_condition = mv.success_condition.as_ref().map(|s| cx.text_site(s));
    sites.failure_condition = mv.failure_condition.as_ref().map(|s| cx.text_site(s));
    if let Some(s) = &sites.success_condition {
        sites.fields.insert("successCondition".into(), s.at.clone());
    }
    if let Some(s) = &sites.failure_condition {
        sites.fields.insert("failureCondition".into(), s.at.clone());
    }

    let mut metric = Metric {
        name,
        interval: val(&mv.interval).and_then(|s| templated_duration(s)),
        initial_delay: val(&mv.initial_delay).and_then(|s| templated_duration(s)),
        count: val(&mv.count).map(templated_int),
        success_condition: val(&mv.success_condition).cloned().unwrap_or_default(),
        failure_condition: val(&mv.failure_condition).cloned().unwrap_or_default(),
        failure_limit: val(&mv.failure_limit).map(templated_int),
        inconclusive_limit: val(&mv.inconclusive_limit).map(templated_int),
        consecutive_error_limit: val(&mv.consecutive_error_limit).map(templated_int),
        consecutive_success_limit: val(&mv.consecutive_success_limit).map(templated_int),
        provider: MetricProvider::default(),
    };
    if let Some(p) = &mv.provider {
        metric.provider = super::provider::provider(cx, &p.value, &mut sites);
    }
    (metric, sites)
}
