//! Moving through the steps: pause conditions, entering and completing a
//! step, the router weight, and full promotion.
//!
//! These are the status changes the rules in [`super`]'s header describe,
//! each recording its [`Note`] for the run's timeline: a pause step or an
//! Inconclusive run adds a pause condition, a completed step advances the
//! index by one and enters the next, and after the last step the new build
//! becomes stable, its runs are cancelled ([`super::analysis`]) and the old
//! stable is scaled down `scaleDownDelaySeconds` later. Called from
//! [`Controller::reconcile`], `promote` and `undo` in [`super`].

use super::{ClusterView, Controller, Decision, Note, PauseCondition, PauseReason, other};
use crate::model::Version;
use crate::rollout::policy::Step;
use crate::sim::SimTime;

impl Controller {
    pub(super) fn has_pause(&self, reason: PauseReason) -> bool {
        self.pause_conditions.iter().any(|c| c.reason == reason)
    }

    pub(super) fn add_pause(&mut self, now: SimTime, reason: PauseReason) {
        if !self.has_pause(reason) {
            self.pause_conditions
                .push(PauseCondition { reason, since: now });
            self.controller_pause = true;
            let person = match reason {
                PauseReason::InconclusiveAnalysisRun => Some("InconclusiveAnalysisRun"),
                PauseReason::CanaryPauseStep => {
                    matches!(self.current_step(), Some(Step::Pause(None)))
                        .then_some("CanaryPauseStep")
                }
            };
            if let Some(reason) = person {
                self.notes.push((
                    now,
                    Note::PausedForPerson {
                        index: self.step_index,
                        reason,
                    },
                ));
            }
        }
    }

    pub(super) fn set_weight(&mut self, now: SimTime, w: u32) {
        if self.weight != w {
            self.weight = w;
            self.notes.push((now, Note::WeightChanged { weight: w }));
        }
    }

    pub(super) fn enter_step(&mut self, now: SimTime) {
        let i = self.step_index;
        if let Some(span) = self.spans.get_mut(i) {
            span.started.get_or_insert(now);
            self.notes.push((now, Note::StepStarted { index: i }));
        }
    }

    pub(super) fn complete_step(&mut self, now: SimTime) {
        let i = self.step_index;
        if i >= self.policy.steps.len() {
            return;
        }
        self.spans[i].ended.get_or_insert(now);
        self.notes.push((now, Note::StepCompleted { index: i }));
        self.step_index += 1;
        self.pause_conditions
            .retain(|c| c.reason != PauseReason::CanaryPauseStep);
        self.controller_pause = false;
        self.enter_step(now);
    }

    pub(super) fn promote_fully(&mut self, now: SimTime, d: &mut Decision) {
        self.cancel_runs(d);
        self.stable = self.desired;
        self.rollback_fast = false;
        self.pause_conditions.clear();
        self.controller_pause = false;
        self.canary_scale = None;
        if self.desired == Version::Canary && self.promoted_at.is_none() {
            self.promoted_at = Some(now);
        }
        // The old stable: with a router it keeps the pods it has for
        // scaleDownDelaySeconds (scaleDownDelayHelper); with
        // dynamicStableScale, or without a router (a basic canary has drained
        // it already), it goes to 0 now (scaleDownOldReplicaSetsForCanary,
        // rollout/canary.go).
        let old = other(self.desired);
        self.old_stable_keep = self.spec[old.index()];
        self.old_stable_scale_down_at = (self.policy.traffic_routing
            && !self.policy.dynamic_stable_scale)
            .then(|| now + self.policy.scale_down_delay);
        self.dynamic_rollback = false;
        self.notes.push((
            now,
            Note::Promoted {
                version: self.desired,
            },
        ));
        // Both Services now select the new stable; the canary weight goes back to 0.
        self.set_weight(now, 0);
    }

    pub(super) fn reconcile_promoted(
        &mut self,
        now: SimTime,
        view: &ClusterView,
        mut d: Decision,
    ) -> Decision {
        let n = self.replicas;
        let stable = self.stable;
        let old = other(stable);
        d.replicas = [0; 2];
        d.replicas[stable.index()] = n;
        d.stable_selects = stable;
        if self.dynamic_rollback {
            if view.available[stable.index()] < n {
                // The previous canary is still referenced by the router and
                // the canary Service: it keeps its pods and its share.
                d.replicas[old.index()] = self.spec[old.index()];
                d.canary_selects = old;
                d.weight = self.weight;
                self.spec = d.replicas;
                return d;
            }
            self.dynamic_rollback = false;
            self.set_weight(now, 0);
        }
        match self.old_stable_scale_down_at {
            Some(at) if now < at => {
                d.replicas[old.index()] = self.old_stable_keep;
                d.wake_at = Some(at);
            }
            _ => {}
        }
        d.canary_selects = stable;
        d.weight = self.weight;
        self.spec = d.replicas;
        d
    }
}
