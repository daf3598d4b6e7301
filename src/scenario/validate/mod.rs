//! From the file as written to a validated [`Scenario`].
//!
//! Every check names the key it concerns by its path (`rollout.replicas`,
//! `policies[1].steps[0]`); [`locate`] maps a path back to a line and column
//! with a span-keeping parse of the same text, so the structs in
//! [`super::file`] stay free of span wrappers.
//!
//! [`validate`] walks the file's tables in order and stops at the first
//! failure. The parts:
//! - [`path`]: [`Path`], the [`path::Invalid`] failure, [`locate`] and [`diagnose`];
//! - [`service`]: `[rollout]`, `[pod]`, `[[endpoints]]` and `[traffic]`;
//! - [`version`]: `[versions.stable]` and `[versions.canary]`;
//! - [`policy`]: `[[policies]]` from TOML or from manifests, and `operator`;
//! - [`shape`]: a manifest Rollout compared with the scenario;
//! - [`budget`]: the memory and time a run would take, bounded.
//!
//! Neighbours: [`super`] parses the TOML into [`super::file`] and calls
//! [`validate`]; `crate::manifest` reads the YAML a policy names.

pub(crate) mod budget;
mod path;
mod policy;
mod service;
mod shape;
mod version;

pub(crate) use path::{Path, diagnose, diagnose_by, locate, locate_exact};
pub(crate) use shape::{ShapeCtx, shape_warnings};

use super::file::*;
use super::model::*;
use super::units::DurationText;
use super::{ManifestSource, PolicyManifests};
use crate::rollout::policy::Policy;
use crate::sim::SimDuration;
use path::{Result, invalid};

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

/// The shortest batch of the batched model. The flagship's manual run takes
/// 0.035 s at 1 s batches, 1.8 s at 1 ms and 17 s at 100 µs (every batch costs
/// the same whatever it holds); a batch of 1 µs would run for half an hour.
const SHORTEST_BATCH: SimDuration = SimDuration(1_000);

/// `[simulation] traffic_model`, `batch` and `soak_batch`: a batch is at
/// least [`SHORTEST_BATCH`], at most the scrape interval and divides it, so
/// every scrape falls on a batch boundary; a soak batch (by default the
/// scrape interval) is a whole number of batches and divides the scrape
/// interval too.
fn traffic_model(
    sp: &Path,
    sim: &SimulationFile,
    scrape_interval: SimDuration,
) -> Result<TrafficModel> {
    let batched = match sim.traffic_model.as_deref() {
        None | Some("per-request") => false,
        Some("batched") => true,
        Some(other) => {
            return Err(invalid(
                &sp.key("traffic_model"),
                format!("{other:?} is not a traffic model"),
                "write \"per-request\" or \"batched\"",
            ));
        }
    };
    let batch = positive_duration(&sp.key("batch"), sim.batch, SimDuration::from_secs(1))?;
    if batch < SHORTEST_BATCH {
        return Err(invalid(
            &sp.key("batch"),
            format!(
                "a batch of {batch} is shorter than {SHORTEST_BATCH}: every batch costs about the \
                 same whatever it holds, so batches this short only slow the run down"
            ),
            "give a batch of about a second, e.g. \"1s\" (the default), or use \
             traffic_model = \"per-request\"",
        ));
    }
    // Only a batched model has batches; a per-request scenario's scrape
    // interval is checked on its own (and a 1 ms one refused there).
    if (batched || sim.batch.is_some())
        && (batch > scrape_interval || !scrape_interval.0.is_multiple_of(batch.0))
    {
        return Err(invalid(
            &sp.key("batch"),
            format!("a batch of {batch} does not divide the scrape interval {scrape_interval}"),
            "give a batch that divides scrape_interval, e.g. \"1s\" or \"5s\" for \"15s\"",
        ));
    }
    if !batched && sim.batch.is_some() {
        return Err(invalid(
            &sp.key("batch"),
            "only the batched traffic model has batches",
            "add traffic_model = \"batched\", or remove batch",
        ));
    }
    if !batched && sim.soak_batch.is_some() {
        return Err(invalid(
            &sp.key("soak_batch"),
            "only the batched traffic model has batches",
            "add traffic_model = \"batched\", or remove soak_batch",
        ));
    }
    let soak_batch = positive_duration(&sp.key("soak_batch"), sim.soak_batch, scrape_interval)?;
    if batched
        && (soak_batch > scrape_interval
            || !scrape_interval.0.is_multiple_of(soak_batch.0)
            || !soak_batch.0.is_multiple_of(batch.0))
    {
        return Err(invalid(
            &sp.key("soak_batch"),
            format!(
                "a soak batch of {soak_batch} is not a whole number of batches ({batch}) \
                 dividing the scrape interval {scrape_interval}"
            ),
            "give a multiple of batch that divides scrape_interval, e.g. the scrape interval \
             itself (the default), or batch to keep one batch length throughout",
        ));
    }
    Ok(if batched {
        TrafficModel::Batched { batch, soak_batch }
    } else {
        TrafficModel::PerRequest
    })
}

