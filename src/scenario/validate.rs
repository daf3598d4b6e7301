//! From the file as written to a validated [`Scenario`].
//!
//! Every check names the key it concerns by its path (`rollout.replicas`,
//! `policies[1].steps[0]`); [`locate`] maps a path back to a line and column
//! with a span-keeping parse of the same text, so the structs in
//! [`super::file`] stay free of span wrappers.

use toml::de::{DeTable, DeValue};

use super::file::*;
use super::model::*;
use super::units::{ByteSize, DurationText};
use super::{ManifestSource, PolicyManifests};
use crate::analysis::{ArgSource, DryRun, HashSource, MeasurementRetention, RunArg};
use crate::diag::{Diagnostic, Location};
use crate::manifest::{ManifestSet, RolloutManifest, SourceFile};
use crate::model::{LatencyDist, MemoryProfile, PressureProfile, VersionProfile};
use crate::rollout::policy::{
    Alert, AnalysisRef, CanaryScale, DEFAULT_SCALE_DOWN_DELAY, OperatorConfig, Panel, Policy, Step,
    TemplateRef,
};
use crate::sim::SimDuration;

/// One segment of a path into the TOML document.
#[derive(Debug, Clone)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A path like `policies[1].steps[0]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Path(Vec<Seg>);

impl Path {
    pub(crate) fn key(&self, k: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }
    pub(crate) fn index(&self, i: usize) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A validation failure before it is located in the text (or one already
/// located, in a manifest file).
pub(crate) struct Invalid {
    path: Path,
    message: String,
    hint: String,
    located: Option<Box<Diagnostic>>,
}

fn invalid(path: &Path, message: impl Into<String>, hint: impl Into<String>) -> Invalid {
    Invalid {
        path: path.clone(),
        message: message.into(),
        hint: hint.into(),
        located: None,
    }
}

fn located(d: Diagnostic) -> Invalid {
    Invalid {
        path: Path::default(),
        message: String::new(),
        hint: String::new(),
        located: Some(Box::new(d)),
    }
}

type Result<T> = std::result::Result<T, Invalid>;

/// The byte offset of the value at `path` in `text`, or of its nearest ancestor
/// that exists; 0 if the text does not parse.
pub(crate) fn locate(text: &str, path: &Path) -> usize {
    let Ok(doc) = DeTable::parse(text) else {
        return 0;
    };
    let mut best = 0;
    let mut table: Option<&DeTable> = Some(doc.get_ref());
    let mut array: Option<&[toml::Spanned<DeValue>]> = None;
    for seg in &path.0 {
        let next = match (seg, table, array) {
            (Seg::Key(k), Some(t), _) => t
                .iter()
                .find(|(key, _)| key.get_ref().as_ref() == k.as_str()),
            (Seg::Index(i), _, Some(a)) => {
                let Some(v) = a.get(*i) else { break };
                best = v.span().start;
                table = None;
                array = None;
                match v.get_ref() {
                    DeValue::Table(t) => table = Some(t),
                    DeValue::Array(a) => array = Some(a.as_ref()),
                    _ => {}
                }
                continue;
            }
            _ => break,
        };
        let Some((key, value)) = next else { break };
        best = if matches!(value.get_ref(), DeValue::Table(_) | DeValue::Array(_)) {
            key.span().start
        } else {
            value.span().start
        };
        table = None;
        array = None;
        match value.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(a.as_ref()),
            _ => {}
        }
    }
    best
}

/// Turns an [`Invalid`] into a located diagnostic.
pub(crate) fn diagnose(file: &str, text: &str, e: Invalid) -> Diagnostic {
    if let Some(d) = e.located {
        return *d;
    }
    let at = locate(text, &e.path);
    Diagnostic::new(
        Location::at_offset(file, text, at),
        format!("{}: {}", e.path, e.message),
        e.hint,
    )
}

fn positive_duration(
    path: &Path,
    d: Option<DurationText>,
    default: SimDuration,
) -> Result<SimDuration> {
    match d {
        None => Ok(default),
        Some(DurationText(d)) if d.0 > 0 => Ok(d),
        Some(_) => Err(invalid(path, "must be longer than 0", "write e.g. \"15s\"")),
    }
}

fn fraction(path: &Path, v: f64, lo_open: bool, hi_open: bool) -> Result<f64> {
    let ok = v.is_finite()
        && if lo_open { v > 0.0 } else { v >= 0.0 }
        && if hi_open { v < 1.0 } else { v <= 1.0 };
    if ok {
        Ok(v)
    } else {
        let range = format!(
            "{}0, 1{}",
            if lo_open { "(" } else { "[" },
            if hi_open { ")" } else { "]" }
        );
        Err(invalid(
            path,
            format!("{v} is outside {range}"),
            format!("give a fraction in {range}"),
        ))
    }
}

/// Validates the parsed file. Policies that name `manifests` read them
/// through `source`; without one they are an error.
pub(crate) fn validate(
    file_label: &str,
    f: ScenarioFile,
    source: Option<&dyn ManifestSource>,
) -> Result<(Scenario, Vec<PolicyManifests>)> {
    let root = Path::default();
    if f.schema != i64::from(SCHEMA_VERSION) {
        return Err(invalid(
            &root.key("schema"),
            format!("schema version {} is not supported", f.schema),
            format!("this canarysim reads schema = {SCHEMA_VERSION}"),
        ));
    }
    if f.name.trim().is_empty() {
        return Err(invalid(
            &root.key("name"),
            "is empty",
            "name the scenario, e.g. \"checkout-leak\"",
        ));
    }
    let sim = &f.simulation;
    let sp = root.key("simulation");
    let scrape_interval = positive_duration(
        &sp.key("scrape_interval"),
        sim.scrape_interval,
        SimDuration::from_secs(15),
    )?;
    let warmup = sim.warmup.map_or(SimDuration::from_mins(10), |d| d.0);
    let soak = sim.soak.map_or(SimDuration::from_mins(120), |d| d.0);
    let max_duration = positive_duration(
        &sp.key("max_duration"),
        sim.max_duration,
        SimDuration::from_mins(12 * 60),
    )?;
    let endpoints_delay = sim
        .endpoints_delay
        .map_or(SimDuration::from_secs(1), |d| d.0);

    let rp = root.key("rollout");
    if f.rollout.replicas < 1 || f.rollout.replicas > 1000 {
        return Err(invalid(
            &rp.key("replicas"),
            format!("{} replicas is not possible here", f.rollout.replicas),
            "give a whole number from 1 to 1000",
        ));
    }
    let name = f.rollout.name.trim().to_string();
    if !is_dns_label(&name) {
        return Err(invalid(
            &rp.key("name"),
            format!("{name:?} is not a valid Kubernetes name"),
            "use lowercase letters, digits and '-', starting with a letter",
        ));
    }
    let rollout = RolloutShape {
        canary_service: f
            .rollout
            .canary_service
            .clone()
            .unwrap_or_else(|| format!("{name}-canary")),
        stable_service: f
            .rollout
            .stable_service
            .clone()
            .unwrap_or_else(|| format!("{name}-stable")),
        ingress: f
            .rollout
            .ingress
            .clone()
            .unwrap_or_else(|| format!("{name}-ingress")),
        replicas: f.rollout.replicas as u32,
        name,
    };

    let pp = root.key("pod");
    let pod_f = &f.pod;
    if pod_f.limits.memory.0 < pod_f.requests.memory.0 {
        return Err(invalid(
            &pp.key("limits").key("memory"),
            format!(
                "memory limit {:.0}Mi is below the request {:.0}Mi",
                pod_f.limits.memory.mib(),
                pod_f.requests.memory.mib()
            ),
            "Kubernetes rejects a limit below the request; raise the limit or lower the request",
        ));
    }
    if pod_f.limits.cpu.0 < pod_f.requests.cpu.0 {
        return Err(invalid(
            &pp.key("limits").key("cpu"),
            "cpu limit is below the request",
            "Kubernetes rejects a limit below the request",
        ));
    }
    if pod_f.limits.cpu.0 == 0 {
        return Err(invalid(
            &pp.key("limits").key("cpu"),
            "is 0",
            "give a CPU limit such as \"1000m\"",
        ));
    }
    if pod_f.limits.memory.0 <= 0.0 {
        return Err(invalid(
            &pp.key("limits").key("memory"),
            "is 0",
            "give a memory limit such as \"1Gi\"",
        ));
    }
    let workers_per_cpu = pod_f.workers_per_cpu.unwrap_or(4.0);
    if !(workers_per_cpu.is_finite() && workers_per_cpu > 0.0 && workers_per_cpu <= 1000.0) {
        return Err(invalid(
            &pp.key("workers_per_cpu"),
            "must be above 0",
            "e.g. 4 workers per CPU core",
        ));
    }
    let nodes = pod_f.nodes.unwrap_or(3);
    if !(1..=1000).contains(&nodes) {
        return Err(invalid(
            &pp.key("nodes"),
            "must be from 1 to 1000",
            "e.g. 3",
        ));
    }
    let pod = PodResources {
        container: pod_f.container.clone().unwrap_or_else(|| "app".into()),
        cpu_request: pod_f.requests.cpu.0,
        cpu_limit: pod_f.limits.cpu.0,
        memory_request: pod_f.requests.memory.0,
        memory_limit: pod_f.limits.memory.0,
        workers: ((workers_per_cpu * pod_f.limits.cpu.0 as f64 / 1000.0).round() as u32).max(1),
        nodes: nodes as u32,
    };

    let ep = root.key("endpoints");
    if f.endpoints.is_empty() {
        return Err(invalid(
            &ep,
            "no endpoints",
            "add at least one [[endpoints]] table",
        ));
    }
    let mut endpoints = Vec::new();
    for (i, e) in f.endpoints.iter().enumerate() {
        let p = ep.index(i);
        if endpoints.iter().any(|x: &Endpoint| x.name == e.name) {
            return Err(invalid(
                &p.key("name"),
                format!("endpoint {:?} is defined twice", e.name),
                "give each endpoint its own name",
            ));
        }
        let code = e.success_code.unwrap_or(200);
        if !(200..300).contains(&code) {
            return Err(invalid(
                &p.key("success_code"),
                format!("{code} is not a 2xx code"),
                "e.g. 200 or 201",
            ));
        }
        endpoints.push(Endpoint {
            name: e.name.clone(),
            method: e
                .method
                .clone()
                .unwrap_or_else(|| "GET".into())
                .to_uppercase(),
            handler: e.handler.clone(),
            success_code: code as u16,
        });
    }
    let names: Vec<&str> = endpoints.iter().map(|e| e.name.as_str()).collect();
    let index_of = |p: &Path, key: &str| -> Result<usize> {
        names.iter().position(|n| *n == key).ok_or_else(|| {
            invalid(
                p,
                format!("{key:?} is not an endpoint"),
                format!("endpoints are: {}", names.join(", ")),
            )
        })
    };

    let tp = root.key("traffic");
    let users = match &f.traffic.users {
        None => None,
        Some(u) => {
            let up = tp.key("users");
            if f.traffic.rate.is_some() || !f.traffic.mix.is_empty() || f.traffic.daily.is_some() {
                return Err(invalid(
                    &up,
                    "traffic is either an open-loop rate (rate, mix, daily) or a population of users, not both",
                    "remove rate/mix/daily, or remove users",
                ));
            }
            if !(1..=100_000).contains(&u.count) {
                return Err(invalid(
                    &up.key("count"),
                    format!("{} users is not possible here", u.count),
                    "give 1 to 100000 users",
                ));
            }
            let spawn_rate = u.spawn_rate.unwrap_or(10.0);
            if !(spawn_rate.is_finite() && spawn_rate > 0.0) {
                return Err(invalid(
                    &up.key("spawn_rate"),
                    "must be above 0",
                    "users started per second, e.g. 10",
                ));
            }
            let locustfile = u
                .locustfile
                .clone()
                .unwrap_or_else(|| "checkout_flow.py".into());
            let Some(classes) = crate::locust::job::builtin_locustfile(&locustfile) else {
                return Err(invalid(
                    &up.key("locustfile"),
                    format!("{locustfile:?} is not a locustfile canarysim knows"),
                    "use \"checkout_flow.py\" (the seed's flow)",
                ));
            };
            for class in &classes {
                for task in &class.tasks {
                    for step in &task.steps {
                        if !endpoints.iter().any(|e| e.name == step.endpoint) {
                            return Err(invalid(
                                &up.key("locustfile"),
                                format!(
                                    "{locustfile} requests endpoint {:?}, which the service does not have",
                                    step.endpoint
                                ),
                                format!("add an [[endpoints]] table named {:?}", step.endpoint),
                            ));
                        }
                    }
                }
            }
            Some(UserPopulation {
                count: u.count as u32,
                spawn_rate,
                locustfile,
            })
        }
    };
    let rate = match (f.traffic.rate, &users) {
        (Some(r), _) => r,
        (None, Some(_)) => 0.0,
        (None, None) => {
            return Err(invalid(
                &tp,
                "no traffic",
                "give rate and mix (open loop) or users (a Locust-like population)",
            ));
        }
    };
    if users.is_none() && !(rate.is_finite() && rate > 0.0 && rate <= 1e6) {
        return Err(invalid(
            &tp.key("rate"),
            format!("{rate} requests per second is not possible here"),
            "give a rate above 0, e.g. 60",
        ));
    }
    let mut mix = vec![0.0; endpoints.len()];
    for (k, w) in &f.traffic.mix {
        let p = tp.key("mix").key(k);
        let i = index_of(&p, k)?;
        if !(w.is_finite() && *w >= 0.0) {
            return Err(invalid(
                &p,
                "weight must be 0 or more",
                "weights are relative, e.g. 50",
            ));
        }
        mix[i] = *w;
    }
    if users.is_none() && mix.iter().sum::<f64>() <= 0.0 {
        return Err(invalid(
            &tp.key("mix"),
            "all weights are 0",
            "give at least one endpoint a weight above 0",
        ));
    }
    let daily = match &f.traffic.daily {
        None => None,
        Some(d) => {
            let dp = tp.key("daily");
            let amplitude = d.amplitude;
            if !(amplitude.is_finite() && (0.0..1.0).contains(&amplitude)) {
                return Err(invalid(
                    &dp.key("amplitude"),
                    format!("{amplitude} is outside [0, 1)"),
                    "e.g. 0.3 for ±30% over the day",
                ));
            }
            Some(DailyShape {
                amplitude,
                peak: d.peak.0,
                start: d.start.map_or(SimDuration::from_mins(10 * 60), |s| s.0),
            })
        }
    };
    let traffic = Traffic {
        rate,
        daily,
        mix,
        users,
    };

    let vp = root.key("versions");
    let stable = version(
        &vp.key("stable"),
        &f.versions.stable,
        None,
        &endpoints,
        &index_of,
    )?;
    let canary = version(
        &vp.key("canary"),
        &f.versions.canary,
        Some((&f.versions.stable, &stable)),
        &endpoints,
        &index_of,
    )?;
    for (v, prof) in [("stable", &stable), ("canary", &canary)] {
        if prof.memory.baseline >= pod.memory_limit {
            return Err(invalid(
                &vp.key(v).key("memory").key("baseline"),
                "baseline working set is at or above the memory limit",
                "the container would be OOM-killed at start; lower the baseline or raise pod.limits.memory",
            ));
        }
    }
    if stable.fault.is_some() {
        return Err(invalid(
            &vp.key("stable").key("fault"),
            "the stable version cannot carry a fault",
            "put the fault on versions.canary",
        ));
    }

    let namespace = f.namespace.unwrap_or_else(|| "default".into());
    let pol = root.key("policies");
    let mut policies: Vec<Policy> = Vec::new();
    let mut manifests: Vec<PolicyManifests> = Vec::new();
    for (i, p) in f.policies.iter().enumerate() {
        let pp = pol.index(i);
        if policies.iter().any(|q| q.name == p.name) {
            return Err(invalid(
                &pp.key("name"),
                format!("policy {:?} is defined twice", p.name),
                "give each policy its own name",
            ));
        }
        let ctx = ShapeCtx {
            file: file_label,
            namespace: &namespace,
            rollout: &rollout,
            pod: &pod,
            canary_image: &canary.image,
        };
        let (made, from_yaml) = policy(&pp, i, p, source, &ctx)?;
        policies.push(made);
        manifests.extend(from_yaml);
    }

    let scenario = Scenario {
        name: f.name,
        description: f.description,
        file: file_label.to_string(),
        namespace,
        seed: sim.seed.unwrap_or(1),
        scrape_interval,
        warmup,
        soak,
        max_duration,
        endpoints_delay,
        rollout,
        pod,
        endpoints,
        traffic,
        versions: [stable, canary],
        policies,
    };
    Ok((scenario, manifests))
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn version(
    p: &Path,
    f: &VersionFile,
    base: Option<(&VersionFile, &VersionProfile)>,
    endpoints: &[Endpoint],
    index_of: &dyn Fn(&Path, &str) -> Result<usize>,
) -> Result<VersionProfile> {
    let bf = base.map(|(f, _)| f);
    let bp = base.map(|(_, p)| p);
    let image = f
        .image
        .clone()
        .or_else(|| bp.map(|b| format!("{}-canary", b.image)))
        .unwrap_or_else(|| "registry.local/app:stable".into());
    let startup = f
        .startup
        .map(|d| d.0)
        .or(bp.map(|b| b.startup))
        .unwrap_or(SimDuration::from_secs(10));

    let m = f.memory;
    let bm = bf.map(|b| b.memory).unwrap_or_default();
    let pick = |a: Option<ByteSize>, b: Option<ByteSize>, d: f64| a.or(b).map_or(d, |x| x.0);
    let mp = p.key("memory");
    let baseline = pick(m.baseline, bm.baseline, 256.0 * 1024.0 * 1024.0);
    let gc_period = m
        .gc_period
        .or(bm.gc_period)
        .map_or(SimDuration::from_secs(30), |d| d.0);
    let gc_amplitude = pick(m.gc_amplitude, bm.gc_amplitude, 0.0);
    if gc_amplitude > 0.0 && gc_period.0 == 0 {
        return Err(invalid(
            &mp.key("gc_period"),
            "must be longer than 0 when gc_amplitude is set",
            "e.g. \"30s\"",
        ));
    }
    let memory = MemoryProfile {
        baseline,
        leak_per_request: pick(m.leak_per_request, bm.leak_per_request, 0.0),
        leak_per_minute: pick(m.leak_per_minute, bm.leak_per_minute, 0.0),
        gc_amplitude,
        gc_period,
        noise: pick(m.noise, bm.noise, 0.0),
    };

    let pr = f.pressure;
    let bpr = bf.map(|b| b.pressure).unwrap_or_default();
    let pressure = PressureProfile {
        start: fraction(
            &p.key("pressure").key("start"),
            pr.start.or(bpr.start).unwrap_or(0.9),
            true,
            true,
        )?,
        slowdown: pr.slowdown.or(bpr.slowdown).unwrap_or(3.0),
    };
    if !(pressure.slowdown.is_finite() && pressure.slowdown >= 1.0) {
        return Err(invalid(
            &p.key("pressure").key("slowdown"),
            "must be 1 or more",
            "1 means no slow-down; e.g. 3",
        ));
    }

    let lp = p.key("latency");
    let mut latency: Vec<Option<LatencyDist>> = match bp {
        Some(b) => b.latency.iter().copied().map(Some).collect(),
        None => vec![None; endpoints.len()],
    };
    for (k, l) in &f.latency {
        let kp = lp.key(k);
        let i = index_of(&kp, k)?;
        latency[i] = Some(latency_dist(&kp, l)?);
    }
    let mut lat = Vec::with_capacity(endpoints.len());
    for (i, l) in latency.into_iter().enumerate() {
        match l {
            Some(l) => lat.push(l),
            None => {
                return Err(invalid(
                    &lp,
                    format!("no latency for endpoint {:?}", endpoints[i].name),
                    format!(
                        "add {} = {{ dist = \"lognormal\", median = \"20ms\", p99 = \"120ms\" }}",
                        endpoints[i].name
                    ),
                ));
            }
        }
    }

    let ep = p.key("errors");
    let mut error_rate: Vec<f64> = match bp {
        Some(b) => b.error_rate.clone(),
        None => vec![0.0; endpoints.len()],
    };
    for (k, r) in &f.errors {
        let kp = ep.key(k);
        let i = index_of(&kp, k)?;
        error_rate[i] = fraction(&kp, *r, false, false)?;
    }
    Ok(VersionProfile {
        image,
        startup,
        memory,
        pressure,
        latency: lat,
        error_rate,
        fault: f.fault.clone().filter(|s| !s.trim().is_empty()),
    })
}

fn latency_dist(p: &Path, l: &LatencyFile) -> Result<LatencyDist> {
    let secs = |d: Option<DurationText>, key: &str| -> Result<f64> {
        d.map(|d| d.0.as_secs_f64()).ok_or_else(|| {
            invalid(
                p,
                format!("{} latency needs `{key}`", l.dist),
                format!("add {key} = \"20ms\""),
            )
        })
    };
    let made = match l.dist.as_str() {
        "constant" => LatencyDist::constant(secs(l.value, "value")?),
        "exponential" => LatencyDist::exponential(secs(l.mean, "mean")?),
        "lognormal" => LatencyDist::log_normal(secs(l.median, "median")?, secs(l.p99, "p99")?),
        other => {
            return Err(invalid(
                &p.key("dist"),
                format!("unknown distribution {other:?}"),
                "use \"constant\" (value), \"exponential\" (mean) or \"lognormal\" (median, p99)",
            ));
        }
    };
    made.map_err(|e| invalid(p, e, "see docs/scenario.md, latency"))
}

/// What a manifest Rollout is compared with.
pub(crate) struct ShapeCtx<'a> {
    pub(crate) file: &'a str,
    pub(crate) namespace: &'a str,
    pub(crate) rollout: &'a RolloutShape,
    pub(crate) pod: &'a PodResources,
    pub(crate) canary_image: &'a str,
}

fn policy(
    p: &Path,
    index: usize,
    f: &PolicyFile,
    source: Option<&dyn ManifestSource>,
    ctx: &ShapeCtx,
) -> Result<(Policy, Option<PolicyManifests>)> {
    if f.name.trim().is_empty() {
        return Err(invalid(
            &p.key("name"),
            "is empty",
            "name the policy, e.g. \"manual\"",
        ));
    }
    let set = match &f.manifests {
        None => None,
        Some(paths) => Some(read_manifests(p, paths, source)?),
    };
    let mut made = match (&f.steps, &set) {
        (Some(steps), set) => {
            if let Some(set) = set
                && let Some(r) = set.rollouts.first()
            {
                return Err(invalid(
                    &p.key("steps"),
                    format!(
                        "steps are given here and by the Rollout {:?} in {}",
                        r.shape.name, r.sites.at.file
                    ),
                    "give either `steps` (and use the manifests for templates) or a Rollout, not both",
                ));
            }
            let mut made = Policy::new(f.name.clone(), toml_steps(&p.key("steps"), steps)?);
            made.source = format!("{p}");
            if let Some(set) = set {
                made.templates = set.analysis_templates();
                made.warnings = set.notes.clone();
            }
            made.scale_down_delay = match f.scale_down_delay_seconds {
                None => DEFAULT_SCALE_DOWN_DELAY,
                Some(s) if s >= 0 => SimDuration::from_secs(s as u64),
                Some(s) => {
                    return Err(invalid(
                        &p.key("scaleDownDelaySeconds"),
                        format!("{s} is negative"),
                        "Argo's default is 30",
                    ));
                }
            };
            toml_strategy(p, f, &mut made)?;
            made
        }
        (None, Some(set)) => {
            let strategy_keys = [
                (
                    "scaleDownDelaySeconds",
                    f.scale_down_delay_seconds.is_some(),
                ),
                (
                    "abortScaleDownDelaySeconds",
                    f.abort_scale_down_delay_seconds.is_some(),
                ),
                ("trafficRouting", f.traffic_routing.is_some()),
                ("maxSurge", f.max_surge.is_some()),
                ("maxUnavailable", f.max_unavailable.is_some()),
                ("dynamicStableScale", f.dynamic_stable_scale.is_some()),
                ("minPodsPerReplicaSet", f.min_pods_per_replica_set.is_some()),
                ("rollbackWindow", f.rollback_window.is_some()),
                ("analysis", f.analysis.is_some()),
            ];
            if let Some((key, _)) = strategy_keys.iter().find(|(_, given)| *given) {
                return Err(invalid(
                    &p.key(key),
                    "comes from the Rollout in the manifests",
                    format!(
                        "set it in the Rollout's YAML (spec.strategy.canary.{key}, or spec.{key} for rollbackWindow)"
                    ),
                ));
            }
            let at = Location {
                file: ctx.file.to_string(),
                line: 1,
                column: 1,
            };
            let mut made = set.policy(&at).map_err(located)?;
            made.source = f.manifests.as_deref().unwrap_or_default().join(", ");
            made
        }
        (None, None) => {
            return Err(invalid(
                p,
                "has neither `steps` nor `manifests`",
                "give the canary steps, or manifests = [\"dir/\"] holding the Rollout's YAML",
            ));
        }
    };
    made.name = f.name.clone();
    made.description = f.description.clone();
    made.operator = operator(&p.key("operator"), &f.operator)?;
    let from_yaml = set.map(|set| {
        let shape_warnings = set
            .rollouts
            .first()
            .map(|r| shape_warnings(r, ctx))
            .unwrap_or_default();
        made.warnings.extend(shape_warnings.iter().cloned());
        PolicyManifests {
            policy: f.name.clone(),
            index,
            paths: f.manifests.clone().unwrap_or_default(),
            set,
            shape_warnings,
        }
    });
    Ok((made, from_yaml))
}

fn read_manifests(
    p: &Path,
    paths: &[String],
    source: Option<&dyn ManifestSource>,
) -> Result<ManifestSet> {
    let mp = p.key("manifests");
    let Some(source) = source else {
        return Err(invalid(
            &mp,
            "manifests are read relative to the scenario file, which is not known here",
            "load the scenario with canarysim::scenario::load_file (as `canarysim run` does)",
        ));
    };
    if paths.is_empty() {
        return Err(invalid(
            &mp,
            "is empty",
            "list YAML files or directories, e.g. [\"argo/hardened/\"]",
        ));
    }
    let mut files: Vec<SourceFile> = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let read = source
            .read(path)
            .map_err(|d| invalid(&mp.index(i), d.message, d.hint))?;
        for file in read {
            if !files.iter().any(|f| f.label == file.label) {
                files.push(file);
            }
        }
    }
    let set = crate::manifest::load(files).map_err(|e| located(e.0))?;
    if let Some(first) = set.problems.first() {
        return Err(located(first.clone()));
    }
    Ok(set)
}

