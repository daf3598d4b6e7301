//! The replica counts the controller asks for, through `crate::rollout::replicas`.
//!
//! In: the controller's status (step index, weight, canary scale, abort) and
//! the [`ClusterView`]'s pods per ReplicaSet. Out: this reconcile's desired
//! [`Counts`] (Argo's traffic-routed or basic-canary math) and whether the
//! cluster has reached them, which is when a `setWeight` or
//! `setCanaryScale` step completes. Used by [`Controller::reconcile`] in
//! [`super`].

use super::{ClusterView, Controller};
use crate::model::Version;
use crate::rollout::policy::CanaryScale;
use crate::rollout::replicas::{
    BasicCanary, CanaryMode, CanaryTarget, Counts, RoutedCanary, RsState, TrafficWeights,
    at_desired_replica_counts_for_canary, basic_canary_counts, replica_progress_threshold_met,
    routed_counts,
};

impl Controller {
    /// The desired pods of both ReplicaSets this reconcile: Argo's
    /// traffic-routed counts (with `setCanaryScale`, `minPodsPerReplicaSet`
    /// and `dynamicStableScale`), or the basic canary's paced counts.
    pub(super) fn desired_counts(&self, view: &ClusterView) -> Counts {
        let n = self.replicas;
        let weight = if self.abort {
            0
        } else {
            self.set_weight_at(self.step_index)
        };
        if self.policy.traffic_routing {
            let target = match (self.abort, self.canary_scale) {
                (false, Some(CanaryScale::Replicas(r))) => CanaryTarget::Replicas(r),
                (false, Some(CanaryScale::Weight(w))) => CanaryTarget::Weight(w),
                _ => CanaryTarget::Weight(weight),
            };
            let cfg = RoutedCanary {
                replicas: n,
                max_weight: 100,
                min_pods_per_replica_set: self.policy.min_pods_per_replica_set,
                dynamic_stable_scale: self.policy.dynamic_stable_scale,
            };
            routed_counts(
                &cfg,
                target,
                Some(TrafficWeights::split(self.weight, 100)),
                self.abort,
            )
        } else {
            basic_canary_counts(&BasicCanary {
                replicas: n,
                weight,
                max_weight: 100,
                fenceposts: self.policy.surge.resolve(n),
                new_rs: self.rs_state(self.desired, view, None),
                stable_rs: Some(self.rs_state(self.stable, view, None)),
                older: &[],
            })
        }
    }

    /// A ReplicaSet as Argo's functions see it; `spec` is the count asked
    /// for (this reconcile's, when given).
    pub(super) fn rs_state(&self, v: Version, view: &ClusterView, spec: Option<u32>) -> RsState {
        RsState {
            spec: spec.unwrap_or(self.spec[v.index()]),
            created: view.created[v.index()],
            available: view.available[v.index()],
        }
    }

    /// Argo's `AtDesiredReplicaCountsForCanary` for this reconcile's counts.
    pub(super) fn at_desired_counts(&self, counts: Counts, view: &ClusterView) -> bool {
        let mode = if self.policy.traffic_routing {
            CanaryMode::TrafficRouted {
                dynamic_stable_scale: self.policy.dynamic_stable_scale,
            }
        } else {
            CanaryMode::Basic
        };
        at_desired_replica_counts_for_canary(
            mode,
            counts,
            self.rs_state(self.desired, view, Some(counts.canary)),
            Some(self.rs_state(self.stable, view, Some(counts.stable))),
            &[],
            self.policy.replica_progress_threshold,
        )
    }

    /// Whether the new ReplicaSet may become stable (`shouldFullPromote`,
    /// `rollout/sync.go`): all `replicas` available, or
    /// `replicaProgressThreshold` met against them.
    pub(super) fn new_rs_ready_for_promotion(&self, view: &ClusterView) -> bool {
        let rs = self.rs_state(self.desired, view, None);
        rs.available >= self.replicas
            || replica_progress_threshold_met(
                self.policy.replica_progress_threshold,
                rs,
                self.replicas,
            )
    }
}
