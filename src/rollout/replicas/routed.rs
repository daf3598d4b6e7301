//! Canary with traffic routing: the router splits traffic, so pod counts only
//! need to be large enough for the traffic each side gets.
//!
//! In: `spec.replicas` N, the steps (only the parts that size ReplicaSets, as
//! [`ScaleStep`]), the rollout's status (step index, abort, promote-full), the
//! [`RsState`]s and the router's current [`TrafficWeights`]. Out: the
//! [`CanaryTarget`] ([`desired_target`]) and the pod counts
//! ([`routed_counts`]); the abort step-down lives in [`super::abort`]. Used by
//! the controller.
//!
//! Rules (Argo `utils/replicaset/canary.go`, `rollout/trafficrouting.go`):
//! - canary = `ceil(w·N/maxWeight)`, raised to `minPodsPerReplicaSet` (capped
//!   at N) when non-zero; `setCanaryScale` `replicas` is exact, `weight` uses
//!   the same ceiling, `matchTrafficWeight` goes back to the step weight. The
//!   last `setCanaryScale` at or before the current step applies; it is
//!   ignored on abort unless `abortScaleDownDelaySeconds: 0`.
//! - stable stays N, unless `dynamicStableScale`: then
//!   `max(ceil((max−w)·N/max), ceil(actualStable·N/max))`, and during an
//!   abort the canary keeps `ceil(actualCanary·N/max)` until traffic leaves it.

use super::abort::abort_step_down_weight;
use super::{Counts, RsState};

/// A `setCanaryScale` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CanaryScale {
    /// `replicas: R`: exactly R canary pods.
    Replicas(u32),
    /// `weight: W`: pods for W% of N, whatever the traffic weight.
    Weight(u32),
    /// `matchTrafficWeight: true` (or an empty `setCanaryScale`): size the
    /// canary from the traffic weight again.
    MatchTrafficWeight,
}

/// What the replica math reads from one canary step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleStep {
    /// `setWeight: W`.
    SetWeight(u32),
    /// `setCanaryScale`.
    SetCanaryScale(CanaryScale),
    /// Any other step (pause, analysis, experiment, header/mirror route).
    Other,
}

/// What the canary ReplicaSet is sized from this reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CanaryTarget {
    /// A weight out of `maxWeight`.
    Weight(u32),
    /// An exact pod count (`setCanaryScale.replicas`).
    Replicas(u32),
}

impl CanaryTarget {
    /// The weight, or 0 for an exact count (as Argo's `GetCanaryReplicasOrWeight`
    /// returns, which makes a dynamic stable stay at N).
    pub fn weight(self) -> u32 {
        match self {
            CanaryTarget::Weight(w) => w,
            CanaryTarget::Replicas(_) => 0,
        }
    }
}

/// `abortScaleDownDelaySeconds` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AbortDelay {
    /// Not set: 30 s with traffic routing.
    #[default]
    Unset,
    /// Set to a positive number of seconds.
    After,
    /// Set to 0: leave the canary up after an abort.
    Never,
}

/// The router's weights (`status.canary.weights`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficWeights {
    /// Weight on the canary Service.
    pub canary: u32,
    /// Weight on the stable Service.
    pub stable: u32,
}

impl TrafficWeights {
    /// Canary at `canary`, the rest of `max_weight` on the stable.
    pub fn split(canary: u32, max_weight: u32) -> TrafficWeights {
        TrafficWeights {
            canary,
            stable: max_weight.saturating_sub(canary),
        }
    }
}

/// Pods for `weight` out of `max_weight` of `replicas`, rounded up (Argo's
/// `trafficWeightToReplicas`). A `max_weight` of 0 counts as 1.
pub fn weight_to_replicas(replicas: u32, weight: u32, max_weight: u32) -> u32 {
    let pods = (u64::from(weight) * u64::from(replicas)).div_ceil(u64::from(max_weight.max(1)));
    u32::try_from(pods).unwrap_or(u32::MAX)
}

