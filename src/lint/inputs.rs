//! From the paths on the command line to subjects to check.
//!
//! A `.toml` path is a scenario: each of its policies that uses templates
//! is checked, against the scenario's simulated cluster. A directory of
//! YAML is one manifest set; YAML files named directly form another. A
//! manifest set is checked against the scenario given with `--scenario`,
//! else against a scenario that names it (looked for beside it and up to
//! three directories above), else without the series check. A set found
//! through a policy that names other manifests beside it (shared templates
//! in a sibling directory) is read with them, and reported on alone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::checks::{Subject, check};
use super::series::Probe;
use super::{Finding, Kind, LintOptions, LintReport, Severity};
use crate::diag::{Diagnostic, Location};
use crate::manifest::{self, ManifestSet, SourceFile, StepSites};
use crate::rollout::policy::{Policy, Step};
use crate::scenario::{self, Loaded};
use crate::vfs::Files;

/// Lints every path, reading through `files`; see the module documentation.
pub fn lint_paths(files: &dyn Files, paths: &[PathBuf], opts: &LintOptions) -> LintReport {
    let mut out: Vec<Finding> = Vec::new();
    let explicit = opts
        .scenario
        .as_ref()
        .and_then(|p| match read_scenario(files, p) {
            Ok(l) => Some(l),
            Err(f) => {
                out.push(f);
                None
            }
        });
    let mut loose: Vec<SourceFile> = Vec::new();
    let mut sets: Vec<(PathBuf, Vec<SourceFile>)> = Vec::new();
    for path in paths {
        let label = path.display().to_string();
        let unreadable = |message: String, hint: &str| {
            Finding::new(
                Severity::Error,
                Kind::Unreadable,
                Diagnostic::new(Location::start_of(&label), message, hint),
            )
        };
        if files.is_dir(path) {
            let (yaml, toml) = dir_files(files, path);
            if !yaml.is_empty() {
                match manifest::read_path(files, path, &label) {
                    Ok(read) => sets.push((path.clone(), read)),
                    Err(e) => out.push(Finding::new(Severity::Error, Kind::Unreadable, e.0)),
                }
            }
            for t in &toml {
                lint_scenario(files, t, opts, &mut out);
            }
            if yaml.is_empty() && toml.is_empty() {
                out.push(unreadable(
                    "no scenario (*.toml) or manifest (*.yaml, *.yml) files here".into(),
                    "give scenario files, manifest files or directories holding them",
                ));
            }
        } else if !files.exists(path) {
            out.push(unreadable(
                "no such file or directory".into(),
                "give scenario files, manifest files or directories holding them",
            ));
        } else if label.ends_with(".toml") {
            lint_scenario(files, path, opts, &mut out);
        } else if label.ends_with(".yaml")
            || label.ends_with(".yml")
            || label == crate::check::stdin::STDIN_LABEL
        {
            match manifest::read_path(files, path, &label) {
                Ok(read) => loose.extend(read),
                Err(e) => out.push(Finding::new(Severity::Error, Kind::Unreadable, e.0)),
            }
        } else {
            out.push(unreadable(
                "not a scenario (.toml) or a manifest (.yaml, .yml)".into(),
                "give scenario files, manifest files or directories holding them",
            ));
        }
    }
    let is_yaml = |p: &&PathBuf| {
        let l = p.display().to_string();
        l.ends_with(".yaml") || l.ends_with(".yml") || l == crate::check::stdin::STDIN_LABEL
    };
    if let Some(first) = paths.iter().find(|p| !files.is_dir(p) && is_yaml(p))
        && !loose.is_empty()
    {
        let dir = first.parent().map(Path::to_path_buf).unwrap_or_default();
        sets.push((dir, loose));
    }
    for (dir, set) in sets {
        lint_manifests(files, &dir, set, opts, explicit.as_ref(), &mut out);
    }
    LintReport { findings: out }.finish()
}

