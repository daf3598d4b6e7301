//! The flagship run, end to end: `scenarios/checkout-leak.toml`, policy
//! `manual`, seed 1 (2h05m of simulated time after a 10m warm-up, one event
//! per request arrival and completion, a scrape every 15 s).
//!
//! Two throughputs of the same work: `events` reports engine events per
//! second, `simulated-seconds` reports simulated seconds per wall second.
//! `fifty-pods` is the same world at 600 req/s over 50 replicas (the load
//! per pod of the flagship, ten times the pods), and `batched` the flagship
//! in the batched traffic model. `big-batched` is the cost target:
//! 6,000 req/s over 50 replicas for 12 hours of soak, batched.
//! Each run keeps the samples its policy's queries can read
//! (`engine::run_result`, as sweeps do), not the whole series.
//! Run: `cargo bench --bench engine`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use canarysim::engine;
use canarysim::scenario;

#[path = "../src/cli/disk.rs"]
mod disk;
use disk::Disk;

fn flagship(c: &mut Criterion) {
    let sc = scenario::load_file(&Disk, std::path::Path::new("scenarios/checkout-leak.toml"))
        .expect("run from the repository root; the flagship is valid");
    let policy = sc.policy("manual").expect("manual policy").clone();
    let probe = engine::run_result(&sc, &policy, 1);
    let simulated = probe.sim_duration_s + sc.warmup.as_secs_f64();

    let mut g = c.benchmark_group("flagship-manual");
    g.sample_size(20);
    g.throughput(Throughput::Elements(probe.events));
    g.bench_function("events", |b| {
        b.iter(|| engine::run_result(&sc, &policy, 1).events)
    });
    g.throughput(Throughput::Elements(simulated.round() as u64));
    g.bench_function("simulated-seconds", |b| {
        b.iter(|| engine::run_result(&sc, &policy, 1).events)
    });
    g.finish();
}

fn fifty_pods(c: &mut Criterion) {
    let mut sc = scenario::load_file(&Disk, std::path::Path::new("scenarios/checkout-leak.toml"))
        .expect("run from the repository root; the flagship is valid");
    sc.traffic.rate = 600.0;
    sc.rollout.replicas = 50;
    let policy = sc.policy("manual").expect("manual policy").clone();
    let probe = engine::run_result(&sc, &policy, 1);
    let mut g = c.benchmark_group("fifty-pods-manual");
    g.sample_size(10);
    g.throughput(Throughput::Elements(probe.events));
    g.bench_function("events", |b| {
        b.iter(|| engine::run_result(&sc, &policy, 1).events)
    });
    g.finish();
}

/// Simulated seconds per wall second of `sc` under `manual`, as `name`.
fn simulated_seconds(c: &mut Criterion, name: &str, sc: &scenario::Scenario, samples: usize) {
    let policy = sc.policy("manual").expect("manual policy").clone();
    let probe = engine::run_result(sc, &policy, 1);
    let simulated = probe.sim_duration_s + sc.warmup.as_secs_f64();
    let mut g = c.benchmark_group(name);
    g.sample_size(samples);
    g.throughput(Throughput::Elements(simulated.round() as u64));
    g.bench_function("simulated-seconds", |b| {
        b.iter(|| engine::run_result(sc, &policy, 1).events)
    });
    g.finish();
}

/// The flagship in the batched traffic model.
fn flagship_batched() -> scenario::Scenario {
    let mut sc = scenario::load_file(&Disk, std::path::Path::new("scenarios/checkout-leak.toml"))
        .expect("run from the repository root; the flagship is valid");
    sc.traffic_model = scenario::TrafficModel::Batched {
        batch: canarysim::sim::SimDuration::from_secs(1),
        soak_batch: sc.scrape_interval,
    };
    sc
}

fn batched(c: &mut Criterion) {
    simulated_seconds(c, "flagship-manual-batched", &flagship_batched(), 20);
}

fn big_batched(c: &mut Criterion) {
    let mut sc = flagship_batched();
    sc.traffic.rate = 6000.0;
    sc.rollout.replicas = 50;
    sc.soak = canarysim::sim::SimDuration::from_secs(12 * 3600);
    simulated_seconds(c, "big-batched-manual", &sc, 10);
}

criterion_group!(benches, flagship, fifty_pods, batched, big_batched);
criterion_main!(benches);
