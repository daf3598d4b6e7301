//! The expectations file of `canarysim check`, read into a [`CheckSpec`].
//!
//! ```toml
//! schema = 1
//! runs = 50                  # seeds per expectation, from `seed` (default 1)
//! confidence = 0.95          # optional: judge rates by their whole interval
//!
//! [[expect]]
//! scenario = "../checkout-leak.toml"   # relative to this file
//! policy = "memory-trend"
//! caught = ">= 0.95"
//! time_to_detect_p90 = "<= 10m"
//! aborted_by = { "canary-memory-trend/memory-limit-within-1h" = ">= 0.9" }
//!
//! [[expect]]
//! lint = ["../argo/common/", "../argo/trend/"]
//! warnings = "== 0"
//! ```
//!
//! In: the file's text. Out: a [`CheckSpec`] whose [`Expectation`]s each
//! carry the `file:line` of their `[[expect]]` header, and whose
//! [`Bound`]s carry the line of their own key, so every figure can be
//! pointed back at. A `set = { … }` table becomes [`Override`]s located at
//! their values. Every error is a [`Diagnostic`] with file, line and
//! column. Neighbours: [`super::measure`] defines what a bound measures and
//! judges it; [`super`] loads the scenarios and runs them.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::measure::{Bound, Cmp, Measure};
use crate::diag::{Diagnostic, Location};
use crate::outcome::Verdict;
use crate::scenario::{Override, Seed};

/// Seeds per expectation when the file does not say.
pub const DEFAULT_RUNS: u64 = 50;

/// The most seeds one expectation may ask for.
pub const MAX_RUNS: u64 = 1_000_000;

const HINT: &str =
    "a check file has schema, runs, seed, confidence and [[expect]] tables (docs/check.md)";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct CheckFile {
    schema: Spanned<i64>,
    runs: Option<Spanned<i64>>,
    seed: Option<Seed>,
    confidence: Option<Spanned<f64>>,
    #[serde(default)]
    expect: Vec<Spanned<ExpectFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct ExpectFile {
    name: Option<String>,
    scenario: Option<Spanned<String>>,
    policy: Option<Spanned<String>>,
    #[serde(default)]
    set: BTreeMap<String, Spanned<toml::Value>>,
    confidence: Option<Spanned<f64>>,
    lint: Option<Spanned<Vec<Spanned<String>>>>,
    caught: Option<Spanned<toml::Value>>,
    missed: Option<Spanned<toml::Value>>,
    promoted: Option<Spanned<toml::Value>>,
    false_abort: Option<Spanned<toml::Value>>,
    undecided: Option<Spanned<toml::Value>>,
    time_to_detect_p50: Option<Spanned<toml::Value>>,
    time_to_detect_p90: Option<Spanned<toml::Value>>,
    rollout_duration_p50: Option<Spanned<toml::Value>>,
    rollout_duration_p90: Option<Spanned<toml::Value>>,
    failed_requests: Option<Spanned<toml::Value>>,
    failed_requests_before_verdict: Option<Spanned<toml::Value>>,
    failed_requests_after_promotion: Option<Spanned<toml::Value>>,
    oom_kills: Option<Spanned<toml::Value>>,
    #[serde(default)]
    aborted_by: BTreeMap<String, Spanned<toml::Value>>,
    errors: Option<Spanned<toml::Value>>,
    warnings: Option<Spanned<toml::Value>>,
}

/// What an expectation is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A policy run on a scenario over the file's seeds.
    Run {
        /// The scenario file as written (relative to the check file).
        scenario: String,
        /// The policy's name.
        policy: String,
        /// The `set = { … }` overrides, in key order.
        set: Vec<Override>,
    },
    /// `canarysim lint` over these paths (relative to the check file).
    Lint {
        /// The paths as written.
        paths: Vec<String>,
    },
}

/// One `[[expect]]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// Its position in the file, from 0.
    pub index: usize,
    /// Where its `[[expect]]` header is.
    pub at: Location,
    /// Its `name`, if it has one.
    pub name: Option<String>,
    /// What it is about.
    pub subject: Subject,
    /// What must hold, in the order of [`Measure::KEYS`] (then `aborted_by`).
    pub bounds: Vec<Bound>,
    /// The confidence rates are judged at (its own, else the file's).
    pub confidence: Option<f64>,
}

