//! Reading Argo manifests: the seed's Rollout into a policy, Argo's
//! reference check, unmodelled fields as notes, providers, strategy fields,
//! YAML errors at their line, and scenarios that name manifests.

use std::path::Path;

use canarysim::analysis::{ArgSource, HashSource, RunArg, TemplateKind, Templated};
use canarysim::diag::Location;
use canarysim::judge::Direction;
use canarysim::manifest::{self, ManifestSet};
use canarysim::rollout::policy::{AnalysisRef, CanaryScale, Policy, Step, TemplateRef};
use canarysim::rollout::replicas::IntOrPercent;
use canarysim::rollout::validate::referenced_resources;

/// Argo's reference check, as the controller runs it before the rollout.
fn check_references(p: &Policy) -> Result<(), String> {
    referenced_resources("checkout-service", p).map_or(Ok(()), Err)
}
use canarysim::scenario::{self, DirSource};
use canarysim::sim::SimDuration;

use canarysim::vfs::MemFiles;

use crate::fixtures::Disk;

fn read(path: &str) -> ManifestSet {
    let files = manifest::read_path(&Disk, Path::new(path), path).expect("readable");
    manifest::load(files).expect("valid YAML")
}

fn policy_of(path: &str) -> Policy {
    read(path)
        .policy(&Location::start_of(path))
        .expect("one Rollout")
}

fn refs(names: &[&str]) -> Vec<TemplateRef> {
    names
        .iter()
        .map(|n| TemplateRef {
            name: n.to_string(),
            cluster_scope: false,
        })
        .collect()
}

fn value(name: &str, v: &str) -> RunArg {
    RunArg {
        name: name.into(),
        source: ArgSource::Value(v.into()),
    }
}

fn analysis(names: &[&str], args: Vec<RunArg>) -> Step {
    Step::Analysis(AnalysisRef {
        templates: refs(names),
        args,
        ..AnalysisRef::default()
    })
}

#[test]
fn the_seed_rollout_becomes_the_policy_the_write_up_describes() {
    let p = policy_of("scenarios/argo/seed");
    let both = || {
        vec![
            value("canary-service", "checkout-canary"),
            value("stable-service", "checkout-stable"),
        ]
    };
    let expected = vec![
        Step::SetWeight(5),
        Step::Pause(Some(SimDuration::from_mins(1))),
        analysis(
            &["canary-health"],
            vec![value("canary-service", "checkout-canary")],
        ),
        Step::SetWeight(20),
        Step::Pause(Some(SimDuration::from_mins(2))),
        analysis(&["locust-canary-validation", "canary-error-rate"], both()),
        Step::SetWeight(50),
        Step::Pause(Some(SimDuration::from_mins(3))),
        analysis(
            &[
                "locust-canary-validation",
                "canary-error-rate",
                "canary-latency",
                "canary-memory",
            ],
            Vec::new(),
        ),
        Step::SetWeight(100),
    ];
    assert_eq!(p.steps, expected);
    assert_eq!(p.name, "checkout-service");
    assert!(p.traffic_routing, "nginx trafficRouting is set");
    assert_eq!(p.rollback_window, Some(3));
    assert_eq!(p.background, None);
    assert_eq!(p.surge.max_surge, IntOrPercent::Percent(25));
    assert_eq!(p.surge.max_unavailable, IntOrPercent::Percent(25));
    assert_eq!(p.scale_down_delay, SimDuration::from_secs(30));
    assert_eq!(p.abort_scale_down_delay, Some(SimDuration::from_secs(30)));
    let mut names: Vec<&str> = p.templates.iter().map(|t| t.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "canary-error-rate",
            "canary-memory",
            "locust-canary-validation"
        ]
    );
}

