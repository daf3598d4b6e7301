//! The AnalysisTemplate model: templates, args, metrics and providers, as
//! plain Rust data independent of any file format.
//!
//! The scenario TOML loader (and later the Argo YAML reader) builds these;
//! `args` resolves and merges them into a run spec; `validate` checks a
//! metric the way Argo's `ValidateMetric` does and gives a
//! [`super::validate::CheckedMetric`]. Any string field may hold Argo's
//! `{{args.name}}` placeholders; fields that Argo lets an arg fill although
//! they are numbers or durations (`count: "{{args.count}}"`) are
//! [`Templated`].

use crate::judge::MetricConfig;
use crate::sim::SimDuration;

/// A field that is either a typed value or text still holding
/// `{{args.*}}` placeholders, read after substitution.
#[derive(Debug, Clone, PartialEq)]
pub enum Templated<T> {
    /// A value known when the template was written.
    Value(T),
    /// Text to parse once args are substituted (`"{{args.count}}"`, `"60s"`).
    Text(String),
}

impl<T> Templated<T> {
    /// The text, when this is still text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Templated::Text(s) => Some(s),
            Templated::Value(_) => None,
        }
    }

    fn text_mut(&mut self) -> Option<&mut String> {
        match self {
            Templated::Text(s) => Some(s),
            Templated::Value(_) => None,
        }
    }
}

impl<T> From<T> for Templated<T> {
    fn from(v: T) -> Templated<T> {
        Templated::Value(v)
    }
}

/// Whether a template is namespaced or cluster-wide. `FlattenTemplates`
/// takes all namespaced templates first, then the cluster ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TemplateKind {
    /// `AnalysisTemplate`.
    #[default]
    Namespaced,
    /// `ClusterAnalysisTemplate`.
    Cluster,
}

/// An `AnalysisTemplate` or `ClusterAnalysisTemplate`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisTemplate {
    /// `metadata.name`.
    pub name: String,
    /// Namespaced or cluster-wide.
    pub kind: TemplateKind,
    /// `spec`.
    pub spec: TemplateSpec,
}

/// `AnalysisTemplateSpec`: what a template contributes to a run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TemplateSpec {
    /// `args`: names, with an optional default value.
    pub args: Vec<Arg>,
    /// `metrics`.
    pub metrics: Vec<Metric>,
    /// `dryRun`: metric-name regexes measured but never gating.
    pub dry_run: Vec<DryRun>,
    /// `measurementRetention`: how many measurements Argo keeps per metric.
    pub measurement_retention: Vec<MeasurementRetention>,
}

/// An `Argument` with its value resolved (or not yet given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// The name used in `{{args.name}}`.
    pub name: String,
    /// The value; `None` in a template means the run must supply it.
    pub value: Option<String>,
}

impl Arg {
    /// An arg with a value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Arg {
        Arg {
            name: name.into(),
            value: Some(value.into()),
        }
    }

    /// An arg the run must supply.
    pub fn required(name: impl Into<String>) -> Arg {
        Arg {
            name: name.into(),
            value: None,
        }
    }
}

/// Where a rollout step's arg gets its value (`AnalysisRunArgument`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgSource {
    /// `value: …`.
    Value(String),
    /// `valueFrom.podTemplateHashValue: Stable|Latest`.
    PodTemplateHash(HashSource),
}

/// Which ReplicaSet's pod-template hash a `podTemplateHashValue` arg takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashSource {
    /// The stable ReplicaSet.
    Stable,
    /// The newest (canary) ReplicaSet.
    Latest,
}

/// An arg as a rollout's analysis step or background analysis gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunArg {
    /// The name.
    pub name: String,
    /// Its source.
    pub source: ArgSource,
}

/// `dryRun[].metricName`: a regex (unanchored, as Go's `regexp.MatchString`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRun {
    /// The metric-name pattern.
    pub metric_name: String,
}

/// `measurementRetention[]`: keep the last `limit` measurements of matching metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasurementRetention {
    /// The metric-name pattern (unanchored regex).
    pub metric_name: String,
    /// How many measurements to keep; 0 or less keeps Argo's default of 10.
    pub limit: i32,
}

/// One metric of a template (Argo's `Metric`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metric {
    /// `name`; unique within a run.
    pub name: String,
    /// `interval` between measurements; none means a single measurement
    /// unless `count` says otherwise.
    pub interval: Option<Templated<SimDuration>>,
    /// `initialDelay` before the first measurement.
    pub initial_delay: Option<Templated<SimDuration>>,
    /// `count`: how many measurements (errors excluded). Unset or 0: one
    /// without an interval, forever with one.
    pub count: Option<Templated<i64>>,
    /// `successCondition` (empty: not set).
    pub success_condition: String,
    /// `failureCondition` (empty: not set).
    pub failure_condition: String,
    /// `failureLimit` (default 0; -1 disables it).
    pub failure_limit: Option<Templated<i64>>,
    /// `inconclusiveLimit` (default 0).
    pub inconclusive_limit: Option<Templated<i64>>,
    /// `consecutiveErrorLimit` (default 4).
    pub consecutive_error_limit: Option<Templated<i64>>,
    /// `consecutiveSuccessLimit` (default 0: disabled).
    pub consecutive_success_limit: Option<Templated<i64>>,
    /// `provider`: exactly one must be set.
    pub provider: MetricProvider,
}

