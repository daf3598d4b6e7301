//! The checks on one policy and its templates: references and args, then
//! every metric of every template with the args each step would give it.
//!
//! In: a [`Subject`] (a manifest set, the policy built from it or from a
//! scenario's TOML, where each step stands, and optionally a probe of the
//! simulated cluster). Out: [`Finding`]s appended to a list.

use crate::analysis::args::referenced_args;
use crate::analysis::{
    AnalysisTemplate, Arg, ArgSource, CheckedProvider, HashSource, Metric, TemplateKind, Templated,
    flatten_templates, resolve_metric_args, validate_metric,
};
use crate::condition::{self, BoolCheck, ResultShape, ResultValue};
use crate::diag::{Diagnostic, Location};
use crate::locust::job::{Launch, Start};
use crate::manifest::{ManifestSet, MetricSites, StepSites, TemplateManifest, TextSite};
use crate::promql::{PromqlError, Query};
use crate::rollout::policy::{AnalysisRef, Policy, Step};
use promql_parser::parser::value::ValueType;

use super::series::Probe;
use super::{Finding, Kind, Severity};

/// What is linted together.
pub(super) struct Subject<'a> {
    /// Templates (with sites), notes and problems.
    pub set: &'a ManifestSet,
    /// The policy, when there is a Rollout or TOML steps.
    pub policy: Option<&'a Policy>,
    /// Where each step stands.
    pub steps: &'a [StepSites],
    /// Where the background analysis stands.
    pub background: Option<&'a StepSites>,
    /// Where to report what has no better place.
    pub fallback: Location,
    /// The simulated cluster, when a scenario is known.
    pub probe: Option<&'a Probe>,
}

/// One use of a template: by a step or the background analysis, with args.
struct Usage {
    /// The template's args with the values this use gives them.
    args: Vec<Arg>,
    /// False when some arg had no value anywhere (a dummy stands in).
    complete: bool,
}

fn push(out: &mut Vec<Finding>, sev: Severity, kind: Kind, at: Location, msg: String, hint: &str) {
    out.push(Finding::new(sev, kind, Diagnostic::new(at, msg, hint)));
}

/// Runs every check on the subject.
pub(super) fn check(s: &Subject, out: &mut Vec<Finding>) {
    for p in &s.set.problems {
        out.push(Finding::new(Severity::Error, Kind::Invalid, p.clone()));
    }
    for n in &s.set.notes {
        out.push(Finding::new(Severity::Note, Kind::Unmodelled, n.clone()));
    }
    let mut usages: Vec<(String, TemplateKind, Usage)> = Vec::new();
    if let Some(policy) = s.policy {
        references(s, policy, out, &mut usages);
    }
    for t in &s.set.templates {
        let key = (&t.template.name, t.template.kind);
        let mine: Vec<&Usage> = usages
            .iter()
            .filter(|(n, k, _)| (n, *k) == key)
            .map(|(_, _, u)| u)
            .collect();
        let standalone;
        let uses: Vec<&Usage> = if mine.is_empty() {
            if s.policy.is_some() {
                push(
                    out,
                    Severity::Note,
                    Kind::Info,
                    t.sites.at.clone(),
                    format!(
                        "AnalysisTemplate {:?} is not used by the rollout",
                        t.template.name
                    ),
                    "it is checked with its own default args only",
                );
            }
            standalone = default_usage(&t.template);
            vec![&standalone]
        } else {
            mine
        };
        template_checks(s, t, &uses, out);
    }
}

/// The analysis groups of a policy with where they stand.
fn groups<'p>(
    s: &Subject<'p>,
    policy: &'p Policy,
) -> Vec<(String, &'p AnalysisRef, Option<StepSites>, bool)> {
    let mut out = Vec::new();
    for (i, step) in policy.steps.iter().enumerate() {
        if let Step::Analysis(a) = step {
            out.push((format!("steps[{i}]"), a, s.steps.get(i).cloned(), false));
        }
    }
    if let Some(bg) = &policy.background {
        out.push((
            "background analysis".to_string(),
            &bg.analysis,
            s.background.cloned(),
            true,
        ));
    }
    out
}

