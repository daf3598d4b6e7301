//! Integration tests: one binary, a module per area.

mod promql;
mod promql_conformance;
mod promtool;
