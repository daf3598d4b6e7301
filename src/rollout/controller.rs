//! The canary controller: Argo Rollouts' step machine, reconcile by reconcile.
//!
//! The engine calls [`Controller::reconcile`] whenever something it cares
//! about changes (a pod became available, a pause ran out, the operator
//! promoted) with a [`ClusterView`] of the two ReplicaSets. The controller
//! answers with a [`Decision`]: replica counts, the traffic weight, which
//! ReplicaSet each Service selects, and when to be woken next. It never
//! touches the world itself, so the same rules can be tested without one.
//!
//! Rules followed (Argo Rollouts `rollout/canary.go`, `utils/replicaset/canary.go`):
//! the step index advances by at most one per reconcile; `setWeight` is done
//! when the desired replica counts are available, and until then the router
//! keeps the previous weight; `pause: {duration}` is done when
//! `now > start + duration`; `pause: {}` waits for a promote; after the last
//! step the rollout fully promotes once the canary has `replicas` available,
//! and the old stable ReplicaSet is scaled down `scaleDownDelaySeconds` later.

use super::policy::{Policy, Step};
use super::replicas::traffic_routed_counts;
use crate::model::Version;
use crate::sim::{SimDuration, SimTime};

/// The rollout's phase, as `kubectl argo rollouts get` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Phase {
    /// Steps are running.
    Progressing,
    /// Waiting at a pause.
    Paused,
    /// Fully promoted and available.
    Healthy,
    /// Aborted.
    Degraded,
}

/// What the controller needs to know about the cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Available pods of each version's ReplicaSet, by [`Version::index`].
    pub available: [u32; 2],
}

/// What the controller wants the cluster to look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Desired replicas of each version's ReplicaSet.
    pub replicas: [u32; 2],
    /// Percentage of ingress traffic sent to the canary Service.
    pub weight: u32,
    /// The ReplicaSet the canary Service selects.
    pub canary_selects: Version,
    /// The ReplicaSet the stable Service selects.
    pub stable_selects: Version,
    /// When to reconcile again even if nothing changes.
    pub wake_at: Option<SimTime>,
    /// Whether to reconcile again at once (a step was completed).
    pub requeue: bool,
}

/// Something the controller did, for the run's timeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// Step `index` began.
    StepStarted {
        /// Step index.
        index: usize,
    },
    /// Step `index` completed.
    StepCompleted {
        /// Step index.
        index: usize,
    },
    /// The router's canary weight changed.
    WeightChanged {
        /// New weight, percent.
        weight: u32,
    },
    /// The rollout paused indefinitely at step `index`, waiting for a person.
    PausedIndefinitely {
        /// Step index.
        index: usize,
    },
    /// The rollout was fully promoted: the canary is now stable.
    Promoted,
}

/// Start and end of one step, for the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepSpan {
    /// When the step became current.
    pub started: Option<SimTime>,
    /// When it completed.
    pub ended: Option<SimTime>,
}

/// The state of one rollout of the canary template.
#[derive(Debug, Clone)]
pub struct Controller {
    policy: Policy,
    replicas: u32,
    started: SimTime,
    /// `status.currentStepIndex`.
    step_index: usize,
    /// When the current pause began (`status.pauseStartTime`).
    pause_started: Option<SimTime>,
    /// A person promoted past the current indefinite pause.
    promote_requested: bool,
    /// Whether the current step's indefinite pause has been announced.
    pause_announced: bool,
    weight: u32,
    stable: Version,
    phase: Phase,
    promoted_at: Option<SimTime>,
    old_stable_scale_down_at: Option<SimTime>,
    spans: Vec<StepSpan>,
    notes: Vec<(SimTime, Note)>,
}

impl Controller {
    /// A rollout of the canary template starting at `now`, with the stable
    /// ReplicaSet at `replicas`.
    pub fn new(policy: Policy, replicas: u32, now: SimTime) -> Controller {
        let mut spans = vec![StepSpan::default(); policy.steps.len()];
        let mut notes = Vec::new();
        if let Some(first) = spans.first_mut() {
            first.started = Some(now);
            notes.push((now, Note::StepStarted { index: 0 }));
        }
        Controller {
            policy,
            replicas,
            started: now,
            step_index: 0,
            pause_started: None,
            promote_requested: false,
            pause_announced: false,
            weight: 0,
            stable: Version::Stable,
            phase: Phase::Progressing,
            promoted_at: None,
            old_stable_scale_down_at: None,
            spans,
            notes,
        }
    }

    /// The policy being run.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The rollout's phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The current step index (`len` once all steps are done).
    pub fn step_index(&self) -> usize {
        self.step_index
    }

    /// When the rollout started.
    pub fn started(&self) -> SimTime {
        self.started
    }

    /// When it was fully promoted, if it was.
    pub fn promoted_at(&self) -> Option<SimTime> {
        self.promoted_at
    }