fn arg_value(source: &ArgSource, probe: Option<&Probe>) -> String {
    match source {
        ArgSource::Value(v) => v.clone(),
        ArgSource::PodTemplateHash(HashSource::Latest) => probe
            .and_then(|p| p.canary_hash.clone())
            .unwrap_or_else(|| "latest-pod-template-hash".to_string()),
        ArgSource::PodTemplateHash(HashSource::Stable) => probe
            .and_then(|p| p.stable_hash.clone())
            .unwrap_or_else(|| "stable-pod-template-hash".to_string()),
    }
}

/// Missing templates, unresolved, unused and conflicting args, step metrics
/// that run forever; records each template's uses.
fn references(
    s: &Subject,
    policy: &Policy,
    out: &mut Vec<Finding>,
    usages: &mut Vec<(String, TemplateKind, Usage)>,
) {
    let groups = groups(s, policy);
    // Every value any group gives an arg, for templates a step leaves short.
    let mut anywhere: Vec<(String, String)> = Vec::new();
    for (_, a, _, _) in &groups {
        for arg in &a.args {
            if !anywhere.iter().any(|(n, _)| n == &arg.name) {
                anywhere.push((arg.name.clone(), arg_value(&arg.source, s.probe)));
            }
        }
    }
    for (label, analysis, sites, background) in &groups {
        let group_at = sites
            .as_ref()
            .map_or_else(|| s.fallback.clone(), |x| x.at.clone());
        let ref_at = |k: usize| {
            sites
                .as_ref()
                .and_then(|x| x.templates.get(k))
                .map_or_else(|| group_at.clone(), |x| x.at.clone())
        };
        let mut found: Vec<&AnalysisTemplate> = Vec::new();
        let mut found_at: Vec<Location> = Vec::new();
        let mut all_found = true;
        for (k, r) in analysis.templates.iter().enumerate() {
            match policy.template(r) {
                Some(t) => {
                    if !found.iter().any(|x| x.name == t.name && x.kind == t.kind) {
                        found.push(t);
                        found_at.push(ref_at(k));
                    }
                }
                None => {
                    all_found = false;
                    let (kind, other, flag) = if r.cluster_scope {
                        (
                            "ClusterAnalysisTemplate",
                            TemplateKind::Namespaced,
                            "drop clusterScope",
                        )
                    } else {
                        (
                            "AnalysisTemplate",
                            TemplateKind::Cluster,
                            "add clusterScope: true",
                        )
                    };
                    let other_exists = policy
                        .templates
                        .iter()
                        .any(|t| t.name == r.name && t.kind == other);
                    let hint = if other_exists {
                        format!("a template of that name exists with the other scope: {flag}")
                    } else {
                        "define it among the manifests, or remove the reference: Argo marks the Rollout InvalidSpec (\"not found\") and never starts the update".to_string()
                    };
                    push(
                        out,
                        Severity::Error,
                        Kind::MissingTemplate,
                        ref_at(k),
                        format!("{label}: {kind} {:?} is not defined", r.name),
                        &hint,
                    );
                }
            }
        }
        if found.is_empty() {
            continue;
        }
        let flat = match flatten_templates(&found) {
            Ok(f) => f,
            Err(e) => {
                push(
                    out,
                    Severity::Error,
                    Kind::Invalid,
                    group_at.clone(),
                    format!("{label}: {e}"),
                    "Argo cannot merge these templates into one AnalysisRun and marks the Rollout InvalidSpec",
                );
                continue;
            }
        };
        let supplied = |name: &str| analysis.args.iter().any(|a| a.name == name);
        let unresolved: Vec<&str> = flat
            .args
            .iter()
            .filter(|a| a.value.is_none() && !supplied(&a.name))
            .map(|a| a.name.as_str())
            .collect();
        for (t, at) in found.iter().zip(&found_at) {
            let missing: Vec<&str> = t
                .spec
                .args
                .iter()
                .filter(|a| a.value.is_none() && unresolved.contains(&a.name.as_str()))
                .map(|a| a.name.as_str())
                .collect();
            if missing.is_empty() {
                continue;
            }
            let (noun, list) = if missing.len() == 1 {
                ("arg", missing[0].to_string())
            } else {
                ("args", missing.join(", "))
            };
            push(
                out,
                Severity::Error,
                Kind::UnresolvedArg,
                at.clone(),
                format!(
                    "{label}: {noun} {list} of AnalysisTemplate {:?} {} not supplied",
                    t.name,
                    if missing.len() == 1 { "is" } else { "are" }
                ),
                &format!(
                    "supply it under the step's args (value, or valueFrom.podTemplateHashValue): Argo marks the Rollout InvalidSpec (args.{} was not resolved) and never starts the update",
                    missing[0]
                ),
            );
        }
        if all_found {
            for (k, arg) in analysis.args.iter().enumerate() {
                let declared = found
                    .iter()
                    .any(|t| t.spec.args.iter().any(|a| a.name == arg.name));
                if !declared {
                    let at = sites
                        .as_ref()
                        .and_then(|x| x.args.get(k))
                        .map_or_else(|| group_at.clone(), |x| x.at.clone());
                    push(
                        out,
                        Severity::Warning,
                        Kind::UnusedArg,
                        at,
                        format!(
                            "{label}: arg {:?} is declared by none of the step's templates",
                            arg.name
                        ),
                        "Argo drops it silently; check its spelling against the templates' args",
                    );
                }
            }
        }
        for t in &found {
            let mut complete = true;
            let args: Vec<Arg> = t
                .spec
                .args
                .iter()
                .map(|a| {
                    let given = analysis.args.iter().find(|x| x.name == a.name);
                    let value = match (given, &a.value) {
                        (Some(g), _) => arg_value(&g.source, s.probe),
                        (None, Some(v)) => v.clone(),
                        (None, None) => match anywhere.iter().find(|(n, _)| n == &a.name) {
                            Some((_, v)) => v.clone(),
                            None => {
                                complete = false;
                                "dummy-value".to_string()
                            }
                        },
                    };
                    Arg::new(a.name.clone(), value)
                })
                .collect();
            if !background {
                runs_forever(s, t, label, &args, complete, out);
            }
            usages.push((t.name.clone(), t.kind, Usage { args, complete }));
        }
    }
}

