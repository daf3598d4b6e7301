//! The text table of a [`Description`]: one block per split, one line per
//! build and endpoint, then the assumptions.

use std::fmt::Write as _;

use super::Description;

/// Milliseconds, or `inf`.
fn ms(s: f64) -> String {
    if s.is_finite() {
        format!("{:.1}", s * 1e3)
    } else {
        "inf".into()
    }
}

/// A rate as the user would write it: shortest digits (`60`, `0.25`), in
/// exponent form far from 1 (`1e-300`, not 300 zeros; `2.5e-7`).
fn rate(r: f64) -> String {
    if r == 0.0 || (1e-4..1e15).contains(&r.abs()) {
        format!("{r}")
    } else {
        format!("{r:e}")
    }
}

/// A duration in minutes or hours, or `never`.
fn span(s: Option<f64>) -> String {
    match s {
        None => "never".into(),
        Some(s) if s >= 7200.0 => format!("{:.1}h", s / 3600.0),
        Some(s) => format!("{:.1}m", s / 60.0),
    }
}

impl Description {
    /// The table `canarysim describe` prints by default.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {} req/s{}",
            self.scenario,
            rate(self.rate),
            self.policy
                .as_ref()
                .map_or(String::new(), |p| format!(", policy {p}"))
        );
        for p in &self.points {
            let _ = writeln!(
                out,
                "\n{}{}",
                p.label,
                if p.step.is_none() {
                    " (each build alone)"
                } else {
                    ""
                }
            );
            let _ = writeln!(
                out,
                "  {:<7} {:>4} {:>8} {:>7} {:>5} {:>6} {:>6} {:>8} {:>7} {:>9} {:>8}",
                "build",
                "pods",
                "req/s",
                "/pod",
                "wrk",
                "util",
                "P(wait)",
                "wait ms",
                "errors",
                "mem/min",
                "to OOM"
            );
            for b in &p.builds {
                let _ = writeln!(
                    out,
                    "  {:<7} {:>4} {:>8.1} {:>7.1} {:>5} {:>5.1}% {:>6.3} {:>8} {:>6.2}% {:>8.1}Mi {:>8}",
                    b.version.as_str(),
                    b.pods,
                    b.rate,
                    b.pod_rate,
                    b.workers,
                    b.utilisation * 100.0,
                    b.p_wait,
                    ms(b.mean_wait_s),
                    b.error_ratio * 100.0,
                    b.memory_slope_bytes_per_s * 60.0 / (1024.0 * 1024.0),
                    span(b.time_to_oom_s)
                );
                for e in &b.endpoints {
                    let _ = writeln!(
                        out,
                        "    {:<12} {:>8.1} req/s  p50 {:>7} ({:>7})  p90 {:>7} ({:>7})  p99 {:>7} ({:>7}) ms  errors {:.2}%",
                        e.name,
                        e.rate,
                        ms(e.buckets_s[0]),
                        ms(e.exact_s[0]),
                        ms(e.buckets_s[1]),
                        ms(e.exact_s[1]),
                        ms(e.buckets_s[2]),
                        ms(e.exact_s[2]),
                        e.error_ratio * 100.0
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "\nQuantiles: as histogram_quantile reads them from the buckets (exact in brackets)."
        );
        let _ = writeln!(out, "Assumptions:");
        for a in &self.assumptions {
            let _ = writeln!(out, "  - {a}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::rate;

    #[test]
    fn a_rate_far_from_one_prints_in_exponent_form_not_hundreds_of_digits() {
        assert_eq!(rate(1e-300), "1e-300");
        assert_eq!(rate(2.5e-7), "2.5e-7");
        assert_eq!(rate(60.0), "60");
        assert_eq!(rate(123.456789), "123.456789");
        assert_eq!(rate(0.25), "0.25");
        assert_eq!(rate(1e6), "1000000");
    }
}
