//! The ingress-nginx controller: its retries and the series it exports.
//!
//! A request through the ingress meets one nginx worker of one controller
//! replica (traffic.rs picks it) and that worker's round robin names a pod.
//! What nginx then does decides the status the client gets, following
//! ingress-nginx's defaults (`proxy-next-upstream: error timeout`,
//! `proxy-next-upstream-tries: 3`, `internal/ingress/controller/config/
//! config.go` `NewDefault`) and nginx's rules for them
//! (https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_next_upstream;
//! world-fidelity.md §3):
//! - a refused connection (the pod died and the endpoints have not caught
//!   up) is an error before anything was sent: the request goes to the next
//!   pod of the same worker's rotation, up to [`TRIES`] tries in all, and is
//!   a 502 only if the last try fails;
//! - a connection reset while the pod holds the request (its container was
//!   OOM-killed) is an error after the request was sent: passed on only for
//!   idempotent methods (nginx's `non_idempotent` rule: POST, LOCK and PATCH
//!   are not), else a 502;
//! - no response header within `proxy_read_timeout`: the same, with 504;
//! - no ready endpoint at all: 503 from the balancer, not retried.
//!
//! Retries stay on the side (stable or canary) the first try took
//! (`balancer.lua` caches its choice in `ngx.ctx.balancer`).
//!
//! [`IngressCounters`] holds what the controller's collector would count
//! (`internal/ingress/metric/collectors/socket.go`): per replica, per side
//! and per (method, final status), the requests and the two histograms,
//! indexed, so the per-request path only adds to a slot. [`IngressTarget`]
//! turns them into series at each scrape, creating a label set at its first
//! request as the collector does. A run none of whose queries can read them
//! (`retention.rs`, [`super::retention::reads_ingress`]) does not count them
//! at all: nothing else reads the counters, and the retries, the balancer's
//! picks and the clients' tallies do not depend on them.

use super::{CANARY_SVC, Event, World};
use crate::model::histogram::DEFAULT_BUCKETS;
use crate::scenario::Scenario;
use crate::series::{Labels, SeriesId, SeriesStore};
use crate::sim::{EventQueue, SimTime};

/// The names of the series [`IngressCounters`] feeds: the controller's
/// request counter and its two histograms. Only these are not counted
/// when no query can read them; each replica's `up`, like every series, is
/// stored when a query could select it (`retention.rs`, `recorded`).
pub(crate) const SERIES_NAMES: [&str; 7] = [
    "nginx_ingress_controller_requests",
    "nginx_ingress_controller_request_duration_seconds_bucket",
    "nginx_ingress_controller_request_duration_seconds_sum",
    "nginx_ingress_controller_request_duration_seconds_count",
    "nginx_ingress_controller_response_duration_seconds_bucket",
    "nginx_ingress_controller_response_duration_seconds_sum",
    "nginx_ingress_controller_response_duration_seconds_count",
];

/// Tries per request: `proxy-next-upstream-tries`' default.
pub(crate) const TRIES: u32 = 3;

/// Histogram slots: `prometheus.DefBuckets` (the controller's
/// `--time-buckets` default), then +Inf.
const SLOTS: usize = DEFAULT_BUCKETS.len() + 1;

/// The final status of a request at the ingress, as a counter slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The pod's own answer: its endpoint's success code.
    Ok = 0,
    /// The pod answered 500.
    Error = 1,
    /// 502: every try failed on a connection error.
    BadGateway = 2,
    /// 503: no ready endpoint, or the pod's accept queue was full.
    Unavailable = 3,
    /// 504: no response within `proxy_read_timeout` on the last try.
    Timeout = 4,
}

/// Outcome slots per endpoint.
const OUTCOMES: usize = 5;

impl Outcome {
    /// The status code the client gets.
    pub fn status(self, success_code: u16) -> u16 {
        match self {
            Outcome::Ok => success_code,
            Outcome::Error => 500,
            Outcome::BadGateway => 502,
            Outcome::Unavailable => 503,
            Outcome::Timeout => 504,
        }
    }
}

/// How a request reached its pod, carried with it (in the pod's queue and
/// in its completion event) so its end can be accounted where it happens.
/// 0 is kube-proxy (an in-cluster client dialling a ClusterIP). Through the
/// ingress it packs the Service, the worker rotation and the tries so far;
/// a request retried after a delay (a reset or a timeout) is "parked" in a
/// table that also keeps when it reached the ingress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Via(pub u32);

