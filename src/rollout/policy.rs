//! A rollout policy: the canary strategy being tested, as a validated value.
//!
//! A [`Policy`] holds what an Argo Rollout's `spec.strategy.canary` holds
//! (steps, background analysis, traffic routing, scale-down delays, the
//! rollback window), the AnalysisTemplates the policy can reference, and the
//! modelled operator around it. Loaders (scenario TOML, Argo YAML manifests)
//! build it; the controller in [`super::controller`] runs it.

pub use super::replicas::CanaryScale;
use super::replicas::{ProgressThreshold, SurgeLimits};
use crate::analysis::{AnalysisTemplate, DryRun, MeasurementRetention, RunArg};
use crate::diag::Diagnostic;
use crate::sim::SimDuration;

/// Argo's default `scaleDownDelaySeconds` and `abortScaleDownDelaySeconds`.
pub const DEFAULT_SCALE_DOWN_DELAY: SimDuration = SimDuration::from_secs(30);

/// Argo's default `progressDeadlineSeconds` (`DefaultProgressDeadlineSeconds`,
/// `utils/defaults/defaults.go`).
pub const DEFAULT_PROGRESS_DEADLINE: SimDuration = SimDuration::from_secs(600);

/// One canary step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `setWeight: N`: send N% of traffic to the canary.
    SetWeight(u32),
    /// `pause: {duration: D}` when `Some`, `pause: {}` (wait for a person) when `None`.
    Pause(Option<SimDuration>),
    /// `analysis:`: run the templates; the step completes when the run is Successful.
    Analysis(AnalysisRef),
    /// `setCanaryScale:`: set the canary's replica count apart from its weight.
    SetCanaryScale(CanaryScale),
}

impl Step {
    /// The step's Argo name, as the JSON result reports it.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::SetWeight(_) => "setWeight",
            Step::Pause(_) => "pause",
            Step::Analysis(_) => "analysis",
            Step::SetCanaryScale(_) => "setCanaryScale",
        }
    }
}

/// A reference to a template by name (`templates[].templateName`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRef {
    /// `templateName`.
    pub name: String,
    /// `clusterScope: true` looks up a ClusterAnalysisTemplate.
    pub cluster_scope: bool,
}

/// `RolloutAnalysis`: the templates and args of an analysis step or of the
/// background analysis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnalysisRef {
    /// The templates, merged into one run.
    pub templates: Vec<TemplateRef>,
    /// Args supplied by the rollout.
    pub args: Vec<RunArg>,
    /// `dryRun` rules of the rollout.
    pub dry_run: Vec<DryRun>,
    /// `measurementRetention` rules of the rollout.
    pub measurement_retention: Vec<MeasurementRetention>,
}

impl AnalysisRef {
    /// Namespaced templates by name, with args given as plain values (the
    /// common case, and a short way to build a policy in code).
    pub fn with_values(templates: &[&str], args: &[(&str, &str)]) -> AnalysisRef {
        use crate::analysis::ArgSource;
        AnalysisRef {
            templates: templates
                .iter()
                .map(|t| TemplateRef {
                    name: (*t).to_string(),
                    cluster_scope: false,
                })
                .collect(),
            args: args
                .iter()
                .map(|(n, v)| RunArg {
                    name: (*n).to_string(),
                    source: ArgSource::Value((*v).to_string()),
                })
                .collect(),
            ..AnalysisRef::default()
        }
    }
}

/// `canary.analysis`: a run that lasts the whole rollout from `startingStep`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BackgroundAnalysis {
    /// The templates and args.
    pub analysis: AnalysisRef,
    /// `startingStep` (default 0).
    pub starting_step: usize,
}

/// A dashboard panel the operator watches, with the line past which
/// something "looks wrong".
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// What the panel is called.
    pub name: String,
    /// The PromQL behind it.
    pub query: String,
    /// The operator reacts when any value is above this.
    pub above: f64,
}

/// An alert that pages the operator after promotion.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The alert's name.
    pub name: String,
    /// The PromQL alert expression: firing while it returns any sample.
    pub expr: String,
    /// How long it must hold before it fires (`for:`).
    pub for_: SimDuration,
}

