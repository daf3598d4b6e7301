//! Argo Rollouts manifests: the user's own `Rollout`, `AnalysisTemplate` and
//! `ClusterAnalysisTemplate` YAML, read unchanged into the crate's model.
//!
//! Flow: [`read_path`] gathers [`SourceFile`]s (a file, or a directory's
//! `*.yaml`/`*.yml` sorted by name) through the caller's
//! [`crate::vfs::Files`]; [`load`] parses every document of every file with
//! serde-saphyr into the structs of [`api`] (Argo's field names, each value
//! with its line and column), then `convert` builds
//! [`crate::analysis::AnalysisTemplate`]s and, from a Rollout, a
//! [`crate::rollout::policy::Policy`]. Out comes a [`ManifestSet`]: the
//! model, a location table ([`TemplateSites`], [`RolloutSites`]) so lint and
//! runtime errors can point at YAML lines, the fields canarysim does not
//! model (as notes, never dropped silently) and the problems that keep a
//! policy from being simulated (an unmodelled provider, a setWeight Argo
//! rejects). Missing templates and unresolved args are not problems here:
//! Argo accepts such manifests and its controller then leaves the Rollout
//! `InvalidSpec` (`crate::rollout::validate`), which the simulation does too.
//!
//! Neighbours: `crate::scenario` resolves a policy's `manifests = [...]`
//! through this module; `crate::lint` reads the sets and their sites.

pub mod api;
mod convert;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use crate::analysis::{AnalysisTemplate, TemplateKind};
use crate::diag::{Diagnostic, Location};
use crate::rollout::policy::Policy;
use crate::vfs::{FileKind, Files};

/// A manifest file's name (as the user would write it) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The name used in messages, e.g. `scenarios/argo/seed/rollout.yaml`.
    pub label: String,
    /// The file's contents.
    pub text: String,
}

/// Why manifests could not be read: a file that cannot be read, or YAML that
/// does not parse into Kubernetes objects. Located at the line and column.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(pub Diagnostic);

/// A named place in a manifest: a template's arg, a step's templateName.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The name written there.
    pub name: String,
    /// Where it stands.
    pub at: Location,
}

/// Where a text value (a query, a condition) stands: its location and the
/// byte offset of its first character in the file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextSite {
    /// Where the value begins.
    pub at: Location,
    /// Byte offset of the value in its file's text.
    pub offset: usize,
}

/// Where a template metric's parts stand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricSites {
    /// The metric's name.
    pub name: String,
    /// Where the metric begins (its `name` value).
    pub at: Option<Location>,
    /// Scalar fields by Argo name (`interval`, `count`, `failureLimit`, `provider`, …).
    pub fields: BTreeMap<String, Location>,
    /// `provider.prometheus.query`.
    pub query: Option<TextSite>,
    /// `provider.judge.canaryQuery`.
    pub canary_query: Option<TextSite>,
    /// `provider.judge.baselineQuery`.
    pub baseline_query: Option<TextSite>,
    /// `successCondition`.
    pub success_condition: Option<TextSite>,
    /// `failureCondition`.
    pub failure_condition: Option<TextSite>,
    /// The Job container's `command`.
    pub job_command: Option<Location>,
}

impl MetricSites {
    /// The location of a field named as [`crate::analysis::MetricError::field`]
    /// names it, falling back to the provider and then the metric.
    pub fn field(&self, field: &str) -> Option<Location> {
        // "interval must be specified when count > 1" is about a count
        // without an interval: point at the count.
        if field == "interval"
            && !self.fields.contains_key("interval")
            && let Some(l) = self.fields.get("count")
        {
            return Some(l.clone());
        }
        let mut key = field;
        loop {
            if let Some(l) = self.fields.get(key) {
                return Some(l.clone());
            }
            match key.rsplit_once('.') {
                Some((head, _)) => key = head,
                None => break,
            }
        }
        if field.starts_with("provider.job")
            && let Some(l) = &self.job_command
        {
            return Some(l.clone());
        }
        self.at.clone()
    }
}

/// Where a template's parts stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSites {
    /// The template's `metadata.name` (or the document's start).
    pub at: Location,
    /// `spec.args[]` by name.
    pub args: Vec<Site>,
    /// `spec.metrics[]`, in order.
    pub metrics: Vec<MetricSites>,
}

