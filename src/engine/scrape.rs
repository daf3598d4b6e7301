//! The scraper: what a Prometheus with the usual exporters would record.
//!
//! Three kinds of target, each with the labels its real exporter gives:
//! - the application, discovered through each Service's endpoints (as a
//!   ServiceMonitor does), so a pod carries the `service` label of every
//!   Service that selects it: `up`, `http_requests_total`,
//!   `http_request_duration_seconds_{bucket,sum,count}`. Not-ready
//!   addresses stay targets, so a crashed or starting container reads
//!   `up` 0 rather than vanishing ([`is_target`]);
//! - cAdvisor on the kubelet: `container_memory_working_set_bytes` for every
//!   running container, labelled by `pod`, not by Service, with the `id`
//!   (cgroup path), `name` (container ID) and `image` the kubelet gives, so
//!   each restarted container is a new series; and one series for the pod's
//!   cgroup, with no `container`, `image` or `name` (they are blank), which
//!   outlives its containers ([`PodTarget`]; world-fidelity.md §4);
//! - kube-state-metrics: limits, requests, restarts, last termination
//!   reason, readiness and pod labels, for every pod object;
//! - the ingress-nginx controller, one target per replica (ingress.rs).
//!
//! A target or series that disappears gets a staleness marker, as Prometheus
//! writes one, but for cAdvisor's: its samples carry their own timestamps,
//! for which Prometheus writes none, so they linger for the 5 m lookback. Label sets are built once per target; a scrape writes by
//! series id.

use rand_distr::{Distribution, Normal};

use super::World;
use crate::model::pod::{CODE_ERROR, CODE_OK, CODE_SLOTS};
use crate::model::{PodId, PodPhase};
use crate::series::{Labels, SeriesId, SeriesStore};
use crate::sim::SimTime;
use crate::sim::rng::{ChaCha8Rng, stream};

/// The `job` label of cAdvisor series (kube-prometheus-stack's kubelet job).
pub const CADVISOR_JOB: &str = "kubelet";
/// The `job` label of kube-state-metrics series.
pub const KSM_JOB: &str = "kube-state-metrics";
const KSM_INSTANCE: &str = "10.244.250.10:8080";

/// One application target: a pod seen through one Service.
struct AppTarget {
    /// Index of the Service in `World::services`.
    svc: usize,
    pod: PodId,
    base: Vec<(String, String)>,
    up: SeriesId,
    /// Per endpoint × code slot.
    requests: Vec<Option<SeriesId>>,
    /// Per endpoint: bucket series (the layout's slots), then sum, then count.
    histograms: Vec<Option<Vec<SeriesId>>>,
    present: bool,
}

/// The kubelet's and kube-state-metrics' series of one pod.
///
/// cAdvisor labels a container's series with its cgroup path (`id`) and
/// container ID (`name`) besides `image`, `pod`, `namespace` and
/// `container` (kubelet `containerPrometheusLabelsFunc`), so a container
/// the kubelet restarts is a new series, while the pod's own cgroup
/// (`id=/kubepods[/<qos>]/pod<uid>`, the other three blank, which Prometheus
/// stores as absent) is one series for the pod's life: a query without a
/// `container` filter reads both (world-fidelity.md §4). The pause
/// container is not modelled, so the pod cgroup reads the app container's
/// working set while it runs and 0 while it is down.
struct PodTarget {
    /// The series of the container now running (or last run).
    working_set: SeriesId,
    /// The restart count that container was started at.
    container_of: u32,
    pod_cgroup: SeriesId,
    /// cAdvisor's target labels and the pod's, for the next container.
    cadvisor: Vec<(String, String)>,
    ksm: Vec<SeriesId>,
    restarts: SeriesId,
    ready: SeriesId,
    oom_reason: Option<SeriesId>,
    deleted: bool,
}

pub(crate) struct Scraper {
    rng: ChaCha8Rng,
    apps: Vec<AppTarget>,
    pods: Vec<PodTarget>,
    ingress: super::ingress::IngressTarget,
}

impl Scraper {
    pub fn new(seed: u64) -> Scraper {
        Scraper {
            rng: stream(seed, "scrape", 0),
            apps: Vec::new(),
            pods: Vec::new(),
            ingress: super::ingress::IngressTarget::new(),
        }
    }

    pub fn scrape(&mut self, now: SimTime, w: &World, store: &mut SeriesStore) {
        let t = w.prom_ms(now);
        self.scrape_apps(t, w, store);
        self.scrape_pods(now, t, w, store);
        self.ingress.scrape(t, w, store);
    }

