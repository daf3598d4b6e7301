//! Version profiles: how a build of the service behaves, as immutable values.
//!
//! A [`VersionProfile`] says how much memory a pod of that version holds and
//! leaks, how long each endpoint takes to serve on an idle pod, how often it
//! fails, and how long a container takes to start. Profiles are validated when
//! the scenario is loaded; sampling from them cannot fail. The engine samples
//! them on the per-request path, so nothing here allocates.

use rand::RngExt;
use rand_distr::{Distribution, Exp, LogNormal};

use crate::sim::SimDuration;
use crate::sim::rng::ChaCha8Rng;

/// The z-score of the 99th percentile of a standard normal distribution.
pub const Z_P99: f64 = 2.326_347_874_040_841;

/// Which of the two builds a pod runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    /// The build in production before the rollout.
    Stable,
    /// The new build being rolled out.
    Canary,
}

impl Version {
    /// `"stable"` or `"canary"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Stable => "stable",
            Version::Canary => "canary",
        }
    }

    /// 0 for stable, 1 for canary: an index into per-version arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Service time of one request on an idle pod.
#[derive(Debug, Clone, Copy)]
pub enum LatencyDist {
    /// Always the same.
    Constant {
        /// Seconds.
        secs: f64,
    },
    /// Exponential with the given mean (memoryless; an M/M/c server).
    Exponential {
        /// The sampler, rate = 1/mean.
        exp: Exp<f64>,
        /// Mean, seconds.
        mean: f64,
    },
    /// Log-normal from its median and 99th percentile.
    LogNormal {
        /// The sampler.
        dist: LogNormal<f64>,
        /// Median, seconds.
        median: f64,
        /// 99th percentile, seconds.
        p99: f64,
        /// ln(p99 / median) / z₀.₉₉, the log's standard deviation, kept so
        /// that the distribution function (called thousands of times for
        /// each response law) does not take the logarithm again.
        sigma: f64,
    },
}

impl LatencyDist {
    /// The distribution as bits: its kind, then the parameters it was
    /// given. Two distributions with the same signature are the same.
    pub fn signature(&self) -> [u64; 3] {
        match self {
            LatencyDist::Constant { secs } => [0, secs.to_bits(), 0],
            LatencyDist::Exponential { mean, .. } => [1, mean.to_bits(), 0],
            LatencyDist::LogNormal { median, p99, .. } => [2, median.to_bits(), p99.to_bits()],
        }
    }

    /// A constant service time.
    pub fn constant(secs: f64) -> Result<LatencyDist, String> {
        if !(secs.is_finite() && secs >= 0.0) {
            return Err("a constant latency must be 0 or more".into());
        }
        Ok(LatencyDist::Constant { secs })
    }

    /// An exponential service time with mean `mean` seconds.
    pub fn exponential(mean: f64) -> Result<LatencyDist, String> {
        if !(mean.is_finite() && mean > 0.0) {
            return Err("an exponential latency needs a mean above 0".into());
        }
        Ok(LatencyDist::Exponential {
            exp: Exp::new(1.0 / mean).map_err(|e| e.to_string())?,
            mean,
        })
    }

    /// A log-normal service time with the given median and p99 (seconds).
    pub fn log_normal(median: f64, p99: f64) -> Result<LatencyDist, String> {
        if !(median.is_finite() && median > 0.0 && p99.is_finite() && p99 > median) {
            return Err("a lognormal latency needs 0 < median < p99".into());
        }
        let sigma = (p99 / median).ln() / Z_P99;
        Ok(LatencyDist::LogNormal {
            dist: LogNormal::new(median.ln(), sigma).map_err(|e| e.to_string())?,
            median,
            p99,
            sigma,
        })
    }

    /// Draws one service time, in seconds.
    #[inline]
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> f64 {
        match self {
            LatencyDist::Constant { secs } => *secs,
            LatencyDist::Exponential { exp, .. } => exp.sample(rng),
            LatencyDist::LogNormal { dist, .. } => dist.sample(rng),
        }
    }

    /// P(S ≤ x): the service time's distribution function.
    pub fn cdf(&self, x: f64) -> f64 {
        match self {
            LatencyDist::Constant { secs } => {
                if x >= *secs {
                    1.0
                } else {
                    0.0
                }
            }
            LatencyDist::Exponential { mean, .. } => {
                if x <= 0.0 {
                    0.0
                } else {
                    1.0 - (-x / mean).exp()
                }
            }
            LatencyDist::LogNormal { median, sigma, .. } => {
                if x <= 0.0 {
                    return 0.0;
                }
                let z = (x / median).ln() / sigma;
                0.5 * statrs::function::erf::erfc(-z / std::f64::consts::SQRT_2)
            }
        }
    }

