//! The batched traffic model: production traffic as counts per pod and per
//! batch, with nothing done per request.
//!
//! Flow: every `batch` (≤ the scrape interval, dividing it) the engine asks
//! [`World::advance_batches`] to cover the batches that ended; each draws the
//! ingress arrivals as one Poisson count over the batch (the exact integral
//! of the rate, daily shape included), splits them between the Services as
//! the per-request ingress does (a binomial for the canary weight), then
//! over the ingress's worker rotations (a multinomial: each request meets a
//! worker at random) and by each rotation over the Service's endpoints
//! (equal shares, the remainder from that rotation's cursor). Per pod it then carries a fluid backlog
//! (completions are capped by a Poisson count of service completions when
//! the pod saturates), refuses what overflows the accept queue (503), counts
//! 504s for what waited past `proxy_read_timeout`, draws the errors as a
//! binomial, grows the working set by the leak × completions and places an
//! OOM kill inside the batch where the limit is crossed. Latency is not
//! drawn per batch: each batch adds its completions × the bucket
//! probabilities of the pod's queue at that load ([`crate::model::queueing`])
//! to two accumulators, and before a scrape reads them the counters are
//! drawn (multinomial endpoints and buckets, a normal `_sum`) from what
//! accumulated, since Prometheus sees the counters only there: a pod's own
//! when one of its application targets is scraped
//! ([`World::flush_pods`]), the ingress's view of every pod when an
//! ingress-nginx replica is ([`World::flush_ingress`], only in a run that
//! records those series, on the ingress's own stream).
//!
//! Once the engine finds the run settled (nothing can act on its series
//! again), a batch lasts up to the next multiple of `soak_batch`, and a pod
//! that is not steady (near its memory limit, saturated, just killed) is
//! stepped by `batch` inside it ([`World::next_leap`], [`World::step_pod`]):
//! adaptive tau-leaping for the soak, usually most of a run.
//!
//! Neighbours: `traffic.rs` holds the per-request path, which still serves
//! Locust jobs and production users in this model (their latency comes from
//! the same queue state, [`World::batched_latency`]); `pods.rs` does the
//! kill. Every pod has its own random stream, so its draws do not depend on
//! the order pods are visited in, and a second one for its counters, so
//! that what it does is the same whether or not they are drawn (a run that
//! no query reads any more skips them); the ingress's view of the pods is
//! drawn on the ingress's stream, in pod order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rand_distr::{Distribution, Exp, Normal};

use super::draw::{
    PoissonLaw, Thinning, binomial, hypergeometric_split, multinomial, poisson, round_count,
};
use super::ingress::{IngressCounters, Outcome, TRIES};
use super::{CANARY_SVC, Event, STABLE_SVC, World, unit};
use crate::model::histogram::BucketLayout;
use crate::model::pod::{CODE_ERROR, CODE_OK, CODE_SLOTS};
use crate::model::queueing::{Response, Wait};
use crate::model::{PodId, Version};
use crate::scenario::Scenario;
use crate::sim::rng::{ChaCha8Rng, stream};
use crate::sim::{EventQueue, SimDuration, SimTime};

/// The relative step to which loads and slow-downs are rounded before the
/// response laws are computed, so that a pod at a steady load reuses them:
/// 1 %, which moves a mean response time by well under 1 %.
const GRID: f64 = 0.01;

/// How fast the estimate of a pod's per-request (Locust) load follows it:
/// an exponential average over about this many seconds.
const SIDE_SMOOTHING_SECS: f64 = 10.0;

/// `x` rounded to the nearest point of a geometric grid of step [`GRID`].
fn on_grid(x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let step = GRID.ln_1p();
    ((x.ln() / step).round() * step).exp()
}

/// Utilisation above which a pod is treated as saturated: the stationary
/// formulas give way to the carried backlog.
const SATURATED: f64 = 0.98;

/// The batched model's state: its arrival stream and each pod's queue and
/// accumulators.
pub(crate) struct Batcher {
    batch: SimDuration,
    /// The batch once the run is settled ([`World::next_leap`]); when it
    /// equals `batch`, one length throughout.
    soak_batch: SimDuration,
    /// No query, AnalysisRun or person can act on the run again
    /// ([`Batcher::settle`]), and the run ends at this instant.
    settled: Option<SimTime>,
    /// The start of the first batch not yet simulated.
    next: SimTime,
    /// The length of that batch: `batch`, or once settled, up to the next
    /// multiple of `soak_batch`.
    len: SimDuration,
    rng: ChaCha8Rng,
    seed: u64,
    pods: Vec<BatchPod>,
    /// Per pod, this batch: production arrivals and their expected rate.
    arrivals: Vec<(u64, f64)>,
    /// Per pod: the ingress side its arrivals last came from.
    arrival_side: Vec<usize>,
    /// Per endpoint of the Service being split: its share of this batch.
    dealt: Vec<u64>,
    /// Per version: the mix-weighted mean service time at no slow-down.
    mean_service: [f64; 2],
    /// Per version: the mix-weighted error probability, as the law that
    /// picks a batch's errors among its completions.
    errors: [Thinning; 2],
    /// Per version: the endpoint shares of successes and of errors.
    ok_split: [Vec<f64>; 2],
    err_split: [Vec<f64>; 2],
    /// Per version: response laws already computed, by (wait, slow-down);
    /// pods at the same load share them. At most [`LAWS_KEPT`], oldest out.
    laws: [Vec<Law>; 2],
    laws_next: [usize; 2],
    /// Laws shared with other runs, if any, and where each version's
    /// signature is in them.
    shared: Option<(SharedLaws, [usize; 2])>,
    /// Scratch for the draws at a scrape: per endpoint successes and
    /// errors, and one endpoint's bucket counts.
    scratch_ok: Vec<u64>,
    scratch_err: Vec<u64>,
    scratch_buckets: Vec<u64>,
    /// Per endpoint: the 504s among its successes.
    scratch_late: Vec<u64>,
    /// What the ingress counted that no pod answered.
    ingress: IngressBatch,
}

/// The ingress's share of the batched model: requests that ended at the
/// ingress without a pod's answer, per side (stable, canary), until the
/// next scrape draws their endpoints and replicas.
struct IngressBatch {
    /// Draws that only shape the ingress's series (skipped when the run
    /// does not record them).
    rng: ChaCha8Rng,
    /// Which requests reset by a kill fail: the clients see these, so they
    /// come from a stream of their own, the same whether or not the series
    /// are recorded.
    reset_rng: ChaCha8Rng,
    /// 502s: every try refused, or a non-idempotent request reset.
    bad_gateway: [u64; 2],
    /// 503s: no endpoint, or a full accept queue.
    unavailable: [u64; 2],
    /// Idempotent requests reset by a kill and passed to another pod
    /// (answered there), and their summed time.
    retried: [u64; 2],
    retried_secs: [f64; 2],
    /// The traffic mix, and its idempotent part (normalised).
    mix: Vec<f64>,
    idempotent_mix: Vec<f64>,
    /// The share of requests nginx may pass on once sent.
    p_idempotent: f64,
    /// Scratch: per endpoint, per histogram slot, per replica.
    per_endpoint: Vec<u64>,
    slots: [Vec<u64>; 4],
    per_replica: Vec<u64>,
}

