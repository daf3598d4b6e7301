//! The one override grammar: `PATH=VALUE`, used by `--set` on every
//! command, by a sweep's axes and by a check's `set` tables.
//!
//! Two kinds of path:
//! - a scenario key by its TOML path (`traffic.rate`, `simulation.soak`,
//!   `endpoints[2].handler`, `policies[0].steps[1].pause.duration`), applied
//!   to the TOML table before it is read ([`apply_to_table`]), so the value
//!   goes through the same types and checks as the file's own;
//! - `policy.NAME.…`, a field of a policy however it was written (TOML or
//!   Argo YAML), applied to the validated [`Policy`] ([`apply_to_policy`]):
//!   `steps[I].setWeight`, `steps[I].pause.duration`,
//!   `steps[I].setCanaryScale.{replicas,weight}`, `metric.M.FIELD`,
//!   `template.T.metric.M.FIELD` and `arg.A`. The changed metric is checked
//!   again as Argo's `ValidateMetric` checks it, conditions and queries are
//!   parsed, and a change that leaves the Rollout `InvalidSpec` is refused.
//!
//! Values are typed like the key they replace. A path that names nothing
//! is an error that lists the nearest valid paths. Every error is a
//! [`Diagnostic`] located at the override's origin (the command line, or
//! the line of a sweep or check file).
//!
//! Neighbours: [`super`] calls both halves while loading; `crate::sweep`
//! and the binary build [`Override`]s.

use crate::analysis::{Metric, Templated};
use crate::diag::{Diagnostic, Location};
use crate::rollout::policy::{CanaryScale, Policy, Step};
use crate::sim::SimDuration;

/// One `PATH=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The path, as written.
    pub path: String,
    /// The value, as written (TOML literal or bare text).
    pub value: String,
    /// Where it was written: the command line (`--set`) or a file's line.
    pub origin: Location,
}

/// The metric fields `policy.P.metric.M.FIELD` may name, in Argo's spelling.
pub const METRIC_FIELDS: [&str; 10] = [
    "interval",
    "initialDelay",
    "count",
    "failureLimit",
    "inconclusiveLimit",
    "consecutiveErrorLimit",
    "consecutiveSuccessLimit",
    "successCondition",
    "failureCondition",
    "provider.prometheus.query",
];

impl Override {
    /// Parses `PATH=VALUE` from the command line.
    pub fn parse(arg: &str) -> Result<Override, Diagnostic> {
        Override::parse_at(arg, Override::command_line("--set"))
    }

    /// The origin of an override given by a flag (`--set`, `--vary`): a
    /// place outside any file, printed as the flag's name.
    pub fn command_line(flag: &str) -> Location {
        Location {
            file: flag.to_string(),
            line: 0,
            column: 0,
        }
    }

    /// Parses `PATH=VALUE` written at `origin`.
    pub fn parse_at(arg: &str, origin: Location) -> Result<Override, Diagnostic> {
        let Some((path, value)) = arg.split_once('=') else {
            return Err(Diagnostic::new(
                origin,
                format!("{arg:?} is not PATH=VALUE"),
                "write e.g. --set traffic.rate=120 or --set policy.NAME.metric.METRIC.failureLimit=2",
            ));
        };
        let path = path.trim();
        if path.is_empty() {
            return Err(Diagnostic::new(
                origin,
                format!("{arg:?} has no path before '='"),
                "write e.g. --set traffic.rate=120",
            ));
        }
        if path.split('.').any(str::is_empty) {
            return Err(Diagnostic::new(
                origin,
                format!("{path:?} has an empty part (a leading, trailing or doubled '.')"),
                "separate the keys with one '.', e.g. --set traffic.rate=120",
            ));
        }
        Ok(Override {
            path: path.to_string(),
            value: value.trim().to_string(),
            origin,
        })
    }

