//! Pictures of results, drawn with `plotters`: one run's timeline
//! ([`timeline`]), policies compared over seeds ([`compare`]) and a sweep's
//! trade-off ([`sweep`]).
//!
//! Flow: run results (and the series a run scraped) or a sweep's JSON come
//! in; each module turns them into a small figure model, and [`render`]
//! draws a model as SVG or PNG bytes. Nothing here writes files: the binary
//! and the HTML report ([`crate::report::html`]) decide where bytes go.
//!
//! Same input, same bytes: the figure models hold only ordered data, text is
//! laid out with the DejaVu Sans metrics shipped in `assets/fonts/` (so the
//! layout does not depend on the machine's fonts) and SVG text names the
//! generic family `sans-serif`. Colours come from [`palette`]: the
//! Okabe–Ito set, which colour-blind readers tell apart, and every series
//! that must be told apart also differs in lightness, dash or marker shape,
//! so a greyscale print keeps it.

pub mod compare;
pub mod palette;
pub mod sweep;
pub mod timeline;

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

/// The family every text is set in.
pub(crate) const FONT: &str = "sans-serif";

static FONT_ONCE: Once = Once::new();

/// Registers the shipped DejaVu Sans as [`FONT`] for layout (and for the
/// glyphs of PNGs), once per process.
fn register_font() {
    FONT_ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_err() {
            panic!("invariant: the shipped font parses");
        }
    });
}

/// The file format of a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// Scalable vector graphics, text as text.
    Svg,
    /// A PNG bitmap.
    Png,
}

impl ImageFormat {
    /// The format a file name asks for: `.svg` or `.png` (any case).
    pub fn from_path(path: &Path) -> Result<ImageFormat, PlotError> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("svg") => Ok(ImageFormat::Svg),
            Some("png") => Ok(ImageFormat::Png),
            _ => Err(PlotError::Format {
                path: path.display().to_string(),
            }),
        }
    }
}

/// Why a picture could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// The output name has neither `.svg` nor `.png` at its end.
    #[error("cannot tell the picture format of {path}: name it .svg or .png")]
    Format {
        /// The name given.
        path: String,
    },
    /// The input holds nothing this figure can show.
    #[error("nothing to plot: {0}")]
    NoData(String),
    /// plotters failed while drawing (a bug, reported rather than a panic).
    #[error("drawing failed: {0}")]
    Draw(String),
}

/// A figure that can draw itself on any plotters backend.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws on `root`, which has [`Figure::size`].
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// What drawing returns.
pub type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Draws `figure` as SVG or PNG bytes.
pub fn render<F: Figure>(figure: &F, format: ImageFormat) -> Result<Vec<u8>, PlotError> {
    register_font();
    let (w, h) = figure.size();
    match format {
        ImageFormat::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, (w, h)).into_drawing_area();
                draw_on(figure, &root)?;
            }
            Ok(text.into_bytes())
        }
        ImageFormat::Png => {
            let mut rgb = vec![0u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
                draw_on(figure, &root)?;
            }
            encode_png(&rgb, w, h)
        }
    }
}

/// Draws `figure` as an SVG document (for inlining in HTML).
pub fn svg<F: Figure>(figure: &F) -> Result<String, PlotError> {
    let bytes = render(figure, ImageFormat::Svg)?;
    String::from_utf8(bytes).map_err(|e| PlotError::Draw(e.to_string()))
}

fn draw_on<F: Figure, DB: DrawingBackend>(
    figure: &F,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), PlotError> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| PlotError::Draw(e.to_string());
    root.fill(&palette::BACKGROUND).map_err(err)?;
    figure.draw(root).map_err(err)?;
    root.present().map_err(err)
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, PlotError> {
    let mut out = Vec::new();
    let err = |e: png::EncodingError| PlotError::Draw(e.to_string());
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(err)?;
        writer.write_image_data(rgb).map_err(err)?;
        writer.finish().map_err(err)?;
    }
    Ok(out)
}

/// Text style in the shipped family.
pub(crate) fn text(size: u32, color: &RGBColor) -> TextStyle<'static> {
    TextStyle {
        font: (FONT, size).into_font(),
        color: color.to_backend_color(),
        pos: plotters::style::text_anchor::Pos::default(),
    }
}

/// Seconds as minutes, for time axes.
pub(crate) fn minutes(t_s: f64) -> f64 {
    t_s / 60.0
}

/// A compact label for an axis tick: at most three significant digits.
pub(crate) fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        trim(format!("{v:.1}"))
    } else if a >= 1.0 {
        trim(format!("{v:.2}"))
    } else if a >= 0.01 {
        trim(format!("{v:.3}"))
    } else {
        format!("{v:.1e}")
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A range padded by 5% on each side (and widened when empty).
pub(crate) fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let span = hi - lo;
    if span <= 0.0 {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - d, hi + d);
    }
    (lo - span * 0.05, hi + span * 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_comes_from_the_extension() {
        assert_eq!(
            ImageFormat::from_path(Path::new("a/b.SVG")),
            Ok(ImageFormat::Svg)
        );
        assert_eq!(
            ImageFormat::from_path(Path::new("t.png")),
            Ok(ImageFormat::Png)
        );
        let e = ImageFormat::from_path(Path::new("t.jpg")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot tell the picture format of t.jpg: name it .svg or .png"
        );
        assert!(ImageFormat::from_path(Path::new("noext")).is_err());
    }

    #[test]
    fn ticks_keep_three_digits() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(1024.4), "1024");
        assert_eq!(tick(12.50), "12.5");
        assert_eq!(tick(0.8), "0.8");
        assert_eq!(tick(0.985), "0.985");
        assert_eq!(tick(1.254), "1.25");
        assert_eq!(tick(0.002), "2.0e-3");
    }

    #[test]
    fn padding_widens_empty_ranges() {
        assert_eq!(padded(0.0, 10.0), (-0.5, 10.5));
        assert_eq!(padded(5.0, 5.0), (4.5, 5.5));
        assert_eq!(padded(0.0, 0.0), (-1.0, 1.0));
        assert_eq!(padded(f64::NAN, 1.0), (-0.05, 1.05));
    }
}
