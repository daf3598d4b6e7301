//! Hostile input, class by class (issue 15): nesting that would overflow the
//! stack, numbers that would wrap, inputs whose cost has no bound, names that
//! would climb out of `--out`, and the unclear errors. Each test holds the
//! input that found the problem; the budgets are tested just inside (accepted)
//! and just past (a located error) each limit. Output failures and signals
//! are in `hostile_cli`.

use canarysim::condition::{self, ResultValue};
use canarysim::manifest::{self, SourceFile};
use canarysim::promql::limits::{MAX_NESTING, MAX_OPERATORS};
use canarysim::promql::promqltest;
use canarysim::promql::{EvalOptions, PromqlError, Query};
use canarysim::scenario;
use canarysim::series::{Labels, SeriesStore};
use proptest::prelude::*;

use crate::fixtures;

/// The fixtures' one-endpoint service with a stable build (`extra` starts
/// inside its table) and a canary build like it unless `extra` has one.
fn scenario_text(replicas: u32, rate: f64, workers_per_cpu: f64, extra: &str) -> String {
    let canary = if extra.contains("[versions.canary]") {
        ""
    } else {
        "\n[versions.canary]\n"
    };
    fixtures::scenario_text(
        replicas,
        rate,
        workers_per_cpu,
        &format!(
            "[versions.stable]\nlatency = {{ get = {{ dist = \"constant\", value = \"5ms\" }} }}\n{extra}{canary}"
        ),
    )
}

/// Runs `f` on a thread with `stack` bytes of stack, as a rayon worker or a
/// test thread would, and returns its result (a stack overflow aborts the
/// whole test binary, so reaching the assertion is the test).
fn on_stack<T: Send + 'static>(stack: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

fn store() -> SeriesStore {
    let mut s = SeriesStore::new();
    for pod in ["a", "b"] {
        let id = s.id(Labels::with_name("m", [("pod", pod)]));
        for i in 0..400 {
            s.push(id, i * 15_000, i as f64);
        }
    }
    s
}

fn scenario_error(text: &str) -> canarysim::diag::Diagnostic {
    match scenario::load_str("h.toml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.0,
    }
}

/// The line of `text` holding `needle`, 1-based.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect(needle) + 1
}

// ---- class 1: nesting deep enough to overflow a stack ----

#[test]
fn deeply_nested_promql_is_refused_with_a_column_even_on_a_small_stack() {
    let errors = on_stack(256 << 10, || {
        let abs = format!("{}1{}", "abs(".repeat(8000), ")".repeat(8000));
        let plus = vec!["1"; 20_001].join("+");
        [
            Query::parse(&abs).unwrap_err(),
            Query::parse(&plus).unwrap_err(),
        ]
    });
    match &errors[0] {
        PromqlError::TooComplex { column, what } => {
            assert_eq!(*column, 4 * MAX_NESTING + 4);
            assert!(what.contains("brackets"), "{what}");
        }
        other => panic!("{other}"),
    }
    assert!(
        errors[1].to_string().contains("more than 256 operators"),
        "{}",
        errors[1]
    );
}

#[test]
fn the_deepest_and_longest_query_allowed_evaluates_on_a_worker_sized_stack() {
    // 64 brackets deep (`abs(`, 62 × `-(`, the selector's braces) and 256
    // operators (62 minus signs, 194 plus signs): the most the limits allow.
    let inner = vec!["m{pod=\"a\"}"; MAX_OPERATORS - 62 + 1].join(" + ");
    let mut q = inner;
    for _ in 0..MAX_NESTING - 2 {
        q = format!("-({q})");
    }
    let q = format!("abs({q})");
    let value = on_stack(2 << 20, move || {
        let query = Query::parse(&q).expect("within the limits");
        query.instant(&store(), 60_000, &EvalOptions::default())
    });
    let canarysim::promql::Value::Vector(v) = value.unwrap() else {
        panic!("a vector")
    };
    assert_eq!(v[0].v, 4.0 * (MAX_OPERATORS - 61) as f64);
}

#[test]
fn deeply_nested_conditions_are_syntax_errors_not_crashes() {
    let texts = [
        format!("{}true{}", "(".repeat(5000), ")".repeat(5000)),
        vec!["true"; 50_000].join(" && "),
        format!("{}true", "!".repeat(10_000)),
        format!("{}0{}", "result[".repeat(3000), "]".repeat(3000)),
    ];
    for text in texts {
        let err = on_stack(256 << 10, move || condition::check(&text).unwrap_err());
        let message = err.to_string();
        assert!(message.starts_with("syntax error: column "), "{message}");
    }
}

