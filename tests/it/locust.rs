//! Locust-like load against a fake service: closed-loop throughput, the task
//! mix, spawning, stopping, exit codes, the CSV files and the Pushgateway.
//!
//! The fake service is a closure that answers each request with a status and
//! a latency; `standalone::run` plays the engine's part.

use canarysim::locust::standalone::{self, Request};
use canarysim::locust::{
    LocustReport, LocustRunSpec, Method, PushGroup, Pushgateway, Share, Step, Target, Task,
    UserClass, WaitTime,
};
use canarysim::series::{Labels, SeriesStore};
use canarysim::sim::rng::stream;
use canarysim::sim::{SimDuration, SimTime};
use rand::RngExt;

const MS: fn(u64) -> SimDuration = SimDuration::from_millis;

fn one_request_user(wait_time: WaitTime) -> UserClass {
    UserClass {
        name: "Browser".to_string(),
        share: Share::Weight(1),
        wait_time,
        tasks: vec![Task {
            weight: 1,
            steps: vec![Step::new("product", Method::Get, "/api/products/:id")],
        }],
    }
}

fn spec(users: u32, rate: f64, run_s: u64, classes: Vec<UserClass>) -> LocustRunSpec {
    LocustRunSpec {
        users,
        spawn_rate: rate,
        run_time: Some(SimDuration::from_secs(run_s)),
        stop_timeout: SimDuration::ZERO,
        target: Target::CanaryService,
        user_classes: classes,
        exit_code_on_error: 1,
    }
}

fn between_1_3() -> WaitTime {
    WaitTime::Between {
        min_s: 1.0,
        max_s: 3.0,
    }
}

/// A service answering every request after `latency`: 201 for the checkout, 200 otherwise.
fn healthy(latency: SimDuration) -> impl FnMut(&Request<'_>) -> (u16, SimDuration) {
    move |r: &Request<'_>| {
        let status = if r.endpoint == "checkout" { 201 } else { 200 };
        (status, latency)
    }
}

fn run(spec: LocustRunSpec, seed: u64, service: &mut impl standalone::Responder) -> LocustReport {
    standalone::run(
        spec,
        SimTime::ZERO,
        seed,
        service,
        SimTime::from_secs(100_000),
    )
    .unwrap()
}

/// Requests sent per second in `[from_s, to_s)` by `spec` against a fixed latency.
fn measured_rps(spec: LocustRunSpec, latency: SimDuration, from_s: u64, to_s: u64) -> f64 {
    let mut sent = 0u64;
    let mut inner = healthy(latency);
    let mut service = |r: &Request<'_>| {
        if r.sent_at >= SimTime::from_secs(from_s) && r.sent_at < SimTime::from_secs(to_s) {
            sent += 1;
        }
        inner(r)
    };
    run(spec, 7, &mut service);
    sent as f64 / (to_s - from_s) as f64
}

#[test]
fn closed_loop_20_users_between_1_and_3_s_at_50_ms_send_about_9_76_rps() {
    // Each user cycles: one 0.05 s request, then a wait of mean (1+3)/2 = 2 s.
    // 20 users / 2.05 s = 9.756 requests per second. Over the 580 s measured
    // the count's standard deviation is about sqrt(20·580·Var(U)/2.05³) ≈ 21
    // requests of ~5660 (0.4 %), so a ±3 % band is a fixed-seed bound far
    // outside chance.
    let rps = measured_rps(
        spec(20, 5.0, 600, vec![one_request_user(between_1_3())]),
        MS(50),
        20,
        600,
    );
    let expected = 20.0 / (0.05 + 2.0);
    assert!(
        (rps - expected).abs() / expected < 0.03,
        "rps {rps:.3}, expected {expected:.3}"
    );
}

