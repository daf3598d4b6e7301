//! AnalysisRun rules, each test named after the rule or the pinned case of
//! argo-semantics.md §7 it checks, against a scripted provider host.

use canarysim::analysis::run::{assess_metric, failure_inconclusive_or_error};
use canarysim::analysis::{
    AnalysisPhase, Arg, DryRun, Measurement, MeasurementRetention, MetricResult, RunSpec,
    Templated, validate_metric,
};
use canarysim::sim::SimTime;

use crate::analysis_support::*;

use AnalysisPhase::*;

// ---- §7 case 1: interval ----

#[test]
fn case1_interval_60s_no_task_50s_after_one_task_61s_after() {
    let mut run = new_run(spec(vec![with_interval(
        prometheus("success-rate", "q"),
        60,
        Some(3),
    )]));
    let mut host = FakeHost::new().script("q", vec![scalar(1.0)]);
    let r = run.reconcile(secs(0), &mut host);
    assert_eq!(r.next_reconcile, Some(secs(60)));
    run.reconcile(secs(50), &mut host);
    assert_eq!(host.query_times("q"), vec![0.0]);
    run.reconcile(secs(61), &mut host);
    assert_eq!(host.query_times("q"), vec![0.0, 61.0]);
}

#[test]
fn next_measurement_is_interval_after_the_last_one_finished() {
    let mut run = new_run(spec(vec![with_interval(prometheus("m", "q"), 30, Some(3))]));
    let mut host = FakeHost::new().script("q", vec![scalar(1.0)]);
    let r = drive(&mut run, &mut host, secs(0), secs(1000));
    assert_eq!(r.phase, Successful);
    assert_eq!(host.query_times("q"), vec![0.0, 30.0, 60.0]);
    assert_eq!(run.completed_at(), Some(secs(60)));
}

// ---- §7 case 2: no count, no interval; failing sibling ----

#[test]
fn case2_no_count_no_interval_measures_once() {
    let mut run = new_run(spec(vec![prometheus("success-rate", "q")]));
    let mut host = FakeHost::new().script("q", vec![scalar(1.0)]);
    let r = run.reconcile(secs(0), &mut host);
    assert_eq!(r.phase, Successful);
    assert_eq!(r.next_reconcile, None);
    run.reconcile(secs(100), &mut host);
    assert_eq!(host.query_times("q"), vec![0.0]);
    assert_eq!(run.metric_result("success-rate").unwrap().count, 1);
}

#[test]
fn case2_failing_sibling_stops_new_measurements() {
    let mut failing = prometheus("latency", "lat");
    failing.success_condition = "result < 1".into();
    let mut run = new_run(spec(vec![
        with_interval(prometheus("success-rate", "q"), 10, Some(5)),
        failing,
    ]));
    let mut host = FakeHost::new()
        .script("q", vec![scalar(1.0)])
        .script("lat", vec![scalar(5.0)]);
    let r = run.reconcile(secs(0), &mut host);
    // The sibling wraps up one reconcile later, at the same instant.
    assert_eq!(r.phase, Running);
    assert_eq!(r.next_reconcile, Some(secs(0)));
    let r = run.reconcile(secs(0), &mut host);
    assert_eq!(r.phase, Failed);
    run.reconcile(secs(10), &mut host);
    assert_eq!(host.query_times("q"), vec![0.0]);
    assert_eq!(run.metric_result("success-rate").unwrap().phase, Successful);
}

// ---- §7 cases 3–7: assessMetricStatus ----

fn checked(
    count: Option<i64>,
    failure_limit: Option<i64>,
    inconclusive_limit: Option<i64>,
    consecutive_success_limit: Option<i64>,
) -> canarysim::analysis::CheckedMetric {
    let mut m = with_interval(prometheus("m", "q"), 60, count);
    m.failure_limit = failure_limit.map(Templated::Value);
    m.inconclusive_limit = inconclusive_limit.map(Templated::Value);
    m.consecutive_success_limit = consecutive_success_limit.map(Templated::Value);
    validate_metric(&m).unwrap()
}