impl Expectation {
    /// `scenario/policy` (the scenario's file stem), or `lint`: JUnit's classname.
    pub fn classname(&self) -> String {
        match &self.subject {
            Subject::Run {
                scenario, policy, ..
            } => {
                let stem = std::path::Path::new(scenario)
                    .file_stem()
                    .map_or_else(|| scenario.clone(), |s| s.to_string_lossy().into_owned());
                format!("{stem}/{policy}")
            }
            Subject::Lint { .. } => "lint".to_string(),
        }
    }

    /// Its name, else what it checks (`caught >= 0.95, …` or `lint a/, b/`).
    pub fn title(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        let bounds: Vec<String> = self.bounds.iter().map(Bound::text).collect();
        match &self.subject {
            Subject::Run { set, .. } if !set.is_empty() => {
                let set: Vec<String> = set.iter().map(Override::text).collect();
                format!("{} (set {})", bounds.join(", "), set.join(", "))
            }
            Subject::Run { .. } => bounds.join(", "),
            Subject::Lint { paths } => format!("lint {}: {}", paths.join(" "), bounds.join(", ")),
        }
    }
}

/// A check file.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec {
    /// The file as named (for messages and JUnit's testsuite).
    pub file: String,
    /// Seeds per expectation.
    pub runs: u64,
    /// The first seed.
    pub seed: u64,
    /// The expectations, in file order.
    pub expectations: Vec<Expectation>,
}

impl CheckSpec {
    /// Reads a check file's text; `file` names it in messages.
    pub fn parse(file: &str, text: &str) -> Result<CheckSpec, Diagnostic> {
        let at = |offset: usize| Location::at_offset(file, text, offset);
        let f: CheckFile = toml::from_str(text).map_err(|e| {
            let message = crate::scenario::plain_types(e.message().trim());
            let hint = if message.starts_with("unknown field") {
                "remove the key or fix its spelling; docs/check.md lists every measure"
            } else {
                HINT
            };
            Diagnostic::new(at(e.span().map_or(0, |s| s.start)), message, hint)
        })?;
        if *f.schema.get_ref() != 1 {
            return Err(Diagnostic::new(
                at(f.schema.span().start),
                format!("schema version {} is not supported", f.schema.get_ref()),
                "this canarysim reads schema = 1",
            ));
        }
        let runs = match &f.runs {
            None => DEFAULT_RUNS,
            Some(r) if (1..=MAX_RUNS as i64).contains(r.get_ref()) => *r.get_ref() as u64,
            Some(r) => {
                return Err(Diagnostic::new(
                    at(r.span().start),
                    format!("runs = {} is outside 1..={MAX_RUNS}", r.get_ref()),
                    "write runs = 50",
                ));
            }
        };
        let seed = f.seed.map_or(1, |s| s.0);
        let confidence = f
            .confidence
            .as_ref()
            .map(|c| confidence(file, text, c))
            .transpose()?;
        if f.expect.is_empty() {
            return Err(Diagnostic::new(
                Location::start_of(file),
                "the file has no [[expect]] table",
                "add [[expect]] with scenario, policy and a measure such as caught = \">= 0.95\"",
            ));
        }
        let mut expectations = Vec::new();
        for (index, e) in f.expect.iter().enumerate() {
            expectations.push(expectation(file, text, index, e, confidence)?);
        }
        Ok(CheckSpec {
            file: file.to_string(),
            runs,
            seed,
            expectations,
        })
    }
}

fn confidence(file: &str, text: &str, c: &Spanned<f64>) -> Result<f64, Diagnostic> {
    let v = *c.get_ref();
    if v > 0.0 && v < 1.0 {
        Ok(v)
    } else {
        Err(Diagnostic::new(
            Location::at_offset(file, text, c.span().start),
            format!("confidence = {v} is not between 0 and 1"),
            "write confidence = 0.95",
        ))
    }
}

