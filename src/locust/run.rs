//! One Locust run as a deterministic state machine that an event loop drives.
//!
//! In: [`LocustRun::start`], then the timers it asked for
//! ([`LocustRun::on_timer`]) and the responses to the requests it sent
//! ([`LocustRun::on_response`]). Out: [`Action`]s pushed onto a caller-owned
//! `Vec` (reuse it: the per-request path allocates nothing), and at the end a
//! [`LocustReport`] with Locust's exit code, statistics and CSV files (the
//! files only if wanted: [`LocustRun::without_csv`]).
//! The engine (or `standalone.rs`) owns the clock and the network; this file
//! owns users, tasks, spawning and stopping; `stats.rs` does the counting.
//!
//! Locust's rules kept here (`runners.py`, `dispatch.py`, `user/task.py`):
//! - Spawning: batches of `max(1, floor(rate))` users every
//!   `batch / rate` seconds, the first batch at the start, so `-u 20 -r 5`
//!   runs 5, 10, 15, 20 users at 0, 1, 2, 3 s. Fixed-count classes come
//!   first, then weighted classes interleaved as Locust's dispatcher does.
//! - A new user starts its first task at once; after each task it sleeps
//!   its `wait_time`; each request waits for its response (closed loop).
//! - Stop (at `run_time`, or when asked): sleeping users stop at once; with
//!   `stop_timeout` 0 running users are killed and their in-flight requests
//!   never counted; otherwise they finish the task they are in (all of its
//!   requests), and whoever is left at the timeout is killed.
//! - Exit code: `exit_code_on_error` if any request failed, else 0.
//! - The history gets one row per whole second from the start until the run
//!   ends; the row for second T shows the state just before anything that
//!   happens at T (so the first row has 0 users, as in Locust, whose CSV
//!   writer starts before the first spawn).
//! - `_stats.csv`, `_failures.csv` and `_exceptions.csv` hold the same
//!   snapshot as the last history row: Locust's `stats_writer` rewrites them
//!   every `CSV_STATS_INTERVAL_SEC` = 1 s and `shutdown()` in `main.py` only
//!   closes them, so requests of the run's last fraction of a second are in
//!   the exit code but in no file (`locust/stats.py` `StatsCSVFileWriter`).

use rand::RngExt;

use super::csv::{exceptions_csv, failures_csv, stats_csv, stats_history_start, write_history_row};
use super::spec::{LocustRunSpec, LocustSpecError, Share, Step, Target, WaitTime};
use super::stats::{EntryId, RequestStats};
use crate::sim::rng::{ChaCha8Rng, stream};
use crate::sim::time::MICROS_PER_SEC;
use crate::sim::{SimDuration, SimTime};

/// A user of one run (ids are never reused within a run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub u32);

/// Index into [`LocustRun::endpoints`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointId(pub u16);

/// Which request of the spec: user class, task and step indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StepRef {
    /// Index of the user class.
    pub class: u16,
    /// Index of the task in the class.
    pub task: u16,
    /// Index of the step in the task.
    pub step: u16,
}

/// A timer the run asked for; hand it back to [`LocustRun::on_timer`] at its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The next spawn batch.
    Spawn,
    /// A user's sleep is over.
    User(UserId),
    /// `--run-time` has passed.
    RunTimeLimit,
    /// `--stop-timeout` has passed since the stop.
    StopTimeout,
}

/// What the run wants its driver to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Deliver a request now; call [`LocustRun::on_response`] for `user` when
    /// its response arrives (a user has at most one request in flight).
    Send {
        /// The sender.
        user: UserId,
        /// The endpoint key to route ([`LocustRun::endpoints`]).
        endpoint: EndpointId,
        /// The step (for method and name: [`LocustRun::step`]).
        step: StepRef,
    },
    /// Call [`LocustRun::on_timer`] with `timer` at `at`.
    Schedule {
        /// When.
        at: SimTime,
        /// Which timer.
        timer: Timer,
    },
    /// The run is over: every user has stopped. Call [`LocustRun::into_report`].
    Finished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UserState {
    /// Inside a task, a request in flight.
    Running,
    /// Sleeping between tasks.
    Waiting,
    /// Asked to stop; finishes its task first.
    Stopping,
    /// Gone.
    Stopped,
}

