//! Shared pieces of the subcommands: loading a scenario, writing files atomically.

use std::fs;
use std::io::Write;
use std::path::Path;

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
