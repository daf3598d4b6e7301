//! Many seeds of each policy, summed up: how often each verdict came, how
//! fast detection was, which gate decided the aborts, how often the Locust
//! validation failed.

use crate::analysis::AnalysisTemplate;
use crate::outcome::{RunResult, Verdict};
use crate::sweep::{CellSummary, RunDigest};

use super::text::human_secs;

/// The columns of the aggregate table.
pub const HEADERS: [&str; 11] = [
    "policy",
    "runs",
    "caught",
    "missed",
    "promoted",
    "false abort",
    "undecided",
    "median time to detect",
    "decided by",
    "Locust runs with a failed request",
    "Locust Jobs failed",
];

/// One row per policy, in first-seen order. `templates` gives a policy's
/// templates by name (to name the template a deciding gate came from).
pub fn rows(
    runs: &[RunResult],
    templates: &dyn Fn(&str) -> Vec<AnalysisTemplate>,
) -> Vec<[String; 11]> {
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
            let t = templates(p);
            let digests: Vec<RunDigest> = mine.iter().map(|r| RunDigest::of(r, &t)).collect();
            let summary = CellSummary::of_digests(&digests);
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
                super::sweep::decided_by(&summary),
                ratio(jobs.iter().filter(|j| j.failures > 0).count()),
                ratio(jobs.iter().filter(|j| j.job_exit_code != 0).count()),
            ]
        })
        .collect()
}

/// The aggregate as aligned text.
pub fn text(runs: &[RunResult], templates: &dyn Fn(&str) -> Vec<AnalysisTemplate>) -> String {
    super::table::align(&HEADERS, &rows(runs, templates), 1)
}

/// The aggregate as a Markdown table.
pub fn markdown(runs: &[RunResult], templates: &dyn Fn(&str) -> Vec<AnalysisTemplate>) -> String {
    super::table::markdown_table(&HEADERS, &rows(runs, templates), 1)
}
