//! The real file system behind the library's [`Files`]: the only place
//! `run`, `query` and `lint` read scenarios and manifests from. Relative
//! paths are relative to the working directory, and errors are the
//! operating system's, so messages read `cannot read: No such file or
//! directory (os error 2)`.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use canarysim::vfs::{FileKind, Files};

/// The largest input file read (64 MiB): far beyond any scenario, manifest
/// or promqltest file, and a bound on the memory a wrong path can take.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// Reads a regular file of at most [`MAX_INPUT_BYTES`] as UTF-8. A FIFO, a
/// device (`/dev/zero`) or a socket is refused before it is opened, so the
/// read can neither block nor run forever.
pub fn read_input(path: &Path) -> io::Result<String> {
    use std::io::Read;
    let meta = regular_file(path)?;
    let too_big = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "is larger than {} MiB, the most canarysim reads",
                MAX_INPUT_BYTES >> 20
            ),
        )
    };
    if meta.len() > MAX_INPUT_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_big());
    }
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "is not UTF-8 text"))
}

/// Reads a regular file whole, of any size (a sweep's parts grow with its
/// runs); a FIFO, a device or a socket is refused before it is opened, as
/// [`read_input`] refuses them.
#[allow(dead_code)] // the binary's; the benches include this file too
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    regular_file(path)?;
    std::fs::read(path)
}

/// The metadata of `path` if it is a regular file, else why it is not one.
fn regular_file(path: &Path) -> io::Result<std::fs::Metadata> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        ));
    }
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is not a regular file (a FIFO, a device or a socket)",
        ));
    }
    Ok(meta)
}

/// [`Files`] on `std::fs`.
#[derive(Debug, Clone, Copy, Default)]
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
        read_input(path)
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
