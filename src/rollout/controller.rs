//! The canary controller: Argo Rollouts' step machine, reconcile by reconcile.
//!
//! The engine calls [`Controller::reconcile`] whenever something it cares
//! about changes (a pod became available, a pause ran out, an AnalysisRun
//! changed phase, a person promoted) with a [`ClusterView`]: the two
//! ReplicaSets' available pods and the phases of the controller's current
//! AnalysisRuns. The controller answers with a [`Decision`]: replica counts,
//! the traffic weight, which ReplicaSet each Service selects, which runs to
//! start or cancel, and when to be woken next. It never touches the world
//! itself, so the rules can be tested without one.
//!
//! The two builds are symmetric: the controller tracks which version is
//! stable (`status.stableRS`) and which one the spec asks for (the newest
//! ReplicaSet); an `undo` after promotion asks for the old build again.
//!
//! Rules (argo-rollouts `rollout/canary.go`, `rollout/analysis.go`,
//! `rollout/pause.go`, `utils/replicaset/canary.go`):
//! - a spec that fails validation (a referenced template that does not
//!   exist, an arg no one supplies, a step metric that runs forever) makes
//!   the Rollout `InvalidSpec`: nothing is reconciled at all;
//! - the step index advances by at most one per reconcile;
//! - `setWeight` completes when the desired replica counts are available, and
//!   until then the router keeps the previous weight; a canary with no
//!   available pod gets no weight, and the router moves only once the stable
//!   has the pods for its share (`rollout/trafficrouting.go`);
//! - a pause step adds the `CanaryPauseStep` pause condition; with a duration
//!   it completes when `now > start + duration`, without one when a person
//!   promotes (removes the condition);
//! - an analysis step completes only when its run is Successful; an
//!   Inconclusive run adds the `InconclusiveAnalysisRun` pause condition; a
//!   Failed or Error run aborts; while any pause condition or the abort is
//!   set, step analysis is left alone;
//! - background analysis starts once the index reaches `startingStep`, never
//!   blocks steps, pauses on Inconclusive and aborts on Failed or Error;
//!   once a person promotes past an Inconclusive run, a new run replaces it;
//! - an update that makes no progress for `progressDeadlineSeconds` outside
//!   a pause or analysis step is Degraded (`ProgressDeadlineExceeded`), and
//!   with `progressDeadlineAbort` aborts;
//! - abort: weight 0 at once, both Services select stable, the index goes
//!   back to 0, phase Degraded, and the status is written without pause
//!   conditions or `controllerPause` (`CalculatePauseStatus`), so no person
//!   is asked to promote it; the canary is scaled down
//!   `abortScaleDownDelaySeconds` after stable is fully available;
//! - after the last step (or at once for a rollback within
//!   `rollbackWindow`) the rollout promotes fully once the new ReplicaSet
//!   has `replicas` available (or meets `replicaProgressThreshold`); runs
//!   are cancelled; with a router the old stable keeps its pods for
//!   `scaleDownDelaySeconds` (none with `dynamicStableScale`), a basic
//!   canary's drained old ReplicaSet stays at 0.
//!
//! The parts, each an `impl Controller` block: `counts` (the replica
//! counts asked for), `analysis` (starting, cancelling and reacting to
//! AnalysisRuns), `abort` (the abort and the reconciles after it) and
//! `step` (pause conditions, step progress and full promotion), `route`
//! (the router's weight) and `progress` (the progress deadline).

mod abort;
mod analysis;
mod counts;
mod progress;
mod route;
mod step;

use super::policy::{AnalysisRef, CanaryScale, Policy, Step};
use crate::analysis::AnalysisPhase;
use crate::model::Version;
use crate::sim::SimTime;

/// The rollout's phase, as `kubectl argo rollouts get` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Phase {
    /// Steps are running.
    Progressing,
    /// Waiting at a pause (a pause step or an Inconclusive analysis).
    Paused,
    /// Fully promoted and available.
    Healthy,
    /// Aborted, or the spec is invalid.
    Degraded,
}

/// Which of the controller's AnalysisRuns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// The run of the analysis step at this index.
    Step(usize),
    /// The background analysis.
    Background,
}

