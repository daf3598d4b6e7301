//! Locust's `--csv PREFIX` files, as text: `PREFIX_stats.csv`,
//! `PREFIX_stats_history.csv`, `PREFIX_failures.csv` and
//! `PREFIX_exceptions.csv` (`locust/stats.py` `StatsCSV`, `StatsCSVFileWriter`).
//!
//! In: a [`RequestStats`]. Out: strings with Locust's exact headers, Python's
//! number forms (`repr` of floats, `int` where Locust has ints, `N/A`
//! percentiles without requests, `{:2f}` rates in the history) and the
//! `csv` module's `\r\n` line ends. Writing files is the caller's job.
//!
//! Only the default history is written (the `Aggregated` row per second);
//! `--csv-full-history` is not modelled. `_exceptions.csv` has its header
//! and no rows: simulated users raise no Python exceptions. Which snapshot of
//! the statistics the files show is `run.rs`'s business.

use std::fmt::Write;

use super::pyfmt::{PyNum, float_repr, utc_timestamp, write_csv_row};
use super::stats::{PERCENTILES_TO_REPORT, RequestStats, StatsEntry, UNIX_EPOCH_OFFSET_S};
use crate::sim::SimTime;
use crate::sim::time::MICROS_PER_SEC;

/// `get_readable_percentiles(PERCENTILES_TO_REPORT)`.
const PERCENTILE_LABELS: [&str; 11] = [
    "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
];

/// The header row of `_stats.csv` (`StatsCSV.requests_csv_columns`).
pub fn stats_header() -> Vec<&'static str> {
    let mut h = vec![
        "Type",
        "Name",
        "Request Count",
        "Failure Count",
        "Median Response Time",
        "Average Response Time",
        "Min Response Time",
        "Max Response Time",
        "Average Content Size",
        "Requests/s",
        "Failures/s",
    ];
    h.extend(PERCENTILE_LABELS);
    h
}

/// The header row of `_stats_history.csv` (`stats_history_csv_columns`).
pub fn stats_history_header() -> Vec<&'static str> {
    let mut h = vec![
        "Timestamp",
        "User Count",
        "Type",
        "Name",
        "Requests/s",
        "Failures/s",
    ];
    h.extend(PERCENTILE_LABELS);
    h.extend([
        "Total Request Count",
        "Total Failure Count",
        "Total Median Response Time",
        "Total Average Response Time",
        "Total Min Response Time",
        "Total Max Response Time",
        "Total Average Content Size",
    ]);
    h
}

/// The header row of `_failures.csv` (`StatsCSV.failures_columns`).
pub fn failures_header() -> Vec<&'static str> {
    vec![
        "Method",
        "Name",
        "Error",
        "Occurrences",
        "First Seen",
        "Last Seen",
    ]
}

/// The header row of `_exceptions.csv` (`StatsCSV.exceptions_columns`).
pub fn exceptions_header() -> Vec<&'static str> {
    vec!["Count", "Message", "Traceback", "Nodes"]
}

/// The whole `_exceptions.csv`: the header alone, since a simulated user
/// never raises (Locust writes a row per distinct traceback in
/// `runner.exceptions`).
pub fn exceptions_csv() -> String {
    let mut out = String::new();
    write_csv_row(&mut out, &exceptions_header());
    out
}

fn num(n: PyNum) -> String {
    let mut s = String::new();
    n.write(&mut s);
    s
}

fn percentile_fields(entry: &StatsEntry, fields: &mut Vec<String>) {
    if entry.num_requests == 0 {
        fields.extend(PERCENTILES_TO_REPORT.map(|_| "N/A".to_string()));
    } else {
        fields.extend(
            entry
                .percentiles(&PERCENTILES_TO_REPORT)
                .map(|k| k.to_string()),
        );
    }
}

/// The whole `_stats.csv`: one row per (method, name) sorted by (name,
/// method), then the `Aggregated` row (empty `Type`).
pub fn stats_csv(stats: &RequestStats) -> String {
    let mut out = String::new();
    write_csv_row(&mut out, &stats_header());
    let clock = stats.clock();
    let mut fields: Vec<String> = Vec::with_capacity(22);
    for entry in stats.sorted_entries().into_iter().chain([stats.total()]) {
        fields.clear();
        fields.push(entry.method.to_string());
        fields.push(entry.name.clone());
        fields.push(entry.num_requests.to_string());
        fields.push(entry.num_failures.to_string());
        fields.push(num(entry.median_response_time()));
        fields.push(float_repr(entry.avg_response_time()));
        fields.push(num(entry.min_response_time()));
        fields.push(num(entry.max_response_time()));
        fields.push(num(entry.avg_content_length()));
        fields.push(float_repr(entry.total_rps(clock)));
        fields.push(float_repr(entry.total_fail_per_sec(clock)));
        percentile_fields(entry, &mut fields);
        write_csv_row(&mut out, &fields);
    }
    out
}

