//! Prometheus's own promqltest files (tests/data/promqltest, Apache-2.0, see
//! SOURCE.md there) run through the evaluator, with a floor per file: the
//! number of passing cases may only go up.

use canarysim::promql::promqltest::{self, Outcome, SkipReason, Tally};

/// Passing cases per file when the evaluator landed. Raise, never lower.
const FLOORS: [(&str, usize); 10] = [
    ("aggregators.test", 125),
    ("at_modifier.test", 78),
    ("functions.test", 322),
    ("histograms.test", 93),
    ("literals.test", 25),
    ("name_label_dropping.test", 30),
    ("operators.test", 142),
    ("selectors.test", 31),
    ("staleness.test", 17),
    ("subquery.test", 32),
];

fn run_file(name: &str) -> promqltest::FileReport {
    let path = format!(
        "{}/tests/data/promqltest/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    promqltest::run(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn passing_cases_never_drop_below_the_floor() {
    let mut total = Tally::default();
    let mut below = Vec::new();
    for (name, floor) in FLOORS {
        let report = run_file(name);
        let tally = report.tally();
        if tally.passed < floor {
            let failures: Vec<String> = report
                .cases
                .iter()
                .filter_map(|c| match &c.outcome {
                    Outcome::Failed { reason, .. } => {
                        Some(format!("  line {}: {} ({reason})", c.line, c.expr))
                    }
                    _ => None,
                })
                .collect();
            below.push(format!(
                "{name}: {tally}, floor {floor}\n{}",
                failures.join("\n")
            ));
        }
        total.add(&tally);
    }
    assert!(below.is_empty(), "below the floor:\n{}", below.join("\n"));
    assert!(
        total.pass_ratio() >= 0.95,
        "only {:.1}% of the cases run pass: {total}",
        100.0 * total.pass_ratio()
    );
}

#[test]
fn only_native_histogram_cases_are_skipped() {
    for (name, _) in FLOORS {
        for case in run_file(name).cases {
            if let Outcome::Skipped(reason) = &case.outcome {
                assert_eq!(
                    reason,
                    &SkipReason::NativeHistogram,
                    "{name} line {}: {}",
                    case.line,
                    case.expr
                );
            }
        }
    }
}
