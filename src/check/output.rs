//! The reports of `canarysim check`: text for people, JUnit XML for CI
//! test tabs, GitHub workflow commands for annotations on the pull
//! request's lines, and JSON for tools.
//!
//! In: the [`Suite`]s of a check. Out: strings (the binary writes them;
//! `--junit FILE` atomically). Every failing bound names its `file:line`.
//! Neighbours: [`super`] makes the suites, [`super::measure`] the figures.

use serde_json::{Value, json};

use super::measure::{Judged, Unit};
use super::{Outcome, Suite};

/// Seconds as `7m12s` (or `45.0s` under a minute).
pub fn duration(s: f64) -> String {
    if s < 60.0 {
        return format!("{s:.1}s");
    }
    let total = s.round() as u64;
    let (h, m, sec) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}h{m:02}m{sec:02}s")
    } else {
        format!("{m}m{sec:02}s")
    }
}

/// The figure of a judged bound: `1.000 (50/50) [0.929, 1.000]`, `7m12s`, `0.40`.
pub fn figure(j: &Judged) -> String {
    let Some(v) = j.figure.value else {
        return "n/a".to_string();
    };
    match j.bound.measure.unit() {
        Unit::Rate => {
            let mut s = format!("{v:.3}");
            if let (Some(k), Some(n)) = (j.figure.k, j.figure.n) {
                s.push_str(&format!(" ({k}/{n})"));
            }
            if let Some([lo, hi]) = j.figure.interval {
                s.push_str(&format!(" [{lo:.3}, {hi:.3}]"));
            }
            s
        }
        Unit::Seconds => duration(v),
        Unit::Number if v.fract() == 0.0 => format!("{v:.0}"),
        Unit::Number => format!("{v:.2}"),
    }
}

/// One bound, one line: `caught 1.000 (50/50) [0.929, 1.000] >= 0.95`.
fn bound_line(j: &Judged) -> String {
    format!(
        "{} {} {}",
        j.bound.measure.key(),
        figure(j),
        j.bound.written
    )
}

/// Why a bound failed, in one line.
pub fn failure(j: &Judged) -> String {
    let mut s = format!(
        "{} is {}, not {}",
        j.bound.measure.key(),
        figure(j),
        j.bound.written
    );
    if j.pass {
        s = format!(
            "{} is {}, inside {}",
            j.bound.measure.key(),
            figure(j),
            j.bound.written
        );
    }
    if let Some(n) = &j.note {
        s.push_str(&format!(": {n}"));
    }
    if let Some(m) = &j.baseline
        && m.significant
    {
        s.push_str(&format!(
            "; it moved the wrong way from the baseline's {:.3} ({}/{}): Fisher's exact test p = {:.4} < {}",
            m.k as f64 / m.n.max(1) as f64,
            m.k,
            m.n,
            m.p,
            super::baseline::ALPHA
        ));
    }
    s
}

fn failing(o: &Outcome) -> impl Iterator<Item = &Judged> {
    o.judged.iter().filter(|j| !j.ok())
}

fn where_(o: &Outcome) -> String {
    format!("{}:{}", o.expectation.at.file, o.expectation.at.line)
}

