//! What an expectation measures, how a bound compares, and the judgement
//! of one bound on one expectation's runs.
//!
//! In: a [`Bound`] (a [`Measure`], a [`Cmp`] and a value, from
//! [`super::spec`]) and the runs' [`RunDigest`]s and [`CellSummary`] (from
//! `crate::sweep`), or a lint report's counts. Out: a [`Judged`] bound: the
//! figure, its Wilson interval for rates, pass or fail, and why (with
//! `confidence`, "needs about N runs to show this" when the interval
//! straddles the bound). Pure functions; [`super`] calls them.

use serde::Serialize;

use super::baseline::Moved;
use crate::diag::Location;
use crate::outcome::Verdict;
use crate::sim::SimDuration;
use crate::sweep::stats::{Z95, quantile, wilson, z_for};
use crate::sweep::{CellSummary, RunDigest};

/// A comparator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Cmp {
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `>`
    #[serde(rename = ">")]
    Gt,
}

impl Cmp {
    /// The comparator a bound starts with, and the rest of it.
    pub fn split(text: &str) -> Option<(Cmp, &str)> {
        let t = text.trim_start();
        for (sym, c) in [
            (">=", Cmp::Ge),
            ("<=", Cmp::Le),
            ("==", Cmp::Eq),
            ("<", Cmp::Lt),
            (">", Cmp::Gt),
        ] {
            if let Some(rest) = t.strip_prefix(sym) {
                return Some((c, rest));
            }
        }
        None
    }

    /// Its spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Ge => ">=",
            Cmp::Le => "<=",
            Cmp::Eq => "==",
            Cmp::Lt => "<",
            Cmp::Gt => ">",
        }
    }

    /// Whether `figure CMP bound` holds. `==` allows a relative rounding
    /// error of 1e-9 (the bound is written in decimal).
    pub fn holds(self, figure: f64, bound: f64) -> bool {
        match self {
            Cmp::Ge => figure >= bound,
            Cmp::Le => figure <= bound,
            Cmp::Lt => figure < bound,
            Cmp::Gt => figure > bound,
            Cmp::Eq => (figure - bound).abs() <= 1e-9 * bound.abs().max(1.0),
        }
    }

    /// Whether a larger figure is the better side (`>=`, `>`); `None` for `==`.
    pub fn higher_is_better(self) -> Option<bool> {
        match self {
            Cmp::Ge | Cmp::Gt => Some(true),
            Cmp::Le | Cmp::Lt => Some(false),
            Cmp::Eq => None,
        }
    }
}

/// What a bound measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measure {
    /// The share of all runs with this verdict.
    Share(Verdict),
    /// Time to detect (caught runs), at this percentile (50 or 90).
    TimeToDetect(u8),
    /// Time from the start to promotion or abort, at this percentile.
    RolloutDuration(u8),
    /// Mean failed production requests per run.
    FailedRequests,
    /// Mean failed production requests before the verdict.
    FailedBeforeVerdict,
    /// Mean failed production requests after full promotion.
    FailedAfterPromotion,
    /// Mean OOM kills per run.
    OomKills,
    /// The share of aborts this gate (`TEMPLATE/METRIC`) decided.
    AbortedBy(String),
    /// Lint errors.
    LintErrors,
    /// Lint warnings.
    LintWarnings,
}

/// What kind of number a measure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A fraction in [0, 1], with a Wilson interval.
    Rate,
    /// Seconds of simulated time (written as a duration: `10m`).
    Seconds,
    /// A mean or a count.
    Number,
}

impl Measure {
    /// Every key a bound may have in an `[[expect]]` table, besides
    /// `aborted_by`.
    pub const KEYS: [&'static str; 15] = [
        "caught",
        "missed",
        "promoted",
        "false_abort",
        "undecided",
        "time_to_detect_p50",
        "time_to_detect_p90",
        "rollout_duration_p50",
        "rollout_duration_p90",
        "failed_requests",
        "failed_requests_before_verdict",
        "failed_requests_after_promotion",
        "oom_kills",
        "errors",
        "warnings",
    ];