/// Argo's `GetCurrentSetWeight`: 0 when aborted; `max_weight` with no steps
/// or past the last; else the last `setWeight` at or before `index` (0 if none).
pub fn current_set_weight(
    steps: &[ScaleStep],
    index: usize,
    aborted: bool,
    max_weight: u32,
) -> u32 {
    if aborted {
        return 0;
    }
    match steps.get(..=index) {
        Some(upto) => upto
            .iter()
            .rev()
            .find_map(|s| match s {
                ScaleStep::SetWeight(w) => Some(*w),
                _ => None,
            })
            .unwrap_or(0),
        None => max_weight,
    }
}

/// The rollout state that decides the canary's size.
#[derive(Debug, Clone, Copy)]
pub struct TargetInput<'a> {
    /// The canary steps.
    pub steps: &'a [ScaleStep],
    /// `status.currentStepIndex` (`steps.len()` once all are done).
    pub step_index: usize,
    /// `spec.replicas` (N).
    pub replicas: u32,
    /// `maxTrafficWeight`, 100 unless set.
    pub max_weight: u32,
    /// Whether traffic routing is configured (`setCanaryScale` needs it).
    pub traffic_routed: bool,
    /// `canary.dynamicStableScale`.
    pub dynamic_stable_scale: bool,
    /// `canary.abortScaleDownDelaySeconds`.
    pub abort_delay: AbortDelay,
    /// `status.promoteFull`.
    pub promote_full: bool,
    /// `status.abort`.
    pub aborted: bool,
    /// The ReplicaSet of the desired template.
    pub new_rs: RsState,
    /// The stable ReplicaSet, `None` when there is none or it is the new one.
    pub stable_rs: Option<RsState>,
}

/// Argo's `GetCanaryReplicasOrWeight`: full weight on promote-full or without
/// a separate stable; else the applicable `setCanaryScale` (traffic routing
/// only, not on abort unless the abort delay is `Never`); else the step
/// weight, which on abort with `dynamicStableScale` is
/// [`abort_step_down_weight`] and otherwise 0 on abort.
pub fn desired_target(t: &TargetInput<'_>) -> CanaryTarget {
    if t.promote_full || t.stable_rs.is_none() {
        return CanaryTarget::Weight(t.max_weight);
    }
    let scale_applies = t.traffic_routed && !(t.aborted && t.abort_delay != AbortDelay::Never);
    if scale_applies && let Some(upto) = t.steps.get(..=t.step_index) {
        let last_scale = upto.iter().rev().find_map(|s| match s {
            ScaleStep::SetCanaryScale(c) => Some(*c),
            _ => None,
        });
        match last_scale {
            Some(CanaryScale::Replicas(r)) => return CanaryTarget::Replicas(r),
            Some(CanaryScale::Weight(w)) => return CanaryTarget::Weight(w),
            Some(CanaryScale::MatchTrafficWeight) | None => {}
        }
    }
    match t.stable_rs {
        Some(stable) if t.aborted && t.dynamic_stable_scale && t.traffic_routed => {
            CanaryTarget::Weight(abort_step_down_weight(t, stable))
        }
        _ => CanaryTarget::Weight(current_set_weight(
            t.steps,
            t.step_index,
            t.aborted,
            t.max_weight,
        )),
    }
}

/// The traffic-routing options that size ReplicaSets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutedCanary {
    /// `spec.replicas` (N).
    pub replicas: u32,
    /// `trafficRouting.maxTrafficWeight`, 100 unless set.
    pub max_weight: u32,
    /// `canary.minPodsPerReplicaSet`.
    pub min_pods_per_replica_set: Option<u32>,
    /// `canary.dynamicStableScale`.
    pub dynamic_stable_scale: bool,
}