const THROUGH_INGRESS: u32 = 1 << 31;
const CANARY_BIT: u32 = 1 << 30;
const PARKED: u32 = 1 << 29;
const ROTATION_MASK: u32 = (1 << 20) - 1;
const TRIES_SHIFT: u32 = 20;

impl Via {
    /// Not through the ingress.
    pub const KUBE_PROXY: Via = Via(0);

    /// Whether the request came through the ingress.
    #[inline]
    pub fn through_ingress(self) -> bool {
        self.0 & THROUGH_INGRESS != 0
    }
}

/// Where a request through the ingress stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attempt {
    /// The Service the balancer chose (retries stay on it).
    pub svc: usize,
    /// The worker rotation it met: replica × workers + worker.
    pub rotation: u32,
    /// Tries made so far.
    pub tries: u32,
    /// When it reached the ingress.
    pub started: SimTime,
}

/// The ingress's counters: the controller's collector, indexed.
pub(crate) struct IngressCounters {
    /// Whether requests are counted: false when no query of the run can
    /// read the series ([`SERIES_NAMES`]), which then stay empty.
    pub recording: bool,
    workers: u32,
    /// Per endpoint × outcome: the (method, status) label set it counts in.
    combo_of: Vec<u16>,
    /// Distinct (method, status) pairs.
    combos: Vec<(String, u16)>,
    /// Per endpoint: whether nginx may pass it on after it was sent.
    idempotent: Vec<bool>,
    /// Per (replica, side, combo): requests (the histograms' `_count` too).
    requests: Vec<u64>,
    /// Per (replica, side, combo) × [`SLOTS`]: `request_duration_seconds`.
    request_buckets: Vec<u64>,
    request_sum: Vec<f64>,
    /// The same for `response_duration_seconds` (upstream time), which
    /// has its own count: requests with no single upstream time are not in it.
    response_buckets: Vec<u64>,
    response_sum: Vec<f64>,
    response_count: Vec<u64>,
    /// Requests retried after a delay: their attempt; `free` lists unused slots.
    parked: Vec<Attempt>,
    free: Vec<u32>,
}

/// Whether nginx passes a request with this method to the next server once
/// it was sent: not POST, LOCK or PATCH (ngx_http_proxy_module,
/// `proxy_next_upstream`, "non_idempotent").
pub(crate) fn idempotent(method: &str) -> bool {
    !matches!(method, "POST" | "LOCK" | "PATCH")
}

/// The histogram slot of `secs` in `prometheus.DefBuckets`.
#[inline]
fn bucket(secs: f64) -> usize {
    DEFAULT_BUCKETS.partition_point(|b| *b < secs)
}

