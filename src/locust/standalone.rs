//! A small driver that runs a [`LocustRun`] against a service given as a
//! function, without the engine: for tests, examples and quick estimates.
//!
//! In: a spec, a seed and a [`Responder`] that answers each request with a
//! status and a latency. Out: the [`LocustReport`]. It is the reference for
//! the protocol the engine follows (see `run.rs`): one event queue holding
//! the run's timers and the pending responses, ties broken FIFO.

use super::run::{Action, LocustReport, LocustRun, StepRef, Timer, UserId};
use super::spec::{LocustRunSpec, LocustSpecError, Step};
use crate::sim::{EventQueue, SimDuration, SimTime};

/// One request as the responder sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The sender.
    pub user: UserId,
    /// The endpoint key.
    pub endpoint: &'a str,
    /// The step (method, name, …).
    pub step: &'a Step,
    /// Which step of the spec.
    pub step_ref: StepRef,
    /// When it was sent.
    pub sent_at: SimTime,
}

/// The service under load: answers each request with (status, latency).
pub trait Responder {
    /// The status (0: no response) and the time until the response arrives.
    fn respond(&mut self, request: &Request<'_>) -> (u16, SimDuration);
}

impl<F: FnMut(&Request<'_>) -> (u16, SimDuration)> Responder for F {
    fn respond(&mut self, request: &Request<'_>) -> (u16, SimDuration) {
        self(request)
    }
}

enum Event {
    Timer(Timer),
    Response { user: UserId, status: u16 },
}

/// Runs `spec` from time `start` to its end (or to `limit`, where it is
/// stopped as the simulation ending would stop it) against `service`.
pub fn run(
    spec: LocustRunSpec,
    start: SimTime,
    seed: u64,
    service: &mut impl Responder,
    limit: SimTime,
) -> Result<LocustReport, LocustSpecError> {
    let mut run = LocustRun::new(spec, start, seed)?;
    let mut queue: EventQueue<Event> = EventQueue::new();
    let mut out: Vec<Action> = Vec::new();
    let mut now = start;
    run.start(&mut out);
    loop {
        for action in out.drain(..) {
            match action {
                Action::Send {
                    user,
                    endpoint,
                    step,
                } => {
                    let request = Request {
                        user,
                        endpoint: &run.endpoints()[endpoint.0 as usize],
                        step: run.step(step),
                        step_ref: step,
                        sent_at: now,
                    };
                    let (status, latency) = service.respond(&request);
                    queue.schedule(now + latency, Event::Response { user, status });
                }
                Action::Schedule { at, timer } => queue.schedule(at.max(now), Event::Timer(timer)),
                Action::Finished => return Ok(run.into_report(now)),
            }
        }
        match queue.peek_time() {
            Some(t) if t <= limit => {}
            _ => return Ok(run.into_report(limit.max(now))),
        }
        let (t, event) = queue.pop().expect("invariant: peeked");
        now = t;
        match event {
            Event::Timer(timer) => run.on_timer(timer, now, &mut out),
            Event::Response { user, status } => run.on_response(user, status, now, &mut out),
        }
    }
}
