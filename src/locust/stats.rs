//! Locust's request statistics (`locust/stats.py` `RequestStats`, `StatsEntry`,
//! `StatsError`, as of Locust 2.47), rebuilt on simulated time.
//!
//! In: one call per finished request (its entry, latency, status, size and
//! completion time) from the state machine in `run.rs`. Out: the numbers the
//! CSV writers (`csv.rs`) and the Pushgateway series (`push.rs`) print.
//!
//! The rules carried over from Locust:
//! - response times are milliseconds; each is also counted in a bucket rounded
//!   to about two significant digits (147 → 150, 3432 → 3400, 58760 → 59000,
//!   ties to even as Python's `round`), and medians and percentiles are read
//!   from those buckets;
//! - every request is counted, a failed one also as a failure, and failures
//!   are grouped by (method, name, error text);
//! - "total" rates are requests over the span from the start to the last
//!   request; "current" rates average the per-second counts of the ten whole
//!   seconds that end two seconds before the last request;
//! - "current" percentiles diff the bucket counts against a snapshot from about
//!   ten seconds ago (Locust's response-time cache).
//!
//! Unix seconds are the simulated time plus [`UNIX_EPOCH_OFFSET_S`]; "total"
//! rates divide by the difference of two such floats, as Locust does.

use std::collections::{BTreeMap, VecDeque};

use super::pyfmt::{PyNum, str_repr};
use super::sha256::sha256_hex;
use crate::sim::SimTime;
use crate::sim::time::MICROS_PER_SEC;

/// The Unix time of simulated time zero: 2026-01-01T00:00:00Z. Every Locust
/// timestamp (history rows, failures' first and last seen) is this plus the
/// simulated time, so output is the same on every run and machine.
pub const UNIX_EPOCH_OFFSET_S: i64 = 1_767_225_600;

/// Locust's `PERCENTILES_TO_REPORT`, the percentile columns of the CSV files.
pub const PERCENTILES_TO_REPORT: [f64; 11] = [
    0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];

/// Locust's `CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW`, in seconds.
const CURRENT_WINDOW_S: u64 = 10;
/// How many snapshots Locust's response-time cache keeps.
const CACHE_SIZE: usize = CURRENT_WINDOW_S as usize + 10;

/// Locust's `bucket_response_time` for a latency in microseconds: the bucket
/// key in milliseconds. Below 100 ms it rounds to 1 ms, below 1 s to 10 ms,
/// below 10 s to 100 ms, above to 1 s; exact ties go to the even key, as
/// Python's `round` does (a latency of whole microseconds is an exact tie
/// exactly when its millisecond float is one, so integers give the same keys).
pub fn bucket_response_time_us(us: u64) -> u64 {
    let unit_us = if us < 100_000 {
        1_000
    } else if us < 1_000_000 {
        10_000
    } else if us < 10_000_000 {
        100_000
    } else {
        1_000_000
    };
    let q = us / unit_us;
    let r = us % unit_us;
    let half = unit_us / 2;
    let rounded = if r > half || (r == half && q % 2 == 1) {
        q + 1
    } else {
        q
    };
    rounded * (unit_us / 1_000)
}

/// A latency in microseconds as Locust's float milliseconds.
pub fn ms_of_us(us: u64) -> f64 {
    us as f64 / 1_000.0
}

/// Dense slots for bucket keys below 10 s: 0..=99 ms by 1, 100..=990 by 10,
/// 1000..=9900 by 100. Keys of 10 s and more go to a map.
const DENSE_SLOTS: usize = 280;

fn slot_of(key: u64) -> Option<usize> {
    match key {
        0..=99 => Some(key as usize),
        100..=999 => Some(100 + (key as usize - 100) / 10),
        1000..=9999 => Some(190 + (key as usize - 1000) / 100),
        _ => None,
    }
}

fn key_of(slot: usize) -> u64 {
    match slot {
        0..=99 => slot as u64,
        100..=189 => 100 + (slot as u64 - 100) * 10,
        _ => 1000 + (slot as u64 - 190) * 100,
    }
}

