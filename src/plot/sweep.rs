//! A sweep's trade-off, from its JSON result (issue 10 §5: `cells` and
//! `variants`, read by those keys; other keys are ignored, so the format
//! can grow).
//!
//! In: the JSON text. Out: a [`TradeOff`], a [`Figure`] with
//! - detection rate against false-abort rate per policy variant, each with
//!   its 95% Wilson interval as whiskers both ways; the Pareto-optimal
//!   variants filled, joined in order of false aborts and labelled with
//!   their settings, the rest hollow;
//! - when an axis varies the canary build (a `versions.canary.…` path, such
//!   as the leak per request), detection against that fault size per policy
//!   variant (one colour per line), with the smallest size each catches
//!   95% of the time marked.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Deserialize;

use super::palette::{GREY, INK};
use super::{DrawResult, Figure, PlotError, text, tick};

const WIDTH: u32 = 1000;
const PANEL: u32 = 520;

/// The parts of a sweep's JSON result the plots read.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SweepResult {
    /// What was swept.
    #[serde(default)]
    pub sweep: Option<SweepInfo>,
    /// One entry per scenario × policy × axis point.
    #[serde(default)]
    pub cells: Vec<Cell>,
    /// One entry per policy variant (bad and good release joined).
    #[serde(default)]
    pub variants: Vec<Variant>,
}

/// The `sweep` header.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SweepInfo {
    /// The sweep file.
    #[serde(default)]
    pub file: Option<String>,
    /// Seeds per cell.
    #[serde(default)]
    pub runs: Option<u64>,
    /// The axes.
    #[serde(default)]
    pub axes: Vec<Axis>,
}

/// One axis: a path and its values (a zip axis has no single `set`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Axis {
    /// The path it sets.
    #[serde(default)]
    pub set: Option<String>,
    /// Its values.
    #[serde(default)]
    pub values: Vec<serde_json::Value>,
}

/// A rate with its 95% Wilson score interval.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Rate {
    /// The observed rate, 0–1.
    pub rate: f64,
    /// The interval's ends.
    pub ci95: [f64; 2],
}

/// One cell of the sweep.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Cell {
    /// Scenario name.
    pub scenario: String,
    /// Policy name.
    pub policy: String,
    /// The overrides of this cell, by path.
    #[serde(default)]
    pub set: serde_json::Map<String, serde_json::Value>,
    /// Whether the scenario's canary carries a fault.
    pub bad_release: bool,
    /// Detection, for a bad release.
    #[serde(default)]
    pub detection: Option<Rate>,
    /// False aborts, for a good release.
    #[serde(default)]
    pub false_abort: Option<Rate>,
}

/// One policy variant.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Variant {
    /// Policy name.
    pub policy: String,
    /// Its policy overrides, by path.
    #[serde(default)]
    pub set: serde_json::Map<String, serde_json::Value>,
    /// Detection over its bad-release cells.
    #[serde(default)]
    pub detection: Option<Rate>,
    /// False aborts over its good-release cells.
    #[serde(default)]
    pub false_abort: Option<Rate>,
    /// Whether no other variant is as good on everything and better on one.
    #[serde(default)]
    pub pareto: bool,
}

impl SweepResult {
    /// Reads a sweep's JSON result.
    pub fn from_json(text: &str) -> Result<SweepResult, String> {
        serde_json::from_str(text).map_err(|e| {
            format!(
                "not a sweep result (line {}, column {}): {e}",
                e.line(),
                e.column()
            )
        })
    }
}

/// A point on the trade-off panel.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantPoint {
    /// `policy · field=value, …`.
    pub label: String,
    /// Index of its policy (its colour).
    pub policy: usize,
    /// False-abort rate and interval, percent.
    pub false_abort: (f64, f64, f64),
    /// Detection rate and interval, percent.
    pub detection: (f64, f64, f64),
    /// Pareto-optimal.
    pub pareto: bool,
}

