use super::*;
use crate::judge::config::{Direction, EffectSize, OutlierStrategy, Outliers};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

const CANARY: [f64; 6] = [126.0, 136.0, 140.0, 143.0, 146.0, 148.0];
const STABLE: [f64; 6] = [109.0, 115.0, 116.0, 118.0, 123.0, 127.0];

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(7)
}

fn run(x: &[f64], y: &[f64], cfg: &MetricConfig) -> MetricResult {
    classify(x, y, cfg, &mut rng())
}

fn shift(r: &MetricResult) -> (f64, f64, f64) {
    let i = r.interval.expect("the test ran");
    (i.lower, i.upper, i.estimate)
}

/// The hand-worked case.
///
/// canary x = 126 136 140 143 146 148 (m = 6), stable y = 109 115 116 118 123 127
/// (n = 6); the 12 values are distinct. Pairwise differences xᵢ − yⱼ:
///
/// ```text
///          109  115  116  118  123  127
///    126    17   11   10    8    3   -1
///    136    27   21   20   18   13    9
///    140    31   25   24   22   17   13
///    143    34   28   27   25   20   16
///    146    37   31   30   28   23   19
///    148    39   33   32   30   25   21
/// ```
///
/// Sorted, D(1)…D(36): -1 3 8 9 10 11 13 13 16 17 17 18 19 20 20 21 21 22 | 23 24
/// 25 25 25 27 27 28 28 30 30 31 31 32 33 34 37 39; so D(3) = 8, D(18) = 22,
/// D(19) = 23, D(34) = 34.
///
/// For a shift d that is not a difference, x − d outranks y in U(d) = #{D > d}
/// pairs, dz = U − mn/2 = U − 18 (an integer), and with no ties
/// σ = √(mn(N+1)/12) = √(36·13/12) = √39 = 6.2450. z(d) = (dz − ½·sign dz)/σ.
/// At 98 %, q = Φ⁻¹(0.99) = 2.32635 and q·σ = 14.528.
///
/// - Lower bound, z = +q: z > q ⇔ dz − ½ > 14.528 ⇔ dz ≥ 16 (dz = 15 gives
///   14.5, just short) ⇔ U ≥ 34 ⇔ at most 2 differences ≤ d ⇔ d < D(3) = 8.
///   z crosses q at d = 8: **lower = 8**.
/// - Upper bound, z = −q: z < −q ⇔ dz ≤ −16 ⇔ U ≤ 2 ⇔ d > D(34) = 34:
///   **upper = 34**.
/// - Estimate, z = 0: |dz| ≤ ½ ⇔ dz = 0 ⇔ U = 18 ⇔ D(18) = 22 < d < D(19) = 23.
///   z is 0 on all of (22, 23); its midpoint **22.5** is also the median of the
///   36 differences, the Hodges-Lehmann estimate.
/// - Bounds ±0.25·22.5 = ±5.625; lower 8 > 5.625, so the canary is higher.
/// - Mean ratio 139.833/118 = (839/6)/(708/6) = 839/708 = 1.18503 ≥ 1.0, the
///   default allowed increase: **High**. CLES would be 35/36 (one negative D).
///
/// R 4.2.2, wilcox.test(x, y, conf.int = TRUE, conf.level = 0.98, exact = FALSE)
/// gives [8.0000267, 33.9999477] (its solver's 1e-4 tolerance) and estimate
/// 22.036, a point of the flat zero (22, 23).
#[test]
fn hand_worked_case_is_high_with_interval_8_to_34_around_22_5() {
    let r = run(&CANARY, &STABLE, &MetricConfig::default());
    assert_eq!(r.classification, Classification::High, "{}", r.reason);
    assert_eq!(shift(&r), (8.0, 34.0, 22.5));
    let ratio = 839.0 / 708.0;
    assert!((r.mean_ratio.expect("defined") - ratio).abs() < 1e-12);
    assert_eq!(r.effect_size, r.mean_ratio);
    assert!(!r.critical);
    assert!(r.reason.starts_with("canary is high"), "{}", r.reason);
}

#[test]
fn identical_samples_pass_whatever_their_order() {
    let mut shuffled = CANARY;
    shuffled.reverse();
    let r = run(&CANARY, &shuffled, &MetricConfig::default());
    assert_eq!(r.classification, Classification::Pass);
    assert!(r.interval.is_none() && r.reason.contains("identical"));
}

#[test]
fn swapped_hand_worked_case_is_low_with_the_mirrored_interval() {
    let r = run(&STABLE, &CANARY, &MetricConfig::default());
    assert_eq!(r.classification, Classification::Low, "{}", r.reason);
    assert_eq!(shift(&r), (-34.0, -8.0, -22.5));
    assert!(r.mean_ratio.expect("defined") < 1.0);
}

