//! The evaluator against a real `promtool` (Debian package `prometheus`,
//! 2.42): the series of a run are written as a `promtool test rules` file,
//! promtool evaluates the seed's analysis queries at chosen times, and its
//! results must agree with ours to 1e-6 relative.
//!
//! promtool only prints a result when it differs from the expectation, so
//! every case is written without expected samples: promtool then prints what
//! it got (at full precision), and an empty result passes silently.
//! Evaluation times sit 7s past a 15s scrape, so no sample lies on a window
//! boundary, where Prometheus 2.x (closed windows) and 3.x (left-open) differ.
//!
//! promtool is looked up in `$PROMTOOL`, then `PATH`, then where
//! `scripts/setup.sh` unpacks it (`target/tools/prometheus/usr/bin/`), then
//! `/opt/prometheus/usr/bin/promtool`. Without it the test prints that it
//! skipped, unless `CANARYSIM_REQUIRE_PROMTOOL=1`, when it fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use canarysim::promql::{EvalOptions, Query, Value};
use canarysim::series::synthetic::{SyntheticRun, checkout_store};
use canarysim::series::{SeriesStore, is_stale_nan};

/// One query at one time.
pub struct Case {
    /// The PromQL expression.
    pub expr: String,
    /// Evaluation time, ms from the start of the run.
    pub at_ms: i64,
}

/// One result element: labels in PromQL text form and the value.
type Sample = (String, f64);

/// Where promtool is, if anywhere.
pub fn promtool_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PROMTOOL") {
        return Some(PathBuf::from(p));
    }
    let in_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("promtool"))
            .find(|p| p.is_file())
    });
    let unpacked = [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/prometheus/usr/bin/promtool"),
        PathBuf::from("/opt/prometheus/usr/bin/promtool"),
    ];
    in_path.or_else(|| unpacked.into_iter().find(|p| p.is_file()))
}

/// A duration as Prometheus's `model.Duration` prints it (`3m7s`, `1h`).
fn go_duration(mut ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// A float in promqltest series notation.
fn series_value(v: f64) -> String {
    if is_stale_nan(v) {
        "stale".to_string()
    } else if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v}")
    }
}

/// YAML single-quoted scalar.
fn yaml_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The `promtool test rules` file for a store scraped every `interval_ms`:
/// one explicit value per scrape slot, `_` for a missing scrape, `stale` for
/// a staleness marker, and one expectation-free case per query and time.
pub fn rules_test_file(
    store: &SeriesStore,
    interval_ms: i64,
    cases: &[Case],
) -> Result<String, String> {
    let mut out = format!(
        "rule_files: []\nevaluation_interval: {0}\ntests:\n  - interval: {0}\n    input_series:\n",
        go_duration(interval_ms)
    );
    for s in store.series() {
        let Some(last) = s.samples.last() else {
            continue;
        };
        let mut slots = vec!["_".to_string(); (last.t / interval_ms + 1) as usize];
        for p in &s.samples {
            if p.t % interval_ms != 0 || p.t < 0 {
                return Err(format!(
                    "{}: sample at {}ms is off the {interval_ms}ms grid",
                    s.labels, p.t
                ));
            }
            slots[(p.t / interval_ms) as usize] = series_value(p.v);
        }
        out.push_str(&format!(
            "      - series: {}\n        values: {}\n",
            yaml_quote(&s.labels.to_string()),
            yaml_quote(&slots.join(" "))
        ));
    }
    out.push_str("    promql_expr_test:\n");
    for c in cases {
        out.push_str(&format!(
            "      - expr: {}\n        eval_time: {}\n",
            yaml_quote(&c.expr),
            go_duration(c.at_ms)
        ));
    }
    Ok(out)
}

/// Go's `%q` of an ASCII string.
fn go_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Parses promtool's `got:` list: `{a="b"} 1.5E+00, {} 2E+00` or `nil`.
fn parse_got(s: &str) -> Result<Vec<Sample>, String> {
    let s = s.trim();
    if s == "nil" {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let open = rest
            .find('{')
            .ok_or_else(|| format!("no labels in {rest:?}"))?;
        let mut in_quote = false;
        let mut close = None;
        let mut escaped = false;
        for (i, c) in rest[open..].char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_quote = !in_quote,
                '}' if !in_quote => {
                    close = Some(open + i);
                    break;
                }
                _ => {}
            }
        }
        let close = close.ok_or_else(|| format!("unclosed labels in {rest:?}"))?;
        let labels = rest[..=close].to_string();
        let after = rest[close + 1..].trim_start();
        let end = after.find(", ").unwrap_or(after.len());
        let v: f64 = after[..end]
            .parse()
            .map_err(|_| format!("bad value {:?}", &after[..end]))?;
        out.push((labels, v));
        rest = after[end..].trim_start_matches(", ");
    }
    Ok(out)
}

