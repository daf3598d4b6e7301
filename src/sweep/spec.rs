//! The sweep file, and the cells it describes.
//!
//! ```toml
//! schema = 1
//! scenarios = ["../checkout-leak.toml", "../checkout-good.toml"]
//! policies = ["memory-trend"]          # default: every policy of each scenario
//! runs = 100
//! seed = 1
//! [[axis]]
//! set = "policy.memory-trend.metric.memory-limit-within-1h.failureLimit"
//! values = [0, 1, 2]
//! [[axis]]
//! zip = { "traffic.rate" = [60, 120], "rollout.replicas" = [5, 10] }
//! ```
//!
//! In: the file's text (or the same from `--vary` flags). Out: a
//! [`SweepSpec`] whose [`SweepSpec::variants`] are the product of the axes,
//! each a list of [`Override`]s located at the value in the file. Errors
//! name the file, line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::diag::{Diagnostic, Location};
use crate::scenario::{Override, Seed};

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct SweepFile {
    schema: i64,
    scenarios: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    policies: Vec<Spanned<String>>,
    runs: Option<Spanned<i64>>,
    seed: Option<Seed>,
    #[serde(default)]
    axis: Vec<Spanned<AxisFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct AxisFile {
    set: Option<Spanned<String>>,
    values: Option<Spanned<Vec<Spanned<toml::Value>>>>,
    zip: Option<BTreeMap<String, Spanned<Vec<Spanned<toml::Value>>>>>,
}

/// One axis: one or more paths that move together through their values.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The paths, in the order written (one for `set`, several for `zip`).
    pub paths: Vec<String>,
    /// `values[i][j]`: the i-th step of the axis, for the j-th path.
    pub values: Vec<Vec<Override>>,
}

/// A sweep: scenarios × policies × the product of the axes × seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// The file it was read from (or `--vary`), for the JSON's `sweep.file`.
    pub file: String,
    /// Scenario paths as written, resolved against the file's directory.
    pub scenarios: Vec<String>,
    /// Policies by name; empty means every policy of each scenario.
    pub policies: Vec<String>,
    /// Seeds per cell.
    pub runs: u64,
    /// The first seed.
    pub seed: u64,
    /// The axes.
    pub axes: Vec<Axis>,
}

/// How many cells × seeds one sweep may hold.
pub const MAX_RUNS: u64 = 10_000_000;

fn at(file: &str, text: &str, offset: usize) -> Location {
    Location::at_offset(file, text, offset)
}

impl SweepSpec {
    /// Reads a sweep file's text. `file` names it in messages.
    pub fn parse(file: &str, text: &str) -> Result<SweepSpec, Diagnostic> {
        let f: SweepFile = toml::from_str(text).map_err(|e| {
            Diagnostic::new(
                at(file, text, e.span().map_or(0, |s| s.start)),
                crate::scenario::plain_types(e.message().trim()),
                "a sweep file has schema, scenarios, policies, runs, seed and [[axis]] tables (docs/sweep.md)",
            )
        })?;
        if f.schema != 1 {
            return Err(Diagnostic::new(
                Location::start_of(file),
                format!("schema version {} is not supported", f.schema),
                "this canarysim reads schema = 1",
            ));
        }
        if f.scenarios.get_ref().is_empty() {
            return Err(Diagnostic::new(
                at(file, text, f.scenarios.span().start),
                "scenarios is empty",
                "name at least one scenario file, relative to this file",
            ));
        }
        let positive = |v: &Option<Spanned<i64>>, name: &str, default: u64, min: i64| match v {
            None => Ok(default),
            Some(s) if *s.get_ref() >= min => Ok(*s.get_ref() as u64),
            Some(s) => Err(Diagnostic::new(
                at(file, text, s.span().start),
                format!("{name} = {} is below {min}", s.get_ref()),
                format!("write {name} = 100"),
            )),
        };
        let runs = positive(&f.runs, "runs", 100, 1)?;
        let seed = f.seed.map_or(1, |s| s.0);
        let mut axes = Vec::new();
        for a in &f.axis {
            axes.push(axis(file, text, a)?);
        }
        distinct_values(&axes)?;
        distinct_paths(&axes)?;
        let spec = SweepSpec {
            file: file.to_string(),
            scenarios: f
                .scenarios
                .into_inner()
                .into_iter()
                .map(Spanned::into_inner)
                .collect(),
            policies: f.policies.into_iter().map(Spanned::into_inner).collect(),
            runs,
            seed,
            axes,
        };
        spec.check_size(Location::start_of(file))?;
        Ok(spec)
    }