fn result(last: AnalysisPhase) -> MetricResult {
    MetricResult {
        name: "m".into(),
        phase: Running,
        message: String::new(),
        dry_run: false,
        count: 0,
        successful: 0,
        failed: 0,
        inconclusive: 0,
        error: 0,
        consecutive_error: 0,
        consecutive_success: 0,
        measurements: vec![Measurement {
            started_at: SimTime::ZERO,
            finished_at: Some(SimTime::ZERO),
            phase: last,
            value: None,
            message: String::new(),
            resume_at: None,
            job: None,
        }],
        retention_limit: 10,
    }
}

#[test]
fn case3_failure_limit_is_strict_greater_than() {
    let mut r = result(Failed);
    r.failed = 3;
    r.count = 3;
    assert_eq!(
        assess_metric(&checked(None, Some(2), None, None), &r, false),
        Failed
    );
    assert_eq!(
        assess_metric(&checked(None, Some(3), None, None), &r, false),
        Running
    );
    assert_eq!(
        assess_metric(&checked(None, Some(3), None, None), &r, true),
        Successful
    );
}

#[test]
fn failure_limit_minus_one_disables_the_failure_check() {
    let mut r = result(Failed);
    r.failed = 50;
    r.count = 50;
    assert_eq!(
        assess_metric(&checked(None, Some(-1), None, Some(3)), &r, false),
        Running
    );
}

#[test]
fn case4_inconclusive_limit_is_strict_greater_than() {
    let mut r = result(Inconclusive);
    r.inconclusive = 3;
    r.count = 3;
    assert_eq!(
        assess_metric(&checked(None, None, Some(2), None), &r, false),
        Inconclusive
    );
    assert_eq!(
        assess_metric(&checked(None, None, Some(3), None), &r, false),
        Running
    );
}

#[test]
fn case5_fifth_consecutive_error_is_error_with_default_limit() {
    let mut r = result(AnalysisPhase::Error);
    r.error = 5;
    r.consecutive_error = 5;
    let m = checked(None, None, None, None);
    assert_eq!(assess_metric(&m, &r, false), AnalysisPhase::Error);
    r.error = 4;
    r.consecutive_error = 4;
    assert_eq!(assess_metric(&m, &r, false), Running);
}

#[test]
fn later_check_wins_error_over_inconclusive_over_failed() {
    let mut r = result(AnalysisPhase::Error);
    r.failed = 1;
    r.inconclusive = 1;
    let m = checked(None, None, None, None);
    assert_eq!(
        failure_inconclusive_or_error(&m, &r),
        (
            Some(Inconclusive),
            Some("inconclusive (1) > inconclusiveLimit (0)".to_string())
        )
    );
    r.consecutive_error = 5;
    assert_eq!(
        failure_inconclusive_or_error(&m, &r).0,
        Some(AnalysisPhase::Error)
    );
}

#[test]
fn case6_count_reached_successful_unless_inconclusive() {
    let m = checked(Some(10), None, None, None);
    let mut r = result(Successful);
    r.count = 10;
    r.successful = 10;
    assert_eq!(assess_metric(&m, &r, false), Successful);
    r.successful = 5;
    r.inconclusive = 5;
    assert_eq!(assess_metric(&m, &r, false), Inconclusive);
}

#[test]
fn case7_count_reached_with_both_limits_is_inconclusive_until_success_streak() {
    let m = checked(Some(10), Some(4), None, Some(4));
    let mut r = result(Successful);
    r.count = 10;
    r.failed = 4;
    r.successful = 6;
    r.consecutive_success = 3;
    assert_eq!(assess_metric(&m, &r, false), Inconclusive);
    r.consecutive_success = 4;
    assert_eq!(assess_metric(&m, &r, false), Successful);
}

#[test]
fn count_reached_with_only_success_limit_set_is_failed() {
    let m = checked(Some(5), Some(-1), None, Some(3));
    let mut r = result(Successful);
    r.count = 5;
    r.failed = 3;
    r.successful = 2;
    r.consecutive_success = 2;
    assert_eq!(assess_metric(&m, &r, false), Failed);
}