/// A run the controller wants started or cancelled.
#[derive(Debug, Clone, PartialEq)]
pub enum RunRequest {
    /// Create a run of these templates and args.
    Start {
        /// Step or background.
        kind: RunKind,
        /// What to run.
        analysis: AnalysisRef,
    },
    /// Terminate the run (`spec.terminate = true`).
    Cancel {
        /// Step or background.
        kind: RunKind,
    },
}

/// A run as the engine reports it back.
#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    /// Which run.
    pub kind: RunKind,
    /// Its phase.
    pub phase: AnalysisPhase,
    /// Its message (for the abort message).
    pub message: String,
}

/// What the controller needs to know about the cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterView {
    /// Available pods of each version's ReplicaSet, by [`Version::index`].
    pub available: [u32; 2],
    /// Pods that exist (ready or not) of each version's ReplicaSet.
    pub created: [u32; 2],
    /// The controller's current runs, as started on its requests.
    pub runs: Vec<RunView>,
}

impl ClusterView {
    fn run(&self, kind: RunKind) -> Option<&RunView> {
        self.runs.iter().find(|r| r.kind == kind)
    }
}

/// What the controller wants the cluster to look like.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Desired replicas of each version's ReplicaSet.
    pub replicas: [u32; 2],
    /// Percentage of ingress traffic sent to the canary Service.
    pub weight: u32,
    /// The ReplicaSet the canary Service selects.
    pub canary_selects: Version,
    /// The ReplicaSet the stable Service selects.
    pub stable_selects: Version,
    /// Runs to start or cancel.
    pub runs: Vec<RunRequest>,
    /// When to reconcile again even if nothing changes.
    pub wake_at: Option<SimTime>,
    /// Whether to reconcile again at once (the status moved on).
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
    /// The rollout paused waiting for a person (an indefinite pause step or
    /// an Inconclusive analysis).
    PausedForPerson {
        /// Step index.
        index: usize,
        /// `CanaryPauseStep` or `InconclusiveAnalysisRun`.
        reason: &'static str,
    },
    /// The rollout aborted.
    Aborted {
        /// Argo's message.
        message: String,
    },
    /// The rollout was fully promoted: the new build is now stable.
    Promoted {
        /// The version now stable.
        version: Version,
    },
    /// The spec is invalid; nothing will happen.
    InvalidSpec {
        /// Argo's condition message.
        message: String,
    },
    /// No progress for `progressDeadlineSeconds`: the rollout is Degraded.
    ProgressDeadlineExceeded {
        /// Argo's condition message.
        message: String,
    },
    /// `kubectl argo rollouts undo`: the spec asks for the previous build.
    Undo {
        /// Whether the rollback window lets it skip the steps.
        within_window: bool,
    },
}

/// Start and end of one step, for the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepSpan {
    /// When the step became current (first time).
    pub started: Option<SimTime>,
    /// When it completed (first time).
    pub ended: Option<SimTime>,
}

/// Argo's pause reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PauseReason {
    CanaryPauseStep,
    InconclusiveAnalysisRun,
}

#[derive(Debug, Clone, Copy)]
struct PauseCondition {
    reason: PauseReason,
    since: SimTime,
}

/// The state of the Rollout object (`status`) and its spec's choice of build.
#[derive(Debug, Clone)]
pub struct Controller {
    policy: Policy,
    replicas: u32,
    invalid: Option<String>,
    /// The build `status.stableRS` points at.
    stable: Version,
    /// The build the spec's pod template asks for (the newest ReplicaSet).
    desired: Version,
    step_index: usize,
    pause_conditions: Vec<PauseCondition>,
    controller_pause: bool,
    abort: bool,
    aborted_at: Option<SimTime>,
    abort_message: Option<String>,
    /// Stable became fully available after the abort at this time.
    abort_scale_down_at: Option<SimTime>,
    /// Canary pods wanted when the abort came; kept until the scale-down.
    canary_at_abort: u32,
    /// The replica counts last asked for (`spec.replicas` of each ReplicaSet).
    spec: [u32; 2],
    weight: u32,
    canary_scale: Option<CanaryScale>,
    step_run: Option<usize>,
    /// The phase of the current step's run when last seen
    /// (`status.canary.currentStepAnalysisRunStatus`).
    step_run_phase: Option<AnalysisPhase>,
    background_run: bool,
    rollback_fast: bool,
    promoted_at: Option<SimTime>,
    /// The old stable keeps its pods until then (traffic routing without
    /// `dynamicStableScale`); `None` scales it to 0.
    old_stable_scale_down_at: Option<SimTime>,
    /// Pods the old stable keeps until `old_stable_scale_down_at`.
    old_stable_keep: u32,
    /// An `undo` back to the stable build mid-update with
    /// `dynamicStableScale`: the router keeps its weight on the previous
    /// canary until the stable is fully available again.
    dynamic_rollback: bool,
    spans: Vec<StepSpan>,
    notes: Vec<(SimTime, Note)>,
    /// The `Progressing` condition, for the progress deadline.
    progress: progress::Progress,
    /// What the last reconcile of the update saw, to tell progress.
    progress_seen: Option<progress::Observed>,
    /// Each version's ReplicaSet name (`<rollout>-<pod-template-hash>`).
    rs_names: [String; 2],
}

