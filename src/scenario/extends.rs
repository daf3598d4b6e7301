//! `extends = "base.toml"`: one service, several builds.
//!
//! A scenario file may name a base file (relative to itself); it inherits
//! every key of the base and overrides what it states. Tables merge key by
//! key, arrays (endpoints, policies, steps) replace whole. A base may extend
//! another; a cycle is an error. Paths a base writes relative to itself
//! (`policies[].manifests`) are rebased onto the extending file's directory,
//! so they keep naming the same files.
//!
//! In: the file's path and a [`Files`]. Out: the chain of [`Source`]s
//! (the file first, its base after) and their merged TOML table, which
//! [`super`] reads with the override grammar applied. Errors are located
//! in whichever file holds the key ([`locate_in_chain`]).

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Location};
use crate::vfs::Files;

use super::validate;

/// How many files one chain may hold.
pub const MAX_CHAIN: usize = 16;

/// One file of an `extends` chain.
#[derive(Debug, Clone)]
pub struct Source {
    /// The name used in messages.
    pub label: String,
    /// The file's text.
    pub text: String,
    /// Its table, with paths rebased onto the first file's directory.
    pub table: toml::Table,
}

fn toml_error(label: &str, text: &str, e: &toml::de::Error) -> Diagnostic {
    let at = e.span().map_or(0, |s| s.start);
    let message = e.message().trim();
    let (message, hint) = super::toml_words(message).unwrap_or_else(|| {
        (
            super::plain_types(message),
            "see docs/scenario.md for the format",
        )
    });
    Diagnostic::new(Location::at_offset(label, text, at), message, hint)
}

/// Reads `path` and every base it extends, the file itself first.
pub fn read_chain(files: &dyn Files, path: &Path) -> Result<Vec<Source>, Diagnostic> {
    let mut chain: Vec<Source> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    // The directory of the current file relative to the first file's.
    let mut rel_dir = PathBuf::new();
    let mut current = path.to_path_buf();
    let mut named_at: Option<Location> = None;
    loop {
        let label = current.display().to_string();
        let text = files.read_to_string(&current).map_err(|e| {
            Diagnostic::new(
                named_at
                    .clone()
                    .unwrap_or_else(|| Location::start_of(&label)),
                if named_at.is_some() {
                    format!("cannot read the base scenario {label}: {e}")
                } else {
                    format!("cannot read scenario: {e}")
                },
                "give the path of a scenario .toml file",
            )
        })?;
        let canonical = files.canonicalize(&current).unwrap_or(current.clone());
        if seen.contains(&canonical) {
            return Err(Diagnostic::new(
                named_at.unwrap_or_else(|| Location::start_of(&label)),
                format!("extends {label}, which extends this file again"),
                "a chain of `extends` must end in a file without one",
            ));
        }
        seen.push(canonical);
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|e| toml_error(&label, &text, &e))?;
        let extends = match table.remove("extends") {
            None => None,
            Some(toml::Value::String(s)) => Some(s),
            Some(_) => {
                let at = validate::locate(&text, &validate::Path::default().key("extends"));
                return Err(Diagnostic::new(
                    Location::at_offset(&label, &text, at),
                    "extends: wants the path of a base scenario file, as a string",
                    "write extends = \"base.toml\"",
                ));
            }
        };
        if !rel_dir.as_os_str().is_empty() {
            rebase(&mut table, &rel_dir);
        }
        let ext_at = Location::at_offset(
            &label,
            &text,
            validate::locate(&text, &validate::Path::default().key("extends")),
        );
        chain.push(Source { label, text, table });
        let Some(base) = extends else {
            return Ok(chain);
        };
        if chain.len() >= MAX_CHAIN {
            return Err(Diagnostic::new(
                ext_at,
                format!("more than {MAX_CHAIN} files in one chain of `extends`"),
                "flatten the chain",
            ));
        }
        let base_path = Path::new(&base);
        let dir = current.parent().map(Path::to_path_buf).unwrap_or_default();
        let (next, next_rel) = if base_path.is_absolute() {
            (
                base_path.to_path_buf(),
                base_path
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default(),
            )
        } else {
            (
                dir.join(base_path),
                rel_dir.join(base_path.parent().unwrap_or(Path::new(""))),
            )
        };
        rel_dir = next_rel;
        current = next;
        named_at = Some(ext_at);
    }
}

/// Rewrites the relative paths a base file writes so they resolve from the
/// first file's directory.
fn rebase(table: &mut toml::Table, rel_dir: &Path) {
    let Some(toml::Value::Array(policies)) = table.get_mut("policies") else {
        return;
    };
    for p in policies.iter_mut() {
        let Some(toml::Value::Array(paths)) = p.get_mut("manifests") else {
            continue;
        };
        for m in paths.iter_mut() {
            if let toml::Value::String(s) = m
                && !Path::new(s.as_str()).is_absolute()
            {
                *s = rel_dir.join(s.as_str()).display().to_string();
            }
        }
    }
}

/// Lays `over` onto `base`: tables merge key by key, anything else
/// (arrays included) replaces.
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The chain's tables merged, the first file's keys winning.
pub fn merged(chain: &[Source]) -> toml::Table {
    let mut out = toml::Table::new();
    for s in chain.iter().rev() {
        merge(&mut out, s.table.clone());
    }
    out
}

/// Where the key at `path` is written: the first file of the chain that
/// holds it, else the nearest ancestor in the first file.
pub(crate) fn locate_in_chain(chain: &[Source], path: &validate::Path) -> Location {
    for s in chain {
        if let Some(at) = validate::locate_exact(&s.text, path) {
            return Location::at_offset(&s.label, &s.text, at);
        }
    }
    let first = &chain[0];
    Location::at_offset(
        &first.label,
        &first.text,
        validate::locate(&first.text, path),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_merge_key_by_key_and_arrays_replace() {
        let mut base: toml::Table =
            toml::from_str("[a]\nx = 1\ny = 2\n[[e]]\nn = 1\n[[e]]\nn = 2\n").unwrap();
        let over: toml::Table = toml::from_str("[a]\ny = 3\n[[e]]\nn = 9\n").unwrap();
        merge(&mut base, over);
        assert_eq!(base["a"]["x"].as_integer(), Some(1));
        assert_eq!(base["a"]["y"].as_integer(), Some(3));
        assert_eq!(base["e"].as_array().map(Vec::len), Some(1));
    }
}
