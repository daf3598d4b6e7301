//! AnalysisRuns in the simulation: created and cancelled on the rollout
//! controller's requests, reconciled at the times they ask for, measuring
//! through a [`ProviderHost`] that evaluates PromQL on the scraped series and
//! runs Locust jobs in the world.
//!
//! Flow: the controller's [`RunRequest`]s come in; run phases go back to the
//! controller through its [`ClusterView`]; every run, finished or not, ends
//! up in the result's `analysis_runs`.

use std::collections::HashMap;

use super::jobs::JobOutcome;
use super::{Event, World};
use crate::analysis::{
    AnalysisRun, AnalysisRunReport, JobId, JobRequest, JobStatus, PodHashes, ProviderHost,
    build_run_args, new_run_spec,
};
use crate::promql::{Query, Value};
use crate::rollout::controller::{ClusterView, RunKind, RunRequest, RunView};
use crate::rollout::policy::Policy;
use crate::series::SeriesStore;
use crate::sim::rng::stream;
use crate::sim::{EventQueue, SimDuration, SimTime};

/// One run and what the engine knows about it.
pub(crate) struct RunSlot {
    pub run: AnalysisRun,
    pub kind: RunKind,
    /// Bumped whenever a reconcile is scheduled; older events are stale.
    pub generation: u32,
    /// Whether the controller still counts it as current.
    pub current: bool,
}

/// Every run of the simulation, and the parsed PromQL they use.
#[derive(Default)]
pub(crate) struct Analyses {
    pub slots: Vec<RunSlot>,
    queries: HashMap<String, Query>,
}

/// The providers' view of the world at one instant.
struct Host<'a, 'w> {
    world: &'a mut World<'w>,
    store: &'a SeriesStore,
    queue: &'a mut EventQueue<Event>,
    queries: &'a mut HashMap<String, Query>,
}

impl Host<'_, '_> {
    fn parsed(&mut self, query: &str) -> Result<&Query, String> {
        if !self.queries.contains_key(query) {
            let q = Query::parse(query).map_err(|e| e.to_string())?;
            self.queries.insert(query.to_string(), q);
        }
        Ok(&self.queries[query])
    }
}

impl ProviderHost for Host<'_, '_> {
    fn prometheus_query(&mut self, query: &str, at: SimTime) -> Result<Value, String> {
        let t = self.world.prom_ms(at);
        let store = self.store;
        let q = self.parsed(query)?;
        q.instant(store, t, &crate::promql::EvalOptions::default())
            .map_err(|e| e.to_string())
    }

    fn prometheus_range_query(
        &mut self,
        query: &str,
        start: SimTime,
        end: SimTime,
        step: SimDuration,
    ) -> Result<Value, String> {
        let (s, e) = (self.world.prom_ms(start), self.world.prom_ms(end));
        let step_ms = (step.as_millis() as i64).max(1);
        let store = self.store;
        let q = self.parsed(query)?;
        q.range(store, s, e, step_ms, &crate::promql::EvalOptions::default())
            .map_err(|e| e.to_string())
    }

    fn start_job(&mut self, request: &JobRequest, at: SimTime) -> Result<JobId, String> {
        let sc = self.world.sc;
        let launch = request
            .locust
            .launch(
                &sc.rollout.canary_service,
                &sc.rollout.stable_service,
                &sc.namespace,
            )
            .map_err(|e| e.to_string())?;
        let index = self.world.start_kube_job(
            request.job_name.clone(),
            launch,
            request.locust.clone(),
            at,
            self.queue,
        )?;
        Ok(JobId(u64::from(index)))
    }

    fn job_status(&mut self, id: JobId, _at: SimTime) -> Result<JobStatus, String> {
        let job = self
            .world
            .kube_jobs
            .get(id.0 as usize)
            .ok_or_else(|| format!("job {} not found", id.0))?;
        Ok(match job.outcome {
            None => JobStatus::Running,
            Some(JobOutcome::Complete) => JobStatus::Succeeded,
            Some(JobOutcome::Failed { exit_code }) => JobStatus::Failed { exit_code },
        })
    }

    fn terminate_job(&mut self, id: JobId, at: SimTime) -> Result<(), String> {
        self.world.terminate_kube_job(id.0 as u32, at, self.queue);
        Ok(())
    }
}

