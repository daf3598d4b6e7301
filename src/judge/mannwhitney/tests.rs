use super::*;
use proptest::prelude::*;

/// The hand-worked samples of `classify`'s High test (canary, stable).
const A_X: [f64; 6] = [126.0, 136.0, 140.0, 143.0, 146.0, 148.0];
const A_Y: [f64; 6] = [109.0, 115.0, 116.0, 118.0, 123.0, 127.0];

fn interval(x: &[f64], y: &[f64], c: f64) -> ShiftInterval {
    shift_interval(x, y, c).expect("valid samples")
}

/// Brute force, independent of Brent: z is constant between consecutive
/// distinct pairwise differences, so the sign change of z − target sits at the
/// left end of the first such gap where z − target ≤ 0 (or at a bracket end).
fn scan_root(x: &[f64], y: &[f64], target: f64) -> f64 {
    scan_root_with(x, y, target, true)
}

/// [`scan_root`] of z with or without the continuity correction.
fn scan_root_with(x: &[f64], y: &[f64], target: f64, correct: bool) -> f64 {
    let mut diffs: Vec<f64> = x
        .iter()
        .flat_map(|a| y.iter().map(move |b| a - b))
        .collect();
    diffs.sort_by(f64::total_cmp);
    diffs.dedup();
    let ranked = Ranked::new(x, y).expect("valid");
    let g = |d: f64| ranked.z_with(d, correct).expect("valid") - target;
    let (lo, hi) = (diffs[0], diffs[diffs.len() - 1]);
    if g(lo) <= 0.0 {
        return lo;
    }
    if g(hi) >= 0.0 {
        return hi;
    }
    diffs
        .windows(2)
        .find(|w| g((w[0] + w[1]) / 2.0) <= 0.0)
        .map_or(hi, |w| w[0])
}

#[test]
fn kayentas_own_reference_case_gives_6_39_and_22_5() {
    // kayenta-mannwhitney's MannWhitneySuite: control 1..4, experiment 10..40 at
    // 0.95 → interval [6, 39], estimate 22.5; R 4.2.2's wilcox.test(exact=FALSE)
    // gives the same. Both bounds are bracket ends: z never reaches ±1.96 inside.
    let r = interval(&[10.0, 20.0, 30.0, 40.0], &[1.0, 2.0, 3.0, 4.0], 0.95);
    assert_eq!((r.lower, r.upper, r.estimate), (6.0, 39.0, 22.5));
}

#[test]
fn z_matches_hand_values_between_and_at_pairwise_differences() {
    // Hand-worked data, m = n = 6, no ties: σ = √(36·13/12) = √39.
    // d = 8.5: 3 of the 36 differences (-1, 3, 8) are ≤ d, so U = 33,
    // dz = 33 − 18 = 15, z = 14.5/√39.
    let z = wilcoxon_z(&A_X, &A_Y, 8.5).expect("valid");
    assert!((z - 14.5 / 39f64.sqrt()).abs() < 1e-12, "z {z}");
    // d = 8 exactly: 126 − 8 ties with 118, U = 33.5, dz = 15.5; one tie pair
    // gives Σ(t³−t) = 6, σ² = 3·(13 − 6/132) = 38.8636…, z = 15/σ.
    let z = wilcoxon_z(&A_X, &A_Y, 8.0).expect("valid");
    let sigma = (3.0f64 * (13.0 - 6.0 / 132.0)).sqrt();
    assert!((z - 15.0 / sigma).abs() < 1e-12, "z {z}");
    // d = 22.5: 18 differences on each side, dz = 0, no correction.
    assert_eq!(wilcoxon_z(&A_X, &A_Y, 22.5), Ok(0.0));
}

#[test]
fn hand_worked_interval_is_the_3rd_and_34th_difference_and_the_median() {
    // Derivation in classify's High test; R 4.2.2 gives [8.0000267, 33.9999477]
    // (its solver's 1e-4 tolerance) and estimate 22.0359 in the flat zero (22, 23).
    let r = interval(&A_X, &A_Y, 0.98);
    assert_eq!((r.lower, r.upper, r.estimate), (8.0, 34.0, 22.5));
    assert_eq!(wilcoxon_z(&A_X, &A_Y, 22.0359343223), Ok(0.0));
    // At 0.95 (q = 1.96, q·σ = 12.24): dz ≥ 13 ⇔ U ≥ 31 ⇔ d < D(6) = 11. R: 10.9999945.
    let r = interval(&A_X, &A_Y, 0.95);
    assert_eq!((r.lower, r.upper), (11.0, 31.0));
}

