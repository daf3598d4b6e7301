//! A run that keeps only what its queries can read gives the same result as
//! one that keeps every sample.
//!
//! `engine::run_result` (sweeps, `run --runs`, `run` without `--out`) drops
//! samples older than the longest reach of the policy's queries, and does
//! not store the series none of them could select; `run` keeps them all for
//! the outputs that show whole series. Over every shipped scenario and
//! policy, in both traffic models, the results must be the same bytes, and
//! the bounded store must actually have dropped samples and series. A
//! bounded run also stops scraping once no query can read its series any
//! more (decided, every AnalysisRun over, no operator left to page); the
//! results are the same bytes all the same.

use canarysim::engine::{Engine, Retention};
use canarysim::report;
use canarysim::scenario::{Scenario, TrafficModel};
use canarysim::sim::SimDuration;

fn samples(store: &canarysim::series::SeriesStore) -> usize {
    store.series().iter().map(|s| s.samples.len()).sum()
}

#[test]
fn bounded_retention_gives_the_same_results_as_full_series() {
    let mut bounded_policies = 0;
    let mut unwatched_runs = 0;
    let mut unwritten_locust = 0;
    for file in [
        "scenarios/checkout-leak.toml",
        "scenarios/checkout-good.toml",
        "scenarios/checkout-slow.toml",
    ] {
        let per_request: Scenario =
            canarysim::scenario::load_file(&super::fixtures::Disk, file.as_ref())
                .expect("shipped scenario");
        let mut batched = per_request.clone();
        batched.traffic_model = TrafficModel::Batched {
            batch: SimDuration::from_secs(1),
            soak_batch: batched.scrape_interval,
        };
        for (sc, seeds) in [(&per_request, &[1u64, 7][..]), (&batched, &[3][..])] {
            for policy in &sc.policies {
                for &seed in seeds {
                    let full = Engine::with_retention(sc, policy, seed, Retention::Full).run();
                    let kept = Engine::with_retention(sc, policy, seed, Retention::Queries).run();
                    assert_eq!(
                        report::json(std::slice::from_ref(&full.result)),
                        report::json(std::slice::from_ref(&kept.result)),
                        "{file} {} seed {seed} ({:?})",
                        policy.name,
                        sc.traffic_model
                    );
                    // The Locust runs count the same; only a run that keeps
                    // everything (or pushes them) writes their CSV files.
                    assert_eq!(full.locust.len(), kept.locust.len());
                    for ((name, f), (_, k)) in full.locust.iter().zip(&kept.locust) {
                        assert!(f.csv.is_some(), "{file} {} {name}", policy.name);
                        assert_eq!(
                            (&f.history, f.exit_code, f.stats.total().num_requests),
                            (&k.history, k.exit_code, k.stats.total().num_requests),
                            "{file} {} {name}",
                            policy.name
                        );
                        if k.csv.is_none() {
                            unwritten_locust += 1;
                        }
                    }
                    let (a, b) = (samples(&full.series), samples(&kept.series));
                    assert!(b <= a, "{file} {}: {b} kept of {a}", policy.name);
                    if kept.series.retention().is_some() {
                        assert!(b * 2 < a, "{file} {}: {b} kept of {a}", policy.name);
                        bounded_policies += 1;
                    }
                    let (a, b) = (full.series.len(), kept.series.len());
                    assert!(b < a, "{file} {}: {b} series of {a}", policy.name);
                    assert_eq!(full.unwatched_at, None, "a full run scrapes to its end");
                    // Once decided with nothing left to query, the bounded
                    // run stops scraping: no sample after that instant.
                    // The manual policy's operator is paged by an OOM kill
                    // and may undo, so its runs are watched to the end.
                    let pages = policy.operator.page_on_oom;
                    assert_eq!(
                        kept.unwatched_at.is_some(),
                        !pages,
                        "{file} {}",
                        policy.name
                    );
                    if let Some(at) = kept.unwatched_at {
                        let at_ms = at.as_millis() - sc.warmup.as_millis() as i64;
                        let last = kept.series.series().iter().filter_map(|s| s.samples.last());
                        assert!(last.clone().all(|p| p.t <= at_ms), "{file} {}", policy.name);
                        let end_ms = (full.result.sim_duration_s * 1000.0) as i64;
                        assert!(
                            at_ms < end_ms - 3_600_000,
                            "{file} {}: unwatched at {at_ms} ms",
                            policy.name
                        );
                        unwatched_runs += 1;
                    }
                }
            }
        }
    }
    // Every shipped policy's queries have a known reach.
    assert!(bounded_policies > 20, "{bounded_policies} bounded runs");
    assert!(
        unwatched_runs > 20,
        "{unwatched_runs} runs stopped scraping early"
    );
    assert!(
        unwritten_locust > 10,
        "{unwritten_locust} Locust runs without files"
    );
}

/// checkout-good with one policy: a pause for a person first, whom a
/// panel that always reads above its line (`max(up)` is 1) makes abort.
fn operator_aborts_at_a_pause() -> Scenario {
    let text = std::fs::read_to_string("scenarios/checkout-good.toml").expect("shipped scenario");
    let head = &text[..text.find("[[policies]]").expect("a policy")];
    let text = format!(
        r#"{head}
[[policies]]
name = "pause-first"
steps = [{{ pause = {{}} }}, {{ setWeight = 100 }}]
[policies.operator]
promote_after = "30m"
look_every = "1m"
reaction = "10s"
panels = [{{ name = "targets up", above = 0.5, query = 'max(up)' }}]
"#
    );
    canarysim::scenario::load_str("pause-first.toml", &text).expect("valid scenario")
}

/// An abort clears the pause conditions (argo-rollouts `rollout/pause.go`,
/// `CalculatePauseStatus`), so the operator who aborted at a pause for a
/// person stops looking at its panels: one look sees the panel above its
/// line and none follows the abort. With nobody looking, the bounded run
/// stops scraping at the abort and still gives the same bytes as the run
/// that keeps its whole series. And the soak after an abort the operator
/// made between two reconciles ends the run, as after any other abort.
#[test]
fn an_abort_at_a_pause_for_a_person_ends_the_looks_and_the_soak_follows_the_abort() {
    let per_request = operator_aborts_at_a_pause();
    let mut batched = per_request.clone();
    batched.traffic_model = TrafficModel::Batched {
        batch: SimDuration::from_secs(1),
        soak_batch: batched.scrape_interval,
    };
    for sc in [&per_request, &batched] {
        let policy = &sc.policies[0];
        let full = Engine::with_retention(sc, policy, 1, Retention::Full).run();
        let kept = Engine::with_retention(sc, policy, 1, Retention::Queries).run();
        assert_eq!(
            report::json(std::slice::from_ref(&full.result)),
            report::json(std::slice::from_ref(&kept.result)),
            "{:?}",
            sc.traffic_model
        );
        let aborted = full
            .result
            .rollout
            .aborted_at_s
            .expect("the operator aborts");
        let looks: Vec<f64> = full
            .result
            .timeline
            .iter()
            .filter(|e| e.kind == "operator")
            .map(|e| e.t_s)
            .collect();
        assert_eq!(looks.len(), 1, "{looks:?}");
        assert!(looks[0] < aborted, "{looks:?} against {aborted}");
        let at = kept.unwatched_at.expect("nobody looks after the abort");
        let at_s = (at.as_millis() - sc.warmup.as_millis() as i64) as f64 / 1000.0;
        assert_eq!(at_s, aborted, "unwatched from the abort on");
        let soak = sc.soak.as_millis() as f64 / 1000.0;
        assert_eq!(full.result.sim_duration_s, aborted + soak);
    }
}