    /// The measure a key names.
    pub fn from_key(key: &str) -> Option<Measure> {
        if let Some(v) = super::spec::verdict_of(key) {
            return Some(Measure::Share(v));
        }
        Some(match key {
            "time_to_detect_p50" => Measure::TimeToDetect(50),
            "time_to_detect_p90" => Measure::TimeToDetect(90),
            "rollout_duration_p50" => Measure::RolloutDuration(50),
            "rollout_duration_p90" => Measure::RolloutDuration(90),
            "failed_requests" => Measure::FailedRequests,
            "failed_requests_before_verdict" => Measure::FailedBeforeVerdict,
            "failed_requests_after_promotion" => Measure::FailedAfterPromotion,
            "oom_kills" => Measure::OomKills,
            "errors" => Measure::LintErrors,
            "warnings" => Measure::LintWarnings,
            _ => return None,
        })
    }

    /// Its key (for `aborted_by`, `aborted_by.TEMPLATE/METRIC`).
    pub fn key(&self) -> String {
        match self {
            Measure::Share(v) => v.as_str().to_string(),
            Measure::TimeToDetect(p) => format!("time_to_detect_p{p}"),
            Measure::RolloutDuration(p) => format!("rollout_duration_p{p}"),
            Measure::FailedRequests => "failed_requests".into(),
            Measure::FailedBeforeVerdict => "failed_requests_before_verdict".into(),
            Measure::FailedAfterPromotion => "failed_requests_after_promotion".into(),
            Measure::OomKills => "oom_kills".into(),
            Measure::AbortedBy(g) => format!("aborted_by.{g}"),
            Measure::LintErrors => "errors".into(),
            Measure::LintWarnings => "warnings".into(),
        }
    }

    /// Its kind of number.
    pub fn unit(&self) -> Unit {
        match self {
            Measure::Share(_) | Measure::AbortedBy(_) => Unit::Rate,
            Measure::TimeToDetect(_) | Measure::RolloutDuration(_) => Unit::Seconds,
            _ => Unit::Number,
        }
    }

    /// Whether it is a measure of a lint expectation.
    pub fn is_lint(&self) -> bool {
        matches!(self, Measure::LintErrors | Measure::LintWarnings)
    }

    /// A bound as a user would write it, for hints.
    pub fn example(&self) -> &'static str {
        match self.unit() {
            Unit::Rate => ">= 0.95",
            Unit::Seconds => "<= 10m",
            Unit::Number => "<= 1",
        }
    }

    /// Reads the value of a bound (after the comparator): a fraction in
    /// [0, 1] (or a percentage, `95%`) for a rate, a duration as in
    /// scenarios (`10m`, `90s`) for a time, a number otherwise.
    pub fn parse_value(&self, text: &str) -> Result<f64, String> {
        match self.unit() {
            Unit::Rate => {
                let (num, scale) = match text.strip_suffix('%') {
                    Some(n) => (n.trim(), 100.0),
                    None => (text, 1.0),
                };
                let v: f64 = num
                    .parse()
                    .map_err(|_| format!("{text:?} is not a number"))?;
                let v = v / scale;
                if (0.0..=1.0).contains(&v) {
                    Ok(v)
                } else {
                    Err(format!("{text} is not between 0 and 1 (a share of runs)"))
                }
            }
            Unit::Seconds => SimDuration::parse(text)
                .map(|d| d.as_secs_f64())
                .map_err(|e| format!("not a duration ({e})")),
            Unit::Number => match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
                _ => Err(format!("{text:?} is not a number ≥ 0")),
            },
        }
    }
}

/// One bound of an expectation, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    /// What it measures.
    pub measure: Measure,
    /// How it compares.
    pub cmp: Cmp,
    /// The value (a fraction, seconds, or a number).
    pub value: f64,
    /// The bound as written (`>= 0.95`).
    pub written: String,
    /// Where its key is.
    pub at: Location,
}

