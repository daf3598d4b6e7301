//! `describe`: each build's steady state as Prometheus would show it,
//! computed from the scenario alone, without a simulation.
//!
//! Flow: a validated [`crate::scenario::Scenario`] and optionally one of its
//! policies come in; a [`Description`] comes out, with one [`Point`] for
//! "each build alone at 100 %" and one per `setWeight` step of the policy.
//! Each point holds a [`BuildState`] per build serving there: per pod its
//! arrival rate, utilisation and M/M/c wait ([`crate::model::queueing`]),
//! per endpoint the request rate, the error ratio and p50/p90/p99 both
//! exact (the response-time law inverted) and as `histogram_quantile` reads
//! them from the endpoint's buckets ([`crate::promql::bucket_quantile`]),
//! and the memory slope and time to OOM. The replica counts at a weight are
//! Argo's ([`crate::rollout::replicas`]). [`Description::to_text`] renders
//! the table; the value serialises as the JSON of `--format json`.
//!
//! Neighbours: the binary's `describe` subcommand loads the scenario and
//! prints; `tests/it/calibrate.rs` checks the figures against a simulated
//! run's PromQL answers. The assumptions are listed in [`ASSUMPTIONS`] and
//! printed with every description.

mod text;

use serde::Serialize;

use crate::model::queueing::{Response, Wait, response_cdf};
use crate::model::{LatencyDist, Version};
use crate::rollout::policy::{Policy, Step};
use crate::rollout::replicas::{
    CanaryScale, CanaryTarget, RoutedCanary, approximate_weighted_counts, routed_counts,
};
use crate::scenario::Scenario;

/// What the figures assume; printed with them.
pub const ASSUMPTIONS: [&str; 7] = [
    "steady state: the mean traffic.rate (no daily shape), every pod ready and listed, each getting an even share",
    "a pod's arrivals are Poisson; the Services' round robin makes them more regular with several pods, so waits are somewhat overstated there",
    "each pod is an M/M/c queue (Erlang C) with the build's workers and its mix-weighted mean service time: exact for exponential service, an approximation otherwise",
    "a saturated pod (utilisation >= 1) has no steady state: its latencies are shown as inf",
    "no memory pressure: service times are those of an idle pod below pressure.start",
    "time to OOM counts from a container's start: (limit - baseline - gc_amplitude) / slope, the GC sawtooth's top reaching the limit",
    "error ratio is the builds' own 500s; 502/503/504s of restarts, full queues and timeouts are not counted",
];

/// Quantiles reported per endpoint.
pub const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

/// Why a scenario cannot be described.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DescribeError {
    /// Production traffic is a population of users: its rate follows the
    /// latency, so there is no open-loop rate to start from.
    #[error(
        "traffic is a population of users, whose rate depends on the latency; describe needs traffic.rate and traffic.mix"
    )]
    ClosedLoop,
}

/// The steady states of a scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Description {
    /// The scenario's name.
    pub scenario: String,
    /// The policy whose weights are described, if any.
    pub policy: Option<String>,
    /// Mean production requests per second at the ingress.
    pub rate: f64,
    /// What the figures assume.
    pub assumptions: Vec<&'static str>,
    /// "100 %" first, then each `setWeight` of the policy.
    pub points: Vec<Point>,
}

/// One traffic split.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// `"100%"`, or the step (`"steps[2] setWeight 20"`).
    pub label: String,
    /// The policy step, for a `setWeight`.
    pub step: Option<usize>,
    /// Canary weight, percent (100 for the "each alone" point).
    pub weight: u32,
    /// The builds serving at this split.
    pub builds: Vec<BuildState>,
}

/// One build at one split.
#[derive(Debug, Clone, Serialize)]
pub struct BuildState {
    /// Which build.
    pub version: Version,
    /// Its pods.
    pub pods: u32,
    /// Its share of the ingress's requests.
    pub share: f64,
    /// Requests per second over all its pods.
    pub rate: f64,
    /// Requests per second per pod.
    pub pod_rate: f64,
    /// Workers per pod.
    pub workers: u32,
    /// λ·E[S]/c per pod.
    pub utilisation: f64,
    /// Probability a request waits for a worker (Erlang C).
    pub p_wait: f64,
    /// Mean wait for a worker, seconds (`inf` when saturated).
    pub mean_wait_s: f64,
    /// Requests in a pod at once, λ·E[T] (Little's law): what
    /// `rate(http_request_duration_seconds_sum[…])` shows per pod.
    pub in_flight: f64,
    /// Failed (500) share of its requests.
    pub error_ratio: f64,
    /// Per endpoint.
    pub endpoints: Vec<EndpointState>,
    /// Per pod working-set growth, bytes per second (`deriv` of
    /// `container_memory_working_set_bytes`).
    pub memory_slope_bytes_per_s: f64,
    /// From a container's start to its OOM kill, seconds; `None` if never.
    pub time_to_oom_s: Option<f64>,
}