fn dir_files(files: &dyn Files, dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut yaml = Vec::new();
    let mut toml = Vec::new();
    if let Ok(entries) = files.list_dir(dir) {
        for e in entries {
            let p = dir.join(&e);
            if !files.is_file(&p) {
                continue;
            }
            let name = e.to_string_lossy();
            if name.ends_with(".yaml") || name.ends_with(".yml") {
                yaml.push(p);
            } else if name.ends_with(".toml") {
                toml.push(p);
            }
        }
    }
    yaml.sort();
    toml.sort();
    (yaml, toml)
}

/// Reads a scenario; a file that cannot be read or does not parse (TOML or
/// its manifests' YAML) is unreadable, one that does not validate is an error.
fn read_scenario(files: &dyn Files, path: &Path) -> Result<Loaded, Finding> {
    let label = path.display().to_string();
    let text = files.read_to_string(path).map_err(|e| {
        Finding::new(
            Severity::Error,
            Kind::Unreadable,
            Diagnostic::new(
                Location::start_of(&label),
                format!("cannot read scenario: {e}"),
                "give the path of a scenario .toml file",
            ),
        )
    })?;
    let table = toml::from_str::<toml::Table>(&text);
    if let Err(e) = &table {
        let at = e.span().map_or(0, |s| s.start);
        let message = e.message().trim();
        let (message, hint) = scenario::toml_words(message).unwrap_or_else(|| {
            (
                scenario::plain_types(message),
                "the scenario must be valid TOML; docs/scenario.md describes it",
            )
        });
        return Err(Finding::new(
            Severity::Error,
            Kind::Unreadable,
            Diagnostic::new(
                Location::at_offset(&label, &text, at),
                format!("TOML: {message}"),
                hint,
            ),
        ));
    }
    // Wrong types, unknown or missing keys: the file is not a scenario at
    // all, which (like a syntax error) is exit code 2, not a finding. A file
    // that `extends` a base is read with its bases, as `run` reads it.
    let extends = table.is_ok_and(|t| t.contains_key("extends"));
    let parsed = if extends {
        scenario::parse_file(files, path)
    } else {
        scenario::parse(&label, &text).map(|_| ())
    };
    if let Err(e) = parsed {
        return Err(Finding::new(Severity::Error, Kind::Unreadable, e.0));
    }
    let loaded = if extends {
        scenario::load_file_with_manifests(files, path)
    } else {
        let source = scenario::DirSource::for_scenario(files, path);
        scenario::load_with(&label, &text, &source)
    };
    loaded.map_err(|e| {
        let kind = if e.0.message.starts_with(manifest::YAML_ERROR_PREFIX) {
            Kind::Unreadable
        } else {
            Kind::Scenario
        };
        Finding::new(Severity::Error, kind, e.0)
    })
}

fn toml_sites(loaded: &Loaded, index: usize, policy: &Policy) -> Vec<StepSites> {
    policy
        .steps
        .iter()
        .enumerate()
        .map(|(j, step)| {
            let base = format!("policies[{index}].steps[{j}]");
            let mut site = StepSites {
                at: loaded.locate(&base),
                templates: Vec::new(),
                args: Vec::new(),
            };
            if let Step::Analysis(a) = step {
                for (k, t) in a.templates.iter().enumerate() {
                    site.templates.push(manifest::Site {
                        name: t.name.clone(),
                        at: loaded.locate(&format!("{base}.analysis.templates[{k}].templateName")),
                    });
                }
                for (k, arg) in a.args.iter().enumerate() {
                    site.args.push(manifest::Site {
                        name: arg.name.clone(),
                        at: loaded.locate(&format!("{base}.analysis.args[{k}].name")),
                    });
                }
            }
            site
        })
        .collect()
}

fn uses_analysis(p: &Policy) -> bool {
    p.background.is_some() || p.steps.iter().any(|s| matches!(s, Step::Analysis(_)))
}

