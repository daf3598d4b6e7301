//! Manifests from standard input: `kustomize build … | canarysim check
//! checks.toml --manifests memory-trend=-` and `… | canarysim lint -`.
//!
//! In: the stream's text, read by the binary. Out: a [`SourceFile`]
//! labelled [`STDIN_LABEL`] for a policy's manifests (the scenario's
//! `-` manifest path, `crate::scenario::load_file_with_stdin`), a [`Files`]
//! in which the path [`STDIN_LABEL`] is that stream (for lint), and
//! [`in_stream`], which adds the document number to a diagnostic that
//! points into the stream, so an error reads `<stdin>:14:7: … (document 2
//! of standard input)`. Neighbours: `crate::manifest` parses the stream as
//! it parses a file; [`super`] and `crate::lint` read through these.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::manifest::SourceFile;
use crate::vfs::{FileKind, Files};

/// The name standard input goes by in messages (and the path lint reads it at).
pub const STDIN_LABEL: &str = "<stdin>";

/// The stream as a manifest file.
pub fn source(text: impl Into<String>) -> SourceFile {
    SourceFile {
        label: STDIN_LABEL.to_string(),
        text: text.into(),
    }
}

/// `inner`, with the file [`STDIN_LABEL`] holding standard input.
pub struct WithStdin<'f> {
    inner: &'f dyn Files,
    text: String,
}

impl<'f> WithStdin<'f> {
    /// `inner` and the stream.
    pub fn new(inner: &'f dyn Files, text: impl Into<String>) -> WithStdin<'f> {
        WithStdin {
            inner,
            text: text.into(),
        }
    }

    fn is_stdin(path: &Path) -> bool {
        path == Path::new(STDIN_LABEL)
    }
}

impl Files for WithStdin<'_> {
    fn kind(&self, path: &Path) -> io::Result<FileKind> {
        if Self::is_stdin(path) {
            return Ok(FileKind::File);
        }
        self.inner.kind(path)
    }

    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        if Self::is_stdin(path) {
            return Ok(self.text.clone());
        }
        self.inner.read_to_string(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        self.inner.list_dir(path)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        if Self::is_stdin(path) {
            return Ok(PathBuf::from(STDIN_LABEL));
        }
        self.inner.canonicalize(path)
    }
}

/// Whether a line separates YAML documents (`---`, maybe with a comment).
fn is_separator(line: &str) -> bool {
    line.strip_prefix("---").is_some_and(|rest| {
        let rest = rest.trim();
        rest.is_empty() || rest.starts_with('#')
    })
}

/// The 1-based document of a multi-document stream that line `line` (from
/// 1) belongs to. A `---` before any content opens the first document.
pub fn document_of_line(text: &str, line: usize) -> usize {
    let mut doc = 1;
    let mut content = false;
    for (i, l) in text.lines().enumerate() {
        if i + 1 >= line {
            break;
        }
        if is_separator(l) {
            if content {
                doc += 1;
            }
            content = true;
        } else if !l.trim().is_empty() && !l.trim_start().starts_with('#') {
            content = true;
        }
    }
    doc
}

/// `d`, with the document of the stream it points into named in its message
/// (unchanged when it points elsewhere).
pub fn in_stream(mut d: Diagnostic, text: &str) -> Diagnostic {
    if d.location.file == STDIN_LABEL {
        let doc = document_of_line(text, d.location.line);
        d.message = format!("{} (document {doc} of standard input)", d.message);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Location;
    use crate::vfs::MemFiles;

    const STREAM: &str =
        "---\n# the templates\nkind: A\n---\nkind: B\nspec: 1\n--- # third\nkind: C\n";

    #[test]
    fn lines_map_to_their_document() {
        assert_eq!(document_of_line(STREAM, 1), 1);
        assert_eq!(document_of_line(STREAM, 3), 1);
        assert_eq!(document_of_line(STREAM, 5), 2);
        assert_eq!(document_of_line(STREAM, 6), 2);
        assert_eq!(document_of_line(STREAM, 8), 3);
        assert_eq!(document_of_line("kind: A\n---\nkind: B\n", 3), 2);
        assert_eq!(document_of_line("a: 1\n", 1), 1);
    }

    #[test]
    fn diagnostics_in_the_stream_name_their_document() {
        let at = |file: &str, line| Location {
            file: file.into(),
            line,
            column: 1,
        };
        let d = in_stream(Diagnostic::new(at(STDIN_LABEL, 6), "bad", ""), STREAM);
        assert_eq!(d.message, "bad (document 2 of standard input)");
        let d = in_stream(Diagnostic::new(at("x.yaml", 6), "bad", ""), STREAM);
        assert_eq!(d.message, "bad");
    }

    #[test]
    fn the_stream_is_a_file_beside_the_others() {
        let mem = MemFiles::new().with("a/x.yaml", "x");
        let f = WithStdin::new(&mem, "s");
        assert!(f.is_file(Path::new(STDIN_LABEL)));
        assert_eq!(f.read_to_string(Path::new(STDIN_LABEL)).unwrap(), "s");
        assert_eq!(f.read_to_string(Path::new("a/x.yaml")).unwrap(), "x");
        assert!(f.is_dir(Path::new("a")));
    }
}
