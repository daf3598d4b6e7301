//! The AnalysisRun state machine, rule for rule after Argo's
//! `reconcileAnalysisRun` (analysis/analysis.go).
//!
//! Each [`AnalysisRun::reconcile`] at simulated time `now`:
//! 1. resolves args and validates the metrics (once; any failure makes the
//!    run Error), matches dry-run and retention rules;
//! 2. decides which metrics to measure (`generateMetricTasks`): the first
//!    measurement once `initialDelay` has passed, the next `interval` after
//!    the last one finished (10s after an Error), none once `count` is
//!    reached; in-flight (job) measurements are resumed when due, or
//!    terminated when the run is terminating;
//! 3. takes the measurements through the [`ProviderHost`] and updates the
//!    counters (errors never use up `count`);
//! 4. assesses each metric (strict `>` on failureLimit, inconclusiveLimit,
//!    consecutiveErrorLimit, later check wins) and the run (worst non-dry-run
//!    metric, Running until all complete, fast fail);
//! 5. says when it wants to be reconciled next.
//!
//! Neighbours: the engine calls `reconcile` at the returned times and
//! `terminate` when the rollout cancels the run; the rollout controller
//! reads [`AnalysisRun::phase`].
//!
//! Simulation details, where real time and simulated time differ:
//! - "due" is `now >= last finished + interval` (Argo checks `now > …`, but
//!   its requeue always lands a little after the target; at equal simulated
//!   instants Argo's rule would never fire);
//! - where Argo relies on the watch event of its own status update to come
//!   back at once (a terminating run, a just-started job), the next
//!   reconcile is `now`;
//! - a zero interval waits 1s, and a running job is polled no faster than
//!   every 1s, so simulated time always moves on.
//!
//! Measurement history: Argo keeps only the last 10 measurements per metric
//! (or `measurementRetention`); the counters are unaffected. Here every
//! measurement is kept for the JSON output, and
//! [`MetricResult::retained`] gives the slice Argo would still hold.

use regex::Regex;

use crate::sim::rng::ChaCha8Rng;
use crate::sim::{SimDuration, SimTime};

use super::args::{RunSpec, resolve_metric_args};
use super::phase::AnalysisPhase;
use super::provider::{self, MeasureCtx, Measurement, ProviderHost};
use super::validate::{CheckedMetric, validate_metrics};

/// Argo's `DefaultMeasurementHistoryLimit`.
pub const DEFAULT_MEASUREMENT_HISTORY_LIMIT: usize = 10;
/// Argo's `DefaultErrorRetryInterval`.
pub const ERROR_RETRY_INTERVAL: SimDuration = SimDuration::from_secs(10);
/// The least wait between two measurements of a metric (see the module doc).
const MIN_INTERVAL: SimDuration = SimDuration::from_secs(1);

/// One metric's status (Argo's `MetricResult`).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricResult {
    /// The metric's name.
    pub name: String,
    /// Its phase.
    pub phase: AnalysisPhase,
    /// The last measurement's message when the phase last changed, or the
    /// dry-run assessment.
    pub message: String,
    /// Whether a dry-run rule matched it.
    pub dry_run: bool,
    /// Measurements that completed other than Error.
    pub count: i64,
    /// Successful measurements.
    pub successful: i64,
    /// Failed measurements.
    pub failed: i64,
    /// Inconclusive measurements.
    pub inconclusive: i64,
    /// Error measurements.
    pub error: i64,
    /// Errors in a row (reset by any other result).
    pub consecutive_error: i64,
    /// Successes in a row (reset by any other result).
    pub consecutive_success: i64,
    /// Every measurement, oldest first (Argo keeps only the last
    /// [`MetricResult::retention_limit`]).
    pub measurements: Vec<Measurement>,
    /// How many measurements Argo would keep.
    pub retention_limit: usize,
}

impl MetricResult {
    /// The measurements Argo would still hold in its status.
    pub fn retained(&self) -> &[Measurement] {
        let n = self.measurements.len();
        &self.measurements[n.saturating_sub(self.retention_limit)..]
    }

    fn last(&self) -> Option<&Measurement> {
        self.measurements.last()
    }
}

/// What a reconcile ended with.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconciled {
    /// The run's phase.
    pub phase: AnalysisPhase,
    /// The run's message.
    pub message: String,
    /// When to reconcile again; `None` once the run completed (or when only
    /// an outside event, such as a job ending, can move it on).
    pub next_reconcile: Option<SimTime>,
}