/// Argo's `CalculateReplicaCountsForTrafficRoutedCanary`.
///
/// `actual` is the router's weights, used only with `dynamicStableScale`:
/// pass the weights from *before* this reconcile's router update when sizing
/// the stable, and the updated ones when sizing the canary or checking
/// [`super::at_desired_replica_counts_for_canary`]. `aborted` is `status.abort`.
pub fn routed_counts(
    cfg: &RoutedCanary,
    target: CanaryTarget,
    actual: Option<TrafficWeights>,
    aborted: bool,
) -> Counts {
    let n = cfg.replicas;
    let max = cfg.max_weight;
    let at_least_min = |pods: u32| match cfg.min_pods_per_replica_set {
        Some(min) if pods > 0 => pods.max(min.min(n)),
        _ => pods,
    };
    let (canary, weight) = match target {
        CanaryTarget::Replicas(r) => (r, 0),
        CanaryTarget::Weight(w) => (at_least_min(weight_to_replicas(n, w, max)), w),
    };
    if !cfg.dynamic_stable_scale {
        return Counts { canary, stable: n };
    }
    // The stable keeps pods for the larger of the traffic it will get and the
    // traffic it still gets; on abort the canary likewise until traffic leaves it.
    let mut stable = weight_to_replicas(n, max.saturating_sub(weight), max);
    let mut canary = canary;
    if let Some(actual) = actual {
        stable = stable.max(weight_to_replicas(n, actual.stable, max));
        if aborted {
            canary = canary.max(weight_to_replicas(n, actual.canary, max));
        }
    }
    Counts {
        canary: at_least_min(canary),
        stable: at_least_min(stable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ScaleStep::{Other, SetCanaryScale, SetWeight};
    use proptest::prelude::*;

    fn cfg(replicas: u32) -> RoutedCanary {
        RoutedCanary {
            replicas,
            max_weight: 100,
            min_pods_per_replica_set: None,
            dynamic_stable_scale: false,
        }
    }

    fn dynamic(replicas: u32) -> RoutedCanary {
        RoutedCanary {
            dynamic_stable_scale: true,
            ..cfg(replicas)
        }
    }

    /// A rollout mid-update with traffic routing: stable settled at N, canary empty.
    fn input(steps: &[ScaleStep], step_index: usize, replicas: u32) -> TargetInput<'_> {
        TargetInput {
            steps,
            step_index,
            replicas,
            max_weight: 100,
            traffic_routed: true,
            dynamic_stable_scale: false,
            abort_delay: AbortDelay::Unset,
            promote_full: false,
            aborted: false,
            new_rs: RsState::default(),
            stable_rs: Some(RsState::settled(replicas)),
        }
    }

    fn pair(c: Counts) -> (u32, u32) {
        (c.canary, c.stable)
    }

    #[test]
    fn weight_to_replicas_rounds_up() {
        // canary_test.go TestTrafficWeightToReplicas.
        let rows = [(0, 0), (20, 2), (25, 3), (33, 4), (99, 10), (100, 10)];
        for (w, pods) in rows {
            assert_eq!(weight_to_replicas(10, w, 100), pods, "w={w}");
        }
        assert_eq!(weight_to_replicas(23, 100_000_000, 100_000_000), 23);
    }

    #[test]
    fn current_set_weight_is_last_set_weight_at_or_before_index() {
        // canary_test.go TestGetCurrentSetWeight.
        let steps = [SetWeight(10)];
        assert_eq!(
            current_set_weight(&steps, 1, false, 100),
            100,
            "past the end"
        );
        assert_eq!(current_set_weight(&steps, 0, false, 100), 10);
        assert_eq!(current_set_weight(&steps, 0, true, 100), 0, "aborted");
        assert_eq!(current_set_weight(&[], 0, false, 100), 100, "no steps");
        let steps = [Other, SetWeight(30), Other];
        assert_eq!(current_set_weight(&steps, 0, false, 100), 0, "none yet");
        assert_eq!(current_set_weight(&steps, 2, false, 100), 30);
    }

    #[test]
    fn set_canary_scale_replicas_is_exact_and_weight_uses_the_ceiling() {
        // canary_test.go: replicas 9 with N=1 gives 9; weight 200 with N=4 gives 8.
        let steps = [SetWeight(100), SetCanaryScale(CanaryScale::Replicas(9))];
        let t = desired_target(&input(&steps, 1, 1));
        assert_eq!(t, CanaryTarget::Replicas(9));
        assert_eq!(pair(routed_counts(&cfg(1), t, None, false)), (9, 1));
        let steps = [SetWeight(100), SetCanaryScale(CanaryScale::Weight(200))];
        let t = desired_target(&input(&steps, 1, 4));
        assert_eq!(pair(routed_counts(&cfg(4), t, None, false)), (8, 4));
    }

    #[test]
    fn set_canary_scale_lasts_until_match_traffic_weight() {
        let steps = [
            SetCanaryScale(CanaryScale::Replicas(3)),
            SetWeight(20),
            SetCanaryScale(CanaryScale::MatchTrafficWeight),
        ];
        assert_eq!(
            desired_target(&input(&steps, 1, 10)),
            CanaryTarget::Replicas(3)
        );
        let t = desired_target(&input(&steps, 2, 10));
        assert_eq!(t, CanaryTarget::Weight(20));
        assert_eq!(pair(routed_counts(&cfg(10), t, None, false)), (2, 10));
        assert_eq!(
            desired_target(&input(&steps, 3, 10)),
            CanaryTarget::Weight(100),
            "done"
        );
    }

    #[test]
    fn set_canary_scale_needs_traffic_routing() {
        let steps = [SetWeight(20), SetCanaryScale(CanaryScale::Replicas(9))];
        let basic = TargetInput {
            traffic_routed: false,
            ..input(&steps, 1, 10)
        };
        assert_eq!(desired_target(&basic), CanaryTarget::Weight(20));
    }

    #[test]
    fn promote_full_or_no_separate_stable_targets_full_weight() {
        let steps = [SetWeight(5), SetCanaryScale(CanaryScale::Replicas(1))];
        let full = TargetInput {
            promote_full: true,
            ..input(&steps, 1, 4)
        };
        assert_eq!(desired_target(&full), CanaryTarget::Weight(100));
        let fresh = TargetInput {
            stable_rs: None,
            ..input(&steps, 0, 4)
        };
        assert_eq!(desired_target(&fresh), CanaryTarget::Weight(100));
    }

    #[test]
    fn abort_drops_set_canary_scale_unless_abort_delay_is_zero() {
        // canary_test.go: N=1, setCanaryScale replicas 1, aborted.
        let steps = [SetCanaryScale(CanaryScale::Replicas(1))];
        for (delay, canary) in [
            (AbortDelay::Never, 1),
            (AbortDelay::After, 0),
            (AbortDelay::Unset, 0),
        ] {
            let t = TargetInput {
                aborted: true,
                abort_delay: delay,
                new_rs: RsState::settled(1),
                ..input(&steps, 0, 1)
            };
            let got = routed_counts(&cfg(1), desired_target(&t), None, true);
            assert_eq!(pair(got), (canary, 1), "{delay:?}");
        }
    }

    #[test]
    fn min_pods_per_replica_set_raises_non_zero_counts_capped_at_replicas() {
        let with_min = |n, min| RoutedCanary {
            min_pods_per_replica_set: Some(min),
            ..cfg(n)
        };
        // canary_test.go: N=10 w=5 min 2 gives 2; N=1 promote-full min 2 gives 1.
        let got = routed_counts(&with_min(10, 2), CanaryTarget::Weight(5), None, false);
        assert_eq!(pair(got), (2, 10));
        let got = routed_counts(&with_min(1, 2), CanaryTarget::Weight(100), None, false);
        assert_eq!(pair(got), (1, 1));
        let got = routed_counts(&with_min(10, 2), CanaryTarget::Weight(0), None, false);
        assert_eq!(got.canary, 0, "zero stays zero");
        let got = routed_counts(&with_min(10, 2), CanaryTarget::Replicas(1), None, false);
        assert_eq!(
            got.canary, 1,
            "an exact count is exact without dynamic scaling"
        );
    }

    #[test]
    fn dynamic_stable_keeps_pods_for_the_larger_of_desired_and_actual_stable_weight() {
        // canary_test.go TestCalculateReplicaCountsForCanaryTrafficRoutingDynamicScale,
        // the rows without abort: N=10, router at 10/90.
        let at_10 = Some(TrafficWeights::split(10, 100));
        let got = routed_counts(&dynamic(10), CanaryTarget::Weight(10), at_10, false);
        assert_eq!(pair(got), (1, 9));
        let got = routed_counts(&dynamic(10), CanaryTarget::Weight(20), at_10, false);
        assert_eq!(pair(got), (2, 9), "stable holds 9 until traffic leaves it");
        let got = routed_counts(&dynamic(10), CanaryTarget::Weight(20), None, false);
        assert_eq!(pair(got), (2, 8), "no router weights yet");
        let got = routed_counts(&dynamic(10), CanaryTarget::Replicas(3), at_10, false);
        assert_eq!(
            pair(got),
            (3, 10),
            "an exact canary count leaves the stable at N"
        );
    }

    #[test]
    fn dynamic_abort_keeps_canary_for_its_remaining_traffic() {
        // Same table, aborted rows whose desired weight is already 0.
        let got = routed_counts(
            &dynamic(10),
            CanaryTarget::Weight(0),
            Some(TrafficWeights::split(20, 100)),
            true,
        );
        assert_eq!(pair(got), (2, 10));
        let got = routed_counts(
            &dynamic(10),
            CanaryTarget::Weight(0),
            Some(TrafficWeights::split(10, 100)),
            true,
        );
        assert_eq!(pair(got), (1, 10));
        let got = routed_counts(
            &dynamic(10),
            CanaryTarget::Weight(0),
            Some(TrafficWeights::split(60, 100)),
            true,
        );
        assert_eq!(pair(got), (6, 10));
    }

    #[test]
    fn dynamic_abort_scales_stable_for_the_next_lower_set_weight() {
        // Same table, first three rows: N=10, steps [20, 60], router at 60/40,
        // (canary available, stable spec, stable available) → canary 6, stable 8.
        let steps = [SetWeight(20), SetWeight(60)];
        for (canary_avail, stable_spec, stable_avail) in [(6, 4, 4), (1, 4, 4), (2, 8, 4)] {
            let t = TargetInput {
                dynamic_stable_scale: true,
                aborted: true,
                new_rs: RsState::settled(canary_avail),
                stable_rs: Some(RsState {
                    spec: stable_spec,
                    created: stable_spec,
                    available: stable_avail,
                }),
                ..input(&steps, 0, 10)
            };
            let target = desired_target(&t);
            assert_eq!(target, CanaryTarget::Weight(20));
            let got = routed_counts(
                &dynamic(10),
                target,
                Some(TrafficWeights::split(60, 100)),
                true,
            );
            assert_eq!(
                pair(got),
                (6, 8),
                "{canary_avail} {stable_spec} {stable_avail}"
            );
        }
    }

    proptest! {
        #[test]
        fn routed_canary_count_is_monotone_in_weight(
            n in 0u32..50,
            max_weight in prop::sample::select(vec![100u32, 1000]),
            min_pods in prop::option::of(0u32..8),
            dynamic in any::<bool>(),
            actual in prop::option::of(0u32..=100),
            aborted in any::<bool>(),
            w1 in 0u32..=1000,
            w2 in 0u32..=1000,
        ) {
            let (lo, hi) = (w1.min(w2).min(max_weight), w1.max(w2).min(max_weight));
            let cfg = RoutedCanary { replicas: n, max_weight, min_pods_per_replica_set: min_pods, dynamic_stable_scale: dynamic };
            let actual = actual.map(|c| TrafficWeights::split(c * max_weight / 100, max_weight));
            let a = routed_counts(&cfg, CanaryTarget::Weight(lo), actual, aborted);
            let b = routed_counts(&cfg, CanaryTarget::Weight(hi), actual, aborted);
            prop_assert!(a.canary <= b.canary, "canary {} at {lo} > {} at {hi}", a.canary, b.canary);
            prop_assert!(a.stable >= b.stable, "stable grows with canary weight");
            prop_assert!(b.canary <= n.max(min_pods.unwrap_or(0).min(n)));
        }
    }
}
