//! Many seeds of each policy, summed up: how often each verdict came, how
//! fast detection was, how often the Locust validation failed.

use crate::outcome::{RunResult, Verdict};

use super::text::human_secs;

/// The columns of the aggregate table.
pub const HEADERS: [&str; 10] = [
    "policy",
    "runs",
    "caught",
    "missed",
    "promoted",
    "false abort",
    "undecided",
    "median time to detect",
    "Locust runs with a failed request",
    "Locust Jobs failed",
];

/// One row per policy, in first-seen order.
pub fn rows(runs: &[RunResult]) -> Vec<[String; 10]> {
    let mut policies: Vec<&str> = Vec::new();
    for r in runs {
        if !policies.contains(&r.policy.as_str()) {
            policies.push(&r.policy);
        }
    }
    policies
        .iter()
        .map(|p| {
            let mine: Vec<&RunResult> = runs.iter().filter(|r| r.policy == *p).collect();
            let count = |v: Verdict| mine.iter().filter(|r| r.verdict == v).count().to_string();
            let mut detect: Vec<f64> = mine.iter().filter_map(|r| r.time_to_detect_s).collect();
            detect.sort_by(f64::total_cmp);
            let median = if detect.is_empty() {
                "-".to_string()
            } else {
                human_secs(detect[detect.len() / 2])
            };
            let jobs: Vec<_> = mine.iter().flat_map(|r| &r.locust_jobs).collect();
            let ratio = |n: usize| {
                if jobs.is_empty() {
                    "-".to_string()
                } else {
                    format!(
                        "{n} of {} ({:.0}%)",
                        jobs.len(),
                        100.0 * n as f64 / jobs.len() as f64
                    )
                }
            };
            [
                p.to_string(),
                mine.len().to_string(),
                count(Verdict::Caught),
                count(Verdict::Missed),
                count(Verdict::Promoted),
                count(Verdict::FalseAbort),
                count(Verdict::Undecided),
                median,
                ratio(jobs.iter().filter(|j| j.failures > 0).count()),
                ratio(jobs.iter().filter(|j| j.job_exit_code != 0).count()),
            ]
        })
        .collect()
}

/// The aggregate as aligned text.
pub fn text(runs: &[RunResult]) -> String {
    super::table::align(&HEADERS, &rows(runs), 1)
}

/// The aggregate as a Markdown table.
pub fn markdown(runs: &[RunResult]) -> String {
    super::table::markdown_table(&HEADERS, &rows(runs), 1)
}
