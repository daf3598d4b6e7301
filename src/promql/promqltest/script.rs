//! Parses a promqltest file into commands: `load`, `clear`, `eval instant`,
//! `eval range`, with their `expect` lines and expected results.
//!
//! In: the file text. Out: a list of [`Command`]s, or an error with a line
//! number. Line rules follow Prometheus's runner: lines are trimmed, a line
//! starting with `#` counts as blank (so a comment ends a block), and a bare
//! number as an expected line means a scalar and ends the block. The
//! deprecated `eval_fail`/`eval_ordered` forms and `expected_fail_message`
//! are accepted too.

use regex::Regex;

use super::notation::{SeqValue, parse_duration, parse_number, parse_series, unquote};
use crate::series::Labels;

/// One command of a test file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    /// Remove all series.
    Clear,
    /// Add series.
    Load(Load),
    /// Evaluate a query and check its result.
    Eval(Box<Eval>),
}

/// A `load <step>` block.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Load {
    /// The interval between values, ms.
    pub step_ms: i64,
    /// `load_with_nhcb`: the `_bucket` series also define native histograms.
    pub with_nhcb: bool,
    /// The series, in file order (a repeated label set replaces the earlier).
    pub series: Vec<(Labels, Vec<SeqValue>)>,
}

/// When an eval runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvalTime {
    /// `eval instant at T`.
    Instant(i64),
    /// `eval range from A to B step S`.
    Range { start: i64, end: i64, step: i64 },
}

/// What an eval expects.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expected {
    /// A scalar (a bare number line).
    Scalar(f64),
    /// A string (`expect string "…"`).
    String(String),
    /// Series with their values (possibly none: an empty result).
    Series(Vec<(Labels, Vec<SeqValue>)>),
}

/// An `eval` block.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Eval {
    /// 1-based line of the `eval` line.
    pub line: usize,
    /// The query.
    pub expr: String,
    /// Instant or range, with times.
    pub time: EvalTime,
    /// The query must fail.
    pub fail: bool,
    /// The series must come in the listed order.
    pub ordered: bool,
    /// An instant query that returns a range vector: its points run from
    /// `start` every `step` (`expect range vector from … to … step …`).
    pub range_vector: Option<(i64, i64, i64)>,
    /// The expected result.
    pub expected: Expected,
    /// An expected value is a native histogram.
    pub expects_histogram: bool,
}

/// Compiled line patterns of the runner.
struct Patterns {
    load: Regex,
    instant: Regex,
    range: Regex,
    expect: Regex,
    range_vector: Regex,
}

impl Patterns {
    fn new() -> Patterns {
        let re = |s: &str| Regex::new(s).expect("invariant: the runner's patterns are valid");
        Patterns {
            load: re(r"^load(?:_(with_nhcb))?\s+(.+?)$"),
            instant: re(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$"),
            range: re(
                r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
            ),
            expect: re(
                r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$",
            ),
            range_vector: re(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$"),
        }
    }
}

/// The most values all the `load` blocks of one file may hold together
/// (Prometheus's own files load well under a million).
pub const MAX_FILE_VALUES: usize = 10_000_000;

/// A parse failure inside a block: the index of the bad line, the byte
/// offset of the bad part in the trimmed line, and what is wrong.
struct Bad {
    line: usize,
    offset: usize,
    message: String,
}

impl Bad {
    fn at(line: usize) -> impl Fn(String) -> Bad {
        move |message| Bad {
            line,
            offset: 0,
            message,
        }
    }
}

/// Parses a whole file. Errors name the bad line and column:
/// `line 7, column 5: bad value "x"`.
pub(crate) fn parse(text: &str) -> Result<Vec<Command>, String> {
    let pats = Patterns::new();
    let raw: Vec<&str> = text.split('\n').collect();
    let locate = |bad: Bad| {
        let line = raw.get(bad.line).copied().unwrap_or("");
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        let offset = bad.offset.min(trimmed.len());
        let column = line[..indent].chars().count()
            + trimmed.get(..offset).map_or(0, |p| p.chars().count())
            + 1;
        format!("line {}, column {column}: {}", bad.line + 1, bad.message)
    };
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') { "" } else { l }
        })
        .collect();
    let mut cmds = Vec::new();
    let mut loaded = 0usize;
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let end = block_end(&lines, i);
        let at = |msg: String| locate(Bad::at(i)(msg));
        if word == "clear" {
            // `clear` is a block of its own line only.
            cmds.push(Command::Clear);
            i += 1;
            continue;
        } else if word.starts_with("load") {
            let load = parse_load(&pats, &lines[i..end], i).map_err(locate)?;
            loaded += load.series.iter().map(|(_, v)| v.len()).sum::<usize>();
            if loaded > MAX_FILE_VALUES {
                return Err(at(format!(
                    "the file loads more than {MAX_FILE_VALUES} values"
                )));
            }
            cmds.push(Command::Load(load));
        } else if word.starts_with("eval") {
            let eval = parse_eval(&pats, &lines[i..end], i).map_err(locate)?;
            cmds.push(Command::Eval(Box::new(eval)));
        } else {
            return Err(at(format!("invalid command {l:?}")));
        }
        i = end;
    }
    Ok(cmds)
}

