//! The ingress-nginx controller's series, end to end: their labels, when a
//! label set appears, both traffic models, and what a gate on them sees of a
//! crash-looping canary that the application's own series miss.

use canarysim::engine::{Engine, Retention, run};
use canarysim::outcome::Verdict;
use canarysim::promql::{Value, instant_query};
use canarysim::report;
use canarysim::scenario::{Scenario, TrafficModel};
use canarysim::series::SeriesStore;
use canarysim::sim::SimDuration;
use canarysim::vfs::MemFiles;

use super::fixtures::load;

/// Four replicas at 50% (two canary pods), a GET and a POST endpoint, the
/// canary leaking `leak` a minute (none with "0Mi").
fn scenario(leak: &str, model: &str) -> Scenario {
    load(&scenario_text(leak, model))
}

fn scenario_text(leak: &str, model: &str) -> String {
    format!(
        r#"
schema = 1
name = "ingress"
[simulation]
warmup = "2m"
soak = "5m"
max_duration = "30m"
traffic_model = "{model}"
[rollout]
name = "svc"
replicas = 4
[pod]
requests = {{ cpu = "1", memory = "512Mi" }}
limits = {{ cpu = "1", memory = "1Gi" }}
[[endpoints]]
name = "get"
handler = "/"
[[endpoints]]
name = "order"
method = "POST"
handler = "/order"
success_code = 201
[traffic]
rate = 40
mix = {{ get = 3, order = 1 }}
[versions.stable]
memory = {{ baseline = "100Mi" }}
latency = {{ get = {{ dist = "exponential", mean = "20ms" }}, order = {{ dist = "exponential", mean = "20ms" }} }}
[versions.canary]
memory = {{ leak_per_minute = "{leak}" }}
[[policies]]
name = "hold"
steps = [ {{ setWeight = 50 }}, {{ pause = {{}} }} ]
"#
    )
}

fn vector(store: &SeriesStore, q: &str, at_ms: i64) -> Vec<(canarysim::series::Labels, f64)> {
    match instant_query(store, q, at_ms).unwrap() {
        Value::Vector(v) => v.into_iter().map(|s| (s.labels, s.v)).collect(),
        other => panic!("not a vector: {other:?}"),
    }
}

fn scalar(store: &SeriesStore, q: &str, at_ms: i64) -> f64 {
    vector(store, q, at_ms).first().map_or(0.0, |s| s.1)
}

#[test]
fn canary_requests_carry_the_stable_ingress_and_service_and_a_canary_label_socket_go() {
    // socket.go requestTags and monitor.lua: `ingress` and `service` come
    // from the main Ingress's location, so canary requests carry the stable
    // ones; only `canary` names the canary upstream, `<ns>-<svc>-<port>`
    // (controller/util.go upstreamName; ingress-nginx PR #7696).
    let sc = scenario("0Mi", "per-request");
    let out = run(&sc, &sc.policies[0], 1);
    let at = 20 * 60_000;
    let all = vector(&out.series, "nginx_ingress_controller_requests", at);
    assert!(!all.is_empty());
    for (l, _) in &all {
        assert_eq!(l.get("service"), Some(sc.rollout.stable_service.as_str()));
        assert_eq!(l.get("ingress"), Some(sc.rollout.ingress.as_str()));
        assert_eq!(l.get("namespace"), Some(sc.namespace.as_str()));
        assert_eq!(l.get("path"), Some("/"));
        assert!(
            l.get("controller_pod")
                .unwrap()
                .starts_with("ingress-nginx-controller-")
        );
        assert_eq!(l.get("controller_namespace"), Some("ingress-nginx"));
        assert!(l.get("host").is_some() && l.get("controller_class").is_some());
        if let Some(c) = l.get("canary") {
            assert_eq!(
                c,
                format!("{}-{}-80", sc.namespace, sc.rollout.canary_service)
            );
        }
    }
    let canary = scalar(
        &out.series,
        r#"sum(rate(nginx_ingress_controller_requests{canary!=""}[10m]))"#,
        at,
    );
    let total = scalar(
        &out.series,
        "sum(rate(nginx_ingress_controller_requests[10m]))",
        at,
    );
    assert!((total - 40.0).abs() < 2.0, "{total} req/s");
    assert!(
        (canary / total - 0.5).abs() < 0.05,
        "canary share {}",
        canary / total
    );
    // Statuses are per endpoint's method: the POST's 201, the GET's 200.
    let posts = vector(
        &out.series,
        r#"sum by (status) (nginx_ingress_controller_requests{method="POST"})"#,
        at,
    );
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].0.get("status"), Some("201"));
}

