//! From the YAML structs of [`super::api`] to the crate's model, with the
//! location of every part that lint or a runtime error may point at.
//!
//! Nothing here fails: a value canarysim cannot take is a *problem* (Argo's
//! validation would reject it, or canarysim does not model it) and a field it
//! does not read is a *note*; both go into the [`ManifestSet`] with their
//! file, line and column.
//!
//! [`document`] sorts one YAML document by kind and collects what the parts
//! record in their shared context (`Cx`):
//! - [`template`]: an AnalysisTemplate or ClusterAnalysisTemplate, its args
//!   and metrics;
//! - [`provider`]: a metric's provider (prometheus, job, judge; the rest are
//!   problems);
//! - [`rollout`]: a Rollout's pod template, Services and canary strategy,
//!   into a [`crate::rollout::policy::Policy`] and a [`super::ManifestShape`];
//! - [`step`]: the canary steps and the analysis references of steps and
//!   background analysis.
//!
//! Neighbours: [`super`] parses the files and calls [`document`] per
//! document; `crate::lint` reads the sites recorded here.

mod provider;
mod rollout;
mod step;
mod template;

use serde_saphyr::Spanned;

use super::api::{self, Unread, Walk};
use super::{ManifestSet, SourceFile, TextSite, offset_of};
use crate::analysis::TemplateKind;
use crate::diag::{Diagnostic, Location};

struct Cx<'a> {
    file: &'a SourceFile,
    notes: Vec<Diagnostic>,
    problems: Vec<Diagnostic>,
}

impl Cx<'_> {
    fn loc(&self, l: &serde_saphyr::Location) -> Location {
        Location {
            file: self.file.label.clone(),
            line: l.line().max(1) as usize,
            column: l.column().max(1) as usize,
        }
    }

    fn at<T>(&self, s: &Spanned<T>) -> Location {
        self.loc(&s.referenced)
    }

    fn text_site(&self, s: &Spanned<String>) -> TextSite {
        let at = self.at(s);
        let offset = offset_of(&self.file.text, at.line, at.column);
        TextSite { at, offset }
    }

    fn problem(&mut self, at: Location, message: impl Into<String>, hint: impl Into<String>) {
        self.problems.push(Diagnostic::new(at, message, hint));
    }

    fn note(&mut self, at: Location, message: impl Into<String>, hint: impl Into<String>) {
        self.notes.push(Diagnostic::new(at, message, hint));
    }

    fn unread(&mut self, list: Vec<Unread>) {
        for u in list {
            let at = self.loc(&u.at);
            self.note(
                at,
                format!("field {} is not modelled by canarysim", u.path),
                "the simulation runs as if it were absent",
            );
        }
    }
}

/// Reads one document into the set.
pub(super) fn document(set: &mut ManifestSet, file: &SourceFile, doc: &api::Document) {
    let mut cx = Cx {
        file,
        notes: Vec::new(),
        problems: Vec::new(),
    };
    let start = doc
        .start
        .as_ref()
        .map_or_else(|| Location::start_of(&file.label), |l| cx.loc(l));
    match doc.kind() {
        api::ROLLOUT => {
            common_unread(&mut cx, doc);
            if let Some(r) = rollout::rollout(&mut cx, doc, &start) {
                set.rollouts.push(r);
            }
        }
        api::ANALYSIS_TEMPLATE | api::CLUSTER_ANALYSIS_TEMPLATE => {
            common_unread(&mut cx, doc);
            let kind = if doc.kind() == api::ANALYSIS_TEMPLATE {
                TemplateKind::Namespaced
            } else {
                TemplateKind::Cluster
            };
            if let Some(t) = template::template(&mut cx, doc, kind, &start) {
                set.templates.push(t);
            }
        }
        "" => cx.note(
            start,
            "a document without `kind` is not read by canarysim",
            "canarysim reads kind Rollout, AnalysisTemplate and ClusterAnalysisTemplate",
        ),
        other => {
            let at = doc.kind.as_ref().map_or(start, |k| cx.at(k));
            cx.note(
                at,
                format!("kind {other} is not read by canarysim"),
                "canarysim reads kind Rollout, AnalysisTemplate and ClusterAnalysisTemplate; the scenario models the rest",
            );
        }
    }
    set.notes.append(&mut cx.notes);
    set.problems.append(&mut cx.problems);
}

fn common_unread(cx: &mut Cx, doc: &api::Document) {
    let mut out = Vec::new();
    for k in &doc.unread {
        out.push(Unread {
            path: k.value.clone(),
            at: k.referenced,
        });
    }
    if let Some(m) = &doc.metadata {
        m.walk("metadata", &mut out);
    }
    if let Some(s) = &doc.spec {
        s.walk("spec", &mut out);
    }
    cx.unread(out);
    if let Some(v) = &doc.api_version
        && !v.value.starts_with("argoproj.io/")
    {
        let at = cx.at(v);
        cx.note(
            at,
            format!(
                "apiVersion {} is not Argo Rollouts' (argoproj.io/v1alpha1)",
                v.value
            ),
            "the object is read as Argo's all the same",
        );
    }
}

/// Notes spec fields that belong to the other kinds the union reads.
fn foreign_spec_fields(cx: &mut Cx, spec: &api::Spec, rollout: bool, kind: &str) {
    let present: Vec<(&str, Option<serde_saphyr::Location>)> = if rollout {
        vec![
            ("args", spec.args.as_ref().map(|s| s.referenced)),
            ("metrics", spec.metrics.as_ref().map(|s| s.referenced)),
            ("dryRun", spec.dry_run.as_ref().map(|s| s.referenced)),
            (
                "measurementRetention",
                spec.measurement_retention.as_ref().map(|s| s.referenced),
            ),
        ]
    } else {
        vec![
            ("replicas", spec.replicas.as_ref().map(|s| s.referenced)),
            ("selector", spec.selector.as_ref().map(|s| s.referenced)),
            ("template", spec.template.as_ref().map(|s| s.referenced)),
            ("strategy", spec.strategy.as_ref().map(|s| s.referenced)),
            (
                "rollbackWindow",
                spec.rollback_window.as_ref().map(|s| s.referenced),
            ),
        ]
    };
    for (key, l) in present {
        if let Some(l) = l {
            let at = cx.loc(&l);
            cx.note(
                at,
                format!("spec.{key} is not a field of a {kind}; it is ignored"),
                "move it to the object it belongs to, or remove it",
            );
        }
    }
}
