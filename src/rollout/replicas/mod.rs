//! Replica math for a canary rollout: how many pods the canary and stable
//! ReplicaSets should have this reconcile, as Argo Rollouts computes it
//! (`utils/replicaset/canary.go`, `replicaset.go`).
//!
//! Everything here is a pure function over plain values: no engine, no
//! Kubernetes objects. In: `spec.replicas`, the desired weight or canary
//! scale, the surge limits, and per ReplicaSet its spec, created and
//! available pod counts ([`RsState`]). Out: [`Counts`] and yes/no answers.
//! The controller in [`super::controller`] calls these and applies the result.
//!
//! - [`fencepost`]: `maxSurge`/`maxUnavailable` ([`IntOrPercent`], [`SurgeLimits`]).
//! - [`basic`]: canary without traffic routing, where the pod split *is* the
//!   traffic split, paced within the surge limits.
//! - [`routed`]: canary with traffic routing (`setCanaryScale`,
//!   `minPodsPerReplicaSet`, `dynamicStableScale`).
//! - [`abort`]: the router weight and the stable's readiness for it, and the
//!   step-down of an aborted `dynamicStableScale` canary.
//! - here: [`at_desired_replica_counts_for_canary`], which gates `setWeight`
//!   and `setCanaryScale` steps for both.

pub mod abort;
pub mod basic;
pub mod fencepost;
pub mod routed;

pub use abort::{abort_router_weight, abort_step_down_weight, stable_can_take_weight};
pub use basic::{BasicCanary, approximate_weighted_counts, basic_canary_counts, scale_down_older};
pub use fencepost::{FencepostError, Fenceposts, IntOrPercent, SurgeLimits};
pub use routed::{
    AbortDelay, CanaryScale, CanaryTarget, RoutedCanary, ScaleStep, TargetInput, TrafficWeights,
    current_set_weight, desired_target, routed_counts, weight_to_replicas,
};

/// Desired pods of each ReplicaSet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Canary pods.
    pub canary: u32,
    /// Stable pods.
    pub stable: u32,
}

/// What the controller knows about one ReplicaSet at a reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RsState {
    /// `spec.replicas`: pods asked for (the last count the controller set).
    pub spec: u32,
    /// `status.replicas`: pods that exist, ready or not.
    pub created: u32,
    /// `status.availableReplicas`: pods ready for `minReadySeconds`.
    pub available: u32,
}

impl RsState {
    /// A settled ReplicaSet: `pods` asked for, created and available.
    pub fn settled(pods: u32) -> RsState {
        RsState {
            spec: pods,
            created: pods,
            available: pods,
        }
    }

    /// Pods this ReplicaSet can count on when deciding how far others may
    /// scale down (Argo's `GetReplicasForScaleDown`): its spec when that is
    /// below what is available (the extra pods are going away) or when
    /// availability is ignored, else its available pods.
    pub(crate) fn pods_for_scale_down(self, ignore_availability: bool) -> u32 {
        if self.spec < self.available || ignore_availability {
            self.spec
        } else {
            self.available
        }
    }
}

/// Which replica math the rollout uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CanaryMode {
    /// No traffic routing: the pod split is the traffic split.
    Basic,
    /// A traffic router splits traffic.
    TrafficRouted {
        /// `canary.dynamicStableScale`.
        dynamic_stable_scale: bool,
    },
}

/// `canary.replicaProgressThreshold`: how much of the canary must be
/// available for a step to count as reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressThreshold {
    /// At least this many pods available.
    Pods(u32),
    /// At least this percentage of the desired pods available.
    Percent(u32),
}

/// Argo's `ReplicaProgressThresholdMet`. Without a threshold, the ReplicaSet
/// must ask for exactly `desired` pods and have all of them available; with
/// one, only availability is checked.
pub fn replica_progress_threshold_met(
    threshold: Option<ProgressThreshold>,
    rs: RsState,
    desired: u32,
) -> bool {
    match threshold {
        None => rs.spec == desired && rs.available == desired,
        Some(ProgressThreshold::Pods(p)) => rs.available >= p,
        Some(ProgressThreshold::Percent(p)) => {
            desired == 0 || u64::from(rs.available) * 100 >= u64::from(p) * u64::from(desired)
        }
    }
}