/// A template no step uses: its defaults, or Argo's dummy value.
fn default_usage(t: &AnalysisTemplate) -> Usage {
    let mut complete = true;
    let args = t
        .spec
        .args
        .iter()
        .map(|a| {
            let v = a.value.clone().unwrap_or_else(|| {
                complete = false;
                "dummy-value".to_string()
            });
            Arg::new(a.name.clone(), v)
        })
        .collect();
    Usage { args, complete }
}

/// A step metric with an interval and no count, read with the step's
/// `args` substituted (`count: "{{args.n}}"` is the count its arg gives;
/// unknown when an arg has no value here, `complete` false).
fn runs_forever(
    s: &Subject,
    t: &AnalysisTemplate,
    label: &str,
    args: &[Arg],
    complete: bool,
    out: &mut Vec<Finding>,
) {
    let Some(tm) = s.set.template(&t.name, t.kind) else {
        return;
    };
    for (raw, sites) in t.spec.metrics.iter().zip(&tm.sites.metrics) {
        let templated = matches!(&raw.count, Some(Templated::Text(x)) if x.contains("{{"));
        let resolved = resolve_metric_args(raw, args).ok();
        if templated && (!complete || resolved.is_none()) {
            continue;
        }
        let m = resolved.as_ref().unwrap_or(raw);
        let count = match &m.count {
            None => 0,
            Some(Templated::Value(c)) => *c,
            Some(Templated::Text(x)) => x.trim().parse().unwrap_or(0),
        };
        let interval = matches!(&m.interval, Some(Templated::Text(x)) if !x.is_empty())
            || matches!(&m.interval, Some(Templated::Value(_)));
        if count == 0 && interval {
            push(
                out,
                Severity::Error,
                Kind::Metric,
                sites
                    .field("interval")
                    .unwrap_or_else(|| tm.sites.at.clone()),
                format!(
                    "{label}: metric {:?} has an interval and no count, so it runs indefinitely; Argo refuses it in a step",
                    m.name
                ),
                "give it a count, or run it as background analysis (canary.analysis)",
            );
        }
    }
}

