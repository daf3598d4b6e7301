//! PromQL over the simulated series store, faithful to Prometheus 3.x.
//!
//! Flow: a query string (already free of Argo's `{{args.*}}`) is parsed by
//! the `promql-parser` crate and evaluated here against a
//! [`crate::series::SeriesStore`] at a simulated instant. The analysis
//! providers and `canarysim query` are its callers; it calls nothing above it.

pub mod value;

pub use value::{RangeSeries, Value, VectorSample};
