//! The controller's rules, one test per transition of argo-semantics §3.

use super::*;
use crate::analysis::{ArgSource, RunArg};
use crate::rollout::policy::{BackgroundAnalysis, TemplateRef};
use crate::sim::SimDuration;

fn policy(steps: Vec<Step>) -> Policy {
    Policy::new("p", steps)
}

fn view(stable: u32, canary: u32) -> ClusterView {
    ClusterView {
        available: [stable, canary],
        created: [stable, canary],
        runs: Vec::new(),
    }
}

fn with_run(mut v: ClusterView, kind: RunKind, phase: AnalysisPhase) -> ClusterView {
    v.runs.push(RunView {
        kind,
        phase,
        message: "metric \"m\" assessed Failed".into(),
    });
    v
}

fn analysis(name: &str) -> AnalysisRef {
    AnalysisRef {
        templates: vec![TemplateRef {
            name: name.into(),
            cluster_scope: false,
        }],
        args: vec![RunArg {
            name: "svc".into(),
            source: ArgSource::Value("checkout-canary".into()),
        }],
        ..AnalysisRef::default()
    }
}

fn t(s: u64) -> SimTime {
    SimTime::from_secs(s)
}

fn new(p: Policy, n: u32) -> Controller {
    Controller::new(p, n, SimTime::ZERO, None)
}

#[test]
fn set_weight_waits_for_replica_counts_and_router_keeps_previous_weight() {
    let mut c = new(policy(vec![Step::SetWeight(20), Step::SetWeight(50)]), 5);
    let d = c.reconcile(SimTime(1), &view(5, 0));
    assert_eq!(d.replicas, [5, 1]);
    assert_eq!(d.weight, 0, "no canary pod available yet");
    assert!(!d.requeue);
    let d = c.reconcile(SimTime(2), &view(5, 1));
    assert_eq!((d.weight, d.requeue), (20, true));
    let d = c.reconcile(SimTime(3), &view(5, 1));
    assert_eq!(d.replicas, [5, 3], "ceil(50·5/100) = 3");
    assert_eq!(d.weight, 20, "keeps 20 until 3 canary pods are available");
}

#[test]
fn index_advances_at_most_one_step_per_reconcile() {
    let mut c = new(
        policy(vec![
            Step::SetWeight(0),
            Step::SetWeight(0),
            Step::SetWeight(0),
        ]),
        2,
    );
    c.reconcile(SimTime(1), &view(2, 0));
    assert_eq!(c.step_index(), 1);
    c.reconcile(SimTime(1), &view(2, 0));
    assert_eq!(c.step_index(), 2);
}

#[test]
fn timed_pause_adds_its_condition_then_completes_only_strictly_after_its_duration() {
    let mut c = new(
        policy(vec![Step::Pause(Some(SimDuration::from_secs(60)))]),
        1,
    );
    let d = c.reconcile(SimTime::ZERO, &view(1, 0));
    assert_eq!(d.wake_at, Some(SimTime(60_000_001)));
    assert_eq!(c.phase(), Phase::Paused);
    c.reconcile(t(60), &view(1, 0));
    assert_eq!(c.step_index(), 0);
    c.reconcile(SimTime(60_000_001), &view(1, 0));
    assert_eq!(c.step_index(), 1);
}

#[test]
fn indefinite_pause_waits_for_promote_which_removes_the_condition() {
    let mut c = new(policy(vec![Step::Pause(None), Step::SetWeight(100)]), 1);
    for s in 0..3 {
        c.reconcile(t(s * 1000), &view(1, 0));
    }
    assert_eq!((c.step_index(), c.phase()), (0, Phase::Paused));
    assert!(c.waiting_for_person());
    c.promote(t(5000));
    assert_eq!(c.phase(), Phase::Progressing, "pause condition removed");
    c.reconcile(t(5000), &view(1, 0));
    assert_eq!(c.step_index(), 1);
}

