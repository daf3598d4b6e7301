//! One metric's verdict: canary (experiment) against stable (control) samples,
//! classified Pass, High, Low, Nodata, NodataFailMetric or Error by Kayenta's
//! Mann-Whitney classifier rules.
//!
//! In: the two raw sample arrays (values of one PromQL query over the
//! interval), a [`MetricConfig`], and a seeded RNG (drawn from only when both
//! sides are constant). Out: a [`MetricResult`]. Neighbours: `transform`
//! (clean-up), `mannwhitney` (the interval), and `score` (which sums results).
//!
//! Steps: validate the config; clean each side; an empty side is Nodata (or
//! NodataFailMetric when data is required and the metric is not critical) under
//! NaN removal, and Pass under replacement; identical sorted samples, or one
//! distinct value overall, Pass; if both sides are constant, add Gaussian noise
//! with sd = |value|·1e-5 to each (Kayenta's way out of an all-tied ranking);
//! compute the interval; High when the direction allows it, the lower bound is
//! above +tolerance·|estimate| and the effect size (if defined) is ≥ the
//! allowed increase; Low mirrored; otherwise Pass. A critical metric's High
//! (effect ≥ critical increase) or Low (effect ≤ critical decrease), Nodata or
//! Error is a critical failure.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use super::config::{EffectSizeMeasure, MetricConfig, NanStrategy};
use super::mannwhitney::{ShiftInterval, cles, shift_interval};
use super::transform::prepare;

/// A metric's classification, named as Kayenta names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Classification {
    /// No meaningful difference, or a difference the config allows.
    Pass,
    /// The canary is significantly higher.
    High,
    /// The canary is significantly lower.
    Low,
    /// A side had no data; left out of the group score.
    Nodata,
    /// A side had no data and the metric must have data; counts as a failure.
    NodataFailMetric,
    /// The comparison could not be made; left out of the group score.
    Error,
}

/// The verdict on one metric.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MetricResult {
    /// The classification.
    pub classification: Classification,
    /// Whether this result fails the whole analysis (forces the score to 0).
    pub critical: bool,
    /// Why, for people.
    pub reason: String,
    /// The shift interval of canary − stable, when the test ran.
    pub interval: Option<ShiftInterval>,
    /// The configured effect size (mean ratio or CLES), when the test ran and it is defined.
    pub effect_size: Option<f64>,
    /// mean(canary)/mean(stable), when the test ran and neither mean is 0.
    pub mean_ratio: Option<f64>,
}

impl MetricResult {
    fn early(classification: Classification, critical: bool, reason: String) -> MetricResult {
        MetricResult {
            classification,
            critical,
            reason,
            interval: None,
            effect_size: None,
            mean_ratio: None,
        }
    }
}

/// Classifies canary (`experiment`) against stable (`control`) for one metric.
/// Never panics; bad settings or samples give `Classification::Error`.
pub fn classify<R: Rng + ?Sized>(
    experiment: &[f64],
    control: &[f64],
    cfg: &MetricConfig,
    rng: &mut R,
) -> MetricResult {
    use Classification::*;
    if let Err(e) = cfg.validate() {
        return MetricResult::early(Error, cfg.critical, format!("invalid judge config: {e}"));
    }
    let mut exp = prepare(experiment, cfg);
    let mut ctl = prepare(control, cfg);

    if exp.is_empty() || ctl.is_empty() {
        let side = if exp.is_empty() { "canary" } else { "stable" };
        return match cfg.nan_strategy {
            NanStrategy::Remove if cfg.must_have_data && !cfg.critical => MetricResult::early(
                NodataFailMetric,
                false,
                format!("no {side} data and the metric must have data"),
            ),
            NanStrategy::Remove => {
                MetricResult::early(Nodata, cfg.critical, format!("no {side} data"))
            }
            NanStrategy::Replace => {
                MetricResult::early(Pass, false, format!("no {side} data (NaNs replaced)"))
            }
        };
    }

    let (sorted_exp, sorted_ctl) = (sorted(&exp), sorted(&ctl));
    if sorted_exp == sorted_ctl {
        return MetricResult::early(Pass, false, "canary and stable data are identical".into());
    }
    if sorted_exp[0] == sorted_exp[sorted_exp.len() - 1]
        && sorted_ctl.iter().all(|&v| v == sorted_exp[0])
    {
        return MetricResult::early(Pass, false, "all samples have one value".into());
    }
    if exp.iter().chain(&ctl).any(|v| v.is_infinite()) {
        return MetricResult::early(Error, cfg.critical, "a sample is infinite".into());
    }

    if is_constant(&sorted_exp) && is_constant(&sorted_ctl) {
        add_noise(&mut exp, rng);
        add_noise(&mut ctl, rng);
    }
    let interval = match shift_interval(&exp, &ctl, cfg.confidence_level) {
        Ok(i) => i,
        Err(e) => {
            return MetricResult::early(Error, cfg.critical, format!("comparison failed: {e}"));
        }
    };
    let mean_ratio = mean_ratio(&exp, &ctl);
    let effect = match cfg.effect_size.measure {
        EffectSizeMeasure::MeanRatio => mean_ratio,
        // Both sides are non-empty and finite here, so CLES is defined.
        EffectSizeMeasure::Cles => cles(&exp, &ctl).ok(),
    };
    judge(interval, effect, mean_ratio, cfg)
}

