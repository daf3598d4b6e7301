//! The timeline of one run: the picture of a seed's story.
//!
//! In: a [`RunResult`] and the [`SeriesStore`] its run scraped (each pod's
//! `container_memory_working_set_bytes`), and the scenario (which image is
//! the canary's, the memory limit). Out: a [`Timeline`], a [`Figure`] with
//! - a memory panel: each pod's working set against its limit, stable pods
//!   dark blue and thin, canary pods light orange and thick, OOM kills as
//!   vermillion crosses on the limit, and the canary weight as a purple step
//!   line on a second axis;
//! - one panel per analysis metric: every measurement as a marker by phase
//!   (circle successful, cross failed, triangle error, square
//!   inconclusive), with the threshold where the condition states one;
//! - promotion, abort, rollback, undo and the operator's page as labelled
//!   vertical lines across every panel.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::palette::{BLUE, GREEN, GREY, INK, ORANGE, PURPLE, VERMILLION};
use super::{DrawResult, Figure, minutes, padded, text, tick};
use crate::analysis::AnalysisPhase;
use crate::model::Version;
use crate::outcome::RunResult;
use crate::scenario::Scenario;
use crate::series::{SeriesStore, is_stale_nan};

const MIB: f64 = 1024.0 * 1024.0;
const WIDTH: u32 = 1000;
const TITLE_HEIGHT: u32 = 44;
const MEMORY_HEIGHT: u32 = 400;
const LEGEND_HEIGHT: u32 = 50;
const METRIC_HEIGHT: u32 = 150;
/// Width of the right axis' labels (the traffic share); metric panels keep
/// it as margin so every panel's time axis lines up.
const RIGHT_AREA: u32 = 60;

/// One pod's working set over time.
#[derive(Debug, Clone, PartialEq)]
pub struct PodTrace {
    /// The pod's name.
    pub name: String,
    /// The build it runs.
    pub version: Version,
    /// Runs of consecutive samples (seconds from the rollout's start,
    /// bytes); a gap (a restart, a staleness marker) starts a new run.
    pub segments: Vec<Vec<(f64, f64)>>,
}

/// A labelled instant: promotion, abort, undo, page.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// Seconds from the rollout's start.
    pub t_s: f64,
    /// What happened.
    pub label: &'static str,
}

/// A condition's threshold: `result <op> value`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// The comparison, with `result` on the left.
    pub op: &'static str,
    /// The number compared with.
    pub value: f64,
}

/// One measurement on a metric panel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricPoint {
    /// When it was taken (finished, for jobs), seconds from the rollout's start.
    pub t_s: f64,
    /// Its value, when it has a finite number (one point per list element).
    pub value: Option<f64>,
    /// Its phase.
    pub phase: AnalysisPhase,
}

/// One analysis metric's measurements across every AnalysisRun.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricTrace {
    /// The metric's name.
    pub name: String,
    /// The condition the threshold came from, as written after args.
    pub condition: Option<String>,
    /// The threshold, where the condition states exactly one.
    pub threshold: Option<Threshold>,
    /// Measurements in time order.
    pub points: Vec<MetricPoint>,
}

/// The figure model of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// First line of the title.
    pub title: String,
    /// The memory limit of every pod, bytes.
    pub memory_limit: f64,
    /// Working sets.
    pub pods: Vec<PodTrace>,
    /// The new build's share of traffic (percent) from each instant on: the
    /// canary weight while it is the canary, 100 once it is promoted (when
    /// Argo resets the weight to 0 because the canary became stable), and
    /// 100 less the weight while an undo brings the old build back as the canary.
    pub new_build_share: Vec<(f64, f64)>,
    /// OOM kills: when, and which build.
    pub oom_kills: Vec<(f64, Version)>,
    /// Labelled instants.
    pub marks: Vec<Mark>,
    /// One panel per metric.
    pub metrics: Vec<MetricTrace>,
    /// The end of the run, seconds from the rollout's start.
    pub end_s: f64,
}

