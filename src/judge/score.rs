//! Kayenta's WeightedSumScorer and ThresholdScoreClassifier: metric results →
//! group scores → one 0–100 score → Pass, Marginal or Fail.
//!
//! In: [`JudgedMetric`]s (a `classify` result with the metric's name, groups and
//! muted flag), the group weights, and [`ScoreThresholds`]. Out: a [`Score`].
//!
//! Rules: muted metrics are dropped. A group scores 100·Pass/(Pass + High +
//! Low + NodataFailMetric); Nodata and Error are left out, and a group with
//! nothing left counts as 100. The summary is Σ score·weight/100, where groups
//! without a configured weight share 100 − Σ(configured weights) equally,
//! rounded half up to 2 decimals. The score is forced to 0 if any critical
//! result is not a Pass, or if 50 % or more of the metrics are Nodata.

use std::collections::{BTreeMap, BTreeSet};

use super::classify::{Classification, MetricResult};

/// A metric's result with what scoring needs to know about the metric.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgedMetric {
    /// The metric's name, quoted in reasons.
    pub name: String,
    /// The groups it counts in (a metric may be in several, or none).
    pub groups: Vec<String>,
    /// Muted metrics are left out of scoring.
    pub muted: bool,
    /// The classification.
    pub result: MetricResult,
}

/// Score thresholds: score ≥ `pass` is a Pass, ≥ `marginal` a Marginal, else a Fail.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoreThresholds {
    /// Lowest passing score. Default 75.
    pub pass: f64,
    /// Lowest marginal score. Default 50.
    pub marginal: f64,
}

impl Default for ScoreThresholds {
    fn default() -> Self {
        ScoreThresholds {
            pass: 75.0,
            marginal: 50.0,
        }
    }
}

/// The verdict of a whole analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ScoreClassification {
    /// Score ≥ the pass threshold.
    Pass,
    /// Score ≥ the marginal threshold but below pass.
    Marginal,
    /// Score below the marginal threshold.
    Fail,
}

/// One group's score.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GroupScore {
    /// The group's name.
    pub name: String,
    /// 100·Pass/(Pass + High + Low + NodataFailMetric), or 100 when that is 0/0.
    pub score: f64,
    /// True when no metric of the group counted (all Nodata or Error).
    pub no_data: bool,
    /// Unmuted metrics in the group.
    pub metrics: usize,
}

/// The score of a whole analysis.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Score {
    /// 0–100, rounded to 2 decimals.
    pub score: f64,
    /// Pass, Marginal or Fail by the thresholds.
    pub classification: ScoreClassification,
    /// Per-group scores, by group name.
    pub groups: Vec<GroupScore>,
    /// Why the score was forced to 0, if it was.
    pub reason: Option<String>,
    /// Unmuted metrics scored.
    pub metrics: usize,
}

/// Kayenta's share of Nodata metrics at or above which the score is 0.
const NODATA_THRESHOLD_PERCENT: f64 = 50.0;

/// Scores classified metrics with group weights (percent, by group name).
pub fn score(
    metrics: &[JudgedMetric],
    group_weights: &BTreeMap<String, f64>,
    thresholds: &ScoreThresholds,
) -> Score {
    let live: Vec<&JudgedMetric> = metrics.iter().filter(|m| !m.muted).collect();
    let groups = group_scores(&live);

    let critical = live
        .iter()
        .find(|m| m.result.critical && m.result.classification != Classification::Pass);
    let nodata = live
        .iter()
        .filter(|m| m.result.classification == Classification::Nodata)
        .count();
    let (value, reason) = if let Some(m) = critical {
        let reason = format!("critical metric {} failed: {}", m.name, m.result.reason);
        (0.0, Some(reason))
    } else if !live.is_empty()
        && nodata as f64 / live.len() as f64 * 100.0 >= NODATA_THRESHOLD_PERCENT
    {
        let reason = format!("{nodata} of {} metrics returned no data", live.len());
        (0.0, Some(reason))
    } else {
        (summary(&groups, group_weights), None)
    };
    Score {
        score: value,
        classification: classify_score(value, thresholds),
        groups,
        reason,
        metrics: live.len(),
    }
}

fn group_scores(live: &[&JudgedMetric]) -> Vec<GroupScore> {
    // (pass, counted, metrics) per group; BTreeMap for a stable order.
    let mut tally: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for m in live {
        let groups: BTreeSet<&str> = m.groups.iter().map(String::as_str).collect();
        for g in groups {
            let t = tally.entry(g).or_default();
            t.2 += 1;
            match m.result.classification {
                Classification::Pass => (t.0, t.1) = (t.0 + 1, t.1 + 1),
                Classification::High | Classification::Low | Classification::NodataFailMetric => {
                    t.1 += 1
                }
                Classification::Nodata | Classification::Error => {}
            }
        }
    }
    tally
        .into_iter()
        .map(|(name, (pass, counted, metrics))| GroupScore {
            name: name.to_string(),
            score: if counted == 0 {
                100.0
            } else {
                100.0 * pass as f64 / counted as f64
            },
            no_data: counted == 0,
            metrics,
        })
        .collect()
}

fn summary(groups: &[GroupScore], weights: &BTreeMap<String, f64>) -> f64 {
    let configured: f64 = weights.values().sum();
    let unweighted = groups
        .iter()
        .filter(|g| !weights.contains_key(&g.name))
        .count();
    let share = if unweighted == 0 {
        0.0
    } else {
        (100.0 - configured) / unweighted as f64
    };
    let total: f64 = groups
        .iter()
        .map(|g| g.score * weights.get(&g.name).copied().unwrap_or(share) / 100.0)
        .sum();
    round_half_up_2dp(total)
}

/// Pass, Marginal or Fail by the thresholds (Kayenta's ThresholdScoreClassifier).
pub fn classify_score(score: f64, thresholds: &ScoreThresholds) -> ScoreClassification {
    if score >= thresholds.pass {
        ScoreClassification::Pass
    } else if score >= thresholds.marginal {
        ScoreClassification::Marginal
    } else {
        ScoreClassification::Fail
    }
}

/// Rounds to 2 decimals, half up, on the shortest decimal form of `x` (as
/// Kayenta's `Precision.round` does via `BigDecimal(Double.toString(x))`), so
/// 12.345 gives 12.35 although the double is just below 12.345.
fn round_half_up_2dp(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let text = format!("{}", x.abs()); // shortest round-trip digits, no exponent
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let digit = |i: usize| frac.as_bytes().get(i).map_or(0, |b| b - b'0');
    let hundredths: f64 = format!("{int}{}{}", digit(0), digit(1))
        .parse()
        .unwrap_or(f64::NAN);
    let up = if digit(2) >= 5 { 1.0 } else { 0.0 };
    ((hundredths + up) / 100.0).copysign(x)
}

#[cfg(test)]
mod tests;