#[test]
fn the_checkout_user_sends_eleven_ninths_requests_per_task() {
    // With every checkout answered 201, a task is 1 request (weight 5 + 3)
    // or 3 (weight 1): 11/9 requests and 11/9·0.05 s per task on average, so
    // 20 users send 20·(11/9) / (2 + 0.05·11/9) ≈ 11.86 requests per second.
    let rps = measured_rps(seed_job(600), MS(50), 20, 600);
    let per_task = 11.0 / 9.0;
    let expected = 20.0 * per_task / (2.0 + 0.05 * per_task);
    assert!(
        (rps - expected).abs() / expected < 0.03,
        "rps {rps:.3}, expected {expected:.3}"
    );
}

/// The seed's Locust job with a longer run time.
fn seed_job(run_s: u64) -> LocustRunSpec {
    let mut spec = LocustRunSpec::seed_canary_validation();
    spec.run_time = Some(SimDuration::from_secs(run_s));
    spec
}

#[test]
fn a_slower_service_gets_fewer_requests_from_a_closed_loop() {
    // 50 ms: 20 / 2.05 = 9.76 rps. 1 s: 20 / (1 + 2) = 6.67 rps.
    let users = || spec(20, 5.0, 600, vec![one_request_user(between_1_3())]);
    let fast = measured_rps(users(), MS(50), 20, 600);
    let slow = measured_rps(users(), MS(1000), 20, 600);
    assert!(
        (slow - 20.0 / 3.0).abs() / (20.0 / 3.0) < 0.03,
        "slow rps {slow:.3}"
    );
    assert!(slow < fast * 0.75, "fast {fast:.3}, slow {slow:.3}");
}

#[test]
fn the_task_mix_converges_to_5_3_1() {
    let mut counts = [0u64; 3];
    let mut inner = healthy(MS(50));
    let mut service = |r: &Request<'_>| {
        if r.step_ref.step == 0 {
            counts[r.step_ref.task as usize] += 1;
        }
        inner(r)
    };
    run(seed_job(1800), 11, &mut service);
    let n: u64 = counts.iter().sum();
    // Chi-square with 2 degrees of freedom; 13.82 is its 0.999 quantile.
    let chi2: f64 = counts
        .iter()
        .zip([5.0, 3.0, 1.0])
        .map(|(&c, w)| {
            let e = n as f64 * w / 9.0;
            (c as f64 - e).powi(2) / e
        })
        .sum();
    assert!(n > 15_000, "only {n} tasks");
    assert!(chi2 < 13.82, "counts {counts:?}, chi2 {chi2:.2}");
}

#[test]
fn the_order_status_request_follows_only_a_201_checkout() {
    let mut orders = 0u64;
    let mut created = 0u64;
    let mut rng = stream(3, "test-service", 0);
    let mut service = |r: &Request<'_>| match r.endpoint {
        "checkout" => {
            if rng.random_bool(0.5) {
                created += 1;
                (201, MS(40))
            } else {
                (500, MS(40))
            }
        }
        "order" => {
            orders += 1;
            (200, MS(10))
        }
        _ => (200, MS(20)),
    };
    let report = run(seed_job(300), 5, &mut service);
    assert!(created > 50);
    // Every 201 leads to exactly one order request, except a flow cut off by the stop.
    assert!(
        orders == created || orders + 1 == created,
        "{orders} orders, {created} created"
    );
    assert_eq!(report.exit_code, 1);
}

#[test]
fn spawn_rate_5_runs_5_10_15_20_users_and_20_after_4_s() {
    let mut first_request: Vec<Option<SimTime>> = vec![None; 20];
    let mut inner = healthy(MS(50));
    let mut service = |r: &Request<'_>| {
        let slot = &mut first_request[r.user.0 as usize];
        if slot.is_none() {
            *slot = Some(r.sent_at);
        }
        inner(r)
    };
    let report = run(
        spec(20, 5.0, 10, vec![one_request_user(between_1_3())]),
        1,
        &mut service,
    );
    // Locust spawns floor(5) = 5 users per batch, one batch per second, the first at once.
    for (user, t) in first_request.iter().enumerate() {
        assert_eq!(*t, Some(SimTime::from_secs(user as u64 / 5)), "user {user}");
    }
    // History rows show the count just before each second's events.
    let users: Vec<u32> = report.history.iter().map(|h| h.users).take(6).collect();
    assert_eq!(users, [0, 5, 10, 15, 20, 20]);
    assert_eq!(report.history.len(), 10, "one row per second of a 10 s run");
}