impl Timeline {
    /// The timeline of `result`, whose run scraped `store`, on scenario `sc`.
    pub fn new(sc: &Scenario, result: &RunResult, store: &SeriesStore) -> Timeline {
        let canary_image = &sc.profile(Version::Canary).image;
        let mut pods = Vec::new();
        for id in store.postings(
            crate::series::METRIC_NAME,
            "container_memory_working_set_bytes",
        ) {
            let s = store.get(*id);
            // The pod cgroup's series (no `container`) repeats its container's.
            if s.labels.get("container").is_none() {
                continue;
            }
            let version = if s.labels.get("image") == Some(canary_image.as_str()) {
                Version::Canary
            } else {
                Version::Stable
            };
            let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for p in &s.samples {
                if is_stale_nan(p.v) || !p.v.is_finite() {
                    segments.push(Vec::new());
                } else if p.t >= 0 {
                    segments
                        .last_mut()
                        .expect("invariant: never empty")
                        .push((p.t as f64 / 1000.0, p.v));
                }
            }
            segments.retain(|s| !s.is_empty());
            if !segments.is_empty() {
                pods.push(PodTrace {
                    name: s.labels.get("pod").unwrap_or("").to_string(),
                    version,
                    segments,
                });
            }
        }
        let mut marks = Vec::new();
        for e in &result.timeline {
            let label = match e.kind {
                "promoted" if Some(e.t_s) == result.rollout.promoted_at_s => "promoted",
                "promoted" => "rolled back",
                "abort" => "abort",
                "undo" => "undo",
                "page" => "operator paged",
                _ => continue,
            };
            if !marks.iter().any(|m: &Mark| m.label == label) {
                marks.push(Mark { t_s: e.t_s, label });
            }
        }
        Timeline {
            title: format!(
                "{} · {} · seed {} · {}",
                result.scenario,
                result.policy,
                result.seed,
                result.verdict.as_str()
            ),
            memory_limit: sc.pod.memory_limit,
            pods,
            new_build_share: new_build_share(result),
            oom_kills: result
                .oom_kills
                .iter()
                .map(|k| (k.t_s, k.version))
                .collect(),
            marks,
            metrics: metric_traces(result),
            end_s: result.sim_duration_s,
        }
    }
}

/// The new build's share of traffic over the run (see [`Timeline::new_build_share`]).
fn new_build_share(result: &RunResult) -> Vec<(f64, f64)> {
    let mut out = vec![(0.0, 0.0)];
    let mut weights = result.canary_weights.iter();
    let mut new_is_stable = false;
    for e in &result.timeline {
        let share = match e.kind {
            "weight" => {
                let Some(w) = weights.next() else { continue };
                let w = f64::from(w.weight);
                if new_is_stable { 100.0 - w } else { w }
            }
            "promoted" if Some(e.t_s) == result.rollout.promoted_at_s => {
                new_is_stable = true;
                100.0
            }
            "promoted" => {
                new_is_stable = false;
                0.0
            }
            _ => continue,
        };
        out.push((e.t_s, share));
    }
    out
}

/// Every metric's measurements across the run's AnalysisRuns, in order of
/// first appearance.
fn metric_traces(result: &RunResult) -> Vec<MetricTrace> {
    let mut out: Vec<MetricTrace> = Vec::new();
    for ar in &result.analysis_runs {
        for m in &ar.metrics {
            if out.iter().any(|t| t.name == m.name) {
                continue;
            }
            let condition = m
                .success_condition
                .clone()
                .or_else(|| m.failure_condition.clone());
            out.push(MetricTrace {
                name: m.name.clone(),
                threshold: condition.as_deref().and_then(threshold),
                condition,
                points: Vec::new(),
            });
        }
        for m in &ar.measurements {
            let Some(trace) = out.iter_mut().find(|t| t.name == m.metric) else {
                continue;
            };
            let t_s = m.finished_at_s.unwrap_or(m.t_s);
            let values: Vec<f64> = match &m.value {
                serde_json::Value::Number(n) => n.as_f64().into_iter().collect(),
                serde_json::Value::Array(xs) => xs.iter().filter_map(|x| x.as_f64()).collect(),
                _ => Vec::new(),
            };
            if values.is_empty() {
                trace.points.push(MetricPoint {
                    t_s,
                    value: None,
                    phase: m.phase,
                });
            }
            for v in values.into_iter().filter(|v| v.is_finite()) {
                trace.points.push(MetricPoint {
                    t_s,
                    value: Some(v),
                    phase: m.phase,
                });
            }
        }
    }
    for t in &mut out {
        t.points.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    }
    out
}

