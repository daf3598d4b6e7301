//! The OpenMetrics export against a real Prometheus TSDB: a run's series
//! are written as OpenMetrics text, `promtool tsdb create-blocks-from
//! openmetrics` imports them, and `promtool tsdb dump` must give back every
//! series and every sample (staleness markers aside, which OpenMetrics
//! cannot carry) with the store's timestamps and values, bit for bit.
//!
//! promtool is found as `tests/it/promtool.rs` finds it; without it the test
//! prints that it skipped, unless `CANARYSIM_REQUIRE_PROMTOOL=1`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use canarysim::engine::run;
use canarysim::series::openmetrics::{self, DEFAULT_START_MS};
use canarysim::series::{METRIC_NAME, SeriesStore, is_stale_nan};

use crate::fixtures::{load, scenario_text};

/// A series' labels as `promtool tsdb dump` prints them.
fn dump_labels(labels: &canarysim::series::Labels) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// `promtool tsdb create-blocks-from openmetrics` on `text`, written to
/// `dir/run.om`; the blocks' directory, `dir/data`.
pub(crate) fn create_blocks(promtool: &Path, text: &str, dir: &Path) -> PathBuf {
    let file = dir.join("run.om");
    std::fs::write(&file, text).unwrap();
    let db = dir.join("data");
    let created = Command::new(promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&file)
        .arg(&db)
        .output()
        .expect("promtool runs");
    assert!(
        created.status.success(),
        "create-blocks failed:\n{}{}",
        String::from_utf8_lossy(&created.stdout),
        String::from_utf8_lossy(&created.stderr)
    );
    db
}

fn expected(store: &SeriesStore, start: i64) -> BTreeMap<String, Vec<(i64, u64)>> {
    let mut out = BTreeMap::new();
    for s in store.series() {
        let samples: Vec<(i64, u64)> = s
            .samples
            .iter()
            .filter(|p| !is_stale_nan(p.v))
            .map(|p| (start + p.t, p.v.to_bits()))
            .collect();
        if !samples.is_empty() {
            out.insert(dump_labels(&s.labels), samples);
        }
    }
    out
}

/// `{labels} value timestamp_ms` lines, grouped by series.
fn parse_dump(text: &str) -> BTreeMap<String, Vec<(i64, u64)>> {
    let mut out: BTreeMap<String, Vec<(i64, u64)>> = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let close = line.rfind("} ").expect("labels end");
        let (labels, rest) = (&line[..=close], &line[close + 2..]);
        let mut parts = rest.split(' ');
        let v: f64 = parts.next().unwrap().parse().expect("a value");
        let t: i64 = parts.next().unwrap().parse().expect("a timestamp");
        out.entry(labels.to_string())
            .or_default()
            .push((t, v.to_bits()));
    }
    out
}

/// `replicas` pods at `rate` req/s, and policy `short`: the canary at 50%
/// for `pause`, then the soak.
fn short_scenario(replicas: u32, rate: f64, pause: &str) -> String {
    scenario_text(
        replicas,
        rate,
        4.0,
        &format!(
            r#"
[versions.stable]
latency = {{ get = {{ dist = "constant", value = "5ms" }} }}
[versions.canary]
image = "svc:v2"
[[policies]]
name = "short"
steps = [ {{ setWeight = 50 }}, {{ pause = {{ duration = "{pause}" }} }} ]
"#
        ),
    )
}

