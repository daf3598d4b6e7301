//! Baselines: the rates of one `check` kept (`--save-baseline FILE`), and
//! a later check failed when a rate moved the wrong way significantly on
//! the same seeds (`--baseline FILE`), even inside its bound.
//!
//! In: the [`Suite`]s of a check (to save), or a saved [`Baseline`] and
//! the suites (to compare). Out: JSON text; a [`Moved`] on each rate bound
//! that has a figure in the baseline, judged by Fisher's exact test
//! ([`super::fisher`], one-sided, p < [`ALPHA`]). Figures are keyed by
//! check file, `scenario/policy`, the expectation's `set` and the measure,
//! so editing a bound (or moving the expectation in its file) keeps its
//! baseline.

use serde::{Deserialize, Serialize};

use super::fisher;
use super::measure::Unit;
use super::{Outcome, Suite};

/// The significance level of the baseline test.
pub const ALPHA: f64 = 0.01;

/// One saved rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    /// The check file.
    pub suite: String,
    /// `scenario/policy` and the `set` overrides.
    pub expectation: String,
    /// The measure's key.
    pub measure: String,
    /// Successes.
    pub k: u64,
    /// Trials.
    pub n: u64,
}

/// The saved figures of a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The format's version.
    pub canarysim_baseline: u32,
    /// Seeds per expectation when it was saved.
    pub runs: u64,
    /// The first seed.
    pub seed: u64,
    /// The rates.
    pub figures: Vec<Saved>,
}

/// A rate against its baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moved {
    /// Successes in the baseline.
    pub k: u64,
    /// Trials in the baseline.
    pub n: u64,
    /// The one-sided p-value that it moved the wrong way.
    pub p: f64,
    /// Whether that is significant (p < [`ALPHA`]).
    pub significant: bool,
}

fn key(o: &Outcome) -> String {
    let e = &o.expectation;
    match &e.subject {
        super::Subject::Run { set, .. } if !set.is_empty() => {
            let set: Vec<String> = set.iter().map(|s| s.text()).collect();
            format!("{} set {}", e.classname(), set.join(", "))
        }
        _ => e.classname(),
    }
}

impl Baseline {
    /// The rates of these suites.
    pub fn of(suites: &[Suite]) -> Baseline {
        let mut figures = Vec::new();
        for s in suites {
            for o in &s.outcomes {
                for j in &o.judged {
                    if let (Unit::Rate, Some(k), Some(n)) =
                        (j.bound.measure.unit(), j.figure.k, j.figure.n)
                    {
                        figures.push(Saved {
                            suite: s.file.clone(),
                            expectation: key(o),
                            measure: j.bound.measure.key(),
                            k,
                            n,
                        });
                    }
                }
            }
        }
        Baseline {
            canarysim_baseline: 1,
            runs: suites.first().map_or(0, |s| s.runs),
            seed: suites.first().map_or(0, |s| s.seed),
            figures,
        }
    }

