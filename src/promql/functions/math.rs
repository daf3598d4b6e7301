//! Element-wise functions: arithmetic and trigonometric math, `round`,
//! `clamp*`, `sgn`, and the calendar functions (`year`, `hour`, …, in UTC).
//!
//! In: an instant vector (already marked for name removal by the caller) and
//! the scalar arguments. Out: the same elements with new values. `clamp`
//! follows Go's `math.Max(min, math.Min(max, v))`, so a NaN bound gives NaN,
//! and `max < min` gives an empty result.

use crate::promql::engine::Elem;
use crate::promql::float::{go_max, go_min};

/// Applies an element-wise function; `None` if `name` is not one.
pub(super) fn apply(name: &str, mut v: Vec<Elem>, extra: &[f64]) -> Option<Vec<Elem>> {
    let arg = |i: usize, default: f64| extra.get(i).copied().unwrap_or(default);
    let (lo, hi) = match name {
        "clamp" => (arg(0, f64::NAN), arg(1, f64::NAN)),
        "clamp_min" => (arg(0, f64::NAN), f64::INFINITY),
        "clamp_max" => (f64::NEG_INFINITY, arg(0, f64::NAN)),
        "round" => {
            // Ties round up; dividing by the inverse is what Prometheus does.
            let inverse = 1.0 / arg(0, 1.0);
            for e in &mut v {
                e.v = (e.v * inverse + 0.5).floor() / inverse;
            }
            return Some(v);
        }
        _ => {
            let f = simple(name)?;
            for e in &mut v {
                e.v = f(e.v);
            }
            return Some(v);
        }
    };
    if hi < lo {
        return Some(Vec::new());
    }
    for e in &mut v {
        e.v = go_max(lo, go_min(hi, e.v));
    }
    Some(v)
}

/// The one-argument float functions.
fn simple(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "sgn" => |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// Whether `name` is one of the calendar functions.
pub(super) fn is_date_function(name: &str) -> bool {
    matches!(
        name,
        "days_in_month"
            | "day_of_month"
            | "day_of_week"
            | "day_of_year"
            | "hour"
            | "minute"
            | "month"
            | "year"
    )
}

/// Applies a calendar function to values read as Unix seconds (truncated to
/// whole seconds, UTC).
pub(super) fn apply_date(name: &str, mut v: Vec<Elem>) -> Vec<Elem> {
    for e in &mut v {
        let d = CivilTime::from_unix(e.v as i64);
        e.v = match name {
            "days_in_month" => days_in_month(d.year, d.month) as f64,
            "day_of_month" => d.day as f64,
            "day_of_week" => d.weekday as f64,
            "day_of_year" => d.yday as f64,
            "hour" => d.hour as f64,
            "minute" => d.minute as f64,
            "month" => d.month as f64,
            _ => d.year as f64,
        };
    }
    v
}

/// A UTC calendar time.
#[derive(Debug, PartialEq, Eq)]
struct CivilTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    /// 0 = Sunday.
    weekday: u32,
    /// 1-based day of the year.
    yday: u32,
}

impl CivilTime {
    fn from_unix(secs: i64) -> CivilTime {
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        let mut yday = day;
        for m in 1..month {
            yday += days_in_month(year, m);
        }
        CivilTime {
            year,
            month,
            day,
            hour: (sod / 3600) as u32,
            minute: (sod % 3600 / 60) as u32,
            weekday: (days + 4).rem_euclid(7) as u32,
            yday,
        }
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_time_matches_known_dates() {
        // 2000-02-29T12:34:56Z, a Tuesday, day 60 of a leap year.
        let d = CivilTime::from_unix(951_827_696);
        assert_eq!(
            d,
            CivilTime {
                year: 2000,
                month: 2,
                day: 29,
                hour: 12,
                minute: 34,
                weekday: 2,
                yday: 60,
            }
        );
        // One second before the epoch is 1969-12-31T23:59:59Z, a Wednesday.
        let d = CivilTime::from_unix(-1);
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.weekday),
            (1969, 12, 31, 23, 3)
        );
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2024, 2), 29);
    }
}