impl Controller {
    /// A rollout of the canary build starting at `now`, with the stable
    /// ReplicaSet at `replicas`. `invalid` is the InvalidSpec message when
    /// the spec does not validate (see [`super::validate`]).
    pub fn new(policy: Policy, replicas: u32, now: SimTime, invalid: Option<String>) -> Controller {
        let spans = vec![StepSpan::default(); policy.steps.len()];
        let mut c = Controller {
            policy,
            replicas,
            invalid: None,
            stable: Version::Stable,
            desired: Version::Canary,
            step_index: 0,
            pause_conditions: Vec::new(),
            controller_pause: false,
            abort: false,
            aborted_at: None,
            abort_message: None,
            abort_scale_down_at: None,
            canary_at_abort: 0,
            spec: [replicas, 0],
            weight: 0,
            canary_scale: None,
            step_run: None,
            step_run_phase: None,
            background_run: false,
            rollback_fast: false,
            promoted_at: None,
            old_stable_scale_down_at: None,
            old_stable_keep: 0,
            dynamic_rollback: false,
            spans,
            notes: Vec::new(),
            progress: progress::Progress::Since(now),
            progress_seen: None,
            rs_names: [Version::Stable, Version::Canary].map(|v| v.as_str().to_string()),
        };
        match invalid {
            Some(message) => {
                c.notes.push((
                    now,
                    Note::InvalidSpec {
                        message: message.clone(),
                    },
                ));
                c.invalid = Some(message);
            }
            None => c.enter_step(now),
        }
        c
    }

    /// Names the two ReplicaSets (by [`Version::index`]) for the messages
    /// that quote them.
    pub fn name_replica_sets(&mut self, names: [String; 2]) {
        self.rs_names = names;
    }

    /// The policy being run.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The rollout's phase.
    pub fn phase(&self) -> Phase {
        if self.invalid.is_some() || self.abort {
            Phase::Degraded
        } else if self.stable == self.desired {
            Phase::Healthy
        } else if self.progress_deadline_exceeded() {
            Phase::Degraded
        } else if !self.pause_conditions.is_empty() {
            Phase::Paused
        } else {
            Phase::Progressing
        }
    }

    /// The InvalidSpec message, if the spec did not validate.
    pub fn invalid_spec(&self) -> Option<&str> {
        self.invalid.as_deref()
    }

    /// The current step index (`len` once all steps are done).
    pub fn step_index(&self) -> usize {
        self.step_index
    }

    /// When the canary build was fully promoted, if it was.
    pub fn promoted_at(&self) -> Option<SimTime> {
        self.promoted_at
    }

    /// When the rollout aborted, and why.
    pub fn aborted(&self) -> Option<(SimTime, &str)> {
        self.aborted_at
            .map(|t| (t, self.abort_message.as_deref().unwrap_or("")))
    }

    /// The build the spec asks for (the newest ReplicaSet's).
    pub fn desired(&self) -> Version {
        self.desired
    }

