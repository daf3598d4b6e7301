//! The controller's AnalysisRuns: Argo's `reconcileAnalysisRuns`.
//!
//! In: the current step, the policy's background analysis and the phases
//! of the runs in the [`ClusterView`]. Out: [`RunRequest`]s to start or
//! cancel runs in the [`Decision`], and the controller's reaction to a
//! run's phase: Inconclusive adds the `InconclusiveAnalysisRun` pause
//! condition ([`super::step`]), Failed or Error aborts ([`super::abort`]).
//! Called first in each [`Controller::reconcile`] in [`super`].

use super::{ClusterView, Controller, Decision, PauseReason, RunKind, RunRequest};
use crate::analysis::AnalysisPhase;
use crate::rollout::policy::Step;
use crate::sim::SimTime;

impl Controller {
    /// `reconcileStepBasedAnalysisRun`. Returns whether a pause was added.
    pub(super) fn reconcile_step_run(
        &mut self,
        now: SimTime,
        view: &ClusterView,
        d: &mut Decision,
    ) -> bool {
        if !self.pause_conditions.is_empty() || self.abort {
            return false;
        }
        let index = self.step_index;
        let analysis = match self.current_step() {
            Some(Step::Analysis(a)) if !a.templates.is_empty() => a.clone(),
            _ => {
                if let Some(i) = self.step_run.take() {
                    d.runs.push(RunRequest::Cancel {
                        kind: RunKind::Step(i),
                    });
                }
                return false;
            }
        };
        if let Some(prev) = self.step_run
            && prev != index
        {
            d.runs.push(RunRequest::Cancel {
                kind: RunKind::Step(prev),
            });
            self.step_run = None;
        }
        if self.step_run.is_none() {
            self.step_run = Some(index);
            d.runs.push(RunRequest::Start {
                kind: RunKind::Step(index),
                analysis,
            });
            return false;
        }
        self.react_to_run(now, view, RunKind::Step(index), "Step-based")
    }

    /// What Argo does with a current run's phase: Inconclusive adds the
    /// `InconclusiveAnalysisRun` pause condition (returns true), Failed or
    /// Error aborts with `"<what> analysis phase error/failed: <message>"`.
    fn react_to_run(
        &mut self,
        now: SimTime,
        view: &ClusterView,
        kind: RunKind,
        what: &str,
    ) -> bool {
        let Some(run) = view.run(kind) else {
            return false;
        };
        match run.phase {
            AnalysisPhase::Inconclusive => {
                self.add_pause(now, PauseReason::InconclusiveAnalysisRun);
                true
            }
            AnalysisPhase::Failed | AnalysisPhase::Error => {
                let mut m = format!("{what} analysis phase error/failed");
                if !run.message.is_empty() {
                    m.push_str(": ");
                    m.push_str(&run.message);
                }
                self.set_abort(now, m);
                false
            }
            _ => false,
        }
    }

    /// `reconcileBackgroundAnalysisRun`. Returns whether a pause was added.
    pub(super) fn reconcile_background_run(
        &mut self,
        now: SimTime,
        view: &ClusterView,
        d: &mut Decision,
    ) -> bool {
        let Some(bg) = self.policy.background.clone() else {
            return false;
        };
        if bg.analysis.templates.is_empty()
            || self.step_index < bg.starting_step.min(self.policy.steps.len())
        {
            return false;
        }
        if self.has_pause(PauseReason::InconclusiveAnalysisRun) {
            return false;
        }
        if !self.background_run {
            self.background_run = true;
            d.runs.push(RunRequest::Start {
                kind: RunKind::Background,
                analysis: bg.analysis,
            });
            return false;
        }
        // needsNewAnalysisRun (rollout/analysis.go): the controller paused for
        // this Inconclusive run and a person has since cleared the pause, so
        // the run is replaced rather than read again.
        let promoted_past = self.controller_pause
            && !self.has_pause(PauseReason::CanaryPauseStep)
            && view
                .run(RunKind::Background)
                .is_some_and(|r| r.phase == AnalysisPhase::Inconclusive);
        if promoted_past {
            d.runs.push(RunRequest::Cancel {
                kind: RunKind::Background,
            });
            d.runs.push(RunRequest::Start {
                kind: RunKind::Background,
                analysis: bg.analysis,
            });
            return false;
        }
        self.react_to_run(now, view, RunKind::Background, "Background")
    }

    pub(super) fn cancel_runs(&mut self, d: &mut Decision) {
        if let Some(i) = self.step_run.take() {
            d.runs.push(RunRequest::Cancel {
                kind: RunKind::Step(i),
            });
        }
        if std::mem::take(&mut self.background_run) {
            d.runs.push(RunRequest::Cancel {
                kind: RunKind::Background,
            });
        }
    }
}
