use super::*;
use crate::judge::classify::Classification::{self, *};

fn result(classification: Classification, critical: bool) -> MetricResult {
    MetricResult {
        classification,
        critical,
        reason: format!("{classification:?}"),
        interval: None,
        effect_size: None,
        mean_ratio: None,
    }
}

fn metric(name: &str, groups: &[&str], classification: Classification) -> JudgedMetric {
    JudgedMetric {
        name: name.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        muted: false,
        result: result(classification, false),
    }
}

fn weights(w: &[(&str, f64)]) -> BTreeMap<String, f64> {
    w.iter().map(|(g, v)| (g.to_string(), *v)).collect()
}

fn run(metrics: &[JudgedMetric], w: &[(&str, f64)]) -> Score {
    score(metrics, &weights(w), &ScoreThresholds::default())
}

#[test]
fn group_score_is_passes_over_pass_high_low_and_nodata_fail_only() {
    // 2 Pass of (2 Pass + High + NodataFailMetric); Nodata and Error left out.
    let ms: Vec<JudgedMetric> = [Pass, Pass, High, NodataFailMetric, Nodata, Error]
        .into_iter()
        .enumerate()
        .map(|(i, c)| metric(&format!("m{i}"), &["g"], c))
        .collect();
    let s = run(&ms, &[]);
    assert_eq!(s.groups[0].score, 50.0);
    assert_eq!(s.groups[0].metrics, 6);
    assert_eq!(
        (s.score, s.classification),
        (50.0, ScoreClassification::Marginal)
    );
}

#[test]
fn unweighted_groups_share_what_the_weights_leave() {
    // a weighs 60 and scores 50; b and c share 40: b scores 100, c 1/3 → 33.33….
    // 50·0.6 + 100·0.2 + 33.33…·0.2 = 56.666… → 56.67.
    let ms = [
        metric("a1", &["a"], Pass),
        metric("a2", &["a"], High),
        metric("b1", &["b"], Pass),
        metric("c1", &["c"], Pass),
        metric("c2", &["c"], Low),
        metric("c3", &["c"], High),
    ];
    let s = run(&ms, &[("a", 60.0), ("unused", 0.0)]);
    assert_eq!(s.score, 56.67);
    let names: Vec<&str> = s.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn a_group_with_nothing_counted_scores_100() {
    let ms = [
        metric("p", &["a"], Pass),
        metric("h", &["a"], High),
        metric("n", &["b"], Nodata),
    ];
    let s = run(&ms, &[]);
    assert!(s.groups[1].no_data && s.groups[1].score == 100.0);
    assert_eq!(
        (s.score, s.classification),
        (75.0, ScoreClassification::Pass)
    );
    assert_eq!(s.reason, None);
}

#[test]
fn half_or_more_nodata_forces_the_score_to_zero() {
    let ms = [
        metric("a", &["g"], Pass),
        metric("b", &["g"], Pass),
        metric("c", &["g"], Nodata),
        metric("d", &["g"], Nodata),
    ];
    let s = run(&ms, &[]);
    assert_eq!(
        (s.score, s.classification),
        (0.0, ScoreClassification::Fail)
    );
    assert!(s.reason.expect("forced").contains("2 of 4"));
    // One in three is not enough.
    assert_eq!(run(&ms[..3], &[]).score, 100.0);
}

#[test]
fn a_critical_failure_forces_the_score_to_zero() {
    let mut bad = metric("p99", &["latency"], High);
    bad.result.critical = true;
    let ms = [metric("errors", &["errors"], Pass), bad];
    let s = run(&ms, &[]);
    assert_eq!(
        (s.score, s.classification),
        (0.0, ScoreClassification::Fail)
    );
    assert!(s.reason.expect("forced").contains("p99"));
}

#[test]
fn muted_metrics_are_left_out_entirely() {
    let mut muted = metric("noisy", &["g"], High);
    muted.muted = true;
    muted.result.critical = true;
    let s = run(&[metric("ok", &["g"], Pass), muted], &[]);
    assert_eq!((s.score, s.metrics, s.groups[0].metrics), (100.0, 1, 1));
}

#[test]
fn a_metric_counts_once_in_each_of_its_groups() {
    let ms = [
        metric("both", &["a", "b", "a"], High),
        metric("a_only", &["a"], Pass),
    ];
    let s = run(&ms, &[]);
    let scores: Vec<(f64, usize)> = s.groups.iter().map(|g| (g.score, g.metrics)).collect();
    assert_eq!(scores, [(50.0, 2), (0.0, 1)]);
    assert_eq!(s.score, 25.0);
}

#[test]
fn no_metrics_score_zero() {
    let s = run(&[], &[]);
    assert_eq!((s.score, s.metrics, s.reason), (0.0, 0, None));
}

#[test]
fn rounding_is_half_up_on_the_shortest_decimal_form() {
    // 12.345 and 1.005 are stored just below the decimal; Kayenta rounds the
    // decimal form, so both go up.
    assert_eq!(round_half_up_2dp(12.345), 12.35);
    assert_eq!(round_half_up_2dp(1.005), 1.01);
    assert_eq!(round_half_up_2dp(200.0 / 3.0), 66.67);
    assert_eq!(round_half_up_2dp(12.344999), 12.34);
    assert_eq!(round_half_up_2dp(100.0), 100.0);
    assert_eq!(round_half_up_2dp(-0.125), -0.13);
}

#[test]
fn thresholds_split_pass_marginal_and_fail_inclusively() {
    let t = ScoreThresholds::default();
    assert_eq!(classify_score(75.0, &t), ScoreClassification::Pass);
    assert_eq!(classify_score(74.99, &t), ScoreClassification::Marginal);
    assert_eq!(classify_score(50.0, &t), ScoreClassification::Marginal);
    assert_eq!(classify_score(49.99, &t), ScoreClassification::Fail);
    let strict = ScoreThresholds {
        pass: 95.0,
        marginal: 90.0,
    };
    assert_eq!(classify_score(94.0, &strict), ScoreClassification::Marginal);
}

#[test]
fn a_classified_critical_high_zeroes_an_otherwise_passing_analysis() {
    use crate::judge::{MetricConfig, classify};
    use rand::SeedableRng;
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(1);
    let canary = [126.0, 136.0, 140.0, 143.0, 146.0, 148.0];
    let stable = [109.0, 115.0, 116.0, 118.0, 123.0, 127.0];
    let critical = MetricConfig {
        critical: true,
        ..MetricConfig::default()
    };
    let judged = |name: &str, cfg: &MetricConfig, rng: &mut rand::rngs::ChaCha8Rng| JudgedMetric {
        name: name.into(),
        groups: vec!["g".into()],
        muted: cfg.muted,
        result: classify(&canary, &stable, cfg, rng),
    };
    let mut all: Vec<JudgedMetric> = (0..9)
        .map(|i| metric(&format!("ok{i}"), &["g"], Pass))
        .collect();
    all.push(judged("p99", &MetricConfig::default(), &mut rng));
    // Nine passes and one non-critical High: 90, a Pass.
    assert_eq!(run(&all, &[]).score, 90.0);
    all.pop();
    all.push(judged("p99", &critical, &mut rng));
    let s = run(&all, &[]);
    assert_eq!(
        (s.score, s.classification),
        (0.0, ScoreClassification::Fail)
    );
}