#[test]
fn the_seed_templates_keep_their_queries_conditions_and_job_as_written() {
    let set = read("scenarios/argo/seed");
    let t = set
        .template("canary-memory", TemplateKind::Namespaced)
        .expect("defined");
    let m = &t.template.spec.metrics[0];
    assert_eq!(m.success_condition, "result[0] < 0.8");
    assert_eq!(m.interval, Some(Templated::Text("60s".into())));
    assert_eq!(m.count, Some(Templated::Value(3)));
    assert_eq!(m.failure_limit, Some(Templated::Value(1)));
    let q = &m.provider.prometheus.as_ref().unwrap().query;
    assert!(q.starts_with(
        "max(container_memory_working_set_bytes{\n  pod=~\"{{args.canary-service}}.*\","
    ));
    // The query's site is the first line of the block scalar.
    let site = t.sites.metrics[0].query.as_ref().unwrap();
    assert_eq!((site.at.line, site.at.column), (18, 13));

    let job = set
        .template("locust-canary-validation", TemplateKind::Namespaced)
        .unwrap();
    let j = job.template.spec.metrics[0].provider.job.as_ref().unwrap();
    assert_eq!(j.image, "ghcr.io/acme/locust-suite:latest");
    assert_eq!(j.backoff_limit, Some(0));
    assert_eq!(j.command[..2], ["/bin/sh".to_string(), "-c".to_string()]);
    assert!(
        j.command[2].contains(
            "--exit-code-on-error 1\n# Push results to Prometheus\npython3 push_metrics.py"
        )
    );
    assert_eq!(
        j.env[0],
        (
            "TARGET_HOST".to_string(),
            "http://{{args.canary-service}}.production.svc.cluster.local".to_string()
        )
    );
}

#[test]
fn argo_marks_the_seed_rollout_invalid_spec_at_its_first_missing_template() {
    let e = check_references(&policy_of("scenarios/argo/seed")).unwrap_err();
    assert_eq!(
        e,
        "The Rollout \"checkout-service\" is invalid: spec.strategy.canary.steps[2].analysis.templates: Invalid value: \"canary-health\": AnalysisTemplate 'canary-health' not found"
    );
}

#[test]
fn with_its_templates_completed_the_seed_would_stop_at_the_args_of_step_3() {
    let mut p = policy_of("scenarios/argo/seed");
    p.templates = policy_of("scenarios/argo/hardened").templates;
    let e = check_references(&p).unwrap_err();
    assert!(
        e.starts_with("The Rollout \"checkout-service\" is invalid: spec.strategy.canary.steps[8].analysis.templates: Invalid value: \"templateNames: [locust-canary-validation canary-error-rate canary-latency canary-memory]\": args.canary-service was not resolved"),
        "{e}"
    );
}

#[test]
fn the_hardened_and_fixed_rollouts_pass_argos_reference_check() {
    for dir in ["scenarios/argo/hardened", "scenarios/argo/fixed"] {
        let p = policy_of(dir);
        assert_eq!(check_references(&p), Ok(()), "{dir}");
        assert_eq!(p.templates.len(), 5, "{dir}");
        let set = read(dir);
        assert!(set.problems.is_empty(), "{dir}: {:?}", set.problems);
    }
}

#[test]
fn the_hardened_rollout_differs_from_the_seed_only_by_the_args_of_step_3() {
    let seed = policy_of("scenarios/argo/seed");
    let hardened = policy_of("scenarios/argo/hardened");
    assert_eq!(seed.steps.len(), hardened.steps.len());
    for (i, (a, b)) in seed.steps.iter().zip(&hardened.steps).enumerate() {
        if i == 8 {
            let Step::Analysis(b) = b else {
                panic!("step 8 is analysis")
            };
            assert_eq!(
                b.args,
                [
                    value("canary-service", "checkout-canary"),
                    value("stable-service", "checkout-stable")
                ]
            );
        } else {
            assert_eq!(a, b, "step {i}");
        }
    }
}

