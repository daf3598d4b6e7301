//! What a Locust run is: user classes, their wait times and weighted tasks,
//! and the run's parameters (`-u`, `-r`, `-t`, `--stop-timeout`, the target).
//!
//! These are plain values, checked once by [`LocustRunSpec::validate`]; the
//! state machine in `run.rs` takes a valid spec and cannot fail afterwards.
//! `job.rs` builds a spec from an Argo Job's container, and
//! [`checkout_user`] is the seed's `checkout_flow.py` written as data.
//!
//! The model follows Locust (`locust/user/task.py`, `locust/user/wait_time.py`):
//! a user picks a task with probability proportional to its weight, runs all
//! of the task's requests one after the other (each waits for its response),
//! then sleeps `wait_time`, then picks again.

use crate::sim::SimDuration;

/// How long a user sleeps after each task (Locust's `wait_time`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WaitTime {
    /// `between(min, max)`: `min + U·(max − min)` seconds, `U` uniform in [0, 1).
    Between {
        /// The shortest wait, in seconds.
        min_s: f64,
        /// The longest wait, in seconds.
        max_s: f64,
    },
    /// `constant(s)`: always `s` seconds.
    Constant {
        /// The wait, in seconds.
        s: f64,
    },
    /// `constant_pacing(s)`: sleep so that tasks start `s` seconds apart
    /// (no sleep when a task took longer than `s`).
    ConstantPacing {
        /// The interval between task starts, in seconds.
        s: f64,
    },
    /// `constant_throughput(r)`: `constant_pacing(1 / r)`, i.e. at most `r`
    /// task runs per second per user.
    ConstantThroughput {
        /// Task runs per second.
        per_s: f64,
    },
    /// `poisson(r)` (Locust 2.47): an exponential wait of mean `1 / r` seconds.
    Poisson {
        /// The rate, per second.
        per_s: f64,
    },
}

impl WaitTime {
    /// The pacing interval of `constant_pacing`/`constant_throughput`, if this is one.
    pub(crate) fn pacing(&self) -> Option<SimDuration> {
        match *self {
            WaitTime::ConstantPacing { s } => Some(SimDuration::from_secs_f64(s)),
            WaitTime::ConstantThroughput { per_s } => Some(SimDuration::from_secs_f64(1.0 / per_s)),
            _ => None,
        }
    }
}

/// The HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Method {
    /// The method as Locust writes it in the `Type` and `Method` columns.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// When a step of a flow runs, judged on the status code of the request
/// just before it in the same task run (0 when that request could not be
/// delivered at all, as Locust reports a connection error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `if response.status_code == code:`
    StatusIs(u16),
    /// `if response.ok:` (a status from 1 to 399).
    Ok,
    /// `if not response.ok:`
    NotOk,
}

impl Condition {
    /// Whether a previous status of `status` lets the step run.
    pub fn holds(self, status: u16) -> bool {
        match self {
            Condition::StatusIs(code) => status == code,
            Condition::Ok => is_ok(status),
            Condition::NotOk => !is_ok(status),
        }
    }
}

/// Whether Locust counts a response with this status as a success: any
/// status below 400 that arrived (0 stands for "no response").
pub fn is_ok(status: u16) -> bool {
    status != 0 && status < 400
}

/// One request of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The service endpoint key the engine routes on (`"product"`, `"checkout"`, …).
    pub endpoint: String,
    /// The HTTP method.
    pub method: Method,
    /// Locust's grouping name (`name=` in the locustfile), e.g. `/api/products/:id`.
    pub name: String,
    /// Run this step only when the previous request's status satisfies this.
    pub only_if: Option<Condition>,
    /// Bytes of a successful response body (Locust's content size); failures
    /// without a response count 0.
    pub response_bytes: u64,
}

impl Step {
    /// An unconditional request with an empty body.
    pub fn new(endpoint: &str, method: Method, name: &str) -> Step {
        Step {
            endpoint: endpoint.to_string(),
            method,
            name: name.to_string(),
            only_if: None,
            response_bytes: 0,
        }
    }

