//! The one door through which the library reads files.
//!
//! The library does no I/O of its own (style guide §6 rule 3): loaders that
//! follow paths — a scenario's `manifests`, a manifest directory, the paths
//! given to lint — read through a [`Files`]. The binary passes one on the
//! real file system (`src/cli/disk.rs`); tests may pass [`MemFiles`], a
//! handful of files held in memory.
//!
//! In: paths exactly as the user wrote them (relative paths are relative to
//! wherever the implementation says, for the binary the working directory).
//! Out: text, directory listings, what a path is. Errors are
//! [`std::io::Error`]s so that the binary's messages (`cannot read: No such
//! file or directory (os error 2)`) stay the operating system's own.
//! Neighbours: `crate::manifest::read_path`, `crate::scenario::load_file`,
//! `crate::lint::lint_paths`.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

/// What a path names, following symbolic links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// Anything else (a socket, a device, …).
    Other,
}

/// Read access to a tree of files. Shared between threads: a sweep loads
/// its cells side by side.
pub trait Files: Sync {
    /// What `path` names, following symbolic links; an error if nothing
    /// (or nothing reachable) is there.
    fn kind(&self, path: &Path) -> io::Result<FileKind>;

    /// The whole text of the file at `path` (UTF-8).
    fn read_to_string(&self, path: &Path) -> io::Result<String>;

    /// The names of the entries of the directory at `path`, in no
    /// particular order (callers sort).
    fn list_dir(&self, path: &Path) -> io::Result<Vec<OsString>>;

    /// A path naming the same file as `path` that is equal for any two
    /// paths to the same file (resolving `.`, `..` and, on a real file
    /// system, symbolic links); an error if nothing is there.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;

    /// Whether `path` is a regular file (false when it cannot be read).
    fn is_file(&self, path: &Path) -> bool {
        matches!(self.kind(path), Ok(FileKind::File))
    }

    /// Whether `path` is a directory (false when it cannot be read).
    fn is_dir(&self, path: &Path) -> bool {
        matches!(self.kind(path), Ok(FileKind::Dir))
    }

    /// Whether anything is at `path`.
    fn exists(&self, path: &Path) -> bool {
        self.kind(path).is_ok()
    }
}

/// Files held in memory: a map from path to text. Directories are implied
/// by the files below them; the empty path (or `.`) is the top. Paths are
/// compared after removing `.` and folding `..` into its parent, so
/// `a/./b` and `a/c/../b` name the same file; there are no links.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemFiles {
    files: BTreeMap<PathBuf, String>,
}

impl MemFiles {
    /// No files.
    pub fn new() -> MemFiles {
        MemFiles::default()
    }

    /// Adds (or replaces) the file at `path`.
    pub fn insert(&mut self, path: impl AsRef<Path>, text: impl Into<String>) {
        self.files.insert(normalize(path.as_ref()), text.into());
    }

    /// These files and one more at `path`.
    pub fn with(mut self, path: impl AsRef<Path>, text: impl Into<String>) -> MemFiles {
        self.insert(path, text);
        self
    }
}

impl Files for MemFiles {
    fn kind(&self, path: &Path) -> io::Result<FileKind> {
        let p = normalize(path);
        if self.files.contains_key(&p) {
            Ok(FileKind::File)
        } else if self.files.keys().any(|k| k.starts_with(&p)) {
            Ok(FileKind::Dir)
        } else {
            Err(not_found())
        }
    }

    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        match self.kind(path)? {
            FileKind::File => Ok(self.files[&normalize(path)].clone()),
            _ => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory",
            )),
        }
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        if self.kind(path)? != FileKind::Dir {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        let p = normalize(path);
        let names: BTreeSet<OsString> = self
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(&p).ok()?.components().next())
            .map(|c| c.as_os_str().to_os_string())
            .collect();
        Ok(names.into_iter().collect())
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        self.kind(path)?;
        Ok(normalize(path))
    }
}

fn not_found() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "no such file or directory")
}

/// `path` without `.` components and with each `..` folded into the
/// component before it (kept when there is none).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> MemFiles {
        MemFiles::new()
            .with("a/x.yaml", "x")
            .with("a/b/y.yaml", "y")
            .with("top.toml", "t")
    }

    #[test]
    fn directories_are_implied_by_the_files_below_them() {
        let f = tree();
        assert_eq!(f.kind(Path::new("a")).unwrap(), FileKind::Dir);
        assert_eq!(f.kind(Path::new("a/b/")).unwrap(), FileKind::Dir);
        assert_eq!(f.kind(Path::new("")).unwrap(), FileKind::Dir);
        assert_eq!(f.kind(Path::new(".")).unwrap(), FileKind::Dir);
        assert_eq!(f.kind(Path::new("a/x.yaml")).unwrap(), FileKind::File);
        assert!(!f.exists(Path::new("a/x")));
        assert!(!f.exists(Path::new("b")));
    }

    #[test]
    fn a_listing_names_each_entry_once_files_and_directories_alike() {
        let f = tree();
        let names = f.list_dir(Path::new("a")).unwrap();
        assert_eq!(names, vec![OsString::from("b"), OsString::from("x.yaml")]);
        let top = f.list_dir(Path::new(".")).unwrap();
        assert_eq!(top, vec![OsString::from("a"), OsString::from("top.toml")]);
        assert!(f.list_dir(Path::new("top.toml")).is_err());
        assert_eq!(
            f.list_dir(Path::new("nope")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn dot_and_dot_dot_name_the_same_file_and_canonicalize_alike() {
        let f = tree();
        assert_eq!(f.read_to_string(Path::new("./a/b/../x.yaml")).unwrap(), "x");
        assert_eq!(
            f.canonicalize(Path::new("a/b/../x.yaml")).unwrap(),
            f.canonicalize(Path::new("./a/x.yaml")).unwrap()
        );
        assert!(f.canonicalize(Path::new("a/missing.yaml")).is_err());
        assert!(f.read_to_string(Path::new("a")).is_err());
    }
}
