//! Diagnostics that point into a user's file: `file:line:column: message`,
//! with a hint that says what would be valid.
//!
//! Scenario loading, manifest loading and `lint` all report through
//! [`Diagnostic`], so every error a user sees has the same shape.

use std::fmt;

/// A position in a source file, 1-based as editors count.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// The file as the user named it.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` in `text` (clamped to its length).
    pub fn at_offset(file: &str, text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = text[line_start..offset].chars().count() + 1;
        Location {
            file: file.to_string(),
            line,
            column,
        }
    }

    /// The first line of a file, for errors that concern the whole of it.
    pub fn start_of(file: &str) -> Location {
        Location {
            file: file.to_string(),
            line: 1,
            column: 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0 stands for a place that is not in a file (a flag).
        if self.line == 0 {
            return write!(f, "{}", self.file);
        }
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem found in a user's file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// Where it is.
    pub location: Location,
    /// What is wrong, in one line.
    pub message: String,
    /// What would be valid, or how to fix it; may be empty.
    pub hint: String,
}

impl Diagnostic {
    /// A diagnostic at `location`.
    pub fn new(location: Location, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Diagnostic {
            location,
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n  hint: {}", self.hint)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_one_based_lines_and_columns() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(Location::at_offset("f", text, 0).to_string(), "f:1:1");
        assert_eq!(Location::at_offset("f", text, 6).to_string(), "f:2:1");
        assert_eq!(Location::at_offset("f", text, 11).to_string(), "f:2:6");
        assert_eq!(Location::at_offset("f", text, 999).line, 3);
    }
}