#[test]
fn a_series_is_created_on_first_use_getmetricwith() {
    // socket.go handleMessage calls GetMetricWith: a label set exists from
    // its first request on, so its first sample is already >= 1 and
    // increase() over a window holding its start misses what it counted
    // before its first scrape (world-fidelity.md §3).
    let sc = scenario("0Mi", "per-request");
    let out = run(&sc, &sc.policies[0], 2);
    let canary: Vec<_> = out
        .series
        .series()
        .iter()
        .filter(|s| {
            s.labels.get("__name__") == Some("nginx_ingress_controller_requests")
                && s.labels.get("canary").is_some()
        })
        .collect();
    assert!(!canary.is_empty());
    // The rollout starts at 2 m (warm-up): no canary series before it.
    for s in &canary {
        let first = s.samples.first().unwrap();
        assert!(
            first.t > 0,
            "a canary series before the rollout: {}",
            first.t
        );
        assert!(first.v >= 1.0, "first sample {}", first.v);
    }
    // No 5xx series at all: nothing failed, so none was created.
    let failed = vector(
        &out.series,
        r#"nginx_ingress_controller_requests{status=~"5.."}"#,
        20 * 60_000,
    );
    assert!(failed.is_empty(), "{failed:?}");
}

#[test]
fn a_gate_on_the_ingress_series_sees_a_crash_looping_canarys_502s_the_app_series_miss() {
    // Two canary pods leaking 2Gi a minute die within a minute of each
    // start. The app's own counters cannot count a request its container
    // died with, nor one refused; the ingress counts the status each client
    // got (socket.go), after its retries (GET only once sent: nginx's
    // non_idempotent rule).
    let sc = scenario("2Gi", "per-request");
    let out = run(&sc, &sc.policies[0], 3);
    let r = &out.result;
    assert!(r.oom_kills.len() >= 4, "{} kills", r.oom_kills.len());
    let at = (r.sim_duration_s * 1000.0) as i64 - 30_000;
    let gate = scalar(
        &out.series,
        r#"sum(increase(nginx_ingress_controller_requests{canary!="",status=~"5.."}[20m]))"#,
        at,
    );
    let app = scalar(
        &out.series,
        r#"sum(increase(http_requests_total{code=~"5.."}[20m]))"#,
        at,
    );
    assert!(
        gate >= 1.0,
        "the ingress gate sees the canary's 5xx: {gate}"
    );
    assert_eq!(app, 0.0, "the app's series show no 5xx");
    let counted = scalar(
        &out.series,
        r#"sum(nginx_ingress_controller_requests{canary!="",status=~"5.."})"#,
        at,
    );
    let failed = r.requests.canary.failed as f64;
    assert!(
        counted <= failed && counted >= 0.8 * failed,
        "the ingress counts what the canary's clients got: {counted} of {failed}"
    );
    // GETs are passed on after a reset, POSTs are not: a smaller share of
    // the GETs fails (both are passed on when refused).
    let ratio = |m: &str| {
        let q = |status: &str| {
            scalar(
                &out.series,
                &format!(
                    r#"sum(nginx_ingress_controller_requests{{canary!="",method="{m}",status=~"{status}"}})"#
                ),
                at,
            )
        };
        q("5..") / q(".*")
    };
    assert!(
        ratio("GET") < ratio("POST"),
        "{} vs {}",
        ratio("GET"),
        ratio("POST")
    );
}