    /// The variance of the service time, seconds².
    pub fn variance(&self) -> f64 {
        match self {
            LatencyDist::Constant { .. } => 0.0,
            LatencyDist::Exponential { mean, .. } => mean * mean,
            LatencyDist::LogNormal { median, p99, .. } => {
                let s2 = ((p99 / median).ln() / Z_P99).powi(2);
                median * median * s2.exp() * (s2.exp() - 1.0)
            }
        }
    }

    /// The mean service time, seconds.
    pub fn mean(&self) -> f64 {
        match self {
            LatencyDist::Constant { secs } => *secs,
            LatencyDist::Exponential { mean, .. } => *mean,
            LatencyDist::LogNormal { median, p99, .. } => {
                let sigma = (p99 / median).ln() / Z_P99;
                median * (sigma * sigma / 2.0).exp()
            }
        }
    }
}

/// What a runtime does with the pages a collection frees, as the working set
/// (the cgroup's charge, what cAdvisor reports) sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Release {
    /// The freed pages stay charged to the container: the working set is the
    /// highest live + garbage reached since the container started, and does
    /// not fall at a collection. Go's scavenger keeps about heap goal + 10 %
    /// (`retainExtraPercent`, `src/runtime/mgcscavenge.go`), and the heap
    /// reaches its goal every cycle; G1 uncommits only by
    /// Min/MaxHeapFreeRatio at a full GC or concurrent cycle and, with
    /// `G1PeriodicGCInterval` = 0, an idle JVM keeps its high-water mark
    /// (world-fidelity.md §9). With a live set that never shrinks, as here,
    /// both come to this.
    #[default]
    Retained,
    /// The freed pages go back to the OS at once: the working set falls to
    /// the live set at every collection (a sawtooth). No default runtime does
    /// this; it is what the heap itself (`go_memstats_heap_alloc_bytes`,
    /// G1's used heap) looks like.
    AtGc,
}

impl Release {
    /// The scenario spelling: `"retained"` or `"at_gc"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Release::Retained => "retained",
            Release::AtGc => "at_gc",
        }
    }
}

/// Memory behaviour of one container of a version.
///
/// The *live* set is `baseline + leak_per_request·n + leak_per_minute·minutes`
/// since the container started (n = requests it completed). On top of it sits
/// GC garbage: a sawtooth that climbs from 0 to `gc_amplitude` over each
/// `gc_period` and drops at each collection. Live + garbage is the *heap*.
/// The working set the kernel charges, and cAdvisor reports, is the heap's
/// high-water mark with [`Release::Retained`], the heap itself with
/// [`Release::AtGc`]; the OOM killer acts when it exceeds the limit, which
/// is the first instant the heap does in either case. `noise` is measurement
/// jitter (standard deviation) that only the scraped value carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryProfile {
    /// Live bytes right after start-up.
    pub baseline: f64,
    /// Bytes retained for good by each completed request.
    pub leak_per_request: f64,
    /// Bytes retained per minute of uptime, whatever the load.
    pub leak_per_minute: f64,
    /// Height of the GC sawtooth, bytes.
    pub gc_amplitude: f64,
    /// Time between collections.
    pub gc_period: SimDuration,
    /// What the working set does at a collection.
    pub release: Release,
    /// Standard deviation of the scrape's measurement jitter, bytes.
    pub noise: f64,
}

/// How a pod slows down as its working set nears the memory limit (GC
/// thrashing, swapless reclaim): service times are multiplied by
/// `1 + (slowdown − 1)·((u − start)/(1 − start))²` once the used fraction `u`
/// of the limit passes `start`, reaching `slowdown` at the limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PressureProfile {
    /// Fraction of the limit where slowing starts, in (0, 1).
    pub start: f64,
    /// Service-time multiplier at the limit, at least 1.
    pub slowdown: f64,
}

impl PressureProfile {
    /// The service-time multiplier at used fraction `u` of the limit.
    #[inline]
    pub fn factor(&self, u: f64) -> f64 {
        if u <= self.start {
            1.0
        } else {
            let x = ((u - self.start) / (1.0 - self.start)).min(1.0);
            1.0 + (self.slowdown - 1.0) * x * x
        }
    }
}

