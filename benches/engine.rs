//! The flagship run, end to end: `scenarios/checkout-leak.toml`, policy
//! `manual`, seed 1 (2h05m of simulated time after a 10m warm-up, one event
//! per request arrival and completion, a scrape every 15 s).
//!
//! Two throughputs of the same work: `events` reports engine events per
//! second, `simulated-seconds` reports simulated seconds per wall second.
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

criterion_group!(benches, flagship);
criterion_main!(benches);