#[test]
fn increase_only_ignores_a_low_and_decrease_only_ignores_a_high() {
    let inc = MetricConfig {
        direction: Direction::Increase,
        ..MetricConfig::default()
    };
    let r = run(&STABLE, &CANARY, &inc);
    assert_eq!(r.classification, Classification::Pass);
    assert!(r.reason.contains("direction"), "{}", r.reason);
    assert_eq!(
        run(&CANARY, &STABLE, &inc).classification,
        Classification::High
    );

    let dec = MetricConfig {
        direction: Direction::Decrease,
        ..MetricConfig::default()
    };
    assert_eq!(
        run(&CANARY, &STABLE, &dec).classification,
        Classification::Pass
    );
    assert_eq!(
        run(&STABLE, &CANARY, &dec).classification,
        Classification::Low
    );
}

#[test]
fn a_small_shift_inside_the_tolerance_band_passes() {
    // Overlapping samples: the interval straddles 0, so it cannot clear ±bound.
    let x = [101.0, 99.0, 103.0, 98.0, 102.0, 100.0];
    let y = [100.0, 98.5, 101.5, 99.5, 102.5, 97.5];
    let r = run(&x, &y, &MetricConfig::default());
    assert_eq!(r.classification, Classification::Pass);
    let (lower, upper, _) = shift(&r);
    assert!(lower < 0.0 && upper > 0.0, "{}", r.reason);
}

#[test]
fn the_effect_size_must_reach_the_allowed_increase() {
    let mut cfg = MetricConfig::default();
    cfg.effect_size.allowed_increase = Some(1.2); // ratio is 1.185
    let r = run(&CANARY, &STABLE, &cfg);
    assert_eq!(r.classification, Classification::Pass);
    assert!(r.reason.contains("allowed increase"), "{}", r.reason);
}

#[test]
fn cles_measure_gates_on_the_share_of_winning_pairs() {
    let mut cfg = MetricConfig {
        effect_size: EffectSize {
            measure: EffectSizeMeasure::Cles,
            ..EffectSize::default()
        },
        ..MetricConfig::default()
    };
    let r = run(&CANARY, &STABLE, &cfg);
    assert_eq!(r.classification, Classification::High);
    assert_eq!(r.effect_size, Some(35.0 / 36.0));
    cfg.effect_size.allowed_increase = Some(0.99);
    assert_eq!(
        run(&CANARY, &STABLE, &cfg).classification,
        Classification::Pass
    );
}

#[test]
fn an_undefined_mean_ratio_does_not_block_a_high() {
    // The stable mean is 0, so the ratio (Kayenta's NaN) is ignored.
    let r = run(
        &[1.0, 2.0, 3.0, 4.0, 5.0],
        &[0.0; 5],
        &MetricConfig::default(),
    );
    assert_eq!(r.classification, Classification::High, "{}", r.reason);
    assert_eq!((r.mean_ratio, r.effect_size), (None, None));
}

#[test]
fn a_critical_high_is_a_critical_failure_unless_below_the_critical_increase() {
    let mut cfg = MetricConfig {
        critical: true,
        ..MetricConfig::default()
    };
    let r = run(&CANARY, &STABLE, &cfg);
    assert_eq!(r.classification, Classification::High);
    assert!(r.critical);
    cfg.effect_size.critical_increase = Some(1.5);
    let r = run(&CANARY, &STABLE, &cfg);
    assert_eq!(r.classification, Classification::High);
    assert!(!r.critical);
    // A critical metric's Pass is never critical.
    assert!(!run(&CANARY, &CANARY, &cfg).critical);
}

#[test]
fn nodata_rules_follow_the_nan_strategy_must_have_data_and_critical() {
    let nan = [f64::NAN; 3];
    let with = |f: fn(&mut MetricConfig)| {
        let mut c = MetricConfig::default();
        f(&mut c);
        let r = run(&nan, &STABLE, &c);
        (r.classification, r.critical)
    };
    use Classification::*;
    assert_eq!(with(|_| {}), (Nodata, false));
    assert_eq!(with(|c| c.critical = true), (Nodata, true));
    assert_eq!(with(|c| c.must_have_data = true), (NodataFailMetric, false));
    assert_eq!(
        with(|c| {
            c.must_have_data = true;
            c.critical = true;
        }),
        (Nodata, true)
    );
    // Replace keeps the (zeroed) samples; only a truly empty side is a Pass.
    let replace = MetricConfig {
        nan_strategy: NanStrategy::Replace,
        critical: true,
        ..MetricConfig::default()
    };
    let r = run(&[], &STABLE, &replace);
    assert_eq!((r.classification, r.critical), (Pass, false));
    let r = run(&CANARY, &[], &MetricConfig::default());
    assert!(r.reason.contains("stable"), "{}", r.reason);
}

#[test]
fn removed_nans_leave_the_verdict_and_replaced_nans_count_as_zeros() {
    let mut x = CANARY.to_vec();
    x.extend([f64::NAN; 6]);
    let r = run(&x, &STABLE, &MetricConfig::default());
    assert_eq!(
        (r.classification, shift(&r)),
        (Classification::High, (8.0, 34.0, 22.5))
    );

    let replace = MetricConfig {
        nan_strategy: NanStrategy::Replace,
        ..MetricConfig::default()
    };
    // Six zeros among twelve canary samples: the interval now reaches far below 0.
    let r = run(&x, &STABLE, &replace);
    assert_eq!(r.classification, Classification::Pass, "{}", r.reason);
    assert!(shift(&r).0 < -100.0, "{}", r.reason);
}