impl Bound {
    /// `caught >= 0.95`.
    pub fn text(&self) -> String {
        format!("{} {}", self.measure.key(), self.written)
    }
}

/// A figure as measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// The value; `None` when there is nothing to measure (no run caught,
    /// no run aborted).
    pub value: Option<f64>,
    /// For rates: successes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<u64>,
    /// For rates: trials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// For rates: the Wilson interval at the expectation's confidence
    /// (95% without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<[f64; 2]>,
}

impl Figure {
    fn number(value: Option<f64>) -> Figure {
        Figure {
            value,
            k: None,
            n: None,
            interval: None,
        }
    }

    fn rate(k: u64, n: u64, z: f64) -> Figure {
        Figure {
            value: (n > 0).then(|| k as f64 / n as f64),
            k: Some(k),
            n: Some(n),
            interval: (n > 0).then(|| wilson(k, n, z)),
        }
    }
}

/// One bound judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// The bound.
    pub bound: Bound,
    /// What was measured.
    pub figure: Figure,
    /// Whether it holds.
    pub pass: bool,
    /// Why it failed, or what to know (`needs about N runs to show this`).
    pub note: Option<String>,
    /// The same rate in the baseline (`--baseline`), if it has one.
    pub baseline: Option<Moved>,
}

impl Judged {
    /// Whether it holds and did not move the wrong way from its baseline.
    pub fn ok(&self) -> bool {
        self.pass && !self.baseline.as_ref().is_some_and(|m| m.significant)
    }
}

/// What a lint expectation measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LintCounts {
    /// Errors found.
    pub errors: u64,
    /// Warnings found.
    pub warnings: u64,
}

/// The figure of `measure` over the runs (rates at normal quantile `z`).
pub fn figure(measure: &Measure, runs: &[RunDigest], summary: &CellSummary, z: f64) -> Figure {
    let spread = |values: Vec<f64>, p: u8| {
        let mut v = values;
        v.sort_by(f64::total_cmp);
        quantile(&v, f64::from(p) / 100.0)
    };
    match measure {
        Measure::Share(v) => Figure::rate(summary.verdicts.get(*v), summary.runs, z),
        Measure::AbortedBy(gate) => {
            let aborts = runs.iter().filter(|r| r.abort_cause.is_some()).count() as u64;
            let k = summary.aborted_by.get(gate).copied().unwrap_or(0);
            Figure::rate(k, aborts, z)
        }
        Measure::TimeToDetect(p) => Figure::number(spread(
            runs.iter().filter_map(|r| r.time_to_detect_s).collect(),
            *p,
        )),
        Measure::RolloutDuration(p) => Figure::number(spread(
            runs.iter().map(|r| r.rollout_duration_s).collect(),
            *p,
        )),
        Measure::FailedRequests => Figure::number(Some(summary.cost.failed_requests)),
        Measure::FailedBeforeVerdict => Figure::number(Some(summary.cost.failed_before_verdict)),
        Measure::FailedAfterPromotion => Figure::number(Some(summary.cost.failed_after_promotion)),
        Measure::OomKills => Figure::number(Some(summary.cost.oom_kills)),
        Measure::LintErrors | Measure::LintWarnings => Figure::number(None),
    }
}