impl IngressCounters {
    /// Counters for `sc`'s endpoints and controller replicas; `recording`
    /// says whether requests are counted at all.
    pub fn new(sc: &Scenario, recording: bool) -> IngressCounters {
        let mut combos: Vec<(String, u16)> = Vec::new();
        let mut combo_of = Vec::with_capacity(sc.endpoints.len() * OUTCOMES);
        for ep in &sc.endpoints {
            for o in [
                Outcome::Ok,
                Outcome::Error,
                Outcome::BadGateway,
                Outcome::Unavailable,
                Outcome::Timeout,
            ] {
                let key = (ep.method.clone(), o.status(ep.success_code));
                let i = match combos.iter().position(|c| *c == key) {
                    Some(i) => i,
                    None => {
                        combos.push(key);
                        combos.len() - 1
                    }
                };
                combo_of.push(i as u16);
            }
        }
        let cells = sc.ingress.replicas as usize * 2 * combos.len();
        IngressCounters {
            recording,
            workers: sc.ingress.worker_processes,
            combo_of,
            idempotent: sc.endpoints.iter().map(|e| idempotent(&e.method)).collect(),
            combos,
            requests: vec![0; cells],
            request_buckets: vec![0; cells * SLOTS],
            request_sum: vec![0.0; cells],
            response_buckets: vec![0; cells * SLOTS],
            response_sum: vec![0.0; cells],
            response_count: vec![0; cells],
            parked: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Whether endpoint `e`'s requests may be passed on once sent.
    #[inline]
    pub fn retries_after_send(&self, e: u16) -> bool {
        self.idempotent[e as usize]
    }

    /// The cell of (replica, side, combo of endpoint × outcome).
    #[inline]
    fn cell(&self, replica: usize, side: usize, endpoint: u16, outcome: Outcome) -> usize {
        let combo = self.combo_of[endpoint as usize * OUTCOMES + outcome as usize] as usize;
        (replica * 2 + side) * self.combos.len() + combo
    }

    /// Requests counted for `endpoint` with `outcome`, over every replica
    /// and side (the endpoint's method and status must be its own).
    #[cfg(test)]
    pub fn counted(&self, endpoint: u16, outcome: Outcome) -> u64 {
        let replicas = self.requests.len() / (2 * self.combos.len());
        (0..replicas)
            .flat_map(|r| (0..2).map(move |side| (r, side)))
            .map(|(r, side)| self.requests[self.cell(r, side, endpoint, outcome)])
            .sum()
    }

    /// The controller replica a worker rotation belongs to.
    #[inline]
    pub fn replica_of(&self, rotation: u32) -> usize {
        (rotation / self.workers) as usize
    }

    /// Counts one request: its final outcome, its whole time at the
    /// ingress, and its upstream time when it has exactly one.
    #[inline]
    pub fn record(
        &mut self,
        replica: usize,
        side: usize,
        endpoint: u16,
        outcome: Outcome,
        request_secs: f64,
        upstream_secs: Option<f64>,
    ) {
        let c = self.cell(replica, side, endpoint, outcome);
        self.requests[c] += 1;
        self.request_buckets[c * SLOTS + bucket(request_secs)] += 1;
        self.request_sum[c] += request_secs;
        if let Some(u) = upstream_secs {
            self.response_buckets[c * SLOTS + bucket(u)] += 1;
            self.response_sum[c] += u;
            self.response_count[c] += 1;
        }
    }

    /// Counts `n` requests at once (the batched model): `buckets` holds
    /// their request-time histogram (`SLOTS` counts summing to `n`) and
    /// `sum` their total; the upstream histogram gets the same when
    /// `upstream`.
    #[allow(clippy::too_many_arguments)]
    pub fn record_many(
        &mut self,
        replica: usize,
        side: usize,
        endpoint: u16,
        outcome: Outcome,
        n: u64,
        buckets: &[u64],
        sum: f64,
        upstream: bool,
    ) {
        if n == 0 {
            return;
        }
        let c = self.cell(replica, side, endpoint, outcome);
        self.requests[c] += n;
        self.request_sum[c] += sum;
        for (acc, k) in self.request_buckets[c * SLOTS..(c + 1) * SLOTS]
            .iter_mut()
            .zip(buckets)
        {
            *acc += k;
        }
        if upstream {
            self.response_sum[c] += sum;
            self.response_count[c] += n;
            for (acc, k) in self.response_buckets[c * SLOTS..(c + 1) * SLOTS]
                .iter_mut()
                .zip(buckets)
            {
                *acc += k;
            }
        }
    }

    /// The [`Via`] of an attempt about to reach a pod at `now`: packed
    /// when it reached the ingress now, else parked.
    #[inline]
    pub fn via(&mut self, a: Attempt, now: SimTime) -> Via {
        let canary = if a.svc == CANARY_SVC { CANARY_BIT } else { 0 };
        if a.started == now && a.rotation <= ROTATION_MASK {
            return Via(THROUGH_INGRESS | canary | a.rotation | ((a.tries - 1) << TRIES_SHIFT));
        }
        let slot = match self.free.pop() {
            Some(s) => {
                self.parked[s as usize] = a;
                s
            }
            None => {
                self.parked.push(a);
                (self.parked.len() - 1) as u32
            }
        };
        Via(THROUGH_INGRESS | canary | PARKED | slot)
    }

    /// The attempt a request through the ingress carries; `arrived` is when
    /// its current try reached the pod. Frees its parking slot.
    #[inline]
    pub fn attempt(&mut self, via: Via, arrived: SimTime) -> Attempt {
        if via.0 & PARKED != 0 {
            let slot = via.0 & !(THROUGH_INGRESS | CANARY_BIT | PARKED);
            self.free.push(slot);
            return self.parked[slot as usize];
        }
        Attempt {
            svc: if via.0 & CANARY_BIT != 0 {
                CANARY_SVC
            } else {
                super::STABLE_SVC
            },
            rotation: via.0 & ROTATION_MASK,
            tries: ((via.0 >> TRIES_SHIFT) & 3) + 1,
            started: arrived,
        }
    }

    /// Requests counted so far, summed over replicas and methods:
    /// by side (0 stable, 1 canary) and status. For tests and `describe`.
    #[cfg(test)]
    pub fn total(&self, side: usize, status: u16) -> u64 {
        let n = self.combos.len();
        let mut sum = 0;
        for (i, v) in self.requests.iter().enumerate() {
            let combo = i % n;
            if (i / n) % 2 == side && self.combos[combo].1 == status {
                sum += v;
            }
        }
        sum
    }
}

impl World<'_> {
    /// The canary label's side of a request for Service `svc`: a basic
    /// canary has no canary Ingress, so everything counts as the main one.
    #[inline]
    fn ingress_side(&self, svc: usize) -> usize {
        usize::from(!self.basic_canary && svc == CANARY_SVC)
    }

    /// Sends a request through the ingress for Service `svc`: a worker's
    /// rotation names a pod, and a refused connection passes it to the next
    /// pod of that rotation, up to [`TRIES`] tries in all. `first` is its
    /// attempt so far when it is being retried. `Err(status)` when it ended
    /// at once (counted and tallied already).
    #[allow(clippy::too_many_arguments)]
    pub fn ingress_send(
        &mut self,
        now: SimTime,
        svc: usize,
        endpoint: u16,
        client: u64,
        retry: Option<Attempt>,
        q: &mut EventQueue<Event>,
    ) -> Result<(), u16> {
        let n = self.services[svc].endpoints.len();
        let mut a = match retry {
            Some(a) => a,
            None => {
                let r = self.ingress_worker(svc);
                Attempt {
                    svc,
                    rotation: r,
                    tries: 0,
                    started: now,
                }
            }
        };
        if n == 0 {
            // No balancer for an empty backend: 503 from Lua.
            let outcome = Outcome::Unavailable;
            return Err(self.ingress_finish(now, a, endpoint, client, outcome, None));
        }
        loop {
            let pod = self.rotation_next(svc, a.rotation, n);
            a.tries += 1;
            if self.pods[pod as usize].can_serve() {
                let via = self.ingress.via(a, now);
                return match self.dispatch(now, pod, endpoint, now, client, via, q) {
                    Ok(()) => Ok(()),
                    Err(_) => {
                        let a = self.ingress.attempt(via, now);
                        Err(self.ingress_finish(
                            now,
                            a,
                            endpoint,
                            client,
                            Outcome::Unavailable,
                            None,
                        ))
                    }
                };
            }
            // Connection refused: the next pod of the rotation, if tries remain.
            if a.tries >= TRIES {
                return Err(self.ingress_finish(
                    now,
                    a,
                    endpoint,
                    client,
                    Outcome::BadGateway,
                    None,
                ));
            }
        }
    }

    /// A request through the ingress ends with `outcome`: counted in the
    /// ingress's series and, when it failed, in the client's tally (by the
    /// version its Service selects). Returns the status the client gets.
    pub fn ingress_finish(
        &mut self,
        now: SimTime,
        a: Attempt,
        endpoint: u16,
        client: u64,
        outcome: Outcome,
        upstream_secs: Option<f64>,
    ) -> u16 {
        if self.ingress.recording {
            let side = self.ingress_side(a.svc);
            let replica = self.ingress.replica_of(a.rotation);
            let secs = now.saturating_since(a.started).as_secs_f64();
            self.ingress
                .record(replica, side, endpoint, outcome, secs, upstream_secs);
        }
        if outcome != Outcome::Ok && self.is_production(client) {
            let version = self.services[a.svc].selects.index();
            self.tallies[self.period][version].failed += 1;
        }
        outcome.status(self.sc.endpoints[endpoint as usize].success_code)
    }

    /// A request through the ingress lost its connection after it was sent
    /// (its pod's container died), or found no response header within
    /// `proxy_read_timeout` (`timed_out`): nginx passes an idempotent one to
    /// the next pod while tries remain, else answers 502 (504). `arrived`
    /// is when the try reached the pod. Returns the status when it ended.
    #[allow(clippy::too_many_arguments)]
    pub fn ingress_next_upstream(
        &mut self,
        now: SimTime,
        via: Via,
        endpoint: u16,
        arrived: SimTime,
        client: u64,
        timed_out: bool,
        q: &mut EventQueue<Event>,
    ) -> Option<u16> {
        let a = self.ingress.attempt(via, arrived);
        let upstream = if a.tries == 1 {
            let spent = now.saturating_since(arrived);
            let spent = if timed_out {
                spent.min(self.sc.traffic.proxy_read_timeout)
            } else {
                spent
            };
            Some(spent.as_secs_f64())
        } else {
            None
        };
        if a.tries < TRIES && self.ingress.retries_after_send(endpoint) {
            return self
                .ingress_send(now, a.svc, endpoint, client, Some(a), q)
                .err();
        }
        let (outcome, at) = if timed_out {
            // The client got its 504 when the last try's timeout ran out.
            let t = arrived + self.sc.traffic.proxy_read_timeout;
            (Outcome::Timeout, t.min(now))
        } else {
            (Outcome::BadGateway, now)
        };
        Some(self.ingress_finish(at, a, endpoint, client, outcome, upstream))
    }

    /// A pod answered a request through the ingress in time.
    pub fn ingress_answered(
        &mut self,
        now: SimTime,
        via: Via,
        endpoint: u16,
        arrived: SimTime,
        client: u64,
        failed: bool,
    ) -> u16 {
        let a = self.ingress.attempt(via, arrived);
        let upstream = (a.tries == 1).then(|| now.saturating_since(arrived).as_secs_f64());
        let outcome = if failed { Outcome::Error } else { Outcome::Ok };
        self.ingress_finish(now, a, endpoint, client, outcome, upstream)
    }
}

/// The ingress controller's metrics endpoint: one target per replica.
pub(crate) struct IngressTarget {
    replicas: Vec<ReplicaTarget>,
}

struct ReplicaTarget {
    up: SeriesId,
    /// The labels every series of this replica carries.
    base: Vec<(String, String)>,
    /// Per (side, combo): requests, then the request-time buckets, sum
    /// and count; created at the label set's first request.
    series: Vec<Option<Vec<SeriesId>>>,
    /// Per (side, combo): the upstream-time buckets, sum and count;
    /// created at its first upstream time.
    upstream: Vec<Option<Vec<SeriesId>>>,
}

/// The controller's namespace, as the ingress-nginx Helm chart installs it.
pub const CONTROLLER_NAMESPACE: &str = "ingress-nginx";
/// The controller's class (`--controller-class`'s default).
pub const CONTROLLER_CLASS: &str = "k8s.io/ingress-nginx";
/// The `job` label of the controller's metrics (the chart's metrics Service).
pub const INGRESS_JOB: &str = "ingress-nginx-controller-metrics";
/// The Service port in the canary's upstream name `<ns>-<svc>-<port>`.
pub const SERVICE_PORT: u16 = 80;
const CONTROLLER_HASH: &str = "6c9b7f5d4b";

/// The name of controller replica `i`, as a Deployment names its pods.
pub fn controller_pod(i: usize) -> String {
    let mut h = crate::sim::rng::mix(i as u64 ^ 0x001e_550c_0de5);
    let alphabet = crate::model::pod::SAFE_ALPHABET;
    let mut suffix = String::with_capacity(5);
    for _ in 0..5 {
        suffix.push(alphabet[(h % alphabet.len() as u64) as usize] as char);
        h /= alphabet.len() as u64;
    }
    format!("ingress-nginx-controller-{CONTROLLER_HASH}-{suffix}")
}

impl IngressTarget {
    pub fn new() -> IngressTarget {
        IngressTarget {
            replicas: Vec::new(),
        }
    }