/// A template read from YAML.
#[derive(Debug, Clone)]
pub struct TemplateManifest {
    /// The model.
    pub template: AnalysisTemplate,
    /// Where its parts stand.
    pub sites: TemplateSites,
}

/// Where a step (or the background analysis) stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSites {
    /// The step's first key.
    pub at: Location,
    /// `templates[].templateName` values.
    pub templates: Vec<Site>,
    /// `args[].name` values.
    pub args: Vec<Site>,
}

/// Where a Rollout's parts stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutSites {
    /// `metadata.name` (or the document's start).
    pub at: Location,
    /// One per step, in order.
    pub steps: Vec<StepSites>,
    /// `canary.analysis`, if any.
    pub background: Option<StepSites>,
    /// Shape fields by name (`replicas`, `canaryService`, `stableService`,
    /// `stableIngress`, `namespace`, `container`, `image`, `requests.cpu`, …).
    pub fields: BTreeMap<String, Location>,
}

/// The Rollout's fixed parts, to compare with the scenario's `[rollout]` and `[pod]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ManifestShape {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// `spec.replicas` (Argo's default 1).
    pub replicas: i64,
    /// `canaryService`.
    pub canary_service: Option<String>,
    /// `stableService`.
    pub stable_service: Option<String>,
    /// `trafficRouting.nginx.stableIngress`.
    pub ingress: Option<String>,
    /// The first container's name.
    pub container: Option<String>,
    /// The first container's image (the new version).
    pub image: Option<String>,
    /// CPU request, millicores.
    pub cpu_request: Option<u64>,
    /// CPU limit, millicores.
    pub cpu_limit: Option<u64>,
    /// Memory request, bytes.
    pub memory_request: Option<f64>,
    /// Memory limit, bytes.
    pub memory_limit: Option<f64>,
}

/// A Rollout read from YAML.
#[derive(Debug, Clone)]
pub struct RolloutManifest {
    /// Its canary strategy as a policy named after the Rollout, without
    /// templates (the set's templates are added by [`ManifestSet::policy`]).
    pub policy: Policy,
    /// Its name, size, services and resources.
    pub shape: ManifestShape,
    /// Where its parts stand.
    pub sites: RolloutSites,
}

/// Everything read from a set of manifest files.
#[derive(Debug, Clone, Default)]
pub struct ManifestSet {
    /// The files, in the order read.
    pub files: Vec<SourceFile>,
    /// The Rollouts found.
    pub rollouts: Vec<RolloutManifest>,
    /// The AnalysisTemplates and ClusterAnalysisTemplates found.
    pub templates: Vec<TemplateManifest>,
    /// Fields and objects canarysim does not model (nothing is dropped silently).
    pub notes: Vec<Diagnostic>,
    /// What keeps these manifests from being simulated as Argo would run
    /// them: values Argo's validation rejects, providers or steps canarysim
    /// does not model, missing names.
    pub problems: Vec<Diagnostic>,
}

impl ManifestSet {
    /// The templates, as the cluster would hold them.
    pub fn analysis_templates(&self) -> Vec<AnalysisTemplate> {
        self.templates.iter().map(|t| t.template.clone()).collect()
    }

    /// The template of that name and kind.
    pub fn template(&self, name: &str, kind: TemplateKind) -> Option<&TemplateManifest> {
        self.templates
            .iter()
            .find(|t| t.template.name == name && t.template.kind == kind)
    }

    /// The file with this label.
    pub fn file(&self, label: &str) -> Option<&SourceFile> {
        self.files.iter().find(|f| f.label == label)
    }

    /// The policy of the set's only Rollout, with every template of the set
    /// and the unmodelled fields as warnings. `at` locates the error when
    /// there is no Rollout or more than one.
    pub fn policy(&self, at: &Location) -> Result<Policy, Diagnostic> {
        match self.rollouts.as_slice() {
            [one] => {
                let mut p = one.policy.clone();
                p.templates = self.analysis_templates();
                p.warnings = self.notes.clone();
                Ok(p)
            }
            [] => Err(Diagnostic::new(
                at.clone(),
                format!("no Rollout in {}", self.describe_files()),
                "add the Rollout's YAML, or give the policy its own `steps`",
            )),
            [_, second, ..] => Err(Diagnostic::new(
                second.sites.at.clone(),
                format!(
                    "{} Rollouts in {}; a policy takes exactly one",
                    self.rollouts.len(),
                    self.describe_files()
                ),
                "give each Rollout its own directory and policy",
            )),
        }
    }