    /// The same step, run only when `condition` holds for the previous response.
    pub fn only_if(mut self, condition: Condition) -> Step {
        self.only_if = Some(condition);
        self
    }

    /// The same step with a response body of `bytes`.
    pub fn with_response_bytes(mut self, bytes: u64) -> Step {
        self.response_bytes = bytes;
        self
    }
}

/// A weighted task: one request or a flow of requests run back to back.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// `@task(weight)`: relative probability of being picked.
    pub weight: u32,
    /// The requests, in order.
    pub steps: Vec<Step>,
}

/// How many users of a class to spawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Share {
    /// `weight`: a share of the users not taken by fixed-count classes.
    Weight(u32),
    /// `fixed_count`: exactly this many users, spawned before weighted ones.
    FixedCount(u32),
}

/// A Locust `User` class.
#[derive(Debug, Clone, PartialEq)]
pub struct UserClass {
    /// The class name (classes are dispatched in name order, as Locust does).
    pub name: String,
    /// Its share of the users.
    pub share: Share,
    /// Its sleep after each task.
    pub wait_time: WaitTime,
    /// Its tasks.
    pub tasks: Vec<Task>,
}

/// Where a Locust run sends its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The ingress: split between stable and canary by the canary weight.
    Ingress,
    /// The canary service (only canary pods).
    CanaryService,
    /// The stable service (only stable pods).
    StableService,
    /// A name cluster DNS does not resolve: every request fails to
    /// connect (status 0), as Locust records a failed lookup.
    Unresolved,
}

/// Everything one Locust run needs (its command-line parameters plus the locustfile).
#[derive(Debug, Clone, PartialEq)]
pub struct LocustRunSpec {
    /// `-u/--users`: peak number of concurrent users.
    pub users: u32,
    /// `-r/--spawn-rate`: users started per second.
    pub spawn_rate: f64,
    /// `-t/--run-time`: stop after this long; `None` runs until stopped.
    pub run_time: Option<SimDuration>,
    /// `--stop-timeout`: how long running tasks may go on after the stop.
    pub stop_timeout: SimDuration,
    /// Where the requests go.
    pub target: Target,
    /// The locustfile's user classes.
    pub user_classes: Vec<UserClass>,
    /// `--exit-code-on-error`: the exit code when any request failed.
    pub exit_code_on_error: i32,
}

/// A spec that cannot run; each message names the field and the fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LocustSpecError {
    /// The spawn rate is zero, negative or not a number.
    #[error("spawn rate {0} must be a positive number of users per second")]
    SpawnRate(f64),
    /// No user classes.
    #[error("a Locust run needs at least one user class")]
    NoUserClasses,
    /// Two classes share a name.
    #[error("user class name {0:?} is used twice; class names must be unique")]
    DuplicateClass(String),
    /// A class has neither a positive weight nor a fixed count.
    #[error("user class {0:?} needs a weight above 0 or a fixed_count above 0")]
    ClassShare(String),
    /// A class has no task with a positive weight.
    #[error("user class {0:?} needs at least one task with a weight above 0")]
    NoTasks(String),
    /// A task has no steps.
    #[error("user class {class:?}, task {task}: a task needs at least one request")]
    EmptyTask {
        /// The class.
        class: String,
        /// The task's index.
        task: usize,
    },
    /// A task's first step is conditional, but there is no previous response.
    #[error(
        "user class {class:?}, task {task}: the first request cannot have only_if (no previous response)"
    )]
    FirstStepConditional {
        /// The class.
        class: String,
        /// The task's index.
        task: usize,
    },
    /// A step has an empty endpoint or name.
    #[error("user class {class:?}, task {task}: every request needs an endpoint and a name")]
    StepIncomplete {
        /// The class.
        class: String,
        /// The task's index.
        task: usize,
    },
    /// A wait time is negative, non-finite, or `between` has min > max.
    #[error("user class {class:?}: bad wait_time: {problem}")]
    WaitTime {
        /// The class.
        class: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// Too many classes, tasks or steps for the compact references.
    #[error("too many user classes, tasks or requests (at most 65535 of each)")]
    TooLarge,
    /// A job parameter could not be read.
    #[error("locust job parameter {name}: {problem}")]
    JobParameter {
        /// The parameter (flag or variable) name.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The locustfile is not one the simulator knows.
    #[error(
        "locustfile {0:?} is not built in; known: checkout_flow.py (give the user classes directly instead)"
    )]
    UnknownLocustfile(String),
}