#[test]
fn the_deepest_condition_allowed_evaluates_on_a_worker_sized_stack() {
    let cond = format!(
        "{}len(result) > 0 && result[0] < 1{}",
        "(".repeat(condition::limits::MAX_NESTING - 1),
        ")".repeat(condition::limits::MAX_NESTING - 1)
    );
    let long = vec!["result[0] < 1"; 100].join(" && ");
    let ok = on_stack(2 << 20, move || {
        (
            condition::eval_condition(&ResultValue::Numbers(vec![0.5]), &cond),
            condition::eval_condition(&ResultValue::Numbers(vec![0.5]), &long),
        )
    });
    assert_eq!(ok.0, Ok(true));
    assert_eq!(ok.1, Ok(true));
}

#[test]
fn a_deep_panel_query_in_a_scenario_is_a_located_error() {
    let deep = format!("{}up{}", "abs(".repeat(8000), ")".repeat(8000));
    let text = scenario_text(
        2,
        5.0,
        4.0,
        &format!(
            "[[policies]]\nname = \"watch\"\nsteps = [ {{ setWeight = 10 }}, {{ pause = {{}} }} ]\n[policies.operator]\npromote_after = \"5m\"\n[[policies.operator.panels]]\nname = \"p\"\nquery = \"{deep}\"\nabove = 1\n"
        ),
    );
    let e = scenario_error(&text);
    assert_eq!(e.location.line, line_of(&text, "query = "));
    assert!(e.message.contains("too complex"), "{}", e.message);
}