/// Everything that distinguishes one build of the service from the other.
#[derive(Debug, Clone)]
pub struct VersionProfile {
    /// The container image (shown in pod specs and cAdvisor labels; also
    /// what the pod-template hash is computed from).
    pub image: String,
    /// From container start to ready.
    pub startup: SimDuration,
    /// Memory behaviour.
    pub memory: MemoryProfile,
    /// Slow-down near the memory limit.
    pub pressure: PressureProfile,
    /// Service time per endpoint, indexed like the scenario's endpoints.
    pub latency: Vec<LatencyDist>,
    /// Probability that a request to each endpoint fails with a 500.
    pub error_rate: Vec<f64>,
    /// Concurrent requests one pod of this build serves: its worker
    /// threads, or fewer when its CPU per request and the pod's CPU limit
    /// sustain fewer ([`cpu_bound_workers`]).
    pub workers: u32,
    /// CPU seconds one request takes, when the build says (0 otherwise).
    pub cpu_per_request: f64,
    /// What is wrong with this build, if anything (a bad release).
    pub fault: Option<String>,
}

impl VersionProfile {
    /// Whether a served request to `endpoint` fails, drawn from `rng`.
    #[inline]
    pub fn sample_error(&self, endpoint: usize, rng: &mut ChaCha8Rng) -> bool {
        let p = self.error_rate[endpoint];
        p > 0.0 && rng.random::<f64>() < p
    }
}

/// The concurrency a CPU limit sustains: `cores` cores give `cores / cpu`
/// requests a second of CPU, and a worker busy `mean_service` seconds per
/// request serves `1 / mean_service`, so at most `⌊cores · mean_service /
/// cpu⌋` workers can be kept busy (at least one). Kubernetes enforces a CPU
/// limit as a CFS quota of `cores` × the period per period (kubernetes.io,
/// "Resource Management for Pods and Containers"); past it the container is
/// throttled, which this treats as fewer servers rather than slower ones.
pub fn cpu_bound_workers(threads: u32, cores: f64, mean_service: f64, cpu: f64) -> u32 {
    if cpu <= 0.0 {
        return threads;
    }
    let sustained = (cores * mean_service / cpu).floor();
    threads.min(sustained.clamp(1.0, f64::from(u32::MAX)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    /// A CPU limit caps throughput at cores / cpu-per-request (CFS quota):
    /// 2 cores, 10 ms of CPU per request, 50 ms of service: 200 req/s, so
    /// 10 workers; never more than the threads, never fewer than one.
    #[test]
    fn cpu_per_request_bounds_a_builds_workers_by_its_cpu_limit() {
        assert_eq!(cpu_bound_workers(16, 2.0, 0.05, 0.01), 10);
        let c = cpu_bound_workers(16, 2.0, 0.05, 0.01);
        assert!((f64::from(c) / 0.05 - 2.0 / 0.01).abs() < 1e-9);
        assert_eq!(cpu_bound_workers(4, 2.0, 0.05, 0.01), 4);
        assert_eq!(cpu_bound_workers(4, 0.1, 0.01, 0.01), 1);
        assert_eq!(cpu_bound_workers(8, 1.0, 0.05, 0.0), 8);
    }

    #[test]
    fn lognormal_from_median_and_p99_hits_both_quantiles() {
        let d = LatencyDist::log_normal(0.02, 0.1).unwrap();
        let mut rng = stream(7, "test", 0);
        let mut xs: Vec<f64> = (0..200_000).map(|_| d.sample(&mut rng)).collect();
        xs.sort_by(f64::total_cmp);
        let median = xs[xs.len() / 2];
        let p99 = xs[xs.len() * 99 / 100];
        assert!((median / 0.02 - 1.0).abs() < 0.01, "median {median}");
        assert!((p99 / 0.1 - 1.0).abs() < 0.03, "p99 {p99}");
    }

    #[test]
    fn pressure_slows_only_past_its_start_and_reaches_slowdown_at_the_limit() {
        let p = PressureProfile {
            start: 0.8,
            slowdown: 5.0,
        };
        assert_eq!(p.factor(0.5), 1.0);
        assert_eq!(p.factor(0.8), 1.0);
        assert!((p.factor(0.9) - 2.0).abs() < 1e-12);
        assert_eq!(p.factor(1.0), 5.0);
        assert_eq!(p.factor(1.2), 5.0);
    }

    #[test]
    fn invalid_latencies_are_rejected() {
        assert!(LatencyDist::log_normal(0.1, 0.05).is_err());
        assert!(LatencyDist::exponential(0.0).is_err());
        assert!(LatencyDist::constant(-1.0).is_err());
    }
}
