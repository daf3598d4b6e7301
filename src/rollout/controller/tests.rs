//! The controller's rules, one test per transition of argo-semantics §3.

use super::*;
use crate::analysis::{ArgSource, RunArg};
use crate::rollout::policy::{BackgroundAnalysis, TemplateRef};
use crate::rollout::replicas::ProgressThreshold;
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

/// Two replicas, an analysis step then full weight, and a background
/// analysis from step 0.
fn step_and_background_analysis() -> Controller {
    let mut p = policy(vec![Step::Analysis(analysis("a")), Step::SetWeight(100)]);
    p.background = Some(BackgroundAnalysis {
        analysis: analysis("bg"),
        starting_step: 0,
    });
    new(p, 2)
}

#[test]
fn an_abort_clears_the_pause_conditions() {
    // CalculatePauseStatus (rollout/pause.go) returns once the abort is set,
    // before any pause condition is carried into the new status, and the
    // status is written without controllerPause. A person's abort at an
    // indefinite pause: the reconcile that acts on it drops the condition,
    // so nobody is left waiting to promote (the index, back at 0, is the
    // same pause step here).
    let mut c = new(policy(vec![Step::Pause(None), Step::SetWeight(100)]), 2);
    c.reconcile(t(0), &view(2, 0));
    assert!(c.waiting_for_person());
    c.abort(t(10), "by hand");
    c.reconcile(t(10), &view(2, 0));
    assert_eq!((c.step_index(), c.phase()), (0, Phase::Degraded));
    assert!(c.pause_conditions.is_empty(), "{:?}", c.pause_conditions);
    assert!(!c.controller_pause);
    assert!(!c.waiting_for_person());

    // A pause added in the reconcile that aborts is not written either: a
    // Failed step run aborts and an Inconclusive background run would pause.
    let mut c = step_and_background_analysis();
    c.reconcile(t(0), &view(2, 0));
    let v = with_run(
        with_run(view(2, 0), RunKind::Step(0), AnalysisPhase::Failed),
        RunKind::Background,
        AnalysisPhase::Inconclusive,
    );
    c.reconcile(t(1), &v);
    assert!(c.aborted().is_some());
    assert!(c.pause_conditions.is_empty(), "{:?}", c.pause_conditions);
    assert!(!c.controller_pause);
    assert!(!c.waiting_for_person());
}