fn lint_scenario(files: &dyn Files, path: &Path, opts: &LintOptions, out: &mut Vec<Finding>) {
    let loaded = match read_scenario(files, path) {
        Ok(l) => l,
        Err(f) => {
            out.push(f);
            return;
        }
    };
    let sc = &loaded.scenario;
    if let Some(message) = batched_near_saturation(sc) {
        out.push(Finding::new(
            Severity::Note,
            Kind::Info,
            Diagnostic::new(
                loaded.locate("simulation.traffic_model"),
                message,
                "the batched model's waits are stationary below saturation and a fluid above it; \
                 check the verdicts against traffic_model = \"per-request\" (docs/scenario.md)",
            ),
        ));
    }
    let seed = opts.seed.unwrap_or(sc.seed);
    let empty = ManifestSet::default();
    for (index, policy) in sc.policies.iter().enumerate() {
        let pm = loaded.manifests_of(&policy.name);
        let set = pm.map_or(&empty, |m| &m.set);
        if pm.is_none() && !uses_analysis(policy) {
            continue;
        }
        let (steps, background) = match set.rollouts.first() {
            Some(r) => (r.sites.steps.clone(), r.sites.background.clone()),
            None => (toml_sites(&loaded, index, policy), None),
        };
        let probe = needs_probe(set).then(|| Probe::run(sc, Some(policy), opts.probe, seed));
        let subject = Subject {
            set,
            policy: Some(policy),
            steps: &steps,
            background: background.as_ref(),
            fallback: loaded.locate(&format!("policies[{index}]")),
            probe: probe.as_ref(),
        };
        check(&subject, out);
        if let Some(pm) = pm {
            for w in &pm.shape_warnings {
                out.push(Finding::new(Severity::Warning, Kind::Shape, w.clone()));
            }
        }
    }
}

/// Whether any template has a query to check against the cluster.
fn needs_probe(set: &ManifestSet) -> bool {
    set.templates.iter().any(|t| {
        t.template
            .spec
            .metrics
            .iter()
            .any(|m| m.provider.prometheus.is_some() || m.provider.judge.is_some())
    })
}

fn canonical_files(files: &dyn Files, labels: impl Iterator<Item = String>) -> BTreeSet<PathBuf> {
    labels
        .filter_map(|l| files.canonicalize(Path::new(&l)).ok())
        .collect()
}

/// A scenario found for bare manifests ([`discover`]).
struct Discovered {
    loaded: Loaded,
    /// How it was chosen, for the note.
    how: String,
    /// The other manifest files of the policy that names the given ones
    /// (a sibling directory of shared templates): Argo would see them in
    /// the same namespace, so they are read with the given files.
    context: Vec<SourceFile>,
}

