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
//!
//! A `job` measurement is a Kubernetes Job ([`KubeJob`]), and each of its
//! pods is one Locust run. A pod that exits non-zero is replaced after the
//! Job controller's back-off (10 s doubling per failure, at most 10 min:
//! `pkg/controller/job/backoff_utils.go`, `DefaultJobPodFailureBackOff`,
//! `MaxJobPodFailureBackOff`); the Job fails (`BackoffLimitExceeded`) only
//! when more pods have failed than its `backoffLimit`
//! (`pkg/controller/job/job_controller.go`), and completes when a pod exits 0.

use super::ingress::Via;
use super::{CANARY_SVC, Event, STABLE_SVC, World};
use crate::locust::job::{Launch, Start};
use crate::locust::{
    Action, LocustJob, LocustReport, LocustRun, LocustRunSpec, Target, Timer, UserId,
};
use crate::sim::rng::stream_seed;
use crate::sim::{EventQueue, SimDuration, SimTime};

/// The Job controller's first back-off after a failed pod.
const POD_FAILURE_BACKOFF: SimDuration = SimDuration::from_secs(10);
/// The Job controller's longest back-off.
const MAX_POD_FAILURE_BACKOFF: SimDuration = SimDuration::from_secs(600);

/// How long the Job controller waits after the `failures`-th failed pod
/// before it creates the next (`getRemainingTimeForFailuresCount`).
pub(crate) fn pod_failure_backoff(failures: u32) -> SimDuration {
    let mut d = POD_FAILURE_BACKOFF;
    for _ in 1..failures {
        d = SimDuration::from_millis(d.as_millis() * 2);
        if d >= MAX_POD_FAILURE_BACKOFF {
            return MAX_POD_FAILURE_BACKOFF;
        }
    }
    d
}

/// How a Kubernetes Job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobOutcome {
    /// A pod exited 0: condition `Complete`.
    Complete,
    /// More pods failed than `backoffLimit`: condition `Failed`, reason
    /// `BackoffLimitExceeded`; the last pod's exit code.
    Failed { exit_code: i32 },
}