/// Counts per response-time bucket (Locust's `response_times` dict).
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    dense: Vec<u64>,
    sparse: BTreeMap<u64, u64>,
}

impl Histogram {
    fn add(&mut self, key: u64) {
        match slot_of(key) {
            Some(slot) => {
                if self.dense.is_empty() {
                    self.dense = vec![0; DENSE_SLOTS];
                }
                self.dense[slot] += 1;
            }
            None => *self.sparse.entry(key).or_insert(0) += 1,
        }
    }

    /// Whether no bucket has a count.
    pub fn is_empty(&self) -> bool {
        self.dense.iter().all(|c| *c == 0) && self.sparse.is_empty()
    }

    /// `(key_ms, count)` in ascending key order, non-zero counts only.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, u64)> + '_ {
        let dense = self
            .dense
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(s, c)| (key_of(s), *c));
        dense.chain(self.sparse.iter().map(|(k, c)| (*k, *c)))
    }
}

/// Locust's `calculate_response_time_percentile`: walking the buckets from
/// the slowest, the first key at which at most `int(n·p)` requests remain.
pub fn percentile_of(buckets: impl DoubleEndedIterator<Item = (u64, u64)>, n: u64, p: f64) -> u64 {
    let wanted = (n as f64 * p) as u64; // Python's int() truncates, as `as` does
    let mut processed = 0u64;
    for (key, count) in buckets.rev() {
        processed += count;
        if n.saturating_sub(processed) <= wanted {
            return key;
        }
    }
    0
}

/// [`percentile_of`] for several shares in one walk from the slowest
/// bucket (the CSV rows ask for eleven at once): each share gets the key
/// it alone would get, since the remaining count only falls as the walk
/// goes, so a share whose allowance is met at a bucket has every larger
/// allowance met there or before.
pub fn percentiles_of<const N: usize>(
    buckets: impl DoubleEndedIterator<Item = (u64, u64)>,
    n: u64,
    ps: &[f64; N],
) -> [u64; N] {
    let wanted: [u64; N] = ps.map(|p| (n as f64 * p) as u64);
    let mut order: [usize; N] = std::array::from_fn(|i| i);
    order.sort_by(|a, b| wanted[*b].cmp(&wanted[*a]));
    let mut out = [0u64; N];
    let mut next = 0;
    let mut processed = 0u64;
    for (key, count) in buckets.rev() {
        processed += count;
        while next < N && n.saturating_sub(processed) <= wanted[order[next]] {
            out[order[next]] = key;
            next += 1;
        }
        if next == N {
            break;
        }
    }
    out
}

/// One row of statistics: a (method, name) pair, or the `Aggregated` total.
#[derive(Debug, Clone)]
pub struct StatsEntry {
    /// The grouping name (`Aggregated` for the total).
    pub name: String,
    /// The method (`""` for the total).
    pub method: &'static str,
    /// Requests finished (failed ones included).
    pub num_requests: u64,
    /// Requests that failed.
    pub num_failures: u64,
    total_response_time_ms: f64,
    min_response_time_ms: Option<f64>,
    /// `None` while Locust's `max_response_time` is still its initial `int` 0.
    max_response_time_ms: Option<f64>,
    buckets: Histogram,
    total_content_length: u64,
    /// Requests per second of the run, indexed from the run's start second.
    reqs_per_sec: Vec<u32>,
    fails_per_sec: Vec<u32>,
}

/// The run-wide times an entry's rates are measured against.
#[derive(Debug, Clone, Copy)]
pub struct StatsClock {
    start: SimTime,
    last_request: Option<SimTime>,
}

impl StatsClock {
    fn start_sec(self) -> u64 {
        self.start.0 / MICROS_PER_SEC
    }
}

fn bump(v: &mut Vec<u32>, idx: usize) {
    if v.len() <= idx {
        v.resize(idx + 1, 0);
    }
    v[idx] += 1;
}

impl StatsEntry {
    fn new(name: &str, method: &'static str) -> StatsEntry {
        StatsEntry {
            name: name.to_string(),
            method,
            num_requests: 0,
            num_failures: 0,
            total_response_time_ms: 0.0,
            min_response_time_ms: None,
            max_response_time_ms: None,
            buckets: Histogram::default(),
            total_content_length: 0,
            reqs_per_sec: Vec::new(),
            fails_per_sec: Vec::new(),
        }
    }

