//! Resource budgets: what a run of the scenario would cost, bounded before
//! it starts.
//!
//! Each value may be reasonable on its own while together they ask for more
//! memory or time than a machine has (a thousand replicas scraped every
//! millisecond for a year). The run's cost follows from a few numbers known
//! after validation, so the estimate is checked here, with an error that
//! names the budget and the keys that set it, instead of the run dying of
//! memory hours later.
//!
//! In: the validated `[simulation]` spans, `[rollout]`, `[[endpoints]]` and
//! `[traffic]`. Out: `Ok` or an [`super::path::Invalid`] at the key to change.
//! Neighbours: called last by [`super::validate`]; the limits are listed in
//! `docs/scenario.md`.

use super::path::{Path, Result, invalid};
use crate::model::histogram::{BucketLayout, DEFAULT_BUCKETS};
use crate::scenario::model::{RolloutShape, Traffic};
use crate::sim::SimDuration;

/// The most samples a run may store in its simulated Prometheus (16 bytes
/// each: about 1 GB).
pub const MAX_SAMPLES: u64 = 60_000_000;

/// The most requests a run may simulate one by one.
pub const MAX_REQUESTS: u64 = 2_000_000_000;

/// The shortest `scrape_interval`: Prometheus's own minimum in practice.
pub const MIN_SCRAPE_INTERVAL: SimDuration = SimDuration::from_secs(1);

/// The spans of the run that the budget depends on.
pub(crate) struct Spans {
    pub scrape_interval: SimDuration,
    pub warmup: SimDuration,
    pub max_duration: SimDuration,
}

/// The series one pod can have at once with client_golang's default
/// buckets on `endpoints` endpoints ([`series_per_pod_of`]).
pub fn series_per_pod(endpoints: usize) -> u64 {
    1 + endpoints as u64 * (2 + DEFAULT_BUCKETS.len() as u64 + 1 + 2) + 10
}

/// The series one pod can have at once: the application's per endpoint
/// (two status codes, the histogram's buckets with `+Inf`, `_sum` and
/// `_count`) and `up`, plus cAdvisor's two (the container's and the pod
/// cgroup's working set) and kube-state-metrics' eight.
pub fn series_per_pod_of(buckets: &BucketLayout) -> u64 {
    let endpoints = buckets.endpoints() as u64;
    1 + endpoints * (2 + 2) + buckets.total() as u64 + 10
}

/// The upper estimate of samples a run stores: stable and canary pods
/// (twice the replicas) scraped over the warm-up and the longest run.
pub(crate) fn estimated_samples(replicas: u32, buckets: &BucketLayout, spans: &Spans) -> u64 {
    samples_for_pods(2 * u64::from(replicas), buckets, spans)
}

fn samples_for_pods(pods: u64, buckets: &BucketLayout, spans: &Spans) -> u64 {
    let scrapes =
        (spans.warmup.0.saturating_add(spans.max_duration.0)) / spans.scrape_interval.0.max(1);
    pods.saturating_mul(series_per_pod_of(buckets))
        .saturating_mul(scrapes.saturating_add(1))
}

/// A policy whose `setCanaryScale.replicas` asks for more canary pods than
/// `rollout.replicas` raises the pod count the budget assumed; checked once
/// the policy is read.
pub(super) fn check_canary_scale(
    policy_path: &Path,
    policy: &crate::rollout::policy::Policy,
    spans: &Spans,
    rollout: &RolloutShape,
    buckets: &BucketLayout,
) -> Result<()> {
    use crate::rollout::policy::{CanaryScale, Step};
    let most = policy
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::SetCanaryScale(CanaryScale::Replicas(n)) => Some(*n),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let pods = u64::from(rollout.replicas) + u64::from(most.max(rollout.replicas));
    let samples = samples_for_pods(pods, buckets, spans);
    if samples > MAX_SAMPLES {
        return Err(invalid(
            &policy_path.key("steps"),
            format!(
                "setCanaryScale to {most} replicas makes the run store up to {samples} samples ({pods} pods), more than the budget of {MAX_SAMPLES}"
            ),
            "scale the canary to fewer replicas, or shorten simulation.max_duration",
        ));
    }
    Ok(())
}

pub(super) fn check(
    root: &Path,
    spans: &Spans,
    rollout: &RolloutShape,
    buckets: &BucketLayout,
    traffic: &Traffic,
) -> Result<()> {
    let sim = root.key("simulation");
    if spans.scrape_interval < MIN_SCRAPE_INTERVAL {
        return Err(invalid(
            &sim.key("scrape_interval"),
            format!(
                "scrape interval {} is below the shortest canarysim simulates, {MIN_SCRAPE_INTERVAL}",
                spans.scrape_interval
            ),
            "Prometheus is scraped every few seconds; e.g. \"15s\"",
        ));
    }
    let samples = estimated_samples(rollout.replicas, buckets, spans);
    if samples > MAX_SAMPLES {
        return Err(invalid(
            &sim,
            format!(
                "the run would store up to {samples} samples ({} pods × {} series × {} scrapes), more than the budget of {MAX_SAMPLES}",
                2 * rollout.replicas,
                series_per_pod_of(buckets),
                (spans.warmup.0 + spans.max_duration.0) / spans.scrape_interval.0 + 1,
            ),
            "lower rollout.replicas, simulation.warmup or simulation.max_duration, or raise simulation.scrape_interval",
        ));
    }
    if traffic.users.is_none() {
        let seconds = (spans.warmup.0 + spans.max_duration.0) as f64 / 1e6;
        let peak = traffic.rate * (1.0 + traffic.daily.as_ref().map_or(0.0, |d| d.amplitude));
        let requests = peak * seconds;
        if requests > MAX_REQUESTS as f64 {
            return Err(invalid(
                &root.key("traffic").key("rate"),
                format!(
                    "the run would simulate up to {requests:.0} requests, more than the budget of {MAX_REQUESTS}"
                ),
                "lower traffic.rate, simulation.warmup or simulation.max_duration",
            ));
        }
    }
    Ok(())
}
