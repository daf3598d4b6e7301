//! The values a PromQL expression evaluates to.

use crate::series::{Labels, Sample};

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    /// The series' labels (metric name dropped where PromQL drops it).
    pub labels: Labels,
    /// Evaluation timestamp, milliseconds.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// One series of a range vector.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Its samples in the range, oldest first.
    pub samples: Vec<Sample>,
}

/// The result of evaluating an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number (`scalar` in the HTTP API).
    Scalar(f64),
    /// A string literal.
    String(String),
    /// An instant vector.
    Vector(Vec<VectorSample>),
    /// A range vector, or the result of a range query.
    Matrix(Vec<RangeSeries>),
}
