//! The comparison table: one row per policy, the figures that decide
//! between them. Rendered as aligned text for the terminal and as a
//! Markdown table for reports.

use crate::outcome::{RunResult, Verdict};

use super::text::human_secs;

/// The columns, in order.
pub const HEADERS: [&str; 8] = [
    "policy",
    "verdict",
    "time to detect",
    "canary requests",
    "failed during rollout",
    "failed after promotion",
    "OOM kills",
    "rollout duration",
];

/// One row's cells, formatted.
pub fn row(r: &RunResult) -> [String; 8] {
    let duration = match (r.rollout.promoted_at_s, r.rollout.aborted_at_s) {
        (Some(_), _) | (None, Some(_)) => human_secs(r.rollout_duration_s),
        (None, None) => format!("> {}", human_secs(r.rollout_duration_s)),
    };
    [
        r.policy.clone(),
        r.verdict.as_str().to_string(),
        r.time_to_detect_s.map_or("-".to_string(), human_secs),
        r.canary_requests.to_string(),
        r.failed_requests.during_rollout.to_string(),
        r.failed_requests
            .after_promotion
            .map_or("-".to_string(), |n| n.to_string()),
        r.oom_kills.len().to_string(),
        duration,
    ]
}

/// The table as aligned text, with a header line.
pub fn text(runs: &[RunResult]) -> String {
    let rows: Vec<[String; 8]> = runs.iter().map(row).collect();
    align(&HEADERS, &rows, 2)
}

/// The table in Markdown.
pub fn markdown(runs: &[RunResult]) -> String {
    let rows: Vec<[String; 8]> = runs.iter().map(row).collect();
    markdown_table(&HEADERS, &rows, 2)
}

/// Aligned text columns: the first `left` columns left-aligned (names), the
/// rest right-aligned (figures).
pub fn align<const N: usize>(headers: &[&str; N], rows: &[[String; N]], left: usize) -> String {
    let mut widths = headers.map(|h| h.chars().count());
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            if i < left {
                s.push_str(&format!("{c:<w$}"));
            } else {
                s.push_str(&format!("{c:>w$}"));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

/// A Markdown table: the first `left` columns left-aligned, the rest right.
pub fn markdown_table<const N: usize>(
    headers: &[&str; N],
    rows: &[[String; N]],
    left: usize,
) -> String {
    let mut out = format!("| {} |\n|", headers.map(escape_cell).join(" | "));
    for i in 0..N {
        out.push_str(if i < left { " --- |" } else { " ---: |" });
    }
    out.push('\n');
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| escape_cell(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// A cell's text made safe inside a Markdown table row: `|` escaped, line
/// breaks and other control characters shown as spaces, so no name can add
/// a column or end the row.
pub fn escape_cell(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    for c in cell.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// One sentence on what a verdict means.
pub fn verdict_sentence(v: Verdict) -> &'static str {
    match v {
        Verdict::Caught => "the bad release was aborted before full promotion",
        Verdict::Missed => "the bad release was fully promoted",
        Verdict::Promoted => "the good release was fully promoted",
        Verdict::FalseAbort => "the good release was aborted",
        Verdict::Undecided => {
            "the rollout was still paused or progressing when the simulation ended"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_add_columns_or_rows_to_a_markdown_table() {
        let rows = [["a|b".to_string(), "line\nbreak".to_string()]];
        let table = markdown_table(&["name", "n"], &rows, 1);
        assert_eq!(table.lines().count(), 3, "{table}");
        assert_eq!(table.lines().nth(2), Some("| a\\|b | line break |"));
        assert_eq!(escape_cell("x\\|"), "x\\\\\\|");
    }
}
