//! A rollout policy: the canary strategy being tested, as a validated value.
//!
//! A [`Policy`] holds what an Argo Rollout's `spec.strategy.canary` holds
//! (steps, traffic routing, scale-down delays) plus the modelled operator who
//! promotes indefinite pauses. Loaders (scenario TOML, later Argo YAML) build
//! it; the controller in [`super::controller`] runs it.

use crate::sim::SimDuration;

/// Argo's default `scaleDownDelaySeconds` and `abortScaleDownDelaySeconds`.
pub const DEFAULT_SCALE_DOWN_DELAY: SimDuration = SimDuration::from_secs(30);

/// One canary step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `setWeight: N`: send N% of traffic to the canary.
    SetWeight(u32),
    /// `pause: {duration: D}` when `Some`, `pause: {}` (wait for a person) when `None`.
    Pause(Option<SimDuration>),
}

impl Step {
    /// The step's Argo name, as the JSON result reports it.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::SetWeight(_) => "setWeight",
            Step::Pause(_) => "pause",
        }
    }
}

/// The person running the rollout by hand.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OperatorConfig {
    /// Promote an indefinite pause this long after it began; `None` never promotes.
    pub promote_after: Option<SimDuration>,
}

/// A complete canary policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Name used with `--policy` and in reports.
    pub name: String,
    /// One line for reports.
    pub description: String,
    /// The canary steps, in order.
    pub steps: Vec<Step>,
    /// Delay before the old stable ReplicaSet is scaled down after promotion.
    pub scale_down_delay: SimDuration,
    /// The operator.
    pub operator: OperatorConfig,
}