    /// The router's canary weight.
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// Start and end of each step.
    pub fn spans(&self) -> &[StepSpan] {
        &self.spans
    }

    /// Takes the notes recorded since the last call.
    pub fn drain_notes(&mut self) -> Vec<(SimTime, Note)> {
        std::mem::take(&mut self.notes)
    }

    /// Whether the rollout waits at an indefinite pause for a person.
    pub fn waiting_for_promotion(&self) -> bool {
        matches!(self.current_step(), Some(Step::Pause(None))) && !self.promote_requested
    }

    /// `kubectl argo rollouts promote`: ends the current indefinite pause.
    pub fn promote(&mut self) {
        if matches!(self.current_step(), Some(Step::Pause(_))) {
            self.promote_requested = true;
        }
    }

    fn current_step(&self) -> Option<&Step> {
        if self.promoted_at.is_some() {
            return None;
        }
        self.policy.steps.get(self.step_index)
    }

    /// The weight of the last `setWeight` at or before `index` (0 if none,
    /// 100 past the end): Argo's `GetCurrentSetWeight`.
    pub fn set_weight_at(&self, index: usize) -> u32 {
        if index >= self.policy.steps.len() {
            return 100;
        }
        self.policy.steps[..=index]
            .iter()
            .rev()
            .find_map(|s| match s {
                Step::SetWeight(w) => Some(*w),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// One reconcile at `now`.
    pub fn reconcile(&mut self, now: SimTime, view: ClusterView) -> Decision {
        let n = self.replicas;
        let canary = Version::Canary;
        if self.promoted_at.is_some() {
            return self.reconcile_promoted(now, view);
        }
        let desired_weight = self.set_weight_at(self.step_index);
        let counts = traffic_routed_counts(n, desired_weight);
        let at_counts = view.available[canary.index()] >= counts.canary
            && view.available[Version::Stable.index()] >= counts.stable;
        let mut decision = Decision {
            replicas: [counts.stable, counts.canary],
            weight: self.weight,
            canary_selects: canary,
            stable_selects: Version::Stable,
            wake_at: None,
            requeue: false,
        };
        let completed = match self.policy.steps.get(self.step_index).cloned() {
            None => {
                // All steps done: promote fully once the canary is available at full size.
                if view.available[canary.index()] >= n {
                    self.promote_fully(now);
                    return self.reconcile_promoted(now, view);
                }
                false
            }
            Some(Step::SetWeight(w)) => {
                if at_counts {
                    self.set_weight(now, w);
                    decision.weight = w;
                    true
                } else {
                    false
                }
            }
            // Analysis and setCanaryScale steps arrive with the analysis integration.
            Some(Step::Analysis(_)) | Some(Step::SetCanaryScale(_)) => false,
            Some(Step::Pause(duration)) => {
                let start = *self.pause_started.get_or_insert(now);
                match duration {
                    Some(d) => {
                        let end = start + d;
                        if now > end {
                            true
                        } else {
                            self.phase = Phase::Paused;
                            decision.wake_at = Some(SimTime(end.0 + 1));
                            false
                        }
                    }
                    None => {
                        if self.promote_requested {
                            true
                        } else {
                            if !self.pause_announced {
                                self.pause_announced = true;
                                self.notes.push((
                                    now,
                                    Note::PausedIndefinitely {
                                        index: self.step_index,
                                    },
                                ));
                            }
                            self.phase = Phase::Paused;
                            false
                        }
                    }
                }
            }
        };
        if completed {
            self.complete_step(now);
            decision.requeue = true;
        }
        decision
    }

    fn set_weight(&mut self, now: SimTime, w: u32) {
        if self.weight != w {
            self.weight = w;
            self.notes.push((now, Note::WeightChanged { weight: w }));
        }
    }

    fn complete_step(&mut self, now: SimTime) {
        let i = self.step_index;
        self.spans[i].ended = Some(now);
        self.notes.push((now, Note::StepCompleted { index: i }));
        self.step_index += 1;
        self.pause_started = None;
        self.promote_requested = false;
        self.pause_announced = false;
        self.phase = Phase::Progressing;
        if let Some(span) = self.spans.get_mut(self.step_index) {
            span.started = Some(now);
            self.notes.push((
                now,
                Note::StepStarted {
                    index: self.step_index,
                },
            ));
        }
    }

    fn promote_fully(&mut self, now: SimTime) {
        self.stable = Version::Canary;
        self.promoted_at = Some(now);
        self.old_stable_scale_down_at = Some(now + self.policy.scale_down_delay);
        self.notes.push((now, Note::Promoted));
        // Both Services now select the new stable; the canary weight goes back to 0.
        self.set_weight(now, 0);
    }

    fn reconcile_promoted(&mut self, now: SimTime, view: ClusterView) -> Decision {
        let n = self.replicas;
        let new_stable = self.stable;
        let old = match new_stable {
            Version::Canary => Version::Stable,
            Version::Stable => Version::Canary,
        };
        let mut replicas = [0; 2];
        replicas[new_stable.index()] = n;
        let mut wake_at = None;
        match self.old_stable_scale_down_at {
            Some(at) if now >= at => {}
            Some(at) => {
                replicas[old.index()] = n;
                wake_at = Some(at);
            }
            None => {}
        }
        if view.available[new_stable.index()] >= n {
            self.phase = Phase::Healthy;
        }
        Decision {
            replicas,
            weight: self.weight,
            canary_selects: new_stable,
            stable_selects: new_stable,
            wake_at,
            requeue: false,
        }
    }

    /// How long the rollout has run at `now`.
    pub fn elapsed(&self, now: SimTime) -> SimDuration {
        now.saturating_since(self.started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(steps: Vec<Step>) -> Policy {
        Policy::new("p", steps)
    }

    fn view(stable: u32, canary: u32) -> ClusterView {
        ClusterView {
            available: [stable, canary],
        }
    }

    #[test]
    fn set_weight_waits_for_replica_counts_and_router_keeps_previous_weight() {
        let mut c = Controller::new(
            policy(vec![Step::SetWeight(20), Step::SetWeight(50)]),
            5,
            SimTime::ZERO,
        );
        let d = c.reconcile(SimTime(1), view(5, 0));
        assert_eq!(d.replicas, [5, 1]);
        assert_eq!(d.weight, 0, "no canary pod available yet");
        assert!(!d.requeue);
        let d = c.reconcile(SimTime(2), view(5, 1));
        assert_eq!((d.weight, d.requeue), (20, true));
        let d = c.reconcile(SimTime(3), view(5, 1));
        assert_eq!(d.replicas, [5, 3], "ceil(50·5/100) = 3");
        assert_eq!(d.weight, 20, "keeps 20 until 3 canary pods are available");
    }

    #[test]
    fn index_advances_at_most_one_step_per_reconcile() {
        let mut c = Controller::new(
            policy(vec![
                Step::SetWeight(0),
                Step::SetWeight(0),
                Step::SetWeight(0),
            ]),
            2,
            SimTime::ZERO,
        );
        c.reconcile(SimTime(1), view(2, 0));
        assert_eq!(c.step_index(), 1);
        c.reconcile(SimTime(1), view(2, 0));
        assert_eq!(c.step_index(), 2);
    }

    #[test]
    fn timed_pause_completes_only_strictly_after_its_duration() {
        let mut c = Controller::new(
            policy(vec![Step::Pause(Some(SimDuration::from_secs(60)))]),
            1,
            SimTime::ZERO,
        );
        let d = c.reconcile(SimTime::ZERO, view(1, 0));
        assert_eq!(d.wake_at, Some(SimTime(60_000_001)));
        assert_eq!(c.phase(), Phase::Paused);
        c.reconcile(SimTime::from_secs(60), view(1, 0));
        assert_eq!(c.step_index(), 0);
        c.reconcile(SimTime(60_000_001), view(1, 0));
        assert_eq!(c.step_index(), 1);
    }

    #[test]
    fn indefinite_pause_waits_for_promote() {
        let mut c = Controller::new(
            policy(vec![Step::Pause(None), Step::SetWeight(100)]),
            1,
            SimTime::ZERO,
        );
        for t in 0..3 {
            c.reconcile(SimTime::from_secs(t * 1000), view(1, 0));
        }
        assert_eq!((c.step_index(), c.phase()), (0, Phase::Paused));
        assert!(c.waiting_for_promotion());
        c.promote();
        c.reconcile(SimTime::from_secs(5000), view(1, 0));
        assert_eq!(c.step_index(), 1);
        assert_eq!(c.phase(), Phase::Progressing);
    }

    #[test]
    fn full_promotion_needs_all_canary_replicas_then_old_stable_goes_after_the_delay() {
        let mut c = Controller::new(policy(vec![Step::SetWeight(100)]), 5, SimTime::ZERO);
        c.reconcile(SimTime(1), view(5, 5));
        assert_eq!(c.step_index(), 1);
        let d = c.reconcile(SimTime(2), view(5, 4));
        assert_eq!(c.promoted_at(), None, "only 4 of 5 canary pods available");
        assert_eq!(d.replicas, [5, 5]);
        let d = c.reconcile(SimTime(3), view(5, 5));
        assert_eq!(c.promoted_at(), Some(SimTime(3)));
        assert_eq!(
            (d.canary_selects, d.stable_selects),
            (Version::Canary, Version::Canary)
        );
        assert_eq!(
            d.replicas,
            [5, 5],
            "old stable kept for scaleDownDelaySeconds"
        );
        assert_eq!(d.wake_at, Some(SimTime(3) + SimDuration::from_secs(30)));
        let d = c.reconcile(SimTime(3) + SimDuration::from_secs(30), view(5, 5));
        assert_eq!(d.replicas, [0, 5]);
        assert_eq!(c.phase(), Phase::Healthy);
    }
}
