//! The scenario file as written: serde structs that mirror the TOML.
//!
//! Only syntax and types are checked here (unknown keys are errors, units are
//! parsed); [`super::validate`] turns a [`ScenarioFile`] into a
//! [`super::Scenario`]. Field names inside `policies` mirror Argo Rollouts'
//! own (`setWeight`, `pause`), so a policy reads like the YAML it models.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::units::{ByteSize, DurationText, Millicores};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct ScenarioFile {
    /// A base file this one extends; resolved by `super::extends` before
    /// the file is read, so only a pure read ever sees it here.
    pub extends: Option<String>,
    pub schema: i64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub namespace: Option<String>,
    #[serde(default)]
    pub simulation: SimulationFile,
    pub rollout: RolloutFile,
    pub pod: PodFile,
    #[serde(default)]
    pub histogram: HistogramFile,
    pub endpoints: Vec<EndpointFile>,
    pub traffic: TrafficFile,
    #[serde(default)]
    pub ingress: IngressFile,
    pub versions: VersionsFile,
    #[serde(default)]
    pub policies: Vec<PolicyFile>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct SimulationFile {
    #[serde(default, deserialize_with = "seed")]
    pub seed: Option<u64>,
    pub scrape_interval: Option<DurationText>,
    pub warmup: Option<DurationText>,
    pub soak: Option<DurationText>,
    pub max_duration: Option<DurationText>,
    pub endpoints_delay: Option<DurationText>,
    pub traffic_model: Option<String>,
    pub batch: Option<DurationText>,
    pub soak_batch: Option<DurationText>,
    pub scrape_offsets: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RolloutFile {
    pub name: String,
    pub replicas: i64,
    pub canary_service: Option<String>,
    pub stable_service: Option<String>,
    pub ingress: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct PodFile {
    pub container: Option<String>,
    pub requests: ResourcesFile,
    pub limits: ResourcesFile,
    pub workers_per_cpu: Option<f64>,
    pub nodes: Option<i64>,
    pub accept_queue: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct ResourcesFile {
    pub cpu: Millicores,
    pub memory: ByteSize,
}

/// `[histogram]`: the service's latency histogram, as its client library
/// declares it.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct HistogramFile {
    /// Finite upper bounds, seconds; `+Inf` is implicit.
    pub buckets: Option<Vec<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct EndpointFile {
    pub name: String,
    pub method: Option<String>,
    pub handler: String,
    pub success_code: Option<i64>,
    /// This endpoint's own histogram bounds, instead of `[histogram]`'s.
    pub buckets: Option<Vec<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct TrafficFile {
    pub rate: Option<f64>,
    pub daily: Option<DailyFile>,
    #[serde(default)]
    pub mix: BTreeMap<String, f64>,
    pub users: Option<UsersFile>,
    pub proxy_read_timeout: Option<DurationText>,
}

/// `[ingress]`: the ingress-nginx controller in front of the Services.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct IngressFile {
    pub replicas: Option<i64>,
    pub worker_processes: Option<i64>,
}

/// Production traffic as a Locust-like population of users.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct UsersFile {
    pub count: i64,
    pub spawn_rate: Option<f64>,
    pub locustfile: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct DailyFile {
    pub amplitude: f64,
    pub peak: DurationText,
    pub start: Option<DurationText>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct VersionsFile {
    pub stable: VersionFile,
    pub canary: VersionFile,
}

/// A version's profile; in `canary`, every field left out is taken from `stable`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct VersionFile {
    pub image: Option<String>,
    pub startup: Option<DurationText>,
    pub fault: Option<String>,
    /// This build's worker threads per core, instead of `[pod]`'s.
    pub workers_per_cpu: Option<f64>,
    /// CPU time one request takes on this build.
    pub cpu_per_request: Option<DurationText>,
    #[serde(default)]
    pub memory: MemoryFile,
    #[serde(default)]
    pub pressure: PressureFile,
    #[serde(default)]
    pub latency: BTreeMap<String, LatencyFile>,
    #[serde(default)]
    pub errors: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct MemoryFile {
    pub baseline: Option<ByteSize>,
    pub leak_per_request: Option<ByteSize>,
    pub leak_per_minute: Option<ByteSize>,
    pub gc_amplitude: Option<ByteSize>,
    pub gc_period: Option<DurationText>,
    pub release: Option<crate::model::profile::Release>,
    pub noise: Option<ByteSize>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct PressureFile {
    pub start: Option<f64>,
    pub slowdown: Option<f64>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct LatencyFile {
    pub dist: String,
    pub mean: Option<DurationText>,
    pub median: Option<DurationText>,
    pub p99: Option<DurationText>,
    pub value: Option<DurationText>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct PolicyFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub steps: Option<Vec<StepFile>>,
    /// Argo YAML files or directories, relative to the scenario file.
    pub manifests: Option<Vec<String>>,
    #[serde(rename = "scaleDownDelaySeconds")]
    pub scale_down_delay_seconds: Option<i64>,
    #[serde(rename = "abortScaleDownDelaySeconds")]
    pub abort_scale_down_delay_seconds: Option<i64>,
    #[serde(rename = "trafficRouting")]
    pub traffic_routing: Option<bool>,
    #[serde(rename = "maxSurge")]
    pub max_surge: Option<toml::Value>,
    #[serde(rename = "maxUnavailable")]
    pub max_unavailable: Option<toml::Value>,
    #[serde(rename = "dynamicStableScale")]
    pub dynamic_stable_scale: Option<bool>,
    #[serde(rename = "minPodsPerReplicaSet")]
    pub min_pods_per_replica_set: Option<i64>,
    #[serde(rename = "rollbackWindow")]
    pub rollback_window: Option<RollbackWindowFile>,
    /// Background analysis (`canary.analysis`), with its `startingStep`.
    pub analysis: Option<AnalysisStepFile>,
    #[serde(default)]
    pub operator: OperatorFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RollbackWindowFile {
    pub revisions: i64,
}

/// One step, written as Argo writes it: `{ setWeight = 10 }`, `{ pause = {} }`,
/// `{ pause = { duration = "1m" } }`,
/// `{ analysis = { templates = [ { templateName = "x" } ], args = [ … ] } }`,
/// `{ setCanaryScale = { replicas = 2 } }`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a step: a table of one of setWeight, pause, analysis, setCanaryScale"
)]
pub enum StepFile {
    #[serde(rename = "setWeight")]
    SetWeight(i64),
    #[serde(rename = "pause")]
    Pause(PauseFile),
    #[serde(rename = "analysis")]
    Analysis(AnalysisStepFile),
    #[serde(rename = "setCanaryScale")]
    SetCanaryScale(CanaryScaleFile),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct PauseFile {
    pub duration: Option<DurationText>,
}

/// `analysis`: Argo's `RolloutAnalysis`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct AnalysisStepFile {
    pub templates: Vec<TemplateRefFile>,
    #[serde(default)]
    pub args: Vec<ArgFile>,
    #[serde(default, rename = "dryRun")]
    pub dry_run: Vec<DryRunFile>,
    #[serde(default, rename = "measurementRetention")]
    pub measurement_retention: Vec<RetentionFile>,
    /// Background analysis only.
    #[serde(rename = "startingStep")]
    pub starting_step: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct TemplateRefFile {
    #[serde(rename = "templateName")]
    pub template_name: String,
    #[serde(rename = "clusterScope")]
    pub cluster_scope: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct ArgFile {
    pub name: String,
    pub value: Option<String>,
    #[serde(rename = "valueFrom")]
    pub value_from: Option<ValueFromFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct ValueFromFile {
    #[serde(rename = "podTemplateHashValue")]
    pub pod_template_hash_value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct DryRunFile {
    #[serde(rename = "metricName")]
    pub metric_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RetentionFile {
    #[serde(rename = "metricName")]
    pub metric_name: String,
    pub limit: i64,
}

/// `setCanaryScale`: exactly one of the three.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct CanaryScaleFile {
    pub replicas: Option<i64>,
    pub weight: Option<i64>,
    #[serde(rename = "matchTrafficWeight")]
    pub match_traffic_weight: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct OperatorFile {
    pub promote_after: Option<DurationText>,
    pub look_every: Option<DurationText>,
    pub reaction: Option<DurationText>,
    #[serde(default)]
    pub panels: Vec<PanelFile>,
    #[serde(default)]
    pub page_on_oom: bool,
    #[serde(default)]
    pub alerts: Vec<AlertFile>,
    pub respond_after: Option<DurationText>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct PanelFile {
    pub name: String,
    pub query: String,
    pub above: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct AlertFile {
    pub name: String,
    pub expr: String,
    #[serde(rename = "for")]
    pub for_: Option<DurationText>,
}

/// A seed as a file writes it: any `u64`. TOML's integers stop at
/// 2^63 − 1, so a larger seed (which `--seed` takes) may be written as a
/// string of digits. Scenario, sweep and check files all read `seed` with
/// this one deserializer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seed(pub u64);

impl<'de> Deserialize<'de> for Seed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Seed, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Seed;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a seed: a whole number from 0 to 18446744073709551615")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Seed, E> {
                Ok(Seed(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Seed, E> {
                u64::try_from(v).map(Seed).map_err(|_| {
                    E::custom(format!(
                        "seed = {v}: a seed is a whole number from 0 to 18446744073709551615"
                    ))
                })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Seed, E> {
                v.parse().map(Seed).map_err(|_| {
                    E::custom(format!(
                        "seed = \"{v}\": a seed is a whole number from 0 to 18446744073709551615"
                    ))
                })
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A scenario's `seed` key, read as [`Seed`].
fn seed<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Seed::deserialize(d).map(|s| Some(s.0))
}