#[test]
fn consecutive_success_limit_succeeds_before_count() {
    let mut m = with_interval(prometheus("m", "q"), 10, Some(10));
    m.failure_limit = Some(Templated::Value(-1));
    m.consecutive_success_limit = Some(Templated::Value(3));
    let mut run = new_run(spec(vec![m]));
    let mut host = FakeHost::new().script("q", vec![scalar(1.0)]);
    let r = drive(&mut run, &mut host, secs(0), secs(1000));
    assert_eq!(r.phase, Successful);
    assert_eq!(host.query_times("q"), vec![0.0, 10.0, 20.0]);
}

#[test]
fn no_measurement_yet_is_pending_or_successful_when_terminating() {
    let m = checked(None, None, None, None);
    let mut r = result(Successful);
    r.measurements.clear();
    assert_eq!(assess_metric(&m, &r, false), Pending);
    assert_eq!(assess_metric(&m, &r, true), Successful);
}

#[test]
fn in_flight_measurement_is_running() {
    let m = checked(None, None, None, None);
    let mut r = result(Running);
    r.measurements[0].finished_at = None;
    r.failed = 9;
    assert_eq!(assess_metric(&m, &r, false), Running);
}

// ---- §7 case 8: run phase ----

#[test]
fn case8_run_is_running_until_every_metric_completes() {
    let mut run = new_run(spec(vec![
        prometheus("once", "a"),
        with_interval(prometheus("thrice", "b"), 30, Some(3)),
    ]));
    let mut host = FakeHost::new()
        .script("a", vec![scalar(1.0)])
        .script("b", vec![scalar(1.0)]);
    let r = run.reconcile(secs(0), &mut host);
    assert_eq!(run.metric_result("once").unwrap().phase, Successful);
    assert_eq!(r.phase, Running);
    let r = drive(&mut run, &mut host, secs(30), secs(1000));
    assert_eq!(r.phase, Successful);
    assert_eq!(run.completed_at(), Some(secs(60)));
}

#[test]
fn case8_run_takes_the_worst_metric_phase() {
    let mut bad = prometheus("bad", "b");
    bad.success_condition = "result < 1".into();
    let mut run = new_run(spec(vec![prometheus("good", "a"), bad]));
    let mut host = FakeHost::new()
        .script("a", vec![scalar(1.0)])
        .script("b", vec![scalar(2.0)]);
    let r = run.reconcile(secs(0), &mut host);
    assert_eq!(r.phase, Failed);
    assert_eq!(
        r.message,
        "Metric \"bad\" assessed Failed due to failed (1) > failureLimit (0)"
    );
}

// ---- §7 case 9: 10s after an error ----

#[test]
fn case9_next_reconcile_is_10s_after_an_error_even_with_interval_5m() {
    let mut run = new_run(spec(vec![with_interval(
        prometheus("m", "q"),
        300,
        Some(3),
    )]));
    let mut host = FakeHost::new().script("q", vec![Err("connection refused".into()), scalar(1.0)]);
    let r = run.reconcile(secs(0), &mut host);
    assert_eq!(r.next_reconcile, Some(secs(10)));
    assert_eq!(phases(&run, "m"), vec![AnalysisPhase::Error]);
    let r = run.reconcile(secs(10), &mut host);
    assert_eq!(r.next_reconcile, Some(secs(310)));
}

#[test]
fn errors_do_not_use_up_count() {
    let mut run = new_run(spec(vec![with_interval(prometheus("m", "q"), 30, Some(3))]));
    let mut host = FakeHost::new().script(
        "q",
        vec![scalar(1.0), Err("timeout".into()), scalar(1.0), scalar(1.0)],
    );
    let r = drive(&mut run, &mut host, secs(0), secs(1000));
    assert_eq!(r.phase, Successful);
    assert_eq!(host.query_times("q"), vec![0.0, 30.0, 40.0, 70.0]);
    let res = run.metric_result("m").unwrap();
    assert_eq!((res.count, res.error, res.successful), (3, 1, 3));
}

