//! Argo's `AnalysisPhase`, shared by runs, metrics and measurements, with its
//! completion test and the best-to-worst order (`analysisStatusOrder`).

use std::fmt;

/// The phase of an analysis run, a metric, or one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum AnalysisPhase {
    /// Not started (a metric with no measurement yet, a run not yet reconciled).
    Pending,
    /// In progress.
    Running,
    /// Completed and good.
    Successful,
    /// Completed and judged bad.
    Failed,
    /// Could not be measured or evaluated.
    Error,
    /// Completed without a verdict.
    Inconclusive,
}

impl AnalysisPhase {
    /// Successful, Failed, Error and Inconclusive are completed phases.
    pub fn completed(self) -> bool {
        matches!(
            self,
            AnalysisPhase::Successful
                | AnalysisPhase::Failed
                | AnalysisPhase::Error
                | AnalysisPhase::Inconclusive
        )
    }

    /// Rank in Argo's best-to-worst order: Successful < Running < Pending <
    /// Inconclusive < Error < Failed.
    pub fn severity(self) -> u8 {
        match self {
            AnalysisPhase::Successful => 0,
            AnalysisPhase::Running => 1,
            AnalysisPhase::Pending => 2,
            AnalysisPhase::Inconclusive => 3,
            AnalysisPhase::Error => 4,
            AnalysisPhase::Failed => 5,
        }
    }

    /// Argo's `IsWorse(current, new)`: whether `new` ranks strictly worse.
    pub fn is_worse(current: AnalysisPhase, new: AnalysisPhase) -> bool {
        new.severity() > current.severity()
    }

    /// The phase as Argo spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AnalysisPhase::Pending => "Pending",
            AnalysisPhase::Running => "Running",
            AnalysisPhase::Successful => "Successful",
            AnalysisPhase::Failed => "Failed",
            AnalysisPhase::Error => "Error",
            AnalysisPhase::Inconclusive => "Inconclusive",
        }
    }
}

/// What a rollout does with an analysis run in a given phase
/// (rollout/analysis.go, `reconcileStepBasedAnalysisRun` and
/// `reconcileBackgroundAnalysisRun`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutReaction {
    /// Still Pending or Running: a step run blocks its step, a background
    /// run lets steps go on.
    Wait,
    /// Successful: a step run completes its step (the index moves on).
    Proceed,
    /// Inconclusive: pause condition `InconclusiveAnalysisRun`, phase Paused.
    Pause,
    /// Failed or Error: abort, phase Degraded.
    Abort,
}

impl AnalysisPhase {
    /// How a rollout reacts to a run in this phase.
    pub fn rollout_reaction(self) -> RolloutReaction {
        match self {
            AnalysisPhase::Pending | AnalysisPhase::Running => RolloutReaction::Wait,
            AnalysisPhase::Successful => RolloutReaction::Proceed,
            AnalysisPhase::Inconclusive => RolloutReaction::Pause,
            AnalysisPhase::Failed | AnalysisPhase::Error => RolloutReaction::Abort,
        }
    }
}

impl fmt::Display for AnalysisPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::AnalysisPhase::*;
    use super::*;

    #[test]
    fn failed_is_worse_than_error_is_worse_than_inconclusive() {
        assert!(AnalysisPhase::is_worse(Error, Failed));
        assert!(AnalysisPhase::is_worse(Inconclusive, Error));
        assert!(AnalysisPhase::is_worse(Successful, Inconclusive));
        assert!(!AnalysisPhase::is_worse(Failed, Error));
        assert!(!AnalysisPhase::is_worse(Failed, Failed));
    }

    #[test]
    fn step_run_successful_proceeds_inconclusive_pauses_error_and_failed_abort() {
        assert_eq!(Successful.rollout_reaction(), RolloutReaction::Proceed);
        assert_eq!(Inconclusive.rollout_reaction(), RolloutReaction::Pause);
        assert_eq!(Error.rollout_reaction(), RolloutReaction::Abort);
        assert_eq!(Failed.rollout_reaction(), RolloutReaction::Abort);
        assert_eq!(Running.rollout_reaction(), RolloutReaction::Wait);
        assert_eq!(Pending.rollout_reaction(), RolloutReaction::Wait);
    }

    #[test]
    fn only_verdicts_are_completed() {
        assert!(!Pending.completed());
        assert!(!Running.completed());
        for p in [Successful, Failed, Error, Inconclusive] {
            assert!(p.completed());
        }
    }
}
