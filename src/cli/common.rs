//! Shared pieces of the subcommands: loading a scenario, writing files and
//! output directories atomically (with cleanup on SIGINT/SIGTERM), printing
//! to standard output without panicking on a closed pipe or a full disk.

use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use canarysim::rollout::policy::Policy;
use canarysim::scenario::{self, Scenario};

use super::disk::Disk;

/// Reads and validates a scenario file with the `--set` overrides applied;
/// errors name the file, line and column (or the override). The manifests
/// a policy names are read relative to the scenario file.
pub fn load_scenario(path: &Path, set: &[String]) -> Result<Scenario> {
    let overrides = parse_overrides(set)?;
    match scenario::load_file_with(&Disk, path, &overrides) {
        Ok(s) => Ok(s.scenario),
        Err(e) => bail!("{e}"),
    }
}

/// Reads `--set PATH=VALUE` flags.
pub fn parse_overrides(set: &[String]) -> Result<Vec<scenario::Override>> {
    set.iter()
        .map(|s| scenario::Override::parse(s).map_err(|e| anyhow::anyhow!("{e}")))
        .collect()
}

/// Which pictures `--out` of `run` and `sweep` writes beside the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Plots {
    /// SVG (the default): text as text, the same bytes for the same input.
    Svg,
    /// PNG bitmaps.
    Png,
    /// No pictures.
    None,
}

impl Plots {
    /// The picture format, or `None` for no pictures (or a build without
    /// the `plot` feature).
    #[cfg(feature = "plot")]
    pub fn format(self) -> Option<canarysim::plot::ImageFormat> {
        use canarysim::plot::ImageFormat;
        match self {
            Plots::Svg => Some(ImageFormat::Svg),
            Plots::Png => Some(ImageFormat::Png),
            Plots::None => None,
        }
    }

    /// The file name of picture `stem` in this format.
    pub fn file_name(self, stem: &str) -> String {
        match self {
            Plots::Png => format!("{stem}.png"),
            Plots::Svg | Plots::None => format!("{stem}.svg"),
        }
    }
}

/// Writes `contents` to `dir/name` through a temporary file and a rename, so
/// a reader never sees half a file and a failure leaves no partial output.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Result<()> {
    write_atomic_with(dir, name, |w| w.write_all(contents))
}

/// [`write_atomic`] of what `fill` writes, a piece at a time (nothing is
/// held in memory whole).
pub fn write_atomic_with(
    dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut std::io::BufWriter<fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = dir.join(format!(".{name}.tmp-{}", unique_id()));
    let _guard = cleanup_on_signal(&tmp);
    let result = (|| -> std::io::Result<()> {
        // A new file or an error: never another writer's temporary file.
        let file = while_no_signal(|| {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
        })?;
        let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
        fill(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&tmp, dir.join(name))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", dir.join(name).display()))
}

/// Writes `bytes` to the file `path` names; see [`write_file_with`].
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file_with(path, |w| w.write_all(bytes))
}

/// Writes what `fill` writes to the file `path` names, a piece at a time.
/// A regular file (or none yet) is replaced whole through [`write_atomic`]
/// in its directory, created if needed. A symbolic link is followed: the
/// link stays and the file it names is replaced. A character device or a
/// named pipe (`/dev/null`, `/dev/stdout`, `-o >(gzip > f)`) is written
/// through, as a shell's redirection writes it: renaming over it would put
/// a regular file in its place. Anything else is refused.
pub fn write_file_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let shown = path.display();
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => bail!("{shown}: is a directory; give a file path"),
        Ok(m) if m.file_type().is_char_device() || m.file_type().is_fifo() => {
            let file = fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot write {shown}"))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
            return match fill(&mut w).and_then(|()| w.flush()) {
                Ok(()) => Ok(()),
                // A reader that stopped reading (`-o /dev/stdout | head`).
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(ClosedPipe.into()),
                Err(e) => Err(e).with_context(|| format!("cannot write {shown}")),
            };
        }
        Ok(m) if !m.is_file() => {
            bail!("{shown}: is not a regular file (a block device or a socket); give a file path")
        }
        _ => {}
    }
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path).map_err(|_| {
            anyhow::anyhow!("{shown}: is a symbolic link to nothing; give a file path")
        })?,
        _ => path.to_path_buf(),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(name) = target.file_name() else {
        bail!("{shown} names no file");
    };
    if let Some(file) = dir.ancestors().find(|a| a.is_file()) {
        bail!(
            "cannot write {shown}: {} is a file, not a directory",
            file.display()
        );
    }
    // One file, replaced whole; the directory around it is the user's.
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_atomic_with(&dir, &name.to_string_lossy(), fill)
}

/// Refuses an output file that is one of the command's inputs (the same
/// file by any path): writing it would replace, say, the scenario with the
/// series of its run.
pub fn refuse_input_as_output(flag: &str, output: &Path, inputs: &[&Path]) -> Result<()> {
    if let Some(input) = inputs.iter().find(|i| paths_name_one_file(output, i)) {
        bail!(
            "{flag} {}: is an input of this command ({}); give another file",
            output.display(),
            input.display()
        );
    }
    Ok(())
}

