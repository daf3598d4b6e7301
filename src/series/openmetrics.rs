//! The store as OpenMetrics text, for `promtool tsdb create-blocks-from
//! openmetrics` (the way to put a simulated run into a real Prometheus).
//!
//! In: a [`SeriesStore`] and the Unix time (ms) its zero stands for (the
//! rollout's start). Out: text in which
//! - each metric family's lines stand together, after its `# TYPE`,
//!   `# HELP` and, where the name ends in one, `# UNIT` (`seconds`, `bytes`);
//! - counters (`…_total`) are family `…` of type `counter`, histograms
//!   (`…_bucket` with `le`, `…_sum`, `…_count`) one family of type
//!   `histogram`, everything else a `gauge`;
//! - every sample carries its timestamp in seconds (millisecond precision,
//!   written from integers, so exact), each series' samples in time order;
//! - the text ends with `# EOF`.
//!
//! Staleness markers are left out: OpenMetrics cannot write them, and
//! Prometheus marks a backfilled series stale five minutes after its last
//! sample anyway. Neighbours: the store ([`super::store`]) on one side, the
//! binary's `export` and `run --series openmetrics` on the other.

use std::fmt::Write;

use super::labels::METRIC_NAME;
use super::store::{Series, SeriesStore, is_stale_nan};

/// 2026-01-01T00:00:00Z, the default instant of the rollout's start.
pub const DEFAULT_START_MS: i64 = 1_767_225_600_000;

/// The kind of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A monotonic counter (samples named `<family>_total`).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A classic histogram (`_bucket`, `_sum`, `_count`).
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// The family a series belongs to, and its kind.
pub fn family_of(store: &SeriesStore, s: &Series) -> (String, Kind) {
    let name = s.labels.metric_name().unwrap_or("");
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            let bucket = format!("{base}_bucket");
            if !store.postings(METRIC_NAME, &bucket).is_empty() {
                return (base.to_string(), Kind::Histogram);
            }
        }
    }
    if let Some(base) = name.strip_suffix("_total") {
        return (base.to_string(), Kind::Counter);
    }
    (name.to_string(), Kind::Gauge)
}

/// The unit a family's name ends in, as OpenMetrics wants it stated.
pub fn unit_of(family: &str) -> Option<&'static str> {
    ["seconds", "bytes", "ratio"]
        .into_iter()
        .find(|u| family.ends_with(&format!("_{u}")))
}