/// Validates the parsed file. Policies that name `manifests` read them
/// through `source`; without one they are an error.
pub(crate) fn validate(
    file_label: &str,
    f: ScenarioFile,
    source: Option<&dyn ManifestSource>,
) -> Result<(Scenario, Vec<PolicyManifests>)> {
    let root = Path::default();
    if f.extends.is_some() {
        return Err(invalid(
            &root.key("extends"),
            "a scenario that extends another is read with its base from disk",
            "load it with canarysim::scenario::load_file (as `canarysim run` does)",
        ));
    }
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
    let traffic_model = traffic_model(&sp, sim, scrape_interval)?;
    let scrape_offsets = match sim.scrape_offsets.as_deref() {
        None | Some("hashed") => ScrapeOffsets::Hashed,
        Some("aligned") => ScrapeOffsets::Aligned,
        Some(other) => {
            return Err(invalid(
                &sp.key("scrape_offsets"),
                format!("{other:?} is not a way to place scrapes"),
                "write \"hashed\" (each target at its own phase, as Prometheus) or \"aligned\" (all at the multiples of scrape_interval)",
            ));
        }
    };

    let rollout = service::rollout_shape(&root.key("rollout"), &f.rollout)?;
    let pod = service::pod_resources(&root.key("pod"), &f.pod)?;
    let endpoints = service::endpoints(&root.key("endpoints"), &f.endpoints)?;
    let buckets = service::buckets(&root, &f.histogram, &f.endpoints)?;
    let traffic = service::traffic(&root.key("traffic"), &f.traffic, &endpoints)?;
    let ingress = service::ingress(&root.key("ingress"), &f.ingress)?;
    let [stable, canary] = version::versions(
        &root.key("versions"),
        &f.versions,
        &pod,
        &endpoints,
        &traffic,
    )?;

    let spans = budget::Spans {
        scrape_interval,
        warmup,
        max_duration,
    };
    budget::check(&root, &spans, &rollout, &buckets, &traffic)?;

    let namespace = f.namespace.unwrap_or_else(|| "default".into());
    if !crate::names::is_dns_label(&namespace) {
        return Err(invalid(
            &root.key("namespace"),
            format!("{namespace:?} is not a namespace name"),
            format!("{}, e.g. \"production\"", crate::names::DNS_LABEL_RULE),
        ));
    }
    let pol = root.key("policies");
    let mut policies: Vec<Policy> = Vec::new();
    let mut manifests: Vec<PolicyManifests> = Vec::new();
    for (i, p) in f.policies.iter().enumerate() {
        let pp = pol.index(i);
        if !crate::names::is_safe_name(&p.name) {
            return Err(invalid(
                &pp.key("name"),
                format!("{:?} cannot name a policy", p.name),
                crate::names::SAFE_NAME_RULE,
            ));
        }
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
        let (made, from_yaml) = policy::policy(&pp, i, p, source, &ctx)?;
        budget::check_canary_scale(&pp, &made, &spans, &rollout, &buckets)?;
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
        traffic_model,
        scrape_offsets,
        ingress,
        rollout,
        pod,
        endpoints,
        buckets,
        traffic,
        versions: [stable, canary],
        policies,
    };
    Ok((scenario, manifests))
}