#[test]
fn a_deep_success_condition_in_a_manifest_is_a_lint_error() {
    let text = std::fs::read_to_string("tests/data/manifests/lint/clean.yaml").unwrap();
    let deep = format!("{}true{}", "(".repeat(5000), ")".repeat(5000));
    let text = text.replace(
        "successCondition: len(result) > 0 && result[0] < 0.8",
        &format!("successCondition: \"{deep}\""),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.yaml");
    std::fs::write(&path, &text).unwrap();
    let report = canarysim::lint::lint_paths(
        &fixtures::Disk,
        &[path],
        &canarysim::lint::LintOptions::default(),
    );
    let f = report
        .findings
        .iter()
        .find(|f| f.kind == canarysim::lint::Kind::Condition)
        .unwrap_or_else(|| panic!("{:#?}", report.findings));
    assert_eq!(
        f.diagnostic.location.line,
        line_of(&text, "successCondition")
    );
    assert!(f.diagnostic.message.contains("brackets"), "{f}");
    assert_eq!(report.exit_code(), 1);
}

// ---- class 2 and 3: numbers that wrapped ----

fn with_pod(requests: &str, limits: &str, extra: &str) -> String {
    scenario_text(2, 5.0, 4.0, extra).replace(
        "requests = { cpu = \"1\", memory = \"512Mi\" }\nlimits = { cpu = \"1\", memory = \"1Gi\" }",
        &format!("requests = {requests}\nlimits = {limits}"),
    )
}

#[test]
fn memory_and_cpu_past_their_limits_are_located_errors_not_wraps() {
    for (limits, needle) in [
        ("{ cpu = \"1\", memory = 1e308 }", "more than 1Pi"),
        ("{ cpu = \"1\", memory = \"30000000Ti\" }", "more than 1Pi"),
        (
            "{ cpu = 18446744073709552, memory = \"1Gi\" }",
            "more than 1000 cores",
        ),
        (
            "{ cpu = \"1000001m\", memory = \"1Gi\" }",
            "more than 1000 cores",
        ),
    ] {
        let text = with_pod("{ cpu = \"1\", memory = \"512Mi\" }", limits, "");
        let e = scenario_error(&text);
        assert_eq!(e.location.line, line_of(&text, "limits = "), "{limits}");
        assert!(e.message.contains(needle), "{limits}: {}", e.message);
    }
}

#[test]
fn the_largest_memory_limit_with_a_tiny_leak_still_ends_its_run() {
    // A limit the leak never reaches: the next memory check lies beyond the
    // end of time, which must saturate rather than wrap back to now.
    let text = with_pod(
        "{ cpu = \"1\", memory = \"512Mi\" }",
        "{ cpu = \"1\", memory = \"1024Ti\" }",
        "[versions.canary]\nfault = \"leak\"\nmemory = { leak_per_minute = \"1\" }\n[[policies]]\nname = \"hold\"\nsteps = [ { setWeight = 50 }, { pause = { duration = \"10m\" } } ]\n",
    );
    let text = text.replace("max_duration = \"2h\"", "max_duration = \"30m\"");
    let sc = fixtures::load(&text);
    let out = canarysim::engine::run(&sc, &sc.policies[0], 1);
    assert!(out.result.sim_duration_s <= 30.0 * 60.0 + 1.0);
    assert!(out.result.events > 0);
}

#[test]
fn durations_past_a_year_are_located_errors() {
    for (from, to) in [
        ("max_duration = \"2h\"", "max_duration = 18446744073710"),
        ("max_duration = \"2h\"", "max_duration = \"53w\""),
        ("warmup = \"1m\"", "warmup = 9223372036854775807"),
    ] {
        let text = scenario_text(2, 5.0, 4.0, "").replace(from, to);
        let e = scenario_error(&text);
        assert_eq!(e.location.line, line_of(&text, to), "{to}");
        assert!(
            e.message.contains("longer than 365d"),
            "{to}: {}",
            e.message
        );
    }
    // Just inside: a year's max_duration is a valid value (the sample budget
    // then decides; here it is far below it at one replica scraped each hour).
    let text = scenario_text(1, 0.001, 4.0, "").replace(
        "max_duration = \"2h\"",
        "max_duration = \"52w1d\"\nscrape_interval = \"1h\"",
    );
    fixtures::load(&text);
}

/// The clean manifest set with `from` replaced by `to`, loaded.
fn clean_manifest_with(from: &str, to: &str) -> (String, manifest::ManifestSet) {
    let text = std::fs::read_to_string("tests/data/manifests/lint/clean.yaml").unwrap();
    assert!(text.contains(from), "{from}");
    let text = text.replace(from, to);
    let set = manifest::load(vec![SourceFile {
        label: "h.yaml".into(),
        text: text.clone(),
    }])
    .expect("valid YAML");
    (text, set)
}

#[test]
fn a_pause_near_two_to_the_63_seconds_is_a_located_problem() {
    let (text, set) = clean_manifest_with(
        "- setWeight: 100",
        "- pause: { duration: 9223372036854775807 }\n        - setWeight: 100",
    );
    let p = set
        .problems
        .iter()
        .find(|p| p.message.contains("longer than 365d"))
        .unwrap_or_else(|| panic!("{:#?}", set.problems));
    assert_eq!(p.location.line, line_of(&text, "9223372036854775807"));
    // Just inside: a year.
    let (_, set) = clean_manifest_with(
        "- setWeight: 100",
        "- pause: { duration: 31536000 }\n        - setWeight: 100",
    );
    assert!(set.problems.is_empty(), "{:?}", set.problems);
}

// ---- class 4: inputs whose cost had no bound ----

#[test]
fn the_sample_budget_refuses_a_thousand_replica_flagship_and_accepts_what_fits() {
    // Just past: the flagship service (five endpoints, 12 h) at 1000 replicas.
    let flagship = fixtures::flagship_base();
    let text = flagship.replace("replicas = 5", "replicas = 1000");
    assert_ne!(text, flagship);
    let e = scenario_error(&text);
    assert!(
        e.message.contains("more than the budget of 60000000"),
        "{}",
        e.message
    );
    assert!(e.hint.contains("rollout.replicas"), "{}", e.hint);
    assert_eq!(e.location.line, line_of(&text, "[simulation]"));
    // The edge, in scrape intervals, for 1000 replicas of a one-endpoint
    // service over 2 h 1 m: samples = 2 × 1000 pods × series × (span / interval + 1).
    let base = scenario_text(1000, 60.0, 4.0, "");
    let per_scrape = 2 * 1000 * scenario::series_per_pod(1);
    let scrapes_allowed = scenario::MAX_SAMPLES / per_scrape;
    let span_s: u64 = 121 * 60;
    let inside_s = span_s.div_ceil(scrapes_allowed - 1);
    let with_interval = |s: u64| {
        base.replace(
            "[simulation]",
            &format!("[simulation]\nscrape_interval = \"{s}s\""),
        )
    };
    let sc = fixtures::load(&with_interval(inside_s));
    assert!(scenario::estimated_samples(&sc) <= scenario::MAX_SAMPLES);
    assert!(per_scrape * (span_s / (inside_s - 1) + 1) > scenario::MAX_SAMPLES);
    let e = scenario_error(&with_interval(inside_s - 1));
    assert!(e.message.contains("budget"), "{}", e.message);
}

#[test]
fn set_canary_scale_counts_toward_the_sample_budget() {
    // Five replicas of the flagship fit; scaling the canary to 1000 does not.
    let policy = |n: u32| {
        format!(
            "[[policies]]\nname = \"scale\"\nsteps = [ {{ setCanaryScale = {{ replicas = {n} }} }}, {{ setWeight = 10 }} ]\n"
        )
    };
    let base = fixtures::flagship_base();
    let text = format!("{base}{}", policy(1000));
    let e = scenario_error(&text);
    assert!(
        e.message.contains("setCanaryScale to 1000 replicas"),
        "{}",
        e.message
    );
    assert_eq!(
        e.location.line,
        line_of(&text, "steps = [ { setCanaryScale")
    );
    fixtures::load(&format!("{base}{}", policy(5)));
}

#[test]
fn a_millisecond_scrape_interval_or_a_year_of_warm_up_is_refused_before_the_run() {
    let text = scenario_text(2, 5.0, 4.0, "")
        .replace("[simulation]", "[simulation]\nscrape_interval = \"1ms\"");
    let e = scenario_error(&text);
    assert!(
        e.message
            .contains("below the shortest canarysim simulates, 1s"),
        "{}",
        e.message
    );
    assert_eq!(e.location.line, line_of(&text, "scrape_interval"));
    let one_second = scenario_text(2, 5.0, 4.0, "")
        .replace("[simulation]", "[simulation]\nscrape_interval = \"1s\"");
    fixtures::load(&one_second);
    let text = scenario_text(5, 60.0, 4.0, "").replace("warmup = \"1m\"", "warmup = \"52w\"");
    assert!(scenario_error(&text).message.contains("budget"));
}

#[test]
fn the_request_budget_bounds_rate_times_duration() {
    // 2e9 requests: 1e6 req/s for 2000 s is the edge (warm-up 1m + 2h here).
    let text = scenario_text(1, 1e6, 4.0, "")
        .replace("[simulation]", "[simulation]\nscrape_interval = \"1h\"");
    let e = scenario_error(&text);
    assert!(
        e.message
            .contains("requests, more than the budget of 2000000000"),
        "{}",
        e.message
    );
    assert_eq!(e.location.line, line_of(&text, "rate = "));
    let inside = scenario_text(1, 2e9 / (121.0 * 60.0), 4.0, "")
        .replace("[simulation]", "[simulation]\nscrape_interval = \"1h\"");
    fixtures::load(&inside);
}

#[test]
fn an_operator_looking_every_microsecond_is_refused_and_every_second_is_not() {
    let policy = |look: &str| {
        format!(
            "[[policies]]\nname = \"watch\"\nsteps = [ {{ setWeight = 10 }}, {{ pause = {{}} }} ]\n[policies.operator]\npromote_after = \"5m\"\nlook_every = \"{look}\"\n"
        )
    };
    let text = scenario_text(2, 5.0, 4.0, &policy("1us"));
    let e = scenario_error(&text);
    assert_eq!(e.location.line, line_of(&text, "look_every"));
    assert!(e.message.contains("once a second"), "{}", e.message);
    fixtures::load(&scenario_text(2, 5.0, 4.0, &policy("1s")));
}

#[test]
fn set_canary_scale_past_a_thousand_replicas_is_a_located_problem() {
    let (text, set) = clean_manifest_with(
        "- setWeight: 20",
        "- setCanaryScale: { replicas: 9223372036854775807 }\n        - setWeight: 20",
    );
    let p = set
        .problems
        .iter()
        .find(|p| p.message.contains("setCanaryScale.replicas"))
        .unwrap_or_else(|| panic!("{:#?}", set.problems));
    assert_eq!(p.location.line, line_of(&text, "setCanaryScale"));
    let (_, set) = clean_manifest_with(
        "- setWeight: 20",
        "- setCanaryScale: { replicas: 1000 }\n        - setWeight: 20",
    );
    assert!(set.problems.is_empty(), "{:?}", set.problems);
}

#[test]
fn a_locust_job_with_ten_million_users_is_refused_and_a_hundred_thousand_is_not() {
    let job = |users: u32| {
        canarysim::locust::job::LocustJob::from_container(
            &[("USERS".to_string(), users.to_string())],
            &[
                "sh".to_string(),
                "-c".to_string(),
                "locust --headless --users=$USERS --run-time=1m".to_string(),
            ],
        )
    };
    let err = job(10_000_000).unwrap_err().to_string();
    assert!(err.contains("more than 100000"), "{err}");
    assert_eq!(job(100_000).unwrap().users, 100_000);
}

#[test]
fn condition_ranges_have_a_budget_and_literal_bounds() {
    let r = ResultValue::Numbers(vec![1.0]);
    let err = condition::eval_condition(&r, "len(0..2000000000) > 0").unwrap_err();
    assert!(
        err.to_string().contains("more than 100000 numbers"),
        "{err}"
    );
    assert_eq!(
        condition::eval_condition(&r, "len(0..99999) == 100000"),
        Ok(true)
    );
    assert!(condition::eval_condition(&r, "len(0..100000) > 0").is_err());
    let err = condition::eval_condition(&r, "len(0..int(result[0]) * 1000000000) > 0").unwrap_err();
    assert!(err.to_string().contains("integer literals"), "{err}");
}

#[test]
fn a_subquery_counts_the_samples_it_reads_not_only_its_steps() {
    // [1h:1ms] is 3.6 million steps (within the step guard), each reading a
    // 5m window of two series: about 8e7 samples, past the work budget.
    let s = store();
    let q = Query::parse("max_over_time(sum(rate(m[5m]))[1h:1ms])").unwrap();
    let err = q
        .instant(&s, 3_600_000, &EvalOptions::default())
        .unwrap_err();
    assert!(matches!(err, PromqlError::TooExpensive(_)), "{err}");
    assert!(err.to_string().contains("samples"), "{err}");
    // Just inside: a 1s step reads a thousand times less.
    let q = Query::parse("max_over_time(sum(rate(m[5m]))[1h:1s])").unwrap();
    assert!(q.instant(&s, 3_600_000, &EvalOptions::default()).is_ok());
}

#[test]
fn promqltest_loads_many_series_in_one_block() {
    let mut text = String::from("load 1m\n");
    for i in 0..20_000 {
        text.push_str(&format!("  m{{i=\"{i}\"}} 1 2\n"));
    }
    text.push_str("\neval instant at 1m count(m)\n  {} 20000\n");
    let report = promqltest::run(&text).unwrap();
    assert_eq!(report.tally().passed, 1, "{:?}", report.cases);
}

// ---- class 3 and 5: promqltest counts ----

#[test]
fn promqltest_repetitions_past_the_limit_are_errors_at_their_line_and_column() {
    for item in [
        "1x18446744073709551615",
        "_x18446744073709551615",
        "0+1x1000000",
    ] {
        let text = format!("load 1m\n  m 1\n    n {item}\n");
        let err = promqltest::run(&text).unwrap_err().to_string();
        assert!(err.contains("line 3, column 7:"), "{item}: {err}");
        assert!(err.contains("longer than 1000000 values"), "{item}: {err}");
    }
    // Just inside: a million values.
    let report =
        promqltest::run("load 1m\n  m 0+1x999999\n\neval instant at 1m m\n  m 1\n").unwrap();
    assert_eq!(report.tally().passed, 1);
}

#[test]
fn promqltest_files_have_a_budget_of_values_and_reload_series_in_linear_time() {
    // Eleven series of a million values: past the file's ten million.
    let mut text = String::from("load 1m\n");
    for i in 0..11 {
        text.push_str(&format!("  m{{i=\"{i}\"}} 0+1x999999\n"));
    }
    let err = promqltest::run(&text).unwrap_err().to_string();
    assert!(
        err.contains("line 1, column 1: the file loads more than 10000000 values"),
        "{err}"
    );
    // A series loaded twice, the second time between the first's samples:
    // merged, the second load winning where times meet.
    let text = "load 2m\n  m 0+1x200000\n\nload 1m\n  m 100+0x400000\n\neval instant at 2m m\n  m 100\n\neval instant at 1m m\n  m 100\n";
    let report = promqltest::run(text).unwrap();
    assert_eq!(report.tally().passed, 2, "{:?}", report.cases);
}

#[test]
fn promqltest_errors_name_the_bad_line_not_the_command() {
    let err = promqltest::run("load 5m\n  a 1 2\n  b 1 zz 3\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3, column 7: bad value \"zz\""), "{err}");
    let err = promqltest::run("eval instant at 1m a\n  a 1\n  expect bogus\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3, column 3:"), "{err}");
}

