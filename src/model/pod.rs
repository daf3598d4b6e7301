//! One pod: its identity, its container's lifecycle, memory, and the counters
//! its exporter would show.
//!
//! The engine owns every [`Pod`] and drives it with events; this file holds
//! the rules that do not depend on the rest of the world: the working set at
//! an instant, when the OOM killer would next act, the kubelet's restart
//! back-off, and what a restart resets. Pod names follow Argo Rollouts:
//! `<rollout>-<pod-template-hash>-<5 chars>`.

use std::collections::VecDeque;

use super::profile::{MemoryProfile, Version};
use crate::sim::{SimDuration, SimTime};

/// The kubelet's first restart delay after a crash.
pub const BACKOFF_INITIAL: SimDuration = SimDuration::from_secs(10);
/// The kubelet's longest restart delay.
pub const BACKOFF_MAX: SimDuration = SimDuration::from_secs(300);

/// The alphabet Kubernetes uses for generated names and template hashes
/// (no vowels, no look-alike characters).
pub const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Index of a pod in the engine's pod table.
pub type PodId = u32;
/// A request waiting for a worker: when it reached the pod's service, and
/// which endpoint it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    /// When the request arrived at the ingress.
    pub arrived: SimTime,
    /// Endpoint index.
    pub endpoint: u16,
    /// Who sent it (the engine's client tag; 0 for production traffic).
    pub client: u64,
}

/// Response-code slots per endpoint in a pod's counters: success and 500.
pub const CODE_SLOTS: usize = 2;
/// Slot of the endpoint's success code.
pub const CODE_OK: usize = 0;
/// Slot of 500 Internal Server Error.
pub const CODE_ERROR: usize = 1;

/// Where a pod's container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPhase {
    /// The container is starting; ready at the given time.
    Starting {
        /// When the readiness probe first passes.
        ready_at: SimTime,
    },
    /// Serving.
    Ready,
    /// The container was killed and waits for the kubelet to restart it.
    BackOff {
        /// When the kubelet starts the container again.
        restart_at: SimTime,
    },
    /// Being deleted: no new work is routed to it once endpoints catch up.
    Terminating,
    /// Gone.
    Deleted,
}

/// One pod of the rollout.
#[derive(Debug, Clone)]
pub struct Pod {
    /// `<rollout>-<hash>-<suffix>`.
    pub name: String,
    /// Which build it runs.
    pub version: Version,
    /// Its ReplicaSet's `rollouts-pod-template-hash`.
    pub template_hash: String,
    /// Pod IP (for `instance` labels).
    pub ip: String,
    /// The node it runs on.
    pub node: String,
    /// Pod UID, as kube-state-metrics labels it.
    pub uid: String,
    /// Lifecycle phase.
    pub phase: PodPhase,
    /// Counts container starts; events tagged with an older value are stale.
    pub incarnation: u32,
    /// Container restarts so far (`kube_pod_container_status_restarts_total`).
    pub restarts: u32,
    /// Whether the last termination was an OOM kill.
    pub last_terminated_oom: bool,
    /// When the current container started.
    pub container_started: SimTime,
    /// Requests the current container completed (drives the per-request leak).
    pub served: u64,
    /// Offset of the GC sawtooth, so pods do not collect in lock-step.
    pub gc_phase: SimDuration,
    /// The next restart delay, and when it was last set (kubelet back-off).
    pub backoff: Option<(SimDuration, SimTime)>,
    /// Whether the pod is in its Service's endpoints (readiness as the
    /// endpoints controller last propagated it).
    pub listed: bool,
    /// Workers (concurrent requests) the container serves.
    pub workers: u32,
    /// Workers now busy.
    pub busy: u32,
    /// Requests waiting for a worker, oldest first.
    pub queue: VecDeque<Waiting>,
    /// `http_requests_total` per endpoint × code slot, since container start.
    pub requests: Vec<u64>,
    /// Latency histogram bucket counts (not cumulative), endpoint after
    /// endpoint as the scenario's [`super::histogram::BucketLayout`] lays them out.
    pub buckets: Vec<u64>,
    /// Latency histogram sums per endpoint, seconds.
    pub latency_sum: Vec<f64>,
}

