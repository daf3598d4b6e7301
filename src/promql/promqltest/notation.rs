//! The small languages inside promqltest files: durations (`1m30s`), series
//! descriptions (`name{l="v"} 1+2x3 _ stale`), expected numbers and quoted
//! strings.
//!
//! In: one trimmed line (or token). Out: labels and a list of values with
//! gaps, staleness markers and native-histogram placeholders, or an error
//! message naming the bad token. Rules from Prometheus's `ParseSeriesDesc`:
//! `a+bxn` is n+1 values built by repeated addition, `axn` n+1 copies, `_xn`
//! n gaps, `{{…}}` a native histogram (kept only as a placeholder).

use crate::promql::float::parse_go;
use crate::series::{Labels, METRIC_NAME, STALE_NAN};

/// One slot of a series description.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SeqValue {
    /// `_`: no sample in this slot.
    Omitted,
    /// A float sample (possibly a staleness marker).
    Float(f64),
    /// A native histogram sample, not evaluated by this runner.
    Histogram,
}

/// Parses a Prometheus duration (`1h30m`, `5m`, `0`, `250ms`) into
/// milliseconds.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err("empty duration string".to_string());
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let mut rest = s;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(format!("not a valid duration string: {s:?}"));
        }
        let n: i64 = rest[..digits]
            .parse()
            .map_err(|_| format!("duration out of range: {s:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        let Some(pos) = UNITS[next_unit..].iter().position(|(u, _)| *u == unit) else {
            return Err(format!("not a valid duration string: {s:?}"));
        };
        let factor = UNITS[next_unit + pos].1;
        next_unit += pos + 1;
        total = n
            .checked_mul(factor)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("duration out of range: {s:?}"))?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Parses an expected scalar line as Go's `ParseInt(s, 0, 64)` then
/// `ParseFloat`; `None` if the line is not a number.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    if let Some(i) = parse_go_int(s) {
        return Some(i as f64);
    }
    parse_go(s)
}

/// Go's `strconv.ParseInt(s, 0, 64)`: sign, then `0x`/`0o`/`0b`/`0` prefixes.
fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower.clone())
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return None;
    }
    let digits = if radix == 10 {
        digits
    } else {
        digits.replace('_', "")
    };
    let v = i64::from_str_radix(&digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

/// Go's `strconv.Unquote` for `"…"`, `'…'` and `` `…` ``.
pub(crate) fn unquote(s: &str) -> Result<String, String> {
    let mut chars = s.chars();
    let quote = chars.next().ok_or("empty string literal")?;
    if s.len() < 2 || !s.ends_with(quote) || !matches!(quote, '"' | '\'' | '`') {
        return Err(format!("invalid string literal {s}"));
    }
    let inner = &s[1..s.len() - 1];
    if quote == '`' {
        return Ok(inner.to_string());
    }
    let mut out = String::new();
    let mut it = inner.chars().peekable();
    while let Some(c) = it.next() {
        if c == quote {
            return Err(format!("unescaped quote in {s}"));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = it.next().ok_or("trailing backslash")?;
        let mut take = |n: usize, radix: u32| -> Result<u32, String> {
            let digits: String = (0..n).filter_map(|_| it.next()).collect();
            u32::from_str_radix(&digits, radix).map_err(|_| format!("bad escape in {s}"))
        };
        match e {
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            '\\' | '"' | '\'' => out.push(e),
            'x' => out.push(char::from_u32(take(2, 16)?).ok_or("bad \\x escape")?),
            'u' => out.push(char::from_u32(take(4, 16)?).ok_or("bad \\u escape")?),
            'U' => out.push(char::from_u32(take(8, 16)?).ok_or("bad \\U escape")?),
            '0'..='7' => {
                let rest = take(2, 8)?;
                let v = (e as u32 - '0' as u32) * 64 + rest;
                out.push(char::from_u32(v).ok_or("bad octal escape")?);
            }
            _ => return Err(format!("unknown escape \\{e} in {s}")),
        }
    }
    if quote == '\'' && out.chars().count() != 1 {
        return Err(format!("invalid rune literal {s}"));
    }
    Ok(out)
}

/// A cursor over one line.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }
    fn skip_ws(&mut self) {
        let n = self.rest().len() - self.rest().trim_start().len();
        self.pos += n;
    }
    fn ident(&mut self) -> Option<&'a str> {
        let r = self.rest();
        let n = r
            .char_indices()
            .take_while(|&(i, c)| {
                c == '_' || c == ':' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
            })
            .count();
        (n > 0).then(|| {
            self.pos += n;
            &r[..n]
        })
    }
    /// A quoted string token (with its quotes), unquoted.
    fn string(&mut self) -> Result<String, String> {
        let r = self.rest();
        let quote = r.chars().next().ok_or("expected a string")?;
        let mut escaped = false;
        for (i, c) in r.char_indices().skip(1) {
            if escaped {
                escaped = false;
            } else if c == '\\' && quote != '`' {
                escaped = true;
            } else if c == quote {
                self.pos += i + 1;
                return unquote(&r[..=i]);
            }
        }
        Err(format!("unterminated string {r}"))
    }
}