    fn scrape_apps(&mut self, t: i64, w: &World, store: &mut SeriesStore) {
        for a in &mut self.apps {
            let still = is_target(w, a.svc, a.pod);
            if a.present && !still {
                a.present = false;
                store.mark_stale(a.up, t);
                a.stale_all(store, t);
            }
        }
        for s in 0..w.services.len() {
            for pod in 0..w.pods.len() as PodId {
                if !is_target(w, s, pod) {
                    continue;
                }
                let i = match self.apps.iter().position(|a| a.pod == pod && a.svc == s) {
                    Some(i) => i,
                    None => {
                        self.apps.push(AppTarget::new(w, s, pod, store));
                        self.apps.len() - 1
                    }
                };
                let a = &mut self.apps[i];
                a.present = true;
                let p = &w.pods[pod as usize];
                if !p.can_serve() {
                    // The scrape fails: `up` is 0 and the target's series go stale.
                    store.push(a.up, t, 0.0);
                    a.stale_all(store, t);
                    continue;
                }
                store.push(a.up, t, 1.0);
                for (e, ep) in w.sc.endpoints.iter().enumerate() {
                    for slot in [CODE_OK, CODE_ERROR] {
                        let v = p.requests[e * CODE_SLOTS + slot];
                        let k = e * CODE_SLOTS + slot;
                        if v == 0 {
                            // The counter child does not exist in this process (yet).
                            if let Some(id) = a.requests[k] {
                                store.mark_stale(id, t);
                            }
                            continue;
                        }
                        let id = *a.requests[k].get_or_insert_with(|| {
                            let code = if slot == CODE_OK {
                                ep.success_code.to_string()
                            } else {
                                "500".to_string()
                            };
                            let mut l = a.base.clone();
                            l.push(("method".into(), ep.method.clone()));
                            l.push(("handler".into(), ep.handler.clone()));
                            l.push(("code".into(), code));
                            store.id(Labels::with_name("http_requests_total", l))
                        });
                        store.push(id, t, v as f64);
                    }
                    let counts = &p.buckets[w.sc.buckets.range(e)];
                    let slots = counts.len();
                    let total: u64 = counts.iter().sum();
                    if total == 0 {
                        if let Some(ids) = &a.histograms[e] {
                            for id in ids {
                                store.mark_stale(*id, t);
                            }
                        }
                        continue;
                    }
                    let ids =
                        a.histograms[e].get_or_insert_with(|| {
                            let mut base = a.base.clone();
                            base.push(("method".into(), ep.method.clone()));
                            base.push(("handler".into(), ep.handler.clone()));
                            let mut ids = Vec::with_capacity(slots + 2);
                            for b in 0..slots {
                                let le =
                                    w.sc.buckets
                                        .bounds(e)
                                        .get(b)
                                        .map_or("+Inf".to_string(), |x| x.to_string());
                                let mut l = base.clone();
                                l.push(("le".into(), le));
                                ids.push(store.id(Labels::with_name(
                                    "http_request_duration_seconds_bucket",
                                    l,
                                )));
                            }
                            ids.push(store.id(Labels::with_name(
                                "http_request_duration_seconds_sum",
                                base.clone(),
                            )));
                            ids.push(store.id(Labels::with_name(
                                "http_request_duration_seconds_count",
                                base,
                            )));
                            ids
                        });
                    let mut cumulative = 0u64;
                    for (b, c) in counts.iter().enumerate() {
                        cumulative += c;
                        store.push(ids[b], t, cumulative as f64);
                    }
                    store.push(ids[slots], t, p.latency_sum[e]);
                    store.push(ids[slots + 1], t, total as f64);
                }
            }
        }
    }