/// One endpoint of one build at one split.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointState {
    /// The endpoint's name.
    pub name: String,
    /// Its `handler` label.
    pub handler: String,
    /// Requests per second over the build's pods.
    pub rate: f64,
    /// Failed share.
    pub error_ratio: f64,
    /// Mean response time, seconds.
    pub mean_s: f64,
    /// p50, p90, p99 of the response time, seconds.
    pub exact_s: [f64; 3],
    /// The same as `histogram_quantile` reads them from the buckets.
    pub buckets_s: [f64; 3],
}

/// Describes `sc` at 100 % and at each `setWeight` of `policy`.
pub fn describe(sc: &Scenario, policy: Option<&Policy>) -> Result<Description, DescribeError> {
    if sc.traffic.users.is_some() {
        return Err(DescribeError::ClosedLoop);
    }
    let n = sc.rollout.replicas;
    let mut points = vec![Point {
        label: "100%".into(),
        step: None,
        weight: 100,
        builds: vec![
            build(sc, Version::Stable, n, 1.0),
            build(sc, Version::Canary, n, 1.0),
        ],
    }];
    if let Some(p) = policy {
        let mut scale = CanaryScale::MatchTrafficWeight;
        for (i, s) in p.steps.iter().enumerate() {
            match s {
                Step::SetCanaryScale(c) => scale = *c,
                Step::SetWeight(w) => points.push(at_weight(sc, p, i, *w, scale)),
                _ => {}
            }
        }
    }
    Ok(Description {
        scenario: sc.name.clone(),
        policy: policy.map(|p| p.name.clone()),
        rate: sc.traffic.rate,
        assumptions: ASSUMPTIONS.to_vec(),
        points,
    })
}

/// The split at `setWeight: weight` (step `i`), with the canary scale in
/// effect: Argo's replica counts, and the share by weight with traffic
/// routing or by pods without it.
fn at_weight(sc: &Scenario, p: &Policy, i: usize, weight: u32, scale: CanaryScale) -> Point {
    let n = sc.rollout.replicas;
    let (canary, stable, share) = if p.traffic_routing {
        let target = match scale {
            CanaryScale::Replicas(r) => CanaryTarget::Replicas(r),
            CanaryScale::Weight(w) => CanaryTarget::Weight(w),
            CanaryScale::MatchTrafficWeight => CanaryTarget::Weight(weight),
        };
        let cfg = RoutedCanary {
            replicas: n,
            max_weight: 100,
            min_pods_per_replica_set: p.min_pods_per_replica_set,
            dynamic_stable_scale: p.dynamic_stable_scale,
        };
        let actual = crate::rollout::replicas::TrafficWeights::split(weight, 100);
        let c = routed_counts(&cfg, target, Some(actual), false);
        (c.canary, c.stable, f64::from(weight) / 100.0)
    } else {
        let surge = p.surge.resolve(n).max_surge;
        let c = approximate_weighted_counts(n, weight, 100, surge);
        let total = c.canary + c.stable;
        let share = if total == 0 {
            0.0
        } else {
            f64::from(c.canary) / f64::from(total)
        };
        (c.canary, c.stable, share)
    };
    let mut builds = Vec::with_capacity(2);
    if stable > 0 && share < 1.0 {
        builds.push(build(sc, Version::Stable, stable, 1.0 - share));
    }
    if canary > 0 && share > 0.0 {
        builds.push(build(sc, Version::Canary, canary, share));
    }
    Point {
        label: format!("steps[{i}] setWeight {weight}"),
        step: Some(i),
        weight,
        builds,
    }
}

/// The mix as shares summing to 1.
fn mix(sc: &Scenario) -> Vec<f64> {
    let total: f64 = sc.traffic.mix.iter().sum();
    sc.traffic.mix.iter().map(|m| m / total).collect()
}