/// The run's resolved, validated metrics and matched rules.
#[derive(Debug, Clone)]
struct Prepared {
    metrics: Vec<CheckedMetric>,
    dry_run: Vec<bool>,
    retention: Vec<usize>,
}

/// One AnalysisRun.
#[derive(Debug)]
pub struct AnalysisRun {
    name: String,
    spec: RunSpec,
    step: Option<usize>,
    terminate: bool,
    started_at: SimTime,
    completed_at: Option<SimTime>,
    phase: AnalysisPhase,
    message: String,
    prepared: Option<Prepared>,
    /// By metric position in the spec; `None` until its first measurement.
    results: Vec<Option<MetricResult>>,
    rng: ChaCha8Rng,
}

/// A metric that must be measured in this reconcile.
enum Task {
    New,
    Resume,
}

impl AnalysisRun {
    /// A new run, created at `started_at` (when its first reconcile is due).
    /// `rng` feeds the judge provider; derive it from the run's seed, e.g.
    /// `crate::sim::rng::stream(seed, "analysis", run_number)`.
    pub fn new(
        name: impl Into<String>,
        spec: RunSpec,
        started_at: SimTime,
        rng: ChaCha8Rng,
    ) -> Self {
        let n = spec.metrics.len();
        AnalysisRun {
            name: name.into(),
            spec,
            step: None,
            terminate: false,
            started_at,
            completed_at: None,
            phase: AnalysisPhase::Pending,
            message: String::new(),
            prepared: None,
            results: vec![None; n],
            rng,
        }
    }

    /// Records the canary step index this run belongs to (for reports).
    pub fn with_step(mut self, step: Option<usize>) -> Self {
        self.step = step;
        self
    }

    /// The run's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The spec it runs.
    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    /// The canary step index, if it is a step run.
    pub fn step(&self) -> Option<usize> {
        self.step
    }

    /// The run's phase: Pending before the first reconcile, Running, then a
    /// completed phase. A rollout reads Successful as "step done",
    /// Inconclusive as "pause", Failed or Error as "abort".
    pub fn phase(&self) -> AnalysisPhase {
        self.phase
    }

    /// The run's message (why it ended as it did).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// When it was created.
    pub fn started_at(&self) -> SimTime {
        self.started_at
    }

    /// When it completed.
    pub fn completed_at(&self) -> Option<SimTime> {
        self.completed_at
    }

    /// Whether `terminate` was called.
    pub fn terminate_requested(&self) -> bool {
        self.terminate
    }

    /// The metrics' status, in spec order, for those measured at least once.
    pub fn metric_results(&self) -> impl Iterator<Item = &MetricResult> {
        self.results.iter().flatten()
    }

    /// One metric's status by name.
    pub fn metric_result(&self, name: &str) -> Option<&MetricResult> {
        self.metric_results().find(|r| r.name == name)
    }

    /// Argo's `IsTerminating`: termination was requested, or a non-dry-run
    /// metric is Failed, Error or Inconclusive.
    pub fn is_terminating(&self) -> bool {
        self.terminate
            || self.metric_results().any(|r| {
                !r.dry_run
                    && matches!(
                        r.phase,
                        AnalysisPhase::Failed | AnalysisPhase::Error | AnalysisPhase::Inconclusive
                    )
            })
    }

    /// Sets `spec.terminate` (how a rollout cancels a run) and reconciles at
    /// once, as the watch event of that change does in Argo: no new
    /// measurements, in-flight jobs are terminated (Inconclusive), and a run
    /// with no failure ends Successful. A completed run is left as it is.
    pub fn terminate<H: ProviderHost + ?Sized>(
        &mut self,
        now: SimTime,
        host: &mut H,
    ) -> Reconciled {
        if !self.phase.completed() {
            self.terminate = true;
        }
        self.reconcile(now, host)
    }

