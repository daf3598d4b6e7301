//! One cell of a sweep (a scenario, a policy variant, a range of seeds):
//! the runs summed up into the figures a tuning decision needs.
//!
//! In: the [`RunResult`]s of the cell's seeds and the policy's templates
//! (to name the template a deciding metric came from). Out: a
//! [`CellSummary`], serialised into the sweep's JSON and read by the text,
//! Markdown and CSV tables of `crate::report`, by `run --runs` and by
//! `check`. Rates carry their 95% Wilson interval ([`super::stats`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stats::{Z95, quantile, wilson};
use crate::analysis::{AnalysisPhase, AnalysisTemplate};
use crate::outcome::{RunResult, Verdict};

/// Verdict counts of a cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictCounts {
    /// Bad release aborted before full promotion.
    pub caught: u64,
    /// Bad release fully promoted.
    pub missed: u64,
    /// Good release fully promoted.
    pub promoted: u64,
    /// Good release aborted.
    pub false_abort: u64,
    /// Neither promoted nor aborted by the end of the run.
    pub undecided: u64,
}

impl VerdictCounts {
    /// Adds one verdict.
    pub fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Caught => self.caught += 1,
            Verdict::Missed => self.missed += 1,
            Verdict::Promoted => self.promoted += 1,
            Verdict::FalseAbort => self.false_abort += 1,
            Verdict::Undecided => self.undecided += 1,
        }
    }

    /// How many runs had this verdict.
    pub fn get(&self, v: Verdict) -> u64 {
        match v {
            Verdict::Caught => self.caught,
            Verdict::Missed => self.missed,
            Verdict::Promoted => self.promoted,
            Verdict::FalseAbort => self.false_abort,
            Verdict::Undecided => self.undecided,
        }
    }

    /// All runs.
    pub fn total(&self) -> u64 {
        self.caught + self.missed + self.promoted + self.false_abort + self.undecided
    }
}

/// A rate with its 95% Wilson score interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// Successes over trials.
    pub rate: f64,
    /// The 95% Wilson score interval.
    pub ci95: [f64; 2],
    /// Successes.
    pub k: u64,
    /// Trials: the runs that were decided (undecided runs are counted
    /// apart, in neither the numerator nor the denominator).
    pub of: u64,
}

impl Rate {
    /// `k` of `n`; `None` when `n` is 0.
    pub fn of(k: u64, n: u64) -> Option<Rate> {
        (n > 0).then(|| Rate {
            rate: k as f64 / n as f64,
            ci95: wilson(k, n, Z95),
            k,
            of: n,
        })
    }
}

/// Median and 90th percentile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// The median.
    pub median: f64,
    /// The 90th percentile.
    pub p90: f64,
}

impl Spread {
    /// Of the values; `None` when there are none.
    pub fn of(mut values: Vec<f64>) -> Option<Spread> {
        values.sort_by(f64::total_cmp);
        Some(Spread {
            median: quantile(&values, 0.5)?,
            p90: quantile(&values, 0.9)?,
        })
    }
}

/// What the rollout cost, per run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// Mean requests sent to the canary before full promotion or abort.
    pub canary_requests: f64,
    /// Mean failed production requests from the start to the verdict.
    pub failed_before_verdict: f64,
    /// Mean failed production requests after full promotion (0 for runs
    /// that were not promoted).
    pub failed_after_promotion: f64,
    /// Mean failed production requests in the whole run.
    pub failed_requests: f64,
    /// Mean OOM kills (any pod).
    pub oom_kills: f64,
    /// Median seconds from the start to promotion or abort (or the end).
    pub rollout_duration_s: f64,
}

/// Why a rollout aborted, as the sweep counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AbortCause {
    /// An AnalysisRun ended Failed.
    Failed,
    /// An AnalysisRun ended Error.
    Error,
    /// An Inconclusive run paused the rollout and the operator aborted it.
    InconclusiveThenOperator,
    /// The operator aborted (a panel looked wrong, or a page).
    Operator,
}

impl AbortCause {
    /// Every cause.
    pub const ALL: [AbortCause; 4] = [
        AbortCause::Failed,
        AbortCause::Error,
        AbortCause::InconclusiveThenOperator,
        AbortCause::Operator,
    ];

