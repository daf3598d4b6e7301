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
    let path = format!("reports/{name}.md");
    if std::env::var("UPDATE_REPORTS").as_deref() == Ok("1") {
        std::fs::write(&path, &fresh).unwrap();
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