    /// An override with a value given as TOML (a sweep axis value).
    pub fn with_value(path: &str, value: &toml::Value, origin: Location) -> Override {
        let value = match value {
            toml::Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        Override {
            path: path.to_string(),
            value,
            origin,
        }
    }

    /// Whether it names a policy field (`policy.NAME.…`) rather than a
    /// scenario key.
    pub fn is_policy(&self) -> bool {
        self.path.starts_with("policy.")
    }

    /// `PATH=VALUE`, as written.
    pub fn text(&self) -> String {
        format!("{}={}", self.path, self.value)
    }

    fn error(&self, message: impl Into<String>, hint: impl Into<String>) -> Diagnostic {
        Diagnostic::new(
            self.origin.clone(),
            format!("{}: {}", self.text(), message.into()),
            hint,
        )
    }

    /// The value as TOML, typed like `like` when given: text that reads as
    /// a TOML literal (`120`, `0.5`, `true`, `"x"`, `[1, 2]`) is that
    /// literal, anything else (`30m`, `512Mi`) is a string; a number where
    /// a string stood becomes its text, an integer where a float stood a float.
    fn toml_value(&self, like: Option<&toml::Value>) -> toml::Value {
        let literal = toml::from_str::<toml::Table>(&format!("v = {}", self.value))
            .ok()
            .and_then(|mut t| t.remove("v"));
        let v = literal.unwrap_or_else(|| toml::Value::String(self.value.clone()));
        match (like, v) {
            (Some(toml::Value::String(_)), toml::Value::Integer(_) | toml::Value::Float(_)) => {
                toml::Value::String(self.value.clone())
            }
            (Some(toml::Value::Float(_)), toml::Value::Integer(i)) => toml::Value::Float(i as f64),
            (_, v) => v,
        }
    }
}

/// One segment of a TOML path.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn segments(path: &str) -> Option<Vec<Seg>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if key.is_empty() && out.is_empty() {
            return None;
        }
        if !key.is_empty() {
            if !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return None;
            }
            out.push(Seg::Key(key.to_string()));
        }
        while !rest.is_empty() {
            let (idx, after) = rest.split_once(']')?;
            out.push(Seg::Index(idx.trim().parse().ok()?));
            rest = after.strip_prefix('[').unwrap_or(after);
            if !after.is_empty() && !after.starts_with('[') {
                return None;
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Every leaf path of a table (`a.b`, `c[0].d`), for suggestions.
pub(crate) fn leaf_paths(table: &toml::Table) -> Vec<String> {
    fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&p, v, out);
                }
            }
            toml::Value::Array(a) if a.iter().any(|x| x.is_table()) => {
                for (i, v) in a.iter().enumerate() {
                    walk(&format!("{prefix}[{i}]"), v, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut out = Vec::new();
    for (k, v) in table {
        walk(k, v, &mut out);
    }
    out
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The (up to) three candidates nearest to `path`, as a hint.
pub(crate) fn nearest(path: &str, candidates: &[String]) -> String {
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .filter(|c| c.as_str() != path)
        .map(|c| (distance(path, c), c))
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    let near: Vec<&str> = scored.iter().take(3).map(|(_, c)| c.as_str()).collect();
    if near.is_empty() {
        "docs/scenario.md lists every key".to_string()
    } else {
        format!("nearest valid paths: {}", near.join(", "))
    }
}

/// Sets a scenario key in the (merged) TOML table. Tables on the way are
/// created when missing; whether the key is one the format has is for the
/// reader of the table to say (unknown keys are refused there).
pub fn apply_to_table(table: &mut toml::Table, o: &Override) -> Result<(), Diagnostic> {
    let bad_path = || {
        o.error(
            "is not a TOML path",
            "write keys joined by '.', arrays of tables by 0-based index: endpoints[2].handler",
        )
    };
    let segs = segments(&o.path).ok_or_else(bad_path)?;
    let candidates = leaf_paths(table);
    let Seg::Key(first) = &segs[0] else {
        return Err(bad_path());
    };
    if first == "extends" || first == "schema" {
        return Err(o.error(
            "cannot be overridden",
            "override the keys the file sets, not the file's own header",
        ));
    }
    let mut cur: &mut toml::Value = table
        .entry(first.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let mut walked = first.clone();
    for (i, seg) in segs.iter().enumerate().skip(1) {
        let last = i + 1 == segs.len();
        match seg {
            Seg::Key(k) => {
                let toml::Value::Table(t) = cur else {
                    return Err(o.error(
                        format!("{walked} is not a table"),
                        nearest(&o.path, &candidates),
                    ));
                };
                if last {
                    let like = t.get(k).cloned();
                    t.insert(k.clone(), o.toml_value(like.as_ref()));
                    return Ok(());
                }
                cur = t
                    .entry(k.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                walked = format!("{walked}.{k}");
            }
            Seg::Index(n) => {
                let toml::Value::Array(a) = cur else {
                    return Err(o.error(
                        format!("{walked} is not an array"),
                        nearest(&o.path, &candidates),
                    ));
                };
                let len = a.len();
                let Some(v) = a.get_mut(*n) else {
                    return Err(o.error(
                        format!(
                            "{walked} has {len} entr{} (indices from 0)",
                            if len == 1 { "y" } else { "ies" }
                        ),
                        nearest(&o.path, &candidates),
                    ));
                };
                if last {
                    let like = v.clone();
                    *v = o.toml_value(Some(&like));
                    return Ok(());
                }
                cur = v;
                walked = format!("{walked}[{n}]");
            }
        }
    }
    // A single key: `name=…`, `namespace=…`.
    let like = table.get(first).cloned();
    let like = like.filter(|v| !v.as_table().is_some_and(toml::Table::is_empty));
    table.insert(first.clone(), o.toml_value(like.as_ref()));
    Ok(())
}

/// The valid `policy.NAME.…` paths of a policy, for suggestions and docs.
pub fn policy_paths(p: &Policy) -> Vec<String> {
    let mut out = Vec::new();
    let base = format!("policy.{}", p.name);
    for (i, s) in p.steps.iter().enumerate() {
        match s {
            Step::SetWeight(_) => out.push(format!("{base}.steps[{i}].setWeight")),
            Step::Pause(_) => out.push(format!("{base}.steps[{i}].pause.duration")),
            Step::SetCanaryScale(_) => {
                out.push(format!("{base}.steps[{i}].setCanaryScale.replicas"));
                out.push(format!("{base}.steps[{i}].setCanaryScale.weight"));
            }
            Step::Analysis(_) => {}
        }
    }
    for (t, m) in used_metrics(p) {
        let ambiguous = used_metrics(p)
            .iter()
            .filter(|(t2, m2)| m2.name == m.name && *t2 != t)
            .count()
            > 0;
        for f in METRIC_FIELDS {
            if ambiguous {
                out.push(format!("{base}.template.{t}.metric.{}.{f}", m.name));
            } else {
                out.push(format!("{base}.metric.{}.{f}", m.name));
            }
        }
    }
    for a in arg_names(p) {
        out.push(format!("{base}.arg.{a}"));
    }
    out
}

/// The templates the policy's steps and background analysis name, in
/// order, each once.
fn used_template_names(p: &Policy) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let refs = p
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Analysis(a) => Some(a),
            _ => None,
        })
        .chain(p.background.as_ref().map(|b| &b.analysis));
    for a in refs {
        for t in &a.templates {
            if !names.contains(&t.name) {
                names.push(t.name.clone());
            }
        }
    }
    names
}

/// (template name, metric) for every metric of every used template.
fn used_metrics(p: &Policy) -> Vec<(String, &Metric)> {
    let used = used_template_names(p);
    p.templates
        .iter()
        .filter(|t| used.contains(&t.name))
        .flat_map(|t| t.spec.metrics.iter().map(move |m| (t.name.clone(), m)))
        .collect()
}

/// Every arg name the policy supplies (steps, background) or a used
/// template declares.
fn arg_names(p: &Policy) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let used = used_template_names(p);
    let supplied = p
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Analysis(a) => Some(a),
            _ => None,
        })
        .chain(p.background.as_ref().map(|b| &b.analysis))
        .flat_map(|a| a.args.iter().map(|x| x.name.clone()));
    let declared = p
        .templates
        .iter()
        .filter(|t| used.contains(&t.name))
        .flat_map(|t| t.spec.args.iter().map(|a| a.name.clone()));
    for n in supplied.chain(declared) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

