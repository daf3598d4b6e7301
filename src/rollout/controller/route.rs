//! The router's canary weight while a traffic-routed update is in flight:
//! Argo's `reconcileTrafficRouting` (`rollout/trafficrouting.go`).
//!
//! In: the step index, whether this reconcile's replica counts are reached,
//! and the [`ClusterView`]'s available pods. Out: the weight the router is
//! set to ([`Controller::set_weight`] in [`super::step`]), recomputed at every
//! reconcile as Argo recomputes it:
//! - a canary ReplicaSet with no available pod gets weight 0 ("never weight
//!   to canary"), so an OOM-killed or restarting lone canary pod sheds its
//!   share instead of failing it;
//! - before the counts of the current step are reached the router keeps the
//!   last `setWeight` before the current step; once they are, the current
//!   one; after the last step, 100;
//! - the router moves only when the stable ReplicaSet has available the pods
//!   for the share left to it (`checkReplicasAvailable`, with
//!   `replicaProgressThreshold`); otherwise it keeps its weight.
//!
//! The aborted and the promoted rollout set their weights in [`super::abort`]
//! and [`super::step`]. Called from [`Controller::reconcile`] in [`super`].

use super::{ClusterView, Controller};
use crate::rollout::policy::Step;
use crate::rollout::replicas::stable_can_take_weight;
use crate::sim::SimTime;

/// `maxTrafficWeight`: canarysim's routers weigh out of 100.
const MAX_WEIGHT: u32 = 100;

impl Controller {
    /// Sets the router's weight for this reconcile; `at_counts` is whether
    /// the current step's replica counts are reached.
    pub(super) fn route(&mut self, now: SimTime, view: &ClusterView, at_counts: bool) {
        let desired = self.desired_router_weight(view, at_counts);
        let stable = Some(self.rs_state(self.stable, view, None));
        if stable_can_take_weight(
            stable,
            desired,
            self.replicas,
            MAX_WEIGHT,
            self.policy.replica_progress_threshold,
        ) {
            self.set_weight(now, desired);
        }
    }

    /// The weight Argo asks the router for, before the stable's check.
    fn desired_router_weight(&self, view: &ClusterView, at_counts: bool) -> u32 {
        if view.available[self.desired.index()] == 0 {
            return 0;
        }
        let len = self.policy.steps.len();
        if !at_counts {
            // The previous weight: the last setWeight before the current step.
            return self.policy.steps[..self.step_index.min(len)]
                .iter()
                .rev()
                .find_map(|s| match s {
                    Step::SetWeight(w) => Some(*w),
                    _ => None,
                })
                .unwrap_or(0);
        }
        if self.step_index < len {
            self.set_weight_at(self.step_index)
        } else {
            MAX_WEIGHT
        }
    }
}