/// Argo's `AtDesiredReplicaCountsForCanary`: whether a `setWeight` or
/// `setCanaryScale` step has reached its replica counts.
///
/// `desired` must be what [`basic_canary_counts`] or [`routed_counts`]
/// returns for this same state (for basic canary that is the *paced* count of
/// this reconcile, as in Argo). The canary must ask for and have `desired`
/// pods available (or meet `threshold`). The stable must exist and ask for and
/// have created its desired pods (availability is not checked), except with
/// `dynamicStableScale`. Basic canary also needs every older ReplicaSet at 0
/// available pods, since those pods would serve traffic.
pub fn at_desired_replica_counts_for_canary(
    mode: CanaryMode,
    desired: Counts,
    new_rs: RsState,
    stable_rs: Option<RsState>,
    older: &[RsState],
    threshold: Option<ProgressThreshold>,
) -> bool {
    if !replica_progress_threshold_met(threshold, new_rs, desired.canary) {
        return false;
    }
    let stable_checked = !matches!(
        mode,
        CanaryMode::TrafficRouted {
            dynamic_stable_scale: true
        }
    );
    if stable_checked {
        let created =
            stable_rs.is_some_and(|s| s.spec == desired.stable && s.created == desired.stable);
        if !created {
            return false;
        }
    }
    mode != CanaryMode::Basic || older.iter().all(|rs| rs.available == 0)
}

