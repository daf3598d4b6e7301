//! Locust results in the series store, as a Pushgateway holds them and a
//! Prometheus with `honor_labels: true` scrapes them.
//!
//! In: a [`LocustReport`]'s CSV files, the push's job name and grouping
//! labels (the Job's `--labels`, e.g. `service`, `type`). Out: a
//! [`PushGroup`] of gauges read back from the files, and a [`Pushgateway`]
//! that keeps the latest group per grouping key and writes every held value
//! into a [`SeriesStore`] at each scrape time its caller asks for.
//!
//! Pushgateway semantics kept:
//! - a pushed value persists until replaced: every scrape sees it again, so
//!   the caller calls [`Pushgateway::scrape_into`] at each scrape of the
//!   Pushgateway target (a push alone writes nothing);
//! - a push replaces the whole group with the same grouping key (`PUT`);
//! - the grouping labels (`job` plus the extra ones) are on every series;
//!   `instance` is empty (the Pushgateway sets `instance=""` when the grouping
//!   key has none, which with `honor_labels` means no `instance` label);
//! - each group also has `push_time_seconds` and `push_failure_time_seconds`
//!   (0), in seconds of simulated time, so `time() - push_time_seconds`
//!   is the age of the push.
//!
//! What is pushed is what the seed's `push_metrics.py --csv=/tmp/results`
//! can read: a headless Locust serves no web UI for locust_exporter to
//! scrape, so the push step has only the `--csv` files, which hold the
//! writer's last 1-second snapshot (see `run.rs`). Each gauge is a field of
//! those files under the name Locust 2.x gives the field in
//! `StatsEntry.to_dict` / `StatsError.to_dict` / the web UI's report
//! (`locust/stats.py`, `locust/web.py`), prefixed `locust_requests_` for a
//! request row, `locust_errors_` for a failure row:
//! - from each `_stats.csv` row (labels `method`, `name`; the `Aggregated`
//!   row has `name="Aggregated"` and no `method`): `num_requests`
//!   (Request Count), `num_failures`, `median_response_time`,
//!   `avg_response_time`, `min_response_time`, `max_response_time`,
//!   `avg_content_length`, `total_rps` (Requests/s, the whole-run mean),
//!   `total_fail_per_sec`, `response_time_percentile{percentile="0.5"}` …
//!   `{percentile="1.0"}` (to_dict's `response_time_percentile_0.5`; a name
//!   cannot hold the dot, so the percentile is a label; `N/A` cells are not
//!   pushed), and `fail_ratio`, derived from the row as
//!   `StatsEntry.fail_ratio` derives it;
//! - from each `_failures.csv` row: `locust_errors_occurrences{method,name,error}`;
//! - from the last `_stats_history.csv` row: `locust_user_count` (User Count)
//!   and the `Aggregated` row's `current_rps` and `current_fail_per_sec`
//!   (Locust's 10 s window, as the file rounds them).
//!
//! There are no current-percentile gauges: by default the history's
//! percentiles are cumulative (only `--csv-full-history` makes them
//! current), so they would repeat `_stats.csv`'s.

use super::run::{LocustCsv, LocustReport};
use super::stats::PERCENTILES_TO_REPORT;
use crate::series::{Labels, SeriesId, SeriesStore};
use crate::sim::SimTime;

/// The `_stats.csv` columns pushed, by index, and their Locust 2.x names.
const STATS_FIELDS: [(usize, &str); 9] = [
    (2, "locust_requests_num_requests"),
    (3, "locust_requests_num_failures"),
    (4, "locust_requests_median_response_time"),
    (5, "locust_requests_avg_response_time"),
    (6, "locust_requests_min_response_time"),
    (7, "locust_requests_max_response_time"),
    (8, "locust_requests_avg_content_length"),
    (9, "locust_requests_total_rps"),
    (10, "locust_requests_total_fail_per_sec"),
];
/// Every metric name a push holds (a query that could read none of them
/// lets a run skip the pushes: `engine::retention`).
pub const PUSHED_NAMES: &[&str] = &[
    "locust_requests_num_requests",
    "locust_requests_num_failures",
    "locust_requests_median_response_time",
    "locust_requests_avg_response_time",
    "locust_requests_min_response_time",
    "locust_requests_max_response_time",
    "locust_requests_avg_content_length",
    "locust_requests_total_rps",
    "locust_requests_total_fail_per_sec",
    "locust_requests_response_time_percentile",
    "locust_requests_fail_ratio",
    "locust_requests_current_rps",
    "locust_requests_current_fail_per_sec",
    "locust_user_count",
    "locust_errors_occurrences",
    "push_time_seconds",
    "push_failure_time_seconds",
];

/// The first percentile column of `_stats.csv`.
const STATS_PERCENTILES_AT: usize = 11;

/// One push: the grouping key and the gauges pushed under it.
#[derive(Debug, Clone, PartialEq)]
pub struct PushGroup {
    /// `job` and the other grouping labels.
    pub grouping: Labels,
    /// Each gauge's full label set (name included, grouping labels added) and value.
    pub metrics: Vec<(Labels, f64)>,
    /// When it was pushed.
    pub pushed_at: SimTime,
}

impl PushGroup {
    /// The gauges of `report`'s CSV files ([`PushGroup::from_csv`]); `None`
    /// if the run wrote none ([`crate::locust::LocustRun::without_csv`]).
    pub fn from_report(
        report: &LocustReport,
        job: &str,
        grouping: &[(String, String)],
        at: SimTime,
    ) -> Option<PushGroup> {
        let csv = report.csv.as_ref()?;
        Some(PushGroup::from_csv(csv, job, grouping, at))
    }

