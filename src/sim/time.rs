//! Simulated time: integer microseconds since the start of a run.
//!
//! Every clock reading in the simulator is a [`SimTime`] and every span a
//! [`SimDuration`]; neither is ever an `f64`. Microseconds are fine enough for
//! per-request latencies (an M/M/1 queue with a 10 ms mean keeps three
//! significant digits) and a `u64` of them covers half a million years.
//! Prometheus timestamps are milliseconds; [`SimTime::as_millis`] converts.
//!
//! Durations are written as Go and Prometheus write them (`90s`, `5m`,
//! `1h30m`, `250ms`); [`SimDuration::parse`] reads that form and
//! [`SimDuration`]'s `Display` prints it back.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Microseconds per millisecond.
pub const MICROS_PER_MILLI: u64 = 1_000;
/// Microseconds per second.
pub const MICROS_PER_SEC: u64 = 1_000_000;

/// An instant of simulated time, in microseconds since the run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

/// A span of simulated time, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// A time later than any a run reaches.
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// The instant `s` whole seconds after the start.
    pub const fn from_secs(s: u64) -> SimTime {
        SimTime(s.saturating_mul(MICROS_PER_SEC))
    }

    /// The instant `ms` milliseconds after the start.
    pub const fn from_millis(ms: u64) -> SimTime {
        SimTime(ms.saturating_mul(MICROS_PER_MILLI))
    }

    /// Whole milliseconds since the start, rounded down (Prometheus timestamps).
    pub const fn as_millis(self) -> i64 {
        (self.0 / MICROS_PER_MILLI) as i64
    }

    /// Seconds since the start, for reports only (never for arithmetic on time).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SEC as f64
    }

    /// The span from `earlier` to `self`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);
    /// The longest span a user may write (365 days): far beyond any rollout,
    /// and short enough that sums of a few never come near `u64::MAX`.
    pub const MAX_INPUT: SimDuration = SimDuration(365 * 86_400 * MICROS_PER_SEC);

    /// `s` whole seconds.
    pub const fn from_secs(s: u64) -> SimDuration {
        SimDuration(s.saturating_mul(MICROS_PER_SEC))
    }

    /// `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> SimDuration {
        SimDuration(ms.saturating_mul(MICROS_PER_MILLI))
    }

    /// `m` whole minutes.
    pub const fn from_mins(m: u64) -> SimDuration {
        SimDuration(m.saturating_mul(60 * MICROS_PER_SEC))
    }

    /// The nearest whole number of microseconds to `s` seconds; negative and
    /// non-finite inputs give zero.
    pub fn from_secs_f64(s: f64) -> SimDuration {
        if s.is_finite() && s > 0.0 {
            SimDuration((s * MICROS_PER_SEC as f64).round() as u64)
        } else {
            SimDuration::ZERO
        }
    }

    /// Seconds, for arithmetic on rates and for reports.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SEC as f64
    }

    /// Whole milliseconds, rounded down.
    pub const fn as_millis(self) -> u64 {
        self.0 / MICROS_PER_MILLI
    }

    /// Reads a Go/Prometheus duration: one or more `<integer><unit>` pairs with
    /// units `ms`, `s`, `m`, `h`, `d`, `w`, largest first (`1h30m`, `90s`,
    /// `250ms`), or a bare `0`. Fractions (`1.5s`) are accepted as Go accepts them.
    pub fn parse(text: &str) -> Result<SimDuration, DurationError> {
        let s = text.trim();
        if s == "0" {
            return Ok(SimDuration::ZERO);
        }
        if s.is_empty() {
            return Err(DurationError::new(text, "is empty"));
        }
        let bytes = s.as_bytes();
        let mut i = 0;
        let mut total: f64 = 0.0;
        let mut last_unit_rank = usize::MAX;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            if start == i {
                return Err(DurationError::new(
                    text,
                    "expects a number before each unit",
                ));
            }
            let number: f64 = s[start..i]
                .parse()
                .map_err(|_| DurationError::new(text, "has a malformed number"))?;
            let unit_start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = &s[unit_start..i];
            let (rank, micros) = match unit {
                "w" => (0, 7 * 86_400 * MICROS_PER_SEC),
                "d" => (1, 86_400 * MICROS_PER_SEC),
                "h" => (2, 3_600 * MICROS_PER_SEC),
                "m" => (3, 60 * MICROS_PER_SEC),
                "s" => (4, MICROS_PER_SEC),
                "ms" => (5, MICROS_PER_MILLI),
                "us" | "µs" => (6, 1),
                "" => return Err(DurationError::new(text, "needs a unit (ms, s, m, h, d)")),
                _ => {
                    return Err(DurationError::new(
                        text,
                        "has an unknown unit; use ms, s, m, h, d or w",
                    ));
                }
            };
            if last_unit_rank != usize::MAX && rank <= last_unit_rank {
                return Err(DurationError::new(
                    text,
                    "must give units largest first, each once",
                ));
            }
            last_unit_rank = rank;
            total += number * micros as f64;
        }
        if !total.is_finite() || total > SimDuration::MAX_INPUT.0 as f64 {
            return Err(DurationError::new(
                text,
                "is longer than 365d, the longest canarysim simulates",
            ));
        }
        Ok(SimDuration(total.round() as u64))
    }
}