    /// Writes every replica's series at Prometheus time `t`.
    pub fn scrape(&mut self, t: i64, w: &World, store: &mut SeriesStore) {
        self.ensure(w, store);
        for r in 0..self.replicas.len() {
            self.scrape_replica(r, t, w, store);
        }
    }

    /// The number of controller replicas, each a target.
    pub fn len(&self) -> usize {
        self.replicas.len()
    }

    /// Replica `r`'s target labels and the URL Prometheus scrapes.
    pub fn target(&self, r: usize) -> (&[(String, String)], String) {
        let rt = &self.replicas[r];
        let instance = rt
            .base
            .iter()
            .find(|(k, _)| k == "instance")
            .map_or("", |(_, v)| v.as_str());
        (&rt.base, format!("http://{instance}/metrics"))
    }

    /// Builds the replicas' targets not built yet (each with its `up`).
    pub fn ensure(&mut self, w: &World, store: &mut SeriesStore) {
        let combos = w.ingress.combos.len();
        while self.replicas.len() < w.sc.ingress.replicas as usize {
            let i = self.replicas.len();
            let pod = controller_pod(i);
            let base = vec![
                (
                    "controller_namespace".to_string(),
                    CONTROLLER_NAMESPACE.to_string(),
                ),
                ("controller_class".to_string(), CONTROLLER_CLASS.to_string()),
                ("controller_pod".to_string(), pod),
                ("job".to_string(), INGRESS_JOB.to_string()),
                (
                    "instance".to_string(),
                    format!("10.244.{}.{}:10254", 200 + i / 250, 2 + i % 250),
                ),
            ];
            let up = store.id(Labels::with_name("up", base.clone()));
            self.replicas.push(ReplicaTarget {
                up,
                base,
                series: vec![None; 2 * combos],
                upstream: vec![None; 2 * combos],
            });
        }
    }