#[test]
fn fractional_spawn_rates_spawn_whole_batches_at_batch_over_rate_intervals() {
    let mut first = Vec::new();
    let mut service = |r: &Request<'_>| {
        if first.len() <= r.user.0 as usize {
            first.push(r.sent_at);
        }
        (200, MS(5))
    };
    run(
        spec(5, 2.5, 5, vec![one_request_user(between_1_3())]),
        1,
        &mut service,
    );
    // Batches of floor(2.5) = 2 users every 2 / 2.5 = 0.8 s.
    let ms: Vec<u64> = first.iter().map(|t| t.0 / 1000).collect();
    assert_eq!(ms, [0, 0, 800, 800, 1600]);
}

#[test]
fn weighted_classes_are_dispatched_in_locusts_kl_order() {
    let class = |name: &str, w: u32, ep: &str| UserClass {
        name: name.to_string(),
        share: Share::Weight(w),
        wait_time: WaitTime::Constant { s: 1.0 },
        tasks: vec![Task {
            weight: 1,
            steps: vec![Step::new(ep, Method::Get, ep)],
        }],
    };
    let mut order = String::new();
    let mut service = |r: &Request<'_>| {
        if order.len() <= r.user.0 as usize {
            order.push_str(r.endpoint);
        }
        (200, MS(5))
    };
    // Given out of name order: Locust sorts classes by name first.
    let classes = vec![class("B", 1, "B"), class("A", 5, "A")];
    run(spec(12, 100.0, 2, classes), 1, &mut service);
    // What locust 2.47's _kl_generator yields for weights 5 and 1 (its
    // docstring says AAABAAAAABAA, the code gives this).
    assert_eq!(order, "AABAAAAABAAA");
}

#[test]
fn fixed_count_classes_are_spawned_before_weighted_ones() {
    let mut users_per_class = [0u32; 2];
    let mut classes = vec![
        one_request_user(between_1_3()),
        one_request_user(between_1_3()),
    ];
    classes[0].name = "Admin".to_string();
    classes[0].share = Share::FixedCount(2);
    classes[0].tasks[0].steps[0].endpoint = "admin".to_string();
    let mut seen = std::collections::BTreeSet::new();
    let mut service = |r: &Request<'_>| {
        if seen.insert(r.user) {
            users_per_class[usize::from(r.endpoint != "admin")] += 1;
            if r.user.0 < 2 {
                assert_eq!(r.endpoint, "admin");
            }
        }
        (200, MS(5))
    };
    run(spec(10, 100.0, 2, classes), 1, &mut service);
    assert_eq!(users_per_class, [2, 8]);
}

#[test]
fn constant_pacing_starts_tasks_a_fixed_interval_apart() {
    let mut sends = Vec::new();
    let mut service = |r: &Request<'_>| {
        sends.push(r.sent_at);
        (200, MS(300))
    };
    let pacing = one_request_user(WaitTime::ConstantPacing { s: 1.0 });
    run(spec(1, 1.0, 5, vec![pacing]), 1, &mut service);
    let secs: Vec<u64> = sends.iter().map(|t| t.0 / 1000).collect();
    assert_eq!(secs, [0, 1000, 2000, 3000, 4000]);

    let mut sends = Vec::new();
    let mut service = |r: &Request<'_>| {
        sends.push(r.sent_at);
        (200, MS(100))
    };
    let throughput = one_request_user(WaitTime::ConstantThroughput { per_s: 2.0 });
    run(spec(1, 1.0, 2, vec![throughput]), 1, &mut service);
    let ms: Vec<u64> = sends.iter().map(|t| t.0 / 1000).collect();
    assert_eq!(ms, [0, 500, 1000, 1500]);
}

