//! The operator: the person who runs the rollout by hand and is paged after.
//!
//! While the rollout waits for a person (an indefinite pause, or an
//! Inconclusive analysis), the operator looks at the dashboard panels every
//! `look_every`; if a panel shows a value above its line, they abort after
//! their reaction time; if nothing looked wrong by `promote_after`, they
//! promote. Once paged (an OOM kill, or an alert that held for its `for:`),
//! they respond after `respond_after`: `undo` if the new build was
//! promoted, `abort` if it is still rolling out. What a panel shows is the
//! PromQL behind it evaluated on the scraped series at the moment of the look.

use super::Engine;
use crate::promql::{EvalOptions, Query, Value};
use crate::rollout::policy::OperatorConfig;
use crate::sim::SimTime;

/// What the operator does when an event comes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OperatorEvent {
    /// Look at the panels during the wait numbered `watch`.
    Look { watch: u32 },
    /// Abort the rollout, having seen something wrong during wait `watch`.
    Abort { watch: u32 },
    /// Respond to the page.
    Respond,
}

/// The operator's state.
pub(crate) struct Operator {
    cfg: OperatorConfig,
    panels: Vec<Option<Query>>,
    alerts: Vec<Option<Query>>,
    /// Counts the waits for a person; events of an earlier wait are stale.
    watch: u32,
    watch_started: Option<SimTime>,
    alert_since: Vec<Option<SimTime>>,
    paged: bool,
}

impl Operator {
    pub fn new(cfg: &OperatorConfig) -> Operator {
        let parse = |q: &str| Query::parse(q).ok();
        Operator {
            panels: cfg.panels.iter().map(|p| parse(&p.query)).collect(),
            alerts: cfg.alerts.iter().map(|a| parse(&a.expr)).collect(),
            alert_since: vec![None; cfg.alerts.len()],
            cfg: cfg.clone(),
            watch: 0,
            watch_started: None,
            paged: false,
        }
    }

    /// What the operator was configured to do.
    pub fn config(&self) -> &OperatorConfig {
        &self.cfg
    }
}

/// The largest value a query shows now, if it shows any.
fn panel_value(q: &Query, engine: &Engine, now: SimTime) -> Option<f64> {
    let t = engine.world.prom_ms(now);
    match q.instant(&engine.store, t, &EvalOptions::default()).ok()? {
        Value::Scalar(v) => Some(v).filter(|v| !v.is_nan()),
        Value::Vector(v) => v
            .iter()
            .map(|s| s.v)
            .filter(|v| !v.is_nan())
            .reduce(f64::max),
        _ => None,
    }
}

