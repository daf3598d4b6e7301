//! A scripted ProviderHost and a driver for AnalysisRun tests.
//!
//! Prometheus answers come from scripts keyed by a substring of the query;
//! each query takes the next answer and the last one repeats. Jobs follow a
//! plan (duration, then an exit code or a stuck reason) in start order. The
//! driver reconciles at every time the run asks for and whenever a job
//! ends, as the engine must.

use std::collections::VecDeque;

use canarysim::analysis::{
    AnalysisPhase, AnalysisRun, Arg, JobId, JobRequest, JobStatus, Metric, MetricProvider,
    PrometheusMetric, ProviderHost, Reconciled, RunSpec, Templated,
};
use canarysim::promql::{RangeSeries, Value, VectorSample};
use canarysim::series::{Labels, Sample};
use canarysim::sim::rng::stream;
use canarysim::sim::{SimDuration, SimTime};

pub fn secs(s: u64) -> SimTime {
    SimTime::from_secs(s)
}

pub fn dur(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

pub fn scalar(v: f64) -> Result<Value, String> {
    Ok(Value::Scalar(v))
}

pub fn vector(vs: &[f64]) -> Result<Value, String> {
    Ok(Value::Vector(
        vs.iter()
            .map(|&v| VectorSample {
                labels: Labels::new(Vec::<(String, String)>::new()),
                t: 0,
                v,
            })
            .collect(),
    ))
}

pub fn matrix(series: &[&[f64]]) -> Result<Value, String> {
    Ok(Value::Matrix(
        series
            .iter()
            .map(|vs| RangeSeries {
                labels: Labels::new(Vec::<(String, String)>::new()),
                samples: vs
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| Sample { t: i as i64, v })
                    .collect(),
            })
            .collect(),
    ))
}

/// How a planned job ends.
#[derive(Clone, Debug)]
pub enum JobEnd {
    Exit(i32),
    Stuck(String),
}

#[derive(Debug)]
pub struct FakeJob {
    pub request: JobRequest,
    pub started_at: SimTime,
    pub ends_at: SimTime,
    pub end: JobEnd,
    pub terminated_at: Option<SimTime>,
}

#[derive(Default)]
pub struct FakeHost {
    scripts: Vec<(String, VecDeque<Result<Value, String>>)>,
    pub queries: Vec<(String, SimTime)>,
    pub range_queries: Vec<(String, SimTime, SimTime, SimDuration)>,
    job_plan: VecDeque<(SimDuration, JobEnd)>,
    pub jobs: Vec<FakeJob>,
    pub status_polls: Vec<SimTime>,
}

impl FakeHost {
    pub fn new() -> FakeHost {
        FakeHost::default()
    }

    /// Answers queries containing `key` with `answers` in turn, the last repeating.
    pub fn script(mut self, key: &str, answers: Vec<Result<Value, String>>) -> FakeHost {
        self.scripts.push((key.to_string(), answers.into()));
        self
    }

    /// The next jobs run for `duration`, then end as given.
    pub fn jobs(mut self, plan: Vec<(SimDuration, JobEnd)>) -> FakeHost {
        self.job_plan.extend(plan);
        self
    }

    fn answer(&mut self, query: &str) -> Result<Value, String> {
        let Some((_, answers)) = self
            .scripts
            .iter_mut()
            .find(|(k, _)| query.contains(k.as_str()))
        else {
            return Err(format!("no script for query {query:?}"));
        };
        if answers.len() > 1 {
            answers.pop_front().unwrap()
        } else {
            answers
                .front()
                .cloned()
                .unwrap_or_else(|| Err("empty script".into()))
        }
    }

    /// Times (in seconds) of the instant queries containing `key`.
    pub fn query_times(&self, key: &str) -> Vec<f64> {
        self.queries
            .iter()
            .filter(|(q, _)| q.contains(key))
            .map(|(_, t)| t.as_secs_f64())
            .collect()
    }

    /// The earliest end of a running job after `t`.
    pub fn next_job_end_after(&self, t: SimTime) -> Option<SimTime> {
        self.jobs
            .iter()
            .filter(|j| {
                j.terminated_at.is_none() && matches!(j.end, JobEnd::Exit(_)) && j.ends_at > t
            })
            .map(|j| j.ends_at)
            .min()
    }
}

