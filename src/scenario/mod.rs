//! Scenario files: TOML in, a validated [`Scenario`] out.
//!
//! Two stages, as the style guide asks: [`file`] mirrors the TOML with serde
//! (syntax, types, unknown keys), [`validate`] checks meaning and builds the
//! model. Every error becomes a [`Diagnostic`] that names the file, line and
//! column and says what would be valid. The engine only ever sees a
//! [`Scenario`]. The format is documented in `docs/scenario.md`.

mod file;
mod model;
pub mod units;
mod validate;

pub use model::*;

use crate::diag::{Diagnostic, Location};

/// Why a scenario could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ScenarioError(pub Diagnostic);

/// Parses and validates scenario text. `file` is the name used in messages.
pub fn load_str(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let parsed: file::ScenarioFile = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        let message = e.message().trim().to_string();
        let hint = if message.starts_with("unknown field") {
            "remove the key or fix its spelling; docs/scenario.md lists every key"
        } else if message.starts_with("missing field") {
            "add the key; docs/scenario.md lists what each table needs"
        } else {
            "see docs/scenario.md for the format"
        };
        ScenarioError(Diagnostic::new(
            Location::at_offset(file, text, at),
            message,
            hint,
        ))
    })?;
    validate::validate(file, parsed).map_err(|e| ScenarioError(validate::diagnose(file, text, e)))
}
