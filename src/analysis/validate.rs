//! Argo's `ValidateMetric` / `ValidateMetrics` (utils/analysis/factory.go),
//! turning a [`Metric`] whose args are substituted into a [`CheckedMetric`]
//! with typed fields and Argo's defaults.
//!
//! The checks run in Argo's order and the first failure is reported, with
//! Argo's wording, the metric's name and the field at fault. Beyond Argo, the
//! fields of the `job` (Locust) and `judge` providers must parse.
//! Neighbours: `args` substitutes before this runs; `run` uses the result.

use std::fmt;

use crate::condition::ConditionPair;
use crate::judge::MetricConfig;
use crate::locust::LocustJob;
use crate::sim::{SimDuration, time::DurationError};

use super::template::{Metric, Templated};

/// Argo's `DefaultConsecutiveErrorLimit`.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: i64 = 4;
/// Default look-back of a judge measurement without an interval.
pub const DEFAULT_JUDGE_LOOKBACK: SimDuration = SimDuration::from_mins(5);
/// Default step of a judge's range queries.
pub const DEFAULT_JUDGE_STEP: SimDuration = SimDuration::from_secs(15);

/// A metric Argo would refuse, naming the metric and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MetricError {
    /// Position in the run's metric list, when known.
    pub index: Option<usize>,
    /// The metric's name.
    pub metric: String,
    /// The field at fault, as written in a template (`count`, `provider.job.users`).
    pub field: &'static str,
    /// What is wrong, in Argo's words where Argo has them.
    pub message: String,
}

impl fmt::Display for MetricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "metrics[{i}] ")?,
            None => f.write_str("metric ")?,
        }
        write!(f, "{:?} ({}): {}", self.metric, self.field, self.message)
    }
}

/// A run's metric list Argo would refuse (`ValidateMetrics`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// `no metrics specified`.
    #[error("no metrics specified")]
    Empty,
    /// Two metrics share a name.
    #[error("metrics[{index}]: duplicate name '{name}'")]
    DuplicateName {
        /// The second one's position.
        index: usize,
        /// The name.
        name: String,
    },
    /// One metric is invalid.
    #[error(transparent)]
    Metric(#[from] MetricError),
}

/// A validated metric: typed, with Argo's defaults available.
#[derive(Debug, Clone)]
pub struct CheckedMetric {
    /// The name.
    pub name: String,
    /// `interval`, if set.
    pub interval: Option<SimDuration>,
    /// `initialDelay`, if set.
    pub initial_delay: Option<SimDuration>,
    /// `count` as given (Go's `IntValue`: a non-numeric string is 0).
    pub count: Option<i64>,
    /// `failureLimit` as given.
    pub failure_limit: Option<i64>,
    /// `inconclusiveLimit` as given.
    pub inconclusive_limit: Option<i64>,
    /// `consecutiveErrorLimit` as given.
    pub consecutive_error_limit: Option<i64>,
    /// `consecutiveSuccessLimit` as given.
    pub consecutive_success_limit: Option<i64>,
    /// The two conditions, compiled (a bad one errors each measurement).
    pub conditions: ConditionPair,
    /// The provider.
    pub provider: CheckedProvider,
}

/// A validated provider.
#[derive(Debug, Clone)]
pub enum CheckedProvider {
    /// PromQL at the measurement's instant.
    Prometheus {
        /// The query.
        query: String,
    },
    /// A Locust run.
    Job(LocustJob),
    /// A canary-versus-stable comparison.
    Judge(JudgeQuery),
}

/// A judge measurement's queries and settings.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeQuery {
    /// PromQL for the canary.
    pub canary_query: String,
    /// PromQL for stable.
    pub baseline_query: String,
    /// How far back each measurement looks.
    pub lookback: SimDuration,
    /// Range-query step.
    pub step: SimDuration,
    /// The judge's settings.
    pub config: MetricConfig,
}

