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
//! for which Prometheus writes none, so they linger for the 5 m lookback.
//! Label sets are built once per target (an application target's series
//! merge its labels with their own pairs, built once per run:
//! [`AppSeriesLabels`]); a scrape writes by series id.

use rand_distr::{Distribution, Normal};

use super::{Event, World};
use crate::model::pod::{CODE_ERROR, CODE_OK, CODE_SLOTS};
use crate::model::{PodId, PodPhase};
use crate::scenario::{Scenario, ScrapeOffsets};
use crate::series::{Labels, METRIC_NAME, SeriesId, SeriesStore};
use crate::sim::SimTime;
use crate::sim::rng::{ChaCha8Rng, stream};
use crate::sim::{EventQueue, SimDuration};

/// The `job` label of cAdvisor series (kube-prometheus-stack's kubelet job).
pub const CADVISOR_JOB: &str = "kubelet";
/// The `job` label of kube-state-metrics series.
pub const KSM_JOB: &str = "kube-state-metrics";
const KSM_INSTANCE: &str = "10.244.250.10:8080";
const PUSHGATEWAY_INSTANCE: &str = "10.244.250.11:9091";

/// One application target: a pod seen through one Service.
struct AppTarget {
    /// Index of the Service in `World::services`.
    svc: usize,
    pod: PodId,
    /// The target's labels ([`app_target_labels`]), which each series'
    /// labels extend.
    labels: Labels,
    up: SeriesId,
    /// Per endpoint × code slot.
    requests: Vec<Option<SeriesId>>,
    /// Per endpoint: bucket series (the layout's slots), then sum, then
    /// count; empty when the store records none of them.
    histograms: Vec<Option<Vec<SeriesId>>>,
    /// Whether the store could record any of the pod's request counters or
    /// histograms through this target (decided on the target's labels and
    /// the metric names): a scrape of one that cannot writes its `up` alone.
    counts: bool,
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

/// cAdvisor on one node's kubelet: one target, so one phase, for every
/// container of every pod on the node.
struct NodeTarget {
    name: String,
    /// The pods scheduled on the node, in creation order.
    pods: Vec<PodId>,
}

/// The targets scraped at one phase of the interval, and the event chain
/// that scrapes them. Rule evaluation (the operator's alerts) lives in
/// group 0, at phase 0.
struct Group {
    phase: SimDuration,
    /// Application targets, by index in `Scraper::apps`.
    apps: Vec<u32>,
    /// cAdvisor targets, by index in `Scraper::nodes`.
    nodes: Vec<u32>,
    ksm: bool,
    pushgateway: bool,
    /// Ingress controller replicas, by index in `Scraper::ingress`.
    ingress: Vec<u32>,
}

pub(crate) struct Scraper {
    rng: ChaCha8Rng,
    apps: Vec<AppTarget>,
    pods: Vec<PodTarget>,
    /// Per pod: its application target of each Service, once it has been one.
    app_of: Vec<[Option<u32>; 2]>,
    nodes: Vec<NodeTarget>,
    /// Per pod: its node's cAdvisor target (index in `nodes`), once discovered.
    node_of: Vec<Option<u32>>,
    groups: Vec<Group>,
    /// Group indices in increasing phase.
    order: Vec<u32>,
    /// The one scrape event pending: its token and instant. An event whose
    /// token is not this one was overtaken by a new group's earlier phase.
    token: u32,
    due: SimTime,
    /// Whether kube-state-metrics and the Pushgateway have their groups.
    singles_placed: bool,
    interval: SimDuration,
    /// `None`: every target at the multiples of the interval, in one group.
    offset_seed: Option<u64>,
    ingress: super::ingress::IngressTarget,
    /// What each application target's series add to its labels.
    app_series: AppSeriesLabels,
}

/// How often service discovery's updates reach the scrape pools
/// (prometheus `discovery/manager.go`, `updatert`: 5 s).
pub(crate) const DISCOVERY_EVERY: SimDuration = SimDuration(5_000_000);

/// What one scrape instant reads ([`Scraper::reads`]).
pub struct Reads {
    /// Every target is scraped (aligned offsets): every pod's counters.
    pub every_target: bool,
    /// An ingress replica is scraped: the ingress's view of every pod.
    pub ingress: bool,
}

impl Scraper {
    pub fn new(sc: &Scenario, seed: u64) -> Scraper {
        let offset_seed = match sc.scrape_offsets {
            ScrapeOffsets::Aligned => None,
            ScrapeOffsets::Hashed => Some(offset_seed(seed)),
        };
        Scraper {
            rng: stream(seed, "scrape", 0),
            apps: Vec::new(),
            pods: Vec::new(),
            app_of: Vec::new(),
            nodes: Vec::new(),
            node_of: Vec::new(),
            groups: vec![Group {
                phase: SimDuration(0),
                apps: Vec::new(),
                nodes: Vec::new(),
                ksm: false,
                pushgateway: false,
                ingress: Vec::new(),
            }],
            order: vec![0],
            token: 0,
            due: SimTime(0),
            singles_placed: false,
            interval: sc.scrape_interval,
            offset_seed,
            ingress: super::ingress::IngressTarget::new(),
            app_series: AppSeriesLabels::new(sc),
        }
    }