    /// Writes replica `r`'s series at Prometheus time `t`.
    pub fn scrape_replica(&mut self, r: usize, t: i64, w: &World, store: &mut SeriesStore) {
        let c = &w.ingress;
        let combos = c.combos.len();
        let rt = &mut self.replicas[r];
        store.push(rt.up, t, 1.0);
        for side in 0..2 {
            for combo in 0..combos {
                let cell = (r * 2 + side) * combos + combo;
                let n = c.requests[cell];
                if n == 0 {
                    // The label set has not been used: no series yet.
                    continue;
                }
                let at = side * combos + combo;
                let ids = rt.series[at].get_or_insert_with(|| {
                    let l = labels(w, &rt.base, side, combo);
                    let mut ids = vec![store.id(Labels::with_name(
                        "nginx_ingress_controller_requests",
                        l.clone(),
                    ))];
                    histogram_series(&l, REQUEST_DURATION, store, &mut ids);
                    ids
                });
                store.push(ids[0], t, n as f64);
                push_histogram(
                    &ids[1..],
                    &c.request_buckets,
                    cell,
                    c.request_sum[cell],
                    n,
                    t,
                    store,
                );
                let m = c.response_count[cell];
                if m == 0 {
                    continue;
                }
                let ids = rt.upstream[at].get_or_insert_with(|| {
                    let l = labels(w, &rt.base, side, combo);
                    let mut ids = Vec::with_capacity(SLOTS + 2);
                    histogram_series(&l, RESPONSE_DURATION, store, &mut ids);
                    ids
                });
                push_histogram(
                    ids,
                    &c.response_buckets,
                    cell,
                    c.response_sum[cell],
                    m,
                    t,
                    store,
                );
            }
        }
    }
}

const REQUEST_DURATION: &str = "nginx_ingress_controller_request_duration_seconds";
const RESPONSE_DURATION: &str = "nginx_ingress_controller_response_duration_seconds";

/// Writes one histogram's cumulative buckets, sum and count.
#[allow(clippy::too_many_arguments)]
fn push_histogram(
    ids: &[SeriesId],
    buckets: &[u64],
    cell: usize,
    sum: f64,
    count: u64,
    t: i64,
    store: &mut SeriesStore,
) {
    let mut cumulative = 0;
    for (b, id) in buckets[cell * SLOTS..(cell + 1) * SLOTS].iter().zip(ids) {
        cumulative += b;
        store.push(*id, t, cumulative as f64);
    }
    store.push(ids[SLOTS], t, sum);
    store.push(ids[SLOTS + 1], t, count as f64);
}

/// The bucket, sum and count series of histogram `family` on labels `l`.
fn histogram_series(
    l: &[(String, String)],
    family: &str,
    store: &mut SeriesStore,
    ids: &mut Vec<SeriesId>,
) {
    for b in 0..SLOTS {
        let le = DEFAULT_BUCKETS
            .get(b)
            .map_or("+Inf".to_string(), |x| x.to_string());
        let mut lb = l.to_vec();
        lb.push(("le".into(), le));
        ids.push(store.id(Labels::with_name(&format!("{family}_bucket"), lb)));
    }
    ids.push(store.id(Labels::with_name(&format!("{family}_sum"), l.to_vec())));
    ids.push(store.id(Labels::with_name(&format!("{family}_count"), l.to_vec())));
}

/// The labels of one (side, method, status) label set of a replica
/// (`socket.go` `requestTags`, with `host` as `--metrics-per-host` gives).
fn labels(
    w: &World,
    base: &[(String, String)],
    side: usize,
    combo: usize,
) -> Vec<(String, String)> {
    let sc = w.sc;
    let (method, status) = &w.ingress.combos[combo];
    let mut l = base.to_vec();
    l.push(("namespace".into(), sc.namespace.clone()));
    l.push(("ingress".into(), sc.rollout.ingress.clone()));
    // Canary requests carry the main Ingress's service; only `canary`
    // names the canary's upstream (world-fidelity.md §3). Empty for
    // stable, which Prometheus stores as no label.
    l.push(("service".into(), sc.rollout.stable_service.clone()));
    l.push(("host".into(), format!("{}.example.com", sc.rollout.name)));
    l.push(("path".into(), "/".into()));
    l.push(("method".into(), method.clone()));
    l.push(("status".into(), status.to_string()));
    if side == 1 {
        l.push((
            "canary".into(),
            format!(
                "{}-{}-{SERVICE_PORT}",
                sc.namespace, sc.rollout.canary_service
            ),
        ));
    }
    l
}

#[cfg(test)]
mod tests {
    use super::super::{Engine, STABLE_SVC};
    use super::*;
    use crate::model::PodPhase;
    use crate::rollout::policy::{Policy, Step};

