//! docs/grafana.md, step by step, with the real Prometheus: a flagship run
//! exported as OpenMetrics, turned into blocks by `promtool tsdb
//! create-blocks-from openmetrics`, served by a `prometheus` started on
//! them as the doc says, and asked, over its HTTP API, the queries of the
//! shipped dashboard's three panels at instants across the run. Each answer
//! must be the one canarysim's own evaluator gives on the run's store.
//!
//! Two documented differences are left out. OpenMetrics cannot carry
//! staleness markers, so a series that ended stays visible to an instant
//! selector for five minutes in Prometheus: instants that close after a
//! series of a panel ended are skipped, and the test checks few are. And
//! Debian's Prometheus is a 2.x, whose range and lookback windows are
//! closed, `[t - range, t]`, where canarysim follows 3.x's left-open
//! `(t - range, t]` (docs/promql-semantics.md): the instants are taken off
//! the scrape grid, where no sample sits on a window's left edge and the
//! two conventions select the same samples. 2.x also caps a counter's
//! extrapolation at its zero point before it applies the 1.1 × interval
//! threshold, where 3.x applies the threshold first; the two differ only
//! for a series that begins inside the window, and a `rate` panel skips
//! the instants where they do.
//!
//! prometheus comes in the same Debian package as promtool and is found
//! beside it; without it the test prints that it skipped, unless
//! `CANARYSIM_REQUIRE_PROMTOOL=1`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use canarysim::engine::run;
use canarysim::promql::{EvalOptions, Query, Value};
use canarysim::scenario::{self, Override};
use canarysim::series::openmetrics::{self, DEFAULT_START_MS};
use canarysim::series::{METRIC_NAME, SeriesStore, is_stale_nan};

/// A Prometheus server that is stopped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// GET `path` from 127.0.0.1:`port`; the body, if the status is 200.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.to_string())
        .or_else(|| head.starts_with("HTTP/1.0 200").then(|| body.to_string()))
}

/// Prometheus's answer to an instant query at `unix_ms`: one value per
/// series, in its label order.
fn prometheus_instant(port: u16, query: &str, unix_ms: i64) -> Vec<(String, f64)> {
    let path = format!(
        "/api/v1/query?query={}&time={}.{:03}",
        percent_encode(query),
        unix_ms / 1000,
        unix_ms % 1000
    );
    let body = get(port, &path).unwrap_or_else(|| panic!("prometheus did not answer {path}"));
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "success", "{body}");
    assert_eq!(json["data"]["resultType"], "vector", "{body}");
    let mut out: Vec<(String, f64)> = json["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let value: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
            (r["metric"].to_string(), value)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn ours_instant(store: &SeriesStore, query: &Query, at_ms: i64) -> Vec<(String, f64)> {
    match query.instant(store, at_ms, &EvalOptions::default()) {
        Ok(Value::Vector(v)) => {
            let mut out: Vec<(String, f64)> = v
                .iter()
                .map(|s| {
                    let metric: serde_json::Map<String, serde_json::Value> = s
                        .labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), serde_json::Value::from(v)))
                        .collect();
                    (serde_json::Value::Object(metric).to_string(), s.v)
                })
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        }
        other => panic!("a panel query should give a vector, got {other:?}"),
    }
}

/// When the last series of metric `name` ended (a staleness marker), for
/// each marker: instants within five minutes after one are skipped.
fn ends_of(store: &SeriesStore, name: &str) -> Vec<i64> {
    store
        .series()
        .iter()
        .filter(|s| s.labels.get(METRIC_NAME) == Some(name))
        .flat_map(|s| s.samples.iter().filter(|p| is_stale_nan(p.v)).map(|p| p.t))
        .collect()
}

/// Every instant at which some series has a sample.
fn sample_times(store: &SeriesStore) -> std::collections::HashSet<i64> {
    store
        .series()
        .iter()
        .flat_map(|s| s.samples.iter().map(|p| p.t))
        .collect()
}

/// The first instant at or after `t` with no sample at `t - 1m` or
/// `t - 5m`, where a closed window (Prometheus 2.x) and a left-open one
/// (3.x, canarysim) would select different samples.
fn off_the_left_edges(times: &std::collections::HashSet<i64>, mut t: i64) -> i64 {
    while times.contains(&(t - 60_000)) || times.contains(&(t - 5 * 60_000)) {
        t += 1;
    }
    t
}

