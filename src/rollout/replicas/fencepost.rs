//! `maxSurge` and `maxUnavailable`: Argo's int-or-percent values and how they
//! resolve to pod counts (the "fenceposts" of a rolling update).
//!
//! In: the spec values as the user wrote them (`3`, `"25%"`) and the rollout's
//! `spec.replicas`. Out: [`Fenceposts`], the whole-pod limits that
//! [`super::basic`] paces a basic canary with and that the controller uses to
//! pace older ReplicaSets down.
//!
//! Rules (Argo `utils/replicaset/replicaset.go` `resolveFenceposts`,
//! `MaxSurge`, `MaxUnavailable`; `utils/defaults` for the defaults):
//! - a percentage of N: `maxSurge` rounds **up**, `maxUnavailable` rounds **down**;
//! - if both resolve to 0, `maxUnavailable` becomes 1;
//! - `maxUnavailable` is capped at N and is 0 when N is 0; `maxSurge` is not capped;
//! - both default to `"25"`, which Argo reads as 25% (a string is always a
//!   percentage there, with or without the `%`).

use std::fmt;
use std::str::FromStr;

/// Why an int-or-percent value, or a pair of them, was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FencepostError {
    /// The string was empty (or only `%`).
    #[error(
        "invalid int-or-percent {value:?}: empty, expected a count like 3 or a percentage like \"25%\""
    )]
    Empty {
        /// The text given.
        value: String,
    },
    /// The text was not a whole number with an optional trailing `%`.
    #[error(
        "invalid int-or-percent {value:?}: not a whole number, expected a count like 3 or a percentage like \"25%\""
    )]
    NotAWholeNumber {
        /// The text given.
        value: String,
    },
    /// A negative count or percentage.
    #[error("invalid int-or-percent {value}: must not be negative")]
    Negative {
        /// The value given, as written.
        value: String,
    },
    /// A number too large for a pod count.
    #[error("invalid int-or-percent {value}: too large")]
    TooLarge {
        /// The value given, as written.
        value: String,
    },
    /// `maxSurge` and `maxUnavailable` are both zero, which Argo's validation rejects.
    #[error("maxSurge ({max_surge}) and maxUnavailable ({max_unavailable}) can not both be zero")]
    BothZero {
        /// The `maxSurge` given.
        max_surge: IntOrPercent,
        /// The `maxUnavailable` given.
        max_unavailable: IntOrPercent,
    },
}

/// Kubernetes' `IntOrString` as Argo uses it for `maxSurge`/`maxUnavailable`:
/// a pod count or a percentage of `spec.replicas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntOrPercent {
    /// A number of pods (YAML `3`).
    Count(u32),
    /// A percentage of `spec.replicas` (YAML `"25%"`, or `"25"`).
    Percent(u32),
}

impl IntOrPercent {
    /// Argo's default for both `maxSurge` and `maxUnavailable`.
    pub const DEFAULT: IntOrPercent = IntOrPercent::Percent(25);

    /// The integer form (YAML `maxSurge: 3`): a pod count.
    pub fn from_int(value: i64) -> Result<IntOrPercent, FencepostError> {
        if value < 0 {
            return Err(FencepostError::Negative {
                value: value.to_string(),
            });
        }
        u32::try_from(value)
            .map(IntOrPercent::Count)
            .map_err(|_| FencepostError::TooLarge {
                value: value.to_string(),
            })
    }

    /// The string form (YAML `maxSurge: "25%"`). As in Argo, a string is
    /// always a percentage, so `"3"` means 3%, not 3 pods; only a trailing `%`
    /// is accepted (Argo would also drop a `%` in the middle).
    pub fn parse(text: &str) -> Result<IntOrPercent, FencepostError> {
        let digits = text.strip_suffix('%').unwrap_or(text);
        if digits.is_empty() {
            return Err(FencepostError::Empty { value: text.into() });
        }
        let (negative, magnitude) = match digits.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, digits.strip_prefix('+').unwrap_or(digits)),
        };
        if magnitude.is_empty() || !magnitude.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FencepostError::NotAWholeNumber { value: text.into() });
        }
        if negative && magnitude.bytes().any(|b| b != b'0') {
            return Err(FencepostError::Negative {
                value: format!("{text:?}"),
            });
        }
        magnitude
            .parse::<u32>()
            .map(IntOrPercent::Percent)
            .map_err(|_| FencepostError::TooLarge {
                value: format!("{text:?}"),
            })
    }

    /// Whether the value is zero as written (`0` or `"0%"`).
    pub fn is_zero(self) -> bool {
        matches!(self, IntOrPercent::Count(0) | IntOrPercent::Percent(0))
    }

    /// Resolves against `total` pods; a percentage is rounded up when
    /// `round_up`, else down (Kubernetes' `GetValueFromIntOrPercent`).
    pub fn resolve(self, total: u32, round_up: bool) -> u32 {
        match self {
            IntOrPercent::Count(n) => n,
            IntOrPercent::Percent(p) => {
                let scaled = u64::from(p) * u64::from(total);
                let pods = if round_up {
                    scaled.div_ceil(100)
                } else {
                    scaled / 100
                };
                u32::try_from(pods).unwrap_or(u32::MAX)
            }
        }
    }
}