fn expectation(
    file: &str,
    text: &str,
    index: usize,
    e: &Spanned<ExpectFile>,
    file_confidence: Option<f64>,
) -> Result<Expectation, Diagnostic> {
    let at = |offset: usize| Location::at_offset(file, text, offset);
    let head = at(e.span().start);
    let f = e.get_ref();
    let measures: [(&str, &Option<Spanned<toml::Value>>); 15] = [
        ("caught", &f.caught),
        ("missed", &f.missed),
        ("promoted", &f.promoted),
        ("false_abort", &f.false_abort),
        ("undecided", &f.undecided),
        ("time_to_detect_p50", &f.time_to_detect_p50),
        ("time_to_detect_p90", &f.time_to_detect_p90),
        ("rollout_duration_p50", &f.rollout_duration_p50),
        ("rollout_duration_p90", &f.rollout_duration_p90),
        ("failed_requests", &f.failed_requests),
        (
            "failed_requests_before_verdict",
            &f.failed_requests_before_verdict,
        ),
        (
            "failed_requests_after_promotion",
            &f.failed_requests_after_promotion,
        ),
        ("oom_kills", &f.oom_kills),
        ("errors", &f.errors),
        ("warnings", &f.warnings),
    ];
    let mut bounds = Vec::new();
    for (key, value) in measures {
        if let Some(v) = value {
            let m = Measure::from_key(key).expect("invariant: every key above is a measure");
            bounds.push(bound(file, text, m, v)?);
        }
    }
    for (gate, v) in &f.aborted_by {
        if !gate.contains('/') {
            return Err(Diagnostic::new(
                at(v.span().start),
                format!("aborted_by key {gate:?} is not TEMPLATE/METRIC"),
                "write aborted_by = { \"canary-memory-trend/memory-limit-within-1h\" = \">= 0.9\" }",
            ));
        }
        bounds.push(bound(file, text, Measure::AbortedBy(gate.clone()), v)?);
    }
    let confidence = match &f.confidence {
        Some(c) => Some(confidence(file, text, c)?),
        None => file_confidence,
    };
    let subject = match (&f.lint, &f.scenario, &f.policy) {
        (Some(paths), None, None) => {
            if !f.set.is_empty() {
                return Err(Diagnostic::new(
                    head,
                    "a lint expectation takes no `set`",
                    "overrides change a run; lint checks the files as written",
                ));
            }
            if paths.get_ref().is_empty() {
                return Err(Diagnostic::new(
                    at(paths.span().start),
                    "lint is empty",
                    "list manifest directories or files, relative to this file",
                ));
            }
            if let Some(b) = bounds.iter().find(|b| !b.measure.is_lint()) {
                return Err(Diagnostic::new(
                    b.at.clone(),
                    format!("{} is not a measure of lint", b.measure.key()),
                    "a lint expectation takes `errors` and `warnings`",
                ));
            }
            // No lint errors unless the file says otherwise.
            if !bounds.iter().any(|b| b.measure == Measure::LintErrors) {
                bounds.insert(
                    0,
                    Bound {
                        measure: Measure::LintErrors,
                        cmp: Cmp::Eq,
                        value: 0.0,
                        written: "== 0".into(),
                        at: head.clone(),
                    },
                );
            }
            Subject::Lint {
                paths: paths
                    .get_ref()
                    .iter()
                    .map(|p| p.get_ref().clone())
                    .collect(),
            }
        }
        (None, Some(scenario), Some(policy)) => {
            if let Some(b) = bounds.iter().find(|b| b.measure.is_lint()) {
                return Err(Diagnostic::new(
                    b.at.clone(),
                    format!("{} is a measure of lint", b.measure.key()),
                    "give `lint = [...]` in its own [[expect]]",
                ));
            }
            if bounds.is_empty() {
                return Err(Diagnostic::new(
                    head,
                    "this expectation states no measure",
                    format!("add one of {}, or aborted_by = {{ … }}", run_keys()),
                ));
            }
            let set = f
                .set
                .iter()
                .map(|(path, v)| Override::with_value(path, v.get_ref(), at(v.span().start)))
                .collect();
            Subject::Run {
                scenario: scenario.get_ref().clone(),
                policy: policy.get_ref().clone(),
                set,
            }
        }
        (None, None, Some(_)) | (None, Some(_), None) | (None, None, None) => {
            return Err(Diagnostic::new(
                head,
                "an expectation needs both `scenario` and `policy` (or `lint = [...]`)",
                "write scenario = \"../checkout-leak.toml\" and policy = \"memory-trend\"",
            ));
        }
        (Some(paths), _, _) => {
            return Err(Diagnostic::new(
                at(paths.span().start),
                "an expectation is either `lint = [...]` or a scenario and policy, not both",
                "split it into two [[expect]] tables",
            ));
        }
    };
    Ok(Expectation {
        index,
        at: head,
        name: f.name.clone(),
        subject,
        bounds,
        confidence,
    })
}