/// A line of the fault-size panel: one policy variant.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultLine {
    /// `policy · field=value, …` (the fault's own axis left out).
    pub label: String,
    /// Index of its policy.
    pub policy: usize,
    /// (fault size, detection %, interval low %, interval high %), by size.
    pub points: Vec<(f64, f64, f64, f64)>,
    /// The smallest size detected at least 95% of the time.
    pub caught_95: Option<f64>,
}

/// The figure model.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeOff {
    /// Title.
    pub title: String,
    /// Variants with both a detection and a false-abort rate.
    pub variants: Vec<VariantPoint>,
    /// The fault axis' path, when one axis varies the canary build.
    pub fault_axis: Option<String>,
    /// Detection against fault size, when there is a fault axis.
    pub fault_lines: Vec<FaultLine>,
}

/// The short name of an override path: `policy.P.metric.M.failureLimit` →
/// `failureLimit`, `policy.P.steps[4].pause.duration` →
/// `steps[4].pause.duration`, anything else as written.
pub fn short_path(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("policy.") else {
        return path;
    };
    let rest = rest.split_once('.').map_or(rest, |(_, r)| r);
    for prefix in ["metric.", "arg."] {
        if let Some(r) = rest.strip_prefix(prefix) {
            return match prefix {
                "metric." => r.split_once('.').map_or(r, |(_, f)| f),
                _ => r,
            };
        }
    }
    rest
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn label(
    policy: &str,
    set: &serde_json::Map<String, serde_json::Value>,
    skip: Option<&str>,
) -> String {
    let parts: Vec<String> = set
        .iter()
        .filter(|(k, _)| Some(k.as_str()) != skip)
        .map(|(k, v)| format!("{}={}", short_path(k), value_text(v)))
        .collect();
    if parts.is_empty() {
        policy.to_string()
    } else {
        format!("{policy} · {}", parts.join(", "))
    }
}

/// A fault size as a number: a JSON number, or a quantity (`17Ki`) in bytes.
fn magnitude(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s
            .parse::<f64>()
            .ok()
            .or_else(|| crate::scenario::units::ByteSize::parse(s).ok().map(|b| b.0)),
        _ => None,
    }
}

fn pct(r: &Rate) -> (f64, f64, f64) {
    (100.0 * r.rate, 100.0 * r.ci95[0], 100.0 * r.ci95[1])
}

impl TradeOff {
    /// The figure model of `result`; an error when it holds neither a
    /// variant with both rates nor a fault axis.
    pub fn new(result: &SweepResult) -> Result<TradeOff, PlotError> {
        let mut policies: Vec<&str> = Vec::new();
        let mut policy_index = |p: &str| -> usize {
            match policies.iter().position(|q| *q == p) {
                Some(i) => i,
                None => {
                    policies.push(result_str(result, p));
                    policies.len() - 1
                }
            }
        };
        let mut variants = Vec::new();
        for v in &result.variants {
            let (Some(d), Some(f)) = (&v.detection, &v.false_abort) else {
                continue;
            };
            variants.push(VariantPoint {
                label: label(&v.policy, &v.set, None),
                policy: policy_index(&v.policy),
                false_abort: pct(f),
                detection: pct(d),
                pareto: v.pareto,
            });
        }
        let fault_axis = result
            .sweep
            .iter()
            .flat_map(|s| &s.axes)
            .filter_map(|a| a.set.clone())
            .find(|p| p.starts_with("versions.canary."));
        let mut fault_lines: Vec<FaultLine> = Vec::new();
        if let Some(axis) = &fault_axis {
            for c in result.cells.iter().filter(|c| c.bad_release) {
                let (Some(d), Some(x)) = (&c.detection, c.set.get(axis).and_then(magnitude)) else {
                    continue;
                };
                let name = label(&c.policy, &c.set, Some(axis));
                let (r, lo, hi) = pct(d);
                match fault_lines.iter_mut().find(|l| l.label == name) {
                    Some(l) => l.points.push((x, r, lo, hi)),
                    None => fault_lines.push(FaultLine {
                        label: name,
                        policy: policy_index(&c.policy),
                        points: vec![(x, r, lo, hi)],
                        caught_95: None,
                    }),
                }
            }
            for l in &mut fault_lines {
                l.points.sort_by(|a, b| a.0.total_cmp(&b.0));
                l.caught_95 = l.points.iter().find(|p| p.1 >= 95.0).map(|p| p.0);
            }
        }
        if variants.is_empty() && fault_lines.is_empty() {
            return Err(PlotError::NoData(
                "the sweep has no variant with both a detection and a false-abort rate \
                 (it needs a bad and a good release) and no axis that varies the canary build"
                    .to_string(),
            ));
        }
        let title = match result.sweep.as_ref().and_then(|s| s.file.as_deref()) {
            Some(f) => format!("sweep {f}: what each variant catches and what it costs"),
            None => "sweep: what each variant catches and what it costs".to_string(),
        };
        Ok(TradeOff {
            title,
            variants,
            fault_axis,
            fault_lines,
        })
    }
}

