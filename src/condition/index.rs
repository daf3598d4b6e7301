//! Go-faithful indexing of `result`.
//!
//! In Go's expr, `result[0]` on an empty slice is a runtime error ("index out
//! of range"), so Argo records an Error. The Rust port returns `nil` instead,
//! which would turn `result[0] == nil` into `true` and let other conditions
//! slip through. Before compiling, every `result[<index>]` (not a slice, not a
//! member `x.result`, not inside a string or comment) is rewritten into a call
//! of the checked helper `__argoIndex(result, <index>)`. The helper receives
//! the evaluated operands, so guards such as `len(result) > 0 && result[0] < 1`
//! still short-circuit exactly as in Go.

use super::env::INDEX_FN;

/// Rewrites `result[i]` into `__argoIndex(result, i)`; returns the text
/// unchanged when there is nothing to rewrite.
pub(super) fn rewrite_result_indexing(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 16);
    rewrite(&chars, &mut out);
    out
}

fn rewrite(chars: &[char], out: &mut String) {
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // Strings and comments are copied verbatim.
        if let Some(end) = skip_literal_or_comment(chars, i) {
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        if c.is_ascii_digit() {
            let end = skip_number(chars, i);
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        if is_ident_start(c) {
            let mut end = i + 1;
            while end < chars.len() && is_ident_char(chars[end]) {
                end += 1;
            }
            let ident: String = chars[i..end].iter().collect();
            if ident == "result"
                && !after_member_dot(chars, i)
                && let Some((open, close)) = index_brackets(chars, end)
            {
                out.push_str(INDEX_FN);
                out.push_str("(result, ");
                rewrite(&chars[open + 1..close], out);
                out.push(')');
                i = close + 1;
                continue;
            }
            out.push_str(&ident);
            i = end;
            continue;
        }
        out.push(c);
        i += 1;
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '$' || c == '#'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A number literal, including `1_000`, `0x1F`, `1.5e-3`; a `.` is part of it
/// only when a digit follows (so `1..result` stays a range).
fn skip_number(chars: &[char], start: usize) -> usize {
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        let exponent_sign = (c == '+' || c == '-')
            && i > start
            && matches!(chars[i - 1], 'e' | 'E')
            && !chars[start..i].iter().any(|d| matches!(d, 'x' | 'X'));
        let decimal_point = c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit());
        if c.is_ascii_alphanumeric() || c == '_' || exponent_sign || decimal_point {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// When a string literal or a comment starts at `i`, the index just past it.
fn skip_literal_or_comment(chars: &[char], i: usize) -> Option<usize> {
    let c = chars[i];
    match c {
        '"' | '\'' => {
            let mut j = i + 1;
            while j < chars.len() {
                match chars[j] {
                    '\\' => j += 2,
                    q if q == c => return Some(j + 1),
                    _ => j += 1,
                }
            }
            Some(chars.len())
        }
        '`' => {
            let close = chars[i + 1..].iter().position(|&d| d == '`');
            Some(close.map_or(chars.len(), |p| i + 1 + p + 1))
        }
        '/' if chars.get(i + 1) == Some(&'/') => {
            let nl = chars[i..].iter().position(|&d| d == '\n');
            Some(nl.map_or(chars.len(), |p| i + p))
        }
        '/' if chars.get(i + 1) == Some(&'*') => {
            let mut j = i + 2;
            while j + 1 < chars.len() {
                if chars[j] == '*' && chars[j + 1] == '/' {
                    return Some(j + 2);
                }
                j += 1;
            }
            Some(chars.len())
        }
        _ => None,
    }
}

/// True when the identifier at `i` is a member (`x.result`, `x?.result`).
fn after_member_dot(chars: &[char], i: usize) -> bool {
    chars[..i]
        .iter()
        .rev()
        .find(|c| !c.is_whitespace())
        .is_some_and(|&c| c == '.')
}

/// When an index (not a slice) follows at `from` (after optional spaces),
/// the positions of its `[` and matching `]`.
fn index_brackets(chars: &[char], from: usize) -> Option<(usize, usize)> {
    let mut open = from;
    while open < chars.len() && chars[open].is_whitespace() {
        open += 1;
    }
    if chars.get(open) != Some(&'[') {
        return None;
    }
    let mut depth = 0usize;
    let mut top_colon = false;
    let mut top_question = false;
    let mut j = open + 1;
    while j < chars.len() {
        if let Some(end) = skip_literal_or_comment(chars, j) {
            j = end;
            continue;
        }
        match chars[j] {
            '[' | '(' | '{' => depth += 1,
            ']' if depth == 0 => {
                // `result[a:b]` is a slice, which Go clamps rather than fails;
                // a `?` before the colon makes it a ternary instead.
                if top_colon && !top_question {
                    return None;
                }
                return Some((open, j));
            }
            ']' | ')' | '}' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => top_colon = true,
            '?' if depth == 0 => top_question = true,
            _ => {}
        }
        j += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::rewrite_result_indexing as rw;

    #[test]
    fn rewrites_plain_result_index_into_checked_call() {
        assert_eq!(rw("result[0] < 0.01"), "__argoIndex(result, 0) < 0.01");
        assert_eq!(rw("result [ -1 ] > 2"), "__argoIndex(result,  -1 ) > 2");
    }

    #[test]
    fn leaves_slices_members_strings_and_other_names_alone() {
        for text in [
            "result[0:2]",
            "result[:1]",
            "x.result[0]",
            "'result[0]' == result2",
            "myresult[0] > 1",
            "result2[0] > 1",
            "`result[0]`",
            "1 // result[0]",
        ] {
            assert_eq!(rw(text), text, "{text}");
        }
    }

    #[test]
    fn rewrites_nested_and_ternary_indices() {
        assert_eq!(
            rw("result[result[0] > 1 ? 1 : 0]"),
            "__argoIndex(result, __argoIndex(result, 0) > 1 ? 1 : 0)"
        );
        assert_eq!(
            rw("len(result) > 0 && result[0] < 1"),
            "len(result) > 0 && __argoIndex(result, 0) < 1"
        );
    }

    #[test]
    fn numbers_ending_in_dots_stay_ranges() {
        assert_eq!(rw("1..2"), "1..2");
        assert_eq!(rw("1.5e-3 < result[0]"), "1.5e-3 < __argoIndex(result, 0)");
    }
}
