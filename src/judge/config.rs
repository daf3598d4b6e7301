//! Per-metric judge settings, as Kayenta's `analysisConfigurations.canary` block
//! spells them, with Kayenta's defaults.
//!
//! In: a [`MetricConfig`] built in code or deserialised (camelCase keys:
//! `direction`, `nanStrategy`, `outliers.{strategy,outlierFactor}`, `critical`,
//! `mustHaveData`, `muted`, `effectSize.{measure,allowedIncrease,…}`, plus the
//! judge-level `confidenceLevel` and `tolerance`). Out: the same values, checked
//! once by [`MetricConfig::validate`]. Read by `classify` (everything but
//! `muted`) and by whoever builds the `score` input (`muted`).

use serde::{Deserialize, Serialize};

/// Which way a change counts against the canary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Only a higher canary fails (latency, errors, memory).
    Increase,
    /// Only a lower canary fails (throughput, success rate).
    Decrease,
    /// Both ways fail. Kayenta's default.
    #[default]
    Either,
}

impl Direction {
    /// Whether a High classification is possible.
    pub fn allows_high(self) -> bool {
        matches!(self, Direction::Increase | Direction::Either)
    }

    /// Whether a Low classification is possible.
    pub fn allows_low(self) -> bool {
        matches!(self, Direction::Decrease | Direction::Either)
    }
}

/// What to do with NaN samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NanStrategy {
    /// Drop them; an emptied side is then Nodata. Kayenta's default (its
    /// default string `"none"` parses as remove, so `none` is accepted here too).
    #[default]
    #[serde(alias = "none")]
    Remove,
    /// Replace them by 0; an empty side is then a Pass.
    Replace,
}

/// Whether to drop outliers before comparing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutlierStrategy {
    /// Keep every sample. Kayenta's default (`none` is accepted as keep).
    #[default]
    #[serde(alias = "none")]
    Keep,
    /// Drop samples outside the IQR fences (see `transform`).
    Remove,
}

/// Outlier handling of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    default,
    deny_unknown_fields,
    expecting = "a mapping"
)]
pub struct Outliers {
    /// Keep or remove.
    pub strategy: OutlierStrategy,
    /// The IQR multiplier k of the fences Q1 − k·IQR and Q3 + k·IQR. Default 3.0.
    pub outlier_factor: f64,
}

impl Default for Outliers {
    fn default() -> Self {
        Outliers {
            strategy: OutlierStrategy::Keep,
            outlier_factor: 3.0,
        }
    }
}

/// How the size of a change is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EffectSizeMeasure {
    /// mean(canary) / mean(stable); undefined (and then ignored) when either mean is 0.
    #[default]
    #[serde(rename = "meanRatio")]
    MeanRatio,
    /// Common-language effect size: the share of (canary, stable) pairs where
    /// the canary sample is higher, ties counting one half.
    #[serde(rename = "cles")]
    Cles,
}

impl EffectSizeMeasure {
    /// The threshold used for every unset effect-size field: 1.0 for the mean
    /// ratio (no change), 0.5 for CLES (a coin toss).
    pub fn neutral(self) -> f64 {
        match self {
            EffectSizeMeasure::MeanRatio => 1.0,
            EffectSizeMeasure::Cles => 0.5,
        }
    }
}

/// Effect-size gates. Unset thresholds default to the measure's neutral value,
/// so by default any significant shift in the failing direction counts.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    default,
    deny_unknown_fields,
    expecting = "a mapping"
)]
pub struct EffectSize {
    /// Mean ratio or CLES.
    pub measure: EffectSizeMeasure,
    /// High needs effect ≥ this.
    pub allowed_increase: Option<f64>,
    /// Low needs effect ≤ this.
    pub allowed_decrease: Option<f64>,
    /// A High on a critical metric is a critical failure when effect ≥ this.
    pub critical_increase: Option<f64>,
    /// A Low on a critical metric is a critical failure when effect ≤ this.
    pub critical_decrease: Option<f64>,
}

impl EffectSize {
    /// The effective allowed increase.
    pub fn allowed_increase(&self) -> f64 {
        self.allowed_increase.unwrap_or(self.measure.neutral())
    }
    /// The effective allowed decrease.
    pub fn allowed_decrease(&self) -> f64 {
        self.allowed_decrease.unwrap_or(self.measure.neutral())
    }
    /// The effective critical increase.
    pub fn critical_increase(&self) -> f64 {
        self.critical_increase.unwrap_or(self.measure.neutral())
    }
    /// The effective critical decrease.
    pub fn critical_decrease(&self) -> f64 {
        self.critical_decrease.unwrap_or(self.measure.neutral())
    }
}

/// Everything the judge needs to know about one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    default,
    deny_unknown_fields,
    expecting = "a mapping"
)]
pub struct MetricConfig {
    /// Which way a change fails.
    pub direction: Direction,
    /// NaN handling.
    pub nan_strategy: NanStrategy,
    /// Outlier handling.
    pub outliers: Outliers,
    /// A critical metric that fails (or has no data, or errors) forces the score to 0.
    pub critical: bool,
    /// A non-critical metric without data counts as a failure (NodataFailMetric).
    pub must_have_data: bool,
    /// Left out of scoring; classification is unaffected.
    pub muted: bool,
    /// Effect-size gates.
    pub effect_size: EffectSize,
    /// Confidence level of the shift's interval. 0.98 in Kayenta's judge (its
    /// Mann-Whitney class defaults to 0.95, but the judge passes 0.98).
    pub confidence_level: f64,
    /// The interval must clear ±tolerance·|estimate| for High/Low. Default 0.25.
    pub tolerance: f64,
}

