//! A Kayenta-style statistical judge: compares canary samples of a metric
//! against stable samples with a Mann-Whitney shift interval, classifies each
//! metric, and scores the set, as Netflix's ACA judge in Kayenta does.
//!
//! Pure functions over `&[f64]`; no engine, no PromQL. The `judge` analysis
//! provider evaluates a query for each side over the interval, then calls
//! [`classify`] per metric and [`score`] over them all.
//!
//! Files: `config` (per-metric settings and defaults), `transform` (NaN and
//! outlier handling), `mannwhitney` (the interval, Brent's method),
//! `classify` (per-metric rules), `score` (weighted groups and thresholds).

mod classify;
mod config;
mod mannwhitney;
mod score;
mod transform;

pub use classify::{Classification, MetricResult, classify};
pub use config::{
    ConfigError, Direction, EffectSize, EffectSizeMeasure, MetricConfig, NanStrategy,
    OutlierStrategy, Outliers,
};
pub use mannwhitney::{MannWhitneyError, ShiftInterval, cles, shift_interval, wilcoxon_z};
pub use score::{
    GroupScore, JudgedMetric, Score, ScoreClassification, ScoreThresholds, classify_score, score,
};