#[test]
fn a_success_resets_the_consecutive_error_counter() {
    let mut run = new_run(spec(vec![with_interval(prometheus("m", "q"), 10, Some(3))]));
    let mut answers: Vec<_> = (0..4).map(|_| Err("down".to_string())).collect();
    answers.push(scalar(1.0));
    answers.extend((0..4).map(|_| Err("down".to_string())));
    answers.push(scalar(1.0));
    answers.push(scalar(1.0));
    let mut host = FakeHost::new().script("q", answers);
    let r = drive(&mut run, &mut host, secs(0), secs(10_000));
    assert_eq!(r.phase, Successful);
    let res = run.metric_result("m").unwrap();
    assert_eq!((res.error, res.consecutive_error, res.count), (8, 0, 3));
}

// ---- §7 case 10: fast fail terminates siblings ----

fn locust_metric(name: &str) -> canarysim::analysis::Metric {
    canarysim::analysis::Metric::new(
        name,
        canarysim::analysis::MetricProvider {
            job: Some(canarysim::analysis::JobMetric {
                command: vec![
                    "locust".into(),
                    "--headless".into(),
                    "--host=http://checkout-canary.production.svc.cluster.local".into(),
                    "-u".into(),
                    "20".into(),
                    "-r".into(),
                    "5".into(),
                    "-t".into(),
                    "45s".into(),
                ],
                ..Default::default()
            }),
            ..Default::default()
        },
    )
}

#[test]
fn case10_sibling_failed_inconclusive_or_error_terminates_in_flight_job() {
    for sibling_phase in [Failed, Inconclusive, AnalysisPhase::Error] {
        let mut sibling = prometheus("sibling", "s");
        match sibling_phase {
            Failed => sibling.success_condition = "result < 1".into(),
            Inconclusive => {
                sibling.success_condition = "result < 1".into();
                sibling.failure_condition = "result > 10".into();
            }
            _ => {
                sibling.success_condition = "result[0] < 1".into();
                sibling.consecutive_error_limit = Some(Templated::Value(0));
            }
        }
        let mut run = new_run(spec(vec![locust_metric("locust"), sibling]));
        let mut host = FakeHost::new()
            .script("s", vec![scalar(5.0)])
            .jobs(vec![(dur(100), JobEnd::Exit(0))]);
        let r = drive(&mut run, &mut host, secs(0), secs(1000));
        assert_eq!(r.phase, sibling_phase, "{sibling_phase}");
        let locust = run.metric_result("locust").unwrap();
        assert_eq!(locust.phase, Inconclusive);
        assert_eq!(locust.message, "Metric Terminated");
        let m = &locust.measurements[0];
        assert_eq!((m.phase, m.finished_at), (Inconclusive, Some(secs(0))));
        assert_eq!(m.message, "Metric Terminated");
        assert_eq!(host.jobs[0].terminated_at, Some(secs(0)));
    }
}

// ---- §7 case 11: dry run ----

#[test]
fn case11_dry_run_failure_is_ignored_and_real_inconclusive_wins() {
    let mut real = prometheus("real", "r");
    real.success_condition = "result < 1".into();
    real.failure_condition = "result > 10".into();
    let mut shadow = prometheus("shadow", "s");
    shadow.success_condition = "result < 1".into();
    let mut s = spec(vec![real, shadow]);
    s.dry_run = vec![DryRun {
        metric_name: "shadow".into(),
    }];
    let mut run = new_run(s);
    let mut host = FakeHost::new()
        .script("r", vec![scalar(5.0)])
        .script("s", vec![scalar(5.0)]);
    let r = drive(&mut run, &mut host, secs(0), secs(100));
    assert_eq!(run.metric_result("shadow").unwrap().phase, Failed);
    assert_eq!(r.phase, Inconclusive);
    assert_eq!(
        r.message,
        "Metric \"real\" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)"
    );
}