    /// The cause spelled `text` ([`AbortCause::as_str`]).
    pub fn from_name(text: &str) -> Option<AbortCause> {
        AbortCause::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// The spelling in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AbortCause::Failed => "Failed",
            AbortCause::Error => "Error",
            AbortCause::InconclusiveThenOperator => "Inconclusive then operator",
            AbortCause::Operator => "operator",
        }
    }
}

/// Who decided an abort: the cause and the gates (`TEMPLATE/METRIC`) whose
/// phase was the deciding run's phase. Operator aborts have no gate.
/// `None` when the run did not abort before promotion.
pub fn abort_decider(
    run: &RunResult,
    templates: &[AnalysisTemplate],
) -> Option<(AbortCause, Vec<String>)> {
    let at = run.rollout.aborted_at_s?;
    if run.rollout.promoted_at_s.is_some_and(|p| p <= at) {
        return None;
    }
    let reason = run.rollout.abort_reason.as_deref().unwrap_or("");
    if reason.starts_with("aborted by the operator") {
        let paused_inconclusive = run.analysis_runs.iter().any(|a| {
            a.phase == AnalysisPhase::Inconclusive && a.completed_at_s.is_some_and(|c| c <= at)
        });
        let cause = if paused_inconclusive {
            AbortCause::InconclusiveThenOperator
        } else {
            AbortCause::Operator
        };
        return Some((cause, Vec::new()));
    }
    // The run that aborted the rollout: the last Failed or Error run that
    // completed by the abort.
    let deciding = run
        .analysis_runs
        .iter()
        .filter(|a| matches!(a.phase, AnalysisPhase::Failed | AnalysisPhase::Error))
        .filter(|a| a.completed_at_s.is_some_and(|c| c <= at + 1e-9))
        .max_by(|a, b| {
            a.completed_at_s
                .unwrap_or(0.0)
                .total_cmp(&b.completed_at_s.unwrap_or(0.0))
        });
    let Some(a) = deciding else {
        // An abort nothing above explains (a hand abort in a test, say).
        return Some((AbortCause::Operator, Vec::new()));
    };
    let cause = if a.phase == AnalysisPhase::Failed {
        AbortCause::Failed
    } else {
        AbortCause::Error
    };
    let gates = a
        .metrics
        .iter()
        .filter(|m| m.phase == a.phase && !m.dry_run)
        .map(|m| {
            let template = a
                .templates
                .iter()
                .find(|t| {
                    templates
                        .iter()
                        .any(|x| &x.name == *t && x.spec.metrics.iter().any(|y| y.name == m.name))
                })
                .or(a.templates.first())
                .map_or("", String::as_str);
            format!("{template}/{}", m.name)
        })
        .collect();
    Some((cause, gates))
}

/// The figures of one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellSummary {
    /// Whether the canary build carries a fault.
    pub bad_release: bool,
    /// Runs in the cell.
    pub runs: u64,
    /// Verdict counts.
    pub verdicts: VerdictCounts,
    /// Caught of caught + missed (bad release only).
    pub detection: Option<Rate>,
    /// False aborts of promoted + false aborts (good release only).
    pub false_abort: Option<Rate>,
    /// Undecided of all runs.
    pub undecided: Rate,
    /// Seconds from the start to the abort that caught the bad release.
    pub time_to_detect_s: Option<Spread>,
    /// Seconds from the start to promotion or abort (or the end).
    pub rollout_duration_s: Option<Spread>,
    /// Aborts before promotion per deciding gate (`TEMPLATE/METRIC`).
    pub aborted_by: BTreeMap<String, u64>,
    /// Aborts before promotion per cause (Failed, Error, Inconclusive then
    /// operator, operator).
    pub abort_causes: BTreeMap<String, u64>,
    /// What the rollout cost.
    pub cost: Cost,
}

/// What a cell keeps of one run: enough for every figure of the cell and
/// small enough to hold ten thousand of (a sweep's parts store these).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDigest {
    /// The run's seed.
    pub seed: u64,
    /// Whether the canary build carries a fault.
    pub canary_bad: bool,
    /// The verdict.
    pub verdict: Verdict,
    /// Seconds to the abort that caught a bad release.
    pub time_to_detect_s: Option<f64>,
    /// Seconds to promotion or abort (or the end).
    pub rollout_duration_s: f64,
    /// Requests sent to the canary before the verdict.
    pub canary_requests: u64,
    /// Failed production requests before the verdict.
    pub failed_before_verdict: u64,
    /// Failed production requests after full promotion.
    pub failed_after_promotion: Option<u64>,
    /// Failed production requests after an abort.
    pub failed_after_abort: Option<u64>,
    /// OOM kills of any pod.
    pub oom_kills: u64,
    /// Why the rollout aborted before promotion (`null` if it did not).
    pub abort_cause: Option<String>,
    /// The gates (`TEMPLATE/METRIC`) that decided the abort.
    pub aborted_by: Vec<String>,
}