#[test]
fn agrees_with_r_wilcox_test_on_tied_unequal_and_larger_samples() {
    // Reference values from R 4.2.2, wilcox.test(x, y, conf.int=TRUE,
    // conf.level=cl, exact=FALSE, correct=TRUE). R's bounds carry its root
    // finder's 1e-4 absolute tolerance. Its estimate is a jump of z through 0
    // (then it matches ours to that tolerance) or, when z is 0 on a whole
    // interval, some point of it (then we check z is 0 at both estimates).
    let bx = [0.12, 0.15, 0.15, 0.18, 0.2, 0.22, 0.25];
    let by = [0.1, 0.11, 0.12, 0.12, 0.14, 0.15, 0.16, 0.19];
    let cx: Vec<f64> = (0..30)
        .map(|i| 100.0 + f64::from((i * 37) % 23) * 1.5)
        .collect();
    let cy: Vec<f64> = (0..25).map(|j| 98.0 + f64::from((j * 41) % 29)).collect();
    // (x, y, confidence, R's lower, R's upper, R's estimate)
    type Case<'a> = (&'a [f64], &'a [f64], f64, f64, f64, f64);
    let cases: [Case; 5] = [
        (&bx, &by, 0.98, -0.0100217373, 0.1000314344, 0.0400535542),
        (&bx, &by, 0.95, -0.0000664046, 0.0999713823, 0.0400535542),
        (&cx, &cy, 0.98, -2.9999371402, 10.5000863753, 3.5000671952),
        (&cy, &cx, 0.98, -10.5000863753, 2.9999371402, -3.5000671952),
        (
            &A_X,
            &A_Y,
            0.95,
            10.9999944718,
            31.0000170758,
            22.0359343223,
        ),
    ];
    for (x, y, cl, lower, upper, r_est) in cases {
        let r = interval(x, y, cl);
        assert!(
            (r.lower - lower).abs() < 2e-4,
            "lower {} vs R {lower}",
            r.lower
        );
        assert!(
            (r.upper - upper).abs() < 2e-4,
            "upper {} vs R {upper}",
            r.upper
        );
        let flat = wilcoxon_z(x, y, r_est) == Ok(0.0);
        assert!(
            flat || (r.estimate - r_est).abs() < 2e-4,
            "estimate {} vs R {r_est}",
            r.estimate
        );
        if flat {
            assert_eq!(
                wilcoxon_z(x, y, r.estimate),
                Ok(0.0),
                "our estimate {}",
                r.estimate
            );
        }
    }
}

#[test]
fn estimate_has_no_continuity_correction_as_r_wilcox_test_computes_it() {
    // stats/R/wilcox.test.R: "correct <- FALSE # no continuity correction for
    // estimate" before uniroot(wdiff, zq = 0). With m·n odd and no tied
    // differences the uncorrected z jumps through 0 at the median pairwise
    // difference, the Hodges-Lehmann estimate; the corrected z is 0 on the
    // whole gap between its neighbours. Sorted differences of these samples:
    // -30 -19.5 -13 -8.75 -7 -3 -2.5 [-1] 3.5 7.5 8.25 9.5 14.25 18.25 20.25.
    let x = [0.0, 10.5, 21.25];
    let y = [1.0, 3.0, 7.0, 13.0, 30.0];
    let r = interval(&x, &y, 0.95);
    assert_eq!(
        r.estimate, -1.0,
        "the median difference, not (-2.5 + 3.5) / 2"
    );
    // The continuity-corrected zero set is the whole gap (-2.5, 3.5).
    assert_eq!(wilcoxon_z(&x, &y, 0.5), Ok(0.0));
    assert_eq!(wilcoxon_z(&x, &y, -2.0), Ok(0.0));
}

#[test]
fn constant_sides_give_the_one_consistent_shift() {
    let r = interval(&[5.0, 5.0], &[3.0, 3.0, 3.0], 0.98);
    assert_eq!((r.lower, r.upper, r.estimate), (2.0, 2.0, 2.0));
}

#[test]
fn bad_samples_are_errors_not_panics() {
    assert_eq!(
        shift_interval(&[], &[1.0], 0.98),
        Err(MannWhitneyError::Empty)
    );
    assert_eq!(
        shift_interval(&[f64::NAN], &[1.0], 0.98),
        Err(MannWhitneyError::NonFinite)
    );
    assert_eq!(
        wilcoxon_z(&[2.0], &[1.0], 1.0),
        Err(MannWhitneyError::AllTied)
    );
}