    /// Whether targets are scraped at their own phases (else all at once).
    pub fn hashed(&self) -> bool {
        self.offset_seed.is_some()
    }

    /// The group scraping at `phase`, created (and its first scrape, the
    /// first instant of that phase after `now`, scheduled) if new.
    fn group_at(&mut self, phase: SimDuration, now: SimTime, q: &mut EventQueue<Event>) -> usize {
        if let Some(g) = self.groups.iter().position(|g| g.phase == phase) {
            return g;
        }
        let g = self.groups.len();
        self.groups.push(Group {
            phase,
            apps: Vec::new(),
            nodes: Vec::new(),
            ksm: false,
            pushgateway: false,
            ingress: Vec::new(),
        });
        let at = self
            .order
            .partition_point(|&o| self.groups[o as usize].phase < phase);
        self.order.insert(at, g as u32);
        let first = next_instant(now, self.interval, phase);
        if first < self.due {
            // The pending scrape comes later: a new one, earlier, takes
            // its place.
            self.token += 1;
            self.due = first;
            q.schedule(first, Event::Scrape { token: self.token });
        }
        g
    }

    /// The phase of a target with these labels and URL.
    fn phase_of(&self, labels: &[(String, String)], url: &str) -> SimDuration {
        match self.offset_seed {
            None => SimDuration(0),
            Some(seed) => target_offset(labels, url, seed, self.interval),
        }
    }

    /// Service discovery's view reaches the scrape pools (every
    /// [`DISCOVERY_EVERY`] with hashed offsets): each new target gets its
    /// phase, and its first scrape comes at that phase's next instant
    /// (prometheus `scrape/scrape.go` `scrapeLoop.run` first waits
    /// `offset`). A target keeps its group for life: its labels, hence its
    /// phase, do not change.
    pub fn discover(
        &mut self,
        now: SimTime,
        w: &World,
        store: &mut SeriesStore,
        q: &mut EventQueue<Event>,
    ) {
        if !self.singles_placed {
            self.singles_placed = true;
            let ksm = self.phase_of(
                &ksm_target_labels(),
                &format!("http://{KSM_INSTANCE}/metrics"),
            );
            let g = self.group_at(ksm, now, q);
            self.groups[g].ksm = true;
            let push = self.phase_of(
                &pushgateway_target_labels(),
                &format!("http://{PUSHGATEWAY_INSTANCE}/metrics"),
            );
            let g = self.group_at(push, now, q);
            self.groups[g].pushgateway = true;
            self.ingress.ensure(w, store);
            for r in 0..self.ingress.len() {
                let (labels, url) = self.ingress.target(r);
                let phase = self.phase_of(labels, &url);
                let g = self.group_at(phase, now, q);
                self.groups[g].ingress.push(r as u32);
            }
        }
        self.ensure_pods(w, store);
        for pod in 0..w.pods.len() {
            if self.node_of[pod].is_some() {
                continue;
            }
            let node = &w.pods[pod].node;
            let n = match self.nodes.iter().position(|n| &n.name == node) {
                Some(n) => n,
                None => {
                    let labels = cadvisor_target_labels(node);
                    let url = format!("https://{node}:10250/metrics/cadvisor");
                    let phase = self.phase_of(&labels, &url);
                    let g = self.group_at(phase, now, q);
                    self.groups[g].nodes.push(self.nodes.len() as u32);
                    self.nodes.push(NodeTarget {
                        name: node.clone(),
                        pods: Vec::new(),
                    });
                    self.nodes.len() - 1
                }
            };
            self.nodes[n].pods.push(pod as PodId);
            self.node_of[pod] = Some(n as u32);
        }
        for s in 0..w.services.len() {
            for pod in 0..w.pods.len() as PodId {
                if self.app_of[pod as usize][s].is_some() || !is_target(w, s, pod) {
                    continue;
                }
                let i = self.new_app(w, s, pod, store);
                let a = &self.apps[i as usize];
                let phase = self.phase_of(&app_target_labels(w, s, pod), &a.url(w));
                let g = self.group_at(phase, now, q);
                self.groups[g].apps.push(i);
            }
        }
    }

