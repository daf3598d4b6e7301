//! The engine: one run of one policy on one scenario with one seed.
//!
//! It owns the event queue, the world (pods, ReplicaSets, Services, the
//! router, Locust jobs), the scraper's series store, the rollout controller,
//! the AnalysisRuns and the operator, and moves them forward event by event.
//! Flow: a validated [`Scenario`] and a [`Policy`] come in; a [`RunOutput`]
//! (the [`RunResult`], the series and the Locust reports) comes out. Nothing
//! here can fail: every input was checked when the scenario was loaded.
//!
//! Time zero is the start of the warm-up, during which only the stable
//! version serves and is scraped; the rollout starts when it ends, and every
//! time in the result is measured from there.

mod analysis;
mod batch;
mod draw;
mod ingress;
mod jobs;
mod operator;
mod pods;
mod retention;
mod scrape;
mod traffic;

use crate::locust::{LocustReport, Pushgateway, Timer};
use crate::model::{Pod, PodId, Version};
use crate::outcome::{
    FailedRequests, LocustJobSummary, OomKill, Requests, RolloutSummary, RunResult, StepRecord,
    Tally, TimelineEntry, Verdict, WeightChange,
};
use crate::rollout::controller::{ClusterView, Controller, Note};
use crate::rollout::policy::{Policy, Step};
use crate::scenario::{Scenario, TrafficModel};
use crate::series::{Recorded, SeriesStore};
use crate::sim::rng::{ChaCha8Rng, stream};
use crate::sim::{EventQueue, SimTime};

pub use batch::SharedLaws;
pub use retention::Retention;
pub use scrape::{CADVISOR_JOB, KSM_JOB};

/// Something that happens at an instant.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event {
    /// The next production request reaches the ingress.
    Arrival,
    /// A pod finishes serving a request.
    Complete {
        pod: PodId,
        incarnation: u32,
        endpoint: u16,
        arrived: SimTime,
        client: u64,
        via: ingress::Via,
    },
    /// A container's readiness probe passes.
    Ready { pod: PodId, incarnation: u32 },
    /// The endpoints controller catches up with a pod's readiness.
    Listed {
        pod: PodId,
        incarnation: u32,
        listed: bool,
    },
    /// Look at a pod's working set against its limit.
    MemoryCheck { pod: PodId, incarnation: u32 },
    /// The kubelet restarts a killed container.
    Restart { pod: PodId, incarnation: u32 },
    /// A terminating pod is gone.
    Delete { pod: PodId },
    /// Prometheus scrapes the targets of the phase due now (a group of
    /// [`scrape::Scraper`]; group 0, at phase 0, also evaluates the rules).
    /// Ignored unless `token` is the scraper's pending one.
    Scrape { token: u32 },
    /// Service discovery's updates reach the scrape pools.
    Discover,
    /// The rollout controller reconciles.
    Reconcile,
    /// An AnalysisRun reconciles (stale unless `generation` is its latest).
    AnalysisReconcile { run: u32, generation: u32 },
    /// A Locust run's timer.
    LocustTimer { job: u32, timer: Timer },
    /// The Job controller creates the next pod of a Kubernetes Job.
    JobRetry { job: u32 },
    /// The operator acts.
    Operator(operator::OperatorEvent),
    /// The batched traffic model covers the batches that have ended.
    Batch,
    /// The end of the run.
    Stop,
}

/// A ReplicaSet: the pods of one version.
#[derive(Debug, Clone)]
pub(crate) struct ReplicaSet {
    pub hash: String,
    pub desired: u32,
    /// Pods that count towards the ReplicaSet (not terminating, not deleted).
    pub pods: Vec<PodId>,
}

/// A Kubernetes Service: which ReplicaSet it selects, its endpoints as the
/// endpoints controller last published them, and where each ingress-nginx
/// worker's round-robin rotation over them stands.
#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub name: String,
    pub selects: Version,
    pub endpoints: Vec<PodId>,
    /// One cursor per nginx worker per controller replica.
    pub rotations: Vec<usize>,
}

/// Tally period of the warm-up (not reported).
pub(crate) const WARMUP: usize = 0;
/// Tally period from the rollout's start to full promotion or abort.
pub(crate) const ROLLOUT: usize = 1;
/// Tally period after full promotion or abort.
pub(crate) const DECIDED: usize = 2;