#[derive(Debug)]
struct User {
    class: u16,
    state: UserState,
    rng: ChaCha8Rng,
    task: u16,
    step: u16,
    last_status: u16,
    sent_at: SimTime,
    cp_last_run: SimTime,
    cp_last_wait: SimDuration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Created,
    Running,
    Stopping,
    Finished,
}

/// Locust's Kullback-Leibler dispatcher order (`dispatch.py` `_kl_generator`):
/// repeatedly the class whose next pick lowers the divergence most, ties by
/// name. Classes with weights 5 and 1 come out as AABAAAAABAAA (the real
/// generator's output; its docstring says AAABAAAAABAA).
#[derive(Debug, Clone)]
struct KlOrder {
    /// (key, x, weight, class name, class index)
    heap: Vec<(f64, f64, f64, String, u16)>,
}

impl KlOrder {
    fn new(items: impl IntoIterator<Item = (String, f64, u16)>) -> KlOrder {
        KlOrder {
            heap: items
                .into_iter()
                .filter(|(_, w, _)| *w > 0.0)
                .map(|(name, w, idx)| (w * (w / (w + 1.0)).log2(), w + 1.0, w, name, idx))
                .collect(),
        }
    }

    fn next(&mut self) -> Option<u16> {
        let best = (0..self.heap.len()).min_by(|&a, &b| {
            let (x, y) = (&self.heap[a], &self.heap[b]);
            x.0.total_cmp(&y.0)
                .then(x.1.total_cmp(&y.1))
                .then(x.2.total_cmp(&y.2))
                .then(x.3.cmp(&y.3))
        })?;
        let e = &mut self.heap[best];
        let class = e.4;
        e.0 = e.2 * (e.1 / (e.1 + 1.0)).log2();
        e.1 += 1.0;
        Some(class)
    }
}

/// One row of the history, as numbers (the CSV holds the same as text).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryPoint {
    /// The whole second the row is for.
    pub t: SimTime,
    /// Users running.
    pub users: u32,
    /// Locust's current requests per second (10 s window).
    pub current_rps: f64,
    /// Locust's current failures per second.
    pub current_fail_per_sec: f64,
    /// Requests so far.
    pub requests: u64,
    /// Failures so far.
    pub failures: u64,
}

/// The four CSV files of a run, as Locust's `--csv PREFIX` writes them.
#[derive(Debug, Clone, PartialEq)]
pub struct LocustCsv {
    /// `PREFIX_stats.csv`
    pub stats: String,
    /// `PREFIX_stats_history.csv`
    pub stats_history: String,
    /// `PREFIX_failures.csv`
    pub failures: String,
    /// `PREFIX_exceptions.csv`
    pub exceptions: String,
}

impl LocustCsv {
    /// `(file name, contents)` for each file under `prefix`, as `--csv prefix` names them.
    pub fn files(&self, prefix: &str) -> [(String, &str); 4] {
        [
            (format!("{prefix}_stats.csv"), self.stats.as_str()),
            (
                format!("{prefix}_stats_history.csv"),
                self.stats_history.as_str(),
            ),
            (format!("{prefix}_failures.csv"), self.failures.as_str()),
            (format!("{prefix}_exceptions.csv"), self.exceptions.as_str()),
        ]
    }
}

/// One logged response, held until the CSV writer's snapshot takes it in.
#[derive(Debug, Clone, Copy)]
struct Logged {
    entry: EntryId,
    latency_us: u64,
    status: u16,
    bytes: u64,
    at: SimTime,
}

/// The outcome of a finished run.
#[derive(Debug, Clone)]
pub struct LocustReport {
    /// The process exit code Locust would give.
    pub exit_code: i32,
    /// When the run started.
    pub started_at: SimTime,
    /// When the stop began (run time reached, or stopped from outside).
    pub stopped_at: SimTime,
    /// When the last user stopped.
    pub ended_at: SimTime,
    /// Users running when the stop began.
    pub users_at_stop: u32,
    /// The statistics of every request (what the exit code and the console
    /// summary count).
    pub stats: RequestStats,
    /// The statistics as the CSV files hold them: the last 1-second snapshot
    /// before the run ended, the one the last history row shows.
    pub csv_stats: RequestStats,
    /// The history rows as numbers.
    pub history: Vec<HistoryPoint>,
    /// The CSV files; `None` for a run told not to write them
    /// ([`LocustRun::without_csv`]).
    pub csv: Option<LocustCsv>,
}

