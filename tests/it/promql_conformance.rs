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

fn data(name: &str) -> String {
    format!(
        "{}/tests/data/promqltest/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn cli_prints_counts_per_file_and_in_total_and_exits_zero_when_all_pass() {
    assert_cmd::Command::cargo_bin("canarysim")
        .unwrap()
        .args([
            "promql",
            "test",
            &data("literals.test"),
            &data("staleness.test"),
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "literals.test: 25 passed, 0 failed, 0 skipped",
        ))
        .stdout(predicates::str::contains(
            "total: 42 passed, 0 failed, 0 skipped",
        ));
}

#[test]
fn cli_verbose_shows_a_failure_with_expected_and_actual_and_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong.test");
    std::fs::write(
        &path,
        "load 1m\n  up{job=\"a\"} 1 2 3\n\neval instant at 2m up\n  up{job=\"a\"} 4\n\neval instant at 2m up{{schema:0}}\n",
    )
    .unwrap();
    assert_cmd::Command::cargo_bin("canarysim")
        .unwrap()
        .args(["promql", "test", "--verbose", path.to_str().unwrap()])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("0 passed, 1 failed, 1 skipped"))
        .stdout(predicates::str::contains(
            "skipped 1: syntax not supported by promql-parser",
        ))
        .stdout(predicates::str::contains(
            "expected:\n      up{job=\"a\"} 4",
        ))
        .stdout(predicates::str::contains("actual:\n      up{job=\"a\"} 3"));
}

#[test]
fn cli_reports_unreadable_files_with_exit_two() {
    assert_cmd::Command::cargo_bin("canarysim")
        .unwrap()
        .args(["promql", "test", "/nonexistent/x.test"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot read /nonexistent/x.test"));
}
