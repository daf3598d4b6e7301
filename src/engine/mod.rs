//! The engine: one run of one policy on one scenario with one seed.
//!
//! It owns the event queue, the world (pods, ReplicaSets, Services, the
//! router), the scraper's series store and the rollout controller, and moves
//! them forward event by event. Flow: a validated [`Scenario`] and a
//! [`Policy`] come in; a [`RunOutput`] (the [`RunResult`] and the series)
//! comes out. Nothing here can fail: every input was checked when the
//! scenario was loaded.
//!
//! Time zero is the start of the warm-up, during which only the stable
//! version serves and is scraped; the rollout starts when it ends, and every
//! time in the result is measured from there.

mod pods;
mod scrape;
mod traffic;

use rand::RngExt;

use crate::model::{Pod, PodId, Version};
use crate::outcome::{
    FailedRequests, OomKill, Requests, RolloutSummary, RunResult, StepRecord, Tally, TimelineEntry,
    Verdict,
};
use crate::rollout::controller::{ClusterView, Controller, Note};
use crate::rollout::policy::Policy;
use crate::scenario::Scenario;
use crate::series::SeriesStore;
use crate::sim::rng::{ChaCha8Rng, stream};
use crate::sim::{EventQueue, SimDuration, SimTime};

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
    /// Prometheus scrapes every target.
    Scrape,
    /// The rollout controller reconciles.
    Reconcile,
    /// The operator promotes the pause at this step index, if still paused there.
    OperatorPromote { step: usize },
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

/// A Kubernetes Service: which ReplicaSet it selects, and its endpoints as the
/// endpoints controller last published them.
#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub name: String,
    pub selects: Version,
    pub endpoints: Vec<PodId>,
    pub cursor: usize,
}

/// Tally period of the warm-up (not reported).
pub(crate) const WARMUP: usize = 0;
/// Tally period from the rollout's start to full promotion.
pub(crate) const ROLLOUT: usize = 1;
/// Tally period after full promotion.
pub(crate) const PROMOTED: usize = 2;

/// Index of the stable Service in [`World::services`].
pub(crate) const STABLE_SVC: usize = 0;
/// Index of the canary Service in [`World::services`].
pub(crate) const CANARY_SVC: usize = 1;

/// Everything the events act on, apart from the queue and the controller.
pub(crate) struct World<'s> {
    pub sc: &'s Scenario,
    pub seed: u64,
    pub pods: Vec<Pod>,
    pub pod_rngs: Vec<ChaCha8Rng>,
    pub rs: [ReplicaSet; 2],
    pub services: [Service; 2],
    pub weight: u32,
    pub traffic: traffic::Arrivals,
    pub naming_rng: ChaCha8Rng,
    /// Request tallies by period ([`WARMUP`], [`ROLLOUT`], [`PROMOTED`]) and version.
    pub tallies: [[Tally; 2]; 3],
    /// Which period requests are counted in now.
    pub period: usize,
    /// The largest working set seen per version, bytes.
    pub peak_working_set: [f64; 2],
    pub oom_kills: Vec<OomKill>,
    pub timeline: Vec<TimelineEntry>,
    pub rollout_start: SimTime,
}

impl World<'_> {
    /// Seconds from the rollout's start, for the result.
    pub fn rel_secs(&self, t: SimTime) -> f64 {
        let ms = t.as_millis() - self.rollout_start.as_millis();
        ms as f64 / 1000.0
    }

    /// Prometheus timestamp of `t`: milliseconds from the rollout's start.
    pub fn prom_ms(&self, t: SimTime) -> i64 {
        t.as_millis() - self.rollout_start.as_millis()
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
    /// Every scraped series.
    pub series: SeriesStore,
}

/// One simulation run.
pub struct Engine<'s> {
    queue: EventQueue<Event>,
    world: World<'s>,
    ctrl: Controller,
    scraper: scrape::Scraper,
    store: SeriesStore,
    events: u64,
    end_at: SimTime,
    stopped: bool,
    reconcile_queued_at: Option<SimTime>,
}

