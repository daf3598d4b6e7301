//! The colours of every figure: Okabe and Ito's colour-blind-safe set
//! ("Color Universal Design", 2008), assigned so that the pairs a reader must
//! tell apart also differ in lightness (for greyscale prints): stable is the
//! dark blue, canary the light orange. Where two colours are close in grey
//! (bluish green and vermillion), the marks differ in shape as well: a
//! successful measurement is a circle, a failed one a cross.

use plotters::style::RGBColor;

/// Page background.
pub const BACKGROUND: RGBColor = RGBColor(255, 255, 255);
/// Text, axes, limits.
pub const INK: RGBColor = RGBColor(0, 0, 0);
/// Grid lines.
pub const GRID: RGBColor = RGBColor(225, 225, 225);
/// Okabe–Ito orange: the canary build (light in greyscale).
pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
/// Okabe–Ito sky blue.
pub const SKY: RGBColor = RGBColor(86, 180, 233);
/// Okabe–Ito bluish green: success.
pub const GREEN: RGBColor = RGBColor(0, 158, 115);
/// Okabe–Ito yellow.
pub const YELLOW: RGBColor = RGBColor(240, 228, 66);
/// Okabe–Ito blue: the stable build (dark in greyscale).
pub const BLUE: RGBColor = RGBColor(0, 114, 178);
/// Okabe–Ito vermillion: failure, OOM kills.
pub const VERMILLION: RGBColor = RGBColor(213, 94, 0);
/// Okabe–Ito reddish purple: the canary weight.
pub const PURPLE: RGBColor = RGBColor(204, 121, 167);
/// A mid grey for secondary marks.
pub const GREY: RGBColor = RGBColor(110, 110, 110);

/// Colours for a sequence of policies, in order; lightness alternates so
/// neighbours stay apart in greyscale.
pub const SERIES: [RGBColor; 7] = [BLUE, ORANGE, GREEN, SKY, VERMILLION, PURPLE, INK];

/// The colour of the `i`-th policy or variant line.
pub fn series(i: usize) -> RGBColor {
    SERIES[i % SERIES.len()]
}

/// Relative luminance-like grey level (ITU-R BT.601 weights), 0–255.
pub fn grey_level(c: RGBColor) -> f64 {
    0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_a_reader_must_tell_apart_differ_in_grey() {
        // Stable against canary must stay distinct when printed in
        // greyscale (at least 40 of 255 levels).
        for (a, b) in [(BLUE, ORANGE), (INK, YELLOW), (BLUE, PURPLE)] {
            assert!(
                (grey_level(a) - grey_level(b)).abs() >= 40.0,
                "{a:?} vs {b:?}"
            );
        }
        // Neighbouring policy colours too.
        for w in SERIES.windows(2) {
            assert!(
                (grey_level(w[0]) - grey_level(w[1])).abs() >= 30.0,
                "{:?} vs {:?}",
                w[0],
                w[1]
            );
        }
    }
}
