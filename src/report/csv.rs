//! CSV exports: the timeline (`events.csv`) and the scraped series in long
//! form (`series.csv`: time, metric, labels, value).

use crate::outcome::RunResult;
use crate::series::{METRIC_NAME, SeriesStore, is_stale_nan};

fn finish(w: ::csv::Writer<Vec<u8>>) -> String {
    let bytes = w
        .into_inner()
        .expect("invariant: writing to memory cannot fail");
    String::from_utf8(bytes).expect("invariant: every field is UTF-8")
}

/// `events.csv`: one row per timeline entry of every run.
pub fn events(runs: &[RunResult]) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["policy", "seed", "t_s", "kind", "detail"]);
    for r in runs {
        for e in &r.timeline {
            let _ = w.write_record([
                r.policy.as_str(),
                &r.seed.to_string(),
                &format!("{:.3}", e.t_s),
                e.kind,
                &e.detail,
            ]);
        }
    }
    finish(w)
}

/// `series.csv`: every sample of every series, in long form, written row by
/// row to `out` (a file, for `run --out`; nothing is held in memory), with
/// the header line first when `header` is set. `t_s` is seconds from the
/// rollout's start; `labels` is Prometheus' `{a="1", b="2"}` form without
/// the metric name; a staleness marker is written as `stale`.
pub fn write_series<W: std::io::Write>(
    policy: &str,
    seed: u64,
    store: &SeriesStore,
    header: bool,
    out: W,
) -> std::io::Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    if header {
        w.write_record(["policy", "seed", "t_s", "metric", "labels", "value"])?;
    }
    let seed = seed.to_string();
    for s in store.series() {
        let name = s.labels.metric_name().unwrap_or("");
        let labels = s.labels.without(&[METRIC_NAME]).to_string();
        for x in &s.samples {
            let v = if is_stale_nan(x.v) {
                "stale".to_string()
            } else {
                x.v.to_string()
            };
            w.write_record([
                policy,
                &seed,
                &format!("{:.3}", x.t as f64 / 1000.0),
                name,
                &labels,
                &v,
            ])?;
        }
    }
    w.flush()
}