/// Whether two paths name one file: the same file on disk or, where one
/// is not there yet, the same absolute path.
pub fn paths_name_one_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => std::path::absolute(a).ok() == std::path::absolute(b).ok(),
    }
}

/// The file that marks a directory as canarysim's output, which a later
/// `--out` may replace whole.
pub const OUT_MARKER: &str = ".canarysim-out";

/// An output directory filled as the work goes on, ending up holding
/// exactly what was written (names may hold `/` for subdirectories) and
/// nothing from an earlier run. Every file is written straight into a
/// fresh hidden directory beside `dir`, so nothing waits in memory for the
/// end (one flagship run's series are ~200 MB as CSV), and
/// [`OutDir::commit`] swaps it in by renames: `dir` is either what it was
/// (after a failure: a full disk, SIGINT, SIGTERM) or the complete new
/// output. Dropped without a commit (an error, a
/// panic) the hidden directory is removed, and SIGINT or SIGTERM remove it
/// too. `dir` is checked when the output begins, before any work: it must
/// be new, empty, or canarysim's own output (it holds [`OUT_MARKER`]).
/// Names that could reach outside it (`..`, absolute paths) are refused.
pub struct OutDir {
    /// The target, as a plain absolute path.
    dir: PathBuf,
    /// The target as the user gave it, for messages.
    shown: PathBuf,
    tmp: PathBuf,
    old: PathBuf,
    /// Registered for removal on a signal until the commit.
    guard: Option<CleanupGuard>,
}

impl OutDir {
    /// Checks `dir` and creates the hidden directory that will replace it.
    pub fn begin(given: &Path) -> Result<OutDir> {
        let (parent, base) = split_target(given)?;
        // `out/.` or `out/sub/..` names `out`: renames need its plain path.
        let dir = &parent.join(&base);
        if let Ok(meta) = fs::symlink_metadata(dir) {
            if !meta.is_dir() {
                bail!("--out {}: is not a directory", given.display());
            }
            let mut entries = fs::read_dir(dir)
                .with_context(|| format!("cannot read output directory {}", given.display()))?;
            if entries.next().is_some() && !dir.join(OUT_MARKER).is_file() {
                bail!(
                    "--out {}: the directory holds files canarysim did not write; give a new or empty directory",
                    given.display()
                );
            }
        }
        let id = unique_id();
        let tmp = parent.join(format!(".{base}.tmp-{id}"));
        let guard = cleanup_on_signal(&tmp);
        while_no_signal(|| fs::create_dir(&tmp)).with_context(|| {
            format!(
                "cannot write {}: cannot create {}",
                given.display(),
                tmp.display()
            )
        })?;
        let out = OutDir {
            dir: dir.to_path_buf(),
            shown: given.to_path_buf(),
            old: parent.join(format!(".{base}.old-{id}")),
            tmp,
            guard: Some(guard),
        };
        out.write(
            OUT_MARKER,
            b"written by canarysim; --out replaces this directory whole\n",
        )?;
        Ok(out)
    }

    /// Writes the whole file `name`.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let mut f = self.create(name)?;
        f.write_all(bytes).map_err(|e| self.failed(name, e))?;
        self.finish(name, f)
    }

    /// Opens file `name` (which may hold `/`) to be written a piece at a
    /// time; [`OutDir::finish`] ends it.
    pub fn create(&self, name: &str) -> Result<std::io::BufWriter<fs::File>> {
        check_output_name(name)?;
        let path = self.tmp.join(name);
        let opened = while_no_signal(|| {
            if !self.tmp.is_dir() {
                // A signal's cleanup removed it; the process is ending.
                return Err(std::io::Error::from(std::io::ErrorKind::NotFound));
            }
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::File::create(&path)
        });
        let file = opened.map_err(|e| self.failed(name, e))?;
        Ok(std::io::BufWriter::with_capacity(1 << 16, file))
    }

    /// Flushes file `name` and syncs it to disk.
    pub fn finish(&self, name: &str, w: std::io::BufWriter<fs::File>) -> Result<()> {
        let file = w
            .into_inner()
            .map_err(|e| self.failed(name, e.into_error()))?;
        file.sync_all().map_err(|e| self.failed(name, e))
    }

    /// The error of writing file `name`, naming the output directory.
    pub fn failed(&self, name: &str, e: std::io::Error) -> anyhow::Error {
        anyhow::Error::new(e).context(format!("cannot write {}/{name}", self.shown.display()))
    }

    /// Swaps the finished directory in for `dir`.
    pub fn commit(mut self) -> Result<()> {
        // The swap runs under the cleanup lock, so a signal waits for it: the
        // target is either the old directory or the complete new one.
        let _old_guard = cleanup_on_signal(&self.old);
        let lock = CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
        let had_old = fs::rename(&self.dir, &self.old).is_ok();
        if let Err(e) = fs::rename(&self.tmp, &self.dir) {
            if had_old {
                let _ = fs::rename(&self.old, &self.dir);
            }
            drop(lock);
            // Dropping `self` removes the hidden directory.
            return Err(e).with_context(|| format!("cannot write {}", self.shown.display()));
        }
        if let Some(guard) = self.guard.take() {
            drop(guard.disarm(lock));
        }
        if had_old {
            let _ = fs::remove_dir_all(&self.old);
        }
        Ok(())
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if self.guard.is_some() {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// `dir`'s parent (created if needed) and last name, so temporary
/// directories can sit beside it on the same file system.
fn split_target(dir: &Path) -> Result<(std::path::PathBuf, String)> {
    let absolute = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .context("cannot read the working directory")?
            .join(dir)
    };
    let mut clean = std::path::PathBuf::new();
    for c in absolute.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other.as_os_str()),
        }
    }
    let (Some(parent), Some(base)) = (clean.parent(), clean.file_name()) else {
        bail!("--out {}: give a directory below the root", dir.display());
    };
    fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    Ok((parent.to_path_buf(), base.to_string_lossy().into_owned()))
}