/// Appends one `_stats_history.csv` row: the `Aggregated` entry as it stands
/// at `tick`, with `user_count` users running. The timestamp is whole Unix
/// seconds ([`UNIX_EPOCH_OFFSET_S`] plus the simulated time).
pub fn write_history_row(out: &mut String, stats: &RequestStats, tick: SimTime, user_count: u32) {
    let clock = stats.clock();
    let total = stats.total();
    let mut fields: Vec<String> = Vec::with_capacity(24);
    fields.push((UNIX_EPOCH_OFFSET_S + (tick.0 / MICROS_PER_SEC) as i64).to_string());
    fields.push(user_count.to_string());
    fields.push(total.method.to_string());
    fields.push(total.name.clone());
    // Locust formats these two with f"{x:2f}": six decimals.
    let mut rate = String::new();
    let _ = write!(rate, "{:.6}", total.current_rps(clock));
    fields.push(rate);
    let mut rate = String::new();
    let _ = write!(rate, "{:.6}", total.current_fail_per_sec(clock));
    fields.push(rate);
    percentile_fields(total, &mut fields);
    fields.push(total.num_requests.to_string());
    fields.push(total.num_failures.to_string());
    fields.push(num(total.median_response_time()));
    fields.push(float_repr(total.avg_response_time()));
    fields.push(num(total.min_response_time()));
    fields.push(num(total.max_response_time()));
    fields.push(num(total.avg_content_length()));
    write_csv_row(out, &fields);
}

/// The header line of `_stats_history.csv`, ready for rows to be appended.
pub fn stats_history_start() -> String {
    let mut out = String::new();
    write_csv_row(&mut out, &stats_history_header());
    out
}

/// The whole `_failures.csv`, rows in Locust's order (by failure key).
pub fn failures_csv(stats: &RequestStats) -> String {
    let mut out = String::new();
    write_csv_row(&mut out, &failures_header());
    let unix = |t: SimTime| UNIX_EPOCH_OFFSET_S + (t.0 / MICROS_PER_SEC) as i64;
    for e in stats.sorted_errors() {
        write_csv_row(
            &mut out,
            &[
                e.method.to_string(),
                e.name.clone(),
                e.error.clone(),
                e.occurrences.to_string(),
                utc_timestamp(unix(e.first_seen)),
                utc_timestamp(unix(e.last_seen)),
            ],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_run_prints_locusts_zero_forms() {
        let stats = RequestStats::new(SimTime::ZERO);
        let csv = stats_csv(&stats);
        let row = csv.split("\r\n").nth(1).unwrap();
        assert_eq!(
            row,
            ",Aggregated,0,0,0,0.0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A"
        );
        let mut hist = stats_history_start();
        write_history_row(&mut hist, &stats, SimTime::ZERO, 0);
        assert_eq!(
            hist.split("\r\n").nth(1).unwrap(),
            "1767225600,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0.0,0,0,0"
        );
    }

    #[test]
    fn rows_mix_ints_and_python_floats() {
        let mut stats = RequestStats::new(SimTime::ZERO);
        let b = stats.register("GET", "/b");
        let a = stats.register("POST", "/a");
        stats.log(b, 52_345, 200, 1000, SimTime::from_secs(1));
        stats.log(b, 47_655, 200, 1000, SimTime::from_secs(2));
        stats.log(a, 120_000, 500, 0, SimTime::from_secs(2));
        let csv = stats_csv(&stats);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        // Sorted by name: /a before /b, then Aggregated.
        assert!(lines[1].starts_with("POST,/a,1,1,120,120.0,120.0,120.0,0.0,0.5,0.5,120,"));
        assert!(lines[2].starts_with("GET,/b,2,0,52,50.0,47.655,52.345,1000.0,1.0,0.0,52,"));
        assert!(lines[3].starts_with(",Aggregated,3,1,52,"));
        let failures = failures_csv(&stats);
        assert_eq!(
            failures.split("\r\n").nth(1).unwrap(),
            "POST,/a,HTTPError('500 Server Error: Internal Server Error for url: /a'),1,2026-01-01T00:00:02Z,2026-01-01T00:00:02Z"
        );
    }
}