#[test]
fn one_failed_request_exits_1_and_none_exits_0() {
    let mut n = 0;
    let mut one_failure = |r: &Request<'_>| {
        n += 1;
        if n == 37 {
            (503, MS(50))
        } else if r.endpoint == "checkout" {
            (201, MS(50))
        } else {
            (200, MS(50))
        }
    };
    let report = run(LocustRunSpec::seed_canary_validation(), 9, &mut one_failure);
    assert_eq!(report.stats.total().num_failures, 1);
    assert_eq!(report.exit_code, 1);

    let report = run(
        LocustRunSpec::seed_canary_validation(),
        9,
        &mut healthy(MS(50)),
    );
    assert_eq!(report.stats.total().num_failures, 0);
    assert!(report.stats.total().num_requests > 300);
    assert_eq!(report.exit_code, 0);

    let mut custom = LocustRunSpec::seed_canary_validation();
    custom.exit_code_on_error = 3;
    let mut always_500 = |_: &Request<'_>| (500, MS(50));
    assert_eq!(run(custom, 9, &mut always_500).exit_code, 3);
}

#[test]
fn requests_in_flight_at_the_stop_are_dropped_without_stop_timeout() {
    // One user, 30 s requests, run time 45 s: the second request (sent at
    // 30 s + wait) is still in flight at 45 s and is never counted.
    let mut service = |_: &Request<'_>| (200, SimDuration::from_secs(30));
    let one = || {
        spec(
            1,
            1.0,
            45,
            vec![one_request_user(WaitTime::Constant { s: 1.0 })],
        )
    };
    let report = run(one(), 1, &mut service);
    assert_eq!(report.stats.total().num_requests, 1);
    assert_eq!(report.ended_at, SimTime::from_secs(45));
    assert_eq!(report.users_at_stop, 1);

    // With a 60 s stop timeout the running task may finish.
    let mut with_timeout = one();
    with_timeout.stop_timeout = SimDuration::from_secs(60);
    let report = run(with_timeout, 1, &mut service);
    assert_eq!(report.stats.total().num_requests, 2);
    assert_eq!(report.ended_at, SimTime::from_secs(61));
}

#[test]
fn a_flow_finishes_all_its_requests_within_the_stop_timeout() {
    // The checkout flow is running at the stop: its remaining steps still run.
    let mut spec = LocustRunSpec::seed_canary_validation();
    spec.users = 1;
    spec.user_classes[0].tasks.truncate(3);
    spec.user_classes[0].tasks[0].weight = 0;
    spec.user_classes[0].tasks[1].weight = 0;
    spec.run_time = Some(SimDuration::from_secs(1));
    spec.stop_timeout = SimDuration::from_secs(30);
    let mut service = |r: &Request<'_>| match r.endpoint {
        "checkout" => (201, SimDuration::from_secs(2)),
        _ => (200, MS(500)),
    };
    let report = run(spec, 1, &mut service);
    // cart (0–0.5 s), checkout (0.5–2.5 s), order (2.5–3 s): all after the 1 s stop but one.
    assert_eq!(report.stats.total().num_requests, 3);
    assert_eq!(report.ended_at, SimTime::from_millis(3000));
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let go = |seed| {
        let mut rng = stream(seed, "test-service", 0);
        let mut service = move |_: &Request<'_>| (200, MS(rng.random_range(10..90)));
        run(LocustRunSpec::seed_canary_validation(), seed, &mut service)
            .csv
            .unwrap()
    };
    assert_eq!(go(1), go(1));
    assert_ne!(go(1).stats, go(2).stats);
}

/// The snapshot run: the seed's job against a service with exponential
/// latencies (mean 60 ms) and a 2 % error rate on checkout.
fn snapshot_report() -> LocustReport {
    let mut rng = stream(42, "test-service", 0);
    let mut service = move |r: &Request<'_>| {
        let u: f64 = rng.random();
        let latency = SimDuration::from_secs_f64(-0.060 * (1.0 - u).ln()).max(MS(1));
        let status = match r.endpoint {
            "checkout" if rng.random_bool(0.02) => 500,
            "checkout" => 201,
            _ => 200,
        };
        (status, latency)
    };
    let mut spec = LocustRunSpec::seed_canary_validation();
    for task in &mut spec.user_classes[0].tasks {
        for step in &mut task.steps {
            step.response_bytes = match step.endpoint.as_str() {
                "search" => 4096,
                "product" => 1536,
                _ => 256,
            };
        }
    }
    run(spec, 42, &mut service)
}