impl Analyses {
    /// Carries out the controller's run requests at `now`. Returns whether
    /// a run's phase changed (the controller should look again).
    pub fn apply(
        &mut self,
        requests: &[RunRequest],
        policy: &Policy,
        world: &mut World,
        store: &SeriesStore,
        queue: &mut EventQueue<Event>,
        now: SimTime,
    ) -> bool {
        let mut changed = false;
        for r in requests {
            match r {
                RunRequest::Start { kind, analysis } => {
                    let templates: Vec<_> = analysis
                        .templates
                        .iter()
                        .filter_map(|t| policy.template(t))
                        .collect();
                    let hashes = PodHashes {
                        stable: Some(world.rs[world.stable.index()].hash.clone()),
                        latest: world.rs[world.desired.index()].hash.clone(),
                    };
                    let built = build_run_args(&analysis.args, &hashes)
                        .map_err(|e| e.to_string())
                        .and_then(|args| {
                            new_run_spec(
                                &templates,
                                &args,
                                &analysis.dry_run,
                                &analysis.measurement_retention,
                            )
                            .map_err(|e| e.to_string())
                        });
                    let spec = match built {
                        Ok(spec) => spec,
                        Err(e) => {
                            world.note(now, "analysis", format!("cannot create AnalysisRun: {e}"));
                            continue;
                        }
                    };
                    let n = self.slots.len() as u64;
                    let hash = &world.rs[world.desired.index()].hash;
                    let name = match kind {
                        RunKind::Step(i) => format!("{}-{hash}-2-{i}", world.sc.rollout.name),
                        RunKind::Background => format!("{}-{hash}-2", world.sc.rollout.name),
                    };
                    let step = match kind {
                        RunKind::Step(i) => Some(*i),
                        RunKind::Background => None,
                    };
                    let run = AnalysisRun::new(
                        name.clone(),
                        spec,
                        now,
                        stream(world.seed, "analysis", n),
                    )
                    .with_step(step);
                    world.note(
                        now,
                        "analysis",
                        format!("AnalysisRun {name} created ({})", analysis_names(analysis)),
                    );
                    self.slots.push(RunSlot {
                        run,
                        kind: *kind,
                        generation: 0,
                        current: true,
                    });
                    queue.schedule(
                        now,
                        Event::AnalysisReconcile {
                            run: n as u32,
                            generation: 0,
                        },
                    );
                }
                RunRequest::Cancel { kind } => {
                    for i in 0..self.slots.len() {
                        if self.slots[i].current && self.slots[i].kind == *kind {
                            self.slots[i].current = false;
                            if !self.slots[i].run.phase().completed() {
                                let mut host = Host {
                                    world,
                                    store,
                                    queue,
                                    queries: &mut self.queries,
                                };
                                let slot = &mut self.slots[i];
                                slot.run.terminate(now, &mut host);
                                changed |= self.reconcile_slot(i, world, store, queue, now);
                            }
                        }
                    }
                }
            }
        }
        changed
    }

    /// A run's reconcile event. Returns whether its phase changed.
    pub fn on_event(
        &mut self,
        run: u32,
        generation: u32,
        world: &mut World,
        store: &SeriesStore,
        queue: &mut EventQueue<Event>,
        now: SimTime,
    ) -> bool {
        let i = run as usize;
        if self.slots[i].generation != generation {
            return false;
        }
        self.reconcile_slot(i, world, store, queue, now)
    }

    fn reconcile_slot(
        &mut self,
        i: usize,
        world: &mut World,
        store: &SeriesStore,
        queue: &mut EventQueue<Event>,
        now: SimTime,
    ) -> bool {
        let before = self.slots[i].run.phase();
        let mut host = Host {
            world,
            store,
            queue,
            queries: &mut self.queries,
        };
        let slot = &mut self.slots[i];
        let r = slot.run.reconcile(now, &mut host);
        slot.generation += 1;
        if let Some(at) = r.next_reconcile {
            queue.schedule(
                at.max(now),
                Event::AnalysisReconcile {
                    run: i as u32,
                    generation: slot.generation,
                },
            );
        }
        let after = slot.run.phase();
        if before != after && after.completed() {
            let name = slot.run.name().to_string();
            let msg = slot.run.message().to_string();
            let detail = if msg.is_empty() {
                format!("AnalysisRun {name} {}", after.as_str())
            } else {
                format!("AnalysisRun {name} {}: {msg}", after.as_str())
            };
            world.note(now, "analysis", detail);
        }
        before != after
    }

    /// Whether every run has completed (none will query again).
    pub fn all_completed(&self) -> bool {
        self.slots.iter().all(|s| s.run.phase().completed())
    }

    /// The controller's current runs, for its view.
    pub fn view(&self, view: &mut ClusterView) {
        view.runs.clear();
        for s in self.slots.iter().filter(|s| s.current) {
            view.runs.push(RunView {
                kind: s.kind,
                phase: s.run.phase(),
                message: s.run.message().to_string(),
            });
        }
    }

    /// Every run's JSON entry, times from `origin`.
    pub fn reports(&self, origin: SimTime) -> Vec<AnalysisRunReport> {
        self.slots.iter().map(|s| s.run.report(origin)).collect()
    }
}

fn analysis_names(a: &crate::rollout::policy::AnalysisRef) -> String {
    a.templates
        .iter()
        .map(|t| t.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
