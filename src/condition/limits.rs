//! How big a condition may be, checked on its text before it is compiled.
//!
//! expr's parser, its evaluator and this module's `result[i]` rewrite all
//! recurse once per level of the expression, so thousands of nested
//! parentheses or `&&`s would overflow the stack and abort the process; a
//! range such as `0..2000000000` would build a list of two billion numbers.
//! [`check_text`] bounds all three before anything else reads the text:
//! brackets open at once ([`MAX_NESTING`]), operator characters and words
//! ([`MAX_OPERATORS`]), and the numbers all ranges may produce together
//! ([`MAX_RANGE_ELEMENTS`]; a range's bounds must be integer literals so that
//! this is known before the condition runs). Strings and comments are skipped.
//!
//! In: the condition text. Out: `Ok` or a message with the column.
//! Neighbours: [`super::Condition::compile`] calls it first, so `lint` and
//! the analysis run share the limits.

/// The most brackets (`(`, `[`, `{`) open at once in one condition.
pub const MAX_NESTING: usize = 64;

/// The most operator characters (`&&` counts two) and operator words
/// (`and`, `or`, `not`, `in`, …) in one condition.
pub const MAX_OPERATORS: usize = 512;

/// The most numbers all the ranges (`a..b`) of one condition may produce,
/// multiplied together (ranges may be nested inside `map`).
pub const MAX_RANGE_ELEMENTS: u128 = 100_000;

const OPERATOR_WORDS: [&str; 9] = [
    "and",
    "or",
    "not",
    "in",
    "matches",
    "contains",
    "startsWith",
    "endsWith",
    "let",
];

/// Whether `text` stays within the limits; the error names the column.
pub(super) fn check_text(text: &str) -> Result<(), String> {
    let column = |offset: usize| text[..offset].chars().count() + 1;
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut operators = 0usize;
    let mut range_product: u128 = 1;
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
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!(
                        "column {}: more than {MAX_NESTING} brackets open at once; simplify the condition",
                        column(i)
                    ));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'.' if bytes.get(i + 1) == Some(&b'.') => {
                let span = range_span(text, i).ok_or_else(|| {
                    format!(
                        "column {}: a range's bounds must be integer literals (`0..9`)",
                        column(i)
                    )
                })?;
                range_product = range_product.saturating_mul(span.max(1));
                if range_product > MAX_RANGE_ELEMENTS {
                    return Err(format!(
                        "column {}: ranges would produce more than {MAX_RANGE_ELEMENTS} numbers",
                        column(i)
                    ));
                }
                operators += 2;
                i += 1;
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'=' | b'!' | b'<' | b'>' | b'&' | b'|'
            | b'?' | b':' => operators += 1,
            c if c.is_ascii_alphabetic() || c == b'_' || c == b'$' => {
                let start = i;
                while i + 1 < bytes.len()
                    && (bytes[i + 1].is_ascii_alphanumeric() || matches!(bytes[i + 1], b'_' | b'$'))
                {
                    i += 1;
                }
                if OPERATOR_WORDS.contains(&&text[start..=i]) {
                    operators += 1;
                }
            }
            _ => {}
        }
        if operators > MAX_OPERATORS {
            return Err(format!(
                "column {}: more than {MAX_OPERATORS} operators; simplify the condition",
                column(i.min(text.len()))
            ));
        }
        i += 1;
    }
    Ok(())
}

/// How many numbers the range whose `..` starts at byte `dots` produces, when
/// both bounds are integer literals (`-` allowed) standing alone between
/// brackets or commas, so no operator around them can change their value.
fn range_span(text: &str, dots: usize) -> Option<u128> {
    let opens = |c: char| matches!(c, '(' | '[' | '{' | ',');
    let closes = |c: char| matches!(c, ')' | ']' | '}' | ',');
    let before = text[..dots].trim_end();
    let low_start = before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let mut low: i128 = before[low_start..].parse().ok()?;
    let mut rest = before[..low_start].trim_end();
    if let Some(r) = rest.strip_suffix('-') {
        low = -low;
        rest = r.trim_end();
    }
    if !(rest.is_empty() || rest.ends_with(opens)) {
        return None;
    }
    let mut after = text[dots + 2..].trim_start();
    let negative = after.starts_with('-');
    if negative {
        after = after[1..].trim_start();
    }
    let high_len = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let mut high: i128 = after[..high_len].parse().ok()?;
    if negative {
        high = -high;
    }
    let tail = after[high_len..].trim_start();
    if !(tail.is_empty() || tail.starts_with(closes)) {
        return None;
    }
    Some(u128::try_from(high - low + 1).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_past_the_limit_is_located() {
        let ok = format!("{}true{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert_eq!(check_text(&ok), Ok(()));
        let deep = format!(
            "{}true{}",
            "(".repeat(MAX_NESTING + 1),
            ")".repeat(MAX_NESTING + 1)
        );
        let err = check_text(&deep).unwrap_err();
        assert!(
            err.starts_with(&format!("column {}:", MAX_NESTING + 1)),
            "{err}"
        );
        assert_eq!(
            check_text(&format!("\"{}\" == \"\"", "(".repeat(500))),
            Ok(())
        );
    }

    #[test]
    fn operators_are_counted_per_character_and_word() {
        let ok = vec!["true"; MAX_OPERATORS / 2 + 1].join(" && ");
        assert_eq!(check_text(&ok), Ok(()));
        let past = vec!["true"; MAX_OPERATORS / 2 + 2].join(" && ");
        assert!(check_text(&past).unwrap_err().contains("operators"));
        let words = vec!["true"; MAX_OPERATORS + 2].join(" and ");
        assert!(check_text(&words).is_err());
        let bangs = format!("{}true", "!".repeat(MAX_OPERATORS + 1));
        assert!(check_text(&bangs).is_err());
    }

    #[test]
    fn ranges_need_literal_bounds_and_stay_within_the_element_budget() {
        assert_eq!(check_text("len(0..99999) > 0"), Ok(()));
        assert_eq!(check_text("len(-5..5) == 11"), Ok(()));
        assert_eq!(range_span("-5..5", 2), Some(11));
        assert_eq!(range_span("(9..3)", 2), Some(0));
        // An operator beside a bound could change it: not a literal bound.
        assert_eq!(range_span("3 -5..5", 4), None);
        assert_eq!(range_span("(0..5 * 9)", 2), None);
        let err = check_text("len(0..2000000000) > 0").unwrap_err();
        assert!(err.starts_with("column 6:"), "{err}");
        assert!(err.contains("100000"), "{err}");
        assert!(
            check_text("len(0..len(result)) > 0")
                .unwrap_err()
                .contains("literals")
        );
        // Nested ranges multiply.
        let nested = "all(0..999, {all(0..999, {# >= 0})})";
        assert!(check_text(nested).is_err());
        assert_eq!(check_text("all(0..99, {all(0..99, {# >= 0})})"), Ok(()));
        // Inside a string, dots are text.
        assert_eq!(check_text("\"0..2000000000\" != \"\""), Ok(()));
    }
}