/// A duration string that [`SimDuration::parse`] could not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("duration {text:?} {problem} (write e.g. 90s, 5m or 1h30m)")]
pub struct DurationError {
    /// The text as given.
    pub text: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl DurationError {
    fn new(text: &str, problem: &'static str) -> DurationError {
        DurationError {
            text: text.to_string(),
            problem,
        }
    }
}

impl fmt::Display for SimDuration {
    /// Prints the shortest Prometheus form: `1h30m`, `45s`, `250ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        let units: [(u64, &str); 5] = [
            (3_600 * MICROS_PER_SEC, "h"),
            (60 * MICROS_PER_SEC, "m"),
            (MICROS_PER_SEC, "s"),
            (MICROS_PER_MILLI, "ms"),
            (1, "us"),
        ];
        for (size, name) in units {
            if rest >= size {
                write!(f, "{}{}", rest / size, name)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    /// The span between two instants; panics in debug builds if `rhs` is later.
    fn sub(self, rhs: SimTime) -> SimDuration {
        debug_assert!(self >= rhs, "invariant: subtracting a later instant");
        SimDuration(self.0.saturating_sub(rhs.0))
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations_largest_unit_first() {
        assert_eq!(SimDuration::parse("90s"), Ok(SimDuration::from_secs(90)));
        assert_eq!(SimDuration::parse("5m"), Ok(SimDuration::from_mins(5)));
        assert_eq!(SimDuration::parse("1h30m"), Ok(SimDuration::from_mins(90)));
        assert_eq!(
            SimDuration::parse("250ms"),
            Ok(SimDuration::from_millis(250))
        );
        assert_eq!(
            SimDuration::parse("1.5s"),
            Ok(SimDuration::from_millis(1500))
        );
        assert_eq!(SimDuration::parse("0"), Ok(SimDuration::ZERO));
    }

    #[test]
    fn rejects_durations_without_units_or_out_of_order() {
        assert!(SimDuration::parse("90").is_err());
        assert!(SimDuration::parse("30m1h").is_err());
        assert!(SimDuration::parse("5x").is_err());
        assert!(SimDuration::parse("").is_err());
        assert!(SimDuration::parse("-5s").is_err());
    }

    #[test]
    fn durations_past_a_year_are_refused_and_conversions_saturate() {
        assert_eq!(SimDuration::parse("52w1d"), Ok(SimDuration::MAX_INPUT));
        let err = SimDuration::parse("52w2d").unwrap_err().to_string();
        assert!(err.contains("longer than 365d"), "{err}");
        assert!(SimDuration::parse("9223372036854775807s").is_err());
        assert_eq!(SimDuration::from_secs(u64::MAX / 10), SimDuration(u64::MAX));
        assert_eq!(SimTime::from_millis(u64::MAX), SimTime::MAX);
        assert_eq!(SimDuration::from_mins(u64::MAX / 60), SimDuration(u64::MAX));
    }

    #[test]
    fn display_round_trips() {
        for text in ["1h30m", "45s", "250ms", "2h", "1m5s"] {
            let d = SimDuration::parse(text).unwrap();
            assert_eq!(d.to_string(), text);
        }
    }
}