    /// 5 stable pods behind one nginx worker (one rotation), two endpoints:
    /// `get` (GET) and `order` (POST), so slow that nothing arrives unasked.
    fn scenario() -> crate::scenario::Scenario {
        let text = r#"
schema = 1
name = "retries"
[rollout]
name = "svc"
replicas = 5
[pod]
requests = { cpu = "1", memory = "512Mi" }
limits = { cpu = "1", memory = "1Gi" }
[[endpoints]]
name = "get"
handler = "/"
[[endpoints]]
name = "order"
method = "POST"
handler = "/order"
[traffic]
rate = 0.0001
mix = { get = 1, order = 1 }
[ingress]
replicas = 1
worker_processes = 1
[versions.stable]
latency = { get = { dist = "constant", value = "50ms" }, order = { dist = "constant", value = "50ms" } }
[versions.canary]
"#;
        crate::scenario::load_str("retries.toml", text).unwrap()
    }

    fn engine(sc: &crate::scenario::Scenario) -> Engine<'_> {
        let policy = Policy::new("hold", vec![Step::Pause(None)]);
        Engine::new(sc, &policy, 3)
    }

    /// Kills pod `i`'s container without telling the endpoints.
    fn kill(e: &mut Engine<'_>, i: usize) {
        let pod = e.world.services[STABLE_SVC].endpoints[i];
        e.world.pods[pod as usize].phase = PodPhase::BackOff {
            restart_at: SimTime::ZERO + crate::sim::SimDuration::from_secs(3600),
        };
    }

