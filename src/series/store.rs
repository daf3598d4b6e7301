//! The in-memory time-series store that the scraper fills and PromQL reads.
//!
//! Series are kept in creation order (so everything that iterates them is
//! deterministic) with an index from label set to [`SeriesId`]. Writers that
//! append often (the scraper) look a series up once and keep its id; the
//! per-sample path is then a `Vec::push`. An inverted index from each label
//! pair to its series ids lets PromQL selectors skip unrelated series; its
//! keys are the store's one copy of each label name and value, which a new
//! series' labels are made to share, so that keeping the series in
//! Prometheus's order compares most strings by address. Timestamps are Prometheus
//! milliseconds (`i64`), values `f64`; a staleness marker is the special NaN
//! [`STALE_NAN`], exactly as Prometheus stores it.
//!
//! A store may have a retention window ([`SeriesStore::set_retention`]): a
//! series then drops the samples older than the window behind its newest
//! one (always keeping that newest one) whenever its vector fills, in
//! amortised O(1) per push, so a long run holds O(series × window) samples
//! (at most about four windows a series) rather than all of them.
//!
//! A store may also record only some series ([`SeriesStore::record_only`]):
//! a label set the predicate refuses gets [`SeriesId::UNRECORDED`], and
//! samples pushed to it are dropped, so a writer keeps its one code path
//! while a run that no query could read a series from stores nothing of it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::{Arc, OnceLock};

use super::labels::Labels;

/// A multiply-rotate hasher (the Fx hash of rustc): a few instructions per
/// word where std's SipHash takes dozens. The maps it keys are never
/// iterated into output, so its order does not matter; nothing hashed here
/// is chosen by an adversary.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The bit pattern Prometheus uses for a staleness marker.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;
/// A staleness marker as a value.
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// Whether `v` is a staleness marker (and not just any NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One sample: a millisecond timestamp and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the epoch of the store (the start of the run).
    pub t: i64,
    /// The value; may be [`STALE_NAN`].
    pub v: f64,
}

/// One series: its labels and its samples in increasing time order.
#[derive(Debug, Clone)]
pub struct Series {
    /// The label set, metric name included.
    pub labels: Labels,
    /// Samples, strictly increasing in `t`.
    pub samples: Vec<Sample>,
    /// `labels` without the metadata labels, made at the first
    /// [`Series::labels_without_metadata`].
    without_metadata: OnceLock<Labels>,
}

impl PartialEq for Series {
    /// Labels and samples; whether the derived label set has been made yet
    /// says nothing about the series.
    fn eq(&self, other: &Series) -> bool {
        self.labels == other.labels && self.samples == other.samples
    }
}

impl Series {
    /// The labels without the metric name and the other metadata labels
    /// ([`Labels::without_metadata`]), as `rate` and the other functions
    /// of a range vector leave them. Made once and kept: every AnalysisRun
    /// of a run reads the same series again, and making the set anew each
    /// time copied its pairs.
    pub fn labels_without_metadata(&self) -> &Labels {
        self.without_metadata
            .get_or_init(|| self.labels.without_metadata())
    }

    /// The samples with `from < t <= to` (Prometheus 3.x range selection,
    /// left-open), staleness markers included.
    pub fn window(&self, from: i64, to: i64) -> &[Sample] {
        let lo = self.samples.partition_point(|s| s.t <= from);
        let hi = self.samples.partition_point(|s| s.t <= to);
        &self.samples[lo..hi.max(lo)]
    }

    /// The newest sample with `t <= at`, if any.
    pub fn last_at_or_before(&self, at: i64) -> Option<Sample> {
        let i = self.samples.partition_point(|s| s.t <= at);
        i.checked_sub(1).map(|i| self.samples[i])
    }
}

/// Index of a series in its store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId(pub u32);

impl SeriesId {
    /// The id of a series the store does not record
    /// ([`SeriesStore::record_only`]): pushes to it are dropped.
    pub const UNRECORDED: SeriesId = SeriesId(u32::MAX);
}

/// The test behind [`Recorded`]: a label set, and whether it is only part
/// of one.
type KeepFn = dyn Fn(&Labels, bool) -> bool + Send + Sync;

/// Which label sets a store records ([`SeriesStore::record_only`]).
#[derive(Clone)]
pub struct Recorded(Arc<KeepFn>);