#[test]
fn promtool_imports_every_series_and_sample_of_a_run() {
    let Some(promtool) = crate::promtool::promtool_or_skip() else {
        return;
    };
    // Two stable pods and a canary at 50% for two minutes, then the soak:
    // counters, histograms, gauges, pod churn (staleness) and Locust-free.
    let sc = load(&short_scenario(2, 5.0, "2m"));
    let out = run(&sc, &sc.policies[0], 3);
    let start = DEFAULT_START_MS + 1234;
    let text = openmetrics::write(&out.series, start);
    let kinds: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    for k in ["counter", "gauge", "histogram"] {
        assert!(kinds.contains(&k), "no {k} family in {kinds:?}");
    }
    assert!(
        out.series
            .series()
            .iter()
            .any(|s| s.samples.iter().any(|p| is_stale_nan(p.v))),
        "the run should have staleness markers to leave out"
    );
    let dir = tempfile::tempdir().unwrap();
    let db = create_blocks(&promtool, &text, dir.path());
    // `tsdb dump` opens the directory as a database, which wants a WAL.
    std::fs::create_dir_all(db.join("wal")).unwrap();
    let dumped = Command::new(&promtool)
        .args(["tsdb", "dump"])
        .arg(&db)
        .output()
        .expect("promtool runs");
    assert!(
        dumped.status.success(),
        "{}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    let got = parse_dump(&String::from_utf8_lossy(&dumped.stdout));
    let want = expected(&out.series, start);
    let names = |m: &BTreeMap<String, Vec<(i64, u64)>>| m.len();
    assert_eq!(names(&got), names(&want), "series count");
    for (labels, samples) in &want {
        let Some(g) = got.get(labels) else {
            panic!("series {labels} did not arrive");
        };
        assert_eq!(g.len(), samples.len(), "{labels}: sample count");
        assert_eq!(g, samples, "{labels}: timestamps and values");
    }
    // Every metric name of the store is there under its own name (counters
    // keep `_total`, histograms `_bucket`/`_sum`/`_count`).
    for s in out
        .series
        .series()
        .iter()
        .filter(|s| s.samples.iter().any(|p| !is_stale_nan(p.v)))
    {
        let name = s.labels.get(METRIC_NAME).unwrap();
        assert!(
            got.keys()
                .any(|k| k.starts_with(&format!("{{__name__={name:?}"))),
            "{name}"
        );
    }
}

/// The dashboard shipped for Grafana shows the manual operator's panels,
/// query for query and line for line, in the scenario's order.
#[test]
fn the_shipped_dashboard_has_the_operators_three_panels() {
    let sc = canarysim::scenario::load_file(
        &crate::fixtures::Disk,
        std::path::Path::new("scenarios/checkout-leak.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let panels = &sc.policy("manual").unwrap().operator.panels;
    assert_eq!(panels.len(), 3);
    let text = std::fs::read_to_string("examples/grafana-operator-dashboard.json").unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).unwrap();
    let shipped = dash["panels"].as_array().unwrap();
    assert_eq!(shipped.len(), panels.len());
    for (p, d) in panels.iter().zip(shipped) {
        assert_eq!(d["title"], p.name.as_str());
        assert_eq!(d["targets"][0]["expr"], p.query.as_str());
        let line = &d["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"];
        assert_eq!(line.as_f64(), Some(p.above), "{}", p.name);
    }
}

/// `write_to` hands its writer the same text as `write`, a chunk at a time:
/// no write is much above 64 KiB, so `run --out` and `export` never hold a
/// run's text (~200 MB for the flagship) whole.
#[test]
fn openmetrics_is_written_in_chunks_with_the_same_text() {
    struct Chunks {
        bytes: Vec<u8>,
        largest: usize,
        writes: usize,
    }
    impl std::io::Write for Chunks {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.largest = self.largest.max(buf.len());
            self.writes += 1;
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sc = load(&short_scenario(3, 20.0, "10m"));
    let out = run(&sc, &sc.policies[0], 3);
    let whole = openmetrics::write(&out.series, DEFAULT_START_MS);
    let mut w = Chunks {
        bytes: Vec::new(),
        largest: 0,
        writes: 0,
    };
    openmetrics::write_to(&out.series, DEFAULT_START_MS, &mut w).unwrap();
    assert_eq!(w.bytes, whole.as_bytes());
    assert!(whole.len() > 1 << 20, "a text of {} bytes", whole.len());
    assert!(w.writes > 16, "{} writes", w.writes);
    assert!(
        w.largest < (1 << 16) + 4096,
        "a write of {} bytes",
        w.largest
    );
}

/// `run --out` writes series only when asked: none by default, OpenMetrics
/// per policy with `--series openmetrics`, the same text `export` writes.
#[test]
fn run_out_writes_series_only_when_asked() {
    use assert_cmd::Command;
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    let sc_text = short_scenario(2, 5.0, "2m");
    std::fs::write(&scenario, sc_text).unwrap();
    let run_out = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        Command::cargo_bin("canarysim")
            .unwrap()
            .arg("run")
            .arg(&scenario)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .assert()
            .success();
        out
    };
    let plain = run_out("plain", &[]);
    assert!(plain.join("result.json").exists());
    assert!(!plain.join("series.csv").exists());
    assert!(!plain.join("series").exists());
    let om = run_out("om", &["--series", "openmetrics"]);
    let written = std::fs::read_to_string(om.join("series/short.om")).unwrap();
    let exported = dir.path().join("export.om");
    Command::cargo_bin("canarysim")
        .unwrap()
        .arg("export")
        .arg(&scenario)
        .args(["--policy", "short", "-o"])
        .arg(&exported)
        .assert()
        .success();
    assert_eq!(written, std::fs::read_to_string(&exported).unwrap());
    assert!(written.ends_with("# EOF\n"));
    Command::cargo_bin("canarysim")
        .unwrap()
        .arg("export")
        .arg(&scenario)
        .args(["--policy", "short", "--start", "yesterday", "-o"])
        .arg(dir.path().join("x.om"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--start: \"yesterday\" is not an RFC 3339 time",
        ));
    assert!(!dir.path().join("x.om").exists());
}