/// Index of the stable Service in [`World::services`].
pub(crate) const STABLE_SVC: usize = 0;
/// Index of the canary Service in [`World::services`].
pub(crate) const CANARY_SVC: usize = 1;

/// Everything the events act on, apart from the queue, the controller, the
/// AnalysisRuns and the operator.
pub(crate) struct World<'s> {
    pub sc: &'s Scenario,
    pub seed: u64,
    pub pods: Vec<Pod>,
    pub pod_rngs: Vec<ChaCha8Rng>,
    pub rs: [ReplicaSet; 2],
    pub services: [Service; 2],
    pub weight: u32,
    /// No traffic routing: the ingress spreads over every ready pod.
    pub basic_canary: bool,
    /// The build `status.stableRS` points at.
    pub stable: Version,
    /// The build the Rollout's spec asks for.
    pub desired: Version,
    pub traffic: traffic::Arrivals,
    /// The ingress's choices: which worker a request meets, where a
    /// rotation starts.
    pub balancer_rng: ChaCha8Rng,
    /// The ingress controller's counters and retry state.
    pub ingress: ingress::IngressCounters,
    /// kube-proxy's choice of a backend for in-cluster requests.
    pub proxy_rng: ChaCha8Rng,
    pub naming_rng: ChaCha8Rng,
    /// Request tallies by period ([`WARMUP`], [`ROLLOUT`], [`DECIDED`]) and version.
    pub tallies: [[Tally; 2]; 3],
    /// Which period requests are counted in now.
    pub period: usize,
    /// The largest working set per version at any scrape or OOM kill, bytes.
    pub peak_working_set: [f64; 2],
    pub oom_kills: Vec<OomKill>,
    pub timeline: Vec<TimelineEntry>,
    /// Canary weight changes, for the result.
    pub weights: Vec<WeightChange>,
    pub rollout_start: SimTime,
    /// Locust runs.
    pub jobs: Vec<jobs::JobSlot>,
    /// Kubernetes Jobs of `job` measurements (their pods are Locust runs).
    pub kube_jobs: Vec<jobs::KubeJob>,
    /// Reused buffer for Locust actions.
    pub locust_out: Vec<crate::locust::Action>,
    /// Locust results pushed for Prometheus.
    pub pushgateway: Pushgateway,
    /// Whether finished Locust runs push their gauges: only when a query
    /// could read them, or the run keeps every series. Only then do they
    /// write their CSV files: the push reads them, and `run --out` (which
    /// keeps every series) writes them.
    pub pushes: bool,
    /// The batched traffic model's state; `None` in the per-request model.
    /// Boxed, so that [`World::advance_batches`] takes it out and puts it
    /// back as a pointer, not a copy of its tables.
    pub batcher: Option<Box<batch::Batcher>>,
    /// No query will read the series again ([`Engine::check_settled`]):
    /// scrapes read nothing and the batched model draws no counters.
    pub unwatched: bool,
}

impl World<'_> {
    /// Seconds from the rollout's start, for the result.
    pub fn rel_secs(&self, t: SimTime) -> f64 {
        let ms = t.millis_since(self.rollout_start);
        ms as f64 / 1000.0
    }

    /// Prometheus timestamp of `t`: milliseconds from the rollout's start.
    pub fn prom_ms(&self, t: SimTime) -> i64 {
        t.millis_since(self.rollout_start)
    }

    pub fn note(&mut self, t: SimTime, kind: &'static str, detail: String) {
        let t_s = self.rel_secs(t);
        self.timeline.push(TimelineEntry { t_s, kind, detail });
    }
}

/// The result of a run together with the series it scraped.
pub struct RunOutput {
    /// Verdict, figures and timeline.
    pub result: RunResult,
    /// Every scraped series: whole with [`Retention::Full`]; with
    /// [`Retention::Queries`] only the series a query could select, and
    /// only each one's last window.
    pub series: SeriesStore,
    /// Every finished Locust run: its Job name and report.
    pub locust: Vec<(String, LocustReport)>,
    /// When the run became unwatched (no query could read its series any
    /// more, so it stopped scraping them); never with [`Retention::Full`].
    pub unwatched_at: Option<SimTime>,
}

