//! Whole policies on the flagship service: analysis steps measuring the
//! simulated Prometheus, Locust jobs, aborts.

use canarysim::analysis::AnalysisPhase;
use canarysim::engine::run;
use canarysim::rollout::policy::{AnalysisRef, Policy, Step};
use canarysim::scenario::{self, Scenario};
use canarysim::sim::SimDuration;

use crate::analysis_seed::{canary_error_rate, locust_canary_validation};

fn flagship() -> Scenario {
    scenario::load_str("checkout-leak.toml", &crate::fixtures::flagship_base()).unwrap()
}

fn analysis(templates: &[&str], args: &[(&str, &str)]) -> Step {
    Step::Analysis(AnalysisRef::with_values(templates, args))
}

fn policy(steps: Vec<Step>) -> Policy {
    let mut p = Policy::new("test", steps);
    p.templates = vec![canary_error_rate(), locust_canary_validation()];
    p
}

#[test]
fn seed_error_rate_template_measures_the_canary_and_its_measurements_reach_the_json() {
    let sc = flagship();
    let p = policy(vec![
        Step::SetWeight(20),
        Step::Pause(Some(SimDuration::from_mins(2))),
        analysis(
            &["canary-error-rate"],
            &[("canary-service", "checkout-canary")],
        ),
        Step::SetWeight(100),
    ]);
    let out = run(&sc, &p, 1);
    let r = &out.result;
    assert_eq!(r.analysis_runs.len(), 1);
    let ar = &r.analysis_runs[0];
    assert_eq!(ar.phase, AnalysisPhase::Successful, "{ar:?}");
    assert_eq!(ar.step, Some(2));
    assert_eq!(ar.measurements.len(), 5, "count: 5");
    for (i, m) in ar.measurements.iter().enumerate() {
        let v = m.value.as_array().expect("a vector result is a list")[0]
            .as_f64()
            .unwrap();
        assert!((0.0..0.01).contains(&v), "error ratio {v}");
        if i > 0 {
            let gap = m.t_s - ar.measurements[i - 1].t_s;
            assert!((30.0..31.0).contains(&gap), "interval 30s, got {gap}");
        }
    }
    assert_eq!(
        r.verdict,
        canarysim::outcome::Verdict::Missed,
        "the error rate says nothing about a leak"
    );
    let json = canarysim::report::json(std::slice::from_ref(r));
    assert!(json.contains("\"metric\": \"error-rate\""));
}

#[test]
fn a_query_that_matches_nothing_errors_and_the_fifth_error_in_a_row_errors_the_run_and_aborts() {
    let sc = flagship();
    // The selector names a Service that does not exist: the vector is empty
    // and `result[0]` cannot be evaluated.
    let p = policy(vec![
        Step::SetWeight(20),
        analysis(
            &["canary-error-rate"],
            &[("canary-service", "checkout-canary-typo")],
        ),
        Step::SetWeight(100),
    ]);
    let out = run(&sc, &p, 1);
    let r = &out.result;
    let ar = &r.analysis_runs[0];
    let phases: Vec<AnalysisPhase> = ar.measurements.iter().map(|m| m.phase).collect();
    assert_eq!(phases, vec![AnalysisPhase::Error; 5]);
    let gaps: Vec<f64> = ar
        .measurements
        .windows(2)
        .map(|w| w[1].t_s - w[0].t_s)
        .collect();
    assert!(
        gaps.iter().all(|g| (10.0..11.0).contains(g)),
        "10 s after each error: {gaps:?}"
    );
    assert_eq!(ar.phase, AnalysisPhase::Error);
    assert_eq!(
        r.verdict,
        canarysim::outcome::Verdict::Caught,
        "an Error run aborts, whatever the release"
    );
    assert!(
        r.rollout
            .abort_reason
            .as_deref()
            .unwrap()
            .contains("Step-based analysis phase error/failed")
    );
    let aborted = r.rollout.aborted_at_s.unwrap();
    assert!((aborted - ar.measurements[4].t_s).abs() < 1.0);
}

#[test]
fn the_seed_locust_job_loads_the_canary_for_its_run_time() {
    let sc = flagship();
    let p = policy(vec![
        Step::SetWeight(20),
        analysis(
            &["locust-canary-validation"],
            &[
                ("canary-service", "checkout-canary"),
                ("stable-service", "checkout-stable"),
            ],
        ),
        Step::SetWeight(100),
    ]);
    let out = run(&sc, &p, 3);
    let r = &out.result;
    let ar = &r.analysis_runs[0];
    assert_eq!(ar.measurements.len(), 3, "count: 3");
    for m in &ar.measurements {
        let took = m.finished_at_s.unwrap() - m.t_s;
        assert!(
            (45.0..60.0).contains(&took),
            "a 45 s Locust run, polled: {took}"
        );
    }
    assert_eq!(out.locust.len(), 3);
    let (name, report) = &out.locust[0];
    assert!(name.ends_with(".locust-validation.1"), "{name}");
    let total = report.stats.total().num_requests;
    // 20 users, between(1, 3), ~11/9 requests per task: ~10 requests/s over
    // the ~41 s after spawning.
    assert!((250..700).contains(&total), "{total} requests");
}