impl CheckedMetric {
    /// Argo's `EffectiveCount`: `count` unset or 0 gives 1 without an
    /// interval and `None` (run until failed or terminated) with one.
    pub fn effective_count(&self) -> Option<i64> {
        match self.count {
            None | Some(0) if self.interval.is_none() => Some(1),
            None | Some(0) => None,
            Some(c) => Some(c),
        }
    }

    /// True when the metric measures until it fails or is terminated (Argo
    /// refuses such a metric in a canary *step*'s templates).
    pub fn runs_indefinitely(&self) -> bool {
        self.effective_count().is_none()
    }

    /// `failureLimit`, default 0; -1 disables the check.
    pub fn failure_limit(&self) -> i64 {
        self.failure_limit.unwrap_or(0)
    }

    /// `inconclusiveLimit`, default 0.
    pub fn inconclusive_limit(&self) -> i64 {
        self.inconclusive_limit.unwrap_or(0)
    }

    /// `consecutiveErrorLimit`, default 4.
    pub fn consecutive_error_limit(&self) -> i64 {
        self.consecutive_error_limit
            .unwrap_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT)
    }

    /// `consecutiveSuccessLimit`, default 0 (disabled).
    pub fn consecutive_success_limit(&self) -> i64 {
        self.consecutive_success_limit.unwrap_or(0)
    }
}

/// Go's `intstr.IntValue`: a number, or a string read with `Atoi` (0 when it
/// is not a number).
fn int_value(v: &Option<Templated<i64>>) -> Option<i64> {
    v.as_ref().map(|t| match t {
        Templated::Value(i) => *i,
        Templated::Text(s) => s.trim().parse::<i64>().unwrap_or(0),
    })
}

fn duration(v: &Option<Templated<SimDuration>>) -> Option<Result<SimDuration, DurationError>> {
    match v {
        None => None,
        Some(Templated::Value(d)) => Some(Ok(*d)),
        Some(Templated::Text(s)) if s.trim().is_empty() => None,
        Some(Templated::Text(s)) => Some(SimDuration::parse(s)),
    }
}