/// The threshold of a condition that compares the result with a number
/// exactly once (`result[0] < 0.8`, `len(result) > 0 && result[0] < 1`,
/// `0.8 > result[0]`), normalised to `result <op> value`; `None` when no
/// comparison or more than one compares the result with a number.
pub fn threshold(condition: &str) -> Option<Threshold> {
    const NUM: &str = r"-?[0-9][0-9_]*\.?[0-9]*(?:[eE][-+]?[0-9]+)?";
    const RESULT: &str = r"\bresult(?:\[\d+\])?";
    let right = regex::Regex::new(&format!(r"{RESULT}\s*(<=|>=|<|>)\s*({NUM})"))
        .expect("invariant: the pattern compiles");
    let left = regex::Regex::new(&format!(r"({NUM})\s*(<=|>=|<|>)\s*{RESULT}"))
        .expect("invariant: the pattern compiles");
    let mut found: Vec<(&'static str, &str)> = Vec::new();
    for c in right.captures_iter(condition) {
        found.push((
            op(&c[1], false),
            c.get(2).expect("invariant: group 2").as_str(),
        ));
    }
    for c in left.captures_iter(condition) {
        found.push((
            op(&c[2], true),
            c.get(1).expect("invariant: group 1").as_str(),
        ));
    }
    let [(op, n)] = found.as_slice() else {
        return None;
    };
    let value: f64 = n.replace('_', "").parse().ok()?;
    Some(Threshold { op, value })
}

/// A comparison operator, flipped when `result` is on its right.
fn op(text: &str, flip: bool) -> &'static str {
    match (text, flip) {
        ("<", false) | (">", true) => "<",
        (">", false) | ("<", true) => ">",
        ("<=", false) | (">=", true) => "<=",
        _ => ">=",
    }
}

impl Timeline {
    /// The shown span in minutes: the whole run, or up to ten minutes past
    /// the last thing that happened when a long quiet soak follows.
    fn x_range(&self) -> (f64, f64) {
        let last = self
            .marks
            .iter()
            .map(|m| m.t_s)
            .chain(self.oom_kills.iter().map(|k| k.0))
            .chain(self.new_build_share.iter().map(|w| w.0))
            .chain(
                self.metrics
                    .iter()
                    .flat_map(|m| m.points.iter().map(|p| p.t_s)),
            )
            .fold(0.0, f64::max);
        (0.0, minutes((last + 600.0).min(self.end_s).max(60.0)))
    }

    fn shown_title(&self) -> String {
        let (_, x1) = self.x_range();
        if x1 < minutes(self.end_s) - 0.01 {
            format!(
                "{} (shown to {}; the run goes on quietly to {})",
                self.title,
                crate::report::text::human_secs(x1 * 60.0),
                crate::report::text::human_secs(self.end_s)
            )
        } else {
            self.title.clone()
        }
    }
}