    fn log(&mut self, latency_us: u64, content_length: u64, sec_idx: usize) {
        self.num_requests += 1;
        bump(&mut self.reqs_per_sec, sec_idx);
        let ms = ms_of_us(latency_us);
        self.total_response_time_ms += ms;
        self.min_response_time_ms = Some(match self.min_response_time_ms {
            None => ms,
            Some(m) => m.min(ms),
        });
        if ms > self.max_response_time_ms.unwrap_or(0.0) {
            self.max_response_time_ms = Some(ms);
        }
        self.buckets.add(bucket_response_time_us(latency_us));
        self.total_content_length += content_length;
    }

    fn log_error(&mut self, sec_idx: usize) {
        self.num_failures += 1;
        bump(&mut self.fails_per_sec, sec_idx);
    }

    /// Failures over requests (1.0 with failures but no requests, else 0.0).
    pub fn fail_ratio(&self) -> f64 {
        if self.num_requests == 0 {
            if self.num_failures > 0 { 1.0 } else { 0.0 }
        } else {
            self.num_failures as f64 / self.num_requests as f64
        }
    }

    /// Mean response time in ms (0.0 without requests).
    pub fn avg_response_time(&self) -> f64 {
        if self.num_requests == 0 {
            0.0
        } else {
            self.total_response_time_ms / self.num_requests as f64
        }
    }

    /// The CSV's `Min Response Time` (`min_response_time or 0`).
    pub fn min_response_time(&self) -> PyNum {
        match self.min_response_time_ms {
            Some(m) if m != 0.0 => PyNum::Float(m),
            _ => PyNum::Int(0),
        }
    }

    /// The CSV's `Max Response Time`.
    pub fn max_response_time(&self) -> PyNum {
        match self.max_response_time_ms {
            Some(m) => PyNum::Float(m),
            None => PyNum::Int(0),
        }
    }

    /// The median: the 50th percentile of the buckets (Locust 2.47; older
    /// releases walked the buckets from below), kept within the exact min and max.
    pub fn median_response_time(&self) -> PyNum {
        if self.buckets.is_empty() {
            return PyNum::Int(0);
        }
        let median = self.percentile(0.5);
        let max = self.max_response_time();
        if median as f64 > max.as_f64() {
            return max;
        }
        match self.min_response_time_ms {
            Some(min) if (median as f64) < min => PyNum::Float(min),
            _ => PyNum::Int(median as i64),
        }
    }

    /// The response time that a share `p` of requests finished within (from buckets).
    pub fn percentile(&self, p: f64) -> u64 {
        percentile_of(self.buckets.iter(), self.num_requests, p)
    }

    /// [`StatsEntry::percentile`] of each share, in one walk.
    pub fn percentiles<const N: usize>(&self, ps: &[f64; N]) -> [u64; N] {
        percentiles_of(self.buckets.iter(), self.num_requests, ps)
    }

    /// Mean response body size (`int` 0 without requests, as Locust).
    pub fn avg_content_length(&self) -> PyNum {
        if self.num_requests == 0 {
            PyNum::Int(0)
        } else {
            PyNum::Float(self.total_content_length as f64 / self.num_requests as f64)
        }
    }

    /// Requests per second over the whole run so far.
    pub fn total_rps(&self, clock: StatsClock) -> f64 {
        total_rate(self.num_requests, clock)
    }

    /// Failures per second over the whole run so far.
    pub fn total_fail_per_sec(&self, clock: StatsClock) -> f64 {
        total_rate(self.num_failures, clock)
    }

    /// Requests per second over Locust's current window.
    pub fn current_rps(&self, clock: StatsClock) -> f64 {
        current_rate(&self.reqs_per_sec, clock)
    }

    /// Failures per second over Locust's current window.
    pub fn current_fail_per_sec(&self, clock: StatsClock) -> f64 {
        current_rate(&self.fails_per_sec, clock)
    }
}

