//! Renders a query result as the `data` object of Prometheus's HTTP API
//! (`{"resultType": …, "result": …}`), so `canarysim query` prints what a
//! template author would see from `/api/v1/query`.
//!
//! In: a [`Value`] and the evaluation time (scalars and strings carry no
//! timestamp of their own). Out: a `serde_json::Value`. As in Prometheus,
//! timestamps are Unix seconds as JSON numbers and sample values are strings
//! (`"NaN"`, `"+Inf"`, exponent form below 1e-6 and from 1e21).

use serde_json::{Map, Number, Value as Json, json};

use super::float::format_api;
use super::value::Value;
use crate::series::Labels;

/// The HTTP API `data` object for `value`, evaluated at `at_ms`.
pub fn render_data(value: &Value, at_ms: i64) -> Json {
    let (kind, result) = match value {
        Value::Scalar(v) => ("scalar", point(at_ms, *v)),
        Value::String(s) => ("string", json!([timestamp(at_ms), s])),
        Value::Vector(v) => (
            "vector",
            Json::Array(
                v.iter()
                    .map(|s| json!({"metric": metric(&s.labels), "value": point(s.t, s.v)}))
                    .collect(),
            ),
        ),
        Value::Matrix(m) => (
            "matrix",
            Json::Array(
                m.iter()
                    .map(|s| {
                        let values: Vec<Json> = s.samples.iter().map(|p| point(p.t, p.v)).collect();
                        json!({"metric": metric(&s.labels), "values": values})
                    })
                    .collect(),
            ),
        ),
    };
    json!({"resultType": kind, "result": result})
}

/// `[<seconds>, "<value>"]`.
fn point(t_ms: i64, v: f64) -> Json {
    json!([timestamp(t_ms), format_api(v)])
}

/// Milliseconds as Unix seconds: an integer when whole, else a float.
fn timestamp(t_ms: i64) -> Json {
    if t_ms % 1000 == 0 {
        Json::Number(Number::from(t_ms / 1000))
    } else {
        Number::from_f64(t_ms as f64 / 1000.0).map_or(Json::Null, Json::Number)
    }
}

/// A label set as a JSON object, `__name__` included.
fn metric(labels: &Labels) -> Json {
    let mut m = Map::new();
    for (k, v) in labels.iter() {
        m.insert(k.to_string(), Json::String(v.to_string()));
    }
    Json::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::value::{RangeSeries, VectorSample};
    use crate::series::Sample;

    #[test]
    fn vector_renders_like_the_http_api() {
        let v = Value::Vector(vec![VectorSample {
            labels: Labels::with_name("up", [("job", "api")]),
            t: 1_500,
            v: f64::NAN,
        }]);
        assert_eq!(
            render_data(&v, 1_500),
            json!({"resultType": "vector", "result": [
                {"metric": {"__name__": "up", "job": "api"}, "value": [1.5, "NaN"]}
            ]})
        );
    }

    #[test]
    fn scalar_string_and_matrix_use_the_given_time_and_string_values() {
        assert_eq!(
            render_data(&Value::Scalar(0.0000001), 60_000),
            json!({"resultType": "scalar", "result": [60, "1e-07"]})
        );
        assert_eq!(
            render_data(&Value::String("x".into()), 0),
            json!({"resultType": "string", "result": [0, "x"]})
        );
        let m = Value::Matrix(vec![RangeSeries {
            labels: Labels::new([("a", "1")]),
            samples: vec![
                Sample { t: 0, v: 1.0 },
                Sample {
                    t: 15_000,
                    v: f64::INFINITY,
                },
            ],
        }]);
        assert_eq!(
            render_data(&m, 15_000),
            json!({"resultType": "matrix", "result": [
                {"metric": {"a": "1"}, "values": [[0, "1"], [15, "+Inf"]]}
            ]})
        );
    }
}
