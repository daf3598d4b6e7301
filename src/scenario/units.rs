//! Quantities as users write them: durations (`90s`, `1h30m`), Kubernetes
//! memory sizes (`512Mi`, `1Gi`, `16.5Ki`) and CPU (`250m`, `1`, `0.5`).
//!
//! Each has a serde wrapper that reads the text form, so a malformed value is
//! reported by the TOML (or YAML) deserialiser at its own line and column.

use std::fmt;

use serde::Deserialize;

use crate::sim::SimDuration;

/// A duration field: `"90s"`, `"5m"`, `"1h30m"`, or an integer number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationText(pub SimDuration);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

impl serde::de::Visitor<'_> for DurationVisitor {
    type Value = DurationText;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration such as \"90s\", \"5m\" or \"1h30m\", or whole seconds")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DurationText, E> {
        SimDuration::parse(v).map(DurationText).map_err(E::custom)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<DurationText, E> {
        match u64::try_from(v) {
            Ok(s) => self.visit_u64(s),
            Err(_) => Err(E::custom(format!(
                "duration {v} is negative; durations are 0 or more"
            ))),
        }
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<DurationText, E> {
        let d = SimDuration::from_secs(v);
        if d > SimDuration::MAX_INPUT {
            return Err(E::custom(format!(
                "duration {v} s is longer than 365d, the longest canarysim simulates"
            )));
        }
        Ok(DurationText(d))
    }
}

/// A memory size in bytes, written as Kubernetes writes quantities: a number
/// with an optional suffix `Ki Mi Gi Ti` (powers of 1024) or `k M G T`
/// (powers of 1000). Fractions are allowed (`16.5Ki`), since leak rates are
/// often below a whole unit.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct ByteSize(pub f64);

/// The largest memory size a scenario may give (1Pi, 2^50 bytes): beyond
/// any container, and small enough that times computed from it stay finite.
pub const MAX_BYTES: f64 = 1_125_899_906_842_624.0;

/// The most CPU a scenario may give: 1000 cores.
pub const MAX_MILLICORES: u64 = 1_000_000;

fn check_bytes(text: &dyn fmt::Display, bytes: f64) -> Result<ByteSize, String> {
    if !(bytes.is_finite() && bytes >= 0.0) {
        return Err(format!("size {text} must be 0 or more"));
    }
    if bytes > MAX_BYTES {
        return Err(format!(
            "size {text} is more than 1Pi, the largest canarysim models"
        ));
    }
    Ok(ByteSize(bytes))
}

fn check_millicores(text: &dyn fmt::Display, millicores: f64) -> Result<Millicores, String> {
    if !(millicores.is_finite() && millicores >= 0.0) {
        return Err(format!("cpu {text} must be 0 or more"));
    }
    if millicores > MAX_MILLICORES as f64 {
        return Err(format!(
            "cpu {text} is more than 1000 cores, the most canarysim models"
        ));
    }
    Ok(Millicores(millicores.round() as u64))
}

impl ByteSize {
    /// Reads a quantity such as `512Mi`.
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let t = text.trim();
        let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
        let (num, suffix) = t.split_at(split);
        let factor: f64 = match suffix {
            "" => 1.0,
            "Ki" => 1024.0,
            "Mi" => 1024.0 * 1024.0,
            "Gi" => 1024.0 * 1024.0 * 1024.0,
            "Ti" => 1024.0f64.powi(4),
            "k" => 1e3,
            "M" => 1e6,
            "G" => 1e9,
            "T" => 1e12,
            // Kubernetes' decimal exponent (`1e9`, `5E6`), as a CPU
            // quantity takes it too.
            _ if suffix.len() > 1
                && suffix.starts_with(['e', 'E'])
                && suffix[1..]
                    .parse::<i32>()
                    .is_ok_and(|x| (-18..=18).contains(&x)) =>
            {
                10f64.powi(suffix[1..].parse().unwrap_or(0))
            }
            _ => {
                return Err(format!(
                    "size {text:?} has an unknown suffix {suffix:?}; use Ki, Mi, Gi (or k, M, G), e.g. \"512Mi\""
                ));
            }
        };
        let n: f64 = num
            .trim()
            .parse()
            .map_err(|_| format!("size {text:?} is not a number with a suffix, e.g. \"512Mi\""))?;
        check_bytes(&format_args!("{text:?}"), n * factor)
    }

    /// Mebibytes, for reports.
    pub fn mib(self) -> f64 {
        self.0 / (1024.0 * 1024.0)
    }
}