/// Validates one metric as Argo's `ValidateMetric` does, in its order.
pub fn validate_metric(metric: &Metric) -> Result<CheckedMetric, MetricError> {
    let fail = |field: &'static str, message: String| MetricError {
        index: None,
        metric: metric.name.clone(),
        field,
        message,
    };
    if !crate::names::is_safe_name(&metric.name) {
        return Err(fail(
            "name",
            format!(
                "{:?} cannot name a metric here ({})",
                metric.name,
                crate::names::SAFE_NAME_RULE
            ),
        ));
    }
    let count = int_value(&metric.count);
    let failure_limit = int_value(&metric.failure_limit);
    let inconclusive_limit = int_value(&metric.inconclusive_limit);
    let consecutive_error_limit = int_value(&metric.consecutive_error_limit);
    let consecutive_success_limit = int_value(&metric.consecutive_success_limit);
    let (c, fl, il, csl) = (
        count.unwrap_or(0),
        failure_limit.unwrap_or(0),
        inconclusive_limit.unwrap_or(0),
        consecutive_success_limit.unwrap_or(0),
    );

    if csl < 0 {
        return Err(fail(
            "consecutiveSuccessLimit",
            "consecutiveSuccessLimit must be >= 0".into(),
        ));
    }
    if fl < -1 {
        return Err(fail(
            "failureLimit",
            "failureLimit must be >= 0, or -1 to be disabled".into(),
        ));
    }
    if csl == 0 && fl == -1 {
        return Err(fail(
            "failureLimit",
            "failureLimit and consecutiveSuccessLimit cannot both be disabled".into(),
        ));
    }
    if il < 0 {
        return Err(fail(
            "inconclusiveLimit",
            "inconclusiveLimit must be >= 0".into(),
        ));
    }
    if consecutive_error_limit.is_some_and(|l| l < 0) {
        return Err(fail(
            "consecutiveErrorLimit",
            "consecutiveErrorLimit must be >= 0".into(),
        ));
    }
    if c > 0 {
        if fl >= 0 {
            if c < fl + csl {
                return Err(fail(
                    "count",
                    format!(
                        "count ({c}) must be >= failureLimit + consecutiveSuccessLimit ({fl} + {csl}) if both >= 0"
                    ),
                ));
            }
        } else if c < csl {
            return Err(fail(
                "count",
                "count must be >= consecutiveSuccessLimit".into(),
            ));
        }
        if c < il {
            return Err(fail("count", "count must be >= inconclusiveLimit".into()));
        }
    }
    let interval = duration(&metric.interval);
    if c > 1 && interval.is_none() {
        return Err(fail(
            "interval",
            "interval must be specified when count > 1".into(),
        ));
    }
    let interval = interval
        .transpose()
        .map_err(|e| fail("interval", format!("invalid interval string: {e}")))?;
    let initial_delay = duration(&metric.initial_delay)
        .transpose()
        .map_err(|e| fail("initialDelay", format!("invalid startDelay string: {e}")))?;

    let p = &metric.provider;
    let providers = usize::from(p.prometheus.is_some())
        + usize::from(p.job.is_some())
        + usize::from(p.judge.is_some());
    if providers == 0 {
        return Err(fail("provider", "no provider specified".into()));
    }
    if providers > 1 {
        return Err(fail("provider", "multiple providers specified".into()));
    }
    let provider = if let Some(prom) = &p.prometheus {
        CheckedProvider::Prometheus {
            query: prom.query.clone(),
        }
    } else if let Some(job) = &p.job {
        let mut locust = LocustJob::from_container(&job.env, &job.command)
            .map_err(|e| fail("provider.job", e.to_string()))?;
        if let Some(limit) = job.backoff_limit {
            locust.backoff_limit = u32::try_from(limit).map_err(|_| {
                fail(
                    "provider.job.spec.backoffLimit",
                    format!("{limit}: must be greater than or equal to 0"),
                )
            })?;
        }
        // A Locust that never exits (no run time, its web UI waiting) or
        // exits at once (a command line it refuses) is a valid Job for
        // Argo: the engine runs it as it would run, and lint reports it.
        CheckedProvider::Job(locust)
    } else if let Some(judge) = &p.judge {
        let lookback = duration(&judge.lookback)
            .transpose()
            .map_err(|e| fail("provider.judge.lookback", e.to_string()))?
            .or(interval)
            .unwrap_or(DEFAULT_JUDGE_LOOKBACK);
        let step = duration(&judge.step)
            .transpose()
            .map_err(|e| fail("provider.judge.step", e.to_string()))?
            .unwrap_or(DEFAULT_JUDGE_STEP);
        if lookback == SimDuration::ZERO {
            return Err(fail(
                "provider.judge.lookback",
                "must be longer than 0s".into(),
            ));
        }
        if step == SimDuration::ZERO {
            return Err(fail("provider.judge.step", "must be longer than 0s".into()));
        }
        judge
            .config
            .validate()
            .map_err(|e| fail("provider.judge", e.to_string()))?;
        CheckedProvider::Judge(JudgeQuery {
            canary_query: judge.canary_query.clone(),
            baseline_query: judge.baseline_query.clone(),
            lookback,
            step,
            config: judge.config.clone(),
        })
    } else {
        return Err(fail("provider", "no provider specified".into()));
    };
    if let CheckedProvider::Job(run) = &provider
        && !(run.spawn_rate.is_finite() && run.spawn_rate > 0.0)
    {
        return Err(fail(
            "provider.job.spawnRate",
            format!("must be a number > 0, got {}", run.spawn_rate),
        ));
    }

    Ok(CheckedMetric {
        name: metric.name.clone(),
        interval,
        initial_delay,
        count,
        failure_limit,
        inconclusive_limit,
        consecutive_error_limit,
        consecutive_success_limit,
        conditions: ConditionPair::new(&metric.success_condition, &metric.failure_condition),
        provider,
    })
}