    /// The build that is stable now.
    pub fn stable(&self) -> Version {
        self.stable
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

    /// Whether the rollout waits for a person: an indefinite pause step or
    /// an Inconclusive analysis.
    pub fn waiting_for_person(&self) -> bool {
        self.pause_conditions.iter().any(|c| match c.reason {
            PauseReason::InconclusiveAnalysisRun => true,
            PauseReason::CanaryPauseStep => matches!(self.current_step(), Some(Step::Pause(None))),
        })
    }

    /// Whether the canary build is being rolled out (not yet promoted, not aborted).
    pub fn in_progress(&self) -> bool {
        self.invalid.is_none() && !self.abort && self.stable != self.desired
    }

    /// `kubectl argo rollouts promote`: clears the pause conditions; after an
    /// Inconclusive step run, or when nothing is paused, skips to the next step.
    /// An aborted rollout stays aborted: the CLI's patch leaves
    /// `status.abort` set, so the controller puts the index back to 0
    /// (`syncRolloutStatusCanary`); only `promote --full` would clear it.
    pub fn promote(&mut self, now: SimTime) {
        if self.invalid.is_some() || self.abort || self.stable == self.desired {
            return;
        }
        // The CLI skips the step only when it is the step's own run that is
        // Inconclusive (`isInconclusive`, cmd/promote/promote.go); an
        // Inconclusive background run only has its pause cleared, and a new
        // background run replaces it at the next reconcile.
        let inconclusive_step = self.step_run_phase == Some(AnalysisPhase::Inconclusive)
            && self.controller_pause
            && matches!(self.current_step(), Some(Step::Analysis(_)));
        if self.pause_conditions.is_empty() || inconclusive_step {
            self.pause_conditions.clear();
            self.controller_pause = false;
            self.complete_step(now);
        } else {
            self.pause_conditions.clear();
        }
    }

    /// `kubectl argo rollouts abort`.
    pub fn abort(&mut self, now: SimTime, message: &str) {
        if self.invalid.is_none() && !self.abort && self.stable != self.desired {
            self.set_abort(now, message.to_string());
        }
    }

    /// `kubectl argo rollouts undo`: the spec's pod template goes back to the
    /// other build. Within `rollbackWindow`, the steps are skipped.
    pub fn undo(&mut self, now: SimTime) {
        if self.invalid.is_some() {
            return;
        }
        let target = other(self.desired);
        self.desired = target;
        // A new pod template resets the rollout status (`resetRolloutStatus`).
        self.abort = false;
        self.abort_scale_down_at = None;
        self.pause_conditions.clear();
        self.controller_pause = false;
        self.canary_scale = None;
        self.step_run = None;
        self.background_run = false;
        self.old_stable_scale_down_at = None;
        if target == self.stable {
            // Back to the stable build: every step is skipped. With
            // dynamicStableScale the stable was scaled down, so the router
            // keeps the canary's share until the stable is back to full
            // size (`IsDynamicallyRollingBackToStable`, utils/rollout/rolloututil.go).
            self.step_index = self.policy.steps.len();
            self.rollback_fast = false;
            self.dynamic_rollback =
                self.policy.traffic_routing && self.policy.dynamic_stable_scale && self.weight > 0;
        } else {
            // Rolling back to an older build than stable: within the window
            // (K > 0 revisions; only these two builds exist) it skips steps.
            self.rollback_fast = self.policy.rollback_window.is_some_and(|k| k > 0);
            self.step_index = if self.rollback_fast {
                self.policy.steps.len()
            } else {
                0
            };
        }
        self.progress = progress::Progress::Since(now);
        let within_window = self.rollback_fast;
        self.notes.push((now, Note::Undo { within_window }));
        if self.step_index < self.policy.steps.len() {
            self.enter_step(now);
        }
    }

    fn current_step(&self) -> Option<&Step> {
        if self.stable == self.desired {
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
    pub fn reconcile(&mut self, now: SimTime, view: &ClusterView) -> Decision {
        self.step_run_phase = self
            .step_run
            .and_then(|i| view.run(RunKind::Step(i)))
            .map(|r| r.phase);
        let mut d = self.reconcile_status(now, view);
        if self.in_progress() {
            self.check_progress(now, view, &mut d);
        }
        // An aborted rollout's status is written without pause conditions,
        // even one added in this same reconcile (`CalculatePauseStatus`,
        // rollout/pause.go, returns once `CalculateAbortStatus` has set the
        // abort, before `CalculatePauseConditions` carries any over): nobody
        // is asked to promote an aborted rollout.
        if self.abort {
            self.pause_conditions.clear();
        }
        // The status is written without `controllerPause` when no pause
        // condition is left (CalculatePauseConditions, rollout/pause.go).
        if self.pause_conditions.is_empty() {
            self.controller_pause = false;
        }
        d
    }

    fn reconcile_status(&mut self, now: SimTime, view: &ClusterView) -> Decision {
        let n = self.replicas;
        let mut d = Decision {
            replicas: [0; 2],
            weight: self.weight,
            canary_selects: self.desired,
            stable_selects: self.stable,
            runs: Vec::new(),
            wake_at: None,
            requeue: false,
        };
        if self.invalid.is_some() {
            // InvalidSpec: the controller does nothing; what runs keeps running.
            d.replicas[self.stable.index()] = n;
            d.canary_selects = self.stable;
            d.weight = 0;
            return d;
        }
        if self.stable == self.desired {
            return self.reconcile_promoted(now, view, d);
        }

        // reconcileAnalysisRuns
        let was_aborted = self.abort;
        let cancel_all = self.abort || self.rollback_fast;
        let mut pause_added = false;
        if cancel_all {
            self.cancel_runs(&mut d);
        } else {
            pause_added |= self.reconcile_step_run(now, view, &mut d);
            pause_added |= self.reconcile_background_run(now, view, &mut d);
        }

        // ReplicaSets and traffic.
        let canary = self.desired;
        let stable = self.stable;
        if self.abort {
            // An abort just set is written to the status; the next reconcile
            // sees it and cancels the runs.
            d.requeue |= !was_aborted;
            self.step_index = 0;
            return self.reconcile_aborted(now, view, d);
        }
        let counts = self.desired_counts(view);
        d.replicas[canary.index()] = counts.canary;
        d.replicas[stable.index()] = counts.stable;
        self.spec = d.replicas;
        let at_counts = self.at_desired_counts(counts, view);
        if self.policy.traffic_routing {
            self.route(now, view, at_counts);
        }

        if pause_added {
            d.weight = self.weight;
            return d;
        }

        // Pause steps add their condition when they become current.
        if let Some(Step::Pause(_)) = self.current_step()
            && !self.has_pause(PauseReason::CanaryPauseStep)
            && !self.controller_pause
        {
            self.add_pause(now, PauseReason::CanaryPauseStep);
            if let Some(Step::Pause(Some(dur))) = self.current_step() {
                d.wake_at = Some(SimTime((now + *dur).0 + 1));
            }
            d.weight = self.weight;
            return d;
        }

        // syncRolloutStatusCanary: full promotion, or the current step.
        if self.step_index >= self.policy.steps.len() {
            if self.new_rs_ready_for_promotion(view) {
                self.promote_fully(now, &mut d);
                return self.reconcile_promoted(now, view, d);
            }
            return d;
        }
        let completed = match self.current_step().cloned() {
            None => false,
            Some(Step::SetWeight(w)) if at_counts => {
                // With a router, `route` has set the weight; a basic canary's
                // weight is its pod split.
                if !self.policy.traffic_routing {
                    self.set_weight(now, w);
                }
                true
            }
            Some(Step::SetWeight(_)) => false,
            Some(Step::SetCanaryScale(s)) => {
                self.canary_scale = Some(s);
                let counts = self.desired_counts(view);
                d.replicas[canary.index()] = counts.canary;
                d.replicas[stable.index()] = counts.stable;
                self.spec = d.replicas;
                self.at_desired_counts(counts, view)
            }
            Some(Step::Pause(duration)) => {
                let cond = self
                    .pause_conditions
                    .iter()
                    .find(|c| c.reason == PauseReason::CanaryPauseStep)
                    .copied();
                match (cond, duration) {
                    // A person removed the condition the controller had set.
                    (None, _) if self.controller_pause => true,
                    (Some(c), Some(dur)) => {
                        let end = c.since + dur;
                        if now > end {
                            true
                        } else {
                            d.wake_at = Some(SimTime(end.0 + 1));
                            false
                        }
                    }
                    _ => false,
                }
            }
            Some(Step::Analysis(_)) => view
                .run(RunKind::Step(self.step_index))
                .is_some_and(|r| r.phase == AnalysisPhase::Successful),
        };
        if completed {
            self.complete_step(now);
            d.requeue = true;
        }
        d.weight = self.weight;
        d
    }
}

fn other(v: Version) -> Version {
    match v {
        Version::Stable => Version::Canary,
        Version::Canary => Version::Stable,
    }
}

#[cfg(test)]
mod tests;
