//! The batched traffic model against queueing theory and against the
//! per-request model it stands in for.
//!
//! The agreement test runs both models over 200 seeds on both shipped
//! scenarios with every shipped policy. The two models draw their random
//! numbers for different purposes, so equal seeds give independent samples
//! and the comparisons are unpaired (Law, *Simulation Modeling and
//! Analysis*, on common random numbers).

use canarysim::engine::run;
use canarysim::model::Version;
use canarysim::outcome::{RunResult, Verdict};
use canarysim::scenario::{Scenario, TrafficModel};
use canarysim::sim::SimDuration;
use rayon::prelude::*;

use super::fixtures::{load, scenario_text};

fn batched(mut sc: Scenario) -> Scenario {
    sc.traffic_model = TrafficModel::Batched {
        batch: SimDuration::from_secs(1),
        soak_batch: sc.scrape_interval,
    };
    sc
}

/// One pod with `c` workers and exponential service of mean 100 ms, at
/// utilisation `rho`, in the batched model.
fn mmc_scenario(c: u32, rho: f64) -> Scenario {
    let lambda = rho * f64::from(c) / 0.1;
    let text = scenario_text(
        1,
        lambda,
        f64::from(c),
        r#"
[versions.stable]
latency = { get = { dist = "exponential", mean = "100ms" } }
[versions.canary]
[[policies]]
name = "hold"
steps = [ { pause = {} } ]
"#,
    )
    .replace(
        "[simulation]\n",
        "[simulation]\ntraffic_model = \"batched\"\n",
    );
    load(&text)
}

/// Mean response time over the whole run, as `_sum / _count` of the stable
/// pod's histogram reads at its last scrape.
fn mean_response_time(sc: &Scenario) -> f64 {
    let out = run(sc, &sc.policies[0], 7);
    let last = |name: &str| -> f64 {
        out.series
            .series()
            .iter()
            .filter(|s| s.labels.metric_name() == Some(name))
            .filter_map(|s| s.samples.iter().rev().find(|x| x.v.is_finite()))
            .map(|x| x.v)
            .sum()
    };
    last("http_request_duration_seconds_sum") / last("http_request_duration_seconds_count")
}

/// M/M/c mean response time 1/μ + C(c, a)/(cμ − λ), with Erlang C from its
/// closed form (Kleinrock, *Queueing Systems* vol. 1, §3.5).
fn mmc_theory(c: u32, rho: f64) -> f64 {
    let mu = 10.0;
    let lambda = rho * f64::from(c) * mu;
    let a = lambda / mu;
    let mut sum = 0.0;
    let mut term = 1.0;
    for k in 0..c {
        if k > 0 {
            term *= a / f64::from(k);
        }
        sum += term;
    }
    let top = term * a / f64::from(c) / (1.0 - rho);
    let erlang_c = top / (sum + top);
    1.0 / mu + erlang_c / (f64::from(c) * mu - lambda)
}

#[test]
fn batched_mm1_and_mm4_mean_response_times_are_within_3_percent_of_theory() {
    for c in [1, 4] {
        for rho in [0.5, 0.8, 0.95] {
            let got = mean_response_time(&mmc_scenario(c, rho));
            let want = mmc_theory(c, rho);
            assert!(
                (got / want - 1.0).abs() < 0.03,
                "M/M/{c} at ρ = {rho}: {got:.4} s, theory {want:.4} s"
            );
        }
    }
}

/// Two-sided p-value of the two-proportion z-test (pooled variance) for
/// `x1` of `n1` against `x2` of `n2`; 1 when both are 0 or both all.
fn two_proportion_p(x1: usize, n1: usize, x2: usize, n2: usize) -> f64 {
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1 + n2) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    if se == 0.0 {
        return 1.0;
    }
    let z = ((p1 - p2) / se).abs();
    statrs::function::erf::erfc(z / std::f64::consts::SQRT_2)
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

