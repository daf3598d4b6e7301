//! The simulated world's rules seen end to end: no weight to a canary without
//! available pods,
//! the basic canary's split by pods, Pushgateway series, alert paging, `query`.

use canarysim::engine::{Engine, run};
use canarysim::series::is_stale_nan;
use canarysim::sim::SimDuration;

use super::fixtures::{flagship_base, load, scenario_text};

#[test]
fn a_canary_without_available_pods_gets_no_weight_trafficrouting_go() {
    // rollout/trafficrouting.go, reconcileTrafficRouting: "when newRS is not
    // available or replicas num is 0. never weight to canary". The canary
    // leaks 1Gi a minute: its one container dies within a minute of every
    // start and the kubelet's back-off keeps it down ever longer. Each kill
    // takes the weight to 0 at once, so only the requests inside the pod
    // when it died fail, and the stable side serves the rest.
    let sc = super::fixtures::leaking_canary(2, 20.0, "1Gi", 50);
    let r = run(&sc, &sc.policies[0], 1).result;
    assert!(r.oom_kills.len() >= 3, "{} kills", r.oom_kills.len());
    for kill in &r.oom_kills {
        assert!(
            r.timeline
                .iter()
                .any(|e| e.t_s == kill.t_s && e.detail == "canary weight set to 0%"),
            "the weight leaves the canary when it dies at {}",
            kill.t_s
        );
    }
    let canary = r.requests.canary;
    assert!(canary.total > 1000);
    assert!(
        (canary.failed as f64) < 0.01 * canary.total as f64,
        "{} of {} canary requests failed",
        canary.failed,
        canary.total
    );
    assert!(
        r.requests.stable.total > 10 * canary.total,
        "the stable side takes the canary's share while it is down"
    );
    assert_eq!(r.requests.stable.failed, 0, "the stable side is unaffected");
}

#[test]
fn basic_canary_splits_traffic_by_pods() {
    // No traffic routing: the ingress spreads over every ready pod, so a 40%
    // canary of 5 replicas (2 canary pods, 3 stable) takes ~2/5 of requests.
    let text = scenario_text(
        5,
        50.0,
        4.0,
        r#"
[versions.stable]
latency = { get = { dist = "constant", value = "5ms" } }
[versions.canary]
[[policies]]
name = "basic"
trafficRouting = false
steps = [ { setWeight = 40 }, { pause = {} } ]
"#,
    );
    let sc = load(&text);
    assert!(!sc.policies[0].traffic_routing);
    let r = run(&sc, &sc.policies[0], 2).result;
    let share =
        r.requests.canary.total as f64 / (r.requests.canary.total + r.requests.stable.total) as f64;
    assert!((share - 0.4).abs() < 0.02, "canary share {share}");
}

#[test]
fn a_finished_locust_job_is_in_prometheus_as_its_csv_files_hold_it() {
    use canarysim::rollout::policy::{AnalysisRef, Policy, Step};
    let sc = canarysim::scenario::load_str("checkout-leak.toml", &flagship_base()).unwrap();
    let mut p = Policy::new(
        "locust",
        vec![
            Step::SetWeight(20),
            Step::Analysis(AnalysisRef::with_values(
                &["locust-canary-validation"],
                &[
                    ("canary-service", "checkout-canary"),
                    ("stable-service", "checkout-stable"),
                ],
            )),
            Step::Pause(None),
        ],
    );
    p.templates = vec![super::analysis_seed::locust_canary_validation()];
    let mut engine = Engine::new(&sc, &p, 1);
    engine.run_until(engine.rollout_start() + SimDuration::from_mins(6));
    let ratio = engine
        .store()
        .series()
        .iter()
        .find(|s| {
            s.labels.metric_name() == Some("locust_requests_fail_ratio")
                && s.labels.get("service") == Some("checkout-canary")
                && s.labels.get("type") == Some("canary")
                && s.labels.get("job") == Some("locust")
        })
        .expect("the push is scraped with the Job's labels");
    let last = ratio.samples.last().unwrap();
    assert!(!is_stale_nan(last.v) && (0.0..=1.0).contains(&last.v));
    // A Pushgateway keeps the value: it is in every scrape after the push.
    assert!(ratio.samples.len() >= 4, "{} samples", ratio.samples.len());
}