impl Engine<'_> {
    /// The controller started waiting for a person at `now`.
    pub(crate) fn operator_watch(&mut self, now: SimTime) {
        let op = &mut self.operator;
        op.watch += 1;
        op.watch_started = Some(now);
        let watch = op.watch;
        let Some(promote_after) = op.cfg.promote_after else {
            return;
        };
        let mut t = now;
        if let Some(every) = op.cfg.look_every.filter(|d| d.0 > 0) {
            loop {
                t += every;
                if t >= now + promote_after {
                    break;
                }
                self.queue
                    .schedule(t, super::Event::Operator(OperatorEvent::Look { watch }));
            }
        }
        self.queue.schedule(
            now + promote_after,
            super::Event::Operator(OperatorEvent::Look { watch }),
        );
    }

    pub(crate) fn on_operator(&mut self, now: SimTime, e: OperatorEvent) {
        match e {
            OperatorEvent::Look { watch } => {
                if watch != self.operator.watch || !self.ctrl.waiting_for_person() {
                    return;
                }
                let wrong = self.operator.panels.iter().enumerate().find_map(|(i, q)| {
                    let v = panel_value(q.as_ref()?, self, now)?;
                    let panel = &self.operator.cfg.panels[i];
                    (v > panel.above)
                        .then(|| format!("{} shows {v:.4}, above {}", panel.name, panel.above))
                });
                match wrong {
                    Some(what) => {
                        self.world
                            .note(now, "operator", format!("operator sees {what}; aborts"));
                        let at = now + self.operator.cfg.reaction;
                        self.queue
                            .schedule(at, super::Event::Operator(OperatorEvent::Abort { watch }));
                    }
                    None => {
                        let started = self.operator.watch_started.unwrap_or(now);
                        let due = self
                            .operator
                            .cfg
                            .promote_after
                            .is_some_and(|p| now >= started + p);
                        if due {
                            let step = self.ctrl.step_index();
                            self.world.note(
                                now,
                                "operator",
                                format!("nothing looks wrong; operator promotes (step {step})"),
                            );
                            self.ctrl.promote(now);
                            self.request_reconcile(now);
                        }
                    }
                }
            }
            OperatorEvent::Abort { watch } => {
                if watch == self.operator.watch && self.ctrl.in_progress() {
                    self.ctrl.abort(now, "aborted by the operator");
                    self.request_reconcile(now);
                }
            }
            OperatorEvent::Respond => {
                if self.ctrl.in_progress() {
                    self.world.note(
                        now,
                        "operator",
                        "operator responds to the page: kubectl argo rollouts abort".into(),
                    );
                    self.ctrl.abort(now, "aborted by the operator after a page");
                    self.request_reconcile(now);
                } else if self.ctrl.promoted_at().is_some()
                    && self.ctrl.stable() == crate::model::Version::Canary
                {
                    self.world.note(
                        now,
                        "operator",
                        "operator responds to the page: kubectl argo rollouts undo".into(),
                    );
                    self.ctrl.undo(now);
                    self.request_reconcile(now);
                }
            }
        }
    }

    /// Pages the operator (once) for `why`.
    pub(crate) fn page(&mut self, now: SimTime, why: String) {
        if self.operator.paged || now < self.world.rollout_start {
            return;
        }
        self.operator.paged = true;
        match self.operator.cfg.respond_after {
            Some(after) => {
                self.world.note(
                    now,
                    "page",
                    format!("operator paged: {why}; responds in {after}"),
                );
                self.queue
                    .schedule(now + after, super::Event::Operator(OperatorEvent::Respond));
            }
            None => self.world.note(
                now,
                "page",
                format!("operator paged: {why}; no response configured"),
            ),
        }
    }

    /// Evaluates the alerts after a scrape; pages when one has held for its `for:`.
    pub(crate) fn evaluate_alerts(&mut self, now: SimTime) {
        if self.operator.alerts.is_empty() || self.operator.paged || now < self.world.rollout_start
        {
            return;
        }
        for i in 0..self.operator.alerts.len() {
            let Some(q) = &self.operator.alerts[i] else {
                continue;
            };
            let t = self.world.prom_ms(now);
            let firing = match q.instant(&self.store, t, &EvalOptions::default()) {
                Ok(Value::Vector(v)) => !v.is_empty(),
                Ok(Value::Scalar(v)) => v != 0.0 && !v.is_nan(),
                _ => false,
            };
            if !firing {
                self.operator.alert_since[i] = None;
                continue;
            }
            let since = *self.operator.alert_since[i].get_or_insert(now);
            let alert = &self.operator.cfg.alerts[i];
            if now.saturating_since(since) >= alert.for_ {
                let why = format!("alert {} firing", alert.name);
                self.page(now, why);
                return;
            }
        }
    }

    /// An OOM kill happened: pages the operator if they are paged for those.
    pub(crate) fn on_oom_kill(&mut self, now: SimTime) {
        if self.operator.cfg.page_on_oom {
            let pod = self
                .world
                .oom_kills
                .last()
                .map(|k| k.pod.clone())
                .unwrap_or_default();
            self.page(now, format!("{pod} was OOM-killed"));
        }
    }
}