impl Figure for Timeline {
    fn size(&self) -> (u32, u32) {
        (
            WIDTH,
            TITLE_HEIGHT
                + MEMORY_HEIGHT
                + LEGEND_HEIGHT
                + METRIC_HEIGHT * self.metrics.len() as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let title = self.shown_title();
        let (head, body) = root.split_vertically(TITLE_HEIGHT);
        head.draw(&Text::new(
            title,
            (WIDTH as i32 / 2, 14),
            text(17, &INK).pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        let mut breaks = vec![MEMORY_HEIGHT as i32, (MEMORY_HEIGHT + LEGEND_HEIGHT) as i32];
        for i in 1..self.metrics.len() {
            breaks.push((MEMORY_HEIGHT + LEGEND_HEIGHT + METRIC_HEIGHT * i as u32) as i32);
        }
        let areas = body.split_by_breakpoints(Vec::<i32>::new(), breaks);
        let x = self.x_range();
        self.draw_memory(&areas[0], x)?;
        self.draw_legend(&areas[1])?;
        for (m, area) in self.metrics.iter().zip(&areas[2..]) {
            self.draw_metric(m, area, x)?;
        }
        Ok(())
    }
}

fn line(color: RGBColor, width: u32) -> ShapeStyle {
    ShapeStyle {
        color: color.to_rgba(),
        filled: false,
        stroke_width: width,
    }
}

fn filled(color: RGBColor) -> ShapeStyle {
    ShapeStyle {
        color: color.to_rgba(),
        filled: true,
        stroke_width: 1,
    }
}

/// A legend entry's sample.
#[derive(Clone, Copy)]
enum Sample {
    Line(RGBColor, u32),
    Dashed(RGBColor, u32),
    Cross(RGBColor),
    Circle(RGBColor),
    Triangle(RGBColor),
    Square(RGBColor),
}

/// Draws one row of legend entries from `(x, y)`, left to right.
fn legend_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (mut x, y): (i32, i32),
    entries: &[(Sample, &str)],
) -> DrawResult<DB> {
    for (sample, label) in entries {
        match *sample {
            Sample::Line(c, w) => {
                area.draw(&PathElement::new(vec![(x, y), (x + 24, y)], line(c, w)))?
            }
            Sample::Dashed(c, w) => {
                area.draw(&PathElement::new(vec![(x, y), (x + 9, y)], line(c, w)))?;
                area.draw(&PathElement::new(
                    vec![(x + 15, y), (x + 24, y)],
                    line(c, w),
                ))?;
            }
            Sample::Cross(c) => area.draw(&Cross::new((x + 12, y), 5, line(c, 2)))?,
            Sample::Circle(c) => area.draw(&Circle::new((x + 12, y), 4, filled(c)))?,
            Sample::Triangle(c) => area.draw(&TriangleMarker::new((x + 12, y), 5, filled(c)))?,
            Sample::Square(c) => area.draw(&Rectangle::new(
                [(x + 8, y - 4), (x + 16, y + 4)],
                filled(c),
            ))?,
        }
        let style = text(12, &INK).pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(&Text::new(label.to_string(), (x + 30, y), style.clone()))?;
        let (w, _) = area.estimate_text_size(label, &style)?;
        x += 30 + w as i32 + 22;
    }
    Ok(())
}

impl Timeline {
    fn draw_legend<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let limit = format!("memory limit ({} MiB)", tick(self.memory_limit / MIB));
        legend_row(
            area,
            (80, 10),
            &[
                (Sample::Line(BLUE, 1), "stable build's pods"),
                (Sample::Line(ORANGE, 3), "canary build's pods"),
                (Sample::Dashed(INK, 2), &limit),
                (Sample::Cross(VERMILLION), "OOM kill"),
                (
                    Sample::Line(PURPLE, 2),
                    "new build's traffic share (right axis)",
                ),
            ],
        )?;
        if self.metrics.is_empty() {
            return Ok(());
        }
        legend_row(
            area,
            (80, 34),
            &[
                (Sample::Circle(GREEN), "successful"),
                (Sample::Cross(VERMILLION), "failed"),
                (Sample::Triangle(INK), "error (no value)"),
                (Sample::Square(PURPLE), "inconclusive"),
                (Sample::Dashed(INK, 2), "threshold the condition states"),
            ],
        )
    }

    fn draw_memory<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        (x0, x1): (f64, f64),
    ) -> DrawResult<DB> {
        let peak = self
            .pods
            .iter()
            .flat_map(|p| p.segments.iter().flatten())
            .map(|(_, v)| *v)
            .fold(self.memory_limit, f64::max);
        // Headroom above the limit holds the labels of the vertical lines.
        let y1 = peak / MIB * 1.3;
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .right_y_label_area_size(RIGHT_AREA)
            .caption(
                "working set of each pod against its limit, and the new build's share of traffic",
                text(15, &INK),
            )
            .build_cartesian_2d(x0..x1, 0.0..y1)?
            .set_secondary_coord(x0..x1, 0.0..130.0);
        chart
            .configure_mesh()
            .light_line_style(super::palette::GRID.mix(0.5))
            .bold_line_style(super::palette::GRID)
            .axis_style(INK)
            .label_style(text(12, &INK))
            .axis_desc_style(text(13, &INK))
            .x_desc("minutes since the rollout started")
            .y_desc("working set (MiB)")
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()?;
        chart
            .configure_secondary_axes()
            .axis_style(INK)
            .label_style(text(12, &PURPLE))
            .axis_desc_style(text(13, &PURPLE))
            .y_desc("new build's share of traffic (%)")
            .y_label_formatter(&|v| if *v <= 100.0 { tick(*v) } else { String::new() })
            .draw()?;
        let in_range = |t: f64| t >= x0 && t <= x1;
        // Stable first, so the canary's lines lie on top.
        for version in [Version::Stable, Version::Canary] {
            let (color, width) = match version {
                Version::Stable => (BLUE, 1),
                Version::Canary => (ORANGE, 3),
            };
            for pod in self.pods.iter().filter(|p| p.version == version) {
                for seg in &pod.segments {
                    let pts: Vec<(f64, f64)> = seg
                        .iter()
                        .map(|(t, v)| (minutes(*t), v / MIB))
                        .filter(|(t, _)| in_range(*t))
                        .collect();
                    chart.draw_series(LineSeries::new(pts, line(color, width)))?;
                }
            }
        }
        let limit = self.memory_limit / MIB;
        chart.draw_series(DashedLineSeries::new(
            [(x0, limit), (x1, limit)],
            8,
            5,
            line(INK, 2),
        ))?;
        chart.draw_series(
            self.oom_kills
                .iter()
                .filter(|(t, _)| in_range(minutes(*t)))
                .map(|(t, _)| Cross::new((minutes(*t), limit), 7, line(VERMILLION, 3))),
        )?;
        let mut steps: Vec<(f64, f64)> = Vec::new();
        let mut current = 0.0;
        for (t, share) in &self.new_build_share {
            let t = minutes(*t).clamp(x0, x1);
            steps.push((t, current));
            current = *share;
            steps.push((t, current));
        }
        steps.push((x1, current));
        chart.draw_secondary_series(LineSeries::new(steps, line(PURPLE, 2)))?;
        for (i, m) in self.marks.iter().enumerate() {
            let t = minutes(m.t_s);
            if !in_range(t) {
                continue;
            }
            chart.draw_series(DashedLineSeries::new(
                [(t, 0.0), (t, y1)],
                4,
                4,
                line(GREY, 1),
            ))?;
            // Staggered above the limit line, so close marks stay legible.
            let y = limit + (y1 - limit) * (0.25 + 0.25 * (i % 3) as f64);
            chart.draw_series(std::iter::once(Text::new(
                format!(" {} {}", m.label, crate::report::text::human_secs(m.t_s)),
                (t, y),
                text(12, &INK).pos(Pos::new(HPos::Left, VPos::Center)),
            )))?;
        }
        Ok(())
    }