#[test]
fn full_promotion_needs_all_new_replicas_then_old_stable_goes_after_the_delay() {
    let mut c = new(policy(vec![Step::SetWeight(100)]), 5);
    c.reconcile(SimTime(1), &view(5, 5));
    assert_eq!(c.step_index(), 1);
    let d = c.reconcile(SimTime(2), &view(5, 4));
    assert_eq!(c.promoted_at(), None, "only 4 of 5 canary pods available");
    assert_eq!(d.replicas, [5, 5]);
    let d = c.reconcile(SimTime(3), &view(5, 5));
    assert_eq!(c.promoted_at(), Some(SimTime(3)));
    assert_eq!(
        (d.canary_selects, d.stable_selects),
        (Version::Canary, Version::Canary)
    );
    assert_eq!(
        d.replicas,
        [5, 5],
        "old stable kept for scaleDownDelaySeconds"
    );
    assert_eq!(d.wake_at, Some(SimTime(3) + SimDuration::from_secs(30)));
    let d = c.reconcile(SimTime(3) + SimDuration::from_secs(30), &view(5, 5));
    assert_eq!(d.replicas, [0, 5]);
    assert_eq!(c.phase(), Phase::Healthy);
}

#[test]
fn analysis_step_starts_a_run_and_completes_only_when_it_is_successful() {
    // Pinned case 13, first part: a Successful step run moves the index 0 → 1.
    let mut c = new(
        policy(vec![Step::Analysis(analysis("a")), Step::SetWeight(100)]),
        2,
    );
    let d = c.reconcile(t(0), &view(2, 0));
    assert!(matches!(
        &d.runs[..],
        [RunRequest::Start {
            kind: RunKind::Step(0),
            ..
        }]
    ));
    for phase in [AnalysisPhase::Pending, AnalysisPhase::Running] {
        c.reconcile(t(1), &with_run(view(2, 0), RunKind::Step(0), phase));
        assert_eq!(c.step_index(), 0, "{phase:?} does not complete the step");
    }
    let d = c.reconcile(
        t(2),
        &with_run(view(2, 0), RunKind::Step(0), AnalysisPhase::Successful),
    );
    assert_eq!(c.step_index(), 1);
    assert!(d.requeue);
    let d = c.reconcile(
        t(3),
        &with_run(view(2, 0), RunKind::Step(0), AnalysisPhase::Successful),
    );
    assert!(
        d.runs.contains(&RunRequest::Cancel {
            kind: RunKind::Step(0)
        }),
        "the run is cancelled when the index moves on"
    );
}

#[test]
fn inconclusive_step_run_pauses_the_rollout() {
    // Pinned case 13, second part.
    let mut c = new(policy(vec![Step::Analysis(analysis("a"))]), 2);
    c.reconcile(t(0), &view(2, 0));
    c.reconcile(
        t(1),
        &with_run(view(2, 0), RunKind::Step(0), AnalysisPhase::Inconclusive),
    );
    assert_eq!(c.phase(), Phase::Paused);
    assert_eq!(c.step_index(), 0);
    assert!(c.waiting_for_person());
}

#[test]
fn failed_or_error_step_run_aborts_with_weight_zero_and_phase_degraded() {
    // Pinned case 13, third part.
    for phase in [AnalysisPhase::Failed, AnalysisPhase::Error] {
        let mut c = new(
            policy(vec![
                Step::SetWeight(20),
                Step::Analysis(analysis("a")),
                Step::SetWeight(50),
            ]),
            5,
        );
        c.reconcile(t(0), &view(5, 1));
        c.reconcile(t(0), &view(5, 1));
        assert_eq!((c.step_index(), c.weight()), (1, 20));
        let d = c.reconcile(t(5), &with_run(view(5, 1), RunKind::Step(1), phase));
        assert_eq!(c.phase(), Phase::Degraded);
        assert_eq!(d.weight, 0, "weight 0 at once");
        assert_eq!(
            d.canary_selects,
            Version::Stable,
            "the canary Service points at stable"
        );
        assert_eq!(c.step_index(), 0, "the index goes back to 0");
        let (at, msg) = c.aborted().unwrap();
        assert_eq!(at, t(5));
        assert!(msg.starts_with("RolloutAborted: Rollout aborted update to revision 2: Step-based analysis phase error/failed"), "{msg}");
        assert!(
            d.requeue,
            "the abort is written; the next reconcile acts on it"
        );
        let d = c.reconcile(t(5), &with_run(view(5, 1), RunKind::Step(1), phase));
        assert!(d.runs.contains(&RunRequest::Cancel {
            kind: RunKind::Step(1)
        }));
    }
}

