//! The public PromQL API over a hand-built store: instant and range queries,
//! reuse of a parsed query, error reporting, HTTP-API rendering, and no
//! panics on arbitrary input.

use canarysim::promql::json::render_data;
use canarysim::promql::{EvalOptions, PromqlError, Query, Value, instant_query, range_query};
use canarysim::series::{Labels, SeriesStore};
use proptest::prelude::*;

/// Two pods of a counter scraped every 15s for 10 minutes; pod b resets at
/// 5m and disappears (staleness marker) at 8m.
fn store() -> SeriesStore {
    let mut s = SeriesStore::new();
    let a = s.id(Labels::with_name(
        "http_requests_total",
        [("pod", "a"), ("code", "200")],
    ));
    let b = s.id(Labels::with_name(
        "http_requests_total",
        [("pod", "b"), ("code", "500")],
    ));
    for i in 0..=40 {
        let t = i * 15_000;
        s.push(a, t, (i * 10) as f64);
        if t < 480_000 {
            let v = if t < 300_000 { i * 2 } else { i - 20 };
            s.push(b, t, v as f64);
        }
    }
    s.mark_stale(b, 480_000);
    s
}

fn vector(v: Value) -> Vec<(String, f64)> {
    match v {
        Value::Vector(v) => v.into_iter().map(|s| (s.labels.to_string(), s.v)).collect(),
        other => panic!("not a vector: {other:?}"),
    }
}

#[test]
fn rate_is_per_second_and_survives_a_counter_reset() {
    let s = store();
    let got = vector(instant_query(&s, "rate(http_requests_total[2m])", 450_000).unwrap());
    // Pod a grows 10 per 15s: 2/3 per second, whatever the extrapolation.
    assert_eq!(got[0].0, r#"{code="200", pod="a"}"#);
    assert!((got[0].1 - 10.0 / 15.0).abs() < 1e-12);
    // Pod b grows 1 per 15s after its reset at 5m.
    assert!((got[1].1 - 1.0 / 15.0).abs() < 1e-12, "{got:?}");
}

#[test]
fn staleness_marker_hides_a_series_at_once_and_lookback_hides_it_later() {
    let s = store();
    let n = |t| vector(instant_query(&s, "http_requests_total", t).unwrap()).len();
    assert_eq!(n(479_999), 2);
    assert_eq!(n(480_000), 1);
    // Without the marker, pod a's last sample (10m) is visible for 5 minutes.
    assert_eq!(n(600_000 + 299_999), 1);
    assert_eq!(n(600_000 + 300_000), 0);
}

#[test]
fn error_ratio_of_the_seed_is_a_single_unlabelled_element() {
    let s = store();
    let q =
        r#"sum(rate(http_requests_total{code=~"5.."}[2m])) / sum(rate(http_requests_total[2m]))"#;
    let got = vector(instant_query(&s, q, 240_000).unwrap());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "{}");
    // b grows 2 per 15s, a 10 per 15s: 2 / 12.
    assert!((got[0].1 - 2.0 / 12.0).abs() < 1e-9, "{got:?}");
}

#[test]
fn a_parsed_query_can_be_evaluated_repeatedly_and_matches_range_query() {
    let s = store();
    let q = Query::parse("sum by (code) (increase(http_requests_total[1m]))").unwrap();
    let opts = EvalOptions::default();
    let Value::Matrix(m) = range_query(&s, q.text(), 60_000, 240_000, 30_000).unwrap() else {
        panic!("range query gives a matrix");
    };
    assert_eq!(m.len(), 2);
    for series in &m {
        assert_eq!(series.samples.len(), 7);
        for p in &series.samples {
            let Value::Vector(v) = q.instant(&s, p.t, &opts).unwrap() else {
                panic!("instant gives a vector");
            };
            let same = v.iter().find(|e| e.labels == series.labels).unwrap();
            assert_eq!(same.v, p.v);
        }
    }
}

#[test]
fn parse_errors_carry_the_query_and_the_parser_message() {
    let err = Query::parse("sum(rate(x[5m])").unwrap_err();
    let PromqlError::Parse { query, message } = &err else {
        panic!("not a parse error: {err:?}");
    };
    assert_eq!(query, "sum(rate(x[5m])");
    assert!(!message.is_empty());
    assert!(err.to_string().contains("sum(rate(x[5m])"));
}

#[test]
fn evaluation_errors_name_their_cause() {
    let s = store();
    // Both sides have two series that match on nothing: ambiguous.
    let err =
        instant_query(&s, "http_requests_total + on() http_requests_total", 60_000).unwrap_err();
    assert!(matches!(err, PromqlError::ManyToMany { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("many-to-many matching not allowed")
    );
    // Dropping the name makes the two pods' series collide after a
    // label_replace that erases the only difference.
    let err = instant_query(
        &s,
        r#"label_replace(label_replace(http_requests_total, "pod", "", "", ""), "code", "", "", "")"#,
        60_000,
    )
    .unwrap_err();
    assert_eq!(err, PromqlError::DuplicateLabelset);
    let err = range_query(&s, "http_requests_total[1m]", 0, 60_000, 15_000).unwrap_err();
    assert!(matches!(err, PromqlError::InvalidType { .. }), "{err:?}");
    // A subquery of a billion steps is refused instead of run.
    let err = instant_query(&s, "max_over_time(http_requests_total[30d:1ms])", 60_000).unwrap_err();
    assert!(matches!(err, PromqlError::TooExpensive(_)), "{err:?}");
}

#[test]
fn results_render_as_the_http_api_data_object() {
    let s = store();
    let v = instant_query(&s, r#"http_requests_total{pod="a"}"#, 61_500).unwrap();
    assert_eq!(
        render_data(&v, 61_500),
        serde_json::json!({"resultType": "vector", "result": [{
            "metric": {"__name__": "http_requests_total", "code": "200", "pod": "a"},
            "value": [61.5, "40"]
        }]})
    );
    let v = instant_query(&s, "scalar(sum(http_requests_total)) / 0", 0).unwrap();
    assert_eq!(
        render_data(&v, 0),
        serde_json::json!({"resultType": "scalar", "result": [0, "NaN"]})
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
        let s = store();
        let _ = instant_query(&s, &text, 120_000);
    }

    #[test]
    fn arbitrary_promql_shaped_text_never_panics(
        text in "(sum|rate|topk|histogram_quantile|label_replace|-|\\(|\\)|\\[1m\\]|\\[5m:30s\\]|http_requests_total|\\{pod=~\"a|b\"\\}|, |1|0|/|>|bool|on\\(pod\\)|group_left|offset 1m|@ 60| ){1,12}"
    ) {
        let s = store();
        let _ = instant_query(&s, &text, 120_000);
        let _ = range_query(&s, &text, 0, 120_000, 30_000);
    }
}

#[test]
fn extreme_times_and_offsets_give_results_or_errors_not_panics() {
    let s = store();
    for q in [
        "rate(http_requests_total[100000y])",
        "http_requests_total offset -100000y",
        "http_requests_total offset 100000y",
        "max_over_time(http_requests_total[100000y:1y])",
        "predict_linear(http_requests_total[10m] @ 0, 1e300)",
        "http_requests_total @ -1e9",
        "range() + step() + time()",
    ] {
        for t in [i64::MIN, -1, 0, 120_000, i64::MAX] {
            let _ = instant_query(&s, q, t);
        }
        let _ = range_query(&s, q, i64::MIN, i64::MAX, i64::MAX);
        let _ = range_query(&s, q, i64::MAX - 10, i64::MAX, 3);
    }
}