#[test]
fn the_batched_model_produces_the_same_ingress_series_with_agreeing_rates() {
    let per_request = scenario("0Mi", "per-request");
    let mut batched = scenario("0Mi", "batched");
    batched.traffic_model = TrafficModel::Batched {
        batch: SimDuration::from_secs(1),
        soak_batch: batched.scrape_interval,
    };
    let a = run(&per_request, &per_request.policies[0], 4);
    let b = run(&batched, &batched.policies[0], 4);
    let at = 25 * 60_000;
    for family in [
        "nginx_ingress_controller_requests",
        "nginx_ingress_controller_request_duration_seconds_bucket",
        "nginx_ingress_controller_request_duration_seconds_count",
        "nginx_ingress_controller_response_duration_seconds_sum",
    ] {
        for side in [r#"canary="""#, r#"canary!="""#] {
            let q = format!("sum(rate({family}{{{side}}}[10m]))");
            let (x, y) = (scalar(&a.series, &q, at), scalar(&b.series, &q, at));
            assert!(x > 0.0 && y > 0.0, "{q}: {x} vs {y}");
            if !family.ends_with("_sum") {
                assert!((x / y - 1.0).abs() < 0.1, "{q}: {x} vs {y}");
            }
        }
    }
    let p90 = |store: &SeriesStore| {
        scalar(
            store,
            "histogram_quantile(0.9, sum by (le) (rate(nginx_ingress_controller_request_duration_seconds_bucket[10m])))",
            at,
        )
    };
    let (x, y) = (p90(&a.series), p90(&b.series));
    assert!((x / y - 1.0).abs() < 0.15, "p90 {x} vs {y}");
}

/// The scenario above with a canary that answers 10% of its requests with
/// 500 and leaks `leak` a minute, under two policies whose queries are
/// `query`: "gate", an analysis step at 50% that fails when the query's
/// first value reaches 5, and "watch", an operator who watches the query as
/// a panel (line at 5) before promoting.
fn gated(query: &str, leak: &str) -> Scenario {
    let toml = scenario_text(leak, "per-request").replace(
        "[versions.canary]\n",
        "[versions.canary]\nfault = \"answers 10% with 500\"\nerrors = { get = 0.1, order = 0.1 }\n",
    ) + &format!(
            r#"
[[policies]]
name = "gate"
manifests = ["gate.yaml"]
steps = [
  {{ setWeight = 50 }},
  {{ pause = {{ duration = "1m" }} }},
  {{ analysis = {{ templates = [ {{ templateName = "gate" }} ] }} }},
  {{ setWeight = 100 }},
]

[[policies]]
name = "watch"
steps = [ {{ setWeight = 50 }}, {{ pause = {{}} }}, {{ setWeight = 100 }} ]
[policies.operator]
promote_after = "6m"
look_every = "1m"
reaction = "30s"
panels = [ {{ name = "5xx", above = 5, query = '{query}' }} ]
"#
        );
    let yaml = format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: gate
spec:
  metrics:
    - name: five-xx
      interval: 30s
      count: 6
      failureLimit: 0
      successCondition: len(result) == 0 || result[0] < 5
      provider:
        prometheus:
          address: http://prometheus.monitoring:9090
          query: '{query}'
"#
    );
    let files = MemFiles::new()
        .with("gated.toml", toml)
        .with("gate.yaml", yaml);
    match canarysim::scenario::load_file(&files, std::path::Path::new("gated.toml")) {
        Ok(sc) => sc,
        Err(e) => panic!("{e}"),
    }
}

fn batched(mut sc: Scenario) -> Scenario {
    sc.traffic_model = TrafficModel::Batched {
        batch: SimDuration::from_secs(1),
        soak_batch: sc.scrape_interval,
    };
    sc
}

/// How many series named `name` the store holds.
fn named(store: &SeriesStore, name: &str) -> usize {
    store
        .series()
        .iter()
        .filter(|s| s.labels.get("__name__") == Some(name))
        .count()
}