// ---- class 7: names that would leave --out or break tables ----

#[test]
fn policy_names_that_could_leave_the_output_directory_are_located_errors() {
    for name in ["../../../x", "a/b", ".hidden", "two\\nlines", "a|b"] {
        let text = scenario_text(
            2,
            5.0,
            4.0,
            &format!("[[policies]]\nname = \"{name}\"\nsteps = [ {{ setWeight = 100 }} ]\n"),
        );
        let e = scenario_error(&text);
        assert_eq!(
            e.location.line,
            line_of(&text, &format!("name = \"{name}\"")),
            "{name}"
        );
        assert!(
            e.message.contains("cannot name a policy"),
            "{name}: {}",
            e.message
        );
    }
}

#[test]
fn metric_and_object_names_are_checked_where_they_are_written() {
    let (text, set) = clean_manifest_with("- name: memory-ratio", "- name: ../../../../tmp/x");
    let policy = set.policy(&canarysim::diag::Location::start_of("h.yaml"));
    let lint_dir = tempfile::tempdir().unwrap();
    let path = lint_dir.path().join("m.yaml");
    std::fs::write(&path, &text).unwrap();
    let report = canarysim::lint::lint_paths(
        &fixtures::Disk,
        &[path],
        &canarysim::lint::LintOptions::default(),
    );
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.diagnostic.message.contains("cannot name a metric")
                && f.diagnostic.location.line == line_of(&text, "../../../../tmp/x")),
        "{:#?} / {:?}",
        report.findings,
        policy.is_ok()
    );
    let (text, set) = clean_manifest_with("  name: memory\nspec:", "  name: ../memory\nspec:");
    let p = set
        .problems
        .iter()
        .find(|p| p.message.contains("not a valid Kubernetes name"))
        .unwrap_or_else(|| panic!("{:#?}", set.problems));
    assert_eq!(p.location.line, line_of(&text, "../memory"));
}