#[test]
fn cles_counts_pairs_where_the_canary_is_higher_ties_half() {
    // Hand-worked data: 35 of 36 differences are positive.
    assert_eq!(cles(&A_X, &A_Y), Ok(35.0 / 36.0));
    // [1, 2] vs [2, 3]: pairs (1,2) (1,3) (2,3) lose, (2,2) ties: 0.5/4.
    assert_eq!(cles(&[1.0, 2.0], &[2.0, 3.0]), Ok(0.125));
}

#[test]
fn brent_finds_a_smooth_root_to_machine_precision() {
    // cos x = x at 0.739085133215160641655…
    let f = |x: f64| Ok::<f64, ()>(x.cos() - x);
    let root = brent(f, (0.0, 1.0), (1.0, 1f64.cos() - 1.0), 0.0).expect("infallible");
    assert!(
        (root - 0.739_085_133_215_160_6).abs() < 1e-15,
        "root {root}"
    );
}

#[test]
fn grid_scan_of_the_hand_worked_case_finds_the_same_crossings() {
    // Scan d over a 0.01 grid offset from the integers (so never on a jump).
    let q = Normal::standard().inverse_cdf(0.99);
    let grid: Vec<f64> = (0..4000).map(|k| -0.995 + 0.01 * f64::from(k)).collect();
    let z = |d: f64| wilcoxon_z(&A_X, &A_Y, d).expect("valid");
    let first = |p: &dyn Fn(f64) -> bool| grid.iter().copied().find(|&d| p(d));
    let below_q = first(&|d| z(d) <= q).expect("crosses");
    let below_minus_q = first(&|d| z(d) <= -q).expect("crosses");
    let zero_from = first(&|d| z(d) <= 0.0).expect("crosses");
    let zero_to = first(&|d| z(d) < 0.0).expect("crosses");
    // The first grid point past each jump lies within 0.01 above it.
    assert!((8.0..8.01).contains(&below_q), "{below_q}");
    assert!((34.0..34.01).contains(&below_minus_q), "{below_minus_q}");
    assert!((22.0..22.01).contains(&zero_from) && (23.0..23.01).contains(&zero_to));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Brent plus snapping lands on the same pairwise difference as the scan,
    /// on integer data (many ties and exact hits) and on continuous data.
    #[test]
    fn brent_roots_match_the_brute_force_scan(
        x in prop::collection::vec(0i32..40, 1..12),
        y in prop::collection::vec(0i32..40, 1..12),
        scale in prop_oneof![Just(1.0), Just(0.001), Just(0.37)],
        confidence in prop_oneof![Just(0.9), Just(0.95), Just(0.98)],
    ) {
        let x: Vec<f64> = x.into_iter().map(|v| f64::from(v) * scale).collect();
        let y: Vec<f64> = y.into_iter().map(|v| f64::from(v) * scale).collect();
        let constant = x.iter().all(|&v| v == x[0]) && y.iter().all(|&v| v == y[0]);
        prop_assume!(!constant);
        let r = interval(&x, &y, confidence);
        let q = Normal::standard().inverse_cdf(1.0 - (1.0 - confidence) / 2.0);
        // Equal up to ulps: 0.015 − 0.016 and 0.007 − 0.008 are distinct doubles
        // for one mathematical difference, and either is a right answer.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * (1.0 + a.abs());
        prop_assert!(close(r.lower, scan_root(&x, &y, q)), "lower {}", r.lower);
        prop_assert!(close(r.upper, scan_root(&x, &y, -q)), "upper {}", r.upper);
        prop_assert!(r.lower <= r.estimate && r.estimate <= r.upper);
        // The estimate: the middle of where the uncorrected z is exactly 0
        // (or its jump through 0).
        let zero = (scan_root_with(&x, &y, 1e-9, false) + scan_root_with(&x, &y, -1e-9, false)) / 2.0;
        prop_assert!(close(r.estimate, zero), "estimate {} vs {zero}", r.estimate);
    }

    /// Swapping the samples mirrors the interval exactly.
    #[test]
    fn swapping_samples_negates_the_interval(
        x in prop::collection::vec(0.0f64..100.0, 2..15),
        y in prop::collection::vec(0.0f64..100.0, 2..15),
    ) {
        let a = interval(&x, &y, 0.98);
        let b = interval(&y, &x, 0.98);
        prop_assert_eq!((a.lower, a.upper, a.estimate), (-b.upper, -b.lower, -b.estimate));
    }
}
