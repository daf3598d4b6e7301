//! A metric's provider: what canarysim measures with, and where it stands.
//!
//! In: the `provider` of a template metric. Out: a
//! [`crate::analysis::MetricProvider`] with its prometheus query, Locust
//! Job or judge (Kayenta-style) comparison, and their sites in the
//! metric's [`MetricSites`]. Every other provider Argo knows is a problem:
//! canarysim cannot measure with it. Called from [`super::template`].

use serde_saphyr::Spanned;

use super::Cx;
use super::template::templated_duration;
use crate::analysis::{JobMetric, JudgeMetric, MetricProvider, PrometheusMetric};
use crate::judge::MetricConfig;
use crate::manifest::MetricSites;
use crate::manifest::api::{self, items, val};

pub(super) fn provider(cx: &mut Cx, p: &api::Provider, sites: &mut MetricSites) -> MetricProvider {
    let mut out = MetricProvider::default();
    let unmodelled = [
        ("kayenta", &p.kayenta),
        ("web", &p.web),
        ("datadog", &p.datadog),
        ("wavefront", &p.wavefront),
        ("newRelic", &p.new_relic),
        ("cloudWatch", &p.cloud_watch),
        ("graphite", &p.graphite),
        ("influxdb", &p.influxdb),
        ("skywalking", &p.skywalking),
        ("plugin", &p.plugin),
    ];
    for (name, present) in unmodelled {
        if let Some(x) = present {
            let at = cx.at(x);
            sites.fields.insert(format!("provider.{name}"), at.clone());
            cx.problem(
                at,
                format!("metric {}: the {name} provider is not modelled by canarysim", sites.name),
                "canarysim measures with prometheus (PromQL on the simulated series), job (a Locust Job) or judge",
            );
        }
    }
    if let Some(prom) = &p.prometheus {
        sites
            .fields
            .insert("provider.prometheus".into(), cx.at(prom));
        sites.query = prom.value.query.as_ref().map(|q| cx.text_site(q));
        out.prometheus = Some(PrometheusMetric {
            address: val(&prom.value.address).cloned().unwrap_or_default(),
            query: val(&prom.value.query).cloned().unwrap_or_default(),
        });
    }
    if let Some(job) = &p.job {
        sites.fields.insert("provider.job".into(), cx.at(job));
        out.job = Some(job_metric(cx, job, sites));
    }
    if let Some(judge) = &p.judge {
        sites.fields.insert("provider.judge".into(), cx.at(judge));
        out.judge = Some(judge_metric(cx, &judge.value, sites));
    }
    out
}

fn job_metric(cx: &mut Cx, job: &Spanned<api::Job>, sites: &mut MetricSites) -> JobMetric {
    let spec = job.value.spec.as_ref().map(|s| &s.value);
    let backoff_limit = spec
        .and_then(|s| val(&s.backoff_limit))
        .map(|b| (*b).clamp(i32::MIN as i64, i32::MAX as i64) as i32);
    let containers = spec
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.value.spec.as_ref())
        .map_or(&[][..], |p| items(&p.value.containers));
    let mut out = JobMetric {
        backoff_limit,
        ..JobMetric::default()
    };
    let Some(first) = containers.first() else {
        let at = cx.at(job);
        sites.job_command = Some(at.clone());
        cx.problem(
            at,
            format!("metric {}: the Job has no container", sites.name),
            "give spec.template.spec.containers one container that runs Locust",
        );
        return out;
    };
    for extra in &containers[1..] {
        let at = cx.at(extra);
        cx.note(
            at,
            "containers after the Job's first are not modelled by canarysim",
            "the first container is run as the Locust job",
        );
    }
    let c = &first.value;
    out.image = val(&c.image).cloned().unwrap_or_default();
    out.env = items(&c.env)
        .iter()
        .filter_map(|e| {
            let name = val(&e.value.name)?;
            Some((
                name.clone(),
                val(&e.value.value).cloned().unwrap_or_default(),
            ))
        })
        .collect();
    out.command = items(&c.command)
        .iter()
        .chain(items(&c.args))
        .map(|s| s.value.clone())
        .collect();
    sites.job_command = Some(
        c.command
            .as_ref()
            .map(|s| cx.at(s))
            .or_else(|| c.args.as_ref().map(|s| cx.at(s)))
            .unwrap_or_else(|| cx.at(first)),
    );
    out
}

fn judge_metric(cx: &mut Cx, j: &api::Judge, sites: &mut MetricSites) -> JudgeMetric {
    sites.canary_query = j.canary_query.as_ref().map(|q| cx.text_site(q));
    sites.baseline_query = j.baseline_query.as_ref().map(|q| cx.text_site(q));
    if let Some(l) = &j.lookback {
        sites
            .fields
            .insert("provider.judge.lookback".into(), cx.at(l));
    }
    if let Some(s) = &j.step {
        sites.fields.insert("provider.judge.step".into(), cx.at(s));
    }
    let mut config = MetricConfig::default();
    if let Some(v) = val(&j.direction) {
        config.direction = *v;
    }
    if let Some(v) = val(&j.nan_strategy) {
        config.nan_strategy = *v;
    }
    if let Some(v) = val(&j.outliers) {
        config.outliers = *v;
    }
    if let Some(v) = val(&j.critical) {
        config.critical = *v;
    }
    if let Some(v) = val(&j.must_have_data) {
        config.must_have_data = *v;
    }
    if let Some(v) = val(&j.muted) {
        config.muted = *v;
    }
    if let Some(v) = val(&j.effect_size) {
        config.effect_size = *v;
    }
    if let Some(v) = val(&j.confidence_level) {
        config.confidence_level = *v;
    }
    if let Some(v) = val(&j.tolerance) {
        config.tolerance = *v;
    }
    JudgeMetric {
        canary_query: val(&j.canary_query).cloned().unwrap_or_default(),
        baseline_query: val(&j.baseline_query).cloned().unwrap_or_default(),
        lookback: val(&j.lookback).and_then(|s| templated_duration(s)),
        step: val(&j.step).and_then(|s| templated_duration(s)),
        config,
    }
}