impl Recorded {
    /// Records the label sets for which `keep(labels, false)` is true.
    /// `keep(labels, true)` asks about a part of a label set, the labels it
    /// lacks not known yet: whether some set holding it could be recorded.
    pub fn new(keep: impl Fn(&Labels, bool) -> bool + Send + Sync + 'static) -> Recorded {
        Recorded(Arc::new(keep))
    }

    /// Whether a series with these labels is recorded.
    pub fn keeps(&self, labels: &Labels) -> bool {
        (self.0)(labels, false)
    }

    /// Whether some series whose labels include these could be recorded.
    pub fn could_keep(&self, part: &Labels) -> bool {
        (self.0)(part, true)
    }
}

impl std::fmt::Debug for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorded(..)")
    }
}

/// The store: every series of one run (or of one promqltest block).
#[derive(Debug, Clone, Default)]
pub struct SeriesStore {
    series: Vec<Series>,
    /// Series by the hash of their labels: the first series with each hash
    /// (checked against its labels), so that a label set is kept once, in
    /// its series.
    index: FxMap<u64, SeriesId>,
    /// Later series whose labels share a hash with an earlier one.
    collisions: FxMap<u64, Vec<SeriesId>>,
    /// Series ids by label pair (metric name included), in creation order:
    /// the postings lists PromQL selectors intersect. Its keys are the
    /// store's one copy of each label name and value, which every series'
    /// labels share.
    postings: FxMap<Arc<str>, FxMap<Arc<str>, u32>>,
    /// The postings lists themselves, each pair's at the index `postings`
    /// holds for it.
    lists: Vec<Vec<SeriesId>>,
    /// The store's copy of a pair, and where its postings list is, by the
    /// addresses of the strings a writer handed in for it: a writer builds
    /// its series' labels from strings it shares between them (a target's
    /// own labels, the pairs of each exported series), so after the first
    /// series of a target its pairs are found by two addresses, without
    /// hashing or comparing the strings. The writer's strings are held
    /// here, so that no other string can take their addresses.
    by_address: FxMap<(usize, usize), AddressedPair>,
    /// Every series id in the order of its labels (Prometheus's order of
    /// series), kept as series are created.
    by_labels: Vec<SeriesId>,
    /// Each series' position in `by_labels`, by id: worked out again at the
    /// first selection after a series is created, so that selections sort
    /// by one integer instead of comparing label sets.
    rank: OnceLock<Vec<u32>>,
    /// Milliseconds of samples kept behind each series' newest; `None`: all.
    retention_ms: Option<i64>,
    /// The label sets recorded; `None`: all.
    recorded: Option<Recorded>,
}

impl SeriesStore {
    /// An empty store.
    pub fn new() -> SeriesStore {
        SeriesStore::default()
    }

    /// Keeps, from now on, the samples less than `ms` older than each
    /// series' newest one (and that newest one), and drops older ones when
    /// the series' vector fills (so up to about four windows stay); `None`
    /// keeps every sample.
    /// Queries that read no further back than `ms` before the newest sample
    /// give the same answers either way.
    pub fn set_retention(&mut self, ms: Option<i64>) {
        // Bounded so that `t - keep` cannot overflow for any simulated
        // time (a window of 2^52 ms is 142,000 years: keep everything).
        self.retention_ms = ms.filter(|&ms| ms < 1 << 52).map(|ms| ms.max(0));
    }

    /// The retention window, if any ([`SeriesStore::set_retention`]).
    pub fn retention(&self) -> Option<i64> {
        self.retention_ms
    }

    /// Records, from now on, only the series whose labels `recorded`
    /// accepts (`None`: every series). Any other label set gets
    /// [`SeriesId::UNRECORDED`] from [`SeriesStore::id`]; what is pushed to
    /// it is dropped. Queries that can select no refused label set give
    /// the same answers either way.
    pub fn record_only(&mut self, recorded: Option<Recorded>) {
        self.recorded = recorded;
    }

    /// Whether the store records a series with these labels
    /// ([`SeriesStore::record_only`]).
    pub fn records(&self, labels: &Labels) -> bool {
        self.recorded.as_ref().is_none_or(|r| r.keeps(labels))
    }

    /// Whether the store could record some series whose labels include
    /// `part` (the others not known yet).
    pub fn could_record(&self, part: &Labels) -> bool {
        self.recorded.as_ref().is_none_or(|r| r.could_keep(part))
    }

