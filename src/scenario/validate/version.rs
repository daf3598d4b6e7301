//! `[versions.stable]` and `[versions.canary]`: the two builds' profiles.
//!
//! In: the [`VersionsFile`], the checked pod resources and endpoints (from
//! [`super::service`]). Out: a [`VersionProfile`] per build, the canary's
//! unset keys falling back to the stable's. Memory, pressure, latency and
//! error rates are checked here; the distributions themselves come from
//! `crate::model`.

use super::path::{Path, Result, invalid};
use super::service::endpoint_index;
use crate::model::profile::cpu_bound_workers;
use crate::model::{LatencyDist, MemoryProfile, PressureProfile, VersionProfile};
use crate::scenario::file::*;
use crate::scenario::model::*;
use crate::scenario::units::{ByteSize, DurationText};
use crate::sim::SimDuration;

/// Both builds' profiles, `[stable, canary]`.
pub(super) fn versions(
    vp: &Path,
    f: &VersionsFile,
    pod: &PodResources,
    endpoints: &[Endpoint],
    traffic: &Traffic,
) -> Result<[VersionProfile; 2]> {
    let index_of = |p: &Path, key: &str| endpoint_index(endpoints, p, key);
    let mut stable = version(&vp.key("stable"), &f.stable, None, endpoints, &index_of)?;
    let mut canary = version(
        &vp.key("canary"),
        &f.canary,
        Some((&f.stable, &stable)),
        endpoints,
        &index_of,
    )?;
    for (v, vf, prof) in [
        ("stable", &f.stable, &mut stable),
        ("canary", &f.canary, &mut canary),
    ] {
        let base = if v == "canary" { Some(&f.stable) } else { None };
        capacity(&vp.key(v), vf, base, pod, traffic, prof)?;
    }
    for (v, prof) in [("stable", &stable), ("canary", &canary)] {
        if prof.memory.baseline >= pod.memory_limit {
            return Err(invalid(
                &vp.key(v).key("memory").key("baseline"),
                "baseline working set is at or above the memory limit",
                "the container would be OOM-killed at start; lower the baseline or raise pod.limits.memory",
            ));
        }
        if prof.memory.gc_amplitude > pod.memory_limit {
            return Err(invalid(
                &vp.key(v).key("memory").key("gc_amplitude"),
                "garbage between collections grows above the memory limit",
                "the amplitude is the garbage a GC cycle clears; keep it below pod.limits.memory",
            ));
        }
    }
    if canary.image == stable.image {
        // The pod template's hash comes from the image: the same image is
        // no change, and Argo starts no update at all.
        let key = if f.canary.image.is_some() {
            vp.key("canary").key("image")
        } else {
            vp.key("stable").key("image")
        };
        return Err(invalid(
            &key,
            format!("the canary's image is the stable one's ({})", canary.image),
            "a Rollout whose pod template does not change starts no update: give the canary its new image",
        ));
    }
    if stable.fault.is_some() {
        return Err(invalid(
            &vp.key("stable").key("fault"),
            "the stable version cannot carry a fault",
            "put the fault on versions.canary",
        ));
    }
    Ok([stable, canary])
}

/// A build's workers: its `workers_per_cpu` (the canary's falling back to
/// the stable's, both to `[pod]`'s) × the CPU limit, bounded by what the
/// CPU limit sustains at its `cpu_per_request` ([`cpu_bound_workers`]),
/// with the service time averaged over the traffic mix (over the endpoints
/// alike when production traffic is users).
fn capacity(
    p: &Path,
    f: &VersionFile,
    base: Option<&VersionFile>,
    pod: &PodResources,
    traffic: &Traffic,
    prof: &mut VersionProfile,
) -> Result<()> {
    let cores = pod.cpu_limit as f64 / 1000.0;
    let threads = match f.workers_per_cpu.or(base.and_then(|b| b.workers_per_cpu)) {
        None => pod.workers,
        Some(w) => {
            if !(w.is_finite() && w > 0.0 && w <= 1000.0) {
                let at = if f.workers_per_cpu.is_some() {
                    p.key("workers_per_cpu")
                } else {
                    p.clone()
                };
                return Err(invalid(
                    &at,
                    format!("{w} workers per core is outside (0, 1000]"),
                    "give a number above 0 and at most 1000, e.g. 4 workers per CPU core",
                ));
            }
            ((w * cores).round() as u32).max(1)
        }
    };
    let cpu = match f.cpu_per_request.or(base.and_then(|b| b.cpu_per_request)) {
        None => 0.0,
        Some(d) => d.0.as_secs_f64(),
    };
    let total: f64 = traffic.mix.iter().sum();
    let n = prof.latency.len() as f64;
    let es: f64 = prof
        .latency
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let share = if total > 0.0 {
                traffic.mix[i] / total
            } else {
                1.0 / n
            };
            share * l.mean()
        })
        .sum();
    if cpu > 0.0 && cpu > es {
        return Err(invalid(
            &p.key("cpu_per_request"),
            format!(
                "{:.1}ms of CPU per request is more than the mean service time, {:.1}ms",
                cpu * 1e3,
                es * 1e3
            ),
            "a request runs on one core at most: give at most its service time on an idle pod",
        ));
    }
    prof.workers = cpu_bound_workers(threads, cores, es, cpu);
    prof.cpu_per_request = cpu;
    Ok(())
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
    if image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            &p.key("image"),
            format!("{image:?} is not an image reference"),
            "e.g. \"ghcr.io/acme/checkout:1.4.2\"",
        ));
    }
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
        release: m.release.or(bm.release).unwrap_or_default(),
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
        workers: 1,
        cpu_per_request: 0.0,
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