impl Pod {
    /// A new pod whose container starts at `now`, with `bucket_slots`
    /// histogram slots over all its endpoints.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        version: Version,
        template_hash: String,
        index: u32,
        nodes: u32,
        workers: u32,
        endpoints: usize,
        bucket_slots: usize,
        gc_phase: SimDuration,
        now: SimTime,
        startup: SimDuration,
    ) -> Pod {
        Pod {
            name,
            version,
            template_hash,
            ip: format!("10.244.{}.{}", index / 250, index % 250 + 2),
            node: format!("node-{}", index % nodes.max(1) + 1),
            uid: pod_uid(index),
            phase: PodPhase::Starting {
                ready_at: now + startup,
            },
            incarnation: 0,
            restarts: 0,
            last_terminated_oom: false,
            container_started: now,
            served: 0,
            gc_phase,
            backoff: None,
            listed: false,
            workers: workers.max(1),
            busy: 0,
            queue: VecDeque::with_capacity(64),
            requests: vec![0; endpoints * CODE_SLOTS],
            buckets: vec![0; bucket_slots],
            latency_sum: vec![0.0; endpoints],
        }
    }

    /// Whether the container is running (starting, ready, or terminating).
    pub fn container_running(&self) -> bool {
        matches!(
            self.phase,
            PodPhase::Starting { .. } | PodPhase::Ready | PodPhase::Terminating
        )
    }

    /// Whether the pod can serve a request handed to it now.
    #[inline]
    pub fn can_serve(&self) -> bool {
        matches!(self.phase, PodPhase::Ready | PodPhase::Terminating)
    }

    /// Live bytes at `now`: baseline plus both leaks.
    #[inline]
    pub fn live_bytes(&self, mem: &MemoryProfile, now: SimTime) -> f64 {
        let minutes = now.saturating_since(self.container_started).as_secs_f64() / 60.0;
        mem.baseline + mem.leak_per_request * self.served as f64 + mem.leak_per_minute * minutes
    }

    /// GC garbage at `now`: the sawtooth's height.
    #[inline]
    pub fn garbage_bytes(&self, mem: &MemoryProfile, now: SimTime) -> f64 {
        if mem.gc_amplitude <= 0.0 || mem.gc_period.0 == 0 {
            return 0.0;
        }
        let into =
            (now.saturating_since(self.container_started).0 + self.gc_phase.0) % mem.gc_period.0;
        mem.gc_amplitude * into as f64 / mem.gc_period.0 as f64
    }

    /// The working set at `now` (what the OOM killer and cAdvisor see, before jitter).
    #[inline]
    pub fn working_set(&self, mem: &MemoryProfile, now: SimTime) -> f64 {
        self.live_bytes(mem, now) + self.garbage_bytes(mem, now)
    }

    /// When the working set would next exceed `limit` if no further request
    /// completed, or when to look again (the end of the current GC cycle);
    /// `None` if it never would. A time at or before `now` means "over already".
    pub fn next_memory_check(
        &self,
        mem: &MemoryProfile,
        limit: f64,
        now: SimTime,
    ) -> Option<SimTime> {
        let ws = self.working_set(mem, now);
        if ws > limit {
            return Some(now);
        }
        let gc_on = mem.gc_amplitude > 0.0 && mem.gc_period.0 > 0;
        let slope_per_sec = mem.leak_per_minute / 60.0
            + if gc_on {
                mem.gc_amplitude / mem.gc_period.as_secs_f64()
            } else {
                0.0
            };
        let cycle_end = if gc_on {
            let into = (now.saturating_since(self.container_started).0 + self.gc_phase.0)
                % mem.gc_period.0;
            Some(SimTime(now.0 + (mem.gc_period.0 - into)))
        } else {
            None
        };
        if slope_per_sec <= 0.0 {
            return None;
        }
        // Exceed strictly: the first microsecond at which ws > limit.
        let secs = (limit - ws) / slope_per_sec;
        // Saturating: a crossing beyond the end of time must not wrap to now.
        let crossing = SimTime(
            now.0
                .saturating_add((secs * 1e6).floor() as u64)
                .saturating_add(1),
        );
        match cycle_end {
            Some(end) if crossing >= end => {
                if mem.leak_per_minute <= 0.0
                    && self.live_bytes(mem, now) + mem.gc_amplitude <= limit
                {
                    // Garbage alone never gets there and nothing else grows with time.
                    None
                } else {
                    Some(end)
                }
            }
            _ => Some(crossing),
        }
    }

    /// Kills the container at `now` (OOM): counts the restart, sets the
    /// kubelet back-off, and returns when the container restarts. In-flight
    /// and queued requests are the caller's to fail.
    pub fn kill(&mut self, now: SimTime, oom: bool) -> SimTime {
        let delay = next_backoff(self.backoff, now);
        self.backoff = Some((delay, now));
        self.restarts += 1;
        self.last_terminated_oom = oom;
        self.busy = 0;
        let restart_at = now + delay;
        self.phase = PodPhase::BackOff { restart_at };
        restart_at
    }

    /// Starts a fresh container at `now`: a new process, so counters and the
    /// leak start from zero.
    pub fn restart(&mut self, now: SimTime, startup: SimDuration) {
        self.incarnation += 1;
        self.container_started = now;
        self.served = 0;
        self.busy = 0;
        self.requests.iter_mut().for_each(|c| *c = 0);
        self.buckets.iter_mut().for_each(|c| *c = 0);
        self.latency_sum.iter_mut().for_each(|c| *c = 0.0);
        self.phase = PodPhase::Starting {
            ready_at: now + startup,
        };
    }
}

/// The kubelet's next restart delay after a crash at `now`, given the previous
/// delay and when it was set: 10 s, doubling to 5 min, and back to 10 s once
/// more than twice the maximum (10 min) has passed since the last crash.
pub fn next_backoff(previous: Option<(SimDuration, SimTime)>, now: SimTime) -> SimDuration {
    match previous {
        Some((delay, at)) if now.saturating_since(at).0 <= 2 * BACKOFF_MAX.0 => {
            SimDuration((delay.0 * 2).min(BACKOFF_MAX.0))
        }
        _ => BACKOFF_INITIAL,
    }
}

