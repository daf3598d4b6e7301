//! Metric providers: what one measurement does, over a [`ProviderHost`] the
//! engine implements.
//!
//! - `prometheus`: an instant query at the measurement's time; a scalar
//!   becomes a number, a vector a list (even with one sample), a matrix a
//!   flattened list, anything else an Error; then the conditions judge it.
//! - `job`: starts a Locust run, which takes simulated time. The measurement
//!   stays in flight, polled after √(2·elapsed) seconds (at least 1s), and
//!   finishes at the poll that sees the job done: exit 0 is Successful, any
//!   other exit Failed (the exit code is the value), a job that cannot start
//!   (Argo's `ErrImagePull`) Inconclusive, and terminating it Inconclusive.
//! - `judge`: range queries for canary and stable over the look-back window,
//!   classified by [`crate::judge::classify`].
//!
//! Neighbours: `run` calls `start`, `resume` and `terminate`; the
//! engine supplies the host.

use rand::Rng;

use crate::condition::{ResultValue, Verdict};
use crate::judge::{self, Classification};
use crate::promql::Value;
use crate::sim::{SimDuration, SimTime};

use super::phase::AnalysisPhase;
use super::validate::{CheckedMetric, CheckedProvider, JudgeQuery};
use crate::locust::LocustJob;

/// The engine's side of the providers.
pub trait ProviderHost {
    /// Evaluates PromQL at instant `at` (Argo's `api.Query`). `Err` is a
    /// query error (bad PromQL, …) and becomes the measurement's message.
    fn prometheus_query(&mut self, query: &str, at: SimTime) -> Result<Value, String>;

    /// Evaluates PromQL over `[start, end]` every `step` (Prometheus's
    /// `query_range`); the result is a matrix.
    fn prometheus_range_query(
        &mut self,
        query: &str,
        start: SimTime,
        end: SimTime,
        step: SimDuration,
    ) -> Result<Value, String>;

    /// Starts a job (a Locust run against the canary) at `at`. `Err` means it
    /// could not be created (an API error in Argo): the measurement is an Error.
    fn start_job(&mut self, request: &JobRequest, at: SimTime) -> Result<JobId, String>;

    /// The job's state as seen at `at`.
    fn job_status(&mut self, id: JobId, at: SimTime) -> Result<JobStatus, String>;

    /// Stops and deletes a job (the run is terminating).
    fn terminate_job(&mut self, id: JobId, at: SimTime) -> Result<(), String>;
}

/// A job the engine started, as its host numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct JobId(pub u64);

/// What the engine must run for one job measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRequest {
    /// The AnalysisRun's name.
    pub run: String,
    /// The metric's name.
    pub metric: String,
    /// Argo's job name, `<run>.<metric>.<n>` with n = measurements so far + 1.
    pub job_name: String,
    /// The Locust run.
    pub locust: LocustJob,
}

/// A job's state.
#[derive(Debug, Clone, PartialEq)]
pub enum JobStatus {
    /// Still running.
    Running,
    /// Exited 0 (Kubernetes `Complete`).
    Succeeded,
    /// Exited non-zero (Kubernetes `Failed`).
    Failed {
        /// The exit code (Locust's `--exit-code-on-error` when a request failed).
        exit_code: i32,
    },
    /// Cannot make progress on its own (Argo's `ErrImagePull`,
    /// `ImagePullBackOff`, `InvalidImageName`): Inconclusive.
    Stuck {
        /// Why.
        reason: String,
    },
}

/// A handle on a job started for a measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRef {
    /// The host's id.
    pub id: JobId,
    /// Argo's job name.
    pub name: String,
}

/// One measurement, as Argo's `Measurement` holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// When it started.
    pub started_at: SimTime,
    /// When it finished; `None` while in flight.
    pub finished_at: Option<SimTime>,
    /// Running while in flight, then Successful, Failed, Inconclusive or Error.
    pub phase: AnalysisPhase,
    /// What was measured (`None` for errors and unfinished jobs).
    pub value: Option<ResultValue>,
    /// Why (errors, terminations, judge verdicts); empty otherwise.
    pub message: String,
    /// When an in-flight measurement wants to be looked at again.
    pub resume_at: Option<SimTime>,
    /// The job behind a job measurement.
    pub job: Option<JobRef>,
}

impl Measurement {
    fn new(now: SimTime) -> Measurement {
        Measurement {
            started_at: now,
            finished_at: None,
            phase: AnalysisPhase::Running,
            value: None,
            message: String::new(),
            resume_at: None,
            job: None,
        }
    }

