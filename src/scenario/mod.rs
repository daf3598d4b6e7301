//! Scenario files: TOML in, a validated [`Scenario`] out.
//!
//! Two stages, as the style guide asks: `file` mirrors the TOML with serde
//! (syntax, types, unknown keys), `validate` checks meaning and builds the
//! model. Every error becomes a [`Diagnostic`] that names the file, line and
//! column and says what would be valid. The engine only ever sees a
//! [`Scenario`]. The format is documented in `docs/scenario.md`.
//!
//! A policy may take its steps and templates from the user's Argo YAML
//! (`manifests = ["argo/hardened/"]`, relative to the scenario file). Those
//! files are read through a [`ManifestSource`]: [`load_file`] reads the
//! scenario and its manifests through a [`Files`] (the binary's is the disk,
//! tests may use [`crate::vfs::MemFiles`]); [`load_with`] takes any source;
//! [`load_str`] has none and stays pure, so a scenario that names manifests
//! is an error there, one that says to use `load_file`.
//!
//! [`load_file_with`] also follows `extends = "base.toml"` ([`extends`])
//! and applies the `--set PATH=VALUE` override grammar ([`overrides`]):
//! scenario keys to the merged TOML before it is read, `policy.NAME.…`
//! fields to the validated policies after.

pub mod extends;
mod file;
mod model;
pub mod overrides;
pub mod units;
mod validate;

pub use file::Seed;
pub use model::*;
pub use overrides::Override;

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Location};
use crate::manifest::{ManifestSet, RolloutManifest, SourceFile};
use crate::vfs::Files;

/// Why a scenario could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ScenarioError(pub Diagnostic);

/// Where a scenario's `manifests` paths are read from.
pub trait ManifestSource {
    /// The YAML files `path` names, as written in the scenario (relative to
    /// the scenario file): the file, or a directory's `*.yaml`/`*.yml`
    /// sorted by name. The error's message and hint are reported at the
    /// path in the scenario.
    fn read(&self, path: &str) -> Result<Vec<SourceFile>, Diagnostic>;
}

/// Reads manifests, through a [`Files`], from the directory of a scenario
/// file.
#[derive(Clone)]
pub struct DirSource<'f> {
    files: &'f dyn Files,
    dir: PathBuf,
    label_dir: String,
    stdin: Option<SourceFile>,
}

impl std::fmt::Debug for DirSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirSource")
            .field("dir", &self.dir)
            .field("label_dir", &self.label_dir)
            .finish_non_exhaustive()
    }
}

impl<'f> DirSource<'f> {
    /// A source for the scenario at `scenario`, read through `files` (paths
    /// resolve against its directory, and file labels start with that
    /// directory as written).
    pub fn for_scenario(files: &'f dyn Files, scenario: &Path) -> DirSource<'f> {
        let dir = scenario
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let label_dir = scenario
            .parent()
            .map(|p| p.display().to_string())
            .filter(|s| !s.is_empty())
            .map_or_else(String::new, |s| format!("{s}/"));
        DirSource {
            files,
            dir,
            label_dir,
            stdin: None,
        }
    }

    /// This source, with the manifest path `-` reading `stdin` (a
    /// multi-document YAML stream, e.g. `kustomize build`'s output).
    pub fn with_stdin(mut self, stdin: Option<SourceFile>) -> DirSource<'f> {
        self.stdin = stdin;
        self
    }

    /// The path to read and the label of a manifest path as written.
    pub fn resolve(&self, path: &str) -> (PathBuf, String) {
        if Path::new(path).is_absolute() {
            (PathBuf::from(path), path.to_string())
        } else {
            (self.dir.join(path), format!("{}{path}", self.label_dir))
        }
    }
}