/// Refuses an output name that is empty, absolute, or has a `.`, `..` or
/// empty component, so no name (a policy's, a job's) can leave the directory.
pub fn check_output_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('/')
        && name.split('/').all(|c| {
            !c.is_empty() && c != "." && c != ".." && !c.contains('\\') && !c.contains('\0')
        });
    if !ok {
        bail!("output file name {name:?} would leave the output directory");
    }
    Ok(())
}

/// A name for a temporary file or directory that no other writer uses at
/// the same time: the process id and a serial, and the wall clock's
/// nanoseconds, because processes on other machines write to a shared
/// directory too (the shards of a sweep on one volume, each often with the
/// same small PID in its container). Only temporary names depend on it.
fn unique_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{}-{nanos}", std::process::id(), next_serial())
}

fn next_serial() -> u64 {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// Paths to remove if SIGINT or SIGTERM arrives before they are finished.
static CLEANUP: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Runs `create` (which makes a file or directory appear) holding the
/// cleanup lock. A signal's cleanup holds it from its first removal to the
/// process's exit, so nothing is created in a directory it has removed (a
/// directory created again would be left behind), and a path created here
/// is registered before the cleanup can look.
fn while_no_signal<T>(create: impl FnOnce() -> T) -> T {
    let _lock = CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
    create()
}

/// Removes its path from the cleanup list when dropped.
pub struct CleanupGuard(PathBuf);

impl CleanupGuard {
    /// Takes the path off the list while the caller already holds the lock.
    fn disarm(
        self,
        mut lock: std::sync::MutexGuard<'_, Vec<PathBuf>>,
    ) -> std::sync::MutexGuard<'_, Vec<PathBuf>> {
        lock.retain(|p| *p != self.0);
        std::mem::forget(self);
        lock
    }
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        let mut list = CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|p| *p != self.0);
    }
}

/// Registers `path` (a file or a directory) for removal on SIGINT/SIGTERM
/// until the guard is dropped.
pub fn cleanup_on_signal(path: &Path) -> CleanupGuard {
    let mut list = CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
    list.push(path.to_path_buf());
    CleanupGuard(path.to_path_buf())
}

/// Handles SIGINT and SIGTERM for the whole process: removes the temporary
/// files and directories still registered, then exits with 128 + the
/// signal's number, as a shell reports a process the signal killed.
pub fn install_signal_cleanup() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let list = CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
            for path in list.iter() {
                if path.is_dir() {
                    let _ = fs::remove_dir_all(path);
                } else {
                    let _ = fs::remove_file(path);
                }
            }
            std::process::exit(128 + sig);
        }
    });
}

/// Tells `main` to end quietly with exit 0: standard output was closed
/// early (`| head`), which is how a pipeline says it has read enough.
#[derive(Debug)]
pub struct ClosedPipe;

impl std::fmt::Display for ClosedPipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for ClosedPipe {}

/// Writes `text` to standard output and flushes it. A closed pipe is
/// [`ClosedPipe`]; any other failure (a full disk) is an error that says so.
pub fn print(text: &str) -> Result<()> {
    let mut lock = std::io::stdout().lock();
    match lock.write_all(text.as_bytes()).and_then(|()| lock.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(ClosedPipe.into()),
        Err(e) => Err(e).context("cannot write to standard output"),
    }
}

/// The scenario's policy called `name`, or an error listing the ones it has.
pub fn find_policy<'s>(sc: &'s Scenario, name: &str) -> Result<&'s Policy> {
    match sc.policy(name) {
        Some(p) => Ok(p),
        None => {
            let names: Vec<&str> = sc.policies.iter().map(|p| p.name.as_str()).collect();
            bail!(
                "scenario {} has no policy {name:?}; it has: {}",
                sc.file,
                names.join(", ")
            )
        }
    }
}

/// One note on stderr per policy that has manifest fields the simulator
/// does not model (`lint` lists them).
pub fn note_unmodelled(sc: &Scenario, policies: &[&Policy]) {
    for p in policies.iter().filter(|p| !p.warnings.is_empty()) {
        eprintln!(
            "note: policy {}: {} manifest field(s) not modelled; `canarysim lint {}` lists them",
            p.name,
            p.warnings.len(),
            sc.file
        );
    }
}