    /// One pass of Argo's `reconcileAnalysisRun` at `now`.
    pub fn reconcile<H: ProviderHost + ?Sized>(
        &mut self,
        now: SimTime,
        host: &mut H,
    ) -> Reconciled {
        if self.phase.completed() {
            return self.outcome(None);
        }
        if self.prepared.is_none() {
            match self.prepare() {
                Ok(p) => self.prepared = Some(p),
                Err(message) => {
                    self.phase = AnalysisPhase::Error;
                    self.message = message;
                    self.completed_at = Some(now);
                    return self.outcome(None);
                }
            }
        }
        let Some(prepared) = self.prepared.take() else {
            return self.outcome(None);
        };
        let terminating = self.is_terminating();
        let tasks = self.generate_tasks(&prepared, now, terminating);
        self.run_measurements(&prepared, tasks, now, host, terminating);
        let (phase, message) = self.assess_run(&prepared, terminating);
        if phase != self.phase {
            self.phase = phase;
            self.message = message;
            if phase.completed() {
                self.completed_at.get_or_insert(now);
            }
        }
        let next = if self.phase.completed() {
            None
        } else if self.is_terminating() {
            // Argo's own status update brings it straight back to wrap up.
            Some(now)
        } else {
            self.next_reconcile_time(&prepared).map(|t| t.max(now))
        };
        self.prepared = Some(prepared);
        self.outcome(next)
    }

    fn outcome(&self, next_reconcile: Option<SimTime>) -> Reconciled {
        Reconciled {
            phase: self.phase,
            message: self.message.clone(),
            next_reconcile,
        }
    }