    /// The gauges read back from the CSV files `csv`, pushed at `at` under
    /// job `job` with the extra grouping labels `grouping` (e.g. `service`,
    /// `type`). A cell that does not parse as a number is not pushed.
    pub fn from_csv(
        csv: &LocustCsv,
        job: &str,
        grouping: &[(String, String)],
        at: SimTime,
    ) -> PushGroup {
        let mut key: Vec<(String, String)> = grouping.to_vec();
        key.push(("job".to_string(), job.to_string()));
        let grouping_labels = Labels::new(key.clone());
        let mut metrics = Vec::new();
        let mut add = |name: &str, extra: &[(&str, &str)], v: f64| {
            let mut pairs: Vec<(String, String)> = extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            // Grouping labels win over the metric's own, as the Pushgateway's do.
            pairs.extend(key.iter().cloned());
            metrics.push((Labels::with_name(name, pairs), v));
        };
        let number = |cell: Option<&String>| cell.and_then(|c| c.parse::<f64>().ok());
        if let Some(last) = csv_rows(&csv.stats_history).last() {
            // Timestamp, User Count, Type, Name, Requests/s, Failures/s, …
            if let Some(v) = number(last.get(1)) {
                add("locust_user_count", &[], v);
            }
            let l = entry_labels(last.get(2), last.get(3));
            let l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
            for (i, name) in [
                (4, "locust_requests_current_rps"),
                (5, "locust_requests_current_fail_per_sec"),
            ] {
                if let Some(v) = number(last.get(i)) {
                    add(name, &l, v);
                }
            }
        }
        for row in csv_rows(&csv.stats) {
            let l = entry_labels(row.first(), row.get(1));
            let l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
            for (i, name) in STATS_FIELDS {
                if let Some(v) = number(row.get(i)) {
                    add(name, &l, v);
                }
            }
            for (j, p) in PERCENTILES_TO_REPORT.iter().enumerate() {
                if let Some(v) = number(row.get(STATS_PERCENTILES_AT + j)) {
                    let label = super::pyfmt::float_repr(*p);
                    let mut with_p = l.clone();
                    with_p.push(("percentile", &label));
                    add("locust_requests_response_time_percentile", &with_p, v);
                }
            }
            if let (Some(n), Some(f)) = (number(row.get(2)), number(row.get(3))) {
                // StatsEntry.fail_ratio: 1.0 with failures but no requests.
                let ratio = if n > 0.0 {
                    f / n
                } else if f > 0.0 {
                    1.0
                } else {
                    0.0
                };
                add("locust_requests_fail_ratio", &l, ratio);
            }
        }
        for row in csv_rows(&csv.failures) {
            // Method, Name, Error, Occurrences, First Seen, Last Seen
            if let (Some(m), Some(n), Some(e), Some(v)) =
                (row.first(), row.get(1), row.get(2), number(row.get(3)))
            {
                add(
                    "locust_errors_occurrences",
                    &[("method", m), ("name", n), ("error", e)],
                    v,
                );
            }
        }
        let pushed_s = at.as_secs_f64();
        add("push_time_seconds", &[], pushed_s);
        add("push_failure_time_seconds", &[], 0.0);
        PushGroup {
            grouping: grouping_labels,
            metrics,
            pushed_at: at,
        }
    }
}

/// The labels of a row's entry: `method` (none for the empty `Type` of
/// `Aggregated`) and `name`.
fn entry_labels(method: Option<&String>, name: Option<&String>) -> Vec<(&'static str, String)> {
    let mut l = Vec::with_capacity(2);
    if let Some(m) = method.filter(|m| !m.is_empty()) {
        l.push(("method", m.clone()));
    }
    l.push(("name", name.cloned().unwrap_or_default()));
    l
}

/// The data rows of a CSV file as Python's `csv.writer` wrote it (the header
/// skipped): fields split at commas outside quotes, `""` inside quotes read as `"`.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows.into_iter().skip(1).collect()
}

/// The Pushgateway: the latest group per grouping key, in first-push order.
///
/// It remembers the series id of every value it has written, so scrapes
/// after the first write by id; use one Pushgateway with one store.
#[derive(Debug, Clone, Default)]
pub struct Pushgateway {
    groups: Vec<PushGroup>,
    /// Per group, per metric: the store's id, once written.
    ids: Vec<Vec<Option<SeriesId>>>,
}

impl Pushgateway {
    /// An empty Pushgateway.
    pub fn new() -> Pushgateway {
        Pushgateway::default()
    }

    /// Stores `group`, replacing any group with the same grouping key.
    pub fn push(&mut self, group: PushGroup) {
        let ids = vec![None; group.metrics.len()];
        match self
            .groups
            .iter()
            .position(|g| g.grouping == group.grouping)
        {
            Some(i) => {
                self.groups[i] = group;
                self.ids[i] = ids;
            }
            None => {
                self.groups.push(group);
                self.ids.push(ids);
            }
        }
    }

    /// Removes the group with this grouping key (`DELETE`), if held.
    pub fn delete(&mut self, grouping: &Labels) {
        if let Some(i) = self.groups.iter().position(|g| &g.grouping == grouping) {
            self.groups.remove(i);
            self.ids.remove(i);
        }
    }

    /// The groups held.
    pub fn groups(&self) -> &[PushGroup] {
        &self.groups
    }

    /// One scrape: every held value written into `store` at `t_ms`
    /// (Prometheus milliseconds). Call at every scrape of the Pushgateway.
    pub fn scrape_into(&mut self, store: &mut SeriesStore, t_ms: i64) {
        for (g, ids) in self.groups.iter().zip(&mut self.ids) {
            for ((labels, v), id) in g.metrics.iter().zip(ids.iter_mut()) {
                let id = *id.get_or_insert_with(|| store.id(labels.clone()));
                store.push(id, t_ms, *v);
            }
        }
    }
}
