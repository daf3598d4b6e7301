//! The seed's templates as data (canary-error-rate, locust-canary-validation),
//! the job provider in simulated time, the judge provider, and the JSON
//! `analysis_runs` entries.

use canarysim::analysis::{
    AnalysisPhase, AnalysisTemplate, Arg, ArgSource, HashSource, JobMetric, JudgeMetric, Metric,
    MetricProvider, PodHashes, PrometheusMetric, RunArg, TemplateKind, TemplateSpec, Templated,
    build_run_args, new_run_spec,
};
use canarysim::judge::{Direction, MetricConfig};
use canarysim::sim::SimTime;
use canarysim::sim::rng::stream;

use crate::analysis_support::*;

use AnalysisPhase::*;

const ERROR_RATE_QUERY: &str = "sum(rate(http_requests_total{
service=\"{{args.canary-service}}\",
code=~\"5..\"}[2m]))
/
sum(rate(http_requests_total{
service=\"{{args.canary-service}}\"}[2m]))
";

/// The seed's `canary-error-rate` AnalysisTemplate.
pub(crate) fn canary_error_rate() -> AnalysisTemplate {
    AnalysisTemplate {
        name: "canary-error-rate".into(),
        kind: TemplateKind::Namespaced,
        spec: TemplateSpec {
            args: vec![Arg::required("canary-service")],
            metrics: vec![Metric {
                name: "error-rate".into(),
                interval: Some(Templated::Text("30s".into())),
                count: Some(Templated::Value(5)),
                success_condition: "result[0] < 0.01".into(),
                failure_limit: Some(Templated::Value(2)),
                provider: MetricProvider {
                    prometheus: Some(PrometheusMetric {
                        address: "http://prometheus.monitoring:9090".into(),
                        query: ERROR_RATE_QUERY.into(),
                    }),
                    ..MetricProvider::default()
                },
                ..Metric::default()
            }],
            ..TemplateSpec::default()
        },
    }
}

/// The seed's `locust-canary-validation` AnalysisTemplate.
pub(crate) fn locust_canary_validation() -> AnalysisTemplate {
    let env: Vec<(String, String)> = [
        (
            "TARGET_HOST",
            "http://{{args.canary-service}}.production.svc.cluster.local",
        ),
        ("USERS", "20"),
        ("SPAWN_RATE", "5"),
        ("RUN_TIME", "45s"),
        ("LOCUST_FILE", "checkout_flow.py"),
        (
            "PUSHGATEWAY_URL",
            "http://prometheus-pushgateway.monitoring:9091",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let script = "locust -f $LOCUST_FILE \\\n  --headless \\\n  --host=$TARGET_HOST \\\n  --users=$USERS \\\n  --spawn-rate=$SPAWN_RATE \\\n  --run-time=$RUN_TIME \\\n  --csv=/tmp/results \\\n  --exit-code-on-error 1\n# Push results to Prometheus\npython3 push_metrics.py \\\n  --csv=/tmp/results \\\n  --pushgateway=$PUSHGATEWAY_URL \\\n  --labels=\"service={{args.canary-service}},type=canary\"\n";
    AnalysisTemplate {
        name: "locust-canary-validation".into(),
        kind: TemplateKind::Namespaced,
        spec: TemplateSpec {
            args: vec![
                Arg::required("canary-service"),
                Arg::required("stable-service"),
            ],
            metrics: vec![Metric {
                name: "locust-validation".into(),
                interval: Some(Templated::Text("60s".into())),
                count: Some(Templated::Value(3)),
                failure_limit: Some(Templated::Value(1)),
                provider: MetricProvider {
                    job: Some(JobMetric {
                        image: "ghcr.io/acme/locust-suite:latest".into(),
                        env,
                        command: vec!["/bin/sh".into(), "-c".into(), script.into()],
                        backoff_limit: Some(0),
                    }),
                    ..MetricProvider::default()
                },
                ..Metric::default()
            }],
            ..TemplateSpec::default()
        },
    }
}

fn step2_args() -> Vec<Arg> {
    vec![
        Arg::new("canary-service", "checkout-canary"),
        Arg::new("stable-service", "checkout-stable"),
    ]
}

fn error_rate_run(name: &str) -> canarysim::analysis::AnalysisRun {
    let t = canary_error_rate();
    let spec = new_run_spec(&[&t], &step2_args(), &[], &[]).unwrap();
    canarysim::analysis::AnalysisRun::new(name, spec, SimTime::ZERO, stream(1, "analysis", 0))
        .with_step(Some(5))
}

#[test]
fn seed_error_rate_substitutes_the_canary_service_into_the_query() {
    let mut run = error_rate_run("r");
    let mut host = FakeHost::new().script("code=~\"5..\"", vec![vector(&[0.002])]);
    run.reconcile(secs(0), &mut host);
    let (query, _) = &host.queries[0];
    assert!(
        query.contains("service=\"checkout-canary\",\ncode=~\"5..\""),
        "{query}"
    );
    assert!(!query.contains("{{"), "{query}");
}

#[test]
fn seed_error_rate_five_good_measurements_30s_apart_succeed() {
    let mut run = error_rate_run("r");
    let mut host = FakeHost::new().script("code", vec![vector(&[0.002])]);
    let r = drive(&mut run, &mut host, secs(0), secs(1000));
    assert_eq!(r.phase, Successful);
    assert_eq!(host.query_times("code"), vec![0.0, 30.0, 60.0, 90.0, 120.0]);
}

#[test]
fn seed_error_rate_failure_limit_2_fails_on_the_third_failure() {
    let mut run = error_rate_run("r");
    let mut host = FakeHost::new().script("code", vec![vector(&[0.05])]);
    let r = drive(&mut run, &mut host, secs(0), secs(1000));
    assert_eq!(r.phase, Failed);
    assert_eq!(run.completed_at(), Some(secs(60)));
    assert_eq!(
        r.message,
        "Metric \"error-rate\" assessed Failed due to failed (3) > failureLimit (2)"
    );
}

#[test]
fn seed_error_rate_two_failures_then_successes_pass() {
    let mut run = error_rate_run("r");
    let mut host = FakeHost::new().script(
        "code",
        vec![vector(&[0.05]), vector(&[0.05]), vector(&[0.001])],
    );
    let r = drive(&mut run, &mut host, secs(0), secs(1000));
    assert_eq!(r.phase, Successful);
    assert_eq!(run.metric_result("error-rate").unwrap().failed, 2);
}

#[test]
fn empty_result_errors_every_10s_and_the_fifth_in_a_row_errors_the_run() {
    let mut run = error_rate_run("r");
    let mut host = FakeHost::new().script("code", vec![vector(&[])]);
    let r = drive(&mut run, &mut host, secs(0), secs(1000));
    assert_eq!(r.phase, Error);
    assert_eq!(host.query_times("code"), vec![0.0, 10.0, 20.0, 30.0, 40.0]);
    assert_eq!(run.completed_at(), Some(secs(40)));
    let detail = "could not evaluate successCondition \"result[0] < 0.01\": metric result is nil or empty: no data returned from the metric provider";
    let res = run.metric_result("error-rate").unwrap();
    assert!(
        res.measurements
            .iter()
            .all(|m| m.phase == Error && m.message == detail)
    );
    assert_eq!((res.count, res.error, res.consecutive_error), (0, 5, 5));
    assert_eq!(
        r.message,
        format!(
            "Metric \"error-rate\" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): \"Error Message: {detail}\""
        )
    );
}

#[test]
fn guarded_condition_turns_an_empty_result_into_failures_not_errors() {
    let mut t = canary_error_rate();
    t.spec.metrics[0].success_condition = "len(result) > 0 && result[0] < 0.01".into();
    let spec = new_run_spec(&[&t], &step2_args(), &[], &[]).unwrap();
    let mut run =
        canarysim::analysis::AnalysisRun::new("r", spec, SimTime::ZERO, stream(1, "analysis", 0));
    let mut host = FakeHost::new().script("code", vec![vector(&[])]);
    let r = drive(&mut run, &mut host, secs(0), secs(1000));
    assert_eq!(r.phase, Failed);
    assert_eq!(host.query_times("code"), vec![0.0, 30.0, 60.0]);
}

#[test]
fn seed_step3_without_args_cannot_build_a_run() {
    let (a, b) = (locust_canary_validation(), canary_error_rate());
    let e = new_run_spec(&[&a, &b], &[], &[], &[]).unwrap_err();
    assert_eq!(e.to_string(), "args.canary-service was not resolved");
}

#[test]
fn seed_step2_flattens_both_templates_into_one_run() {
    let (a, b) = (locust_canary_validation(), canary_error_rate());
    let spec = new_run_spec(&[&a, &b], &step2_args(), &[], &[]).unwrap();
    assert_eq!(
        spec.templates,
        vec!["locust-canary-validation", "canary-error-rate"]
    );
    let names: Vec<&str> = spec.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, vec!["locust-validation", "error-rate"]);
    assert_eq!(spec.args, step2_args());
}

#[test]
fn pod_template_hash_args_reach_the_query() {
    let mut t = canary_error_rate();
    t.spec.args.push(Arg::required("hash"));
    t.spec.metrics[0]
        .provider
        .prometheus
        .as_mut()
        .unwrap()
        .query =
        "up{rollouts_pod_template_hash=\"{{args.hash}}\",service=\"{{args.canary-service}}\"}"
            .into();
    let args = build_run_args(
        &[
            RunArg {
                name: "hash".into(),
                source: ArgSource::PodTemplateHash(HashSource::Latest),
            },
            RunArg {
                name: "canary-service".into(),
                source: ArgSource::Value("checkout-canary".into()),
            },
        ],
        &PodHashes {
            stable: Some("5f7c9".into()),
            latest: "8d2e1".into(),
        },
    )
    .unwrap();
    let spec = new_run_spec(&[&t], &args, &[], &[]).unwrap();
    let mut run =
        canarysim::analysis::AnalysisRun::new("r", spec, SimTime::ZERO, stream(1, "analysis", 0));
    let mut host = FakeHost::new().script("up", vec![vector(&[0.0])]);
    run.reconcile(secs(0), &mut host);
    assert_eq!(
        host.queries[0].0,
        "up{rollouts_pod_template_hash=\"8d2e1\",service=\"checkout-canary\"}"
    );
}

// ---- the job provider ----

fn locust_run() -> canarysim::analysis::AnalysisRun {
    let t = locust_canary_validation();
    let spec = new_run_spec(&[&t], &step2_args(), &[], &[]).unwrap();
    canarysim::analysis::AnalysisRun::new(
        "co-7c9-2-5",
        spec,
        SimTime::ZERO,
        stream(1, "analysis", 0),
    )
}

/// The poll after a job that ran `len` ends: Argo polls at most
/// √(2·elapsed) later (at least 1s here).
fn observed_within(finished: SimTime, job_end: SimTime, len: f64) -> bool {
    let lag = finished.as_secs_f64() - job_end.as_secs_f64();
    lag >= 0.0 && lag <= (2.0 * len).sqrt().max(1.0) + 1e-6
}

#[test]
fn job_measurement_takes_simulated_time_and_exit_codes_decide() {
    let mut run = locust_run();
    let mut host = FakeHost::new().jobs(vec![
        (dur(50), JobEnd::Exit(0)),
        (dur(50), JobEnd::Exit(1)),
        (dur(50), JobEnd::Exit(0)),
    ]);
    let r = drive(&mut run, &mut host, secs(0), secs(10_000));
    assert_eq!(r.phase, Successful);
    let ms = &run.metric_result("locust-validation").unwrap().measurements;
    let phases: Vec<AnalysisPhase> = ms.iter().map(|m| m.phase).collect();
    assert_eq!(phases, vec![Successful, Failed, Successful]);
    for (m, job) in ms.iter().zip(&host.jobs) {
        assert_eq!(m.started_at, job.started_at);
        let finished = m.finished_at.unwrap();
        assert!(observed_within(finished, job.ends_at, 50.0), "{finished:?}");
    }
    // The next job starts an interval (60s) after the previous measurement finished.
    assert_eq!(ms[1].started_at, ms[0].finished_at.unwrap() + dur(60));
    assert_eq!(ms[2].started_at, ms[1].finished_at.unwrap() + dur(60));
    assert_eq!(run.completed_at(), ms[2].finished_at);
    // The value is the exit code.
    assert_eq!(
        ms[1].value,
        Some(canarysim::condition::ResultValue::Number(1.0))
    );
    let names: Vec<&str> = host
        .jobs
        .iter()
        .map(|j| j.request.job_name.as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "co-7c9-2-5.locust-validation.1",
            "co-7c9-2-5.locust-validation.2",
            "co-7c9-2-5.locust-validation.3"
        ]
    );
    let locust = &host.jobs[0].request.locust;
    assert_eq!(
        locust.host.as_deref(),
        Some("http://checkout-canary.production.svc.cluster.local")
    );
    assert_eq!((locust.users, locust.spawn_rate), (20, 5.0));
    assert_eq!(locust.run_time, Some(dur(45)));
    assert_eq!(
        locust.push_labels,
        [
            ("service".to_string(), "checkout-canary".to_string()),
            ("type".to_string(), "canary".to_string())
        ]
    );
}

#[test]
fn job_failing_twice_fails_the_metric_with_failure_limit_1() {
    let mut run = locust_run();
    let mut host =
        FakeHost::new().jobs(vec![(dur(50), JobEnd::Exit(1)), (dur(50), JobEnd::Exit(1))]);
    let r = drive(&mut run, &mut host, secs(0), secs(10_000));
    assert_eq!(r.phase, Failed);
    assert_eq!(host.jobs.len(), 2);
    let done = run.completed_at().unwrap();
    assert!(
        observed_within(done, host.jobs[1].ends_at, 50.0),
        "{done:?}"
    );
}

#[test]
fn running_job_is_polled_at_growing_intervals() {
    let mut run = locust_run();
    let mut host = FakeHost::new().jobs(vec![(dur(50), JobEnd::Exit(0))]);
    let mut t = secs(0);
    let mut polls = Vec::new();
    for _ in 0..8 {
        let r = run.reconcile(t, &mut host);
        polls.push(t.as_secs_f64());
        t = r.next_reconcile.unwrap();
    }
    // Start at 0, resume at once, then wait max(1s, sqrt(2*elapsed)).
    assert_eq!(polls[..3], [0.0, 0.0, 1.0]);
    for w in polls[2..].windows(2) {
        let (a, b) = (w[0], w[1]);
        let want = (2.0 * a).sqrt().max(1.0);
        assert!((b - a - want).abs() < 1e-6, "{a} -> {b}, want +{want}");
    }
    assert!(
        run.metric_result("locust-validation").unwrap().measurements[0]
            .finished_at
            .is_none()
    );
}

#[test]
fn stuck_job_is_inconclusive() {
    let mut run = locust_run();
    let mut host = FakeHost::new().jobs(vec![(dur(50), JobEnd::Stuck("ErrImagePull".into()))]);
    let r = drive(&mut run, &mut host, secs(0), secs(10_000));
    assert_eq!(r.phase, Inconclusive);
}

#[test]
fn terminating_a_run_with_a_job_in_flight_makes_it_inconclusive() {
    let mut run = locust_run();
    let mut host = FakeHost::new().jobs(vec![(dur(50), JobEnd::Exit(0))]);
    drive(&mut run, &mut host, secs(0), secs(20));
    let r = run.terminate(secs(20), &mut host);
    assert_eq!(host.jobs[0].terminated_at, Some(secs(20)));
    let m = &run.metric_result("locust-validation").unwrap().measurements[0];
    assert_eq!((m.phase, m.finished_at), (Inconclusive, Some(secs(20))));
    assert_eq!(m.message, "Metric Terminated");
    // Argo's assessment counts the cut-off measurement as Inconclusive.
    assert_eq!(r.phase, Inconclusive);
}

#[test]
fn job_that_cannot_start_is_an_error_retried_after_10s() {
    let mut run = locust_run();
    let mut host = FakeHost::new(); // no job planned: start_job fails
    let r = run.reconcile(secs(0), &mut host);
    assert_eq!(r.next_reconcile, Some(secs(10)));
    let m = &run.metric_result("locust-validation").unwrap().measurements[0];
    assert_eq!((m.phase, m.message.as_str()), (Error, "no job planned"));
}

// ---- the judge provider ----

fn judge_run(direction: Direction) -> canarysim::analysis::AnalysisRun {
    let m = Metric {
        name: "latency-vs-stable".into(),
        provider: MetricProvider {
            judge: Some(JudgeMetric {
                canary_query: "canary_latency".into(),
                baseline_query: "stable_latency".into(),
                lookback: Some(Templated::Value(dur(300))),
                step: None,
                config: MetricConfig {
                    direction,
                    ..MetricConfig::default()
                },
            }),
            ..MetricProvider::default()
        },
        ..Metric::default()
    };
    canarysim::analysis::AnalysisRun::new(
        "j",
        spec(vec![m]),
        SimTime::ZERO,
        stream(1, "analysis", 0),
    )
}

fn spread(base: f64) -> Vec<f64> {
    (0..20).map(|i| base + f64::from(i % 7) * 0.01).collect()
}

#[test]
fn judge_fails_a_clearly_higher_canary_and_queries_the_lookback_window() {
    let mut run = judge_run(Direction::Increase);
    let (canary, stable) = (spread(2.0), spread(1.0));
    let mut host = FakeHost::new()
        .script("canary_latency", vec![matrix(&[&canary])])
        .script("stable_latency", vec![matrix(&[&stable])]);
    let r = run.reconcile(secs(600), &mut host);
    assert_eq!(r.phase, Failed);
    let m = &run.metric_result("latency-vs-stable").unwrap().measurements[0];
    assert!(m.message.starts_with("High"), "{}", m.message);
    let (_, start, end, step) = &host.range_queries[0];
    assert_eq!((*start, *end, *step), (secs(300), secs(600), dur(15)));
}

#[test]
fn judge_passes_a_canary_like_stable() {
    let mut run = judge_run(Direction::Either);
    let same = spread(1.0);
    let mut host = FakeHost::new()
        .script("canary_latency", vec![matrix(&[&same])])
        .script("stable_latency", vec![matrix(&[&same])]);
    let r = run.reconcile(secs(600), &mut host);
    assert_eq!(r.phase, Successful);
}

#[test]
fn judge_without_canary_data_is_an_error_retried_after_10s() {
    let mut run = judge_run(Direction::Either);
    let mut host = FakeHost::new()
        .script("canary_latency", vec![matrix(&[])])
        .script("stable_latency", vec![matrix(&[&spread(1.0)])]);
    let r = run.reconcile(secs(600), &mut host);
    assert_eq!(r.next_reconcile, Some(secs(610)));
    let m = &run.metric_result("latency-vs-stable").unwrap().measurements[0];
    assert_eq!(m.phase, Error);
    assert!(m.message.starts_with("Nodata"), "{}", m.message);
}

// ---- the JSON result ----

#[test]
fn every_measurement_appears_in_the_json_with_time_value_phase_and_message() {
    let mut run = error_rate_run("checkout-7c9-2-5");
    let mut host = FakeHost::new().script(
        "code",
        vec![
            vector(&[0.002]),
            Err("server error".into()),
            vector(&[0.003]),
        ],
    );
    let r = drive(&mut run, &mut host, secs(0), secs(1000));
    assert_eq!(r.phase, Successful);
    let json = serde_json::to_value(run.report(SimTime::ZERO)).unwrap();
    assert_eq!(json["name"], "checkout-7c9-2-5");
    assert_eq!(json["templates"], serde_json::json!(["canary-error-rate"]));
    assert_eq!(json["step"], 5);
    assert_eq!(json["phase"], "Successful");
    let ms = json["measurements"].as_array().unwrap();
    assert_eq!(ms.len(), 6);
    assert_eq!(
        ms[0],
        serde_json::json!({
            "metric": "error-rate", "t_s": 0.0, "finished_at_s": 0.0, "phase": "Successful",
            "value": [0.002], "value_text": "[0.002]", "message": null, "dry_run": false
        })
    );
    assert_eq!(ms[1]["t_s"], 30.0);
    assert_eq!(ms[1]["phase"], "Error");
    assert_eq!(ms[1]["value"], serde_json::Value::Null);
    assert_eq!(ms[1]["message"], "server error");
    assert_eq!(ms[2]["t_s"], 40.0);
    assert_eq!(ms[2]["value"], serde_json::json!([0.003]));
    let metric = &json["metrics"][0];
    assert_eq!(
        (metric["count"].as_i64(), metric["error"].as_i64()),
        (Some(5), Some(1))
    );
}

#[test]
fn job_retries_failed_pods_after_backoff_until_backoff_limit_job_controller_go() {
    // pkg/controller/job: a failed pod is replaced after 10 s, doubling per
    // failure (backoff_utils.go); the Job fails (BackoffLimitExceeded) only
    // when failed pods exceed spec.backoffLimit (job_controller.go). The
    // good flagship's hardened-fixed Locust Job fails on any failed request;
    // with backoffLimit 2 each Job gets three pods.
    let sc = canarysim::scenario::load_file(
        &crate::fixtures::Disk,
        std::path::Path::new("scenarios/checkout-good.toml"),
    )
    .unwrap();
    let mut policy = sc
        .policies
        .iter()
        .find(|p| p.name == "hardened-fixed")
        .unwrap()
        .clone();
    for t in &mut policy.templates {
        for m in &mut t.spec.metrics {
            if let Some(j) = &mut m.provider.job {
                j.backoff_limit = Some(2);
            }
        }
    }
    let r = canarysim::engine::run(&sc, &policy, 1).result;
    let pods = &r.locust_jobs;
    let mut retried = 0;
    let mut failed_jobs = 0;
    for first in pods.iter().filter(|j| !j.name.contains("-retry")) {
        let tries: Vec<_> = std::iter::once(first)
            .chain((1..).map_while(|k| {
                pods.iter()
                    .find(|j| j.name == format!("{}-retry{k}", first.name))
            }))
            .collect();
        for (k, pair) in tries.windows(2).enumerate() {
            assert_ne!(pair[0].job_exit_code, 0, "only a failed pod is replaced");
            let wait = pair[1].started_at_s - pair[0].ended_at_s;
            let expect = 10.0 * f64::from(1u32 << k);
            assert!(
                (wait - expect).abs() < 1e-6,
                "{}: waited {wait} s",
                pair[1].name
            );
            retried += 1;
        }
        let last = tries.last().unwrap();
        assert!(tries.len() <= 3, "{}: {} pods", first.name, tries.len());
        if last.job_exit_code != 0 {
            if tries.len() == 3 {
                failed_jobs += 1;
                assert!(
                    r.timeline.iter().any(|e| e.detail
                        == format!(
                            "Job {} failed: BackoffLimitExceeded (failed pods: 3, backoffLimit: 2)",
                            first.name
                        )),
                    "{}",
                    first.name
                );
            } else {
                // Still in its back-off when the run ended, or terminated.
                assert!(
                    r.timeline
                        .iter()
                        .all(|e| !e.detail.starts_with(&format!("Job {} failed", first.name)))
                );
            }
        }
    }
    assert!(retried > 0, "seed 1 has failed Locust pods to retry");
    // The measurement follows the Job, not its pods: a Job whose retry
    // succeeded is a Successful measurement.
    let failed_measurements: usize = r
        .analysis_runs
        .iter()
        .flat_map(|run| &run.measurements)
        .filter(|m| m.metric == "locust-validation" && m.phase == AnalysisPhase::Failed)
        .count();
    assert_eq!(failed_measurements, failed_jobs);
}

#[test]
fn a_locust_host_naming_no_service_of_its_namespace_fails_every_request() {
    // Cluster DNS answers NXDOMAIN for checkout-canry.production.svc…, so
    // the Locust run's requests all fail to connect (status 0) and its Job
    // fails; they used to be sent to the production ingress and pass.
    let sc = canarysim::scenario::load_file(
        &crate::fixtures::Disk,
        std::path::Path::new("scenarios/checkout-good.toml"),
    )
    .unwrap();
    let policy = sc
        .policies
        .iter()
        .find(|p| p.name == "hardened-fixed")
        .unwrap();
    let ok = canarysim::engine::run(&sc, policy, 1).result;
    let mut typo = policy.clone();
    for t in &mut typo.templates {
        for m in &mut t.spec.metrics {
            if let Some(j) = &mut m.provider.job {
                for (k, v) in &mut j.env {
                    if k == "TARGET_HOST" {
                        assert!(v.contains("{{args.canary-service}}"), "{v}");
                        *v = v.replace("{{args.canary-service}}", "checkout-canry");
                    }
                }
            }
        }
    }
    let r = canarysim::engine::run(&sc, &typo, 1).result;
    let first = |r: &canarysim::outcome::RunResult| r.locust_jobs.first().cloned().unwrap();
    assert_eq!(
        first(&ok).failures,
        0,
        "the good canary passes its load test"
    );
    let j = first(&r);
    assert!(j.requests > 0 && j.failures == j.requests, "{j:?}");
    assert_ne!(j.job_exit_code, 0);
}

/// The good flagship's hardened-fixed policy with its Locust script edited.
fn hardened_fixed_with_script(edit: impl Fn(&str) -> String) -> canarysim::outcome::RunResult {
    let sc = canarysim::scenario::load_file(
        &crate::fixtures::Disk,
        std::path::Path::new("scenarios/checkout-good.toml"),
    )
    .unwrap();
    let mut policy = sc
        .policies
        .iter()
        .find(|p| p.name == "hardened-fixed")
        .unwrap()
        .clone();
    let mut edited = 0;
    for t in &mut policy.templates {
        for m in &mut t.spec.metrics {
            if let Some(j) = &mut m.provider.job {
                let script = j.command.last_mut().unwrap();
                *script = edit(script);
                edited += 1;
            }
        }
    }
    assert!(edited > 0);
    canarysim::engine::run(&sc, &policy, 1).result
}

#[test]
fn a_flag_locust_refuses_fails_the_jobs_pods_not_the_rollout_spec() {
    // Locust's parser exits 2 on an unknown option; Argo still creates the
    // Job, whose pods fail and are retried, and the measurement is Failed.
    // The rollout used to be InvalidSpec at validation.
    let r = hardened_fixed_with_script(|s| s.replace("--headless", "--headless --bogus-flag"));
    assert_eq!(r.rollout.invalid_spec, None);
    let m = r
        .analysis_runs
        .iter()
        .flat_map(|run| &run.measurements)
        .find(|m| m.metric == "locust-validation")
        .expect("the Job was created");
    assert_eq!(m.phase, AnalysisPhase::Failed, "{m:?}");
    assert!(r.timeline.iter().any(|e| {
        e.detail
            .contains("exits 2 at start (locust: error: unrecognized arguments: --bogus-flag)")
    }));
    assert!(
        r.timeline.iter().any(|e| e
            .detail
            .contains("BackoffLimitExceeded (failed pods: 1, backoffLimit: 0)")),
        "the template's backoffLimit 0: the first failed pod fails the Job"
    );
    // Each Job's pod is in the report all the same: it started, sent
    // nothing and exited with Locust's 2, which failed its Job.
    assert!(!r.locust_jobs.is_empty());
    for j in &r.locust_jobs {
        assert_eq!(
            (j.requests, j.failures, j.locust_exit_code),
            (0, 0, 2),
            "{j:?}"
        );
        assert_eq!(j.started_at_s, j.ended_at_s, "{j:?}");
        assert_eq!(
            j.job_exit_code, 2,
            "the script exits with Locust's code: {j:?}"
        );
    }
}

#[test]
fn a_locust_without_headless_waits_in_its_web_ui_and_its_analysis_never_ends() {
    // Locust serves its web UI and waits for a start: its Job runs until
    // deleted, so the step's analysis stays Running. It used to run headless.
    let r = hardened_fixed_with_script(|s| s.replace("--headless", ""));
    assert_eq!(r.rollout.invalid_spec, None);
    assert!(r.locust_jobs.is_empty(), "no Locust run starts");
    assert!(
        r.analysis_runs
            .iter()
            .flat_map(|run| &run.measurements)
            .filter(|m| m.metric == "locust-validation")
            .all(|m| m.phase == AnalysisPhase::Running),
    );
    assert_eq!(r.rollout.promoted_at_s, None);
    assert!(
        r.timeline
            .iter()
            .any(|e| e.detail.contains("serves its web UI and waits"))
    );
}