fn toml_steps(sp: &Path, steps: &[StepFile]) -> Result<Vec<Step>> {
    let mut out = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let step = match s {
            StepFile::SetWeight(w) => {
                if !(0..=100).contains(w) {
                    return Err(invalid(
                        &sp.index(i),
                        format!("setWeight {w} is outside 0..100"),
                        "a weight is a percentage of traffic",
                    ));
                }
                Step::SetWeight(*w as u32)
            }
            StepFile::Pause(pf) => Step::Pause(pf.duration.map(|d| d.0)),
            StepFile::Analysis(a) => {
                let ap = sp.index(i).key("analysis");
                if a.starting_step.is_some() {
                    return Err(invalid(
                        &ap.key("startingStep"),
                        "belongs to the background analysis, not to a step",
                        "move it to the policy's `analysis` table, or remove it",
                    ));
                }
                Step::Analysis(toml_analysis(&ap, a)?)
            }
            StepFile::SetCanaryScale(c) => {
                let cp = sp.index(i).key("setCanaryScale");
                let count = usize::from(c.replicas.is_some())
                    + usize::from(c.weight.is_some())
                    + usize::from(c.match_traffic_weight.is_some());
                if count != 1 {
                    return Err(invalid(
                        &cp,
                        "needs exactly one of replicas, weight and matchTrafficWeight",
                        "e.g. { setCanaryScale = { replicas = 2 } }",
                    ));
                }
                let scale = match (c.replicas, c.weight, c.match_traffic_weight) {
                    (Some(r), _, _) if (0..=1000).contains(&r) => CanaryScale::Replicas(r as u32),
                    (Some(r), _, _) => {
                        return Err(invalid(
                            &cp.key("replicas"),
                            format!("{r} replicas is not possible here"),
                            "give a whole number from 0 to 1000",
                        ));
                    }
                    (_, Some(w), _) if (0..=100).contains(&w) => CanaryScale::Weight(w as u32),
                    (_, Some(w), _) => {
                        return Err(invalid(
                            &cp.key("weight"),
                            format!("weight {w} is outside 0..100"),
                            "a weight is a percentage",
                        ));
                    }
                    _ => CanaryScale::MatchTrafficWeight,
                };
                Step::SetCanaryScale(scale)
            }
        };
        out.push(step);
    }
    Ok(out)
}