#[test]
fn aborted_canary_stays_until_stable_is_available_then_goes_after_the_abort_delay() {
    let mut c = new(policy(vec![Step::SetWeight(40), Step::Pause(None)]), 5);
    c.reconcile(t(0), &view(5, 2));
    c.abort(t(10), "by hand");
    let d = c.reconcile(t(10), &view(4, 2));
    assert_eq!(
        d.replicas,
        [5, 2],
        "stable not fully available: the canary stays"
    );
    let d = c.reconcile(t(20), &view(5, 2));
    assert_eq!(d.replicas, [5, 2]);
    assert_eq!(d.wake_at, Some(t(50)), "30 s after stable is available");
    let d = c.reconcile(t(50), &view(5, 2));
    assert_eq!(d.replicas, [5, 0]);
}

#[test]
fn abort_scale_down_delay_of_zero_keeps_the_canary() {
    let mut p = policy(vec![Step::SetWeight(40), Step::Pause(None)]);
    p.abort_scale_down_delay = None;
    let mut c = new(p, 5);
    c.reconcile(t(0), &view(5, 2));
    c.abort(t(10), "by hand");
    let d = c.reconcile(t(10_000), &view(5, 2));
    assert_eq!(d.replicas, [5, 2]);
}

#[test]
fn step_analysis_is_left_alone_while_paused() {
    let mut c = new(
        policy(vec![Step::Analysis(analysis("a")), Step::SetWeight(100)]),
        2,
    );
    c.reconcile(t(0), &view(2, 0));
    c.reconcile(
        t(1),
        &with_run(view(2, 0), RunKind::Step(0), AnalysisPhase::Inconclusive),
    );
    // A later Failed phase is not read while the pause condition stands.
    let d = c.reconcile(
        t(2),
        &with_run(view(2, 0), RunKind::Step(0), AnalysisPhase::Failed),
    );
    assert_eq!(c.phase(), Phase::Paused);
    assert!(d.runs.is_empty());
}

#[test]
fn promote_after_an_inconclusive_step_run_skips_the_step() {
    let mut c = new(
        policy(vec![Step::Analysis(analysis("a")), Step::SetWeight(100)]),
        2,
    );
    c.reconcile(t(0), &view(2, 0));
    c.reconcile(
        t(1),
        &with_run(view(2, 0), RunKind::Step(0), AnalysisPhase::Inconclusive),
    );
    c.promote(t(2));
    assert_eq!(c.step_index(), 1);
    assert_eq!(c.phase(), Phase::Progressing);
}

#[test]
fn promote_without_pause_conditions_skips_a_running_analysis() {
    let mut c = new(
        policy(vec![Step::Analysis(analysis("a")), Step::SetWeight(100)]),
        2,
    );
    c.reconcile(t(0), &view(2, 0));
    c.reconcile(
        t(1),
        &with_run(view(2, 0), RunKind::Step(0), AnalysisPhase::Running),
    );
    c.promote(t(2));
    assert_eq!(c.step_index(), 1);
}