/// A Locust run in progress. See the module docs for the driving protocol.
#[derive(Debug)]
pub struct LocustRun {
    spec: LocustRunSpec,
    start: SimTime,
    seed: u64,
    endpoints: Vec<String>,
    /// Per class, per task, per step: (endpoint, stats entry).
    routes: Vec<Vec<Vec<(EndpointId, EntryId)>>>,
    /// Per class, cumulative task weights.
    task_cum: Vec<Vec<u32>>,
    users: Vec<User>,
    alive: u32,
    fixed_order: Option<KlOrder>,
    fixed_left: u32,
    weighted_order: KlOrder,
    spawn_batch: u32,
    spawn_interval_s: f64,
    spawn_batches_done: u64,
    spawning: bool,
    phase: Phase,
    stopped_at: Option<SimTime>,
    users_at_stop: u32,
    ended_at: Option<SimTime>,
    stats: RequestStats,
    /// `stats` as the CSV writer last saw it; lags by up to two ticks.
    snapshot: RequestStats,
    /// Responses logged in `stats` and not yet in `snapshot`, oldest first.
    pending: Vec<Logged>,
    history: Vec<HistoryPoint>,
    /// The history as CSV text, and where each row starts in it; `None`
    /// when no file is written ([`Self::without_csv`]).
    history_csv: Option<(String, Vec<usize>)>,
    next_tick: SimTime,
}

impl LocustRun {
    /// A run of `spec` starting at `start`, its users' random streams derived
    /// from `seed`. Nothing happens until [`Self::start`].
    pub fn new(
        spec: LocustRunSpec,
        start: SimTime,
        seed: u64,
    ) -> Result<LocustRun, LocustSpecError> {
        spec.validate()?;
        let mut stats = RequestStats::new(start);
        let mut endpoints: Vec<String> = Vec::new();
        let mut routes = Vec::new();
        let mut task_cum = Vec::new();
        for class in &spec.user_classes {
            let mut class_routes = Vec::new();
            let mut cum = Vec::new();
            let mut acc = 0u32;
            for task in &class.tasks {
                acc = acc.saturating_add(task.weight);
                cum.push(acc);
                let mut task_routes = Vec::new();
                for step in &task.steps {
                    let ep = match endpoints.iter().position(|e| *e == step.endpoint) {
                        Some(i) => i,
                        None => {
                            endpoints.push(step.endpoint.clone());
                            endpoints.len() - 1
                        }
                    };
                    let entry = stats.register(step.method.as_str(), &step.name);
                    task_routes.push((EndpointId(ep as u16), entry));
                }
                class_routes.push(task_routes);
            }
            routes.push(class_routes);
            task_cum.push(cum);
        }
        // Locust's dispatcher works on classes sorted by name.
        let mut by_name: Vec<u16> = (0..spec.user_classes.len() as u16).collect();
        by_name.sort_by(|a, b| {
            spec.user_classes[*a as usize]
                .name
                .cmp(&spec.user_classes[*b as usize].name)
        });
        let class_name = |i: u16| spec.user_classes[i as usize].name.clone();
        let fixed: Vec<(String, f64, u16)> = by_name
            .iter()
            .filter_map(|&i| match spec.user_classes[i as usize].share {
                Share::FixedCount(n) => Some((class_name(i), f64::from(n), i)),
                Share::Weight(_) => None,
            })
            .collect();
        let fixed_left = fixed.iter().map(|f| f.1 as u32).sum();
        let weighted =
            KlOrder::new(by_name.iter().filter_map(
                |&i| match spec.user_classes[i as usize].share {
                    Share::Weight(w) => Some((class_name(i), f64::from(w), i)),
                    Share::FixedCount(_) => None,
                },
            ));
        let spawn_batch = (spec.spawn_rate.floor() as u32).max(1);
        let spawn_interval_s = f64::from(spawn_batch) / spec.spawn_rate;
        Ok(LocustRun {
            start,
            seed,
            endpoints,
            routes,
            task_cum,
            users: Vec::new(),
            alive: 0,
            fixed_order: Some(KlOrder::new(fixed)),
            fixed_left,
            weighted_order: weighted,
            spawn_batch,
            spawn_interval_s,
            spawn_batches_done: 0,
            spawning: false,
            phase: Phase::Created,
            stopped_at: None,
            users_at_stop: 0,
            ended_at: None,
            snapshot: stats.clone(),
            stats,
            pending: Vec::with_capacity(256),
            history: Vec::new(),
            history_csv: Some((stats_history_start(), Vec::new())),
            next_tick: start,
            spec,
        })
    }