/// Response laws of one (wait, slow-down), per endpoint.
type Law = ((Wait, f64), Arc<[Response]>);

/// Response laws kept per version.
const LAWS_KEPT: usize = 256;

/// Response laws shared by runs (the runs of a sweep, of a check, of `run
/// --runs`), so that each (wait, slow-down) is worked out once for all of
/// them rather than once a run. A law of a version is a pure function of
/// that version's latency distributions, the histogram bounds and its key,
/// so laws are kept under those distributions and bounds: runs of other
/// scenarios take only the laws of a version whose latencies they share,
/// and which run computed a law first changes no bit of any run. Nothing
/// iterates the map.
#[derive(Clone, Default)]
pub struct SharedLaws(Arc<Mutex<SharedInner>>);

impl SharedLaws {
    /// How many laws are shared.
    pub fn len(&self) -> usize {
        lock(self).laws.len()
    }

    /// Whether no law is shared yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many times a run took a law that another run had worked out.
    pub fn reused(&self) -> u64 {
        lock(self).reused
    }
}

#[derive(Default)]
struct SharedInner {
    /// The distributions and bounds of one version the laws are of, as
    /// bits ([`law_signature`]); a law's key names one by its index.
    signatures: Vec<Vec<u64>>,
    /// By signature and the bits of (wait shift, wait p, wait θ, slow-down).
    laws: HashMap<(usize, [u64; 4]), Arc<[Response]>>,
    /// How many times a run took a law another run had worked out.
    reused: u64,
}

/// Laws a [`SharedLaws`] holds at most (about 1 kB each for five endpoints
/// of a dozen buckets: some 16 MB), over all the runs that share it; once
/// it is full, runs work out the laws it lacks for themselves.
const SHARED_LAWS_KEPT: usize = 16_384;

/// The key of a law of signature `sig` in a [`SharedLaws`].
fn shared_key(sig: usize, wait: Wait, g: f64) -> (usize, [u64; 4]) {
    (
        sig,
        [
            wait.shift.to_bits(),
            wait.p.to_bits(),
            wait.theta.to_bits(),
            g.to_bits(),
        ],
    )
}

/// Locks shared laws. A run that panicked holding the lock left the map
/// whole: every entry is a finished law.
fn lock(s: &SharedLaws) -> std::sync::MutexGuard<'_, SharedInner> {
    s.0.lock().unwrap_or_else(|e| e.into_inner())
}

/// A run's response laws and those it shares with other runs.
struct Laws<'b> {
    kept: &'b mut [Vec<Law>; 2],
    next: &'b mut [usize; 2],
    /// The shared laws and the index of each version's signature in them.
    shared: Option<&'b (SharedLaws, [usize; 2])>,
}

impl<'b> Laws<'b> {
    /// The response laws of version `v` at this wait and slow-down, per
    /// endpoint: from this run's laws, else the shared ones, else worked
    /// out by `compute` (and kept in both).
    fn get(
        self,
        v: usize,
        wait: Wait,
        g: f64,
        compute: impl FnOnce() -> Vec<Response>,
    ) -> &'b Arc<[Response]> {
        let at = match self.kept[v].iter().position(|(k, _)| *k == (wait, g)) {
            Some(at) => at,
            None => {
                let shared = self.shared.map(|(s, sig)| (s, shared_key(sig[v], wait, g)));
                let found = shared.as_ref().and_then(|(s, key)| {
                    let mut inner = lock(s);
                    let found = inner.laws.get(key).cloned();
                    inner.reused += u64::from(found.is_some());
                    found
                });
                let r = match found {
                    Some(r) => r,
                    None => {
                        let r: Arc<[Response]> = compute().into();
                        if let Some((s, key)) = shared {
                            let mut inner = lock(s);
                            if inner.laws.len() < SHARED_LAWS_KEPT {
                                inner.laws.insert(key, Arc::clone(&r));
                            }
                        }
                        r
                    }
                };
                let laws = &mut self.kept[v];
                if laws.len() < LAWS_KEPT {
                    laws.push(((wait, g), r));
                    laws.len() - 1
                } else {
                    let at = self.next[v];
                    laws[at] = ((wait, g), r);
                    self.next[v] = (at + 1) % LAWS_KEPT;
                    at
                }
            }
        };
        &self.kept[v][at].1
    }
}

/// What version `v`'s response laws depend on besides their key: its
/// latency distribution per endpoint and the endpoints' bounds.
fn law_signature(sc: &Scenario, v: Version) -> Vec<u64> {
    // The endpoint count first: each distribution's kind gives its length
    // and each bound list is led by its own, so no two scenarios' signatures
    // read the same.
    let mut out = vec![sc.endpoints.len() as u64];
    for l in &sc.profile(v).latency {
        out.extend(l.signature());
    }
    for e in 0..sc.endpoints.len() {
        let bounds = sc.buckets.bounds(e);
        out.push(bounds.len() as u64);
        out.extend(bounds.iter().map(|b| b.to_bits()));
    }
    out
}

/// One pod's queue and what it served since the last scrape.
struct BatchPod {
    /// The pod's queue, errors and Locust latencies.
    rng: ChaCha8Rng,
    /// Its last batch was steady: idle, or below saturation with no
    /// slow-down, no kill, nothing refused or timed out and no Locust
    /// traffic (in a settled run's long batch it may then take one step,
    /// [`World::steps_pod`]).
    steady: bool,
    /// Its application counters' draws at a scrape, apart from `rng` so
    /// that what the pod does is the same whether or not its counters are
    /// ever drawn (a run that no query reads any more skips them).
    counters: ChaCha8Rng,
    incarnation: u32,
    /// Requests waiting or in service at the end of the last batch.
    backlog: f64,
    /// Locust requests this pod received in the current batch (per request).
    side: u64,
    /// Their rate, smoothed over [`SIDE_SMOOTHING_SECS`].
    side_rate: f64,
    /// The current wait and slow-down, for per-request Locust traffic.
    wait: Wait,
    slowdown: f64,
    /// What the last wait was computed from (saturated or not, and the two
    /// inputs), so that a pod at a steady load does not compute it again.
    wait_from: Option<(bool, f64, f64)>,
    /// The law of a saturated pod's service completions over a batch, kept
    /// while their mean does not move.
    served: PoissonLaw,
    /// The ingress side (0 stable, 1 canary) its production traffic came from.
    ingress_side: usize,
    /// What it answered since its application targets last read it.
    app: Served,
    /// What it answered since an ingress replica last read every pod (kept
    /// only when the run records the ingress's series). The two are drawn
    /// at their own instants and on their own streams, so the application's
    /// counters do not depend on whether the ingress's are kept.
    seen: Served,
    /// The response laws of the last (wait, slow-down), per endpoint.
    cached_for: Option<(Wait, f64)>,
    cache: Arc<[Response]>,
}