    /// A sweep from flags: `--vary PATH=V1,V2,…` (each an axis).
    pub fn from_flags(
        scenarios: Vec<String>,
        policies: Vec<String>,
        vary: &[String],
        runs: u64,
        seed: u64,
    ) -> Result<SweepSpec, Diagnostic> {
        let mut axes = Vec::new();
        for v in vary {
            let origin = Override::command_line("--vary");
            let o = Override::parse_at(v, origin.clone())?;
            let values: Vec<Vec<Override>> = split_values(&o.value)
                .into_iter()
                .map(|x| {
                    vec![Override {
                        path: o.path.clone(),
                        value: x.trim().to_string(),
                        origin: origin.clone(),
                    }]
                })
                .collect();
            axes.push(Axis {
                paths: vec![o.path.clone()],
                values,
            });
        }
        distinct_values(&axes)?;
        distinct_paths(&axes)?;
        let spec = SweepSpec {
            file: "--vary".into(),
            scenarios,
            policies,
            runs,
            seed,
            axes,
        };
        spec.check_size(Override::command_line("--runs"))?;
        Ok(spec)
    }

    /// Refuses a sweep of more than [`MAX_RUNS`] runs per policy (checked
    /// again by callers that change `runs` after reading the file).
    pub fn check_size(&self, origin: Location) -> Result<(), Diagnostic> {
        let total = self
            .axes
            .iter()
            .try_fold(self.runs, |n, a| n.checked_mul(a.values.len() as u64));
        let total = total.and_then(|n| n.checked_mul(self.scenarios.len() as u64));
        match total {
            Some(n) if n <= MAX_RUNS => Ok(()),
            _ => Err(Diagnostic::new(
                origin,
                format!("the sweep asks for more than {MAX_RUNS} runs per policy"),
                "fewer axis values or runs; or split the sweep with --shard K/N",
            )),
        }
    }

    /// Every combination of the axes' values (the first axis varies
    /// slowest), each as its overrides; one empty combination without axes.
    pub fn variants(&self) -> Vec<Vec<Override>> {
        let mut out: Vec<Vec<Override>> = vec![Vec::new()];
        for a in &self.axes {
            let mut next = Vec::with_capacity(out.len() * a.values.len());
            for prefix in &out {
                for step in &a.values {
                    let mut v = prefix.clone();
                    v.extend(step.iter().cloned());
                    next.push(v);
                }
            }
            out = next;
        }
        out
    }
}

/// Splits `--vary`'s `V1,V2,…` at the commas that stand outside brackets,
/// braces, parentheses and quotes, so that an inline table
/// (`{checkout=1,browse=2}`), an array or a condition (`default(x, 0) < 1`)
/// stays one value.
fn split_values(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut current = String::new();
    for c in text.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '[' | '{' | '(' => depth += 1,
                ']' | '}' | ')' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    out.push(current.trim().to_string());
                    current.clear();
                    continue;
                }
                _ => {}
            },
        }
        current.push(c);
    }
    out.push(current.trim().to_string());
    out
}

