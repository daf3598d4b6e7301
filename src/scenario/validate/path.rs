//! Where a validation failure is: paths into the TOML and their locations.
//!
//! Checks in the sibling modules name the key they concern by a [`Path`]
//! (`rollout.replicas`, `policies[1].steps[0]`) and fail with an
//! [`Invalid`]; [`diagnose`] turns that into a located [`Diagnostic`], with
//! [`locate`] mapping the path back to a line and column through a
//! span-keeping parse of the same text. That keeps the serde structs of
//! `super::super::file` free of span wrappers. `crate::scenario::Loaded`
//! uses [`locate`] too, for lint's paths.

use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostic, Location};

/// One segment of a path into the TOML document.
#[derive(Debug, Clone)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A path like `policies[1].steps[0]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Path(Vec<Seg>);

impl Path {
    pub(crate) fn key(&self, k: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }
    pub(crate) fn index(&self, i: usize) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// Reads a path written as `a.b[2].c` (segments that do not read are
    /// skipped, so a serde path with `?` in it still locates its start).
    pub(crate) fn parse(text: &str) -> Path {
        let mut p = Path::default();
        for part in text.split('.') {
            let (key, rest) = part.split_once('[').unwrap_or((part, ""));
            if !key.is_empty() && key != "?" {
                p = p.key(key);
            }
            for idx in rest.split('[') {
                if let Ok(i) = idx.trim_end_matches(']').parse::<usize>() {
                    p = p.index(i);
                }
            }
        }
        p
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A validation failure before it is located in the text (or one already
/// located, in a manifest file).
pub(crate) struct Invalid {
    path: Path,
    message: String,
    hint: String,
    located: Option<Box<Diagnostic>>,
}

pub(super) fn invalid(path: &Path, message: impl Into<String>, hint: impl Into<String>) -> Invalid {
    Invalid {
        path: path.clone(),
        message: message.into(),
        hint: hint.into(),
        located: None,
    }
}

pub(super) fn located(d: Diagnostic) -> Invalid {
    Invalid {
        path: Path::default(),
        message: String::new(),
        hint: String::new(),
        located: Some(Box::new(d)),
    }
}

pub(super) type Result<T> = std::result::Result<T, Invalid>;

/// The byte offset of the value at `path` in `text`, or of its nearest ancestor
/// that exists; 0 if the text does not parse.
pub(crate) fn locate(text: &str, path: &Path) -> usize {
    locate_depth(text, path).0
}

/// The byte offset of the value at `path` in `text` when the whole path is
/// written there.
pub(crate) fn locate_exact(text: &str, path: &Path) -> Option<usize> {
    let (at, depth) = locate_depth(text, path);
    (depth == path.0.len() && depth > 0).then_some(at)
}

/// The offset of the deepest part of `path` written in `text`, and how
/// many segments of it were found.
fn locate_depth(text: &str, path: &Path) -> (usize, usize) {
    let Ok(doc) = DeTable::parse(text) else {
        return (0, 0);
    };
    let mut depth = 0;
    let mut best = 0;
    let mut table: Option<&DeTable> = Some(doc.get_ref());
    let mut array: Option<&[toml::Spanned<DeValue>]> = None;
    for seg in &path.0 {
        let next = match (seg, table, array) {
            (Seg::Key(k), Some(t), _) => t
                .iter()
                .find(|(key, _)| key.get_ref().as_ref() == k.as_str()),
            (Seg::Index(i), _, Some(a)) => {
                let Some(v) = a.get(*i) else { break };
                best = v.span().start;
                depth += 1;
                table = None;
                array = None;
                match v.get_ref() {
                    DeValue::Table(t) => table = Some(t),
                    DeValue::Array(a) => array = Some(a.as_ref()),
                    _ => {}
                }
                continue;
            }
            _ => break,
        };
        let Some((key, value)) = next else { break };
        depth += 1;
        best = if matches!(value.get_ref(), DeValue::Table(_) | DeValue::Array(_)) {
            key.span().start
        } else {
            value.span().start
        };
        table = None;
        array = None;
        match value.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(a.as_ref()),
            _ => {}
        }
    }
    (best, depth)
}

/// Turns an [`Invalid`] into a located diagnostic, locating its path with
/// `at` (a scenario built from several files, or from overrides).
/// `at` gives the location and a prefix for the message (the override
/// that caused it, if one did).
pub(crate) fn diagnose_by(e: Invalid, at: impl Fn(&Path) -> (Location, String)) -> Diagnostic {
    if let Some(d) = e.located {
        return *d;
    }
    let (location, prefix) = at(&e.path);
    Diagnostic::new(
        location,
        format!("{prefix}{}: {}", e.path, e.message),
        e.hint,
    )
}

/// Turns an [`Invalid`] into a located diagnostic.
pub(crate) fn diagnose(file: &str, text: &str, e: Invalid) -> Diagnostic {
    if let Some(d) = e.located {
        return *d;
    }
    let at = locate(text, &e.path);
    Diagnostic::new(
        Location::at_offset(file, text, at),
        format!("{}: {}", e.path, e.message),
        e.hint,
    )
}