/// The person running the rollout by hand, and watching it afterwards.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OperatorConfig {
    /// Promote an indefinite pause this long after it began, unless a panel
    /// looks wrong; `None` never promotes.
    pub promote_after: Option<SimDuration>,
    /// How often the operator looks at the panels while a pause waits for them.
    pub look_every: Option<SimDuration>,
    /// The panels.
    pub panels: Vec<Panel>,
    /// From seeing something wrong (or being paged) to acting.
    pub reaction: SimDuration,
    /// Whether an OOM kill pages the operator.
    pub page_on_oom: bool,
    /// Alerts that page the operator.
    pub alerts: Vec<Alert>,
    /// From the page to running `kubectl argo rollouts undo` (after a
    /// promotion) or `abort` (during the rollout); `None` never responds.
    pub respond_after: Option<SimDuration>,
}

/// A complete canary policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Name used with `--policy` and in reports.
    pub name: String,
    /// One line for reports.
    pub description: String,
    /// Where it came from (a scenario table or manifest files), for reports.
    pub source: String,
    /// The canary steps, in order.
    pub steps: Vec<Step>,
    /// Background analysis, if any.
    pub background: Option<BackgroundAnalysis>,
    /// Whether traffic routing is configured (nginx); without it the canary
    /// is a basic canary and weights are approximated by replica counts.
    pub traffic_routing: bool,
    /// `maxSurge` and `maxUnavailable` (basic canary pacing).
    pub surge: SurgeLimits,
    /// `dynamicStableScale`.
    pub dynamic_stable_scale: bool,
    /// `minPodsPerReplicaSet` (traffic routing only).
    pub min_pods_per_replica_set: Option<u32>,
    /// Delay before the old stable ReplicaSet is scaled down after promotion.
    pub scale_down_delay: SimDuration,
    /// Delay before an aborted canary is scaled down once stable is
    /// available; `None` (Argo's 0) keeps it up.
    pub abort_scale_down_delay: Option<SimDuration>,
    /// Whether `abortScaleDownDelaySeconds` was written at all: Argo steps an
    /// aborted `dynamicStableScale` canary down differently when it is unset.
    pub abort_scale_down_delay_set: bool,
    /// `rollbackWindow.revisions`.
    pub rollback_window: Option<u32>,
    /// `canary.replicaProgressThreshold`: how many canary pods must be
    /// available for a step's counts, a weight move or full promotion to
    /// count as reached (all of them when unset).
    pub replica_progress_threshold: Option<ProgressThreshold>,
    /// `spec.progressDeadlineSeconds`: how long the update may go without
    /// progress before the rollout is Degraded (`ProgressDeadlineExceeded`).
    pub progress_deadline: SimDuration,
    /// `spec.progressDeadlineAbort`: abort when the progress deadline passes.
    pub progress_deadline_abort: bool,
    /// The AnalysisTemplates and ClusterAnalysisTemplates that exist in the
    /// cluster this policy runs in.
    pub templates: Vec<AnalysisTemplate>,
    /// The operator.
    pub operator: OperatorConfig,
    /// Fields of the source the simulator does not model.
    pub warnings: Vec<Diagnostic>,
}

impl Policy {
    /// A policy with Argo's defaults: traffic routing on, no background
    /// analysis, 30 s scale-down delays, a 600 s progress deadline that does
    /// not abort, no templates, no operator.
    pub fn new(name: impl Into<String>, steps: Vec<Step>) -> Policy {
        Policy {
            name: name.into(),
            description: String::new(),
            source: String::new(),
            steps,
            background: None,
            traffic_routing: true,
            surge: SurgeLimits::default(),
            dynamic_stable_scale: false,
            min_pods_per_replica_set: None,
            scale_down_delay: DEFAULT_SCALE_DOWN_DELAY,
            abort_scale_down_delay: Some(DEFAULT_SCALE_DOWN_DELAY),
            abort_scale_down_delay_set: false,
            rollback_window: None,
            replica_progress_threshold: None,
            progress_deadline: DEFAULT_PROGRESS_DEADLINE,
            progress_deadline_abort: false,
            templates: Vec::new(),
            operator: OperatorConfig::default(),
            warnings: Vec::new(),
        }
    }

    /// The template a reference names, if the cluster has it.
    pub fn template(&self, r: &TemplateRef) -> Option<&AnalysisTemplate> {
        use crate::analysis::TemplateKind;
        let kind = if r.cluster_scope {
            TemplateKind::Cluster
        } else {
            TemplateKind::Namespaced
        };
        self.templates
            .iter()
            .find(|t| t.name == r.name && t.kind == kind)
    }
}