impl ManifestSource for DirSource<'_> {
    fn read(&self, path: &str) -> Result<Vec<SourceFile>, Diagnostic> {
        if path == "-"
            && let Some(stdin) = &self.stdin
        {
            return Ok(vec![stdin.clone()]);
        }
        let (on_disk, label) = self.resolve(path);
        crate::manifest::read_path(self.files, &on_disk, &label).map_err(|e| {
            Diagnostic::new(
                e.0.location.clone(),
                format!("{label}: {}", e.0.message),
                e.0.hint,
            )
        })
    }
}

/// The manifests a policy was built from.
#[derive(Debug, Clone)]
pub struct PolicyManifests {
    /// The policy's name.
    pub policy: String,
    /// Its position in `policies`.
    pub index: usize,
    /// The paths as written in the scenario.
    pub paths: Vec<String>,
    /// What was read, with the location of every part.
    pub set: ManifestSet,
    /// Where the Rollout disagrees with the scenario (also in the policy's warnings).
    pub shape_warnings: Vec<Diagnostic>,
}

/// A scenario together with the manifests its policies were built from and
/// its text (to locate TOML keys).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The scenario.
    pub scenario: Scenario,
    /// One entry per policy with `manifests`.
    pub manifests: Vec<PolicyManifests>,
    /// The scenario file's text.
    pub text: String,
}

impl Loaded {
    /// The location of a TOML key given as a path such as
    /// `policies[1].steps[2].analysis.templates[0].templateName` (or of its
    /// nearest ancestor that exists).
    pub fn locate(&self, path: &str) -> Location {
        let mut p = validate::Path::default();
        for part in path.split('.') {
            let (key, rest) = part.split_once('[').unwrap_or((part, ""));
            if !key.is_empty() {
                p = p.key(key);
            }
            for idx in rest.split('[') {
                if let Ok(i) = idx.trim_end_matches(']').parse::<usize>() {
                    p = p.index(i);
                }
            }
        }
        let at = validate::locate(&self.text, &p);
        Location::at_offset(&self.scenario.file, &self.text, at)
    }

    /// The manifests of the policy with this name.
    pub fn manifests_of(&self, policy: &str) -> Option<&PolicyManifests> {
        self.manifests.iter().find(|m| m.policy == policy)
    }
}

/// Where a manifest Rollout disagrees with the scenario's `[rollout]`,
/// `[pod]`, namespace or canary image (the simulation follows the scenario).
pub fn shape_warnings(r: &RolloutManifest, sc: &Scenario) -> Vec<Diagnostic> {
    validate::shape_warnings(
        r,
        &validate::ShapeCtx {
            file: &sc.file,
            namespace: &sc.namespace,
            rollout: &sc.rollout,
            pod: &sc.pod,
            canary_image: &sc.profile(crate::model::Version::Canary).image,
        },
    )
}

pub use validate::budget::{
    MAX_REQUESTS, MAX_SAMPLES, MIN_SCRAPE_INTERVAL, series_per_pod, series_per_pod_of,
};

/// The most samples a run of `sc` could store, as the budget
/// ([`MAX_SAMPLES`]) estimates it before the run.
pub fn estimated_samples(sc: &Scenario) -> u64 {
    validate::budget::estimated_samples(
        sc.rollout.replicas,
        &sc.buckets,
        &validate::budget::Spans {
            scrape_interval: sc.scrape_interval,
            warmup: sc.warmup,
            max_duration: sc.max_duration,
        },
    )
}

/// Parses scenario text into the file's structure (syntax, types, keys),
/// without validating values.
pub(crate) fn parse(file: &str, text: &str) -> Result<file::ScenarioFile, ScenarioError> {
    toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        let mut message = plain_types(e.message().trim());
        if message.starts_with("wanted exactly 1 element") {
            // An empty or doubled step table: serde's enum message names no key.
            message = format!(
                "a step needs exactly one of setWeight, pause, analysis, setCanaryScale ({message})"
            );
        }
        if let Some((m, hint)) = toml_words(&message) {
            return ScenarioError(Diagnostic::new(
                Location::at_offset(file, text, at),
                m,
                hint,
            ));
        }
        let hint = if message.starts_with("unknown field") {
            "remove the key or fix its spelling; docs/scenario.md lists every key"
        } else if message.starts_with("missing field") {
            "add the key; docs/scenario.md lists what each table needs"
        } else {
            "see docs/scenario.md for the format"
        };
        ScenarioError(Diagnostic::new(
            Location::at_offset(file, text, at),
            message,
            hint,
        ))
    })
}