/// The canary strategy's fields written in TOML (a policy without a Rollout).
fn toml_strategy(p: &Path, f: &PolicyFile, made: &mut Policy) -> Result<()> {
    use crate::rollout::policy::BackgroundAnalysis;
    use crate::rollout::replicas::{IntOrPercent, SurgeLimits};
    if let Some(t) = f.traffic_routing {
        made.traffic_routing = t;
    }
    if let Some(d) = f.dynamic_stable_scale {
        made.dynamic_stable_scale = d;
    }
    made.abort_scale_down_delay_set = f.abort_scale_down_delay_seconds.is_some();
    made.abort_scale_down_delay = match f.abort_scale_down_delay_seconds {
        None => Some(DEFAULT_SCALE_DOWN_DELAY),
        Some(0) => None,
        Some(s) if s > 0 => Some(SimDuration::from_secs(s as u64)),
        Some(s) => {
            return Err(invalid(
                &p.key("abortScaleDownDelaySeconds"),
                format!("{s} is negative"),
                "Argo's default is 30; 0 keeps the aborted canary up",
            ));
        }
    };
    if let Some(m) = f.min_pods_per_replica_set {
        if m < 1 {
            return Err(invalid(
                &p.key("minPodsPerReplicaSet"),
                format!("{m} is below 1"),
                "give 1 or more pods",
            ));
        }
        made.min_pods_per_replica_set = Some(m as u32);
    }
    if let Some(w) = &f.rollback_window {
        if w.revisions < 0 {
            return Err(invalid(
                &p.key("rollbackWindow").key("revisions"),
                "is negative",
                "e.g. 3",
            ));
        }
        made.rollback_window = Some(w.revisions as u32);
    }
    let int_or_percent = |key: &str, v: &Option<toml::Value>| -> Result<Option<IntOrPercent>> {
        let parsed = match v {
            None => return Ok(None),
            Some(toml::Value::Integer(i)) => IntOrPercent::from_int(*i),
            Some(toml::Value::String(s)) => IntOrPercent::parse(s),
            Some(_) => {
                return Err(invalid(
                    &p.key(key),
                    "must be a whole number or a percentage",
                    "e.g. 1 or \"25%\"",
                ));
            }
        };
        parsed
            .map(Some)
            .map_err(|e| invalid(&p.key(key), e.to_string(), "e.g. 1 or \"25%\""))
    };
    let surge = int_or_percent("maxSurge", &f.max_surge)?;
    let unavailable = int_or_percent("maxUnavailable", &f.max_unavailable)?;
    if surge.is_some() || unavailable.is_some() {
        let d = SurgeLimits::default();
        made.surge = SurgeLimits::new(
            surge.unwrap_or(d.max_surge),
            unavailable.unwrap_or(d.max_unavailable),
        )
        .map_err(|e| {
            invalid(
                &p.key("maxSurge"),
                e.to_string(),
                "maxSurge and maxUnavailable cannot both be 0",
            )
        })?;
    }
    if let Some(bg) = &f.analysis {
        let bp = p.key("analysis");
        let starting_step = match bg.starting_step {
            None => 0,
            Some(s) if s >= 0 => s as usize,
            Some(s) => {
                return Err(invalid(
                    &bp.key("startingStep"),
                    format!("{s} is negative"),
                    "a step index, from 0",
                ));
            }
        };
        made.background = Some(BackgroundAnalysis {
            analysis: toml_analysis(&bp, bg)?,
            starting_step,
        });
    }
    Ok(())
}