// ---- class 8: unclear errors ----

#[test]
fn errors_that_were_unclear_now_say_what_is_wrong() {
    let text =
        scenario_text(2, 5.0, 4.0, "").replace("workers_per_cpu = 4", "workers_per_cpu = 1e308");
    let e = scenario_error(&text);
    assert!(e.message.contains("outside (0, 1000]"), "{}", e.message);

    let text = scenario_text(2, 5.0, 4.0, "[[policies]]\nname = \"p\"\nsteps = [ {} ]\n");
    let e = scenario_error(&text);
    assert!(
        e.message
            .contains("a step needs exactly one of setWeight, pause"),
        "{}",
        e.message
    );
    assert_eq!(e.location.line, line_of(&text, "steps = "));

    let text = scenario_text(2, 5.0, 4.0, "").replace(
        "name = \"svc\"",
        "name = \"svc\"\ncanary_service = \"same\"\nstable_service = \"same\"",
    );
    let e = scenario_error(&text);
    assert!(e.message.contains("both \"same\""), "{}", e.message);
    assert_eq!(e.location.line, line_of(&text, "stable_service"));

    let text = scenario_text(2, 5.0, 4.0, "memory = { gc_amplitude = \"2Gi\" }\n");
    let e = scenario_error(&text);
    assert!(
        e.message.contains("above the memory limit"),
        "{}",
        e.message
    );
}