    /// Args, validation, dry-run and retention rules: Argo re-does these on
    /// every reconcile, but the spec never changes, so once is enough.
    fn prepare(&self) -> Result<Prepared, String> {
        let resolved = self
            .spec
            .metrics
            .iter()
            .map(|m| resolve_metric_args(m, &self.spec.args))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("Unable to resolve metric arguments: {e}"))?;
        let metrics =
            validate_metrics(&resolved).map_err(|e| format!("Analysis spec invalid: {e}"))?;
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        let mut dry_run = vec![false; names.len()];
        for (i, rule) in self.spec.dry_run.iter().enumerate() {
            let matched = matching(&rule.metric_name, &names);
            if matched.is_empty() {
                return Err(format!(
                    "Analysis spec invalid: dryRun[{i}]: Rule didn't match any metric name(s)"
                ));
            }
            for j in matched {
                dry_run[j] = true;
            }
        }
        let mut retention = vec![DEFAULT_MEASUREMENT_HISTORY_LIMIT; names.len()];
        for (i, rule) in self.spec.measurement_retention.iter().enumerate() {
            let matched = matching(&rule.metric_name, &names);
            if matched.is_empty() {
                return Err(format!(
                    "Analysis spec invalid: measurementRetention[{i}]: Rule didn't match any metric name(s)"
                ));
            }
            for j in matched {
                retention[j] = if rule.limit > 0 {
                    rule.limit as usize
                } else {
                    DEFAULT_MEASUREMENT_HISTORY_LIMIT
                };
            }
        }
        Ok(Prepared {
            metrics,
            dry_run,
            retention,
        })
    }

    /// Argo's `generateMetricTasks`.
    fn generate_tasks(&self, p: &Prepared, now: SimTime, terminating: bool) -> Vec<(usize, Task)> {
        let mut tasks = Vec::new();
        for (i, metric) in p.metrics.iter().enumerate() {
            let result = self.results[i].as_ref();
            if result.is_some_and(|r| r.phase.completed()) {
                continue;
            }
            let last = result.and_then(MetricResult::last);
            if let Some(last) = last
                && last.finished_at.is_none()
            {
                let waiting = last.resume_at.is_some_and(|t| t > now);
                if terminating || !waiting {
                    tasks.push((i, Task::Resume));
                }
                continue;
            }
            if terminating {
                continue;
            }
            let Some(last) = last else {
                if metric
                    .initial_delay
                    .is_none_or(|d| now >= self.started_at + d)
                {
                    tasks.push((i, Task::New));
                }
                continue;
            };
            let count = result.map_or(0, |r| r.count);
            if metric.effective_count().is_some_and(|c| count >= c) {
                continue;
            }
            if let Some(finished) = last.finished_at
                && now >= finished + wait_after(metric, last)
            {
                tasks.push((i, Task::New));
            }
        }
        tasks
    }

    /// Argo's `runMeasurements`: take, resume or terminate, then count.
    fn run_measurements<H: ProviderHost + ?Sized>(
        &mut self,
        p: &Prepared,
        tasks: Vec<(usize, Task)>,
        now: SimTime,
        host: &mut H,
        terminating: bool,
    ) {
        for (i, task) in tasks {
            let metric = &p.metrics[i];
            let result = self.results[i].get_or_insert_with(|| MetricResult {
                name: metric.name.clone(),
                phase: AnalysisPhase::Running,
                message: String::new(),
                dry_run: p.dry_run[i],
                count: 0,
                successful: 0,
                failed: 0,
                inconclusive: 0,
                error: 0,
                consecutive_error: 0,
                consecutive_success: 0,
                measurements: Vec::new(),
                retention_limit: p.retention[i],
            });
            let measurement = match task {
                Task::New => provider::start(
                    metric,
                    host,
                    now,
                    MeasureCtx {
                        run_name: &self.name,
                        taken: result.count + result.error,
                        rng: &mut self.rng,
                    },
                ),
                Task::Resume => {
                    let Some(in_flight) = result.measurements.last() else {
                        continue;
                    };
                    if terminating {
                        provider::terminate(in_flight, host, now)
                    } else {
                        provider::resume(in_flight, host, now)
                    }
                }
            };
            if measurement.phase.completed() {
                count(result, measurement.phase);
            }
            match task {
                Task::New => result.measurements.push(measurement),
                Task::Resume => {
                    if let Some(last) = result.measurements.last_mut() {
                        *last = measurement;
                    }
                }
            }
        }
    }

    /// Argo's `assessRunStatus`.
    fn assess_run(&mut self, p: &Prepared, terminating: bool) -> (AnalysisPhase, String) {
        let mut worst: Option<AnalysisPhase> = None;
        let mut worst_message = if self.terminate {
            "Run Terminated".to_string()
        } else {
            String::new()
        };
        let mut everything_completed = true;
        for (i, metric) in p.metrics.iter().enumerate() {
            let Some(result) = self.results[i].as_mut() else {
                // Not started yet (e.g. still in its initial delay).
                everything_completed = false;
                continue;
            };
            let status = assess_metric(metric, result, terminating);
            if result.phase != status {
                if let Some(last) = result.last() {
                    result.message = last.message.clone();
                }
                result.phase = status;
            }
            if !status.completed() {
                everything_completed = false;
                continue;
            }
            let (_, why) = failure_inconclusive_or_error(metric, result);
            if !p.dry_run[i] {
                if worst.is_none_or(|w| AnalysisPhase::is_worse(w, status)) {
                    worst = Some(status);
                    if let Some(why) = &why {
                        worst_message =
                            format!("Metric \"{}\" assessed {status} due to {why}", metric.name);
                        if !result.message.is_empty() {
                            worst_message
                                .push_str(&format!(": \"Error Message: {}\"", result.message));
                        }
                    }
                }
            } else {
                worst.get_or_insert(AnalysisPhase::Successful);
                if let Some(why) = why {
                    result.message = format!("Metric assessed {status} due to {why}");
                }
            }
        }
        let worst_message = worst_message.trim().to_string();
        if terminating {
            return (worst.unwrap_or(AnalysisPhase::Successful), worst_message);
        }
        match worst {
            Some(w) if everything_completed => (w, worst_message),
            _ => (AnalysisPhase::Running, String::new()),
        }
    }

    /// Argo's `calculateNextReconcileTime`: the earliest time any metric
    /// wants a measurement or a resume.
    fn next_reconcile_time(&self, p: &Prepared) -> Option<SimTime> {
        let mut next: Option<SimTime> = None;
        let mut consider = |t: SimTime| next = Some(next.map_or(t, |n: SimTime| n.min(t)));
        for (i, metric) in p.metrics.iter().enumerate() {
            let result = self.results[i].as_ref();
            if result.is_some_and(|r| r.phase.completed()) {
                continue;
            }
            let Some(last) = result.and_then(MetricResult::last) else {
                // Without an initial delay a metric is measured at the first
                // reconcile; only a terminating run leaves it unstarted.
                if let Some(d) = metric.initial_delay {
                    consider(self.started_at + d);
                }
                continue;
            };
            let Some(finished) = last.finished_at else {
                if let Some(t) = last.resume_at {
                    consider(t);
                }
                continue;
            };
            let count = result.map_or(0, |r| r.count);
            if metric.effective_count().is_some_and(|c| count >= c) {
                continue;
            }
            if last.phase == AnalysisPhase::Error || metric.interval.is_some() {
                consider(finished + wait_after(metric, last));
            }
        }
        next
    }

    /// All measurements of all metrics, each with its metric's name, in the
    /// order they were started (ties in spec order).
    pub fn measurements(&self) -> Vec<(&MetricResult, &Measurement)> {
        let mut all: Vec<(&MetricResult, &Measurement)> = self
            .metric_results()
            .flat_map(|r| r.measurements.iter().map(move |m| (r, m)))
            .collect();
        all.sort_by_key(|(_, m)| m.started_at);
        all
    }
}

