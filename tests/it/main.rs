//! Integration tests: one binary, a module per area.

mod analysis;
mod analysis_seed;
mod analysis_support;
mod batched;
mod cli;
mod engine;
mod fixtures;
mod lint;
mod locust;
mod manifest;
mod promql;
mod promql_conformance;
mod promtool;
mod reports;
mod robustness;
mod rollout;
mod world;
