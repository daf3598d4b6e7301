//! Engine behaviour against closed forms and statistics.

use canarysim::engine::{Engine, run};
use canarysim::model::Version;
use canarysim::series::{SeriesStore, is_stale_nan};

use super::fixtures::{load, scenario_text};

/// A policy that holds at weight 0 forever: only the stable pods serve.
const HOLD: &str = r#"
[[policies]]
name = "hold"
steps = [ { pause = {} } ]
"#;

fn last_value(store: &SeriesStore, name: &str) -> f64 {
    store
        .series()
        .iter()
        .filter(|s| s.labels.metric_name() == Some(name))
        .filter_map(|s| {
            s.samples
                .iter()
                .rev()
                .find(|x| !is_stale_nan(x.v))
                .map(|x| x.v)
        })
        .sum()
}

#[test]
fn mm1_queue_at_utilisation_half_matches_the_analytic_mean_latency() {
    // One pod with one worker (1 CPU × 1 worker per CPU), exponential service
    // with mean 10 ms (μ = 100/s), Poisson arrivals at λ = 50/s: ρ = 0.5 and
    // the M/M/1 mean response time is 1/(μ − λ) = 20 ms.
    let text = scenario_text(
        1,
        50.0,
        1.0,
        &format!(
            r#"
[versions.stable]
latency = {{ get = {{ dist = "exponential", mean = "10ms" }} }}
[versions.canary]
{HOLD}"#
        ),
    );
    let sc = load(&text);
    let out = run(&sc, &sc.policies[0], 11);
    let sum = last_value(&out.series, "http_request_duration_seconds_sum");
    let count = last_value(&out.series, "http_request_duration_seconds_count");
    assert!(count > 300_000.0, "{count} requests");
    let mean = sum / count;
    assert!(
        (mean / 0.020 - 1.0).abs() < 0.05,
        "mean latency {mean} s, expected 0.020 s ± 5%"
    );
}

#[test]
fn poisson_arrival_counts_fall_inside_their_confidence_interval() {
    // λ = 40/s from the rollout's start to the hard stop (2h; the 1m warm-up
    // is not counted in the result's tallies).
    let text = scenario_text(
        2,
        40.0,
        4.0,
        &format!(
            r#"
[versions.stable]
latency = {{ get = {{ dist = "constant", value = "1ms" }} }}
[versions.canary]
{HOLD}"#
        ),
    );
    // The windows below are the scrapes' own: every pod on one grid.
    let text = text.replacen(
        "[simulation]\n",
        "[simulation]\nscrape_offsets = \"aligned\"\n",
        1,
    );
    let sc = load(&text);
    assert_eq!(
        sc.scrape_offsets,
        canarysim::scenario::ScrapeOffsets::Aligned
    );
    let out = run(&sc, &sc.policies[0], 5);
    let r = &out.result;
    let total = (r.requests.stable.total + r.requests.canary.total) as f64;
    let expected = 40.0 * r.sim_duration_s;
    // Poisson: mean = variance = λT; ±4σ is a 99.994% interval.
    let sigma = expected.sqrt();
    assert!(
        (total - expected).abs() < 4.0 * sigma,
        "{total} arrivals, expected {expected} ± {}",
        4.0 * sigma
    );

    // Counts per 15 s scrape window: the index of dispersion Σ(x − x̄)²/x̄ is
    // χ² with n − 1 degrees of freedom for Poisson counts; accept within
    // ±4 standard deviations (√(2(n−1))).
    let mut per_window: Vec<f64> = Vec::new();
    let counters: Vec<_> = out
        .series
        .series()
        .iter()
        .filter(|s| s.labels.metric_name() == Some("http_requests_total"))
        // Each pod is scraped once per Service that selects it; count it once.
        .filter(|s| s.labels.get("service") == Some("svc-stable"))
        .collect();
    let times: Vec<i64> = counters[0].samples.iter().map(|x| x.t).collect();
    for w in times.windows(2) {
        let mut n = 0.0;
        for s in &counters {
            let at = |t: i64| s.samples.iter().find(|x| x.t == t).map(|x| x.v);
            if let (Some(a), Some(b)) = (at(w[0]), at(w[1]))
                && !is_stale_nan(a)
                && !is_stale_nan(b)
            {
                n += b - a;
            }
        }
        per_window.push(n);
    }
    let n = per_window.len() as f64;
    let mean = per_window.iter().sum::<f64>() / n;
    let d: f64 = per_window.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / mean;
    let df = n - 1.0;
    assert!((mean - 600.0).abs() < 10.0, "mean per window {mean}");
    assert!(
        (d - df).abs() < 4.0 * (2.0 * df).sqrt(),
        "dispersion {d} for {df} degrees of freedom"
    );
}