fn help_of(family: &str) -> &'static str {
    match family {
        "http_requests" => "Requests the application served, by handler and status code.",
        "http_request_duration_seconds" => "Request latency as the application measured it.",
        "container_memory_working_set_bytes" => {
            "cAdvisor: the container's working set, what the OOM killer compares with the limit."
        }
        "kube_pod_container_resource_limits" => "kube-state-metrics: container resource limits.",
        "kube_pod_container_resource_requests" => {
            "kube-state-metrics: container resource requests."
        }
        "kube_pod_container_status_restarts" => "kube-state-metrics: container restarts.",
        "kube_pod_container_status_last_terminated_reason" => {
            "kube-state-metrics: why the container last terminated."
        }
        "kube_pod_container_status_ready" => "kube-state-metrics: whether the container is ready.",
        "kube_pod_labels" => "kube-state-metrics: the pod's labels.",
        "up" => "Whether the last scrape of the target succeeded.",
        f if f.starts_with("locust_") => "Locust results, as the Locust exporter publishes them.",
        _ => "A series of the simulated run.",
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A value as OpenMetrics reads it (`NaN`, `+Inf`, `-Inf`, else Rust's
/// shortest round-trip form, which Go's `ParseFloat` reads back exactly).
fn value(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// A Unix time in ms as seconds with three decimals, from integers.
fn timestamp(ms: i64, out: &mut String) {
    let (sign, ms) = if ms < 0 { ("-", -ms) } else { ("", ms) };
    let _ = write!(out, "{sign}{}.{:03}", ms / 1000, ms % 1000);
}

/// The whole store as OpenMetrics text; the store's time 0 is
/// `start_unix_ms`. Families come in order of first appearance, series in
/// creation order.
pub fn write(store: &SeriesStore, start_unix_ms: i64) -> String {
    let mut bytes = Vec::new();
    write_to(store, start_unix_ms, &mut bytes).expect("invariant: writing to memory cannot fail");
    String::from_utf8(bytes).expect("invariant: every field is UTF-8")
}

/// How much text [`write_to`] gathers before it hands it to its writer.
const CHUNK: usize = 1 << 16;

/// [`write`] to `w` a chunk at a time (a file, for `run --out` and
/// `export`), so that the text is never held whole in memory.
pub fn write_to<W: std::io::Write>(
    store: &SeriesStore,
    start_unix_ms: i64,
    mut w: W,
) -> std::io::Result<()> {
    let mut families: Vec<(String, Kind, Vec<&Series>)> = Vec::new();
    for s in store.series() {
        if !s.samples.iter().any(|p| !is_stale_nan(p.v)) {
            continue;
        }
        let (family, kind) = family_of(store, s);
        match families.iter_mut().find(|f| f.0 == family) {
            Some(f) => f.2.push(s),
            None => families.push((family, kind, vec![s])),
        }
    }
    let mut out = String::new();
    for (family, kind, series) in &families {
        let _ = writeln!(out, "# TYPE {family} {}", kind.as_str());
        let _ = writeln!(out, "# HELP {family} {}", help_of(family));
        if let Some(u) = unit_of(family) {
            let _ = writeln!(out, "# UNIT {family} {u}");
        }
        for s in series {
            let mut head = String::new();
            head.push_str(s.labels.metric_name().unwrap_or(""));
            let mut first = true;
            for (k, v) in s.labels.iter().filter(|(k, _)| *k != METRIC_NAME) {
                head.push(if first { '{' } else { ',' });
                first = false;
                head.push_str(k);
                head.push_str("=\"");
                escape(v, &mut head);
                head.push('"');
            }
            if !first {
                head.push('}');
            }
            for p in s.samples.iter().filter(|p| !is_stale_nan(p.v)) {
                if out.len() >= CHUNK {
                    w.write_all(out.as_bytes())?;
                    out.clear();
                }
                out.push_str(&head);
                out.push(' ');
                value(p.v, &mut out);
                out.push(' ');
                timestamp(start_unix_ms + p.t, &mut out);
                out.push('\n');
            }
        }
    }
    out.push_str("# EOF\n");
    w.write_all(out.as_bytes())?;
    w.flush()
}

/// Reads an RFC 3339 instant (`2026-01-01T00:00:00Z`,
/// `2026-01-01T09:30:00.250+02:00`) as Unix milliseconds.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not an RFC 3339 time such as \"2026-01-01T00:00:00Z\"");
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    if b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let s = text.get(r).ok_or_else(bad)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| bad())
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut ms = 0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
        let digits = &text[start..i.min(start + 3)];
        ms = digits.parse::<i64>().map_err(|_| bad())? * 10i64.pow(3 - digits.len() as u32);
    }
    let offset_min = match &text[i..] {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            // RFC 3339's time-numoffset: hours 00-23, minutes 00-59.
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            sign * (oh * 60 + om)
        }
        _ => return Err(bad()),
    };
    let days_in_month = [
        31,
        28 + i64::from(leap(y)),
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month[(mo - 1) as usize] {
        return Err(bad());
    }
    if h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    let days = days_from_civil(y, mo, d);
    Ok(((days * 24 + h) * 60 + mi - offset_min) * 60_000 + s * 1000 + ms)
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::Labels;

    #[test]
    fn families_are_typed_grouped_and_stamped_in_seconds() {
        let mut store = SeriesStore::new();
        let up_a = store.id(Labels::with_name("up", [("pod", "a")]));
        let req = store.id(Labels::with_name(
            "http_requests_total",
            [("pod", "a"), ("code", "200")],
        ));
        let up_b = store.id(Labels::with_name("up", [("pod", "b\"q")]));
        let bucket = store.id(Labels::with_name(
            "http_request_duration_seconds_bucket",
            [("le", "+Inf")],
        ));
        let count = store.id(Labels::with_name(
            "http_request_duration_seconds_count",
            Vec::<(String, String)>::new(),
        ));
        let ws = store.id(Labels::with_name(
            "container_memory_working_set_bytes",
            [("pod", "a")],
        ));
        for t in [-15_000, 0, 15_000] {
            store.push(up_a, t, 1.0);
            store.push(req, t, (t + 15_000) as f64 / 1000.0);
        }
        store.push(up_b, 0, 0.0);
        store.mark_stale(up_b, 15_000);
        store.push(bucket, 0, 4.0);
        store.push(count, 0, 4.0);
        store.push(ws, 1, 5.36870912e8);
        let text = write(&store, 1_000);
        assert_eq!(
            text,
            "# TYPE up gauge
# HELP up Whether the last scrape of the target succeeded.
up{pod=\"a\"} 1 -14.000
up{pod=\"a\"} 1 1.000
up{pod=\"a\"} 1 16.000
up{pod=\"b\\\"q\"} 0 1.000
# TYPE http_requests counter
# HELP http_requests Requests the application served, by handler and status code.
http_requests_total{code=\"200\",pod=\"a\"} 0 -14.000
http_requests_total{code=\"200\",pod=\"a\"} 15 1.000
http_requests_total{code=\"200\",pod=\"a\"} 30 16.000
# TYPE http_request_duration_seconds histogram
# HELP http_request_duration_seconds Request latency as the application measured it.
# UNIT http_request_duration_seconds seconds
http_request_duration_seconds_bucket{le=\"+Inf\"} 4 1.000
http_request_duration_seconds_count 4 1.000
# TYPE container_memory_working_set_bytes gauge
# HELP container_memory_working_set_bytes cAdvisor: the container's working set, what the OOM killer compares with the limit.
# UNIT container_memory_working_set_bytes bytes
container_memory_working_set_bytes{pod=\"a\"} 536870912 1.001
# EOF
"
        );
    }

    #[test]
    fn rfc3339_times_become_unix_milliseconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z"), Ok(DEFAULT_START_MS));
        // 2024-02-29 is a leap day; +02:00 is two hours ahead of UTC.
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00.5+02:00"),
            Ok(1_709_200_800_500)
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Ok(-1000));
        for bad in [
            "2026-01-01",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+99:99",
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00-05:60",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