#[test]
fn background_analysis_starts_at_its_starting_step_and_never_blocks_steps() {
    let mut p = policy(vec![
        Step::SetWeight(20),
        Step::SetWeight(40),
        Step::SetWeight(60),
    ]);
    p.background = Some(BackgroundAnalysis {
        analysis: analysis("bg"),
        starting_step: 1,
    });
    let mut c = new(p, 5);
    let d = c.reconcile(t(0), &view(5, 1));
    assert!(d.runs.is_empty(), "before startingStep");
    let d = c.reconcile(t(1), &view(5, 1));
    assert!(matches!(
        &d.runs[..],
        [RunRequest::Start {
            kind: RunKind::Background,
            ..
        }]
    ));
    c.reconcile(
        t(2),
        &with_run(view(5, 2), RunKind::Background, AnalysisPhase::Running),
    );
    assert_eq!(c.step_index(), 2, "a Running background run does not block");
}

#[test]
fn background_inconclusive_pauses_and_failed_aborts() {
    let bg = |phase| {
        let mut p = policy(vec![
            Step::SetWeight(20),
            Step::Pause(Some(SimDuration::from_secs(600))),
        ]);
        p.background = Some(BackgroundAnalysis {
            analysis: analysis("bg"),
            starting_step: 0,
        });
        let mut c = new(p, 5);
        c.reconcile(t(0), &view(5, 1));
        c.reconcile(t(1), &with_run(view(5, 1), RunKind::Background, phase));
        c
    };
    assert_eq!(bg(AnalysisPhase::Inconclusive).phase(), Phase::Paused);
    let c = bg(AnalysisPhase::Failed);
    assert_eq!(c.phase(), Phase::Degraded);
    assert!(
        c.aborted()
            .unwrap()
            .1
            .contains("Background analysis phase error/failed")
    );
}

#[test]
fn background_run_is_cancelled_at_full_promotion() {
    let mut p = policy(vec![Step::SetWeight(100)]);
    p.background = Some(BackgroundAnalysis {
        analysis: analysis("bg"),
        starting_step: 0,
    });
    let mut c = new(p, 2);
    c.reconcile(t(0), &view(2, 2));
    let d = c.reconcile(
        t(1),
        &with_run(view(2, 2), RunKind::Background, AnalysisPhase::Running),
    );
    assert!(c.promoted_at().is_some());
    assert!(d.runs.contains(&RunRequest::Cancel {
        kind: RunKind::Background
    }));
}

#[test]
fn set_canary_scale_sets_replicas_apart_from_the_weight() {
    let mut c = new(
        policy(vec![
            Step::SetCanaryScale(CanaryScale::Replicas(3)),
            Step::SetWeight(10),
            Step::SetCanaryScale(CanaryScale::Weight(60)),
            Step::SetCanaryScale(CanaryScale::MatchTrafficWeight),
            Step::Pause(None),
        ]),
        10,
    );
    let d = c.reconcile(t(0), &view(10, 0));
    assert_eq!((d.replicas, d.weight), ([10, 3], 0), "3 pods at weight 0");
    c.reconcile(t(1), &view(10, 3));
    assert_eq!(c.step_index(), 1);
    let d = c.reconcile(t(2), &view(10, 3));
    assert_eq!(
        (d.replicas[1], d.weight),
        (3, 10),
        "the scale stays while the weight moves"
    );
    let d = c.reconcile(t(3), &view(10, 3));
    assert_eq!(d.replicas[1], 6, "weight 60 gives ceil(60·10/100) pods");
    c.reconcile(t(4), &view(10, 6));
    let d = c.reconcile(t(5), &view(10, 6));
    assert_eq!(
        d.replicas[1], 1,
        "matchTrafficWeight: back to ceil(10·10/100)"
    );
}