    /// The id of the series with these labels, created empty if new;
    /// [`SeriesId::UNRECORDED`] if the store does not record it
    /// ([`SeriesStore::record_only`]).
    pub fn id(&mut self, labels: Labels) -> SeriesId {
        if !self.records(&labels) {
            return SeriesId::UNRECORDED;
        }
        let hash = labels_hash(&labels);
        if let Some(id) = self.lookup(hash, &labels) {
            return id;
        }
        let id = SeriesId(self.series.len() as u32);
        let mut labels = labels;
        labels.share_strings(|name, value| {
            let key = (address(name), address(value));
            if let Some(known) = self.by_address.get(&key) {
                self.lists[known.list as usize].push(id);
                return (known.name.clone(), known.value.clone());
            }
            let values = self.postings.entry(name.clone());
            let shared_name = values.key().clone();
            let list = values.or_default().entry(value.clone());
            let shared_value = list.key().clone();
            let next = self.lists.len() as u32;
            let list = *list.or_insert(next);
            if list == next {
                self.lists.push(Vec::new());
            }
            self.lists[list as usize].push(id);
            self.by_address.insert(
                key,
                AddressedPair {
                    name: shared_name.clone(),
                    value: shared_value.clone(),
                    list,
                    _given: (name.clone(), value.clone()),
                },
            );
            (shared_name, shared_value)
        });
        let at = self
            .by_labels
            .partition_point(|s| self.series[s.0 as usize].labels < labels);
        self.by_labels.insert(at, id);
        self.rank.take();
        self.series.push(Series {
            labels,
            samples: Vec::new(),
            without_metadata: OnceLock::new(),
        });
        if let std::collections::hash_map::Entry::Vacant(e) = self.index.entry(hash) {
            e.insert(id);
        } else {
            self.collisions.entry(hash).or_default().push(id);
        }
        id
    }

    /// The series with exactly these labels, whose hash is `hash`.
    fn lookup(&self, hash: u64, labels: &Labels) -> Option<SeriesId> {
        let first = *self.index.get(&hash)?;
        if self.series[first.0 as usize].labels == *labels {
            return Some(first);
        }
        self.collisions
            .get(&hash)?
            .iter()
            .copied()
            .find(|id| self.series[id.0 as usize].labels == *labels)
    }

    /// Each series' position when all are sorted by labels, indexed by id:
    /// sorting ids by it sorts them as their label sets sort.
    pub fn label_order(&self) -> &[u32] {
        self.rank.get_or_init(|| {
            let mut rank = vec![0; self.by_labels.len()];
            for (at, id) in self.by_labels.iter().enumerate() {
                rank[id.0 as usize] = at as u32;
            }
            rank
        })
    }

    /// The ids of the series whose label `name` has value `value` (the
    /// metric name is label `__name__`), in increasing order.
    pub fn postings(&self, name: &str, value: &str) -> &[SeriesId] {
        self.postings
            .get(name)
            .and_then(|values| values.get(value))
            .map_or(&[], |&list| &self.lists[list as usize])
    }

    /// The id of an existing series.
    pub fn find(&self, labels: &Labels) -> Option<SeriesId> {
        self.lookup(labels_hash(labels), labels)
    }

    /// Appends a sample. A sample at the same time as the newest one replaces
    /// it; one older than the newest is inserted in order (used by test loaders,
    /// never by the scraper). Dropped for [`SeriesId::UNRECORDED`].
    #[inline]
    pub fn push(&mut self, id: SeriesId, t: i64, v: f64) {
        let keep = self.retention_ms;
        let Some(series) = self.series.get_mut(id.0 as usize) else {
            debug_assert_eq!(id, SeriesId::UNRECORDED, "a series of another store");
            return;
        };
        let samples = &mut series.samples;
        match samples.last() {
            // The scraper's case: a new newest sample.
            Some(last) if last.t < t => {
                if samples.len() == samples.capacity() {
                    make_room(samples, keep, t);
                }
                samples.push(Sample { t, v });
            }
            None => samples.push(Sample { t, v }),
            _ => insert_at(samples, t, v),
        }
    }

