//! The validated scenario: everything a run needs, checked once.
//!
//! Built by [`super::load`] from a scenario file; read by the engine. Every
//! field here is already known to be valid, so the engine cannot fail.

use crate::model::histogram::BucketLayout;
use crate::model::{Version, VersionProfile};
use crate::rollout::policy::Policy;
use crate::sim::SimDuration;

/// The current scenario schema version.
pub const SCHEMA_VERSION: u32 = 1;

/// A complete, validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name, used in reports.
    pub name: String,
    /// What it models.
    pub description: String,
    /// The file it came from, as the user named it.
    pub file: String,
    /// Kubernetes namespace of everything in it.
    pub namespace: String,
    /// The seed used when the command line gives none.
    pub seed: u64,
    /// Prometheus scrape interval.
    pub scrape_interval: SimDuration,
    /// Time the stable version serves before the rollout starts, so metrics have history.
    pub warmup: SimDuration,
    /// Time the simulation continues after promotion or abort.
    pub soak: SimDuration,
    /// Hard stop, measured from the rollout's start.
    pub max_duration: SimDuration,
    /// How long Service endpoints take to reflect a pod's readiness.
    pub endpoints_delay: SimDuration,
    /// How production traffic is simulated: request by request, or in batches.
    pub traffic_model: TrafficModel,
    /// Where in the scrape interval each target is scraped.
    pub scrape_offsets: ScrapeOffsets,
    /// The Rollout object's fixed parts.
    pub rollout: RolloutShape,
    /// Pod resources.
    pub pod: PodResources,
    /// The service's HTTP endpoints.
    pub endpoints: Vec<Endpoint>,
    /// Each endpoint's latency histogram buckets.
    pub buckets: BucketLayout,
    /// Production traffic at the ingress.
    pub traffic: Traffic,
    /// The ingress-nginx controller that balances it.
    pub ingress: Ingress,
    /// Profiles, indexed by [`Version::index`].
    pub versions: [VersionProfile; 2],
    /// The policies to compare.
    pub policies: Vec<Policy>,
}

impl Scenario {
    /// The profile of a version.
    pub fn profile(&self, v: Version) -> &VersionProfile {
        &self.versions[v.index()]
    }

    /// Whether the canary build is bad (carries a fault).
    pub fn canary_bad(&self) -> bool {
        self.versions[Version::Canary.index()].fault.is_some()
    }

    /// The policy with this name.
    pub fn policy(&self, name: &str) -> Option<&crate::rollout::policy::Policy> {
        self.policies.iter().find(|p| p.name == name)
    }
}

/// How production traffic is simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficModel {
    /// Every request is two events (arrival, completion): the reference.
    PerRequest,
    /// Per pod and per batch of this length, counts drawn from their laws
    /// (`crate::model::queueing`): the cost no longer grows with the rate.
    Batched {
        /// The batch length; it divides the scrape interval.
        batch: SimDuration,
        /// The batch length once the run is settled (no query, analysis or
        /// person can act again) while every pod is steady: a multiple of
        /// `batch` that divides the scrape interval (`engine::batch`).
        soak_batch: SimDuration,
    },
}

/// Where in the scrape interval each target is scraped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrapeOffsets {
    /// As Prometheus does: each target at a fixed phase, a hash of its
    /// labels and URL mixed with the server's offset seed, modulo the
    /// interval (prometheus `scrape/target.go` `offset`).
    Hashed,
    /// Every target at the multiples of the interval, all at once.
    Aligned,
}

/// The Rollout's name, size and services.
#[derive(Debug, Clone)]
pub struct RolloutShape {
    /// `metadata.name`; pod names start with it.
    pub name: String,
    /// `spec.replicas`.
    pub replicas: u32,
    /// `canaryService`.
    pub canary_service: String,
    /// `stableService`.
    pub stable_service: String,
    /// The nginx ingress in front of the stable service.
    pub ingress: String,
}

/// Container resources and how they turn into capacity.
#[derive(Debug, Clone)]
pub struct PodResources {
    /// Container name.
    pub container: String,
    /// CPU request, millicores.
    pub cpu_request: u64,
    /// CPU limit, millicores.
    pub cpu_limit: u64,
    /// Memory request, bytes.
    pub memory_request: f64,
    /// Memory limit, bytes: above it the container is OOM-killed.
    pub memory_limit: f64,
    /// Concurrent requests a pod serves: workers per CPU core × the CPU limit.
    pub workers: u32,
    /// Nodes the pods spread over (for labels only).
    pub nodes: u32,
    /// Requests a pod holds waiting for a worker (its listen backlog); one
    /// more is refused with a 503.
    pub accept_queue: u32,
}

/// One HTTP endpoint of the service.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Key used in the traffic mix, latency and error tables.
    pub name: String,
    /// HTTP method.
    pub method: String,
    /// The `handler` label (a route template).
    pub handler: String,
    /// Status code of a successful response (200, 201…).
    pub success_code: u16,
}

/// Production traffic at the ingress: an open-loop Poisson process, or a
/// closed-loop population of Locust-like users.
#[derive(Debug, Clone)]
pub struct Traffic {
    /// Mean requests per second (the daily shape's average); 0 with users.
    pub rate: f64,
    /// Optional daily variation.
    pub daily: Option<DailyShape>,
    /// Relative weight of each endpoint, indexed like the endpoints.
    pub mix: Vec<f64>,
    /// Production traffic as users instead of an open-loop rate.
    pub users: Option<UserPopulation>,
    /// How long the ingress waits for a pod's response before it answers
    /// 504 (ingress-nginx `proxy-read-timeout`).
    pub proxy_read_timeout: SimDuration,
}

/// The ingress-nginx controller: how many balancers a request can meet.
///
/// Each nginx worker process of each controller replica keeps its own
/// round-robin rotation per backend (the `balancers` table is Lua module
/// state; world-fidelity.md §1), so there are `replicas × worker_processes`
/// independent rotations.
#[derive(Debug, Clone, Copy)]
pub struct Ingress {
    /// Controller pods (the Helm chart's `controller.replicaCount`).
    pub replicas: u32,
    /// nginx worker processes per controller pod (`worker-processes`).
    pub worker_processes: u32,
}

impl Ingress {
    /// Independent round-robin rotations: one per worker per replica.
    pub fn rotations(&self) -> usize {
        (self.replicas * self.worker_processes) as usize
    }
}

/// Production users who click through the shop as Locust users do: each
/// waits for its response, then thinks, so a slower service gets fewer requests.
#[derive(Debug, Clone)]
pub struct UserPopulation {
    /// Users once all are spawned.
    pub count: u32,
    /// Users started per second from the start of the warm-up.
    pub spawn_rate: f64,
    /// The locustfile whose user classes they follow.
    pub locustfile: String,
}

/// A sinusoidal daily load: `rate · (1 + amplitude · cos(2π (clock − peak) / 24h))`.
#[derive(Debug, Clone, Copy)]
pub struct DailyShape {
    /// Relative swing, in [0, 1).
    pub amplitude: f64,
    /// Time of day of the peak.
    pub peak: SimDuration,
    /// Time of day at which the simulation (its warm-up) starts.
    pub start: SimDuration,
}