impl Default for MetricConfig {
    fn default() -> Self {
        MetricConfig {
            direction: Direction::Either,
            nan_strategy: NanStrategy::Remove,
            outliers: Outliers::default(),
            critical: false,
            must_have_data: false,
            muted: false,
            effect_size: EffectSize::default(),
            confidence_level: 0.98,
            tolerance: 0.25,
        }
    }
}

/// A judge setting out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `confidenceLevel` must lie strictly between 0 and 1.
    #[error("confidenceLevel must lie strictly between 0 and 1, got {0}")]
    ConfidenceLevel(f64),
    /// `tolerance` must be finite and not negative.
    #[error("tolerance must be a finite number >= 0, got {0}")]
    Tolerance(f64),
    /// `outliers.outlierFactor` must be finite and positive.
    #[error("outliers.outlierFactor must be a finite number > 0, got {0}")]
    OutlierFactor(f64),
    /// An effect-size threshold is NaN.
    #[error("effectSize.{field} must be a number, got {value}")]
    EffectSize {
        /// The field's name.
        field: &'static str,
        /// The bad value.
        value: f64,
    },
}

impl MetricConfig {
    /// Checks every numeric setting; call it when loading a policy so bad
    /// settings are reported up front (`classify` also checks and answers Error).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let c = self.confidence_level;
        if !(c > 0.0 && c < 1.0) {
            return Err(ConfigError::ConfidenceLevel(c));
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(ConfigError::Tolerance(self.tolerance));
        }
        let k = self.outliers.outlier_factor;
        if !(k.is_finite() && k > 0.0) {
            return Err(ConfigError::OutlierFactor(k));
        }
        let e = &self.effect_size;
        for (field, value) in [
            ("allowedIncrease", e.allowed_increase),
            ("allowedDecrease", e.allowed_decrease),
            ("criticalIncrease", e.critical_increase),
            ("criticalDecrease", e.critical_decrease),
        ] {
            if let Some(value) = value.filter(|v| v.is_nan()) {
                return Err(ConfigError::EffectSize { field, value });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kayentas_judge_defaults() {
        let c = MetricConfig::default();
        assert_eq!(c.direction, Direction::Either);
        assert_eq!(c.nan_strategy, NanStrategy::Remove);
        assert_eq!(c.outliers.strategy, OutlierStrategy::Keep);
        assert_eq!(c.outliers.outlier_factor, 3.0);
        assert_eq!(c.confidence_level, 0.98);
        assert_eq!(c.tolerance, 0.25);
        assert_eq!(c.effect_size.allowed_increase(), 1.0);
        assert_eq!(c.effect_size.critical_decrease(), 1.0);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn unset_effect_thresholds_default_to_one_half_under_cles() {
        let e = EffectSize {
            measure: EffectSizeMeasure::Cles,
            allowed_increase: Some(0.8),
            ..EffectSize::default()
        };
        assert_eq!(e.allowed_increase(), 0.8);
        assert_eq!(e.allowed_decrease(), 0.5);
        assert_eq!(e.critical_increase(), 0.5);
    }

    #[test]
    fn deserialises_kayenta_spelling_with_defaults_for_missing_keys() {
        let c: MetricConfig = serde_json::from_str(
            r#"{"direction":"increase","nanStrategy":"none",
                "outliers":{"strategy":"remove"},
                "critical":true,
                "effectSize":{"measure":"cles","allowedIncrease":0.7}}"#,
        )
        .expect("valid config");
        assert_eq!(c.direction, Direction::Increase);
        assert_eq!(c.nan_strategy, NanStrategy::Remove);
        assert_eq!(c.outliers.strategy, OutlierStrategy::Remove);
        assert_eq!(c.outliers.outlier_factor, 3.0);
        assert!(c.critical && !c.must_have_data);
        assert_eq!(c.effect_size.allowed_increase(), 0.7);
        assert_eq!(c.effect_size.allowed_decrease(), 0.5);
        assert_eq!(c.confidence_level, 0.98);
    }

    #[test]
    fn unknown_keys_are_rejected_so_typos_surface() {
        let r = serde_json::from_str::<MetricConfig>(r#"{"mustHaveDta":true}"#);
        assert!(r.is_err());
    }

    #[test]
    fn validate_names_the_bad_field() {
        let bad = |f: fn(&mut MetricConfig)| {
            let mut c = MetricConfig::default();
            f(&mut c);
            c.validate().expect_err("must be rejected").to_string()
        };
        assert!(bad(|c| c.confidence_level = 1.0).contains("confidenceLevel"));
        assert!(bad(|c| c.tolerance = -0.1).contains("tolerance"));
        assert!(bad(|c| c.outliers.outlier_factor = 0.0).contains("outlierFactor"));
        assert!(
            bad(|c| c.effect_size.critical_increase = Some(f64::NAN)).contains("criticalIncrease")
        );
    }
}