/// A pod's answers since one reader last drew them, as the counts and
/// response-law sums its counters are drawn from.
struct Served {
    /// Successes and errors; of the successes, those the ingress had given
    /// up on (504).
    ok: u64,
    err: u64,
    timed_out: u64,
    /// Σ completions × response laws, per endpoint (folded in from
    /// `pending` when the law changes, and at a draw).
    weight: f64,
    buckets: Vec<f64>,
    mean: Vec<f64>,
    variance: Vec<f64>,
    /// Completions served under the pod's cached laws and not yet folded
    /// into `buckets`, `mean` and `variance`: a pod at a steady load adds
    /// one number per batch instead of one per bucket.
    pending: f64,
}

impl Batcher {
    pub fn new(sc: &Scenario, seed: u64, batch: SimDuration, soak_batch: SimDuration) -> Batcher {
        let total: f64 = sc.traffic.mix.iter().sum();
        let mix: Vec<f64> = sc.traffic.mix.iter().map(|w| w / total).collect();
        let per_version = |v: Version| {
            let p = sc.profile(v);
            let es: f64 = mix.iter().zip(&p.latency).map(|(m, l)| m * l.mean()).sum();
            let pe: f64 = mix.iter().zip(&p.error_rate).map(|(m, e)| m * e).sum();
            let ok: Vec<f64> = mix
                .iter()
                .zip(&p.error_rate)
                .map(|(m, e)| m * (1.0 - e) / (1.0 - pe).max(f64::MIN_POSITIVE))
                .collect();
            let err: Vec<f64> = mix
                .iter()
                .zip(&p.error_rate)
                .map(|(m, e)| if pe > 0.0 { m * e / pe } else { 0.0 })
                .collect();
            (es, pe, ok, err)
        };
        let (s_es, s_pe, s_ok, s_err) = per_version(Version::Stable);
        let (c_es, c_pe, c_ok, c_err) = per_version(Version::Canary);
        Batcher {
            batch,
            soak_batch,
            settled: None,
            next: SimTime::ZERO,
            len: batch,
            rng: stream(seed, "batch-arrivals", 0),
            seed,
            pods: Vec::new(),
            arrivals: Vec::new(),
            arrival_side: Vec::new(),
            dealt: Vec::new(),
            mean_service: [s_es, c_es],
            errors: [Thinning::new(s_pe), Thinning::new(c_pe)],
            ok_split: [s_ok, c_ok],
            err_split: [s_err, c_err],
            laws: [Vec::new(), Vec::new()],
            laws_next: [0, 0],
            shared: None,
            scratch_ok: vec![0; sc.endpoints.len()],
            scratch_err: vec![0; sc.endpoints.len()],
            scratch_buckets: vec![0; sc.buckets.max_slots()],
            scratch_late: vec![0; sc.endpoints.len()],
            ingress: {
                let idem: Vec<f64> = mix
                    .iter()
                    .zip(&sc.endpoints)
                    .map(|(m, e)| {
                        if super::ingress::idempotent(&e.method) {
                            *m
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let p: f64 = idem.iter().sum();
                IngressBatch {
                    rng: stream(seed, "batch-ingress", 0),
                    reset_rng: stream(seed, "batch-ingress-reset", 0),
                    bad_gateway: [0; 2],
                    unavailable: [0; 2],
                    retried: [0; 2],
                    retried_secs: [0.0; 2],
                    idempotent_mix: idem
                        .iter()
                        .map(|x| if p > 0.0 { x / p } else { 0.0 })
                        .collect(),
                    mix: mix.clone(),
                    p_idempotent: p,
                    per_endpoint: vec![0; sc.endpoints.len()],
                    slots: std::array::from_fn(|_| Vec::new()),
                    per_replica: vec![0; sc.ingress.replicas as usize],
                }
            },
        }
    }

    /// Takes and gives response laws through `laws` from now on, each
    /// version's under its own latencies and bounds.
    pub fn share(&mut self, sc: &Scenario, laws: &SharedLaws) {
        let mut inner = lock(laws);
        let sig = [Version::Stable, Version::Canary].map(|v| {
            let signature = law_signature(sc, v);
            match inner.signatures.iter().position(|s| *s == signature) {
                Some(at) => at,
                None => {
                    inner.signatures.push(signature);
                    inner.signatures.len() - 1
                }
            }
        });
        drop(inner);
        self.shared = Some((laws.clone(), sig));
    }

    /// When the batch being simulated ends (where the engine's next
    /// `Batch` event falls).
    pub fn next_end(&self) -> SimTime {
        self.next + self.len
    }

    /// The run is settled and ends at `end`: from the next batch on, a
    /// batch lasts up to the next multiple of `soak_batch`, and only the
    /// pods that are not steady are stepped by `batch` inside it.
    pub fn settle(&mut self, end: SimTime) {
        self.settled = Some(end);
    }

    /// Draws the ingress's view of pod `id`'s answers (of version index
    /// `v`) since it was last drawn, on the ingress's own stream, into its
    /// `counters`: the same successes and errors, their endpoints and
    /// latencies drawn again from the same laws, the 504s among them placed
    /// in the slowest buckets.
    fn draw_seen(&mut self, id: usize, v: usize, sc: &Scenario, counters: &mut IngressCounters) {
        let layout = &sc.buckets;
        let (ok, err) = (&mut self.scratch_ok, &mut self.scratch_err);
        let bucket = &mut self.scratch_buckets;
        let late_split = &mut self.scratch_late;
        let timeout = sc.traffic.proxy_read_timeout.as_secs_f64();
        let Some(bp) = self.pods.get_mut(id) else {
            return;
        };
        let ing = &mut self.ingress;
        let seen = &mut bp.seen;
        if !seen.split(
            &bp.cache,
            layout,
            &mut ing.rng,
            &self.ok_split[v],
            &self.err_split[v],
            ok,
            err,
        ) {
            return;
        }
        // The 504s among the successes, by endpoint.
        hypergeometric_split(&mut ing.rng, seen.timed_out, ok, late_split);
        for e in 0..ok.len() {
            let count = ok[e] + err[e];
            if count == 0 {
                continue;
            }
            let (sum, bucket) = seen.draw_endpoint(&mut ing.rng, layout, e, count, bucket);
            let [all, ok_bins, err_bins, late_bins] = &mut ing.slots;
            for v in [&mut *all, &mut *ok_bins, &mut *err_bins, &mut *late_bins] {
                v.clear();
                v.resize(crate::model::histogram::DEFAULT_BUCKETS.len() + 1, 0);
            }
            let bounds = layout.bounds(e);
            for (i, k) in bucket.iter().enumerate() {
                all[ingress_slot(bounds.get(i).copied().unwrap_or(f64::INFINITY))] += k;
            }
            // Those the ingress had given up on are the slowest.
            let mut late = late_split[e];
            let late_slot = ingress_slot(timeout);
            for slot in (0..all.len()).rev() {
                let take = all[slot].min(late);
                all[slot] -= take;
                late -= take;
            }
            late_bins[late_slot] = late_split[e];
            // Which of the rest were errors.
            hypergeometric_split(&mut ing.rng, err[e], all, err_bins);
            for ((o, k), x) in ok_bins.iter_mut().zip(all.iter()).zip(err_bins.iter()) {
                *o = k - x;
            }
            let late_n = late_split[e];
            let answered = (count - late_n) as f64;
            let sum_ok = (sum - late_n as f64 * timeout).max(0.0);
            let share = |n: u64| {
                if answered > 0.0 {
                    sum_ok * n as f64 / answered
                } else {
                    0.0
                }
            };
            let (n_ok, n_err) = (ok[e] - late_n.min(ok[e]), err[e]);
            let side = bp.ingress_side;
            for (outcome, bins, sum) in [
                (Outcome::Ok, &*ok_bins, share(n_ok)),
                (Outcome::Error, &*err_bins, share(n_err)),
                (Outcome::Timeout, &*late_bins, late_n as f64 * timeout),
            ] {
                IngressBatch::record(
                    &mut ing.rng,
                    &mut ing.per_replica,
                    &mut ing.per_endpoint,
                    counters,
                    side,
                    e as u16,
                    outcome,
                    bins,
                    sum,
                    true,
                );
            }
        }
        seen.clear();
    }

    fn pod(&mut self, id: PodId, layout: &BucketLayout) -> &mut BatchPod {
        while self.pods.len() <= id as usize {
            let n = self.pods.len() as u64;
            self.pods.push(BatchPod {
                rng: stream(self.seed, "batch-pod", n),
                steady: false,
                counters: stream(self.seed, "batch-pod-counters", n),
                incarnation: 0,
                backlog: 0.0,
                side: 0,
                side_rate: 0.0,
                wait: Wait::NONE,
                slowdown: 1.0,
                wait_from: None,
                served: PoissonLaw::default(),
                ingress_side: 0,
                app: Served::new(layout),
                seen: Served::new(layout),
                cached_for: None,
                cache: Arc::from([]),
            });
        }
        &mut self.pods[id as usize]
    }
}

impl IngressBatch {
    /// `lost` requests of `side` were reset by a kill: the idempotent ones
    /// go to another pod (counted as answered there, in about `mean_secs`),
    /// the others get 502. Returns the 502s.
    fn reset(&mut self, lost: u64, side: usize, mean_secs: f64) -> u64 {
        let failed = binomial(&mut self.reset_rng, lost, 1.0 - self.p_idempotent);
        self.bad_gateway[side] += failed;
        self.retried[side] += lost - failed;
        self.retried_secs[side] += (lost - failed) as f64 * mean_secs;
        failed
    }

    /// Counts `bins` (one histogram of DefBuckets slots) of endpoint `e`
    /// with `outcome`, spread over the replicas at random (each request
    /// meets a replica at random).
    #[allow(clippy::too_many_arguments)]
    fn record(
        rng: &mut ChaCha8Rng,
        per_replica: &mut [u64],
        scratch: &mut Vec<u64>,
        counters: &mut IngressCounters,
        side: usize,
        e: u16,
        outcome: Outcome,
        bins: &[u64],
        sum: f64,
        upstream: bool,
    ) {
        let n: u64 = bins.iter().sum();
        if n == 0 {
            return;
        }
        let r = per_replica.len();
        if r == 1 {
            counters.record_many(0, side, e, outcome, n, bins, sum, upstream);
            return;
        }
        let equal = 1.0 / r as f64;
        let probs = vec![equal; r];
        // Per replica: its histogram, slot by slot.
        scratch.clear();
        scratch.resize(r * bins.len(), 0);
        for (slot, k) in bins.iter().enumerate() {
            per_replica.iter_mut().for_each(|x| *x = 0);
            multinomial(rng, *k, &probs, per_replica);
            for (i, x) in per_replica.iter().enumerate() {
                scratch[i * bins.len() + slot] = *x;
            }
        }
        for i in 0..r {
            let h = &scratch[i * bins.len()..(i + 1) * bins.len()];
            let m: u64 = h.iter().sum();
            let part = sum * m as f64 / n as f64;
            counters.record_many(i, side, e, outcome, m, h, part, upstream);
        }
    }
}

/// The DefBuckets slot a pod's bucket with upper bound `bound` falls in.
fn ingress_slot(bound: f64) -> usize {
    crate::model::histogram::DEFAULT_BUCKETS.partition_point(|b| *b < bound)
}

impl World<'_> {
    /// Simulates every batch that ends at or before `now`. Returns whether a
    /// pod was OOM-killed.
    pub fn advance_batches(&mut self, now: SimTime, q: &mut EventQueue<Event>) -> bool {
        // Most events fall inside a batch: nothing to do then.
        if self.batcher.as_ref().is_none_or(|b| b.next + b.len > now) {
            return false;
        }
        let Some(mut b) = self.batcher.take() else {
            return false;
        };
        let kills = self.oom_kills.len();
        while b.next + b.len <= now {
            let (t0, t1) = (b.next, b.next + b.len);
            self.leap(&mut b, t0, t1, now, q);
            b.next = t1;
            b.len = self.next_leap(&b);
        }
        self.batcher = Some(b);
        self.oom_kills.len() > kills
    }

    /// The length of the batch that starts at `b.next`: `batch`, or once
    /// the run is settled, up to the next multiple of `soak_batch` (adaptive
    /// tau-leaping: a long step where the rates cannot change much; a pod
    /// near an event that changes them is stepped by `batch` inside it,
    /// [`World::steps_pod`]). The batches that would end past the run's
    /// end stay at `batch`, so that no more of the run is left unsimulated
    /// at its end than before the decision (the part of a batch that the
    /// end cuts off).
    fn next_leap(&self, b: &Batcher) -> SimDuration {
        let Some(end) = b.settled else {
            return b.batch;
        };
        let span = SimDuration(b.soak_batch.0 - b.next.0 % b.soak_batch.0).max(b.batch);
        if b.next + span > end {
            return b.batch;
        }
        span
    }

    /// Whether pod `id`, given `arrivals` over the long batch `[t0, t1)`,
    /// must be stepped by `batch` inside it: its last batch was not steady
    /// (saturated, slowed by memory pressure, killed, refusing, timing out
    /// or serving Locust), or these arrivals could bring it to pressure or
    /// to its limit before `t1`.
    fn steps_pod(&self, b: &Batcher, id: PodId, arrivals: u64, t0: SimTime, t1: SimTime) -> bool {
        let (p, bp) = (&self.pods[id as usize], &b.pods[id as usize]);
        if !bp.steady || bp.incarnation != p.incarnation {
            return true;
        }
        let profile = self.sc.profile(p.version);
        let mem = &profile.memory;
        let reach = p.live_bytes(mem, t0)
            + mem.gc_amplitude
            + mem.leak_per_minute * (t1 - t0).as_secs_f64() / 60.0
            + mem.leak_per_request * arrivals as f64;
        reach > profile.pressure.start.min(1.0) * self.sc.pod.memory_limit
    }

    /// Pod `id` over the long batch `[t0, t1)` in steps of `batch`, its
    /// `arrivals` spread over them as Poisson arrivals at a steady rate are
    /// (uniformly: a multinomial of equal shares, on the pod's stream). If a
    /// step kills it, what the later steps would have brought it went on to
    /// the next pod of the rotation, as a refused request does: not a
    /// failure, and not counted in that pod's working set (at most one long
    /// batch of one pod's traffic, once a kill).
    #[allow(clippy::too_many_arguments)]
    fn step_pod(
        &mut self,
        b: &mut Batcher,
        id: PodId,
        arrivals: u64,
        rate: f64,
        t0: SimTime,
        t1: SimTime,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) {
        let steps = (t1 - t0).0 / b.batch.0;
        let incarnation = self.pods[id as usize].incarnation;
        let mut left = arrivals;
        for j in 0..steps {
            let got = if j + 1 == steps {
                left
            } else {
                binomial(&mut b.pods[id as usize].rng, left, 1.0 / (steps - j) as f64)
            };
            left -= got;
            let p = &self.pods[id as usize];
            if p.incarnation != incarnation || !p.can_serve() {
                return;
            }
            let s0 = t0 + SimDuration(b.batch.0 * j);
            self.leap_pod(b, id, got, rate, s0, s0 + b.batch, now, q);
        }
    }

    /// One batch, `[t0, t1)`, simulated at `now` (≥ `t1`).
    fn leap(
        &mut self,
        b: &mut Batcher,
        t0: SimTime,
        t1: SimTime,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) {
        let sc = self.sc;
        let tau = (t1 - t0).as_secs_f64();
        let expected = self.traffic.integral(t0, t1);
        let n = poisson(&mut b.rng, expected);
        // The ingress: the canary share, as the per-request ingress draws it.
        let canary_share = if self.basic_canary {
            let canary = self.services[CANARY_SVC].endpoints.len();
            let stable = self.services[STABLE_SVC].endpoints.len();
            match (canary, stable) {
                (0, _) => 0.0,
                (_, 0) => 1.0,
                (c, s) => c as f64 / (c + s) as f64,
            }
        } else {
            f64::from(self.weight.min(100)) / 100.0
        };
        let to_canary = binomial(&mut b.rng, n, canary_share);
        b.arrivals.clear();
        b.arrivals.resize(self.pods.len(), (0, 0.0));
        b.arrival_side.resize(self.pods.len(), 0);
        for (svc, count, share) in [
            (STABLE_SVC, n - to_canary, 1.0 - canary_share),
            (CANARY_SVC, to_canary, canary_share),
        ] {
            let version = self.services[svc].selects.index();
            let side = usize::from(!self.basic_canary && svc == CANARY_SVC);
            self.tallies[self.period][version].total += count;
            let k = self.services[svc].endpoints.len();
            if k == 0 {
                // 503: no endpoints.
                self.tallies[self.period][version].failed += count;
                b.ingress.unavailable[side] += count;
                continue;
            }
            self.deal(b, svc, count);
            let rate = expected * share / tau / k as f64;
            for i in 0..k {
                let mut got = b.dealt[i];
                if got == 0 {
                    continue;
                }
                let mut pod = self.services[svc].endpoints[i];
                let mut tries = 1;
                while !self.pods[pod as usize].can_serve() && tries < TRIES {
                    // Refused: the next pod of the rotation.
                    pod = self.services[svc].endpoints[(i + tries as usize) % k];
                    tries += 1;
                }
                if !self.pods[pod as usize].can_serve() {
                    // 502: every try refused.
                    self.tallies[self.period][version].failed += got;
                    b.ingress.bad_gateway[side] += got;
                    got = 0;
                }
                b.arrivals[pod as usize].0 += got;
                b.arrivals[pod as usize].1 += rate;
                if got > 0 {
                    b.arrival_side[pod as usize] = side;
                }
            }
        }
        if let Some(last) = self.pods.len().checked_sub(1) {
            b.pod(last as PodId, &sc.buckets);
        }
        for id in 0..self.pods.len() as PodId {
            let (arrivals, rate) = b.arrivals[id as usize];
            let side = b.arrival_side[id as usize];
            if arrivals > 0 && side != b.pods[id as usize].ingress_side {
                // What the ingress saw of this pod so far came through the
                // other side's Ingress: counted there before the switch.
                let v = self.pods[id as usize].version.index();
                b.draw_seen(id as usize, v, sc, &mut self.ingress);
                b.pods[id as usize].ingress_side = side;
            }
            let bp = &mut b.pods[id as usize];
            let p = &self.pods[id as usize];
            if bp.incarnation != p.incarnation || !p.can_serve() {
                // The container died (or went): what it held is lost.
                let lost = round_count(bp.backlog);
                bp.backlog = 0.0;
                bp.incarnation = p.incarnation;
                let side = bp.ingress_side;
                bp.app.clear();
                if lost > 0 {
                    let v = p.version.index();
                    let failed = b.ingress.reset(lost, side, b.mean_service[v]);
                    self.tallies[self.period][v].failed += failed;
                }
                if !p.can_serve() {
                    continue;
                }
            }
            if arrivals == 0 && bp.backlog <= 0.0 && bp.side == 0 && bp.side_rate < 1e-3 {
                bp.wait = Wait::NONE;
                bp.wait_from = None;
                bp.steady = true;
                continue;
            }
            if t1 - t0 > b.batch && self.steps_pod(b, id, arrivals, t0, t1) {
                self.step_pod(b, id, arrivals, rate, t0, t1, now, q);
            } else {
                self.leap_pod(b, id, arrivals, rate, t0, t1, now, q);
            }
        }
    }

    /// Deals `count` requests for Service `svc` (which has endpoints) into
    /// `b.dealt`, as the per-request ingress would: each lands on a worker
    /// rotation at random (a multinomial with equal shares, by conditional
    /// binomials), and each rotation deals its share in turn from its cursor
    /// (`World::pick_pod_ingress`).
    fn deal(&mut self, b: &mut Batcher, svc: usize, count: u64) {
        let service = &mut self.services[svc];
        let k = service.endpoints.len();
        b.dealt.clear();
        b.dealt.resize(k, 0);
        if k == 1 {
            b.dealt[0] = count;
            return;
        }
        let rotations = service.rotations.len();
        let mut left = count;
        // Every endpoint gets each rotation's whole rounds; the remainder
        // goes to the `extra` endpoints from the rotation's cursor on,
        // wrapping round.
        let mut rounds = 0;
        for (r, cursor) in service.rotations.iter_mut().enumerate() {
            let got = if r + 1 == rotations {
                left
            } else {
                binomial(&mut b.rng, left, 1.0 / (rotations - r) as f64)
            };
            left -= got;
            let (base, extra) = (got / k as u64, (got % k as u64) as usize);
            rounds += base;
            let start = *cursor % k;
            let (head, tail) = if start + extra <= k {
                (start..start + extra, 0..0)
            } else {
                (start..k, 0..start + extra - k)
            };
            b.dealt[head].iter_mut().for_each(|d| *d += 1);
            b.dealt[tail].iter_mut().for_each(|d| *d += 1);
            *cursor = cursor.wrapping_add(got as usize);
        }
        b.dealt.iter_mut().for_each(|d| *d += rounds);
    }

    /// One pod over one batch. Inlined into both callers: out of line,
    /// the call and its ten arguments cost 3 % of a run at 50 pods.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn leap_pod(
        &mut self,
        b: &mut Batcher,
        id: PodId,
        arrivals: u64,
        rate: f64,
        t0: SimTime,
        t1: SimTime,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) {
        let sc = self.sc;
        let limit = sc.pod.memory_limit;
        let tau = (t1 - t0).as_secs_f64();
        let p = &self.pods[id as usize];
        let v = p.version.index();
        let profile = sc.profile(p.version);
        let mem = &profile.memory;
        let c = p.workers;
        let bp = &mut b.pods[id as usize];
        let side = std::mem::take(&mut bp.side);
        // The slow-down at the batch's estimated midpoint.
        let live = p.live_bytes(mem, t0);
        let g = if live + mem.gc_amplitude + mem.leak_per_request * arrivals as f64
            <= profile.pressure.start * limit
        {
            1.0
        } else {
            let mid = t0 + SimDuration((t1 - t0).0 / 2);
            let ws = p.heap_bytes(mem, mid) + 0.5 * mem.leak_per_request * arrivals as f64;
            on_grid(profile.pressure.factor(ws / limit))
        };
        let alpha = (tau / SIDE_SMOOTHING_SECS).min(1.0);
        bp.side_rate += alpha * (side as f64 / tau - bp.side_rate);
        let es = b.mean_service[v] * g;
        let throughput = f64::from(c) / es;
        let offered = bp.backlog + arrivals as f64;
        let lambda = rate + bp.side_rate;
        // Completions: all of it while the queue is stable at this rate (the
        // stationary wait below accounts for its fluctuations), else what the
        // workers get through (departures of a busy M/M/c are Poisson(cμτ))
        // and the rest is carried as a backlog.
        let capacity = throughput * tau;
        let stable = bp.backlog < 1.0 && lambda * es < SATURATED * f64::from(c);
        let done = if stable {
            offered
        } else {
            let served = bp.served.sample(&mut bp.rng, capacity).saturating_sub(side);
            offered.min(served as f64)
        };
        let mut left = offered - done;
        let room = f64::from(sc.pod.accept_queue + c);
        let refused = if left > room {
            let r = round_count(left - room);
            left = room;
            r
        } else {
            0
        };
        let backlog_before = bp.backlog;
        bp.backlog = left;
        // The wait is a function of these two numbers: computed again only
        // when one of them moves.
        let from = if stable {
            (true, rate + bp.side_rate, es)
        } else {
            (false, backlog_before + left, throughput)
        };
        if bp.wait_from != Some(from) {
            bp.wait = if stable {
                // Rounded to the grid after the law, not before: near
                // saturation the wait is steep in the rate, while a 1 % step
                // in the wait's own terms moves the mean wait by at most
                // about 1 %.
                let w = Wait::mmc(from.1, c, es).unwrap_or(Wait::NONE);
                Wait {
                    shift: 0.0,
                    p: on_grid(w.p),
                    theta: on_grid(w.theta),
                }
            } else {
                // Saturated: the backlog ahead, then one more service slot.
                Wait {
                    shift: on_grid(0.5 * from.1) / throughput,
                    p: 1.0,
                    theta: throughput,
                }
            };
            bp.wait_from = Some(from);
        }
        let wait = bp.wait;
        bp.slowdown = g;
        let mut completions = round_count(done);
        // 504s: completions that waited past proxy_read_timeout at the ingress.
        let timeout = sc.traffic.proxy_read_timeout.as_secs_f64();
        let (w0, w1) = (backlog_before / throughput, left / throughput);
        let late = if w0.max(w1) <= timeout {
            0.0
        } else if w0.min(w1) > timeout {
            1.0
        } else {
            (w0.max(w1) - timeout) / (w0.max(w1) - w0.min(w1))
        };
        // The working set after these completions; the OOM kill comes inside
        // the batch if it crosses the limit.
        let mut kill_at = None;
        let leak = mem.leak_per_request;
        if live + mem.gc_amplitude + leak * completions as f64 > limit {
            let steps = 64u64;
            let span = (t1 - t0).0;
            for s in 1..=steps {
                let t = t0 + SimDuration(span * s / steps);
                let k = completions * s / steps;
                // The working set passes the limit when the heap does.
                let ws = p.heap_bytes(mem, t) + leak * k as f64;
                if ws > limit {
                    let k = (completions * s).div_ceil(steps);
                    kill_at = Some((t, k, ws));
                    break;
                }
            }
        }
        let mut lost = 0;
        if let Some((_, k, _)) = kill_at {
            lost = completions - k + round_count(left);
            completions = k;
            bp.backlog = 0.0;
        }
        let errors = b.errors[v].sample(&mut bp.rng, completions);
        let timed_out = round_count((completions - errors) as f64 * late);
        bp.steady = stable
            && g == 1.0
            && kill_at.is_none()
            && refused == 0
            && timed_out == 0
            && side == 0
            && bp.side_rate < 1e-3;
        let side = bp.ingress_side;
        // What the pod answered, for its counters: not kept once no query
        // will read them again.
        if !self.unwatched {
            if bp.cached_for != Some((wait, g)) {
                bp.app.fold(&bp.cache, &sc.buckets);
                bp.seen.fold(&bp.cache, &sc.buckets);
                let laws = Laws {
                    kept: &mut b.laws,
                    next: &mut b.laws_next,
                    shared: b.shared.as_ref(),
                };
                let r = laws.get(v, wait, g, || {
                    profile
                        .latency
                        .iter()
                        .enumerate()
                        .map(|(e, l)| Response::of(l, g, &wait, sc.buckets.bounds(e)))
                        .collect()
                });
                bp.cache = Arc::clone(r);
                bp.cached_for = Some((wait, g));
            }
            bp.app.add(completions - errors, errors, timed_out);
            if self.ingress.recording {
                bp.seen.add(completions - errors, errors, timed_out);
            }
        }
        // Refused at the full accept queue: 503. Reset by the kill: passed
        // on if idempotent, else 502.
        b.ingress.unavailable[side] += refused;
        let lost_failed = if lost > 0 {
            b.ingress.reset(lost, side, b.mean_service[v])
        } else {
            0
        };
        let tally = &mut self.tallies[self.period][v];
        tally.failed += errors + timed_out + refused + lost_failed;
        self.pods[id as usize].count_served(mem, t1, completions);
        if let Some((t, _, ws)) = kill_at {
            let peak = &mut self.peak_working_set[v];
            *peak = peak.max(ws);
            // The counters die with the container; the ingress has seen
            // what it answered.
            b.pods[id as usize].app.clear();
            self.oom_kill_at(t, now, id, q);
        }
    }

    /// Draws every pod's application counters (before a scrape of every
    /// target reads them).
    pub fn flush_all_pods(&mut self) {
        let pods = self.batcher.as_ref().map_or(0, |b| b.pods.len());
        for id in 0..pods {
            self.flush_pod(id);
        }
    }

    /// Draws the counters of `pods` (before their application targets'
    /// scrape reads them); a pod already drawn is left as it is.
    pub fn flush_pods(&mut self, pods: &[PodId]) {
        for &id in pods {
            self.flush_pod(id as usize);
        }
    }

    /// Draws pod `id`'s application counters from what it answered since
    /// its targets last read it.
    fn flush_pod(&mut self, id: usize) {
        let Some(b) = self.batcher.as_mut() else {
            return;
        };
        let layout = &self.sc.buckets;
        let (ok, err) = (&mut b.scratch_ok, &mut b.scratch_err);
        let bucket = &mut b.scratch_buckets;
        let Some(bp) = b.pods.get_mut(id) else {
            return;
        };
        let p = &mut self.pods[id];
        let v = p.version.index();
        let (rng, app) = (&mut bp.counters, &mut bp.app);
        if !app.split(
            &bp.cache,
            layout,
            rng,
            &b.ok_split[v],
            &b.err_split[v],
            ok,
            err,
        ) {
            return;
        }
        for e in 0..ok.len() {
            p.requests[e * CODE_SLOTS + CODE_OK] += ok[e];
            p.requests[e * CODE_SLOTS + CODE_ERROR] += err[e];
            let count = ok[e] + err[e];
            if count == 0 {
                continue;
            }
            let (sum, bucket) = app.draw_endpoint(rng, layout, e, count, bucket);
            for (acc, k) in p.buckets[layout.range(e)].iter_mut().zip(bucket.iter()) {
                *acc += k;
            }
            p.latency_sum[e] += sum;
        }
        app.clear();
    }

    /// Draws the ingress's counters before a replica's scrape: its view of
    /// every pod's answers ([`Batcher::draw_seen`]), and what ended at the
    /// ingress itself (502s, 503s, retried resets), spread over the
    /// endpoints by the mix (the idempotent ones for the retried). Nothing
    /// when the run does not record the ingress's series.
    pub fn flush_ingress(&mut self) {
        let Some(b) = self.batcher.as_mut() else {
            return;
        };
        let n_endpoints = self.sc.endpoints.len();
        let ing = &mut b.ingress;
        if !self.ingress.recording {
            ing.bad_gateway = [0; 2];
            ing.unavailable = [0; 2];
            ing.retried = [0; 2];
            ing.retried_secs = [0.0; 2];
            return;
        }
        for id in 0..b.pods.len() {
            let v = self.pods[id].version.index();
            b.draw_seen(id, v, self.sc, &mut self.ingress);
        }
        let ing = &mut b.ingress;
        for side in 0..2 {
            for (outcome, n, secs) in [
                (
                    Outcome::BadGateway,
                    std::mem::take(&mut ing.bad_gateway[side]),
                    0.0,
                ),
                (
                    Outcome::Unavailable,
                    std::mem::take(&mut ing.unavailable[side]),
                    0.0,
                ),
                (
                    Outcome::Ok,
                    std::mem::take(&mut ing.retried[side]),
                    std::mem::take(&mut ing.retried_secs[side]),
                ),
            ] {
                if n == 0 {
                    continue;
                }
                let mut per_endpoint = vec![0u64; n_endpoints];
                let mix = if outcome == Outcome::Ok {
                    &ing.idempotent_mix
                } else {
                    &ing.mix
                };
                multinomial(&mut ing.rng, n, mix, &mut per_endpoint);
                let mut bins = vec![0u64; crate::model::histogram::DEFAULT_BUCKETS.len() + 1];
                for (e, k) in per_endpoint.iter().enumerate() {
                    if *k == 0 {
                        continue;
                    }
                    bins.iter_mut().for_each(|x| *x = 0);
                    bins[ingress_slot(secs / n as f64)] = *k;
                    let sum = secs * *k as f64 / n as f64;
                    let mut scratch = Vec::new();
                    IngressBatch::record(
                        &mut ing.rng,
                        &mut ing.per_replica,
                        &mut scratch,
                        &mut self.ingress,
                        side,
                        e as u16,
                        outcome,
                        &bins,
                        sum,
                        false,
                    );
                }
            }
        }
    }

    /// A per-request (Locust) request's response time on a pod of the
    /// batched model: its wait from the pod's current queue, then service.
    pub fn batched_latency(&mut self, pod: PodId, endpoint: u16) -> f64 {
        let sc = self.sc;
        let dist = &sc.profile(self.pods[pod as usize].version).latency[endpoint as usize];
        let Some(b) = self.batcher.as_mut() else {
            return 0.0;
        };
        let bp = b.pod(pod, &sc.buckets);
        bp.side += 1;
        let w = bp.wait;
        let mut wait = w.shift;
        if w.p > 0.0 && unit(&mut bp.rng) < w.p {
            wait += Exp::new(w.theta).map_or(0.0, |d| d.sample(&mut bp.rng));
        }
        wait + bp.slowdown * dist.sample(&mut bp.rng)
    }
}

impl Served {
    fn new(layout: &BucketLayout) -> Served {
        Served {
            ok: 0,
            err: 0,
            timed_out: 0,
            weight: 0.0,
            buckets: vec![0.0; layout.total()],
            mean: vec![0.0; layout.endpoints()],
            variance: vec![0.0; layout.endpoints()],
            pending: 0.0,
        }
    }