/// A Kubernetes Job of a `job` measurement: its pods are Locust runs.
pub(crate) struct KubeJob {
    pub name: String,
    /// What each of its pods does.
    launch: Launch,
    locust: LocustJob,
    /// Failed pods so far (`status.failed`).
    pub failed: u32,
    /// The [`JobSlot`] of its newest pod.
    pub pod: u32,
    pub outcome: Option<JobOutcome>,
    /// Deleted by Argo (the measurement was terminated).
    terminated: bool,
}

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
    /// When Locust exited before any user started, and its own exit code
    /// (a command line it refuses): such a pod has no report.
    pub exited_at_start: Option<(SimTime, i32)>,
    /// The Kubernetes Job this run is a pod of, if any.
    pub kube: Option<u32>,
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
            None,
        )
        .expect("invariant: the production population was validated");
    }

    /// Starts a Kubernetes Job whose first pod runs Locust at `now`;
    /// returns the Job's index.
    pub fn start_kube_job(
        &mut self,
        name: String,
        launch: Launch,
        locust: LocustJob,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<u32, String> {
        let k = self.kube_jobs.len() as u32;
        self.kube_jobs.push(KubeJob {
            name: name.clone(),
            launch,
            locust,
            failed: 0,
            pod: u32::MAX,
            outcome: None,
            terminated: false,
        });
        match self.start_job_pod(k, name, now, q) {
            Ok(()) => Ok(k),
            Err(e) => {
                self.kube_jobs.pop();
                Err(e)
            }
        }
    }

    /// Starts a pod of Job `k`: a Locust run, a Locust that exits before
    /// any user starts, or one that waits for its web UI forever.
    fn start_job_pod(
        &mut self,
        k: u32,
        name: String,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), String> {
        let kj = &self.kube_jobs[k as usize];
        let (launch, locust) = (kj.launch.clone(), kj.locust.clone());
        // The pod index is known before its run can finish (and report back).
        self.kube_jobs[k as usize].pod = self.jobs.len() as u32;
        let idle = |exited: Option<(i32, i32)>| JobSlot {
            name: name.clone(),
            run: None,
            job: Some(locust.clone()),
            endpoint_map: Vec::new(),
            production: false,
            report: None,
            exit_code: exited.map(|(_, container)| container),
            exited_at_start: exited.map(|(locust, _)| (now, locust)),
            kube: Some(k),
        };
        match launch {
            Launch::Run(spec) => self
                .start_locust(
                    name.clone(),
                    spec,
                    Some(locust.clone()),
                    false,
                    now,
                    q,
                    Some(k),
                )
                .map(|_| ()),
            Launch::Waits => {
                self.jobs.push(idle(None));
                self.note(
                    now,
                    "locust",
                    format!("Locust of {name} serves its web UI and waits for a start (no --headless or --autostart): the pod runs until deleted"),
                );
                Ok(())
            }
            Launch::Exits { code, message } => {
                let exit = locust.job_exit_code(code);
                self.jobs.push(idle(Some((code, exit))));
                self.note(
                    now,
                    "locust",
                    format!("Locust of {name} exits {code} at start ({message}); container exit code {exit}"),
                );
                self.job_pod_finished(k, exit, now, q);
                Ok(())
            }
        }
    }

    /// The Job controller creates the next pod of Job `k` after its back-off.
    pub fn on_job_retry(&mut self, k: u32, now: SimTime, q: &mut EventQueue<Event>) {
        let kj = &self.kube_jobs[k as usize];
        if kj.terminated || kj.outcome.is_some() {
            return;
        }
        let name = format!("{}-retry{}", kj.name, kj.failed);
        // The spec was accepted for the first pod; the same spec starts again.
        if let Err(e) = self.start_job_pod(k, name, now, q) {
            self.kube_jobs[k as usize].outcome = Some(JobOutcome::Failed { exit_code: 1 });
            self.note(now, "locust", format!("Job pod could not start: {e}"));
        }
    }

    /// Argo deletes Job `k` (its measurement is terminated).
    pub fn terminate_kube_job(&mut self, k: u32, now: SimTime, q: &mut EventQueue<Event>) {
        let Some(kj) = self.kube_jobs.get_mut(k as usize) else {
            return;
        };
        kj.terminated = true;
        let pod = kj.pod;
        if (pod as usize) < self.jobs.len() {
            self.stop_locust(pod, now, q);
        }
    }

    /// A pod of Job `k` exited with `code`.
    fn job_pod_finished(&mut self, k: u32, code: i32, now: SimTime, q: &mut EventQueue<Event>) {
        let kj = &mut self.kube_jobs[k as usize];
        if kj.terminated || kj.outcome.is_some() {
            return;
        }
        if code == 0 {
            kj.outcome = Some(JobOutcome::Complete);
            return;
        }
        kj.failed += 1;
        let (name, failed, limit) = (kj.name.clone(), kj.failed, kj.locust.backoff_limit);
        if failed > limit {
            kj.outcome = Some(JobOutcome::Failed { exit_code: code });
            self.note(
                now,
                "locust",
                format!("Job {name} failed: BackoffLimitExceeded (failed pods: {failed}, backoffLimit: {limit})"),
            );
        } else {
            let wait = pod_failure_backoff(failed);
            q.schedule(now + wait, Event::JobRetry { job: k });
            self.note(
                now,
                "locust",
                format!("Job {name}: pod {failed} failed (backoffLimit {limit}); the next pod starts in {wait}"),
            );
        }
    }

    /// Starts a Locust run at `now`; returns its index.
    #[allow(clippy::too_many_arguments)]
    pub fn start_locust(
        &mut self,
        name: String,
        spec: LocustRunSpec,
        job: Option<LocustJob>,
        production: bool,
        now: SimTime,
        q: &mut EventQueue<Event>,
        kube: Option<u32>,
    ) -> Result<u32, String> {
        let index = self.jobs.len() as u32;
        let seed = stream_seed(self.seed, "locust", u64::from(index));
        let mut run = LocustRun::new(spec, now, seed).map_err(|e| e.to_string())?;
        if !self.pushes {
            run.without_csv();
        }
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
            exited_at_start: None,
            kube,
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
            self.finish_locust(job, now, q);
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
                Action::Finished => self.finish_locust(job, now, q),
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
        // A Service's ClusterIP goes through kube-proxy, the ingress's host
        // through ingress-nginx (traffic.rs).
        let (svc, via_ingress) = match target {
            Target::CanaryService => (CANARY_SVC, false),
            Target::StableService => (STABLE_SVC, false),
            Target::Ingress => (self.ingress_service(), true),
            // The lookup fails in the client: nothing reaches the cluster.
            Target::Unresolved => return Some(0),
        };
        let client = client_tag(job, user);
        let version = self.services[svc].selects.index();
        if production {
            self.tallies[self.period][version].total += 1;
        }
        if via_ingress {
            // Failures are counted where the request ends (ingress.rs).
            return self.ingress_send(now, svc, e, client, None, q).err();
        }
        let failed = match self.pick_pod_kube_proxy(svc) {
            Err(status) => Some(status),
            Ok(pod) => self
                .dispatch(now, pod, e, now, client, Via::KUBE_PROXY, q)
                .err(),
        };
        if failed.is_some() && production {
            self.tallies[self.period][version].failed += 1;
        }
        failed
    }

    fn finish_locust(&mut self, job: u32, now: SimTime, q: &mut EventQueue<Event>) {
        let slot = &mut self.jobs[job as usize];
        let Some(run) = slot.run.take() else { return };
        let report = run.into_report(now);
        // `--autostart` without `--autoquit`: the run ends, the process
        // stays (serving its web UI), so the script goes no further.
        let stays = slot
            .job
            .as_ref()
            .is_some_and(|j| j.start == Start::AutostartStays);
        let code = slot
            .job
            .as_ref()
            .map_or(report.exit_code, |j| j.job_exit_code(report.exit_code));
        if stays {
            let name = slot.name.clone();
            self.jobs[job as usize].report = Some(report);
            self.note(
                now,
                "locust",
                format!("Locust job {name}'s run ended; with --autostart and no --autoquit the process stays, so the pod runs until deleted"),
            );
            return;
        }
        slot.exit_code = Some(code);
        let name = slot.name.clone();
        let (total, failed) = (
            report.stats.total().num_requests,
            report.stats.total().num_failures,
        );
        let push = slot
            .job
            .as_ref()
            .filter(|_| self.pushes)
            .map(|j| j.push_labels.clone());
        if let Some(labels) = push {
            debug_assert!(
                report.csv.is_some(),
                "a run that pushes writes its CSV files"
            );
            if let Some(group) =
                crate::locust::PushGroup::from_report(&report, "locust", &labels, now)
            {
                self.pushgateway.push(group);
            }
        }
        self.jobs[job as usize].report = Some(report);
        self.note(
            now,
            "locust",
            format!("Locust job {name} finished: {total} requests, {failed} failed; container exit code {code}"),
        );
        if let Some(k) = self.jobs[job as usize].kube {
            self.job_pod_finished(k, code, now, q);
        }
    }

    /// Fails a Locust user's request whose pod died under it.
    pub fn locust_reset(&mut self, client: u64, now: SimTime, q: &mut EventQueue<Event>) {
        self.locust_response(client, CONNECTION_RESET, now, q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_failure_backoff_is_10s_doubling_capped_at_10m_backoff_utils_go() {
        // pkg/controller/job/backoff_utils.go getRemainingTimeForFailuresCount
        // with DefaultJobPodFailureBackOff 10s and MaxJobPodFailureBackOff 10m.
        let secs: Vec<u64> = (1..=8)
            .map(|f| pod_failure_backoff(f).as_millis() / 1000)
            .collect();
        assert_eq!(secs, [10, 20, 40, 80, 160, 320, 600, 600]);
        assert_eq!(pod_failure_backoff(60), MAX_POD_FAILURE_BACKOFF);
    }
}
