//! PromQL evaluation cost of an analysis gate: the seed's error-rate query
//! evaluated at every 30s of a 2-hour run with 10 pods (the synthetic store
//! shaped like the simulator's output), as an AnalysisRun would over a
//! whole rollout. Run with `cargo bench --bench promql`.

use std::hint::black_box;

use canarysim::promql::{EvalOptions, Query};
use canarysim::series::synthetic::{SyntheticRun, checkout_store};
use criterion::{Criterion, criterion_group, criterion_main};

const ERROR_RATE: &str = r#"sum(rate(http_requests_total{service="checkout-canary",code=~"5.."}[2m])) / sum(rate(http_requests_total{service="checkout-canary"}[2m]))"#;

fn error_rate_every_30s(c: &mut Criterion) {
    let run = SyntheticRun::default();
    let store = checkout_store(&run);
    let query = Query::parse(ERROR_RATE).expect("the seed's query parses");
    let opts = EvalOptions::default();
    let times: Vec<i64> = (0..=run.duration_ms).step_by(30_000).collect();
    let mut group = c.benchmark_group("promql");
    group.bench_function("error_rate_every_30s_2h_10_pods", |b| {
        b.iter(|| {
            for &t in &times {
                black_box(query.instant(&store, t, &opts).expect("evaluates"));
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