    /// Writes no CSV file: the report's [`LocustReport::csv`] is `None`,
    /// everything else (the statistics, the history as numbers, the exit
    /// code) the same. Formatting the history's row every second is most of
    /// what a short run costs beyond its requests, and a sweep reads none
    /// of it. Call before [`Self::start`].
    pub fn without_csv(&mut self) {
        self.history_csv = None;
    }

    /// The distinct endpoint keys of the spec, indexed by [`EndpointId`].
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// The step a [`StepRef`] names.
    pub fn step(&self, r: StepRef) -> &Step {
        &self.spec.user_classes[r.class as usize].tasks[r.task as usize].steps[r.step as usize]
    }

    /// Where the requests go.
    pub fn target(&self) -> Target {
        self.spec.target
    }

    /// The spec being run.
    pub fn spec(&self) -> &LocustRunSpec {
        &self.spec
    }

    /// Users running now (stopping ones included), Locust's `user_count`.
    pub fn user_count(&self) -> u32 {
        self.alive
    }

    /// The statistics so far.
    pub fn stats(&self) -> &RequestStats {
        &self.stats
    }

    /// Whether every user has stopped.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// Starts the run at its start time: the first spawn batch and the
    /// run-time timer. Call once, at the `start` given to [`Self::new`].
    pub fn start(&mut self, out: &mut Vec<Action>) {
        if self.phase != Phase::Created {
            return;
        }
        let now = self.start;
        self.flush_history(now, true);
        self.phase = Phase::Running;
        if let Some(rt) = self.spec.run_time {
            out.push(Action::Schedule {
                at: now + rt,
                timer: Timer::RunTimeLimit,
            });
        }
        self.spawning = self.spec.users > 0;
        if self.spawning {
            self.spawn_batch(now, out);
        }
    }

    /// A timer the run asked for has come due at `now`.
    pub fn on_timer(&mut self, timer: Timer, now: SimTime, out: &mut Vec<Action>) {
        if self.phase == Phase::Finished || self.phase == Phase::Created {
            return;
        }
        match timer {
            Timer::Spawn => {
                if self.spawning && self.phase == Phase::Running {
                    self.flush_history(now, true);
                    self.spawn_batch(now, out);
                }
            }
            Timer::User(id) => {
                let Some(user) = self.users.get(id.0 as usize) else {
                    return;
                };
                if user.state != UserState::Waiting {
                    return;
                }
                self.flush_history(now, true);
                self.start_task(id, now, out);
            }
            Timer::RunTimeLimit => self.stop(now, out),
            Timer::StopTimeout => {
                if self.phase == Phase::Stopping {
                    self.flush_history(now, false);
                    self.kill_all();
                    self.end(now, out);
                }
            }
        }
    }

    /// The response to `user`'s request arrived at `now` with `status`
    /// (0 when no response came: connection refused or reset).
    pub fn on_response(&mut self, user: UserId, status: u16, now: SimTime, out: &mut Vec<Action>) {
        if self.phase == Phase::Finished {
            return;
        }
        let Some(u) = self.users.get(user.0 as usize) else {
            return;
        };
        if !matches!(u.state, UserState::Running | UserState::Stopping) {
            return;
        }
        let (class, task, step) = (u.class, u.task, u.step);
        let latency = now.saturating_since(u.sent_at);
        self.flush_history(now, true);
        let entry = self.routes[class as usize][task as usize][step as usize].1;
        let bytes = if status == 0 {
            0
        } else {
            self.spec.user_classes[class as usize].tasks[task as usize].steps[step as usize]
                .response_bytes
        };
        self.stats.log(entry, latency.0, status, bytes, now);
        self.pending.push(Logged {
            entry,
            latency_us: latency.0,
            status,
            bytes,
            at: now,
        });
        let u = &mut self.users[user.0 as usize];
        u.last_status = status;
        u.step += 1;
        self.continue_task(user, now, out);
    }