#[test]
fn the_csv_files_of_a_fixed_seed_run() {
    // insta normalises line ends; the "\r\n" are pinned by the header test below.
    let report = snapshot_report();
    assert!(
        report.stats.total().num_failures > 0,
        "the snapshot should show a failure row"
    );
    insta::assert_snapshot!("locust_stats_csv", report.csv.as_ref().unwrap().stats);
    insta::assert_snapshot!(
        "locust_stats_history_csv",
        report.csv.as_ref().unwrap().stats_history
    );
    insta::assert_snapshot!("locust_failures_csv", report.csv.as_ref().unwrap().failures);
}

#[test]
fn csv_header_lines_are_byte_for_byte_locusts() {
    // Source: locust/stats.py (locustio/locust 2.4x), StatsCSV.requests_csv_columns,
    // StatsCSVFileWriter.stats_history_csv_columns and StatsCSV.failures_columns,
    // with get_readable_percentiles(PERCENTILES_TO_REPORT), written by Python's
    // csv.writer, whose excel dialect ends lines with "\r\n".
    const STATS: &str = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\r\n";
    const HISTORY: &str = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size\r\n";
    const FAILURES: &str = "Method,Name,Error,Occurrences,First Seen,Last Seen\r\n";
    // StatsCSV.exceptions_columns; no simulated user raises, so no rows.
    const EXCEPTIONS: &str = "Count,Message,Traceback,Nodes\r\n";
    let csv = snapshot_report().csv.unwrap();
    assert_eq!(csv.exceptions.as_bytes(), EXCEPTIONS.as_bytes());
    let first_line = |s: &str| s[..s.find("\r\n").unwrap() + 2].to_string();
    assert_eq!(first_line(&csv.stats).as_bytes(), STATS.as_bytes());
    assert_eq!(
        first_line(&csv.stats_history).as_bytes(),
        HISTORY.as_bytes()
    );
    assert_eq!(first_line(&csv.failures).as_bytes(), FAILURES.as_bytes());
    for file in [&csv.stats, &csv.stats_history, &csv.failures] {
        assert!(
            file.split_inclusive('\n')
                .all(|line| line.ends_with("\r\n"))
        );
    }
    let names: Vec<String> = csv
        .files("/out/results")
        .iter()
        .map(|f| f.0.clone())
        .collect();
    assert_eq!(
        names,
        [
            "/out/results_stats.csv",
            "/out/results_stats_history.csv",
            "/out/results_failures.csv",
            "/out/results_exceptions.csv"
        ]
    );
}

/// The `Aggregated` line of a `_stats.csv`.
fn aggregated_row(stats_csv: &str) -> &str {
    stats_csv
        .split("\r\n")
        .find(|l| l.starts_with(",Aggregated,"))
        .expect("an Aggregated row")
}

/// A service answering after 200 ms: 200 to requests sent before `from`, 500 after.
fn failing_from(from: SimTime) -> impl FnMut(&Request<'_>) -> (u16, SimDuration) {
    move |r: &Request<'_>| {
        let status = if r.sent_at >= from { 500 } else { 200 };
        (status, MS(200))
    }
}