#[test]
fn case11_only_dry_run_metrics_is_successful() {
    let mut shadow = prometheus("shadow", "s");
    shadow.success_condition = "result < 1".into();
    let mut s = spec(vec![shadow]);
    s.dry_run = vec![DryRun {
        metric_name: ".*".into(),
    }];
    let mut run = new_run(s);
    let mut host = FakeHost::new().script("s", vec![scalar(5.0)]);
    let r = drive(&mut run, &mut host, secs(0), secs(100));
    assert_eq!(r.phase, Successful);
    let shadow = run.metric_result("shadow").unwrap();
    assert_eq!(shadow.phase, Failed);
    assert_eq!(
        shadow.message,
        "Metric assessed Failed due to failed (1) > failureLimit (0)"
    );
}

#[test]
fn dry_run_failure_does_not_terminate_siblings() {
    let mut shadow = prometheus("shadow", "s");
    shadow.success_condition = "result < 1".into();
    let mut s = spec(vec![
        shadow,
        with_interval(prometheus("real", "r"), 30, Some(3)),
    ]);
    s.dry_run = vec![DryRun {
        metric_name: "^shadow$".into(),
    }];
    let mut run = new_run(s);
    let mut host = FakeHost::new()
        .script("s", vec![scalar(5.0)])
        .script("r", vec![scalar(0.0)]);
    let r = drive(&mut run, &mut host, secs(0), secs(1000));
    assert_eq!(r.phase, Successful);
    assert_eq!(host.query_times("r"), vec![0.0, 30.0, 60.0]);
}

#[test]
fn dry_run_rule_matching_no_metric_makes_the_run_error() {
    let mut s = spec(vec![prometheus("m", "q")]);
    s.dry_run = vec![DryRun {
        metric_name: "nothing".into(),
    }];
    let mut run = new_run(s);
    let r = run.reconcile(secs(0), &mut FakeHost::new());
    assert_eq!(r.phase, AnalysisPhase::Error);
    assert_eq!(
        r.message,
        "Analysis spec invalid: dryRun[0]: Rule didn't match any metric name(s)"
    );
}

// ---- §7 case 12 through the Prometheus provider ----

#[test]
fn case12_measurement_phase_follows_evaluate_result() {
    for (success, failure, want) in [
        ("false", "false", Inconclusive),
        ("true", "true", Failed),
        ("", "", Successful),
        ("false", "", Failed),
    ] {
        let mut m = prometheus("m", "q");
        m.success_condition = success.into();
        m.failure_condition = failure.into();
        let mut run = new_run(spec(vec![m]));
        let mut host = FakeHost::new().script("q", vec![scalar(1.0)]);
        run.reconcile(secs(0), &mut host);
        assert_eq!(phases(&run, "m"), vec![want], "{success:?}/{failure:?}");
    }
}

#[test]
fn non_bool_condition_is_a_measurement_error_not_a_failure() {
    let mut m = prometheus("m", "q");
    m.success_condition = "result[0] * 2".into();
    let mut run = new_run(spec(vec![m]));
    let mut host = FakeHost::new().script("q", vec![vector(&[0.5])]);
    run.reconcile(secs(0), &mut host);
    let res = run.metric_result("m").unwrap();
    assert_eq!(res.measurements[0].phase, AnalysisPhase::Error);
    assert!(
        res.measurements[0]
            .message
            .contains("expected bool, but got float64")
    );
    assert_eq!((res.failed, res.error), (0, 1));
}

#[test]
fn nan_result_with_both_conditions_is_inconclusive_and_prints_nan() {
    let mut m = prometheus("m", "q");
    m.success_condition = "result >= 0.9".into();
    m.failure_condition = "result < 0.9".into();
    let mut run = new_run(spec(vec![m]));
    let mut host = FakeHost::new().script("q", vec![scalar(f64::NAN)]);
    run.reconcile(secs(0), &mut host);
    let report = run.report(SimTime::ZERO);
    assert_eq!(report.measurements[0].phase, Inconclusive);
    assert_eq!(report.measurements[0].value_text.as_deref(), Some("NaN"));
    assert_eq!(report.measurements[0].value, serde_json::json!("NaN"));
}