    fn scrape_pods(&mut self, now: SimTime, t: i64, w: &World, store: &mut SeriesStore) {
        let sc = w.sc;
        for (i, p) in w.pods.iter().enumerate() {
            if i == self.pods.len() {
                self.pods.push(PodTarget::new(w, i as PodId, store));
            }
            let pt = &mut self.pods[i];
            if pt.deleted {
                continue;
            }
            if p.phase == PodPhase::Deleted {
                pt.deleted = true;
                // cAdvisor's samples carry their own timestamps, and
                // Prometheus writes no staleness marker for those: its
                // series linger for the 5 m lookback (world-fidelity.md §4).
                for id in pt
                    .ksm
                    .iter()
                    .chain([&pt.restarts, &pt.ready])
                    .chain(pt.oom_reason.iter())
                {
                    store.mark_stale(*id, t);
                }
                continue;
            }
            let profile = sc.profile(p.version);
            if p.container_running() {
                if p.restarts != pt.container_of {
                    // A new container: a new cgroup, a new series; the old
                    // one, timestamped, lingers with no marker.
                    pt.container_of = p.restarts;
                    pt.working_set = container_series(w, i as PodId, &pt.cadvisor, store);
                }
                let mut ws = p.working_set(&profile.memory, now);
                if profile.memory.noise > 0.0 {
                    let n = Normal::new(0.0, profile.memory.noise).expect("invariant: noise >= 0");
                    ws += n.sample(&mut self.rng);
                }
                let ws = ws.max(0.0).round();
                store.push(pt.working_set, t, ws);
                store.push(pt.pod_cgroup, t, ws);
            } else {
                store.push(pt.pod_cgroup, t, 0.0);
            }
            let values = [
                sc.pod.memory_limit,
                sc.pod.cpu_limit as f64 / 1000.0,
                sc.pod.memory_request,
                sc.pod.cpu_request as f64 / 1000.0,
                1.0,
            ];
            for (id, v) in pt.ksm.iter().zip(values) {
                store.push(*id, t, v);
            }
            store.push(pt.restarts, t, f64::from(p.restarts));
            store.push(
                pt.ready,
                t,
                if p.phase == PodPhase::Ready { 1.0 } else { 0.0 },
            );
            if p.restarts > 0 && p.last_terminated_oom {
                let id = *pt.oom_reason.get_or_insert_with(|| {
                    let mut l = ksm_labels(w, i as PodId);
                    l.push(("reason".into(), "OOMKilled".into()));
                    store.id(Labels::with_name(
                        "kube_pod_container_status_last_terminated_reason",
                        l,
                    ))
                });
                store.push(id, t, 1.0);
            }
        }
    }
}

impl AppTarget {
    fn new(w: &World, s: usize, pod: PodId, store: &mut SeriesStore) -> AppTarget {
        let p = &w.pods[pod as usize];
        let svc = w.services[s].name.as_str();
        let base = vec![
            ("namespace".to_string(), w.sc.namespace.clone()),
            ("service".to_string(), svc.to_string()),
            ("pod".to_string(), p.name.clone()),
            ("container".to_string(), w.sc.pod.container.clone()),
            ("job".to_string(), svc.to_string()),
            ("instance".to_string(), format!("{}:8080", p.ip)),
            ("endpoint".to_string(), "http".to_string()),
        ];
        let up = store.id(Labels::with_name("up", base.clone()));
        let n = w.sc.endpoints.len();
        AppTarget {
            svc: s,
            pod,
            base,
            up,
            requests: vec![None; n * CODE_SLOTS],
            histograms: vec![None; n],
            present: false,
        }
    }

    fn stale_all(&self, store: &mut SeriesStore, t: i64) {
        for id in self.requests.iter().flatten() {
            store.mark_stale(*id, t);
        }
        for ids in self.histograms.iter().flatten() {
            for id in ids {
                store.mark_stale(*id, t);
            }
        }
    }
}

/// Whether Prometheus's endpoints discovery lists `pod` as a target of
/// Service `svc`. The Endpoints object lists every pod the selector matches,
/// the not-ready ones under `notReadyAddresses`, and discovery keeps those as
/// targets (`__meta_kubernetes_endpoint_ready="false"`; prometheus
/// `discovery/kubernetes/endpoints.go` `buildEndpoints`, world-fidelity.md
/// §6): a container in CrashLoopBackOff stays a target whose scrapes fail.
/// A terminating pod leaves when the endpoints controller drops it (the
/// controller skips pods being deleted), a deleted one at once.
fn is_target(w: &World, svc: usize, pod: PodId) -> bool {
    let p = &w.pods[pod as usize];
    p.version == w.services[svc].selects
        && match p.phase {
            PodPhase::Deleted => false,
            PodPhase::Terminating => p.listed,
            _ => true,
        }
}

/// The pod's cgroup as cgroupfs names it: `/kubepods/pod<uid>` for a
/// Guaranteed pod (requests equal to limits), `/kubepods/burstable/pod<uid>`
/// otherwise (kubelet's QoS cgroups).
fn pod_cgroup_path(w: &World, pod: PodId) -> String {
    let p = &w.pods[pod as usize];
    let sc = w.sc;
    let guaranteed =
        sc.pod.memory_request == sc.pod.memory_limit && sc.pod.cpu_request == sc.pod.cpu_limit;
    let qos = if guaranteed { "" } else { "/burstable" };
    format!("/kubepods{qos}/pod{}", p.uid)
}