/// The text report: one line per expectation (PASS/FAIL, where, what,
/// each figure against its bound), the reasons under a failure, then
/// `N passed, N failed`.
pub fn text(suites: &[Suite]) -> String {
    let mut out = String::new();
    let (mut passed, mut failed) = (0, 0);
    for s in suites {
        for o in &s.outcomes {
            let ok = o.pass();
            if ok {
                passed += 1;
            } else {
                failed += 1;
            }
            let figures: Vec<String> = o.judged.iter().map(bound_line).collect();
            let runs = if o.runs > 0 {
                format!(" ({} runs)", o.runs)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "{} {}  {}{runs}  {}\n",
                if ok { "PASS" } else { "FAIL" },
                where_(o),
                o.expectation.classname(),
                figures.join("; ")
            ));
            for j in &o.judged {
                if !j.ok() {
                    out.push_str(&format!("    {}: {}\n", j.bound.at, failure(j)));
                } else if let Some(m) = &j.baseline {
                    out.push_str(&format!(
                        "    {}: {} was {:.3} ({}/{}) in the baseline (p = {:.4})\n",
                        j.bound.at,
                        j.bound.measure.key(),
                        m.k as f64 / m.n.max(1) as f64,
                        m.k,
                        m.n,
                        m.p
                    ));
                }
            }
            if !ok {
                for f in &o.findings {
                    for line in f.lines() {
                        out.push_str(&format!("    {line}\n"));
                    }
                }
            }
        }
    }
    out.push_str(&format!("{passed} passed, {failed} failed\n"));
    out
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows only these control characters, and neither
            // U+FFFE nor U+FFFF (its `Char` production).
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one `testsuite` per check file, one `testcase` per
/// expectation (`classname` scenario/policy), the figures in the failure.
pub fn junit(suites: &[Suite]) -> String {
    let total: usize = suites.iter().map(|s| s.outcomes.len()).sum();
    let failures: usize = suites.iter().map(|s| s.counts().1).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"canarysim check\" tests=\"{total}\" failures=\"{failures}\" errors=\"0\">\n"
    ));
    for s in suites {
        let (_, failed) = s.counts();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\">\n",
            xml_escape(&s.file),
            s.outcomes.len()
        ));
        out.push_str(&format!(
            "    <properties>\n      <property name=\"runs\" value=\"{}\"/>\n      <property name=\"seed\" value=\"{}\"/>\n    </properties>\n",
            s.runs, s.seed
        ));
        for o in &s.outcomes {
            let e = &o.expectation;
            let name = format!("line {}: {}", e.at.line, e.title());
            out.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\"",
                xml_escape(&name),
                xml_escape(&e.classname()),
                xml_escape(&e.at.file),
                e.at.line
            ));
            if o.pass() {
                let figures: Vec<String> = o.judged.iter().map(bound_line).collect();
                out.push_str(&format!(
                    ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                    xml_escape(&figures.join("\n"))
                ));
                continue;
            }
            let reasons: Vec<String> = failing(o).map(failure).collect();
            let mut detail: Vec<String> = o
                .judged
                .iter()
                .map(|j| {
                    format!(
                        "{}: {}{}",
                        j.bound.at,
                        bound_line(j),
                        if j.ok() { "" } else { "  FAIL" }
                    )
                })
                .collect();
            detail.extend(o.findings.iter().cloned());
            out.push_str(&format!(
                ">\n      <failure message=\"{}\" type=\"expectation\">{}</failure>\n    </testcase>\n",
                xml_escape(&reasons.join("; ")),
                xml_escape(&detail.join("\n"))
            ));
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Escapes a workflow command's message.
fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value.
fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands: an `::error` at the line of each
/// failing bound (so the pull request shows it on that line), after the
/// text report.
pub fn github(suites: &[Suite]) -> String {
    let mut out = text(suites);
    for s in suites {
        for o in &s.outcomes {
            for j in failing(o) {
                out.push_str(&format!(
                    "::error file={},line={},col={},title={}::{}\n",
                    gh_property(&j.bound.at.file),
                    j.bound.at.line,
                    j.bound.at.column,
                    gh_property(&format!("canarysim check: {}", o.expectation.classname())),
                    gh_data(&failure(j))
                ));
            }
        }
    }
    out
}

fn judged_json(j: &Judged) -> Value {
    json!({
        "measure": j.bound.measure.key(),
        "bound": j.bound.written,
        "line": j.bound.at.line,
        "figure": j.figure,
        "pass": j.ok(),
        "note": j.note,
        "baseline": j.baseline,
    })
}