    fn describe_files(&self) -> String {
        match self.files.as_slice() {
            [] => "no files".to_string(),
            [one] => one.label.clone(),
            [first, rest @ ..] => format!("{} and {} more files", first.label, rest.len()),
        }
    }
}

/// Parses every document of every file and converts what canarysim reads.
/// Only YAML that does not parse (or has a value of the wrong type) is an
/// error; everything else is reported in the set's `notes` and `problems`.
pub fn load(files: Vec<SourceFile>) -> Result<ManifestSet, ManifestError> {
    let mut set = ManifestSet::default();
    for file in &files {
        let docs: Vec<Option<api::Document>> =
            serde_saphyr::from_multiple(&file.text).map_err(|e| yaml_error(file, &e))?;
        for doc in docs.into_iter().flatten() {
            convert::document(&mut set, file, &doc);
        }
    }
    set.files = files;
    Ok(set)
}

/// How the message of a YAML syntax (or type) error begins.
pub const YAML_ERROR_PREFIX: &str = "YAML: ";

fn yaml_error(file: &SourceFile, e: &serde_saphyr::Error) -> ManifestError {
    let at = e.location().map_or_else(
        || Location::start_of(&file.label),
        |l| Location {
            file: file.label.clone(),
            line: l.line().max(1) as usize,
            column: l.column().max(1) as usize,
        },
    );
    let full = e.without_snippet().to_string();
    let message = match full.rfind(" at line ") {
        Some(i) if full[i..].contains(", column ") => full[..i].to_string(),
        _ => full,
    };
    if let Some(budget) = message.strip_prefix("budget breached: ") {
        // The parser's resource guard: say which limit in words.
        let (what, hint) = budget_words(budget);
        return ManifestError(Diagnostic::new(
            at,
            format!("{YAML_ERROR_PREFIX}{what}"),
            hint,
        ));
    }
    if let Some(expected) = type_words(&message) {
        // Valid YAML, a value of the wrong type: say what the field takes
        // and what is there, not the parser's name for the type.
        let found = scalar_at(&file.text, &at);
        let what = match found {
            Some(v) => format!("{YAML_ERROR_PREFIX}expected {expected}, found {v}"),
            None => format!("{YAML_ERROR_PREFIX}expected {expected}"),
        };
        return ManifestError(Diagnostic::new(
            at,
            what,
            "the field has another type in the Argo Rollouts and Kubernetes APIs; \
             see their reference for it",
        ));
    }
    ManifestError(Diagnostic::new(
        at,
        format!("{YAML_ERROR_PREFIX}{message}"),
        "the file must hold valid YAML documents (Kubernetes objects separated by ---); check the indentation at and above this point",
    ))
}

/// What a field takes, from the parser's message for a value of the wrong
/// type (`invalid i64`, `expected sequence start`); `None` for a syntax
/// error.
fn type_words(message: &str) -> Option<&'static str> {
    let words = match message {
        "invalid i8" | "invalid i16" | "invalid i32" | "invalid i64" | "invalid i128"
        | "invalid u8" | "invalid u16" | "invalid u32" | "invalid u64" | "invalid u128"
        | "invalid isize" | "invalid usize" => "a whole number (an integer in range)",
        "invalid f32" | "invalid f64" => "a number",
        "invalid bool" => "true or false",
        "expected string scalar" => "a single value (a string or number), not a list or map",
        "expected sequence start" => "a list (items on lines starting with `- `)",
        "expected mapping start" => "a map (`key: value` lines)",
        _ if message.starts_with("invalid boolean") => "true or false",
        _ if message.starts_with("invalid type: ")
            && message.ends_with("expected an integer or a string") =>
        {
            "a whole number or a string"
        }
        _ => return None,
    };
    Some(words)
}

