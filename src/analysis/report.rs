//! The `analysis_runs` entries of the JSON result (design.md §5): one per
//! run, with every measurement's time, value, phase and message.
//!
//! Times are seconds of simulated time as [`SimTime`] counts them; the
//! engine's runs start at 0, which is the start of the rollout. Values are
//! JSON numbers or lists of numbers; NaN and ±Inf, which JSON cannot hold,
//! are written as the strings `"NaN"`, `"+Inf"`, `"-Inf"`. `value_text` is the
//! value as Argo prints it in `Measurement.Value`.

use serde::Serialize;

use crate::condition::{ResultValue, format_sample_value};
use crate::sim::SimTime;

use super::phase::AnalysisPhase;
use super::run::AnalysisRun;

/// One AnalysisRun in the JSON result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisRunReport {
    /// The run's name.
    pub name: String,
    /// The templates it was built from.
    pub templates: Vec<String>,
    /// The canary step index (`null` for background analysis).
    pub step: Option<usize>,
    /// The run's phase.
    pub phase: AnalysisPhase,
    /// Why it ended as it did (`null` when there is nothing to say).
    pub message: Option<String>,
    /// When it was created.
    pub started_at_s: f64,
    /// When it completed (`null` if it never did).
    pub completed_at_s: Option<f64>,
    /// Whether the rollout terminated (cancelled) it.
    pub terminated: bool,
    /// Per-metric status.
    pub metrics: Vec<MetricReport>,
    /// Every measurement, in the order taken.
    pub measurements: Vec<MeasurementReport>,
}

/// One metric's status in the JSON result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricReport {
    /// The metric's name.
    pub name: String,
    /// Its phase.
    pub phase: AnalysisPhase,
    /// Its message (`null` when empty).
    pub message: Option<String>,
    /// Whether it ran in dry-run mode (never gating).
    pub dry_run: bool,
    /// Measurements other than errors.
    pub count: i64,
    /// Successful measurements.
    pub successful: i64,
    /// Failed measurements.
    pub failed: i64,
    /// Inconclusive measurements.
    pub inconclusive: i64,
    /// Error measurements.
    pub error: i64,
    /// Measurements Argo would still show (its retention limit).
    pub retained: usize,
    /// Its `successCondition` with the run's args substituted (`null` when unset).
    pub success_condition: Option<String>,
    /// Its `failureCondition` with the run's args substituted (`null` when unset).
    pub failure_condition: Option<String>,
}

/// One measurement in the JSON result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasurementReport {
    /// The metric's name.
    pub metric: String,
    /// When it was taken (started).
    pub t_s: f64,
    /// When it finished (`null` while in flight); later than `t_s` for jobs.
    pub finished_at_s: Option<f64>,
    /// Its phase.
    pub phase: AnalysisPhase,
    /// The measured value: a number, a list, or `null`.
    pub value: serde_json::Value,
    /// The value as Argo prints it (`null` when there is none).
    pub value_text: Option<String>,
    /// Its message (`null` when empty).
    pub message: Option<String>,
    /// Whether its metric is dry-run.
    pub dry_run: bool,
}

fn secs(t: SimTime, origin: SimTime) -> f64 {
    t.millis_since(origin) as f64 / 1000.0
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn number(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64(v)
        .map(serde_json::Value::Number)
        .unwrap_or_else(|| serde_json::Value::String(format_sample_value(v)))
}

/// The JSON form of a measured value.
pub fn value_json(value: Option<&ResultValue>) -> serde_json::Value {
    match value {
        None | Some(ResultValue::Nil) => serde_json::Value::Null,
        Some(ResultValue::Bool(b)) => serde_json::Value::Bool(*b),
        Some(ResultValue::Number(v)) => number(*v),
        Some(ResultValue::Numbers(vs)) => {
            serde_json::Value::Array(vs.iter().map(|v| number(*v)).collect())
        }
        Some(ResultValue::Text(s)) => serde_json::Value::String(s.clone()),
    }
}

impl AnalysisRun {
    /// The run's entry for the JSON result, times in seconds from `origin`
    /// (the start of the rollout).
    pub fn report(&self, origin: SimTime) -> AnalysisRunReport {
        AnalysisRunReport {
            name: self.name().to_string(),
            templates: self.spec().templates.clone(),
            step: self.step(),
            phase: self.phase(),
            message: non_empty(self.message()),
            started_at_s: secs(self.started_at(), origin),
            completed_at_s: self.completed_at().map(|t| secs(t, origin)),
            terminated: self.terminate_requested(),
            metrics: self
                .metric_results()
                .map(|r| MetricReport {
                    name: r.name.clone(),
                    phase: r.phase,
                    message: non_empty(&r.message),
                    dry_run: r.dry_run,
                    count: r.count,
                    successful: r.successful,
                    failed: r.failed,
                    inconclusive: r.inconclusive,
                    error: r.error,
                    retained: r.retained().len(),
                    success_condition: self.condition(&r.name, |m| &m.success_condition),
                    failure_condition: self.condition(&r.name, |m| &m.failure_condition),
                })
                .collect(),
            measurements: self
                .measurements()
                .into_iter()
                .map(|(r, m)| MeasurementReport {
                    metric: r.name.clone(),
                    t_s: secs(m.started_at, origin),
                    finished_at_s: m.finished_at.map(|t| secs(t, origin)),
                    phase: m.phase,
                    value: value_json(m.value.as_ref()),
                    value_text: m.value.as_ref().map(ResultValue::to_argo_string),
                    message: non_empty(&m.message),
                    dry_run: r.dry_run,
                })
                .collect(),
        }
    }

    /// One condition of metric `name`, args substituted (as written when an
    /// arg does not resolve, which validation has already reported).
    fn condition(
        &self,
        name: &str,
        field: impl Fn(&crate::analysis::template::Metric) -> &String,
    ) -> Option<String> {
        let spec = self.spec();
        let text = field(spec.metrics.iter().find(|m| m.name == name)?);
        let text = crate::analysis::args::substitute(text, &spec.args).unwrap_or(text.clone());
        non_empty(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_values_become_prometheus_strings() {
        assert_eq!(
            value_json(Some(&ResultValue::Numbers(vec![
                0.5,
                f64::NAN,
                f64::INFINITY
            ]))),
            serde_json::json!([0.5, "NaN", "+Inf"])
        );
        assert_eq!(value_json(None), serde_json::Value::Null);
        assert_eq!(
            value_json(Some(&ResultValue::Number(0.002))),
            serde_json::json!(0.002)
        );
    }
}