impl fmt::Display for ByteSize {
    /// The size in the largest binary unit it reaches, to three decimals
    /// at most (`512Mi`, `16.5Ki`, `1.333Gi`); below 1Ki in bytes
    /// (`1.5 bytes`), so a size given without a suffix shows as what it is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["Pi", "Ti", "Gi", "Mi", "Ki"];
        for (i, unit) in UNITS.iter().enumerate() {
            let size = 1024f64.powi(5 - i as i32);
            if self.0 >= size {
                let text = format!("{:.3}", self.0 / size);
                let text = text.trim_end_matches('0').trim_end_matches('.');
                return write!(f, "{text}{unit}");
            }
        }
        let text = format!("{:.3}", self.0);
        let text = text.trim_end_matches('0').trim_end_matches('.');
        let plural = if text == "1" { "byte" } else { "bytes" };
        write!(f, "{text} {plural}")
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ByteSizeVisitor)
    }
}

struct ByteSizeVisitor;

impl serde::de::Visitor<'_> for ByteSizeVisitor {
    type Value = ByteSize;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a size such as \"512Mi\" or \"1Gi\", or a number of bytes")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteSize, E> {
        ByteSize::parse(v).map_err(E::custom)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ByteSize, E> {
        check_bytes(&v, v as f64).map_err(E::custom)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteSize, E> {
        check_bytes(&v, v as f64).map_err(E::custom)
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ByteSize, E> {
        check_bytes(&v, v).map_err(E::custom)
    }
}

/// CPU in millicores: `"250m"`, `"1"`, `1`, `0.5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Millicores(pub u64);

impl Millicores {
    /// Reads a CPU quantity such as `250m` or `1.5`.
    pub fn parse(text: &str) -> Result<Millicores, String> {
        let t = text.trim();
        let (num, factor) = match t.strip_suffix('m') {
            Some(n) => (n, 1.0),
            None => (t, 1000.0),
        };
        let n: f64 = num
            .parse()
            .map_err(|_| format!("cpu {text:?} is not a quantity such as \"250m\" or \"1\""))?;
        check_millicores(&format_args!("{text:?}"), n * factor)
    }
}

impl<'de> Deserialize<'de> for Millicores {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CpuVisitor)
    }
}

struct CpuVisitor;

impl serde::de::Visitor<'_> for CpuVisitor {
    type Value = Millicores;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CPU quantity such as \"250m\", \"1\" or 0.5")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Millicores, E> {
        Millicores::parse(v).map_err(E::custom)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Millicores, E> {
        check_millicores(&v, v as f64 * 1000.0).map_err(E::custom)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Millicores, E> {
        check_millicores(&v, v as f64 * 1000.0).map_err(E::custom)
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Millicores, E> {
        check_millicores(&v, v * 1000.0).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_size_prints_in_its_largest_unit_or_in_bytes() {
        let shown = |t: &str| ByteSize::parse(t).unwrap().to_string();
        assert_eq!(shown("1.5"), "1.5 bytes");
        assert_eq!(shown("1"), "1 byte");
        assert_eq!(shown("512Mi"), "512Mi");
        assert_eq!(shown("16.5Ki"), "16.5Ki");
        assert_eq!(shown("1e9"), "953.674Mi");
        assert_eq!(shown("1024Ti"), "1Pi");
    }

    #[test]
    fn kubernetes_sizes_use_binary_and_decimal_suffixes() {
        assert_eq!(ByteSize::parse("512Mi").unwrap().0, 512.0 * 1024.0 * 1024.0);
        assert_eq!(ByteSize::parse("1Gi").unwrap().0, 1073741824.0);
        assert_eq!(ByteSize::parse("16.5Ki").unwrap().0, 16896.0);
        assert_eq!(ByteSize::parse("2k").unwrap().0, 2000.0);
        assert_eq!(ByteSize::parse("100").unwrap().0, 100.0);
        assert!(ByteSize::parse("1GB").is_err());
        // A decimal exponent, as Kubernetes' quantities take it.
        assert_eq!(ByteSize::parse("1e9").unwrap().0, 1e9);
        assert_eq!(ByteSize::parse("5E6").unwrap().0, 5e6);
        assert!(ByteSize::parse("1e").is_err());
        assert!(ByteSize::parse("1ex").is_err());
        assert!(ByteSize::parse("-1Mi").is_err());
    }

    #[test]
    fn sizes_and_cpu_past_their_limits_are_refused_not_wrapped() {
        assert_eq!(ByteSize::parse("1024Ti").unwrap().0, MAX_BYTES);
        let err = ByteSize::parse("30000000Ti").unwrap_err();
        assert!(err.contains("more than 1Pi"), "{err}");
        assert!(ByteSize::parse("1e308").is_err());
        assert_eq!(Millicores::parse("1000"), Ok(Millicores(MAX_MILLICORES)));
        assert!(Millicores::parse("1000001m").is_err());
        assert!(Millicores::parse("18446744073709552").is_err());
    }

    #[test]
    fn cpu_reads_millicores_and_cores() {
        assert_eq!(Millicores::parse("250m"), Ok(Millicores(250)));
        assert_eq!(Millicores::parse("1"), Ok(Millicores(1000)));
        assert_eq!(Millicores::parse("0.5"), Ok(Millicores(500)));
        assert!(Millicores::parse("fast").is_err());
    }
}