    /// Adds many samples, sorted by time, in one pass: as [`SeriesStore::push`]
    /// for each (a new sample at an existing time replaces it), but linear in
    /// the samples old and new rather than quadratic when the new ones fall
    /// before the newest (promqltest files loading a series twice).
    pub fn push_sorted(&mut self, id: SeriesId, new: &[Sample]) {
        let samples = &mut self.series[id.0 as usize].samples;
        if samples
            .last()
            .is_none_or(|last| new.first().is_none_or(|f| f.t > last.t))
        {
            for s in new {
                match samples.last_mut() {
                    Some(last) if last.t == s.t => last.v = s.v,
                    _ => samples.push(*s),
                }
            }
            return;
        }
        let old = std::mem::take(samples);
        samples.reserve(old.len() + new.len());
        let (mut i, mut j) = (0, 0);
        while i < old.len() || j < new.len() {
            let next = match (old.get(i), new.get(j)) {
                (Some(a), Some(b)) if a.t < b.t => {
                    i += 1;
                    *a
                }
                (Some(a), Some(b)) if a.t == b.t => {
                    i += 1;
                    j += 1;
                    *b
                }
                (_, Some(b)) => {
                    j += 1;
                    *b
                }
                (Some(a), None) => {
                    i += 1;
                    *a
                }
                (None, None) => break,
            };
            match samples.last_mut() {
                Some(last) if last.t == next.t => last.v = next.v,
                _ => samples.push(next),
            }
        }
    }

    /// Appends a staleness marker at `t` unless the series is already stale
    /// or empty (or not recorded).
    pub fn mark_stale(&mut self, id: SeriesId, t: i64) {
        let Some(series) = self.series.get(id.0 as usize) else {
            debug_assert_eq!(id, SeriesId::UNRECORDED, "a series of another store");
            return;
        };
        let samples = &series.samples;
        match samples.last() {
            Some(last) if !is_stale_nan(last.v) && last.t < t => self.push(id, t, STALE_NAN),
            _ => {}
        }
    }

    /// One series by id.
    pub fn get(&self, id: SeriesId) -> &Series {
        &self.series[id.0 as usize]
    }

    /// All series in creation order.
    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// The number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether the store holds no series.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Removes every series.
    pub fn clear(&mut self) {
        self.series.clear();
        self.index.clear();
        self.collisions.clear();
        self.postings.clear();
        self.lists.clear();
        self.by_address.clear();
        self.by_labels.clear();
        self.rank.take();
    }
}

/// A label pair of the store, found by the addresses of the strings a
/// writer gave for it ([`SeriesStore`]'s `by_address`).
#[derive(Debug, Clone)]
struct AddressedPair {
    /// The store's copy of the name.
    name: Arc<str>,
    /// The store's copy of the value.
    value: Arc<str>,
    /// Its postings list, in `lists`.
    list: u32,
    /// The writer's strings, held so that their addresses stay theirs.
    _given: (Arc<str>, Arc<str>),
}

/// Where a shared string lives: equal for clones of one `Arc`, distinct
/// for strings alive at the same time.
fn address(s: &Arc<str>) -> usize {
    Arc::as_ptr(s).cast::<u8>() as usize
}

/// The hash [`SeriesStore`]'s index keys a label set by.
fn labels_hash(labels: &Labels) -> u64 {
    let mut h = FxHasher::default();
    labels.hash(&mut h);
    h.finish()
}

/// A sample at `t` in a series whose newest sample is not older: replaces
/// the one at `t` or goes in its place (outside the scraper's path).
#[cold]
fn insert_at(samples: &mut Vec<Sample>, t: i64, v: f64) {
    let i = samples.partition_point(|s| s.t < t);
    if samples[i].t == t {
        samples[i].v = v;
    } else {
        samples.insert(i, Sample { t, v });
    }
}

