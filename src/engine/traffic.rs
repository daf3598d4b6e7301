//! Production traffic: the arrival process, the ingress split and the
//! per-request path through a Service to a pod.
//!
//! This is the hot path. Per request it draws a few random numbers, picks an
//! endpoint from a cumulative table, picks a pod from the Service's
//! published endpoints, and either starts service or queues; no allocation,
//! no formatting, no map lookups.
//!
//! Which path a request takes decides how its pod is picked:
//! - **through the ingress** (production traffic, and Locust runs whose host
//!   is the ingress): ingress-nginx dials pod IPs itself. The request meets
//!   one worker process of one controller replica, and that worker's own
//!   round-robin rotation names the pod ([`World::pick_pod_ingress`]);
//! - **to a Service's ClusterIP** (a Locust Job's pod calling
//!   `checkout-canary`): kube-proxy picks a ready endpoint at random
//!   ([`World::pick_pod_kube_proxy`]).

use rand_distr::{Distribution, Exp};

use super::ingress::Via;
use super::jobs::OPEN_LOOP;
use super::{CANARY_SVC, Event, STABLE_SVC, World, unit};
use crate::model::pod::{CODE_ERROR, CODE_OK, CODE_SLOTS};
use crate::model::{PodId, Waiting};
use crate::scenario::{DailyShape, Scenario};
use crate::sim::rng::{ChaCha8Rng, stream};
use crate::sim::{EventQueue, SimDuration, SimTime};

const DAY_SECS: f64 = 86_400.0;

/// The status Locust records for a refused connection.
const CONNECTION_REFUSED: u16 = 0;

/// An open-loop Poisson process, thinned to a daily shape when there is one.
pub(crate) struct Arrivals {
    pub rng: ChaCha8Rng,
    max_rate: f64,
    /// The gap between candidate arrivals; `None` when production traffic
    /// is a population of users instead.
    gap: Option<Exp<f64>>,
    daily: Option<DailyShape>,
    base_rate: f64,
    cumulative_mix: Vec<f64>,
}

impl Arrivals {
    pub fn new(sc: &Scenario, seed: u64) -> Arrivals {
        let t = &sc.traffic;
        let max_rate = t.rate * (1.0 + t.daily.map_or(0.0, |d| d.amplitude));
        let total: f64 = t.mix.iter().sum();
        let mut acc = 0.0;
        let cumulative_mix = t
            .mix
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        Arrivals {
            rng: stream(seed, "arrivals", 0),
            max_rate,
            gap: (t.users.is_none())
                .then(|| Exp::new(max_rate).expect("invariant: validated rate > 0")),
            daily: t.daily,
            base_rate: t.rate,
            cumulative_mix,
        }
    }

    /// The arrival rate at simulated time `t` (requests per second).
    pub fn rate_at(&self, t: SimTime) -> f64 {
        match self.daily {
            None => self.base_rate,
            Some(d) => {
                let clock = (d.start.as_secs_f64() + t.as_secs_f64()) % DAY_SECS;
                let phase = 2.0 * std::f64::consts::PI * (clock - d.peak.as_secs_f64()) / DAY_SECS;
                self.base_rate * (1.0 + d.amplitude * phase.cos())
            }
        }
    }

    /// The expected number of arrivals in `[t0, t1)`: the rate's exact
    /// integral, the daily cosine in closed form.
    pub fn integral(&self, t0: SimTime, t1: SimTime) -> f64 {
        let span = (t1 - t0).as_secs_f64();
        match self.daily {
            None => self.base_rate * span,
            Some(d) => {
                let w = 2.0 * std::f64::consts::PI / DAY_SECS;
                let at = |t: SimTime| {
                    let clock = d.start.as_secs_f64() + t.as_secs_f64() - d.peak.as_secs_f64();
                    (w * clock).sin()
                };
                self.base_rate * (span + d.amplitude / w * (at(t1) - at(t0)))
            }
        }
    }

    pub fn schedule_first(&mut self, q: &mut EventQueue<Event>) {
        if let Some(gap) = &self.gap {
            let first = SimTime::ZERO + SimDuration::from_secs_f64(gap.sample(&mut self.rng));
            q.schedule_lane(first, Event::Arrival);
        }
    }