/// Validates a run's metrics as Argo's `ValidateMetrics` does: at least one,
/// unique names, each valid; the first problem is reported.
pub fn validate_metrics(metrics: &[Metric]) -> Result<Vec<CheckedMetric>, MetricsError> {
    if metrics.is_empty() {
        return Err(MetricsError::Empty);
    }
    let mut out: Vec<CheckedMetric> = Vec::with_capacity(metrics.len());
    for (index, metric) in metrics.iter().enumerate() {
        if metrics[..index].iter().any(|m| m.name == metric.name) {
            return Err(MetricsError::DuplicateName {
                index,
                name: metric.name.clone(),
            });
        }
        let checked = validate_metric(metric).map_err(|mut e| {
            e.index = Some(index);
            e
        })?;
        out.push(checked);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::template::{JobMetric, MetricProvider, PrometheusMetric};

    fn prom(name: &str) -> Metric {
        Metric::new(
            name,
            MetricProvider {
                prometheus: Some(PrometheusMetric {
                    address: String::new(),
                    query: "up".into(),
                }),
                ..MetricProvider::default()
            },
        )
    }

    fn err(m: &Metric) -> MetricError {
        validate_metric(m).unwrap_err()
    }

    #[test]
    fn count_above_one_needs_an_interval() {
        let mut m = prom("error-rate");
        m.count = Some(5.into());
        let e = err(&m);
        assert_eq!(e.field, "interval");
        assert_eq!(e.message, "interval must be specified when count > 1");
        assert!(e.to_string().contains("\"error-rate\""), "{e}");
        m.interval = Some(SimDuration::from_secs(30).into());
        assert!(validate_metric(&m).is_ok());
    }

    #[test]
    fn count_must_cover_failure_limit_plus_consecutive_success_limit() {
        let mut m = prom("m");
        m.interval = Some(SimDuration::from_secs(30).into());
        m.count = Some(4.into());
        m.failure_limit = Some(2.into());
        m.consecutive_success_limit = Some(3.into());
        let e = err(&m);
        assert_eq!(e.field, "count");
        assert_eq!(
            e.message,
            "count (4) must be >= failureLimit + consecutiveSuccessLimit (2 + 3) if both >= 0"
        );
        m.count = Some(5.into());
        assert!(validate_metric(&m).is_ok());
    }

    #[test]
    fn count_must_cover_consecutive_success_limit_when_failure_limit_disabled() {
        let mut m = prom("m");
        m.interval = Some(SimDuration::from_secs(30).into());
        m.count = Some(2.into());
        m.failure_limit = Some((-1).into());
        m.consecutive_success_limit = Some(3.into());
        assert_eq!(err(&m).message, "count must be >= consecutiveSuccessLimit");
    }

    #[test]
    fn count_must_cover_inconclusive_limit() {
        let mut m = prom("m");
        m.interval = Some(SimDuration::from_secs(30).into());
        m.count = Some(2.into());
        m.inconclusive_limit = Some(3.into());
        assert_eq!(err(&m).message, "count must be >= inconclusiveLimit");
    }

    #[test]
    fn failure_limit_below_minus_one_is_refused() {
        let mut m = prom("m");
        m.failure_limit = Some((-2).into());
        assert_eq!(
            err(&m).message,
            "failureLimit must be >= 0, or -1 to be disabled"
        );
    }

    #[test]
    fn failure_limit_and_consecutive_success_limit_cannot_both_be_disabled() {
        let mut m = prom("m");
        m.failure_limit = Some((-1).into());
        assert_eq!(
            err(&m).message,
            "failureLimit and consecutiveSuccessLimit cannot both be disabled"
        );
        m.consecutive_success_limit = Some(1.into());
        assert!(validate_metric(&m).is_ok());
    }

    #[test]
    fn negative_limits_are_refused() {
        let mut m = prom("m");
        m.consecutive_success_limit = Some((-1).into());
        assert_eq!(err(&m).field, "consecutiveSuccessLimit");
        let mut m = prom("m");
        m.inconclusive_limit = Some((-1).into());
        assert_eq!(err(&m).field, "inconclusiveLimit");
        let mut m = prom("m");
        m.consecutive_error_limit = Some((-1).into());
        assert_eq!(err(&m).field, "consecutiveErrorLimit");
    }

    #[test]
    fn exactly_one_provider() {
        let mut m = prom("m");
        m.provider.job = Some(JobMetric::default());
        assert_eq!(err(&m).message, "multiple providers specified");
        let m = Metric::new("m", MetricProvider::default());
        assert_eq!(err(&m).message, "no provider specified");
    }

    #[test]
    fn bad_interval_and_initial_delay_text_are_refused() {
        let mut m = prom("m");
        m.interval = Some(Templated::Text("soon".into()));
        assert!(err(&m).message.starts_with("invalid interval string"));
        let mut m = prom("m");
        m.initial_delay = Some(Templated::Text("5 minutes".into()));
        assert!(err(&m).message.starts_with("invalid startDelay string"));
    }

    #[test]
    fn defaults_are_argos() {
        let c = validate_metric(&prom("m")).unwrap();
        assert_eq!(c.failure_limit(), 0);
        assert_eq!(c.inconclusive_limit(), 0);
        assert_eq!(c.consecutive_error_limit(), 4);
        assert_eq!(c.consecutive_success_limit(), 0);
    }

    #[test]
    fn unset_count_is_one_without_interval_and_forever_with_one() {
        let c = validate_metric(&prom("m")).unwrap();
        assert_eq!(c.effective_count(), Some(1));
        assert!(!c.runs_indefinitely());
        let mut m = prom("m");
        m.interval = Some(SimDuration::from_secs(60).into());
        let c = validate_metric(&m).unwrap();
        assert_eq!(c.effective_count(), None);
        assert!(c.runs_indefinitely());
        m.count = Some(0.into());
        assert_eq!(validate_metric(&m).unwrap().effective_count(), None);
        m.count = Some(3.into());
        assert_eq!(validate_metric(&m).unwrap().effective_count(), Some(3));
    }

    #[test]
    fn textual_counts_read_as_go_intstr_does() {
        let mut m = prom("m");
        m.interval = Some(SimDuration::from_secs(60).into());
        m.count = Some(Templated::Text("3".into()));
        assert_eq!(validate_metric(&m).unwrap().count, Some(3));
        m.count = Some(Templated::Text("three".into()));
        assert_eq!(validate_metric(&m).unwrap().count, Some(0));
    }

    #[test]
    fn locust_job_command_must_name_locust_and_a_missing_run_time_is_not_refused() {
        let job = |command: &str| {
            Metric::new(
                "locust",
                MetricProvider {
                    job: Some(JobMetric {
                        command: vec!["/bin/sh".into(), "-c".into(), command.into()],
                        ..JobMetric::default()
                    }),
                    ..MetricProvider::default()
                },
            )
        };
        assert_eq!(err(&job("echo no load test")).field, "provider.job");
        // Without a run time Locust runs until deleted: a valid Job that
        // never finishes (the engine runs it so, lint reports it). So is a
        // command line Locust refuses: its pods exit 2.
        for command in [
            "locust --headless -u 20 -r 5",
            "locust --headless -u 20 -r 5 -t 45s --bogus",
        ] {
            assert!(validate_metric(&job(command)).is_ok(), "{command}");
        }
        match validate_metric(&job(
            "locust -f checkout_flow.py --headless -u 20 -r 5 -t 45s",
        ))
        .unwrap()
        .provider
        {
            CheckedProvider::Job(run) => {
                assert_eq!(run.users, 20);
                assert_eq!(run.run_time, Some(SimDuration::from_secs(45)));
                assert_eq!(run.exit_code_on_error, 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn metrics_list_must_be_non_empty_with_unique_names() {
        assert_eq!(validate_metrics(&[]).unwrap_err(), MetricsError::Empty);
        let e = validate_metrics(&[prom("a"), prom("a")]).unwrap_err();
        assert_eq!(e.to_string(), "metrics[1]: duplicate name 'a'");
        let mut bad = prom("b");
        bad.count = Some(3.into());
        let e = validate_metrics(&[prom("a"), bad]).unwrap_err();
        assert!(e.to_string().starts_with("metrics[1] \"b\""), "{e}");
    }
}
