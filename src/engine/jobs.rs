//! Locust runs inside the simulation: the `job` provider's validation load
//! and, optionally, production traffic as a population of users.
//!
//! A [`crate::locust::LocustRun`] decides what its users do; this file turns
//! its actions into the world's events: a `Send` becomes a request routed
//! through the run's target (the canary Service, the stable Service or the
//! ingress), a `Schedule` becomes a timer event, and the response of a pod
//! (or the 502/503 of routing) goes back to the user. A request carries a
//! client tag so the pod's completion finds its way back: 0 is the open-loop
//! production traffic, `(job + 1) << 32 | user` a Locust user.

use super::{CANARY_SVC, Event, STABLE_SVC, World};
use crate::locust::{
    Action, LocustJob, LocustReport, LocustRun, LocustRunSpec, Target, Timer, UserId,
};
use crate::sim::rng::stream_seed;
use crate::sim::{EventQueue, SimTime};

/// The tag of production requests from the open-loop arrival process.
pub(crate) const OPEN_LOOP: u64 = 0;

/// Status a Locust user sees when its connection is reset (the pod died).
const CONNECTION_RESET: u16 = 0;

/// One Locust run of the simulation.
pub(crate) struct JobSlot {
    /// Argo's Job name, or `production-users`.
    pub name: String,
    /// The run while it lasts.
    pub run: Option<LocustRun>,
    /// The Job's container as read (None for the production population).
    pub job: Option<LocustJob>,
    /// Scenario endpoint of each of the run's endpoint keys.
    pub endpoint_map: Vec<Option<u16>>,
    /// Whether its requests are production traffic (counted in the tallies).
    pub production: bool,
    /// Its report once finished.
    pub report: Option<LocustReport>,
    /// The container's exit code once finished.
    pub exit_code: Option<i32>,
}

/// The client tag of a Locust user's request.
#[inline]
pub(crate) fn client_tag(job: u32, user: UserId) -> u64 {
    (u64::from(job) + 1) << 32 | u64::from(user.0)
}

/// The job and user of a client tag (not [`OPEN_LOOP`]).
#[inline]
pub(crate) fn split_tag(tag: u64) -> (u32, UserId) {
    (((tag >> 32) - 1) as u32, UserId(tag as u32))
}

