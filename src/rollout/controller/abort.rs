//! An aborted rollout: the abort itself and the reconciles after it.
//!
//! In: the reason (a failed run from [`super::analysis`], or a person's
//! `abort`), the policy's abort settings and the [`ClusterView`]. Out: the
//! status change ([`Controller::set_abort`]; the reconcile that writes it
//! drops the pause conditions, see [`Controller::reconcile`]) and each
//! later reconcile's [`Decision`]: weight 0 and stable fully up at once,
//! the canary scaled down `abortScaleDownDelaySeconds` later; with
//! `dynamicStableScale`, traffic goes back to stable in steps as its pods
//! come up. Called from [`Controller::reconcile`] in [`super`].

use super::{ClusterView, Controller, Decision, Note};
use crate::rollout::policy::Step;
use crate::rollout::replicas::{
    AbortDelay, RoutedCanary, ScaleStep, TargetInput, TrafficWeights, abort_router_weight,
    desired_target, routed_counts,
};
use crate::sim::SimTime;

impl Controller {
    /// Sets the abort, keeping the first abort's time and message; the
    /// canary pods wanted now are kept until the scale-down.
    pub(super) fn set_abort(&mut self, now: SimTime, message: String) {
        self.canary_at_abort = self.spec[self.desired.index()];
        self.abort = true;
        self.aborted_at.get_or_insert(now);
        let full = format!("RolloutAborted: Rollout aborted update to revision 2: {message}");
        self.notes.push((
            now,
            Note::Aborted {
                message: full.clone(),
            },
        ));
        self.abort_message.get_or_insert(full);
    }

    /// The ReplicaSets and traffic while the abort is set (the step index
    /// is already back at 0).
    pub(super) fn reconcile_aborted(
        &mut self,
        now: SimTime,
        view: &ClusterView,
        mut d: Decision,
    ) -> Decision {
        let n = self.replicas;
        let canary = self.desired;
        let stable = self.stable;
        if self.policy.traffic_routing && self.policy.dynamic_stable_scale {
            return self.abort_dynamic(now, view, d);
        }
        d.replicas[stable.index()] = n;
        d.canary_selects = stable;
        self.set_weight(now, 0);
        d.weight = 0;
        if !self.policy.traffic_routing {
            // Basic canary: weight 0 at once, paced within the surge limits.
            let counts = self.desired_counts(view);
            d.replicas[canary.index()] = counts.canary;
            d.replicas[stable.index()] = counts.stable;
            self.spec = d.replicas;
            return d;
        }
        let keep = self.canary_at_abort;
        let stable_ready = view.available[stable.index()] >= n;
        d.replicas[canary.index()] =
            match (self.abort_scale_down_at, self.policy.abort_scale_down_delay) {
                (Some(at), _) if now >= at => 0,
                (Some(at), _) => {
                    d.wake_at = Some(at);
                    keep
                }
                (None, Some(delay)) if stable_ready => {
                    let at = now + delay;
                    self.abort_scale_down_at = Some(at);
                    d.wake_at = Some(at);
                    keep
                }
                _ => keep,
            };
        d
    }

    /// An abort with `dynamicStableScale`: the stable had been scaled down,
    /// so traffic goes back to it in steps (the setWeights in reverse), each
    /// only once the stable has the pods for it, and the canary shrinks behind
    /// the traffic (Argo's `GetDesiredCanaryWeight` and
    /// `calculateDesiredWeightOnAbortOrStableRollback`).
    fn abort_dynamic(&mut self, now: SimTime, view: &ClusterView, mut d: Decision) -> Decision {
        let (canary, stable) = (self.desired, self.stable);
        let steps: Vec<ScaleStep> = self
            .policy
            .steps
            .iter()
            .map(|s| match s {
                Step::SetWeight(w) => ScaleStep::SetWeight(*w),
                Step::SetCanaryScale(c) => ScaleStep::SetCanaryScale(*c),
                _ => ScaleStep::Other,
            })
            .collect();
        let t = TargetInput {
            steps: &steps,
            step_index: self.step_index,
            replicas: self.replicas,
            max_weight: 100,
            traffic_routed: true,
            dynamic_stable_scale: true,
            abort_delay: match (
                self.policy.abort_scale_down_delay,
                self.policy.abort_scale_down_delay_set,
            ) {
                (None, _) => AbortDelay::Never,
                (Some(_), true) => AbortDelay::After,
                (Some(_), false) => AbortDelay::Unset,
            },
            promote_full: false,
            aborted: true,
            new_rs: self.rs_state(canary, view, None),
            stable_rs: Some(self.rs_state(stable, view, None)),
        };
        let before = TrafficWeights::split(self.weight, 100);
        let weight = abort_router_weight(&t, Some(self.weight));
        let cfg = RoutedCanary {
            replicas: self.replicas,
            max_weight: 100,
            min_pods_per_replica_set: self.policy.min_pods_per_replica_set,
            dynamic_stable_scale: true,
        };
        let target = desired_target(&t);
        d.replicas[stable.index()] = routed_counts(&cfg, target, Some(before), true).stable;
        d.replicas[canary.index()] =
            routed_counts(&cfg, target, Some(TrafficWeights::split(weight, 100)), true).canary;
        self.set_weight(now, weight);
        d.weight = weight;
        // The canary Service keeps the canary's pods while they still get traffic.
        d.canary_selects = if weight > 0 { canary } else { stable };
        self.spec = d.replicas;
        d
    }
}