/// What every run of one policy on one scenario starts from, whatever its
/// seed: whether the Rollout's references validate (Argo's InvalidSpec),
/// and which series, how far back, the run keeps and writes
/// ([`retention`]). Working it out parses every query of the policy, so
/// the runs of a sweep cell, a check or `run --runs` share one.
pub struct Plan<'s, 'p> {
    sc: &'s Scenario,
    policy: &'p Policy,
    retention: Retention,
    invalid: Option<String>,
    window: Option<i64>,
    recorded: Option<Recorded>,
    reads_ingress: bool,
    reads_pushgateway: bool,
}

impl<'s, 'p> Plan<'s, 'p> {
    /// The plan of runs of `policy` on `sc` keeping what `retention` asks.
    pub fn new(sc: &'s Scenario, policy: &'p Policy, retention: Retention) -> Plan<'s, 'p> {
        let queries = retention == Retention::Queries;
        Plan {
            sc,
            policy,
            retention,
            invalid: crate::rollout::validate::referenced_resources(&sc.rollout.name, policy),
            window: if queries {
                retention::window(sc, policy)
            } else {
                None
            },
            recorded: if queries {
                retention::recorded(policy)
            } else {
                None
            },
            reads_ingress: !queries || retention::reads_ingress(policy),
            reads_pushgateway: !queries || retention::reads_pushgateway(policy),
        }
    }
}

/// One simulation run.
pub struct Engine<'s> {
    queue: EventQueue<Event>,
    world: World<'s>,
    ctrl: Controller,
    analyses: analysis::Analyses,
    operator: operator::Operator,
    scraper: scrape::Scraper,
    /// Reused buffers: the pods a scrape reads.
    read_apps: Vec<PodId>,
    read_nodes: Vec<PodId>,
    store: SeriesStore,
    retention: Retention,
    /// Nothing can act on the run's series again ([`Engine::check_settled`]).
    settled: bool,
    /// See [`RunOutput::unwatched_at`].
    unwatched_at: Option<SimTime>,
    events: u64,
    end_at: SimTime,
    stopped: bool,
    /// Whether the soak after promotion and after an abort has been
    /// scheduled (each from the first of its kind).
    soak_scheduled: [bool; 2],
    reconcile_queued_at: Option<SimTime>,
}

impl<'s> Engine<'s> {
    /// Sets up a run that keeps every sample ([`Retention::Full`]).
    pub fn new(sc: &'s Scenario, policy: &Policy, seed: u64) -> Engine<'s> {
        Engine::with_retention(sc, policy, seed, Retention::Full)
    }

    /// Sets up a run: the stable version at full size and warmed up, the
    /// first arrival, scrape and reconcile scheduled, the series store
    /// keeping what `retention` asks.
    pub fn with_retention(
        sc: &'s Scenario,
        policy: &Policy,
        seed: u64,
        retention: Retention,
    ) -> Engine<'s> {
        Engine::planned(&Plan::new(sc, policy, retention), seed)
    }