    fn new_app(&mut self, w: &World, s: usize, pod: PodId, store: &mut SeriesStore) -> u32 {
        self.apps.push(AppTarget::new(w, s, pod, store));
        let i = self.apps.len() as u32 - 1;
        self.app_of[pod as usize][s] = Some(i);
        i
    }

    /// Builds the pod-level series (cAdvisor's and kube-state-metrics') of
    /// the pods not seen yet.
    fn ensure_pods(&mut self, w: &World, store: &mut SeriesStore) {
        for i in self.pods.len()..w.pods.len() {
            self.pods.push(PodTarget::new(w, i as PodId, store));
        }
        self.app_of.resize(w.pods.len(), [None, None]);
        self.node_of.resize(w.pods.len(), None);
    }

    /// The pods whose counters group `g`'s application targets read, into
    /// `apps`, and those whose working set its cAdvisor targets read, into
    /// `nodes`; or, with aligned offsets, that every target is read. A
    /// target whose series the store does not record still reads its pod:
    /// the batched model draws a pod's counters at every one of its
    /// targets' instants, so what a recorded target reads is the same
    /// whatever else the run records.
    pub fn reads(&self, g: u32, apps: &mut Vec<PodId>, nodes: &mut Vec<PodId>) -> Reads {
        apps.clear();
        nodes.clear();
        let group = &self.groups[g as usize];
        if self.offset_seed.is_none() {
            return Reads {
                every_target: true,
                ingress: true,
            };
        }
        apps.extend(group.apps.iter().map(|&i| self.apps[i as usize].pod));
        for &n in &group.nodes {
            nodes.extend_from_slice(&self.nodes[n as usize].pods);
        }
        Reads {
            every_target: false,
            ingress: !group.ingress.is_empty(),
        }
    }

    /// The group due at `now` if `token` is the pending scrape's (one
    /// event per distinct instant: the groups are visited in phase order).
    pub fn due(&self, token: u32, now: SimTime) -> Option<u32> {
        if token != self.token {
            return None;
        }
        let phase = SimDuration(now.0 % self.interval.0);
        let at = self
            .order
            .partition_point(|&o| self.groups[o as usize].phase < phase);
        self.order
            .get(at)
            .copied()
            .filter(|&g| self.groups[g as usize].phase == phase)
    }

    /// Schedules the next scrape instant after `now`: the next phase in
    /// the interval, or the first of the next interval.
    pub fn schedule_next(&mut self, now: SimTime, q: &mut EventQueue<Event>) {
        let phase = SimDuration(now.0 % self.interval.0);
        let at = self
            .order
            .partition_point(|&o| self.groups[o as usize].phase <= phase);
        let g = self.order.get(at).copied().unwrap_or(self.order[0]);
        let next = next_instant(now, self.interval, self.groups[g as usize].phase);
        self.due = next;
        q.schedule(next, Event::Scrape { token: self.token });
    }

    /// Scrapes group `g`'s targets at `now`: every sample at that
    /// scheduled instant. Returns whether the group holds the Pushgateway,
    /// which the caller scrapes then.
    pub fn scrape_group(
        &mut self,
        g: u32,
        now: SimTime,
        w: &World,
        store: &mut SeriesStore,
    ) -> bool {
        let t = w.prom_ms(now);
        if self.offset_seed.is_none() {
            // One grid: every target at once.
            self.scrape_apps(t, w, store);
            for pod in 0..w.pods.len() {
                if pod == self.pods.len() {
                    self.pods.push(PodTarget::new(w, pod as PodId, store));
                }
                self.scrape_cadvisor(pod, now, t, w, store);
                self.scrape_ksm(pod, t, w, store);
            }
            self.ingress.scrape(t, w, store);
            return true;
        }
        let group = &self.groups[g as usize];
        let (apps, nodes) = (group.apps.len(), group.nodes.len());
        let (ksm, push) = (group.ksm, group.pushgateway);
        for k in 0..apps {
            let i = self.groups[g as usize].apps[k] as usize;
            let a = &mut self.apps[i];
            if is_target(w, a.svc, a.pod) {
                a.present = true;
                a.scrape(t, w, &self.app_series, store);
            } else if a.present {
                a.leave(store, t);
            }
        }
        if nodes > 0 || ksm {
            self.ensure_pods(w, store);
        }
        for k in 0..nodes {
            let n = self.groups[g as usize].nodes[k] as usize;
            for j in 0..self.nodes[n].pods.len() {
                let pod = self.nodes[n].pods[j] as usize;
                self.scrape_cadvisor(pod, now, t, w, store);
            }
        }
        if ksm {
            for pod in 0..w.pods.len() {
                self.scrape_ksm(pod, t, w, store);
            }
        }
        for k in 0..self.groups[g as usize].ingress.len() {
            let r = self.groups[g as usize].ingress[k] as usize;
            self.ingress.scrape_replica(r, t, w, store);
        }
        push
    }

