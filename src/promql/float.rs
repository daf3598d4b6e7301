//! Float arithmetic the way Go (and so Prometheus) does it.
//!
//! Rust's `f64::max`/`f64::min` ignore NaN, Go's `math.Max`/`math.Min`
//! propagate it; Prometheus sums with Kahan–Neumaier compensation; Go formats
//! floats with `strconv.FormatFloat(f, 'f', -1, 64)` and parses them with
//! `ParseFloat`. The evaluator and the promqltest runner use these helpers so
//! that every numeric edge case matches the reference implementation.

/// One step of Kahan–Neumaier summation: adds `inc` to `sum` with running
/// compensation `c` and returns the new `(sum, c)`. The caller adds `c` to
/// the sum at the end. An infinite partial sum resets the compensation.
pub fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Go's `math.Max`: +Inf wins, then NaN wins, and `+0` beats `-0`.
pub fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        return f64::INFINITY;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { b } else { a };
    }
    if a > b { a } else { b }
}

/// Go's `math.Min`: -Inf wins, then NaN wins, and `-0` beats `+0`.
pub fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { a } else { b };
    }
    if a < b { a } else { b }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest decimal that
/// round-trips, never in exponent form; `NaN`, `+Inf`, `-Inf` for the
/// specials.
pub fn format_go(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_string()
    } else if f == f64::INFINITY {
        "+Inf".to_string()
    } else if f == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{f}")
    }
}

/// How the Prometheus HTTP API writes a sample value: Go's `FormatFloat`
/// with the shortest round-trip digits, in fixed form, or in exponent form
/// (`1e-07`, `1.5e+21`) when the magnitude is below 1e-6 or at least 1e21.
pub fn format_api(f: f64) -> String {
    let abs = f.abs();
    if !f.is_finite() || abs == 0.0 || (1e-6..1e21).contains(&abs) {
        return format_go(f);
    }
    let sci = format!("{f:e}");
    let (mantissa, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let sign = if e < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", e.abs())
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`: shortest round-trip digits,
/// exponent form when the decimal exponent is below -4 or at least 6.
pub fn format_g(f: f64) -> String {
    if !f.is_finite() || f == 0.0 {
        return format_go(f);
    }
    let sci = format!("{f:e}");
    let (mantissa, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    if (-4..6).contains(&e) {
        format_go(f)
    } else {
        let sign = if e < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", e.abs())
    }
}

/// Prometheus's `FormatOpenMetricsFloat`: like [`format_g`], with `.0`
/// appended when the result has neither a `.` nor an exponent.
pub fn format_openmetrics(f: f64) -> String {
    let s = format_g(f);
    if f.is_finite() && !s.contains(['.', 'e']) {
        format!("{s}.0")
    } else {
        s
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for the inputs PromQL meets: decimal
/// numbers with optional sign and exponent, `Inf`/`Infinity`/`NaN` in any
/// case, and `0x` hex integers. Returns `None` where Go returns an error.
pub fn parse_go(s: &str) -> Option<f64> {
    let t = s.trim_start_matches(['+', '-']);
    if t.len() + 1 < s.len() {
        return None;
    }
    let negative = s.starts_with('-');
    let lower = t.to_ascii_lowercase();
    let mag = match lower.as_str() {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => f64::NAN,
        _ if lower.starts_with("0x") && !lower.contains('p') => {
            let digits = lower[2..].replace('_', "");
            u64::from_str_radix(&digits, 16).ok()? as f64
        }
        _ => {
            if t.is_empty()
                || !t
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
            {
                return None;
            }
            t.parse::<f64>().ok()?
        }
    };
    Some(if negative { -mag } else { mag })
}

/// The comparison the promqltest suite uses (`almost.Equal` with an
/// epsilon): equal when the relative difference is below `epsilon`; a zero
/// operand needs a near-exact match; NaN equals NaN; a staleness marker
/// equals only another staleness marker.
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    use crate::series::is_stale_nan;
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_max_and_min_propagate_nan_unlike_rust() {
        assert!(go_max(f64::NAN, 1.0).is_nan());
        assert!(go_max(1.0, f64::NAN).is_nan());
        assert_eq!(go_max(f64::NAN, f64::INFINITY), f64::INFINITY);
        assert!(go_min(3.0, f64::NAN).is_nan());
        assert_eq!(go_min(f64::NAN, f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert!(go_max(-0.0, 0.0).is_sign_positive());
        assert!(go_min(0.0, -0.0).is_sign_negative());
        assert_eq!(go_max(2.0, 5.0), 5.0);
        assert_eq!(go_min(2.0, 5.0), 2.0);
    }

    #[test]
    fn kahan_sum_recovers_lost_low_order_bits() {
        let (mut s, mut c) = (0.0, 0.0);
        for x in [1.0, 1e100, 1.0, -1e100] {
            (s, c) = kahan_inc(x, s, c);
        }
        assert_eq!(s + c, 2.0);
        let naive: f64 = [1.0, 1e100, 1.0, -1e100].iter().sum();
        assert_eq!(naive, 0.0);
    }

    #[test]
    fn formatting_matches_go() {
        assert_eq!(format_go(1.0), "1");
        assert_eq!(format_go(0.1), "0.1");
        assert_eq!(format_go(1e21), "1000000000000000000000");
        assert_eq!(format_go(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_api(1e21), "1e+21");
        assert_eq!(format_api(0.0000001), "1e-07");
        assert_eq!(format_api(-1.5e-7), "-1.5e-07");
        assert_eq!(format_api(0.00001), "0.00001");
        assert_eq!(format_api(123.5), "123.5");
        assert_eq!(format_api(f64::INFINITY), "+Inf");
        assert_eq!(format_g(1e6), "1e+06");
        assert_eq!(format_g(123456.5), "123456.5");
        assert_eq!(format_g(0.0001), "0.0001");
        assert_eq!(format_g(0.00001), "1e-05");
        assert_eq!(format_openmetrics(1.0), "1.0");
        assert_eq!(format_openmetrics(0.25), "0.25");
        assert_eq!(format_openmetrics(f64::NAN), "NaN");
        assert_eq!(format_openmetrics(-0.1), "-0.1");
    }

    #[test]
    fn parsing_accepts_go_spellings() {
        assert_eq!(parse_go("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go("+inf"), Some(f64::INFINITY));
        assert_eq!(parse_go("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_go("1e0"), Some(1.0));
        assert_eq!(parse_go(".2"), Some(0.2));
        assert!(parse_go("NaN").unwrap().is_nan());
        assert_eq!(parse_go("0x10"), Some(16.0));
        assert_eq!(parse_go("abc"), None);
        assert_eq!(parse_go(""), None);
        assert_eq!(parse_go("--1"), None);
    }

    #[test]
    fn almost_equal_is_relative_and_strict_at_zero() {
        assert!(almost_equal(1.0, 1.0 + 1e-9, 1e-6));
        assert!(!almost_equal(1.0, 1.001, 1e-6));
        assert!(!almost_equal(0.0, 1e-300, 1e-6));
        assert!(almost_equal(f64::NAN, f64::NAN, 1e-6));
        assert!(!almost_equal(f64::NAN, crate::series::STALE_NAN, 1e-6));
    }
}