#[test]
fn inf_result_passes_a_lower_bound_and_prints_plus_inf() {
    let mut m = prometheus("m", "q");
    m.success_condition = "result >= 0.9".into();
    let mut run = new_run(spec(vec![m]));
    let mut host = FakeHost::new().script("q", vec![scalar(f64::INFINITY)]);
    run.reconcile(secs(0), &mut host);
    let report = run.report(SimTime::ZERO);
    assert_eq!(report.measurements[0].phase, Successful);
    assert_eq!(report.measurements[0].value_text.as_deref(), Some("+Inf"));
}

#[test]
fn string_query_result_is_an_error() {
    let mut run = new_run(spec(vec![prometheus("m", "q")]));
    let mut host =
        FakeHost::new().script("q", vec![Ok(canarysim::promql::Value::String("x".into()))]);
    run.reconcile(secs(0), &mut host);
    let m = &run.metric_result("m").unwrap().measurements[0];
    assert_eq!(m.phase, AnalysisPhase::Error);
    assert_eq!(m.message, "Prometheus metric type not supported");
}

// ---- count, interval and initialDelay ----

#[test]
fn first_measurement_waits_for_initial_delay() {
    let mut m = with_interval(prometheus("m", "q"), 30, Some(2));
    m.initial_delay = Some(Templated::Text("1m".into()));
    let mut run = new_run(spec(vec![m]));
    let mut host = FakeHost::new().script("q", vec![scalar(1.0)]);
    let r = run.reconcile(secs(0), &mut host);
    assert_eq!((r.phase, r.next_reconcile), (Running, Some(secs(60))));
    assert!(host.queries.is_empty());
    let r = drive(&mut run, &mut host, secs(60), secs(1000));
    assert_eq!(r.phase, Successful);
    assert_eq!(host.query_times("q"), vec![60.0, 90.0]);
}

#[test]
fn interval_without_count_runs_until_terminated_then_successful() {
    let mut run = new_run(spec(vec![with_interval(prometheus("m", "q"), 60, None)]));
    let mut host = FakeHost::new().script("q", vec![scalar(1.0)]);
    let r = drive(&mut run, &mut host, secs(0), secs(600));
    assert_eq!(r.phase, Running);
    assert_eq!(host.query_times("q").len(), 11);
    let r = run.terminate(secs(630), &mut host);
    assert_eq!(r.phase, Successful);
    assert_eq!(r.message, "Run Terminated");
    assert_eq!(r.next_reconcile, None);
    assert_eq!(host.query_times("q").len(), 11);
}

#[test]
fn terminated_before_any_measurement_is_successful() {
    let mut m = prometheus("m", "q");
    m.initial_delay = Some(Templated::Value(dur(120)));
    let mut run = new_run(spec(vec![m]));
    let mut host = FakeHost::new();
    run.reconcile(secs(0), &mut host);
    let r = run.terminate(secs(10), &mut host);
    assert_eq!(
        (r.phase, r.message.as_str()),
        (Successful, "Run Terminated")
    );
    assert!(host.queries.is_empty());
}

#[test]
fn terminated_run_with_failures_within_limits_is_successful() {
    let mut m = with_interval(prometheus("m", "q"), 10, Some(10));
    m.success_condition = "result < 1".into();
    m.failure_limit = Some(Templated::Value(5));
    let mut run = new_run(spec(vec![m]));
    let mut host = FakeHost::new().script("q", vec![scalar(5.0)]);
    drive(&mut run, &mut host, secs(0), secs(25));
    let r = run.terminate(secs(25), &mut host);
    // failed (3) is within the limit of 5: the cut-off metric ends Successful.
    assert_eq!(r.phase, Successful);
    let mut m = with_interval(prometheus("m", "q"), 10, Some(10));
    m.success_condition = "result < 1".into();
    m.inconclusive_limit = Some(Templated::Value(5));
    m.failure_condition = "result > 100".into();
    let mut run = new_run(spec(vec![m]));
    drive(&mut run, &mut host, secs(0), secs(25));
    let r = run.terminate(secs(25), &mut host);
    assert_eq!(r.phase, Successful);
}

