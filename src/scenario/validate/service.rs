//! The simulated service: `[rollout]`, `[pod]`, `[[endpoints]]` and `[traffic]`.
//!
//! In: those tables as [`super::super::file`] parsed them. Out: the checked
//! [`RolloutShape`], [`PodResources`], [`Endpoint`]s and [`Traffic`] of the
//! model. [`endpoint_index`] resolves an endpoint's name for the traffic mix
//! here and for the latency and error tables in [`super::version`].

use super::path::{Path, Result, invalid};
use crate::model::histogram::{self, BucketLayout};
use crate::scenario::file::*;
use crate::scenario::model::*;
use crate::sim::SimDuration;

/// `[rollout]`: the Rollout's name, replicas, Services and ingress.
pub(super) fn rollout_shape(rp: &Path, f: &RolloutFile) -> Result<RolloutShape> {
    if f.replicas < 1 || f.replicas > 1000 {
        return Err(invalid(
            &rp.key("replicas"),
            format!("{} replicas is not possible here", f.replicas),
            "give a whole number from 1 to 1000",
        ));
    }
    let name = f.name.trim().to_string();
    if !crate::names::is_dns1035_label(&name) {
        return Err(invalid(
            &rp.key("name"),
            format!("{name:?} is not a valid Kubernetes name"),
            "use lowercase letters, digits and '-', starting with a letter",
        ));
    }
    let shape = RolloutShape {
        canary_service: f
            .canary_service
            .clone()
            .unwrap_or_else(|| format!("{name}-canary")),
        stable_service: f
            .stable_service
            .clone()
            .unwrap_or_else(|| format!("{name}-stable")),
        ingress: f
            .ingress
            .clone()
            .unwrap_or_else(|| format!("{name}-ingress")),
        replicas: f.replicas as u32,
        name,
    };
    if shape.canary_service == shape.stable_service {
        return Err(invalid(
            &rp.key("stable_service"),
            format!(
                "the stable and canary Services are both {:?}",
                shape.stable_service
            ),
            "Argo requires two different Services; rename one",
        ));
    }
    for (key, svc) in [
        ("canary_service", &shape.canary_service),
        ("stable_service", &shape.stable_service),
        ("ingress", &shape.ingress),
    ] {
        if !crate::names::is_dns1035_label(svc) {
            return Err(invalid(
                &rp.key(key),
                format!("{svc:?} is not a valid Kubernetes name"),
                "use lowercase letters, digits and '-', starting with a letter, at most 63 characters",
            ));
        }
    }
    Ok(shape)
}