/// `provider`: which system measures. Argo requires exactly one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricProvider {
    /// `prometheus`: a PromQL query on the simulated store.
    pub prometheus: Option<PrometheusMetric>,
    /// `job`: a Locust run against the canary inside the simulation.
    pub job: Option<JobMetric>,
    /// `judge`: a Kayenta-style canary-versus-stable comparison (not in Argo).
    pub judge: Option<JudgeMetric>,
}

/// The `prometheus` provider.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrometheusMetric {
    /// `address`: accepted and ignored (there is one simulated Prometheus).
    pub address: String,
    /// `query`: PromQL evaluated at the measurement's instant.
    pub query: String,
}

/// The `job` provider: a Kubernetes Job whose first container runs Locust,
/// as the seed's template does. The container is kept as written (args are
/// substituted into every string at run time, as Argo substitutes them into
/// the Job spec); `crate::locust::LocustJob::from_container` reads Locust's
/// flags from it when the metric is validated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobMetric {
    /// `image` of the first container.
    pub image: String,
    /// `env` of the first container, in order.
    pub env: Vec<(String, String)>,
    /// `command` followed by `args` of the first container.
    pub command: Vec<String>,
    /// `spec.backoffLimit` of the Job (retries inside the Job).
    pub backoff_limit: Option<i32>,
}

/// The `judge` provider: canary against stable samples of two range queries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JudgeMetric {
    /// PromQL for the canary's samples.
    pub canary_query: String,
    /// PromQL for the stable (baseline) samples.
    pub baseline_query: String,
    /// How far back each measurement looks; default: the metric's interval,
    /// or 5m without one.
    pub lookback: Option<Templated<SimDuration>>,
    /// Range-query resolution; default 15s.
    pub step: Option<Templated<SimDuration>>,
    /// The judge's per-metric settings (direction, effect size, critical, …).
    pub config: MetricConfig,
}

impl Metric {
    /// A metric with only a name and a provider; every other field unset.
    pub fn new(name: impl Into<String>, provider: MetricProvider) -> Metric {
        Metric {
            name: name.into(),
            provider,
            ..Metric::default()
        }
    }

    /// Every string field where `{{args.*}}` may appear, in a fixed order.
    pub fn strings(&self) -> Vec<&str> {
        let mut out: Vec<&str> = vec![&self.name, &self.success_condition, &self.failure_condition];
        let optionals = [
            self.interval.as_ref().and_then(Templated::text),
            self.initial_delay.as_ref().and_then(Templated::text),
            self.count.as_ref().and_then(Templated::text),
            self.failure_limit.as_ref().and_then(Templated::text),
            self.inconclusive_limit.as_ref().and_then(Templated::text),
            self.consecutive_error_limit
                .as_ref()
                .and_then(Templated::text),
            self.consecutive_success_limit
                .as_ref()
                .and_then(Templated::text),
        ];
        out.extend(optionals.into_iter().flatten());
        if let Some(p) = &self.provider.prometheus {
            out.push(&p.address);
            out.push(&p.query);
        }
        if let Some(j) = &self.provider.job {
            out.push(&j.image);
            out.extend(j.env.iter().map(|(_, v)| v.as_str()));
            out.extend(j.command.iter().map(String::as_str));
        }
        if let Some(j) = &self.provider.judge {
            out.push(&j.canary_query);
            out.push(&j.baseline_query);
            out.extend(j.lookback.as_ref().and_then(Templated::text));
            out.extend(j.step.as_ref().and_then(Templated::text));
        }
        out
    }

    /// Mutable access to the same fields as [`Metric::strings`].
    pub(crate) fn strings_mut(&mut self) -> Vec<&mut String> {
        let mut out: Vec<&mut String> = vec![
            &mut self.name,
            &mut self.success_condition,
            &mut self.failure_condition,
        ];
        let optionals = [
            self.interval.as_mut().and_then(Templated::text_mut),
            self.initial_delay.as_mut().and_then(Templated::text_mut),
            self.count.as_mut().and_then(Templated::text_mut),
            self.failure_limit.as_mut().and_then(Templated::text_mut),
            self.inconclusive_limit
                .as_mut()
                .and_then(Templated::text_mut),
            self.consecutive_error_limit
                .as_mut()
                .and_then(Templated::text_mut),
            self.consecutive_success_limit
                .as_mut()
                .and_then(Templated::text_mut),
        ];
        out.extend(optionals.into_iter().flatten());
        if let Some(p) = &mut self.provider.prometheus {
            out.push(&mut p.address);
            out.push(&mut p.query);
        }
        if let Some(j) = &mut self.provider.job {
            out.push(&mut j.image);
            out.extend(j.env.iter_mut().map(|(_, v)| v));
            out.extend(j.command.iter_mut());
        }
        if let Some(j) = &mut self.provider.judge {
            out.push(&mut j.canary_query);
            out.push(&mut j.baseline_query);
            out.extend(j.lookback.as_mut().and_then(Templated::text_mut));
            out.extend(j.step.as_mut().and_then(Templated::text_mut));
        }
        out
    }
}