    /// Sets up a run of `plan`'s policy on its scenario with `seed` (see
    /// [`Engine::with_retention`]).
    pub fn planned(plan: &Plan<'s, '_>, seed: u64) -> Engine<'s> {
        let (sc, policy, retention) = (plan.sc, plan.policy, plan.retention);
        let rollout_start = SimTime::ZERO + sc.warmup;
        let rs = [Version::Stable, Version::Canary].map(|v| ReplicaSet {
            hash: crate::model::pod::pod_template_hash(&sc.profile(v).image, 0),
            desired: 0,
            pods: Vec::new(),
        });
        let services = [
            Service {
                name: sc.rollout.stable_service.clone(),
                selects: Version::Stable,
                endpoints: Vec::new(),
                rotations: vec![0; sc.ingress.rotations()],
            },
            Service {
                name: sc.rollout.canary_service.clone(),
                selects: Version::Stable,
                endpoints: Vec::new(),
                rotations: vec![0; sc.ingress.rotations()],
            },
        ];
        let mut world = World {
            sc,
            seed,
            pods: Vec::new(),
            pod_rngs: Vec::new(),
            rs,
            services,
            weight: 0,
            basic_canary: !policy.traffic_routing,
            stable: Version::Stable,
            desired: Version::Stable,
            traffic: traffic::Arrivals::new(sc, seed),
            balancer_rng: stream(seed, "ingress-balancer", 0),
            ingress: ingress::IngressCounters::new(sc, plan.reads_ingress),
            proxy_rng: stream(seed, "kube-proxy", 0),
            naming_rng: stream(seed, "pod-names", 0),
            tallies: [[Tally::default(); 2]; 3],
            period: WARMUP,
            peak_working_set: [0.0; 2],
            oom_kills: Vec::new(),
            timeline: Vec::new(),
            weights: Vec::new(),
            rollout_start,
            jobs: Vec::new(),
            kube_jobs: Vec::new(),
            locust_out: Vec::new(),
            pushgateway: Pushgateway::new(),
            pushes: plan.reads_pushgateway,
            batcher: match sc.traffic_model {
                TrafficModel::PerRequest => None,
                TrafficModel::Batched { batch, soak_batch } => {
                    Some(Box::new(batch::Batcher::new(sc, seed, batch, soak_batch)))
                }
            },
            unwatched: false,
        };
        let mut queue = EventQueue::with_capacity(4096);
        world.start_stable_warm(&mut queue);
        let invalid = plan.invalid.clone();
        let mut ctrl = Controller::new(policy.clone(), sc.rollout.replicas, rollout_start, invalid);
        ctrl.name_replica_sets(
            world
                .rs
                .clone()
                .map(|r| format!("{}-{}", sc.rollout.name, r.hash)),
        );
        queue.schedule(SimTime::ZERO, Event::Scrape { token: 0 });
        let scraper = scrape::Scraper::new(sc, seed);
        if scraper.hashed() {
            queue.schedule(SimTime::ZERO, Event::Discover);
        }
        match &world.batcher {
            None => world.traffic.schedule_first(&mut queue),
            Some(b) => queue.schedule(b.next_end(), Event::Batch),
        }
        if let Some(users) = &sc.traffic.users {
            world.start_production_users(users, &mut queue);
        }
        queue.schedule(rollout_start, Event::Reconcile);
        let end_at = rollout_start + sc.max_duration;
        queue.schedule(end_at, Event::Stop);
        let note = format!(
            "rollout of {} starts: {} steps, {} replicas",
            sc.profile(Version::Canary).image,
            policy.steps.len(),
            sc.rollout.replicas
        );
        world.note(rollout_start, "start", note);
        let mut store = SeriesStore::new();
        if retention == Retention::Queries {
            store.set_retention(plan.window);
            store.record_only(plan.recorded.clone());
        }
        Engine {
            queue,
            world,
            ctrl,
            analyses: analysis::Analyses::default(),
            operator: operator::Operator::new(&policy.operator),
            scraper,
            read_apps: Vec::new(),
            read_nodes: Vec::new(),
            store,
            retention,
            settled: false,
            unwatched_at: None,
            events: 0,
            end_at,
            stopped: false,
            soak_scheduled: [false; 2],
            reconcile_queued_at: Some(rollout_start),
        }
    }

    /// The simulation clock.
    pub fn now(&self) -> SimTime {
        self.queue.now()
    }

    /// When the rollout started (the end of the warm-up).
    pub fn rollout_start(&self) -> SimTime {
        self.world.rollout_start
    }

    /// The series scraped so far.
    pub fn store(&self) -> &SeriesStore {
        &self.store
    }

    /// Whether the run has ended (its soak after promotion or abort, or its
    /// `max_duration`, is over).
    pub fn ended(&self) -> bool {
        self.stopped
    }

    /// Events processed so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The pod-template hash of each version's ReplicaSet, by [`Version::index`].
    pub fn template_hashes(&self) -> [&str; 2] {
        [&self.world.rs[0].hash, &self.world.rs[1].hash]
    }

    /// Processes the next event; `false` once the run has ended.
    pub fn step(&mut self) -> bool {
        if self.stopped {
            return false;
        }
        let Some((now, event)) = self.queue.pop() else {
            self.stopped = true;
            return false;
        };
        self.events += 1;
        self.handle(now, event);
        !self.stopped
    }

    /// Processes every event up to and including time `t`.
    pub fn run_until(&mut self, t: SimTime) {
        while !self.stopped && self.queue.peek_time().is_some_and(|next| next <= t) {
            self.step();
        }
    }

    /// Runs to the end and returns the result with the series.
    pub fn run(mut self) -> RunOutput {
        while self.step() {}
        self.finish()
    }

    fn handle(&mut self, now: SimTime, event: Event) {
        let q = &mut self.queue;
        match event {
            Event::Arrival => self.world.on_arrival(now, q),
            Event::Complete {
                pod,
                incarnation,
                endpoint,
                arrived,
                client,
                via,
            } => {
                let kills = self.world.oom_kills.len();
                if self
                    .world
                    .on_complete(now, pod, incarnation, endpoint, arrived, client, via, q)
                {
                    self.request_reconcile(now);
                }
                if self.world.oom_kills.len() > kills {
                    self.on_oom_kill(now);
                }
            }
            Event::Ready { pod, incarnation } => self.world.on_ready(now, pod, incarnation, q),
            Event::Listed {
                pod,
                incarnation,
                listed,
            } => {
                if self.world.on_listed(pod, incarnation, listed) {
                    self.request_reconcile(now);
                }
            }
            Event::MemoryCheck { pod, incarnation } => {
                if self.world.on_memory_check(now, pod, incarnation, q) {
                    self.on_oom_kill(now);
                    self.request_reconcile(now);
                }
            }
            Event::Restart { pod, incarnation } => self.world.on_restart(now, pod, incarnation, q),
            Event::Delete { pod } => self.world.on_delete(now, pod, q),
            Event::Scrape { token } => {
                if let Some(g) = self.scraper.due(token, now) {
                    self.on_scrape(now, g);
                    self.scraper.schedule_next(now, &mut self.queue);
                    if g == 0 {
                        self.evaluate_alerts(now);
                    }
                }
            }
            Event::Discover => {
                self.scraper
                    .discover(now, &self.world, &mut self.store, &mut self.queue);
                let next = now + scrape::DISCOVERY_EVERY;
                self.queue.schedule(next, Event::Discover);
            }
            Event::Reconcile => {
                self.reconcile_queued_at = None;
                self.reconcile(now);
            }
            Event::AnalysisReconcile { run, generation } => {
                let changed = self.analyses.on_event(
                    run,
                    generation,
                    &mut self.world,
                    &self.store,
                    &mut self.queue,
                    now,
                );
                if changed {
                    self.request_reconcile(now);
                }
                self.check_settled();
            }
            Event::LocustTimer { job, timer } => self.world.on_locust_timer(job, timer, now, q),
            Event::JobRetry { job } => self.world.on_job_retry(job, now, q),
            Event::Operator(e) => self.on_operator(now, e),
            Event::Batch => {
                self.advance_batches(now);
                if let Some(b) = &self.world.batcher {
                    self.queue.schedule(b.next_end(), Event::Batch);
                }
            }
            Event::Stop => self.stopped = true,
        }
    }

    /// One scrape instant: the targets of group `g`, each sample at `now`,
    /// the scheduled time. In the batched model the pods are as the batches
    /// that ended by `now` left them: a target whose phase falls inside a
    /// batch reads its pod as of that batch's start (docs/scenario.md).
    fn on_scrape(&mut self, now: SimTime, g: u32) {
        let reads = self
            .scraper
            .reads(g, &mut self.read_apps, &mut self.read_nodes);
        self.advance_batches(now);
        if self.world.unwatched {
            self.record_peaks(now);
            return;
        }
        // The application targets' pods, and the ingress's view of every
        // pod when a replica is read: drawn apart, on streams of their own,
        // so the application's counters are the same whether or not the
        // run records the ingress's series.
        if reads.every_target {
            self.world.flush_all_pods();
        } else {
            self.world.flush_pods(&self.read_apps);
        }
        if reads.ingress {
            self.world.flush_ingress();
        }
        if self
            .scraper
            .scrape_group(g, now, &self.world, &mut self.store)
        {
            let t = self.world.prom_ms(now);
            self.world.pushgateway.scrape_into(&mut self.store, t);
        }
        self.record_peaks(now);
    }

    /// The peak working sets as the scrape at `now` sees them: of the pods
    /// it read, or of every pod when every target is scraped at once.
    fn record_peaks(&mut self, now: SimTime) {
        if self.scraper.hashed() {
            for &pod in &self.read_nodes {
                self.world.record_peak(pod, now);
            }
        } else {
            self.world.record_peaks(now);
        }
    }

    /// Marks the run settled once nothing can act on its series again: its
    /// rollout is no longer in progress (promoted, aborted or invalid), every
    /// AnalysisRun has completed, and the operator can no longer act on
    /// what the series show (no alerts, an OOM page brings no response, and
    /// no panels, or no pause that waits for a person). The batched model
    /// may then take longer batches ([`batch::Batcher::settle`]), whatever
    /// the run keeps. A run that keeps only what queries read
    /// ([`Retention::Queries`]) also becomes unwatched: from then on scrapes
    /// read nothing and the batched model draws no counters. Nothing else
    /// changes: the same events come at the same instants, and the
    /// counters' draws are on streams of their own, so the result is the
    /// same bytes as a run that keeps everything.
    fn check_settled(&mut self) {
        if self.settled {
            // An abort the operator made between reconciles can settle the
            // run before the reconcile that schedules its end: the batches
            // learn the end again at each check.
            if let Some(b) = self.world.batcher.as_mut() {
                b.settle(self.end_at);
            }
            return;
        }
        let cfg = self.operator.config();
        // A person asked for looks at the panels until the reconcile that
        // writes an abort clears the pause conditions (a `kubectl argo
        // rollouts abort` between reconciles is not written yet).
        let operator_done = cfg.alerts.is_empty()
            && (!cfg.page_on_oom || cfg.respond_after.is_none())
            && (cfg.panels.is_empty() || !self.ctrl.waiting_for_person());
        if !self.ctrl.in_progress() && operator_done && self.analyses.all_completed() {
            self.settled = true;
            if let Some(b) = self.world.batcher.as_mut() {
                b.settle(self.end_at);
            }
            if self.retention == Retention::Queries {
                self.world.unwatched = true;
                self.unwatched_at = Some(self.queue.now());
            }
        }
    }

    /// Brings the batched model up to `now` (nothing in the per-request one).
    fn advance_batches(&mut self, now: SimTime) {
        if self.world.advance_batches(now, &mut self.queue) {
            self.on_oom_kill(now);
            self.request_reconcile(now);
        }
    }

    pub(crate) fn request_reconcile(&mut self, now: SimTime) {
        if now < self.world.rollout_start {
            return;
        }
        if self.reconcile_queued_at != Some(now) {
            self.reconcile_queued_at = Some(now);
            self.queue.schedule(now, Event::Reconcile);
        }
    }

    fn reconcile(&mut self, now: SimTime) {
        if self.world.period == WARMUP {
            self.world.period = ROLLOUT;
        }
        let mut view = ClusterView {
            available: [
                self.world.available(Version::Stable),
                self.world.available(Version::Canary),
            ],
            created: [
                self.world.rs[0].pods.len() as u32,
                self.world.rs[1].pods.len() as u32,
            ],
            runs: Vec::new(),
        };
        self.analyses.view(&mut view);
        let d = self.ctrl.reconcile(now, &view);
        self.world.stable = self.ctrl.stable();
        self.world.desired = self.ctrl.desired();
        self.world.apply(now, &d, &mut self.queue);
        let changed = self.analyses.apply(
            &d.runs,
            self.ctrl.policy(),
            &mut self.world,
            &self.store,
            &mut self.queue,
            now,
        );
        for (t, note) in self.ctrl.drain_notes() {
            self.on_note(t, note);
        }
        // The decision, first seen here: the operator's abort or promote
        // comes between reconciles.
        if let (false, Some(p)) = (self.soak_scheduled[0], self.ctrl.promoted_at()) {
            self.soak_scheduled[0] = true;
            self.world.period = DECIDED;
            self.end_at = self.end_at.min(p + self.world.sc.soak);
            self.queue.schedule(self.end_at, Event::Stop);
        }
        if let (false, Some((a, _))) = (self.soak_scheduled[1], self.ctrl.aborted()) {
            self.soak_scheduled[1] = true;
            if self.ctrl.promoted_at().is_none() {
                self.world.period = DECIDED;
            }
            self.end_at = self.end_at.min(a + self.world.sc.soak);
            self.queue.schedule(self.end_at, Event::Stop);
        }
        if d.requeue || changed {
            self.request_reconcile(now);
        }
        if let Some(at) = d.wake_at {
            self.queue.schedule(at, Event::Reconcile);
        }
        self.check_settled();
    }

    fn on_note(&mut self, t: SimTime, note: Note) {
        let steps = &self.ctrl.policy().steps;
        let (kind, detail) = match note {
            Note::StepStarted { index } => (
                "step",
                format!("step {index} starts: {}", describe_step(&steps[index])),
            ),
            Note::StepCompleted { index } => (
                "step",
                format!("step {index} done: {}", describe_step(&steps[index])),
            ),
            Note::WeightChanged { weight } => {
                let t_s = self.world.rel_secs(t);
                self.world.weights.push(WeightChange { t_s, weight });
                ("weight", format!("canary weight set to {weight}%"))
            }
            Note::PausedForPerson { index, reason } => {
                self.operator_watch(t);
                (
                    "pause",
                    format!("paused at step {index} ({reason}), waiting for a person"),
                )
            }
            Note::Aborted { message } => ("abort", message),
            Note::Promoted {
                version: Version::Canary,
            } => (
                "promoted",
                "fully promoted: the canary build is now stable".to_string(),
            ),
            Note::Promoted {
                version: Version::Stable,
            } => (
                "promoted",
                "rolled back: the previous build is stable again".to_string(),
            ),
            Note::InvalidSpec { message } => {
                // Nothing will ever happen; end after the soak.
                self.end_at = self.end_at.min(t + self.world.sc.soak);
                self.queue.schedule(self.end_at, Event::Stop);
                ("invalid", format!("InvalidSpec: {message}"))
            }
            Note::ProgressDeadlineExceeded { message } => {
                ("progress", format!("ProgressDeadlineExceeded: {message}"))
            }
            Note::Undo { within_window } => (
                "undo",
                if within_window {
                    "undo: back to the previous build, within rollbackWindow (steps skipped)"
                        .to_string()
                } else {
                    "undo: back to the previous build, through the canary steps again".to_string()
                },
            ),
        };
        self.world.note(t, kind, detail);
    }

    /// Ends the run and assembles the result.
    pub fn finish(self) -> RunOutput {
        let w = &self.world;
        let sc = w.sc;
        let steps = self
            .ctrl
            .spans()
            .iter()
            .enumerate()
            .map(|(index, span)| StepRecord {
                index,
                kind: self.ctrl.policy().steps[index].kind(),
                started_at_s: span.started.map(|t| w.rel_secs(t)),
                ended_at_s: span.ended.map(|t| w.rel_secs(t)),
            })
            .collect();
        let promoted = self.ctrl.promoted_at();
        let aborted = self.ctrl.aborted().map(|(t, m)| (t, m.to_string()));
        let canary_bad = sc.canary_bad();
        let verdict = Verdict::judge(
            canary_bad,
            promoted.is_some(),
            aborted.is_some() && promoted.is_none(),
        );
        let decided = match (promoted, &aborted) {
            (Some(p), _) => Some(p),
            (None, Some((a, _))) => Some(*a),
            _ => None,
        };
        let time_to_detect_s = match (&aborted, verdict) {
            (Some((a, _)), Verdict::Caught) => Some(w.rel_secs(*a)),
            _ => None,
        };
        let phase = self.ctrl.phase();
        let result = RunResult {
            scenario: sc.name.clone(),
            policy: self.ctrl.policy().name.clone(),
            seed: w.seed,
            canary_bad,
            verdict,
            rollout: RolloutSummary {
                phase,
                started_at_s: 0.0,
                promoted_at_s: promoted.map(|t| w.rel_secs(t)),
                aborted_at_s: aborted.as_ref().map(|(t, _)| w.rel_secs(*t)),
                abort_reason: aborted.as_ref().map(|(_, m)| m.clone()),
                invalid_spec: self.ctrl.invalid_spec().map(str::to_string),
                steps,
            },
            analysis_runs: self.analyses.reports(w.rollout_start),
            locust_jobs: w
                .jobs
                .iter()
                .filter(|j| !j.production)
                .filter_map(|j| match (&j.report, j.exited_at_start) {
                    (Some(r), _) => Some(LocustJobSummary {
                        name: j.name.clone(),
                        started_at_s: w.rel_secs(r.started_at),
                        ended_at_s: w.rel_secs(r.ended_at),
                        requests: r.stats.total().num_requests,
                        failures: r.stats.total().num_failures,
                        locust_exit_code: r.exit_code,
                        job_exit_code: j.exit_code.unwrap_or(r.exit_code),
                    }),
                    // Locust refused its command line: the pod started,
                    // sent nothing and exited at once.
                    (None, Some((at, code))) => Some(LocustJobSummary {
                        name: j.name.clone(),
                        started_at_s: w.rel_secs(at),
                        ended_at_s: w.rel_secs(at),
                        requests: 0,
                        failures: 0,
                        locust_exit_code: code,
                        job_exit_code: j.exit_code.unwrap_or(code),
                    }),
                    (None, None) => None,
                })
                .collect(),
            oom_kills: w.oom_kills.clone(),
            requests: Requests {
                stable: w.tallies[ROLLOUT][Version::Stable.index()]
                    + w.tallies[DECIDED][Version::Stable.index()],
                canary: w.tallies[ROLLOUT][Version::Canary.index()]
                    + w.tallies[DECIDED][Version::Canary.index()],
            },
            canary_requests: w.tallies[ROLLOUT][Version::Canary.index()].total,
            failed_requests: {
                let after: u64 = w.tallies[DECIDED].iter().map(|t| t.failed).sum();
                FailedRequests {
                    during_rollout: w.tallies[ROLLOUT].iter().map(|t| t.failed).sum(),
                    after_promotion: promoted.map(|_| after),
                    after_abort: (promoted.is_none() && aborted.is_some()).then_some(after),
                }
            },
            canary_peak_memory_fraction: w.peak_working_set[Version::Canary.index()]
                / sc.pod.memory_limit,
            rollout_duration_s: w.rel_secs(decided.unwrap_or(self.queue.now())),
            time_to_detect_s,
            sim_duration_s: w.rel_secs(self.queue.now()),
            events: self.events,
            timeline: {
                // The batched model places OOM kills back inside the batch
                // it simulates at the batch's end.
                let mut t = w.timeline.clone();
                t.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
                t
            },
            canary_weights: w.weights.clone(),
        };
        let locust = self
            .world
            .jobs
            .into_iter()
            .filter_map(|j| j.report.map(|r| (j.name, r)))
            .collect();
        RunOutput {
            result,
            series: self.store,
            locust,
            unwatched_at: self.unwatched_at,
        }
    }
}