impl<'s> Engine<'s> {
    /// Sets up a run: the stable version at full size and warmed up, the
    /// first arrival, scrape and reconcile scheduled.
    pub fn new(sc: &'s Scenario, policy: &Policy, seed: u64) -> Engine<'s> {
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
                cursor: 0,
            },
            Service {
                name: sc.rollout.canary_service.clone(),
                selects: Version::Canary,
                endpoints: Vec::new(),
                cursor: 0,
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
            traffic: traffic::Arrivals::new(sc, seed),
            naming_rng: stream(seed, "pod-names", 0),
            tallies: [[Tally::default(); 2]; 3],
            period: WARMUP,
            peak_working_set: [0.0; 2],
            oom_kills: Vec::new(),
            timeline: Vec::new(),
            rollout_start,
        };
        let mut queue = EventQueue::with_capacity(4096);
        world.start_stable_warm(&mut queue);
        let ctrl = Controller::new(policy.clone(), sc.rollout.replicas, rollout_start);
        queue.schedule(SimTime::ZERO, Event::Scrape);
        world.traffic.schedule_first(&mut queue);
        queue.schedule(rollout_start, Event::Reconcile);
        let end_at = rollout_start + sc.max_duration;
        queue.schedule(end_at, Event::Stop);
        let mut engine = Engine {
            queue,
            world,
            ctrl,
            scraper: scrape::Scraper::new(seed),
            store: SeriesStore::new(),
            events: 0,
            end_at,
            stopped: false,
            reconcile_queued_at: Some(rollout_start),
        };
        let note = format!(
            "rollout of {} starts: {} steps, {} replicas",
            sc.profile(Version::Canary).image,
            policy.steps.len(),
            sc.rollout.replicas
        );
        engine.world.note(rollout_start, "start", note);
        engine
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

    /// Events processed so far.
    pub fn events(&self) -> u64 {
        self.events
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
            } => {
                let killed = self
                    .world
                    .on_complete(now, pod, incarnation, endpoint, arrived, q);
                if killed {
                    self.request_reconcile(now);
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
                    self.request_reconcile(now);
                }
            }
            Event::Restart { pod, incarnation } => self.world.on_restart(now, pod, incarnation, q),
            Event::Delete { pod } => self.world.on_delete(now, pod),
            Event::Scrape => {
                self.scraper.scrape(now, &self.world, &mut self.store);
                let next = now + self.world.sc.scrape_interval;
                self.queue.schedule(next, Event::Scrape);
            }
            Event::Reconcile => {
                self.reconcile_queued_at = None;
                self.reconcile(now);
            }
            Event::OperatorPromote { step } => {
                if self.ctrl.step_index() == step && self.ctrl.waiting_for_promotion() {
                    self.ctrl.promote();
                    self.world.note(
                        now,
                        "operator",
                        format!("operator promotes the pause at step {step}"),
                    );
                    self.request_reconcile(now);
                }
            }
            Event::Stop => self.stopped = true,
        }
    }

    fn request_reconcile(&mut self, now: SimTime) {
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
        let view = ClusterView {
            available: [
                self.world.available(Version::Stable),
                self.world.available(Version::Canary),
            ],
        };
        let was_promoted = self.ctrl.promoted_at().is_some();
        let d = self.ctrl.reconcile(now, view);
        self.world.apply(now, &d, &mut self.queue);
        for (t, note) in self.ctrl.drain_notes() {
            self.on_note(t, note);
        }
        if let (false, Some(p)) = (was_promoted, self.ctrl.promoted_at()) {
            self.world.period = PROMOTED;
            self.end_at = self.end_at.min(p + self.world.sc.soak);
            self.queue.schedule(self.end_at, Event::Stop);
        }
        if d.requeue {
            self.request_reconcile(now);
        }
        if let Some(at) = d.wake_at {
            self.queue.schedule(at, Event::Reconcile);
        }
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
            Note::WeightChanged { weight } => ("weight", format!("canary weight set to {weight}%")),
            Note::PausedIndefinitely { index } => {
                if let Some(after) = self.ctrl.policy().operator.promote_after {
                    self.queue
                        .schedule(t + after, Event::OperatorPromote { step: index });
                }
                (
                    "pause",
                    format!("paused at step {index}, waiting for a person to promote"),
                )
            }
            Note::Promoted => (
                "promoted",
                "fully promoted: the canary is now stable".to_string(),
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
        let canary_bad = sc.canary_bad();
        let verdict = Verdict::judge(canary_bad, promoted.is_some(), false);
        let result = RunResult {
            scenario: sc.name.clone(),
            policy: self.ctrl.policy().name.clone(),
            seed: w.seed,
            canary_bad,
            verdict,
            rollout: RolloutSummary {
                phase: self.ctrl.phase(),
                started_at_s: 0.0,
                promoted_at_s: promoted.map(|t| w.rel_secs(t)),
                aborted_at_s: None,
                abort_reason: None,
                steps,
            },
            analysis_runs: Vec::new(),
            oom_kills: w.oom_kills.clone(),
            requests: Requests {
                stable: w.tallies[ROLLOUT][Version::Stable.index()]
                    + w.tallies[PROMOTED][Version::Stable.index()],
                canary: w.tallies[ROLLOUT][Version::Canary.index()]
                    + w.tallies[PROMOTED][Version::Canary.index()],
            },
            canary_requests: w.tallies[ROLLOUT][Version::Canary.index()].total,
            failed_requests: FailedRequests {
                before_promotion: w.tallies[ROLLOUT].iter().map(|t| t.failed).sum(),
                after_promotion: w.tallies[PROMOTED].iter().map(|t| t.failed).sum(),
            },
            canary_peak_memory_fraction: w.peak_working_set[Version::Canary.index()]
                / sc.pod.memory_limit,
            rollout_duration_s: w.rel_secs(promoted.unwrap_or(self.queue.now())),
            time_to_detect_s: None,
            sim_duration_s: w.rel_secs(self.queue.now()),
            events: self.events,
            timeline: w.timeline.clone(),
        };
        RunOutput {
            result,
            series: self.store,
        }
    }

    /// The end time currently planned (max duration, or promotion plus soak).
    pub fn planned_end(&self) -> SimTime {
        self.end_at
    }
}

/// One run, start to end.
pub fn run(sc: &Scenario, policy: &Policy, seed: u64) -> RunOutput {
    Engine::new(sc, policy, seed).run()
}

fn describe_step(s: &crate::rollout::policy::Step) -> String {
    use crate::rollout::policy::Step;
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
    rng.random::<f64>()
}

/// The rollout-relative duration of a run, for callers that parse `--at`.
pub fn at_offset(rollout_start: SimTime, offset: SimDuration) -> SimTime {
    rollout_start + offset
}