/// The Unix time of `t` as Locust's `time.time()` float would read it.
pub fn unix_time_f64(t: SimTime) -> f64 {
    UNIX_EPOCH_OFFSET_S as f64 + t.0 as f64 / MICROS_PER_SEC as f64
}

/// `count / (last_request_timestamp − start_time)`, both Unix-time floats,
/// subtracted as Locust subtracts them (so the last digit matches too).
fn total_rate(count: u64, clock: StatsClock) -> f64 {
    match clock.last_request {
        Some(last) => {
            let span = unix_time_f64(last) - unix_time_f64(clock.start);
            if span == 0.0 {
                0.0
            } else {
                count as f64 / span
            }
        }
        None => 0.0,
    }
}

/// The mean of the per-second counts for whole seconds in
/// `[max(last−12, start), last−2)`, Locust's `current_rps`.
fn current_rate(per_sec: &[u32], clock: StatsClock) -> f64 {
    let Some(last) = clock.last_request else {
        return 0.0;
    };
    let start = clock.start_sec() as i64;
    let last = (last.0 / MICROS_PER_SEC) as i64;
    let lo = (last - 12).max(start);
    let hi = last - 2;
    if hi <= lo {
        return 0.0;
    }
    let sum: f64 = (lo..hi)
        .map(|t| per_sec.get((t - start) as usize).copied().unwrap_or(0) as f64)
        .sum();
    sum / (hi - lo) as f64
}

/// One failure group: a (method, name, error) and how often it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsError {
    /// The method.
    pub method: &'static str,
    /// The grouping name.
    pub name: String,
    /// The error as Locust prints it (`repr` of the exception).
    pub error: String,
    /// How many requests failed this way.
    pub occurrences: u64,
    /// When it first happened.
    pub first_seen: SimTime,
    /// When it last happened.
    pub last_seen: SimTime,
    status: u16,
    entry: usize,
}

impl StatsError {
    /// Locust's key for this failure: the hex SHA-256 of
    /// `"{method}.{name}.{repr(error)}"`; failure rows are sorted by it.
    pub fn key(&self) -> String {
        sha256_hex(format!("{}.{}.{}", self.method, self.name, str_repr(&self.error)).as_bytes())
    }
}

/// The standard reason phrase of an HTTP status, as servers send it.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// The error text Locust records for a failed request of `name` with this
/// status: `requests`' `HTTPError` for 4xx/5xx (its URL replaced by the name,
/// as Locust does for grouping), and the connection error underneath for 0
/// ("no response": nothing listening, as when a pod has just died).
pub fn error_text(status: u16, name: &str) -> String {
    match status {
        0 => "ConnectionRefusedError(111, 'Connection refused')".to_string(),
        400..=499 => http_error(status, "Client", name),
        _ => http_error(status, "Server", name),
    }
}

fn http_error(status: u16, kind: &str, name: &str) -> String {
    let msg = format!(
        "{status} {kind} Error: {} for url: {name}",
        reason_phrase(status)
    );
    format!("HTTPError({})", str_repr(&msg))
}

/// Locust's response-time cache, for the total only: which seconds have a
/// snapshot, and the bucket of every request since the oldest one.
#[derive(Debug, Clone, Default)]
struct RecentTimes {
    /// (second, number of requests logged when the snapshot was taken).
    snapshots: VecDeque<(u64, u64)>,
    buckets: VecDeque<u64>,
    base_seq: u64,
    next_seq: u64,
}

impl RecentTimes {
    fn snapshot(&mut self, sec: u64) {
        match self.snapshots.back_mut() {
            Some(back) if back.0 == sec => back.1 = self.next_seq,
            _ => self.snapshots.push_back((sec, self.next_seq)),
        }
        while self.snapshots.len() > CACHE_SIZE {
            self.snapshots.pop_front();
        }
        let keep_from = self.snapshots.front().map_or(self.next_seq, |s| s.1);
        while self.base_seq < keep_from {
            self.buckets.pop_front();
            self.base_seq += 1;
        }
    }

    fn log(&mut self, bucket: u64) {
        self.buckets.push_back(bucket);
        self.next_seq += 1;
    }