#[test]
fn fields_canarysim_does_not_model_are_notes_with_their_path_and_line() {
    let set = read("tests/data/manifests/read/strategy.yaml");
    let notes: Vec<String> = set
        .notes
        .iter()
        .map(|d| format!("{}:{} {}", d.location.line, d.location.column, d.message))
        .collect();
    let has = |line: usize, text: &str| {
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with(&format!("{line}:")) && n.contains(text)),
            "no note {line}: {text} in {notes:#?}"
        )
    };
    has(7, "kind Service is not read by canarysim");
    has(24, "field spec.paused is not modelled");
    has(34, "field spec.template.spec.nodeSelector is not modelled");
    has(
        51,
        "field spec.strategy.canary.antiAffinity is not modelled",
    );
    has(
        57,
        "field spec.strategy.canary.trafficRouting.nginx.annotationPrefix is not modelled",
    );
    has(78, "setHeaderRoute steps are not modelled");
    has(106, "valueFrom of arg token is not modelled");
    has(
        115,
        "field spec.metrics[0].provider.job.spec.activeDeadlineSeconds is not modelled",
    );
    has(
        127,
        "field spec.metrics[0].provider.job.spec.template.spec.containers[0].env[1].valueFrom is not modelled",
    );
    // Labels and the Job's container fields are read, not noted.
    assert!(!notes.iter().any(|n| n.contains("metadata.labels")));
    // An unmodelled provider cannot be simulated: a problem, not a note.
    assert_eq!(set.problems.len(), 1, "{:?}", set.problems);
    let p = &set.problems[0];
    assert_eq!(p.location.line, 143);
    assert!(p.message.contains("the datadog provider is not modelled"));
}

#[test]
fn strategy_fields_map_onto_the_policy_as_argo_reads_them() {
    let set = read("tests/data/manifests/read/strategy.yaml");
    assert_eq!(set.rollouts.len(), 1, "the Service document is skipped");
    let p = set.policy(&Location::start_of("x")).unwrap();
    assert_eq!(p.steps[0], Step::SetWeight(10));
    assert_eq!(p.steps[1], Step::Pause(Some(SimDuration::from_secs(30))));
    assert_eq!(p.steps[2], Step::Pause(Some(SimDuration::from_secs(90))));
    // Go's DurationSeconds truncates to whole seconds.
    assert_eq!(p.steps[3], Step::Pause(Some(SimDuration::from_secs(1))));
    assert_eq!(p.steps[4], Step::Pause(None));
    assert_eq!(p.steps[5], Step::SetCanaryScale(CanaryScale::Replicas(2)));
    // An unmodelled step completes at once and keeps the indices of the others.
    assert_eq!(p.steps[6], Step::Pause(Some(SimDuration::ZERO)));
    let Step::Analysis(a) = &p.steps[7] else {
        panic!("step 7 is analysis")
    };
    assert!(a.templates[0].cluster_scope);
    assert_eq!(a.args, [value("name", "checkout-service")]);
    assert_eq!(a.dry_run[0].metric_name, "latency.*");
    assert_eq!(a.measurement_retention[0].limit, 20);
    assert_eq!(p.surge.max_surge, IntOrPercent::Count(1));
    assert_eq!(p.surge.max_unavailable, IntOrPercent::Percent(10));
    assert_eq!(p.abort_scale_down_delay, None, "0 means never scale down");
    assert_eq!(p.min_pods_per_replica_set, Some(2));
    assert!(p.dynamic_stable_scale);
    let bg = p.background.as_ref().expect("canary.analysis");
    assert_eq!(bg.starting_step, 2);
    assert_eq!(
        bg.analysis.args,
        [
            value("team", "payments"),
            RunArg {
                name: "stable-hash".into(),
                source: ArgSource::PodTemplateHash(HashSource::Stable)
            }
        ]
    );
    let shape = &set.rollouts[0].shape;
    assert_eq!(shape.replicas, 4);
    assert_eq!(
        (shape.cpu_request, shape.cpu_limit),
        (Some(500), Some(1000))
    );
    assert_eq!(shape.memory_limit, Some(1024.0 * 1024.0 * 1024.0));
}

#[test]
fn job_and_judge_providers_are_read_into_the_model() {
    let set = read("tests/data/manifests/read/strategy.yaml");
    let t = set
        .template("health", TemplateKind::Cluster)
        .expect("cluster template");
    let ms = &t.template.spec.metrics;
    let job = ms[0].provider.job.as_ref().unwrap();
    assert_eq!(job.image, "locustio/locust:2.47");
    assert_eq!(job.backoff_limit, Some(2));
    // command, then args, as the container runs them.
    assert_eq!(
        job.command,
        [
            "locust",
            "-f",
            "checkout_flow.py",
            "--headless",
            "--run-time=45s"
        ]
    );
    assert_eq!(
        job.env,
        [
            ("LOCUST_USERS".to_string(), "20".to_string()),
            ("SECRET".to_string(), String::new())
        ]
    );
    assert_eq!(ms[0].count, Some(Templated::Text("{{args.count}}".into())));
    let judge = ms[1].provider.judge.as_ref().unwrap();
    assert_eq!(judge.lookback, Some(Templated::Text("5m".into())));
    assert_eq!(judge.config.direction, Direction::Increase);
    assert!(judge.config.critical);
    assert_eq!(judge.config.effect_size.allowed_increase, Some(1.2));
    assert_eq!(judge.config.confidence_level, 0.95);
    assert_eq!(
        judge.config.tolerance, 0.25,
        "unset fields keep the judge's defaults"
    );
    // A secret-valued arg gets a placeholder, so runs can resolve it.
    let token = t
        .template
        .spec
        .args
        .iter()
        .find(|a| a.name == "token")
        .unwrap();
    assert!(token.value.is_some());
}

