//! Aborting a traffic-routed canary with `dynamicStableScale`: traffic goes
//! back to the stable in steps, only as fast as stable pods become available.
//!
//! In: the same [`TargetInput`] as [`super::desired_target`], plus the
//! router's current canary weight. Out: the step-down weight that sizes the
//! ReplicaSets ([`abort_step_down_weight`], used by `desired_target`), the
//! router weight to set ([`abort_router_weight`]) and whether the stable has
//! pods enough for a new weight at all ([`stable_can_take_weight`], which
//! gates every router move, abort or not). Used by the controller.
//!
//! Rules (Argo `utils/replicaset/canary.go` `GetDesiredCanaryWeight`,
//! `rollout/trafficrouting.go` `calculateDesiredWeightOnAbortOrStableRollback`
//! and `checkReplicasAvailable`): the weight walks the setWeights in reverse,
//! to the first whose pods are fewer than the canary pods still needed; the
//! router follows only once the stable's available share covers the rest, and
//! never moves back up. Without `dynamicStableScale` the weight is 0 at once.

use super::routed::{AbortDelay, ScaleStep, TargetInput, weight_to_replicas};
use super::{ProgressThreshold, RsState, replica_progress_threshold_met};

/// Argo's `GetDesiredCanaryWeight` during an abort with `dynamicStableScale`:
/// the largest `setWeight` (searching all steps from the last) whose pods are
/// fewer than the canary pods still needed, or 0. The canary pods still
/// needed are N minus the available stable pods, or the available canary pods
/// if more, except with an explicit abort delay (`After`), where the canary
/// stays up until its deadline and must not hold the weight up.
pub fn abort_step_down_weight(t: &TargetInput<'_>, stable: RsState) -> u32 {
    let uncovered = i64::from(t.replicas) - i64::from(stable.available);
    let still_needed = match t.abort_delay {
        AbortDelay::After => uncovered,
        AbortDelay::Unset | AbortDelay::Never => uncovered.max(i64::from(t.new_rs.available)),
    };
    t.steps
        .iter()
        .rev()
        .find_map(|s| match s {
            ScaleStep::SetWeight(w)
                if i64::from(weight_to_replicas(t.replicas, *w, t.max_weight)) < still_needed =>
            {
                Some(*w)
            }
            _ => None,
        })
        .unwrap_or(0)
}

/// The router's canary weight during an abort (Argo's
/// `calculateDesiredWeightOnAbortOrStableRollback`; call it only while
/// aborted). Without `dynamicStableScale` it is 0 at once. With it, the
/// weight follows [`abort_step_down_weight`] but only once the stable's
/// available share covers the rest, and never goes back up; `current` is the
/// router's canary weight before this reconcile (`None` if never set).
pub fn abort_router_weight(t: &TargetInput<'_>, current: Option<u32>) -> u32 {
    let Some(stable) = t.stable_rs else { return 0 };
    if !t.dynamic_stable_scale || t.replicas == 0 {
        return 0;
    }
    let max = t.max_weight;
    let desired = abort_step_down_weight(t, stable);
    let stable_share =
        u32::try_from(u64::from(max) * u64::from(stable.available) / u64::from(t.replicas))
            .unwrap_or(u32::MAX);
    let uncovered = max.saturating_sub(stable_share);
    match current {
        None => uncovered.max(desired),
        Some(cur) if desired == 0 => uncovered.min(cur),
        Some(cur) if stable_share < max - desired.min(max) => cur,
        Some(cur) => desired.min(cur),
    }
}