/// The index after the last line of the block starting at `i`.
fn block_end(lines: &[&str], i: usize) -> usize {
    let mut j = i + 1;
    while j < lines.len() && !lines[j].is_empty() {
        j += 1;
    }
    j
}

/// A `load` block whose first line is line `first` of the file (0-based).
fn parse_load(pats: &Patterns, block: &[&str], first: usize) -> Result<Load, Bad> {
    let caps = pats.load.captures(block[0]).ok_or_else(|| {
        Bad::at(first)("invalid load command. (load[_with_nhcb] <step:duration>)".to_string())
    })?;
    let step_ms = parse_duration(&caps[2])
        .map_err(|e| Bad::at(first)(format!("invalid step definition: {e}")))?;
    let mut series: Vec<(Labels, Vec<SeqValue>)> = Vec::new();
    // Where each label set is in `series`, so a block of many series loads
    // in linear time.
    let mut position: std::collections::HashMap<Labels, usize> = std::collections::HashMap::new();
    for (k, line) in block.iter().enumerate().skip(1) {
        let (head, _) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        if head.ends_with("@st") {
            // Start timestamps (start_timestamps.test) are not modelled.
            continue;
        }
        let (labels, values) = parse_series(line).map_err(|(offset, message)| Bad {
            line: first + k,
            offset,
            message,
        })?;
        match position.get(&labels) {
            Some(&at) => series[at].1 = values,
            None => {
                position.insert(labels.clone(), series.len());
                series.push((labels, values));
            }
        }
    }
    Ok(Load {
        step_ms,
        with_nhcb: caps.get(1).is_some(),
        series,
    })
}

/// An `eval` block whose first line is line `first` of the file (0-based).
fn parse_eval(pats: &Patterns, block: &[&str], first: usize) -> Result<Eval, Bad> {
    let mut eval = parse_eval_head(pats, block[0], first + 1).map_err(Bad::at(first))?;
    let mut series = Vec::new();
    for (k, def) in block.iter().enumerate().skip(1) {
        let bad = |(offset, message): (usize, String)| Bad {
            line: first + k,
            offset,
            message,
        };
        match parse_expected(pats, &mut eval, def).map_err(bad)? {
            Expect::Series(labels, values) => series.push((labels, values)),
            Expect::Other => {}
            Expect::End => break,
        }
    }
    if let Expected::Series(s) = &mut eval.expected {
        *s = series;
    }
    Ok(eval)
}

/// The `eval …` line itself.
fn parse_eval_head(pats: &Patterns, head: &str, line: usize) -> Result<Eval, String> {
    let (modifier, expr, time) = if let Some(c) = pats.instant.captures(head) {
        let at = c.get(2).map_or("", |m| m.as_str());
        let t = parse_duration(at).map_err(|e| format!("invalid timestamp definition: {e}"))?;
        (c.get(1), c[3].to_string(), EvalTime::Instant(t))
    } else if let Some(c) = pats.range.captures(head) {
        let start = parse_duration(&c[2]).map_err(|e| format!("invalid start: {e}"))?;
        let end = parse_duration(&c[3]).map_err(|e| format!("invalid end: {e}"))?;
        let step = parse_duration(&c[4]).map_err(|e| format!("invalid step: {e}"))?;
        if end < start {
            return Err("end timestamp is before start timestamp".to_string());
        }
        (
            c.get(1),
            c[5].to_string(),
            EvalTime::Range { start, end, step },
        )
    } else {
        return Err(format!("invalid evaluation command {head:?}"));
    };
    let modifier = modifier.map_or("", |m| m.as_str());
    Ok(Eval {
        line,
        expr,
        time,
        fail: modifier == "fail",
        ordered: modifier == "ordered",
        range_vector: None,
        expected: Expected::Series(Vec::new()),
        expects_histogram: false,
    })
}