    fn finish(mut self, now: SimTime, phase: AnalysisPhase) -> Measurement {
        self.phase = phase;
        self.finished_at.get_or_insert(now);
        self.resume_at = None;
        self
    }

    /// Argo's `MarkMeasurementError`.
    fn error(self, now: SimTime, message: impl Into<String>) -> Measurement {
        let mut m = self.finish(now, AnalysisPhase::Error);
        m.message = message.into();
        m
    }
}

/// Context a measurement needs besides the metric.
pub(crate) struct MeasureCtx<'a, R: Rng + ?Sized> {
    pub run_name: &'a str,
    /// Measurements taken so far (count + errors), for the job's name.
    pub taken: i64,
    pub rng: &'a mut R,
}

/// Argo's `provider.Run`: takes a new measurement.
pub(crate) fn start<H: ProviderHost + ?Sized, R: Rng + ?Sized>(
    metric: &CheckedMetric,
    host: &mut H,
    now: SimTime,
    ctx: MeasureCtx<'_, R>,
) -> Measurement {
    let m = Measurement::new(now);
    match &metric.provider {
        CheckedProvider::Prometheus { query } => match host.prometheus_query(query, now) {
            Err(e) => m.error(now, e),
            Ok(value) => match process_response(value) {
                None => m.error(now, "Prometheus metric type not supported"),
                Some(result) => judge_result(m, now, metric, result),
            },
        },
        CheckedProvider::Job(locust) => {
            let job_name = format!("{}.{}.{}", ctx.run_name, metric.name, ctx.taken + 1);
            let request = JobRequest {
                run: ctx.run_name.to_string(),
                metric: metric.name.clone(),
                job_name: job_name.clone(),
                locust: locust.clone(),
            };
            match host.start_job(&request, now) {
                Err(e) => m.error(now, e),
                Ok(id) => Measurement {
                    // Argo resumes a new job at once, to catch short-lived ones.
                    resume_at: Some(now),
                    job: Some(JobRef { id, name: job_name }),
                    ..m
                },
            }
        }
        CheckedProvider::Judge(q) => measure_judge(m, now, q, host, ctx.rng),
    }
}

/// Least wait between two polls of a running job. Argo polls again after
/// √(2·elapsed) seconds, which is 0 right after the start; in real time the
/// clock moves on, in simulated time it must be made to.
const MIN_JOB_POLL: SimDuration = SimDuration::from_secs(1);

/// Argo's `provider.Resume` for an in-flight (job) measurement.
pub(crate) fn resume<H: ProviderHost + ?Sized>(
    measurement: &Measurement,
    host: &mut H,
    now: SimTime,
) -> Measurement {
    let m = measurement.clone();
    let Some(job) = &measurement.job else {
        return m.error(now, "job metadata reference missing");
    };
    match host.job_status(job.id, now) {
        Err(e) => m.error(now, e),
        // Argo records the poll that sees the job done, not the job's end:
        // a reconcile brought early by the job informer skips the measurement
        // until its `resumeAt`.
        Ok(JobStatus::Succeeded) => {
            let mut m = m.finish(now, AnalysisPhase::Successful);
            m.value = Some(ResultValue::Number(0.0));
            m
        }
        Ok(JobStatus::Failed { exit_code }) => {
            let mut m = m.finish(now, AnalysisPhase::Failed);
            m.value = Some(ResultValue::Number(f64::from(exit_code)));
            m
        }
        Ok(JobStatus::Stuck { reason }) => {
            let mut m = m.finish(now, AnalysisPhase::Inconclusive);
            m.message = reason;
            m
        }
        Ok(JobStatus::Running) => {
            let elapsed = now.saturating_since(measurement.started_at).as_secs_f64();
            let delay = SimDuration::from_secs_f64((2.0 * elapsed).sqrt()).max(MIN_JOB_POLL);
            Measurement {
                resume_at: Some(now + delay),
                ..m
            }
        }
    }
}

/// Argo's `provider.Terminate` for an in-flight measurement: the job is
/// deleted and the measurement becomes Inconclusive ("Metric Terminated").
pub(crate) fn terminate<H: ProviderHost + ?Sized>(
    measurement: &Measurement,
    host: &mut H,
    now: SimTime,
) -> Measurement {
    let m = measurement.clone();
    let Some(job) = &measurement.job else {
        return m.error(now, "job metadata reference missing");
    };
    match host.terminate_job(job.id, now) {
        Err(e) => m.error(now, e),
        Ok(()) => {
            let mut m = m.finish(now, AnalysisPhase::Inconclusive);
            m.message = "Metric Terminated".to_string();
            m
        }
    }
}

