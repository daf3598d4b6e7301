//! The progress deadline: Argo's `Progressing` condition and
//! `progressDeadlineSeconds` / `progressDeadlineAbort`.
//!
//! In: each reconcile's [`ClusterView`] against the previous one's, the step
//! index and the pause conditions. Out: the condition's state (a Degraded
//! phase once the deadline passes), an abort when the policy asks for one,
//! and a wake-up at the deadline. Called from [`Controller::reconcile`] in
//! [`super`] after the rest of the reconcile, as Argo computes conditions
//! when it writes the status.
//!
//! Rules (`rollout/sync.go` `calculateRolloutConditions`,
//! `evaluateProgressDeadlineAbort`, `requeueStuckRollout`;
//! `utils/conditions/conditions.go` `RolloutProgressing`, `RolloutTimedOut`):
//! - progress is any of: the new ReplicaSet's pod count changed, the old
//!   ReplicaSets' pods went down, more pods available, the step index moved,
//!   the stable ReplicaSet changed; it stamps the condition with now;
//! - a paused rollout does not time out, and resuming it stamps the
//!   condition anew; an aborted one does not time out either;
//! - at a pause, analysis or experiment step the deadline is not checked;
//! - otherwise, strictly more than `progressDeadlineSeconds` after the
//!   stamp, the condition becomes `ProgressDeadlineExceeded` (phase
//!   Degraded) until progress resumes, and with `progressDeadlineAbort`
//!   the update aborts;
//! - the controller requeues itself one second after the deadline.
//!
//! Only an update in flight is checked; a fully promoted rollout whose pods
//! later fail is not (its restarts count as progress in Argo too).

use super::{ClusterView, Controller, Decision, Note};
use crate::rollout::policy::Step;
use crate::sim::{SimDuration, SimTime};

/// What `RolloutProgressing` compares between two reconciles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Observed {
    updated: u32,
    old: u32,
    available: u32,
    step_index: usize,
}

/// The `Progressing` condition, as far as the deadline is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Progress {
    /// Progressing (or resumed) since this time.
    Since(SimTime),
    /// Paused: the deadline does not run.
    Paused,
    /// `ProgressDeadlineExceeded`.
    TimedOut,
}

impl Controller {
    /// Updates the condition after a reconcile of an update in flight.
    pub(super) fn check_progress(&mut self, now: SimTime, view: &ClusterView, d: &mut Decision) {
        let desired = self.desired.index();
        let seen = Observed {
            updated: view.created[desired],
            old: view.created[1 - desired],
            available: view.available[0] + view.available[1],
            step_index: self.step_index,
        };
        let moved = self.progress_seen.is_some_and(|before| {
            seen.updated != before.updated
                || seen.old < before.old
                || seen.available > before.available
                || seen.step_index != before.step_index
        });
        self.progress_seen = Some(seen);
        if !self.pause_conditions.is_empty() {
            self.progress = Progress::Paused;
            return;
        }
        let since = match self.progress {
            _ if moved => now,
            // Resumed: Argo stamps a RolloutResumed condition.
            Progress::Paused => now,
            Progress::Since(t) => t,
            Progress::TimedOut => return,
        };
        self.progress = Progress::Since(since);
        let indefinite = matches!(
            self.current_step(),
            Some(Step::Pause(_)) | Some(Step::Analysis(_))
        );
        if indefinite {
            return;
        }
        let deadline = since + self.policy.progress_deadline;
        if now > deadline {
            self.progress = Progress::TimedOut;
            let message = format!(
                "ReplicaSet \"{}\" has timed out progressing.",
                self.rs_names[desired]
            );
            self.notes.push((
                now,
                Note::ProgressDeadlineExceeded {
                    message: message.clone(),
                },
            ));
            if self.policy.progress_deadline_abort {
                self.set_abort(now, message);
                d.requeue = true;
            }
        } else {
            let at = deadline + SimDuration::from_secs(1);
            d.wake_at = Some(d.wake_at.map_or(at, |w| w.min(at)));
        }
    }

    /// Whether the `Progressing` condition reads `ProgressDeadlineExceeded`.
    pub fn progress_deadline_exceeded(&self) -> bool {
        self.progress == Progress::TimedOut
    }
}