impl Default for IntOrPercent {
    fn default() -> IntOrPercent {
        IntOrPercent::DEFAULT
    }
}

impl FromStr for IntOrPercent {
    type Err = FencepostError;

    fn from_str(text: &str) -> Result<IntOrPercent, FencepostError> {
        IntOrPercent::parse(text)
    }
}

impl fmt::Display for IntOrPercent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrPercent::Count(n) => write!(f, "{n}"),
            IntOrPercent::Percent(p) => write!(f, "\"{p}%\""),
        }
    }
}

/// The two YAML/TOML shapes an int-or-percent arrives in.
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(untagged)]
enum RawIntOrPercent {
    Int(i64),
    Text(String),
}

impl<'de> serde::Deserialize<'de> for IntOrPercent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<IntOrPercent, D::Error> {
        match RawIntOrPercent::deserialize(d)? {
            RawIntOrPercent::Int(i) => IntOrPercent::from_int(i),
            RawIntOrPercent::Text(s) => IntOrPercent::parse(&s),
        }
        .map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for IntOrPercent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            IntOrPercent::Count(n) => RawIntOrPercent::Int(i64::from(n)),
            IntOrPercent::Percent(p) => RawIntOrPercent::Text(format!("{p}%")),
        }
        .serialize(s)
    }
}

/// `maxSurge` and `maxUnavailable` as written in the canary strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SurgeLimits {
    /// Pods allowed above `spec.replicas` during the update.
    pub max_surge: IntOrPercent,
    /// Pods allowed below `spec.replicas` during the update.
    pub max_unavailable: IntOrPercent,
}

impl SurgeLimits {
    /// Checked limits: both zero is rejected, as Argo's validation does.
    pub fn new(
        max_surge: IntOrPercent,
        max_unavailable: IntOrPercent,
    ) -> Result<SurgeLimits, FencepostError> {
        if max_surge.is_zero() && max_unavailable.is_zero() {
            return Err(FencepostError::BothZero {
                max_surge,
                max_unavailable,
            });
        }
        Ok(SurgeLimits {
            max_surge,
            max_unavailable,
        })
    }

    /// The whole-pod limits for a rollout of `replicas` pods.
    pub fn resolve(&self, replicas: u32) -> Fenceposts {
        let max_surge = self.max_surge.resolve(replicas, true);
        let mut max_unavailable = self.max_unavailable.resolve(replicas, false);
        if max_surge == 0 && max_unavailable == 0 {
            // Rounding down can reach 0 even when validation passed; Argo then
            // allows one unavailable pod rather than deadlocking.
            max_unavailable = 1;
        }
        Fenceposts {
            max_surge,
            max_unavailable: if replicas == 0 {
                0
            } else {
                max_unavailable.min(replicas)
            },
        }
    }
}

