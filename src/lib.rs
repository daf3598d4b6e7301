//! canarysim: a deterministic discrete-event simulator and policy tester for
//! canary deployments driven by Argo Rollouts.
//!
//! Data flows one way:
//! scenario files → a validated [`scenario::Scenario`] → the engine's run over
//! one policy and seed → a run result → reports. The binary (`src/main.rs`)
//! is the only place that does I/O or parses command lines.
#![deny(missing_docs)]

pub mod analysis;
pub mod check;
pub mod condition;
pub mod describe;
pub mod diag;
pub mod engine;
pub mod judge;
pub mod lint;
pub mod locust;
pub mod manifest;
pub mod memo;
pub mod model;
pub mod names;
pub mod outcome;
#[cfg(feature = "plot")]
pub mod plot;
pub mod promql;
pub mod report;
pub mod rollout;
pub mod scenario;
pub mod series;
pub mod sim;
pub mod sweep;
pub mod vfs;