/// `p` borrowed from the result (keeps the index's lifetime simple).
fn result_str<'r>(result: &'r SweepResult, p: &str) -> &'r str {
    result
        .variants
        .iter()
        .map(|v| v.policy.as_str())
        .chain(result.cells.iter().map(|c| c.policy.as_str()))
        .find(|q| *q == p)
        .expect("invariant: p comes from the result")
}

impl Figure for TradeOff {
    fn size(&self) -> (u32, u32) {
        let panels = u32::from(!self.variants.is_empty()) + u32::from(!self.fault_lines.is_empty());
        (WIDTH, 50 + PANEL * panels)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let root = root.titled(&self.title, text(20, &INK))?;
        let areas = if !self.variants.is_empty() && !self.fault_lines.is_empty() {
            let (a, b) = root.split_vertically(PANEL);
            vec![a, b]
        } else {
            vec![root]
        };
        let mut next = areas.iter();
        if !self.variants.is_empty() {
            self.draw_variants(next.next().expect("invariant: one area per panel"))?;
        }
        if !self.fault_lines.is_empty() {
            self.draw_faults(next.next().expect("invariant: one area per panel"))?;
        }
        Ok(())
    }
}

fn upper(max: f64) -> f64 {
    (max * 1.1).clamp(5.0, 100.0)
}