/// Judges a bound of a run expectation. With `confidence`, a rate passes
/// only when its whole Wilson interval at that confidence lies on the right
/// side of the bound (`==` is judged on the point estimate); without, the
/// point estimate is judged and the 95% interval shown.
pub fn judge_runs(
    bound: &Bound,
    runs: &[RunDigest],
    summary: &CellSummary,
    confidence: Option<f64>,
) -> Judged {
    let z = confidence.and_then(z_for).unwrap_or(Z95);
    let figure = figure(&bound.measure, runs, summary, z);
    let Some(value) = figure.value else {
        let why = match &bound.measure {
            Measure::TimeToDetect(_) => "no run was caught, so there is no time to detect",
            Measure::AbortedBy(_) => "no run aborted, so no gate decided",
            _ => "there were no runs",
        };
        return Judged {
            bound: bound.clone(),
            figure,
            pass: false,
            note: Some(why.to_string()),
            baseline: None,
        };
    };
    let point = bound.cmp.holds(value, bound.value);
    let (pass, note) = match (confidence, figure.interval, bound.cmp.higher_is_better()) {
        (Some(c), Some([lo, hi]), Some(higher)) if point => {
            let edge = if higher { lo } else { hi };
            if bound.cmp.holds(edge, bound.value) {
                (true, None)
            } else {
                let n = figure.n.unwrap_or(0);
                let note = match runs_to_show(value, bound, n, z) {
                    Some(need) => format!(
                        "its {:.0}% interval [{lo:.3}, {hi:.3}] straddles {}: needs about {need} runs to show this",
                        c * 100.0,
                        bound.value
                    ),
                    None => format!(
                        "its {:.0}% interval [{lo:.3}, {hi:.3}] straddles {}: the rate sits on the bound, no number of runs shows this",
                        c * 100.0,
                        bound.value
                    ),
                };
                (false, Some(note))
            }
        }
        _ => (point, None),
    };
    Judged {
        bound: bound.clone(),
        figure,
        pass,
        note,
        baseline: None,
    }
}

/// Judges a bound of a lint expectation.
pub fn judge_lint(bound: &Bound, counts: LintCounts) -> Judged {
    let value = match bound.measure {
        Measure::LintErrors => counts.errors,
        _ => counts.warnings,
    } as f64;
    Judged {
        bound: bound.clone(),
        figure: Figure::number(Some(value)),
        pass: bound.cmp.holds(value, bound.value),
        note: None,
        baseline: None,
    }
}

