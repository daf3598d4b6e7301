//! Production traffic: the arrival process, the ingress split and the
//! per-request path through a Service to a pod.
//!
//! This is the hot path. Per request it draws a few random numbers, picks an
//! endpoint from a cumulative table, picks a pod round-robin from the
//! Service's published endpoints, and either starts service or queues; no
//! allocation, no formatting, no map lookups.

use rand_distr::{Distribution, Exp};

use super::jobs::OPEN_LOOP;
use super::{CANARY_SVC, Event, STABLE_SVC, World, unit};
use crate::model::pod::{CODE_ERROR, CODE_OK, CODE_SLOTS};
use crate::model::{PodId, Waiting};
use crate::scenario::{DailyShape, Scenario};
use crate::sim::rng::{ChaCha8Rng, stream};
use crate::sim::{EventQueue, SimDuration, SimTime};

const DAY_SECS: f64 = 86_400.0;

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
        let routed = self.pick_pod(svc);
        if routed
            .and_then(|pod| self.dispatch(now, pod, endpoint as u16, now, OPEN_LOOP, q))
            .is_err()
        {
            self.tallies[self.period][version].failed += 1;
        }
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

    /// The next pod of a Service, round-robin over its published endpoints;
    /// `Err(503)` when it has none, `Err(502)` when the chosen pod died
    /// before the endpoints caught up.
    #[inline]
    pub fn pick_pod(&mut self, svc: usize) -> Result<PodId, u16> {
        let service = &mut self.services[svc];
        let n = service.endpoints.len();
        if n == 0 {
            return Err(503);
        }
        let pod = service.endpoints[service.cursor % n];
        service.cursor = service.cursor.wrapping_add(1);
        if self.pods[pod as usize].can_serve() {
            Ok(pod)
        } else {
            Err(502)
        }
    }

    /// Hands a request to a pod: a free worker starts it, else it queues;
    /// `Err(503)` when the pod's accept queue is full (the connection is
    /// refused, which the ingress answers with a 503).
    #[inline]
    pub fn dispatch(
        &mut self,
        now: SimTime,
        pod: PodId,
        endpoint: u16,
        arrived: SimTime,
        client: u64,
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
                },
            );
            return Ok(());
        }
        let p = &mut self.pods[pod as usize];
        if p.busy < p.workers {
            p.busy += 1;
            self.start_service(now, pod, endpoint, arrived, client, q);
        } else if p.queue.len() >= self.sc.pod.accept_queue as usize {
            return Err(503);
        } else {
            p.queue.push_back(Waiting {
                arrived,
                endpoint,
                client,
            });
        }
        Ok(())
    }

    #[inline]
    fn start_service(
        &mut self,
        now: SimTime,
        pod: PodId,
        endpoint: u16,
        arrived: SimTime,
        client: u64,
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
        q: &mut EventQueue<Event>,
    ) -> bool {
        let sc = self.sc;
        let p = &mut self.pods[pod as usize];
        if p.incarnation != incarnation || !p.can_serve() {
            // The container died with this request in it.
            let version = p.version.index();
            if self.is_production(client) {
                self.tallies[self.period][version].failed += 1;
            }
            if client != OPEN_LOOP {
                self.locust_reset(client, now, q);
            }
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
            self.start_service(now, pod, w.endpoint, w.arrived, w.client, q);
        }
        if client == OPEN_LOOP {
            // The ingress gave up after proxy_read_timeout and answered 504;
            // the pod, which never learns of it, finished the request anyway.
            if failed || now - arrived > sc.traffic.proxy_read_timeout {
                self.tallies[self.period][version].failed += 1;
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