#[test]
fn noise_free_time_leak_oom_kills_at_the_closed_form_time_to_the_millisecond() {
    // Canary: baseline 100Mi, 13Mi per minute, no garbage, no per-request
    // leak; limit 1Gi. Its first pod starts when the rollout starts (t = 0),
    // so it passes the limit at (1024 − 100)/13 minutes = 4264.615384… s.
    let sc = super::fixtures::leaking_canary(5, 10.0, "13Mi", 20);
    let out = run(&sc, &sc.policies[0], 1);
    let kill = &out.result.oom_kills[0];
    assert_eq!(kill.version, Version::Canary);
    let expected_ms = (924.0 / 13.0 * 60.0 * 1000.0f64).floor();
    assert_eq!(
        (kill.t_s * 1000.0).round(),
        expected_ms,
        "killed at {} s",
        kill.t_s
    );
}

#[test]
fn an_oom_kill_resets_the_counters_and_raises_the_restart_count() {
    let sc = super::fixtures::leaking_canary(5, 10.0, "100Mi", 20);
    let mut engine = Engine::new(&sc, &sc.policies[0], 3);
    // First kill ~9.24 min after the rollout starts; restarted 10 s later.
    engine.run_until(engine.rollout_start() + canarysim::sim::SimDuration::from_mins(12));
    let store = engine.store();
    let canary_prefix = format!("svc-{}-", engine.template_hashes()[Version::Canary.index()]);
    let canary_pod = |s: &&canarysim::series::Series| {
        s.labels.get("service") == Some("svc-canary")
            && s.labels
                .get("pod")
                .is_some_and(|p| p.starts_with(&canary_prefix))
    };
    let requests = store
        .series()
        .iter()
        .filter(|s| s.labels.metric_name() == Some("http_requests_total"))
        .find(canary_pod)
        .expect("the canary pod served requests");
    let values: Vec<f64> = requests.samples.iter().map(|x| x.v).collect();
    let reset = values
        .windows(2)
        .any(|w| !is_stale_nan(w[1]) && !is_stale_nan(w[0]) && w[1] < w[0])
        || values.iter().any(|v| is_stale_nan(*v));
    assert!(reset, "counter never reset or went stale: {values:?}");
    let after: Vec<f64> = values
        .iter()
        .copied()
        .skip_while(|v| !is_stale_nan(*v))
        .skip(1)
        .collect();
    assert!(
        !after.is_empty() && after[0] < values[0].max(30.0),
        "counter starts again from zero after the restart: {after:?}"
    );
    let restarts = store
        .series()
        .iter()
        .find(|s| {
            s.labels.metric_name() == Some("kube_pod_container_status_restarts_total")
                && s.labels
                    .get("pod")
                    .is_some_and(|p| Some(p) == requests.labels.get("pod"))
        })
        .expect("restart counter");
    assert_eq!(restarts.samples.first().unwrap().v, 0.0);
    assert_eq!(restarts.samples.last().unwrap().v, 1.0);
    let reason = store.series().iter().find(|s| {
        s.labels.metric_name() == Some("kube_pod_container_status_last_terminated_reason")
            && s.labels.get("reason") == Some("OOMKilled")
    });
    assert!(
        reason.is_some(),
        "last terminated reason OOMKilled is exported"
    );
}