    /// Locust's `get_current_response_time_percentile` at whole second `now`:
    /// `None` when no snapshot lies 2 to 18 seconds back.
    fn current_percentile(&self, now: u64, p: f64) -> Option<u64> {
        let w = CURRENT_WINDOW_S as i64;
        let now = now as i64;
        let mut order = vec![now - w];
        for i in 1..9 {
            order.push(now - w - i);
            order.push(now - w + i);
        }
        let seq = order.iter().find_map(|want| {
            self.snapshots
                .iter()
                .find(|(s, _)| *s as i64 == *want)
                .map(|(_, seq)| *seq)
        })?;
        let skip = (seq - self.base_seq) as usize;
        let mut keys: Vec<u64> = self.buckets.iter().skip(skip).copied().collect();
        keys.sort_unstable();
        let n = keys.len() as u64;
        let mut grouped: Vec<(u64, u64)> = Vec::new();
        for k in keys {
            match grouped.last_mut() {
                Some(last) if last.0 == k => last.1 += 1,
                _ => grouped.push((k, 1)),
            }
        }
        Some(percentile_of(grouped.into_iter(), n, p))
    }
}

/// Handle of a (method, name) entry, registered before the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryId(pub(crate) u32);

/// All statistics of one Locust run.
#[derive(Debug, Clone)]
pub struct RequestStats {
    start: SimTime,
    entries: Vec<StatsEntry>,
    total: StatsEntry,
    errors: Vec<StatsError>,
    recent: RecentTimes,
    last_request: Option<SimTime>,
}

impl RequestStats {
    /// Empty statistics for a run that starts at `start` (Locust clears its
    /// statistics when the run starts).
    pub fn new(start: SimTime) -> RequestStats {
        let mut recent = RecentTimes::default();
        recent.snapshot(start.0 / MICROS_PER_SEC);
        RequestStats {
            start,
            entries: Vec::new(),
            total: StatsEntry::new("Aggregated", ""),
            errors: Vec::new(),
            recent,
            last_request: None,
        }
    }

    /// The entry for (method, name), added if new. Entries without requests
    /// are left out of every output, as Locust creates them on first use.
    pub fn register(&mut self, method: &'static str, name: &str) -> EntryId {
        if let Some(i) = self
            .entries
            .iter()
            .position(|e| e.method == method && e.name == name)
        {
            return EntryId(i as u32);
        }
        self.entries.push(StatsEntry::new(name, method));
        EntryId(self.entries.len() as u32 - 1)
    }

    /// Records one finished request: its latency, status (a failure when 0 or
    /// 400 and above), body size and completion time.
    pub fn log(&mut self, id: EntryId, latency_us: u64, status: u16, content: u64, now: SimTime) {
        let sec = now.0 / MICROS_PER_SEC;
        let idx = sec.saturating_sub(self.start.0 / MICROS_PER_SEC) as usize;
        if let Some(last) = self.total_last_request_sec()
            && sec > last
        {
            self.recent.snapshot(sec - 1);
        }
        self.recent.log(bucket_response_time_us(latency_us));
        let entry = &mut self.entries[id.0 as usize];
        entry.log(latency_us, content, idx);
        self.total.log(latency_us, content, idx);
        self.last_request = Some(now);
        if super::spec::is_ok(status) {
            return;
        }
        let entry = &mut self.entries[id.0 as usize];
        entry.log_error(idx);
        self.total.log_error(idx);
        let slot = id.0 as usize;
        match self
            .errors
            .iter_mut()
            .find(|e| e.entry == slot && e.status == status)
        {
            Some(e) => {
                e.occurrences += 1;
                e.last_seen = now;
            }
            None => {
                let entry = &self.entries[slot];
                self.errors.push(StatsError {
                    method: entry.method,
                    name: entry.name.clone(),
                    error: error_text(status, &entry.name),
                    occurrences: 1,
                    first_seen: now,
                    last_seen: now,
                    status,
                    entry: slot,
                });
            }
        }
    }

    fn total_last_request_sec(&self) -> Option<u64> {
        self.last_request.map(|t| t.0 / MICROS_PER_SEC)
    }