/// What one line below an `eval` line says.
enum Expect {
    /// An expected series.
    Series(Labels, Vec<SeqValue>),
    /// A setting of the eval (`expect fail`, a scalar, a string, …).
    Other,
    /// The end of the expectations.
    End,
}

/// Reads one line below an `eval` line into `eval`; on failure, the byte
/// offset of the bad part and what is wrong.
fn parse_expected(pats: &Patterns, eval: &mut Eval, def: &str) -> Result<Expect, (usize, String)> {
    let whole = |e: String| (0, e);
    if eval.fail
        && (def.starts_with("expected_fail_message") || def.starts_with("expected_fail_regexp"))
    {
        return Ok(Expect::End);
    }
    if let Some(c) = pats.range_vector.captures(def) {
        let p = |s: &str| parse_duration(s).map_err(|e| format!("invalid range vector: {e}"));
        eval.range_vector = Some((
            p(&c[1]).map_err(whole)?,
            p(&c[2]).map_err(whole)?,
            p(&c[3]).map_err(whole)?,
        ));
        return Ok(Expect::Other);
    }
    if let Some(rest) = def.strip_prefix("expect string") {
        let at = def.len() - rest.trim_start().len();
        eval.expected = Expected::String(unquote(rest.trim_start()).map_err(|e| (at, e))?);
        return Ok(Expect::Other);
    }
    if def.split(' ').next() == Some("expect") {
        let c = pats
            .expect
            .captures(def)
            .ok_or_else(|| whole(format!("invalid expect statement {def:?}")))?;
        match &c[1] {
            "fail" => eval.fail = true,
            "ordered" => eval.ordered = true,
            // Warnings and info annotations are not modelled.
            _ => {}
        }
        return Ok(Expect::Other);
    }
    if let Some(v) = parse_number(def) {
        eval.expected = Expected::Scalar(v);
        return Ok(Expect::End);
    }
    let (labels, values) = parse_series(def)?;
    if values.len() > 1 && matches!(eval.time, EvalTime::Instant(_)) && eval.range_vector.is_none()
    {
        return Err(whole(
            "expecting multiple values in instant evaluation not allowed".to_string(),
        ));
    }
    eval.expects_histogram |= values.contains(&SeqValue::Histogram);
    Ok(Expect::Series(labels, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_end_at_blank_or_comment_lines() {
        let text =
            "load 5m\n  a{x=\"1\"} 1 2\n# comment\n  b 1\n\neval instant at 5m a\n  a{x=\"1\"} 2\n";
        let err = parse(text).unwrap_err();
        // `b 1` after the comment starts a new block, which is not a command.
        assert!(err.contains("line 4"), "{err}");
        let ok =
            parse("load 5m\n  a{x=\"1\"} 1 2\n\neval instant at 5m a\n  a{x=\"1\"} 2\n").unwrap();
        assert_eq!(ok.len(), 2);
        let Command::Eval(e) = &ok[1] else {
            panic!("not an eval")
        };
        assert_eq!(e.time, EvalTime::Instant(300_000));
        assert_eq!(
            e.expected,
            Expected::Series(vec![(
                Labels::with_name("a", [("x", "1")]),
                vec![SeqValue::Float(2.0)]
            )])
        );
    }

    #[test]
    fn eval_forms_and_expectations_are_read() {
        let cmds = parse(
            "eval_fail instant at 0 foo\n\neval range from 0 to 10m step 5m x\n  expect fail\n\neval instant at 1m 1\n  1\n\neval_ordered instant at 1m sort(x)\n  expect warn\n  x 1\n\neval instant at 0 \"a\"\n  expect string \"a\"\n",
        )
        .unwrap();
        let evals: Vec<&Eval> = cmds
            .iter()
            .filter_map(|c| match c {
                Command::Eval(e) => Some(e.as_ref()),
                _ => None,
            })
            .collect();
        assert!(evals[0].fail);
        assert!(evals[1].fail);
        assert_eq!(
            evals[1].time,
            EvalTime::Range {
                start: 0,
                end: 600_000,
                step: 300_000
            }
        );
        assert_eq!(evals[2].expected, Expected::Scalar(1.0));
        assert!(evals[3].ordered);
        assert_eq!(evals[4].expected, Expected::String("a".to_string()));
    }
}
