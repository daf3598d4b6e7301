//! Argo AnalysisTemplates and AnalysisRuns, rule for rule.
//!
//! Flow: [`template`] holds the model the scenario loaders build;
//! [`args`] turns templates plus a rollout's args into a [`RunSpec`];
//! [`run::AnalysisRun`] reconciles that spec over simulated time, measuring
//! through [`provider`]s on a [`ProviderHost`] the engine implements, with
//! conditions judged by `crate::condition` and the `judge` provider by
//! `crate::judge`; [`report`] gives the JSON `analysis_runs` entries.
//!
//! What the engine does with a run:
//! 1. build it: `new_run_spec(templates, build_run_args(step args, hashes)?, …)`
//!    then `AnalysisRun::new(name, spec, now, rng)`; a spec error here is
//!    what Argo reports on the Rollout (InvalidSpec), not a run phase;
//! 2. call [`AnalysisRun::reconcile`] at once, then at each returned
//!    `next_reconcile` (job measurements are polled through it; an extra
//!    reconcile when a job ends, as Argo's job informer makes, is harmless
//!    and changes nothing: Argo too waits for the poll);
//! 3. call [`AnalysisRun::terminate`] when the rollout cancels the run;
//! 4. read [`AnalysisRun::phase`]: Successful completes a step,
//!    Inconclusive pauses, Failed or Error aborts.

pub mod args;
pub mod phase;
pub mod provider;
pub mod report;
pub mod run;
pub mod template;
pub mod validate;

pub use args::{
    ArgError, FlattenError, PodHashes, RunSpec, build_run_args, flatten_templates, merge_args,
    new_run_spec, resolve_metric_args, substitute,
};
pub use phase::{AnalysisPhase, RolloutReaction};
pub use provider::{JobId, JobRequest, JobStatus, Measurement, ProviderHost};
pub use report::{AnalysisRunReport, MeasurementReport, MetricReport};
pub use run::{AnalysisRun, MetricResult, Reconciled};
pub use template::{
    AnalysisTemplate, Arg, ArgSource, DryRun, HashSource, JobMetric, JudgeMetric,
    MeasurementRetention, Metric, MetricProvider, PrometheusMetric, RunArg, TemplateKind,
    TemplateSpec, Templated,
};
pub use validate::{
    CheckedMetric, CheckedProvider, MetricError, MetricsError, validate_metric, validate_metrics,
};