impl RunDigest {
    /// Keeps what a cell needs of a run.
    pub fn of(r: &RunResult, templates: &[AnalysisTemplate]) -> RunDigest {
        let decider = abort_decider(r, templates);
        RunDigest {
            seed: r.seed,
            canary_bad: r.canary_bad,
            verdict: r.verdict,
            time_to_detect_s: r.time_to_detect_s,
            rollout_duration_s: r.rollout_duration_s,
            canary_requests: r.canary_requests,
            failed_before_verdict: r.failed_requests.during_rollout,
            failed_after_promotion: r.failed_requests.after_promotion,
            failed_after_abort: r.failed_requests.after_abort,
            oom_kills: r.oom_kills.len() as u64,
            abort_cause: decider.as_ref().map(|(c, _)| c.as_str().to_string()),
            aborted_by: decider.map(|(_, g)| g).unwrap_or_default(),
        }
    }

    /// Refuses a digest [`RunDigest::of`] cannot build, for a run in a cell
    /// whose release is bad or not (`bad_release`). The rules follow from
    /// how the engine assembles a run's result and judges it
    /// ([`Verdict::judge`]) and from [`abort_decider`]: a digest that breaks
    /// one was damaged or edited, and would be counted as it says.
    pub fn check(&self, bad_release: bool) -> Result<(), String> {
        let seconds = |x: f64| x.is_finite() && x >= 0.0;
        if !seconds(self.rollout_duration_s) || self.time_to_detect_s.is_some_and(|t| !seconds(t)) {
            let ttd = self
                .time_to_detect_s
                .map_or_else(|| "none".to_string(), |t| t.to_string());
            return Err(format!(
                "times no run has (time_to_detect_s {ttd}, rollout_duration_s {})",
                self.rollout_duration_s
            ));
        }
        let release = |bad: bool| if bad { "a bad" } else { "a good" };
        // The run and its cell load the same scenario.
        if self.canary_bad != bad_release {
            return Err(format!(
                "canary_bad is {} in the cell of {} release",
                self.canary_bad,
                release(bad_release)
            ));
        }
        let v = self.verdict;
        let verdict = v.as_str();
        if v.of_bad_release().is_some_and(|bad| bad != self.canary_bad) {
            return Err(format!(
                "verdict {verdict} is for {} release, and canary_bad is {}",
                release(!self.canary_bad),
                self.canary_bad
            ));
        }
        // Promoted or missed: fully promoted. Caught or false abort:
        // aborted before that. Undecided: neither.
        let promoted = matches!(v, Verdict::Promoted | Verdict::Missed);
        let aborted = matches!(v, Verdict::Caught | Verdict::FalseAbort);
        let only = |field: &str, has: bool, rule: &str| {
            Err(format!(
                "{field} is {} with verdict {verdict}: {rule}",
                if has { "given" } else { "null" }
            ))
        };
        if self.time_to_detect_s.is_some() != (v == Verdict::Caught) {
            return only(
                "time_to_detect_s",
                self.time_to_detect_s.is_some(),
                "a caught run has one, no other run does",
            );
        }
        if let Some(t) = self.time_to_detect_s
            && t != self.rollout_duration_s
        {
            return Err(format!(
                "time_to_detect_s {t} is not rollout_duration_s {}: a caught run is decided by the abort that caught it",
                self.rollout_duration_s
            ));
        }
        if self.failed_after_promotion.is_some() != promoted {
            return only(
                "failed_after_promotion",
                self.failed_after_promotion.is_some(),
                "a promoted or missed run has one, no other run does",
            );
        }
        if self.failed_after_abort.is_some() != aborted {
            return only(
                "failed_after_abort",
                self.failed_after_abort.is_some(),
                "a caught or falsely aborted run has one, no other run does",
            );
        }
        let cause = match &self.abort_cause {
            None => None,
            Some(text) => Some(AbortCause::from_name(text).ok_or_else(|| {
                format!(
                    "abort_cause {text:?} is none of {}",
                    AbortCause::ALL
                        .map(|c| format!("{:?}", c.as_str()))
                        .join(", ")
                )
            })?),
        };
        // A run that aborted before promotion has a cause; one that never
        // aborted has none. (A promoted run may have aborted first and been
        // rolled out again by an undo, so it may have either.)
        if (aborted && cause.is_none()) || (v == Verdict::Undecided && cause.is_some()) {
            return only(
                "abort_cause",
                cause.is_some(),
                "a caught or falsely aborted run has one, an undecided run none",
            );
        }
        if !self.aborted_by.is_empty()
            && !matches!(cause, Some(AbortCause::Failed | AbortCause::Error))
        {
            return Err(format!(
                "aborted_by {:?} with abort_cause {}: only an abort by a Failed or Error analysis names gates",
                self.aborted_by,
                self.abort_cause
                    .as_ref()
                    .map_or("null".to_string(), |c| format!("{c:?}"))
            ));
        }
        Ok(())
    }
}