    fn scrape_apps(&mut self, t: i64, w: &World, store: &mut SeriesStore) {
        for a in &mut self.apps {
            if a.present && !is_target(w, a.svc, a.pod) {
                a.leave(store, t);
            }
        }
        self.app_of.resize(w.pods.len(), [None, None]);
        for s in 0..w.services.len() {
            for pod in 0..w.pods.len() as PodId {
                if !is_target(w, s, pod) {
                    continue;
                }
                let i = match self.app_of[pod as usize][s] {
                    Some(i) => i,
                    None => self.new_app(w, s, pod, store),
                };
                let a = &mut self.apps[i as usize];
                a.present = true;
                a.scrape(t, w, &self.app_series, store);
            }
        }
    }

    /// cAdvisor's series of pod `i`, on its node's target.
    fn scrape_cadvisor(
        &mut self,
        i: usize,
        now: SimTime,
        t: i64,
        w: &World,
        store: &mut SeriesStore,
    ) {
        let p = &w.pods[i];
        if p.phase == PodPhase::Deleted {
            // cAdvisor's samples carry their own timestamps, and
            // Prometheus writes no staleness marker for those: its
            // series linger for the 5 m lookback (world-fidelity.md §4).
            return;
        }
        let profile = w.sc.profile(p.version);
        let pt = &mut self.pods[i];
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
    }

