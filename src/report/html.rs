//! One self-contained HTML report: inline CSS and SVG, no script, no
//! network; it reads on a laptop and a phone, and prints.
//!
//! A report is a [`Document`]: a title, an introduction and [`Section`]s of
//! [`Block`]s (paragraphs, lists, tables, figures as SVG text, folded
//! details). [`render`] turns one into HTML text; [`run_report`] builds the
//! document of `canarysim run --format html` from run results and their
//! timeline SVGs. `sweep` and `check` can build their own documents from the
//! same blocks. Text is escaped here; figures are inserted as given (they
//! come from [`crate::plot`]), with their fixed size made scalable.
//!
//! Neighbours: [`super::table`] for the comparison's cells and
//! [`super::markdown`], whose report this one follows section by section.

use std::fmt::Write;

use super::table;
use super::text::human_secs;
use crate::model::Version;
use crate::outcome::RunResult;
use crate::scenario::Scenario;

/// A whole report.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// The `<title>` and the first heading.
    pub title: String,
    /// Blocks before the first section.
    pub intro: Vec<Block>,
    /// The sections, in order.
    pub sections: Vec<Section>,
}

/// A heading and what follows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section {
    /// The heading (also the section's anchor).
    pub heading: String,
    /// Its blocks.
    pub blocks: Vec<Block>,
}

/// A table: header cells and rows of cells; columns whose cells are all
/// numbers (or `-`) are right-aligned.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Header cells.
    pub header: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<String>>,
}

/// One piece of a section.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A paragraph; `` `code` `` and `**strong**` are marked up, the rest escaped.
    Paragraph(String),
    /// Preformatted text (an aligned terminal table), escaped.
    Pre(String),
    /// A bulleted list, each item marked up like a paragraph.
    List(Vec<String>),
    /// A table.
    Table(Table),
    /// A figure: SVG text and its caption.
    Figure {
        /// The `<svg>` document.
        svg: String,
        /// What it shows.
        caption: String,
    },
    /// A folded part: a summary line, and blocks shown when opened (and
    /// always in print).
    Details {
        /// The line shown folded.
        summary: String,
        /// The folded blocks.
        blocks: Vec<Block>,
    },
}