/// Argo's Prometheus `processResponse`: the result handed to the conditions,
/// or `None` for a type it does not support (a string).
pub fn process_response(value: Value) -> Option<ResultValue> {
    match value {
        Value::Scalar(v) => Some(ResultValue::Number(v)),
        Value::Vector(samples) => Some(ResultValue::Numbers(
            samples.into_iter().map(|s| s.v).collect(),
        )),
        Value::Matrix(series) => Some(ResultValue::Numbers(
            series
                .into_iter()
                .flat_map(|s| s.samples.into_iter().map(|p| p.v))
                .collect(),
        )),
        Value::String(_) => None,
    }
}

fn judge_result(
    m: Measurement,
    now: SimTime,
    metric: &CheckedMetric,
    result: ResultValue,
) -> Measurement {
    match metric.conditions.evaluate(&result) {
        // Argo sets the value only when the conditions evaluated.
        Err(e) => m.error(now, e.to_string()),
        Ok(verdict) => {
            let phase = match verdict {
                Verdict::Successful => AnalysisPhase::Successful,
                Verdict::Failed => AnalysisPhase::Failed,
                Verdict::Inconclusive => AnalysisPhase::Inconclusive,
            };
            let mut m = m.finish(now, phase);
            m.value = Some(result);
            m
        }
    }
}

fn samples_of(value: Value) -> Option<Vec<f64>> {
    match process_response(value)? {
        ResultValue::Number(v) => Some(vec![v]),
        ResultValue::Numbers(vs) => Some(vs),
        _ => None,
    }
}

fn measure_judge<H: ProviderHost + ?Sized, R: Rng + ?Sized>(
    m: Measurement,
    now: SimTime,
    q: &JudgeQuery,
    host: &mut H,
    rng: &mut R,
) -> Measurement {
    let start = SimTime(now.0.saturating_sub(q.lookback.0));
    let mut side = |query: &str, which: &str| -> Result<Vec<f64>, String> {
        let value = host
            .prometheus_range_query(query, start, now, q.step)
            .map_err(|e| format!("{which} query: {e}"))?;
        samples_of(value)
            .ok_or_else(|| format!("{which} query: Prometheus metric type not supported"))
    };
    let canary = match side(&q.canary_query, "canary") {
        Ok(v) => v,
        Err(e) => return m.error(now, e),
    };
    let baseline = match side(&q.baseline_query, "baseline") {
        Ok(v) => v,
        Err(e) => return m.error(now, e),
    };
    let verdict = judge::classify(&canary, &baseline, &q.config, rng);
    let phase = match verdict.classification {
        Classification::Pass => AnalysisPhase::Successful,
        Classification::High | Classification::Low | Classification::NodataFailMetric => {
            AnalysisPhase::Failed
        }
        // A critical metric without data fails the whole comparison in Kayenta.
        Classification::Nodata if verdict.critical => AnalysisPhase::Failed,
        // Otherwise no data is like an empty Prometheus result: an Error,
        // retried after 10s (the canary may not have been scraped yet).
        Classification::Nodata | Classification::Error => AnalysisPhase::Error,
    };
    let mut out = m.finish(now, phase);
    out.message = format!("{:?}: {}", verdict.classification, verdict.reason);
    out.value = verdict.mean_ratio.map(ResultValue::Number);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::{RangeSeries, VectorSample};
    use crate::series::{Labels, Sample};

    fn sample(v: f64) -> VectorSample {
        VectorSample {
            labels: Labels::new(Vec::<(String, String)>::new()),
            t: 0,
            v,
        }
    }

    #[test]
    fn scalar_becomes_a_number_and_vector_a_list_even_with_one_sample() {
        assert_eq!(
            process_response(Value::Scalar(0.5)),
            Some(ResultValue::Number(0.5))
        );
        assert_eq!(
            process_response(Value::Vector(vec![sample(0.002)])),
            Some(ResultValue::Numbers(vec![0.002]))
        );
        assert_eq!(
            process_response(Value::Vector(vec![])),
            Some(ResultValue::Numbers(vec![]))
        );
    }

    #[test]
    fn matrix_is_flattened_series_by_series() {
        let series = |vs: &[f64]| RangeSeries {
            labels: Labels::new(Vec::<(String, String)>::new()),
            samples: vs.iter().map(|&v| Sample { t: 0, v }).collect(),
        };
        assert_eq!(
            process_response(Value::Matrix(vec![series(&[1.0, 2.0]), series(&[3.0])])),
            Some(ResultValue::Numbers(vec![1.0, 2.0, 3.0]))
        );
    }

    #[test]
    fn string_result_is_not_supported() {
        assert_eq!(process_response(Value::String("x".into())), None);
    }
}