/// Applies a `policy.NAME.…` override to the scenario's policies.
pub fn apply_to_policy(policies: &mut [Policy], o: &Override) -> Result<(), Diagnostic> {
    let rest = o.path.strip_prefix("policy.").unwrap_or(&o.path);
    let names: Vec<String> = policies.iter().map(|p| p.name.clone()).collect();
    // Policy names may hold dots: take the longest name the path starts with.
    let Some(p) = policies
        .iter_mut()
        .filter(|p| rest.starts_with(&format!("{}.", p.name)))
        .max_by_key(|p| p.name.len())
    else {
        return Err(o.error(
            "names no policy of the scenario",
            format!("the scenario's policies: {}", names.join(", ")),
        ));
    };
    let field = rest[p.name.len() + 1..].to_string();
    let before_invalid = crate::rollout::validate::referenced_resources("rollout", p);
    let mut changed = p.clone();
    apply_field(&mut changed, &field, o)?;
    let after_invalid = crate::rollout::validate::referenced_resources("rollout", &changed);
    if before_invalid.is_none()
        && let Some(message) = after_invalid
    {
        return Err(o.error(
            format!("leaves the Rollout InvalidSpec: {message}"),
            "Argo would refuse to start the update; `canarysim lint` reports the same",
        ));
    }
    *p = changed;
    Ok(())
}