/// The JSON report: `{ "suites": [ { "file", "runs", "seed",
/// "expectations": [ { "line", "classname", "name", "pass", "bounds": […] } ] } ],
/// "passed", "failed" }`.
pub fn json(suites: &[Suite]) -> String {
    let (mut passed, mut failed) = (0, 0);
    let suites_json: Vec<Value> = suites
        .iter()
        .map(|s| {
            let (p, f) = s.counts();
            passed += p;
            failed += f;
            let expectations: Vec<Value> = s
                .outcomes
                .iter()
                .map(|o| {
                    let e = &o.expectation;
                    let subject = match &e.subject {
                        super::Subject::Run {
                            scenario,
                            policy,
                            set,
                        } => json!({
                            "scenario": scenario,
                            "policy": policy,
                            "set": set.iter().map(|o| o.text()).collect::<Vec<_>>(),
                        }),
                        super::Subject::Lint { paths } => json!({ "lint": paths }),
                    };
                    json!({
                        "line": e.at.line,
                        "classname": e.classname(),
                        "name": e.title(),
                        "subject": subject,
                        "confidence": e.confidence,
                        "runs": o.runs,
                        "pass": o.pass(),
                        "bounds": o.judged.iter().map(judged_json).collect::<Vec<_>>(),
                        "findings": o.findings,
                    })
                })
                .collect();
            json!({
                "file": s.file,
                "runs": s.runs,
                "seed": s.seed,
                "passed": p,
                "failed": f,
                "expectations": expectations,
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&json!({
        "suites": suites_json,
        "passed": passed,
        "failed": failed,
    }))
    .expect("invariant: the report serialises");
    s.push('\n');
    s
}

/// One self-contained HTML page: per check file, a table of its
/// expectations (result, where, what, the figures against their bounds)
/// and the reasons of each failure.
pub fn html(suites: &[Suite]) -> String {
    use crate::report::html::{Block, Document, Section, Table};
    let (mut passed, mut failed) = (0, 0);
    let sections = suites
        .iter()
        .map(|s| {
            let mut rows = Vec::new();
            let mut reasons = Vec::new();
            for o in &s.outcomes {
                let ok = o.pass();
                if ok {
                    passed += 1;
                } else {
                    failed += 1;
                }
                rows.push(vec![
                    if ok { "PASS" } else { "FAIL" }.to_string(),
                    where_(o),
                    o.expectation.classname(),
                    o.runs.to_string(),
                    o.judged
                        .iter()
                        .map(bound_line)
                        .collect::<Vec<_>>()
                        .join("; "),
                ]);
                for j in o.judged.iter().filter(|j| !j.ok()) {
                    reasons.push(format!("{}: {}", j.bound.at, failure(j)));
                }
            }
            let mut blocks = vec![Block::Table(Table {
                header: ["result", "where", "expectation", "runs", "figures"]
                    .iter()
                    .map(|h| h.to_string())
                    .collect(),
                rows,
            })];
            if !reasons.is_empty() {
                blocks.push(Block::List(reasons));
            }
            Section {
                heading: format!("{} (seeds {}, {} per expectation)", s.file, s.seed, s.runs),
                blocks,
            }
        })
        .collect();
    crate::report::html::render(&Document {
        title: format!("canarysim check: {passed} passed, {failed} failed"),
        intro: Vec::new(),
        sections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration(45.04), "45.0s");
        assert_eq!(duration(432.0), "7m12s");
        assert_eq!(duration(3725.0), "1h02m05s");
    }

    #[test]
    fn escaping_keeps_xml_and_workflow_commands_well_formed() {
        assert_eq!(xml_escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(xml_escape("\u{1}"), "\\u{1}");
        // Not XML 1.0 characters at all; U+FFFD is.
        assert_eq!(
            xml_escape("a\u{ffff}b\u{fffe}\u{fffd}"),
            "a\\u{ffff}b\\u{fffe}\u{fffd}"
        );
        assert_eq!(gh_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(gh_property("a:b,c"), "a%3Ab%2Cc");
    }
}