#[test]
fn a_policy_whose_query_reads_an_ingress_series_records_them_with_the_full_runs_result() {
    // The run records the controller's series when a query can read them
    // (engine/retention.rs reads_ingress), so a run that keeps only its
    // queries' window decides exactly as one that keeps everything, which
    // records them always. The gate reads the canary's 500s at the ingress
    // (socket.go counts each client's final status); without them it would
    // read no data, pass, and promote the bad build.
    let query = r#"sum(increase(nginx_ingress_controller_requests{canary!="",status=~"5.."}[2m]))"#;
    for sc in [gated(query, "0Mi"), batched(gated(query, "0Mi"))] {
        for name in ["gate", "watch"] {
            let policy = sc.policy(name).unwrap();
            let full = Engine::with_retention(&sc, policy, 3, Retention::Full).run();
            let kept = Engine::with_retention(&sc, policy, 3, Retention::Queries).run();
            let json = |r| report::json(std::slice::from_ref(r));
            assert_eq!(
                json(&full.result),
                json(&kept.result),
                "{name} {:?}",
                sc.traffic_model
            );
            assert_eq!(
                kept.result.verdict,
                Verdict::Caught,
                "{name} {:?}: the 500s at the ingress abort the rollout",
                sc.traffic_model
            );
            assert!(named(&kept.series, "nginx_ingress_controller_requests") > 0);
        }
    }
}

#[test]
fn a_policy_whose_queries_cannot_read_the_ingress_series_skips_them_with_the_same_result() {
    // Only the recording is skipped (engine/retention.rs reads_ingress): the
    // retries of a crash-looping canary's requests, the balancer's picks and
    // the clients' tallies are the same, so the result is the same bytes as
    // a run that records everything. The controllers' `up`, which the query
    // cannot select either, is not stored (retention.rs recorded).
    let query = r#"sum(increase(http_requests_total{code=~"5.."}[2m]))"#;
    for sc in [gated(query, "2Gi"), batched(gated(query, "2Gi"))] {
        for name in ["gate", "watch", "hold"] {
            let policy = sc.policy(name).unwrap();
            let full = Engine::with_retention(&sc, policy, 3, Retention::Full).run();
            let kept = Engine::with_retention(&sc, policy, 3, Retention::Queries).run();
            let json = |r| report::json(std::slice::from_ref(r));
            assert_eq!(
                json(&full.result),
                json(&kept.result),
                "{name} {:?}",
                sc.traffic_model
            );
            assert!(full.result.oom_kills.len() >= 4);
            for family in [
                "nginx_ingress_controller_requests",
                "nginx_ingress_controller_request_duration_seconds_bucket",
                "nginx_ingress_controller_response_duration_seconds_count",
            ] {
                assert!(named(&full.series, family) > 0, "{family}");
                assert_eq!(named(&kept.series, family), 0, "{family}");
            }
            let up = |s: &SeriesStore| {
                vector(
                    s,
                    r#"up{job="ingress-nginx-controller-metrics"}"#,
                    (kept.result.sim_duration_s * 1000.0) as i64 - 30_000,
                )
                .len()
            };
            assert!(up(&full.series) > 0);
            assert_eq!(up(&kept.series), 0);
            // `hold` has no query at all: it stores nothing.
            let read = named(&kept.series, "http_requests_total");
            assert_eq!(read > 0, name != "hold", "{name}: {read} series");
            assert_eq!(kept.series.is_empty(), name == "hold", "{name}");
        }
    }
}

#[test]
fn every_series_the_controller_exports_but_up_is_one_the_gate_knows() {
    // The decision compares selectors with the names the controller's
    // counters feed (engine/ingress.rs SERIES_NAMES): a family added to the
    // scrape but not to that list would be skipped while a query reads it.
    let sc = scenario("2Gi", "per-request");
    let out = run(&sc, &sc.policies[0], 3);
    let mut names: Vec<&str> = out
        .series
        .series()
        .iter()
        .filter(|s| s.labels.get("job") == Some("ingress-nginx-controller-metrics"))
        .filter_map(|s| s.labels.get("__name__"))
        .filter(|n| *n != "up")
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 7, "{names:?}");
    for n in names {
        let sc = gated(n, "0Mi");
        let policy = sc.policy("gate").unwrap();
        let kept = Engine::with_retention(&sc, policy, 3, Retention::Queries);
        let out = kept.run();
        assert!(named(&out.series, n) > 0, "{n} is recorded when queried");
    }
}