impl World<'_> {
    /// Whether requests with this client tag are production traffic.
    #[inline]
    pub fn is_production(&self, client: u64) -> bool {
        client == OPEN_LOOP || self.jobs[split_tag(client).0 as usize].production
    }

    /// Starts the production user population at time zero (the warm-up's
    /// start): Locust-like users at the ingress, running until the end.
    pub fn start_production_users(
        &mut self,
        users: &crate::scenario::UserPopulation,
        q: &mut EventQueue<Event>,
    ) {
        let classes = crate::locust::job::builtin_locustfile(&users.locustfile)
            .expect("invariant: the locustfile was checked when the scenario was loaded");
        let spec = LocustRunSpec {
            users: users.count,
            spawn_rate: users.spawn_rate,
            run_time: None,
            stop_timeout: crate::sim::SimDuration::ZERO,
            target: Target::Ingress,
            user_classes: classes,
            exit_code_on_error: 1,
        };
        self.start_locust(
            "production-users".to_string(),
            spec,
            None,
            true,
            SimTime::ZERO,
            q,
        )
        .expect("invariant: the production population was validated");
    }

    /// Starts a Locust run at `now`; returns its index.
    pub fn start_locust(
        &mut self,
        name: String,
        spec: LocustRunSpec,
        job: Option<LocustJob>,
        production: bool,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<u32, String> {
        let index = self.jobs.len() as u32;
        let seed = stream_seed(self.seed, "locust", u64::from(index));
        let mut run = LocustRun::new(spec, now, seed).map_err(|e| e.to_string())?;
        let endpoint_map = run
            .endpoints()
            .iter()
            .map(|key| {
                self.sc
                    .endpoints
                    .iter()
                    .position(|e| e.name == *key)
                    .map(|i| i as u16)
            })
            .collect();
        let mut out = std::mem::take(&mut self.locust_out);
        run.start(&mut out);
        self.jobs.push(JobSlot {
            name,
            run: Some(run),
            job,
            endpoint_map,
            production,
            report: None,
            exit_code: None,
        });
        self.drive_locust(index, now, q, out);
        Ok(index)
    }

    /// A timer of run `job` is due.
    pub fn on_locust_timer(
        &mut self,
        job: u32,
        timer: Timer,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) {
        let mut out = std::mem::take(&mut self.locust_out);
        match self.jobs[job as usize].run.as_mut() {
            Some(run) => run.on_timer(timer, now, &mut out),
            None => return self.locust_out = out,
        }
        self.drive_locust(job, now, q, out);
    }

    /// The response to a Locust user's request.
    pub fn locust_response(
        &mut self,
        client: u64,
        status: u16,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) {
        let (job, user) = split_tag(client);
        let mut out = std::mem::take(&mut self.locust_out);
        match self.jobs[job as usize].run.as_mut() {
            Some(run) => run.on_response(user, status, now, &mut out),
            None => return self.locust_out = out,
        }
        self.drive_locust(job, now, q, out);
    }

    /// Stops run `job` (its AnalysisRun is terminating, or the simulation ends).
    pub fn stop_locust(&mut self, job: u32, now: SimTime, q: &mut EventQueue<Event>) {
        let mut out = std::mem::take(&mut self.locust_out);
        match self.jobs[job as usize].run.as_mut() {
            Some(run) => run.stop(now, &mut out),
            None => return self.locust_out = out,
        }
        self.drive_locust(job, now, q, out);
        if self.jobs[job as usize].run.is_some() {
            self.finish_locust(job, now);
        }
    }

    /// Carries out a run's actions, and those its immediate responses cause.
    fn drive_locust(
        &mut self,
        job: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
        mut pending: Vec<crate::locust::Action>,
    ) {
        let mut i = 0;
        while i < pending.len() {
            let action = pending[i];
            i += 1;
            match action {
                Action::Send { user, endpoint, .. } => {
                    if let Some(status) = self.route_locust(job, user, endpoint.0, now, q)
                        && let Some(run) = self.jobs[job as usize].run.as_mut()
                    {
                        run.on_response(user, status, now, &mut pending);
                    }
                }
                Action::Schedule { at, timer } => {
                    q.schedule(at.max(now), Event::LocustTimer { job, timer })
                }
                Action::Finished => self.finish_locust(job, now),
            }
        }
        pending.clear();
        self.locust_out = pending;
    }

    /// Routes a user's request; returns the status when it fails at once.
    fn route_locust(
        &mut self,
        job: u32,
        user: UserId,
        endpoint: u16,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Option<u16> {
        let slot = &self.jobs[job as usize];
        let Some(e) = slot.endpoint_map[endpoint as usize] else {
            return Some(404);
        };
        let production = slot.production;
        let target = slot
            .run
            .as_ref()
            .map_or(Target::CanaryService, |r| r.target());
        let svc = match target {
            Target::CanaryService => CANARY_SVC,
            Target::StableService => STABLE_SVC,
            Target::Ingress => self.ingress_service(),
        };
        let client = client_tag(job, user);
        let version = self.services[svc].selects.index();
        if production {
            self.tallies[self.period][version].total += 1;
        }
        match self.pick_pod(svc) {
            Err(status) => {
                if production {
                    self.tallies[self.period][version].failed += 1;
                }
                Some(status)
            }
            Ok(pod) => {
                let refused = self.dispatch(now, pod, e, now, client, q).err();
                if refused.is_some() && production {
                    self.tallies[self.period][version].failed += 1;
                }
                refused
            }
        }
    }

    fn finish_locust(&mut self, job: u32, now: SimTime) {
        let slot = &mut self.jobs[job as usize];
        let Some(run) = slot.run.take() else { return };
        let report = run.into_report(now);
        let code = slot
            .job
            .as_ref()
            .map_or(report.exit_code, |j| j.job_exit_code(report.exit_code));
        slot.exit_code = Some(code);
        let name = slot.name.clone();
        let (total, failed) = (
            report.stats.total().num_requests,
            report.stats.total().num_failures,
        );
        let push = slot.job.as_ref().map(|j| j.push_labels.clone());
        if let Some(labels) = push {
            let group = crate::locust::PushGroup::from_report(&report, "locust", &labels, now);
            self.pushgateway.push(group);
        }
        self.jobs[job as usize].report = Some(report);
        self.note(
            now,
            "locust",
            format!("Locust job {name} finished: {total} requests, {failed} failed; container exit code {code}"),
        );
    }

    /// Fails a Locust user's request whose pod died under it.
    pub fn locust_reset(&mut self, client: u64, now: SimTime, q: &mut EventQueue<Event>) {
        self.locust_response(client, CONNECTION_RESET, now, q);
    }
}