#[test]
fn removing_a_spike_turns_a_blocked_low_into_a_low() {
    // The canary is lower except for one 5000 spike: the rank interval
    // [-13, -4] is clearly below 0, but the spike lifts the mean ratio to 6.6,
    // which blocks Low (it must be ≤ 1). The spike lies beyond both fences
    // (Q3 + 3·IQR = 110.75, P99 = 4657.07), so removing outliers drops it; the
    // ratio falls to 0.91 and the Low stands.
    let x = [95.0, 96.0, 97.0, 98.0, 99.0, 100.0, 101.0, 5000.0];
    let y = [104.0, 105.0, 106.0, 107.0, 108.0, 109.0, 110.0, 111.0];
    let keep = run(&x, &y, &MetricConfig::default());
    assert_eq!(keep.classification, Classification::Pass, "{}", keep.reason);
    assert!(keep.reason.contains("allowed decrease"), "{}", keep.reason);
    assert_eq!((shift(&keep).0, shift(&keep).1), (-13.0, -4.0));
    let remove = MetricConfig {
        outliers: Outliers {
            strategy: OutlierStrategy::Remove,
            ..Outliers::default()
        },
        ..MetricConfig::default()
    };
    let r = run(&x, &y, &remove);
    assert_eq!(r.classification, Classification::Low, "{}", r.reason);
}

#[test]
fn constant_sides_get_seeded_noise_and_a_reproducible_verdict() {
    let x = [110.0; 5];
    let y = [100.0; 5];
    let a = classify(
        &x,
        &y,
        &MetricConfig::default(),
        &mut ChaCha8Rng::seed_from_u64(1),
    );
    let b = classify(
        &x,
        &y,
        &MetricConfig::default(),
        &mut ChaCha8Rng::seed_from_u64(1),
    );
    assert_eq!(a, b);
    assert_eq!(a.classification, Classification::High, "{}", a.reason);
    let (lower, upper, estimate) = shift(&a);
    // Noise sd is 1e-5 of the value, ~1e-3 here: the shift stays ~10.
    for v in [lower, upper, estimate] {
        assert!((v - 10.0).abs() < 0.05, "{}", a.reason);
    }
    assert!(lower < upper, "noise must break the all-tied ranking");
}

#[test]
fn the_rng_is_only_drawn_from_for_constant_sides() {
    let mut used = rng();
    classify(&CANARY, &STABLE, &MetricConfig::default(), &mut used);
    assert_eq!(used.next_u64(), rng().next_u64());
}

#[test]
fn one_value_everywhere_passes_and_an_infinite_sample_is_an_error() {
    let r = run(&[5.0, 5.0], &[5.0, 5.0, 5.0], &MetricConfig::default());
    assert_eq!(r.classification, Classification::Pass);
    let critical = MetricConfig {
        critical: true,
        ..MetricConfig::default()
    };
    let r = run(&[1.0, f64::INFINITY], &[1.0, 2.0], &critical);
    assert_eq!(
        (r.classification, r.critical),
        (Classification::Error, true)
    );
}

#[test]
fn an_invalid_config_is_an_error_naming_the_field() {
    let cfg = MetricConfig {
        confidence_level: 98.0,
        ..MetricConfig::default()
    };
    let r = run(&CANARY, &STABLE, &cfg);
    assert_eq!(r.classification, Classification::Error);
    assert!(r.reason.contains("confidenceLevel"), "{}", r.reason);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Swapping canary and stable turns High into Low and back, Pass into Pass.
    #[test]
    fn swapping_canary_and_stable_mirrors_high_and_low(
        x in prop::collection::vec(1.0f64..1000.0, 2..20),
        y in prop::collection::vec(1.0f64..1000.0, 2..20),
        shift_by in 0.0f64..500.0,
    ) {
        let x: Vec<f64> = x.into_iter().map(|v| v + shift_by).collect();
        let cfg = MetricConfig::default();
        let a = run(&x, &y, &cfg).classification;
        let b = run(&y, &x, &cfg).classification;
        use Classification::*;
        let mirrored = match a {
            High => Low,
            Low => High,
            other => other,
        };
        prop_assert_eq!(b, mirrored);
    }
}

#[test]
fn reasons_quote_numbers_to_six_significant_digits() {
    let r = run(&CANARY, &STABLE, &MetricConfig::default());
    assert_eq!(
        r.reason,
        "canary is high: 98% interval of the shift [8, 34], estimate 22.5, \
         above +5.625; effect size 1.18503"
    );
    assert_eq!(num(0.0012345678), "0.00123457");
    assert_eq!(num(-1234567.0), "-1234567");
}
