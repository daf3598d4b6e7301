//! Integration tests: one binary, a module per area.

mod analysis;
mod analysis_seed;
mod analysis_support;
mod batched;
#[cfg(feature = "plot")]
mod browser;
mod calibrate;
mod check;
mod cli;
mod engine;
mod fixtures;
mod hostile;
mod hostile_cli;
mod ingress;
mod lint;
mod locust;
mod manifest;
mod openmetrics;
#[cfg(feature = "plot")]
mod plot;
mod prometheus;
mod promql;
mod promql_conformance;
mod promtool;
mod reports;
mod retention;
mod robustness;
mod rollout;
mod sweep;
mod sweep_merge;
mod world;