#[test]
fn locust_csv_holds_its_last_one_second_snapshot() {
    // Source: locust/stats.py (locustio/locust @407343d) StatsCSVFileWriter.stats_writer
    // rewrites _stats.csv, _failures.csv and _exceptions.csv, and appends a history
    // row, then sleeps CSV_STATS_INTERVAL_SEC = 1; main.py shutdown() only calls
    // close_files(). The exit code counts runner.errors, every failure.
    // Requests sent from 43.9 s on fail and take 200 ms: they complete in the
    // run's last second (the stop is at 45 s, the last row at 44 s).
    let mut service = failing_from(SimTime::from_millis(43_900));
    let s = spec(20, 5.0, 45, vec![one_request_user(between_1_3())]);
    let report = run(s, 7, &mut service);
    assert_eq!(
        report.exit_code, 1,
        "the late failures count for the exit code"
    );
    assert!(report.stats.total().num_failures > 0);
    // The files show the last row's moment: no failure yet, and fewer
    // requests than the run completed.
    let last = report.history.last().unwrap();
    assert_eq!(last.t, SimTime::from_secs(44));
    let csv_total = report.csv_stats.total();
    assert_eq!(
        (csv_total.num_requests, csv_total.num_failures),
        (last.requests, last.failures)
    );
    assert_eq!(csv_total.num_failures, 0);
    assert!(csv_total.num_requests < report.stats.total().num_requests);
    let aggregated = aggregated_row(&report.csv.as_ref().unwrap().stats);
    assert!(
        aggregated.starts_with(&format!(",Aggregated,{},0,", last.requests)),
        "{aggregated}"
    );
    assert_eq!(
        report.csv.as_ref().unwrap().failures,
        "Method,Name,Error,Occurrences,First Seen,Last Seen\r\n"
    );
}

#[test]
fn pushed_results_persist_at_every_scrape_with_the_jobs_labels() {
    let report = snapshot_report();
    let grouping = vec![
        ("service".to_string(), "checkout-canary".to_string()),
        ("type".to_string(), "canary".to_string()),
    ];
    let mut gateway = Pushgateway::new();
    gateway.push(
        PushGroup::from_report(&report, "locust", &grouping, report.ended_at)
            .expect("a standalone run writes its CSV files"),
    );
    let mut store = SeriesStore::new();
    for t_ms in [60_000, 75_000, 90_000] {
        gateway.scrape_into(&mut store, t_ms);
    }
    let fail_ratio = Labels::with_name(
        "locust_requests_fail_ratio",
        [
            ("job", "locust"),
            ("name", "Aggregated"),
            ("service", "checkout-canary"),
            ("type", "canary"),
        ],
    );
    let id = store.find(&fail_ratio).expect("fail ratio series");
    let samples = &store.get(id).samples;
    assert_eq!(samples.len(), 3);
    let total = report.csv_stats.total();
    let expected = total.num_failures as f64 / total.num_requests as f64;
    assert!(samples.iter().all(|s| s.v == expected));
    // Per-entry series carry method and name; the total has no method.
    let agg = Labels::with_name(
        "locust_requests_avg_response_time",
        [
            ("job", "locust"),
            ("name", "Aggregated"),
            ("service", "checkout-canary"),
            ("type", "canary"),
        ],
    );
    assert!(store.find(&agg).is_some());
    let checkout_rps = Labels::with_name(
        "locust_requests_total_rps",
        [
            ("job", "locust"),
            ("method", "POST"),
            ("name", "/api/checkout"),
            ("service", "checkout-canary"),
            ("type", "canary"),
        ],
    );
    assert!(store.find(&checkout_rps).is_some());
    let users = Labels::with_name(
        "locust_user_count",
        [
            ("job", "locust"),
            ("service", "checkout-canary"),
            ("type", "canary"),
        ],
    );
    assert_eq!(store.get(store.find(&users).unwrap()).samples[0].v, 20.0);
    assert!(
        store
            .series()
            .iter()
            .all(|s| s.labels.get("instance").is_none())
    );

    // A second push under the same key replaces the first.
    let healthy_report = run(
        LocustRunSpec::seed_canary_validation(),
        1,
        &mut healthy(MS(50)),
    );
    gateway.push(
        PushGroup::from_report(
            &healthy_report,
            "locust",
            &grouping,
            SimTime::from_secs(120),
        )
        .expect("a standalone run writes its CSV files"),
    );
    assert_eq!(gateway.groups().len(), 1);
    gateway.scrape_into(&mut store, 135_000);
    assert_eq!(store.get(store.find(&users).unwrap()).samples[3].v, 20.0);
    assert_eq!(store.get(id).samples[3].v, 0.0);
}