impl LocustRunSpec {
    /// Checks every rule the state machine relies on.
    pub fn validate(&self) -> Result<(), LocustSpecError> {
        if !(self.spawn_rate.is_finite() && self.spawn_rate > 0.0) {
            return Err(LocustSpecError::SpawnRate(self.spawn_rate));
        }
        if self.user_classes.is_empty() {
            return Err(LocustSpecError::NoUserClasses);
        }
        if self.user_classes.len() > usize::from(u16::MAX) {
            return Err(LocustSpecError::TooLarge);
        }
        for (i, class) in self.user_classes.iter().enumerate() {
            if self.user_classes[..i].iter().any(|c| c.name == class.name) {
                return Err(LocustSpecError::DuplicateClass(class.name.clone()));
            }
            validate_class(class)?;
        }
        let endpoints: std::collections::BTreeSet<&str> = self
            .user_classes
            .iter()
            .flat_map(|c| &c.tasks)
            .flat_map(|t| &t.steps)
            .map(|s| s.endpoint.as_str())
            .collect();
        if endpoints.len() > usize::from(u16::MAX) {
            return Err(LocustSpecError::TooLarge);
        }
        Ok(())
    }
}

fn validate_class(class: &UserClass) -> Result<(), LocustSpecError> {
    let name = || class.name.clone();
    match class.share {
        Share::Weight(0) | Share::FixedCount(0) => return Err(LocustSpecError::ClassShare(name())),
        _ => {}
    }
    if !class.tasks.iter().any(|t| t.weight > 0) {
        return Err(LocustSpecError::NoTasks(name()));
    }
    if class.tasks.len() > usize::from(u16::MAX) {
        return Err(LocustSpecError::TooLarge);
    }
    for (i, task) in class.tasks.iter().enumerate() {
        if task.steps.is_empty() {
            return Err(LocustSpecError::EmptyTask {
                class: name(),
                task: i,
            });
        }
        if task.steps.len() > usize::from(u16::MAX) {
            return Err(LocustSpecError::TooLarge);
        }
        if task.steps[0].only_if.is_some() {
            return Err(LocustSpecError::FirstStepConditional {
                class: name(),
                task: i,
            });
        }
        if task
            .steps
            .iter()
            .any(|s| s.endpoint.is_empty() || s.name.is_empty())
        {
            return Err(LocustSpecError::StepIncomplete {
                class: name(),
                task: i,
            });
        }
    }
    let bad = |problem| {
        Err(LocustSpecError::WaitTime {
            class: name(),
            problem,
        })
    };
    let ok = |x: f64| x.is_finite() && x >= 0.0;
    match class.wait_time {
        WaitTime::Between { min_s, max_s } => {
            if !ok(min_s) || !ok(max_s) {
                return bad("between() needs finite, non-negative seconds");
            }
            if min_s > max_s {
                return bad("between(min, max) needs min <= max");
            }
        }
        WaitTime::Constant { s } | WaitTime::ConstantPacing { s } => {
            if !ok(s) {
                return bad("the wait must be finite and non-negative");
            }
        }
        WaitTime::ConstantThroughput { per_s } | WaitTime::Poisson { per_s } => {
            if !(per_s.is_finite() && per_s > 0.0) {
                return bad("constant_throughput() and poisson() need a positive rate");
            }
        }
    }
    Ok(())
}