#[test]
fn a_yaml_syntax_error_points_at_its_line_and_column() {
    let path = "tests/data/manifests/lint/yaml-syntax.yaml";
    let files = manifest::read_path(&Disk, Path::new(path), path).unwrap();
    let e = manifest::load(files).unwrap_err();
    assert_eq!((e.0.location.line, e.0.location.column), (10, 7));
    assert!(e.0.message.starts_with("YAML: "), "{}", e.0.message);
}

#[test]
fn a_value_of_the_wrong_type_points_at_the_value() {
    let path = "tests/data/manifests/read/type-error.yaml";
    let files = manifest::read_path(&Disk, Path::new(path), path).unwrap();
    let e = manifest::load(files).unwrap_err();
    assert_eq!(e.0.location.file, path);
    // serde-saphyr points at the key whose value has the wrong type.
    assert_eq!((e.0.location.line, e.0.location.column), (8, 7));
}

// Scenarios that name manifests.

const FLAGSHIP: &str = "scenarios/checkout-leak.toml";

fn flagship_with(policies: &str) -> Result<scenario::Loaded, scenario::ScenarioError> {
    let text = crate::fixtures::flagship_base() + policies;
    scenario::load_with(
        FLAGSHIP,
        &text,
        &DirSource::for_scenario(&Disk, Path::new(FLAGSHIP)),
    )
}

const ARGO_POLICIES: &str = r#"
[[policies]]
name = "hardened-as-written"
description = "the write-up's manifests, as written"
manifests = ["argo/seed/"]

[[policies]]
name = "hardened"
manifests = ["argo/hardened/"]
operator = { promote_after = "5m" }
"#;

#[test]
fn a_policy_takes_its_steps_and_templates_from_the_manifests_it_names() {
    let loaded = flagship_with(ARGO_POLICIES).expect("loads");
    let sc = &loaded.scenario;
    let seed = sc.policy("hardened-as-written").unwrap();
    assert_eq!(seed.steps, policy_of("scenarios/argo/seed").steps);
    assert_eq!(seed.description, "the write-up's manifests, as written");
    assert_eq!(seed.templates.len(), 3);
    let hardened = sc.policy("hardened").unwrap();
    assert_eq!(hardened.templates.len(), 5);
    assert_eq!(
        hardened.operator.promote_after,
        Some(SimDuration::from_mins(5))
    );
    // The unmodelled fields travel with the policy as warnings.
    assert!(
        hardened
            .warnings
            .iter()
            .any(|w| w.message.contains("spec.analysis"))
    );
    let pm = loaded.manifests_of("hardened").unwrap();
    assert_eq!(
        pm.set.files[0].label,
        "scenarios/argo/hardened/canary-error-rate.yaml"
    );
    assert!(pm.shape_warnings.is_empty(), "{:?}", pm.shape_warnings);
}

#[test]
fn load_str_refuses_manifests_and_says_to_use_load_file() {
    let text = crate::fixtures::flagship_base() + ARGO_POLICIES;
    let e = scenario::load_str(FLAGSHIP, &text).unwrap_err();
    assert!(
        e.0.message.starts_with("policies[0].manifests:"),
        "{}",
        e.0.message
    );
    assert!(e.0.hint.contains("load_file"));
    assert_eq!(
        e.0.location.line,
        text.lines()
            .position(|l| l.starts_with("manifests = [\"argo/seed/\"]"))
            .unwrap()
            + 1
    );
}