/// A value as the scenario will read it: a TOML literal, else text.
fn value_of(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

/// Whether two values of one path are the same setting: numbers by value
/// (`60` and `60.0`), durations by length (`1m` and `60s`), anything else
/// as TOML values (an inline table's keys in any order).
fn same_value(a: &str, b: &str) -> bool {
    use crate::sim::SimDuration;
    match (value_of(a), value_of(b)) {
        // Integers exactly: seeds past 2^53 differ where their f64s do not.
        (toml::Value::Integer(x), toml::Value::Integer(y)) => x == y,
        (
            x @ (toml::Value::Integer(_) | toml::Value::Float(_)),
            y @ (toml::Value::Integer(_) | toml::Value::Float(_)),
        ) => {
            let f = |v: &toml::Value| v.as_float().or(v.as_integer().map(|i| i as f64));
            f(&x) == f(&y)
        }
        (toml::Value::String(x), toml::Value::String(y)) => {
            x == y
                || matches!(
                    (SimDuration::parse(&x), SimDuration::parse(&y)),
                    (Ok(p), Ok(q)) if p == q
                )
        }
        (x, y) => x == y,
    }
}

/// Refuses a value an axis gives twice (by value: `60` and `60.0` are one
/// setting): both would run the same cell, which the sweep would either
/// run twice or show once, so neither count of cells would be what the
/// axis looks like.
fn distinct_values(axes: &[Axis]) -> Result<(), Diagnostic> {
    for a in axes {
        for (i, step) in a.values.iter().enumerate() {
            let Some(earlier) = a.values[..i].iter().find(|e| {
                e.len() == step.len()
                    && e.iter()
                        .zip(step)
                        .all(|(x, y)| x.path == y.path && same_value(&x.value, &y.value))
            }) else {
                continue;
            };
            let text = |s: &[Override]| {
                s.iter()
                    .map(|o| o.value.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let origin = step
                .first()
                .map_or_else(|| Override::command_line("--vary"), |o| o.origin.clone());
            let same = if text(step).trim().is_empty() {
                "an empty value is given twice (two commas in a row?)".to_string()
            } else if text(earlier) == text(step) {
                format!("{} is given twice", text(step))
            } else {
                format!("{} and {} are the same value", text(earlier), text(step))
            };
            return Err(Diagnostic::new(
                origin,
                format!("the axis on {}: {same}", a.paths.join(", ")),
                "give each value once: each is one cell of the sweep",
            ));
        }
    }
    Ok(())
}

/// Refuses a path that two axes vary: the product would pair each value of
/// one with each of the other and the later override would win, so the
/// cells would silently be fewer than they look.
fn distinct_paths(axes: &[Axis]) -> Result<(), Diagnostic> {
    for (i, a) in axes.iter().enumerate() {
        for path in &a.paths {
            if axes[..i].iter().any(|b| b.paths.contains(path)) {
                let origin = a
                    .values
                    .iter()
                    .flatten()
                    .next()
                    .map_or_else(|| Override::command_line("--vary"), |o| o.origin.clone());
                return Err(Diagnostic::new(
                    origin,
                    format!("{path} is varied by two axes"),
                    format!("give its values once, in one axis (e.g. --vary {path}=V1,V2)"),
                ));
            }
        }
    }
    Ok(())
}

fn axis(file: &str, text: &str, a: &Spanned<AxisFile>) -> Result<Axis, Diagnostic> {
    let start = a.span().start;
    let a = a.get_ref();
    let value_overrides = |path: &str, values: &Spanned<Vec<Spanned<toml::Value>>>| {
        values
            .get_ref()
            .iter()
            .map(|v| Override::with_value(path, v.get_ref(), at(file, text, v.span().start)))
            .collect::<Vec<_>>()
    };
    match (&a.set, &a.values, &a.zip) {
        (Some(set), Some(values), None) => {
            if values.get_ref().is_empty() {
                return Err(Diagnostic::new(
                    at(file, text, values.span().start),
                    "values is empty",
                    "give the axis at least one value",
                ));
            }
            let path = set.get_ref().trim().to_string();
            Ok(Axis {
                paths: vec![path.clone()],
                values: value_overrides(&path, values)
                    .into_iter()
                    .map(|o| vec![o])
                    .collect(),
            })
        }
        (None, None, Some(zip)) => {
            let lens: Vec<usize> = zip.values().map(|v| v.get_ref().len()).collect();
            if zip.is_empty() || lens.iter().any(|&n| n != lens[0] || n == 0) {
                return Err(Diagnostic::new(
                    at(file, text, start),
                    "zip needs one or more paths, each with the same number of values (at least one)",
                    "write zip = { \"traffic.rate\" = [60, 120], \"rollout.replicas\" = [5, 10] }",
                ));
            }
            let columns: Vec<Vec<Override>> = zip
                .iter()
                .map(|(path, values)| value_overrides(path, values))
                .collect();
            Ok(Axis {
                paths: zip.keys().cloned().collect(),
                values: (0..lens[0])
                    .map(|i| columns.iter().map(|c| c[i].clone()).collect())
                    .collect(),
            })
        }
        _ => Err(Diagnostic::new(
            at(file, text, start),
            "an axis has either `set` and `values`, or `zip`",
            "write set = \"traffic.rate\" with values = [60, 120], or zip = { … }",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"schema = 1
scenarios = ["a.toml", "b.toml"]
runs = 10
[[axis]]
set = "policy.p.metric.m.failureLimit"
values = [0, 1, 2]
[[axis]]
zip = { "traffic.rate" = [60, 120], "rollout.replicas" = [5, 10] }
"#;

    #[test]
    fn a_value_of_the_wrong_type_is_named_in_the_files_words() {
        for (text, words) in [
            (
                "schema = 1\nscenarios = [\"a.toml\"]\nruns = \"x\"\n",
                "expected a whole number",
            ),
            (
                "schema = 1\nscenarios = [\"a.toml\"]\naxis = [1]\n",
                "expected a table",
            ),
        ] {
            let e = SweepSpec::parse("s.toml", text).unwrap_err();
            assert!(e.message.ends_with(words), "{}", e.message);
        }
    }

    fn vary(flags: &[&str]) -> Result<SweepSpec, Diagnostic> {
        let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        SweepSpec::from_flags(vec!["a.toml".into()], vec![], &flags, 1, 1)
    }

    #[test]
    fn vary_keeps_an_inline_table_array_or_call_whole() {
        let s = vary(&[
            "traffic.mix={checkout=1,browse=2}, {checkout=2, browse=1}",
            "policy.p.metric.m.successCondition=default(result, 0) < 1,\"a,b\" == \"c\"",
            "traffic.rate=60,120",
        ])
        .unwrap();
        let values: Vec<Vec<&str>> = s
            .axes
            .iter()
            .map(|a| a.values.iter().map(|v| v[0].value.as_str()).collect())
            .collect();
        assert_eq!(
            values,
            [
                vec!["{checkout=1,browse=2}", "{checkout=2, browse=1}"],
                vec!["default(result, 0) < 1", "\"a,b\" == \"c\""],
                vec!["60", "120"],
            ]
        );
    }

    #[test]
    fn vary_refuses_a_value_given_twice_by_value() {
        for (flag, says) in [
            ("traffic.rate=60,60", "60 is given twice"),
            ("traffic.rate=60,,,", "an empty value is given twice"),
            ("traffic.rate=60.0,60", "60.0 and 60 are the same value"),
            ("simulation.soak=1m,60s", "1m and 60s are the same value"),
            ("traffic.mix={a=1,b=2},{b=2,a=1}", "are the same value"),
        ] {
            let e = vary(&[flag]).unwrap_err();
            assert!(e.message.contains(says), "{flag}: {e}");
            assert_eq!(e.location.file, "--vary");
        }
        assert!(vary(&["traffic.rate=60,61,60.5"]).is_ok());
        // Whole numbers compare exactly, past where f64 rounds them alike.
        assert!(vary(&["simulation.seed=9007199254740992,9007199254740993"]).is_ok());
    }

    #[test]
    fn a_sweep_file_axis_refuses_a_value_given_twice_at_its_line() {
        let text = "schema = 1\nscenarios = [\"a.toml\"]\n[[axis]]\nset = \"traffic.rate\"\nvalues = [60,\n  60.0]\n";
        let e = SweepSpec::parse("s.toml", text).unwrap_err();
        assert!(e.message.contains("60 and 60.0 are the same value"), "{e}");
        assert_eq!((e.location.line, e.location.column), (6, 3), "{e}");
    }

    #[test]
    fn a_seed_past_i64_max_is_taken_quoted_as_a_scenario_takes_it() {
        let with = |seed: &str| FILE.replacen("runs = 10", &format!("runs = 10\nseed = {seed}"), 1);
        let s = SweepSpec::parse("s.toml", &with("\"18446744073709551615\"")).unwrap();
        assert_eq!(s.seed, u64::MAX);
        assert_eq!(SweepSpec::parse("s.toml", &with("3")).unwrap().seed, 3);
        assert_eq!(SweepSpec::parse("s.toml", FILE).unwrap().seed, 1);
        for bad in ["-1", "\"x\"", "\"18446744073709551616\""] {
            let e = SweepSpec::parse("s.toml", &with(bad)).unwrap_err();
            assert!(e.message.contains("a seed"), "{bad}: {e}");
            assert_eq!(e.location.line, 4, "{bad}: {e}");
        }
    }

    #[test]
    fn axes_multiply_and_zipped_paths_move_together() {
        let s = SweepSpec::parse("s.toml", FILE).unwrap();
        let v = s.variants();
        assert_eq!(v.len(), 6);
        assert_eq!(v[0].len(), 3);
        let text: Vec<String> = v[5].iter().map(Override::text).collect();
        assert_eq!(
            text,
            [
                "policy.p.metric.m.failureLimit=2",
                "rollout.replicas=10",
                "traffic.rate=120"
            ]
        );
        // Each value is located where the file writes it.
        assert_eq!(v[1][0].origin.line, 6);
    }

    #[test]
    fn a_path_varied_by_two_axes_is_refused_at_the_second() {
        // In a file: the zipped traffic.rate again as an axis of its own.
        let twice = format!("{FILE}[[axis]]\nset = \"traffic.rate\"\nvalues = [30]\n");
        let e = SweepSpec::parse("s.toml", &twice).unwrap_err();
        assert!(
            e.message.contains("traffic.rate is varied by two axes"),
            "{e}"
        );
        // At its value: line 11, after the file's 8 lines and the axis's two.
        assert_eq!(
            (e.location.file.as_str(), e.location.line),
            ("s.toml", 11),
            "{e}"
        );
        // From flags.
        let vary = ["traffic.rate=60".to_string(), "traffic.rate=70".to_string()];
        let e = SweepSpec::from_flags(vec!["a.toml".into()], vec![], &vary, 2, 1).unwrap_err();
        assert_eq!(e.location.file, "--vary", "{e}");
        let vary = [
            "traffic.rate=60,70".to_string(),
            "rollout.replicas=5".to_string(),
        ];
        let s = SweepSpec::from_flags(vec!["a.toml".into()], vec![], &vary, 2, 1).unwrap();
        assert_eq!(s.variants().len(), 2);
    }

    #[test]
    fn a_zip_of_unequal_lengths_is_refused_at_its_axis() {
        let bad = FILE.replace("[5, 10]", "[5]");
        let e = SweepSpec::parse("s.toml", &bad).unwrap_err();
        assert_eq!(e.location.line, 7, "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_runs_are_located() {
        let e = SweepSpec::parse("s.toml", &FILE.replace("runs = 10", "runz = 10")).unwrap_err();
        assert_eq!(e.location.line, 3, "{e}");
        let e = SweepSpec::parse("s.toml", &FILE.replace("runs = 10", "runs = 0")).unwrap_err();
        assert!(e.message.contains("below 1"), "{e}");
    }

    #[test]
    fn a_sweep_too_large_to_run_is_refused_before_it_starts() {
        let e = SweepSpec::from_flags(
            vec!["a.toml".into()],
            vec![],
            &["traffic.rate=1,2,3".into()],
            u64::MAX / 2,
            1,
        )
        .unwrap_err();
        assert!(e.message.contains("more than"), "{e}");
    }
}