fn metric_label(m: &Metric) -> String {
    format!("metric {:?}", m.name)
}

fn template_checks(s: &Subject, t: &TemplateManifest, uses: &[&Usage], out: &mut Vec<Finding>) {
    let declared: Vec<&str> = t
        .template
        .spec
        .args
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    for (m, sites) in t.template.spec.metrics.iter().zip(&t.sites.metrics) {
        let undeclared: Vec<String> = referenced_args(m)
            .into_iter()
            .filter(|n| !declared.contains(&n.as_str()))
            .collect();
        if !undeclared.is_empty() {
            push(
                out,
                Severity::Error,
                Kind::UndeclaredArg,
                sites.at.clone().unwrap_or_else(|| t.sites.at.clone()),
                format!(
                    "{}: {{{{args.{}}}}} names no arg of AnalysisTemplate {:?}",
                    metric_label(m),
                    undeclared.join("}}, {{args."),
                    t.template.name
                ),
                "declare it under spec.args; Argo fails to resolve it and marks the Rollout InvalidSpec",
            );
            continue;
        }
        conditions(s.set, m, result_shape(m, uses), sites, t, out);
        for u in uses {
            let Ok(resolved) = resolve_metric_args(m, &u.args) else {
                continue;
            };
            metric_checks(s, &resolved, m, sites, t, u, out);
        }
    }
}

fn condition_site(sites: &MetricSites, t: &TemplateManifest, failure: bool) -> Location {
    let site: &Option<TextSite> = if failure {
        &sites.failure_condition
    } else {
        &sites.success_condition
    };
    site.as_ref()
        .map(|x| x.at.clone())
        .or_else(|| sites.at.clone())
        .unwrap_or_else(|| t.sites.at.clone())
}

/// The location of character `column` of `text`, when the value stands on
/// one line of its file as written (plain or quoted).
fn column_in(set: &ManifestSet, site: &TextSite, text: &str, column: usize) -> Option<Location> {
    let file = set.file(&site.at.file)?;
    let rest = file.text.get(site.offset..)?;
    let quote = usize::from(rest.starts_with(['\'', '"']));
    rest[quote..].starts_with(text).then(|| Location {
        column: site.at.column + quote + column - 1,
        ..site.at.clone()
    })
}

/// A parser message on one line, and the column it names (pest's `--> 1:31`).
fn one_line(message: &str) -> (String, Option<usize>) {
    let mut column = None;
    let mut expected = None;
    for line in message.lines() {
        let t = line.trim();
        if let Some(i) = t.find("--> ") {
            column = t[i + 4..]
                .split(':')
                .nth(1)
                .and_then(|c| c.trim().parse().ok());
        } else if let Some(rest) = t.strip_prefix("= ") {
            expected = Some(rest.to_string());
        }
    }
    let text = match (expected, column) {
        (Some(e), Some(c)) => format!("at column {c} of the condition: {e}"),
        (Some(e), None) => e,
        _ => message
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    };
    (text, column)
}

/// What the metric's provider hands its conditions: for a Prometheus query,
/// the static type of the query (with the args of the first use that gives
/// one that parses, else as written); `None` for a query that returns a
/// string, which Argo's provider refuses before any condition runs.
fn result_shape(m: &Metric, uses: &[&Usage]) -> Option<ResultShape> {
    let Some(p) = &m.provider.prometheus else {
        return Some(ResultShape::Any);
    };
    let resolved = uses
        .iter()
        .filter_map(|u| resolve_metric_args(m, &u.args).ok())
        .filter_map(|r| r.provider.prometheus.map(|p| p.query));
    let query = resolved
        .chain(std::iter::once(p.query.clone()))
        .find_map(|q| Query::parse(&q).ok());
    match query.map(|q| q.expr().value_type()) {
        None => Some(ResultShape::Prometheus),
        Some(ValueType::Scalar) => Some(ResultShape::Scalar),
        Some(ValueType::Vector | ValueType::Matrix) => Some(ResultShape::Vector),
        Some(ValueType::String) => None,
    }
}