fn toml_analysis(ap: &Path, a: &AnalysisStepFile) -> Result<AnalysisRef> {
    if a.templates.is_empty() {
        return Err(invalid(
            &ap.key("templates"),
            "is empty",
            "name at least one template: templates = [ { templateName = \"x\" } ]",
        ));
    }
    let mut args = Vec::new();
    for (i, arg) in a.args.iter().enumerate() {
        let source = match &arg.value_from {
            Some(vf) => match vf.pod_template_hash_value.as_str() {
                "Latest" => ArgSource::PodTemplateHash(HashSource::Latest),
                "Stable" => ArgSource::PodTemplateHash(HashSource::Stable),
                other => {
                    return Err(invalid(
                        &ap.key("args")
                            .index(i)
                            .key("valueFrom")
                            .key("podTemplateHashValue"),
                        format!("{other:?} is neither Stable nor Latest"),
                        "write podTemplateHashValue = \"Latest\" (the canary) or \"Stable\"",
                    ));
                }
            },
            None => ArgSource::Value(arg.value.clone().unwrap_or_default()),
        };
        args.push(RunArg {
            name: arg.name.clone(),
            source,
        });
    }
    Ok(AnalysisRef {
        templates: a
            .templates
            .iter()
            .map(|t| TemplateRef {
                name: t.template_name.clone(),
                cluster_scope: t.cluster_scope.unwrap_or(false),
            })
            .collect(),
        args,
        dry_run: a
            .dry_run
            .iter()
            .map(|d| DryRun {
                metric_name: d.metric_name.clone(),
            })
            .collect(),
        measurement_retention: a
            .measurement_retention
            .iter()
            .map(|r| MeasurementRetention {
                metric_name: r.metric_name.clone(),
                limit: r.limit.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
            })
            .collect(),
    })
}