/// The detection instants of the runs that detected: each time to detect
/// (to the second) with the number of runs that detected then, in order.
/// A caught run is detected at an analysis measurement or operator look, so
/// the distribution is discrete and gapped.
fn detection_instants(ttd: &[f64]) -> Vec<(u64, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for t in ttd {
        *counts.entry(t.round() as u64).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

/// `{395 s: 6, 509 s: 10}`.
fn show_instants(instants: &[(u64, usize)]) -> String {
    let cells: Vec<String> = instants
        .iter()
        .map(|(t, n)| format!("{t} s: {n}"))
        .collect();
    format!("{{{}}}", cells.join(", "))
}

/// Mid-ranks of the pooled sample `a ++ b` (ties share the mean of the
/// ranks they span), and Σ (t³ − t) over the groups of t tied values.
fn mid_ranks(a: &[f64], b: &[f64]) -> (Vec<f64>, f64) {
    let mut pooled: Vec<(f64, usize)> = a.iter().chain(b).copied().zip(0..).collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut ranks = vec![0.0; pooled.len()];
    let mut ties = 0.0;
    let mut i = 0;
    while i < pooled.len() {
        let mut j = i;
        while j + 1 < pooled.len() && pooled[j + 1].0 == pooled[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for x in &pooled[i..=j] {
            ranks[x.1] = rank;
        }
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    (ranks, ties)
}

/// Two-sided p-value of the Mann–Whitney U test of `a` against `b`: the
/// normal approximation with the tie correction of the variance and a
/// continuity correction (Hollander, Wolfe and Chicken, *Nonparametric
/// Statistical Methods*, §4.1; what `scipy.stats.mannwhitneyu` computes
/// with `method="asymptotic"`). 1 when every value is tied.
fn mann_whitney_p(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (ranks, ties) = mid_ranks(a, b);
    let u = ranks[..a.len()].iter().sum::<f64>() - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if variance <= 0.0 {
        return 1.0;
    }
    let z = ((u - n1 * n2 / 2.0).abs() - 0.5).max(0.0) / variance.sqrt();
    statrs::function::erf::erfc(z / std::f64::consts::SQRT_2).min(1.0)
}

/// Permutation p-value of the same statistic, which needs no
/// approximation and is valid with ties (Good, *Permutation, Parametric
/// and Bootstrap Tests of Hypotheses*, §3.1; batched-traffic notes §7):
/// the share of `rounds` random relabellings of the pooled mid-ranks, from
/// a fixed seed, whose |U − n₁n₂/2| is at least the observed one, counting
/// the observed labelling itself.
fn permutation_p(a: &[f64], b: &[f64], rounds: usize) -> f64 {
    use rand::RngExt;
    let (mut ranks, _) = mid_ranks(a, b);
    let n1 = a.len();
    let centre = (n1 * b.len()) as f64 / 2.0;
    let offset = (n1 * (n1 + 1)) as f64 / 2.0;
    let spread = |r: &[f64]| (r[..n1].iter().sum::<f64>() - offset - centre).abs();
    let observed = spread(&ranks);
    let mut rng = canarysim::sim::rng::stream(1, "permutation-test", 0);
    let mut as_extreme = 1;
    for _ in 0..rounds {
        // Fisher–Yates over the first n₁ places: a uniform random subset.
        for i in 0..n1 {
            let j = rng.random_range(i..ranks.len());
            ranks.swap(i, j);
        }
        if spread(&ranks) >= observed - 1e-9 {
            as_extreme += 1;
        }
    }
    as_extreme as f64 / (rounds + 1) as f64
}

/// The rank tests against values worked by hand. Without ties, 1–5 against
/// 6–10: U = 0, Var U = 5·5·11/12, z = (12.5 − 0.5)/√22.92 = 2.507,
/// p = 0.0122 (Hollander, Wolfe and Chicken §4.1); the exact two-sided
/// p-value is 2/C(10, 5) = 2/252 = 0.0079, which the permutation p-value
/// estimates. Identical samples give p = 1, and a sample that is all one
/// tie has no variance to test.
#[test]
fn the_rank_tests_give_the_worked_values() {
    let (a, b) = ([1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0, 10.0]);
    let p = mann_whitney_p(&a, &b);
    assert!((p - 0.0122).abs() < 0.0005, "{p}");
    let perm = permutation_p(&a, &b, 100_000);
    assert!((perm - 2.0 / 252.0).abs() < 0.0015, "{perm}");
    assert_eq!(mann_whitney_p(&a, &a), 1.0);
    assert!(permutation_p(&a, &a, 1000) > 0.99);
    assert_eq!(mann_whitney_p(&[3.0; 4], &[3.0; 5]), 1.0);
    // Ties: 1 1 2 | 2 3 3 has mid-ranks 1.5 1.5 3.5 | 3.5 5.5 5.5 and
    // Σ(t³ − t) = 3 · 6.
    let (ranks, ties) = mid_ranks(&[1.0, 1.0, 2.0], &[2.0, 3.0, 3.0]);
    assert_eq!(ranks, vec![1.5, 1.5, 3.5, 3.5, 5.5, 5.5]);
    assert_eq!(ties, 18.0);
}

/// Mood's median test: whether two samples could share a median. The
/// pooled median splits each sample into the values above it and the rest,
/// and Fisher's exact test on that 2×2 table gives the two-sided p-value
/// (twice the smaller tail, at most 1; Mood 1950, Conover, *Practical
/// Nonparametric Statistics* §4.3, which gives the chi-square form).
fn mood_median_p(a: &[f64], b: &[f64]) -> f64 {
    use canarysim::check::fisher::{p_higher, p_lower};
    let Some(m) = median(a.iter().chain(b).copied().collect()) else {
        return 1.0;
    };
    let above = |xs: &[f64]| xs.iter().filter(|x| **x > m).count() as u64;
    let (k1, n1, k2, n2) = (above(a), a.len() as u64, above(b), b.len() as u64);
    (2.0 * p_lower(k1, n1, k2, n2).min(p_higher(k1, n1, k2, n2))).min(1.0)
}

/// Mood's test, worked by hand: 1…5 against 6…10 split at 5.5 into 0 of 5
/// and 5 of 5 above, Fisher's two-sided p = 2/C(10, 5) = 2/252; 1…6 against
/// 4…9 split at 5 into 1 of 6 and 4 of 6 above, p = 2 · 20/165 = 0.2424
/// (the table's lower tail: C(5,0)C(7,6) + C(5,1)C(7,5) over C(12,6) =
/// 112/924).
#[test]
fn moods_median_test_gives_the_worked_values() {
    let one_to = |lo: u32, hi: u32| (lo..=hi).map(f64::from).collect::<Vec<_>>();
    let p = mood_median_p(&one_to(1, 5), &one_to(6, 10));
    assert!((p - 2.0 / 252.0).abs() < 1e-12, "{p}");
    let p = mood_median_p(&one_to(1, 6), &one_to(4, 9));
    assert!((p - 2.0 * 112.0 / 924.0).abs() < 1e-12, "{p}");
    assert_eq!(mood_median_p(&one_to(1, 6), &one_to(1, 6)), 1.0);
}

/// Seconds from full promotion to the first canary OOM kill after it.
fn first_oom_after_promotion(r: &RunResult) -> Option<f64> {
    let p = r.rollout.promoted_at_s?;
    r.oom_kills
        .iter()
        .filter(|k| k.version == Version::Canary && k.t_s >= p)
        .map(|k| k.t_s - p)
        .next()
}

const SEEDS: u64 = 200;
const VERDICTS: [Verdict; 5] = [
    Verdict::Caught,
    Verdict::Missed,
    Verdict::Promoted,
    Verdict::FalseAbort,
    Verdict::Undecided,
];

#[test]
#[ignore = "passes on the tree of 7 Dec 2026 (4f53739, and again with the soak batches of settled runs; hardened-fixed's time-to-detect medians by Mood's median test, \
            see README, Which model is the default) but takes 6 to 10 min on the 2-core machine, too long for the \
            suite; run with --ignored"]
fn batched_and_per_request_models_give_the_same_verdicts() {
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for file in [
        "scenarios/checkout-leak.toml",
        "scenarios/checkout-good.toml",
    ] {
        let per_request = canarysim::scenario::load_file(&super::fixtures::Disk, file.as_ref())
            .expect("shipped scenario");
        let batch = batched(per_request.clone());
        for policy in &per_request.policies {
            let runs = |sc: &Scenario| -> Vec<RunResult> {
                (1..=SEEDS)
                    .into_par_iter()
                    .map(|seed| run(sc, policy, seed).result)
                    .collect()
            };
            let (a, b) = (runs(&per_request), runs(&batch));
            let n = SEEDS as usize;
            for v in VERDICTS {
                let xa = a.iter().filter(|r| r.verdict == v).count();
                let xb = b.iter().filter(|r| r.verdict == v).count();
                let p = two_proportion_p(xa, n, xb, n);
                report.push(format!(
                    "{file} {} {v:?}: {xa} vs {xb} (p = {p:.3})",
                    policy.name
                ));
                if p <= 0.01 {
                    failures.push(format!(
                        "{file} {} {v:?}: {xa} vs {xb}, p = {p:.4}",
                        policy.name
                    ));
                }
            }
            // To the second, so that the two models' detections at one
            // analysis instant tie.
            let ttd = |rs: &[RunResult]| -> Vec<f64> {
                rs.iter()
                    .filter_map(|r| r.time_to_detect_s)
                    .map(f64::round)
                    .collect()
            };
            let (ta, tb) = (ttd(&a), ttd(&b));
            if let (Some(ma), Some(mb)) = (median(ta.clone()), median(tb.clone())) {
                // Next to the medians: where the detections fall, and
                // whether the two distributions differ by rank.
                let mood = mood_median_p(&ta, &tb);
                let more = format!(
                    "detected {} vs {}; instants per request {}, batched {}; \
                     Mann-Whitney p = {:.3}, permutation p = {:.3}, Mood's median p = {mood:.3}",
                    ta.len(),
                    tb.len(),
                    show_instants(&detection_instants(&ta)),
                    show_instants(&detection_instants(&tb)),
                    mann_whitney_p(&ta, &tb),
                    permutation_p(&ta, &tb, 20_000),
                );
                report.push(format!(
                    "{file} {} median time to detect: {ma} vs {mb} ({more})",
                    policy.name
                ));
                // Detections fall on the analysis's measurement instants, a
                // few and the same in both models. Where the pooled share
                // detected by one instant is near a half (hardened-fixed on
                // the leak: about 51 % by 509 s, the rest at 874 and 988
                // s), two samples of one model put their medians on
                // neighbouring instants about half the time, whatever the
                // number of seeds. There, and only there (at most 8
                // instants, at least 10 detections a model, each median an
                // instant and the two next to each other), medians more
                // than 10 % apart still agree if Mood's median test cannot
                // tell them apart.
                let mut instants: Vec<f64> = ta.iter().chain(&tb).copied().collect();
                instants.sort_by(f64::total_cmp);
                instants.dedup();
                let at = |m: f64| instants.iter().position(|x| *x == m);
                let neighbours = match (at(ma), at(mb)) {
                    (Some(i), Some(j)) => i.abs_diff(j) == 1,
                    _ => false,
                };
                let discrete =
                    instants.len() <= 8 && ta.len() >= 10 && tb.len() >= 10 && neighbours;
                if (mb / ma - 1.0).abs() > 0.10 && !(discrete && mood > 0.01) {
                    failures.push(format!(
                        "{file} {}: median time to detect {ma} vs {mb}, outside 10 % ({more})",
                        policy.name
                    ));
                }
            }
            let oom = |rs: &[RunResult]| {
                median(rs.iter().filter_map(first_oom_after_promotion).collect())
            };
            if let (Some(ma), Some(mb)) = (oom(&a), oom(&b)) {
                report.push(format!(
                    "{file} {} median first OOM after promotion: {ma:.0} vs {mb:.0}",
                    policy.name
                ));
                if (mb / ma - 1.0).abs() > 0.02 {
                    failures.push(format!(
                        "{file} {}: first OOM after promotion {ma:.0} vs {mb:.0}",
                        policy.name
                    ));
                }
            }
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One pod, one worker, 100 ms constant service, 20 req/s offered: twice
/// what it can serve.
fn overloaded(model: &str, pod_extra: &str, traffic_extra: &str) -> Scenario {
    let text = scenario_text(
        1,
        20.0,
        1.0,
        r#"
[versions.stable]
latency = { get = { dist = "constant", value = "100ms" } }
[versions.canary]
[[policies]]
name = "hold"
steps = [ { pause = {} } ]
"#,
    )
    .replace(
        "[simulation]\n",
        &format!("[simulation]\ntraffic_model = \"{model}\"\n"),
    )
    .replace(
        "workers_per_cpu = 1\n",
        &format!("workers_per_cpu = 1\n{pod_extra}\n"),
    )
    .replace(
        "mix = { get = 1 }\n",
        &format!("mix = {{ get = 1 }}\n{traffic_extra}\n"),
    );
    load(&text)
}

fn failed_share(sc: &Scenario) -> f64 {
    let r = run(sc, &sc.policies[0], 3).result;
    let s = r.requests.stable;
    s.failed as f64 / s.total as f64
}

/// Past its listen backlog a pod refuses connections (`listen(2)`: "If a
/// connection request arrives when the queue is full, the client may
/// receive an error"); the ingress answers 503. At twice the capacity about
/// half the requests are refused, in either model.
#[test]
fn a_full_accept_queue_refuses_the_excess_in_both_models() {
    for model in ["per-request", "batched"] {
        let sc = overloaded(model, "accept_queue = 20", "");
        assert_eq!(sc.pod.accept_queue, 20);
        let share = failed_share(&sc);
        assert!((share - 0.5).abs() < 0.03, "{model}: {share} failed");
    }
}

/// ingress-nginx gives up on a response after `proxy-read-timeout` (60 s by
/// default, `config.go` `NewDefault`) and answers 504: with a 2 s timeout
/// and a backlog of 10 s, every request served after the queue filled is a
/// failure; with the default 60 s, only the refused half is.
#[test]
fn the_ingress_answers_504_after_proxy_read_timeout_in_both_models() {
    for model in ["per-request", "batched"] {
        let short = overloaded(model, "accept_queue = 100", "proxy_read_timeout = \"2s\"");
        let share = failed_share(&short);
        assert!(share > 0.97, "{model}, 2 s timeout: {share} failed");
        let default = overloaded(model, "accept_queue = 100", "");
        assert_eq!(
            default.traffic.proxy_read_timeout,
            SimDuration::from_secs(60)
        );
        let share = failed_share(&default);
        assert!(
            (share - 0.5).abs() < 0.03,
            "{model}, 60 s timeout: {share} failed"
        );
    }
}

/// `lint` notes a batched scenario whose pods run near saturation, where the
/// batched model is least faithful (docs/scenario.md), and only then.
#[test]
fn lint_notes_a_batched_scenario_near_saturation() {
    use canarysim::lint::{LintOptions, Severity, lint_paths};
    let dir = tempfile::tempdir().unwrap();
    let notes = |model: &str, rate: f64| -> usize {
        let text = scenario_text(1, rate, 1.0, "[versions.stable]\nlatency = { get = { dist = \"constant\", value = \"100ms\" } }\n[versions.canary]\n")
            .replace("[simulation]\n", &format!("[simulation]\ntraffic_model = \"{model}\"\n"));
        let path = dir.path().join(format!("{model}-{rate}.toml"));
        std::fs::write(&path, text).unwrap();
        let report = lint_paths(&super::fixtures::Disk, &[path], &LintOptions::default());
        report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Note)
            .filter(|f| {
                f.diagnostic
                    .to_string()
                    .contains("of their workers at full traffic")
            })
            .count()
    };
    assert_eq!(notes("batched", 9.5), 1, "95 % busy");
    assert_eq!(notes("batched", 5.0), 0, "50 % busy");
    assert_eq!(
        notes("per-request", 9.5),
        0,
        "the per-request model is the reference"
    );
}

/// A sweep's runs share one plan and the batched model's response laws
/// (`engine::run_result_sharing`): runs that share them give the same bytes
/// as runs that work them out alone, whatever order they run in, and a run
/// of a scenario with other latencies takes only the laws of the version
/// whose latencies it shares.
#[test]
fn runs_sharing_response_laws_give_the_same_results_as_runs_alone() {
    use canarysim::engine::{Plan, Retention, SharedLaws, run_result, run_result_sharing};
    use canarysim::report::json;
    let shipped = |file: &str| -> Scenario {
        batched(
            canarysim::scenario::load_file(&super::fixtures::Disk, file.as_ref())
                .expect("shipped scenario"),
        )
    };
    let leak = shipped("scenarios/checkout-leak.toml");
    let slow = shipped("scenarios/checkout-slow.toml");
    let laws = SharedLaws::default();
    let policy = leak.policy("hardened").expect("shipped policy");
    let plan = Plan::new(&leak, policy, Retention::Queries);
    for seed in [7, 5, 6] {
        let shared = run_result_sharing(&plan, seed, &laws);
        let alone = run_result(&leak, policy, seed);
        assert_eq!(
            json(std::slice::from_ref(&shared)),
            json(std::slice::from_ref(&alone)),
            "seed {seed}"
        );
    }
    let kept = laws.len();
    assert!(kept > 0);
    assert!(
        laws.reused() > 0,
        "the later seeds took the first one's laws"
    );
    let reused = laws.reused();
    let policy = slow.policy("hardened").expect("shipped policy");
    let shared = run_result_sharing(&Plan::new(&slow, policy, Retention::Queries), 5, &laws);
    let alone = run_result(&slow, policy, 5);
    assert_eq!(
        json(std::slice::from_ref(&shared)),
        json(std::slice::from_ref(&alone))
    );
    assert!(
        laws.len() > kept,
        "checkout-slow's canary laws are its own, not checkout-leak's"
    );
    assert!(
        laws.reused() > reused,
        "checkout-slow's stable version has checkout-leak's latencies and takes their laws"
    );
}

/// A shipped scenario's `policy` in the batched model over `seeds`, with
/// soak batches of 1 s (one batch length throughout) and of 15 s (the
/// default, the scrape interval).
fn soak_batch_runs(file: &str, policy: &str, seeds: u64) -> [Vec<RunResult>; 2] {
    let sc: Scenario = canarysim::scenario::load_file(&super::fixtures::Disk, file.as_ref())
        .expect("shipped scenario");
    let policy = sc.policies.iter().find(|p| p.name == policy).unwrap();
    [1, 15].map(|soak_batch| {
        let mut sc = sc.clone();
        sc.traffic_model = TrafficModel::Batched {
            batch: SimDuration::from_secs(1),
            soak_batch: SimDuration::from_secs(soak_batch),
        };
        (1..=seeds)
            .into_par_iter()
            .map(|seed| canarysim::engine::run_result(&sc, policy, seed))
            .collect()
    })
}

/// Once a run is settled (the rollout decided, every AnalysisRun over, no
/// operator left to act) and every pod is steady, a batch lasts up to the
/// next multiple of `soak_batch` (by default the scrape interval): a good
/// release's soak takes a fifteenth of the one-second batches, each of
/// them an event.
#[test]
fn a_settled_run_with_steady_pods_takes_soak_batches() {
    let [a, b] = soak_batch_runs("scenarios/checkout-good.toml", "memory-trend", 1);
    let (a, b) = (&a[0], &b[0]);
    assert_eq!(a.verdict, Verdict::Promoted);
    // Everything up to the decision is the same run.
    assert_eq!(a.rollout.promoted_at_s, b.rollout.promoted_at_s);
    assert_eq!(a.sim_duration_s, b.sim_duration_s);
    let promoted = a.rollout.promoted_at_s.unwrap();
    let soak_secs = a.sim_duration_s - promoted;
    let saved = a.events as f64 - b.events as f64;
    let most = soak_secs * 14.0 / 15.0;
    assert!(
        saved > 0.95 * most && saved <= most + 15.0,
        "{saved} batches saved of at most {most:.0} in a {soak_secs} s soak"
    );
}

/// The long batches of a settled run stop short of its end: a run leaves
/// unsimulated only the part of a one-second batch that its end cuts off,
/// as before the decision. Were the last long batch cut off instead, each
/// run would lose about 7 s of traffic on average (some 420 requests at 60
/// a second; 14 s, 840, for a soak ending 14 s past a multiple of 15 s, as
/// these do); the paired difference of 40 runs' totals has a standard
/// error of about 150.
#[test]
fn a_settled_run_simulates_its_soak_to_its_end() {
    let [a, b] = soak_batch_runs("scenarios/checkout-good.toml", "memory-trend", 40);
    let total = |r: &RunResult| (r.requests.stable.total + r.requests.canary.total) as f64;
    let mean_gap = a
        .iter()
        .zip(&b)
        .map(|(x, y)| total(x) - total(y))
        .sum::<f64>()
        / a.len() as f64;
    assert!(
        mean_gap.abs() < 420.0,
        "{mean_gap:.0} requests a run fewer with soak batches"
    );
}

/// Longer batches stop where a pod nears its memory limit: it is stepped
/// by `batch` from before its slow-down until it is serving again after
/// the kill, so the kill, the requests it loses and its restart are placed
/// as finely as before the decision. A missed leak's soak (hardened-fixed
/// promotes the leaking canary in most runs, which then OOMs every half
/// hour) gives the same first kill and the same failures after promotion
/// with one-second and fifteen-second soak batches; a fixed fifteen-second
/// batch put every kill's remaining batch among the lost and doubled them.
#[test]
fn a_pod_near_its_limit_is_stepped_by_the_batch_in_the_soak() {
    let [a, b] = soak_batch_runs("scenarios/checkout-leak.toml", "hardened-fixed", 40);
    let mut first = (Vec::new(), Vec::new());
    let mut failed = (0u64, 0u64);
    let (mut saved, mut soak_secs) = (0.0, 0.0);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.verdict, y.verdict, "seed {}", x.seed);
        if x.verdict != Verdict::Missed {
            continue;
        }
        first.0.extend(first_oom_after_promotion(x));
        first.1.extend(first_oom_after_promotion(y));
        failed.0 += x.failed_requests.after_promotion.unwrap_or(0);
        failed.1 += y.failed_requests.after_promotion.unwrap_or(0);
        saved += x.events as f64 - y.events as f64;
        soak_secs += x.sim_duration_s - x.rollout.promoted_at_s.unwrap();
    }
    assert!(first.0.len() >= 30, "{} missed of 40", first.0.len());
    assert_eq!(first.0.len(), first.1.len());
    let missed = first.0.len() as f64;
    let (m0, m1) = (median(first.0).unwrap(), median(first.1).unwrap());
    assert!((m1 / m0 - 1.0).abs() < 0.01, "first OOM {m0} s, {m1} s");
    let ratio = failed.1 as f64 / failed.0 as f64;
    assert!(
        (ratio - 1.0).abs() < 0.1,
        "failed after promotion: {} with 1 s, {} with 15 s soak batches",
        failed.0,
        failed.1
    );
    // The soak still took the longer batches: one event each instead of
    // fifteen, the pods that near their limit stepped inside them.
    let most = soak_secs * 14.0 / 15.0;
    assert!(
        saved > 0.95 * most && saved <= most + 15.0 * missed,
        "{saved} batches saved of at most {most:.0}"
    );
}

/// A batch is at least 1 ms: shorter ones cost more than simulating each
/// request and only slow the run down (a 1 µs one by hours).
#[test]
fn a_batch_shorter_than_a_millisecond_is_refused_with_its_location() {
    let base = super::fixtures::flagship_base()
        + "[[policies]]\nname = \"hold\"\nsteps = [ { pause = {} } ]\n";
    for (batch, ok) in [
        ("1ms", true),
        ("5ms", true),
        ("999us", false),
        ("1us", false),
    ] {
        let extra =
            format!("traffic_model = \"batched\"\nbatch = \"{batch}\"\nsoak_batch = \"{batch}\"\n");
        let text = base.replace("[simulation]\n", &format!("[simulation]\n{extra}"));
        match (canarysim::scenario::load_str("t.toml", &text), ok) {
            (Ok(sc), true) => assert!(matches!(sc.traffic_model, TrafficModel::Batched { .. })),
            (Err(e), false) => {
                let e = e.to_string();
                assert!(
                    e.contains("simulation.batch") && e.contains("shorter than 1ms"),
                    "{batch}: {e}"
                );
                assert!(e.contains("t.toml:"), "{batch}: no location in {e}");
            }
            (got, _) => panic!("{batch}: {:?}", got.map(|s| s.traffic_model)),
        }
    }
}

/// `soak_batch` is a whole number of batches that divides the scrape
/// interval, and only the batched model has one.
#[test]
fn a_soak_batch_must_be_whole_batches_dividing_the_scrape_interval() {
    let base = super::fixtures::flagship_base()
        + "[[policies]]\nname = \"hold\"\nsteps = [ { pause = {} } ]\n";
    for (extra, ok) in [
        ("traffic_model = \"batched\"\nsoak_batch = \"5s\"\n", true),
        ("traffic_model = \"batched\"\nsoak_batch = \"1s\"\n", true),
        ("traffic_model = \"batched\"\nsoak_batch = \"30s\"\n", false),
        ("traffic_model = \"batched\"\nsoak_batch = \"4s\"\n", false),
        (
            "traffic_model = \"batched\"\nbatch = \"5s\"\nsoak_batch = \"3s\"\n",
            false,
        ),
        ("soak_batch = \"15s\"\n", false),
    ] {
        let text = base.replace("[simulation]\n", &format!("[simulation]\n{extra}"));
        let got = canarysim::scenario::load_str("t.toml", &text);
        match (got, ok) {
            (Ok(sc), true) => assert!(matches!(sc.traffic_model, TrafficModel::Batched { .. })),
            (Err(e), false) => assert!(e.to_string().contains("soak_batch"), "{extra}: {e}"),
            (got, _) => panic!("{extra}: {:?}", got.map(|s| s.traffic_model)),
        }
    }
}
