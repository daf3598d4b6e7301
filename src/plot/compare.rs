//! Policies compared over seeds.
//!
//! In: run results of one or more scenarios, usually a bad and a good
//! release, each policy over many seeds. Out: a [`Comparison`], a
//! [`Figure`] with
//! - the verdict shares per policy as stacked bars, the bad release's runs
//!   (caught / missed / undecided) beside the good release's (promoted /
//!   false abort / undecided); the outcome a team wants is dark blue, the
//!   one it fears light orange, undecided pale grey, each segment labelled
//!   with its count;
//! - the time to detect per policy: every caught run as a dot, the middle
//!   half as a box and the median as a bar, in minutes.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::palette::{BLUE, INK, ORANGE};
use super::{DrawResult, Figure, text, tick};
use crate::outcome::{RunResult, Verdict};

const WIDTH: u32 = 1000;
const ROW: u32 = 46;

/// The figures of one policy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicyRow {
    /// The policy's name.
    pub policy: String,
    /// Runs against a bad release: caught, missed, undecided.
    pub bad: [u32; 3],
    /// Runs against a good release: promoted, false abort, undecided.
    pub good: [u32; 3],
    /// Time to detect of every caught run, seconds, ascending.
    pub detect_s: Vec<f64>,
}

/// The figure model: one row per policy, in order of first appearance.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Rows.
    pub rows: Vec<PolicyRow>,
}

impl Comparison {
    /// Counts `results` per policy.
    pub fn new(results: &[RunResult]) -> Comparison {
        let mut rows: Vec<PolicyRow> = Vec::new();
        for r in results {
            let i = match rows.iter().position(|row| row.policy == r.policy) {
                Some(i) => i,
                None => {
                    rows.push(PolicyRow {
                        policy: r.policy.clone(),
                        ..PolicyRow::default()
                    });
                    rows.len() - 1
                }
            };
            let row = &mut rows[i];
            match r.verdict {
                Verdict::Caught => row.bad[0] += 1,
                Verdict::Missed => row.bad[1] += 1,
                Verdict::Promoted => row.good[0] += 1,
                Verdict::FalseAbort => row.good[1] += 1,
                Verdict::Undecided if r.canary_bad => row.bad[2] += 1,
                Verdict::Undecided => row.good[2] += 1,
            }
            if let Some(t) = r.time_to_detect_s {
                row.detect_s.push(t);
            }
        }
        for row in &mut rows {
            row.detect_s.sort_by(f64::total_cmp);
        }
        Comparison { rows }
    }
}

/// The `q`-quantile of ascending `xs` (linear between order statistics).
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let pos = q * (xs.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    xs[lo] + (xs[hi] - xs[lo]) * (pos - lo as f64)
}

impl Figure for Comparison {
    fn size(&self) -> (u32, u32) {
        let n = self.rows.len().max(1) as u32;
        (WIDTH, 60 + 2 * (90 + ROW * n))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let root = root.titled("policies compared over seeds", text(20, &INK))?;
        let (_, h) = root.dim_in_pixel();
        let (top, bottom) = root.split_vertically(h / 2);
        let (bad, good) = top.split_horizontally(WIDTH / 2);
        let total = |c: &[u32; 3]| c.iter().sum::<u32>();
        if self.rows.iter().any(|r| total(&r.bad) > 0) {
            self.draw_shares(&bad, "bad release", ["caught", "missed"], |r| r.bad)?;
        }
        if self.rows.iter().any(|r| total(&r.good) > 0) {
            self.draw_shares(&good, "good release", ["promoted", "false abort"], |r| {
                r.good
            })?;
        }
        self.draw_detection(&bottom)
    }
}

impl Comparison {
    fn y_range(&self) -> std::ops::Range<f64> {
        -0.7..self.rows.len() as f64 - 0.3
    }

    /// Row `i`'s y (the first policy at the top).
    fn y(&self, i: usize) -> f64 {
        (self.rows.len() - 1 - i) as f64
    }