fn apply_field(p: &mut Policy, field: &str, o: &Override) -> Result<(), Diagnostic> {
    let unknown = |p: &Policy| {
        o.error(
            format!("names no field of policy {:?}", p.name),
            nearest(&o.path, &policy_paths(p)),
        )
    };
    if let Some(rest) = field.strip_prefix("steps[") {
        let Some((idx, sub)) = rest.split_once("].") else {
            return Err(unknown(p));
        };
        let Ok(i) = idx.parse::<usize>() else {
            return Err(unknown(p));
        };
        let len = p.steps.len();
        let Some(step) = p.steps.get_mut(i) else {
            return Err(o.error(
                format!("policy {:?} has {len} steps (indices from 0)", p.name),
                nearest(&o.path, &policy_paths(p)),
            ));
        };
        return set_step(step, sub, o).map_err(|e| e.unwrap_or_else(|| unknown(p)));
    }
    if let Some(rest) = field.strip_prefix("arg.") {
        return set_arg(p, rest, o).map_err(|e| e.unwrap_or_else(|| unknown(p)));
    }
    let (template, rest) = match field.strip_prefix("template.") {
        Some(r) => {
            let used = used_template_names(p);
            let Some(t) = used
                .iter()
                .filter(|t| r.starts_with(&format!("{t}.metric.")))
                .max_by_key(|t| t.len())
            else {
                return Err(unknown(p));
            };
            (Some(t.clone()), r[t.len() + 1..].to_string())
        }
        None => (None, field.to_string()),
    };
    let Some(rest) = rest.strip_prefix("metric.") else {
        return Err(unknown(p));
    };
    let Some(f) = METRIC_FIELDS
        .iter()
        .filter(|f| rest.ends_with(&format!(".{f}")))
        .max_by_key(|f| f.len())
    else {
        return Err(unknown(p));
    };
    let metric = &rest[..rest.len() - f.len() - 1];
    let hits: Vec<String> = used_metrics(p)
        .iter()
        .filter(|(t, m)| m.name == metric && template.as_ref().is_none_or(|x| x == t))
        .map(|(t, _)| t.clone())
        .collect();
    match hits.as_slice() {
        [] => return Err(unknown(p)),
        [_] => {}
        several => {
            return Err(o.error(
                format!("metric {metric:?} is in several templates the policy uses"),
                format!(
                    "name the template: {}",
                    several
                        .iter()
                        .map(|t| format!("policy.{}.template.{t}.metric.{metric}.{f}", p.name))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ));
        }
    }
    let t = hits[0].clone();
    let m = p
        .templates
        .iter_mut()
        .filter(|x| x.name == t)
        .flat_map(|x| x.spec.metrics.iter_mut())
        .find(|m| m.name == metric)
        .ok_or_else(|| o.error("metric vanished", ""))?;
    set_metric_field(m, f, o)
}

/// Sets a step field; `Err(None)` when the field does not fit the step.
fn set_step(step: &mut Step, sub: &str, o: &Override) -> Result<(), Option<Diagnostic>> {
    match (step, sub) {
        (Step::SetWeight(w), "setWeight") => {
            let v = int(o, "an integer percentage from 0 to 100")?;
            if !(0..=100).contains(&v) {
                return Err(Some(o.error(
                    format!("setWeight {v} is outside 0–100"),
                    "Argo refuses a weight below 0 or above 100",
                )));
            }
            *w = v as u32;
            Ok(())
        }
        (Step::Pause(d), "pause.duration") => {
            *d = Some(duration(o)?);
            Ok(())
        }
        (Step::SetCanaryScale(s), "setCanaryScale.replicas") => {
            let v = int(o, "a replica count (an integer ≥ 0)")?;
            if v < 0 || v > i64::from(u32::MAX) {
                return Err(Some(o.error("must be 0 or more", "write e.g. 2")));
            }
            *s = CanaryScale::Replicas(v as u32);
            Ok(())
        }
        (Step::SetCanaryScale(s), "setCanaryScale.weight") => {
            let v = int(o, "an integer percentage from 0 to 100")?;
            if !(0..=100).contains(&v) {
                return Err(Some(o.error("is outside 0–100", "write e.g. 20")));
            }
            *s = CanaryScale::Weight(v as u32);
            Ok(())
        }
        _ => Err(None),
    }
}

fn int(o: &Override, what: &str) -> Result<i64, Option<Diagnostic>> {
    o.value
        .trim()
        .parse::<i64>()
        .map_err(|_| Some(o.error(format!("wants {what}"), "write e.g. 2")))
}

fn duration(o: &Override) -> Result<SimDuration, Option<Diagnostic>> {
    let text = o.value.trim().trim_matches('"');
    // Argo reads a bare integer as seconds.
    if let Ok(secs) = text.parse::<u64>() {
        // A bound well inside the clock's range (µs in a u64).
        if secs > 10 * 365 * 86_400 {
            return Err(Some(
                o.error("is too long", "write a duration below ten years"),
            ));
        }
        return Ok(SimDuration::from_secs(secs));
    }
    SimDuration::parse(text).map_err(|e| {
        Some(o.error(
            format!("wants a duration: {e}"),
            "write e.g. 30s, 5m or 1h30m",
        ))
    })
}

fn templated_int(o: &Override) -> Result<Templated<i64>, Diagnostic> {
    let v = o.value.trim().trim_matches('"');
    if v.contains("{{") {
        return Ok(Templated::Text(v.to_string()));
    }
    v.parse::<i64>().map(Templated::Value).map_err(|_| {
        o.error(
            "wants an integer (or an {{args.NAME}} placeholder)",
            "write e.g. 2",
        )
    })
}

fn templated_duration(o: &Override) -> Result<Templated<SimDuration>, Diagnostic> {
    let v = o.value.trim().trim_matches('"');
    if v.contains("{{") {
        return Ok(Templated::Text(v.to_string()));
    }
    duration(o)
        .map(Templated::Value)
        .map_err(|e| e.unwrap_or_else(|| o.error("wants a duration", "write e.g. 1m")))
}

fn set_metric_field(m: &mut Metric, field: &str, o: &Override) -> Result<(), Diagnostic> {
    let text = o.value.clone();
    match field {
        "interval" => m.interval = Some(templated_duration(o)?),
        "initialDelay" => m.initial_delay = Some(templated_duration(o)?),
        "count" => m.count = Some(templated_int(o)?),
        "failureLimit" => m.failure_limit = Some(templated_int(o)?),
        "inconclusiveLimit" => m.inconclusive_limit = Some(templated_int(o)?),
        "consecutiveErrorLimit" => m.consecutive_error_limit = Some(templated_int(o)?),
        "consecutiveSuccessLimit" => m.consecutive_success_limit = Some(templated_int(o)?),
        "successCondition" | "failureCondition" => {
            if !text.contains("{{")
                && !text.trim().is_empty()
                && let Err(e) = crate::condition::check(&text)
            {
                return Err(o.error(
                    format!("is not a condition Argo can compile: {e}"),
                    "write an expr condition such as result[0] < 0.01",
                ));
            }
            if field == "successCondition" {
                m.success_condition = text;
            } else {
                m.failure_condition = text;
            }
        }
        "provider.prometheus.query" => {
            let Some(prom) = m.provider.prometheus.as_mut() else {
                return Err(o.error(
                    format!("metric {:?} has no prometheus provider", m.name),
                    "override the query of a Prometheus metric",
                ));
            };
            if !text.contains("{{")
                && let Err(e) = crate::promql::Query::parse(&text)
            {
                return Err(o.error(format!("is not valid PromQL: {e}"), "check the query"));
            }
            prom.query = text;
        }
        _ => unreachable!("METRIC_FIELDS lists the fields handled here"),
    }
    crate::analysis::validate_metric(m)
        .map(|_| ())
        .map_err(|e| o.error(format!("Argo would refuse the metric: {e}"), ""))
}

/// Sets an arg wherever the policy supplies a value for it or a used
/// template defaults it; `Err(None)` when no such arg exists.
fn set_arg(p: &mut Policy, name: &str, o: &Override) -> Result<(), Option<Diagnostic>> {
    use crate::analysis::ArgSource;
    let value = o.value.trim().trim_matches('"').to_string();
    let used = used_template_names(p);
    let mut found = false;
    let refs = p
        .steps
        .iter_mut()
        .filter_map(|s| match s {
            Step::Analysis(a) => Some(a),
            _ => None,
        })
        .chain(p.background.as_mut().map(|b| &mut b.analysis));
    for a in refs {
        for arg in a.args.iter_mut().filter(|x| x.name == name) {
            arg.source = ArgSource::Value(value.clone());
            found = true;
        }
    }
    for t in p.templates.iter_mut().filter(|t| used.contains(&t.name)) {
        for arg in t.spec.args.iter_mut().filter(|x| x.name == name) {
            arg.value = Some(value.clone());
            found = true;
        }
    }
    if found { Ok(()) } else { Err(None) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(s: &str) -> Override {
        Override::parse(s).unwrap()
    }

    #[test]
    fn paths_split_into_keys_and_indices() {
        assert_eq!(
            segments("endpoints[2].handler"),
            Some(vec![
                Seg::Key("endpoints".into()),
                Seg::Index(2),
                Seg::Key("handler".into())
            ])
        );
        assert_eq!(segments("a[0][1]").map(|s| s.len()), Some(3));
        assert_eq!(segments("a[x]"), None);
        assert_eq!(segments(".a"), None);
        assert_eq!(segments("a b"), None);
    }

    #[test]
    fn values_are_typed_like_the_key_they_replace() {
        let mut t: toml::Table =
            toml::from_str("[traffic]\nrate = 60.5\n[rollout]\nname = \"x\"\n").unwrap();
        apply_to_table(&mut t, &o("traffic.rate=120")).unwrap();
        assert_eq!(t["traffic"]["rate"], toml::Value::Float(120.0));
        apply_to_table(&mut t, &o("rollout.name=123")).unwrap();
        assert_eq!(t["rollout"]["name"], toml::Value::String("123".into()));
        apply_to_table(&mut t, &o("simulation.soak=30m")).unwrap();
        assert_eq!(t["simulation"]["soak"], toml::Value::String("30m".into()));
    }

    #[test]
    fn an_index_past_the_array_is_refused_with_its_length() {
        let mut t: toml::Table =
            toml::from_str("[[endpoints]]\nname = \"a\"\n[[endpoints]]\nname = \"b\"\n").unwrap();
        let e = apply_to_table(&mut t, &o("endpoints[5].name=c")).unwrap_err();
        assert!(e.message.contains("has 2 entries"), "{e}");
        apply_to_table(&mut t, &o("endpoints[1].name=c")).unwrap();
        assert_eq!(t["endpoints"][1]["name"], toml::Value::String("c".into()));
    }

    #[test]
    fn nearest_paths_rank_by_edit_distance() {
        let c = vec!["traffic.rate".to_string(), "rollout.replicas".to_string()];
        assert!(nearest("trafic.rate", &c).starts_with("nearest valid paths: traffic.rate"));
    }

    #[test]
    fn override_without_equals_is_refused() {
        assert!(Override::parse("traffic.rate").is_err());
        assert!(Override::parse("=3").is_err());
    }

    #[test]
    fn a_path_with_an_empty_part_is_refused_not_read_as_another() {
        for bad in ["traffic..rate=1", ".traffic.rate=1", "traffic.rate.=1"] {
            let e = Override::parse(bad).unwrap_err();
            assert!(e.message.contains("empty part"), "{bad}: {e}");
            assert_eq!(e.location.file, "--set");
        }
        // A field whose name holds dots has no empty part.
        assert_eq!(
            o("policy.p.metric.m.provider.prometheus.query=up").path,
            "policy.p.metric.m.provider.prometheus.query"
        );
    }
}