    fn send(e: &mut Engine<'_>, endpoint: u16) -> Result<(), u16> {
        let now = e.queue.now();
        e.world
            .ingress_send(now, STABLE_SVC, endpoint, 0, None, &mut e.queue)
    }

    #[test]
    fn a_refused_connection_is_retried_on_the_next_pod_and_counted_once_proxy_next_upstream_error()
    {
        // nginx proxy_next_upstream "error": an error while establishing a
        // connection passes the request to the next server
        // (https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_next_upstream);
        // ingress-nginx's default is "error timeout" (config.go NewDefault).
        let sc = scenario();
        let mut e = engine(&sc);
        kill(&mut e, 2);
        let before = e.world.services[STABLE_SVC].rotations[0];
        for _ in 0..100 {
            assert_eq!(send(&mut e, 0), Ok(()));
        }
        // Round robin over 5 with one dead: each turn of the rotation
        // serves 4 requests in 5 picks, the retry taking the next pod's
        // turn, so the live pods share the load equally.
        let picks = e.world.services[STABLE_SVC].rotations[0] - before;
        assert!((124..=125).contains(&picks), "{picks} picks");
        e.run_until(e.now() + crate::sim::SimDuration::from_secs(5));
        assert_eq!(e.world.ingress.total(0, 200), 100, "each counted once");
        assert_eq!(e.world.ingress.total(0, 502), 0);
        let served = |i: usize| {
            let p = e.world.services[STABLE_SVC].endpoints[i] as usize;
            e.world.pods[p].requests[0]
        };
        assert_eq!(served(2), 0);
        for i in [0, 1, 3, 4] {
            assert_eq!(served(i), 25, "pod {i}");
        }
    }

    #[test]
    fn at_most_three_tries_then_502_proxy_next_upstream_tries() {
        // proxy-next-upstream-tries defaults to 3 (config.go NewDefault,
        // world-fidelity.md §3): three refusals in a row end in 502.
        let sc = scenario();
        let mut e = engine(&sc);
        for i in 0..5 {
            kill(&mut e, i);
        }
        let before = e.world.services[STABLE_SVC].rotations[0];
        for _ in 0..10 {
            assert_eq!(send(&mut e, 0), Err(502));
        }
        assert_eq!(e.world.services[STABLE_SVC].rotations[0] - before, 30);
        assert_eq!(e.world.ingress.total(0, 502), 10);
        // Three dead pods in a row of five: a request that meets the first
        // of them fails; one that meets the second gets to a live pod.
        let mut e = engine(&sc);
        for i in 0..3 {
            kill(&mut e, i);
        }
        for _ in 0..50 {
            let _ = send(&mut e, 0);
        }
        assert!(e.world.ingress.total(0, 502) > 0);
    }