/// Parses `name{l="v", …}` at the start of a line; returns the labels and
/// the rest of the line.
pub(crate) fn parse_metric(line: &str) -> Result<(Labels, &str), String> {
    let mut c = Cursor { s: line, pos: 0 };
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(name) = c.ident() {
        pairs.push((METRIC_NAME.to_string(), name.to_string()));
    }
    if c.peek() == Some('{') {
        c.pos += 1;
        loop {
            c.skip_ws();
            match c.peek() {
                Some('}') => {
                    c.pos += 1;
                    break;
                }
                Some(',') => {
                    c.pos += 1;
                    continue;
                }
                None => return Err(format!("unclosed label set in {line:?}")),
                _ => {}
            }
            let (name, quoted) = match c.peek() {
                Some('"' | '\'' | '`') => (c.string()?, true),
                _ => (
                    c.ident()
                        .ok_or_else(|| format!("bad label name in {line:?}"))?
                        .to_string(),
                    false,
                ),
            };
            c.skip_ws();
            if quoted && matches!(c.peek(), Some(',' | '}')) {
                pairs.push((METRIC_NAME.to_string(), name));
                continue;
            }
            if c.peek() != Some('=') {
                return Err(format!("expected '=' after label {name:?} in {line:?}"));
            }
            c.pos += 1;
            c.skip_ws();
            let value = c.string()?;
            pairs.push((name, value));
        }
    } else if pairs.is_empty() {
        return Err(format!("expected a metric in {line:?}"));
    }
    Ok((Labels::new(pairs), c.rest()))
}

/// Parses a series description line: labels and values.
/// The most values one series description may expand to (`0+1x999999`
/// is the longest), so that `1x18446744073709551615` is an error rather than
/// an attempt to allocate the machine's memory.
pub const MAX_SERIES_VALUES: usize = 1_000_000;

/// On failure, the byte offset in `line` of the bad part and what is wrong.
pub(crate) fn parse_series(line: &str) -> Result<(Labels, Vec<SeqValue>), (usize, String)> {
    let (labels, rest) = parse_metric(line).map_err(|e| (0, e))?;
    let rest_at = line.len() - rest.len();
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return Err((rest_at, format!("unexpected {rest:?} after the metric")));
    }
    let values = parse_values(rest).map_err(|(at, e)| (rest_at + at, e))?;
    Ok((labels, values))
}

/// Parses the value list of a series description; on failure, the byte
/// offset in `s` of the bad item and what is wrong.
pub(crate) fn parse_values(s: &str) -> Result<Vec<SeqValue>, (usize, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let at = s.len() - rest.len();
        let len = if rest.starts_with("{{") {
            histogram_item_len(rest).map_err(|e| (at, e))?
        } else {
            rest.find(char::is_whitespace).unwrap_or(rest.len())
        };
        let (item, tail) = rest.split_at(len);
        if item.starts_with("{{") {
            let times = match item.rfind("}}x") {
                Some(i) => repetitions(&item[i + 3..], 1, out.len()).map_err(|e| (at, e))?,
                None => 1,
            };
            out.extend(std::iter::repeat_n(SeqValue::Histogram, times));
        } else {
            parse_item(item, &mut out).map_err(|e| (at, e))?;
        }
        rest = tail.trim_start();
    }
    Ok(out)
}

/// The count `n` written after an `x`, plus `extra`, checked so that the
/// series (`so_far` values already) stays within [`MAX_SERIES_VALUES`].
fn repetitions(n: &str, extra: usize, so_far: usize) -> Result<usize, String> {
    let count = parse_uint(n)?;
    match count
        .checked_add(extra)
        .filter(|c| c.saturating_add(so_far) <= MAX_SERIES_VALUES)
    {
        Some(c) => Ok(c),
        None => Err(format!(
            "repetition count {n} makes the series longer than {MAX_SERIES_VALUES} values"
        )),
    }
}

/// The length of a `{{…}}` item with its optional `+{{…}}`/`-{{…}}` and
/// `xN` suffix.
fn histogram_item_len(s: &str) -> Result<usize, String> {
    let close = |from: usize| {
        s[from..]
            .find("}}")
            .map(|i| from + i + 2)
            .ok_or_else(|| format!("unclosed histogram in {s:?}"))
    };
    let mut end = close(0)?;
    if s[end..].starts_with("+{{") || s[end..].starts_with("-{{") {
        end = close(end + 1)?;
    }
    if s[end..].starts_with('x') {
        end += 1 + s[end + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .count();
    }
    Ok(end)
}

fn parse_uint(s: &str) -> Result<usize, String> {
    s.parse::<usize>()
        .map_err(|_| format!("bad repetition count {s:?}"))
}

/// Splits a leading signed number (decimal, `Inf`, `NaN`) off `s`.
fn split_number(s: &str) -> Option<(f64, &str)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
        i += 1;
    }
    let body = &s[i..];
    for word in ["Inf", "NaN"] {
        if body.len() >= 3 && body[..3].eq_ignore_ascii_case(word) {
            return Some((parse_go(&s[..i + 3])?, &s[i + 3..]));
        }
    }
    let start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i == start || &s[start..i] == "." {
        return None;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        let mut j = i + 1;
        if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
            j += 1;
        }
        let digits_start = j;
        while j < bytes.len() && bytes[j].is_ascii_digit() {
            j += 1;
        }
        if j > digits_start {
            i = j;
        }
    }
    Some((s[..i].parse::<f64>().ok()?, &s[i..]))
}