/// The seed's `checkout_flow.py` `CheckoutUser`: `wait_time = between(1, 3)`;
/// `@task(5)` GET `/api/products/:id`; `@task(3)` GET `/api/products?q=...`;
/// `@task(1)` the checkout flow: POST `/api/cart/items`, POST `/api/checkout`,
/// and, only if the checkout answered 201, GET `/api/orders/:id`.
///
/// Endpoint keys: `product`, `search`, `cart`, `checkout`, `order`.
pub fn checkout_user() -> UserClass {
    UserClass {
        name: "CheckoutUser".to_string(),
        share: Share::Weight(1),
        wait_time: WaitTime::Between {
            min_s: 1.0,
            max_s: 3.0,
        },
        tasks: vec![
            Task {
                weight: 5,
                steps: vec![Step::new("product", Method::Get, "/api/products/:id")],
            },
            Task {
                weight: 3,
                steps: vec![Step::new("search", Method::Get, "/api/products?q=...")],
            },
            Task {
                weight: 1,
                steps: vec![
                    Step::new("cart", Method::Post, "/api/cart/items"),
                    Step::new("checkout", Method::Post, "/api/checkout"),
                    Step::new("order", Method::Get, "/api/orders/:id")
                        .only_if(Condition::StatusIs(201)),
                ],
            },
        ],
    }
}

impl LocustRunSpec {
    /// The seed's `locust-canary-validation` Job: `checkout_flow.py` with 20
    /// users, spawn rate 5, run time 45 s, stop timeout 0,
    /// `--exit-code-on-error 1`, against the canary service.
    pub fn seed_canary_validation() -> LocustRunSpec {
        LocustRunSpec {
            users: 20,
            spawn_rate: 5.0,
            run_time: Some(SimDuration::from_secs(45)),
            stop_timeout: SimDuration::ZERO,
            target: Target::CanaryService,
            user_classes: vec![checkout_user()],
            exit_code_on_error: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_spec_is_valid_and_mirrors_checkout_flow_py() {
        let spec = LocustRunSpec::seed_canary_validation();
        assert_eq!(spec.validate(), Ok(()));
        let user = &spec.user_classes[0];
        let weights: Vec<u32> = user.tasks.iter().map(|t| t.weight).collect();
        assert_eq!(weights, [5, 3, 1]);
        let flow = &user.tasks[2].steps;
        assert_eq!(flow.len(), 3);
        assert_eq!(flow[2].only_if, Some(Condition::StatusIs(201)));
        assert_eq!(flow[1].method, Method::Post);
    }

    #[test]
    fn validation_rejects_each_broken_rule() {
        let base = LocustRunSpec::seed_canary_validation();
        let mut s = base.clone();
        s.spawn_rate = 0.0;
        assert!(matches!(s.validate(), Err(LocustSpecError::SpawnRate(_))));
        let mut s = base.clone();
        s.user_classes[0].tasks[0].steps[0].only_if = Some(Condition::Ok);
        assert!(matches!(
            s.validate(),
            Err(LocustSpecError::FirstStepConditional { .. })
        ));
        let mut s = base.clone();
        s.user_classes[0].wait_time = WaitTime::Between {
            min_s: 3.0,
            max_s: 1.0,
        };
        assert!(matches!(
            s.validate(),
            Err(LocustSpecError::WaitTime { .. })
        ));
        let mut s = base.clone();
        s.user_classes.push(checkout_user());
        assert!(matches!(
            s.validate(),
            Err(LocustSpecError::DuplicateClass(_))
        ));
        let mut s = base.clone();
        for t in &mut s.user_classes[0].tasks {
            t.weight = 0;
        }
        assert!(matches!(s.validate(), Err(LocustSpecError::NoTasks(_))));
        let mut s = base;
        s.user_classes[0].share = Share::Weight(0);
        assert!(matches!(s.validate(), Err(LocustSpecError::ClassShare(_))));
    }

    #[test]
    fn conditions_follow_locust_response_ok() {
        assert!(Condition::StatusIs(201).holds(201));
        assert!(!Condition::StatusIs(201).holds(200));
        assert!(Condition::Ok.holds(302));
        assert!(!Condition::Ok.holds(0));
        assert!(Condition::NotOk.holds(503));
    }
}