#[test]
fn push_metrics_pushes_what_the_csv_files_hold_under_locust_2x_names() {
    // A headless Locust has no web UI, so the seed's push_metrics.py reads the
    // --csv files: their last 1 s snapshot (locust/stats.py stats_writer), with
    // the names of StatsEntry.to_dict / StatsError.to_dict / web.py's report.
    // Failures in the run's last second are in the exit code, not in the push.
    let mut late = failing_from(SimTime::from_millis(43_900));
    let mut user = one_request_user(between_1_3());
    // A name the csv module must quote: a comma and a double quote.
    user.tasks[0].steps[0].name = "/api/products?ids=1,2&q=\"x\"".to_string();
    let report = run(spec(20, 5.0, 45, vec![user.clone()]), 7, &mut late);
    assert_eq!(report.exit_code, 1);
    let group = PushGroup::from_report(&report, "locust", &[], report.ended_at)
        .expect("a standalone run writes its CSV files");
    let value = |name: &str, pairs: &[(&str, &str)]| {
        let mut pairs = pairs.to_vec();
        pairs.push(("job", "locust"));
        let want = Labels::with_name(name, pairs);
        group
            .metrics
            .iter()
            .find(|(l, _)| *l == want)
            .map(|(_, v)| *v)
    };
    let agg = [("name", "Aggregated")];
    let entry = [
        ("method", "GET"),
        ("name", user.tasks[0].steps[0].name.as_str()),
    ];
    let csv_total = report.csv_stats.total();
    assert_eq!(
        value("locust_requests_num_requests", &agg),
        Some(csv_total.num_requests as f64)
    );
    assert_eq!(
        value("locust_requests_num_requests", &entry),
        Some(csv_total.num_requests as f64),
        "the quoted name is read back whole"
    );
    assert_eq!(value("locust_requests_fail_ratio", &agg), Some(0.0));
    assert!(report.stats.total().fail_ratio() > 0.0);
    let last = report.history.last().unwrap();
    assert_eq!(value("locust_user_count", &[]), Some(f64::from(last.users)));
    let rps = value("locust_requests_current_rps", &agg).unwrap();
    assert!(
        (rps - last.current_rps).abs() <= 5e-7,
        "{rps} vs {}",
        last.current_rps
    );
    // The 95% column of the Aggregated row, as the file prints it.
    let row = aggregated_row(&report.csv.as_ref().unwrap().stats);
    let p95: f64 = row.split(',').nth(16).unwrap().parse().unwrap();
    assert_eq!(
        value(
            "locust_requests_response_time_percentile",
            &[("name", "Aggregated"), ("percentile", "0.95")]
        ),
        Some(p95)
    );
    // Nothing a CSV file does not hold: no live percentiles, no exporter names.
    for (l, _) in &group.metrics {
        let name = l.metric_name().unwrap();
        assert!(
            !name.contains("current_response_time_percentile") && name != "locust_users",
            "{name}"
        );
    }
    // With the failures inside the snapshot, they are pushed per failure row.
    let mut early = failing_from(SimTime::from_secs(30));
    let report = run(spec(20, 5.0, 45, vec![user]), 7, &mut early);
    let group = PushGroup::from_report(&report, "locust", &[], report.ended_at)
        .expect("a standalone run writes its CSV files");
    let errors: Vec<f64> = group
        .metrics
        .iter()
        .filter(|(l, _)| l.metric_name() == Some("locust_errors_occurrences"))
        .map(|(_, v)| *v)
        .collect();
    let failures = report.csv_stats.total().num_failures as f64;
    assert!(failures > 0.0);
    assert_eq!(errors, [failures]);
    // A run decides whether to push at all by these names.
    for (l, _) in &group.metrics {
        let name = l.metric_name().unwrap();
        assert!(canarysim::locust::PUSHED_NAMES.contains(&name), "{name}");
    }
}