    fn draw_shares<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
        names: [&str; 2],
        counts: impl Fn(&PolicyRow) -> [u32; 3],
    ) -> DrawResult<DB> {
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(10)
            .caption(
                format!("{title}: {} (blue) or {} (orange)", names[0], names[1]),
                text(15, &INK),
            )
            .build_cartesian_2d(0.0..100.0, self.y_range())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .light_line_style(super::palette::GRID.mix(0.5))
            .bold_line_style(super::palette::GRID)
            .axis_style(INK)
            .label_style(text(12, &INK))
            .axis_desc_style(text(13, &INK))
            .x_desc("share of runs (%)")
            .x_label_formatter(&|v| tick(*v))
            .draw()?;
        let light = RGBColor(215, 215, 215);
        for (i, row) in self.rows.iter().enumerate() {
            let c = counts(row);
            let n: u32 = c.iter().sum();
            let y = self.y(i);
            let label = if n == 0 {
                format!("{} (no runs)", row.policy)
            } else {
                format!("{} ({n} runs)", row.policy)
            };
            chart.draw_series(std::iter::once(Text::new(
                label,
                (0.5, y + 0.46),
                text(12, &INK),
            )))?;
            if n == 0 {
                continue;
            }
            let mut x = 0.0;
            for (k, (count, color)) in c.iter().zip([BLUE, ORANGE, light]).enumerate() {
                if *count == 0 {
                    continue;
                }
                let w = 100.0 * f64::from(*count) / f64::from(n);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x, y - 0.28), (x + w, y + 0.22)],
                    color.filled(),
                )))?;
                let ink = if k == 0 { WHITE } else { INK };
                if w >= 6.0 {
                    chart.draw_series(std::iter::once(Text::new(
                        count.to_string(),
                        (x + 1.0, y + 0.1),
                        text(12, &ink),
                    )))?;
                }
                x += w;
            }
        }
        Ok(())
    }

    fn draw_detection<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let longest = self
            .rows
            .iter()
            .flat_map(|r| r.detect_s.iter())
            .fold(60.0f64, |a, b| a.max(*b));
        let x1 = longest / 60.0 * 1.1;
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(10)
            .caption(
                "time to detect the bad release (caught runs: dots; box: middle half; bar: median)",
                text(15, &INK),
            )
            .build_cartesian_2d(0.0..x1, self.y_range())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .light_line_style(super::palette::GRID.mix(0.5))
            .bold_line_style(super::palette::GRID)
            .axis_style(INK)
            .label_style(text(12, &INK))
            .axis_desc_style(text(13, &INK))
            .x_desc("minutes from the rollout's start to the abort")
            .x_label_formatter(&|v| tick(*v))
            .draw()?;
        for (i, row) in self.rows.iter().enumerate() {
            let y = self.y(i);
            let xs: Vec<f64> = row.detect_s.iter().map(|t| t / 60.0).collect();
            let label = if xs.is_empty() {
                format!("{}: caught none", row.policy)
            } else {
                format!(
                    "{}: median {}",
                    row.policy,
                    crate::report::text::human_secs(quantile(&row.detect_s, 0.5))
                )
            };
            chart.draw_series(std::iter::once(Text::new(
                label,
                (x1 * 0.005, y + 0.46),
                text(12, &INK),
            )))?;
            if xs.is_empty() {
                continue;
            }
            let (q1, q2, q3) = (quantile(&xs, 0.25), quantile(&xs, 0.5), quantile(&xs, 0.75));
            chart.draw_series(std::iter::once(Rectangle::new(
                [(q1, y - 0.22), (q3.max(q1 + x1 * 0.002), y + 0.16)],
                ShapeStyle {
                    color: super::palette::SKY.mix(0.35),
                    filled: true,
                    stroke_width: 1,
                },
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(q2, y - 0.28), (q2, y + 0.22)],
                INK.stroke_width(3),
            )))?;
            // Dots spread over five lanes so equal times stay countable.
            chart.draw_series(xs.iter().enumerate().map(|(k, x)| {
                let lane = (k % 5) as f64 - 2.0;
                Circle::new((*x, y - 0.03 + lane * 0.07), 3, BLUE.mix(0.8).filled())
            }))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&xs, 0.0), 1.0);
        assert_eq!(quantile(&xs, 0.5), 2.5);
        assert_eq!(quantile(&xs, 0.75), 3.25);
        assert_eq!(quantile(&xs, 1.0), 4.0);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