    /// Completions of one batch, under the pod's cached laws.
    fn add(&mut self, ok: u64, err: u64, timed_out: u64) {
        self.ok += ok;
        self.err += err;
        self.timed_out += timed_out;
        let w = (ok + err) as f64;
        self.weight += w;
        self.pending += w;
    }

    /// Folds what is pending in, then draws the successes and the errors
    /// per endpoint (multinomials by the version's shares) into `ok` and
    /// `err`. False, drawing nothing, when nothing was answered.
    #[allow(clippy::too_many_arguments)]
    fn split(
        &mut self,
        cache: &[Response],
        layout: &BucketLayout,
        rng: &mut ChaCha8Rng,
        ok_split: &[f64],
        err_split: &[f64],
        ok: &mut [u64],
        err: &mut [u64],
    ) -> bool {
        if self.weight <= 0.0 {
            return false;
        }
        self.fold(cache, layout);
        ok.iter_mut().for_each(|x| *x = 0);
        err.iter_mut().for_each(|x| *x = 0);
        multinomial(rng, self.ok, ok_split, ok);
        multinomial(rng, self.err, err_split, err);
        true
    }

    /// Endpoint `e`'s `count` answers over its histogram buckets (a
    /// multinomial by the accumulated laws, into the front of `bucket`,
    /// returned) and their summed response time (normal, by the laws'
    /// means and variances).
    fn draw_endpoint<'a>(
        &mut self,
        rng: &mut ChaCha8Rng,
        layout: &BucketLayout,
        e: usize,
        count: u64,
        bucket: &'a mut [u64],
    ) -> (f64, &'a [u64]) {
        let probs = &mut self.buckets[layout.range(e)];
        probs.iter_mut().for_each(|x| *x /= self.weight);
        let bucket = &mut bucket[..probs.len()];
        bucket.iter_mut().for_each(|x| *x = 0);
        multinomial(rng, count, probs, bucket);
        let mean = self.mean[e] / self.weight;
        let sd = (self.variance[e] / self.weight * count as f64).sqrt();
        let noise = Normal::new(0.0, sd).map_or(0.0, |d| d.sample(rng));
        ((count as f64 * mean + noise).max(0.0), bucket)
    }