    /// Schedules the next candidate arrival and says whether the current one
    /// is kept (thinning) and for which endpoint.
    #[inline]
    fn next(&mut self, now: SimTime, q: &mut EventQueue<Event>) -> Option<usize> {
        let gap = self
            .gap
            .as_ref()
            .expect("invariant: arrivals are scheduled only for open-loop traffic")
            .sample(&mut self.rng);
        q.schedule_lane(now + SimDuration::from_secs_f64(gap), Event::Arrival);
        if self.daily.is_some() && unit(&mut self.rng) * self.max_rate >= self.rate_at(now) {
            return None;
        }
        let u = unit(&mut self.rng);
        let e = self
            .cumulative_mix
            .iter()
            .position(|c| u < *c)
            .unwrap_or(self.cumulative_mix.len() - 1);
        Some(e)
    }

    /// Whether this request goes to the canary Service at `weight` percent.
    #[inline]
    pub fn goes_to_canary(&mut self, weight: u32) -> bool {
        weight > 0 && (weight >= 100 || unit(&mut self.rng) * 100.0 < f64::from(weight))
    }
}

impl World<'_> {
    /// A production request reaches the ingress.
    pub fn on_arrival(&mut self, now: SimTime, q: &mut EventQueue<Event>) {
        let Some(endpoint) = self.traffic.next(now, q) else {
            return;
        };
        let svc = self.ingress_service();
        let version = self.services[svc].selects.index();
        self.tallies[self.period][version].total += 1;
        // Failures are counted where the request ends (ingress.rs).
        let _ = self.ingress_send(now, svc, endpoint as u16, OPEN_LOOP, None, q);
    }

    /// The Service the ingress sends a request to: by the canary weight with
    /// traffic routing; without it (basic canary) the root Service selects
    /// every ready pod of both ReplicaSets, so the split follows pod counts.
    #[inline]
    pub fn ingress_service(&mut self) -> usize {
        if self.basic_canary {
            let canary = self.services[CANARY_SVC].endpoints.len();
            let stable = self.services[STABLE_SVC].endpoints.len();
            let total = canary + stable;
            if canary > 0
                && (stable == 0 || unit(&mut self.traffic.rng) * (total as f64) < canary as f64)
            {
                CANARY_SVC
            } else {
                STABLE_SVC
            }
        } else if self.traffic.goes_to_canary(self.weight) {
            CANARY_SVC
        } else {
            STABLE_SVC
        }
    }

    /// The pod ingress-nginx sends a request for Service `svc` to. The
    /// request lands on one nginx worker of one controller replica, at
    /// random (a load balancer spreads connections over the replicas, the
    /// kernel over each one's `reuseport` worker sockets), and that worker's
    /// own rotation over the endpoints names the pod: every worker sends
    /// exactly one in N of its requests to each pod, and nothing is shared
    /// between workers (`balancer.lua`, lua-resty-balancer `roundrobin.lua`;
    /// world-fidelity.md §1). `Err(503)` when the Service has no endpoints,
    /// `Err(502)` when the chosen pod died before the endpoints caught up.
    /// (The engine sends through [`World::ingress_send`], which also
    /// retries; this is its first pick, for tests.)
    #[cfg(test)]
    pub fn pick_pod_ingress(&mut self, svc: usize) -> Result<PodId, u16> {
        let n = self.services[svc].endpoints.len();
        if n == 0 {
            return Err(503);
        }
        let rotation = self.ingress_worker(svc);
        let pod = self.rotation_next(svc, rotation, n);
        self.servable(pod)
    }

    /// The worker rotation a request for Service `svc` meets: one worker of
    /// one controller replica, at random.
    #[inline]
    pub fn ingress_worker(&mut self, svc: usize) -> u32 {
        let k = self.services[svc].rotations.len();
        if k > 1 {
            ((unit(&mut self.balancer_rng) * k as f64) as usize).min(k - 1) as u32
        } else {
            0
        }
    }

    /// The pod `rotation` names next among Service `svc`'s `n` endpoints,
    /// and the rotation moves on.
    #[inline]
    pub fn rotation_next(&mut self, svc: usize, rotation: u32, n: usize) -> PodId {
        let service = &mut self.services[svc];
        let cursor = &mut service.rotations[rotation as usize];
        let pod = service.endpoints[*cursor % n];
        *cursor = cursor.wrapping_add(1);
        pod
    }

    /// The pod kube-proxy sends an in-cluster request for Service `svc` to:
    /// one of its endpoints uniformly at random (iptables rule i of n jumps
    /// with probability 1/(n−i), nftables `numgen random mod N`;
    /// `pkg/proxy/iptables/proxier.go`, world-fidelity.md §2). kube-proxy
    /// never retries: with no endpoint its REJECT rule refuses the
    /// connection, and a pod that died before the endpoints caught up
    /// refuses it too; `Err(0)`, the status Locust records for a refused
    /// connection.
    #[inline]
    pub fn pick_pod_kube_proxy(&mut self, svc: usize) -> Result<PodId, u16> {
        let n = self.services[svc].endpoints.len();
        if n == 0 {
            return Err(CONNECTION_REFUSED);
        }
        let i = ((unit(&mut self.proxy_rng) * n as f64) as usize).min(n - 1);
        let pod = self.services[svc].endpoints[i];
        if self.pods[pod as usize].can_serve() {
            Ok(pod)
        } else {
            Err(CONNECTION_REFUSED)
        }
    }

    #[cfg(test)]
    fn servable(&self, pod: PodId) -> Result<PodId, u16> {
        if self.pods[pod as usize].can_serve() {
            Ok(pod)
        } else {
            Err(502)
        }
    }

    /// A request's connection was reset: its pod's container died while it
    /// held it. Through the ingress, nginx may pass it on
    /// ([`World::ingress_next_upstream`]); a client dialling a ClusterIP
    /// sees the reset (status 0 in Locust).
    #[allow(clippy::too_many_arguments)]
    pub fn connection_reset(
        &mut self,
        now: SimTime,
        version: usize,
        endpoint: u16,
        arrived: SimTime,
        client: u64,
        via: Via,
        q: &mut EventQueue<Event>,
    ) {
        if via.through_ingress() {
            if let Some(status) =
                self.ingress_next_upstream(now, via, endpoint, arrived, client, false, q)
                && client != OPEN_LOOP
            {
                self.locust_response(client, status, now, q);
            }
            return;
        }
        if self.is_production(client) {
            self.tallies[self.period][version].failed += 1;
        }
        if client != OPEN_LOOP {
            self.locust_reset(client, now, q);
        }
    }

    /// Hands a request to a pod: a free worker starts it, else it queues;
    /// `Err(503)` when the pod's accept queue is full (the connection is
    /// refused, which the ingress answers with a 503). `via` says how it
    /// came (kube-proxy, or the ingress and its attempt).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn dispatch(
        &mut self,
        now: SimTime,
        pod: PodId,
        endpoint: u16,
        arrived: SimTime,
        client: u64,
        via: Via,
        q: &mut EventQueue<Event>,
    ) -> Result<(), u16> {
        if self.batcher.is_some() {
            // Batched: the pod's queue is a fluid; this request's wait comes from it.
            let secs = self.batched_latency(pod, endpoint);
            let incarnation = self.pods[pod as usize].incarnation;
            q.schedule(
                now + SimDuration::from_secs_f64(secs),
                Event::Complete {
                    pod,
                    incarnation,
                    endpoint,
                    arrived,
                    client,
                    via,
                },
            );
            return Ok(());
        }
        let p = &mut self.pods[pod as usize];
        if p.busy < p.workers {
            p.busy += 1;
            self.start_service(now, pod, endpoint, arrived, client, via, q);
        } else if p.queue.len() >= self.sc.pod.accept_queue as usize {
            return Err(503);
        } else {
            p.queue.push_back(Waiting {
                arrived,
                endpoint,
                client,
                via: via.0,
            });
        }
        Ok(())
    }

    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn start_service(
        &mut self,
        now: SimTime,
        pod: PodId,
        endpoint: u16,
        arrived: SimTime,
        client: u64,
        via: Via,
        q: &mut EventQueue<Event>,
    ) {
        let p = &self.pods[pod as usize];
        let profile = self.sc.profile(p.version);
        let limit = self.sc.pod.memory_limit;
        // The working set is at most live + the GC sawtooth's height; only
        // near the pressure threshold is the (costlier) exact value needed.
        let mem = &profile.memory;
        let live = p.live_bytes(mem, now);
        let factor = if live + mem.gc_amplitude <= profile.pressure.start * limit {
            1.0
        } else {
            profile
                .pressure
                .factor((live + p.garbage_bytes(mem, now)) / limit)
        };
        let secs =
            profile.latency[endpoint as usize].sample(&mut self.pod_rngs[pod as usize]) * factor;
        q.schedule(
            now + SimDuration::from_secs_f64(secs),
            Event::Complete {
                pod,
                incarnation: p.incarnation,
                endpoint,
                arrived,
                client,
                via,
            },
        );
    }

    /// A pod finished a request. Returns whether the pod was OOM-killed.
    #[allow(clippy::too_many_arguments)]
    pub fn on_complete(
        &mut self,
        now: SimTime,
        pod: PodId,
        incarnation: u32,
        endpoint: u16,
        arrived: SimTime,
        client: u64,
        via: Via,
        q: &mut EventQueue<Event>,
    ) -> bool {
        let sc = self.sc;
        let p = &mut self.pods[pod as usize];
        if p.incarnation != incarnation || !p.can_serve() {
            // The container died with this request in it.
            let version = p.version.index();
            self.connection_reset(now, version, endpoint, arrived, client, via, q);
            return false;
        }
        let batched = self.batcher.is_some();
        if !batched {
            p.busy -= 1;
        }
        let profile = sc.profile(p.version);
        let e = endpoint as usize;
        let failed = profile.sample_error(e, &mut self.pod_rngs[pod as usize]);
        let slot = if failed { CODE_ERROR } else { CODE_OK };
        p.requests[e * CODE_SLOTS + slot] += 1;
        let latency = (now - arrived).as_secs_f64();
        p.buckets[sc.buckets.slot(e, latency)] += 1;
        p.latency_sum[e] += latency;
        p.count_served(&profile.memory, now, 1);
        let version = p.version.index();
        // live + the sawtooth's height bounds the working set: the exact
        // value is only needed when that bound passes the limit.
        let mem = &profile.memory;
        let live = p.live_bytes(mem, now);
        let mut over = false;
        if live + mem.gc_amplitude > sc.pod.memory_limit {
            let ws = live + p.garbage_bytes(mem, now);
            over = ws > sc.pod.memory_limit;
            if over {
                let peak = &mut self.peak_working_set[version];
                *peak = peak.max(ws);
            }
        }
        // The freed worker takes the next waiting request before anything
        // this response causes (a Locust user's next request) can arrive.
        if !over
            && !batched
            && let Some(w) = self.pods[pod as usize].queue.pop_front()
        {
            self.pods[pod as usize].busy += 1;
            self.start_service(now, pod, w.endpoint, w.arrived, w.client, Via(w.via), q);
        }
        if via.through_ingress() {
            // Past proxy_read_timeout the ingress had given up on this try
            // (504, or the next pod for an idempotent method); the pod, which
            // never learns of it, finished the request anyway.
            let status = if now - arrived > sc.traffic.proxy_read_timeout {
                self.ingress_next_upstream(now, via, endpoint, arrived, client, true, q)
            } else {
                Some(self.ingress_answered(now, via, endpoint, arrived, client, failed))
            };
            if let Some(status) = status
                && client != OPEN_LOOP
            {
                self.locust_response(client, status, now, q);
            }
        } else {
            if failed && self.is_production(client) {
                self.tallies[self.period][version].failed += 1;
            }
            let status = if failed {
                500
            } else {
                sc.endpoints[e].success_code
            };
            self.locust_response(client, status, now, q);
        }
        if over {
            self.oom_kill(now, pod, q);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Engine, STABLE_SVC};
    use crate::rollout::policy::{Policy, Step};

    /// An engine whose stable Service has 5 endpoints behind an ingress of
    /// `replicas` × `workers`.
    fn engine_with(sc: &crate::scenario::Scenario) -> Engine<'_> {
        let policy = Policy::new("hold", vec![Step::Pause(None)]);
        Engine::new(sc, &policy, 7)
    }

    fn scenario(replicas: u32, workers: u32) -> crate::scenario::Scenario {
        let text = format!(
            r#"
schema = 1
name = "lb"
[rollout]
name = "svc"
replicas = 5
[pod]
requests = {{ cpu = "1", memory = "512Mi" }}
limits = {{ cpu = "1", memory = "1Gi" }}
[[endpoints]]
name = "get"
handler = "/"
[traffic]
rate = 10
mix = {{ get = 1 }}
[ingress]
replicas = {replicas}
worker_processes = {workers}
[versions.stable]
latency = {{ get = {{ dist = "constant", value = "5ms" }} }}
[versions.canary]
"#
        );
        crate::scenario::load_str("lb.toml", &text).unwrap()
    }

    /// `n` picks for the stable Service, through kube-proxy or the ingress.
    fn draw(e: &mut Engine<'_>, n: usize, kube_proxy: bool) -> Vec<u32> {
        (0..n)
            .map(|_| {
                let picked = if kube_proxy {
                    e.world.pick_pod_kube_proxy(STABLE_SVC)
                } else {
                    e.world.pick_pod_ingress(STABLE_SVC)
                };
                picked.unwrap()
            })
            .collect()
    }

    /// Per-pod counts in consecutive windows of `window` picks: their
    /// variance over their mean (0 for strict rotation, 1 − 1/N at random).
    fn dispersion(picks: &[u32], pods: usize, window: usize) -> f64 {
        let mut counts = Vec::new();
        for w in picks.chunks_exact(window) {
            let mut c = vec![0u32; pods];
            for p in w {
                c[*p as usize] += 1;
            }
            counts.extend(c);
        }
        let mean = counts.iter().map(|c| f64::from(*c)).sum::<f64>() / counts.len() as f64;
        let var = counts
            .iter()
            .map(|c| (f64::from(*c) - mean).powi(2))
            .sum::<f64>()
            / counts.len() as f64;
        var / mean
    }

    #[test]
    fn kube_proxy_picks_a_backend_at_random() {
        // pkg/proxy/iptables/proxier.go writeServiceToEndpointRules: rule i
        // of n jumps with probability 1/(n−i), i.e. uniform
        // (world-fidelity.md §2). Windows of 50 picks over 5 pods are then
        // binomial(50, 1/5) per pod: variance/mean 0.8, where a rotation
        // gives 0.
        let sc = scenario(1, 1);
        let mut e = engine_with(&sc);
        let picks = draw(&mut e, 50_000, true);
        let d = dispersion(&picks, 5, 50);
        assert!((0.72..0.88).contains(&d), "variance/mean {d}");
        let mut total = [0u32; 5];
        picks.iter().for_each(|p| total[*p as usize] += 1);
        assert!(
            total.iter().all(|c| (9_500..10_500).contains(c)),
            "{total:?}"
        );
    }

    #[test]
    fn ingress_nginx_round_robins_per_worker_per_replica() {
        // balancer.lua keeps one lua-resty-balancer round robin per nginx
        // worker (Lua module state), each starting at a random endpoint, so
        // R replicas × W workers are R·W independent rotations
        // (world-fidelity.md §1).
        // One worker of one replica: strict rotation, every window of 5
        // picks holds each pod once.
        let sc = scenario(1, 1);
        let mut e = engine_with(&sc);
        let picks = draw(&mut e, 10_000, false);
        assert_eq!(dispersion(&picks, 5, 5), 0.0);
        // 2 replicas × 4 workers: each rotation sends exactly 1 in 5 of its
        // requests to each pod, so a pod's total is within 8 of a fifth of
        // all requests, but short windows are no longer a strict rotation.
        let sc = scenario(2, 4);
        let mut e = engine_with(&sc);
        assert_eq!(e.world.services[STABLE_SVC].rotations.len(), 8);
        // Random starts: the 8 rotations do not all start on one pod.
        let starts = e.world.services[STABLE_SVC].rotations.clone();
        assert!(starts.iter().any(|c| *c != starts[0]), "{starts:?}");
        let picks = draw(&mut e, 10_000, false);
        let mut total = [0i64; 5];
        picks.iter().for_each(|p| total[*p as usize] += 1);
        assert!(total.iter().all(|c| (c - 2_000).abs() <= 8), "{total:?}");
        let d = dispersion(&picks, 5, 5);
        assert!(
            d > 0.3,
            "short windows mix the rotations: variance/mean {d}"
        );
    }
}