fn run_keys() -> String {
    Measure::KEYS
        .iter()
        .filter(|k| !matches!(**k, "errors" | "warnings"))
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

fn bound(
    file: &str,
    text: &str,
    measure: Measure,
    v: &Spanned<toml::Value>,
) -> Result<Bound, Diagnostic> {
    let at = Location::at_offset(file, text, v.span().start);
    let key = measure.key();
    let toml::Value::String(s) = v.get_ref() else {
        return Err(Diagnostic::new(
            at,
            format!("{key} = {} has no comparator", v.get_ref()),
            format!(
                "write it as a string with one of >=, <=, ==, <, >: {key} = \"{}\"",
                measure.example()
            ),
        ));
    };
    let (cmp, rest) = Cmp::split(s).ok_or_else(|| {
        Diagnostic::new(
            at.clone(),
            format!("{key} = {s:?} does not start with a comparator"),
            format!(
                "start with one of >=, <=, ==, <, >: {key} = \"{}\"",
                measure.example()
            ),
        )
    })?;
    let value = measure.parse_value(rest.trim()).map_err(|why| {
        Diagnostic::new(
            at.clone(),
            format!("{key} = {s:?}: {why}"),
            format!("write e.g. {key} = \"{}\"", measure.example()),
        )
    })?;
    Ok(Bound {
        measure,
        cmp,
        value,
        written: s.trim().to_string(),
        at,
    })
}

/// The verdict a share measure counts, by key.
pub(super) fn verdict_of(key: &str) -> Option<Verdict> {
    Some(match key {
        "caught" => Verdict::Caught,
        "missed" => Verdict::Missed,
        "promoted" => Verdict::Promoted,
        "false_abort" => Verdict::FalseAbort,
        "undecided" => Verdict::Undecided,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"schema = 1
runs = 20
seed = 7

[[expect]]
scenario = "../leak.toml"
policy = "trend"
caught = ">= 0.95"
time_to_detect_p90 = "<= 10m"
aborted_by = { "tpl/m" = ">= 0.9" }

[[expect]]
name = "good stays promoted"
scenario = "../good.toml"
policy = "trend"
set = { "policy.trend.metric.m.failureLimit" = 1, "traffic.rate" = 120 }
confidence = 0.9
false_abort = "<= 0.02"
undecided = "== 0"

[[expect]]
lint = ["../argo/"]
warnings = "== 0"
"#;

    #[test]
    fn a_value_of_the_wrong_type_is_named_in_the_files_words() {
        for (text, words) in [
            ("schema = 1\nruns = 2.5\n", "expected a whole number"),
            ("schema = 1\nexpect = [3]\n", "expected a table"),
        ] {
            let e = CheckSpec::parse("c.toml", text).unwrap_err();
            assert!(e.message.ends_with(words), "{}", e.message);
        }
    }

    #[test]
    fn a_seed_past_i64_max_is_taken_quoted_as_a_scenario_takes_it() {
        let with = |seed: &str| FILE.replacen("seed = 7", &format!("seed = {seed}"), 1);
        assert!(FILE.contains("seed = 7"));
        let s = CheckSpec::parse("c.toml", &with("\"18446744073709551615\"")).unwrap();
        assert_eq!(s.seed, u64::MAX);
        let s = CheckSpec::parse("c.toml", &with("\"9223372036854775808\"")).unwrap();
        assert_eq!(s.seed, 1 << 63);
        for bad in ["-1", "\"-1\"", "\"18446744073709551616\"", "1.5"] {
            let e = CheckSpec::parse("c.toml", &with(bad)).unwrap_err();
            assert!(e.message.contains("a seed"), "{bad}: {e}");
            assert_eq!(e.location.line, 3, "{bad}: {e}");
        }
    }

    #[test]
    fn expectations_and_measures_are_located_at_their_lines() {
        let s = CheckSpec::parse("c.toml", FILE).unwrap();
        assert_eq!((s.runs, s.seed), (20, 7));
        assert_eq!(s.expectations.len(), 3);
        let e = &s.expectations[0];
        assert_eq!(e.at.line, 5);
        let lines: Vec<usize> = e.bounds.iter().map(|b| b.at.line).collect();
        assert_eq!(lines, [8, 9, 10]);
        assert_eq!(e.bounds[1].value, 600.0);
        assert_eq!(e.bounds[2].measure, Measure::AbortedBy("tpl/m".into()));
        assert_eq!(e.classname(), "leak/trend");
        let g = &s.expectations[1];
        assert_eq!(g.confidence, Some(0.9));
        assert_eq!(s.expectations[0].confidence, None);
        let set: Vec<String> = match &g.subject {
            Subject::Run { set, .. } => set.iter().map(Override::text).collect(),
            _ => panic!("not a run"),
        };
        assert_eq!(
            set,
            ["policy.trend.metric.m.failureLimit=1", "traffic.rate=120"]
        );
        assert_eq!(g.title(), "good stays promoted");
        // A lint expectation requires no errors even when it does not say so.
        let l = &s.expectations[2];
        assert_eq!(l.bounds[0].measure, Measure::LintErrors);
        assert_eq!(l.bounds[1].measure, Measure::LintWarnings);
        assert_eq!(l.at.line, 21);
    }

    fn error(text: &str) -> Diagnostic {
        CheckSpec::parse("c.toml", text).unwrap_err()
    }

    #[test]
    fn bad_files_are_refused_at_the_line_and_column_at_fault() {
        let e = error(&FILE.replace("caught = \">= 0.95\"", "caugth = \">= 0.95\""));
        assert_eq!((e.location.line, e.location.column), (8, 1), "{e}");
        assert!(e.message.contains("unknown field"), "{e}");

        let e = error(&FILE.replace("\">= 0.95\"", "\"at least 0.95\""));
        assert_eq!((e.location.line, e.location.column), (8, 10), "{e}");
        assert!(e.message.contains("comparator"), "{e}");

        let e = error(&FILE.replace("\"<= 10m\"", "\"<= ten minutes\""));
        assert_eq!(e.location.line, 9, "{e}");

        let e = error(&FILE.replace("\">= 0.95\"", "0.95"));
        assert!(e.message.contains("no comparator"), "{e}");
        assert_eq!(e.location.line, 8);

        let e = error(&FILE.replace("\">= 0.95\"", "\">= 1.5\""));
        assert!(e.message.contains("between 0 and 1"), "{e}");

        let e = error(&FILE.replace("confidence = 0.9", "confidence = 95"));
        assert_eq!(e.location.line, 17, "{e}");

        let e = error(&FILE.replace("policy = \"trend\"\ncaught", "caught"));
        assert_eq!(e.location.line, 5, "{e}");
        assert!(e.message.contains("both `scenario` and `policy`"), "{e}");

        let e = error(&FILE.replace("warnings = \"== 0\"", "caught = \">= 1\""));
        assert_eq!(e.location.line, 23, "{e}");

        let e = error(&FILE.replace("\"tpl/m\"", "\"tplm\""));
        assert_eq!(e.location.line, 10, "{e}");

        let e = error(&FILE.replace("runs = 20", "runs = 0"));
        assert_eq!(e.location.line, 2, "{e}");

        let e = error(&FILE.replace("schema = 1", "schema = 2"));
        assert!(e.message.contains("schema version 2"), "{e}");

        let e = error("schema = 1\n");
        assert!(e.message.contains("no [[expect]]"), "{e}");

        let e = error("schema = 1\n[[expect]]\nscenario = \"a.toml\"\npolicy = \"p\"\n");
        assert!(e.message.contains("no measure"), "{e}");
        assert_eq!(e.location.line, 2);

        let e = error("schema = 1\n[[expect\n");
        assert_eq!(e.location.line, 2, "{e}");
    }
}
