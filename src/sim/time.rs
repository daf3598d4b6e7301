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

/// `x.round() as u64` for `x > 0` (halves away from zero), without the
/// library call `round` costs on targets without SSE4.1 (the per-request
/// path converts every service time). Below 2^52 the truncation is exact
/// and so is the fraction `x − trunc(x)`, so comparing it with one half
/// rounds exactly as `round` does; from 2^52 up every `f64` is a whole
/// number already.
/// The signed conversions are one instruction each, the unsigned ones a
/// dozen, and below 2^52 both give the same values.
#[inline]
fn round_to_u64(x: f64) -> u64 {
    const WHOLE_FROM: f64 = 4_503_599_627_370_496.0; // 2^52
    if x < WHOLE_FROM {
        let whole = x as i64;
        whole as u64 + u64::from(x - whole as f64 >= 0.5)
    } else {
        x as u64
    }
}

/// `n as f64`, the same value, in one instruction when `n` fits an `i64`
/// (every simulated time and count does): x86-64 without AVX-512 has no
/// unsigned conversion, and `as` spends a dozen instructions on one. Both
/// round the same integer to the nearest `f64`, so they agree exactly.
#[inline]
pub fn u64_to_f64(n: u64) -> f64 {
    if n <= i64::MAX as u64 {
        n as i64 as f64
    } else {
        n as f64
    }
}

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
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        u64_to_f64(self.0) / MICROS_PER_SEC as f64
    }

    /// The span from `earlier` to `self`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    /// Whole milliseconds from `origin` to `self`, rounded down (negative
    /// before `origin`): a Prometheus timestamp or a report time counted
    /// from the rollout's start. The difference is taken in microseconds
    /// first, so an origin that is not a whole millisecond (a warmup of
    /// `1500us`) shifts nothing by its dropped fraction.
    pub fn millis_since(self, origin: SimTime) -> i64 {
        let micros = i128::from(self.0) - i128::from(origin.0);
        let ms = micros.div_euclid(i128::from(MICROS_PER_MILLI));
        i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
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
    #[inline]
    pub fn from_secs_f64(s: f64) -> SimDuration {
        // Finite and positive, in two comparisons (NaN fails both).
        if s > 0.0 && s < f64::INFINITY {
            SimDuration(round_to_u64(s * MICROS_PER_SEC as f64))
        } else {
            SimDuration::ZERO
        }
    }

    /// Seconds, for arithmetic on rates and for reports.
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        u64_to_f64(self.0) / MICROS_PER_SEC as f64
    }

    /// Whole milliseconds, rounded down.
    pub const fn as_millis(self) -> u64 {
        self.0 / MICROS_PER_MILLI
    }

    /// Reads a Go/Prometheus duration: one or more `<integer><unit>` pairs with
    /// units `us` (or `µs`), `ms`, `s`, `m`, `h`, `d`, `w`, largest first
    /// (`1h30m`, `90s`, `250ms`), or a bare `0`. Fractions (`1.5s`) are
    /// accepted as Go accepts them; a space inside (`30 ms`) is not.
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
            // A unit is everything up to the next digit (`µs` is not ASCII).
            while i < bytes.len() && !bytes[i].is_ascii_digit() && bytes[i] != b'.' {
                if bytes[i].is_ascii_whitespace() {
                    return Err(DurationError::new(
                        text,
                        "has a space inside it; write the number and its unit together",
                    ));
                }
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
                // Go's time.ParseDuration takes the micro sign and the Greek mu.
                "us" | "\u{b5}s" | "\u{3bc}s" => (6, 1),
                "" => return Err(DurationError::new(text, "needs a unit (ms, s, m, h, d)")),
                _ => {
                    return Err(DurationError::new(
                        text,
                        "has an unknown unit; use us (or µs), ms, s, m, h, d or w",
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
    #[test]
    fn millis_since_takes_the_difference_before_rounding_down() {
        // A rollout starting 1.5 ms in: 2 ms of simulated time is 0.5 ms
        // after it, not 1 ms (2 − 1 once 1.5 ms was cut to 1 ms).
        let origin = SimTime(1_500);
        assert_eq!(SimTime(2_000).millis_since(origin), 0);
        assert_eq!(SimTime(15_000_000).millis_since(origin), 14_998);
        assert_eq!(SimTime(1_000).millis_since(origin), -1);
        assert_eq!(SimTime(0).millis_since(SimTime(0)), 0);
        assert_eq!(
            SimTime::MAX.millis_since(SimTime::ZERO),
            (u64::MAX / 1_000) as i64
        );
    }

    use super::*;
    use proptest::prelude::*;

    /// What `from_secs_f64` computed before the cheaper rounding: it must
    /// stay bit for bit the same, since every service time goes through it.
    fn reference(x: f64) -> u64 {
        x.round() as u64
    }

    #[test]
    fn rounding_to_whole_microseconds_is_f64_round_exactly() {
        // std's f64::round rounds half-way cases away from zero
        // (library/core/src/num/f64.rs, `round`); the edge cases are the
        // halves, the values just either side of them, and the range
        // where f64 stops holding fractions (2^52) or integers (2^53).
        let mut cases = vec![
            0.0,
            0.5,
            1.5,
            2.5,
            0.49999999999999994,
            f64::MIN_POSITIVE,
            4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            9_007_199_254_740_993.0,
            1.8e19,
            1e300,
            f64::INFINITY,
        ];
        for k in [1u64, 2, 3, 1_000, 123_456_789, 1 << 40, (1 << 52) - 1] {
            let h = k as f64 + 0.5;
            cases.extend([h, h.next_down(), h.next_up(), k as f64]);
        }
        for x in cases {
            assert_eq!(round_to_u64(x), reference(x), "{x:e}");
        }
    }

    #[test]
    fn unsigned_to_float_is_the_plain_conversion() {
        for n in [
            0,
            1,
            (1 << 53) + 1,
            i64::MAX as u64,
            (i64::MAX as u64) + 1,
            u64::MAX,
        ] {
            assert_eq!(u64_to_f64(n).to_bits(), (n as f64).to_bits(), "{n}");
        }
    }

    proptest! {
        #[test]
        fn unsigned_to_float_agrees(n in any::<u64>()) {
            prop_assert_eq!(u64_to_f64(n).to_bits(), (n as f64).to_bits());
            prop_assert_eq!(u64_to_f64(n >> 1).to_bits(), ((n >> 1) as f64).to_bits());
        }

        #[test]
        fn rounding_agrees_with_f64_round(s in 0.0f64..1e7, bits in any::<u64>()) {
            let x = s * MICROS_PER_SEC as f64;
            prop_assert_eq!(round_to_u64(x), reference(x));
            let y = f64::from_bits(bits);
            if y.is_finite() && y > 0.0 {
                prop_assert_eq!(round_to_u64(y), reference(y));
            }
        }
    }

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
    fn a_space_before_the_unit_is_named_as_the_problem() {
        let e = SimDuration::parse("30 ms").unwrap_err();
        assert_eq!(
            e.to_string(),
            "duration \"30 ms\" has a space inside it; write the number and its unit together (write e.g. 90s, 5m or 1h30m)"
        );
        assert!(SimDuration::parse("1h 30m").is_err());
        // Spaces around the whole duration are fine.
        assert_eq!(
            SimDuration::parse(" 30ms "),
            Ok(SimDuration::from_millis(30))
        );
    }

    #[test]
    fn micro_sign_is_accepted_where_us_is_as_go_parse_duration_does() {
        // Go's time.ParseDuration unitMap: "us", "µs" (U+00B5), "μs" (U+03BC).
        for text in ["5us", "5\u{b5}s", "5\u{3bc}s"] {
            assert_eq!(SimDuration::parse(text), Ok(SimDuration(5)), "{text}");
        }
        assert_eq!(SimDuration::parse("1ms500\u{b5}s"), Ok(SimDuration(1500)));
        assert_eq!(
            SimDuration::parse("5xs").unwrap_err().problem,
            "has an unknown unit; use us (or µs), ms, s, m, h, d or w"
        );
    }

    #[test]
    fn display_round_trips() {
        for text in ["1h30m", "45s", "250ms", "2h", "1m5s"] {
            let d = SimDuration::parse(text).unwrap();
            assert_eq!(d.to_string(), text);
        }
    }
}
