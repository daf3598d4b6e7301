//! Locust results in the series store, as a Pushgateway holds them and a
//! Prometheus with `honor_labels: true` scrapes them.
//!
//! In: a [`LocustReport`], the push's job name and grouping labels (the
//! Job's `--labels`, e.g. `service`, `type`). Out: a [`PushGroup`] of gauges
//! named as the widely used exporter (ContainerSolutions/locust_exporter)
//! names them, and a [`Pushgateway`] that keeps the latest group per
//! grouping key and writes every held value into a
//! [`SeriesStore`] at each scrape time its caller asks for.
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
//! Series (per entry ones carry `method` and `name`; the `Aggregated` entry
//! has `name="Aggregated"` and no `method`, as Locust's `/stats/requests` has it):
//! `locust_users`, `locust_requests_fail_ratio`,
//! `locust_requests_current_response_time_percentile_50` and `_95` (the last
//! ~10 s before the run ended, 0 when Locust would report none),
//! `locust_requests_{num_requests,num_failures,avg_response_time,min_response_time,max_response_time,median_response_time,current_rps,current_fail_per_sec,avg_content_length}`,
//! and `locust_errors{method,name,error}` (occurrences).

use super::run::LocustReport;
use super::stats::StatsEntry;
use crate::series::{Labels, SeriesId, SeriesStore};
use crate::sim::SimTime;

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
    /// The exporter-named gauges of `report`, pushed at `at` under job `job`
    /// with the extra grouping labels `grouping` (e.g. `service`, `type`).
    pub fn from_report(
        report: &LocustReport,
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
        let stats = &report.stats;
        let total = stats.total();
        add("locust_users", &[], f64::from(report.users_at_stop));
        add("locust_requests_fail_ratio", &[], total.fail_ratio());
        for (p, name) in [
            (0.5, "locust_requests_current_response_time_percentile_50"),
            (0.95, "locust_requests_current_response_time_percentile_95"),
        ] {
            let v = stats
                .current_response_time_percentile(report.ended_at, p)
                .unwrap_or(0);
            add(name, &[], v as f64);
        }
        let clock = stats.clock();
        let entries: Vec<&StatsEntry> = stats.sorted_entries().into_iter().chain([total]).collect();
        for e in entries {
            let l: [(&str, &str); 2] = [("method", e.method), ("name", &e.name)];
            add("locust_requests_num_requests", &l, e.num_requests as f64);
            add("locust_requests_num_failures", &l, e.num_failures as f64);
            add(
                "locust_requests_avg_response_time",
                &l,
                e.avg_response_time(),
            );
            // The exporter reads /stats/requests, which rounds min and max.
            add(
                "locust_requests_min_response_time",
                &l,
                e.min_response_time().as_f64().round(),
            );
            add(
                "locust_requests_max_response_time",
                &l,
                e.max_response_time().as_f64().round(),
            );
            add(
                "locust_requests_median_response_time",
                &l,
                e.median_response_time().as_f64(),
            );
            add("locust_requests_current_rps", &l, e.current_rps(clock));
            add(
                "locust_requests_current_fail_per_sec",
                &l,
                e.current_fail_per_sec(clock),
            );
            add(
                "locust_requests_avg_content_length",
                &l,
                e.avg_content_length().as_f64(),
            );
        }
        for err in stats.sorted_errors() {
            add(
                "locust_errors",
                &[
                    ("method", err.method),
                    ("name", &err.name),
                    ("error", &err.error),
                ],
                err.occurrences as f64,
            );
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