/// `[pod]`: requests, limits, workers and nodes.
pub(super) fn pod_resources(pp: &Path, pod_f: &PodFile) -> Result<PodResources> {
    if pod_f.limits.memory.0 < pod_f.requests.memory.0 {
        return Err(invalid(
            &pp.key("limits").key("memory"),
            format!(
                "memory limit {} is below the request {}",
                pod_f.limits.memory, pod_f.requests.memory
            ),
            if pod_f.limits.memory.0 < 1024.0 {
                "a size without a suffix is in bytes: write one, e.g. \"1.5Gi\" (Kubernetes rejects a limit below the request)"
            } else {
                "Kubernetes rejects a limit below the request; raise the limit or lower the request"
            },
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
            format!("{workers_per_cpu} workers per core is outside (0, 1000]"),
            "give a number above 0 and at most 1000, e.g. 4 workers per CPU core",
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
    // Linux's default listen backlog cap (net.core.somaxconn) since 5.4.
    let accept_queue = pod_f.accept_queue.unwrap_or(4096);
    if !(1..=1_000_000).contains(&accept_queue) {
        return Err(invalid(
            &pp.key("accept_queue"),
            "must be from 1 to 1000000",
            "requests a pod holds waiting for a worker, e.g. 4096 (Linux's somaxconn)",
        ));
    }
    let container = pod_f.container.clone().unwrap_or_else(|| "app".into());
    if !crate::names::is_dns_label(&container) {
        return Err(invalid(
            &pp.key("container"),
            format!("{container:?} is not a container name"),
            format!("{}, e.g. \"app\"", crate::names::DNS_LABEL_RULE),
        ));
    }
    Ok(PodResources {
        container,
        cpu_request: pod_f.requests.cpu.0,
        cpu_limit: pod_f.limits.cpu.0,
        memory_request: pod_f.requests.memory.0,
        memory_limit: pod_f.limits.memory.0,
        workers: ((workers_per_cpu * pod_f.limits.cpu.0 as f64 / 1000.0).round() as u32).max(1),
        nodes: nodes as u32,
        accept_queue: accept_queue as u32,
    })
}

/// `[[endpoints]]`: at least one, each named once, with a 2xx success code.
pub(super) fn endpoints(ep: &Path, list: &[EndpointFile]) -> Result<Vec<Endpoint>> {
    if list.is_empty() {
        return Err(invalid(
            ep,
            "no endpoints",
            "add at least one [[endpoints]] table",
        ));
    }
    let mut endpoints = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let p = ep.index(i);
        if e.name.trim().is_empty() || e.name.chars().any(char::is_control) {
            return Err(invalid(
                &p.key("name"),
                format!("{:?} cannot name an endpoint", e.name),
                "name it as traffic.mix and the latencies refer to it, e.g. \"checkout\"",
            ));
        }
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
        // Both become label values of every request series: blank ones
        // would read as a missing label.
        if e.handler.trim().is_empty() || e.handler.chars().any(char::is_control) {
            return Err(invalid(
                &p.key("handler"),
                format!("{:?} is not a route", e.handler),
                "the handler label: a route template such as \"/api/orders/:id\"",
            ));
        }
        if let Some(m) = &e.method
            && (m.is_empty() || !m.chars().all(|c| c.is_ascii_alphabetic()))
        {
            return Err(invalid(
                &p.key("method"),
                format!("{m:?} is not an HTTP method"),
                "e.g. \"GET\" or \"POST\"",
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
    Ok(endpoints)
}

/// `[histogram] buckets` and each endpoint's own `buckets`: the latency
/// histogram's bounds per endpoint, client_golang's `DefBuckets` when
/// neither is given.
pub(super) fn buckets(
    root: &Path,
    h: &HistogramFile,
    list: &[EndpointFile],
) -> Result<BucketLayout> {
    let check = |p: &Path, b: &[f64]| -> Result<Vec<f64>> {
        histogram::check_bounds(b).map_err(|(i, why)| {
            invalid(
                &i.map_or_else(|| p.clone(), |i| p.index(i)),
                why,
                "give finite upper bounds in seconds above 0, strictly increasing, e.g. [0.05, 0.1, 0.15, 0.2, 0.3]; +Inf is implicit",
            )
        })?;
        Ok(b.to_vec())
    };
    let service = match &h.buckets {
        Some(b) => check(&root.key("histogram").key("buckets"), b)?,
        None => histogram::DEFAULT_BUCKETS.to_vec(),
    };
    let mut bounds = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        bounds.push(match &e.buckets {
            Some(b) => check(&root.key("endpoints").index(i).key("buckets"), b)?,
            None => service.clone(),
        });
    }
    Ok(BucketLayout::new(bounds))
}

/// The index of the endpoint named `key`, or an error at `p` that lists the
/// endpoints.
pub(super) fn endpoint_index(endpoints: &[Endpoint], p: &Path, key: &str) -> Result<usize> {
    let names: Vec<&str> = endpoints.iter().map(|e| e.name.as_str()).collect();
    names.iter().position(|n| *n == key).ok_or_else(|| {
        invalid(
            p,
            format!("{key:?} is not an endpoint"),
            format!("endpoints are: {}", names.join(", ")),
        )
    })
}

/// `[traffic]`: an open-loop rate with a mix (and a daily shape), or a
/// population of users.
pub(super) fn traffic(tp: &Path, f: &TrafficFile, endpoints: &[Endpoint]) -> Result<Traffic> {
    let users = match &f.users {
        None => None,
        Some(u) => {
            let up = tp.key("users");
            if f.rate.is_some() || !f.mix.is_empty() || f.daily.is_some() {
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
    let rate = match (f.rate, &users) {
        (Some(r), _) => r,
        (None, Some(_)) => 0.0,
        (None, None) => {
            return Err(invalid(
                tp,
                "no traffic",
                "give rate and mix (open loop) or users (a Locust-like population)",
            ));
        }
    };
    if users.is_none() && !(rate.is_finite() && rate > 0.0 && rate <= 1e6) {
        return Err(invalid(
            &tp.key("rate"),
            if rate.abs() < 1e6 {
                format!("{rate} requests per second is not possible here")
            } else {
                format!("{rate:e} requests per second is not possible here")
            },
            "give a rate above 0 and at most 1e6, e.g. 60",
        ));
    }
    let mut mix = vec![0.0; endpoints.len()];
    for (k, w) in &f.mix {
        let p = tp.key("mix").key(k);
        let i = endpoint_index(endpoints, &p, k)?;
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
    let daily = match &f.daily {
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
            let start = d.start.map_or(SimDuration::from_mins(10 * 60), |s| s.0);
            // Times of day: "25h" would be read as 1h without a word.
            for (key, t) in [("peak", d.peak.0), ("start", start)] {
                if t >= SimDuration::from_mins(24 * 60) {
                    return Err(invalid(
                        &dp.key(key),
                        format!("{t} is not a time of day"),
                        "a time of day from \"0h\" to \"23h59m\", e.g. \"14h\"",
                    ));
                }
            }
            Some(DailyShape {
                amplitude,
                peak: d.peak.0,
                start,
            })
        }
    };
    let proxy_read_timeout = match f.proxy_read_timeout {
        None => SimDuration::from_secs(60),
        Some(d) if d.0.0 > 0 => d.0,
        Some(_) => {
            return Err(invalid(
                &tp.key("proxy_read_timeout"),
                "must be longer than 0",
                "ingress-nginx's default is \"60s\"",
            ));
        }
    };
    Ok(Traffic {
        rate,
        daily,
        mix,
        users,
        proxy_read_timeout,
    })
}

/// `[ingress]`: controller replicas and nginx worker processes, each 1 to
/// 1000. Defaults: the ingress-nginx Helm chart's one replica
/// (`controller.replicaCount: 1`), and `worker-processes` as nginx's `auto`
/// resolves it, the CPU count the controller sees
/// (`internal/ingress/controller/config/config.go` `NewDefault`,
/// `pkg/util/runtime/cpu_linux.go`; world-fidelity.md §1): the chart sets no
/// CPU limit, so the node's logical CPUs, 4 on a 4-vCPU node.
pub(super) fn ingress(ip: &Path, f: &IngressFile) -> Result<Ingress> {
    let count = |key: &str, v: Option<i64>, default: i64, hint: &str| {
        let v = v.unwrap_or(default);
        if (1..=1000).contains(&v) {
            Ok(v as u32)
        } else {
            Err(invalid(&ip.key(key), "must be from 1 to 1000", hint))
        }
    };
    Ok(Ingress {
        replicas: count(
            "replicas",
            f.replicas,
            1,
            "controller pods, e.g. 1 (the Helm chart's default) or 3",
        )?,
        worker_processes: count(
            "worker_processes",
            f.worker_processes,
            4,
            "nginx workers per controller pod: its CPU count, e.g. 4",
        )?,
    })
}
