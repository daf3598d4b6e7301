//! The file system the benches read the repository's scenarios through
//! (the library reads only through a `Files`; the binary has its own).

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use canarysim::vfs::{FileKind, Files};

/// `Files` on `std::fs`, relative to the working directory.
pub struct Disk;

impl Files for Disk {
    fn kind(&self, path: &Path) -> io::Result<FileKind> {
        let meta = std::fs::metadata(path)?;
        Ok(if meta.is_file() {
            FileKind::File
        } else if meta.is_dir() {
            FileKind::Dir
        } else {
            FileKind::Other
        })
    }

    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        std::fs::read_dir(path)?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect()
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }
}