#[test]
fn a_population_without_run_time_runs_until_the_simulation_stops_it() {
    let mut spec = spec(10, 10.0, 1, vec![one_request_user(between_1_3())]);
    spec.run_time = None;
    spec.target = Target::Ingress;
    let report = standalone::run(
        spec,
        SimTime::from_secs(100),
        1,
        &mut healthy(MS(50)),
        SimTime::from_secs(400),
    )
    .unwrap();
    assert_eq!(report.stopped_at, SimTime::from_secs(400));
    assert_eq!(report.history.len(), 300);
    let expected = 10.0 * 300.0 / 2.05;
    let n = report.stats.total().num_requests as f64;
    assert!(
        (n - expected).abs() / expected < 0.05,
        "{n} requests, expected {expected}"
    );
}

#[test]
fn with_a_baseline_error_rate_the_job_fails_as_often_as_one_minus_q_to_the_n() {
    // `--exit-code-on-error 1` fails the run on any failed request, so a good
    // canary with a per-request error rate e fails a run of N requests with
    // probability 1 − (1 − e)^N. The seed's job sends N ≈ 530 requests at
    // 50 ms, so e = 0.1 % already fails about 41 % of runs.
    let e = 0.001;
    let runs = 200;
    let (mut failed, mut requests) = (0u32, 0u64);
    for seed in 0..runs {
        let mut rng = stream(seed, "test-service", 0);
        let mut service = move |r: &Request<'_>| {
            let status = match r.endpoint {
                _ if rng.random_bool(e) => 500,
                "checkout" => 201,
                _ => 200,
            };
            (status, MS(50))
        };
        let report = run(LocustRunSpec::seed_canary_validation(), seed, &mut service);
        requests += report.stats.total().num_requests;
        failed += u32::from(report.exit_code == 1);
    }
    let n = requests as f64 / runs as f64;
    let p = 1.0 - (1.0 - e).powf(n);
    let observed = f64::from(failed) / runs as f64;
    // Binomial standard deviation over 200 runs is about 0.035; allow 4σ.
    let sigma = (p * (1.0 - p) / runs as f64).sqrt();
    assert!(
        (observed - p).abs() < 4.0 * sigma,
        "N = {n:.0}, expected {p:.3}, observed {observed:.3}"
    );
    assert!((480.0..580.0).contains(&n), "N = {n}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    #[test]
    fn runs_end_on_time_and_count_only_finished_requests(
        users in 0u32..30,
        rate in 0.5f64..20.0,
        run_s in 1u64..40,
        latency_ms in 1u64..3000,
        stop_timeout_s in 0u64..5,
        seed in 0u64..1000,
    ) {
        let mut s = spec(users, rate, run_s, vec![two_step_flow()]);
        s.stop_timeout = SimDuration::from_secs(stop_timeout_s);
        let mut sent = 0u64;
        let mut service = |_: &Request<'_>| { sent += 1; (200, MS(latency_ms)) };
        let report = run(s, seed, &mut service);
        let stop = SimTime::from_secs(run_s);
        proptest::prop_assert_eq!(report.stopped_at, stop);
        proptest::prop_assert!(report.ended_at <= stop + SimDuration::from_secs(stop_timeout_s));
        proptest::prop_assert!(report.stats.total().num_requests <= sent);
        proptest::prop_assert_eq!(report.exit_code, 0);
        // One history row per whole second before the end; users never above -u.
        let rows = report.history.len() as u64;
        proptest::prop_assert_eq!(rows, report.ended_at.0.div_ceil(1_000_000));
        proptest::prop_assert!(report.history.iter().all(|h| h.users <= users));
        proptest::prop_assert!(report.history.windows(2).all(|w| w[0].requests <= w[1].requests));
    }
}

/// A two-step flow user with a short constant wait.
fn two_step_flow() -> UserClass {
    UserClass {
        name: "Flow".to_string(),
        share: Share::Weight(1),
        wait_time: WaitTime::Constant { s: 0.5 },
        tasks: vec![Task {
            weight: 1,
            steps: vec![
                Step::new("cart", Method::Post, "/api/cart/items"),
                Step::new("checkout", Method::Post, "/api/checkout"),
            ],
        }],
    }
}