/// Counts for `replicas` N at canary weight `weight` (percent), with traffic
/// routing and no other options: the canary gets `ceil(weight · N / 100)`
/// pods and the stable stays at N. See [`routed_counts`] for the full rule.
pub fn traffic_routed_counts(replicas: u32, weight: u32) -> Counts {
    let plain = RoutedCanary {
        replicas,
        max_weight: 100,
        min_pods_per_replica_set: None,
        dynamic_stable_scale: false,
    };
    routed_counts(&plain, CanaryTarget::Weight(weight.min(100)), None, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_routed_canary_is_ceil_of_weight_times_replicas_and_stable_stays() {
        let got: Vec<(u32, u32)> = [5, 20, 50, 100]
            .iter()
            .map(|w| {
                let c = traffic_routed_counts(5, *w);
                (c.canary, c.stable)
            })
            .collect();
        // 5% of 5 = 0.25 → 1; 20% = 1; 50% = 2.5 → 3; 100% = 5.
        assert_eq!(got, [(1, 5), (1, 5), (3, 5), (5, 5)]);
        assert_eq!(traffic_routed_counts(5, 0).canary, 0);
        assert_eq!(traffic_routed_counts(10, 15).canary, 2);
    }

    fn rs(spec: u32, created: u32, available: u32) -> RsState {
        RsState {
            spec,
            created,
            available,
        }
    }

    const ROUTED: CanaryMode = CanaryMode::TrafficRouted {
        dynamic_stable_scale: false,
    };
    const DYNAMIC: CanaryMode = CanaryMode::TrafficRouted {
        dynamic_stable_scale: true,
    };

    fn two(canary: u32, stable: u32) -> Counts {
        Counts { canary, stable }
    }

    #[test]
    fn at_desired_needs_canary_asked_for_and_all_available() {
        // canary_test.go TestAtDesiredReplicaCountsForCanary, desired 2/2.
        let stable = Some(rs(2, 2, 2));
        assert!(at_desired_replica_counts_for_canary(
            ROUTED,
            two(2, 2),
            rs(2, 2, 2),
            stable,
            &[],
            None
        ));
        assert!(!at_desired_replica_counts_for_canary(
            ROUTED,
            two(2, 2),
            rs(2, 2, 1),
            stable,
            &[],
            None
        ));
        assert!(
            !at_desired_replica_counts_for_canary(
                ROUTED,
                two(2, 2),
                rs(3, 3, 2),
                stable,
                &[],
                None
            ),
            "spec above desired is not at desired"
        );
    }

    #[test]
    fn at_desired_checks_stable_created_not_available() {
        // Desired 3 canary / 1 stable; the stable's one pod exists but is not ready.
        let new = rs(3, 1, 3);
        let d = two(3, 1);
        assert!(at_desired_replica_counts_for_canary(
            ROUTED,
            d,
            new,
            Some(rs(1, 1, 0)),
            &[],
            None
        ));
        // Stable asks for 2 where 1 is desired: not there.
        assert!(!at_desired_replica_counts_for_canary(
            ROUTED,
            d,
            new,
            Some(rs(2, 2, 2)),
            &[],
            None
        ));
        // status.replicas lags spec.replicas: not there.
        assert!(!at_desired_replica_counts_for_canary(
            ROUTED,
            d,
            new,
            Some(rs(1, 2, 1)),
            &[],
            None
        ));
        // No stable ReplicaSet at all counts as not created.
        assert!(!at_desired_replica_counts_for_canary(
            ROUTED,
            d,
            new,
            None,
            &[],
            None
        ));
    }

    #[test]
    fn dynamic_stable_scale_skips_the_stable_check() {
        let d = two(3, 1);
        assert!(at_desired_replica_counts_for_canary(
            DYNAMIC,
            d,
            rs(3, 3, 3),
            Some(rs(4, 4, 4)),
            &[],
            None
        ));
        assert!(at_desired_replica_counts_for_canary(
            DYNAMIC,
            d,
            rs(3, 3, 3),
            None,
            &[],
            None
        ));
    }

    #[test]
    fn basic_canary_needs_older_replica_sets_drained_but_routed_does_not() {
        let (d, new, stable) = (two(2, 8), rs(2, 2, 2), Some(rs(8, 8, 8)));
        let older = [rs(0, 0, 0), rs(0, 1, 1)];
        assert!(!at_desired_replica_counts_for_canary(
            CanaryMode::Basic,
            d,
            new,
            stable,
            &older,
            None
        ));
        assert!(at_desired_replica_counts_for_canary(
            CanaryMode::Basic,
            d,
            new,
            stable,
            &older[..1],
            None
        ));
        assert!(at_desired_replica_counts_for_canary(
            ROUTED, d, new, stable, &older, None
        ));
    }

    #[test]
    fn progress_threshold_counts_available_pods_or_percent() {
        // canary_test.go TestAllReplicaProgressThresholdMet.
        let avail = |a| rs(0, 0, a);
        let pct = Some(ProgressThreshold::Percent(90));
        let pods = |p| Some(ProgressThreshold::Pods(p));
        assert!(replica_progress_threshold_met(pct, avail(9), 10));
        assert!(!replica_progress_threshold_met(pct, avail(8), 10));
        assert!(replica_progress_threshold_met(pods(9), avail(9), 10));
        assert!(!replica_progress_threshold_met(pods(8), avail(7), 10));
        assert!(replica_progress_threshold_met(pct, avail(0), 0));
        let full = Some(ProgressThreshold::Percent(100));
        assert!(replica_progress_threshold_met(full, avail(100), 10));
        // Without a threshold, spec must equal desired as well.
        assert!(!replica_progress_threshold_met(None, rs(5, 10, 10), 10));
        assert!(replica_progress_threshold_met(None, rs(10, 10, 10), 10));
        // A threshold lets a step complete before every canary pod is up.
        assert!(at_desired_replica_counts_for_canary(
            ROUTED,
            two(10, 10),
            rs(10, 10, 9),
            Some(rs(10, 10, 10)),
            &[],
            pct
        ));
    }

    #[test]
    fn pods_for_scale_down_trusts_spec_when_pods_are_going_away_or_ignored() {
        // canary_test.go TestGetReplicasForScaleDown.
        assert_eq!(rs(2, 5, 5).pods_for_scale_down(false), 2);
        assert_eq!(rs(5, 5, 3).pods_for_scale_down(true), 5);
        assert_eq!(rs(5, 5, 3).pods_for_scale_down(false), 3);
    }
}