/// How lint names what a shape of result is, for messages.
fn shape_words(shape: ResultShape) -> &'static str {
    match shape {
        ResultShape::Scalar => {
            "the query returns a scalar, so result is a number (float64), not a list"
        }
        ResultShape::Vector => {
            "the query returns a vector, so result is a list of numbers ([]float64), even for one sample"
        }
        ResultShape::Prometheus => "a Prometheus query gives a number or a list of numbers",
        ResultShape::Any => "",
    }
}

fn conditions(
    set: &ManifestSet,
    m: &Metric,
    shape: Option<ResultShape>,
    sites: &MetricSites,
    t: &TemplateManifest,
    out: &mut Vec<Finding>,
) {
    let is_prometheus = m.provider.prometheus.is_some();
    for (failure, text) in [(false, &m.success_condition), (true, &m.failure_condition)] {
        if text.is_empty() || text.contains("{{") {
            continue;
        }
        let which = if failure {
            "failureCondition"
        } else {
            "successCondition"
        };
        let at = condition_site(sites, t, failure);
        let label = metric_label(m);
        if text.trim().is_empty() {
            // Argo leaves a condition unset only when it is "": this one is
            // compiled at every measurement and expr refuses it.
            push(
                out,
                Severity::Error,
                Kind::Condition,
                at,
                format!(
                    "{label}: {which} is blank ({} whitespace character(s)): Argo treats only an empty condition as unset, so it compiles this one and every measurement is an Error",
                    text.chars().count()
                ),
                &format!("remove {which} to leave it unset, or write a condition over `result`"),
            );
            continue;
        }
        // First against anything the provider can give (a Prometheus query
        // never gives nil, a bool or a string), then below against what
        // this query's type gives.
        let probes = if is_prometheus {
            ResultShape::Prometheus
        } else {
            ResultShape::Any
        };
        match condition::bool_check_on(text, &probes.probes()) {
            Err(e) => {
                let (message, column) = one_line(&e.to_string());
                let site = if failure {
                    &sites.failure_condition
                } else {
                    &sites.success_condition
                };
                let at = match (column, site) {
                    (Some(c), Some(site)) => column_in(set, site, text, c).unwrap_or(at),
                    _ => at,
                };
                push(
                    out,
                    Severity::Error,
                    Kind::Condition,
                    at,
                    format!("{label}: {which} does not parse: {message}"),
                    "write an expr-lang expression over `result`, e.g. len(result) > 0 && result[0] < 0.01",
                )
            }
            Ok(BoolCheck::NeverBool { type_name }) => push(
                out,
                Severity::Error,
                Kind::Condition,
                at,
                format!("{label}: {which} cannot return a bool (it gives {type_name})"),
                // A scalar query's result is the number itself.
                if shape == Some(ResultShape::Scalar) {
                    "compare the number itself, e.g. result < 0.01; Argo makes every measurement an Error otherwise"
                } else {
                    "compare the result, e.g. result[0] < 0.01; Argo makes every measurement an Error otherwise"
                },
            ),
            Ok(BoolCheck::AlwaysFails { message }) => push(
                out,
                Severity::Error,
                Kind::Condition,
                at,
                format!("{label}: {which} fails on every result: {message}"),
                "Argo's condition environment has result, asInt, asFloat, isNaN, isInf, isNil, default and expr's builtins",
            ),
            Ok(BoolCheck::CanBeBool) => {
                let vector = ResultValue::Numbers(vec![0.5]);
                let mismatched = is_prometheus
                    && shape != Some(ResultShape::Scalar)
                    && condition::type_error(text, &vector).is_some();
                if mismatched && let Some(e) = condition::type_error(text, &vector) {
                    push(
                        out,
                        Severity::Warning,
                        Kind::MismatchedTypes,
                        at.clone(),
                        format!(
                            "{label}: {which} does not compile against a vector result ([]float64), which a Prometheus query returns even for one sample: {e}; every such measurement is an Error"
                        ),
                        "compare an element, e.g. len(result) > 0 && result[0] != 0, or make the query return a scalar",
                    );
                }
                let indexes = text.replace(' ', "").contains("result[");
                if is_prometheus
                    && indexes
                    && condition::eval_condition(&ResultValue::Numbers(Vec::new()), text).is_err()
                {
                    push(
                        out,
                        Severity::Warning,
                        Kind::UnguardedIndex,
                        at.clone(),
                        format!(
                            "{label}: {which} indexes result[…] without a length guard: a query that returns nothing makes the measurement an Error, and five in a row abort the rollout"
                        ),
                        &format!("guard it: len(result) > 0 && ({})", text.trim()),
                    );
                }
                // What the query's own type gives (a scalar query makes a
                // guarded `len(result) > 0 && result[0] < 1` fail every time).
                if let Some(shape @ (ResultShape::Scalar | ResultShape::Vector)) = shape
                    && !mismatched
                {
                    let problem = match condition::bool_check_on(text, &shape.probes()) {
                        Ok(BoolCheck::NeverBool { type_name }) => {
                            Some(format!("it cannot return a bool (it gives {type_name})"))
                        }
                        Ok(BoolCheck::AlwaysFails { message }) => {
                            Some(format!("it fails on every result: {message}"))
                        }
                        Ok(BoolCheck::CanBeBool) | Err(_) => None,
                    };
                    if let Some(problem) = problem {
                        let hint = if shape == ResultShape::Scalar {
                            "compare the number itself, e.g. result < 0.01, or make the query return a vector"
                        } else {
                            "compare an element, e.g. len(result) > 0 && result[0] < 0.01"
                        };
                        push(
                            out,
                            Severity::Error,
                            Kind::Condition,
                            at,
                            format!(
                                "{label}: {which} does not fit its query's result: {}; {problem}, so Argo makes every measurement an Error",
                                shape_words(shape)
                            ),
                            hint,
                        );
                    }
                }
            }
        }
    }
}