#[test]
fn terminating_a_completed_run_changes_nothing() {
    let mut m = prometheus("m", "q");
    m.success_condition = "result < 1".into();
    let mut run = new_run(spec(vec![m]));
    let mut host = FakeHost::new().script("q", vec![scalar(5.0)]);
    run.reconcile(secs(0), &mut host);
    let r = run.terminate(secs(10), &mut host);
    assert_eq!(r.phase, Failed);
    assert!(!run.terminate_requested());
    assert_eq!(run.completed_at(), Some(secs(0)));
}

#[test]
fn zero_interval_still_lets_time_move_on() {
    let mut run = new_run(spec(vec![with_interval(prometheus("m", "q"), 0, Some(3))]));
    let mut host = FakeHost::new().script("q", vec![scalar(1.0)]);
    let r = drive(&mut run, &mut host, secs(0), secs(100));
    assert_eq!(r.phase, Successful);
    assert_eq!(host.query_times("q"), vec![0.0, 1.0, 2.0]);
}

// ---- spec errors ----

#[test]
fn unresolved_arg_makes_the_run_error() {
    let mut s = spec(vec![prometheus("m", "up{service=\"{{args.svc}}\"}")]);
    s.args = vec![Arg::new("other", "x")];
    let mut run = new_run(s);
    let r = run.reconcile(secs(0), &mut FakeHost::new());
    assert_eq!(r.phase, AnalysisPhase::Error);
    assert_eq!(
        r.message,
        "Unable to resolve metric arguments: failed to resolve {{args.svc}}"
    );
    assert_eq!(run.completed_at(), Some(secs(0)));
}

#[test]
fn arg_without_value_makes_the_run_error() {
    let mut s = spec(vec![prometheus("m", "up")]);
    s.args = vec![Arg::required("svc")];
    let mut run = new_run(s);
    let r = run.reconcile(secs(0), &mut FakeHost::new());
    assert_eq!(r.phase, AnalysisPhase::Error);
    assert_eq!(
        r.message,
        "Unable to resolve metric arguments: argument \"svc\" was not supplied"
    );
}

#[test]
fn invalid_metric_makes_the_run_error_naming_metric_and_field() {
    let mut m = prometheus("error-rate", "q");
    m.count = Some(Templated::Value(5));
    let mut run = new_run(spec(vec![m]));
    let r = run.reconcile(secs(0), &mut FakeHost::new());
    assert_eq!(r.phase, AnalysisPhase::Error);
    assert_eq!(
        r.message,
        "Analysis spec invalid: metrics[0] \"error-rate\" (interval): interval must be specified when count > 1"
    );
}

// ---- measurement retention ----

#[test]
fn argo_keeps_ten_measurements_but_the_history_keeps_all() {
    let mut s = spec(vec![
        with_interval(prometheus("kept", "a"), 10, Some(12)),
        with_interval(prometheus("trimmed", "b"), 10, Some(12)),
    ]);
    s.measurement_retention = vec![MeasurementRetention {
        metric_name: "trim".into(),
        limit: 3,
    }];
    let mut run = new_run(s);
    let mut host = FakeHost::new()
        .script("a", vec![scalar(1.0)])
        .script("b", vec![scalar(1.0)]);
    let r = drive(&mut run, &mut host, secs(0), secs(1000));
    assert_eq!(r.phase, Successful);
    let kept = run.metric_result("kept").unwrap();
    assert_eq!((kept.measurements.len(), kept.retained().len()), (12, 10));
    assert_eq!(kept.retained()[0].started_at, secs(20));
    let trimmed = run.metric_result("trimmed").unwrap();
    assert_eq!(
        (trimmed.measurements.len(), trimmed.retained().len()),
        (12, 3)
    );
    assert_eq!(run.report(SimTime::ZERO).measurements.len(), 24);
}

// ---- RunSpec equality helper check ----

#[test]
fn run_spec_default_is_empty_and_an_empty_run_is_an_error() {
    let mut run = new_run(RunSpec::default());
    let r = run.reconcile(secs(0), &mut FakeHost::new());
    assert_eq!(r.phase, AnalysisPhase::Error);
    assert_eq!(r.message, "Analysis spec invalid: no metrics specified");
}