    /// kube-state-metrics' series of pod `i`.
    fn scrape_ksm(&mut self, i: usize, t: i64, w: &World, store: &mut SeriesStore) {
        let sc = w.sc;
        let p = &w.pods[i];
        let pt = &mut self.pods[i];
        if pt.deleted {
            return;
        }
        if p.phase == PodPhase::Deleted {
            pt.deleted = true;
            for id in pt
                .ksm
                .iter()
                .chain([&pt.restarts, &pt.ready])
                .chain(pt.oom_reason.iter())
            {
                store.mark_stale(*id, t);
            }
            return;
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

/// The labels of pod `pod`'s application target through Service `s`.
fn app_target_labels(w: &World, s: usize, pod: PodId) -> Vec<(String, String)> {
    let p = &w.pods[pod as usize];
    let svc = w.services[s].name.as_str();
    vec![
        ("namespace".to_string(), w.sc.namespace.clone()),
        ("service".to_string(), svc.to_string()),
        ("pod".to_string(), p.name.clone()),
        ("container".to_string(), w.sc.pod.container.clone()),
        ("job".to_string(), svc.to_string()),
        ("instance".to_string(), format!("{}:8080", p.ip)),
        ("endpoint".to_string(), "http".to_string()),
    ]
}

impl AppTarget {
    fn new(w: &World, s: usize, pod: PodId, store: &mut SeriesStore) -> AppTarget {
        let labels = Labels::new(app_target_labels(w, s, pod));
        let up = store.id(labels.with_pairs(&[(METRIC_NAME, "up")]));
        let n = w.sc.endpoints.len();
        let mut a = AppTarget {
            svc: s,
            pod,
            labels,
            up,
            requests: vec![None; n * CODE_SLOTS],
            histograms: vec![None; n],
            counts: false,
            present: false,
        };
        a.counts = [
            "http_requests_total",
            "http_request_duration_seconds_bucket",
            "http_request_duration_seconds_sum",
            "http_request_duration_seconds_count",
        ]
        .iter()
        .any(|name| store.could_record(&a.labels.with_pairs(&[(METRIC_NAME, name)])));
        a
    }

    /// One scrape of this target: `up`, and the counters and histograms
    /// the pod exports (those the store records), their labels this
    /// target's and `own`'s.
    fn scrape(&mut self, t: i64, w: &World, own: &AppSeriesLabels, store: &mut SeriesStore) {
        let p = &w.pods[self.pod as usize];
        if !p.can_serve() {
            // The scrape fails: `up` is 0 and the target's series go stale.
            store.push(self.up, t, 0.0);
            self.stale_all(store, t);
            return;
        }
        store.push(self.up, t, 1.0);
        if !self.counts {
            return;
        }
        for e in 0..w.sc.endpoints.len() {
            for slot in [CODE_OK, CODE_ERROR] {
                let v = p.requests[e * CODE_SLOTS + slot];
                let k = e * CODE_SLOTS + slot;
                if v == 0 {
                    // The counter child does not exist in this process (yet).
                    if let Some(id) = self.requests[k] {
                        store.mark_stale(id, t);
                    }
                    continue;
                }
                let id = match self.requests[k] {
                    Some(id) => id,
                    None => {
                        let id = store.id(self.labels.merged(&own.requests[k]));
                        *self.requests[k].insert(id)
                    }
                };
                store.push(id, t, v as f64);
            }
            let counts = &p.buckets[w.sc.buckets.range(e)];
            let slots = counts.len();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                if let Some(ids) = &self.histograms[e] {
                    for id in ids {
                        store.mark_stale(*id, t);
                    }
                }
                continue;
            }
            if self.histograms[e].is_none() {
                let mut ids: Vec<SeriesId> = own.histograms[e]
                    .iter()
                    .map(|l| store.id(self.labels.merged(l)))
                    .collect();
                if ids.iter().all(|id| *id == SeriesId::UNRECORDED) {
                    ids.clear();
                }
                self.histograms[e] = Some(ids);
            }
            let Some(ids) = self.histograms[e].as_deref().filter(|ids| !ids.is_empty()) else {
                continue;
            };
            let mut cumulative = 0u64;
            for (id, c) in ids.iter().zip(counts) {
                cumulative += c;
                store.push(*id, t, cumulative as f64);
            }
            store.push(ids[slots], t, p.latency_sum[e]);
            store.push(ids[slots + 1], t, total as f64);
        }
    }

    /// The URL Prometheus scrapes.
    fn url(&self, w: &World) -> String {
        format!("http://{}:8080/metrics", w.pods[self.pod as usize].ip)
    }

    /// The target left discovery: its `up` and every series go stale.
    fn leave(&mut self, store: &mut SeriesStore, t: i64) {
        self.present = false;
        store.mark_stale(self.up, t);
        self.stale_all(store, t);
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

/// The pairs an application target's series add to the target's labels,
/// one set per series, built once per run: every target's series share
/// their strings, and a new target's series cost a merge of two sorted
/// lists each.
struct AppSeriesLabels {
    /// Per endpoint × code slot: `http_requests_total` with the endpoint's
    /// `method` and `handler` and the slot's `code`.
    requests: Vec<Labels>,
    /// Per endpoint: `http_request_duration_seconds` with the endpoint's
    /// `method` and `handler`, a `_bucket` per slot of the layout (its
    /// `le`), then `_sum`, then `_count`.
    histograms: Vec<Vec<Labels>>,
}

impl AppSeriesLabels {
    fn new(sc: &Scenario) -> AppSeriesLabels {
        let mut requests = Vec::with_capacity(sc.endpoints.len() * CODE_SLOTS);
        let mut histograms = Vec::with_capacity(sc.endpoints.len());
        for (e, ep) in sc.endpoints.iter().enumerate() {
            let endpoint = [("method", ep.method.as_str()), ("handler", &ep.handler)];
            for slot in 0..CODE_SLOTS {
                let code = if slot == CODE_OK {
                    ep.success_code.to_string()
                } else {
                    "500".to_string()
                };
                requests.push(Labels::with_name(
                    "http_requests_total",
                    endpoint.into_iter().chain([("code", code.as_str())]),
                ));
            }
            let base = Labels::new(endpoint);
            let slots = sc.buckets.range(e).len();
            let mut own = Vec::with_capacity(slots + 2);
            for b in 0..slots {
                let le = sc
                    .buckets
                    .bounds(e)
                    .get(b)
                    .map_or("+Inf".to_string(), |x| x.to_string());
                own.push(base.with_pairs(&[
                    (METRIC_NAME, "http_request_duration_seconds_bucket"),
                    ("le", &le),
                ]));
            }
            own.push(base.with_pairs(&[(METRIC_NAME, "http_request_duration_seconds_sum")]));
            own.push(base.with_pairs(&[(METRIC_NAME, "http_request_duration_seconds_count")]));
            histograms.push(own);
        }
        AppSeriesLabels {
            requests,
            histograms,
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

/// kube-state-metrics' target labels (one target).
fn ksm_target_labels() -> Vec<(String, String)> {
    vec![
        ("job".to_string(), KSM_JOB.to_string()),
        ("instance".to_string(), KSM_INSTANCE.to_string()),
        ("service".to_string(), "kube-state-metrics".to_string()),
        ("endpoint".to_string(), "http".to_string()),
    ]
}

/// The Pushgateway's target labels (one target; `honor_labels` keeps the
/// pushed `job` and `instance` on its series).
fn pushgateway_target_labels() -> Vec<(String, String)> {
    vec![
        ("job".to_string(), "pushgateway".to_string()),
        ("instance".to_string(), PUSHGATEWAY_INSTANCE.to_string()),
        ("service".to_string(), "pushgateway".to_string()),
        ("endpoint".to_string(), "http".to_string()),
    ]
}

/// A node's kubelet target for cAdvisor, as kube-prometheus-stack's kubelet
/// ServiceMonitor labels it.
fn cadvisor_target_labels(node: &str) -> Vec<(String, String)> {
    vec![
        ("node".to_string(), node.to_string()),
        ("job".to_string(), CADVISOR_JOB.to_string()),
        ("service".to_string(), "kubelet".to_string()),
        ("endpoint".to_string(), "https-metrics".to_string()),
        ("metrics_path".to_string(), "/metrics/cadvisor".to_string()),
        ("instance".to_string(), format!("{node}:10250")),
    ]
}

/// FNV-1a, 64 bits, over `bytes`, continuing from `h`.
fn fnv64a(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

const FNV64_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The server's offset seed: FNV-1a of its hostname and external labels
/// (prometheus `scrape/manager.go` `setOffsetSeed`). The hostname stands
/// in as `prometheus-<run seed>`, with no external labels, so each seed is
/// another server and a sweep averages over where the targets fall.
pub(crate) fn offset_seed(run_seed: u64) -> u64 {
    fnv64a(
        FNV64_OFFSET,
        format!("prometheus-{run_seed}{{}}").as_bytes(),
    )
}

/// A target's hash: FNV-1a of its label set's hash (printed as 16 decimal
/// digits) and its URL (prometheus `scrape/target.go` `Target.hash`). The
/// label set's hash is FNV-1a here (xxhash in Prometheus) over the labels
/// sorted by name, each name and value followed by 0xff, as
/// `labels.Labels.Hash` lays them out.
pub(crate) fn target_hash(labels: &[(String, String)], url: &str) -> u64 {
    let mut sorted: Vec<&(String, String)> = labels.iter().collect();
    sorted.sort();
    let mut inner = FNV64_OFFSET;
    for (k, v) in sorted {
        inner = fnv64a(inner, k.as_bytes());
        inner = fnv64a(inner, &[0xff]);
        inner = fnv64a(inner, v.as_bytes());
        inner = fnv64a(inner, &[0xff]);
    }
    let h = fnv64a(FNV64_OFFSET, format!("{inner:016}").as_bytes());
    fnv64a(h, url.as_bytes())
}

/// A target's phase in the interval: (its hash XOR the offset seed) modulo
/// the interval, counted from the multiples of the interval (prometheus
/// `scrape/target.go` `Target.offset`), in whole milliseconds since
/// samples carry milliseconds.
pub(crate) fn target_offset(
    labels: &[(String, String)],
    url: &str,
    seed: u64,
    interval: SimDuration,
) -> SimDuration {
    let ms = (interval.0 / 1000).max(1);
    SimDuration(((target_hash(labels, url) ^ seed) % ms) * 1000)
}

/// The first instant after `now` at `phase` past a multiple of `interval`.
pub(crate) fn next_instant(now: SimTime, interval: SimDuration, phase: SimDuration) -> SimTime {
    let base = now.0 - now.0 % interval.0 + phase.0;
    SimTime(if base > now.0 {
        base
    } else {
        base + interval.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, RunOutput};
    use crate::rollout::policy::{Policy, Step};
    use crate::series::METRIC_NAME;
    use std::collections::BTreeMap;

    const INTERVAL_MS: i64 = 15_000;
    const WARMUP_MS: i64 = 120_000;

    /// A 5-replica service on 3 nodes whose rollout creates new (canary)
    /// pods: 20 %, a pause, then full promotion and a short soak.
    fn scenario(offsets: &str, model: &str) -> Scenario {
        let text = format!(
            r#"
schema = 1
name = "offsets"
[simulation]
warmup = "2m"
soak = "3m"
scrape_offsets = "{offsets}"
{model}
[rollout]
name = "svc"
replicas = 5
[pod]
requests = {{ cpu = "1", memory = "512Mi" }}
limits = {{ cpu = "1", memory = "1Gi" }}
nodes = 3
[[endpoints]]
name = "get"
handler = "/"
[traffic]
rate = 20
mix = {{ get = 1 }}
[versions.stable]
latency = {{ get = {{ dist = "constant", value = "5ms" }} }}
[versions.canary]
"#
        );
        crate::scenario::load_str("offsets.toml", &text).expect("valid scenario")
    }

    fn run(sc: &Scenario, seed: u64) -> RunOutput {
        let policy = Policy::new(
            "steps",
            vec![
                Step::SetWeight(20),
                Step::Pause(Some(SimDuration::from_secs(120))),
            ],
        );
        Engine::new(sc, &policy, seed).run()
    }

    /// The phase of a sample: milliseconds past a multiple of the interval,
    /// counted from the simulation's start (the warm-up's).
    fn phase(t: i64) -> i64 {
        (t + WARMUP_MS).rem_euclid(INTERVAL_MS)
    }

    fn labels_of(s: &crate::series::Series) -> Vec<(String, String)> {
        s.labels
            .iter()
            .filter(|(k, _)| *k != METRIC_NAME)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn series<'a>(out: &'a RunOutput, name: &str) -> Vec<&'a crate::series::Series> {
        out.series
            .series()
            .iter()
            .filter(|s| s.labels.get(METRIC_NAME) == Some(name))
            .collect()
    }

    // prometheus scrape/target.go `Target.offset`: a target's scrapes come
    // at (hash(labels, URL) XOR offsetSeed) mod interval past each multiple
    // of the interval, so the phase is fixed for the target's life; the
    // sample's timestamp is the scheduled instant (scrape/scrape.go
    // `scrapeLoop.run`, `AlignScrapeTimestamps`).
    #[test]
    fn each_target_keeps_one_phase_for_its_life_the_hash_of_its_labels_mod_the_interval() {
        for model in ["", "traffic_model = \"batched\"\nbatch = \"5s\""] {
            let sc = scenario("hashed", model);
            let out = run(&sc, 3);
            let seed = offset_seed(3);
            let ups = series(&out, "up");
            assert!(ups.len() >= 10, "stable and canary targets: {}", ups.len());
            assert!(
                ups.iter()
                    .any(|s| s.labels.get("job") == Some(super::super::ingress::INGRESS_JOB)),
                "the ingress controller is a target too"
            );
            for s in ups {
                let labels = labels_of(s);
                let instance = s.labels.get("instance").expect("instance");
                let want = target_offset(
                    &labels,
                    &format!("http://{instance}/metrics"),
                    seed,
                    sc.scrape_interval,
                );
                let want = want.as_millis() as i64;
                for x in &s.samples {
                    assert_eq!(phase(x.t), want, "{model}: {:?} at {}", s.labels, x.t);
                }
                for w in s.samples.windows(2) {
                    assert_eq!((w[1].t - w[0].t) % INTERVAL_MS, 0, "{:?}", s.labels);
                }
            }
        }
    }

    // A new pod has a new name and IP, so new target labels and URL, so a
    // new hash: its targets get phases of their own (scrape/target.go
    // `Target.hash`), not the old pods'.
    #[test]
    fn a_new_pods_targets_get_new_phases() {
        let sc = scenario("hashed", "");
        let out = run(&sc, 1);
        let mut phases: BTreeMap<String, i64> = BTreeMap::new();
        for s in series(&out, "up") {
            // The application targets (the ingress's have no `pod`).
            let Some(pod) = s.labels.get("pod") else {
                continue;
            };
            let svc = s.labels.get("service").expect("service");
            phases.insert(format!("{pod} {svc}"), phase(s.samples[0].t));
        }
        let distinct: std::collections::BTreeSet<i64> = phases.values().copied().collect();
        assert!(
            distinct.len() * 10 >= phases.len() * 9,
            "targets spread over the interval: {phases:?}"
        );
        let new_pods: Vec<i64> = phases
            .iter()
            .filter(|(k, _)| k.ends_with("svc-canary"))
            .map(|(_, v)| *v)
            .collect();
        assert!(new_pods.len() >= 2, "{phases:?}");
        assert!(
            new_pods.windows(2).any(|w| w[0] != w[1]),
            "canary pods at one phase: {phases:?}"
        );
    }

    // cAdvisor is read through each node's kubelet: one target per node
    // (kube-prometheus-stack's kubelet ServiceMonitor,
    // `metrics_path=/metrics/cadvisor`), so every container series of the
    // node's pods carries that target's phase.
    #[test]
    fn a_nodes_cadvisor_series_share_a_phase() {
        let sc = scenario("hashed", "");
        let out = run(&sc, 5);
        let seed = offset_seed(5);
        let mut by_node: BTreeMap<String, (std::collections::BTreeSet<String>, Vec<i64>)> =
            BTreeMap::new();
        for s in series(&out, "container_memory_working_set_bytes") {
            let node = s.labels.get("node").expect("node").to_string();
            let e = by_node.entry(node).or_default();
            e.0.insert(s.labels.get("pod").expect("pod").to_string());
            e.1.extend(s.samples.iter().map(|x| phase(x.t)));
        }
        assert_eq!(by_node.len(), 3);
        for (node, (pods, phases)) in &by_node {
            assert!(pods.len() >= 2, "{node}: {pods:?}");
            let want = target_offset(
                &cadvisor_target_labels(node),
                &format!("https://{node}:10250/metrics/cadvisor"),
                seed,
                sc.scrape_interval,
            )
            .as_millis() as i64;
            assert!(
                phases.iter().all(|p| *p == want),
                "{node}: {phases:?} vs {want}"
            );
        }
    }

    // Determinism (design.md §3): the offset seed comes from the run seed,
    // so the same seed gives the same bytes, and another seed is another
    // server (prometheus scrape/manager.go `setOffsetSeed` hashes the
    // hostname): the node targets move.
    #[test]
    fn same_seed_same_bytes_and_the_offset_seed_follows_the_run_seed() {
        let sc = scenario("hashed", "");
        let a = crate::series::openmetrics::write(&run(&sc, 9).series, 0);
        let b = crate::series::openmetrics::write(&run(&sc, 9).series, 0);
        assert_eq!(a, b);
        let url = "https://node-1:10250/metrics/cadvisor";
        let labels = cadvisor_target_labels("node-1");
        let phases: std::collections::BTreeSet<SimDuration> = (0..8)
            .map(|s| target_offset(&labels, url, offset_seed(s), sc.scrape_interval))
            .collect();
        assert!(phases.len() > 1, "{phases:?}");
    }

    // docs/scenario.md, "Scrapes inside a batch": the batched model knows a
    // pod only at the ends of batches, so a target reads its pod as the last
    // batch that ended before its instant left it. With `batch` equal to the
    // interval, every target of one interval reads the same batch ends: the
    // application targets' request counters, summed over the pods, and the
    // ingress controller's (which counts every answer the pods give, and
    // nothing else in a steady warm-up), each read at its own phase, agree.
    #[test]
    fn in_the_batched_model_a_target_reads_its_pod_as_of_the_last_batch_end() {
        let sc = scenario("hashed", "traffic_model = \"batched\"\nbatch = \"15s\"");
        let out = run(&sc, 4);
        // Per Service (both select the stable pods before the rollout), per
        // interval: the summed counters and the phases they were read at.
        type Sums = BTreeMap<(String, i64), (f64, std::collections::BTreeSet<i64>)>;
        let sums = |name: &str| {
            let mut by = Sums::new();
            for s in series(&out, name) {
                let svc = s.labels.get("service").unwrap_or("").to_string();
                for x in s.samples.iter().filter(|x| !x.v.is_nan()) {
                    let k = (x.t + WARMUP_MS).div_euclid(INTERVAL_MS);
                    let e = by.entry((svc.clone(), k)).or_default();
                    e.0 += x.v;
                    e.1.insert(phase(x.t));
                }
            }
            by
        };
        let app = sums("http_requests_total");
        let ingress = sums("nginx_ingress_controller_requests");
        let services: std::collections::BTreeSet<&String> = app.keys().map(|(s, _)| s).collect();
        assert_eq!(services.len(), 2, "{services:?}");
        // The warm-up's intervals after the first (every target found).
        for svc in services {
            for k in 2..WARMUP_MS / INTERVAL_MS {
                let (a, phases) = &app[&(svc.clone(), k)];
                let (i, at) = ingress
                    .iter()
                    .find(|((_, j), _)| *j == k)
                    .map(|(_, v)| v)
                    .expect("the ingress scraped");
                assert!(
                    *a > 0.0 && phases.len() >= 3,
                    "{svc} {k}: {a} at {phases:?}"
                );
                assert!(!phases.contains(at.first().unwrap()), "{phases:?} {at:?}");
                assert_eq!(a, i, "{svc} {k}: pods at {phases:?}, ingress at {at:?}");
            }
        }
    }

    // `scrape_offsets = "aligned"` keeps the one grid: every sample at a
    // multiple of the interval, as before offsets were modelled.
    #[test]
    fn the_aligned_option_scrapes_every_target_on_one_grid() {
        for model in ["", "traffic_model = \"batched\""] {
            let sc = scenario("aligned", model);
            let out = run(&sc, 2);
            for s in out.series.series() {
                if s.labels.get("job") == Some("pushgateway") {
                    continue;
                }
                for x in &s.samples {
                    assert_eq!(phase(x.t), 0, "{:?}", s.labels);
                }
            }
        }
    }

    #[test]
    fn next_instant_is_strictly_after_now_at_the_phase() {
        let i = SimDuration::from_secs(15);
        let p = SimDuration::from_millis(4_321);
        assert_eq!(next_instant(SimTime(0), i, p), SimTime(4_321_000));
        assert_eq!(next_instant(SimTime(4_321_000), i, p), SimTime(19_321_000));
        assert_eq!(next_instant(SimTime(5_000_000), i, p), SimTime(19_321_000));
    }
}
