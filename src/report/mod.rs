//! Reports: run results rendered as text, JSON, CSV, Markdown and HTML.
//!
//! Every renderer returns a `String` and never touches files; the binary
//! decides where output goes (hyperfine's exporter pattern). Flow: the
//! engine's [`crate::outcome::RunResult`]s and series in, text out.

pub mod aggregate;
pub mod csv;
pub mod html;
pub mod markdown;
pub mod sweep;
pub mod table;
pub mod text;

use crate::outcome::{Report, RunResult};

/// The JSON report of `canarysim run --format json`, pretty-printed, with a
/// trailing newline.
pub fn json(runs: &[RunResult]) -> String {
    let report = Report {
        runs: runs.to_vec(),
    };
    let mut s = serde_json::to_string_pretty(&report).expect("invariant: results serialise");
    s.push('\n');
    s
}