#[test]
fn a_request_to_a_service_with_no_ready_pod_fails() {
    // The canary's image never becomes ready before the run ends (startup
    // longer than the run), yet the ingress sends 50% to the canary Service
    // once... it never does: setWeight waits for the replica counts. So
    // nothing is sent to the canary and nothing fails for lack of pods.
    let text = scenario_text(
        2,
        20.0,
        4.0,
        r#"
[versions.stable]
latency = { get = { dist = "constant", value = "5ms" } }
[versions.canary]
startup = "5h"
[[policies]]
name = "half"
steps = [ { setWeight = 50 }, { pause = {} } ]
"#,
    );
    let sc = load(&text);
    let out = run(&sc, &sc.policies[0], 1);
    assert_eq!(
        out.result.requests.canary.total, 0,
        "the router keeps the previous weight (0)"
    );
    assert_eq!(out.result.requests.stable.failed, 0);
}

/// The flagship service with production traffic as `users` Locust-like
/// users instead of an open-loop rate, holding at weight 0.
fn with_users(users: u32, stable_search_median: &str) -> canarysim::scenario::Scenario {
    let base = super::fixtures::flagship_base();
    let start = base.find("[traffic]").unwrap();
    let end = start + base[start..].find("\n\n").unwrap();
    let text = format!(
        "{}[traffic]\nusers = {{ count = {users}, spawn_rate = 20 }}{}{HOLD}",
        &base[..start],
        &base[end..]
    )
    .replace(
        r#"search = { dist = "lognormal", median = "60ms", p99 = "300ms" }"#,
        &format!(
            r#"search = {{ dist = "lognormal", median = "{stable_search_median}", p99 = "3s" }}"#
        ),
    );
    load(&text)
}

fn production_rate(sc: &canarysim::scenario::Scenario) -> f64 {
    let out = run(sc, &sc.policies[0], 4);
    let r = &out.result;
    (r.requests.stable.total + r.requests.canary.total) as f64 / r.sim_duration_s
}

#[test]
fn production_users_are_a_closed_loop_at_the_locust_arithmetic() {
    // 100 users of the seed's checkout flow: tasks 5/3/1, the last a flow of
    // cart + checkout + (on 201) order, so ~11/9 requests per task; a task's
    // requests take ~66 ms in all (the endpoints' mean service times weighted
    // 5/3/1), then `between(1, 3)` waits 2 s on average:
    // 100 × (11/9) / 2.066 s ≈ 59.2 requests per second. Tolerance ±5%.
    let rate = production_rate(&with_users(100, "60ms"));
    assert!((rate / 59.2 - 1.0).abs() < 0.05, "{rate} requests/s");
}

#[test]
fn slower_production_service_gets_fewer_requests_from_its_users() {
    let fast = production_rate(&with_users(100, "60ms"));
    let slow = production_rate(&with_users(100, "900ms"));
    assert!(
        slow < fast * 0.9,
        "closed loop: {slow} vs {fast} requests/s"
    );
}