/// The fewest runs (more than `have`, at most a million) at which a rate
/// staying at `rate` would have a Wilson interval (quantile `z`) wholly on
/// the right side of `bound`; `None` when no number of runs would (the
/// rate is on the bound, or the comparator is `==`).
pub fn runs_to_show(rate: f64, bound: &Bound, have: u64, z: f64) -> Option<u64> {
    let higher = bound.cmp.higher_is_better()?;
    if !bound.cmp.holds(rate, bound.value) || rate == bound.value {
        return None;
    }
    let clears = |n: u64| {
        let k = (rate * n as f64).round() as u64;
        let [lo, hi] = wilson(k.min(n), n, z);
        bound.cmp.holds(if higher { lo } else { hi }, bound.value)
    };
    // Doubling, then bisection: the interval narrows (all but monotonically)
    // as runs grow, so this finds the first n where it clears, near enough
    // for "about".
    let limit = 1_000_000;
    let mut hi = have.max(1);
    while !clears(hi) {
        if hi >= limit {
            return None;
        }
        hi = (hi * 2).min(limit);
    }
    let mut lo = have.max(1);
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if clears(mid) { hi = mid } else { lo = mid }
    }
    Some(hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::CellSummary;

    fn bound(key: &str, text: &str) -> Bound {
        let measure = Measure::from_key(key)
            .unwrap_or_else(|| Measure::AbortedBy(key.trim_start_matches("aborted_by.").into()));
        let (cmp, rest) = Cmp::split(text).unwrap();
        Bound {
            value: measure.parse_value(rest.trim()).unwrap(),
            measure,
            cmp,
            written: text.into(),
            at: Location::start_of("c.toml"),
        }
    }

    /// A run with this verdict; caught runs detect at `t` seconds and were
    /// aborted by gate `g`.
    fn digest(seed: u64, verdict: Verdict, t: f64, g: &str) -> RunDigest {
        let aborted = matches!(verdict, Verdict::Caught | Verdict::FalseAbort);
        RunDigest {
            seed,
            canary_bad: verdict.of_bad_release() == Some(true),
            verdict,
            time_to_detect_s: (verdict == Verdict::Caught).then_some(t),
            rollout_duration_s: t + 100.0,
            canary_requests: 1000,
            failed_before_verdict: seed,
            failed_after_promotion: (!aborted).then_some(10),
            failed_after_abort: aborted.then_some(0),
            oom_kills: u64::from(verdict == Verdict::Missed) * 5,
            abort_cause: aborted.then(|| "Failed".to_string()),
            aborted_by: if aborted { vec![g.into()] } else { vec![] },
        }
    }

    /// 18 caught (at 100, 200, …, 1800 s; 16 by gate a/m, 2 by b/m) and 2 missed.
    fn leak() -> Vec<RunDigest> {
        let mut v: Vec<RunDigest> = (1..=18)
            .map(|i| {
                let g = if i <= 16 { "a/m" } else { "b/m" };
                digest(i, Verdict::Caught, 100.0 * i as f64, g)
            })
            .collect();
        v.push(digest(19, Verdict::Missed, 0.0, ""));
        v.push(digest(20, Verdict::Missed, 0.0, ""));
        v
    }

    fn judge(runs: &[RunDigest], key: &str, text: &str, conf: Option<f64>) -> Judged {
        judge_runs(
            &bound(key, text),
            runs,
            &CellSummary::of_digests(runs),
            conf,
        )
    }

    #[test]
    fn every_comparator_holds_where_it_should() {
        let cases = [
            (Cmp::Ge, 1.0, 1.0, true),
            (Cmp::Ge, 0.9, 1.0, false),
            (Cmp::Le, 1.0, 1.0, true),
            (Cmp::Le, 1.1, 1.0, false),
            (Cmp::Lt, 1.0, 1.0, false),
            (Cmp::Lt, 0.5, 1.0, true),
            (Cmp::Gt, 1.0, 1.0, false),
            (Cmp::Gt, 1.5, 1.0, true),
            (Cmp::Eq, 0.1 + 0.2, 0.3, true),
            (Cmp::Eq, 0.31, 0.3, false),
        ];
        for (c, f, b, want) in cases {
            assert_eq!(c.holds(f, b), want, "{f} {} {b}", c.as_str());
        }
        assert_eq!(Cmp::split(" >= 3"), Some((Cmp::Ge, " 3")));
        assert_eq!(Cmp::split(">3"), Some((Cmp::Gt, "3")));
        assert_eq!(Cmp::split("<3").map(|c| c.0), Some(Cmp::Lt));
        assert_eq!(Cmp::split("=3"), None);
    }

    #[test]
    fn values_are_read_by_the_unit_of_their_measure() {
        let m = |k: &str| Measure::from_key(k).unwrap();
        assert_eq!(m("caught").parse_value("95%"), Ok(0.95));
        assert!(m("caught").parse_value("2").is_err());
        assert_eq!(m("time_to_detect_p90").parse_value("1h30m"), Ok(5400.0));
        assert!(m("time_to_detect_p90").parse_value("600").is_err());
        assert_eq!(m("oom_kills").parse_value("0.5"), Ok(0.5));
        assert!(m("oom_kills").parse_value("-1").is_err());
        for k in Measure::KEYS {
            assert_eq!(m(k).key(), k);
        }
    }

    #[test]
    fn shares_count_each_verdict_over_all_runs() {
        let runs = leak();
        let j = judge(&runs, "caught", ">= 0.9", None);
        assert_eq!((j.figure.k, j.figure.n), (Some(18), Some(20)));
        assert!(j.pass);
        assert!(!judge(&runs, "caught", "> 0.9", None).pass);
        let j = judge(&runs, "missed", "<= 0.1", None);
        assert_eq!(j.figure.value, Some(0.1));
        assert!(j.pass);
        assert!(!judge(&runs, "missed", "< 0.1", None).pass);
        assert!(judge(&runs, "promoted", "== 0", None).pass);
        assert!(judge(&runs, "false_abort", "== 0", None).pass);
        assert!(judge(&runs, "undecided", "== 0", None).pass);
        // The interval shown without `confidence` is the 95% Wilson one.
        assert_eq!(j.figure.interval, Some(wilson(2, 20, Z95)));

        let good = vec![
            digest(1, Verdict::Promoted, 0.0, ""),
            digest(2, Verdict::FalseAbort, 0.0, "c/m"),
            digest(3, Verdict::Undecided, 0.0, ""),
            digest(4, Verdict::Promoted, 0.0, ""),
        ];
        assert_eq!(
            judge(&good, "promoted", ">= 0.5", None).figure.value,
            Some(0.5)
        );
        assert_eq!(
            judge(&good, "false_abort", "<= 0.25", None).figure.value,
            Some(0.25)
        );
        assert!(!judge(&good, "undecided", "== 0", None).pass);
        assert!(judge(&good, "aborted_by.c/m", "== 1", None).pass);
    }

    #[test]
    fn times_are_percentiles_of_the_caught_runs_and_of_all_runs() {
        let runs = leak();
        // Caught at 100..1800 s: the median is 950 s, p90 (type 7) 1630 s.
        let j = judge(&runs, "time_to_detect_p50", "<= 16m", None);
        assert_eq!(j.figure.value, Some(950.0));
        assert!(j.pass);
        let j = judge(&runs, "time_to_detect_p90", "<= 27m", None);
        assert_eq!(j.figure.value, Some(1630.0));
        assert!(!j.pass);
        assert!(judge(&runs, "time_to_detect_p90", "<= 28m", None).pass);
        // Durations: caught runs at t+100, missed runs at 100.
        let j = judge(&runs, "rollout_duration_p50", ">= 1m", None);
        let mut all: Vec<f64> = runs.iter().map(|r| r.rollout_duration_s).collect();
        all.sort_by(f64::total_cmp);
        assert_eq!(j.figure.value, Some((all[9] + all[10]) / 2.0));
        let j = judge(&runs, "rollout_duration_p90", ">= 1m", None);
        assert!(j.figure.value.unwrap() > 1500.0);
        // Nothing caught: no time to detect, and the bound fails, saying why.
        let none = vec![digest(1, Verdict::Missed, 0.0, "")];
        let j = judge(&none, "time_to_detect_p50", "<= 1h", None);
        assert!(!j.pass);
        assert!(j.note.unwrap().contains("no run was caught"));
    }

    #[test]
    fn costs_are_means_per_run() {
        let runs = leak();
        // failed_before_verdict is the seed: mean of 1..=20 is 10.5.
        let j = judge(&runs, "failed_requests_before_verdict", "<= 10.5", None);
        assert_eq!(j.figure.value, Some(10.5));
        assert!(j.pass);
        assert!(!judge(&runs, "failed_requests_before_verdict", "< 10.5", None).pass);
        // Two missed runs each fail 10 after promotion: 20 / 20 runs.
        let j = judge(&runs, "failed_requests_after_promotion", "== 1", None);
        assert!(j.pass, "{j:?}");
        assert!(judge(&runs, "failed_requests", "== 11.5", None).pass);
        // Two missed runs with 5 OOM kills each.
        assert!(judge(&runs, "oom_kills", "== 0.5", None).pass);
        assert!(!judge(&runs, "oom_kills", "== 0", None).pass);
    }

    #[test]
    fn aborted_by_is_the_share_of_aborts_a_gate_decided() {
        let runs = leak();
        let j = judge(&runs, "aborted_by.a/m", ">= 0.85", None);
        assert_eq!((j.figure.k, j.figure.n), (Some(16), Some(18)));
        assert!(j.pass);
        assert!(!judge(&runs, "aborted_by.a/m", ">= 0.9", None).pass);
        assert!(judge(&runs, "aborted_by.b/m", "<= 0.2", None).pass);
        assert!(judge(&runs, "aborted_by.x/y", "== 0", None).pass);
        let none = vec![digest(1, Verdict::Missed, 0.0, "")];
        let j = judge(&none, "aborted_by.a/m", ">= 0.9", None);
        assert!(!j.pass);
        assert!(j.note.unwrap().contains("no run aborted"));
    }

    #[test]
    fn with_confidence_the_whole_interval_must_clear_the_bound() {
        // 50 of 50 caught: the point passes >= 0.95, but the 95% interval
        // [0.929, 1] reaches below it.
        let all: Vec<RunDigest> = (1..=50)
            .map(|i| digest(i, Verdict::Caught, 100.0, "a/m"))
            .collect();
        assert!(judge(&all, "caught", ">= 0.95", None).pass);
        let j = judge(&all, "caught", ">= 0.95", Some(0.95));
        assert!(!j.pass);
        let note = j.note.unwrap();
        // n/(n + z²) >= 0.95 first at n = 73.
        assert!(note.contains("needs about 73 runs"), "{note}");
        // A looser bound clears: 0.929 > 0.9.
        assert!(judge(&all, "caught", ">= 0.9", Some(0.95)).pass);
        // A higher confidence widens the interval: at 99% the lower end is
        // 50 / (50 + 2.5758²) ≈ 0.883 < 0.9.
        assert!(!judge(&all, "caught", ">= 0.9", Some(0.99)).pass);
        // Upper bounds: 0 of 50 false aborts, <= 0.1 clears (0.0713), <= 0.05 does not.
        let good: Vec<RunDigest> = (1..=50)
            .map(|i| digest(i, Verdict::Promoted, 0.0, ""))
            .collect();
        assert!(judge(&good, "false_abort", "<= 0.1", Some(0.95)).pass);
        let j = judge(&good, "false_abort", "<= 0.05", Some(0.95));
        assert!(!j.pass);
        assert!(j.note.unwrap().contains("needs about"));
        // `==` is judged on the point estimate.
        assert!(judge(&good, "false_abort", "== 0", Some(0.95)).pass);
        // A failing point estimate is a plain failure, with no note.
        let j = judge(&leak(), "caught", ">= 0.95", Some(0.95));
        assert!(!j.pass);
        assert_eq!(j.note, None);
    }

    #[test]
    fn runs_to_show_is_where_the_wilson_interval_first_clears() {
        let b = bound("caught", ">= 0.95");
        let n = runs_to_show(1.0, &b, 50, Z95).unwrap();
        assert!(wilson(n, n, Z95)[0] >= 0.95);
        assert!(wilson(n - 1, n - 1, Z95)[0] < 0.95);
        let b = bound("false_abort", "<= 0.05");
        let n = runs_to_show(0.0, &b, 50, Z95).unwrap();
        assert!(wilson(0, n, Z95)[1] <= 0.05);
        assert!(wilson(0, n - 1, Z95)[1] > 0.05);
        // On the bound, or on the wrong side: never.
        assert_eq!(
            runs_to_show(0.95, &bound("caught", ">= 0.95"), 50, Z95),
            None
        );
        assert_eq!(
            runs_to_show(0.9, &bound("caught", ">= 0.95"), 50, Z95),
            None
        );
        assert_eq!(runs_to_show(0.0, &bound("caught", "== 0"), 50, Z95), None);
    }

    #[test]
    fn lint_bounds_count_errors_and_warnings() {
        let c = LintCounts {
            errors: 0,
            warnings: 2,
        };
        assert!(judge_lint(&bound("errors", "== 0"), c).pass);
        assert!(!judge_lint(&bound("warnings", "== 0"), c).pass);
        assert!(judge_lint(&bound("warnings", "<= 2"), c).pass);
    }
}