/// The scalar written at `at` in `text`, as the file has it (up to the end
/// of the line, a comment, or a flow collection's `,` `]` `}`), for a
/// message; `None` when there is none or it is too long to quote.
fn scalar_at(text: &str, at: &Location) -> Option<String> {
    let line = text.lines().nth(at.line.checked_sub(1)?)?;
    let rest: String = line.chars().skip(at.column.saturating_sub(1)).collect();
    let end = rest.find([',', ']', '}', '#']).unwrap_or(rest.len());
    let mut v = rest[..end].trim();
    // Some errors point at the key whose value has the wrong type.
    if let Some((_, value)) = v.split_once(": ") {
        v = value.trim();
    }
    let scalar = !v.is_empty() && !v.starts_with(['[', '{', '-', '&', '*', '|', '>']);
    (scalar && v.chars().count() <= 40).then(|| v.to_string())
}

/// A YAML parser budget (`Documents { documents: 1025 }`) in words, with a hint.
fn budget_words(budget: &str) -> (String, &'static str) {
    // What follows the limit (` at line 1, column 32 (defined at …)`) is
    // the parser's own location, already given as the error's.
    let budget = budget.split(" at line ").next().unwrap_or(budget).trim();
    let name = budget.split([' ', '{']).next().unwrap_or(budget);
    match name {
        "Documents" => (
            "more than 1024 YAML documents in one file".to_string(),
            "split the manifests into several files, or give a directory of them",
        ),
        "Depth" | "Nesting" => (
            format!("YAML nested too deeply ({budget})"),
            "Kubernetes objects are a few levels deep; look for runaway [ or { or indentation",
        ),
        "Aliases" | "AliasExpansions" | "Anchors" => (
            format!("too many YAML aliases or anchors ({budget})"),
            "manifests do not need aliases; write the values out",
        ),
        "Nodes" | "Events" => (
            match budget
                .split(|c: char| !c.is_ascii_digit())
                .find(|d| !d.is_empty())
            {
                Some(n) => {
                    format!("the YAML expands to {n} values or more, past what canarysim reads")
                }
                None => format!("the YAML expands to more values than canarysim reads ({budget})"),
            },
            "aliases that repeat aliases multiply; manifests do not need them: write the values out",
        ),
        _ => (
            format!("the YAML is larger than canarysim reads ({budget})"),
            "split the manifests into several smaller files",
        ),
    }
}

/// The manifest files a path names: the file itself, or a directory's
/// `*.yaml` and `*.yml` files sorted by name (not recursive), read through
/// `files`. `label` is the path as the user would write it; file labels
/// extend it.
pub fn read_path(
    files: &dyn Files,
    path: &Path,
    label: &str,
) -> Result<Vec<SourceFile>, ManifestError> {
    let unreadable = |what: String| {
        ManifestError(Diagnostic::new(
            Location::start_of(label),
            what,
            "give a YAML file or a directory holding *.yaml files",
        ))
    };
    let kind = files
        .kind(path)
        .map_err(|e| unreadable(format!("cannot read: {e}")))?;
    if kind == FileKind::Other {
        return Err(unreadable(
            "cannot read: is not a regular file or a directory (a FIFO, a device or a socket)"
                .to_string(),
        ));
    }
    if kind == FileKind::File {
        let text = files
            .read_to_string(path)
            .map_err(|e| unreadable(format!("cannot read: {e}")))?;
        return Ok(vec![SourceFile {
            label: label.to_string(),
            text,
        }]);
    }
    let entries = files
        .list_dir(path)
        .map_err(|e| unreadable(format!("cannot read directory: {e}")))?;
    let mut names: Vec<(String, OsString)> = entries
        .into_iter()
        .map(|entry| (entry.to_string_lossy().into_owned(), entry))
        .filter(|(name, entry)| {
            (name.ends_with(".yaml") || name.ends_with(".yml")) && files.is_file(&path.join(entry))
        })
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(unreadable("no *.yaml or *.yml files here".to_string()));
    }
    let dir_label = if label.ends_with('/') {
        label.to_string()
    } else {
        format!("{label}/")
    };
    names
        .into_iter()
        .map(|(name, entry)| {
            let file_label = format!("{dir_label}{name}");
            let text = files.read_to_string(&path.join(entry)).map_err(|e| {
                ManifestError(Diagnostic::new(
                    Location::start_of(&file_label),
                    format!("cannot read: {e}"),
                    "check the file's permissions and encoding (UTF-8)",
                ))
            })?;
            Ok(SourceFile {
                label: file_label,
                text,
            })
        })
        .collect()
}

/// The byte offset of a 1-based line and character column in `text`.
pub fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let rest = &text[start..];
    start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i)
}
