//! The checked-in reports are what the model gives now: a change to the
//! model or a policy shows up in review as a diff of `reports/*.md`.
//! Regenerate them with `UPDATE_REPORTS=1 cargo test --release reports`.

use canarysim::engine::run;
use canarysim::outcome::RunResult;
use canarysim::report;
use canarysim::scenario::{self, Scenario};

use crate::fixtures::Disk;

fn runs(file: &str, seed: u64) -> (Scenario, Vec<RunResult>) {
    let sc =
        scenario::load_file(&Disk, std::path::Path::new(file)).unwrap_or_else(|e| panic!("{e}"));
    let results = sc
        .policies
        .iter()
        .map(|p| run(&sc, p, seed).result)
        .collect();
    (sc, results)
}

fn check_report(name: &str) {
    let file = format!("scenarios/{name}.toml");
    let (sc, results) = runs(&file, 1);
    let fresh = report::markdown::report(&sc, 1, &results);
    check_file(&format!("reports/{name}.md"), &fresh);
}

/// Compares `fresh` with the checked-in `path`, or rewrites it under
/// `UPDATE_REPORTS=1`.
fn check_file(path: &str, fresh: &str) {
    let path = path.to_string();
    if std::env::var("UPDATE_REPORTS").as_deref() == Ok("1") {
        std::fs::write(&path, fresh).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    if stored != fresh {
        let first = stored
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(stored.lines().count().min(fresh.lines().count()));
        panic!(
            "{path} is out of date (first difference at line {}):\n  stored: {:?}\n  now:    {:?}\n\
             regenerate with UPDATE_REPORTS=1 cargo test --release reports",
            first + 1,
            stored.lines().nth(first),
            fresh.lines().nth(first)
        );
    }
}

#[test]
fn checkout_leak_report_is_what_the_model_gives() {
    check_report("checkout-leak");
}

#[test]
fn checkout_good_report_is_what_the_model_gives() {
    check_report("checkout-good");
}

#[test]
fn comparison_table_snapshot() {
    let (_, results) = runs("scenarios/checkout-leak.toml", 1);
    insta::assert_snapshot!(report::table::text(&results));
}

/// The flagship's HTML report and the timelines README links: every
/// policy's timeline inline in `reports/checkout-leak.html`, and three of
/// them as SVG files.
#[cfg(feature = "plot")]
#[test]
fn checkout_leak_html_and_timelines_are_what_the_model_gives() {
    use canarysim::plot::{svg, timeline::Timeline};
    let sc = scenario::load_file(&Disk, std::path::Path::new("scenarios/checkout-leak.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut results = Vec::new();
    let mut figures = Vec::new();
    for p in &sc.policies {
        let out = run(&sc, p, 1);
        let fig = svg(&Timeline::new(&sc, &out.result, &out.series)).unwrap();
        if ["manual", "hardened-fixed", "memory-trend"].contains(&p.name.as_str()) {
            check_file(&format!("reports/checkout-leak-{}.svg", p.name), &fig);
        }
        figures.push((p.name.clone(), fig));
        results.push(out.result);
    }
    let html = report::html::render(&report::html::run_report(&sc, 1, &results, &figures));
    check_file("reports/checkout-leak.html", &html);
}

/// Seeds per policy and release in `reports/compare.svg`.
#[cfg(feature = "plot")]
pub const COMPARE_RUNS: u64 = 10;

/// The comparison plot README links: every policy over seeds 1..=10, the
/// bad release beside the good one.
#[cfg(feature = "plot")]
#[test]
fn comparison_plot_is_what_the_model_gives() {
    use rayon::prelude::*;
    let mut results = Vec::new();
    for file in [
        "scenarios/checkout-leak.toml",
        "scenarios/checkout-good.toml",
    ] {
        let sc = scenario::load_file(&Disk, std::path::Path::new(file))
            .unwrap_or_else(|e| panic!("{e}"));
        let jobs: Vec<_> = sc
            .policies
            .iter()
            .flat_map(|p| (1..=COMPARE_RUNS).map(move |s| (p, s)))
            .collect();
        let mut r: Vec<RunResult> = jobs
            .par_iter()
            .map(|(p, s)| run(&sc, p, *s).result)
            .collect();
        results.append(&mut r);
    }
    let fig = canarysim::plot::compare::Comparison::new(&results);
    check_file("reports/compare.svg", &canarysim::plot::svg(&fig).unwrap());
}

/// The sweep trade-off README links, drawn from the recorded result of
/// `canarysim sweep scenarios/sweeps/memory-trend.toml --format json`
/// (`reports/sweep-memory-trend.json`; the 900 runs are too slow for the
/// suite, the drawing is not).
#[cfg(feature = "plot")]
#[test]
fn sweep_trade_off_is_drawn_from_the_recorded_sweep() {
    use canarysim::plot::{svg, sweep};
    let json = std::fs::read_to_string("reports/sweep-memory-trend.json").unwrap();
    let result = sweep::SweepResult::from_json(&json).unwrap();
    let fig = sweep::TradeOff::new(&result).unwrap();
    check_file("reports/sweep-memory-trend.svg", &svg(&fig).unwrap());
}
