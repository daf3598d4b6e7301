//! Pointing at a selector or a matcher inside a query as it stands in the
//! YAML file, so a finding names the line of `pod=~"…"`, not only the line
//! where the query begins.
//!
//! The query's value starts at a known byte offset; a block scalar (`|`)
//! keeps its lines as written (indented), so a name or matcher written on
//! one line is found verbatim in the file between that offset and the end of
//! the value's last line.

use crate::diag::Location;
use crate::manifest::{SourceFile, TextSite};

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Byte range of the value in the file: from its first character to the end
/// of the line where its last line stands.
fn region(text: &str, site: &TextSite, raw: &str) -> (usize, usize) {
    let start = site.offset.min(text.len());
    let lines = raw.trim_end_matches('\n').lines().count().max(1);
    let mut end = start;
    for _ in 0..lines {
        match text[end..].find('\n') {
            Some(i) => end += i + 1,
            None => {
                end = text.len();
                break;
            }
        }
    }
    (start, end)
}

/// The `nth` whole-word occurrence of `word` in `hay`, as a byte offset.
fn find_word(hay: &str, word: &str, nth: usize) -> Option<usize> {
    let mut seen = 0;
    let mut from = 0;
    while let Some(i) = hay[from..].find(word) {
        let at = from + i;
        let before_ok = hay[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !is_name_char(c));
        let after_ok = hay[at + word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !is_name_char(c));
        if before_ok && after_ok {
            if seen == nth {
                return Some(at);
            }
            seen += 1;
        }
        from = at + word.len();
    }
    None
}

/// The first matcher on `label` (`label=`, `label =~`, …) in `hay`.
fn find_matcher(hay: &str, label: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = find_word(&hay[from..], label, 0) {
        let abs = from + at;
        let rest = hay[abs + label.len()..].trim_start();
        if rest.starts_with('=') || rest.starts_with("!=") || rest.starts_with("!~") {
            return Some(abs);
        }
        from = abs + label.len();
    }
    None
}

/// Where the `nth` selector named `name` stands (and its matcher on `label`,
/// when given), falling back to where the query begins.
pub(super) fn selector(
    file: Option<&SourceFile>,
    site: &TextSite,
    raw: &str,
    name: Option<&str>,
    nth: usize,
    label: Option<&str>,
) -> Location {
    let Some(file) = file else {
        return site.at.clone();
    };
    let (start, end) = region(&file.text, site, raw);
    let hay = &file.text[start..end];
    let mut pos = 0;
    if let Some(name) = name {
        match find_word(hay, name, nth) {
            Some(p) => pos = p,
            None => return site.at.clone(),
        }
    }
    if let Some(label) = label
        && let Some(p) = find_matcher(&hay[pos..], label)
    {
        pos += p;
    }
    Location::at_offset(&file.label, &file.text, start + pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "spec:\n  query: |\n    max(mem{\n      pod=~\"{{args.x}}.*\"})\n    / max(lim{pod=~\"{{args.x}}.*\"})\nnext: 1\n";

    fn site() -> (SourceFile, TextSite) {
        let file = SourceFile {
            label: "t.yaml".into(),
            text: YAML.into(),
        };
        let offset = YAML.find("max(mem").unwrap();
        let at = Location::at_offset("t.yaml", YAML, offset);
        (file, TextSite { at, offset })
    }

    const RAW: &str = "max(mem{\n  pod=~\"{{args.x}}.*\"})\n/ max(lim{pod=~\"{{args.x}}.*\"})\n";

    #[test]
    fn a_matcher_is_found_on_its_own_line_after_its_selector() {
        let (file, site) = site();
        let l = selector(Some(&file), &site, RAW, Some("mem"), 0, Some("pod"));
        assert_eq!((l.line, l.column), (4, 7));
        let l = selector(Some(&file), &site, RAW, Some("lim"), 0, Some("pod"));
        assert_eq!((l.line, l.column), (5, 15));
    }

    #[test]
    fn a_name_that_is_only_part_of_a_word_is_not_taken() {
        assert_eq!(find_word("lim_x lim", "lim", 0), Some(6));
        assert_eq!(find_word("up{} up", "up", 1), Some(5));
    }

    #[test]
    fn what_is_not_found_falls_back_to_the_query() {
        let (file, site) = site();
        let l = selector(Some(&file), &site, RAW, Some("absent"), 0, None);
        assert_eq!(l, site.at);
        // The search stops at the end of the value: `next` is outside it.
        let l = selector(Some(&file), &site, RAW, Some("next"), 0, None);
        assert_eq!(l, site.at);
    }
}