    /// Stops the run now, as `--run-time` or a stop from outside does.
    pub fn stop(&mut self, now: SimTime, out: &mut Vec<Action>) {
        if self.phase != Phase::Running {
            return;
        }
        let drains = self.spec.stop_timeout > SimDuration::ZERO;
        self.flush_history(now, true);
        self.phase = Phase::Stopping;
        self.spawning = false;
        self.stopped_at = Some(now);
        self.users_at_stop = self.alive;
        for i in 0..self.users.len() {
            let state = self.users[i].state;
            let new = match state {
                UserState::Waiting => UserState::Stopped,
                UserState::Running if drains => UserState::Stopping,
                UserState::Running => UserState::Stopped,
                s => s,
            };
            if new == UserState::Stopped && state != UserState::Stopped {
                self.alive -= 1;
            }
            self.users[i].state = new;
        }
        if self.alive == 0 {
            self.end(now, out);
        } else {
            out.push(Action::Schedule {
                at: now + self.spec.stop_timeout,
                timer: Timer::StopTimeout,
            });
        }
    }

    /// The report. A run that has not finished is stopped at `now` first,
    /// every user killed (as when the simulation ends under it).
    pub fn into_report(mut self, now: SimTime) -> LocustReport {
        if self.phase != Phase::Finished {
            let now = now.max(self.start);
            self.flush_history(now, false);
            self.drop_rows_from(now);
            if self.stopped_at.is_none() {
                self.stopped_at = Some(now);
                self.users_at_stop = self.alive;
            }
            self.kill_all();
            self.phase = Phase::Finished;
            self.ended_at = Some(now);
        }
        let ended_at = self.ended_at.unwrap_or(now);
        // The files stop at the last row's snapshot; the exit code does not.
        if let Some(last) = self.history.last().map(|h| h.t) {
            self.advance_snapshot(last);
        }
        let exit_code = if self.stats.has_errors() {
            self.spec.exit_code_on_error
        } else {
            0
        };
        let csv = self.history_csv.map(|(history, _)| LocustCsv {
            stats: stats_csv(&self.snapshot),
            stats_history: history,
            failures: failures_csv(&self.snapshot),
            exceptions: exceptions_csv(),
        });
        LocustReport {
            exit_code,
            started_at: self.start,
            stopped_at: self.stopped_at.unwrap_or(ended_at),
            ended_at,
            users_at_stop: self.users_at_stop,
            stats: self.stats,
            csv_stats: self.snapshot,
            history: self.history,
            csv,
        }
    }

    fn end(&mut self, now: SimTime, out: &mut Vec<Action>) {
        self.drop_rows_from(now);
        self.phase = Phase::Finished;
        self.ended_at = Some(now);
        out.push(Action::Finished);
    }

    /// History rows are for whole seconds before the end: a row written for
    /// the end instant itself (before the event that ended the run) goes again.
    fn drop_rows_from(&mut self, end: SimTime) {
        while self.history.last().is_some_and(|h| h.t >= end) {
            self.history.pop();
            if let Some((text, offsets)) = &mut self.history_csv {
                let offset = offsets.pop().expect("invariant: one offset per row");
                text.truncate(offset);
            }
        }
        self.next_tick = self.next_tick.min(end);
    }

    fn kill_all(&mut self) {
        for u in &mut self.users {
            u.state = UserState::Stopped;
        }
        self.alive = 0;
    }

    /// Moves the pending responses logged before `upto` into the snapshot.
    fn advance_snapshot(&mut self, upto: SimTime) {
        let n = self.pending.partition_point(|l| l.at < upto);
        for l in &self.pending[..n] {
            self.snapshot
                .log(l.entry, l.latency_us, l.status, l.bytes, l.at);
        }
        self.pending.drain(..n);
    }

    /// Writes the history rows for whole seconds up to `now` (inclusive or not).
    fn flush_history(&mut self, now: SimTime, inclusive: bool) {
        while self.next_tick < now || (inclusive && self.next_tick == now) {
            let tick = self.next_tick;
            // A row at the end instant may yet be dropped (`drop_rows_from`),
            // but the one before it stays: the snapshot catches up to it.
            if let Some(prev) = self.history.last().map(|h| h.t) {
                self.advance_snapshot(prev);
            }
            if let Some((text, offsets)) = &mut self.history_csv {
                offsets.push(text.len());
                write_history_row(text, &self.stats, tick, self.alive);
            }
            let clock = self.stats.clock();
            let total = self.stats.total();
            self.history.push(HistoryPoint {
                t: tick,
                users: self.alive,
                current_rps: total.current_rps(clock),
                current_fail_per_sec: total.current_fail_per_sec(clock),
                requests: total.num_requests,
                failures: total.num_failures,
            });
            self.next_tick = tick + SimDuration(MICROS_PER_SEC);
        }
    }