    /// Adds the completions pending under the pod's cached laws to the
    /// accumulators.
    fn fold(&mut self, cache: &[Response], layout: &BucketLayout) {
        let w = std::mem::take(&mut self.pending);
        if w <= 0.0 {
            return;
        }
        for (e, r) in cache.iter().enumerate() {
            for (acc, pr) in self.buckets[layout.range(e)].iter_mut().zip(&r.buckets) {
                *acc += w * pr;
            }
            self.mean[e] += w * r.mean;
            self.variance[e] += w * r.variance;
        }
    }

    fn clear(&mut self) {
        self.ok = 0;
        self.err = 0;
        self.pending = 0.0;
        self.timed_out = 0;
        self.weight = 0.0;
        self.buckets.iter_mut().for_each(|x| *x = 0.0);
        self.mean.iter_mut().for_each(|x| *x = 0.0);
        self.variance.iter_mut().for_each(|x| *x = 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scenario of one endpoint whose canary answers in `canary`.
    fn one_endpoint(canary: &str) -> Scenario {
        let text = format!(
            r#"
schema = 1
name = "laws"
[rollout]
name = "svc"
replicas = 1
[pod]
requests = {{ cpu = "1", memory = "512Mi" }}
limits = {{ cpu = "1", memory = "1Gi" }}
[[endpoints]]
name = "get"
method = "GET"
handler = "/"
[traffic]
rate = 20
mix = {{ get = 1 }}
[versions.stable]
latency = {{ get = {{ dist = "constant", value = "5ms" }} }}
[versions.canary]
latency = {{ get = {canary} }}
"#
        );
        crate::scenario::load_str("laws.toml", &text).expect("valid scenario")
    }

    /// A law is shared only under the latencies it is of: a run whose
    /// canary answers in an exponential time takes the stable version's
    /// laws of another run (the same constant latency) but not its canary's
    /// (a constant of the same mean, so the same wait and the same key).
    #[test]
    fn a_version_takes_shared_laws_only_of_its_own_latencies() {
        let same = one_endpoint(r#"{ dist = "constant", value = "5ms" }"#);
        let other = one_endpoint(r#"{ dist = "exponential", mean = "5ms" }"#);
        let laws = SharedLaws::default();
        let wait = Wait {
            shift: 0.0,
            p: 0.3,
            theta: 50.0,
        };
        let law = |sc: &Scenario, v: Version| -> Vec<Response> {
            let l = &sc.profile(v).latency[0];
            vec![Response::of(l, 1.0, &wait, sc.buckets.bounds(0))]
        };
        let take = |sc: &Scenario, v: Version| -> Vec<f64> {
            let mut b = Batcher::new(sc, 1, SimDuration::from_secs(1), SimDuration::from_secs(1));
            b.share(sc, &laws);
            let shared = b.shared.clone();
            let laws = Laws {
                kept: &mut b.laws,
                next: &mut b.laws_next,
                shared: shared.as_ref(),
            };
            laws.get(v.index(), wait, 1.0, || law(sc, v))[0]
                .buckets
                .clone()
        };
        let first = take(&same, Version::Canary);
        assert_eq!(first, law(&same, Version::Canary)[0].buckets);
        assert_eq!(laws.reused(), 0);
        let canary = take(&other, Version::Canary);
        assert_eq!(canary, law(&other, Version::Canary)[0].buckets);
        assert_ne!(canary, first, "the two canaries' laws differ");
        assert_eq!(
            laws.reused(),
            0,
            "the exponential canary worked its own out"
        );
        assert_eq!(take(&other, Version::Stable), first);
        assert_eq!(
            laws.reused(),
            1,
            "the stable version took the constant's law"
        );
    }

    /// The ingress's 504s are successes it gave up on: each answer is
    /// counted once, with one status, and an endpoint never gets more 504s
    /// than it had successes, even when every success timed out and an
    /// endpoint is rare.
    #[test]
    fn the_ingress_counts_each_answer_once_and_no_endpoint_more_504s_than_successes() {
        let text = r#"
schema = 1
name = "late"
[rollout]
name = "svc"
replicas = 1
[pod]
requests = { cpu = "1", memory = "512Mi" }
limits = { cpu = "1", memory = "1Gi" }
[[endpoints]]
name = "get"
method = "GET"
handler = "/"
[[endpoints]]
name = "put"
method = "PUT"
handler = "/p"
[[endpoints]]
name = "del"
method = "DELETE"
handler = "/d"
[traffic]
rate = 20
mix = { get = 0.98, put = 0.01, del = 0.01 }
[versions.stable]
latency = { get = { dist = "constant", value = "5ms" }, put = { dist = "constant", value = "5ms" }, del = { dist = "constant", value = "5ms" } }
errors = { get = 0.02, put = 0.02, del = 0.02 }
[versions.canary]
"#;
        let sc = crate::scenario::load_str("late.toml", text).expect("valid scenario");
        let layout = &sc.buckets;
        let mut b = Batcher::new(&sc, 7, SimDuration::from_secs(1), SimDuration::from_secs(1));
        let mut counters = IngressCounters::new(&sc, true);
        let rounds = 200u64;
        let (ok, err) = (1_000u64, 20u64);
        for _ in 0..rounds {
            let bp = b.pod(0, layout);
            bp.seen.add(ok, err, ok);
            // Every answer in the last (+Inf) bucket, 70 s each.
            for e in 0..layout.endpoints() {
                let r = layout.range(e);
                bp.seen.buckets[r.end - 1] = (ok + err) as f64;
                bp.seen.mean[e] = 70.0 * (ok + err) as f64;
            }
            bp.seen.pending = 0.0;
            b.draw_seen(0, 0, &sc, &mut counters);
        }
        let total = |o: Outcome| -> u64 { (0..3).map(|e| counters.counted(e, o)).sum() };
        assert_eq!(total(Outcome::Timeout), rounds * ok);
        assert_eq!(total(Outcome::Error), rounds * err);
        assert_eq!(total(Outcome::Ok), 0);
        let all: u64 = [Outcome::Ok, Outcome::Error, Outcome::Timeout]
            .into_iter()
            .map(total)
            .sum();
        assert_eq!(all, rounds * (ok + err));
        // The rare endpoints got their share of the 504s, not more.
        for e in 1..3 {
            let late = counters.counted(e, Outcome::Timeout);
            assert!(late > 0 && late < rounds * ok / 20, "{e}: {late}");
        }
    }
}