/// Whether Prometheus 2.x and 3.x extrapolate `rate(name[1m])` at `t`
/// differently for some series: 2.x caps the start at the counter's zero
/// point and then applies the 1.1 × interval threshold, 3.x the other way
/// round. They part when the first sample is far from the window's start
/// (dS ≥ 1.1 · avg) and the zero point lies between avg / 2 and 1.1 · avg
/// (docs/promql-semantics.md, extrapolatedRate).
fn extrapolations_part(store: &SeriesStore, name: &str, t: i64) -> bool {
    store
        .series()
        .iter()
        .filter(|s| s.labels.get(METRIC_NAME) == Some(name))
        .any(|s| {
            let w: Vec<_> = s
                .samples
                .iter()
                .filter(|p| p.t > t - 60_000 && p.t <= t && !is_stale_nan(p.v))
                .collect();
            if w.len() < 2 {
                return false;
            }
            let mut result = w[w.len() - 1].v - w[0].v;
            for pair in w.windows(2) {
                if pair[1].v < pair[0].v {
                    result += pair[0].v;
                }
            }
            let sampled = (w[w.len() - 1].t - w[0].t) as f64 / 1000.0;
            let avg = sampled / (w.len() - 1) as f64;
            let d_start = (w[0].t - (t - 60_000)) as f64 / 1000.0;
            if result <= 0.0 || w[0].v < 0.0 || d_start < 1.1 * avg {
                return false;
            }
            let d_zero = sampled * w[0].v / result;
            d_zero > avg / 2.0 && d_zero < 1.1 * avg
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_prometheus(prometheus: &Path, data: &Path, config: &Path) -> (Server, u16) {
    // A port can be taken between probing and binding; try a few.
    for _ in 0..5 {
        let port = free_port();
        let child = Command::new(prometheus)
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        let mut server = Server(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if get(port, "/-/ready").is_some() {
                return (server, port);
            }
            if let Ok(Some(_)) = server.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        drop(server);
    }
    panic!("prometheus did not become ready");
}

#[test]
fn prometheus_on_the_exported_blocks_answers_the_dashboards_queries_as_canarysim_does() {
    let Some(promtool) = crate::promtool::promtool_or_skip() else {
        return;
    };
    let prometheus = promtool.with_file_name("prometheus");
    if !prometheus.is_file() {
        if std::env::var("CANARYSIM_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
            panic!("prometheus not found beside {}", promtool.display());
        }
        eprintln!("skipped: prometheus not found beside promtool");
        return;
    }
    // The flagship's manual run, with an hour of soak instead of two: the
    // canary's first OOM kill, about 45 minutes after promotion, is in it.
    let overrides = [Override::parse("simulation.soak=1h").unwrap()];
    let sc = scenario::load_file_with(
        &crate::fixtures::Disk,
        Path::new("scenarios/checkout-leak.toml"),
        &overrides,
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .scenario;
    let policy = sc.policy("manual").unwrap();
    let out = run(&sc, policy, sc.seed);
    assert!(
        !out.result.oom_kills.is_empty(),
        "the run should hold an OOM kill"
    );

    // Steps 1–3 of docs/grafana.md.
    let dir = tempfile::tempdir().unwrap();
    let data = crate::openmetrics::create_blocks(
        &promtool,
        &openmetrics::write(&out.series, DEFAULT_START_MS),
        dir.path(),
    );
    let config = dir.path().join("empty.yml");
    std::fs::write(&config, "").unwrap();
    let (_server, port) = start_prometheus(&prometheus, &data, &config);

    // The dashboard's panels, as shipped.
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("examples/grafana-operator-dashboard.json").unwrap(),
    )
    .unwrap();
    let end_ms = (out.result.sim_duration_s * 1000.0) as i64;
    let times = sample_times(&out.series);
    let mut compared = 0;
    let mut skipped = 0;
    let mut above = 0;
    for panel in dash["panels"].as_array().unwrap() {
        let expr = panel["targets"][0]["expr"].as_str().unwrap();
        let line = panel["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"]
            .as_f64()
            .unwrap();
        let query = Query::parse(expr).unwrap();
        let metric = [
            "container_memory_working_set_bytes",
            "http_request_duration_seconds_bucket",
            "http_requests_total",
        ]
        .into_iter()
        .find(|m| expr.contains(m))
        .unwrap();
        let ends = ends_of(&out.series, metric);
        let instant_selector = !expr.contains("rate(");

        // Off the 15 s scrape grid: no sample on a window's left edge.
        let mut minute = -5 * 60_000 + 7_531;
        while minute <= end_ms {
            let t = off_the_left_edges(&times, minute);
            let stale_window =
                instant_selector && ends.iter().any(|&e| e <= t && t - e < 5 * 60_000);
            let parts = !instant_selector && extrapolations_part(&out.series, metric, t);
            if stale_window || parts {
                skipped += 1;
            } else {
                let ours = ours_instant(&out.series, &query, t);
                let theirs = prometheus_instant(port, expr, DEFAULT_START_MS + t);
                assert_eq!(
                    ours.iter().map(|s| &s.0).collect::<Vec<_>>(),
                    theirs.iter().map(|s| &s.0).collect::<Vec<_>>(),
                    "{expr} at {t} ms: series"
                );
                for (a, b) in ours.iter().zip(&theirs) {
                    let close = (a.1 - b.1).abs() <= 1e-9 * a.1.abs().max(1.0)
                        || (a.1.is_nan() && b.1.is_nan());
                    assert!(
                        close,
                        "{expr} at {t} ms: canarysim {} prometheus {}",
                        a.1, b.1
                    );
                    if a.1 > line {
                        above += 1;
                    }
                }
                compared += 1;
            }
            minute += 60_000;
        }
    }
    eprintln!("{compared} instants compared, {skipped} skipped");
    assert!(
        compared > 10 * skipped,
        "{compared} instants compared, {skipped} skipped"
    );
    // The story is in what Prometheus served: the memory panel crosses its
    // line before the OOM kill.
    assert!(above > 0, "no panel crossed its line");
}