/// The scenario to check bare manifests against, with how it was chosen:
/// one in `dir` or up to three directories above that names all of `files`
/// among a policy's manifests; failing that, the nearest one there whose
/// `[rollout] name` is the manifests' Rollout's.
fn discover(
    files: &dyn Files,
    dir: &Path,
    set: &[SourceFile],
    rollout: Option<&str>,
) -> Option<Discovered> {
    let wanted = canonical_files(files, set.iter().map(|f| f.label.clone()));
    if wanted.is_empty() {
        return None;
    }
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let mut same_rollout: Vec<Loaded> = Vec::new();
    for d in std::iter::successors(Some(dir.to_path_buf()), |d| Some(up(d))).take(8) {
        if seen.len() == 4 {
            break;
        }
        let on_disk = if d.as_os_str().is_empty() {
            Path::new(".")
        } else {
            d.as_path()
        };
        let Ok(canon) = files.canonicalize(on_disk) else {
            continue;
        };
        if !seen.insert(canon) {
            continue;
        }
        let (_, tomls) = dir_files(files, on_disk);
        for t in tomls {
            let t = if d.as_os_str().is_empty() {
                PathBuf::from(t.file_name().unwrap_or_default())
            } else {
                t
            };
            let Ok(loaded) = scenario::load_file_with_manifests(files, &t) else {
                continue;
            };
            let hit = loaded.manifests.iter().find(|pm| {
                let theirs = canonical_files(files, pm.set.files.iter().map(|f| f.label.clone()));
                wanted.is_subset(&theirs)
            });
            if let Some(pm) = hit {
                let how = format!("scenario {} (policy {})", loaded.scenario.file, pm.policy);
                let context = pm
                    .set
                    .files
                    .iter()
                    .filter(|f| {
                        files
                            .canonicalize(Path::new(&f.label))
                            .is_ok_and(|c| !wanted.contains(&c))
                    })
                    .cloned()
                    .collect();
                return Some(Discovered {
                    loaded,
                    how,
                    context,
                });
            }
            if rollout == Some(loaded.scenario.rollout.name.as_str()) {
                same_rollout.push(loaded);
            }
        }
    }
    let others = same_rollout.len().saturating_sub(1);
    same_rollout.into_iter().next().map(|loaded| {
        let l = &loaded;
        let mut how = format!(
            "scenario {}, which models the Rollout {}",
            l.scenario.file, l.scenario.rollout.name
        );
        if others > 0 {
            let also = if others == 1 {
                "another scenario models it too".to_string()
            } else {
                format!("{others} other scenarios model it too")
            };
            how.push_str(&format!(
                " (the nearest, first by name; {also}; --scenario picks one)"
            ));
        }
        Discovered {
            loaded,
            how,
            context: Vec::new(),
        }
    })
}

/// The directory above `d` as a path a user reads: `argo/trend` → `argo`
/// → `` (here) → `..` → `../..`.
fn up(d: &Path) -> PathBuf {
    let dots = d.components().all(|c| c == std::path::Component::ParentDir);
    match d.parent() {
        Some(p) if !dots && !d.as_os_str().is_empty() => p.to_path_buf(),
        _ if d.as_os_str().is_empty() => PathBuf::from(".."),
        _ => d.join(".."),
    }
}

