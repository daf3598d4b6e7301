//! A deterministic synthetic store shaped like the simulator's scrape
//! output, for tests and benchmarks that need realistic series before (or
//! without) a full simulated run.
//!
//! Out: a [`SeriesStore`] with, per pod and every scrape interval,
//! `http_requests_total{namespace,service,pod,method,handler,code}`,
//! `http_request_duration_seconds_bucket{…,le}` with Prometheus's default
//! buckets plus `_sum`/`_count`, and `container_memory_working_set_bytes
//! {namespace,pod,container}` growing linearly with noise. One canary pod
//! restarts at 40% of the run (counters reset after a two-scrape gap, memory
//! drops) and, with two or more stable pods, the last one is deleted at 75%
//! (staleness markers). Randomness comes from named ChaCha8 streams of the
//! given seed, so the same spec always gives the same store.

use rand::RngExt;

use super::{Labels, SeriesStore};
use crate::sim::rng::{ChaCha8Rng, stream};

/// Prometheus client libraries' default histogram buckets (seconds).
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticRun {
    /// Number of pods; a fifth of them (at least one) run the canary.
    pub pods: usize,
    /// Length of the run (ms).
    pub duration_ms: i64,
    /// Scrape interval (ms).
    pub scrape_interval_ms: i64,
    /// Seed of the random streams.
    pub seed: u64,
}

impl Default for SyntheticRun {
    /// Ten pods for two hours, scraped every 15s.
    fn default() -> SyntheticRun {
        SyntheticRun {
            pods: 10,
            duration_ms: 2 * 3600 * 1000,
            scrape_interval_ms: 15_000,
            seed: 1,
        }
    }
}

/// One generated pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticPod {
    /// Argo-style name `checkout-<hash>-<suffix>`.
    pub name: String,
    /// Whether it runs the canary version (service `checkout-canary`).
    pub canary: bool,
    /// When it restarts (ms), if it does.
    pub restart_at_ms: Option<i64>,
    /// When it is deleted (ms), if it is.
    pub deleted_at_ms: Option<i64>,
}

impl SyntheticRun {
    /// The pods this spec generates, stable ones first.
    pub fn pods(&self) -> Vec<SyntheticPod> {
        let canaries = (self.pods / 5).max(1).min(self.pods);
        let stables = self.pods - canaries;
        let scrape = self.scrape_interval_ms.max(1);
        let at = |share: f64| ((self.duration_ms as f64 * share) as i64 / scrape) * scrape;
        (0..self.pods)
            .map(|i| {
                let canary = i >= stables;
                let hash = if canary { "5d8f7b9c6" } else { "6f7c9d8b4" };
                let suffix: String = (0..5)
                    .map(|k| {
                        let x = crate::sim::rng::mix((i as u64) << 8 | k);
                        (b'a' + (x % 26) as u8) as char
                    })
                    .collect();
                SyntheticPod {
                    name: format!("checkout-{hash}-{suffix}"),
                    canary,
                    restart_at_ms: (canary && i == stables).then(|| at(0.4)),
                    deleted_at_ms: (!canary && stables >= 2 && i == stables - 1).then(|| at(0.75)),
                }
            })
            .collect()
    }
}

/// The request mix of every pod: method, handler, requests per second.
const ROUTES: [(&str, &str, f64); 4] = [
    ("GET", "/api/cart", 6.0),
    ("GET", "/api/checkout", 1.5),
    ("POST", "/api/cart", 2.0),
    ("POST", "/api/checkout", 1.0),
];