/// Build `v` on `pods` pods with `share` of the ingress's requests.
fn build(sc: &Scenario, v: Version, pods: u32, share: f64) -> BuildState {
    let prof = sc.profile(v);
    let mix = mix(sc);
    let rate = sc.traffic.rate * share;
    let lambda = rate / f64::from(pods.max(1));
    let c = prof.workers;
    let es: f64 = mix
        .iter()
        .zip(&prof.latency)
        .map(|(m, l)| m * l.mean())
        .sum();
    let utilisation = lambda * es / f64::from(c);
    let wait = Wait::mmc(lambda, c, es);
    let endpoints: Vec<EndpointState> = sc
        .endpoints
        .iter()
        .enumerate()
        .map(|(e, ep)| {
            let dist = &prof.latency[e];
            let (mean_s, exact_s, buckets_s) = match &wait {
                Some(w) => latencies(dist, w, sc.buckets.bounds(e)),
                None => (f64::INFINITY, [f64::INFINITY; 3], [f64::INFINITY; 3]),
            };
            EndpointState {
                name: ep.name.clone(),
                handler: ep.handler.clone(),
                rate: rate * mix[e],
                error_ratio: prof.error_rate[e],
                mean_s,
                exact_s,
                buckets_s,
            }
        })
        .collect();
    let mean_t: f64 = endpoints.iter().zip(&mix).map(|(e, m)| m * e.mean_s).sum();
    let mem = &prof.memory;
    let slope = mem.leak_per_request * lambda + mem.leak_per_minute / 60.0;
    let headroom = sc.pod.memory_limit - mem.baseline - mem.gc_amplitude;
    let time_to_oom_s = if headroom <= 0.0 {
        Some(0.0)
    } else if slope > 0.0 {
        Some(headroom / slope)
    } else {
        None
    };
    BuildState {
        version: v,
        pods,
        share,
        rate,
        pod_rate: lambda,
        workers: c,
        utilisation,
        p_wait: wait.map_or(1.0, |w| w.p),
        mean_wait_s: wait.map_or(f64::INFINITY, |w| w.mean()),
        in_flight: if wait.is_some() {
            lambda * mean_t
        } else {
            f64::INFINITY
        },
        error_ratio: mix.iter().zip(&prof.error_rate).map(|(m, e)| m * e).sum(),
        endpoints,
        memory_slope_bytes_per_s: slope,
        time_to_oom_s,
    }
}

/// Mean, exact quantiles and bucket quantiles of the response time of
/// service `dist` after wait `w`, in a histogram with `bounds`.
fn latencies(dist: &LatencyDist, w: &Wait, bounds: &[f64]) -> (f64, [f64; 3], [f64; 3]) {
    let r = Response::of(dist, 1.0, w, bounds);
    let mut cumulative = Vec::with_capacity(r.buckets.len());
    let mut acc = 0.0;
    for p in &r.buckets {
        acc += p;
        cumulative.push(acc);
    }
    let exact = QUANTILES.map(|q| invert(dist, w, q));
    let from_buckets = QUANTILES.map(|q| crate::promql::bucket_quantile(q, bounds, &cumulative));
    (r.mean, exact, from_buckets)
}

/// The `q`-quantile of the response time, by bisection on its distribution
/// function (monotone), to a relative precision of 1e-9.
fn invert(dist: &LatencyDist, w: &Wait, q: f64) -> f64 {
    let mut hi = (w.mean() + dist.mean()).max(1e-6);
    let mut rounds = 0;
    while response_cdf(dist, 1.0, w, hi) < q && rounds < 200 {
        hi *= 2.0;
        rounds += 1;
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if response_cdf(dist, 1.0, w, mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-9 * hi {
            break;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    /// M/M/1 at λ = 8/s, μ = 10/s: the response time is Exp(μ − λ = 2/s)
    /// (Kleinrock vol. 1, §3.2), so its p99 is ln(100)/2 s.
    #[test]
    fn describe_inverts_the_mm1_response_time_exactly() {
        let dist = LatencyDist::exponential(0.1).unwrap();
        let w = Wait::mmc(8.0, 1, 0.1).unwrap();
        let (mean, exact, _) = latencies(&dist, &w, &crate::model::histogram::DEFAULT_BUCKETS);
        assert!((mean - 0.5).abs() < 1e-9, "{mean}");
        let want = 100f64.ln() / 2.0;
        assert!(
            (exact[2] - want).abs() < 1e-6 * want,
            "{} vs {want}",
            exact[2]
        );
        assert!((exact[0] - 2f64.ln() / 2.0).abs() < 1e-6);
    }
}
