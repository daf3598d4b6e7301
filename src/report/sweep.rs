//! A sweep's tables: the variants in decision order (with the Pareto
//! front marked) and every cell, as aligned text, Markdown and CSV; JSON
//! is the [`SweepResult`] itself.
//!
//! In: a [`SweepResult`]. Out: strings; the binary writes them.

use crate::sweep::result::CellResult;
use crate::sweep::{Rate, SweepResult, VariantRow};

use super::text::human_secs;

/// A rate as `97% [91.5–99.0]`, or `-`.
pub fn rate(r: Option<Rate>) -> String {
    match r {
        None => "-".into(),
        Some(r) => format!(
            "{:.0}% [{:.1}–{:.1}]",
            100.0 * r.rate,
            100.0 * r.ci95[0],
            100.0 * r.ci95[1]
        ),
    }
}

/// A variant's overrides as `failureLimit=1 duration=2m` (each path's last
/// part), or `(as written)`.
pub fn set_label(set: &serde_json::Map<String, serde_json::Value>) -> String {
    if set.is_empty() {
        return "(as written)".into();
    }
    set.iter()
        .map(|(k, v)| {
            let short = k.rsplit('.').next().unwrap_or(k);
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            format!("{short}={v}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

const VARIANT_HEADERS: [&str; 7] = [
    "policy",
    "variant",
    "detection [95% CI]",
    "false aborts [95% CI]",
    "undecided",
    "median time to detect",
    "Pareto",
];

fn variant_rows(v: &[&VariantRow]) -> Vec<[String; 7]> {
    v.iter()
        .map(|v| {
            [
                v.policy.clone(),
                set_label(&v.set),
                rate(v.detection),
                rate(v.false_abort),
                format!("{}/{}", v.undecided.k, v.undecided.of),
                v.time_to_detect_median_s.map_or("-".into(), human_secs),
                if v.pareto {
                    "yes".into()
                } else {
                    String::new()
                },
            ]
        })
        .collect()
}

const CELL_HEADERS: [&str; 14] = [
    "scenario",
    "policy",
    "variant",
    "runs",
    "caught",
    "missed",
    "promoted",
    "false abort",
    "undecided",
    "detection / false aborts [95% CI]",
    "time to detect p50 / p90",
    "decided by",
    "failed before verdict",
    "OOM kills",
];

/// The gates that decided, most first: `gate (n)`, then the causes that
/// name no gate.
pub fn decided_by(c: &crate::sweep::CellSummary) -> String {
    let mut gates: Vec<(&String, &u64)> = c.aborted_by.iter().collect();
    gates.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut parts: Vec<String> = gates.iter().map(|(g, n)| format!("{g} ({n})")).collect();
    for cause in ["operator", "Inconclusive then operator"] {
        if let Some(n) = c.abort_causes.get(cause) {
            parts.push(format!("{cause} ({n})"));
        }
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

fn cell_rows(cells: &[CellResult]) -> Vec<[String; 14]> {
    cells
        .iter()
        .map(|c| {
            let s = &c.summary;
            let v = &s.verdicts;
            [
                c.scenario.clone(),
                c.policy.clone(),
                set_label(&c.set),
                s.runs.to_string(),
                v.caught.to_string(),
                v.missed.to_string(),
                v.promoted.to_string(),
                v.false_abort.to_string(),
                v.undecided.to_string(),
                rate(s.detection.or(s.false_abort)),
                s.time_to_detect_s.map_or("-".into(), |t| {
                    format!("{} / {}", human_secs(t.median), human_secs(t.p90))
                }),
                decided_by(s),
                format!("{:.1}", s.cost.failed_before_verdict),
                format!("{:.2}", s.cost.oom_kills),
            ]
        })
        .collect()
}

fn intro(r: &SweepResult) -> String {
    let last = r.sweep.seed.wrapping_add(r.sweep.runs.saturating_sub(1));
    format!(
        "{}: {} cells, seeds {}..={last} in every cell (common random numbers: \
         differences between variants are not seed noise)",
        r.sweep.file,
        r.cells.len(),
        r.sweep.seed
    )
}

/// Aligned text: the variants in decision order, then every cell.
pub fn text(r: &SweepResult) -> String {
    format!(
        "{}\n\nvariants (detection over bad releases, false aborts over good ones; undecided counted apart)\n{}\ncells\n{}",
        intro(r),
        super::table::align(
            &VARIANT_HEADERS,
            &variant_rows(&r.variants_for_decision()),
            2
        ),
        super::table::align(&CELL_HEADERS, &cell_rows(&r.cells), 3)
    )
}

/// Markdown: the same two tables.
pub fn markdown(r: &SweepResult) -> String {
    format!(
        "# Sweep {}\n\n{}.\n\n## Variants\n\nDetection is caught of decided bad-release runs, false aborts of decided \
         good-release runs; undecided runs are counted apart. Brackets are 95% Wilson intervals.\n\n{}\n## Cells\n\n{}",
        r.sweep.file,
        intro(r),
        super::table::markdown_table(
            &VARIANT_HEADERS,
            &variant_rows(&r.variants_for_decision()),
            2
        ),
        super::table::markdown_table(&CELL_HEADERS, &cell_rows(&r.cells), 3)
    )
}

/// The JSON result, pretty-printed, with a trailing newline.
pub fn json(r: &SweepResult) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("invariant: results serialise");
    s.push('\n');
    s
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v}"))
}

/// CSV, one row per cell.
pub fn csv(r: &SweepResult) -> String {
    let mut out = String::from(
        "scenario,policy,set,bad_release,runs,caught,missed,promoted,false_abort,undecided,\
         rate,ci95_low,ci95_high,time_to_detect_median_s,time_to_detect_p90_s,\
         rollout_duration_median_s,canary_requests,failed_before_verdict,failed_after_promotion,\
         oom_kills,aborted_by\n",
    );
    for c in &r.cells {
        let s = &c.summary;
        let v = &s.verdicts;
        let rate = s.detection.or(s.false_abort);
        let set = c
            .set
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";");
        let by = s
            .aborted_by
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect::<Vec<_>>()
            .join(";");
        let row = [
            csv_field(&c.scenario),
            csv_field(&c.policy),
            csv_field(&set),
            s.bad_release.to_string(),
            s.runs.to_string(),
            v.caught.to_string(),
            v.missed.to_string(),
            v.promoted.to_string(),
            v.false_abort.to_string(),
            v.undecided.to_string(),
            num(rate.map(|r| r.rate)),
            num(rate.map(|r| r.ci95[0])),
            num(rate.map(|r| r.ci95[1])),
            num(s.time_to_detect_s.map(|t| t.median)),
            num(s.time_to_detect_s.map(|t| t.p90)),
            num(s.rollout_duration_s.map(|t| t.median)),
            format!("{}", s.cost.canary_requests),
            format!("{}", s.cost.failed_before_verdict),
            format!("{}", s.cost.failed_after_promotion),
            format!("{}", s.cost.oom_kills),
            csv_field(&by),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// The trade-off picture of a sweep (`canarysim plot sweep` draws the same
/// from the JSON): detection against false aborts per variant, and against
/// fault size where an axis varies it. The error says why there is none.
#[cfg(feature = "plot")]
pub fn tradeoff(r: &SweepResult, format: crate::plot::ImageFormat) -> Result<Vec<u8>, String> {
    let s = crate::plot::sweep::SweepResult::from_json(&json(r))?;
    let fig = crate::plot::sweep::TradeOff::new(&s).map_err(|e| e.to_string())?;
    crate::plot::render(&fig, format).map_err(|e| e.to_string())
}

/// One self-contained HTML page: the intro, the trade-off plot (detection
/// against false aborts, the Pareto front joined), and both tables.
pub fn html(r: &SweepResult) -> String {
    use super::html::{Block, Document, Section, Table};
    let table = |headers: &[&str], rows: Vec<Vec<String>>| {
        Block::Table(Table {
            header: headers.iter().map(|h| h.to_string()).collect(),
            rows,
        })
    };
    let mut variants = vec![Block::Paragraph(
        "Detection is caught of decided bad-release runs, false aborts of decided good-release \
         runs; undecided runs are counted apart. Brackets are 95% Wilson intervals."
            .into(),
    )];
    #[cfg(feature = "plot")]
    match tradeoff(r, crate::plot::ImageFormat::Svg)
        .and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string()))
    {
        Ok(svg) => variants.push(Block::Figure {
            svg,
            caption: "Detection against false aborts per variant, with Wilson whiskers; the Pareto front joined and labelled.".into(),
        }),
        Err(why) => variants.push(Block::Paragraph(format!("No trade-off plot: {why}."))),
    }
    variants.push(table(
        &VARIANT_HEADERS,
        variant_rows(&r.variants_for_decision())
            .into_iter()
            .map(|row| row.to_vec())
            .collect(),
    ));
    let cells = vec![table(
        &CELL_HEADERS,
        cell_rows(&r.cells)
            .into_iter()
            .map(|row| row.to_vec())
            .collect(),
    )];
    super::html::render(&Document {
        title: format!("Sweep {}", r.sweep.file),
        intro: vec![Block::Paragraph(format!("{}.", intro(r)))],
        sections: vec![
            Section {
                heading: "Variants".into(),
                blocks: variants,
            },
            Section {
                heading: "Cells".into(),
                blocks: cells,
            },
        ],
    })
}
