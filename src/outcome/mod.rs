//! What a run produced, and what it means: the run result and its verdict.
//!
//! The engine fills a [`RunResult`] at the end of a run; reports (text, JSON,
//! CSV) read it. Field names are the JSON contract of `docs/design.md` §5:
//! fields are added, never renamed. Times are seconds of simulated time from
//! the start of the rollout (negative during the warm-up).

use serde::Serialize;

use crate::model::Version;

/// How a policy fared against a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Bad release, aborted before full promotion.
    Caught,
    /// Bad release, fully promoted.
    Missed,
    /// Good release, fully promoted.
    Promoted,
    /// Good release, aborted.
    FalseAbort,
    /// Still paused or progressing when the simulation ended.
    Undecided,
}

impl Verdict {
    /// The verdict for a release that is bad or not, promoted or aborted.
    pub fn judge(canary_bad: bool, promoted: bool, aborted: bool) -> Verdict {
        match (canary_bad, promoted, aborted) {
            (_, false, false) => Verdict::Undecided,
            (true, _, true) => Verdict::Caught,
            (true, true, false) => Verdict::Missed,
            (false, _, true) => Verdict::FalseAbort,
            (false, true, false) => Verdict::Promoted,
        }
    }

    /// Which release the verdict is given on: `Some(true)` a bad one
    /// (caught, missed), `Some(false)` a good one (promoted, false abort),
    /// `None` for undecided, which either can be.
    pub fn of_bad_release(self) -> Option<bool> {
        match self {
            Verdict::Caught | Verdict::Missed => Some(true),
            Verdict::Promoted | Verdict::FalseAbort => Some(false),
            Verdict::Undecided => None,
        }
    }

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Caught => "caught",
            Verdict::Missed => "missed",
            Verdict::Promoted => "promoted",
            Verdict::FalseAbort => "false_abort",
            Verdict::Undecided => "undecided",
        }
    }
}

/// One run of one policy on one scenario with one seed.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// Scenario name.
    pub scenario: String,
    /// Policy name.
    pub policy: String,
    /// The run's seed.
    pub seed: u64,
    /// Whether the canary build carries a fault.
    pub canary_bad: bool,
    /// The verdict.
    pub verdict: Verdict,
    /// The rollout's course.
    pub rollout: RolloutSummary,
    /// AnalysisRuns and their measurements.
    pub analysis_runs: Vec<crate::analysis::AnalysisRunReport>,
    /// Every Locust run of the simulation (the `job` provider's), in start order.
    pub locust_jobs: Vec<LocustJobSummary>,
    /// Every OOM kill, in time order.
    pub oom_kills: Vec<OomKill>,
    /// Production requests by the version that was to serve them.
    pub requests: Requests,
    /// Requests sent to the canary before full promotion (its exposure while
    /// on trial).
    pub canary_requests: u64,
    /// Failed production requests, split where the rollout was decided.
    pub failed_requests: FailedRequests,
    /// The canary's largest working set (at any scrape, or when the OOM
    /// killer acted) as a fraction of its memory limit; above 1 means a kill.
    pub canary_peak_memory_fraction: f64,
    /// Seconds from the rollout's start to promotion or abort, or to the end
    /// of the run when neither happened.
    pub rollout_duration_s: f64,
    /// Seconds from the rollout's start to the abort that caught a bad release.
    pub time_to_detect_s: Option<f64>,
    /// Simulated seconds from the rollout's start to the end of the run.
    pub sim_duration_s: f64,
    /// Events the engine processed.
    pub events: u64,
    /// The run's timeline.
    pub timeline: Vec<TimelineEntry>,
    /// Every change of the canary weight the controller made, in time order
    /// (the step line of a timeline plot).
    pub canary_weights: Vec<WeightChange>,
}

/// The canary weight from an instant on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WeightChange {
    /// When it was set.
    pub t_s: f64,
    /// The weight, percent.
    pub weight: u32,
}

/// The rollout's course.
#[derive(Debug, Clone, Serialize)]
pub struct RolloutSummary {
    /// Phase at the end of the run.
    pub phase: crate::rollout::controller::Phase,
    /// When the rollout started (always 0).
    pub started_at_s: f64,
    /// When the canary became stable.
    pub promoted_at_s: Option<f64>,
    /// When the rollout aborted.
    pub aborted_at_s: Option<f64>,
    /// Why it aborted.
    pub abort_reason: Option<String>,
    /// Argo's InvalidSpec message when the Rollout's references do not
    /// validate (nothing happens then).
    pub invalid_spec: Option<String>,
    /// Each step's span.
    pub steps: Vec<StepRecord>,
}

/// One step's span.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    /// Index in the policy.
    pub index: usize,
    /// `setWeight`, `pause`, …
    pub kind: &'static str,
    /// When it became current.
    pub started_at_s: Option<f64>,
    /// When it completed.
    pub ended_at_s: Option<f64>,
}

/// One OOM kill.
#[derive(Debug, Clone, Serialize)]
pub struct OomKill {
    /// When.
    pub t_s: f64,
    /// Which pod.
    pub pod: String,
    /// Which version it ran.
    pub version: Version,
}

/// One Locust run: what Locust reported and what the Job's container exited with.
#[derive(Debug, Clone, Serialize)]
pub struct LocustJobSummary {
    /// The Job's name (`<run>.<metric>.<n>`).
    pub name: String,
    /// When it started.
    pub started_at_s: f64,
    /// When its last user stopped.
    pub ended_at_s: f64,
    /// Requests it sent.
    pub requests: u64,
    /// Requests that failed.
    pub failures: u64,
    /// Locust's own exit code (`--exit-code-on-error` when any request failed).
    pub locust_exit_code: i32,
    /// The container's exit code, which decides whether the Job failed
    /// (differs from Locust's when the script runs more after Locust).
    pub job_exit_code: i32,
}

/// Request counts by version.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Requests {
    /// Sent towards the stable version.
    pub stable: Tally,
    /// Sent towards the canary version.
    pub canary: Tally,
}

/// Failed production requests during the rollout and after it was decided.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct FailedRequests {
    /// From the rollout's start to full promotion or abort (or the end of
    /// the run when neither came).
    pub during_rollout: u64,
    /// After full promotion, to the end of the run (null if not promoted).
    pub after_promotion: Option<u64>,
    /// After the abort, to the end of the run (null if not aborted).
    pub after_abort: Option<u64>,
}

/// Total and failed requests.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Tally {
    /// All requests.
    pub total: u64,
    /// Those answered with a 5xx or not answered.
    pub failed: u64,
}

/// One line of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    /// When.
    pub t_s: f64,
    /// A short machine-readable kind (`step`, `weight`, `oom_kill`, …).
    pub kind: &'static str,
    /// A human-readable line.
    pub detail: String,
}

/// The whole output of `canarysim run --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// One entry per policy run.
    pub runs: Vec<RunResult>,
}

impl std::ops::Add for Tally {
    type Output = Tally;
    fn add(self, o: Tally) -> Tally {
        Tally {
            total: self.total + o.total,
            failed: self.failed + o.failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_release_quality_and_outcome() {
        assert_eq!(Verdict::judge(true, true, false), Verdict::Missed);
        assert_eq!(Verdict::judge(true, false, true), Verdict::Caught);
        assert_eq!(Verdict::judge(false, true, false), Verdict::Promoted);
        assert_eq!(Verdict::judge(false, false, true), Verdict::FalseAbort);
        assert_eq!(Verdict::judge(true, false, false), Verdict::Undecided);
        assert_eq!(Verdict::judge(false, false, false), Verdict::Undecided);
    }
}
