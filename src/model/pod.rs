//! One pod: its identity, its container's lifecycle, memory, and the counters
//! its exporter would show.
//!
//! The engine owns every [`Pod`] and drives it with events; this file holds
//! the rules that do not depend on the rest of the world: the working set at
//! an instant, when the OOM killer would next act, the kubelet's restart
//! back-off, and what a restart resets. Pod names follow Argo Rollouts:
//! `<rollout>-<pod-template-hash>-<5 chars>`.

use std::collections::VecDeque;

use super::profile::{MemoryProfile, Release, Version};
use crate::sim::time::u64_to_f64;
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
    /// How it reached the pod (the engine's route tag: kube-proxy, or the
    /// ingress with its attempt).
    pub via: u32,
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
    /// The GC cycle (collections since the container started) of the last
    /// completed request, and `served` when that cycle's collection ran.
    pub gc_seen: (u64, u64),
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
            gc_seen: (0, 0),
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
        mem.baseline
            + mem.leak_per_request * u64_to_f64(self.served)
            + mem.leak_per_minute * minutes
    }

    /// Counts `n` requests completed at `now`, noting first how many had
    /// completed when the current GC cycle's collection ran (the peak the
    /// retained working set keeps). The per-request path: no allocation.
    #[inline]
    pub fn count_served(&mut self, mem: &MemoryProfile, now: SimTime, n: u64) {
        if mem.release == Release::Retained {
            let cycle = self.gc_cycle(mem, now);
            if cycle > self.gc_seen.0 {
                self.gc_seen = (cycle, self.served);
            }
        }
        self.served += n;
    }

    /// Collections since the container started, at `now` (0 without GC).
    #[inline]
    fn gc_cycle(&self, mem: &MemoryProfile, now: SimTime) -> u64 {
        if mem.gc_amplitude <= 0.0 || mem.gc_period.0 == 0 {
            return 0;
        }
        (now.saturating_since(self.container_started).0 + self.gc_phase.0) / mem.gc_period.0
    }

    /// The heap just before the last collection (the sawtooth's last top),
    /// or 0 before the first one.
    fn heap_before_last_gc(&self, mem: &MemoryProfile, now: SimTime) -> f64 {
        let cycle = self.gc_cycle(mem, now);
        if cycle == 0 {
            return 0.0;
        }
        let period = mem.gc_period.0;
        let since = now.saturating_since(self.container_started).0 + self.gc_phase.0;
        // One microsecond before the collection, when the garbage tops out.
        let top = SimTime(now.0 - since % period - 1);
        let served = if cycle == self.gc_seen.0 {
            self.gc_seen.1
        } else {
            // No request completed since that collection.
            self.served
        };
        let minutes = top.saturating_since(self.container_started).as_secs_f64() / 60.0;
        mem.baseline
            + mem.leak_per_request * served as f64
            + mem.leak_per_minute * minutes
            + mem.gc_amplitude * (period - 1) as f64 / period as f64
    }

    /// GC garbage at `now`: the sawtooth's height.
    #[inline]
    pub fn garbage_bytes(&self, mem: &MemoryProfile, now: SimTime) -> f64 {
        if mem.gc_amplitude <= 0.0 || mem.gc_period.0 == 0 {
            return 0.0;
        }
        let into =
            (now.saturating_since(self.container_started).0 + self.gc_phase.0) % mem.gc_period.0;
        mem.gc_amplitude * u64_to_f64(into) / u64_to_f64(mem.gc_period.0)
    }

    /// The heap at `now`: live + garbage.
    #[inline]
    pub fn heap_bytes(&self, mem: &MemoryProfile, now: SimTime) -> f64 {
        self.live_bytes(mem, now) + self.garbage_bytes(mem, now)
    }

    /// The working set at `now` (what the OOM killer and cAdvisor see, before
    /// jitter): the heap, or with [`Release::Retained`] its high-water mark.
    /// The live set never shrinks, so that mark is the larger of the heap now
    /// and the heap just before the last collection.
    #[inline]
    pub fn working_set(&self, mem: &MemoryProfile, now: SimTime) -> f64 {
        let heap = self.heap_bytes(mem, now);
        match mem.release {
            Release::AtGc => heap,
            Release::Retained => heap.max(self.heap_before_last_gc(mem, now)),
        }
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
        if self.working_set(mem, now) > limit {
            return Some(now);
        }
        // The working set first passes the limit when the heap does.
        let ws = self.heap_bytes(mem, now);
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
        self.gc_seen = (0, 0);
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
            release: Release::Retained,
            noise: 0.0,
        }
    }

    /// `mem(..)` as it is (retained) and with `release = at_gc`.
    fn both_releases(leak_per_minute: f64, gc: f64) -> (MemoryProfile, MemoryProfile) {
        let retained = mem(leak_per_minute, gc);
        let at_gc = MemoryProfile {
            release: Release::AtGc,
            ..retained
        };
        (retained, at_gc)
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
    fn go_and_jvm_working_set_does_not_fall_at_a_collection() {
        // world-fidelity.md §9: Go's scavenger keeps about heap goal + 10 %
        // (mgcscavenge.go retainExtraPercent) and G1 keeps its committed
        // high-water mark, so the working set holds the last sawtooth top;
        // only `at_gc` falls to the live set. Baseline 100 B, 1 B per request,
        // garbage 0 → 20 B over each 10 s cycle, collections at 10 s, 20 s, …
        let (retained, at_gc) = both_releases(0.0, 20.0);
        let mut p = pod();
        let s = SimTime::from_secs;
        let top = 20.0 * 9_999_999.0 / 10_000_000.0;
        assert!((p.working_set(&retained, SimTime(9_999_999)) - (100.0 + top)).abs() < 1e-9);
        // Just after the first collection the heap is back at 100 B.
        assert_eq!(p.working_set(&at_gc, s(10)), 100.0);
        assert!((p.working_set(&retained, s(10)) - (100.0 + top)).abs() < 1e-9);
        // Five requests in the second cycle: the heap (105 + 4) is below the
        // old top, the working set stays there.
        p.count_served(&retained, s(12), 5);
        assert!((p.heap_bytes(&retained, s(12)) - 109.0).abs() < 1e-9);
        assert!((p.working_set(&retained, s(12)) - (100.0 + top)).abs() < 1e-9);
        // The heap passes the old top before the next collection and leads.
        let t = SimTime(19_500_000);
        assert_eq!(p.working_set(&retained, t), p.heap_bytes(&retained, t));
        // After the second collection the mark is that cycle's top: the five
        // requests in, not the three completed after it.
        p.count_served(&retained, SimTime(21_000_000), 3);
        assert!((p.working_set(&retained, s(22)) - (105.0 + top)).abs() < 1e-9);
        assert!((p.working_set(&at_gc, s(22)) - (108.0 + 4.0)).abs() < 1e-9);
        // A restart is a new process: the mark goes with it.
        let at = p.kill(s(23), true);
        p.restart(at, SimDuration::from_secs(5));
        assert_eq!(p.working_set(&retained, at), 100.0);
    }

    #[test]
    fn the_oom_kill_comes_when_the_heap_first_passes_the_limit_whatever_the_release() {
        // The working set is the heap's running maximum (or the heap), so
        // both first exceed the limit at the same instant.
        let (retained, at_gc) = both_releases(60.0, 20.0);
        let p = pod();
        for now in [SimTime::ZERO, SimTime::from_secs(25), SimTime(40_000_001)] {
            assert_eq!(
                p.next_memory_check(&retained, 160.0, now),
                p.next_memory_check(&at_gc, 160.0, now)
            );
        }
        // 100 + t + 2·(t − 40) passes 160 at 46.67 s: both see it coming...
        let first = p.next_memory_check(&retained, 160.0, SimTime::from_secs(45));
        assert_eq!(first, Some(SimTime(46_666_667)));
        // ...and past it both report "over already".
        let late = SimTime::from_secs(48);
        assert_eq!(p.next_memory_check(&retained, 160.0, late), Some(late));
        assert_eq!(p.next_memory_check(&at_gc, 160.0, late), Some(late));
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
