//! Integration tests: one binary, a module per area.

mod cli;
mod engine;
mod fixtures;