    /// As JSON text.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("invariant: a baseline serialises");
        s.push('\n');
        s
    }

    /// Reads a saved baseline; the error names the line and column.
    pub fn from_json(text: &str) -> Result<Baseline, String> {
        let b: Baseline = serde_json::from_str(text)
            .map_err(|e| format!("{}:{}: not a canarysim baseline: {e}", e.line(), e.column()))?;
        if b.canarysim_baseline != 1 {
            return Err(format!(
                "1:1: canarysim_baseline {} is not a version this canarysim reads (1); save the baseline again with --save-baseline",
                b.canarysim_baseline
            ));
        }
        // A figure of more successes than runs would make every later
        // comparison meaningless: the file was edited or damaged.
        if let Some(f) = b.figures.iter().find(|f| f.k > f.n) {
            return Err(format!(
                "1:1: figure {} / {} of {} has k = {} above n = {}: not a rate; save the baseline again with --save-baseline",
                f.suite, f.expectation, f.measure, f.k, f.n
            ));
        }
        Ok(b)
    }

    /// Marks every rate bound of `suites` that this baseline has a figure for.
    pub fn compare(&self, suites: &mut [Suite]) {
        for s in suites.iter_mut() {
            for o in s.outcomes.iter_mut() {
                let k = key(o);
                for j in o.judged.iter_mut() {
                    let (Some(now_k), Some(now_n)) = (j.figure.k, j.figure.n) else {
                        continue;
                    };
                    let Some(higher) = j.bound.cmp.higher_is_better() else {
                        continue;
                    };
                    let measure = j.bound.measure.key();
                    let Some(b) = self
                        .figures
                        .iter()
                        .find(|f| f.suite == s.file && f.expectation == k && f.measure == measure)
                    else {
                        continue;
                    };
                    let p = if higher {
                        fisher::p_lower(b.k, b.n, now_k, now_n)
                    } else {
                        fisher::p_higher(b.k, b.n, now_k, now_n)
                    };
                    j.baseline = Some(Moved {
                        k: b.k,
                        n: b.n,
                        p,
                        significant: p < ALPHA,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::measure::{Figure, Judged};
    use crate::check::spec::CheckSpec;

    /// One expectation, `caught >= 0.8` and `false_abort <= 0.5`, measured
    /// as `caught` of 50 and `false_abort` of 50.
    fn suite(caught: u64, false_abort: u64) -> Suite {
        let text = "schema = 1\n[[expect]]\nscenario = \"s.toml\"\npolicy = \"p\"\ncaught = \">= 0.8\"\nfalse_abort = \"<= 0.5\"\n";
        let e = CheckSpec::parse("c.toml", text).unwrap().expectations[0].clone();
        let judged = e
            .bounds
            .iter()
            .zip([caught, false_abort])
            .map(|(b, k)| {
                let rate = k as f64 / 50.0;
                Judged {
                    bound: b.clone(),
                    figure: Figure {
                        value: Some(rate),
                        k: Some(k),
                        n: Some(50),
                        interval: None,
                    },
                    pass: b.cmp.holds(rate, b.value),
                    note: None,
                    baseline: None,
                }
            })
            .collect();
        Suite {
            file: "c.toml".into(),
            runs: 50,
            seed: 1,
            outcomes: vec![Outcome {
                expectation: e,
                judged,
                runs: 50,
                findings: Vec::new(),
            }],
        }
    }

    #[test]
    fn a_rate_that_fell_significantly_fails_even_inside_its_bound() {
        let saved = Baseline::from_json(&Baseline::of(&[suite(50, 0)]).to_json()).unwrap();
        assert_eq!(saved.figures.len(), 2);
        // 43 of 50 is still >= 0.8, but down from 50 of 50: p = 0.006.
        let mut now = [suite(43, 0)];
        assert!(now[0].outcomes[0].judged[0].pass);
        saved.compare(&mut now);
        let m = now[0].outcomes[0].judged[0].baseline.clone().unwrap();
        assert_eq!((m.k, m.n), (50, 50));
        assert!(m.significant && (m.p - 0.006_24).abs() < 1e-4, "{m:?}");
        assert!(!now[0].outcomes[0].pass());
        // 48 of 50 is within chance (p = 0.25): it passes.
        let mut now = [suite(48, 0)];
        saved.compare(&mut now);
        assert!(now[0].outcomes[0].pass());
        // A rise in caught is the right way: never significant.
        let low = Baseline::of(&[suite(40, 0)]);
        let mut now = [suite(50, 0)];
        low.compare(&mut now);
        assert!(
            !now[0].outcomes[0].judged[0]
                .baseline
                .as_ref()
                .unwrap()
                .significant
        );
    }

    #[test]
    fn a_baseline_of_another_version_or_with_k_above_n_is_refused() {
        let good = Baseline::of(&[suite(50, 0)]).to_json();
        assert!(Baseline::from_json(&good).is_ok());
        let other = good.replace("\"canarysim_baseline\": 1", "\"canarysim_baseline\": 99");
        assert_ne!(other, good);
        let e = Baseline::from_json(&other).unwrap_err();
        assert!(e.contains("canarysim_baseline 99"), "{e}");
        let mut b = Baseline::from_json(&good).unwrap();
        b.figures[0].k = b.figures[0].n + 3;
        let e = Baseline::from_json(&b.to_json()).unwrap_err();
        assert!(e.contains("above n"), "{e}");
    }

    #[test]
    fn an_upper_bound_fails_when_its_rate_rose_significantly() {
        let saved = Baseline::of(&[suite(50, 0)]);
        // False aborts 0/50 → 8/50: still <= 0.5, but up (p ≈ 0.003).
        let mut now = [suite(50, 8)];
        saved.compare(&mut now);
        let j = &now[0].outcomes[0].judged[1];
        assert!(j.pass && !j.ok(), "{j:?}");
    }

    #[test]
    fn figures_of_another_file_or_expectation_are_not_compared() {
        let mut other = Baseline::of(&[suite(50, 0)]);
        for f in &mut other.figures {
            f.suite = "elsewhere.toml".into();
        }
        let mut now = [suite(43, 0)];
        other.compare(&mut now);
        assert!(
            now[0].outcomes[0]
                .judged
                .iter()
                .all(|j| j.baseline.is_none())
        );
        assert!(Baseline::from_json("{").unwrap_err().starts_with("1:"));
    }
}