/// A deserializer's message with the Rust type it expected (`expected
/// f64`, `expected i64`) said in the words of the file: a number, a whole
/// number. Every other message is returned as it is.
pub(crate) fn plain_types(message: &str) -> String {
    const WHOLE: [&str; 10] = [
        "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "usize", "isize",
    ];
    if let Some((head, ty)) = message.rsplit_once(", expected ") {
        let words = match ty {
            "f32" | "f64" => Some("a number"),
            _ if WHOLE.contains(&ty) => Some("a whole number"),
            _ => None,
        };
        if let Some(words) = words {
            return format!("{head}, expected {words}");
        }
    }
    message.to_string()
}

/// A TOML parser message that names no key or type the user wrote, in
/// words, with a hint; `None` for the others.
pub(crate) fn toml_words(message: &str) -> Option<(String, &'static str)> {
    (message == "u64 value was too large").then(|| {
        (
            "an integer larger than 9223372036854775807, the largest TOML holds".to_string(),
            "a larger seed can be written in quotes (seed = \"18446744073709551615\") or given with --seed",
        )
    })
}

/// Parses and validates scenario text. `file` is the name used in messages.
/// Pure: a policy that names `manifests` is an error here (use [`load_file`]
/// or [`load_with`]).
pub fn load_str(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let parsed = parse(file, text)?;
    validate::validate(file, parsed, None)
        .map(|(s, _)| s)
        .map_err(|e| ScenarioError(validate::diagnose(file, text, e)))
}

/// Parses and validates scenario text, reading the policies' manifests
/// through `source`.
pub fn load_with(
    file: &str,
    text: &str,
    source: &dyn ManifestSource,
) -> Result<Loaded, ScenarioError> {
    let parsed = parse(file, text)?;
    let (scenario, manifests) = validate::validate(file, parsed, Some(source))
        .map_err(|e| ScenarioError(validate::diagnose(file, text, e)))?;
    Ok(Loaded {
        scenario,
        manifests,
        text: text.to_string(),
    })
}

/// Reads a scenario file and the manifests its policies name (relative to
/// the file) through `files`, and validates them. Messages name the file as
/// given.
pub fn load_file(files: &dyn Files, path: &Path) -> Result<Scenario, ScenarioError> {
    load_file_with(files, path, &[]).map(|l| l.scenario)
}

/// As [`load_file`], keeping the manifests and the text for lint.
pub fn load_file_with_manifests(files: &dyn Files, path: &Path) -> Result<Loaded, ScenarioError> {
    load_file_with(files, path, &[])
}

/// Reads a scenario file, the bases it `extends` and the manifests its
/// policies name through `files`, applies the overrides, and validates the
/// result. Errors are located in the file that holds the key, or at the
/// override that caused them.
pub fn load_file_with(
    files: &dyn Files,
    path: &Path,
    overrides: &[Override],
) -> Result<Loaded, ScenarioError> {
    load_file_with_stdin(files, path, overrides, None)
}

/// Whether the file at `path`, with the bases it `extends`, is a scenario
/// file at all (valid TOML, known keys of the right types, every required
/// one present), without validating what the keys say. Errors are located
/// in the file that holds the key.
pub fn parse_file(files: &dyn Files, path: &Path) -> Result<(), ScenarioError> {
    let chain = extends::read_chain(files, path).map_err(ScenarioError)?;
    if chain.len() == 1 {
        return parse(&chain[0].label, &chain[0].text).map(|_| ());
    }
    let at = |p: &validate::Path| locate_key(&chain, &[], p);
    deserialize_merged(&extends::merged(&chain), &at).map(|_| ())
}