    fn draw_metric<DB: DrawingBackend>(
        &self,
        m: &MetricTrace,
        area: &DrawingArea<DB, Shift>,
        (x0, x1): (f64, f64),
    ) -> DrawResult<DB> {
        let values = m.points.iter().filter_map(|p| p.value);
        let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        if let Some(t) = m.threshold {
            lo = lo.min(t.value);
            hi = hi.max(t.value);
        }
        let has_values = lo.is_finite();
        let (y0, y1) = if has_values {
            let (a, b) = padded(lo, hi);
            (a - (b - a) * 0.1, b)
        } else {
            (0.0, 1.0)
        };
        let caption = match &m.condition {
            Some(c) => format!("{}: {c}", m.name),
            None => m.name.clone(),
        };
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .margin_right(10 + RIGHT_AREA)
            .x_label_area_size(30)
            .y_label_area_size(70)
            .caption(caption, text(14, &INK))
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .light_line_style(super::palette::GRID.mix(0.5))
            .bold_line_style(super::palette::GRID)
            .axis_style(INK)
            .label_style(text(12, &INK))
            .axis_desc_style(text(13, &INK))
            .y_desc(if has_values { "value" } else { "(no value)" })
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| if has_values { tick(*v) } else { String::new() })
            .y_labels(4)
            .draw()?;
        for mk in &self.marks {
            let t = minutes(mk.t_s);
            if t >= x0 && t <= x1 {
                chart.draw_series(DashedLineSeries::new(
                    [(t, y0), (t, y1)],
                    4,
                    4,
                    line(GREY, 1),
                ))?;
            }
        }
        if let Some(t) = m.threshold {
            chart.draw_series(DashedLineSeries::new(
                [(x0, t.value), (x1, t.value)],
                8,
                5,
                line(INK, 2),
            ))?;
        }
        // Valueless measurements (errors, jobs) sit on a line at the bottom.
        let base = if has_values {
            y0 + (y1 - y0) * 0.06
        } else {
            0.5
        };
        let inside = |p: &&MetricPoint| {
            let t = minutes(p.t_s);
            t >= x0 && t <= x1
        };
        let at = |p: &MetricPoint| (minutes(p.t_s), p.value.unwrap_or(base));
        for p in m.points.iter().filter(inside) {
            let c = at(p);
            match p.phase {
                AnalysisPhase::Successful => {
                    chart.draw_series(std::iter::once(Circle::new(c, 4, filled(GREEN))))?
                }
                AnalysisPhase::Failed => {
                    chart.draw_series(std::iter::once(Cross::new(c, 5, line(VERMILLION, 2))))?
                }
                AnalysisPhase::Error => {
                    chart.draw_series(std::iter::once(TriangleMarker::new(c, 5, filled(INK))))?
                }
                _ => chart.draw_series(std::iter::once(
                    EmptyElement::at(c) + Rectangle::new([(-4, -4), (4, 4)], filled(PURPLE)),
                ))?,
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_read_from_simple_comparisons() {
        let t = |c| threshold(c).map(|t| (t.op, t.value));
        assert_eq!(t("result[0] < 0.8"), Some(("<", 0.8)));
        assert_eq!(t("result <= 2"), Some(("<=", 2.0)));
        assert_eq!(t(" 0.01 > result[0] "), Some(("<", 0.01)));
        assert_eq!(t("1e-3 <= result[1]"), Some((">=", 0.001)));
        assert_eq!(t("result[0] >= -5"), Some((">=", -5.0)));
        // Not one comparison with one number: no threshold.
        assert_eq!(t("result[0] == 1"), None);
        assert_eq!(
            t("len(result) > 0 && result[0] >= 0.99"),
            Some((">=", 0.99))
        );
        assert_eq!(t("len(result) == 0 || result[0] < 0.5"), Some(("<", 0.5)));
        assert_eq!(t("result[0] > 0.1 && result[0] < 0.5"), None);
        assert_eq!(t("result[0] < result[1]"), None);
        assert_eq!(t("asInt(result) > 3"), None);
    }
}
