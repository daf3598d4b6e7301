//! How big a query may be, checked on its text before it is parsed.
//!
//! The parser, the evaluator and the drop of the expression tree all recurse
//! once per level of the tree, so a query nested thousands of levels deep
//! (`abs(abs(…))`, `1+1+…+1`) would overflow the thread's stack and abort
//! the process. [`check_text`] bounds the two things that make a tree deep:
//! brackets inside brackets ([`MAX_NESTING`]) and operators, each of which
//! adds a level ([`MAX_OPERATORS`]). The scan skips strings and comments, so
//! a label value may hold any characters.
//!
//! [`MAX_QUERY_WORK`] bounds the other dimension, the samples one evaluation
//! reads; `engine::Evaluator` counts them.
//!
//! In: the query text. Out: `Ok` or [`PromqlError::TooComplex`] naming the
//! column and the limit. Neighbours: [`super::Query::parse`] calls it first.

use super::error::PromqlError;

/// The most brackets (`(`, `[`, `{`) open at once in one query.
pub const MAX_NESTING: usize = 64;

/// The most operators (`+`, `and`, `==`, unary `-`, …) in one query.
pub const MAX_OPERATORS: usize = 256;

/// The most samples one evaluation of a query may read (a subquery reads
/// its inner expression's samples once per step).
pub const MAX_QUERY_WORK: u64 = 50_000_000;

/// Whether `text` stays within [`MAX_NESTING`] and [`MAX_OPERATORS`].
pub(crate) fn check_text(text: &str) -> Result<(), PromqlError> {
    let too_complex = |offset: usize, what: String| PromqlError::TooComplex {
        column: text[..offset].chars().count() + 1,
        what,
    };
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut braces = 0usize;
    let mut operators = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' | b'\'' | b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != c {
                    if bytes[i] == b'\\' && c != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if c == b'{' {
                    braces += 1;
                }
                if depth > MAX_NESTING {
                    return Err(too_complex(
                        i,
                        format!("more than {MAX_NESTING} brackets open at once"),
                    ));
                }
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if c == b'}' {
                    braces = braces.saturating_sub(1);
                }
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'=' | b'!' | b'<' | b'>' if braces == 0 => {
                // An exponent's sign belongs to its number: `1e-5`.
                let exponent_sign = (c == b'-' || c == b'+')
                    && i >= 2
                    && matches!(bytes[i - 1], b'e' | b'E')
                    && bytes[i - 2].is_ascii_digit();
                // Two-character operators (`==`, `!=`, `<=`, `>=`) count once.
                let second_half =
                    c == b'=' && i >= 1 && matches!(bytes[i - 1], b'=' | b'!' | b'<' | b'>');
                if !exponent_sign && !second_half {
                    operators += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i + 1 < bytes.len()
                    && (bytes[i + 1].is_ascii_alphanumeric()
                        || bytes[i + 1] == b'_'
                        || bytes[i + 1] == b':')
                {
                    i += 1;
                }
                let word = &text[start..=i];
                if braces == 0 && matches!(word, "and" | "or" | "unless" | "atan2") {
                    operators += 1;
                }
            }
            _ => {}
        }
        if operators > MAX_OPERATORS {
            return Err(too_complex(
                i.min(text.len()),
                format!("more than {MAX_OPERATORS} operators"),
            ));
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_per_open_bracket_and_strings_are_skipped() {
        let ok = format!("{}1{}", "abs(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert_eq!(check_text(&ok), Ok(()));
        let deep = format!(
            "{}1{}",
            "abs(".repeat(MAX_NESTING + 1),
            ")".repeat(MAX_NESTING + 1)
        );
        let err = check_text(&deep).unwrap_err().to_string();
        assert!(err.contains("more than 64 brackets"), "{err}");
        assert!(
            err.contains(&format!("column {}", 4 * MAX_NESTING + 4)),
            "{err}"
        );
        let quoted = format!("m{{l=\"{}\"}}", "((((".repeat(100));
        assert_eq!(check_text(&quoted), Ok(()));
    }

    #[test]
    fn operators_are_counted_once_each_outside_selectors() {
        let at_limit = vec!["1"; MAX_OPERATORS + 1].join(" + ");
        assert_eq!(check_text(&at_limit), Ok(()));
        let past = vec!["1"; MAX_OPERATORS + 2].join(" + ");
        assert!(check_text(&past).is_err());
        let words = vec!["a"; MAX_OPERATORS + 2].join(" and ");
        assert!(check_text(&words).is_err());
        // `==` is one operator, `1e-5` holds none, matchers are not operators.
        let cmp = vec!["m{a!=\"1\",b=~\"x\"} == 1e-5"; MAX_OPERATORS / 2].join(" or ");
        assert_eq!(check_text(&cmp), Ok(()));
    }
}
