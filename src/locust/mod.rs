//! Locust-like load: user classes with weighted tasks and flows, closed-loop
//! users with `wait_time`, spawn rate and run time, Locust's statistics and
//! its CSV files, and the results as Pushgateway series.
//!
//! Flow: a [`LocustRunSpec`] (built directly, from the seed's
//! [`checkout_user`], or from an Argo Job's container by [`LocustJob`]) →
//! a [`LocustRun`] the engine drives with timers and responses → a
//! [`LocustReport`] (exit code, [`RequestStats`], [`LocustCsv`]) →
//! [`PushGroup`] into a [`Pushgateway`] that the scraper copies into the
//! series store. The engine owns routing and latency; nothing here knows
//! about pods. [`standalone::run`] drives a run against a plain function.
//!
//! Files: `spec` (the model), `run` (the state machine), `stats` (Locust's
//! counting rules), `csv` and `pyfmt` (Locust's file formats), `sha256`
//! (failure-row order), `job` (Job parameters), `push` (Pushgateway),
//! `standalone` (a driver without the engine).

pub mod cli;
pub mod csv;
pub mod job;
pub mod push;
pub mod pyfmt;
pub mod run;
mod sha256;
pub mod spec;
pub mod standalone;
pub mod stats;

pub use job::LocustJob;
pub use push::{PUSHED_NAMES, PushGroup, Pushgateway};
pub use run::{
    Action, EndpointId, HistoryPoint, LocustCsv, LocustReport, LocustRun, StepRef, Timer, UserId,
};
pub use spec::{
    Condition, LocustRunSpec, LocustSpecError, Method, Share, Step, Target, Task, UserClass,
    WaitTime, checkout_user,
};
pub use stats::{RequestStats, StatsEntry, StatsError, UNIX_EPOCH_OFFSET_S};
