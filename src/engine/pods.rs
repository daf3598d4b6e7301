//! Pod lifecycle in the world: creating and scaling ReplicaSets, readiness
//! and its propagation to Service endpoints, OOM kills and kubelet restarts,
//! and applying the rollout controller's decisions.

use rand::Rng;

use super::{CANARY_SVC, Event, STABLE_SVC, World};
use crate::model::pod::name_suffix;
use crate::model::{Pod, PodId, PodPhase, Version, Waiting};
use crate::outcome::OomKill;
use crate::rollout::controller::Decision;
use crate::sim::rng::stream;
use crate::sim::{EventQueue, SimDuration, SimTime};

/// How long a terminating pod keeps serving what reaches it after it leaves
/// the endpoints, before it is gone.
const DRAIN: SimDuration = SimDuration::from_secs(2);

impl World<'_> {
    /// Starts the stable ReplicaSet at full size, ready and listed, as a
    /// deployment that has been running for a while.
    pub fn start_stable_warm(&mut self, q: &mut EventQueue<Event>) {
        let n = self.sc.rollout.replicas;
        self.rs[Version::Stable.index()].desired = n;
        for _ in 0..n {
            let id = self.create_pod(SimTime::ZERO, Version::Stable, q);
            let p = &mut self.pods[id as usize];
            p.phase = PodPhase::Ready;
            p.listed = true;
        }
        self.rebuild_endpoints();
    }

    fn create_pod(&mut self, now: SimTime, version: Version, q: &mut EventQueue<Event>) -> PodId {
        let id = self.pods.len() as PodId;
        let sc = self.sc;
        let profile = sc.profile(version);
        let rs = &self.rs[version.index()];
        let mut name;
        loop {
            name = format!(
                "{}-{}-{}",
                sc.rollout.name,
                rs.hash,
                name_suffix(self.naming_rng.next_u64())
            );
            if !self.pods.iter().any(|p| p.name == name) {
                break;
            }
        }
        let mut rng = stream(self.seed, "pod", u64::from(id));
        let period = profile.memory.gc_period.0.max(1);
        let gc_phase = SimDuration(rng.next_u64() % period);
        let pod = Pod::new(
            name,
            version,
            rs.hash.clone(),
            id,
            sc.pod.nodes,
            profile.workers,
            sc.endpoints.len(),
            sc.buckets.total(),
            gc_phase,
            now,
            profile.startup,
        );
        let ready_at = match pod.phase {
            PodPhase::Starting { ready_at } => ready_at,
            _ => now,
        };
        self.pods.push(pod);
        self.pod_rngs.push(rng);
        self.rs[version.index()].pods.push(id);
        q.schedule(
            ready_at,
            Event::Ready {
                pod: id,
                incarnation: 0,
            },
        );
        self.schedule_memory_check(now, id, q);
        id
    }

    fn schedule_memory_check(&mut self, now: SimTime, pod: PodId, q: &mut EventQueue<Event>) {
        let p = &self.pods[pod as usize];
        let mem = &self.sc.profile(p.version).memory;
        if let Some(at) = p.next_memory_check(mem, self.sc.pod.memory_limit, now) {
            q.schedule(
                at.max(now),
                Event::MemoryCheck {
                    pod,
                    incarnation: p.incarnation,
                },
            );
        }
    }

    /// Records every running container's working set in the peaks (at each
    /// scrape; OOM kills record theirs when they happen).
    pub fn record_peaks(&mut self, now: SimTime) {
        for pod in 0..self.pods.len() {
            self.record_peak(pod as PodId, now);
        }
    }

    /// Records one pod's working set in the peaks, if its container runs
    /// (at its cAdvisor target's scrape).
    pub fn record_peak(&mut self, pod: PodId, now: SimTime) {
        let p = &self.pods[pod as usize];
        if p.container_running() {
            let ws = p.working_set(&self.sc.profile(p.version).memory, now);
            let peak = &mut self.peak_working_set[p.version.index()];
            *peak = peak.max(ws);
        }
    }

    /// Pods of `version` that are ready and in their Service's endpoints.
    pub fn available(&self, version: Version) -> u32 {
        self.rs[version.index()]
            .pods
            .iter()
            .filter(|id| {
                let p = &self.pods[**id as usize];
                p.phase == PodPhase::Ready && p.listed
            })
            .count() as u32
    }

    /// Recomputes both Services' endpoints from the pods' listed state.
    pub fn rebuild_endpoints(&mut self) {
        for s in [STABLE_SVC, CANARY_SVC] {
            let selects = self.services[s].selects;
            let eps: Vec<PodId> = (0..self.pods.len() as PodId)
                .filter(|id| {
                    let p = &self.pods[*id as usize];
                    p.version == selects && p.listed && p.phase != PodPhase::Deleted
                })
                .collect();
            if self.services[s].endpoints != eps {
                self.services[s].endpoints = eps;
                self.restart_rotations(s);
            }
        }
    }

    /// Each ingress-nginx worker re-creates its balancer for a backend whose
    /// endpoints changed, starting at a random endpoint
    /// (lua-resty-balancer `roundrobin.lua` `new`/`reinit`,
    /// `get_random_node_id`; world-fidelity.md §1).
    fn restart_rotations(&mut self, s: usize) {
        let n = self.services[s].endpoints.len();
        for c in &mut self.services[s].rotations {
            *c = if n > 1 {
                ((super::unit(&mut self.balancer_rng) * n as f64) as usize).min(n - 1)
            } else {
                0
            };
        }
    }

    pub fn on_ready(
        &mut self,
        now: SimTime,
        pod: PodId,
        incarnation: u32,
        q: &mut EventQueue<Event>,
    ) {
        let p = &mut self.pods[pod as usize];
        if p.incarnation != incarnation || !matches!(p.phase, PodPhase::Starting { .. }) {
            return;
        }
        p.phase = PodPhase::Ready;
        q.schedule(
            now + self.sc.endpoints_delay,
            Event::Listed {
                pod,
                incarnation,
                listed: true,
            },
        );
    }

    /// The endpoints controller publishes a pod's readiness. Returns whether
    /// anything changed (the controller should look).
    pub fn on_listed(&mut self, pod: PodId, incarnation: u32, listed: bool) -> bool {
        let p = &mut self.pods[pod as usize];
        if p.incarnation != incarnation || p.phase == PodPhase::Deleted {
            return false;
        }
        // A pod is only listed while ready; a stale "listed" for a pod that died since is ignored.
        let listed = listed && p.phase == PodPhase::Ready;
        if p.listed == listed {
            return false;
        }
        p.listed = listed;
        self.rebuild_endpoints();
        true
    }

    pub fn on_memory_check(
        &mut self,
        now: SimTime,
        pod: PodId,
        incarnation: u32,
        q: &mut EventQueue<Event>,
    ) -> bool {
        let p = &self.pods[pod as usize];
        if p.incarnation != incarnation || !p.container_running() {
            return false;
        }
        let mem = &self.sc.profile(p.version).memory;
        let ws = p.working_set(mem, now);
        if ws > self.sc.pod.memory_limit {
            let peak = &mut self.peak_working_set[p.version.index()];
            *peak = peak.max(ws);
            self.oom_kill(now, pod, q);
            return true;
        }
        self.schedule_memory_check(now, pod, q);
        false
    }

    /// The OOM killer ends the pod's container: everything in it fails.
    /// Queued requests fail now; those being served fail when their
    /// completion comes due (see `on_complete`).
    pub fn oom_kill(&mut self, now: SimTime, pod: PodId, q: &mut EventQueue<Event>) {
        self.oom_kill_at(now, now, pod, q);
    }

    /// An OOM kill at `at`, found at `now` (≥ `at`): the batched model
    /// simulates a batch at its end and places the kill inside it.
    pub fn oom_kill_at(
        &mut self,
        at: SimTime,
        now: SimTime,
        pod: PodId,
        q: &mut EventQueue<Event>,
    ) {
        let later = |t: SimTime| t.max(now);
        let p = &mut self.pods[pod as usize];
        let in_service = p.busy;
        let queued: Vec<Waiting> = p.queue.drain(..).collect();
        let version = p.version;
        let restart_at = p.kill(at, true);
        let incarnation = p.incarnation;
        let name = p.name.clone();
        let restarts = p.restarts;
        q.schedule(later(restart_at), Event::Restart { pod, incarnation });
        q.schedule(
            later(at + self.sc.endpoints_delay),
            Event::Listed {
                pod,
                incarnation,
                listed: false,
            },
        );
        self.fail_waiting(&queued, version, now, q);
        let t_s = self.rel_secs(at);
        self.oom_kills.push(OomKill {
            t_s,
            pod: name.clone(),
            version,
        });
        let back = (restart_at - at).as_secs_f64();
        let lost = u64::from(in_service) + queued.len() as u64;
        self.note(
            at,
            "oom_kill",
            format!(
                "{name} ({}) OOM-killed, restart #{restarts} in {back:.0}s; {lost} requests in flight reset",
                version.as_str()
            ),
        );
    }

    /// Fails requests that were waiting in a pod that went away.
    fn fail_waiting(
        &mut self,
        queued: &[Waiting],
        version: Version,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) {
        for w in queued {
            let via = super::ingress::Via(w.via);
            self.connection_reset(
                now,
                version.index(),
                w.endpoint,
                w.arrived,
                w.client,
                via,
                q,
            );
        }
    }

    pub fn on_restart(
        &mut self,
        now: SimTime,
        pod: PodId,
        incarnation: u32,
        q: &mut EventQueue<Event>,
    ) {
        let startup = self.sc.profile(self.pods[pod as usize].version).startup;
        let p = &mut self.pods[pod as usize];
        if p.incarnation != incarnation || !matches!(p.phase, PodPhase::BackOff { .. }) {
            return;
        }
        p.restart(now, startup);
        let incarnation = p.incarnation;
        q.schedule(now + startup, Event::Ready { pod, incarnation });
        self.schedule_memory_check(now, pod, q);
    }

    pub fn on_delete(&mut self, now: SimTime, pod: PodId, q: &mut EventQueue<Event>) {
        let p = &mut self.pods[pod as usize];
        if p.phase == PodPhase::Deleted {
            return;
        }
        let queued: Vec<Waiting> = p.queue.drain(..).collect();
        p.busy = 0;
        p.phase = PodPhase::Deleted;
        p.listed = false;
        let version = p.version;
        let name = p.name.clone();
        self.rebuild_endpoints();
        self.fail_waiting(&queued, version, now, q);
        self.note(now, "delete", format!("{name} deleted"));
    }

    /// Scales a ReplicaSet to `n` pods: new pods start, surplus pods
    /// terminate (not-ready ones first, then the newest), as the ReplicaSet
    /// controller chooses.
    fn scale(&mut self, now: SimTime, version: Version, n: u32, q: &mut EventQueue<Event>) {
        let v = version.index();
        self.rs[v].desired = n;
        let live = self.rs[v].pods.len() as u32;
        if live < n {
            for _ in live..n {
                self.create_pod(now, version, q);
            }
        } else if live > n {
            let mut order = self.rs[v].pods.clone();
            order.sort_by_key(|id| {
                let ready = self.pods[*id as usize].phase == PodPhase::Ready;
                (ready, std::cmp::Reverse(*id))
            });
            let surplus = (live - n) as usize;
            for id in order.into_iter().take(surplus) {
                self.rs[v].pods.retain(|x| *x != id);
                let p = &mut self.pods[id as usize];
                let incarnation = p.incarnation;
                if p.container_running() {
                    p.phase = PodPhase::Terminating;
                    q.schedule(
                        now + self.sc.endpoints_delay,
                        Event::Listed {
                            pod: id,
                            incarnation,
                            listed: false,
                        },
                    );
                    q.schedule(
                        now + self.sc.endpoints_delay + DRAIN,
                        Event::Delete { pod: id },
                    );
                } else {
                    q.schedule(now, Event::Delete { pod: id });
                }
            }
        }
    }

    /// Applies a controller decision: replica counts, traffic weight, selectors.
    pub fn apply(&mut self, now: SimTime, d: &Decision, q: &mut EventQueue<Event>) {
        for v in [Version::Stable, Version::Canary] {
            if self.rs[v.index()].desired != d.replicas[v.index()]
                || self.rs[v.index()].pods.len() as u32 != d.replicas[v.index()]
            {
                let before = self.rs[v.index()].pods.len();
                self.scale(now, v, d.replicas[v.index()], q);
                let after = self.rs[v.index()].pods.len();
                if before != after {
                    let hash = self.rs[v.index()].hash.clone();
                    self.note(
                        now,
                        "scale",
                        format!(
                            "ReplicaSet {hash} ({} build) scaled from {before} to {after}",
                            v.as_str()
                        ),
                    );
                }
            }
        }
        self.weight = d.weight;
        let selectors = [d.stable_selects, d.canary_selects];
        let mut changed = false;
        for (s, sel) in [STABLE_SVC, CANARY_SVC].into_iter().zip(selectors) {
            if self.services[s].selects != sel {
                self.services[s].selects = sel;
                changed = true;
            }
        }
        if changed {
            self.rebuild_endpoints();
        }
    }
}