impl TradeOff {
    fn draw_variants<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let x1 = upper(
            self.variants
                .iter()
                .map(|v| v.false_abort.2)
                .fold(0.0, f64::max),
        );
        let mut chart = ChartBuilder::on(area)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .caption(
                "detection against false aborts per variant (whiskers: 95% Wilson intervals; \
                 filled and joined: the Pareto front)",
                text(14, &INK),
            )
            .build_cartesian_2d(0.0..x1, 0.0..105.0)?;
        mesh(
            &mut chart,
            "false-abort rate on the good release (%)",
            "detection rate on the bad release (%)",
        )?;
        for v in &self.variants {
            let c = super::palette::series(v.policy);
            let (fx, flo, fhi) = v.false_abort;
            let (dy, dlo, dhi) = v.detection;
            let whisker = c.mix(0.6).stroke_width(1);
            chart.draw_series([
                PathElement::new(vec![(flo, dy), (fhi, dy)], whisker),
                PathElement::new(vec![(fx, dlo), (fx, dhi)], whisker),
            ])?;
            let style = if v.pareto {
                c.filled()
            } else {
                c.stroke_width(2)
            };
            chart.draw_series(std::iter::once(Circle::new((fx, dy), 5, style)))?;
        }
        let mut front: Vec<&VariantPoint> = self.variants.iter().filter(|v| v.pareto).collect();
        front.sort_by(|a, b| {
            a.false_abort
                .0
                .total_cmp(&b.false_abort.0)
                .then(a.detection.0.total_cmp(&b.detection.0))
        });
        if front.len() > 1 {
            chart.draw_series(std::iter::once(PathElement::new(
                front
                    .iter()
                    .map(|v| (v.false_abort.0, v.detection.0))
                    .collect::<Vec<_>>(),
                INK.stroke_width(1),
            )))?;
        }
        for (i, v) in front.iter().enumerate() {
            // Labels alternate above and below so neighbours do not collide.
            let dy = if i % 2 == 0 { 3.5 } else { -5.0 };
            chart.draw_series(std::iter::once(Text::new(
                format!(" {}", v.label),
                (v.false_abort.0, (v.detection.0 + dy).clamp(1.0, 104.0)),
                text(12, &INK),
            )))?;
        }
        Ok(())
    }

    fn draw_faults<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let xs = self
            .fault_lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.0));
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        let (x0, x1) = super::padded(lo, hi);
        let axis = self.fault_axis.as_deref().unwrap_or("fault size");
        let mut chart = ChartBuilder::on(area)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .caption(
                "detection against fault size (ringed: the smallest fault caught 95% of the time)",
                text(14, &INK),
            )
            .build_cartesian_2d(x0..x1, 0.0..105.0)?;
        let x_desc = format!("{axis} (bytes for sizes)");
        mesh(&mut chart, &x_desc, "detection rate (%)")?;
        chart.draw_series(DashedLineSeries::new(
            [(x0, 95.0), (x1, 95.0)],
            6,
            4,
            GREY.stroke_width(1),
        ))?;
        // One colour per line: variants of one policy must be told apart here.
        for (i, l) in self.fault_lines.iter().enumerate() {
            let c = super::palette::series(i);
            chart
                .draw_series(LineSeries::new(
                    l.points.iter().map(|p| (p.0, p.1)),
                    c.stroke_width(2),
                ))?
                .label(l.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            chart.draw_series(l.points.iter().map(|p| {
                PathElement::new(vec![(p.0, p.2), (p.0, p.3)], c.mix(0.6).stroke_width(1))
            }))?;
            chart.draw_series(
                l.points
                    .iter()
                    .map(|p| Circle::new((p.0, p.1), 3, c.filled())),
            )?;
            if let Some(x) = l.caught_95 {
                let y = l.points.iter().find(|p| p.0 == x).map_or(95.0, |p| p.1);
                chart.draw_series(std::iter::once(Circle::new((x, y), 8, INK.stroke_width(2))))?;
                // Near the right edge the label goes to the left of the ring.
                let h = if x > x0 + (x1 - x0) * 0.7 {
                    HPos::Right
                } else {
                    HPos::Left
                };
                chart.draw_series(std::iter::once(Text::new(
                    format!(" 95% from {} ", tick(x)),
                    (x, (y - 6.0).max(1.0)),
                    text(12, &INK).pos(Pos::new(h, VPos::Top)),
                )))?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(GREY)
            .label_font(text(12, &INK))
            .draw()?;
        Ok(())
    }
}

fn mesh<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    x_desc: &str,
    y_desc: &str,
) -> DrawResult<DB> {
    chart
        .configure_mesh()
        .light_line_style(super::palette::GRID.mix(0.5))
        .bold_line_style(super::palette::GRID)
        .axis_style(INK)
        .label_style(text(12, &INK))
        .axis_desc_style(text(13, &INK))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .draw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_paths_shorten_to_their_field() {
        assert_eq!(
            short_path("policy.memory-trend.metric.memory-limit-within-1h.failureLimit"),
            "failureLimit"
        );
        assert_eq!(
            short_path("policy.memory-trend.steps[4].pause.duration"),
            "steps[4].pause.duration"
        );
        assert_eq!(short_path("policy.p.arg.threshold"), "threshold");
        assert_eq!(short_path("traffic.rate"), "traffic.rate");
    }

    #[test]
    fn fault_sizes_read_numbers_and_quantities() {
        assert_eq!(magnitude(&serde_json::json!(3)), Some(3.0));
        assert_eq!(magnitude(&serde_json::json!("17Ki")), Some(17.0 * 1024.0));
        assert_eq!(magnitude(&serde_json::json!("2.5")), Some(2.5));
        assert_eq!(magnitude(&serde_json::json!("fast")), None);
    }
}
