//! From the YAML structs of [`super::api`] to the crate's model, with the
//! location of every part that lint or a runtime error may point at.
//!
//! Nothing here fails: a value canarysim cannot take is a *problem* (Argo's
//! validation would reject it, or canarysim does not model it) and a field it
//! does not read is a *note*; both go into the [`ManifestSet`] with their
//! file, line and column.

use serde_saphyr::Spanned;

use super::api::{self, IntOrStr, Unread, Walk, items, val};
use super::{
    ManifestSet, ManifestShape, MetricSites, RolloutManifest, RolloutSites, Site, SourceFile,
    StepSites, TemplateManifest, TemplateSites, TextSite, offset_of,
};
use crate::analysis::{
    AnalysisTemplate, Arg, ArgSource, DryRun, HashSource, JobMetric, JudgeMetric,
    MeasurementRetention, Metric, MetricProvider, PrometheusMetric, RunArg, TemplateKind,
    TemplateSpec, Templated,
};
use crate::diag::{Diagnostic, Location};
use crate::judge::MetricConfig;
use crate::rollout::policy::{
    AnalysisRef, BackgroundAnalysis, CanaryScale, DEFAULT_SCALE_DOWN_DELAY, Policy, Step,
    TemplateRef,
};
use crate::rollout::replicas::IntOrPercent;
use crate::scenario::units::{ByteSize, Millicores};
use crate::sim::SimDuration;

/// Argo's `InvalidSetWeightMessage` (maxTrafficWeight 100).
const INVALID_SET_WEIGHT: &str = "SetWeight needs to be between 0 and 100";
/// Argo's `InvalidStepMessage`.
const INVALID_STEP: &str = "Step must have one of the following set: experiment, setWeight, setCanaryScale, plugin or pause";

struct Cx<'a> {
    file: &'a SourceFile,
    notes: Vec<Diagnostic>,
    problems: Vec<Diagnostic>,
}

impl Cx<'_> {
    fn loc(&self, l: &serde_saphyr::Location) -> Location {
        Location {
            file: self.file.label.clone(),
            line: l.line().max(1) as usize,
            column: l.column().max(1) as usize,
        }
    }

    fn at<T>(&self, s: &Spanned<T>) -> Location {
        self.loc(&s.referenced)
    }

    fn text_site(&self, s: &Spanned<String>) -> TextSite {
        let at = self.at(s);
        let offset = offset_of(&self.file.text, at.line, at.column);
        TextSite { at, offset }
    }

    fn problem(&mut self, at: Location, message: impl Into<String>, hint: impl Into<String>) {
        self.problems.push(Diagnostic::new(at, message, hint));
    }

    fn note(&mut self, at: Location, message: impl Into<String>, hint: impl Into<String>) {
        self.notes.push(Diagnostic::new(at, message, hint));
    }

    fn unread(&mut self, list: Vec<Unread>) {
        for u in list {
            let at = self.loc(&u.at);
            self.note(
                at,
                format!("field {} is not modelled by canarysim", u.path),
                "the simulation runs as if it were absent",
            );
        }
    }
}

/// Reads one document into the set.
pub(super) fn document(set: &mut ManifestSet, file: &SourceFile, doc: &api::Document) {
    let mut cx = Cx {
        file,
        notes: Vec::new(),
        problems: Vec::new(),
    };
    let start = doc
        .start
        .as_ref()
        .map_or_else(|| Location::start_of(&file.label), |l| cx.loc(l));
    match doc.kind() {
        api::ROLLOUT => {
            common_unread(&mut cx, doc);
            if let Some(r) = rollout(&mut cx, doc, &start) {
                set.rollouts.push(r);
            }
        }
        api::ANALYSIS_TEMPLATE | api::CLUSTER_ANALYSIS_TEMPLATE => {
            common_unread(&mut cx, doc);
            let kind = if doc.kind() == api::ANALYSIS_TEMPLATE {
                TemplateKind::Namespaced
            } else {
                TemplateKind::Cluster
            };
            if let Some(t) = template(&mut cx, doc, kind, &start) {
                set.templates.push(t);
            }
        }
        "" => cx.note(
            start,
            "a document without `kind` is not read by canarysim",
            "canarysim reads kind Rollout, AnalysisTemplate and ClusterAnalysisTemplate",
        ),
        other => {
            let at = doc.kind.as_ref().map_or(start, |k| cx.at(k));
            cx.note(
                at,
                format!("kind {other} is not read by canarysim"),
                "canarysim reads kind Rollout, AnalysisTemplate and ClusterAnalysisTemplate; the scenario models the rest",
            );
        }
    }
    set.notes.append(&mut cx.notes);
    set.problems.append(&mut cx.problems);
}