#[test]
fn toml_steps_may_name_templates_from_manifests_with_argos_spelling() {
    let loaded = flagship_with(
        r#"
[[policies]]
name = "toml-analysis"
manifests = ["../tests/data/manifests/read/memory-template.yaml"]
steps = [
  { setWeight = 20 },
  { analysis = { templates = [ { templateName = "memory" } ], args = [ { name = "canary-hash", valueFrom = { podTemplateHashValue = "Latest" } }, { name = "x", value = "y" } ] } },
  { setCanaryScale = { replicas = 2 } },
  { setWeight = 100 },
]
"#,
    )
    .expect("loads");
    let p = loaded.scenario.policy("toml-analysis").unwrap();
    assert_eq!(
        p.steps[1],
        Step::Analysis(AnalysisRef {
            templates: refs(&["memory"]),
            args: vec![
                RunArg {
                    name: "canary-hash".into(),
                    source: ArgSource::PodTemplateHash(HashSource::Latest)
                },
                value("x", "y"),
            ],
            ..AnalysisRef::default()
        })
    );
    assert_eq!(p.steps[2], Step::SetCanaryScale(CanaryScale::Replicas(2)));
    assert_eq!(p.templates[0].name, "memory");
    assert_eq!(check_references(p), Ok(()));
}

#[test]
fn steps_in_toml_and_a_rollout_in_the_manifests_are_refused_together() {
    let e = flagship_with(
        r#"
[[policies]]
name = "both"
manifests = ["argo/seed/"]
steps = [ { setWeight = 100 } ]
"#,
    )
    .unwrap_err();
    assert!(
        e.0.message
            .contains("steps are given here and by the Rollout"),
        "{}",
        e.0.message
    );
}

#[test]
fn a_manifest_problem_is_reported_in_the_yaml_file_at_its_line() {
    let e = flagship_with(
        r#"
[[policies]]
name = "bad"
manifests = ["../tests/data/manifests/lint/invalid.yaml"]
"#,
    )
    .unwrap_err();
    assert_eq!(
        e.0.location.file,
        "scenarios/../tests/data/manifests/lint/invalid.yaml"
    );
    assert_eq!((e.0.location.line, e.0.location.column), (31, 22));
    assert_eq!(e.0.message, "SetWeight needs to be between 0 and 100");
}

#[test]
fn a_manifest_path_that_does_not_exist_is_reported_at_the_scenario_key() {
    let e = flagship_with(
        r#"
[[policies]]
name = "gone"
manifests = ["argo/none/"]
"#,
    )
    .unwrap_err();
    assert_eq!(e.0.location.file, FLAGSHIP);
    assert!(
        e.0.message
            .starts_with("policies[0].manifests[0]: scenarios/argo/none/: cannot read"),
        "{}",
        e.0.message
    );
}

#[test]
fn a_rollout_that_disagrees_with_the_scenario_is_a_warning_at_the_field() {
    let loaded = flagship_with(
        r#"
[[policies]]
name = "shape"
manifests = ["../tests/data/manifests/lint/shape.yaml"]
"#,
    )
    .unwrap();
    let pm = loaded.manifests_of("shape").unwrap();
    assert_eq!(pm.shape_warnings.len(), 1, "{:?}", pm.shape_warnings);
    let w = &pm.shape_warnings[0];
    assert_eq!(w.location.line, 8);
    assert!(
        w.message
            .starts_with("replicas is 3 here but 5 in scenarios/checkout-leak.toml")
    );
    let p = loaded.scenario.policy("shape").unwrap();
    assert!(p.warnings.contains(w));
}

