//! Shared pieces of the subcommands: loading a scenario, writing files atomically.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use canarysim::rollout::policy::Policy;
use canarysim::scenario::{self, Scenario};

use super::disk::Disk;

/// Reads and validates a scenario file; errors name the file, line and column.
/// The manifests a policy names are read relative to the scenario file.
pub fn load_scenario(path: &Path) -> Result<Scenario> {
    match scenario::load_file(&Disk, path) {
        Ok(s) => Ok(s),
        Err(e) => bail!("{e}"),
    }
}

/// Writes `contents` to `dir/name` through a temporary file and a rename, so
/// a reader never sees half a file and a failure leaves no partial output.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Result<()> {
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, dir.join(name))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", dir.join(name).display()))
}

/// A file written in pieces under a temporary name and renamed into place by
/// [`Streamed::finish`]; dropped unfinished (an error on the way), it is
/// removed, so a reader never sees half of it.
pub struct Streamed {
    tmp: std::path::PathBuf,
    path: std::path::PathBuf,
    file: Option<std::io::BufWriter<fs::File>>,
}

impl Streamed {
    /// Starts `dir/name` (the directory is created if needed).
    pub fn create(dir: &Path, name: &str) -> Result<Streamed> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output directory {}", dir.display()))?;
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let path = dir.join(name);
        let file =
            fs::File::create(&tmp).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Streamed {
            tmp,
            path,
            file: Some(std::io::BufWriter::new(file)),
        })
    }

    /// Appends what `write` writes.
    pub fn write_with(
        &mut self,
        write: impl FnOnce(&mut std::io::BufWriter<fs::File>) -> std::io::Result<()>,
    ) -> Result<()> {
        let file = self.file.as_mut().expect("invariant: not finished");
        write(file).with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Flushes the file to disk and renames it into place.
    pub fn finish(mut self) -> Result<()> {
        let file = self.file.take().expect("invariant: not finished");
        let done = (|| -> std::io::Result<()> {
            let f = file.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            fs::rename(&self.tmp, &self.path)
        })();
        if done.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        done.with_context(|| format!("cannot write {}", self.path.display()))
    }
}

impl Drop for Streamed {
    fn drop(&mut self) {
        if self.file.is_some() {
            self.file = None;
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes several files into `dir` (created if needed): all are rendered
/// before the first is written, and each lands whole. Names may hold `/`
/// (subdirectories, created as needed).
pub fn write_outputs(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create output directory {}", dir.display()))?;
    for (name, bytes) in files {
        let path = dir.join(name);
        let (Some(parent), Some(file)) = (path.parent(), path.file_name()) else {
            bail!("bad output name {name}");
        };
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        write_atomic(parent, &file.to_string_lossy(), bytes)?;
    }
    Ok(())
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