    #[test]
    fn a_post_in_flight_on_a_killed_pod_is_a_502_and_a_get_is_retried_non_idempotent() {
        // nginx proxy_next_upstream: "requests with a non-idempotent method
        // (POST, LOCK, PATCH) are not passed to the next server if a request
        // has been sent to an upstream server" (ngx_http_proxy_module).
        let sc = scenario();
        let mut e = engine(&sc);
        let pod = e.world.services[STABLE_SVC].endpoints[0];
        // The rotation's next pod is endpoints[cursor]: aim both at pod 0.
        e.world.services[STABLE_SVC].rotations[0] = 0;
        send(&mut e, 0).unwrap();
        e.world.services[STABLE_SVC].rotations[0] = 0;
        send(&mut e, 1).unwrap();
        assert_eq!(e.world.pods[pod as usize].busy, 2);
        let now = e.now();
        e.world.oom_kill(now, pod, &mut e.queue);
        e.run_until(now + crate::sim::SimDuration::from_secs(5));
        assert_eq!(e.world.ingress.total(0, 502), 1, "the POST");
        assert_eq!(e.world.ingress.total(0, 200), 1, "the GET, on another pod");
        let failed: u64 = e.world.tallies.iter().flatten().map(|t| t.failed).sum();
        assert_eq!(failed, 1, "the client sees the POST fail");
    }

    #[test]
    fn kube_proxy_does_not_retry_a_refused_connection() {
        // kube-proxy only DNATs a new connection to a backend
        // (pkg/proxy/iptables/proxier.go); nothing retries a refused one, and
        // Locust records status 0 (world-fidelity.md §2).
        let sc = scenario();
        let mut e = engine(&sc);
        kill(&mut e, 0);
        let picks: Vec<_> = (0..5000)
            .map(|_| e.world.pick_pod_kube_proxy(STABLE_SVC))
            .collect();
        let refused = picks.iter().filter(|p| **p == Err(0)).count();
        assert!((850..1150).contains(&refused), "{refused} of 5000 refused");
        assert!(picks.iter().all(|p| p.is_ok() || *p == Err(0)));
    }

    #[test]
    fn status_is_the_final_status_the_client_got_socket_go() {
        // socket.go counts each request once, with nginx's $status: what the
        // client got, not what each upstream try answered. A crash-looping
        // canary's failures at the ingress are exactly the clients' failures.
        let text = r#"
schema = 1
name = "crashloop"
[simulation]
warmup = "1m"
soak = "5m"
max_duration = "20m"
[rollout]
name = "svc"
replicas = 4
[pod]
requests = { cpu = "1", memory = "512Mi" }
limits = { cpu = "1", memory = "1Gi" }
[[endpoints]]
name = "get"
handler = "/"
[[endpoints]]
name = "order"
method = "POST"
handler = "/order"
success_code = 201
[traffic]
rate = 40
mix = { get = 3, order = 1 }
[versions.stable]
memory = { baseline = "100Mi" }
latency = { get = { dist = "constant", value = "20ms" }, order = { dist = "constant", value = "20ms" } }
[versions.canary]
fault = "leaks 2Gi a minute"
memory = { leak_per_minute = "2Gi" }
[[policies]]
name = "hold"
steps = [ { setWeight = 50 }, { pause = {} } ]
"#;
        let sc = crate::scenario::load_str("crashloop.toml", text).unwrap();
        let e = Engine::new(&sc, &sc.policies[0], 5);
        let mut e = e;
        while e.step() {}
        let w = &e.world;
        assert!(w.oom_kills.len() >= 3, "{} kills", w.oom_kills.len());
        let failed: u64 = w.tallies.iter().flatten().map(|t| t.failed).sum();
        let total: u64 = w.tallies.iter().flatten().map(|t| t.total).sum();
        let five_xx: u64 = [500, 502, 503, 504]
            .iter()
            .map(|s| w.ingress.total(0, *s) + w.ingress.total(1, *s))
            .sum();
        assert!(failed > 0);
        assert_eq!(five_xx, failed);
        let answered: u64 = [200, 201, 500, 502, 503, 504]
            .iter()
            .map(|s| w.ingress.total(0, *s) + w.ingress.total(1, *s))
            .sum();
        assert!(
            answered <= total && total - answered < 20,
            "{answered} of {total}"
        );
    }
}