/// Where the key at `p` of a merged chain was written, with the text that
/// leads its message: the override that set it (`p` is the overridden key,
/// lies below it, or holds it), else the file of the chain that holds it.
fn locate_key(
    chain: &[extends::Source],
    keys: &[&Override],
    p: &validate::Path,
) -> (Location, String) {
    let written = p.to_string();
    let below = |a: &str, b: &str| {
        a == b || a.starts_with(&format!("{b}.")) || a.starts_with(&format!("{b}["))
    };
    let by_override =
        keys.iter().rev().copied().find(|o| {
            !written.is_empty() && (below(&written, &o.path) || below(&o.path, &written))
        });
    match by_override {
        Some(o) => (o.origin.clone(), format!("{}: ", o.text())),
        None => (extends::locate_in_chain(chain, p), String::new()),
    }
}

/// A merged chain's table as a scenario file, not yet validated.
fn deserialize_merged(
    table: &toml::Table,
    at: &dyn Fn(&validate::Path) -> (Location, String),
) -> Result<file::ScenarioFile, ScenarioError> {
    serde_path_to_error::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
        let p = validate::Path::parse(&e.path().to_string());
        let message = plain_types(e.into_inner().message().trim());
        let hint = if message.starts_with("unknown field") {
            // The unknown key is in the table (an override put it there):
            // it is no suggestion for itself.
            let written = p.to_string();
            let known: Vec<String> = overrides::leaf_paths(table)
                .into_iter()
                .filter(|c| *c != written && !c.starts_with(&format!("{written}.")))
                .collect();
            format!(
                "remove the key or fix its spelling; {}",
                overrides::nearest(&written, &known)
            )
        } else {
            "docs/scenario.md lists every key and its type".to_string()
        };
        let (location, prefix) = at(&p);
        let message = if p.to_string().is_empty() {
            format!("{prefix}{message}")
        } else {
            format!("{prefix}{p}: {message}")
        };
        ScenarioError(Diagnostic::new(location, message, hint))
    })
}

/// As [`load_file_with`]; a policy whose `manifests` path is `-` (say,
/// through the override `policies[2].manifests=["-"]`) reads `stdin`
/// instead, so its errors point into that stream.
pub fn load_file_with_stdin(
    files: &dyn Files,
    path: &Path,
    overrides: &[Override],
    stdin: Option<&SourceFile>,
) -> Result<Loaded, ScenarioError> {
    let chain = extends::read_chain(files, path).map_err(ScenarioError)?;
    let label = chain[0].label.clone();
    let source = DirSource::for_scenario(files, path).with_stdin(stdin.cloned());
    let (keys, fields): (Vec<&Override>, Vec<&Override>) =
        overrides.iter().partition(|o| !o.is_policy());
    let mut loaded = if chain.len() == 1 && keys.is_empty() {
        load_with(&label, &chain[0].text, &source)?
    } else {
        let mut table = extends::merged(&chain);
        for o in &keys {
            overrides::apply_to_table(&mut table, o).map_err(ScenarioError)?;
        }
        let at = |p: &validate::Path| locate_key(&chain, &keys, p);
        let parsed = deserialize_merged(&table, &at)?;
        let (scenario, manifests) = validate::validate(&label, parsed, Some(&source))
            .map_err(|e| ScenarioError(validate::diagnose_by(e, at)))?;
        Loaded {
            scenario,
            manifests,
            text: chain[0].text.clone(),
        }
    };
    for o in fields {
        overrides::apply_to_policy(&mut loaded.scenario.policies, o).map_err(ScenarioError)?;
    }
    Ok(loaded)
}
