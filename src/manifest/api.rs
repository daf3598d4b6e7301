//! Argo Rollouts' API objects as they stand in YAML: serde structs with
//! Argo's own field names, each value [`Spanned`] with its line and column.
//!
//! Only the fields canarysim models are read. Every other key is kept, with
//! where it stands, in the struct's `unread` list, so [`Walk`] can report it
//! ("field X is not modelled by canarysim") instead of dropping it. Serde's
//! `flatten` would lose the locations of everything inside the struct, so the
//! structs are declared through `argo_struct!`, which writes a map visitor
//! that reads keys as `Spanned<String>`.
//!
//! Neighbours: [`super::load`] runs serde-saphyr over a file's documents into
//! [`Document`]s; `super::convert` turns them into the crate's model.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_saphyr::Spanned;

use crate::judge::{Direction, EffectSize, NanStrategy, Outliers};

/// A key canarysim did not read, with its path (`spec.strategy.canary.antiAffinity`).
#[derive(Debug, Clone)]
pub struct Unread {
    /// Dotted path from the document's root.
    pub path: String,
    /// Where the key stands.
    pub at: serde_saphyr::Location,
}

/// Collects the unread keys of a value and of everything inside it.
pub trait Walk {
    /// Appends every unread key below `path` to `out`.
    fn walk(&self, path: &str, out: &mut Vec<Unread>);
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl<T: Walk> Walk for Spanned<T> {
    fn walk(&self, path: &str, out: &mut Vec<Unread>) {
        self.value.walk(path, out);
    }
}

impl<T: Walk> Walk for Vec<T> {
    fn walk(&self, path: &str, out: &mut Vec<Unread>) {
        for (i, v) in self.iter().enumerate() {
            v.walk(&format!("{path}[{i}]"), out);
        }
    }
}

macro_rules! leaf_walk {
    ($($t:ty),*) => {
        $(impl Walk for $t {
            fn walk(&self, _: &str, _: &mut Vec<Unread>) {}
        })*
    };
}

leaf_walk!(
    String,
    bool,
    i64,
    f64,
    IntOrStr,
    Quantity,
    Present,
    BTreeMap<String, String>,
    Direction,
    NanStrategy,
    Outliers,
    EffectSize
);

/// Declares a struct of `Option<Spanned<T>>` fields read from the YAML keys
/// given, plus `unread`, with its `Deserialize` and [`Walk`].
macro_rules! argo_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty => $key:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[doc = concat!("`", $key, "`.")]
                pub $field: Option<Spanned<$ty>>,
            )*
            /// Keys canarysim does not read, where they stand.
            pub unread: Vec<Spanned<String>>,
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str(concat!("a mapping (", stringify!($name), ")"))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<Spanned<String>>()? {
                            match key.value.as_str() {
                                $( $key => out.$field = map.next_value::<Option<Spanned<$ty>>>()?, )*
                                _ => {
                                    map.next_value::<IgnoredAny>()?;
                                    out.unread.push(key);
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V)
            }
        }

        impl Walk for $name {
            #[allow(unused_variables)]
            fn walk(&self, path: &str, out: &mut Vec<Unread>) {
                for k in &self.unread {
                    out.push(Unread { path: join(path, &k.value), at: k.referenced });
                }
                $( if let Some(v) = &self.$field { v.walk(&join(path, $key), out); } )*
            }
        }
    };
}

/// Kubernetes' `IntOrString`: `count: 3` or `count: "{{args.count}}"`,
/// `maxSurge: 1` or `maxSurge: "25%"`.
#[derive(Debug, Clone, PartialEq)]
pub enum IntOrStr {
    /// A number.
    Int(i64),
    /// Text.
    Str(String),
}