    /// The run-wide times rates are measured against.
    pub fn clock(&self) -> StatsClock {
        StatsClock {
            start: self.start,
            last_request: self.last_request,
        }
    }

    /// Entries with at least one request, sorted by (name, method) as Locust sorts them.
    pub fn sorted_entries(&self) -> Vec<&StatsEntry> {
        let mut v: Vec<&StatsEntry> = self.entries.iter().filter(|e| e.num_requests > 0).collect();
        v.sort_by(|a, b| (a.name.as_str(), a.method).cmp(&(b.name.as_str(), b.method)));
        v
    }

    /// The `Aggregated` entry.
    pub fn total(&self) -> &StatsEntry {
        &self.total
    }

    /// Failure groups sorted by Locust's key (the SHA-256 of method, name and error).
    pub fn sorted_errors(&self) -> Vec<&StatsError> {
        let mut v: Vec<(String, &StatsError)> = self.errors.iter().map(|e| (e.key(), e)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.into_iter().map(|(_, e)| e).collect()
    }

    /// Whether any request failed (Locust's `len(runner.errors) > 0`).
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The total's response time at percentile `p` over about the last ten
    /// seconds before `now`, as Locust's web UI and exporter report it;
    /// `None` when the cache holds no snapshot from 2 to 18 seconds back.
    pub fn current_response_time_percentile(&self, now: SimTime, p: f64) -> Option<u64> {
        self.recent.current_percentile(now.0 / MICROS_PER_SEC, p)
    }

    /// When the statistics were started.
    pub fn start(&self) -> SimTime {
        self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_round_to_two_significant_digits_with_ties_to_even() {
        let ms = |m: u64| bucket_response_time_us(m * 1000);
        assert_eq!(ms(147), 150);
        assert_eq!(ms(3432), 3400);
        assert_eq!(ms(58760), 59000);
        assert_eq!(ms(99), 99);
        assert_eq!(bucket_response_time_us(99_600), 100);
        assert_eq!(ms(145), 140, "Python rounds the tie 145 to the even 140");
        assert_eq!(ms(155), 160);
        assert_eq!(bucket_response_time_us(2_500), 2, "round(2.5) == 2");
        assert_eq!(bucket_response_time_us(3_500), 4, "round(3.5) == 4");
        assert_eq!(bucket_response_time_us(52_345), 52);
        assert_eq!(ms(9960), 10000);
    }

    #[test]
    fn dense_slots_map_keys_both_ways() {
        for key in (0..100)
            .chain((100..1000).step_by(10))
            .chain((1000..10000).step_by(100))
        {
            let slot = slot_of(key).unwrap();
            assert!(slot < DENSE_SLOTS);
            assert_eq!(key_of(slot), key);
        }
        assert_eq!(slot_of(10_000), None);
    }

    proptest::proptest! {
        /// One walk for many shares gives each the key its own walk gives.
        #[test]
        fn percentiles_in_one_walk_are_each_percentile(
            counts in proptest::collection::vec((0u64..400, 0u64..5), 0..40),
            extra in 0u64..3,
        ) {
            let mut keys: Vec<(u64, u64)> = counts;
            keys.sort();
            keys.dedup_by_key(|k| k.0);
            let n: u64 = keys.iter().map(|k| k.1).sum::<u64>() + extra;
            let many = percentiles_of(keys.iter().copied(), n, &PERCENTILES_TO_REPORT);
            for (p, got) in PERCENTILES_TO_REPORT.iter().zip(many) {
                proptest::prop_assert_eq!(got, percentile_of(keys.iter().copied(), n, *p));
            }
        }
    }

    #[test]
    fn percentiles_walk_buckets_from_the_slowest() {
        let mut s = RequestStats::new(SimTime::ZERO);
        let id = s.register("GET", "/x");
        // 100 requests of 1..=100 ms: int(100·0.5) = 50 may remain above.
        for m in 1..=100u64 {
            s.log(id, m * 1000, 200, 0, SimTime::from_secs(1));
        }
        let e = &s.entries[0];
        // From the top, 50 requests (51..=100) leave int(100·0.5) = 50 below.
        assert_eq!(e.percentile(0.5), 51);
        assert_eq!(e.percentile(0.95), 96);
        assert_eq!(e.percentile(1.0), 100);
        // 0.999·100 = 99.9 → int 99: only the 100 ms request may remain above.
        assert_eq!(e.percentile(0.999), 100);
        assert_eq!(e.median_response_time(), PyNum::Int(51));
        assert_eq!(e.min_response_time(), PyNum::Float(1.0));
        assert_eq!(e.max_response_time(), PyNum::Float(100.0));
    }

    #[test]
    fn median_is_clamped_to_the_exact_extremes() {
        let mut s = RequestStats::new(SimTime::ZERO);
        let id = s.register("GET", "/x");
        s.log(id, 147_300, 200, 0, SimTime::from_secs(1));
        // Bucket 150 > max 147.3, so the median is the max itself.
        assert_eq!(s.entries[0].median_response_time(), PyNum::Float(147.3));
    }

    #[test]
    fn failures_group_by_method_name_and_error() {
        let mut s = RequestStats::new(SimTime::ZERO);
        let id = s.register("POST", "/api/checkout");
        s.log(id, 10_000, 500, 0, SimTime::from_secs(1));
        s.log(id, 10_000, 500, 0, SimTime::from_secs(2));
        s.log(id, 10_000, 503, 0, SimTime::from_secs(3));
        s.log(id, 10_000, 201, 0, SimTime::from_secs(4));
        assert_eq!(s.total().num_requests, 4);
        assert_eq!(s.total().num_failures, 3);
        let errs = s.sorted_errors();
        assert_eq!(errs.len(), 2);
        let e500 = errs.iter().find(|e| e.error.contains("500")).unwrap();
        assert_eq!(
            e500.error,
            "HTTPError('500 Server Error: Internal Server Error for url: /api/checkout')"
        );
        assert_eq!(e500.occurrences, 2);
        assert_eq!(e500.last_seen, SimTime::from_secs(2));
    }

    #[test]
    fn current_rps_averages_ten_seconds_ending_two_before_the_last_request() {
        let mut s = RequestStats::new(SimTime::ZERO);
        let id = s.register("GET", "/x");
        // 3 requests in each second 0..=19.
        for sec in 0..20u64 {
            for k in 0..3 {
                s.log(id, 1000, 200, 0, SimTime(sec * MICROS_PER_SEC + k * 1000));
            }
        }
        let clock = s.clock();
        assert_eq!(s.total().current_rps(clock), 3.0);
        // Total: 60 requests over 19.002 s (as a difference of Unix-time floats).
        let total = s.total().total_rps(clock);
        assert!((total - 60.0 / 19.002).abs() < 1e-6);
        // Early on the window is shorter: last request in second 4 → seconds [0, 2).
        let mut s = RequestStats::new(SimTime::ZERO);
        let id = s.register("GET", "/x");
        s.log(id, 1000, 200, 0, SimTime::from_secs(0));
        s.log(id, 1000, 200, 0, SimTime::from_secs(4));
        assert_eq!(s.total().current_rps(s.clock()), 0.5);
    }

    #[test]
    fn current_percentile_uses_the_snapshot_ten_seconds_back() {
        let mut s = RequestStats::new(SimTime::ZERO);
        let id = s.register("GET", "/x");
        // Seconds 0..10 at 500 ms, then seconds 10..20 at 20 ms.
        for sec in 0..20u64 {
            let lat = if sec < 10 { 500_000 } else { 20_000 };
            s.log(id, lat, 200, 0, SimTime(sec * MICROS_PER_SEC + 1));
        }
        // At second 20 the snapshot of second 10 holds the first 11 requests,
        // so the window has the 9 requests of seconds 11..=19, all 20 ms.
        let p = s.current_response_time_percentile(SimTime::from_secs(20), 0.95);
        assert_eq!(p, Some(20));
        assert_eq!(s.total().percentile(0.95), 500);
        // Two seconds in, there is no snapshot far enough back.
        let s2 = RequestStats::new(SimTime::ZERO);
        assert_eq!(
            s2.current_response_time_percentile(SimTime::from_secs(1), 0.5),
            None
        );
    }
}