#[test]
fn more_than_1024_yaml_documents_is_said_in_words_and_1024_load() {
    let doc = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";
    let load = |n: usize| {
        manifest::load(vec![SourceFile {
            label: "many.yaml".into(),
            text: doc.repeat(n),
        }])
    };
    let err = load(1025).unwrap_err().0;
    assert!(
        err.message
            .contains("more than 1024 YAML documents in one file"),
        "{}",
        err.message
    );
    assert!(err.hint.contains("split"), "{}", err.hint);
    assert!(load(1024).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// PromQL token soup, nesting included: parses or fails, and what parses
    /// evaluates or fails, without a panic or an abort.
    #[test]
    fn arbitrary_promql_parses_and_evaluates_or_fails_cleanly(tokens in proptest::collection::vec(
        prop_oneof![
            Just("m"), Just("m{pod=\"a\"}"), Just("m[5m]"), Just("[1h:1m]"), Just("rate("), Just("sum("),
            Just("abs("), Just("("), Just(")"), Just("+"), Just("-"), Just("/"), Just(" and "), Just(" or "),
            Just("1"), Just("0.5"), Just("NaN"), Just(" by (pod) "), Just("offset 5m"), Just("@ 100"),
            Just("histogram_quantile(0.9, "), Just(","), Just("\""), Just("{"), Just("}"), Just("[5m:]"),
        ],
        0..40,
    ), depth in 0usize..200) {
        let text = format!("{}{}{}", "(".repeat(depth), tokens.concat(), ")".repeat(depth));
        if let Ok(q) = Query::parse(&text) {
            let s = store();
            let _ = q.instant(&s, 3_000_000, &EvalOptions::default());
            let _ = q.range(&s, 0, 3_000_000, 60_000, &EvalOptions::default());
        }
    }

    #[test]
    fn arbitrary_promql_text_never_panics(text in "[ -~]{0,60}") {
        if let Ok(q) = Query::parse(&text) {
            let _ = q.instant(&store(), 60_000, &EvalOptions::default());
        }
    }

    /// promqltest files built from its own line forms: run or fail with a
    /// line, never panic.
    #[test]
    fn arbitrary_promqltest_files_run_or_fail_with_a_line(lines in proptest::collection::vec(
        prop_oneof![
            Just("load 1m"), Just("load 0"), Just("  m 1 2 3"), Just("  m{a=\"b\"} 0+1x10"), Just("  n _x5 stale"),
            Just("  m 1x18446744073709551615"), Just("  m {{count:1}}x3"), Just("eval instant at 1m m"),
            Just("eval range from 0 to 10m step 1m m"), Just("  m 1"), Just("  expect fail"), Just("clear"),
            Just(""), Just("# c"), Just("eval instant at 100000000000000y m"), Just("  {} 1"), Just("  m 1e400"),
        ],
        0..16,
    )) {
        let text = lines.join("\n");
        if let Err(e) = promqltest::run(&text) {
            prop_assert!(e.to_string().contains("line "), "{e}");
        }
    }

    /// Scenario TOML with hostile values in the places the issue found them.
    #[test]
    fn hostile_scenario_values_load_or_fail_with_a_location(
        key in 0usize..6,
        value in prop_oneof![
            Just("1e308".to_string()), Just("18446744073709552".to_string()), Just("-1".to_string()),
            Just("\"30000000Ti\"".to_string()), Just("\"1us\"".to_string()), Just("\"52w\"".to_string()),
            Just("9223372036854775807".to_string()), Just("0".to_string()), Just("\"\"".to_string()),
            any::<u64>().prop_map(|n| n.to_string()), any::<f64>().prop_map(|f| format!("{f:?}")),
        ],
    ) {
        let keys = ["warmup", "max_duration", "soak", "scrape_interval", "endpoints_delay", "seed"];
        let base = scenario_text(2, 5.0, 4.0, "");
        let text = match base.lines().find(|l| l.starts_with(&format!("{} = ", keys[key]))) {
            Some(line) => base.replace(line, &format!("{} = {value}", keys[key])),
            None => base.replace("[simulation]", &format!("[simulation]\n{} = {value}", keys[key])),
        };
        if let Err(e) = scenario::load_str("h.toml", &text) {
            prop_assert!(e.0.location.line >= 1 && !e.0.message.is_empty());
        }
    }
}

#[test]
fn any_u64_seed_reads_from_the_file_as_from_the_command_line() {
    // `--seed` takes any u64; TOML's integers stop at 2^63 − 1, so a larger
    // seed is written in quotes, and the unquoted one is refused in words.
    let with_seed = |seed: &str| {
        scenario_text(5, 10.0, 4.0, "")
            .replace("[simulation]\n", &format!("[simulation]\nseed = {seed}\n"))
    };
    let load = |text: &str| {
        let files = canarysim::vfs::MemFiles::new().with("h.toml", text);
        scenario::load_file(&files, std::path::Path::new("h.toml")).map_err(|e| e.0)
    };
    assert_eq!(
        load(&with_seed("\"18446744073709551615\"")).unwrap().seed,
        u64::MAX
    );
    assert_eq!(load(&with_seed("42")).unwrap().seed, 42);
    let text = with_seed("18446744073709551615");
    let e = load(&text).unwrap_err();
    assert_eq!(e.location.line, line_of(&text, "seed ="));
    assert!(
        e.message.contains("larger than 9223372036854775807"),
        "{}",
        e.message
    );
    assert!(e.hint.contains("in quotes"), "{}", e.hint);
    for bad in ["-3", "\"x1\"", "\"18446744073709551616\""] {
        let e = load(&with_seed(bad)).unwrap_err();
        assert!(
            e.message
                .contains("a seed is a whole number from 0 to 18446744073709551615"),
            "{bad}: {}",
            e.message
        );
    }
}

#[test]
fn names_that_become_labels_or_objects_are_refused_when_blank_or_malformed() {
    // Each reaches a label of every series or an object name: a blank
    // container would read as the pod cgroup's series (no container), a
    // blank handler or method as a missing label, an upper-case namespace
    // is no namespace Kubernetes admits.
    let base = scenario_text(5, 10.0, 4.0, "");
    for (from, to, key) in [
        (
            "[simulation]",
            "namespace = \"UPPER\"\n[simulation]",
            "namespace =",
        ),
        (
            "[simulation]",
            "namespace = \"\"\n[simulation]",
            "namespace =",
        ),
        ("[pod]\n", "[pod]\ncontainer = \"\"\n", "container ="),
        ("handler = \"/\"", "handler = \"\"", "handler ="),
        (
            "handler = \"/\"",
            "handler = \"/\"\nmethod = \"\"",
            "method =",
        ),
        (
            "handler = \"/\"",
            "handler = \"/\"\nmethod = \"GET /\"",
            "method =",
        ),
        (
            "[versions.canary]\n",
            "[versions.canary]\nimage = \"\"\n",
            "image =",
        ),
        ("name = \"get\"", "name = \" \"", "name = \" \""),
    ] {
        let text = base.replacen(from, to, 1);
        assert_ne!(text, base, "{to}");
        let e = scenario_error(&text);
        assert_eq!(e.location.line, line_of(&text, key), "{to}: {}", e.message);
    }
    // The defaults and ordinary names pass.
    let ok = base
        .replacen("[simulation]", "namespace = \"prod-2\"\n[simulation]", 1)
        .replacen("[pod]\n", "[pod]\ncontainer = \"checkout\"\n", 1);
    scenario::load_str("h.toml", &ok).unwrap();
}

#[test]
fn a_canary_with_the_stable_image_is_refused_as_no_update() {
    // The pod-template hash is the image's: an unchanged template is no
    // rollout in Argo, and a "bad release" of the running build would be
    // a verdict on nothing.
    let base = scenario_text(5, 10.0, 4.0, "");
    let text = base
        .replacen(
            "[versions.stable]\n",
            "[versions.stable]\nimage = \"svc:1\"\n",
            1,
        )
        .replacen(
            "[versions.canary]\n",
            "[versions.canary]\nimage = \"svc:1\"\n",
            1,
        );
    let e = scenario_error(&text);
    assert_eq!(
        e.location.line,
        text.rfind("image =")
            .map(|i| text[..i].lines().count() + 1)
            .unwrap()
    );
    assert!(
        e.message.contains("the canary's image is the stable one's"),
        "{}",
        e.message
    );
    let differs = text.replacen(
        "[versions.canary]\nimage = \"svc:1\"",
        "[versions.canary]\nimage = \"svc:2\"",
        1,
    );
    assert_ne!(differs, text);
    scenario::load_str("h.toml", &differs).unwrap();
}

#[test]
fn a_daily_peak_or_start_past_a_day_is_refused_not_wrapped() {
    // Both are times of day: "25h" used to be taken as 1 a.m.
    for (daily, key) in [
        ("{ amplitude = 0.3, peak = \"25h\" }", "peak"),
        (
            "{ amplitude = 0.3, peak = \"14h\", start = \"24h\" }",
            "start",
        ),
    ] {
        let text = scenario_text(5, 10.0, 4.0, "").replacen(
            "mix = { get = 1 }",
            &format!("mix = {{ get = 1 }}\ndaily = {daily}"),
            1,
        );
        let e = scenario_error(&text);
        assert_eq!(e.location.line, line_of(&text, "daily ="), "{}", e.message);
        assert!(
            e.message.contains("is not a time of day"),
            "{key}: {}",
            e.message
        );
    }
    let ok = scenario_text(5, 10.0, 4.0, "").replacen(
        "mix = { get = 1 }",
        "mix = { get = 1 }\ndaily = { amplitude = 0.3, peak = \"23h59m\", start = \"0h\" }",
        1,
    );
    scenario::load_str("h.toml", &ok).unwrap();
}