    fn next_class(&mut self) -> Option<u16> {
        if self.fixed_left > 0 {
            self.fixed_left -= 1;
            if let Some(c) = self.fixed_order.as_mut().and_then(KlOrder::next) {
                return Some(c);
            }
        }
        self.weighted_order.next()
    }

    fn spawn_batch(&mut self, now: SimTime, out: &mut Vec<Action>) {
        let target = self.spec.users;
        let mut spawned = 0;
        while spawned < self.spawn_batch && (self.users.len() as u32) < target {
            let Some(class) = self.next_class() else {
                self.spawning = false;
                break;
            };
            let id = UserId(self.users.len() as u32);
            self.users.push(User {
                class,
                state: UserState::Running,
                rng: stream(self.seed, "locust-user", u64::from(id.0)),
                task: 0,
                step: 0,
                last_status: 0,
                sent_at: now,
                cp_last_run: now,
                cp_last_wait: SimDuration::ZERO,
            });
            self.alive += 1;
            spawned += 1;
            self.start_task(id, now, out);
        }
        self.spawn_batches_done += 1;
        if (self.users.len() as u32) >= target {
            self.spawning = false;
        }
        if self.spawning {
            let at = self.start
                + SimDuration::from_secs_f64(
                    self.spawn_batches_done as f64 * self.spawn_interval_s,
                );
            out.push(Action::Schedule {
                at: at.max(now),
                timer: Timer::Spawn,
            });
        }
    }

    fn start_task(&mut self, id: UserId, now: SimTime, out: &mut Vec<Action>) {
        let u = &mut self.users[id.0 as usize];
        let cum = &self.task_cum[u.class as usize];
        let total = *cum.last().expect("invariant: validated class has tasks");
        let pick = u.rng.random_range(0..total);
        let task = cum.partition_point(|c| *c <= pick);
        u.task = task as u16;
        u.step = 0;
        u.state = UserState::Running;
        self.continue_task(id, now, out);
    }

    /// Sends the task's next runnable step, or ends the task.
    fn continue_task(&mut self, id: UserId, now: SimTime, out: &mut Vec<Action>) {
        let u = &mut self.users[id.0 as usize];
        let steps = &self.spec.user_classes[u.class as usize].tasks[u.task as usize].steps;
        while (u.step as usize) < steps.len() {
            let step = &steps[u.step as usize];
            if step.only_if.is_none_or(|c| c.holds(u.last_status)) {
                u.sent_at = now;
                let r = StepRef {
                    class: u.class,
                    task: u.task,
                    step: u.step,
                };
                let endpoint = self.routes[r.class as usize][r.task as usize][r.step as usize].0;
                out.push(Action::Send {
                    user: id,
                    endpoint,
                    step: r,
                });
                return;
            }
            u.step += 1;
        }
        self.task_done(id, now, out);
    }

    fn task_done(&mut self, id: UserId, now: SimTime, out: &mut Vec<Action>) {
        let u = &mut self.users[id.0 as usize];
        if u.state == UserState::Stopping {
            u.state = UserState::Stopped;
            self.alive -= 1;
            if self.alive == 0 && self.phase == Phase::Stopping {
                self.end(now, out);
            }
            return;
        }
        let wait_time = self.spec.user_classes[u.class as usize].wait_time;
        let wait = match wait_time {
            WaitTime::Between { min_s, max_s } => {
                let x: f64 = u.rng.random();
                SimDuration::from_secs_f64(min_s + x * (max_s - min_s))
            }
            WaitTime::Constant { s } => SimDuration::from_secs_f64(s),
            WaitTime::Poisson { per_s } => {
                let x: f64 = u.rng.random();
                SimDuration::from_secs_f64(-(1.0 - x).ln() / per_s)
            }
            WaitTime::ConstantPacing { .. } | WaitTime::ConstantThroughput { .. } => {
                let pacing = wait_time.pacing().expect("invariant: pacing variant");
                // Locust: run = now − last_run − last_wait; wait = max(0, pacing − run).
                let run = now.0 as i128 - u.cp_last_run.0 as i128 - u.cp_last_wait.0 as i128;
                let wait = SimDuration((pacing.0 as i128 - run).max(0) as u64);
                u.cp_last_wait = wait;
                u.cp_last_run = now;
                wait
            }
        };
        if wait == SimDuration::ZERO {
            self.start_task(id, now, out);
        } else {
            u.state = UserState::Waiting;
            out.push(Action::Schedule {
                at: now + wait,
                timer: Timer::User(id),
            });
        }
    }
}