/// Runs promtool on the file and returns its result for every case (an
/// unreported case got an empty result).
pub fn run_promtool(
    promtool: &Path,
    file_text: &str,
    cases: &[Case],
) -> Result<Vec<Result<Vec<Sample>, String>>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("canarysim_test.yml");
    std::fs::write(&path, file_text).map_err(|e| e.to_string())?;
    let out = Command::new(promtool)
        .arg("test")
        .arg("rules")
        .arg(&path)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", promtool.display()))?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut reported: BTreeMap<(String, String), Result<Vec<Sample>, String>> = BTreeMap::new();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("expr: ") else {
            continue;
        };
        let Some(split) = rest.rfind(", time: ") else {
            continue;
        };
        let expr = rest[..split].to_string();
        let tail = &rest[split + ", time: ".len()..];
        let (time, err) = match tail.split_once(", err: ") {
            Some((t, e)) => (t.to_string(), Some(e.to_string())),
            None => (tail.trim_end_matches(',').to_string(), None),
        };
        let result = match err {
            Some(e) => Err(e),
            None => {
                let got = lines
                    .get(i + 2)
                    .and_then(|l| l.strip_prefix("got: "))
                    .ok_or_else(|| format!("no `got:` after {line}"))?;
                parse_got(got)
            }
        };
        reported.insert((expr, time), result);
    }
    if !out.status.success() && reported.is_empty() {
        return Err(format!("promtool failed without results:\n{text}"));
    }
    Ok(cases
        .iter()
        .map(|c| {
            reported
                .remove(&(go_quote(&c.expr), go_duration(c.at_ms)))
                .unwrap_or(Ok(Vec::new()))
        })
        .collect())
}

/// Relative comparison at 1e-6 (NaN equals NaN).
fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a == b || (a - b).abs() <= 1e-6 * a.abs().max(b.abs())
}

/// Evaluates every case with our evaluator (default options, as a
/// Prometheus server) and with promtool; returns the disagreements and the
/// number of non-empty results compared.
pub fn compare_with_promtool(
    store: &SeriesStore,
    interval_ms: i64,
    cases: &[Case],
    promtool: &Path,
) -> Result<(Vec<String>, usize), String> {
    let file = rules_test_file(store, interval_ms, cases)?;
    let theirs = run_promtool(promtool, &file, cases)?;
    let mut problems = Vec::new();
    let mut compared = 0;
    for (c, theirs) in cases.iter().zip(theirs) {
        let at = go_duration(c.at_ms);
        let theirs = match theirs {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{} at {at}: promtool error {e}", c.expr));
                continue;
            }
        };
        let ours: Vec<Sample> = match Query::parse(&c.expr)
            .and_then(|q| q.instant(store, c.at_ms, &EvalOptions::default()))
        {
            Ok(Value::Vector(v)) => v.into_iter().map(|s| (s.labels.to_string(), s.v)).collect(),
            Ok(Value::Scalar(v)) => vec![("{}".to_string(), v)],
            Ok(other) => {
                problems.push(format!("{} at {at}: unexpected result {other:?}", c.expr));
                continue;
            }
            Err(e) => {
                problems.push(format!("{} at {at}: our error {e}", c.expr));
                continue;
            }
        };
        let theirs: BTreeMap<String, f64> = theirs.into_iter().collect();
        let ours_map: BTreeMap<String, f64> = ours.iter().cloned().collect();
        if theirs.keys().ne(ours_map.keys()) {
            problems.push(format!(
                "{} at {at}: series differ: promtool {:?}, ours {:?}",
                c.expr, theirs, ours_map
            ));
            continue;
        }
        for (labels, v) in &ours_map {
            compared += 1;
            if !close(*v, theirs[labels]) {
                problems.push(format!(
                    "{} at {at}: {labels} promtool {:e}, ours {v:e}",
                    c.expr, theirs[labels]
                ));
            }
        }
    }
    Ok((problems, compared))
}