impl CellSummary {
    /// Sums up the runs of one cell (one scenario, one policy variant).
    /// `templates` are the policy's, to name the template a gate came from.
    pub fn of(runs: &[RunResult], templates: &[AnalysisTemplate]) -> CellSummary {
        let digests: Vec<RunDigest> = runs.iter().map(|r| RunDigest::of(r, templates)).collect();
        CellSummary::of_digests(&digests)
    }

    /// Sums up the digests of one cell's runs, in the order given.
    pub fn of_digests(runs: &[RunDigest]) -> CellSummary {
        let mut verdicts = VerdictCounts::default();
        let mut aborted_by = BTreeMap::new();
        let mut abort_causes = BTreeMap::new();
        for r in runs {
            verdicts.add(r.verdict);
            if let Some(cause) = &r.abort_cause {
                *abort_causes.entry(cause.clone()).or_insert(0) += 1;
            }
            for g in &r.aborted_by {
                *aborted_by.entry(g.clone()).or_insert(0) += 1;
            }
        }
        let n = runs.len() as u64;
        let bad_release = runs.first().is_some_and(|r| r.canary_bad);
        let mean = |f: &dyn Fn(&RunDigest) -> f64| {
            if runs.is_empty() {
                0.0
            } else {
                runs.iter().map(f).sum::<f64>() / runs.len() as f64
            }
        };
        let after_promotion = |r: &RunDigest| r.failed_after_promotion.unwrap_or(0);
        let rollout_duration_s = Spread::of(runs.iter().map(|r| r.rollout_duration_s).collect());
        let none = Rate {
            rate: 0.0,
            ci95: [0.0, 1.0],
            k: 0,
            of: 0,
        };
        CellSummary {
            bad_release,
            runs: n,
            verdicts,
            detection: if bad_release {
                Rate::of(verdicts.caught, verdicts.caught + verdicts.missed)
            } else {
                None
            },
            false_abort: if bad_release {
                None
            } else {
                Rate::of(
                    verdicts.false_abort,
                    verdicts.false_abort + verdicts.promoted,
                )
            },
            undecided: Rate::of(verdicts.undecided, n).unwrap_or(none),
            time_to_detect_s: Spread::of(runs.iter().filter_map(|r| r.time_to_detect_s).collect()),
            rollout_duration_s,
            aborted_by,
            abort_causes,
            cost: Cost {
                canary_requests: mean(&|r| r.canary_requests as f64),
                failed_before_verdict: mean(&|r| r.failed_before_verdict as f64),
                failed_after_promotion: mean(&|r| after_promotion(r) as f64),
                failed_requests: mean(&|r| {
                    (r.failed_before_verdict
                        + after_promotion(r)
                        + r.failed_after_abort.unwrap_or(0)) as f64
                }),
                oom_kills: mean(&|r| r.oom_kills as f64),
                rollout_duration_s: rollout_duration_s.map_or(0.0, |s| s.median),
            },
        }
    }

    /// The share of runs with this verdict, with its interval (of all runs).
    pub fn share(&self, v: Verdict) -> Rate {
        Rate::of(self.verdicts.get(v), self.runs).unwrap_or(Rate {
            rate: 0.0,
            ci95: [0.0, 1.0],
            k: 0,
            of: 0,
        })
    }
}