#[test]
fn load_file_reads_the_manifests_relative_to_the_scenario_file() {
    let dir = tempfile::tempdir().unwrap();
    let flagship = crate::fixtures::flagship_base();
    let sc = dir.path().join("s.toml");
    std::fs::write(
        &sc,
        flagship + "\n[[policies]]\nname = \"m\"\nmanifests = [\"yaml/\"]\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("yaml")).unwrap();
    for f in ["rollout.yaml", "canary-error-rate.yaml"] {
        std::fs::copy(
            Path::new("scenarios/argo/seed").join(f),
            dir.path().join("yaml").join(f),
        )
        .unwrap();
    }
    let s = scenario::load_file(&Disk, &sc).expect("loads");
    let p = s.policy("m").unwrap();
    assert_eq!(p.steps.len(), 10);
    assert_eq!(p.templates.len(), 1);
}

#[test]
fn load_file_reads_through_the_files_it_is_given_only_the_yaml_files_of_a_directory_by_name() {
    let seed = |f: &str| std::fs::read_to_string(Path::new("scenarios/argo/seed").join(f)).unwrap();
    let text =
        crate::fixtures::flagship_base() + "\n[[policies]]\nname = \"m\"\nmanifests = [\"yaml\"]\n";
    let mem = MemFiles::new()
        .with("proj/s.toml", text)
        .with("proj/yaml/rollout.yaml", seed("rollout.yaml"))
        .with(
            "proj/yaml/canary-error-rate.yml",
            seed("canary-error-rate.yaml"),
        )
        .with("proj/yaml/README.md", "not YAML: ]")
        .with("proj/yaml/nested.yaml/broken.yaml", "not: [valid")
        .with("proj/other.yaml", "not: [valid");
    let loaded = scenario::load_file_with_manifests(&mem, Path::new("proj/s.toml")).expect("loads");
    assert_eq!(loaded.scenario.file, "proj/s.toml");
    let pm = loaded.manifests_of("m").unwrap();
    let labels: Vec<&str> = pm.set.files.iter().map(|f| f.label.as_str()).collect();
    assert_eq!(
        labels,
        ["proj/yaml/canary-error-rate.yml", "proj/yaml/rollout.yaml"]
    );
    let p = loaded.scenario.policy("m").unwrap();
    assert_eq!(p.steps.len(), 10);
    assert_eq!(p.templates.len(), 1);
    // What cannot be read is reported as before, at the scenario's key.
    let e = scenario::load_file(&mem, Path::new("proj/missing.toml")).unwrap_err();
    assert_eq!(e.0.location.file, "proj/missing.toml");
    assert!(
        e.0.message.starts_with("cannot read scenario: "),
        "{}",
        e.0.message
    );
    let gone = MemFiles::new().with(
        "proj/s.toml",
        crate::fixtures::flagship_base()
            + "\n[[policies]]\nname = \"m\"\nmanifests = [\"none/\"]\n",
    );
    let e = scenario::load_file(&gone, Path::new("proj/s.toml")).unwrap_err();
    assert!(
        e.0.message
            .starts_with("policies[0].manifests[0]: proj/none/: cannot read: "),
        "{}",
        e.0.message
    );
}

#[test]
fn toml_analysis_steps_load_without_manifests_and_argo_finds_their_templates_missing() {
    let text = crate::fixtures::flagship_base()
        + r#"
[[policies]]
name = "toml-only"
steps = [ { setWeight = 10 }, { analysis = { templates = [ { templateName = "gone" } ] } } ]
"#;
    let sc = scenario::load_str(FLAGSHIP, &text).expect("no manifests needed");
    let p = sc.policy("toml-only").unwrap();
    assert!(p.templates.is_empty());
    let e = check_references(p).unwrap_err();
    assert!(e.ends_with("AnalysisTemplate 'gone' not found"), "{e}");
}

#[test]
fn set_canary_scale_in_toml_takes_exactly_one_field() {
    let text = crate::fixtures::flagship_base()
        + r#"
[[policies]]
name = "scale"
steps = [ { setCanaryScale = { replicas = 2, weight = 20 } } ]
"#;
    let e = scenario::load_str(FLAGSHIP, &text).unwrap_err();
    assert!(
        e.0.message
            .starts_with("policies[0].steps[0].setCanaryScale: needs exactly one of"),
        "{}",
        e.0.message
    );
    let line = text
        .lines()
        .position(|l| l.contains("setCanaryScale"))
        .unwrap()
        + 1;
    assert_eq!(e.0.location.line, line);
}

/// Loads one in-memory manifest file.
fn load_text(text: &str) -> Result<ManifestSet, manifest::ManifestError> {
    manifest::load(vec![manifest::SourceFile {
        label: "r.yaml".into(),
        text: text.into(),
    }])
}

const ROLLOUT_HEAD: &str = "apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: svc
spec:
  strategy:
    canary:
      steps:
";

#[test]
fn a_value_of_the_wrong_type_says_what_the_field_takes_and_quotes_what_is_there() {
    // Kubernetes reads setWeight as an int32: 5.5 is refused, in words,
    // not as the parser's "invalid i64" with a hint about indentation.
    let e = load_text(&format!("{ROLLOUT_HEAD}        - setWeight: 5.5\n")).unwrap_err();
    assert_eq!((e.0.location.line, e.0.location.column), (9, 22));
    assert_eq!(
        e.0.message,
        "YAML: expected a whole number (an integer in range), found 5.5"
    );
    assert!(!e.0.hint.contains("indentation"), "{}", e.0.hint);
    let e = load_text(&format!("{ROLLOUT_HEAD}        - setWeight: [20]\n")).unwrap_err();
    assert!(
        e.0.message.contains("expected a single value") && !e.0.message.contains("found"),
        "{}",
        e.0.message
    );
    let e = load_text(&ROLLOUT_HEAD.replace("      steps:\n", "      steps: 7\n")).unwrap_err();
    assert_eq!(
        e.0.message,
        "YAML: expected a list (items on lines starting with `- `), found 7"
    );
    // A syntax error keeps the indentation hint.
    let e = load_text("a: [1, 2\nb: 3\n").unwrap_err();
    assert!(e.0.hint.contains("indentation"), "{}", e.0.hint);
}

#[test]
fn an_alias_bomb_is_refused_in_words() {
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
    for (name, prev) in ["b", "c", "d", "e", "f", "g"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f"])
    {
        let items = vec![format!("*{prev}"); 9].join(", ");
        text.push_str(&format!("{name}: &{name} [{items}]\n"));
    }
    let e = load_text(&text).unwrap_err();
    assert!(
        e.0.message.starts_with("YAML: the YAML expands to ")
            && !e.0.message.contains('{')
            && !e.0.message.contains("at line"),
        "{}",
        e.0.message
    );
    assert!(e.0.hint.contains("aliases"), "{}", e.0.hint);
}

#[test]
fn an_unreadable_pause_duration_gets_argos_message_and_the_value() {
    // RolloutPause.DurationSeconds is -1 for a string that is neither an
    // integer nor a Go duration, and validation refuses a negative one
    // with "Duration needs to be greater than 0".
    for (written, why) in [
        (
            "\"abc\"",
            "\"abc\" is neither whole seconds nor a Go duration",
        ),
        ("1d", "\"1d\" is not a Go duration"),
        ("-5", "the pause is -5s"),
    ] {
        let set = load_text(&format!(
            "{ROLLOUT_HEAD}        - pause: {{ duration: {written} }}\n"
        ))
        .unwrap();
        // (The bare Rollout also lacks a selector and containers.)
        let pauses: Vec<_> = set
            .problems
            .iter()
            .filter(|p| p.location.line == 9)
            .collect();
        assert_eq!(pauses.len(), 1, "{written}: {:?}", set.problems);
        let p = pauses[0];
        assert!(
            p.message
                .starts_with("Duration needs to be greater than 0: ")
                && p.message.contains(why),
            "{written}: {}",
            p.message
        );
        assert_eq!(p.location.line, 9);
    }
}

#[test]
fn a_fraction_in_an_int_or_string_field_is_refused_as_the_api_server_refuses_it() {
    // IntOrString holds an int32 or a string: `failureLimit: 1.5` does not
    // reach Argo (it used to be read as "1.5", which IntValue makes 0).
    // A Quantity (`cpu: 0.5`) is a number in YAML and stays readable.
    let template = "apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: t
spec:
  metrics:
    - name: m
      failureLimit: 1.5
      provider:
        prometheus:
          query: up
";
    let e = load_text(template).unwrap_err();
    assert_eq!(e.0.location.line, 8);
    assert_eq!(
        e.0.message,
        "YAML: expected a whole number or a string, found 1.5"
    );
    let rollout = format!(
        "{}  template:\n    spec:\n      containers:\n        - name: app\n          resources:\n            requests: {{ cpu: 0.5, memory: 512Mi }}\n",
        ROLLOUT_HEAD.replace("      steps:\n", "      steps:\n        - setWeight: 20\n")
    );
    let set = load_text(&rollout).unwrap();
    assert_eq!(set.rollouts[0].shape.cpu_request, Some(500));
}