/// promtool, or `None` after saying the test is skipped; with
/// `CANARYSIM_REQUIRE_PROMTOOL=1` (as CI sets it) a missing promtool fails.
pub fn promtool_or_skip() -> Option<PathBuf> {
    let found = promtool_path();
    if found.is_none() {
        assert!(
            std::env::var("CANARYSIM_REQUIRE_PROMTOOL").as_deref() != Ok("1"),
            "promtool not found (set PROMTOOL, or run scripts/setup.sh)"
        );
        eprintln!(
            "skipped: promtool not found; set CANARYSIM_REQUIRE_PROMTOOL=1 to make this fail"
        );
    }
    found
}

#[test]
fn evaluator_agrees_with_promtool_on_the_seed_queries() {
    let Some(promtool) = promtool_or_skip() else {
        return;
    };
    let run = SyntheticRun {
        pods: 3,
        duration_ms: 20 * 60_000,
        scrape_interval_ms: 15_000,
        seed: 7,
    };
    let store = checkout_store(&run);
    let canary = run
        .pods()
        .into_iter()
        .find(|p| p.restart_at_ms.is_some())
        .expect("the synthetic run restarts a canary pod");
    let queries = [
        r#"sum(rate(http_requests_total{service="checkout-canary",code=~"5.."}[2m])) / sum(rate(http_requests_total{service="checkout-canary"}[2m]))"#.to_string(),
        r#"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="checkout-canary"}[2m])))"#.to_string(),
        format!(r#"deriv(container_memory_working_set_bytes{{pod="{}"}}[5m])"#, canary.name),
        format!(r#"predict_linear(container_memory_working_set_bytes{{pod="{}"}}[10m], 3600)"#, canary.name),
        // Beyond the seed: staleness of the deleted pod, and a grouped rate.
        "count(container_memory_working_set_bytes)".to_string(),
        r#"sum by (service, code) (increase(http_requests_total[5m]))"#.to_string(),
    ];
    // 7s past a scrape: restart at 8m, deletion at 15m.
    let times = [187, 457, 502, 532, 592, 787, 907, 922, 982, 1192].map(|s| s * 1000);
    let cases: Vec<Case> = queries
        .iter()
        .flat_map(|q| {
            times.iter().map(|&at_ms| Case {
                expr: q.clone(),
                at_ms,
            })
        })
        .collect();
    let (problems, compared) =
        compare_with_promtool(&store, run.scrape_interval_ms, &cases, &promtool)
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        problems.is_empty(),
        "disagreements:\n{}",
        problems.join("\n")
    );
    // Every query gives a value at every time except the error ratio and
    // quantile right after the restart gap, so most cases carry a number.
    assert!(compared >= 50, "only {compared} values compared");
}

#[test]
fn got_lists_parse_with_commas_inside_labels() {
    let got = parse_got(r#"{a="x, y", b="}"} 3.3888888888888885E-01, {} NaN"#).unwrap();
    assert_eq!(got[0].0, r#"{a="x, y", b="}"}"#);
    assert_eq!(got[0].1, 0.33888888888888885);
    assert!(got[1].1.is_nan());
    assert_eq!(parse_got("nil").unwrap(), vec![]);
    assert_eq!(go_duration(187_000), "3m7s");
    assert_eq!(go_duration(3_600_000), "1h");
}

/// Whether every `http_*` series with samples in the window `(from, to]`
/// has its first live sample in the window's first 15 s scrape slot, i.e.
/// none begins inside the window.
fn counters_cover_window(store: &SeriesStore, from: i64, to: i64) -> bool {
    store
        .series()
        .iter()
        .filter(|s| {
            s.labels
                .metric_name()
                .is_some_and(|n| n.starts_with("http_"))
        })
        .all(|s| {
            match s
                .window(from, to)
                .iter()
                .find(|x| !canarysim::series::is_stale_nan(x.v))
            {
                None => true,
                Some(first) => first.t - from <= 15_000,
            }
        })
}

/// The series of a real simulated run, shifted so that the warm-up starts at
/// 0 (promtool's input series start there).
fn simulated_store() -> (SeriesStore, i64, String) {
    use canarysim::engine::Engine;
    use canarysim::rollout::policy::{Policy, Step};
    use canarysim::sim::SimDuration;
    // The flagship service with a canary that leaks fast enough to be
    // OOM-killed and restarted (counter resets, staleness) within the window.
    let text = crate::fixtures::flagship_base();
    let text = text.replace(
        r#"leak_per_request = "17.3Ki""#,
        r#"leak_per_request = "150Ki""#,
    );
    // Errors frequent enough that every pod's 5xx counters exist from its
    // first seconds, so few windows hold a series that begins inside them.
    let errors = "product = 0.03\nsearch = 0.03\ncart = 0.03\ncheckout = 0.03\norder = 0.03\n";
    let start = text.find("[versions.stable.errors]").unwrap() + "[versions.stable.errors]\n".len();
    let end = start + text[start..].find("\n\n").unwrap() + 1;
    let text = format!("{}{errors}{}", &text[..start], &text[end..]);
    // promtool reads `input_series` on one 15 s grid, so every target is
    // scraped at the multiples of the interval here (no per-target phases).
    let text = text.replacen(
        "[simulation]\n",
        "[simulation]\nscrape_offsets = \"aligned\"\n",
        1,
    );
    let sc = canarysim::scenario::load_str("fast-leak.toml", &text).unwrap();
    assert_eq!(
        sc.scrape_offsets,
        canarysim::scenario::ScrapeOffsets::Aligned
    );
    let policy = Policy::new("hold-at-20", vec![Step::SetWeight(20), Step::Pause(None)]);
    let mut engine = Engine::new(&sc, &policy, 5);
    engine.run_until(engine.rollout_start() + SimDuration::from_mins(14));
    let shift = engine.rollout_start().as_millis();
    let canary_hash = engine.template_hashes()[1].to_string();
    let mut store = SeriesStore::new();
    for s in engine.store().series() {
        let id = store.id(s.labels.clone());
        for p in &s.samples {
            store.push(id, p.t + shift, p.v);
        }
    }
    (store, shift, canary_hash)
}

#[test]
fn evaluator_agrees_with_promtool_on_a_simulated_run() {
    let Some(promtool) = promtool_or_skip() else {
        return;
    };
    let (store, shift, canary_hash) = simulated_store();
    let canary_pod = store
        .series()
        .iter()
        .filter(|s| s.labels.metric_name() == Some("container_memory_working_set_bytes"))
        .filter_map(|s| s.labels.get("pod"))
        .find(|p| p.contains(&canary_hash))
        .expect("a canary pod is scraped")
        .to_string();
    let restarted = store.series().iter().any(|s| {
        s.labels.metric_name() == Some("kube_pod_container_status_restarts_total")
            && s.samples.iter().any(|x| x.v >= 1.0)
    });
    assert!(
        restarted,
        "the fast leak OOM-kills the canary within the window"
    );
    let queries = [
        r#"sum(rate(http_requests_total{service="checkout-canary",code=~"5.."}[2m])) / sum(rate(http_requests_total{service="checkout-canary"}[2m]))"#.to_string(),
        r#"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="checkout-canary"}[2m])))"#.to_string(),
        format!(r#"deriv(container_memory_working_set_bytes{{pod="{canary_pod}"}}[5m])"#),
        format!(r#"predict_linear(container_memory_working_set_bytes{{pod="{canary_pod}"}}[10m], 3600)"#),
        r#"sum by (service, code) (increase(http_requests_total[5m]))"#.to_string(),
        r#"sum(kube_pod_container_status_restarts_total)"#.to_string(),
    ];
    // 7 s past a scrape, from 3 to 14 minutes into the rollout, where the
    // window holds no counter series that begins inside it: there Prometheus
    // 2.x (promtool) applies the zero cut-off before the average-interval
    // cap when extrapolating `rate`, and 3.x after it.
    let ranges_ms = [120_000, 120_000, 0, 0, 300_000, 0];
    let mut cases = Vec::new();
    for (q, range) in queries.iter().zip(ranges_ms) {
        for k in 0..12 {
            let at_ms = shift + (180 + 60 * k + 7) * 1000;
            if range == 0 || counters_cover_window(&store, at_ms - range, at_ms) {
                cases.push(Case {
                    expr: q.clone(),
                    at_ms,
                });
            }
        }
    }
    let (problems, compared) =
        compare_with_promtool(&store, 15_000, &cases, &promtool).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        problems.is_empty(),
        "disagreements:\n{}",
        problems.join("\n")
    );
    assert!(compared >= 40, "only {compared} values compared");
    for q in &queries[..2] {
        let n = cases.iter().filter(|c| &c.expr == q).count();
        assert!(n >= 6, "only {n} clean times for {q}");
    }
}
