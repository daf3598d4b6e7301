//! PromQL evaluation cost of an analysis gate: the seed's error-rate query
//! evaluated at every 30s of a 2-hour run with 10 pods, as an AnalysisRun
//! would over a whole rollout. The series are a real simulated run: the
//! flagship service at 10 replicas, holding a 50% canary (5 canary and 10
//! stable pods serving, so 10+ pod targets) for two hours.
//! Run with `cargo bench --bench promql`.

use std::hint::black_box;

use canarysim::engine::Engine;
use canarysim::promql::{EvalOptions, Query};
use canarysim::rollout::policy::{Policy, Step};
use canarysim::scenario;
use canarysim::sim::SimDuration;
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../src/cli/disk.rs"]
mod disk;
use disk::Disk;

const ERROR_RATE: &str = r#"sum(rate(http_requests_total{service="checkout-canary",code=~"5.."}[2m])) / sum(rate(http_requests_total{service="checkout-canary"}[2m]))"#;

fn error_rate_every_30s(c: &mut Criterion) {
    let text = std::fs::read_to_string("scenarios/checkout-leak.toml")
        .expect("run from the repository root");
    let text = text.replacen("replicas = 5", "replicas = 10", 1);
    let path = std::path::Path::new("scenarios/checkout-leak.toml");
    let sc = scenario::load_with(
        "scenarios/checkout-leak.toml",
        &text,
        &scenario::DirSource::for_scenario(&Disk, path),
    )
    .expect("flagship is valid")
    .scenario;
    let policy = Policy::new("hold-at-50", vec![Step::SetWeight(50), Step::Pause(None)]);
    let mut engine = Engine::new(&sc, &policy, 1);
    let two_hours = SimDuration::from_mins(120);
    engine.run_until(engine.rollout_start() + two_hours);
    let store = engine.store();
    let query = Query::parse(ERROR_RATE).expect("the seed's query parses");
    let opts = EvalOptions::default();
    let times: Vec<i64> = (0..=two_hours.as_millis() as i64).step_by(30_000).collect();
    let mut group = c.benchmark_group("promql");
    group.bench_function("error_rate_every_30s_2h_10_pods", |b| {
        b.iter(|| {
            for &t in &times {
                black_box(query.instant(store, t, &opts).expect("evaluates"));
            }
        })
    });
    group.bench_function("parse_error_rate", |b| {
        b.iter(|| black_box(Query::parse(black_box(ERROR_RATE)).expect("parses")))
    });
    group.finish();
}

criterion_group!(benches, error_rate_every_30s);
criterion_main!(benches);