impl fmt::Display for IntOrStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrStr::Int(i) => write!(f, "{i}"),
            IntOrStr::Str(s) => f.write_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrStr;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or a string")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<IntOrStr, E> {
                Ok(IntOrStr::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<IntOrStr, E> {
                i64::try_from(v)
                    .map(IntOrStr::Int)
                    .map_err(|_| E::custom(format!("{v} is too large")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<IntOrStr, E> {
                // The API server refuses the object: an IntOrString's
                // number is an int32 (`failureLimit: 1.5` is not 1, nor 0).
                Err(E::invalid_type(serde::de::Unexpected::Float(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IntOrStr, E> {
                Ok(IntOrStr::Str(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Kubernetes' `Quantity` as written: `cpu: 0.5`, `cpu: 2`, `memory: 1Gi`
/// (a number in YAML, or text), kept as its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity(pub String);

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a quantity (a number or a string such as \"250m\" or \"1Gi\")")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A key whose presence matters but whose content canarysim does not read
/// (an `experiment` step, a provider it does not model).
#[derive(Debug, Clone, Copy, Default)]
pub struct Present;

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d).map(|_| Present)
    }
}

/// The kinds canarysim reads.
pub const ROLLOUT: &str = "Rollout";
/// `AnalysisTemplate`.
pub const ANALYSIS_TEMPLATE: &str = "AnalysisTemplate";
/// `ClusterAnalysisTemplate`.
pub const CLUSTER_ANALYSIS_TEMPLATE: &str = "ClusterAnalysisTemplate";

fn is_read_kind(kind: &str) -> bool {
    matches!(
        kind,
        ROLLOUT | ANALYSIS_TEMPLATE | CLUSTER_ANALYSIS_TEMPLATE
    )
}

/// One YAML document: a Kubernetes object.
///
/// The `spec` of a kind canarysim does not read (a Service, a ConfigMap) is
/// skipped when `kind` comes first, as it does in practice.
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// `apiVersion`.
    pub api_version: Option<Spanned<String>>,
    /// `kind`.
    pub kind: Option<Spanned<String>>,
    /// `metadata`.
    pub metadata: Option<Spanned<ObjectMeta>>,
    /// `spec` (the union of a Rollout's and a template's).
    pub spec: Option<Spanned<Spec>>,
    /// Top-level keys canarysim does not read (`status`, …).
    pub unread: Vec<Spanned<String>>,
    /// Where the document's first key stands.
    pub start: Option<serde_saphyr::Location>,
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Document;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Kubernetes object (a mapping with apiVersion, kind, metadata, spec)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
                let mut out = Document::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    out.start.get_or_insert(key.referenced);
                    match key.value.as_str() {
                        "apiVersion" => out.api_version = map.next_value()?,
                        "kind" => out.kind = map.next_value()?,
                        "metadata" => out.metadata = map.next_value()?,
                        "spec" => {
                            let foreign =
                                out.kind.as_ref().is_some_and(|k| !is_read_kind(&k.value));
                            if foreign {
                                map.next_value::<IgnoredAny>()?;
                            } else {
                                out.spec = map.next_value()?;
                            }
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            out.unread.push(key);
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

impl Document {
    /// The `kind`, or "" when missing.
    pub fn kind(&self) -> &str {
        self.kind.as_ref().map_or("", |k| k.value.as_str())
    }
}

argo_struct! {
    /// `metadata`.
    pub struct ObjectMeta {
        name: String => "name",
        namespace: String => "namespace",
        labels: BTreeMap<String, String> => "labels",
        annotations: BTreeMap<String, String> => "annotations",
    }
}

argo_struct! {
    /// `spec` of a Rollout or of an (Cluster)AnalysisTemplate: the two share
    /// no field name, so one struct reads both; `super::convert` reports the
    /// fields that do not belong to the document's kind.
    pub struct Spec {
        replicas: i64 => "replicas",
        selector: LabelSelector => "selector",
        template: PodTemplate => "template",
        strategy: Strategy => "strategy",
        rollback_window: RollbackWindow => "rollbackWindow",
        progress_deadline_seconds: i64 => "progressDeadlineSeconds",
        progress_deadline_abort: bool => "progressDeadlineAbort",
        args: Vec<Spanned<Argument>> => "args",
        metrics: Vec<Spanned<Metric>> => "metrics",
        dry_run: Vec<Spanned<DryRun>> => "dryRun",
        measurement_retention: Vec<Spanned<Retention>> => "measurementRetention",
    }
}

/// The Rollout fields of [`Spec`].
pub const ROLLOUT_SPEC_FIELDS: &[&str] = &[
    "replicas",
    "selector",
    "template",
    "strategy",
    "rollbackWindow",
    "progressDeadlineSeconds",
    "progressDeadlineAbort",
];

argo_struct! {
    /// `selector`.
    pub struct LabelSelector {
        match_labels: BTreeMap<String, String> => "matchLabels",
    }
}

argo_struct! {
    /// The Rollout's pod `template`.
    pub struct PodTemplate {
        metadata: ObjectMeta => "metadata",
        spec: PodSpec => "spec",
    }
}

argo_struct! {
    /// The pod `spec` of the service.
    pub struct PodSpec {
        containers: Vec<Spanned<Container>> => "containers",
    }
}

argo_struct! {
    /// A container of the service.
    pub struct Container {
        name: String => "name",
        image: String => "image",
        resources: Resources => "resources",
    }
}

argo_struct! {
    /// `resources`.
    pub struct Resources {
        requests: ResourceList => "requests",
        limits: ResourceList => "limits",
    }
}

argo_struct! {
    /// `requests` or `limits`.
    pub struct ResourceList {
        cpu: Quantity => "cpu",
        memory: Quantity => "memory",
    }
}

argo_struct! {
    /// `strategy`.
    pub struct Strategy {
        canary: Canary => "canary",
        blue_green: Present => "blueGreen",
    }
}

argo_struct! {
    /// `strategy.canary`.
    pub struct Canary {
        canary_service: String => "canaryService",
        stable_service: String => "stableService",
        steps: Vec<Spanned<Step>> => "steps",
        traffic_routing: TrafficRouting => "trafficRouting",
        max_surge: IntOrStr => "maxSurge",
        max_unavailable: IntOrStr => "maxUnavailable",
        analysis: BackgroundAnalysis => "analysis",
        scale_down_delay_seconds: i64 => "scaleDownDelaySeconds",
        abort_scale_down_delay_seconds: i64 => "abortScaleDownDelaySeconds",
        dynamic_stable_scale: bool => "dynamicStableScale",
        min_pods_per_replica_set: i64 => "minPodsPerReplicaSet",
        replica_progress_threshold: ProgressThreshold => "replicaProgressThreshold",
    }
}

argo_struct! {
    /// `replicaProgressThreshold`.
    pub struct ProgressThreshold {
        type_: String => "type",
        value: i64 => "value",
    }
}

argo_struct! {
    /// `trafficRouting`: any router makes the canary traffic-routed; only
    /// nginx's `stableIngress` is read.
    pub struct TrafficRouting {
        nginx: Nginx => "nginx",
    }
}

argo_struct! {
    /// `trafficRouting.nginx`.
    pub struct Nginx {
        stable_ingress: String => "stableIngress",
    }
}

argo_struct! {
    /// One canary step.
    pub struct Step {
        set_weight: i64 => "setWeight",
        pause: Pause => "pause",
        analysis: RolloutAnalysis => "analysis",
        set_canary_scale: CanaryScale => "setCanaryScale",
        experiment: Present => "experiment",
        set_header_route: Present => "setHeaderRoute",
        set_mirror_route: Present => "setMirrorRoute",
        plugin: Present => "plugin",
    }
}

argo_struct! {
    /// `pause`.
    pub struct Pause {
        duration: IntOrStr => "duration",
    }
}

argo_struct! {
    /// `setCanaryScale`.
    pub struct CanaryScale {
        weight: i64 => "weight",
        replicas: i64 => "replicas",
        match_traffic_weight: bool => "matchTrafficWeight",
    }
}

argo_struct! {
    /// An `analysis` step.
    pub struct RolloutAnalysis {
        templates: Vec<Spanned<TemplateRef>> => "templates",
        args: Vec<Spanned<RunArgument>> => "args",
        dry_run: Vec<Spanned<DryRun>> => "dryRun",
        measurement_retention: Vec<Spanned<Retention>> => "measurementRetention",
    }
}

argo_struct! {
    /// `canary.analysis`: background analysis.
    pub struct BackgroundAnalysis {
        templates: Vec<Spanned<TemplateRef>> => "templates",
        args: Vec<Spanned<RunArgument>> => "args",
        dry_run: Vec<Spanned<DryRun>> => "dryRun",
        measurement_retention: Vec<Spanned<Retention>> => "measurementRetention",
        starting_step: i64 => "startingStep",
    }
}

argo_struct! {
    /// `templates[]` of an analysis.
    pub struct TemplateRef {
        template_name: String => "templateName",
        cluster_scope: bool => "clusterScope",
    }
}

argo_struct! {
    /// `args[]` of an analysis (`AnalysisRunArgument`).
    pub struct RunArgument {
        name: String => "name",
        value: String => "value",
        value_from: RunArgValueFrom => "valueFrom",
    }
}

argo_struct! {
    /// `valueFrom` of a rollout's arg.
    pub struct RunArgValueFrom {
        pod_template_hash_value: String => "podTemplateHashValue",
        field_ref: FieldRef => "fieldRef",
    }
}

argo_struct! {
    /// `fieldRef`.
    pub struct FieldRef {
        field_path: String => "fieldPath",
    }
}

argo_struct! {
    /// `dryRun[]`.
    pub struct DryRun {
        metric_name: String => "metricName",
    }
}

argo_struct! {
    /// `measurementRetention[]`.
    pub struct Retention {
        metric_name: String => "metricName",
        limit: i64 => "limit",
    }
}

argo_struct! {
    /// `rollbackWindow`.
    pub struct RollbackWindow {
        revisions: i64 => "revisions",
    }
}

argo_struct! {
    /// A template's `args[]` (`Argument`).
    pub struct Argument {
        name: String => "name",
        value: String => "value",
        value_from: Present => "valueFrom",
    }
}

argo_struct! {
    /// A template's `metrics[]`.
    pub struct Metric {
        name: String => "name",
        interval: String => "interval",
        initial_delay: String => "initialDelay",
        count: IntOrStr => "count",
        success_condition: String => "successCondition",
        failure_condition: String => "failureCondition",
        failure_limit: IntOrStr => "failureLimit",
        inconclusive_limit: IntOrStr => "inconclusiveLimit",
        consecutive_error_limit: IntOrStr => "consecutiveErrorLimit",
        consecutive_success_limit: IntOrStr => "consecutiveSuccessLimit",
        provider: Provider => "provider",
    }
}

argo_struct! {
    /// `provider`: the three canarysim models, and Argo's others (read only
    /// to say they are not modelled).
    pub struct Provider {
        prometheus: Prometheus => "prometheus",
        job: Job => "job",
        judge: Judge => "judge",
        kayenta: Present => "kayenta",
        web: Present => "web",
        datadog: Present => "datadog",
        wavefront: Present => "wavefront",
        new_relic: Present => "newRelic",
        cloud_watch: Present => "cloudWatch",
        graphite: Present => "graphite",
        influxdb: Present => "influxdb",
        skywalking: Present => "skywalking",
        plugin: Present => "plugin",
    }
}

argo_struct! {
    /// `provider.prometheus`.
    pub struct Prometheus {
        address: String => "address",
        query: String => "query",
    }
}

argo_struct! {
    /// `provider.job`.
    pub struct Job {
        spec: JobSpec => "spec",
    }
}

argo_struct! {
    /// The Job's `spec`.
    pub struct JobSpec {
        backoff_limit: i64 => "backoffLimit",
        template: JobPodTemplate => "template",
    }
}

argo_struct! {
    /// The Job's pod `template`.
    pub struct JobPodTemplate {
        spec: JobPodSpec => "spec",
    }
}

argo_struct! {
    /// The Job's pod `spec`.
    pub struct JobPodSpec {
        containers: Vec<Spanned<JobContainer>> => "containers",
    }
}

argo_struct! {
    /// A container of the Job.
    pub struct JobContainer {
        name: String => "name",
        image: String => "image",
        command: Vec<Spanned<String>> => "command",
        args: Vec<Spanned<String>> => "args",
        env: Vec<Spanned<EnvVar>> => "env",
    }
}

argo_struct! {
    /// `env[]`.
    pub struct EnvVar {
        name: String => "name",
        value: String => "value",
    }
}

argo_struct! {
    /// `provider.judge`: canarysim's Kayenta-style judge (not an Argo provider).
    pub struct Judge {
        canary_query: String => "canaryQuery",
        baseline_query: String => "baselineQuery",
        lookback: String => "lookback",
        step: String => "step",
        direction: Direction => "direction",
        nan_strategy: NanStrategy => "nanStrategy",
        outliers: Outliers => "outliers",
        critical: bool => "critical",
        must_have_data: bool => "mustHaveData",
        muted: bool => "muted",
        effect_size: EffectSize => "effectSize",
        confidence_level: f64 => "confidenceLevel",
        tolerance: f64 => "tolerance",
    }
}

/// The value of an optional spanned field.
pub fn val<T>(f: &Option<Spanned<T>>) -> Option<&T> {
    f.as_ref().map(|s| &s.value)
}

/// The elements of an optional spanned list (none when absent).
pub fn items<T>(f: &Option<Spanned<Vec<Spanned<T>>>>) -> &[Spanned<T>] {
    f.as_ref().map_or(&[], |s| s.value.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unread_keys_are_kept_with_their_path_and_position() {
        let yaml = "canaryService: c\nfoo: 1\nsteps:\n  - setWeight: 5\n    bar: x\n";
        let c: Canary = serde_saphyr::from_str(yaml).unwrap();
        let mut out = Vec::new();
        c.walk("spec.strategy.canary", &mut out);
        let got: Vec<(String, u64, u64)> = out
            .iter()
            .map(|u| (u.path.clone(), u.at.line(), u.at.column()))
            .collect();
        assert_eq!(
            got,
            [
                ("spec.strategy.canary.foo".to_string(), 2, 1),
                ("spec.strategy.canary.steps[0].bar".to_string(), 5, 5)
            ]
        );
        assert_eq!(val(&c.canary_service).map(String::as_str), Some("c"));
    }

    #[test]
    fn int_or_string_keeps_numbers_and_text_apart() {
        let p: Pause = serde_saphyr::from_str("duration: 30").unwrap();
        assert_eq!(val(&p.duration), Some(&IntOrStr::Int(30)));
        let p: Pause = serde_saphyr::from_str("duration: \"30\"").unwrap();
        assert_eq!(val(&p.duration), Some(&IntOrStr::Str("30".into())));
        let p: Pause = serde_saphyr::from_str("duration: 1m").unwrap();
        assert_eq!(val(&p.duration), Some(&IntOrStr::Str("1m".into())));
    }

    #[test]
    fn the_spec_of_a_kind_canarysim_does_not_read_is_skipped() {
        // Its spec would not fit the union (replicas is a string), yet it reads.
        let doc: Document =
            serde_saphyr::from_str("kind: Service\nspec:\n  replicas: many\n").unwrap();
        assert_eq!(doc.kind(), "Service");
        assert!(doc.spec.is_none());
        let doc: Result<Document, _> =
            serde_saphyr::from_str("kind: Rollout\nspec:\n  replicas: many\n");
        assert!(doc.is_err());
    }
}