#[test]
fn daily_shape_follows_the_cosine_over_the_day() {
    // rate 20 ± 50% peaking at 14h, the warm-up starting at 8h: over 12 hours
    // of simulated time the hour around 14h carries ~1.5× the mean and the
    // hour around 2h (not simulated) would carry 0.5×; the hour at 8h–9h is
    // at 1 + 0.5·cos(2π·(−5.5h)/24h) ≈ 0.87×.
    let text = scenario_text(
        2,
        20.0,
        4.0,
        &format!(
            r#"
[versions.stable]
latency = {{ get = {{ dist = "constant", value = "1ms" }} }}
[versions.canary]
{HOLD}"#
        ),
    )
    .replace(
        "rate = 20",
        "rate = 20\ndaily = { amplitude = 0.5, peak = \"14h\", start = \"8h\" }",
    )
    .replace("max_duration = \"2h\"", "max_duration = \"12h\"")
    .replace("warmup = \"1m\"", "warmup = \"0s\"");
    let sc = load(&text);
    let out = run(&sc, &sc.policies[0], 9);
    let counters: Vec<_> = out
        .series
        .series()
        .iter()
        .filter(|s| s.labels.metric_name() == Some("http_requests_total"))
        .filter(|s| s.labels.get("service") == Some("svc-stable"))
        .collect();
    let total_at = |t_ms: i64| -> f64 {
        counters
            .iter()
            .filter_map(|s| {
                s.last_at_or_before(t_ms)
                    .filter(|x| !is_stale_nan(x.v))
                    .map(|x| x.v)
            })
            .sum()
    };
    let hour = |h: f64| {
        let from = (h * 3_600_000.0) as i64;
        (total_at(from + 3_600_000) - total_at(from)) / 3600.0
    };
    let expected = |clock_h: f64| {
        20.0 * (1.0 + 0.5 * (2.0 * std::f64::consts::PI * (clock_h - 14.0) / 24.0).cos())
    };
    for (offset, clock) in [(0.0, 8.5), (5.5, 14.0), (11.0, 19.5)] {
        let got = hour(offset);
        let want = expected(clock);
        assert!(
            (got / want - 1.0).abs() < 0.04,
            "hour at {clock}h: {got} requests/s, expected {want}"
        );
    }
}

#[test]
fn a_pod_slows_down_as_its_working_set_nears_the_limit() {
    // The canary leaks 50Mi a minute from 100Mi, with pressure from 50% of
    // the 1Gi limit and 5× service time at the limit: its mean latency in the
    // minute before the OOM kill is far above that of its first minutes.
    let text = scenario_text(
        5,
        20.0,
        4.0,
        r#"
[versions.stable]
memory = { baseline = "100Mi" }
pressure = { start = 0.5, slowdown = 5.0 }
latency = { get = { dist = "constant", value = "20ms" } }
[versions.canary]
fault = "leaks 50Mi a minute"
memory = { leak_per_minute = "50Mi" }
[[policies]]
name = "hold-at-20"
steps = [ { setWeight = 20 }, { pause = {} } ]
"#,
    );
    let sc = load(&text);
    let mut engine = Engine::new(&sc, &sc.policies[0], 2);
    // (1024 − 100) / 50 ≈ 18.5 minutes to the kill.
    engine.run_until(engine.rollout_start() + canarysim::sim::SimDuration::from_mins(18));
    let canary_prefix = format!("svc-{}-", engine.template_hashes()[Version::Canary.index()]);
    let store = engine.store();
    let series = |name: &str| {
        store
            .series()
            .iter()
            .find(|s| {
                s.labels.metric_name() == Some(name)
                    && s.labels.get("service") == Some("svc-canary")
                    && s.labels
                        .get("pod")
                        .is_some_and(|p| p.starts_with(&canary_prefix))
            })
            .unwrap_or_else(|| panic!("{name}"))
    };
    let (sum, count) = (
        series("http_request_duration_seconds_sum"),
        series("http_request_duration_seconds_count"),
    );
    let mean_between = |from_min: i64, to_min: i64| {
        let at = |s: &canarysim::series::Series, m: i64| s.last_at_or_before(m * 60_000).unwrap().v;
        (at(sum, to_min) - at(sum, from_min)) / (at(count, to_min) - at(count, from_min))
    };
    let early = mean_between(2, 5);
    let late = mean_between(16, 18);
    assert!((early - 0.020).abs() < 0.002, "early mean {early}");
    assert!(late > 3.0 * early, "late mean {late} vs early {early}");
}