/// Where a manifest Rollout disagrees with the scenario's `[rollout]`,
/// `[pod]`, namespace or canary image: the simulation follows the scenario.
pub(crate) fn shape_warnings(r: &RolloutManifest, ctx: &ShapeCtx) -> Vec<Diagnostic> {
    let s = &r.shape;
    let at = |key: &str| {
        r.sites
            .fields
            .get(key)
            .cloned()
            .unwrap_or_else(|| r.sites.at.clone())
    };
    let mut out = Vec::new();
    let mut differ = |key: &str, what: &str, here: String, there: String, table: &str| {
        if here != there {
            out.push(Diagnostic::new(
                at(key),
                format!(
                    "{what} is {here} here but {there} in {} ({table}); the simulation follows the scenario",
                    ctx.file
                ),
                "make the manifest and the scenario agree, so the simulated cluster is the one the policy runs in",
            ));
        }
    };
    differ(
        "name",
        "the Rollout's name",
        s.name.clone(),
        ctx.rollout.name.clone(),
        "[rollout] name",
    );
    if let Some(ns) = &s.namespace {
        differ(
            "namespace",
            "the namespace",
            ns.clone(),
            ctx.namespace.to_string(),
            "namespace",
        );
    }
    differ(
        "replicas",
        "replicas",
        s.replicas.to_string(),
        ctx.rollout.replicas.to_string(),
        "[rollout] replicas",
    );
    let pairs = [
        (
            "canaryService",
            "canaryService",
            &s.canary_service,
            &ctx.rollout.canary_service,
            "[rollout] canary_service",
        ),
        (
            "stableService",
            "stableService",
            &s.stable_service,
            &ctx.rollout.stable_service,
            "[rollout] stable_service",
        ),
        (
            "stableIngress",
            "the nginx stableIngress",
            &s.ingress,
            &ctx.rollout.ingress,
            "[rollout] ingress",
        ),
        (
            "container",
            "the container's name",
            &s.container,
            &ctx.pod.container,
            "[pod] container",
        ),
        (
            "image",
            "the image",
            &s.image,
            &ctx.canary_image.to_string(),
            "[versions.canary] image",
        ),
    ];
    for (key, what, here, there, table) in pairs {
        if let Some(here) = here {
            differ(key, what, here.clone(), there.clone(), table);
        }
    }
    let cpu = |m: u64| format!("{m}m");
    let mem = |b: f64| format!("{:.0}Mi", b / (1024.0 * 1024.0));
    let resources = [
        (
            "requests.cpu",
            "the CPU request",
            s.cpu_request.map(cpu),
            cpu(ctx.pod.cpu_request),
            "[pod] requests.cpu",
        ),
        (
            "limits.cpu",
            "the CPU limit",
            s.cpu_limit.map(cpu),
            cpu(ctx.pod.cpu_limit),
            "[pod] limits.cpu",
        ),
        (
            "requests.memory",
            "the memory request",
            s.memory_request.map(mem),
            mem(ctx.pod.memory_request),
            "[pod] requests.memory",
        ),
        (
            "limits.memory",
            "the memory limit",
            s.memory_limit.map(mem),
            mem(ctx.pod.memory_limit),
            "[pod] limits.memory",
        ),
    ];
    for (key, what, here, there, table) in resources {
        if let Some(here) = here {
            differ(key, what, here, there, table);
        }
    }
    out
}