#[test]
fn undo_after_promotion_within_the_rollback_window_skips_the_steps() {
    let mut p = policy(vec![
        Step::SetWeight(20),
        Step::Pause(None),
        Step::SetWeight(100),
    ]);
    p.rollback_window = Some(3);
    let mut c = new(p, 5);
    c.reconcile(t(0), &view(5, 1));
    c.reconcile(t(0), &view(5, 1));
    c.promote(t(1));
    c.reconcile(t(1), &view(5, 1));
    c.reconcile(t(2), &view(5, 5));
    c.reconcile(t(2), &view(5, 5));
    assert_eq!(c.stable(), Version::Canary);
    c.undo(t(100));
    let d = c.reconcile(t(100), &view(0, 5));
    assert_eq!(
        d.replicas[Version::Stable.index()],
        5,
        "the previous build scales back up"
    );
    assert!(d.runs.is_empty());
    c.reconcile(t(120), &view(5, 5));
    assert_eq!(c.stable(), Version::Stable, "promoted at once, no steps");
    assert_eq!(c.phase(), Phase::Healthy);
}

#[test]
fn undo_outside_a_rollback_window_runs_the_steps_again() {
    let mut c = new(policy(vec![Step::SetWeight(20), Step::SetWeight(100)]), 5);
    c.reconcile(t(0), &view(5, 1));
    c.reconcile(t(0), &view(5, 5));
    c.reconcile(t(0), &view(5, 5));
    assert_eq!(c.stable(), Version::Canary);
    c.undo(t(100));
    let d = c.reconcile(t(100), &view(0, 5));
    assert_eq!(
        d.replicas,
        [1, 5],
        "the old build is now the canary at step 0"
    );
    assert_eq!(c.step_index(), 0);
}

#[test]
fn invalid_spec_does_nothing() {
    let mut c = Controller::new(
        policy(vec![Step::SetWeight(20)]),
        5,
        t(0),
        Some("bad".into()),
    );
    let d = c.reconcile(t(0), &view(5, 0));
    assert_eq!((d.replicas, d.weight), ([5, 0], 0));
    assert_eq!(c.phase(), Phase::Degraded);
    assert_eq!(c.invalid_spec(), Some("bad"));
}

#[test]
fn basic_canary_paces_within_surge_then_trims_stable() {
    // argo-semantics §4: N=10, w=20, maxSurge 2, maxUnavailable 0, from 10
    // stable: first canary 2 with stable 10, then stable 8.
    use crate::rollout::replicas::{IntOrPercent, SurgeLimits};
    let mut p = policy(vec![Step::SetWeight(20), Step::Pause(None)]);
    p.traffic_routing = false;
    p.surge = SurgeLimits::new(IntOrPercent::Count(2), IntOrPercent::Count(0)).unwrap();
    let mut c = new(p, 10);
    let d = c.reconcile(t(0), &view(10, 0));
    assert_eq!(d.replicas, [10, 2], "surge first: canary 2 with stable 10");
    assert_eq!(c.step_index(), 0);
    let d = c.reconcile(t(1), &view(10, 2));
    assert_eq!(d.replicas, [8, 2], "then stable 8");
    let d = c.reconcile(
        t(2),
        &ClusterView {
            available: [8, 2],
            created: [8, 2],
            runs: Vec::new(),
        },
    );
    assert_eq!(d.replicas, [8, 2]);
    assert_eq!(
        c.step_index(),
        1,
        "at the desired counts the step completes"
    );
}

#[test]
fn dynamic_stable_scale_shrinks_stable_as_the_weight_moves() {
    let mut p = policy(vec![Step::SetWeight(60), Step::Pause(None)]);
    p.dynamic_stable_scale = true;
    let mut c = new(p, 10);
    let d = c.reconcile(t(0), &view(10, 0));
    assert_eq!(
        d.replicas,
        [10, 6],
        "stable stays until the router has moved"
    );
    c.reconcile(t(1), &view(10, 6));
    assert_eq!(c.weight(), 60);
    let d = c.reconcile(t(2), &view(10, 6));
    assert_eq!(
        d.replicas,
        [4, 6],
        "then stable follows ceil((100-60)·10/100)"
    );
}

