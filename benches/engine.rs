//! The flagship run, end to end: `scenarios/checkout-leak.toml`, policy
//! `manual`, seed 1 (2h05m of simulated time after a 10m warm-up, one event
//! per request arrival and completion, a scrape every 15 s).
//!
//! Two throughputs of the same work: `events` reports engine events per
//! second, `simulated-seconds` reports simulated seconds per wall second.
//! `fifty-pods` is the same world at 600 req/s over 50 replicas (the load
//! per pod of the flagship, ten times the pods), and `batched` the flagship
//! in the batched traffic model.
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
    let probe = engine::run(&sc, &policy, 1).result;
    let simulated = probe.sim_duration_s + sc.warmup.as_secs_f64();

    let mut g = c.benchmark_group("flagship-manual");
    g.sample_size(20);
    g.throughput(Throughput::Elements(probe.events));
    g.bench_function("events", |b| {
        b.iter(|| engine::run(&sc, &policy, 1).result.events)
    });
    g.throughput(Throughput::Elements(simulated.round() as u64));
    g.bench_function("simulated-seconds", |b| {
        b.iter(|| engine::run(&sc, &policy, 1).result.events)
    });
    g.finish();
}

fn fifty_pods(c: &mut Criterion) {
    let mut sc = scenario::load_file(&Disk, std::path::Path::new("scenarios/checkout-leak.toml"))
        .expect("run from the repository root; the flagship is valid");
    sc.traffic.rate = 600.0;
    sc.rollout.replicas = 50;
    let policy = sc.policy("manual").expect("manual policy").clone();
    let probe = engine::run(&sc, &policy, 1).result;
    let mut g = c.benchmark_group("fifty-pods-manual");
    g.sample_size(10);
    g.throughput(Throughput::Elements(probe.events));
    g.bench_function("events", |b| {
        b.iter(|| engine::run(&sc, &policy, 1).result.events)
    });
    g.finish();
}

fn batched(c: &mut Criterion) {
    let mut sc = scenario::load_file(&Disk, std::path::Path::new("scenarios/checkout-leak.toml"))
        .expect("run from the repository root; the flagship is valid");
    sc.traffic_model = scenario::TrafficModel::Batched {
        batch: canarysim::sim::SimDuration::from_secs(1),
    };
    let policy = sc.policy("manual").expect("manual policy").clone();
    let probe = engine::run(&sc, &policy, 1).result;
    let simulated = probe.sim_duration_s + sc.warmup.as_secs_f64();
    let mut g = c.benchmark_group("flagship-manual-batched");
    g.sample_size(20);
    g.throughput(Throughput::Elements(simulated.round() as u64));
    g.bench_function("simulated-seconds", |b| {
        b.iter(|| engine::run(&sc, &policy, 1).result.events)
    });
    g.finish();
}

criterion_group!(benches, flagship, fifty_pods, batched);
criterion_main!(benches);