fn operator(p: &Path, f: &OperatorFile) -> Result<OperatorConfig> {
    let parse = |path: &Path, q: &str| {
        crate::promql::Query::parse(q).map(|_| ()).map_err(|e| {
            invalid(
                path,
                format!("PromQL does not parse: {e}"),
                "fix the query; `canarysim query` evaluates one against a run",
            )
        })
    };
    let mut panels = Vec::new();
    for (i, panel) in f.panels.iter().enumerate() {
        let pp = p.key("panels").index(i);
        parse(&pp.key("query"), &panel.query)?;
        if !panel.above.is_finite() {
            return Err(invalid(
                &pp.key("above"),
                "must be a number",
                "the line past which the panel looks wrong",
            ));
        }
        panels.push(Panel {
            name: panel.name.clone(),
            query: panel.query.clone(),
            above: panel.above,
        });
    }
    let mut alerts = Vec::new();
    for (i, a) in f.alerts.iter().enumerate() {
        let ap = p.key("alerts").index(i);
        parse(&ap.key("expr"), &a.expr)?;
        alerts.push(Alert {
            name: a.name.clone(),
            expr: a.expr.clone(),
            for_: a.for_.map_or(SimDuration::ZERO, |d| d.0),
        });
    }
    Ok(OperatorConfig {
        promote_after: f.promote_after.map(|d| d.0),
        look_every: f.look_every.map(|d| d.0),
        panels,
        reaction: f.reaction.map_or(SimDuration::ZERO, |d| d.0),
        page_on_oom: f.page_on_oom,
        alerts,
        respond_after: f.respond_after.map(|d| d.0),
    })
}