fn common_unread(cx: &mut Cx, doc: &api::Document) {
    let mut out = Vec::new();
    for k in &doc.unread {
        out.push(Unread {
            path: k.value.clone(),
            at: k.referenced,
        });
    }
    if let Some(m) = &doc.metadata {
        m.walk("metadata", &mut out);
    }
    if let Some(s) = &doc.spec {
        s.walk("spec", &mut out);
    }
    cx.unread(out);
    if let Some(v) = &doc.api_version
        && !v.value.starts_with("argoproj.io/")
    {
        let at = cx.at(v);
        cx.note(
            at,
            format!(
                "apiVersion {} is not Argo Rollouts' (argoproj.io/v1alpha1)",
                v.value
            ),
            "the object is read as Argo's all the same",
        );
    }
}

/// Notes spec fields that belong to the other kinds the union reads.
fn foreign_spec_fields(cx: &mut Cx, spec: &api::Spec, rollout: bool, kind: &str) {
    let present: Vec<(&str, Option<serde_saphyr::Location>)> = if rollout {
        vec![
            ("args", spec.args.as_ref().map(|s| s.referenced)),
            ("metrics", spec.metrics.as_ref().map(|s| s.referenced)),
            ("dryRun", spec.dry_run.as_ref().map(|s| s.referenced)),
            (
                "measurementRetention",
                spec.measurement_retention.as_ref().map(|s| s.referenced),
            ),
        ]
    } else {
        vec![
            ("replicas", spec.replicas.as_ref().map(|s| s.referenced)),
            ("selector", spec.selector.as_ref().map(|s| s.referenced)),
            ("template", spec.template.as_ref().map(|s| s.referenced)),
            ("strategy", spec.strategy.as_ref().map(|s| s.referenced)),
            (
                "rollbackWindow",
                spec.rollback_window.as_ref().map(|s| s.referenced),
            ),
        ]
    };
    for (key, l) in present {
        if let Some(l) = l {
            let at = cx.loc(&l);
            cx.note(
                at,
                format!("spec.{key} is not a field of a {kind}; it is ignored"),
                "move it to the object it belongs to, or remove it",
            );
        }
    }
}

fn templated_int(v: &IntOrStr) -> Templated<i64> {
    match v {
        IntOrStr::Int(i) => Templated::Value(*i),
        IntOrStr::Str(s) => Templated::Text(s.clone()),
    }
}

fn templated_duration(s: &str) -> Option<Templated<SimDuration>> {
    (!s.is_empty()).then(|| Templated::Text(s.to_string()))
}

fn template(
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

fn retention(list: &[Spanned<api::Retention>]) -> Vec<MeasurementRetention> {
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
        metric.provider = provider(cx, &p.value, &mut sites);
    }
    (metric, sites)
}

fn provider(cx: &mut Cx, p: &api::Provider, sites: &mut MetricSites) -> MetricProvider {
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

fn rollout(cx: &mut Cx, doc: &api::Document, start: &Location) -> Option<RolloutManifest> {
    let meta = doc.metadata.as_ref().map(|m| &m.value);
    let Some(name) = meta.and_then(|m| m.name.as_ref()) else {
        cx.problem(
            start.clone(),
            "Rollout has no metadata.name",
            "add metadata.name; canary pods are named after it",
        );
        return None;
    };
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

fn step(
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
                    let at = cx.at(d);
                    cx.problem(
                        at,
                        "Duration needs to be greater than 0",
                        "write whole seconds (60) or a Go duration (\"1m\", \"90s\")",
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
            CanaryScale::Replicas(r.value.clamp(0, i64::from(u32::MAX)) as u32)
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

fn analysis_ref(
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