/// Makes room for a sample at `t` in a series whose vector is full: drops
/// the samples more than `keep` behind `t` (the newest always stays), then
/// makes the capacity at least twice what is left. The next call is then
/// at least as many pushes away as samples were kept, so each is moved
/// O(1) times on average, and a series holds at most about four windows.
/// A push that finds room checks nothing else.
#[cold]
fn make_room(samples: &mut Vec<Sample>, keep: Option<i64>, t: i64) {
    if let Some(keep) = keep {
        let cut = samples
            .partition_point(|s| s.t < t - keep)
            .min(samples.len() - 1);
        samples.drain(..cut);
    }
    samples.reserve(samples.len().max(4));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sorted_batch_merges_like_single_pushes() {
        let batch = |ts: &[(i64, f64)]| -> Vec<Sample> {
            ts.iter().map(|&(t, v)| Sample { t, v }).collect()
        };
        let first = batch(&[(0, 1.0), (20, 2.0), (40, 3.0)]);
        let second = batch(&[(10, 9.0), (20, 8.0), (50, 7.0)]);
        let mut one = SeriesStore::new();
        let a = one.id(Labels::with_name("m", [("k", "v")]));
        let mut many = one.clone();
        for s in first.iter().chain(&second) {
            one.push(a, s.t, s.v);
        }
        many.push_sorted(a, &first);
        many.push_sorted(a, &second);
        assert_eq!(one.get(a).samples, many.get(a).samples);
        assert_eq!(
            many.get(a).samples,
            batch(&[(0, 1.0), (10, 9.0), (20, 8.0), (40, 3.0), (50, 7.0)])
        );
    }

    #[test]
    fn a_label_set_the_store_does_not_record_gets_no_series_and_its_samples_are_dropped() {
        let mut s = SeriesStore::new();
        s.record_only(Some(Recorded::new(|l: &Labels, part| {
            l.get("job").map_or(part, |j| j == "kept")
        })));
        let kept = s.id(Labels::with_name("up", [("job", "kept")]));
        let dropped = s.id(Labels::with_name("up", [("job", "other")]));
        assert_eq!(dropped, SeriesId::UNRECORDED);
        assert_ne!(kept, SeriesId::UNRECORDED);
        s.push(kept, 1_000, 1.0);
        s.push(dropped, 1_000, 1.0);
        s.mark_stale(dropped, 2_000);
        assert_eq!(s.len(), 1);
        assert_eq!(s.get(kept).samples.len(), 1);
        assert!(s.postings("job", "other").is_empty());
        assert!(s.could_record(&Labels::with_name("up", [("pod", "p")])));
        assert!(!s.could_record(&Labels::with_name("up", [("job", "other")])));
        s.record_only(None);
        assert_ne!(
            s.id(Labels::with_name("up", [("job", "other")])),
            SeriesId::UNRECORDED
        );
    }

    #[test]
    fn retention_keeps_the_window_behind_the_newest_sample() {
        let mut full = SeriesStore::new();
        let a = full.id(Labels::with_name("m", [("k", "v")]));
        let mut kept = full.clone();
        kept.set_retention(Some(60_000));
        // Every 15 s, then a gap of a day, then every 15 s again.
        let times = (0..1_000i64)
            .map(|i| i * 15_000)
            .chain((0..100).map(|i| 99_000_000 + i * 15_000));
        for newest in times {
            full.push(a, newest, newest as f64);
            kept.push(a, newest, newest as f64);
            let s = &kept.get(a).samples;
            // A window is 5 samples here: never more than about four.
            assert!(s.len() <= 4 * 5 + 4, "{} samples at {newest}", s.len());
            for from in [newest - 60_000, newest - 45_000, newest - 1] {
                assert_eq!(
                    full.get(a).window(from, newest),
                    kept.get(a).window(from, newest)
                );
            }
        }
        assert!(kept.get(a).samples.len() < 100);
        // The window is whole after the gap.
        let newest = 99_000_000 + 99 * 15_000;
        assert!(kept.get(a).samples[0].t <= newest - 60_000);
        kept.mark_stale(a, newest + 1);
        assert!(is_stale_nan(kept.get(a).samples.last().unwrap().v));
    }

    #[test]
    fn window_is_left_open_right_closed() {
        let mut store = SeriesStore::new();
        let id = store.id(Labels::with_name("m", [("a", "1")]));
        for t in [0, 15_000, 30_000, 45_000] {
            store.push(id, t, t as f64);
        }
        let w: Vec<i64> = store
            .get(id)
            .window(15_000, 45_000)
            .iter()
            .map(|s| s.t)
            .collect();
        assert_eq!(w, [30_000, 45_000]);
        assert_eq!(store.get(id).last_at_or_before(44_999).unwrap().t, 30_000);
    }

    #[test]
    fn out_of_order_pushes_stay_sorted_and_stale_marks_once() {
        let mut store = SeriesStore::new();
        let id = store.id(Labels::with_name("m", Vec::<(String, String)>::new()));
        store.push(id, 20, 2.0);
        store.push(id, 10, 1.0);
        store.push(id, 20, 3.0);
        store.mark_stale(id, 30);
        store.mark_stale(id, 40);
        let s = &store.get(id).samples;
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].t, s[1].v), (10, 3.0));
        assert!(is_stale_nan(s[2].v));
        assert_eq!(
            store.id(Labels::with_name("m", Vec::<(String, String)>::new())),
            id
        );
        assert_eq!(store.postings("__name__", "m"), &[id]);
        assert!(store.postings("__name__", "other").is_empty());
    }

    #[test]
    fn label_sets_sharing_a_hash_are_still_distinct_series() {
        // A series is its label set (Prometheus: labels.Labels is the
        // identity, tsdb's stripeSeries resolves hash collisions by
        // comparing labels); the index keys by hash and must not merge two
        // sets that collide. Force the collision path by hand.
        let mut store = SeriesStore::new();
        let a = Labels::with_name("m", [("k", "a")]);
        let b = Labels::with_name("m", [("k", "b")]);
        let ia = store.id(a.clone());
        // Make b's hash look taken by a: a lookup by b's hash finds a first.
        let hb = labels_hash(&b);
        store.index.insert(hb, ia);
        let ib = store.id(b.clone());
        assert_ne!(ia, ib);
        assert_eq!(store.id(b.clone()), ib);
        assert_eq!(store.find(&b), Some(ib));
        assert_eq!(store.id(a.clone()), ia);
        assert_eq!(store.find(&Labels::with_name("m", [("k", "c")])), None);
    }

    #[test]
    fn label_order_sorts_ids_as_their_label_sets_sort() {
        // Prometheus returns a selection's series sorted by labels
        // (storage.SeriesSet from tsdb's sorted postings); selectors sort ids
        // by this order instead of comparing label sets.
        let mut store = SeriesStore::new();
        let names = ["b", "a", "c", "ab", "a", "ba", "", "zz", "b"];
        let mut ids = Vec::new();
        for (i, n) in names.iter().enumerate() {
            ids.push(store.id(Labels::with_name("m", [("k", *n), ("i", &i.to_string())])));
            // Interleave reads with creations: the order follows each new series.
            let order = store.label_order().to_vec();
            let mut by_rank = ids.clone();
            by_rank.sort_by_key(|id| order[id.0 as usize]);
            let mut by_labels = ids.clone();
            by_labels.sort_by(|a, b| store.get(*a).labels.cmp(&store.get(*b).labels));
            assert_eq!(by_rank, by_labels);
        }
        store.clear();
        assert!(store.label_order().is_empty());
    }

    #[test]
    fn a_pair_met_again_by_its_strings_addresses_joins_its_postings_list() {
        // A target's series share its label strings: the store finds their
        // pairs by address. Equal strings at other addresses are the same
        // pair all the same; and pairs made of new strings, freed as soon
        // as the store has its copy, each get their own list (were a freed
        // address lent to another string, one would join a wrong list).
        use crate::series::labels::METRIC_NAME;
        let mut store = SeriesStore::new();
        let target = Labels::new([("job", "app"), ("pod", "p1")]);
        let a = store.id(target.with_pairs(&[(METRIC_NAME, "m1")]));
        let b = store.id(target.with_pairs(&[(METRIC_NAME, "m2")]));
        let c = store.id(Labels::with_name("m3", [("job", "app"), ("pod", "p1")]));
        assert_eq!(store.postings("pod", "p1"), &[a, b, c]);
        assert_eq!(store.postings("job", "app"), &[a, b, c]);
        assert_eq!(store.postings(METRIC_NAME, "m2"), &[b]);
        assert_eq!(
            store.find(&target.with_pairs(&[(METRIC_NAME, "m2")])),
            Some(b)
        );
        drop(target);
        for i in 0..200 {
            let value = format!("v{i}");
            let id = store.id(Labels::with_name("m", [("job", value.as_str())]));
            assert_eq!(store.postings("job", &value), &[id], "{value}");
        }
        assert_eq!(store.postings(METRIC_NAME, "m").len(), 200);
        assert_eq!(store.postings("pod", "p1"), &[a, b, c]);
    }
}