/// A container's ID, 64 hex digits as containerd gives, drawn from the pod's
/// UID and the restart count it started at: the same run names the same
/// containers.
fn container_id(uid: &str, restarts: u32) -> String {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(restarts);
    for b in uid.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = String::with_capacity(64);
    for _ in 0..4 {
        // splitmix64
        h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out.push_str(&format!("{z:016x}"));
    }
    out
}

/// The working-set series of the pod's current container: cAdvisor's
/// labels with its `id`, `name`, `image` and `container`.
fn container_series(
    w: &World,
    pod: PodId,
    cadvisor: &[(String, String)],
    store: &mut SeriesStore,
) -> SeriesId {
    let p = &w.pods[pod as usize];
    let cid = container_id(&p.uid, p.restarts);
    let mut l = cadvisor.to_vec();
    l.push(("container".to_string(), w.sc.pod.container.clone()));
    l.push(("image".to_string(), w.sc.profile(p.version).image.clone()));
    l.push((
        "id".to_string(),
        format!("{}/{cid}", pod_cgroup_path(w, pod)),
    ));
    l.push(("name".to_string(), cid));
    store.id(Labels::with_name("container_memory_working_set_bytes", l))
}

fn ksm_labels(w: &World, pod: PodId) -> Vec<(String, String)> {
    let p = &w.pods[pod as usize];
    vec![
        ("namespace".to_string(), w.sc.namespace.clone()),
        ("pod".to_string(), p.name.clone()),
        ("uid".to_string(), p.uid.clone()),
        ("container".to_string(), w.sc.pod.container.clone()),
        ("job".to_string(), KSM_JOB.to_string()),
        ("instance".to_string(), KSM_INSTANCE.to_string()),
        ("service".to_string(), "kube-state-metrics".to_string()),
        ("endpoint".to_string(), "http".to_string()),
    ]
}

impl PodTarget {
    fn new(w: &World, pod: PodId, store: &mut SeriesStore) -> PodTarget {
        let p = &w.pods[pod as usize];
        let sc = w.sc;
        let cadvisor = vec![
            ("namespace".to_string(), sc.namespace.clone()),
            ("pod".to_string(), p.name.clone()),
            ("node".to_string(), p.node.clone()),
            ("job".to_string(), CADVISOR_JOB.to_string()),
            ("service".to_string(), "kubelet".to_string()),
            ("endpoint".to_string(), "https-metrics".to_string()),
            ("metrics_path".to_string(), "/metrics/cadvisor".to_string()),
            ("instance".to_string(), format!("{}:10250", p.node)),
        ];
        let working_set = container_series(w, pod, &cadvisor, store);
        let mut cgroup = cadvisor.clone();
        cgroup.push(("id".to_string(), pod_cgroup_path(w, pod)));
        let pod_cgroup = store.id(Labels::with_name(
            "container_memory_working_set_bytes",
            cgroup,
        ));
        let base = ksm_labels(w, pod);
        let with = |extra: &[(&str, &str)]| {
            let mut l = base.clone();
            l.push(("node".into(), p.node.clone()));
            for (k, v) in extra {
                l.push(((*k).into(), (*v).into()));
            }
            l
        };
        let ksm = vec![
            store.id(Labels::with_name(
                "kube_pod_container_resource_limits",
                with(&[("resource", "memory"), ("unit", "byte")]),
            )),
            store.id(Labels::with_name(
                "kube_pod_container_resource_limits",
                with(&[("resource", "cpu"), ("unit", "core")]),
            )),
            store.id(Labels::with_name(
                "kube_pod_container_resource_requests",
                with(&[("resource", "memory"), ("unit", "byte")]),
            )),
            store.id(Labels::with_name(
                "kube_pod_container_resource_requests",
                with(&[("resource", "cpu"), ("unit", "core")]),
            )),
            {
                let mut l = base.clone();
                l.retain(|(k, _)| k != "container");
                l.push(("label_app".into(), sc.rollout.name.clone()));
                l.push((
                    "label_rollouts_pod_template_hash".into(),
                    p.template_hash.clone(),
                ));
                store.id(Labels::with_name("kube_pod_labels", l))
            },
        ];
        PodTarget {
            working_set,
            container_of: p.restarts,
            pod_cgroup,
            cadvisor,
            ksm,
            restarts: store.id(Labels::with_name(
                "kube_pod_container_status_restarts_total",
                base.clone(),
            )),
            ready: store.id(Labels::with_name("kube_pod_container_status_ready", base)),
            oom_reason: None,
            deleted: false,
        }
    }
}