fn lint_manifests(
    files: &dyn Files,
    dir: &Path,
    read: Vec<SourceFile>,
    opts: &LintOptions,
    explicit: Option<&Loaded>,
    out: &mut Vec<Finding>,
) {
    let first = read.first().map_or_else(
        || Location::start_of(&dir.display().to_string()),
        |f| Location::start_of(&f.label),
    );
    let given = read.clone();
    let mut set = match manifest::load(read) {
        Ok(s) => s,
        Err(e) => {
            out.push(Finding::new(Severity::Error, Kind::Unreadable, e.0));
            return;
        }
    };
    let discovered = match explicit {
        Some(_) => None,
        None => discover(
            files,
            dir,
            &set.files,
            set.rollouts.first().map(|r| r.shape.name.as_str()),
        ),
    };
    // The policy that names these manifests may name others beside them
    // (shared templates in a sibling directory): read them too, so that
    // what they define is not reported missing, and report only on the
    // files given.
    let context: Vec<String> = discovered
        .as_ref()
        .map(|d| d.context.iter().map(|f| f.label.clone()).collect())
        .unwrap_or_default();
    if let Some(d) = discovered.as_ref().filter(|d| !d.context.is_empty()) {
        let mut with = given;
        with.extend(d.context.iter().cloned());
        match manifest::load(with) {
            Ok(s) => set = s,
            Err(e) => {
                out.push(Finding::new(Severity::Error, Kind::Unreadable, e.0));
                return;
            }
        }
        out.push(Finding::new(
            Severity::Note,
            Kind::Info,
            Diagnostic::new(
                first.clone(),
                format!(
                    "read with {}, which {} names beside these manifests",
                    context.join(", "),
                    d.how
                ),
                "only the files given are reported on; lint the scenario to check them all",
            ),
        ));
    }
    let from = out.len();
    let cluster: Option<(&Loaded, String)> = match (explicit, &discovered) {
        (Some(l), _) => Some((l, format!("--scenario {}", l.scenario.file))),
        (None, Some(d)) => Some((&d.loaded, d.how.clone())),
        (None, None) => None,
    };
    let mut policies: Vec<(Policy, Vec<StepSites>, Option<StepSites>)> = set
        .rollouts
        .iter()
        .map(|r| {
            let mut p = r.policy.clone();
            p.templates = set.analysis_templates();
            (p, r.sites.steps.clone(), r.sites.background.clone())
        })
        .collect();
    if policies.len() > 1 {
        out.push(Finding::new(
            Severity::Error,
            Kind::Invalid,
            Diagnostic::new(
                set.rollouts[1].sites.at.clone(),
                format!("{} Rollouts in one manifest set", set.rollouts.len()),
                "a policy takes exactly one Rollout; give each its own directory",
            ),
        ));
    }
    if policies.is_empty() {
        policies.push((Policy::new("templates", Vec::new()), Vec::new(), None));
    }
    let has_rollout = !set.rollouts.is_empty();
    let probe_wanted = needs_probe(&set);
    if probe_wanted {
        let (message, hint) = match &cluster {
            Some((l, what)) => (
                format!(
                    "selectors checked against the simulated cluster of {what}, {} into the rollout",
                    opts.probe
                ),
                format!(
                    "the series are those listed in docs/scenario.md, with {}'s service and pods",
                    l.scenario.name
                ),
            ),
            None => (
                "selectors not checked against simulated series: no scenario names these manifests"
                    .to_string(),
                "lint the scenario that names them, or pass --scenario FILE".to_string(),
            ),
        };
        out.push(Finding::new(
            Severity::Note,
            Kind::Info,
            Diagnostic::new(first.clone(), message, hint),
        ));
    }
    for (policy, steps, background) in &policies {
        let probe = match (&cluster, probe_wanted) {
            (Some((l, _)), true) => {
                let sc = &l.scenario;
                let seed = opts.seed.unwrap_or(sc.seed);
                Some(Probe::run(
                    sc,
                    has_rollout.then_some(policy),
                    opts.probe,
                    seed,
                ))
            }
            _ => None,
        };
        let subject = Subject {
            set: &set,
            policy: has_rollout.then_some(policy),
            steps,
            background: background.as_ref(),
            fallback: first.clone(),
            probe: probe.as_ref(),
        };
        check(&subject, out);
        if let (Some((l, _)), Some(r)) = (&cluster, set.rollouts.first()) {
            for w in scenario::shape_warnings(r, &l.scenario) {
                out.push(Finding::new(Severity::Warning, Kind::Shape, w));
            }
        }
    }
    if !context.is_empty() {
        let mine = out.split_off(from);
        out.extend(
            mine.into_iter()
                .filter(|f| !context.contains(&f.diagnostic.location.file)),
        );
    }
}

/// A batched scenario whose pods would run at 90 % of their workers or more
/// at full traffic on either build, where the batched model's waits are
/// least faithful (docs/scenario.md, "Where it is not faithful").
fn batched_near_saturation(sc: &crate::scenario::Scenario) -> Option<String> {
    if !matches!(
        sc.traffic_model,
        crate::scenario::TrafficModel::Batched { .. }
    ) {
        return None;
    }
    let peak = sc.traffic.rate * (1.0 + sc.traffic.daily.map_or(0.0, |d| d.amplitude));
    let total: f64 = sc.traffic.mix.iter().sum();
    let per_pod = peak / f64::from(sc.rollout.replicas.max(1));
    let worst = sc
        .versions
        .iter()
        .map(|v| {
            let es: f64 = sc
                .traffic
                .mix
                .iter()
                .zip(&v.latency)
                .map(|(m, l)| m / total * l.mean())
                .sum();
            per_pod * es / f64::from(v.workers)
        })
        .fold(0.0, f64::max);
    (worst >= 0.9).then(|| {
        format!(
            "with traffic_model = \"batched\", pods run at {:.0}% of their workers at full traffic",
            worst * 100.0
        )
    })
}