/// One run, start to end, keeping every sample.
pub fn run(sc: &Scenario, policy: &Policy, seed: u64) -> RunOutput {
    Engine::new(sc, policy, seed).run()
}

/// One run, start to end, keeping only the samples the policy's queries can
/// read: the same result as [`run`] in memory that does not grow with the
/// simulated time. For callers that want the result, not the series.
pub fn run_result(sc: &Scenario, policy: &Policy, seed: u64) -> RunResult {
    Engine::with_retention(sc, policy, seed, Retention::Queries)
        .run()
        .result
}

/// As [`run_result`] for `plan`'s policy and scenario (a plan made with
/// [`Retention::Queries`]), sharing the batched model's response laws with
/// the other runs that get `laws` (the runs of a sweep, a check or `run
/// --runs`): the same result, with the plan and each law worked out once
/// for all of them.
pub fn run_result_sharing(plan: &Plan<'_, '_>, seed: u64, laws: &SharedLaws) -> RunResult {
    debug_assert!(
        plan.retention == Retention::Queries,
        "a plan for results only"
    );
    let mut engine = Engine::planned(plan, seed);
    if let Some(b) = engine.world.batcher.as_mut() {
        b.share(plan.sc, laws);
    }
    engine.run().result
}

fn describe_step(s: &Step) -> String {
    match s {
        Step::SetWeight(w) => format!("setWeight {w}"),
        Step::Pause(Some(d)) => format!("pause {d}"),
        Step::Pause(None) => "pause (until promoted)".to_string(),
        Step::Analysis(a) => {
            let names: Vec<&str> = a.templates.iter().map(|t| t.name.as_str()).collect();
            format!("analysis {}", names.join(", "))
        }
        Step::SetCanaryScale(s) => format!("setCanaryScale {s:?}"),
    }
}

/// A random fraction in [0, 1) from `rng`; a helper for the submodules.
#[inline]
pub(crate) fn unit(rng: &mut ChaCha8Rng) -> f64 {
    use rand::RngExt;
    rng.random::<f64>()
}