/// Argo's `checkReplicasAvailable` for the stable: whether it has enough
/// available pods (`floor((max − canary_weight)·N/max)`, or the progress
/// threshold) for the router to move to `canary_weight`. Without a stable
/// the router keeps its weight.
pub fn stable_can_take_weight(
    stable_rs: Option<RsState>,
    canary_weight: u32,
    replicas: u32,
    max_weight: u32,
    threshold: Option<ProgressThreshold>,
) -> bool {
    let Some(stable) = stable_rs else {
        return false;
    };
    let share = u64::from(max_weight.saturating_sub(canary_weight)) * u64::from(replicas);
    let needed = u32::try_from(share / u64::from(max_weight.max(1))).unwrap_or(u32::MAX);
    stable.available >= needed || replica_progress_threshold_met(threshold, stable, needed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::replicas::{
        CanaryTarget, RoutedCanary, TrafficWeights, desired_target, routed_counts,
    };
    use ScaleStep::SetWeight;

    /// An aborted rollout of N=10 with traffic routing and `dynamicStableScale`.
    fn aborted(steps: &[ScaleStep], canary: u32, stable: u32) -> TargetInput<'_> {
        TargetInput {
            steps,
            step_index: 0,
            replicas: 10,
            max_weight: 100,
            traffic_routed: true,
            dynamic_stable_scale: true,
            abort_delay: AbortDelay::Unset,
            promote_full: false,
            aborted: true,
            new_rs: RsState::settled(canary),
            stable_rs: Some(RsState::settled(stable)),
        }
    }

    fn dynamic(replicas: u32) -> RoutedCanary {
        RoutedCanary {
            replicas,
            max_weight: 100,
            min_pods_per_replica_set: None,
            dynamic_stable_scale: true,
        }
    }

    #[test]
    fn explicit_abort_delay_lets_the_weight_step_below_the_smallest_set_weight() {
        // canary_test.go TestGetDesiredCanaryWeightOnAbortWithScaleDownDelay:
        // N=10, steps [10, 50], canary 5 available.
        let steps = [SetWeight(10), SetWeight(50)];
        let rows = [
            (AbortDelay::Unset, 9, 10),
            (AbortDelay::After, 5, 10),
            (AbortDelay::After, 9, 0),
            (AbortDelay::Never, 9, 10),
        ];
        for (delay, stable_avail, weight) in rows {
            let t = TargetInput {
                abort_delay: delay,
                ..aborted(&steps, 5, stable_avail)
            };
            assert_eq!(
                desired_target(&t),
                CanaryTarget::Weight(weight),
                "{delay:?} {stable_avail}"
            );
            if weight == 0 {
                let got = routed_counts(
                    &dynamic(10),
                    desired_target(&t),
                    Some(TrafficWeights::split(10, 100)),
                    true,
                );
                assert_eq!(got.stable, 10, "stable goes to N once the weight reaches 0");
            }
        }
    }

    #[test]
    fn abort_without_dynamic_stable_scale_sends_all_traffic_back_at_once() {
        let steps = [SetWeight(20), SetWeight(60)];
        let t = TargetInput {
            dynamic_stable_scale: false,
            ..aborted(&steps, 6, 4)
        };
        assert_eq!(abort_router_weight(&t, Some(60)), 0);
        assert_eq!(desired_target(&t), CanaryTarget::Weight(0));
    }

    #[test]
    fn dynamic_abort_steps_router_weight_down_only_as_stable_becomes_available() {
        // N=10, steps [20, 60], aborted at 60 with 6 canary and 4 stable pods.
        // Each round the router moves first (if the stable can take it), then the
        // stable is sized from the weights before the move and the canary from
        // the weights after, as Argo does; pods become available at once, and
        // both sides scale in the same round (Argo would wait a round for the
        // canary whenever the stable changed).
        let steps = [SetWeight(20), SetWeight(60)];
        let (mut canary, mut stable, mut weight) = (6, 4, 60);
        let mut seen = vec![weight];
        for _ in 0..20 {
            let t = aborted(&steps, canary, stable);
            let before = TrafficWeights::split(weight, 100);
            let next = abort_router_weight(&t, Some(weight));
            if stable_can_take_weight(t.stable_rs, next, 10, 100, None) {
                weight = next;
            }
            let after = TrafficWeights::split(weight, 100);
            // Traffic on the stable never exceeds what its available pods cover.
            assert!(u64::from(after.stable) * 10 <= u64::from(stable) * 100 + 99);
            let target = desired_target(&t);
            stable = routed_counts(&dynamic(10), target, Some(before), true).stable;
            canary = routed_counts(&dynamic(10), target, Some(after), true).canary;
            if seen.last() != Some(&weight) {
                seen.push(weight);
            }
        }
        assert_eq!(seen, [60, 20, 0]);
        assert_eq!((canary, stable), (0, 10));
    }

    #[test]
    fn router_weight_on_abort_never_goes_back_up() {
        let steps = [SetWeight(20), SetWeight(60)];
        // Stable flaps down to 5 available after the router reached 20.
        let t = aborted(&steps, 2, 5);
        assert_eq!(abort_router_weight(&t, Some(20)), 20);
        // With no weight recorded yet, the uncovered share is the floor.
        assert_eq!(abort_router_weight(&t, None), 50);
    }

    #[test]
    fn stable_needs_its_share_of_pods_available_before_the_weight_moves() {
        let stable = |a| {
            Some(RsState {
                spec: 10,
                created: 10,
                available: a,
            })
        };
        // 30% canary leaves 70%: floor(0.7·10) = 7 stable pods.
        assert!(!stable_can_take_weight(stable(6), 30, 10, 100, None));
        assert!(stable_can_take_weight(stable(7), 30, 10, 100, None));
        assert!(stable_can_take_weight(
            stable(6),
            30,
            10,
            100,
            Some(ProgressThreshold::Pods(5))
        ));
        assert!(!stable_can_take_weight(None, 30, 10, 100, None));
    }
}