impl ProviderHost for FakeHost {
    fn prometheus_query(&mut self, query: &str, at: SimTime) -> Result<Value, String> {
        self.queries.push((query.to_string(), at));
        self.answer(query)
    }

    fn prometheus_range_query(
        &mut self,
        query: &str,
        start: SimTime,
        end: SimTime,
        step: SimDuration,
    ) -> Result<Value, String> {
        self.range_queries
            .push((query.to_string(), start, end, step));
        self.answer(query)
    }

    fn start_job(&mut self, request: &JobRequest, at: SimTime) -> Result<JobId, String> {
        let (duration, end) = self
            .job_plan
            .pop_front()
            .ok_or_else(|| "no job planned".to_string())?;
        self.jobs.push(FakeJob {
            request: request.clone(),
            started_at: at,
            ends_at: at + duration,
            end,
            terminated_at: None,
        });
        Ok(JobId(self.jobs.len() as u64 - 1))
    }

    fn job_status(&mut self, id: JobId, at: SimTime) -> Result<JobStatus, String> {
        self.status_polls.push(at);
        let job = self.jobs.get(id.0 as usize).ok_or("no such job")?;
        if job.terminated_at.is_some() {
            return Err("job deleted".into());
        }
        Ok(match &job.end {
            JobEnd::Stuck(reason) => JobStatus::Stuck {
                reason: reason.clone(),
            },
            _ if at < job.ends_at => JobStatus::Running,
            JobEnd::Exit(0) => JobStatus::Succeeded,
            JobEnd::Exit(code) => JobStatus::Failed { exit_code: *code },
        })
    }

    fn terminate_job(&mut self, id: JobId, at: SimTime) -> Result<(), String> {
        let job = self.jobs.get_mut(id.0 as usize).ok_or("no such job")?;
        job.terminated_at = Some(at);
        Ok(())
    }
}

/// Reconciles `run` from `start` at every time it asks for and at every job
/// end, until it completes or the next time passes `until`. Returns the last
/// outcome. Panics if it spins at one instant (a scheduling bug).
pub fn drive(
    run: &mut AnalysisRun,
    host: &mut FakeHost,
    start: SimTime,
    until: SimTime,
) -> Reconciled {
    let mut t = start;
    let mut same_instant = 0;
    loop {
        let r = run.reconcile(t, host);
        if r.phase.completed() {
            return r;
        }
        let next = match (r.next_reconcile, host.next_job_end_after(t)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match next {
            Some(n) if n <= until => {
                if n == t {
                    same_instant += 1;
                    assert!(same_instant < 5, "reconcile spins at {t:?}");
                } else {
                    same_instant = 0;
                }
                assert!(n >= t, "next reconcile {n:?} before now {t:?}");
                t = n;
            }
            _ => return r,
        }
    }
}

pub fn prometheus(name: &str, query: &str) -> Metric {
    Metric::new(
        name,
        MetricProvider {
            prometheus: Some(PrometheusMetric {
                address: "http://prometheus.monitoring:9090".into(),
                query: query.into(),
            }),
            ..MetricProvider::default()
        },
    )
}

pub fn with_interval(mut m: Metric, s: u64, count: Option<i64>) -> Metric {
    m.interval = Some(Templated::Value(dur(s)));
    m.count = count.map(Templated::Value);
    m
}

pub fn spec(metrics: Vec<Metric>) -> RunSpec {
    RunSpec {
        templates: vec!["test".into()],
        metrics,
        args: Vec::<Arg>::new(),
        ..RunSpec::default()
    }
}

pub fn new_run(spec: RunSpec) -> AnalysisRun {
    AnalysisRun::new("run", spec, SimTime::ZERO, stream(1, "analysis", 0))
}

pub fn phases(run: &AnalysisRun, metric: &str) -> Vec<AnalysisPhase> {
    run.metric_result(metric)
        .map(|r| r.measurements.iter().map(|m| m.phase).collect())
        .unwrap_or_default()
}