const CSS: &str = "\
:root{color-scheme:light}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;line-height:1.5;color:#111;background:#fff;margin:0 auto;padding:1rem;max-width:68rem}
h1{font-size:1.6rem;margin:.5rem 0 1rem}
h2{font-size:1.3rem;margin:2rem 0 .5rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}
code{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:.9em;background:#f3f3f3;padding:0 .2em;border-radius:3px}
.scroll{overflow-x:auto;margin:.75rem 0}
table{border-collapse:collapse;font-size:.9rem}
th,td{border:1px solid #bbb;padding:.25rem .5rem;vertical-align:top}
th{background:#eee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
pre{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:.85rem;margin:0}
figure{margin:1rem 0}
figure svg{display:block;width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:.9rem;color:#333;margin-top:.3rem}
details{margin:.5rem 0}
summary{cursor:pointer;font-weight:600}
@media (max-width:40rem){body{padding:.5rem;font-size:.95rem}table{font-size:.8rem}}
@media print{body{max-width:none;padding:0}figure,table{break-inside:avoid}figure svg{width:auto;max-width:100%;max-height:21cm;margin:0 auto}details>*{display:block}h2{break-after:avoid}}
";

/// The HTML text of `doc`, one self-contained page.
pub fn render(doc: &Document) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(&doc.title));
    let _ = writeln!(out, "<style>\n{CSS}</style>\n</head>\n<body>");
    let _ = writeln!(out, "<h1>{}</h1>", escape(&doc.title));
    for b in &doc.intro {
        block(b, &mut out);
    }
    for s in &doc.sections {
        let _ = writeln!(
            out,
            "<section>\n<h2 id=\"{}\">{}</h2>",
            anchor(&s.heading),
            escape(&s.heading)
        );
        for b in &s.blocks {
            block(b, &mut out);
        }
        out.push_str("</section>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn block(b: &Block, out: &mut String) {
    match b {
        Block::Paragraph(t) => {
            let _ = writeln!(out, "<p>{}</p>", inline(t));
        }
        Block::Pre(t) => {
            let _ = writeln!(out, "<div class=\"scroll\"><pre>{}</pre></div>", escape(t));
        }
        Block::List(items) => {
            out.push_str("<ul>\n");
            for i in items {
                let _ = writeln!(out, "<li>{}</li>", inline(i));
            }
            out.push_str("</ul>\n");
        }
        Block::Table(t) => table_html(t, out),
        Block::Figure { svg, caption } => {
            let _ = writeln!(
                out,
                "<figure>\n{}\n<figcaption>{}</figcaption>\n</figure>",
                scalable(svg),
                inline(caption)
            );
        }
        Block::Details { summary, blocks } => {
            let _ = writeln!(out, "<details>\n<summary>{}</summary>", inline(summary));
            for b in blocks {
                block(b, out);
            }
            out.push_str("</details>\n");
        }
    }
}

fn is_number(cell: &str) -> bool {
    let c = cell.trim().trim_start_matches("> ");
    c == "-"
        || c.parse::<f64>().is_ok()
        || (c.ends_with('s') && c.chars().next().is_some_and(|ch| ch.is_ascii_digit()))
}

fn table_html(t: &Table, out: &mut String) {
    let numeric: Vec<bool> = (0..t.header.len())
        .map(|i| !t.rows.is_empty() && t.rows.iter().all(|r| r.get(i).is_none_or(|c| is_number(c))))
        .collect();
    out.push_str("<div class=\"scroll\"><table>\n<thead><tr>");
    for h in &t.header {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in &t.rows {
        out.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            if numeric.get(i).copied().unwrap_or(false) {
                let _ = write!(out, "<td class=\"n\">{}</td>", inline(c));
            } else {
                let _ = write!(out, "<td>{}</td>", inline(c));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
}

/// `s` with `&`, `<`, `>` and `"` escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped text with `` `code` `` and `**strong**` marked up.
fn inline(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", escape(part));
        } else {
            for (j, p) in part.split("**").enumerate() {
                if j % 2 == 1 {
                    let _ = write!(out, "<strong>{}</strong>", escape(p));
                } else {
                    out.push_str(&escape(p));
                }
            }
        }
    }
    out
}

/// An id for a heading: lowercase letters, digits and dashes.
fn anchor(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// The SVG without its XML declaration, with a `viewBox` from its width and
/// height so CSS can scale it to the page.
fn scalable(svg: &str) -> String {
    let body = match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    };
    if body.contains("viewBox") {
        return body.to_string();
    }
    let attr = |name: &str| -> Option<&str> {
        let head = &body[..body.find('>')?];
        let start = head.find(&format!("{name}=\""))? + name.len() + 2;
        let len = head[start..].find('"')?;
        Some(&head[start..start + len])
    };
    match (attr("width"), attr("height")) {
        (Some(w), Some(h)) => body.replacen("<svg", &format!("<svg viewBox=\"0 0 {w} {h}\""), 1),
        _ => body.to_string(),
    }
}

/// The report of `canarysim run --format html`: the comparison table, then
/// each policy's course with its timeline (`figures`: policy name and SVG)
/// and every AnalysisRun's measurements.
pub fn run_report(
    sc: &Scenario,
    seed: u64,
    runs: &[RunResult],
    figures: &[(String, String)],
) -> Document {
    let bad = match &sc.profile(Version::Canary).fault {
        Some(f) => format!("a bad release ({f})"),
        None => "a good release".to_string(),
    };
    let mut intro = Vec::new();
    if !sc.description.is_empty() {
        intro.push(Block::Paragraph(sc.description.clone()));
    }
    intro.push(Block::Paragraph(format!(
        "The canary is {bad}. Generated by `canarysim run {} --format html --seed {seed}`; \
         times are from the start of the rollout.",
        sc.file
    )));
    intro.push(Block::Table(Table {
        header: table::HEADERS.iter().map(|h| h.to_string()).collect(),
        rows: runs.iter().map(|r| table::row(r).to_vec()).collect(),
    }));
    let mut sections = Vec::new();
    for r in runs {
        let mut blocks = Vec::new();
        if let Some(p) = sc.policy(&r.policy)
            && !p.description.is_empty()
        {
            blocks.push(Block::Paragraph(p.description.clone()));
        }
        blocks.push(Block::List(super::markdown::story(r)));
        if let Some((_, svg)) = figures.iter().find(|(p, _)| *p == r.policy) {
            blocks.push(Block::Figure {
                svg: svg.clone(),
                caption: format!(
                    "The timeline of `{}`, seed {}: working set of each pod against its limit \
                     (stable dark blue, canary orange, OOM kills as crosses), the new build's \
                     share of traffic, and every measurement by phase against its threshold.",
                    r.policy, r.seed
                ),
            });
        }
        for ar in &r.analysis_runs {
            blocks.push(Block::Details {
                summary: format!(
                    "AnalysisRun `{}`: {}, {} measurements",
                    ar.name,
                    ar.phase.as_str(),
                    ar.measurements.len()
                ),
                blocks: vec![Block::Table(Table {
                    header: super::markdown::MEASUREMENT_HEADERS
                        .iter()
                        .map(|h| h.to_string())
                        .collect(),
                    rows: super::markdown::measurement_rows(ar),
                })],
            });
        }
        let events = super::markdown::reported_events(r);
        blocks.push(Block::Details {
            summary: format!("Timeline ({} events)", events.len()),
            blocks: vec![Block::Table(Table {
                header: vec!["t".into(), "event".into()],
                rows: events
                    .into_iter()
                    .map(|(t, d)| vec![human_secs(t), d])
                    .collect(),
            })],
        });
        sections.push(Section {
            heading: r.policy.clone(),
            blocks,
        });
    }
    Document {
        title: format!("{}: policy comparison, seed {seed}", sc.name),
        intro,
        sections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_code_marked_up() {
        assert_eq!(
            inline("a < b & `x<1` **c**"),
            "a &lt; b &amp; <code>x&lt;1</code> <strong>c</strong>"
        );
        assert_eq!(anchor("memory-trend (v2)"), "memory-trend-v2");
    }

    #[test]
    fn svgs_get_a_viewbox_and_lose_their_declaration() {
        let svg = "<?xml version=\"1.0\"?>\n<svg width=\"10\" height=\"20\" xmlns=\"http://www.w3.org/2000/svg\"></svg>";
        assert_eq!(
            scalable(svg),
            "<svg viewBox=\"0 0 10 20\" width=\"10\" height=\"20\" xmlns=\"http://www.w3.org/2000/svg\"></svg>"
        );
    }

    #[test]
    fn a_document_renders_sections_tables_and_figures() {
        let doc = Document {
            title: "T <1>".into(),
            intro: vec![Block::Paragraph("hello".into())],
            sections: vec![Section {
                heading: "One".into(),
                blocks: vec![
                    Block::Table(Table {
                        header: vec!["name".into(), "n".into()],
                        rows: vec![vec!["a".into(), "3".into()], vec!["b".into(), "-".into()]],
                    }),
                    Block::Figure {
                        svg: "<svg width=\"1\" height=\"1\"></svg>".into(),
                        caption: "cap".into(),
                    },
                ],
            }],
        };
        let html = render(&doc);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>T &lt;1&gt;</title>"));
        assert!(html.contains("<h2 id=\"one\">One</h2>"));
        assert!(html.contains("<td>a</td><td class=\"n\">3</td>"));
        assert!(html.contains("<svg viewBox=\"0 0 1 1\""));
        assert!(!html.contains("<script"));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }
}