#[test]
fn an_alert_that_holds_for_its_duration_pages_the_operator_who_undoes_the_promotion() {
    // A good-looking canary that fails 30% of checkouts after promotion is
    // rolled out with no analysis; an error-ratio alert with `for: 2m` pages
    // the operator, who runs undo five minutes later.
    let base = flagship_base();
    let text = base.replacen(
        "[versions.canary]\n",
        "[versions.canary]\nerrors = { checkout = 0.3, product = 0.3 }\n",
        1,
    ) + r#"
[[policies]]
name = "alerting"
steps = [ { setWeight = 100 } ]
rollbackWindow = { revisions = 3 }
[policies.operator]
respond_after = "5m"
alerts = [ { name = "HighErrorRatio", for = "2m", expr = 'sum(rate(http_requests_total{service="checkout-stable",code=~"5.."}[1m])) / sum(rate(http_requests_total{service="checkout-stable"}[1m])) > 0.05' } ]
"#;
    let text = text.replace("fault = \"", "fault = \"errors; ");
    let sc = match canarysim::scenario::load_str("alerting.toml", &text) {
        Ok(sc) => sc,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(sc.policies[0].rollback_window, Some(3));
    let r = run(&sc, &sc.policies[0], 1).result;
    let t = |kind: &str| r.timeline.iter().find(|e| e.kind == kind).map(|e| e.t_s);
    let promoted = r.rollout.promoted_at_s.expect("promoted");
    let paged = t("page").expect("paged");
    assert!(
        paged >= promoted + 120.0,
        "the alert must hold for 2m: paged {paged}, promoted {promoted}"
    );
    assert!(paged < promoted + 240.0, "paged {paged}");
    let undo = t("undo").expect("undo");
    assert_eq!(undo - paged, 300.0);
    let back = r
        .timeline
        .iter()
        .find(|e| e.kind == "promoted" && e.detail.contains("previous build"))
        .expect("within the rollback window the previous build is promoted at once");
    assert!(
        back.t_s - undo < 60.0,
        "rolled back {} s after undo",
        back.t_s - undo
    );
}

#[test]
fn query_prints_the_api_data_object_at_the_instant_and_rejects_bad_promql() {
    use assert_cmd::Command;
    let out = Command::cargo_bin("canarysim")
        .unwrap()
        .args([
            "query",
            "scenarios/checkout-leak.toml",
            "--policy",
            "manual",
            "--at",
            "3m",
            r#"sum by (service) (up{namespace="production"})"#,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(data["resultType"], "vector");
    let mut by_service: Vec<(String, String)> = data["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["value"][0], 180, "evaluated 3m after the rollout's start");
            (
                r["metric"]["service"].as_str().unwrap().to_string(),
                r["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    by_service.sort();
    // At 3m: 5 stable pods up, and the one canary pod (10%) behind the canary Service.
    assert_eq!(
        by_service,
        [
            ("checkout-canary".to_string(), "1".to_string()),
            ("checkout-stable".to_string(), "5".to_string())
        ]
    );
    Command::cargo_bin("canarysim")
        .unwrap()
        .args([
            "query",
            "scenarios/checkout-leak.toml",
            "--at",
            "3m",
            "sum(up",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot parse query `sum(up`"));
}

#[test]
fn out_dir_holds_each_locust_runs_four_csv_files() {
    use assert_cmd::Command;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    Command::cargo_bin("canarysim")
        .unwrap()
        .args([
            "run",
            "scenarios/checkout-good.toml",
            "--policy",
            "hardened-fixed",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let locust = out.join("locust").join("hardened-fixed");
    let mut names: Vec<String> = std::fs::read_dir(&locust)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert!(
        names.len() >= 4 && names.len().is_multiple_of(4),
        "{names:?}"
    );
    let stats = names
        .iter()
        .find(|n| n.ends_with(".locust-validation.1_stats.csv"))
        .expect("the first job's stats");
    let text = std::fs::read_to_string(locust.join(stats)).unwrap();
    assert!(
        text.starts_with("Type,Name,Request Count,Failure Count,"),
        "{text}"
    );
    assert!(text.contains(",Aggregated,"));
}

#[test]
fn toml_policies_take_the_canary_strategy_fields_as_argo_spells_them() {
    let text = scenario_text(
        4,
        10.0,
        4.0,
        r#"
[versions.stable]
latency = { get = { dist = "constant", value = "5ms" } }
[versions.canary]
[[policies]]
name = "basic"
trafficRouting = false
maxSurge = 1
maxUnavailable = "0%"
abortScaleDownDelaySeconds = 0
dynamicStableScale = false
minPodsPerReplicaSet = 2
rollbackWindow = { revisions = 2 }
analysis = { templates = [ { templateName = "bg" } ], startingStep = 1, args = [ { name = "svc", value = "x" } ] }
steps = [ { setWeight = 25 }, { pause = {} } ]
"#,
    );
    let sc = load(&text);
    let p = &sc.policies[0];
    assert!(!p.traffic_routing);
    assert_eq!(
        p.abort_scale_down_delay, None,
        "0 keeps the aborted canary up"
    );
    assert_eq!(p.min_pods_per_replica_set, Some(2));
    assert_eq!(p.rollback_window, Some(2));
    let bg = p.background.as_ref().unwrap();
    assert_eq!(
        (bg.starting_step, bg.analysis.templates[0].name.as_str()),
        (1, "bg")
    );
    let f = p.surge.resolve(4);
    assert_eq!((f.max_surge, f.max_unavailable), (1, 0));
    // Both fenceposts 0 is what Argo's validation rejects.
    let bad = text.replace("maxSurge = 1", "maxSurge = 0");
    let e = canarysim::scenario::load_str("t.toml", &bad).unwrap_err();
    assert!(e.to_string().contains("policies[0].maxSurge"), "{e}");
}

#[test]
fn a_crash_looping_pod_stays_a_target_and_its_up_reads_0_endpoints_go() {
    // world-fidelity.md §6: Prometheus's endpoints discovery keeps
    // `notReadyAddresses` as targets (discovery/kubernetes/endpoints.go,
    // `buildEndpoints`), and a failed scrape writes `up` 0
    // (`scrapeLoop.report`). So while a killed canary waits out its back-off
    // (§8) `min(up{service=canary})` reads 0, not nothing.
    use canarysim::promql::{Value, instant_query};
    let sc = super::fixtures::leaking_canary(2, 20.0, "1Gi", 50);
    let out = run(&sc, &sc.policies[0], 1);
    let kills: Vec<f64> = out
        .result
        .oom_kills
        .iter()
        .filter(|k| k.version == canarysim::model::Version::Canary)
        .map(|k| k.t_s)
        .collect();
    assert!(kills.len() >= 4, "{} kills", kills.len());
    let query = format!("min(up{{service=\"{}\"}})", sc.rollout.canary_service);
    let interval = sc.scrape_interval.as_millis() as f64 / 1000.0;
    let mut zeros = 0;
    // From the third kill on the back-off (20 s, 40 s, …) outlasts a scrape interval.
    for t in &kills[2..] {
        let at = ((t + interval + 2.0) * 1000.0) as i64;
        let v = instant_query(&out.series, &query, at).unwrap();
        let Value::Vector(v) = v else { panic!("{v:?}") };
        assert_eq!(v.len(), 1, "the crashed canary is still a target at {t} s");
        assert_eq!(v[0].v, 0.0, "up of the crashed canary at {t} s");
        zeros += 1;
    }
    assert!(zeros >= 2);
}

/// Two pods whose stable build has `memory`, and a policy that waits.
fn memory_scenario(memory: &str) -> String {
    scenario_text(
        2,
        20.0,
        4.0,
        &format!(
            r#"
[versions.stable]
memory = {{ {memory} }}
latency = {{ get = {{ dist = "constant", value = "10ms" }} }}
[versions.canary]
[[policies]]
name = "wait"
steps = [ {{ pause = {{}} }} ]
"#
        ),
    )
}

/// The stable pods' working-set samples (MiB) from the second minute on, per pod.
fn stable_working_sets(release: &str) -> Vec<Vec<f64>> {
    let sc = load(&memory_scenario(&format!(
        r#"baseline = "400Mi", gc_amplitude = "48Mi", gc_period = "40s", release = "{release}""#
    )));
    let mut engine = Engine::new(&sc, &sc.policies[0], 3);
    engine.run_until(engine.rollout_start() + SimDuration::from_mins(5));
    engine
        .store()
        .series()
        .iter()
        .filter(|s| s.labels.metric_name() == Some("container_memory_working_set_bytes"))
        .map(|s| {
            let first = s.samples[0].t;
            s.samples
                .iter()
                .filter(|x| x.t >= first + 60_000 && !is_stale_nan(x.v))
                .map(|x| x.v / 1_048_576.0)
                .collect()
        })
        .collect()
}

#[test]
fn a_go_services_working_set_keeps_its_gc_peak_and_only_at_gc_saws() {
    // world-fidelity.md §9: Go's scavenger keeps about heap goal + 10 %, so
    // after a collection the working set stays at the heap's last top; the
    // default `release = "retained"` follows it. `"at_gc"` is the sawtooth.
    let retained = stable_working_sets("retained");
    assert!(!retained.is_empty());
    for pod in &retained {
        assert!(pod.len() > 10);
        // No leak: flat at baseline + the sawtooth's height.
        assert!(pod.iter().all(|v| (v - 448.0).abs() < 0.01), "{pod:?}");
    }
    let at_gc = stable_working_sets("at_gc");
    for pod in &at_gc {
        let (lo, hi) = pod
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        assert!(lo >= 400.0 && hi <= 448.0, "{lo}..{hi}");
        assert!(hi - lo > 20.0, "the sawtooth: {lo}..{hi}");
    }
}

#[test]
fn memory_release_must_be_retained_or_at_gc() {
    let text = memory_scenario(r#"release = "sometimes""#);
    let e = canarysim::scenario::load_str("t.toml", &text)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("t.toml:"), "{e}");
    assert!(e.contains("`sometimes`") && e.contains("`at_gc`"), "{e}");
}

/// Identical builds at equal load behind the ingress: 4 stable pods and one
/// canary pod at 20%, so every pod gets 80 requests a second, 80% of its two
/// workers' capacity (20 ms exponential service). Returns the canary's p99
/// over stable's as a gate reads it from the histograms, and the same ratio
/// of mean latencies (`_sum / _count`, exact), averaged over the seeds.
fn latency_ratios(ingress: &str, seeds: std::ops::Range<u64>) -> (f64, f64) {
    use canarysim::promql::{Value, instant_query};
    let text = super::fixtures::scenario_text(
        4,
        400.0,
        2.0,
        &format!(
            r#"
[ingress]
{ingress}
[versions.stable]
latency = {{ get = {{ dist = "exponential", mean = "20ms" }} }}
[versions.canary]
[[policies]]
name = "hold"
steps = [ {{ setWeight = 20 }}, {{ pause = {{}} }} ]
"#
        ),
    )
    .replace("max_duration = \"2h\"", "max_duration = \"12m\"");
    let sc = load(&text);
    let (canary, stable) = (&sc.rollout.canary_service, &sc.rollout.stable_service);
    let p99 = |svc: &str| {
        format!(
            "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{service=\"{svc}\"}}[10m])))"
        )
    };
    let mean = |svc: &str| {
        format!(
            "sum(rate(http_request_duration_seconds_sum{{service=\"{svc}\"}}[10m])) / sum(rate(http_request_duration_seconds_count{{service=\"{svc}\"}}[10m]))"
        )
    };
    let queries = [
        format!("{} / {}", p99(canary), p99(stable)),
        format!("({}) / ({})", mean(canary), mean(stable)),
    ];
    let n = seeds.end - seeds.start;
    let mut sums = [0.0; 2];
    for seed in seeds {
        let out = run(&sc, &sc.policies[0], seed);
        let at = (out.result.sim_duration_s * 1000.0) as i64;
        for (q, sum) in queries.iter().zip(&mut sums) {
            match instant_query(&out.series, q, at).unwrap() {
                Value::Vector(v) if v.len() == 1 => *sum += v[0].v,
                v => panic!("{v:?}"),
            }
        }
    }
    (sums[0] / n as f64, sums[1] / n as f64)
}

#[test]
fn identical_builds_at_equal_load_read_a_latency_ratio_set_by_the_ingress_rotations() {
    // world-fidelity.md §1: a lone canary pod gets a Bernoulli thinning of
    // the ingress's Poisson stream (Poisson again), while each stable pod
    // gets every N-th request of each of the R·W worker rotations. One
    // rotation (the strict round robin canarysim had before) smooths the
    // stable pods' arrivals most; many rotations interleave into a stream
    // closer to Poisson, and the ratio moves towards 1.
    let strict = latency_ratios("replicas = 1\nworker_processes = 1", 1..11);
    let default = latency_ratios("", 1..11);
    let many = latency_ratios("replicas = 4\nworker_processes = 250", 1..11);
    eprintln!(
        "canary/stable (p99, mean): 1×1 {strict:.3?}, default 1×4 {default:.3?}, 4×250 {many:.3?}"
    );
    assert!(strict.1 > 1.2, "one rotation: mean ratio {}", strict.1);
    assert!(default.1 < strict.1 && many.1 < default.1);
    assert!((0.95..1.1).contains(&many.1), "1000 rotations: {}", many.1);
    assert!(many.0 <= strict.0, "p99: {} against {}", many.0, strict.0);
}

/// world-fidelity.md §4: cAdvisor labels a container's series with its
/// cgroup path (`id`) and container ID (`name`), so each container the
/// kubelet restarts is a new series; the pod's own cgroup is one more
/// series, with `container`, `image` and `name` blank, that lives as long
/// as the pod. Old container series linger with no staleness marker.
#[test]
fn a_restarted_container_is_a_new_cadvisor_series_and_the_pod_cgroup_outlives_it() {
    use canarysim::promql::{Value, instant_query};
    let sc = super::fixtures::leaking_canary(2, 20.0, "1Gi", 50);
    let out = run(&sc, &sc.policies[0], 1);
    let killed = &out
        .result
        .oom_kills
        .iter()
        .find(|k| k.version == canarysim::model::Version::Canary)
        .expect("the canary is OOM-killed")
        .pod;
    let kills = out
        .result
        .oom_kills
        .iter()
        .filter(|k| &k.pod == killed)
        .count();
    let of_pod: Vec<_> = out
        .series
        .series()
        .iter()
        .filter(|s| {
            s.labels.metric_name() == Some("container_memory_working_set_bytes")
                && s.labels.get("pod") == Some(killed.as_str())
        })
        .collect();
    let containers: Vec<_> = of_pod
        .iter()
        .filter(|s| s.labels.get("container").is_some())
        .collect();
    let cgroups: Vec<_> = of_pod
        .iter()
        .filter(|s| s.labels.get("container").is_none())
        .collect();
    assert_eq!(cgroups.len(), 1, "one pod cgroup series");
    let cgroup_id = cgroups[0].labels.get("id").unwrap();
    assert!(
        cgroup_id.starts_with("/kubepods/") && cgroup_id.contains("/pod"),
        "{cgroup_id}"
    );
    assert!(cgroups[0].labels.get("image").is_none() && cgroups[0].labels.get("name").is_none());
    // A container per start that was scraped running: the first and at
    // most one per kill.
    assert!(
        containers.len() >= 2 && containers.len() <= kills + 1,
        "{} container series for {kills} kills",
        containers.len()
    );
    let mut ids: Vec<&str> = containers
        .iter()
        .map(|s| s.labels.get("id").unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), containers.len(), "each container its own cgroup");
    for s in &containers {
        let id = s.labels.get("id").unwrap();
        let name = s.labels.get("name").unwrap();
        assert_eq!(
            id,
            format!("{cgroup_id}/{name}"),
            "id is the pod cgroup / the container ID"
        );
        assert_eq!(name.len(), 64);
        assert!(s.labels.get("image").is_some());
    }
    // A query without a container filter reads both: the pod's sum is
    // twice its container's while the container runs.
    let t = (out.result.oom_kills[0].t_s * 1000.0) as i64 - 30_000;
    let sum = |q: &str| -> f64 {
        let Value::Vector(v) = instant_query(&out.series, q, t).unwrap() else {
            panic!()
        };
        v.iter().map(|s| s.v).sum()
    };
    let sel = format!("pod=\"{}\"", out.result.oom_kills[0].pod);
    let all = sum(&format!("sum(container_memory_working_set_bytes{{{sel}}})"));
    let app = sum(&format!(
        "sum(container_memory_working_set_bytes{{{sel},container!=\"\"}})"
    ));
    assert!(app > 0.0);
    assert_eq!(
        all,
        2.0 * app,
        "without a container filter the pod counts twice"
    );

    // cAdvisor's samples are timestamped, so the old container's series
    // gets no staleness marker and lingers for the 5 m lookback: just
    // after the restart a pod has two container series
    // (google/cadvisor#2844), five minutes after its last sample one.
    let (old, new) = (containers[0], containers[1]);
    assert!(!old.samples.iter().any(|p| is_stale_nan(p.v)), "no marker");
    let last_old = old.samples.last().unwrap().t;
    let first_new = new.samples[0].t;
    assert!(first_new - last_old < 5 * 60_000);
    let count = |t: i64| -> usize {
        let q = format!("container_memory_working_set_bytes{{pod=\"{killed}\",container!=\"\"}}");
        let Value::Vector(v) = instant_query(&out.series, &q, t).unwrap() else {
            panic!()
        };
        v.len()
    };
    assert_eq!(count(first_new), 2, "the old container lingers");
    let gone = last_old + 5 * 60_000;
    if containers.len() == 2 || containers[2].samples[0].t > gone {
        assert_eq!(count(gone), 1, "five minutes on, only the new one");
    }
}