#[test]
fn promote_leaves_an_aborted_rollout_aborted() {
    // The CLI's promote patch does not touch status.abort, and the aborted
    // controller puts the index back to 0 (syncRolloutStatusCanary).
    let mut c = new(policy(vec![Step::Pause(None), Step::SetWeight(100)]), 2);
    c.reconcile(t(0), &view(2, 0));
    c.abort(t(10), "by hand");
    c.reconcile(t(10), &view(2, 0));
    c.promote(t(20));
    let d = c.reconcile(t(20), &view(2, 0));
    assert_eq!((c.step_index(), c.phase()), (0, Phase::Degraded));
    assert_eq!((d.weight, c.promoted_at()), (0, None));
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

fn cluster(available: [u32; 2], created: [u32; 2]) -> ClusterView {
    ClusterView {
        available,
        created,
        runs: Vec::new(),
    }
}

#[test]
fn never_weight_to_canary_without_available_pods_trafficrouting_go() {
    // rollout/trafficrouting.go reconcileTrafficRouting: "when newRS is not
    // available or replicas num is 0. never weight to canary".
    let mut c = new(policy(vec![Step::SetWeight(20), Step::Pause(None)]), 5);
    c.reconcile(t(0), &view(5, 1));
    c.reconcile(t(1), &view(5, 1));
    assert_eq!((c.step_index(), c.weight()), (1, 20));
    // The lone canary pod is OOM-killed: its share goes back to stable.
    let d = c.reconcile(t(2), &view(5, 0));
    assert_eq!(d.weight, 0);
    assert_eq!(
        d.replicas,
        [5, 1],
        "the canary ReplicaSet keeps asking for its pod"
    );
    // It restarts and is ready again: the step's weight comes back.
    let d = c.reconcile(t(30), &view(5, 1));
    assert_eq!(d.weight, 20);
}

#[test]
fn weight_moves_only_when_stable_has_pods_for_its_share_check_replicas_available() {
    // rollout/trafficrouting.go checkReplicasAvailable: the stable needs
    // floor((100 − w)·N/100) available pods before SetWeight(w) is called.
    let mut c = new(policy(vec![Step::SetWeight(30), Step::Pause(None)]), 10);
    let d = c.reconcile(t(0), &cluster([6, 3], [10, 3]));
    assert_eq!(d.weight, 0, "70% needs 7 stable pods, 6 are available");
    assert_eq!(
        c.step_index(),
        1,
        "the step's replica counts are reached all the same"
    );
    let d = c.reconcile(t(1), &cluster([6, 3], [10, 3]));
    assert_eq!(d.weight, 0);
    let d = c.reconcile(t(2), &cluster([7, 3], [10, 3]));
    assert_eq!(d.weight, 30);
    // The check holds for every move, the move to 0 included: with 9 of 10
    // stable pods the router keeps 30 even though the canary is down.
    let d = c.reconcile(t(3), &cluster([9, 0], [10, 3]));
    assert_eq!(d.weight, 30);
    let d = c.reconcile(t(4), &cluster([10, 0], [10, 3]));
    assert_eq!(d.weight, 0);

    // replicaProgressThreshold relaxes the stable's check (ReplicaProgressThresholdMet).
    let mut p = policy(vec![Step::SetWeight(30), Step::Pause(None)]);
    // 6 of the 7 stable pods wanted is 86%, above 80%.
    p.replica_progress_threshold = Some(ProgressThreshold::Percent(80));
    let mut c = new(p, 10);
    let d = c.reconcile(t(0), &cluster([6, 3], [10, 3]));
    assert_eq!(d.weight, 30);
}

#[test]
fn promote_after_inconclusive_background_run_creates_a_new_run_needs_new_analysis_run() {
    // rollout/analysis.go needsNewAnalysisRun: the controller paused for the
    // Inconclusive background run and `promote` cleared the pause, so a new
    // background run is created instead of pausing again on the stale one.
    let mut p = policy(vec![
        Step::SetWeight(20),
        Step::Pause(Some(SimDuration::from_secs(600))),
    ]);
    p.background = Some(BackgroundAnalysis {
        analysis: analysis("bg"),
        starting_step: 0,
    });
    let mut c = new(p, 5);
    let inconclusive = || with_run(view(5, 1), RunKind::Background, AnalysisPhase::Inconclusive);
    c.reconcile(t(0), &view(5, 1));
    c.reconcile(t(1), &inconclusive());
    assert_eq!(c.phase(), Phase::Paused);
    c.promote(t(2));
    let d = c.reconcile(t(2), &inconclusive());
    assert_eq!(
        d.runs
            .iter()
            .filter(|r| matches!(
                r,
                RunRequest::Start {
                    kind: RunKind::Background,
                    ..
                }
            ))
            .count(),
        1,
        "a new background run: {:?}",
        d.runs
    );
    assert!(d.runs.contains(&RunRequest::Cancel {
        kind: RunKind::Background
    }));
    assert_eq!(c.phase(), Phase::Progressing);
    let d = c.reconcile(
        t(3),
        &with_run(view(5, 1), RunKind::Background, AnalysisPhase::Running),
    );
    assert!(d.runs.is_empty());
    assert_eq!(c.phase(), Phase::Progressing);
    // The new run going Inconclusive pauses the rollout again.
    c.reconcile(t(4), &inconclusive());
    assert_eq!(c.phase(), Phase::Paused);
}

#[test]
fn promote_with_an_inconclusive_background_run_does_not_skip_the_analysis_step() {
    // cmd/promote/promote.go isInconclusive reads the *step's* run: an
    // Inconclusive background run only has its pause cleared.
    let mut c = step_and_background_analysis();
    c.reconcile(t(0), &view(2, 0));
    let both = |bg| {
        let v = with_run(view(2, 0), RunKind::Step(0), AnalysisPhase::Running);
        with_run(v, RunKind::Background, bg)
    };
    c.reconcile(t(1), &both(AnalysisPhase::Inconclusive));
    assert_eq!(c.phase(), Phase::Paused);
    c.promote(t(2));
    assert_eq!(c.step_index(), 0, "the analysis step still runs");
}

#[test]
fn undo_to_stable_with_dynamic_stable_scale_keeps_weight_on_canary_until_stable_is_full() {
    // utils/rollout/rolloututil.go IsDynamicallyRollingBackToStable and
    // rollout/trafficrouting.go calculateDesiredWeightOnAbortOrStableRollback:
    // while the stable (now also the desired build) has fewer than N
    // available pods, the router keeps its weight on the previous canary,
    // whose pods stay; then all traffic moves and the canary goes to 0.
    let mut p = policy(vec![Step::SetWeight(60), Step::Pause(None)]);
    p.dynamic_stable_scale = true;
    let mut c = new(p, 10);
    for (s, avail) in [(0, [10, 0]), (1, [10, 6]), (2, [10, 6]), (3, [4, 6])] {
        c.reconcile(t(s), &cluster(avail, avail));
    }
    assert_eq!(c.weight(), 60);
    c.undo(t(10));
    let d = c.reconcile(t(10), &cluster([4, 6], [4, 6]));
    assert_eq!(
        d.replicas,
        [10, 6],
        "stable back to N, the canary keeps its pods"
    );
    assert_eq!((d.weight, d.canary_selects), (60, Version::Canary));
    let d = c.reconcile(t(20), &cluster([9, 6], [10, 6]));
    assert_eq!((d.weight, d.canary_selects), (60, Version::Canary));
    let d = c.reconcile(t(30), &cluster([10, 6], [10, 6]));
    assert_eq!((d.weight, d.canary_selects), (0, Version::Stable));
    assert_eq!(
        d.replicas,
        [10, 0],
        "dynamicStableScale: the old canary goes at once"
    );
    assert_eq!(c.phase(), Phase::Healthy);
}

#[test]
fn progress_deadline_exceeded_marks_the_rollout_degraded_sync_go() {
    // rollout/sync.go calculateRolloutConditions and requeueStuckRollout,
    // utils/conditions RolloutTimedOut: no progress for
    // progressDeadlineSeconds (default 600) outside a pause or analysis step
    // sets ProgressDeadlineExceeded, phase Degraded; strictly after the deadline.
    let mut c = new(policy(vec![Step::SetWeight(20), Step::Pause(None)]), 5);
    let stuck = cluster([5, 0], [5, 1]);
    let d = c.reconcile(t(0), &stuck);
    assert_eq!(
        d.wake_at,
        Some(t(601)),
        "requeued a second after the deadline"
    );
    c.reconcile(t(600), &stuck);
    assert_eq!(c.phase(), Phase::Progressing, "not strictly after yet");
    c.reconcile(t(601), &stuck);
    assert_eq!(c.phase(), Phase::Degraded);
    assert!(c.progress_deadline_exceeded());
    assert!(
        c.aborted().is_none(),
        "without progressDeadlineAbort it only reports"
    );
    let notes = c.drain_notes();
    assert!(
        notes.iter().any(
            |(_, n)| matches!(n, Note::ProgressDeadlineExceeded { message }
            if message == "ReplicaSet \"canary\" has timed out progressing.")
        ),
        "{notes:?}"
    );
    // The canary becomes available at last: progress, and the step goes on.
    c.reconcile(t(700), &cluster([5, 1], [5, 1]));
    assert!(!c.progress_deadline_exceeded());
    assert_eq!((c.step_index(), c.phase()), (1, Phase::Progressing));
    c.reconcile(t(700), &cluster([5, 1], [5, 1]));
    assert_eq!(c.phase(), Phase::Paused);
}

#[test]
fn progress_deadline_abort_aborts_the_update_evaluate_progress_deadline_abort() {
    // rollout/sync.go evaluateProgressDeadlineAbort: with progressDeadlineAbort
    // the timed-out update aborts with the ReplicaSet's timeout message.
    let mut p = policy(vec![Step::SetWeight(20), Step::Pause(None)]);
    p.progress_deadline = SimDuration::from_secs(120);
    p.progress_deadline_abort = true;
    let mut c = new(p, 5);
    c.name_replica_sets(["checkout-aaa".into(), "checkout-bbb".into()]);
    let stuck = cluster([5, 0], [5, 1]);
    let d = c.reconcile(t(0), &stuck);
    assert_eq!(d.wake_at, Some(t(121)));
    let d = c.reconcile(t(121), &stuck);
    assert!(d.requeue);
    let (at, msg) = c.aborted().expect("aborted");
    assert_eq!(at, t(121));
    assert_eq!(
        msg,
        "RolloutAborted: Rollout aborted update to revision 2: ReplicaSet \"checkout-bbb\" has timed out progressing."
    );
    let d = c.reconcile(t(121), &stuck);
    assert_eq!((d.weight, c.phase()), (0, Phase::Degraded));
}

#[test]
fn progress_deadline_does_not_run_at_pause_or_analysis_steps_is_indefinite_step() {
    // rollout/sync.go isIndefiniteStep: pause, analysis and experiment steps
    // do not count against the deadline; a paused rollout neither.
    let mut p = policy(vec![Step::Pause(None), Step::Analysis(analysis("a"))]);
    p.progress_deadline_abort = true;
    let mut c = new(p, 2);
    c.reconcile(t(0), &view(2, 0));
    c.reconcile(t(5000), &view(2, 0));
    assert_eq!(c.phase(), Phase::Paused);
    c.promote(t(5000));
    c.reconcile(t(5000), &view(2, 0));
    assert_eq!(c.step_index(), 1);
    let d = c.reconcile(
        t(9000),
        &with_run(view(2, 0), RunKind::Step(1), AnalysisPhase::Running),
    );
    assert!(c.aborted().is_none());
    assert_eq!(d.wake_at, None);
}

#[test]
fn replica_progress_threshold_lets_steps_and_promotion_proceed_should_full_promote() {
    // utils/replicaset/canary.go AtDesiredReplicaCountsForCanary and
    // rollout/sync.go shouldFullPromote take replicaProgressThreshold: 9 of
    // 10 canary pods are enough at 90%.
    let steps = vec![Step::SetWeight(50), Step::SetWeight(100)];
    let mut p = policy(steps.clone());
    p.replica_progress_threshold = Some(ProgressThreshold::Percent(90));
    let mut c = new(p, 10);
    c.reconcile(t(0), &cluster([10, 5], [10, 5]));
    assert_eq!(c.step_index(), 1);
    c.reconcile(t(1), &cluster([10, 9], [10, 10]));
    assert_eq!(c.step_index(), 2);
    c.reconcile(t(2), &cluster([10, 9], [10, 10]));
    assert_eq!(c.promoted_at(), Some(t(2)));
    // Without it, 9 of 10 is not enough.
    let mut c = new(policy(steps), 10);
    c.reconcile(t(0), &cluster([10, 5], [10, 5]));
    c.reconcile(t(1), &cluster([10, 9], [10, 10]));
    c.reconcile(t(2), &cluster([10, 9], [10, 10]));
    assert_eq!((c.step_index(), c.promoted_at()), (1, None));
}

#[test]
fn basic_canary_promotion_leaves_the_drained_old_replica_set_at_zero_scale_down_old_replica_sets() {
    // rollout/canary.go scaleDownOldReplicaSetsForCanary: without traffic
    // routing every other ReplicaSet is scaled down; scaleDownDelaySeconds
    // applies only with a router (and not with dynamicStableScale).
    use crate::rollout::replicas::{IntOrPercent, SurgeLimits};
    let mut p = policy(vec![Step::SetWeight(100)]);
    p.traffic_routing = false;
    p.surge = SurgeLimits::new(IntOrPercent::Count(1), IntOrPercent::Count(1)).unwrap();
    let mut c = new(p, 4);
    let mut v = view(4, 0);
    let mut seen_old = Vec::new();
    for s in 0..20 {
        let d = c.reconcile(t(s), &v);
        if c.promoted_at().is_some() {
            seen_old.push(d.replicas[Version::Stable.index()]);
        }
        v = cluster(d.replicas, d.replicas);
    }
    assert!(c.promoted_at().is_some());
    assert!(
        seen_old.iter().all(|&r| r == 0),
        "the drained old ReplicaSet never scales back up: {seen_old:?}"
    );

    let mut p = policy(vec![Step::SetWeight(100)]);
    p.dynamic_stable_scale = true;
    let mut c = new(p, 4);
    let mut v = view(4, 0);
    for s in 0..10 {
        let d = c.reconcile(t(s), &v);
        v = cluster(d.replicas, d.replicas);
    }
    assert!(c.promoted_at().is_some());
    assert_eq!(v.created, [0, 4], "dynamicStableScale: no scale-down delay");
}