/// `maxSurge` and `maxUnavailable` resolved to pods for one `spec.replicas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fenceposts {
    /// Pods allowed above `spec.replicas` (Argo's `MaxSurge`).
    pub max_surge: u32,
    /// Pods allowed below `spec.replicas` (Argo's `MaxUnavailable`).
    pub max_unavailable: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use IntOrPercent::{Count, Percent};

    fn limits(surge: IntOrPercent, unavailable: IntOrPercent) -> SurgeLimits {
        SurgeLimits {
            max_surge: surge,
            max_unavailable: unavailable,
        }
    }

    #[test]
    fn surge_percent_rounds_up_and_unavailable_percent_rounds_down() {
        let f = limits(Percent(25), Percent(25)).resolve(5);
        // 25% of 5 = 1.25: surge 2, unavailable 1.
        assert_eq!((f.max_surge, f.max_unavailable), (2, 1));
        let f = limits(Percent(20), Percent(20)).resolve(10);
        assert_eq!((f.max_surge, f.max_unavailable), (2, 2));
    }

    #[test]
    fn default_is_25_percent_each() {
        let f = SurgeLimits::default().resolve(10);
        assert_eq!((f.max_surge, f.max_unavailable), (3, 2));
        assert_eq!(IntOrPercent::default(), Percent(25));
    }

    #[test]
    fn both_resolving_to_zero_makes_unavailable_one() {
        // canary_test.go: 0%/0% with 10 replicas behaves as maxUnavailable 1.
        let f = limits(Percent(0), Percent(0)).resolve(10);
        assert_eq!((f.max_surge, f.max_unavailable), (0, 1));
        // 10% of 3 rounds down to 0 for unavailable, and surge is 0.
        let f = limits(Count(0), Percent(10)).resolve(3);
        assert_eq!((f.max_surge, f.max_unavailable), (0, 1));
        // A non-zero surge leaves unavailable at 0.
        let f = limits(Count(1), Count(0)).resolve(3);
        assert_eq!((f.max_surge, f.max_unavailable), (1, 0));
    }

    #[test]
    fn unavailable_is_capped_at_replicas_and_zero_without_replicas_but_surge_is_not() {
        let f = limits(Percent(300), Count(7)).resolve(4);
        assert_eq!((f.max_surge, f.max_unavailable), (12, 4));
        let f = limits(Count(0), Count(0)).resolve(0);
        assert_eq!((f.max_surge, f.max_unavailable), (0, 0));
    }

    #[test]
    fn string_form_is_always_a_percentage_and_int_form_a_count() {
        assert_eq!(IntOrPercent::parse("25%"), Ok(Percent(25)));
        assert_eq!(
            IntOrPercent::parse("25"),
            Ok(Percent(25)),
            "Argo's default \"25\""
        );
        assert_eq!(IntOrPercent::parse("+3%"), Ok(Percent(3)));
        assert_eq!(IntOrPercent::from_int(3), Ok(Count(3)));
        assert_eq!("0%".parse::<IntOrPercent>(), Ok(Percent(0)));
    }

    #[test]
    fn bad_int_or_percent_errors_name_the_value_and_the_problem() {
        let cases = [
            ("", "empty"),
            ("%", "empty"),
            ("abc", "not a whole number"),
            ("12.5%", "not a whole number"),
            ("2%5", "not a whole number"),
            (" 5%", "not a whole number"),
            ("-", "not a whole number"),
            ("-5%", "must not be negative"),
            ("99999999999%", "too large"),
        ];
        for (text, want) in cases {
            let err = IntOrPercent::parse(text).expect_err(text).to_string();
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(err.contains(&format!("{text:?}")), "{text:?}: {err}");
        }
        assert_eq!(IntOrPercent::parse("-0%"), Ok(Percent(0)));
        let err = IntOrPercent::from_int(-1).unwrap_err().to_string();
        assert_eq!(err, "invalid int-or-percent -1: must not be negative");
        assert!(IntOrPercent::from_int(1 << 40).is_err());
    }

    #[test]
    fn both_zero_limits_are_rejected_as_written() {
        let err = SurgeLimits::new(Count(0), Percent(0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "maxSurge (0) and maxUnavailable (\"0%\") can not both be zero"
        );
        assert!(SurgeLimits::new(Count(0), Count(1)).is_ok());
        // Zero after rounding is not zero as written: accepted, then resolved to 1 unavailable.
        assert!(SurgeLimits::new(Percent(1), Percent(1)).is_ok());
    }

    #[test]
    fn deserializes_both_shapes_and_round_trips() {
        #[derive(serde::Deserialize, serde::Serialize)]
        struct S {
            a: IntOrPercent,
            b: IntOrPercent,
        }
        let s: S = toml::from_str("a = 3\nb = \"25%\"").unwrap();
        assert_eq!((s.a, s.b), (Count(3), Percent(25)));
        assert_eq!(toml::to_string(&s).unwrap(), "a = 3\nb = \"25%\"\n");
        let err = toml::from_str::<S>("a = -2\nb = \"1\"").err().unwrap();
        assert!(err.to_string().contains("must not be negative"), "{err}");
    }
}