/// The High/Low/Pass decision and the critical flag, from the test's numbers.
fn judge(
    interval: ShiftInterval,
    effect: Option<f64>,
    mean_ratio: Option<f64>,
    cfg: &MetricConfig,
) -> MetricResult {
    use Classification::*;
    let es = &cfg.effect_size;
    let bound = cfg.tolerance * interval.estimate.abs();
    let ci = format!(
        "{}% interval of the shift [{}, {}], estimate {}",
        num(cfg.confidence_level * 100.0),
        num(interval.lower),
        num(interval.upper),
        num(interval.estimate)
    );
    let effect_text = match effect {
        Some(e) => format!("effect size {}", num(e)),
        None => "effect size undefined".into(),
    };
    let bound_text = num(bound);
    // An undefined effect size does not block a verdict (Kayenta's rule).
    let at_least = |t: f64| effect.is_none_or(|e| e >= t);
    let at_most = |t: f64| effect.is_none_or(|e| e <= t);

    let above = interval.lower > bound;
    let below = interval.upper < -bound;
    let (classification, critical, reason) = if above && cfg.direction.allows_high() {
        if at_least(es.allowed_increase()) {
            let critical = cfg.critical && at_least(es.critical_increase());
            let reason = format!("canary is high: {ci}, above +{bound_text}; {effect_text}");
            (High, critical, reason)
        } else {
            let reason = format!(
                "canary is higher ({ci}, above +{bound_text}) but {effect_text} is below the allowed increase {}",
                num(es.allowed_increase())
            );
            (Pass, false, reason)
        }
    } else if below && cfg.direction.allows_low() {
        if at_most(es.allowed_decrease()) {
            let critical = cfg.critical && at_most(es.critical_decrease());
            let reason = format!("canary is low: {ci}, below -{bound_text}; {effect_text}");
            (Low, critical, reason)
        } else {
            let reason = format!(
                "canary is lower ({ci}, below -{bound_text}) but {effect_text} is above the allowed decrease {}",
                num(es.allowed_decrease())
            );
            (Pass, false, reason)
        }
    } else if above || below {
        let way = if above { "higher" } else { "lower" };
        let reason = format!("canary is {way} ({ci}) but the direction ignores that");
        (Pass, false, reason)
    } else {
        let reason = format!("no significant shift: {ci} is within ±{bound_text}");
        (Pass, false, reason)
    };
    MetricResult {
        classification,
        critical,
        reason,
        interval: Some(interval),
        effect_size: effect,
        mean_ratio,
    }
}

/// A number for people: 6 significant digits, trailing zeros dropped.
fn num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let decimals = (5 - v.abs().log10().floor() as i32).clamp(0, 15) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

fn is_constant(sorted: &[f64]) -> bool {
    sorted.first() == sorted.last()
}

/// Kayenta's dither for a constant side: Gaussian noise with sd = |value|·1e-5.
fn add_noise<R: Rng + ?Sized>(values: &mut [f64], rng: &mut R) {
    let sd = values.first().map_or(0.0, |v| v.abs() * 1e-5);
    for v in values {
        let noise: f64 = StandardNormal.sample(rng);
        *v += noise * sd;
    }
}

/// mean(experiment)/mean(control); `None` when either mean is 0 (Kayenta's NaN).
fn mean_ratio(experiment: &[f64], control: &[f64]) -> Option<f64> {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (e, c) = (mean(experiment), mean(control));
    (e != 0.0 && c != 0.0).then(|| e / c)
}

#[cfg(test)]
mod tests;
