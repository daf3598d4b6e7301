//! The human-readable report: a timeline and a summary per policy.

use std::fmt::Write;

use crate::outcome::{RunResult, Verdict};

/// Formats seconds as `1h02m03s`-style text for summaries.
pub fn human_secs(s: f64) -> String {
    let total = s.round() as i64;
    let (sign, total) = if total < 0 {
        ("-", -total)
    } else {
        ("", total)
    };
    let (h, m, sec) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{sign}{h}h{m:02}m{sec:02}s")
    } else if m > 0 {
        format!("{sign}{m}m{sec:02}s")
    } else {
        format!("{sign}{sec}s")
    }
}

fn verdict_line(r: &RunResult) -> &'static str {
    match r.verdict {
        Verdict::Caught => "caught: the bad release was aborted before full promotion",
        Verdict::Missed => "missed: the bad release was fully promoted",
        Verdict::Promoted => "promoted: the good release was fully promoted",
        Verdict::FalseAbort => "false abort: the good release was aborted",
        Verdict::Undecided => "undecided: still paused or progressing when the simulation ended",
    }
}

/// Timeline and summary of one run.
pub fn run(r: &RunResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} · policy {} · seed {}",
        r.scenario, r.policy, r.seed
    );
    let _ = writeln!(out, "timeline (seconds from the start of the rollout):");
    for e in &r.timeline {
        let _ = writeln!(out, "  {:>9.1}  {:<9} {}", e.t_s, e.kind, e.detail);
    }
    let _ = writeln!(out, "summary:");
    let _ = writeln!(out, "  verdict        {}", verdict_line(r));
    let steps_done = r
        .rollout
        .steps
        .iter()
        .filter(|s| s.ended_at_s.is_some())
        .count();
    let _ = writeln!(
        out,
        "  steps          {} of {} completed; phase {:?}",
        steps_done,
        r.rollout.steps.len(),
        r.rollout.phase
    );
    match r.rollout.promoted_at_s {
        Some(p) => {
            let _ = writeln!(out, "  promoted at    {:.1} s ({})", p, human_secs(p));
        }
        None => {
            let _ = writeln!(out, "  promoted at    never");
        }
    }
    if let Some(a) = r.rollout.aborted_at_s {
        let reason = r.rollout.abort_reason.as_deref().unwrap_or("");
        let _ = writeln!(out, "  aborted at     {a:.1} s: {reason}");
    }
    let canary_kills: Vec<f64> = r
        .oom_kills
        .iter()
        .filter(|k| k.version == crate::model::Version::Canary)
        .map(|k| k.t_s)
        .collect();
    let mut kills = format!("{} ({} canary)", r.oom_kills.len(), canary_kills.len());
    if let (Some(first), Some(p)) = (canary_kills.first(), r.rollout.promoted_at_s)
        && *first >= p
    {
        let _ = write!(
            kills,
            "; first canary kill {} after promotion",
            human_secs(first - p)
        );
    }
    let _ = writeln!(out, "  OOM kills      {kills}");
    for (name, t) in [("stable", r.requests.stable), ("canary", r.requests.canary)] {
        let pct = if t.total > 0 {
            100.0 * t.failed as f64 / t.total as f64
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "  requests to {name}  {:>9} total, {:>7} failed ({pct:.3}%)",
            t.total, t.failed
        );
    }
    let _ = writeln!(
        out,
        "  simulated      {} after the rollout began; {} events",
        human_secs(r.sim_duration_s),
        r.events
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_seconds_read_naturally() {
        assert_eq!(human_secs(0.4), "0s");
        assert_eq!(human_secs(75.0), "1m15s");
        assert_eq!(human_secs(2700.0), "45m00s");
        assert_eq!(human_secs(7322.0), "2h02m02s");
        assert_eq!(human_secs(-90.0), "-1m30s");
    }
}