fn query_sites<'a>(
    resolved: &'a Metric,
    raw: &'a Metric,
    sites: &'a MetricSites,
) -> Vec<(&'a str, &'a str, Option<&'a TextSite>, &'static str)> {
    let mut out = Vec::new();
    if let (Some(p), Some(r)) = (&resolved.provider.prometheus, &raw.provider.prometheus) {
        out.push((
            p.query.as_str(),
            r.query.as_str(),
            sites.query.as_ref(),
            "query",
        ));
    }
    if let (Some(j), Some(r)) = (&resolved.provider.judge, &raw.provider.judge) {
        out.push((
            j.canary_query.as_str(),
            r.canary_query.as_str(),
            sites.canary_query.as_ref(),
            "canaryQuery",
        ));
        out.push((
            j.baseline_query.as_str(),
            r.baseline_query.as_str(),
            sites.baseline_query.as_ref(),
            "baselineQuery",
        ));
    }
    out
}

fn metric_checks(
    s: &Subject,
    resolved: &Metric,
    raw: &Metric,
    sites: &MetricSites,
    t: &TemplateManifest,
    u: &Usage,
    out: &mut Vec<Finding>,
) {
    let label = metric_label(raw);
    let metric_at = sites.at.clone().unwrap_or_else(|| t.sites.at.clone());
    match validate_metric(resolved) {
        // A provider canarysim does not model is already a problem of the set.
        Err(e)
            if e.field == "provider" && sites.fields.keys().any(|k| k.starts_with("provider.")) => {
        }
        Err(e) => {
            let at = sites.field(e.field).unwrap_or_else(|| metric_at.clone());
            let sev = if u.complete {
                Severity::Error
            } else {
                Severity::Warning
            };
            push(
                out,
                sev,
                Kind::Metric,
                at,
                format!("{label}: {}: {}", e.field, e.message),
                if e.field == "provider.job" {
                    // The Job's command as canarysim reads it, not Argo's rule.
                    "canarysim cannot simulate this Job's command (Argo would create the Job): the simulated Rollout is InvalidSpec; run `locust …` directly or on a line of its own in `sh -c`"
                } else {
                    "Argo's ValidateMetric refuses it: the AnalysisRun is an Error at once and the rollout aborts"
                },
            );
        }
        Ok(checked) => {
            // What the simulated Job cannot start (a locustfile canarysim
            // does not have, no --host): every measurement is an Error. A
            // Locust that exits at start fails every pod; one that never
            // exits holds the analysis forever.
            if let CheckedProvider::Job(job) = &checked.provider {
                let at = sites
                    .job_command
                    .clone()
                    .unwrap_or_else(|| metric_at.clone());
                let problem = match job.launch("", "", "") {
                    Err(e) => Some((
                        format!("{label}: {e}"),
                        "the Job's Locust cannot start: every measurement of this metric is an Error"
                            .to_string(),
                    )),
                    Ok(Launch::Exits { code, message }) => Some((
                        if matches!(job.start, Start::Exits { by_shell: true, .. }) {
                            format!("{label}: the container exits {code} before Locust starts: {message}")
                        } else {
                            format!("{label}: Locust exits {code} before any user starts: {message}")
                        },
                        format!(
                            "every pod of the Job exits with container code {} and sends no request; fix the command line",
                            job.job_exit_code(code)
                        ),
                    )),
                    Ok(Launch::Waits) => Some((
                        format!("{label}: without --headless or --autostart Locust serves its web UI and waits for someone to press start"),
                        "the Job never finishes and the analysis never ends; add --headless".to_string(),
                    )),
                    Ok(Launch::Run(spec)) if spec.run_time.is_none() => Some((
                        format!("{label}: the Locust command has no --run-time (or it is 0, which Locust reads as no limit)"),
                        "the Job never finishes and the analysis never ends; add -t 45s".to_string(),
                    )),
                    Ok(Launch::Run(_)) if job.start == Start::AutostartStays => Some((
                        format!("{label}: with --autostart and no --autoquit Locust stops its users after the run time but keeps running"),
                        "the Job never finishes and the analysis never ends; use --headless".to_string(),
                    )),
                    Ok(Launch::Run(_)) => None,
                };
                if let Some((message, help)) = problem {
                    push(out, Severity::Error, Kind::Invalid, at, message, &help);
                }
            }
            // What the container exits with when Locust fails (1) and
            // when it succeeds (0), as the script passes them on.
            if let CheckedProvider::Job(job) = &checked.provider
                && (job.job_exit_code(1) == 0 || job.job_exit_code(0) != 0)
            {
                push(
                    out,
                    Severity::Warning,
                    Kind::JobExitCode,
                    sites
                        .job_command
                        .clone()
                        .unwrap_or_else(|| metric_at.clone()),
                    if job.job_exit_code(1) == 0 {
                        format!(
                            "{label}: the job's exit code is the last command's, not Locust's: a failed Locust run still completes the Job"
                        )
                    } else {
                        format!(
                            "{label}: the job's exit code is not Locust's: the script exits {} after a successful Locust run, so every pod fails",
                            job.job_exit_code(0)
                        )
                    },
                    "start the script with `set -e` (or end it with `exec locust …`) so the Job fails when Locust does",
                );
            }
        }
    }
    if !u.complete {
        return;
    }
    for (text, raw_text, site, field) in query_sites(resolved, raw, sites) {
        let at = site.map_or_else(|| metric_at.clone(), |x| x.at.clone());
        if text.trim().is_empty() {
            push(
                out,
                Severity::Error,
                Kind::Promql,
                at,
                format!("{label}: {field} is empty"),
                "write the PromQL query",
            );
            continue;
        }
        match Query::parse(text) {
            Err(e) => {
                let message = match e {
                    PromqlError::Parse { message, .. } => message,
                    other => other.to_string(),
                };
                push(
                    out,
                    Severity::Error,
                    Kind::Promql,
                    at,
                    format!("{label}: {field} does not parse as PromQL: {message}"),
                    "fix the query; Argo's measurements of it are all Errors, and five in a row abort the rollout",
                );
            }
            Ok(q) => {
                if q.expr().value_type() == ValueType::String {
                    push(
                        out,
                        Severity::Error,
                        Kind::Promql,
                        at.clone(),
                        format!(
                            "{label}: {field} returns a string, which Argo's Prometheus provider does not support: every measurement is an Error (\"Prometheus metric type not supported\")"
                        ),
                        "make the query return an instant vector or a scalar",
                    );
                }
                if let (Some(probe), Some(site)) = (s.probe, site) {
                    let file = s.set.file(&site.at.file);
                    for f in probe.selectors(&q, raw_text, site, file, &label) {
                        out.push(f);
                    }
                }
            }
        }
    }
}