/// Parses one whitespace-free value item.
fn parse_item(item: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    if item == "_" {
        out.push(SeqValue::Omitted);
        return Ok(());
    }
    if let Some(n) = item.strip_prefix("_x") {
        let count = repetitions(n, 0, out.len())?;
        out.extend(std::iter::repeat_n(SeqValue::Omitted, count));
        return Ok(());
    }
    let (start, rest) = if let Some(r) = item.strip_prefix("stale") {
        (STALE_NAN, r)
    } else {
        split_number(item).ok_or_else(|| format!("bad value {item:?}"))?
    };
    if rest.is_empty() {
        out.push(SeqValue::Float(start));
        return Ok(());
    }
    if let Some(n) = rest.strip_prefix('x') {
        let count = repetitions(n, 1, out.len())?;
        out.extend(std::iter::repeat_n(SeqValue::Float(start), count));
        return Ok(());
    }
    if rest.starts_with(['+', '-']) {
        let (step, after) = split_number(rest).ok_or_else(|| format!("bad value {item:?}"))?;
        let n = after
            .strip_prefix('x')
            .ok_or_else(|| format!("expected 'x' in {item:?}"))?;
        let mut v = start;
        for _ in 0..repetitions(n, 1, out.len())? {
            out.push(SeqValue::Float(v));
            v += step;
        }
        return Ok(());
    }
    Err(format!("bad value {item:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_prometheus() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("1m30s"), Ok(90_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("1d2h"), Ok(93_600_000));
        assert!(parse_duration("30s1m").is_err());
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn series_values_expand_like_parse_series_desc() {
        let (l, v) = parse_series(
            r#"http_requests{job="api", code="200"} 0+10x2 _ stale 5x1 _x2 -1-1x1 1e3"#,
        )
        .unwrap();
        assert_eq!(
            l,
            Labels::with_name("http_requests", [("job", "api"), ("code", "200")])
        );
        let f = |x: f64| SeqValue::Float(x);
        assert_eq!(v.len(), 12);
        assert_eq!(&v[..3], &[f(0.0), f(10.0), f(20.0)]);
        assert_eq!(v[3], SeqValue::Omitted);
        assert!(matches!(v[4], SeqValue::Float(x) if crate::series::is_stale_nan(x)));
        assert_eq!(
            &v[5..9],
            &[f(5.0), f(5.0), SeqValue::Omitted, SeqValue::Omitted]
        );
        assert_eq!(&v[9..], &[f(-1.0), f(-2.0), f(1000.0)][..]);
        let (_, v) = parse_series("m 0x10 Inf -Inf NaN").unwrap();
        assert_eq!(v.len(), 14);
        assert_eq!(v[11], f(f64::INFINITY));
        assert_eq!(v[12], f(f64::NEG_INFINITY));
    }

    #[test]
    fn histograms_and_quoted_names_are_recognised() {
        let (l, v) =
            parse_series(r#"{"my.metric", a="b"} {{schema:0 sum:5 count:4 buckets:[1 2 1]}}x2 1"#)
                .unwrap();
        assert_eq!(l.metric_name(), Some("my.metric"));
        assert_eq!(
            v,
            vec![SeqValue::Histogram; 3]
                .into_iter()
                .chain([SeqValue::Float(1.0)])
                .collect::<Vec<_>>()
        );
        let (_, v) = parse_series("h {{count:1}}+{{count:2}}x3").unwrap();
        assert_eq!(v.len(), 4);
        let (l, v) = parse_series("{}").unwrap();
        assert!(l.is_empty() && v.is_empty());
    }

    #[test]
    fn numbers_and_strings_parse_as_go_does() {
        assert_eq!(parse_number("3"), Some(3.0));
        assert_eq!(parse_number("0x10"), Some(16.0));
        assert_eq!(parse_number("010"), Some(8.0));
        assert_eq!(parse_number("-1.5e3"), Some(-1500.0));
        assert!(parse_number("NaN").unwrap().is_nan());
        assert_eq!(parse_number("foo"), None);
        assert_eq!(unquote(r#""a\"b\n""#), Ok("a\"b\n".to_string()));
        assert_eq!(unquote("`raw\\n`"), Ok("raw\\n".to_string()));
        assert!(unquote("\"open").is_err());
    }
}
