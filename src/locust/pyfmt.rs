//! Python's text forms, so that the CSV files read byte for byte like the
//! ones Locust writes: `repr(float)`, `repr(str)`, `str(int)`, the `csv`
//! module's excel dialect (minimal quoting, `\r\n` line ends), and
//! `datetime.strftime("%Y-%m-%dT%H:%M:%SZ")` of a Unix time.
//!
//! Used by `csv.rs` (the writers) and `stats.rs` (failure keys).

use std::fmt::Write;

/// A number as Python holds it: Locust's columns are sometimes `int`
/// (bucketed medians, counts, a missing minimum's `0`) and sometimes `float`
/// (measured response times, averages, rates), and the two print differently
/// (`150` against `150.0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PyNum {
    /// A Python `int`.
    Int(i64),
    /// A Python `float`.
    Float(f64),
}

impl PyNum {
    /// The value as a float, for comparisons and pushes.
    pub fn as_f64(self) -> f64 {
        match self {
            PyNum::Int(i) => i as f64,
            PyNum::Float(f) => f,
        }
    }

    /// `str(x)` of the Python value.
    pub fn write(self, out: &mut String) {
        match self {
            PyNum::Int(i) => {
                let _ = write!(out, "{i}");
            }
            PyNum::Float(f) => write_float_repr(out, f),
        }
    }
}

/// Appends Python's `repr(x)` of a float: the shortest digits that round-trip,
/// fixed notation with at least one decimal when the decimal exponent is in
/// [-4, 16), scientific (`1e-05`, `1.5e+16`) otherwise.
pub fn write_float_repr(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("nan");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
        return;
    }
    if x == 0.0 {
        out.push_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    // Rust's `{:e}` prints the shortest round-trip digits: "d.ddde±x".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').expect("invariant: {:e} has an e");
    let exp: i32 = exp.parse().expect("invariant: {:e} exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if x < 0.0 {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
    }
}

/// Python's `repr(x)` of a float, as a new string.
pub fn float_repr(x: f64) -> String {
    let mut s = String::new();
    write_float_repr(&mut s, x);
    s
}

/// Python's `repr(s)` of a string: single quotes unless the text holds a
/// single quote and no double quote; backslashes, the chosen quote and
/// control characters escaped.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Appends one CSV field as Python's `csv.writer` (excel dialect,
/// `QUOTE_MINIMAL`) writes it: quoted, with quotes doubled, when it holds a
/// comma, a double quote, `\r` or `\n`.
pub fn write_csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        for c in field.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// Appends a whole CSV row (fields already formatted) ending in `\r\n`, the
/// excel dialect's line terminator.
pub fn write_csv_row<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_csv_field(out, f.as_ref());
    }
    out.push_str("\r\n");
}

/// Locust's `format_utc_timestamp`: `%Y-%m-%dT%H:%M:%SZ` of whole Unix seconds.
pub fn utc_timestamp(unix_s: i64) -> String {
    let days = unix_s.div_euclid(86_400);
    let secs = unix_s.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift to an era starting on 0000-03-01 so leap days fall at year end.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        // Each right-hand side is what CPython 3 prints for repr(left).
        let cases: [(f64, &str); 14] = [
            (0.0, "0.0"),
            (10.0, "10.0"),
            (52.345, "52.345"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (9999999999999998.0, "9999999999999998.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (123456.789, "123456.789"),
            (-2.5, "-2.5"),
            (1e22, "1e+22"),
            (2.0 / 3.0, "0.6666666666666666"),
        ];
        for (x, want) in cases {
            assert_eq!(float_repr(x), want, "repr({x:e})");
        }
    }

    #[test]
    fn str_repr_picks_quotes_as_python_does() {
        assert_eq!(str_repr("abc"), "'abc'");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(str_repr("x\\y\n"), "'x\\\\y\\n'");
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        let mut s = String::new();
        write_csv_row(&mut s, &["a", "b,c", "say \"hi\"", ""]);
        assert_eq!(s, "a,\"b,c\",\"say \"\"hi\"\"\",\r\n");
    }

    #[test]
    fn utc_timestamps_cross_leap_days_and_years() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(1_709_251_199), "2024-02-29T23:59:59Z");
    }
}