/// How long after `last` finished the next measurement is due: 10s after an
/// Error, else the interval (10s without one, which only matters while
/// retrying toward `count`).
fn wait_after(metric: &CheckedMetric, last: &Measurement) -> SimDuration {
    let wait = if last.phase == AnalysisPhase::Error {
        ERROR_RETRY_INTERVAL
    } else {
        metric.interval.unwrap_or(ERROR_RETRY_INTERVAL)
    };
    wait.max(MIN_INTERVAL)
}

/// Positions of the names an unanchored regex matches (Go's
/// `regexp.MatchString`; a pattern that does not compile matches nothing).
fn matching(pattern: &str, names: &[&str]) -> Vec<usize> {
    match Regex::new(pattern) {
        Ok(re) => names
            .iter()
            .enumerate()
            .filter(|(_, n)| re.is_match(n))
            .map(|(i, _)| i)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The counter updates of `runMeasurements` for one completed measurement.
fn count(r: &mut MetricResult, phase: AnalysisPhase) {
    match phase {
        AnalysisPhase::Successful => {
            r.successful += 1;
            r.count += 1;
            r.consecutive_error = 0;
            r.consecutive_success += 1;
        }
        AnalysisPhase::Failed => {
            r.failed += 1;
            r.count += 1;
            r.consecutive_error = 0;
            r.consecutive_success = 0;
        }
        AnalysisPhase::Inconclusive => {
            r.inconclusive += 1;
            r.count += 1;
            r.consecutive_error = 0;
            r.consecutive_success = 0;
        }
        AnalysisPhase::Error => {
            // Errors never use up `count`.
            r.error += 1;
            r.consecutive_error += 1;
            r.consecutive_success = 0;
        }
        AnalysisPhase::Pending | AnalysisPhase::Running => {}
    }
}

/// Argo's `assessMetricFailureInconclusiveOrError`: strict `>` on each limit,
/// the later check winning (Error over Inconclusive over Failed).
pub fn failure_inconclusive_or_error(
    metric: &CheckedMetric,
    r: &MetricResult,
) -> (Option<AnalysisPhase>, Option<String>) {
    let mut phase = None;
    let mut message = None;
    let failure_limit = metric.failure_limit();
    if failure_limit >= 0 && r.failed > failure_limit {
        phase = Some(AnalysisPhase::Failed);
        message = Some(format!(
            "failed ({}) > failureLimit ({failure_limit})",
            r.failed
        ));
    }
    let inconclusive_limit = metric.inconclusive_limit();
    if r.inconclusive > inconclusive_limit {
        phase = Some(AnalysisPhase::Inconclusive);
        message = Some(format!(
            "inconclusive ({}) > inconclusiveLimit ({inconclusive_limit})",
            r.inconclusive
        ));
    }
    let error_limit = metric.consecutive_error_limit();
    if r.consecutive_error > error_limit {
        phase = Some(AnalysisPhase::Error);
        message = Some(format!(
            "consecutiveErrors ({}) > consecutiveErrorLimit ({error_limit})",
            r.consecutive_error
        ));
    }
    (phase, message)
}

/// Argo's `assessMetricStatus`.
pub fn assess_metric(metric: &CheckedMetric, r: &MetricResult, terminating: bool) -> AnalysisPhase {
    if r.phase.completed() {
        return r.phase;
    }
    let Some(last) = r.last() else {
        return if terminating {
            AnalysisPhase::Successful
        } else {
            AnalysisPhase::Pending
        };
    };
    if !last.phase.completed() {
        return AnalysisPhase::Running;
    }
    if let (Some(phase), _) = failure_inconclusive_or_error(metric, r) {
        return phase;
    }
    let success_limit = metric.consecutive_success_limit();
    if success_limit > 0 && r.consecutive_success >= success_limit {
        return AnalysisPhase::Successful;
    }
    if let Some(c) = metric.effective_count()
        && r.count >= c
    {
        let failure_applicable = metric.failure_limit.is_none_or(|l| l >= 0);
        let success_applicable = success_limit > 0;
        return match (failure_applicable, success_applicable) {
            (true, true) => AnalysisPhase::Inconclusive,
            (false, true) => AnalysisPhase::Failed,
            _ => AnalysisPhase::Successful,
        };
    }
    if terminating {
        AnalysisPhase::Successful
    } else {
        AnalysisPhase::Running
    }
}