/// Builds the store for `run`.
pub fn checkout_store(run: &SyntheticRun) -> SeriesStore {
    let mut store = SeriesStore::new();
    for (i, pod) in run.pods().iter().enumerate() {
        add_pod(
            &mut store,
            run,
            pod,
            &mut stream(run.seed, "synthetic-pod", i as u64),
        );
    }
    store
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn add_pod(store: &mut SeriesStore, run: &SyntheticRun, pod: &SyntheticPod, rng: &mut ChaCha8Rng) {
    let service = if pod.canary {
        "checkout-canary"
    } else {
        "checkout-stable"
    };
    let (error_ratio, median_latency, leak_per_s) = if pod.canary {
        (0.02, 0.08, 40_960.0)
    } else {
        (0.002, 0.05, 1_024.0)
    };
    let base = [
        ("namespace", "shop"),
        ("service", service),
        ("pod", pod.name.as_str()),
    ];
    let interval = run.scrape_interval_ms.max(1);
    let mut series_ids = Vec::new();
    // Per route: ok/error counters, buckets, sum, count (ids and running values).
    struct Route {
        ok: super::SeriesId,
        err: super::SeriesId,
        buckets: Vec<super::SeriesId>,
        sum: super::SeriesId,
        count: super::SeriesId,
        n_ok: f64,
        n_err: f64,
        cum: Vec<f64>,
        total_latency: f64,
    }
    let mut routes: Vec<Route> = ROUTES
        .iter()
        .map(|(method, handler, _)| {
            let with = |name: &str, extra: &[(&str, &str)]| -> Labels {
                let route = [("method", *method), ("handler", *handler)];
                let pairs: Vec<(String, String)> = base
                    .iter()
                    .chain(&route)
                    .chain(extra)
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                Labels::with_name(name, pairs)
            };
            let les: Vec<String> = DEFAULT_BUCKETS
                .iter()
                .map(|b| b.to_string())
                .chain(["+Inf".to_string()])
                .collect();
            let r = Route {
                ok: store.id(with("http_requests_total", &[("code", "200")])),
                err: store.id(with("http_requests_total", &[("code", "500")])),
                buckets: les
                    .iter()
                    .map(|le| {
                        store.id(with(
                            "http_request_duration_seconds_bucket",
                            &[("le", le.as_str())],
                        ))
                    })
                    .collect(),
                sum: store.id(with("http_request_duration_seconds_sum", &[])),
                count: store.id(with("http_request_duration_seconds_count", &[])),
                n_ok: 0.0,
                n_err: 0.0,
                cum: vec![0.0; les.len()],
                total_latency: 0.0,
            };
            series_ids.extend([r.ok, r.err, r.sum, r.count]);
            series_ids.extend(r.buckets.iter().copied());
            r
        })
        .collect();
    let mem = store.id(Labels::with_name(
        "container_memory_working_set_bytes",
        [
            ("namespace", "shop"),
            ("pod", pod.name.as_str()),
            ("container", "checkout"),
        ],
    ));
    series_ids.push(mem);

    let mut started_at = 0;
    let mut t = 0;
    while t <= run.duration_ms {
        if pod.deleted_at_ms.is_some_and(|d| t >= d) {
            for &id in &series_ids {
                store.mark_stale(id, t);
            }
            break;
        }
        if let Some(r) = pod.restart_at_ms {
            // Down for two scrapes, then a fresh process: counters restart.
            if t > r && t <= r + 2 * interval {
                t += interval;
                continue;
            }
            if t == r + 3 * interval {
                started_at = t;
                for route in &mut routes {
                    route.n_ok = 0.0;
                    route.n_err = 0.0;
                    route.total_latency = 0.0;
                    route.cum.iter_mut().for_each(|c| *c = 0.0);
                }
            }
        }
        if t > started_at {
            for (route, (_, _, rps)) in routes.iter_mut().zip(ROUTES) {
                let expected = rps * interval as f64 / 1000.0;
                let n = (expected * (1.0 + 0.2 * normal(rng))).round().max(0.0);
                let errors = (n * error_ratio + rng.random::<f64>()).floor().min(n);
                route.n_err += errors;
                route.n_ok += n - errors;
                for _ in 0..n as usize {
                    let latency = median_latency * (0.6 * normal(rng)).exp();
                    route.total_latency += latency;
                    let first = DEFAULT_BUCKETS.partition_point(|b| *b < latency);
                    for c in &mut route.cum[first..] {
                        *c += 1.0;
                    }
                }
            }
        }
        for route in &routes {
            store.push(route.ok, t, route.n_ok);
            store.push(route.err, t, route.n_err);
            for (id, c) in route.buckets.iter().zip(&route.cum) {
                store.push(*id, t, *c);
            }
            store.push(route.sum, t, route.total_latency);
            store.push(route.count, t, route.n_ok + route.n_err);
        }
        let uptime_s = (t - started_at) as f64 / 1000.0;
        let bytes = 180.0 * 1024.0 * 1024.0 + leak_per_s * uptime_s + 1024.0 * 1024.0 * normal(rng);
        store.push(mem, t, bytes.round());
        t += interval;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::is_stale_nan;

    fn small() -> SyntheticRun {
        SyntheticRun {
            pods: 3,
            duration_ms: 20 * 60_000,
            scrape_interval_ms: 15_000,
            seed: 7,
        }
    }

    /// The store as comparable bits (staleness markers are NaN).
    fn bits(s: &SeriesStore) -> Vec<(String, Vec<(i64, u64)>)> {
        s.series()
            .iter()
            .map(|x| {
                let pts = x.samples.iter().map(|p| (p.t, p.v.to_bits())).collect();
                (x.labels.to_string(), pts)
            })
            .collect()
    }

    #[test]
    fn same_spec_gives_the_same_store() {
        let a = bits(&checkout_store(&small()));
        assert_eq!(a, bits(&checkout_store(&small())));
        assert_ne!(
            a,
            bits(&checkout_store(&SyntheticRun { seed: 8, ..small() }))
        );
    }

    #[test]
    fn canary_restarts_with_a_gap_and_a_reset_and_a_stable_pod_goes_stale() {
        let run = small();
        let pods = run.pods();
        assert_eq!(pods.iter().filter(|p| p.canary).count(), 1);
        let store = checkout_store(&run);
        let canary = pods.iter().find(|p| p.canary).unwrap();
        let r = canary.restart_at_ms.unwrap();
        let ok = store
            .series()
            .iter()
            .find(|s| {
                s.labels.get("pod") == Some(&canary.name)
                    && s.labels.get("code") == Some("200")
                    && s.labels.get("handler") == Some("/api/cart")
                    && s.labels.get("method") == Some("GET")
            })
            .unwrap();
        let times: Vec<i64> = ok.samples.iter().map(|s| s.t).collect();
        assert!(!times.contains(&(r + 15_000)) && !times.contains(&(r + 30_000)));
        let before = ok.last_at_or_before(r).unwrap().v;
        let after = ok.last_at_or_before(r + 45_000).unwrap().v;
        assert!(before > 0.0 && after == 0.0, "{before} {after}");
        let deleted = pods.iter().find(|p| p.deleted_at_ms.is_some()).unwrap();
        let mem = store
            .series()
            .iter()
            .find(|s| {
                s.labels.metric_name() == Some("container_memory_working_set_bytes")
                    && s.labels.get("pod") == Some(&deleted.name)
            })
            .unwrap();
        assert!(is_stale_nan(mem.samples.last().unwrap().v));
    }

    #[test]
    fn buckets_are_cumulative_and_end_at_the_count() {
        let store = checkout_store(&small());
        let at = 600_000;
        let get = |name: &str, le: Option<&str>| {
            store
                .series()
                .iter()
                .find(|s| {
                    s.labels.metric_name() == Some(name)
                        && s.labels.get("le") == le
                        && s.labels.get("handler") == Some("/api/cart")
                        && s.labels.get("method") == Some("GET")
                        && s.labels.get("service") == Some("checkout-stable")
                })
                .and_then(|s| s.last_at_or_before(at))
                .unwrap()
                .v
        };
        let inf = get("http_request_duration_seconds_bucket", Some("+Inf"));
        assert_eq!(inf, get("http_request_duration_seconds_count", None));
        assert!(get("http_request_duration_seconds_bucket", Some("0.05")) <= inf);
        assert!(
            get("http_request_duration_seconds_bucket", Some("0.005"))
                < get("http_request_duration_seconds_bucket", Some("0.1"))
        );
    }
}