#[test]
fn returning_to_the_stable_template_skips_every_step() {
    let mut c = new(
        policy(vec![
            Step::SetWeight(20),
            Step::Pause(None),
            Step::SetWeight(100),
        ]),
        5,
    );
    c.reconcile(t(0), &view(5, 1));
    c.reconcile(t(0), &view(5, 1));
    assert!(c.waiting_for_person() || c.step_index() == 1);
    c.undo(t(10));
    assert_eq!(c.step_index(), 3, "all steps skipped");
    let d = c.reconcile(t(10), &view(5, 1));
    assert_eq!(d.replicas[Version::Stable.index()], 5);
    assert_eq!(
        d.replicas[Version::Canary.index()],
        0,
        "the canary goes once stable is the desired build"
    );
    assert_eq!(c.phase(), Phase::Healthy);
    assert_eq!(c.promoted_at(), None, "the canary build was never promoted");
}

#[test]
fn basic_canary_abort_scales_the_canary_down_at_once_within_the_surge_limits() {
    use crate::rollout::replicas::{IntOrPercent, SurgeLimits};
    let mut p = policy(vec![Step::SetWeight(50), Step::Pause(None)]);
    p.traffic_routing = false;
    p.surge = SurgeLimits::new(IntOrPercent::Count(1), IntOrPercent::Count(1)).unwrap();
    let mut c = new(p, 4);
    // Pace to 2/2 first.
    let mut v = view(4, 0);
    for s in 0..10 {
        let d = c.reconcile(t(s), &v);
        v = ClusterView {
            available: [d.replicas[0], d.replicas[1]],
            created: [d.replicas[0], d.replicas[1]],
            runs: Vec::new(),
        };
    }
    assert_eq!(v.available, [2, 2]);
    c.abort(t(100), "by hand");
    // N = 4, surge 1, unavailable 1, from 2 stable + 2 canary to 4 + 0:
    // stable grows by the one surge pod while the canary shrinks by one
    // (availability stays at N − 1 = 3), then the same again.
    let d = c.reconcile(t(100), &v);
    assert_eq!(d.weight, 0);
    assert_eq!(d.replicas, [3, 1]);
    let v = ClusterView {
        available: [3, 1],
        created: [3, 1],
        runs: Vec::new(),
    };
    let d = c.reconcile(t(101), &v);
    assert_eq!(d.replicas, [4, 0]);
}

#[test]
fn dynamic_stable_scale_abort_steps_traffic_back_as_stable_pods_become_available() {
    // N = 10 at weight 60 (stable scaled to 4, canary 6), then an abort: the
    // weight walks the setWeights back (60 → 20 → 0), each move only once the
    // stable has the pods for the traffic it takes.
    let mut p = policy(vec![
        Step::SetWeight(20),
        Step::SetWeight(60),
        Step::Pause(None),
    ]);
    p.dynamic_stable_scale = true;
    let mut c = new(p, 10);
    let settle = |c: &mut Controller, s: u64, avail: [u32; 2]| {
        c.reconcile(
            t(s),
            &ClusterView {
                available: avail,
                created: avail,
                runs: Vec::new(),
            },
        )
    };
    for (s, avail) in [
        (0, [10, 0]),
        (1, [10, 2]),
        (2, [10, 2]),
        (3, [8, 6]),
        (4, [8, 6]),
        (5, [4, 6]),
    ] {
        settle(&mut c, s, avail);
    }
    assert_eq!(c.weight(), 60);
    c.abort(t(10), "by hand");
    let d = settle(&mut c, 10, [4, 6]);
    assert_eq!(
        (d.replicas, d.weight),
        ([8, 6], 60),
        "stable grows first; the weight stays"
    );
    let d = settle(&mut c, 11, [8, 6]);
    assert_eq!(
        (d.replicas, d.weight),
        ([8, 2], 20),
        "stable covers 80%: down to the previous setWeight"
    );
    let d = settle(&mut c, 12, [8, 2]);
    assert_eq!((d.replicas, d.weight), ([10, 2], 20));
    let d = settle(&mut c, 13, [10, 2]);
    assert_eq!(
        (d.replicas, d.weight),
        ([10, 0], 0),
        "all traffic back on a full stable"
    );
    assert_eq!(d.canary_selects, Version::Stable);
}