/// A pod-template hash as Kubernetes computes its shape: the FNV-32a hash of
/// the template (here: the image, plus a collision counter) written in
/// decimal and mapped onto the safe alphabet.
pub fn pod_template_hash(template: &str, collision: u32) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in template.bytes().chain(collision.to_le_bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h.to_string()
        .bytes()
        .map(|b| SAFE_ALPHABET[b as usize % SAFE_ALPHABET.len()] as char)
        .collect()
}

/// A 5-character random suffix from the safe alphabet, from a random `u64`.
pub fn name_suffix(mut random: u64) -> String {
    let mut s = String::with_capacity(5);
    for _ in 0..5 {
        s.push(SAFE_ALPHABET[(random % SAFE_ALPHABET.len() as u64) as usize] as char);
        random /= SAFE_ALPHABET.len() as u64;
    }
    s
}

fn pod_uid(index: u32) -> String {
    let x = crate::sim::rng::mix(u64::from(index) ^ 0x005e_ed0f_9ad5);
    let y = crate::sim::rng::mix(x);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        (x >> 32) as u32,
        (x >> 16) as u16,
        x & 0xfff,
        (y >> 52) & 0xfff,
        y & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem(leak_per_minute: f64, gc: f64) -> MemoryProfile {
        MemoryProfile {
            baseline: 100.0,
            leak_per_request: 1.0,
            leak_per_minute,
            gc_amplitude: gc,
            gc_period: SimDuration::from_secs(10),
            noise: 0.0,
        }
    }

    fn pod() -> Pod {
        Pod::new(
            "r-abc-xyz12".into(),
            Version::Canary,
            "abc".into(),
            0,
            3,
            4,
            2,
            24,
            SimDuration::ZERO,
            SimTime::ZERO,
            SimDuration::from_secs(5),
        )
    }

    #[test]
    fn kubelet_backoff_doubles_from_10s_to_5m_and_resets_after_10m() {
        let mut p = pod();
        let mut now = SimTime::from_secs(100);
        let mut delays = Vec::new();
        for _ in 0..7 {
            let restart_at = p.kill(now, true);
            delays.push((restart_at - now).as_secs_f64());
            now = restart_at + SimDuration::from_secs(1);
        }
        assert_eq!(delays, [10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]);
        let later = now + SimDuration::from_secs(601);
        let restart_at = p.kill(later, true);
        assert_eq!(restart_at - later, BACKOFF_INITIAL);
        assert_eq!(p.restarts, 8);
    }

    #[test]
    fn restart_resets_counters_and_the_leak_but_not_the_restart_count() {
        let mut p = pod();
        p.served = 50;
        p.requests[0] = 50;
        p.buckets[3] = 50;
        p.latency_sum[0] = 1.5;
        let at = p.kill(SimTime::from_secs(10), true);
        p.restart(at, SimDuration::from_secs(5));
        assert_eq!((p.served, p.requests[0], p.buckets[3]), (0, 0, 0));
        assert_eq!(p.latency_sum[0], 0.0);
        assert_eq!((p.restarts, p.incarnation), (1, 1));
        assert!(p.last_terminated_oom);
        assert_eq!(
            p.phase,
            PodPhase::Starting {
                ready_at: at + SimDuration::from_secs(5)
            }
        );
    }

    #[test]
    fn time_driven_leak_crossing_is_exact() {
        // baseline 100 B, 60 B/min = 1 B/s, limit 160 B: over the limit just after 60 s.
        let p = pod();
        let m = mem(60.0, 0.0);
        let t = p.next_memory_check(&m, 160.0, SimTime::ZERO).unwrap();
        assert_eq!(t, SimTime(60_000_001));
        assert!(p.working_set(&m, t) > 160.0);
        assert!(p.working_set(&m, SimTime(60_000_000)) <= 160.0);
    }

    #[test]
    fn garbage_alone_below_the_limit_never_triggers_a_check() {
        let p = pod();
        assert_eq!(
            p.next_memory_check(&mem(0.0, 20.0), 200.0, SimTime::ZERO),
            None
        );
        // ...but garbage that reaches the limit does, within the cycle.
        let t = p
            .next_memory_check(&mem(0.0, 20.0), 110.0, SimTime::ZERO)
            .unwrap();
        assert_eq!(t, SimTime(5_000_001));
    }

    #[test]
    fn names_use_the_kubernetes_safe_alphabet() {
        let h = pod_template_hash("ghcr.io/acme/checkout-service:NEW_SHA", 0);
        assert!(
            h.len() >= 8 && h.bytes().all(|b| SAFE_ALPHABET.contains(&b)),
            "{h}"
        );
        assert_ne!(
            h,
            pod_template_hash("ghcr.io/acme/checkout-service:OLD_SHA", 0)
        );
        let s = name_suffix(123_456_789);
        assert_eq!(s.len(), 5);
        assert!(s.bytes().all(|b| SAFE_ALPHABET.contains(&b)));
    }
}
